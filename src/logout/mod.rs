//! Ending sessions everywhere a login reached: each department session ended
//! in the database with its logout token queued in the same transaction, the
//! token-validation cache dropped for the person, and the queue worked off by
//! `delivery` (OIDC Back-Channel Logout to each homeserver) until the
//! homeserver takes it. What ends them: an upstream IdP's logout (`upstream`),
//! or an admin (`sso-bridge sessions end`).

pub mod delivery;
mod token;
pub mod upstream;

use tokio::sync::Notify;

use crate::clock::Clock;
use crate::config::Config;
use crate::introspection::Introspector;
use crate::metrics::Metrics;
use crate::provider::Provider;
use crate::random::Random;
use crate::store::Store;
use crate::store::{SessionFilter, SessionRow, StoreResult};
use crate::upstream::Upstreams;

/// What ending sessions works with, lent by the application state: the IdPs
/// (to verify their logouts), the store (sessions, the delivery queue), the
/// OpenID Provider (it signs logout tokens), the introspection cache (it forgets
/// the person's tokens), and the worker's wake-up call.
pub struct LogoutContext<'a> {
    pub config: &'a Config,
    pub store: &'a Store,
    pub clock: &'a dyn Clock,
    pub random: &'a Random,
    pub metrics: &'a Metrics,
    pub http: &'a reqwest::Client,
    pub upstreams: &'a Upstreams,
    pub introspector: &'a Introspector,
    pub provider: Provider<'a>,
    /// Wakes the delivery worker when a session ends here.
    pub wakeup: &'a Notify,
}

impl LogoutContext<'_> {
    pub fn now(&self) -> i64 {
        self.clock.unix()
    }
}

/// What ended a session (the metric's `cause` label).
#[derive(Debug, Clone, Copy)]
pub enum Cause {
    OidcLogout,
    SamlLogout,
    Admin,
}

impl Cause {
    fn label(self) -> &'static str {
        match self {
            Self::OidcLogout => "oidc_logout",
            Self::SamlLogout => "saml_logout",
            Self::Admin => "admin",
        }
    }
}

/// Ends every live session `filter` names; returns those this call ended (a
/// session ends once, whoever asks again).
pub async fn end_sessions(
    ctx: &LogoutContext<'_>,
    filter: &SessionFilter<'_>,
    cause: Cause,
) -> StoreResult<Vec<SessionRow>> {
    let now = ctx.now();
    let give_up_at = now + ctx.config.logout.give_up_after_seconds;
    let mut ended = Vec::new();
    for session in ctx.store.sessions(filter, false).await? {
        let delivery_id = ctx.random.id();
        if ctx
            .store
            .end_session(&session, &delivery_id, now, give_up_at)
            .await?
        {
            ctx.metrics
                .session_ended(&session.department, cause.label());
            ended.push(session);
        }
    }
    for session in &ended {
        if let Some(user_id) = user_id(ctx.config, session) {
            ctx.introspector.forget_user(&user_id).await;
        }
        tracing::info!(
            department = %session.department,
            identity = %session.identity_id,
            cause = cause.label(),
            "session ended; its homeserver will be told"
        );
    }
    if !ended.is_empty() {
        ctx.wakeup.notify_one();
    }
    Ok(ended)
}

/// The Matrix user ID of a session's person at its department.
pub fn user_id(config: &Config, session: &SessionRow) -> Option<String> {
    let department = config.department(&session.department)?;
    Some(format!(
        "@{}:{}",
        session.localpart, department.homeserver.server_name
    ))
}
