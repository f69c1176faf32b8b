//! A scripted upstream OIDC IdP on 127.0.0.1 (an ephemeral port, its own
//! thread): discovery, JWKS, an `authorize` that logs in whoever the test
//! scripted (no form), and a `token` endpoint that answers with an RS256
//! id_token of that user's claims. Each misbehaviour a test needs is one call.

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use url::Url;

use crate::jwt;

/// The bridge's client at the scripted IdP (what its `[[upstreams]]` says).
pub const CLIENT_ID: &str = "sso-bridge";
pub const CLIENT_SECRET: &str = "scripted-idp-client-secret";
const KID: &str = "scripted-idp-key";

/// The person the IdP logs in: the claims of their id_token besides the
/// protocol's own (`iss`, `aud`, `iat`, `exp`, `nonce`).
#[derive(Clone, Debug)]
pub struct ScriptedUser {
    claims: Map<String, Value>,
}

impl ScriptedUser {
    /// A member of `department` (the `department` claim the test config's
    /// membership rules read), with `preferred_username` = `username`.
    pub fn member(subject: &str, username: &str, department: &str) -> Self {
        Self { claims: Map::new() }
            .claim("sub", subject)
            .claim("preferred_username", username)
            .claim("name", &format!("{username} (scripted)"))
            .claim("department", department)
    }

    pub fn claim(mut self, name: &str, value: &str) -> Self {
        self.claims.insert(name.into(), value.into());
        self
    }

    pub fn without(mut self, name: &str) -> Self {
        self.claims.remove(name);
        self
    }
}

/// What the IdP does wrong, if anything, until told otherwise.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Misbehaviour {
    None,
    /// `authorize` sends the browser back with `error=access_denied`.
    DeniesAtAuthorize,
    /// `token` answers 500 with an HTML page.
    TokenEndpointFails,
    /// The id_token carries another nonce than the one asked for.
    WrongNonce,
    /// The id_token is for another audience.
    WrongAudience,
}

struct Issued {
    claims: Map<String, Value>,
    nonce: Option<String>,
    code_challenge: Option<String>,
    redirect_uri: String,
}

struct IdpState {
    issuer: String,
    user: Mutex<ScriptedUser>,
    misbehaviour: Mutex<Misbehaviour>,
    codes: Mutex<HashMap<String, Issued>>,
    issued: AtomicUsize,
    token_requests: AtomicUsize,
}

/// A running scripted IdP; it stops with the test process.
#[derive(Clone)]
pub struct ScriptedIdp {
    state: Arc<IdpState>,
}

impl ScriptedIdp {
    /// Starts serving; the first user is `alice`, a member of `eng`.
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the scripted IdP");
        let port = listener.local_addr().expect("its address").port();
        let state = Arc::new(IdpState {
            issuer: format!("http://127.0.0.1:{port}"),
            user: Mutex::new(ScriptedUser::member("u-alice", "alice", "eng")),
            misbehaviour: Mutex::new(Misbehaviour::None),
            codes: Mutex::new(HashMap::new()),
            issued: AtomicUsize::new(0),
            token_requests: AtomicUsize::new(0),
        });
        let data = web::Data::from(state.clone());
        // Its own thread and actix system, so it serves whatever runtime the test uses.
        std::thread::Builder::new()
            .name("scripted-idp".into())
            .spawn(move || {
                actix_web::rt::System::new().block_on(async move {
                    HttpServer::new(move || {
                        App::new()
                            .app_data(data.clone())
                            .route(
                                "/.well-known/openid-configuration",
                                web::get().to(discovery),
                            )
                            .route("/jwks", web::get().to(jwks))
                            .route("/authorize", web::get().to(authorize))
                            .route("/token", web::post().to(token))
                    })
                    .workers(1)
                    .listen(listener)
                    .expect("listen")
                    .run()
                    .await
                    .expect("the scripted IdP stopped");
                })
            })
            .expect("the scripted IdP's thread");
        Self { state }
    }

    pub fn issuer(&self) -> &str {
        &self.state.issuer
    }

    /// Whether `url` is one of this IdP's.
    pub fn serves(&self, url: &Url) -> bool {
        url.as_str().starts_with(&format!("{}/", self.state.issuer))
    }

    /// Who the next `authorize` logs in.
    pub fn log_in_as(&self, user: ScriptedUser) {
        *self.state.user.lock().expect("lock") = user;
    }

    pub fn misbehave(&self, misbehaviour: Misbehaviour) {
        *self.state.misbehaviour.lock().expect("lock") = misbehaviour;
    }

    /// How many requests reached the token endpoint (a code redeemed or tried).
    pub fn token_requests(&self) -> usize {
        self.state.token_requests.load(Ordering::SeqCst)
    }
}

