//! Error paths of the upstream OIDC relying party against a scripted IdP (a mock
//! is fine here: these are answers a real IdP would only give when compromised or
//! misconfigured). Each scenario is refused; the good one proves the harness works.

use std::sync::Mutex;

use actix_web::{App, HttpResponse, HttpServer, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rsa::RsaPrivateKey;
use rsa::traits::PublicKeyParts;
use serde_json::{Value, json};
use sso_bridge::config::{OidcUpstream, Secret};
use sso_bridge::outbound::back_channel_client;
use sso_bridge::upstream::UpstreamError;
use sso_bridge::upstream::oidc::{OidcClient, UpstreamRequestSecrets};
use sso_bridge_testing::jwt::sign;

struct Idp {
    issuer: String,
    discovery_issuer: Mutex<String>,
    /// Whether discovery says `authorization_response_iss_parameter_supported`.
    iss_supported: bool,
    key: RsaPrivateKey,
    token_answer: Mutex<TokenAnswer>,
    /// What the redirect target would answer: a perfectly good token response.
    elsewhere: Mutex<Option<String>>,
}

enum TokenAnswer {
    IdToken(String),
    Redirect,
    Error,
}

async fn discovery(idp: web::Data<Idp>) -> HttpResponse {
    let issuer = idp.discovery_issuer.lock().unwrap().clone();
    HttpResponse::Ok().json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{}/auth", idp.issuer),
        "token_endpoint": format!("{}/token", idp.issuer),
        "jwks_uri": format!("{}/jwks", idp.issuer),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "authorization_response_iss_parameter_supported": idp.iss_supported,
    }))
}

async fn jwks(idp: web::Data<Idp>) -> HttpResponse {
    HttpResponse::Ok().json(json!({ "keys": [{
        "kty": "RSA", "use": "sig", "alg": "RS256", "kid": "k1",
        "n": URL_SAFE_NO_PAD.encode(idp.key.n().to_bytes_be()),
        "e": URL_SAFE_NO_PAD.encode(idp.key.e().to_bytes_be()),
    }]}))
}

async fn token(idp: web::Data<Idp>) -> HttpResponse {
    match &*idp.token_answer.lock().unwrap() {
        TokenAnswer::IdToken(jwt) => HttpResponse::Ok().json(json!({
            "access_token": "at", "token_type": "Bearer", "expires_in": 60, "id_token": jwt,
        })),
        TokenAnswer::Redirect => HttpResponse::Found()
            .insert_header(("location", format!("{}/token-elsewhere", idp.issuer)))
            .finish(),
        TokenAnswer::Error => HttpResponse::BadRequest()
            .json(json!({ "error": "invalid_grant", "error_description": "code expired" })),
    }
}

async fn elsewhere(idp: web::Data<Idp>) -> HttpResponse {
    let jwt = idp.elsewhere.lock().unwrap().clone();
    HttpResponse::Ok().json(json!({
        "access_token": "at", "token_type": "Bearer", "expires_in": 60, "id_token": jwt,
    }))
}

struct Setup {
    idp: web::Data<Idp>,
    client: OidcClient,
    other_key: RsaPrivateKey,
}

async fn setup() -> Setup {
    setup_with(false).await
}

async fn setup_with(iss_supported: bool) -> Setup {
    let mut rng = rand::thread_rng();
    let key = RsaPrivateKey::new(&mut rng, 2048).unwrap();
    let other_key = RsaPrivateKey::new(&mut rng, 2048).unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let issuer = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let idp = web::Data::new(Idp {
        discovery_issuer: Mutex::new(issuer.clone()),
        iss_supported,
        issuer: issuer.clone(),
        key,
        token_answer: Mutex::new(TokenAnswer::Error),
        elsewhere: Mutex::new(None),
    });
    let data = idp.clone();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route(
                "/.well-known/openid-configuration",
                web::get().to(discovery),
            )
            .route("/jwks", web::get().to(jwks))
            .route("/token", web::post().to(token))
            .route("/token-elsewhere", web::post().to(elsewhere))
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    actix_web::rt::spawn(server);
    let client = OidcClient::new(
        OidcUpstream {
            id: "test".into(),
            name: "Test".into(),
            issuer,
            client_id: "bridge".into(),
            client_secret: Secret::new("secret"),
            scopes: vec!["openid".into()],
        },
        url::Url::parse("http://127.0.0.1:8008/_sso_bridge/upstream/oidc/test/callback").unwrap(),
        back_channel_client().expect("client"),
    );
    Setup {
        idp,
        client,
        other_key,
    }
}

fn claims(setup: &Setup) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({
        "iss": setup.idp.issuer, "sub": "u-1", "aud": "bridge", "iat": now, "exp": now + 300,
        "nonce": "the-nonce", "department": "eng", "preferred_username": "alice",
    })
}

