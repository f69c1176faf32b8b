//! In-process tests of the flow with a mock clock: expiry without sleeping.
//! The real router runs on an in-memory database; no peer is needed because
//! these paths never reach an upstream.

use std::sync::Arc;

use actix_http::Request;
use actix_web::body::MessageBody;
use actix_web::cookie::Cookie;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::{test, web};
use sso_bridge::clock::MockClock;
use sso_bridge::config::Config;
use sso_bridge::crypto::{hash_secret, pkce_s256};
use sso_bridge::provider::token::{TokenForm, exchange};
use sso_bridge::random::Random;
use sso_bridge::services::Services;
use sso_bridge::store::{NewAuthCode, NewIdentity};

/// The configuration before its upstream and department (`config()`).
const HEAD: &str = r#"
public_base_url = "http://127.0.0.1:8008/"
database_url = "sqlite::memory:"
[secrets]
encryption_key = "inprocess-encryption-key-0123456789"
[redirects]
allowed_origins = ["https://app.example"]
[lifetimes]
flow_seconds = 600
authorization_code_seconds = 60
"#;

fn config() -> String {
    HEAD.to_owned()
        + &sso_bridge_testing::inprocess::university_with(&[(
            "eng",
            "Engineering",
            "http://127.0.0.1:8101/",
        )])
}

async fn services(clock: Arc<MockClock>) -> Arc<Services> {
    let config =
        Config::parse(&sso_bridge_testing::database::in_config(&config())).expect("config");
    Services::start(config, clock, Random::seeded(42))
        .await
        .expect("services")
}

/// Starts a login at the real router, which answers with the picker itself;
/// returns the path of the picker's own route for that login (where its search
/// form and "Try again" lead) and the browser cookie.
async fn start_login<S, B>(app: &S) -> (String, Cookie<'static>)
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let start = test::TestRequest::get()
        .uri("/_matrix/client/v3/login/sso/redirect?redirectUrl=https%3A%2F%2Fapp.example%2Fcb")
        .to_request();
    let response = test::call_service(app, start).await;
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = response
        .response()
        .cookies()
        .find(|c| c.name() == "sso_bridge_browser")
        .unwrap()
        .into_owned();
    let body = String::from_utf8(test::read_body(response).await.to_vec()).unwrap();
    assert!(body.contains("Choose your department"), "{body}");
    let flow = sso_bridge_testing::inprocess::sealed_flow(&body)
        .expect("the sealed login in the picker's forms");
    (format!("/_sso_bridge/pick?flow={flow}"), cookie)
}

async fn app(
    services: &Arc<Services>,
) -> impl Service<Request, Response = ServiceResponse<impl MessageBody>, Error = actix_web::Error> {
    test::init_service(sso_bridge::http::app(web::Data::from(services.clone()))).await
}

/// A POST of the picker's form.
fn choose(flow: &str, cookie: &Cookie<'static>) -> Request {
    test::TestRequest::post()
        .uri("/_sso_bridge/pick")
        .cookie(cookie.clone())
        .set_form([("flow", flow), ("department", "eng")])
        .to_request()
}

