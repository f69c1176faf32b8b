//! MSC1730: `POST /login` with `m.login.token` at the bridge, for clients that
//! ignore `homeserver`. The token's department is found by its hash; the login is
//! forwarded there (with `well_known` added) or redirected with 307.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::Value;

use super::error::HttpError;
use crate::config::TokenLoginMode;
use crate::crypto::hash_secret;
use crate::homeserver::{forward_login, login_url};
use crate::services::Services;

pub async fn login(
    services: web::Data<Services>,
    request: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, HttpError> {
    let bad = |errcode, error: &str| HttpError::matrix(StatusCode::BAD_REQUEST, errcode, error);
    let body: Value =
        serde_json::from_slice(&body).map_err(|_| bad("M_NOT_JSON", "Content not JSON."))?;
    let fields = body
        .as_object()
        .ok_or_else(|| bad("M_NOT_JSON", "Expected a JSON object."))?;
    match fields.get("type").and_then(Value::as_str) {
        Some("m.login.token") => {}
        Some(_) => {
            return Err(bad(
                "M_UNKNOWN",
                "This server only supports single sign-on: use m.login.sso, then m.login.token.",
            ));
        }
        None => return Err(bad("M_MISSING_PARAM", "Missing login type.")),
    }
    let token = fields
        .get("token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| bad("M_MISSING_PARAM", "Missing token."))?;
    let forbidden =
        || HttpError::matrix(StatusCode::FORBIDDEN, "M_FORBIDDEN", "Invalid login token");
    let route = services
        .store
        .login_token_route(&hash_secret(token), services.now())
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "token login: database unavailable");
            HttpError::matrix(
                StatusCode::SERVICE_UNAVAILABLE,
                "M_UNKNOWN",
                "The login service is temporarily unavailable.",
            )
        })?
        .ok_or_else(forbidden)?;
    let homeserver = url::Url::parse(&route.homeserver).map_err(|_| forbidden())?;
    match services.config.token_login {
        TokenLoginMode::Redirect => Ok(HttpResponse::TemporaryRedirect()
            .insert_header((
                header::LOCATION,
                login_url(&homeserver, super::matrix::client_api_version(&request)).as_str(),
            ))
            .finish()),
        TokenLoginMode::Proxy => {
            let client = request.peer_addr().map(|a| a.ip().to_string());
            let answer = forward_login(&services.http, &homeserver, &body, client.as_deref())
                .await
                .map_err(|e| {
                    tracing::error!(department = %route.department, error = %e, "token login: department homeserver failed");
                    HttpError::matrix(
                        StatusCode::BAD_GATEWAY,
                        "M_UNKNOWN",
                        "Your department's homeserver is not answering. Try again in a moment.",
                    )
                })?;
            tracing::info!(department = %route.department, status = answer.status, "token login forwarded");
            let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::BAD_GATEWAY);
            Ok(HttpResponse::build(status).json(answer.body))
        }
    }
}
