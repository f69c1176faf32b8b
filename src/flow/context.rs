//! What the login flow works with, lent by the application state for one
//! request: nothing it does not use (no introspection, no rate limits).

use crate::clock::Clock;
use crate::config::Config;
use crate::crypto::Sealer;
use crate::homeserver::HomeserverHealth;
use crate::metrics::Metrics;
use crate::provider::Provider;
use crate::random::Random;
use crate::store::Store;
use crate::upstream::Upstreams;

pub struct FlowContext<'a> {
    pub config: &'a Config,
    pub store: &'a Store,
    pub clock: &'a dyn Clock,
    pub random: &'a Random,
    pub metrics: &'a Metrics,
    /// The university's IdPs.
    pub upstreams: &'a Upstreams,
    /// The back-channel client (health checks of the IdPs).
    pub http: &'a reqwest::Client,
    /// Whether the departments' homeservers answer, checked before sending users there.
    pub homeserver_health: &'a HomeserverHealth,
    /// Seals logins that have not chosen a department yet (`pending`).
    pub pending_flows: &'a Sealer,
    /// The OpenID Provider: codes for the departments' homeservers.
    pub provider: Provider<'a>,
    /// Told the department as soon as a login knows it: the caller labels its
    /// log lines and failure metrics with it (the flow knows nothing of requests).
    pub note_department: fn(&str),
}

impl FlowContext<'_> {
    pub fn now(&self) -> i64 {
        self.clock.unix()
    }

    pub fn note_department(&self, department: &str) {
        (self.note_department)(department);
    }
}
