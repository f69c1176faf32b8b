//! The in-process test state: the bridge's real router over `Services` built
//! with a mock clock and seeded randomness, on a database of its own (SQLite
//! in a temporary directory, or PostgreSQL with `SSO_BRIDGE_TEST_DB=postgres`),
//! with a scripted OIDC IdP and two scripted homeservers (`eng`, `hist`).

use std::sync::Arc;

use sso_bridge::clock::MockClock;
use sso_bridge::config::Config;
use sso_bridge::random::Random;
use sso_bridge::services::Services;
use url::Url;

use crate::homeserver::Homeserver;
use crate::router::Router;
use crate::scripted_homeserver::ScriptedHomeserver;
use crate::scripted_idp::{self, ScriptedIdp};
use crate::test_browser::TestBrowser;

/// The bridge's public address in these tests (nothing listens there: requests
/// to it go to the router).
pub const BRIDGE: &str = "http://127.0.0.1:8008/";
/// A Matrix client on the bridge's allow-list (nothing listens there either).
pub const CLIENT: &str = "https://app.example/cb";
/// How long a login may take (`[lifetimes] flow_seconds`).
pub const FLOW_SECONDS: i64 = 600;
/// The upstream's id in the config, and the provider's `idp_id` at the homeservers.
pub const UPSTREAM: &str = "university";
const IDP_ID: &str = "university";

/// One bridge instance and its peers. `restart` gives another instance on the
/// same database and peers, as a restarted process would be.
pub struct TestState {
    pub services: Arc<Services>,
    pub clock: Arc<MockClock>,
    pub router: Router,
    pub idp: ScriptedIdp,
    pub eng: ScriptedHomeserver,
    pub hist: ScriptedHomeserver,
    config: String,
    seed: u64,
    /// Keeps the SQLite file's directory for as long as any instance uses it.
    directory: Arc<tempfile::TempDir>,
}

impl TestState {
    pub async fn start() -> Self {
        Self::start_with(|config| config).await
    }

    /// With the config text passed through `edit` first (it may add keys at
    /// the top: the text begins with top-level keys).
    pub async fn start_with(edit: impl FnOnce(String) -> String) -> Self {
        let directory = Arc::new(tempfile::tempdir().expect("a temporary directory"));
        let sqlite = format!("sqlite:{}", directory.path().join("bridge.db").display());
        let database = crate::database::url(&sqlite);
        let idp = ScriptedIdp::start();
        let eng = ScriptedHomeserver::start("eng", "eng.test", &client_secret("eng"), IDP_ID);
        let hist = ScriptedHomeserver::start("hist", "hist.test", &client_secret("hist"), IDP_ID);
        let config = edit(config(&database, &idp, &[&eng, &hist]));
        // Real time to begin with: the upstream id_tokens are checked against it.
        let clock = Arc::new(MockClock::at_unix(chrono::Utc::now().timestamp()));
        Self::on(config, clock, 1, idp, eng, hist, directory).await
    }

    async fn on(
        config: String,
        clock: Arc<MockClock>,
        seed: u64,
        idp: ScriptedIdp,
        eng: ScriptedHomeserver,
        hist: ScriptedHomeserver,
        directory: Arc<tempfile::TempDir>,
    ) -> Self {
        let parsed = Config::parse(&config).unwrap_or_else(|e| panic!("{e}\n{config}"));
        let services = Services::start(parsed, clock.clone(), Random::seeded(seed))
            .await
            .expect("the bridge's services");
        let router = Router::new(&services).await;
        Self {
            services,
            clock,
            router,
            idp,
            eng,
            hist,
            config,
            seed,
            directory,
        }
    }

    /// Another bridge instance on the same database, clock and peers (a
    /// restart: nothing in memory is shared with this one).
    pub async fn restart(&self) -> Self {
        Self::on(
            self.config.clone(),
            self.clock.clone(),
            self.seed + 1,
            self.idp.clone(),
            self.eng.clone(),
            self.hist.clone(),
            self.directory.clone(),
        )
        .await
    }

    /// A new browser (no cookies) at this instance.
    pub fn browser(&self) -> TestBrowser {
        TestBrowser::new(self)
    }

    pub fn homeserver(&self, department: &str) -> &ScriptedHomeserver {
        match department {
            "eng" => &self.eng,
            "hist" => &self.hist,
            other => panic!("no scripted homeserver {other}"),
        }
    }

    /// Where a client starts a login: the picker, or `idp`'s login at once.
    pub fn start_url(idp: Option<&str>) -> String {
        let mut url = Url::parse(BRIDGE).expect("the bridge's URL");
        match idp {
            Some(idp) => url.set_path(&format!("/_matrix/client/v3/login/sso/redirect/{idp}")),
            None => url.set_path("/_matrix/client/v3/login/sso/redirect"),
        }
        url.query_pairs_mut().append_pair("redirectUrl", CLIENT);
        url.into()
    }

    /// Where the IdP sends the browser back to the bridge.
    pub fn upstream_callback() -> String {
        format!("{BRIDGE}_sso_bridge/upstream/oidc/{UPSTREAM}/callback")
    }
}

/// Department `id`'s client secret at the bridge.
pub fn client_secret(id: &str) -> String {
    format!("{id}-client-secret-0123456789")
}

fn config(database: &str, idp: &ScriptedIdp, homeservers: &[&ScriptedHomeserver]) -> String {
    let mut config = format!(
        r#"public_base_url = "{BRIDGE}"
database_url = "{database}"
[secrets]
encryption_key = "testing-crate-encryption-key-0123456789"
[redirects]
allowed_origins = ["https://app.example"]
[lifetimes]
flow_seconds = {FLOW_SECONDS}
[[upstreams]]
kind = "oidc"
id = "{UPSTREAM}"
issuer = "{issuer}"
client_id = "{client_id}"
client_secret = "{secret}"
scopes = ["openid", "profile"]
"#,
        issuer = idp.issuer(),
        client_id = scripted_idp::CLIENT_ID,
        secret = scripted_idp::CLIENT_SECRET,
    );
    for homeserver in homeservers {
        let id = homeserver.department();
        config.push_str(&crate::inprocess::department(
            id,
            &format!("Department {id}"),
            homeserver.client_secret(),
            UPSTREAM,
            homeserver.base_url(),
        ));
    }
    config
}
