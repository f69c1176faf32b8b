//! Token validation for university services: RFC 7662 introspection, and
//! forward-auth for reverse proxies (nginx `auth_request`, Traefik, Caddy).

use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;

use super::error::HttpError;
use super::{MAX_FORM_BYTES, address_limit, form_body};
use crate::client_auth::client_credentials;
use crate::config::IntrospectionClient;
use crate::introspection::{IntrospectionError, Verdict};
use crate::services::Services;

/// The header a reverse proxy authenticates itself with on forward-auth
/// (`Authorization` carries the user's token there).
pub const FORWARD_AUTH_CLIENT_HEADER: &str = "X-SSO-Bridge-Client";
static X_SSO_BRIDGE_CLIENT: HeaderName = HeaderName::from_static("x-sso-bridge-client");

// The user, for the proxy to pass on (names parsed once, not per request).
static X_MATRIX_USER_ID: HeaderName = HeaderName::from_static("x-matrix-user-id");
static X_MATRIX_LOCALPART: HeaderName = HeaderName::from_static("x-matrix-localpart");
/// Also the homeserver hint a proxy or client may send.
static X_MATRIX_HOMESERVER: HeaderName = HeaderName::from_static("x-matrix-homeserver");
static X_MATRIX_DEVICE_ID: HeaderName = HeaderName::from_static("x-matrix-device-id");
static X_MATRIX_DEPARTMENT: HeaderName = HeaderName::from_static("x-matrix-department");
static REMOTE_USER: HeaderName = HeaderName::from_static("remote-user");

/// The form's fields (`token_type_hint` is accepted and ignored: only Matrix
/// access tokens are known here). `homeserver` is the homeserver's URL, its
/// server name, or the user's Matrix ID.
const INTROSPECT_FIELDS: [&str; 4] = ["token", "homeserver", "client_id", "client_secret"];

/// RFC 7662 §2.2, with the Matrix facts a service needs.
#[derive(Debug, Serialize)]
struct IntrospectionResponse<'a> {
    active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    sub: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    username: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    token_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    device_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    homeserver: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    department: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    is_guest: Option<bool>,
}

