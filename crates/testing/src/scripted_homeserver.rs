//! A scripted department homeserver for the in-process tier: it plays what a
//! stock Synapse does with the bridge as its OpenID Provider. Over a socket
//! (the bridge calls it there): `GET /_matrix/client/versions` (the bridge
//! checks it before sending a user) and `POST /_matrix/client/{v3,r0}/login`
//! with `m.login.token` (MSC1730's forwarded logins). In the test's process,
//! for the browser (`visit`): its SSO redirect to the bridge's `authorize`,
//! and its OIDC callback, which redeems the code at the bridge's `token` with
//! the department's client secret, checks the id_token against the bridge's
//! JWKS (issuer, audience, nonce, `sub`), mints its own `loginToken` and sends
//! the browser to the `redirectUrl` it was given.

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use actix_web::{App, HttpResponse, HttpServer, test, web};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use url::Url;

use crate::answer::Answer;
use crate::homeserver::Homeserver;
use crate::jwt;
use crate::matrix::LoggedIn;
use crate::router::Router;

/// Synapse's path for the OIDC callback, relative to its base URL.
const CALLBACK: &str = "_synapse/client/oidc/callback";

/// A login this homeserver started at the bridge, found again by its `state`.
struct Started {
    nonce: String,
    code_verifier: String,
    redirect_url: String,
}

struct HomeserverState {
    department: String,
    server_name: String,
    base_url: String,
    client_secret: String,
    /// `oidc-<idp_id>`: how the bridge names itself in this homeserver's config.
    idp: String,
    up: AtomicBool,
    started: Mutex<HashMap<String, Started>>,
    /// Minted `loginToken`s not yet used → the Matrix user id they log in.
    login_tokens: Mutex<HashMap<String, String>>,
    /// The `sub` of every id_token accepted, in order.
    subjects: Mutex<Vec<String>>,
    minted: AtomicUsize,
}

/// A running scripted homeserver; it stops with the test process.
#[derive(Clone)]
pub struct ScriptedHomeserver {
    state: Arc<HomeserverState>,
}

impl ScriptedHomeserver {
    /// Serves department `department` (users `@…:{server_name}`), whose
    /// client secret at the bridge is `client_secret`; the bridge is its
    /// provider `oidc-{idp_id}`.
    pub fn start(department: &str, server_name: &str, client_secret: &str, idp_id: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the scripted homeserver");
        let port = listener.local_addr().expect("its address").port();
        let state = Arc::new(HomeserverState {
            department: department.into(),
            server_name: server_name.into(),
            base_url: format!("http://127.0.0.1:{port}/"),
            client_secret: client_secret.into(),
            idp: format!("oidc-{idp_id}"),
            up: AtomicBool::new(true),
            started: Mutex::new(HashMap::new()),
            login_tokens: Mutex::new(HashMap::new()),
            subjects: Mutex::new(Vec::new()),
            minted: AtomicUsize::new(0),
        });
        let data = web::Data::from(state.clone());
        std::thread::Builder::new()
            .name(format!("scripted-homeserver-{department}"))
            .spawn(move || {
                actix_web::rt::System::new().block_on(async move {
                    HttpServer::new(move || {
                        App::new()
                            .app_data(data.clone())
                            .route("/_matrix/client/versions", web::get().to(versions))
                            .route("/_matrix/client/{version}/login", web::post().to(login))
                    })
                    .workers(1)
                    .listen(listener)
                    .expect("listen")
                    .run()
                    .await
                    .expect("the scripted homeserver stopped");
                })
            })
            .expect("the scripted homeserver's thread");
        Self { state }
    }

    /// Whether `url` is one of this homeserver's.
    pub fn serves(&self, url: &Url) -> bool {
        url.as_str().starts_with(&self.state.base_url)
    }

    /// Down: `/versions` answers 503, as a homeserver being restarted would.
    pub fn set_up(&self, up: bool) {
        self.state.up.store(up, Ordering::SeqCst);
    }

    /// The `sub` of every id_token it accepted from the bridge, in order.
    pub fn subjects(&self) -> Vec<String> {
        self.state.subjects.lock().expect("lock").clone()
    }

    /// What the browser gets for a GET of `url` here (one of `serves`); the
    /// bridge is reached through `bridge` (its discovery, `token` and JWKS).
    pub async fn visit(&self, url: &Url, bridge: &Router) -> Answer {
        let relative = url
            .as_str()
            .strip_prefix(&self.state.base_url)
            .unwrap_or_default();
        let path = relative.split('?').next().unwrap_or_default();
        let query: HashMap<String, String> = url.query_pairs().into_owned().collect();
        let sso_redirect = |version: &str| {
            format!(
                "_matrix/client/{version}/login/sso/redirect/{}",
                self.state.idp
            )
        };
        if path == sso_redirect("v3") || path == sso_redirect("r0") {
            return self.start_login(&query, bridge).await;
        }
        if path == CALLBACK {
            return self.finish_login(&query, bridge).await;
        }
        Answer::text(
            404,
            format!("the scripted homeserver has nothing at /{path}"),
        )
    }

    fn callback_url(&self) -> String {
        format!("{}{CALLBACK}", self.state.base_url)
    }

