//! Prometheus metrics: logins started, completed (by department), failed (by
//! reason), login duration, request latency per route, and token validation
//! (cache hits and misses, homeserver latency).

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

pub struct Metrics {
    registry: Registry,
    started: IntCounter,
    completed: IntCounterVec,
    failed: IntCounterVec,
    login_seconds: HistogramVec,
    request_seconds: HistogramVec,
    metadata_failures: IntCounterVec,
    token_lookups: IntCounterVec,
    token_validations: IntCounterVec,
    whoami_seconds: HistogramVec,
    token_cache_entries: IntGauge,
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
        let started = IntCounter::new("logins_started_total", "Logins started")
            .unwrap_or_else(|_| unreachable!("valid metric"));
        let completed = IntCounterVec::new(
            Opts::new("logins_completed_total", "Logins completed, by department"),
            &["department"],
        )
        .unwrap_or_else(|_| unreachable!("valid metric"));
        let failed = IntCounterVec::new(
            Opts::new("logins_failed_total", "Logins that failed, by reason"),
            &["reason"],
        )
        .unwrap_or_else(|_| unreachable!("valid metric"));
        let login_seconds = HistogramVec::new(
            HistogramOpts::new(
                "login_duration_seconds",
                "From start to completion of a login",
            )
            .buckets(vec![
                1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 900.0,
            ]),
            &["department"],
        )
        .unwrap_or_else(|_| unreachable!("valid metric"));
        let request_seconds = HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "Request latency by route")
                .buckets(vec![
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                ]),
            &["route", "status"],
        )
        .unwrap_or_else(|_| unreachable!("valid metric"));
        let metadata_failures = IntCounterVec::new(
            Opts::new(
                "metadata_refresh_failures_total",
                "Failed refreshes of upstream IdP metadata",
            ),
            &["upstream"],
        )
        .unwrap_or_else(|_| unreachable!("valid metric"));
        let token_lookups = IntCounterVec::new(
            Opts::new(
                "token_lookups_total",
                "Where token verdicts came from, by calling client: memory or redis (cache hits), homeserver (misses)",
            ),
            &["client", "source"],
        )
        .unwrap_or_else(|_| unreachable!("valid metric"));
        let token_validations = IntCounterVec::new(
            Opts::new(
                "token_validations_total",
                "Token validations asked by university services, by client and result",
            ),
            &["client", "result"],
        )
        .unwrap_or_else(|_| unreachable!("valid metric"));
        let whoami_seconds = HistogramVec::new(
            HistogramOpts::new(
                "homeserver_whoami_duration_seconds",
                "Latency of whoami calls to the departments' homeservers",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ]),
            &["server_name", "outcome"],
        )
        .unwrap_or_else(|_| unreachable!("valid metric"));
        let token_cache_entries = IntGauge::new(
            "token_cache_entries",
            "Token verdicts held in this instance's memory",
        )
        .unwrap_or_else(|_| unreachable!("valid metric"));
        for collector in [
            Box::new(token_cache_entries.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(token_lookups.clone()),
            Box::new(token_validations.clone()),
            Box::new(whoami_seconds.clone()),
            Box::new(metadata_failures.clone()),
            Box::new(started.clone()),
            Box::new(completed.clone()),
            Box::new(failed.clone()),
            Box::new(login_seconds.clone()),
            Box::new(request_seconds.clone()),
        ] {
            let _ = registry.register(collector);
        }
        Self {
            registry,
            started,
            completed,
            failed,
            login_seconds,
            request_seconds,
            metadata_failures,
            token_lookups,
            token_validations,
            whoami_seconds,
            token_cache_entries,
        }
    }

    pub fn login_started(&self) {
        self.started.inc();
    }

    pub fn login_completed(&self, department: &str, seconds: i64) {
        self.completed.with_label_values(&[department]).inc();
        self.login_seconds
            .with_label_values(&[department])
            .observe(seconds.max(0) as f64);
    }

    pub fn login_failed(&self, reason: &str) {
        self.failed.with_label_values(&[reason]).inc();
    }

    pub fn request(&self, route: &str, status: u16, seconds: f64) {
        self.request_seconds
            .with_label_values(&[route, &status.to_string()])
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
