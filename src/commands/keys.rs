//! `sso-bridge keys list|rotate`: the OpenID Provider's signing keys.

use crate::clock::{Clock, rfc3339};
use crate::config::Config;
use crate::provider::data_at_rest_sealer;
use crate::provider::{KeyState, SigningKeys};
use crate::random::Random;
use crate::store::Store;

/// One line per key: kid, state, dates.
pub async fn list(config: &Config, clock: &dyn Clock) -> anyhow::Result<String> {
    let store = Store::connect(&config.database_url).await?;
    store.migrate().await?;
    let now = clock.unix();
    let keys = SigningKeys::load_or_create(
        &store,
        &data_at_rest_sealer(config),
        &Random::from_os(),
        now,
        config.lifetimes.access_token,
    )
    .await?;
    let ring = keys.current();
    let mut out = String::new();
    for (i, key) in ring.keys().iter().enumerate() {
        let state = match ring.state(i, now) {
            KeyState::Next => format!("next: signs from {}", rfc3339(key.activates_at)),
            KeyState::Signing => "signing".to_owned(),
            KeyState::Retiring { until } => format!("retiring: published until {}", rfc3339(until)),
            KeyState::Retired => "retired: deleted at the next purge".to_owned(),
        };
        out.push_str(&format!(
            "{}  RS256  created {}  {state}\n",
            key.kid,
            rfc3339(key.created_at)
        ));
    }
    Ok(out)
}

/// Adds a key that signs `activate_after` seconds from now; running instances
/// publish it within seconds and switch to it at that time by themselves.
pub async fn rotate(
    config: &Config,
    clock: &dyn Clock,
    activate_after: i64,
) -> anyhow::Result<String> {
    let store = Store::connect(&config.database_url).await?;
    store.migrate().await?;
    let (sealer, random, now) = (data_at_rest_sealer(config), Random::from_os(), clock.unix());
    // Creates the first key if this database has none yet, and checks the encryption key.
    let keys =
        SigningKeys::load_or_create(&store, &sealer, &random, now, config.lifetimes.access_token)
            .await?;
    let (kid, activates_at) =
        SigningKeys::rotate(&store, &sealer, &random, now, activate_after).await?;
    Ok(format!(
        "added signing key {kid}: published now, signs from {}; the key it replaces stays published \
         {} s longer (the id_token lifetime and a minute of clock skew), then is deleted\n",
        rfc3339(activates_at),
        keys.retain_seconds()
    ))
}
