//! Who holds this Matrix access token? For university services (RFC 7662
//! introspection and forward-auth). The answer comes from the department's
//! homeserver (`whoami`), through a cache: in memory, then Redis when several
//! instances share it. Only homeservers of configured departments are asked.

mod cache;
mod error;
mod shared;
mod target;
mod whoami;

use std::sync::{Arc, OnceLock};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use url::Url;

pub use error::IntrospectionError;
pub use whoami::Holder;

use crate::clock::Clock;
use crate::config::{Config, Introspection, IntrospectionClient};
use crate::crypto::constant_time_eq;
use crate::metrics::{Metrics, ServiceTokenCounters};
use crate::rate_limit::{Rate, RateLimiter, RetryAfter};
use crate::store::Store;
use cache::{Cached, Entry, LocalCache};
use shared::SharedCache;
use target::Target;
use whoami::Whoami;

/// Longer tokens are not Matrix access tokens: answered inactive without asking.
const MAX_TOKEN_LENGTH: usize = 4096;

/// What the bridge says of a token. An active one is shared with the cache
/// entry it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Active(Arc<ActiveToken>),
    Inactive,
}

#[derive(Debug)]
pub struct ActiveToken {
    pub holder: Holder,
    pub homeserver: Url,
    pub department: Option<String>,
    /// The answer to services, serialized at its first use (`prepared`).
    answer: OnceLock<Vec<u8>>,
}

/// Who holds it and where; the prepared answer is only a copy of that.
impl PartialEq for ActiveToken {
    fn eq(&self, other: &Self) -> bool {
        (&self.holder, &self.homeserver, &self.department)
            == (&other.holder, &other.homeserver, &other.department)
    }
}

impl Eq for ActiveToken {}

impl ActiveToken {
    pub fn new(holder: Holder, homeserver: Url, department: Option<String>) -> Self {
        Self {
            holder,
            homeserver,
            department,
            answer: OnceLock::new(),
        }
    }

    /// The answer to services in the form `make` gives it, made once per cache
    /// entry: every later hit sends the same bytes without serializing again.
    pub fn prepared(&self, make: impl FnOnce(&Self) -> Vec<u8>) -> &[u8] {
        self.answer.get_or_init(|| make(self))
    }

    /// `alice` of `@alice:eng.ac.cdl`.
    pub fn localpart(&self) -> &str {
        localpart_of(&self.holder.user_id)
    }
}

/// Token validation with everything it uses: the `[introspection]` settings
/// and clients, the homeservers to ask (through the back-channel client), the
/// caches, the limits, the clock, the metrics, and the store (which department
/// created a user, when departments share a homeserver).
pub struct Introspector {
    settings: Introspection,
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
    metrics: Metrics,
    store: Store,
    targets: Vec<Target>,
    local: LocalCache,
    shared: Option<SharedCache>,
    limiter: RateLimiter,
    /// One "rate-limited" log line per service a minute: a flood must not
    /// flood the log too (every refusal is still counted in the metrics).
    log_limiter: RateLimiter,
    /// Each client's `Authorization: Basic …` value as it would most likely be
    /// sent, so the common case is one comparison, without decoding.
    basic_headers: Vec<String>,
    /// Each client's counters for the cached path (same order as the config's).
    counters: Vec<ServiceTokenCounters>,
}

impl Introspector {
    pub fn new(
        config: &Config,
        metrics: &Metrics,
        http: reqwest::Client,
        clock: Arc<dyn Clock>,
        store: Store,
    ) -> anyhow::Result<Self> {
        let shared =
            match &config.introspection.redis_url {
                Some(url) => Some(SharedCache::new(url.expose()).map_err(|e| {
                    anyhow::anyhow!("`introspection.redis_url` cannot be used: {e}")
                })?),
                None => None,
            };
        Ok(Self {
            settings: config.introspection.clone(),
            http,
            clock,
            metrics: metrics.clone(),
            store,
            targets: target::all(config),
            local: LocalCache::new(config.introspection.cache_max_entries),
            shared,
            limiter: RateLimiter::new(config.introspection.clients.len().max(1)),
            log_limiter: RateLimiter::new(config.introspection.clients.len().max(1)),
            basic_headers: config
                .introspection
                .clients
                .iter()
                .map(|c| {
                    format!(
                        "Basic {}",
                        STANDARD.encode(format!("{}:{}", c.id, c.secret.expose()))
                    )
                })
                .collect(),
            counters: config
                .introspection
                .clients
                .iter()
                .map(|c| metrics.service_token_counters(&c.id))
                .collect(),
        })
    }

    /// `client` is one of the config's (as `authenticate` returns them).
    fn counters(&self, client: &IntrospectionClient) -> Option<&ServiceTokenCounters> {
        self.settings
            .clients
            .iter()
            .position(|c| std::ptr::eq(c, client))
            .and_then(|i| self.counters.get(i))
    }