    /// Synapse's SSO redirect for its OIDC provider: to the provider's
    /// `authorize`, with PKCE, a nonce and a state of its own.
    async fn start_login(&self, query: &HashMap<String, String>, bridge: &Router) -> Answer {
        let Some(redirect_url) = query.get("redirectUrl") else {
            return Answer::text(400, "no redirectUrl");
        };
        let discovery = bridge.get_json("/.well-known/openid-configuration").await;
        let Some(authorize) = discovery["authorization_endpoint"]
            .as_str()
            .and_then(|a| Url::parse(a).ok())
        else {
            return Answer::text(502, format!("no authorization_endpoint in {discovery}"));
        };
        let number = self.state.minted.fetch_add(1, Ordering::SeqCst);
        let state = format!("hs-state-{number}-{}", random_text());
        let nonce = format!("hs-nonce-{}", random_text());
        let code_verifier = format!("hs-verifier-{}-{}", random_text(), random_text());
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(code_verifier.as_bytes()));
        let mut to = authorize;
        to.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.state.department)
            .append_pair("redirect_uri", &self.callback_url())
            .append_pair("scope", "openid profile")
            .append_pair("state", &state)
            .append_pair("nonce", &nonce)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256");
        self.state.started.lock().expect("lock").insert(
            state,
            Started {
                nonce,
                code_verifier,
                redirect_url: redirect_url.clone(),
            },
        );
        Answer::redirect(to.as_str())
    }

    /// Synapse's OIDC callback: the code redeemed on the back channel, the
    /// id_token checked, a `loginToken` minted for the user it names.
    async fn finish_login(&self, query: &HashMap<String, String>, bridge: &Router) -> Answer {
        if let Some(error) = query.get("error") {
            return Answer::text(400, format!("the OpenID provider answered {error}"));
        }
        let started = query
            .get("state")
            .and_then(|state| self.state.started.lock().expect("lock").remove(state));
        let (Some(started), Some(code)) = (started, query.get("code")) else {
            return Answer::text(400, "unknown state or no code");
        };
        let discovery = bridge.get_json("/.well-known/openid-configuration").await;
        let endpoint = |name: &str| discovery[name].as_str().unwrap_or_default().to_owned();
        let credentials = STANDARD.encode(format!(
            "{}:{}",
            self.state.department, self.state.client_secret
        ));
        let request = test::TestRequest::post()
            .uri(&Router::path_of(&endpoint("token_endpoint")))
            .insert_header(("authorization", format!("Basic {credentials}")))
            .set_form([
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", &self.callback_url()),
                ("code_verifier", &started.code_verifier),
            ])
            .to_request();
        let answer = bridge.call(request).await;
        if answer.status != 200 {
            return Answer::text(
                500,
                format!(
                    "the provider's token endpoint answered {}: {}",
                    answer.status, answer.body
                ),
            );
        }
        let tokens: Value = serde_json::from_str(&answer.body).unwrap_or_default();
        let jwks = bridge
            .get_json(&Router::path_of(&endpoint("jwks_uri")))
            .await;
        let claims = match jwt::verify(tokens["id_token"].as_str().unwrap_or_default(), &jwks) {
            Ok(claims) => claims,
            Err(why) => return Answer::text(500, format!("the id_token is refused: {why}")),
        };
        let refusal = if claims["iss"] != discovery["issuer"] {
            Some("another issuer")
        } else if claims["aud"] != self.state.department.as_str() {
            Some("another audience")
        } else if claims["nonce"] != started.nonce.as_str() {
            Some("another nonce")
        } else if claims["sub"].as_str().is_none_or(str::is_empty) {
            Some("no sub")
        } else {
            None
        };
        if let Some(why) = refusal {
            return Answer::text(500, format!("the id_token is refused: {why}"));
        }
        let localpart = claims["preferred_username"].as_str().unwrap_or_default();
        let user_id = format!("@{localpart}:{}", self.state.server_name);
        self.state
            .subjects
            .lock()
            .expect("lock")
            .push(claims["sub"].as_str().unwrap_or_default().to_owned());
        let login_token = format!("syl_scripted_{}", random_text());
        self.state
            .login_tokens
            .lock()
            .expect("lock")
            .insert(login_token.clone(), user_id);
        let Ok(mut to) = Url::parse(&started.redirect_url) else {
            return Answer::text(400, "the redirectUrl is not a URL");
        };
        to.query_pairs_mut().append_pair("loginToken", &login_token);
        Answer::redirect(to.as_str())
    }
}

impl Homeserver for ScriptedHomeserver {
    fn department(&self) -> &str {
        &self.state.department
    }

    fn base_url(&self) -> &str {
        &self.state.base_url
    }

    fn client_secret(&self) -> &str {
        &self.state.client_secret
    }

    async fn login_with_token(&self, token: &str) -> Result<LoggedIn, (u16, Value)> {
        crate::matrix::login_with_token(self.client_url(), token).await
    }
}

fn random_text() -> String {
    let bytes: [u8; 16] = rand::random();
    URL_SAFE_NO_PAD.encode(bytes)
}

async fn versions(homeserver: web::Data<HomeserverState>) -> HttpResponse {
    if homeserver.up.load(Ordering::SeqCst) {
        HttpResponse::Ok().json(json!({ "versions": ["v1.11"] }))
    } else {
        HttpResponse::ServiceUnavailable().finish()
    }
}

/// `m.login.token` with a token minted here: once.
async fn login(homeserver: web::Data<HomeserverState>, body: web::Json<Value>) -> HttpResponse {
    let token = body["token"].as_str().unwrap_or_default();
    let user_id = (body["type"] == "m.login.token")
        .then(|| homeserver.login_tokens.lock().expect("lock").remove(token))
        .flatten();
    match user_id {
        Some(user_id) => HttpResponse::Ok().json(json!({
            "user_id": user_id,
            "access_token": format!("syt_scripted_{}", random_text()),
            "device_id": "SCRIPTED",
        })),
        None => HttpResponse::Forbidden()
            .json(json!({ "errcode": "M_FORBIDDEN", "error": "Invalid login token" })),
    }
}
