//! Everything a request needs, built once at start and shared: config, storage,
//! clock, randomness, upstream clients, the OpenID Provider's keys, metrics.

use std::sync::Arc;

use crate::clock::Clock;
use crate::config::Config;
use crate::crypto::{Sealer, derive_key};
use crate::flow::FlowContext;
use crate::homeserver::HomeserverHealth;
use crate::introspection::Introspector;
use crate::logout::LogoutContext;
use crate::metrics::Metrics;
use crate::provider::{KeyRing, Provider, SigningKeys};
use crate::random::Random;
use crate::rate_limit::RateLimiter;
use crate::store::Store;
use crate::upstream::Upstreams;

pub struct Services {
    pub config: Config,
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub random: Random,
    pub upstreams: Upstreams,
    pub keys: SigningKeys,
    pub metrics: Metrics,
    /// Seals data at rest (signing keys) with the configured encryption key.
    pub sealer: Sealer,
    /// Seals logins that have not chosen a department yet (`flow::pending`).
    pub pending_flows: Sealer,
    /// Back-channel HTTP client (no redirects followed).
    pub http: reqwest::Client,
    /// Token validation for university services, with its cache.
    pub introspector: Introspector,
    /// Per-client-address limits (`[rate_limits]`), keyed "limit address".
    pub address_limits: RateLimiter,
    /// Whether the departments' homeservers answer, checked before sending users there.
    pub homeserver_health: HomeserverHealth,
    /// What every department's homeserver supports, for the central `/versions`.
    pub department_versions: crate::homeserver_versions::DepartmentVersions,
    /// Wakes the logout delivery worker when a session ends here.
    pub logout_wakeup: tokio::sync::Notify,
}

impl Services {
    /// Asks the departments' homeservers what they support (for `/versions`);
    /// says whether every one answered.
    pub async fn refresh_department_versions(&self) -> bool {
        let homeservers: Vec<&url::Url> = self
            .config
            .departments
            .iter()
            .map(|d| &d.homeserver.base_url)
            .collect();
        let silent = self
            .department_versions
            .refresh(&self.http, &homeservers)
            .await;
        for homeserver in &silent {
            tracing::warn!(%homeserver, "no /versions answer; its last answer is kept");
        }
        silent.is_empty()
    }

    /// Connects and migrates the database, loads or creates the signing key.
    pub async fn start(
        config: Config,
        clock: Arc<dyn Clock>,
        random: Random,
    ) -> anyhow::Result<Arc<Self>> {
        let store = Store::connect(&config.database_url).await?;
        store.migrate().await?;
        let sealer = crate::provider::data_at_rest_sealer(&config);
        let keys = SigningKeys::load_or_create(
            &store,
            &sealer,
            &random,
            clock.unix(),
            config.lifetimes.access_token,
        )
        .await?;
        let http = crate::outbound::back_channel_client().map_err(|e| {
            anyhow::anyhow!("cannot build the HTTP client for back-channel calls: {e}")
        })?;
        let upstreams = Upstreams::load(&config, http.clone()).await?;
        let metrics = Metrics::new();
        let introspector = Introspector::new(
            &config,
            &metrics,
            http.clone(),
            clock.clone(),
            store.clone(),
        )?;
        let config_max_tracked = config.rate_limits.max_tracked_addresses;
        let pending_flows = Sealer::for_urls(derive_key(
            config.encryption_key.expose().as_bytes(),
            "sso-bridge pending flow v1",
        ));
        Ok(Arc::new(Self {
            config,
            store,
            clock,
            random,
            upstreams,
            keys,
            metrics,
            sealer,
            pending_flows,
            http,
            introspector,
            address_limits: RateLimiter::new(config_max_tracked),
            homeserver_health: HomeserverHealth::new(),
            department_versions: Default::default(),
            logout_wakeup: tokio::sync::Notify::new(),
        }))
    }

    pub fn now(&self) -> i64 {
        self.clock.unix()
    }

    /// What the OpenID Provider's functions work with.
    pub fn provider(&self) -> Provider<'_> {
        Provider {
            config: &self.config,
            store: &self.store,
            keys: &self.keys,
            sealer: &self.sealer,
            clock: self.clock.as_ref(),
            random: &self.random,
        }
    }

    /// What the login flow works with; the department it learns labels the
    /// request's log lines and metrics.
    pub fn flow(&self) -> FlowContext<'_> {
        FlowContext {
            config: &self.config,
            store: &self.store,
            clock: self.clock.as_ref(),
            random: &self.random,
            metrics: &self.metrics,
            upstreams: &self.upstreams,
            http: &self.http,
            homeserver_health: &self.homeserver_health,
            pending_flows: &self.pending_flows,
            provider: self.provider(),
            note_department: crate::request_context::note_department,
        }
    }

    /// What ending sessions works with.
    pub fn logout(&self) -> LogoutContext<'_> {
        LogoutContext {
            config: &self.config,
            store: &self.store,
            clock: self.clock.as_ref(),
            random: &self.random,
            metrics: &self.metrics,
            http: &self.http,
            upstreams: &self.upstreams,
            introspector: &self.introspector,
            provider: self.provider(),
            wakeup: &self.logout_wakeup,
        }
    }

    /// The OpenID Provider's keys as the database says now (re-read every few seconds).
    pub async fn signing_keys(&self) -> Arc<KeyRing> {
        self.provider().signing_keys().await
    }
}
