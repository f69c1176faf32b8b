//! Waiting for something to be so, instead of sleeping for a guessed time:
//! the condition is checked again every few milliseconds until it holds or
//! the deadline passes (then the test fails, saying what never happened).

use std::future::Future;
use std::time::{Duration, Instant};

/// How often a condition is checked again.
const POLL: Duration = Duration::from_millis(50);

/// The value `check` gives once it gives one; panics after `timeout` with `what`.
pub async fn until<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "waited {timeout:?} for {what} in vain"
        );
        tokio::time::sleep(POLL).await;
    }
}
