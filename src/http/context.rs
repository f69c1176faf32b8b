//! The outermost middleware: every request runs inside a tracing span with its
//! id (so every log line of it, JSON or text, carries the id) and inside its
//! [`RequestContext`]; the id goes back in `X-Request-Id`.

use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use tracing::Instrument;

use crate::request_context::RequestContext;

static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

pub async fn request_context(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let context = Arc::new(RequestContext::new(
        request
            .headers()
            .get(&X_REQUEST_ID)
            .and_then(|v| v.to_str().ok()),
    ));
    // The path only: query strings may carry login tokens.
    let span = tracing::info_span!(
        "request",
        id = context.id(),
        method = %request.method(),
        path = request.path(),
        department = tracing::field::Empty,
    );
    let id = HeaderValue::from_str(context.id()).ok();
    let mut response = context
        .scope(next.call(request))
        .instrument(span.clone())
        .await?;
    span.in_scope(|| {
        tracing::debug!(status = response.status().as_u16(), "request done");
    });
    if let Some(id) = id {
        response.headers_mut().insert(X_REQUEST_ID.clone(), id);
    }
    Ok(response)
}