async fn redeem(
    setup: &Setup,
    answer: TokenAnswer,
) -> Result<sso_bridge::identity::UpstreamIdentity, UpstreamError> {
    *setup.idp.token_answer.lock().unwrap() = answer;
    let verifier = "v".repeat(43);
    let secrets = UpstreamRequestSecrets {
        state: "s",
        nonce: "the-nonce",
        pkce_verifier: &verifier,
    };
    setup.client.redeem("code", &secrets).await
}

fn assert_invalid(
    result: Result<sso_bridge::identity::UpstreamIdentity, UpstreamError>,
    what: &str,
) {
    match result {
        Err(UpstreamError::Invalid(_)) => {}
        other => panic!("{what}: expected Invalid, got {other:?}"),
    }
}

#[actix_web::test]
async fn id_tokens_are_verified_and_only_good_ones_pass() {
    let setup = setup().await;
    let good = sign(&setup.idp.key, "k1", &claims(&setup));
    let identity = redeem(&setup, TokenAnswer::IdToken(good))
        .await
        .expect("a good id_token passes");
    assert_eq!(identity.subject, "u-1");
    assert_eq!(identity.claims.first("department"), Some("eng"));

    let mut c = claims(&setup);
    c["nonce"] = "another-nonce".into();
    assert_invalid(
        redeem(&setup, TokenAnswer::IdToken(sign(&setup.idp.key, "k1", &c))).await,
        "wrong nonce",
    );

    let mut c = claims(&setup);
    c.as_object_mut().unwrap().remove("nonce");
    assert_invalid(
        redeem(&setup, TokenAnswer::IdToken(sign(&setup.idp.key, "k1", &c))).await,
        "missing nonce",
    );

    let forged = sign(&setup.other_key, "k1", &claims(&setup));
    assert_invalid(
        redeem(&setup, TokenAnswer::IdToken(forged)).await,
        "signed with another key",
    );

    let mut c = claims(&setup);
    c["aud"] = "someone-else".into();
    assert_invalid(
        redeem(&setup, TokenAnswer::IdToken(sign(&setup.idp.key, "k1", &c))).await,
        "wrong audience",
    );

    let mut c = claims(&setup);
    c["iss"] = "https://evil.example".into();
    assert_invalid(
        redeem(&setup, TokenAnswer::IdToken(sign(&setup.idp.key, "k1", &c))).await,
        "wrong issuer",
    );

    let mut c = claims(&setup);
    c["exp"] = (chrono::Utc::now().timestamp() - 3600).into();
    assert_invalid(
        redeem(&setup, TokenAnswer::IdToken(sign(&setup.idp.key, "k1", &c))).await,
        "expired",
    );

    let unsigned = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(json!({"alg": "none"}).to_string()),
        URL_SAFE_NO_PAD.encode(claims(&setup).to_string())
    );
    assert_invalid(
        redeem(&setup, TokenAnswer::IdToken(unsigned)).await,
        "alg none",
    );
}

#[actix_web::test]
async fn back_channel_redirects_are_not_followed_and_idp_errors_are_reported() {
    let setup = setup().await;
    *setup.idp.elsewhere.lock().unwrap() = Some(sign(&setup.idp.key, "k1", &claims(&setup)));
    let result = redeem(&setup, TokenAnswer::Redirect).await;
    assert!(
        result.is_err(),
        "a redirect on the token endpoint must not be followed"
    );
    match redeem(&setup, TokenAnswer::Error).await {
        Err(UpstreamError::Refused(message)) => {
            assert!(message.contains("invalid_grant"), "{message}")
        }
        other => panic!("expected Refused, got {other:?}"),
    }
}

#[actix_web::test]
async fn a_discovery_document_naming_another_issuer_is_refused() {
    let setup = setup().await;
    *setup.idp.discovery_issuer.lock().unwrap() = "https://evil.example".into();
    match setup.client.metadata().await {
        Err(UpstreamError::Discovery(_)) => {}
        other => panic!("expected a discovery error, got {:?}", other.map(|_| ())),
    }
}

#[actix_web::test]
async fn the_authorization_responses_issuer_is_checked_and_required_when_the_idp_promises_it() {
    let quiet = setup_with(false).await;
    let issuer = quiet.idp.issuer.clone();
    quiet
        .client
        .check_response_issuer(None)
        .await
        .expect("not promised");
    quiet
        .client
        .check_response_issuer(Some(&issuer))
        .await
        .expect("its own issuer");
    assert!(matches!(
        quiet
            .client
            .check_response_issuer(Some("https://evil.example"))
            .await,
        Err(UpstreamError::Invalid(_))
    ));
    let promising = setup_with(true).await;
    let issuer = promising.idp.issuer.clone();
    assert!(
        matches!(
            promising.client.check_response_issuer(None).await,
            Err(UpstreamError::Invalid(_))
        ),
        "RFC 9207: promised in discovery, so required"
    );
    promising
        .client
        .check_response_issuer(Some(&issuer))
        .await
        .expect("its own issuer");
}
