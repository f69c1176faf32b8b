//! Prometheus metrics: logins started, completed (by department), failed (by
//! reason), login duration, request latency per route, and token validation
//! (cache hits and misses, homeserver latency).

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

/// Clones share the same registry and counters (each layer that counts owns one).
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    started: IntCounterVec,
    completed: IntCounterVec,
    failed: IntCounterVec,
    login_seconds: HistogramVec,
    request_seconds: HistogramVec,
    metadata_failures: IntCounterVec,
    token_lookups: IntCounterVec,
    token_validations: IntCounterVec,
    whoami_seconds: HistogramVec,
    token_cache_entries: IntGauge,
    rate_limited: IntCounterVec,
    sessions_ended: IntCounterVec,
    logout_deliveries: IntCounterVec,
    logouts_received: IntCounterVec,
}

/// A service's token-validation counters for the cached path, with their labels
/// looked up once: a label look-up (hashing, a lock) would cost on every request.
/// (They also make the series visible at 0 from the start.)
#[derive(Clone)]
pub struct ServiceTokenCounters {
    pub memory_hit: IntCounter,
    pub active: IntCounter,
    pub inactive: IntCounter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new_custom(Some("sso_bridge".into()), None)
            .unwrap_or_else(|_| Registry::new());
        let latency = vec![
            0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
        ];
        let metrics = Self {
            started: counters(
                "logins_started_total",
                "Logins started, by department (\"undecided\" until the picker)",
                &["department"],
            ),
            completed: counters(
                "logins_completed_total",
                "Logins completed, by department",
                &["department"],
            ),
            failed: counters(
                "logins_failed_total",
                "Logins that failed, by reason and department (\"none\" before one was chosen)",
                &["reason", "department"],
            ),
            login_seconds: histograms(
                "login_duration_seconds",
                "From start to completion of a login",
                vec![1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 900.0],
                &["department"],
            ),
            request_seconds: histograms(
                "http_request_duration_seconds",
                "Request latency by route",
                latency.clone(),
                &["route", "status"],
            ),
            metadata_failures: counters(
                "metadata_refresh_failures_total",
                "Failed refreshes of upstream IdP metadata",
                &["upstream"],
            ),
            rate_limited: counters(
                "rate_limited_total",
                "Requests refused because their client address was over a limit",
                &["limit"],
            ),
            token_lookups: counters(
                "token_lookups_total",
                "Where token verdicts came from, by calling client: memory or redis (cache hits), homeserver (misses)",
                &["client", "source"],
            ),
            token_validations: counters(
                "token_validations_total",
                "Token validations asked by university services, by client and result",
                &["client", "result"],
            ),
            whoami_seconds: histograms(
                "homeserver_whoami_duration_seconds",
                "Latency of whoami calls to the departments' homeservers",
                latency,
                &["server_name", "outcome"],
            ),
            sessions_ended: counters(
                "sessions_ended_total",
                "Department sessions ended, by what ended them (oidc_logout, saml_logout, admin)",
                &["department", "cause"],
            ),
            logout_deliveries: counters(
                "logout_deliveries_total",
                "Logout token deliveries to homeservers, by outcome (delivered, retry, given_up)",
                &["department", "outcome"],
            ),
            logouts_received: counters(
                "upstream_logouts_total",
                "Logout messages from upstream IdPs, by result (accepted, or why refused)",
                &["upstream", "result"],
            ),
            token_cache_entries: valid(IntGauge::new(
                "token_cache_entries",
                "Token verdicts held in this instance's memory",
            )),
            registry,
        };
        for collector in [
            Box::new(metrics.started.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(metrics.completed.clone()),
            Box::new(metrics.failed.clone()),
            Box::new(metrics.login_seconds.clone()),
            Box::new(metrics.request_seconds.clone()),
            Box::new(metrics.metadata_failures.clone()),
            Box::new(metrics.token_lookups.clone()),
            Box::new(metrics.token_validations.clone()),
            Box::new(metrics.whoami_seconds.clone()),
            Box::new(metrics.token_cache_entries.clone()),
            Box::new(metrics.rate_limited.clone()),
            Box::new(metrics.sessions_ended.clone()),
            Box::new(metrics.logout_deliveries.clone()),
            Box::new(metrics.logouts_received.clone()),
        ] {
            let _ = metrics.registry.register(collector);
        }
        metrics
    }

    pub fn session_ended(&self, department: &str, cause: &str) {
        self.sessions_ended
            .with_label_values(&[department, cause])
            .inc();
    }

    pub fn logout_delivery(&self, department: &str, outcome: &str) {
        self.logout_deliveries
            .with_label_values(&[department, outcome])
            .inc();
    }

    pub fn upstream_logout(&self, upstream: &str, result: &str) {
        self.logouts_received
            .with_label_values(&[upstream, result])
            .inc();
    }

    /// `None`: the department is not chosen yet (the picker comes next).
    pub fn rate_limited(&self, limit: &str) {
        self.rate_limited.with_label_values(&[limit]).inc();
    }

    pub fn login_started(&self, department: Option<&str>) {
        self.started
            .with_label_values(&[department.unwrap_or("undecided")])
            .inc();
    }

    pub fn login_completed(&self, department: &str, seconds: i64) {
        self.completed.with_label_values(&[department]).inc();
        self.login_seconds
            .with_label_values(&[department])
            .observe(seconds.max(0) as f64);
    }

    /// `department` is "none" when the failure came before one was chosen.
    pub fn login_failed(&self, reason: &str, department: &str) {
        self.failed.with_label_values(&[reason, department]).inc();
    }

    /// `status` as its three digits.
    pub fn request(&self, route: &str, status: &str, seconds: f64) {
        self.request_seconds
            .with_label_values(&[route, status])
            .observe(seconds);
    }

    pub fn metadata_refresh_failed(&self, upstream: &str) {
        self.metadata_failures.with_label_values(&[upstream]).inc();
    }

    pub fn token_lookup(&self, client: &str, source: &str) {
        self.token_lookups
            .with_label_values(&[client, source])
            .inc();
    }

    /// One service's hottest counters, resolved now (see `ServiceTokenCounters`).
    pub fn service_token_counters(&self, client: &str) -> ServiceTokenCounters {
        ServiceTokenCounters {
            memory_hit: self.token_lookups.with_label_values(&[client, "memory"]),
            active: self
                .token_validations
                .with_label_values(&[client, "active"]),
            inactive: self
                .token_validations
                .with_label_values(&[client, "inactive"]),
        }
    }

    pub fn token_validated(&self, client: &str, result: &str) {
        self.token_validations
            .with_label_values(&[client, result])
            .inc();
    }

    pub fn whoami(&self, server_name: &str, outcome: &str, seconds: f64) {
        self.whoami_seconds
            .with_label_values(&[server_name, outcome])
            .observe(seconds);
    }

    pub fn set_token_cache_entries(&self, entries: u64) {
        self.token_cache_entries
            .set(i64::try_from(entries).unwrap_or(i64::MAX));
    }

    pub fn render(&self) -> String {
        let mut out = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}

/// The names and labels above are constants: building them cannot fail.
fn valid<T>(metric: prometheus::Result<T>) -> T {
    metric.unwrap_or_else(|e| unreachable!("invalid metric definition: {e}"))
}

fn counters(name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    valid(IntCounterVec::new(Opts::new(name, help), labels))
}

fn histograms(name: &str, help: &str, buckets: Vec<f64>, labels: &[&str]) -> HistogramVec {
    valid(HistogramVec::new(
        HistogramOpts::new(name, help).buckets(buckets),
        labels,
    ))
}
