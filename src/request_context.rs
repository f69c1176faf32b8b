//! What one request is about, for its log lines, its error page and its
//! metrics: an id (the proxy's `X-Request-Id` when it is sane, else a fresh
//! one), its method and path, and, once the login flow knows it, the department.
//!
//! It lives in a task-local, not a tracing span: a span costs on every request
//! (its fields are formatted when it opens, a fifth of a cached token check),
//! while the log formatter reads the context only when a line is actually
//! written (`crate::logging`).

use std::cell::RefCell;
use std::future::Future;

use actix_web::http::{Method, Uri};

pub struct RequestContext {
    id: String,
    method: Method,
    /// Cheap to clone (shared bytes); only its path is ever shown, as query
    /// strings may carry login tokens.
    uri: Uri,
    department: RefCell<Option<String>>,
}

tokio::task_local! {
    static CONTEXT: RequestContext;
}

impl RequestContext {
    /// Keeps an incoming id of up to 64 visible ASCII characters (so it can be
    /// followed across a proxy's logs); anything else gets a fresh random id.
    pub fn new(incoming: Option<&str>, method: Method, uri: Uri) -> Self {
        let id = incoming
            .filter(|id| {
                !id.is_empty()
                    && id.len() <= 64
                    && id
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
            })
            .map(str::to_owned)
            .unwrap_or_else(|| crate::encoding::to_hex(&rand::random::<[u8; 8]>()));
        Self {
            id,
            method,
            uri,
            department: RefCell::new(None),
        }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn method(&self) -> &Method {
        &self.method
    }

    pub fn path(&self) -> &str {
        self.uri.path()
    }

    pub fn department(&self) -> Option<String> {
        self.department.borrow().clone()
    }

    /// Runs `future` with this context as the current one; gives the context back.
    pub async fn scope<F: Future>(self, future: F) -> (F::Output, Self) {
        let mut future = std::pin::pin!(CONTEXT.scope(self, future));
        let output = future.as_mut().await;
        // The scope is over: take the context out again for the response.
        let context = future
            .as_mut()
            .take_value()
            .unwrap_or_else(|| unreachable!("a finished task-local scope still holds its value"));
        (output, context)
    }
}

/// Reads the current request's context, if there is a current request.
pub fn with_current<T>(read: impl FnOnce(&RequestContext) -> T) -> Option<T> {
    CONTEXT.try_with(read).ok()
}

/// The current request's id, if there is a current request.
pub fn request_id() -> Option<String> {
    with_current(|c| c.id.clone())
}

/// The login flow says which department this request concerns: failures are
/// counted by department, and later log lines of the request carry it.
pub fn note_department(department: &str) {
    let _ = CONTEXT.try_with(|c| *c.department.borrow_mut() = Some(department.to_owned()));
}

pub fn department() -> Option<String> {
    with_current(RequestContext::department).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context(incoming: Option<&str>) -> RequestContext {
        RequestContext::new(
            incoming,
            Method::GET,
            Uri::from_static("/x?loginToken=secret"),
        )
    }

    #[test]
    fn sane_incoming_ids_are_kept_others_replaced() {
        assert_eq!(context(Some("lb-1234.abc")).id(), "lb-1234.abc");
        for bad in ["", "a b", "x\ny", &"z".repeat(65), "<script>"] {
            let c = context(Some(bad));
            let id = c.id();
            assert_eq!(id.len(), 16, "{bad:?} → {id}");
            assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
        }
        assert_eq!(context(None).path(), "/x");
    }

    #[tokio::test]
    async fn the_department_noted_during_a_request_stays_with_it() {
        assert_eq!(department(), None);
        let (seen, context) = context(None)
            .scope(async {
                note_department("eng");
                (department(), request_id())
            })
            .await;
        assert_eq!(
            seen,
            (Some("eng".to_owned()), Some(context.id().to_owned()))
        );
        assert_eq!(context.department().as_deref(), Some("eng"));
    }
}