    fn count_memory_hit(&self, client: &IntrospectionClient) {
        match self.counters(client) {
            Some(counters) => counters.memory_hit.inc(),
            None => self.metrics.token_lookup(&client.id, "memory"),
        }
    }

    /// The client whose exact `Authorization` header value this is, compared in
    /// constant time against every client. `None` means "not this way", not
    /// "wrong": other spellings (form-encoded parts) are decoded the long way.
    pub fn client_by_basic_header(&self, authorization: &str) -> Option<&IntrospectionClient> {
        let mut found = None;
        for (client, expected) in self.settings.clients.iter().zip(&self.basic_headers) {
            // Every client is compared, so timing does not say which one matched.
            if constant_time_eq(authorization.as_bytes(), expected.as_bytes()) {
                found = Some(client);
            }
        }
        found
    }

    /// Forgets every verdict on `user_id`'s tokens, here and in Redis: their
    /// session ended, so the next look-up asks the homeserver.
    pub async fn forget_user(&self, user_id: &str) {
        self.local.forget_user(user_id);
        if let Some(shared) = &self.shared
            && let Err(e) = shared.forget_user(user_id).await
        {
            tracing::warn!(error = %e, "could not drop a user's shared token verdicts in Redis");
        }
    }

    /// Forgets `user_id`'s verdicts in this instance's memory only (another
    /// instance already dropped the shared ones).
    pub fn forget_user_here(&self, user_id: &str) {
        self.local.forget_user(user_id);
    }

    /// Entries in the in-memory cache (for metrics and benchmarks).
    pub async fn cached_entries(&self) -> u64 {
        self.local.entry_count().await
    }
}

impl Introspector {
    /// Checks a calling service's credentials, in constant time.
    pub fn authenticate(
        &self,
        client_id: &str,
        secret: &str,
    ) -> Result<&IntrospectionClient, IntrospectionError> {
        let client = self
            .settings
            .client(client_id)
            .ok_or_else(|| IntrospectionError::InvalidClient("unknown client".into()))?;
        if !constant_time_eq(secret.as_bytes(), client.secret.expose().as_bytes()) {
            return Err(IntrospectionError::InvalidClient(
                "wrong client secret".into(),
            ));
        }
        Ok(client)
    }

    /// Who holds `token`? `hint` names the homeserver (URL, server name or user ID).
    pub async fn introspect(
        &self,
        client: &IntrospectionClient,
        token: &str,
        hint: Option<&str>,
    ) -> Result<Verdict, IntrospectionError> {
        let result = self.verdict(client, token, hint).await;
        let label = match &result {
            Ok(Verdict::Active(_)) => "active",
            Ok(Verdict::Inactive) => "inactive",
            Err(e) => e.reason(),
        };
        match (&result, self.counters(client)) {
            (Ok(Verdict::Active(_)), Some(counters)) => counters.active.inc(),
            (Ok(Verdict::Inactive), Some(counters)) => counters.inactive.inc(),
            _ => self.metrics.token_validated(&client.id, label),
        }
        result
    }

