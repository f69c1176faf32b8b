//! The SAML ACS refuses every forged, altered or stale response, each for its own
//! reason (read from the `logins_failed_total{reason=…}` metric, so a test fails
//! if its check is removed and another one happens to catch the response).
//! Responses are built and signed here with xmlsec, like an IdP would.

use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;

use actix_http::Request;
use actix_web::body::MessageBody;
use actix_web::cookie::Cookie;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::{App, test, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{Duration, SecondsFormat, Utc};
use samael::crypto::{Crypto, CryptoProvider};
use sso_bridge::clock::SystemClock;
use sso_bridge::config::Config;
use sso_bridge::random::Random;
use sso_bridge::services::Services;

const IDP: &str = "https://idp.test/metadata";
const ACS: &str = "http://127.0.0.1:8008/_sso_bridge/upstream/saml/campus/acs";
const SP: &str = "http://127.0.0.1:8008/_sso_bridge/upstream/saml/campus/metadata";

fn fixture(name: &str) -> PathBuf {
    sso_bridge_testing::saml_config::fixture(name)
}

fn config(metadata: &str) -> String {
    sso_bridge_testing::saml_config::saml_config(
        metadata,
        "sqlite::memory:",
        sso_bridge_testing::stand_in::homeserver_url(),
    )
}

async fn services() -> Arc<Services> {
    services_with(&config("idp-metadata.xml")).await
}

async fn services_with(config_text: &str) -> Arc<Services> {
    let config =
        Config::parse(&sso_bridge_testing::database::in_config(config_text)).expect("config");
    Services::start(config, Arc::new(SystemClock), Random::from_os())
        .await
        .expect("services")
}

#[actix_web::test]
async fn an_idp_without_a_signing_certificate_stops_the_start() {
    let config = Config::parse(&sso_bridge_testing::database::in_config(&config(
        "idp-metadata-unsigned.xml",
    )))
    .expect("config");
    let error = Services::start(config, Arc::new(SystemClock), Random::from_os())
        .await
        .err()
        .expect("refused");
    assert!(
        error.to_string().contains("no signing certificate"),
        "{error}"
    );
}

async fn app(
    services: &Arc<Services>,
) -> impl Service<Request, Response = ServiceResponse<impl MessageBody>, Error = actix_web::Error> {
    test::init_service(
        App::new()
            .app_data(web::Data::from(services.clone()))
            .wrap(actix_web::middleware::from_fn(sso_bridge::http::edge))
            .configure(sso_bridge::http::routes),
    )
    .await
}

/// Starts a login for `eng`; returns the AuthnRequest ID and the browser cookie.
async fn start<S, B>(app: &S) -> (String, Cookie<'static>)
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let request = test::TestRequest::get()
        .uri("/_matrix/client/v3/login/sso/redirect/eng?redirectUrl=https%3A%2F%2Fapp.example%2Fcb")
        .to_request();
    let response = test::call_service(app, request).await;
    assert_eq!(response.status(), StatusCode::FOUND);
    let location = url::Url::parse(
        response
            .headers()
            .get("location")
            .unwrap()
            .to_str()
            .unwrap(),
    )
    .unwrap();
    assert!(
        location
            .as_str()
            .starts_with("https://idp.test/sso/redirect?"),
        "{location}"
    );
    let cookie = response
        .response()
        .cookies()
        .find(|c| c.name() == "sso_bridge_browser")
        .unwrap()
        .into_owned();
    let saml_request = location
        .query_pairs()
        .find(|(k, _)| k == "SAMLRequest")
        .unwrap()
        .1
        .into_owned();
    let mut xml = String::new();
    flate2::read::DeflateDecoder::new(&STANDARD.decode(saml_request).unwrap()[..])
        .read_to_string(&mut xml)
        .unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let id = doc.root_element().attribute("ID").unwrap().to_owned();
    assert!(id.len() >= 33, "request IDs carry 128 random bits: {id}");
    (id, cookie)
}

async fn post<S, B>(app: &S, cookie: &Cookie<'static>, xml: &str) -> (StatusCode, Option<String>)
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let request = test::TestRequest::post()
        .uri("/_sso_bridge/upstream/saml/campus/acs")
        .cookie(cookie.clone())
        .set_form([
            ("SAMLResponse", STANDARD.encode(xml)),
            ("RelayState", "x".into()),
        ])
        .to_request();
    let response = test::call_service(app, request).await;
    let location = response
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned());
    (response.status(), location)
}

fn failures(services: &Services, reason: &str) -> u64 {
    // Summed over departments: a failure before the flow is found has none.
    let label = format!("reason=\"{reason}\"");
    services
        .metrics
        .render()
        .lines()
        .filter(|l| l.starts_with("sso_bridge_logins_failed_total{") && l.contains(&label))
        .filter_map(|l| {
            l.rsplit_once(' ')
                .map(|(_, n)| n.trim().parse::<u64>().unwrap())
        })
        .sum()
}

