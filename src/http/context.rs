//! The outermost middleware: every request runs inside its [`RequestContext`],
//! so every log line of it, JSON or text, carries its id (`crate::logging`
//! reads it); the id goes back in `X-Request-Id`.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;

use crate::request_context::RequestContext;

static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

pub async fn request_context(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let context = RequestContext::new(
        request
            .headers()
            .get(&X_REQUEST_ID)
            .and_then(|v| v.to_str().ok()),
        request.method().clone(),
        request.uri().clone(),
    );
    let (response, context) = context.scope(next.call(request)).await;
    let mut response = response?;
    tracing::debug!(
        request = context.id(),
        method = %context.method(),
        path = context.path(),
        status = response.status().as_u16(),
        "request done"
    );
    if let Ok(id) = HeaderValue::from_str(context.id()) {
        response.headers_mut().insert(X_REQUEST_ID.clone(), id);
    }
    Ok(response)
}