fn misbehaviour(idp: &IdpState) -> Misbehaviour {
    *idp.misbehaviour.lock().expect("lock")
}

async fn discovery(idp: web::Data<IdpState>) -> HttpResponse {
    let issuer = &idp.issuer;
    HttpResponse::Ok().json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "jwks_uri": format!("{issuer}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "code_challenge_methods_supported": ["S256"],
    }))
}

async fn jwks() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "keys": [jwt::jwk(jwt::test_key(), KID)] }))
}

/// Logs the scripted user in at once: back to `redirect_uri` with a code.
async fn authorize(
    idp: web::Data<IdpState>,
    query: web::Query<HashMap<String, String>>,
) -> HttpResponse {
    let Some(redirect_uri) = query.get("redirect_uri") else {
        return HttpResponse::BadRequest().body("no redirect_uri");
    };
    let Ok(mut back) = Url::parse(redirect_uri) else {
        return HttpResponse::BadRequest().body("redirect_uri is not a URL");
    };
    if query.get("client_id").map(String::as_str) != Some(CLIENT_ID) {
        return HttpResponse::BadRequest().body("unknown client_id");
    }
    if misbehaviour(&idp) == Misbehaviour::DeniesAtAuthorize {
        back.query_pairs_mut()
            .append_pair("error", "access_denied")
            .append_pair("error_description", "the user cancelled");
    } else {
        let number = idp.issued.fetch_add(1, Ordering::SeqCst);
        let code = format!("scripted-code-{number}");
        let issued = Issued {
            claims: idp.user.lock().expect("lock").claims.clone(),
            nonce: query.get("nonce").cloned(),
            code_challenge: query.get("code_challenge").cloned(),
            redirect_uri: redirect_uri.clone(),
        };
        idp.codes.lock().expect("lock").insert(code.clone(), issued);
        back.query_pairs_mut().append_pair("code", &code);
    }
    if let Some(state) = query.get("state") {
        back.query_pairs_mut().append_pair("state", state);
    }
    HttpResponse::Found()
        .insert_header(("location", back.as_str()))
        .finish()
}

/// Redeems a code once, for the bridge's client, with the PKCE verifier.
async fn token(
    idp: web::Data<IdpState>,
    request: HttpRequest,
    form: web::Form<HashMap<String, String>>,
) -> HttpResponse {
    idp.token_requests.fetch_add(1, Ordering::SeqCst);
    let misbehaviour = misbehaviour(&idp);
    if misbehaviour == Misbehaviour::TokenEndpointFails {
        return HttpResponse::InternalServerError()
            .content_type("text/html")
            .body("<h1>Internal Server Error</h1>");
    }
    let basic = format!(
        "Basic {}",
        STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"))
    );
    let authenticated = request
        .headers()
        .get("authorization")
        .is_some_and(|v| v.as_bytes() == basic.as_bytes());
    if !authenticated {
        return oauth_error(401, "invalid_client");
    }
    let Some(issued) = form
        .get("code")
        .and_then(|code| idp.codes.lock().expect("lock").remove(code))
    else {
        return oauth_error(400, "invalid_grant");
    };
    let verifier = form.get("code_verifier").map(String::as_str).unwrap_or("");
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    if issued.code_challenge.as_deref() != Some(challenge.as_str())
        || form.get("redirect_uri") != Some(&issued.redirect_uri)
    {
        return oauth_error(400, "invalid_grant");
    }
    let now = chrono::Utc::now().timestamp();
    let mut claims = issued.claims;
    claims.insert("iss".into(), idp.issuer.clone().into());
    claims.insert("aud".into(), CLIENT_ID.into());
    claims.insert("iat".into(), now.into());
    claims.insert("exp".into(), (now + 300).into());
    if let Some(nonce) = issued.nonce {
        claims.insert("nonce".into(), nonce.into());
    }
    match misbehaviour {
        Misbehaviour::WrongNonce => {
            claims.insert("nonce".into(), "another-nonce".into());
        }
        Misbehaviour::WrongAudience => {
            claims.insert("aud".into(), "someone-else".into());
        }
        _ => {}
    }
    let id_token = jwt::sign(jwt::test_key(), KID, &Value::Object(claims));
    HttpResponse::Ok().json(json!({
        "access_token": "scripted-access-token",
        "token_type": "Bearer",
        "expires_in": 300,
        "id_token": id_token,
    }))
}

fn oauth_error(status: u16, error: &str) -> HttpResponse {
    let status = actix_web::http::StatusCode::from_u16(status)
        .unwrap_or(actix_web::http::StatusCode::BAD_REQUEST);
    HttpResponse::build(status).json(json!({ "error": error }))
}