/// What goes into a response; each test changes one thing.
#[derive(Clone)]
struct Spec {
    response_in_response_to: String,
    assertion_in_response_to: String,
    response_id: String,
    assertion_id: String,
    issuer: String,
    destination: String,
    recipient: String,
    audience: Option<String>,
    not_before: chrono::DateTime<Utc>,
    not_on_or_after: chrono::DateTime<Utc>,
    status: String,
    name_id: String,
    ou: String,
    sign_key: &'static str,
    key_info_cert: &'static str,
    sha1: bool,
    signed: bool,
    issue_instant: chrono::DateTime<Utc>,
    /// More `<saml:Attribute>` elements, after the standard three.
    extra_attributes: String,
}

fn spec(request_id: &str) -> Spec {
    let now = Utc::now();
    Spec {
        response_in_response_to: request_id.into(),
        assertion_in_response_to: request_id.into(),
        response_id: format!("_r{}", rand::random::<u64>()),
        assertion_id: format!("_a{}", rand::random::<u64>()),
        issuer: IDP.into(),
        destination: ACS.into(),
        recipient: ACS.into(),
        audience: Some(SP.into()),
        not_before: now - Duration::seconds(5),
        not_on_or_after: now + Duration::minutes(5),
        status: "urn:oasis:names:tc:SAML:2.0:status:Success".into(),
        name_id: "persistent-erin".into(),
        ou: "eng".into(),
        sign_key: "idp",
        key_info_cert: "idp",
        sha1: false,
        signed: true,
        issue_instant: now,
        extra_attributes: String::new(),
    }
}