/// `POST /_sso_bridge/introspect`
pub async fn introspect(
    services: web::Data<Services>,
    request: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, HttpError> {
    let [token, homeserver, client_id, client_secret]: [Option<String>; 4] =
        form_body::read(&request, body, MAX_FORM_BYTES, &INTROSPECT_FIELDS)
            .await?
            .try_into()
            .unwrap_or_default();
    let client = authenticate(
        &services,
        &request,
        header_str(&request, &header::AUTHORIZATION),
        client_id.as_deref(),
        client_secret.as_deref(),
    )
    .map_err(HttpError::from_introspection)?;
    let token = token.unwrap_or_default();
    let verdict = services
        .introspector
        .introspect(client, &token, homeserver.as_deref())
        .await
        .map_err(HttpError::from_introspection)?;
    // An active token's answer is serialized once per cache entry and sent
    // as is by every later hit. A struct of strings always serializes.
    let json = match &verdict {
        Verdict::Active(active) => active
            .prepared(|active| {
                serde_json::to_vec(&IntrospectionResponse {
                    active: true,
                    sub: Some(&active.holder.user_id),
                    username: Some(active.localpart()),
                    token_type: Some("Bearer"),
                    device_id: active.holder.device_id.as_deref(),
                    homeserver: Some(active.homeserver.as_str()),
                    department: active.department.as_deref(),
                    is_guest: Some(active.holder.is_guest),
                })
                .unwrap_or_default()
            })
            .to_vec(),
        Verdict::Inactive => br#"{"active":false}"#.to_vec(),
    };
    // Ready-made header values: `.json()` parses its content type each time.
    let mut response = HttpResponse::Ok().body(json);
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(response)
}

/// `GET /_sso_bridge/forward-auth`: 200 with the user in `X-Matrix-*` headers,
/// or 401 with a Bearer challenge. Guests are refused.
pub async fn forward_auth(
    services: web::Data<Services>,
    request: HttpRequest,
) -> Result<HttpResponse, HttpError> {
    let proxy = header_str(&request, &X_SSO_BRIDGE_CLIENT).ok_or_else(|| {
        HttpError::from_introspection(IntrospectionError::InvalidClient(format!(
            "the proxy must send its client credentials in {FORWARD_AUTH_CLIENT_HEADER}"
        )))
        .for_forward_auth()
    })?;
    let client = authenticate(&services, &request, Some(proxy), None, None)
        .map_err(|e| HttpError::from_introspection(e).for_forward_auth())?;
    let token = header_str(&request, &header::AUTHORIZATION)
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim)
        .unwrap_or_default();
    if token.is_empty() {
        return Ok(unauthorized("invalid_request"));
    }
    // `?homeserver=`, read without an extractor: this is the hottest route.
    let from_query = url::form_urlencoded::parse(request.query_string().as_bytes())
        .find(|(name, _)| name == "homeserver")
        .map(|(_, value)| value);
    let hint = from_query
        .as_deref()
        .or_else(|| header_str(&request, &X_MATRIX_HOMESERVER));
    let verdict = services
        .introspector
        .introspect(client, token, hint)
        .await
        .map_err(|e| HttpError::from_introspection(e).for_forward_auth())?;
    match verdict {
        Verdict::Active(active) if !active.holder.is_guest => {
            let mut response = HttpResponse::Ok()
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .finish();
            let user_id = active.holder.user_id.as_str();
            let values = [
                (&X_MATRIX_USER_ID, Some(user_id)),
                (&X_MATRIX_LOCALPART, Some(active.localpart())),
                (&X_MATRIX_HOMESERVER, Some(active.homeserver.as_str())),
                (&REMOTE_USER, Some(user_id)),
                (&X_MATRIX_DEVICE_ID, active.holder.device_id.as_deref()),
                (&X_MATRIX_DEPARTMENT, active.department.as_deref()),
            ];
            let headers = response.headers_mut();
            for (name, value) in values {
                // Values come from the homeserver and the config; one that is
                // not a valid header value is left out rather than mangled.
                if let Some(value) = value.and_then(|v| HeaderValue::from_str(v).ok()) {
                    headers.insert(name.clone(), value);
                }
            }
            Ok(response)
        }
        _ => Ok(unauthorized("invalid_token")),
    }
}

fn unauthorized(error: &str) -> HttpResponse {
    HttpResponse::Unauthorized()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((
            header::WWW_AUTHENTICATE,
            format!("Bearer realm=\"sso-bridge\", error=\"{error}\""),
        ))
        .finish()
}

/// Failed client authentications count against the caller's address; past
/// `[rate_limits] introspection_failures` the address is refused before its
/// credentials are even looked at, so secrets cannot be guessed at speed.
fn authenticate<'a>(
    services: &'a Services,
    request: &HttpRequest,
    authorization: Option<&str>,
    client_id: Option<&str>,
    client_secret: Option<&str>,
) -> Result<&'a IntrospectionClient, IntrospectionError> {
    let limit = services
        .config
        .rate_limits
        .introspection_failures
        .zip(address_limit::address_key(services, request))
        .map(|(rate, address)| (rate, format!("introspection_failures {address}")));
    if let Some((rate, key)) = &limit
        && let Some(retry) = services
            .address_limits
            .exhausted(services.clock.as_ref(), key, *rate)
    {
        services.metrics.rate_limited("introspection_failures");
        address_limit::log_refusal(services, "introspection_failures", retry);
        return Err(IntrospectionError::AddressRateLimited(retry.0));
    }
    if let (Some(header), None, None) = (authorization, client_id, client_secret)
        && let Some(client) = services.introspector.client_by_basic_header(header)
    {
        return Ok(client);
    }
    let result = client_credentials(authorization, client_id, client_secret)
        .map_err(|e| IntrospectionError::InvalidClient(e.to_string()))
        .and_then(|(id, secret)| services.introspector.authenticate(&id, &secret));
    if result.is_err()
        && let Some((rate, key)) = &limit
    {
        // Counted only now: the bucket empties on failures alone.
        let _ = services
            .address_limits
            .check(services.clock.as_ref(), key, *rate);
    }
    result
}

fn header_str<'a>(request: &'a HttpRequest, name: &HeaderName) -> Option<&'a str> {
    request.headers().get(name).and_then(|v| v.to_str().ok())
}