    async fn verdict(
        &self,
        client: &IntrospectionClient,
        token: &str,
        hint: Option<&str>,
    ) -> Result<Verdict, IntrospectionError> {
        if token.is_empty() {
            return Err(IntrospectionError::InvalidRequest(
                "token is missing".into(),
            ));
        }
        let targets = target::select(&self.targets, hint)?;
        // Matrix tokens are printable ASCII; anything else cannot be live, and would
        // not fit in an Authorization header anyway.
        if token.len() > MAX_TOKEN_LENGTH || !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Ok(Verdict::Inactive);
        }
        // One homeserver (a hint, or a single department) needs no fan-out.
        let answers = match targets.as_slice() {
            [target] => vec![self.lookup(client, target, token).await],
            _ => {
                futures_util::future::join_all(
                    targets
                        .iter()
                        .map(|target| self.lookup(client, target, token)),
                )
                .await
            }
        };
        let mut failure = None;
        for (target, answer) in targets.iter().zip(answers) {
            match answer {
                Ok(cached) => {
                    if let Some(active) = cached.active(target) {
                        return Ok(Verdict::Active(active));
                    }
                }
                Err(e) => failure = failure.or(Some(e)),
            }
        }
        // A homeserver that could not answer might hold the token: say so, never "inactive".
        match failure {
            Some(e) => Err(e),
            None => Ok(Verdict::Inactive),
        }
    }

    /// One homeserver's verdict: memory, then Redis, then `whoami`.
    async fn lookup(
        &self,
        client: &IntrospectionClient,
        target: &Target,
        token: &str,
    ) -> Result<Arc<Cached>, IntrospectionError> {
        let key = cache::key(&target.base_url, token);
        let now_ms = self.clock.now().timestamp_millis();
        if let Some(entry) = self.local.get(&key, now_ms).await {
            self.count_memory_hit(client);
            return Ok(entry);
        }
        let lookup = Lookup {
            client,
            target,
            token,
            key,
            now_ms,
        };
        // Boxed: a miss's state (single-flight, Redis, the homeserver call) is
        // large, and a cache hit should not carry (and copy) it.
        Box::pin(self.miss(lookup)).await
    }

    /// Not in memory: one request fills the entry, concurrent ones wait for it.
    async fn miss(&self, lookup: Lookup<'_>) -> Result<Arc<Cached>, IntrospectionError> {
        let (entry, filled) = self
            .local
            .get_or_fill(lookup.key, lookup.now_ms, self.fill(lookup))
            .await
            .map_err(|e| (*e).clone())?;
        if !filled {
            // Another request for the same token did the work.
            self.count_memory_hit(lookup.client);
        }
        Ok(entry)
    }

    async fn fill(&self, lookup: Lookup<'_>) -> Result<Entry, IntrospectionError> {
        let Lookup {
            client,
            target,
            token,
            key,
            now_ms,
        } = lookup;
        if let Some(shared) = &self.shared {
            match shared.get(&key, now_ms).await {
                Ok(Some(entry)) => {
                    self.metrics.token_lookup(&client.id, "redis");
                    return Ok(entry);
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "the shared token cache (Redis) is unavailable; asking the homeserver")
                }
            }
        }
        let rate = Rate {
            per_second: client.lookups_per_second,
            burst: client.lookup_burst,
        };
        self
        .limiter
        .check(self.clock.as_ref(), &client.id, rate)
        .map_err(|RetryAfter(seconds)| {
            if self
                .log_limiter
                .check(self.clock.as_ref(), &client.id, crate::rate_limit::LOG_ONCE_A_MINUTE)
                .is_ok()
            {
                tracing::warn!(client = %client.id, "token look-ups rate-limited (logged once a minute; see token_validations_total)");
            }
            IntrospectionError::RateLimited(seconds)
        })?;
        self.metrics.token_lookup(&client.id, "homeserver");
        let settings = &self.settings;
        let answer = whoami::whoami(
            &self.http,
            &target.base_url,
            &target.server_name,
            token,
            settings.homeserver_timeout,
        )
        .await;
        let outcome = match &answer {
            Ok(a) if matches!(a.whoami, Whoami::Active(_)) => "active",
            Ok(_) => "inactive",
            Err(_) => "error",
        };
        let elapsed = answer
            .as_ref()
            .map_or(settings.homeserver_timeout, |a| a.elapsed);
        self.metrics
            .whoami(&target.server_name, outcome, elapsed.as_secs_f64());
        let answer = answer.inspect_err(|e| tracing::warn!(error = %e, "token look-up failed"))?;
        let ttl = match answer.whoami {
            Whoami::Active(_) => settings.cache_ttl,
            Whoami::Inactive => settings.inactive_ttl,
        };
        // Never keep an answer longer than the homeserver allows.
        let ttl = answer.max_age.map_or(ttl, |max_age| ttl.min(max_age));
        let department = match &answer.whoami {
            Whoami::Active(holder) => self.department_of(target, holder).await?,
            Whoami::Inactive => None,
        };
        let entry = Entry {
            whoami: answer.whoami,
            department,
            expires_at_ms: now_ms + i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX / 2),
        };
        if let Some(shared) = &self.shared
            && let Err(e) = shared.put(&key, &entry, now_ms).await
        {
            tracing::warn!(error = %e, "could not share a token verdict through Redis");
        }
        Ok(entry)
    }

    /// The department of a token's user: the homeserver's only department, or,
    /// when departments share a homeserver, the one the bridge created the user in.
    async fn department_of(
        &self,
        target: &Target,
        holder: &Holder,
    ) -> Result<Option<String>, IntrospectionError> {
        if let [only] = target.departments.as_slice() {
            return Ok(Some(only.to_string()));
        }
        let localpart = localpart_of(&holder.user_id);
        for department in &target.departments {
            if self
                .store
                .identity_by_localpart(department, localpart)
                .await
                .map_err(|e| IntrospectionError::Store(e.to_string()))?
                .is_some()
            {
                return Ok(Some(department.to_string()));
            }
        }
        Ok(None)
    }
}

/// A token being looked up at one homeserver, for one calling service, after
/// the memory cache missed.
#[derive(Clone, Copy)]
struct Lookup<'a> {
    client: &'a IntrospectionClient,
    target: &'a Target,
    token: &'a str,
    key: cache::Key,
    now_ms: i64,
}

/// `alice` of `@alice:eng.ac.cdl`.
fn localpart_of(user_id: &str) -> &str {
    let user_id = user_id.trim_start_matches('@');
    user_id.split_once(':').map_or(user_id, |(l, _)| l)
}