#[actix_web::test]
async fn a_login_at_the_picker_is_sealed_in_its_url_and_stored_only_once_a_department_is_chosen() {
    let clock = Arc::new(MockClock::at_unix(1_800_000_000));
    let services = services(clock).await;
    let app = app(&services).await;
    let (picker_path, cookie) = start_login(&app).await;
    let flow = picker_path.split("flow=").nth(1).unwrap().to_owned();
    let stored = || async {
        sso_bridge::store::debug_dump(&services.store)
            .await
            .unwrap()
    };
    assert!(!flow.contains("app.example"), "the redirect URL is sealed");
    assert!(
        !stored().await.contains("https://app.example/cb"),
        "a login start writes no row"
    );

    // A tampered login is refused like an expired one.
    let mut tampered = flow.clone().into_bytes();
    tampered[30] = if tampered[30] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let response = test::call_service(
        &app,
        test::TestRequest::get()
            .uri(&format!("/_sso_bridge/pick?flow={tampered}"))
            .cookie(cookie.clone())
            .to_request(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);

    // Choosing writes the row. Nothing answers upstream here, so the answer is
    // an error page, but choosing again (the back button) reaches the same
    // point: the row is found, not refused as a replay or a stranger's.
    let first = test::call_service(&app, choose(&flow, &cookie)).await;
    assert!(stored().await.contains("https://app.example/cb"));
    let again = test::call_service(&app, choose(&flow, &cookie)).await;
    assert_eq!(again.status(), first.status());
    // Another browser with the same URL gets nowhere.
    let stranger = Cookie::new("sso_bridge_browser", "A".repeat(43));
    let response = test::call_service(&app, choose(&flow, &stranger)).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

#[actix_web::test]
async fn an_expired_flow_shows_a_clear_page_and_cannot_continue() {
    let clock = Arc::new(MockClock::at_unix(1_800_000_000));
    let services = services(clock.clone()).await;
    let app = app(&services).await;
    let (picker_path, cookie) = start_login(&app).await;
    let picker_path = picker_path.as_str();

    let fresh = test::call_service(
        &app,
        test::TestRequest::get()
            .uri(picker_path)
            .cookie(cookie.clone())
            .to_request(),
    )
    .await;
    assert_eq!(fresh.status(), StatusCode::OK);

    clock.advance(601);
    let expired = test::call_service(
        &app,
        test::TestRequest::get()
            .uri(picker_path)
            .cookie(cookie.clone())
            .to_request(),
    )
    .await;
    assert_eq!(expired.status(), StatusCode::BAD_REQUEST);
    let body = String::from_utf8(test::read_body(expired).await.to_vec()).unwrap();
    assert!(body.contains("This login has expired"), "{body}");

    let flow = picker_path.split("flow=").nth(1).unwrap().to_owned();
    let choose = test::TestRequest::post()
        .uri("/_sso_bridge/pick")
        .cookie(cookie)
        .set_form([("flow", flow.as_str()), ("department", "eng")])
        .to_request();
    let response = test::call_service(&app, choose).await;
    assert_eq!(
        response.status(),
        StatusCode::BAD_REQUEST,
        "an expired flow cannot go upstream"
    );
    assert!(response.headers().get("location").is_none());
}

#[actix_web::test]
async fn a_flow_from_another_browser_is_refused() {
    let clock = Arc::new(MockClock::at_unix(1_800_000_000));
    let services = services(clock).await;
    let app = app(&services).await;
    let (picker_path, _) = start_login(&app).await;
    let picker_path = picker_path.as_str();
    let stranger = actix_web::cookie::Cookie::new("sso_bridge_browser", "A".repeat(43));
    let response = test::call_service(
        &app,
        test::TestRequest::get()
            .uri(picker_path)
            .cookie(stranger)
            .to_request(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let response =
        test::call_service(&app, test::TestRequest::get().uri(picker_path).to_request()).await;
    assert_eq!(
        response.status(),
        StatusCode::BAD_REQUEST,
        "no cookie at all"
    );
}

#[actix_web::test]
async fn an_authorization_code_expires_after_its_lifetime() {
    let clock = Arc::new(MockClock::at_unix(1_800_000_000));
    let services = services(clock.clone()).await;
    let now = services.now();
    services
        .store
        .insert_identity(NewIdentity {
            id: "identity-1",
            department: "eng",
            issuer: "http://127.0.0.1:1",
            subject: "u-1",
            localpart: "alice",
            display_name: Some("Alice"),
            now,
        })
        .await
        .unwrap();
    let verifier = "v".repeat(43);
    let redirect_uri = "http://127.0.0.1:8101/_synapse/client/oidc/callback";
    for code in ["fresh-code", "stale-code"] {
        services
            .store
            .insert_auth_code(NewAuthCode {
                code_hash: &hash_secret(code),
                client_id: "eng",
                redirect_uri,
                code_challenge: &pkce_s256(&verifier),
                nonce: Some("n"),
                scope: "openid",
                identity_id: "identity-1",
                flow_id: "flow-1",
                now,
                expires_at: now + 60,
            })
            .await
            .unwrap();
    }
    let form = |code: &str| TokenForm {
        grant_type: Some("authorization_code".into()),
        code: Some(code.into()),
        redirect_uri: Some(redirect_uri.into()),
        code_verifier: Some(verifier.clone()),
        client_id: Some("eng".into()),
        client_secret: Some("eng-client-secret-0123456789".into()),
    };
    let fresh = exchange(&services.provider(), None, form("fresh-code"))
        .await
        .expect("a fresh code redeems");
    assert!(!fresh.id_token.is_empty());
    clock.advance(61);
    let stale = exchange(&services.provider(), None, form("stale-code"))
        .await
        .unwrap_err();
    assert_eq!(stale.code(), "invalid_grant");
    assert!(
        stale.description().contains("expired"),
        "{}",
        stale.description()
    );
}

#[actix_web::test]
async fn nothing_secret_is_stored_in_clear() {
    let clock = Arc::new(MockClock::at_unix(1_800_000_000));
    let services = services(clock).await;
    let app = app(&services).await;
    let (picker_path, cookie) = start_login(&app).await;
    // The flow's row is written when the department is chosen (whatever
    // happens next: no IdP or homeserver answers here).
    let flow = picker_path.split("flow=").nth(1).unwrap().to_owned();
    test::call_service(&app, choose(&flow, &cookie)).await;
    let dump = sso_bridge::store::debug_dump(&services.store)
        .await
        .unwrap();
    assert!(
        !dump.contains(cookie.value()),
        "the browser secret is stored only hashed"
    );
    assert!(dump.contains(&hash_secret(cookie.value())));
    assert!(
        !dump.contains("BEGIN RSA PRIVATE KEY"),
        "the signing key is sealed"
    );
}

async fn remember_token(services: &Services, token: &str, homeserver: &str) {
    let now = services.now();
    services
        .store
        .remember_login_token(&hash_secret(token), "eng", homeserver, now, now + 300)
        .await
        .unwrap();
}

#[actix_web::test]
async fn token_login_in_redirect_mode_answers_307_to_the_department() {
    let clock = Arc::new(MockClock::at_unix(1_800_000_000));
    let config = Config::parse(&sso_bridge_testing::database::in_config(
        &config().replace("database_url", "token_login = \"redirect\"\ndatabase_url"),
    ))
    .unwrap();
    let services = Services::start(config, clock.clone(), Random::seeded(7))
        .await
        .unwrap();
    remember_token(&services, "syl_known", "http://127.0.0.1:8101/").await;
    let app = app(&services).await;
    let request = test::TestRequest::post()
        .uri("/_matrix/client/r0/login")
        .set_json(serde_json::json!({ "type": "m.login.token", "token": "syl_known" }))
        .to_request();
    let response = test::call_service(&app, request).await;
    assert_eq!(response.status(), StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(
        response.headers().get("location").unwrap(),
        "http://127.0.0.1:8101/_matrix/client/r0/login"
    );
    // The route expires with its lifetime.
    clock.advance(301);
    let request = test::TestRequest::post()
        .uri("/_matrix/client/v3/login")
        .set_json(serde_json::json!({ "type": "m.login.token", "token": "syl_known" }))
        .to_request();
    assert_eq!(
        test::call_service(&app, request).await.status(),
        StatusCode::FORBIDDEN
    );
}

#[actix_web::test]
async fn token_login_to_a_department_that_is_down_is_a_clear_502() {
    let services = services(Arc::new(MockClock::at_unix(1_800_000_000))).await;
    remember_token(&services, "syl_down", "http://127.0.0.1:1/").await;
    let app = app(&services).await;
    let request = test::TestRequest::post()
        .uri("/_matrix/client/v3/login")
        .set_json(serde_json::json!({ "type": "m.login.token", "token": "syl_down" }))
        .to_request();
    let response = test::call_service(&app, request).await;
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    let body: serde_json::Value = test::read_body_json(response).await;
    assert_eq!(body["errcode"], "M_UNKNOWN");
    assert!(body["error"].as_str().unwrap().contains("not answering"));
}

#[actix_web::test]
async fn pages_speak_french_when_the_browser_prefers_it_and_english_otherwise() {
    let services = services(Arc::new(MockClock::at_unix(1_800_000_000))).await;
    let app = app(&services).await;
    let (picker_path, cookie) = start_login(&app).await;
    let get = |lang: &'static str| {
        test::TestRequest::get()
            .uri(&picker_path)
            .cookie(cookie.clone())
            .insert_header(("Accept-Language", lang))
            .to_request()
    };
    let response = test::call_service(&app, get("fr-CA,fr;q=0.9,en;q=0.5")).await;
    assert_eq!(response.headers().get("content-language").unwrap(), "fr");
    let body = String::from_utf8(test::read_body(response).await.to_vec()).unwrap();
    assert!(body.contains("<html lang=\"fr\">"), "{body}");
    assert!(body.contains("Choisissez votre département"), "{body}");
    assert!(
        body.contains("1 départements sur 1") || body.contains("départements sur"),
        "{body}"
    );

    let response = test::call_service(&app, get("de-DE,de;q=0.9")).await;
    assert_eq!(response.headers().get("content-language").unwrap(), "en");
    let body = String::from_utf8(test::read_body(response).await.to_vec()).unwrap();
    assert!(body.contains("Choose your department"), "{body}");

    // Error pages too.
    let response = test::call_service(
        &app,
        test::TestRequest::get()
            .uri("/_sso_bridge/pick?flow=unknown")
            .cookie(cookie.clone())
            .insert_header(("Accept-Language", "fr"))
            .to_request(),
    )
    .await;
    let body = String::from_utf8(test::read_body(response).await.to_vec()).unwrap();
    assert!(body.contains("Cette connexion a expiré"), "{body}");
}

#[actix_web::test]
async fn only_the_matrix_api_is_open_to_other_origins_not_the_pages() {
    let services = services(Arc::new(MockClock::at_unix(1_000_000))).await;
    let app = app(&services).await;
    let allow_origin = |response: &ServiceResponse<_>| {
        response
            .headers()
            .get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let versions = test::call_service(
        &app,
        test::TestRequest::get()
            .uri("/_matrix/client/versions")
            .to_request(),
    )
    .await;
    assert_eq!(allow_origin(&versions).as_deref(), Some("*"));
    for page in [
        "/_matrix/client/v3/login/sso/redirect?redirectUrl=https%3A%2F%2Fapp.example%2Fcb",
        "/_matrix/static/client/login/",
    ] {
        let response =
            test::call_service(&app, test::TestRequest::get().uri(page).to_request()).await;
        assert_eq!(response.status(), StatusCode::OK, "{page}");
        assert_eq!(allow_origin(&response), None, "{page} is a page");
    }
}

#[actix_web::test]
async fn userinfo_challenges_for_a_bearer_token_and_token_for_client_credentials() {
    let services = services(Arc::new(MockClock::at_unix(1_000_000))).await;
    let app = app(&services).await;
    let challenge = |response: &ServiceResponse<_>| {
        response
            .headers()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    let userinfo = test::call_service(
        &app,
        test::TestRequest::get()
            .uri("/_sso_bridge/op/userinfo")
            .insert_header(("authorization", "Bearer not-a-token"))
            .to_request(),
    )
    .await;
    assert_eq!(userinfo.status(), StatusCode::UNAUTHORIZED);
    assert!(
        challenge(&userinfo).starts_with("Bearer "),
        "RFC 6750: {}",
        challenge(&userinfo)
    );
    let token = test::call_service(
        &app,
        test::TestRequest::post()
            .uri("/_sso_bridge/op/token")
            .insert_header(("authorization", "Basic ZW5nOndyb25n"))
            .set_form([
                ("grant_type", "authorization_code"),
                ("code", "x"),
                (
                    "redirect_uri",
                    "http://127.0.0.1:8101/_synapse/client/oidc/callback",
                ),
                ("code_verifier", "y"),
            ])
            .to_request(),
    )
    .await;
    assert_eq!(token.status(), StatusCode::UNAUTHORIZED);
    assert!(
        challenge(&token).starts_with("Basic "),
        "RFC 6749: {}",
        challenge(&token)
    );
}
