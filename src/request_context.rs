//! What one request is about, for its log lines, its error page and its
//! metrics: an id (the proxy's `X-Request-Id` when it is sane, else a fresh
//! one) and, once the login flow knows it, the department.

use std::future::Future;
use std::sync::{Arc, Mutex};

pub struct RequestContext {
    id: String,
    department: Mutex<Option<String>>,
}

tokio::task_local! {
    static CONTEXT: Arc<RequestContext>;
}

impl RequestContext {
    /// Keeps an incoming id of up to 64 visible ASCII characters (so it can be
    /// followed across a proxy's logs); anything else gets a fresh random id.
    pub fn new(incoming: Option<&str>) -> Self {
        let id = incoming
            .filter(|id| {
                !id.is_empty()
                    && id.len() <= 64
                    && id
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
            })
            .map(str::to_owned)
            .unwrap_or_else(|| {
                let bytes: [u8; 8] = rand::random();
                hex::encode(bytes)
            });
        Self {
            id,
            department: Mutex::new(None),
        }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// Runs `future` with this context as the current one.
    pub async fn scope<F: Future>(self: Arc<Self>, future: F) -> F::Output {
        CONTEXT.scope(self, future).await
    }
}

/// The current request's id, if there is a current request.
pub fn request_id() -> Option<String> {
    CONTEXT.try_with(|c| c.id.clone()).ok()
}

/// The login flow says which department this request concerns: failures are
/// counted by department, and later log lines of the request carry it.
pub fn note_department(department: &str) {
    let _ = CONTEXT.try_with(|c| {
        *c.department.lock().unwrap_or_else(|e| e.into_inner()) = Some(department.to_owned());
    });
    tracing::Span::current().record("department", department);
}

pub fn department() -> Option<String> {
    CONTEXT
        .try_with(|c| {
            c.department
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone()
        })
        .ok()
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sane_incoming_ids_are_kept_others_replaced() {
        assert_eq!(RequestContext::new(Some("lb-1234.abc")).id(), "lb-1234.abc");
        for bad in ["", "a b", "x\ny", &"z".repeat(65), "<script>"] {
            let id = RequestContext::new(Some(bad)).id().to_owned();
            assert_eq!(id.len(), 16, "{bad:?} → {id}");
            assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
        }
    }

    #[tokio::test]
    async fn the_department_noted_during_a_request_stays_with_it() {
        assert_eq!(department(), None);
        let context = Arc::new(RequestContext::new(None));
        let seen = context
            .clone()
            .scope(async {
                note_department("eng");
                (department(), request_id())
            })
            .await;
        assert_eq!(
            seen,
            (Some("eng".to_owned()), Some(context.id().to_owned()))
        );
    }
}