fn t(at: chrono::DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn cert_body(name: &str) -> String {
    std::fs::read_to_string(fixture(&format!("{name}.crt")))
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect()
}

fn signature_template(s: &Spec) -> String {
    let (sig_alg, digest_alg) = if s.sha1 {
        (
            "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
            "http://www.w3.org/2000/09/xmldsig#sha1",
        )
    } else {
        (
            "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
            "http://www.w3.org/2001/04/xmlenc#sha256",
        )
    };
    format!(
        r##"<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod Algorithm="{sig_alg}"/><ds:Reference URI="#{id}"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms><ds:DigestMethod Algorithm="{digest_alg}"/><ds:DigestValue></ds:DigestValue></ds:Reference></ds:SignedInfo><ds:SignatureValue></ds:SignatureValue><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></ds:Signature>"##,
        id = s.assertion_id,
        cert = cert_body(s.key_info_cert),
    )
}

fn assertion(s: &Spec, signature: &str) -> String {
    let audience = s
        .audience
        .as_ref()
        .map(|a| format!("<saml:AudienceRestriction><saml:Audience>{a}</saml:Audience></saml:AudienceRestriction>"))
        .unwrap_or_default();
    format!(
        r#"<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{aid}" Version="2.0" IssueInstant="{now}"><saml:Issuer>{issuer}</saml:Issuer>{signature}<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent">{name_id}</saml:NameID><saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData NotOnOrAfter="{nooa}" Recipient="{recipient}"{irt}/></saml:SubjectConfirmation></saml:Subject><saml:Conditions NotBefore="{nb}" NotOnOrAfter="{nooa}">{audience}</saml:Conditions><saml:AuthnStatement AuthnInstant="{now}" SessionIndex="s1"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement><saml:AttributeStatement><saml:Attribute Name="urn:oid:2.5.4.11" FriendlyName="ou" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:uri"><saml:AttributeValue>{ou}</saml:AttributeValue></saml:Attribute><saml:Attribute Name="urn:oid:0.9.2342.19200300.100.1.1" FriendlyName="uid" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:uri"><saml:AttributeValue>erin</saml:AttributeValue></saml:Attribute><saml:Attribute Name="urn:oid:2.16.840.1.113730.3.1.241" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:uri"><saml:AttributeValue>Erin Engineer</saml:AttributeValue></saml:Attribute>{extra}</saml:AttributeStatement></saml:Assertion>"#,
        aid = s.assertion_id,
        now = t(s.issue_instant),
        extra = s.extra_attributes,
        issuer = s.issuer,
        name_id = s.name_id,
        nooa = t(s.not_on_or_after),
        nb = t(s.not_before),
        recipient = s.recipient,
        irt = in_response_to(&s.assertion_in_response_to),
        ou = s.ou,
    )
}

/// The attribute, or nothing for an IdP-initiated response.
fn in_response_to(id: &str) -> String {
    if id.is_empty() {
        String::new()
    } else {
        format!(" InResponseTo=\"{id}\"")
    }
}

fn response_with(s: &Spec, inner: &str) -> String {
    format!(
        r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{rid}" Version="2.0" IssueInstant="{now}" Destination="{dest}"{irt}><saml:Issuer>{issuer}</saml:Issuer><samlp:Status><samlp:StatusCode Value="{status}"/></samlp:Status>{inner}</samlp:Response>"#,
        rid = s.response_id,
        now = t(s.issue_instant),
        dest = s.destination,
        irt = in_response_to(&s.response_in_response_to),
        issuer = s.issuer,
        status = s.status,
    )
}

fn sign(xml: &str, key: &str) -> String {
    let pem = std::fs::read(fixture(&format!("{key}.key"))).unwrap();
    let der = openssl::pkey::PKey::private_key_from_pem(&pem)
        .unwrap()
        .private_key_to_der()
        .unwrap();
    Crypto::sign_xml(xml, &der).expect("xmlsec signs")
}

/// The signed assertion alone (for wrapping shapes).
fn signed_assertion(s: &Spec) -> String {
    let signed = sign(&assertion(s, &signature_template(s)), s.sign_key);
    without_declaration(&signed).to_owned()
}

fn without_declaration(xml: &str) -> &str {
    let xml = xml.trim_start();
    match xml.strip_prefix("<?xml") {
        Some(rest) => rest
            .split_once("?>")
            .map_or(xml, |(_, body)| body.trim_start()),
        None => xml,
    }
}

fn build(s: &Spec) -> String {
    if !s.signed {
        return response_with(s, &assertion(s, ""));
    }
    sign(
        &response_with(s, &assertion(s, &signature_template(s))),
        s.sign_key,
    )
}

/// Posts a response built from `change(spec)` and expects a refusal for `reason`.
async fn refused(change: impl FnOnce(&mut Spec, &str) -> Option<String>, reason: &str) {
    let services = services().await;
    let app = app(&services).await;
    let (request_id, cookie) = start(&app).await;
    let mut s = spec(&request_id);
    let xml = change(&mut s, &request_id).unwrap_or_else(|| build(&s));
    let before = failures(&services, reason);
    let (status, location) = post(&app, &cookie, &xml).await;
    assert!(
        location
            .as_deref()
            .is_none_or(|l| !l.starts_with(sso_bridge_testing::stand_in::homeserver_url())),
        "{reason}: the response must not reach the homeserver"
    );
    assert!(
        status.is_client_error() || status.is_server_error(),
        "{reason}: {status}"
    );
    assert_eq!(
        failures(&services, reason),
        before + 1,
        "refused for another reason than {reason}:\n{}",
        services.metrics.render()
    );
}

#[actix_web::test]
async fn a_good_response_is_accepted_and_a_replay_is_refused() {
    let services = services().await;
    let app = app(&services).await;
    let (request_id, cookie) = start(&app).await;
    let s = spec(&request_id);
    let xml = build(&s);
    let (status, location) = post(&app, &cookie, &xml).await;
    assert_eq!(status, StatusCode::FOUND);
    assert!(location.unwrap().starts_with(&format!(
        "{}_matrix/client/v3/login/sso/redirect/oidc-university",
        sso_bridge_testing::stand_in::homeserver_url()
    )));
    // The same response again: its flow has moved on.
    let (status, _) = post(&app, &cookie, &xml).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // The same assertion in a response to a new request: the replay cache refuses it.
    let (second_request, cookie2) = start(&app).await;
    let mut again = spec(&second_request);
    again.assertion_id = s.assertion_id.clone();
    let before = failures(&services, "saml_replay");
    let (status, location) = post(&app, &cookie2, &build(&again)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(location.is_none());
    assert_eq!(failures(&services, "saml_replay"), before + 1);
}

#[actix_web::test]
async fn unsigned() {
    refused(
        |s, _| {
            s.signed = false;
            None
        },
        "saml_signature",
    )
    .await;
}

#[actix_web::test]
async fn signature_stripped() {
    refused(
        |s, _| {
            let signed = build(s);
            let start = signed.find("<ds:Signature").unwrap();
            let end = signed.find("</ds:Signature>").unwrap() + "</ds:Signature>".len();
            Some(format!("{}{}", &signed[..start], &signed[end..]))
        },
        "saml_signature",
    )
    .await;
}

#[actix_web::test]
async fn signed_with_another_key() {
    refused(
        |s, _| {
            s.sign_key = "other";
            None
        },
        "saml_signature",
    )
    .await;
}

#[actix_web::test]
async fn key_in_key_info_is_not_the_metadata_key() {
    refused(
        |s, _| {
            s.sign_key = "other";
            s.key_info_cert = "other";
            None
        },
        "saml_signature",
    )
    .await;
}

#[actix_web::test]
async fn a_second_unsigned_assertion_before_the_signed_one() {
    refused(
        |s, _| {
            let mut evil = s.clone();
            evil.name_id = "persistent-admin".into();
            evil.assertion_id = "_evil".into();
            let inner = format!("{}{}", assertion(&evil, ""), signed_assertion(s));
            Some(response_with(s, &inner))
        },
        "saml_assertion_count",
    )
    .await;
}

#[actix_web::test]
async fn a_second_unsigned_assertion_after_the_signed_one() {
    refused(
        |s, _| {
            let mut evil = s.clone();
            evil.name_id = "persistent-admin".into();
            evil.assertion_id = "_evil".into();
            let inner = format!("{}{}", signed_assertion(s), assertion(&evil, ""));
            Some(response_with(s, &inner))
        },
        "saml_assertion_count",
    )
    .await;
}

/// Wrapping: the signed assertion moved elsewhere, an altered one in its place.
fn wrapped(s: &mut Spec, place: &str) -> String {
    let original = signed_assertion(s);
    let mut evil = s.clone();
    evil.name_id = "persistent-admin".into();
    let forged = assertion(&evil, "");
    match place {
        "extensions" => response_with(
            s,
            &format!("<samlp:Extensions>{original}</samlp:Extensions>{forged}"),
        ),
        "object" => {
            let with_object = signed_assertion(s).replace(
                "</ds:Signature>",
                &format!("<ds:Object>{original}</ds:Object></ds:Signature>"),
            );
            response_with(
                s,
                &with_object.replace(
                    "persistent-erin</saml:NameID>",
                    "persistent-admin</saml:NameID>",
                ),
            )
        }
        _ => response_with(s, &format!("{original}{forged}")),
    }
}

#[actix_web::test]
async fn wrapping_signed_copy_in_extensions() {
    refused(
        |s, _| Some(wrapped(s, "extensions")),
        "saml_assertion_count",
    )
    .await;
}

#[actix_web::test]
async fn wrapping_signed_copy_in_signature_object() {
    refused(|s, _| Some(wrapped(s, "object")), "saml_assertion_count").await;
}

#[actix_web::test]
async fn wrapping_signed_copy_before_the_forged_one() {
    refused(|s, _| Some(wrapped(s, "before")), "saml_assertion_count").await;
}

#[actix_web::test]
async fn comment_inside_the_name_id() {
    refused(
        |s, _| {
            s.name_id = "persistent-erin<!-- -->.evil".into();
            None
        },
        "saml_comment",
    )
    .await;
}

#[actix_web::test]
async fn doctype_with_an_entity() {
    refused(
        |s, _| {
            let signed = build(s);
            let body = without_declaration(&signed);
            Some(format!(
                "<!DOCTYPE samlp:Response [<!ENTITY x \"erin\">]>{body}"
            ))
        },
        "saml_doctype",
    )
    .await;
}

#[actix_web::test]
async fn sha1() {
    refused(
        |s, _| {
            s.sha1 = true;
            None
        },
        "saml_signature",
    )
    .await;
}

#[actix_web::test]
async fn wrong_audience() {
    refused(
        |s, _| {
            s.audience = Some("https://other-sp.example/metadata".into());
            None
        },
        "saml_audience",
    )
    .await;
}

#[actix_web::test]
async fn missing_audience() {
    refused(
        |s, _| {
            s.audience = None;
            None
        },
        "saml_audience_missing",
    )
    .await;
}

#[actix_web::test]
async fn wrong_recipient() {
    refused(
        |s, _| {
            s.recipient = "https://evil.example/acs".into();
            None
        },
        "saml_recipient",
    )
    .await;
}

#[actix_web::test]
async fn wrong_destination() {
    refused(
        |s, _| {
            s.destination = "https://evil.example/acs".into();
            None
        },
        "saml_destination",
    )
    .await;
}

#[actix_web::test]
async fn wrong_issuer() {
    refused(
        |s, _| {
            s.issuer = "https://evil-idp.example/metadata".into();
            None
        },
        "saml_issuer",
    )
    .await;
}

#[actix_web::test]
async fn expired() {
    refused(
        |s, _| {
            s.not_before = Utc::now() - Duration::hours(2);
            s.not_on_or_after = Utc::now() - Duration::hours(1);
            None
        },
        "saml_expired",
    )
    .await;
}

#[actix_web::test]
async fn not_yet_valid() {
    refused(
        |s, _| {
            s.not_before = Utc::now() + Duration::hours(1);
            s.not_on_or_after = Utc::now() + Duration::hours(2);
            None
        },
        "saml_not_yet_valid",
    )
    .await;
}

#[actix_web::test]
async fn non_success_status() {
    refused(
        |s, _| {
            s.status = "urn:oasis:names:tc:SAML:2.0:status:Responder".into();
            None
        },
        "saml_status",
    )
    .await;
}

#[actix_web::test]
async fn assertion_answers_another_request() {
    refused(
        |s, _| {
            s.assertion_in_response_to = "_someone-elses-request".into();
            None
        },
        "saml_in_response_to",
    )
    .await;
}

#[actix_web::test]
async fn a_response_for_another_browsers_flow() {
    let services = services().await;
    let app = app(&services).await;
    let (request_id, _victim_cookie) = start(&app).await;
    let (_, attacker_cookie) = start(&app).await;
    let before = failures(&services, "wrong_browser");
    let (status, _) = post(&app, &attacker_cookie, &build(&spec(&request_id))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(failures(&services, "wrong_browser"), before + 1);
}

#[actix_web::test]
async fn unsolicited_and_unknown_requests_are_refused() {
    refused(
        |s, _| {
            s.response_in_response_to = "_never-sent".into();
            None
        },
        "expired",
    )
    .await;
    refused(
        |s, _| {
            Some(build(s).replace(
                &format!(" InResponseTo=\"{}\"", s.response_in_response_to),
                "",
            ))
        },
        "saml_unsolicited",
    )
    .await;
}

#[actix_web::test]
async fn a_non_member_is_refused() {
    refused(
        |s, _| {
            s.ou = "hist".into();
            None
        },
        "not_a_member",
    )
    .await;
}

#[actix_web::test]
async fn an_oversize_body_is_refused_before_parsing() {
    let services = services().await;
    let app = app(&services).await;
    let (_, cookie) = start(&app).await;
    let huge = "A".repeat(300 * 1024);
    let request = test::TestRequest::post()
        .uri("/_sso_bridge/upstream/saml/campus/acs")
        .cookie(cookie)
        .set_form([("SAMLResponse", huge)])
        .to_request();
    let response = test::call_service(&app, request).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[actix_web::test]
async fn sp_metadata_names_our_entity_id_acs_and_certificate() {
    let services = services().await;
    let app = app(&services).await;
    let response = test::call_service(
        &app,
        test::TestRequest::get()
            .uri("/_sso_bridge/upstream/saml/campus/metadata")
            .to_request(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = String::from_utf8(test::read_body(response).await.to_vec()).unwrap();
    assert!(body.contains(&format!("entityID=\"{SP}\"")), "{body}");
    assert!(body.contains(ACS), "{body}");
    assert!(body.contains(&cert_body("sp")), "{body}");
}

#[actix_web::test]
async fn authn_requests_are_signed_with_rsa_sha256_when_configured() {
    let text = config("idp-metadata.xml").replace(
        "clock_skew_seconds = 60",
        "clock_skew_seconds = 60\nsign_requests = true",
    );
    let services = services_with(&text).await;
    let app = app(&services).await;
    let request = test::TestRequest::get()
        .uri("/_matrix/client/v3/login/sso/redirect/eng?redirectUrl=https%3A%2F%2Fapp.example%2Fcb")
        .to_request();
    let response = test::call_service(&app, request).await;
    let location = url::Url::parse(
        response
            .headers()
            .get("location")
            .unwrap()
            .to_str()
            .unwrap(),
    )
    .unwrap();
    let param = |name: &str| {
        location
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    assert_eq!(
        param("SigAlg").as_deref(),
        Some("http://www.w3.org/2001/04/xmldsig-more#rsa-sha256")
    );
    let signature = STANDARD
        .decode(param("Signature").expect("signed"))
        .unwrap();
    // The signature covers SAMLRequest, RelayState and SigAlg, in that order, as sent.
    let query = location.query().unwrap();
    let signed_part = query.split("&Signature=").next().unwrap();
    let signed_part = signed_part.split("&department=").next().unwrap();
    let cert = openssl::x509::X509::from_pem(&std::fs::read(fixture("sp.crt")).unwrap()).unwrap();
    let public_key = cert.public_key().unwrap();
    let mut verifier =
        openssl::sign::Verifier::new(openssl::hash::MessageDigest::sha256(), &public_key).unwrap();
    verifier.update(signed_part.as_bytes()).unwrap();
    assert!(
        verifier.verify(&signature).unwrap(),
        "the IdP can verify it with our metadata's certificate"
    );
}

/// IdP metadata from a URL: a failed refresh keeps the last good copy; a good one
/// takes the IdP's new key.
#[actix_web::test]
async fn metadata_from_a_url_is_refreshed_and_a_failed_refresh_keeps_the_last_copy() {
    use std::sync::Mutex;
    let served: Arc<Mutex<Option<String>>> = Arc::new(Mutex::new(Some(
        std::fs::read_to_string(fixture("idp-metadata.xml")).unwrap(),
    )));
    let data = web::Data::new(served.clone());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = actix_web::HttpServer::new(move || {
        App::new().app_data(data.clone()).route(
            "/metadata",
            web::get().to(|m: web::Data<Arc<Mutex<Option<String>>>>| async move {
                match m.lock().unwrap().clone() {
                    Some(xml) => actix_web::HttpResponse::Ok().body(xml),
                    None => actix_web::HttpResponse::ServiceUnavailable().finish(),
                }
            }),
        )
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    actix_web::rt::spawn(server);
    let text = config("idp-metadata.xml").replace(
        &format!(
            "metadata_file = \"{}\"",
            fixture("idp-metadata.xml").display()
        ),
        &format!(
            "metadata_url = \"http://127.0.0.1:{port}/metadata\"\nmetadata_refresh_seconds = 60"
        ),
    );
    let services = services_with(&text).await;
    let idp = services.upstreams.saml("campus").unwrap();
    let app = app(&services).await;

    *served.lock().unwrap() = None;
    assert!(idp.refresh_now().await.is_err(), "the IdP is down");
    let (request_id, cookie) = start(&app).await;
    let (status, _) = post(&app, &cookie, &build(&spec(&request_id))).await;
    assert_eq!(
        status,
        StatusCode::FOUND,
        "the last good metadata still verifies the IdP's responses"
    );

    // The IdP rolls over to a new key.
    let rolled = std::fs::read_to_string(fixture("idp-metadata.xml"))
        .unwrap()
        .replace(&cert_body("idp"), &cert_body("other"));
    *served.lock().unwrap() = Some(rolled);
    idp.refresh_now().await.expect("refresh");
    let (request_id, cookie) = start(&app).await;
    let (status, _) = post(&app, &cookie, &build(&spec(&request_id))).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "the old key is no longer trusted"
    );
    let (request_id, cookie) = start(&app).await;
    let mut s = spec(&request_id);
    s.sign_key = "other";
    s.key_info_cert = "other";
    let (status, _) = post(&app, &cookie, &build(&s)).await;
    assert_eq!(status, StatusCode::FOUND, "the new key is");
}

#[actix_web::test]
async fn idp_initiated_logins_are_accepted_only_when_enabled_and_only_once() {
    let text = config("idp-metadata.xml").replace(
        "clock_skew_seconds = 60",
        "clock_skew_seconds = 60\nunsolicited_redirect_url = \"https://app.example/welcome\"",
    );
    let services = services_with(&text).await;
    let app = app(&services).await;
    let mut s = spec("");
    s.response_in_response_to = String::new();
    s.assertion_in_response_to = String::new();
    let xml = build(&s);
    let post_without_cookie = |xml: String| {
        test::TestRequest::post()
            .uri("/_sso_bridge/upstream/saml/campus/acs")
            .set_form([
                ("SAMLResponse", STANDARD.encode(xml)),
                ("RelayState", "eng".into()),
            ])
            .to_request()
    };
    let response = test::call_service(&app, post_without_cookie(xml.clone())).await;
    assert_eq!(response.status(), StatusCode::FOUND);
    let location = response
        .headers()
        .get("location")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        location.starts_with(&format!(
            "{}_matrix/client/v3/login/sso/redirect/oidc-university",
            sso_bridge_testing::stand_in::homeserver_url()
        )),
        "{location}"
    );
    assert!(
        response
            .response()
            .cookies()
            .any(|c| c.name() == "sso_bridge_browser"),
        "a browser cookie is set for the new flow"
    );
    let before = failures(&services, "saml_replay");
    let response = test::call_service(&app, post_without_cookie(xml)).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        failures(&services, "saml_replay"),
        before + 1,
        "an IdP-initiated response is good once"
    );
}

#[actix_web::test]
async fn saml_config_mistakes_name_their_key() {
    let bad = config("idp-metadata.xml").replace(
        "clock_skew_seconds = 60",
        "clock_skew_seconds = 60\nunsolicited_redirect_url = \"https://not-allowed.example/\"\nname_id_format = \"transient\"",
    );
    let err = Config::parse(&bad).unwrap_err().to_string();
    assert!(
        err.contains("`upstreams[0].unsolicited_redirect_url`"),
        "{err}"
    );
    assert!(
        err.contains("`upstreams[0].subject_attribute`"),
        "a transient NameID without a stable attribute: {err}"
    );
    let ok = config("idp-metadata.xml").replace(
        "clock_skew_seconds = 60",
        "clock_skew_seconds = 60\nname_id_format = \"transient\"\nsubject_attribute = \"eduPersonPrincipalName\"",
    );
    Config::parse(&ok).expect("transient with a stable attribute is fine");
}

/// The assertion's signature with `change` applied to its text, and values that
/// verify nothing: no IdP key is needed to send it, as an attacker would.
fn forged(s: &Spec, change: impl FnOnce(String) -> String) -> String {
    let signature = change(signature_template(s))
        .replace(
            "<ds:DigestValue></ds:DigestValue>",
            "<ds:DigestValue>AAAA</ds:DigestValue>",
        )
        .replace(
            "<ds:SignatureValue></ds:SignatureValue>",
            "<ds:SignatureValue>AAAA</ds:SignatureValue>",
        );
    response_with(s, &assertion(s, &signature))
}

/// The assertion's Reference pointing elsewhere.
fn referring_to(s: &Spec, uri: &str) -> String {
    let own = format!("URI=\"#{}\"", s.assertion_id);
    forged(s, |sig| sig.replace(&own, &format!("URI=\"{uri}\"")))
}

fn with_transform(s: &Spec, transform: &str) -> String {
    forged(s, |sig| {
        sig.replace(
            "<ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>",
            transform,
        )
    })
}

/// Posts `xml` and expects it refused for `reason` within `bound`.
async fn refused_within(xml: &str, reason: &str, bound: std::time::Duration) {
    let services = services().await;
    let app = app(&services).await;
    let (_, cookie) = start(&app).await;
    let before = failures(&services, reason);
    let started = std::time::Instant::now();
    let (status, location) = post(&app, &cookie, xml).await;
    let took = started.elapsed();
    eprintln!("refused for {reason} in {took:?}");
    assert!(location.is_none(), "{reason}: {location:?}");
    assert!(status.is_client_error(), "{reason}: {status}");
    assert_eq!(
        failures(&services, reason),
        before + 1,
        "refused for another reason than {reason}:\n{}",
        services.metrics.render()
    );
    assert!(took < bound, "{reason}: took {took:?}");
}

const FAST: std::time::Duration = std::time::Duration::from_millis(50);

#[actix_web::test]
async fn references_to_a_listener_a_file_and_a_fifo_are_refused_and_never_followed() {
    let wires = sso_bridge_sys::tripwire::Tripwires::set();
    for url in [wires.http_url(), wires.file_url(), wires.fifo_url()] {
        let s = spec("_req");
        refused_within(&referring_to(&s, &url), "saml_signature_profile", FAST).await;
    }
    wires.assert_untouched();
}

#[actix_web::test]
async fn signatures_outside_the_profile_are_refused_before_xmlsec() {
    let s = spec("_req");
    let own = format!("URI=\"#{}\"", s.assertion_id);
    let reference_start = |sig: &str| sig.find("<ds:Reference").unwrap();
    let reference_end = |sig: &str| sig.find("</ds:Reference>").unwrap() + "</ds:Reference>".len();
    let cases: Vec<(&str, String)> = vec![
        ("URI=\"\"", referring_to(&s, "")),
        (
            "#xpointer(id(…))",
            referring_to(&s, &format!("#xpointer(id('{}'))", s.assertion_id)),
        ),
        (
            "the Response's ID",
            referring_to(&s, &format!("#{}", s.response_id)),
        ),
        (
            "two References",
            forged(&s, |sig| {
                let reference = sig[reference_start(&sig)..reference_end(&sig)].to_owned();
                sig.replace(&reference, &format!("{reference}{reference}"))
            }),
        ),
        (
            "two SignedInfo",
            forged(&s, |sig| {
                let start = sig.find("<ds:SignedInfo>").unwrap();
                let end = sig.find("</ds:SignedInfo>").unwrap() + "</ds:SignedInfo>".len();
                let signed_info = sig[start..end].to_owned();
                sig.replace(&signed_info, &format!("{signed_info}{signed_info}"))
            }),
        ),
        (
            "an XPath filter",
            with_transform(
                &s,
                "<ds:Transform Algorithm=\"http://www.w3.org/TR/1999/REC-xpath-19991116\"><ds:XPath>count(//*[count(//*) &gt; 0]) &gt; 0</ds:XPath></ds:Transform>",
            ),
        ),
        (
            "an XSLT",
            with_transform(
                &s,
                "<ds:Transform Algorithm=\"http://www.w3.org/TR/1999/REC-xslt-19991116\"><xsl:stylesheet xmlns:xsl=\"http://www.w3.org/1999/XSL/Transform\" version=\"1.0\"><xsl:template match=\"/\"><xsl:for-each select=\"//*\"><xsl:for-each select=\"//*\"><xsl:value-of select=\"name()\"/></xsl:for-each></xsl:for-each></xsl:template></xsl:stylesheet></ds:Transform>",
            ),
        ),
        (
            "a RetrievalMethod",
            forged(&s, |sig| {
                sig.replace(
                    "<ds:KeyInfo>",
                    "<ds:KeyInfo><ds:RetrievalMethod URI=\"http://127.0.0.1:9/key\"/>",
                )
            }),
        ),
        (
            "an Object",
            forged(&s, |sig| {
                sig.replace("</ds:Signature>", "<ds:Object/></ds:Signature>")
            }),
        ),
    ];
    assert!(cases[0].1.contains("URI=\"\"") && !cases[0].1.contains(&own));
    for (what, xml) in cases {
        eprintln!("profile case: {what}");
        refused_within(&xml, "saml_signature_profile", FAST).await;
    }
}

#[actix_web::test]
async fn shapes_that_make_parsers_slow_are_refused_before_any_parser() {
    let s = spec("_req");
    let attributes: String = (0..16_000).map(|i| format!(" a{i}=\"x\"")).collect();
    let namespaces: String = (0..8_000)
        .map(|i| format!(" xmlns:n{i}=\"u:{i}\""))
        .collect();
    let on_issuer =
        |extra: &str| build(&s).replacen("<saml:Issuer>", &format!("<saml:Issuer{extra}>"), 1);
    refused_within(&on_issuer(&attributes), "saml_limit_attributes", FAST).await;
    refused_within(&on_issuer(&namespaces), "saml_limit_namespaces", FAST).await;
    // 50,000 elements do not fit under the ACS's body limit once base64'd, so
    // the ACS gets 30,000 and the pre-check the full 50,000.
    let elements = |n: usize| {
        build(&s).replacen(
            "<samlp:Status>",
            &format!(
                "<samlp:Extensions>{}</samlp:Extensions><samlp:Status>",
                "<a/>".repeat(n)
            ),
            1,
        )
    };
    refused_within(&elements(30_000), "saml_limit_elements", FAST).await;
    let started = std::time::Instant::now();
    let refusal = sso_bridge::upstream::saml::precheck(elements(50_000))
        .await
        .unwrap_err();
    assert_eq!(refusal.reason(), "saml_limit_elements");
    assert!(started.elapsed() < FAST, "{:?}", started.elapsed());
}

/// A Response signed as a whole (the Assertion inside it unsigned).
fn signed_response(s: &Spec) -> String {
    sign_response(s, &response_with(s, &assertion(s, "")))
}

/// Signs `response` (built from `s`) as a whole: a signature over the Response's
/// ID, after its Issuer, as IdPs place it.
fn sign_response(s: &Spec, response: &str) -> String {
    let template = signature_template(s).replace(
        &format!("URI=\"#{}\"", s.assertion_id),
        &format!("URI=\"#{}\"", s.response_id),
    );
    let unsigned = response.replacen(
        "</saml:Issuer><samlp:Status>",
        &format!("</saml:Issuer>{template}<samlp:Status>"),
        1,
    );
    sign(&unsigned, s.sign_key)
}

#[actix_web::test]
async fn a_signed_response_is_accepted_only_with_its_destination() {
    let services = services().await;
    let app = app(&services).await;
    let (request_id, cookie) = start(&app).await;
    let (status, location) = post(&app, &cookie, &signed_response(&spec(&request_id))).await;
    assert_eq!(status, StatusCode::FOUND, "{location:?}");
    refused(
        |s, _| {
            let without = response_with(s, &assertion(s, ""))
                .replace(&format!(" Destination=\"{}\"", s.destination), "");
            Some(sign_response(s, &without))
        },
        "saml_destination_missing",
    )
    .await;
}

#[actix_web::test]
async fn an_issue_instant_an_hour_ahead_is_refused() {
    refused(
        |s, _| {
            s.issue_instant = Utc::now() + Duration::hours(1);
            None
        },
        "saml_issued_in_future",
    )
    .await;
}

#[actix_web::test]
async fn a_friendly_name_does_not_stand_for_the_attribute_it_names() {
    // The real ou says hist; a self-service attribute calls itself "ou" and says eng.
    refused(
        |s, _| {
            s.ou = "hist".into();
            s.extra_attributes = r#"<saml:Attribute Name="urn:example:selfservice" FriendlyName="ou"><saml:AttributeValue>eng</saml:AttributeValue></saml:Attribute>"#.into();
            None
        },
        "not_a_member",
    )
    .await;
}

/// As pysaml2 (the test SAML IdP) writes attributes: URI names, a FriendlyName,
/// and `xs`/`xsi` declared on every value.
fn idp_shaped_attributes(count: usize) -> String {
    (0..count)
        .map(|i| {
            format!(
                r#"<saml:Attribute FriendlyName="extra{i}" Name="urn:oid:1.3.6.1.4.1.99999.{i}" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:uri"><saml:AttributeValue xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="xs:string">value {i}</saml:AttributeValue><saml:AttributeValue xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="xs:string">second {i}</saml:AttributeValue></saml:Attribute>"#
            )
        })
        .collect()
}

#[actix_web::test]
async fn an_idp_shaped_response_with_100_attributes_is_accepted() {
    let services = services().await;
    let app = app(&services).await;
    let (request_id, cookie) = start(&app).await;
    let mut s = spec(&request_id);
    s.extra_attributes = idp_shaped_attributes(100);
    let xml = build(&s);
    sso_bridge::upstream::saml::precheck(xml.clone())
        .await
        .expect("within every limit");
    let (status, location) = post(&app, &cookie, &xml).await;
    assert_eq!(status, StatusCode::FOUND, "{location:?}");
    // And signed twice, Response and Assertion, as pysaml2 does when asked.
    let (request_id, cookie) = start(&app).await;
    let mut s = spec(&request_id);
    s.extra_attributes = idp_shaped_attributes(100);
    let both = sign_response(&s, &response_with(&s, &signed_assertion(&s)));
    let (status, location) = post(&app, &cookie, &both).await;
    assert_eq!(status, StatusCode::FOUND, "{location:?}");
}
