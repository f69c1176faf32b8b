//! Bounded verification: the ACS's XML and signature work runs on at most one
//! thread per core. A flood of responses queues here (a bounded queue, a bounded
//! wait) and is refused with 503 beyond that, instead of growing tokio's
//! blocking pool to its cap of 512 threads and starving genuine logins.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use tokio::sync::Semaphore;

use super::{SamlError, unparsable};

/// How many responses may wait for a thread, per thread.
const QUEUE_PER_THREAD: usize = 64;
/// How long one may wait before it is refused.
const LONGEST_WAIT: Duration = Duration::from_secs(5);

struct Pool {
    threads: Arc<Semaphore>,
    waiting: AtomicUsize,
    max_waiting: usize,
}

static POOL: LazyLock<Pool> = LazyLock::new(|| {
    let threads = threads();
    Pool {
        threads: Arc::new(Semaphore::new(threads)),
        waiting: AtomicUsize::new(0),
        max_waiting: threads * QUEUE_PER_THREAD,
    }
});

/// The pool's size: one thread per core.
pub fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// Runs `work` on the pool; a panic in it is a refusal, never a crash.
pub async fn run<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, SamlError> + Send + 'static,
) -> Result<T, SamlError> {
    let pool = &*POOL;
    let permit = match pool.threads.clone().try_acquire_owned() {
        Ok(permit) => permit,
        Err(_) => {
            let _waiting = Waiting::enter(pool)?;
            match tokio::time::timeout(LONGEST_WAIT, pool.threads.clone().acquire_owned()).await {
                Ok(Ok(permit)) => permit,
                _ => return Err(SamlError::Busy),
            }
        }
    };
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        std::panic::catch_unwind(AssertUnwindSafe(work)).unwrap_or_else(|_| Err(unparsable()))
    })
    .await
    .unwrap_or_else(|_| Err(unparsable()))
}

/// A place in the queue, given back however the wait ends.
struct Waiting(&'static Pool);

impl Waiting {
    fn enter(pool: &'static Pool) -> Result<Self, SamlError> {
        if pool.waiting.fetch_add(1, Ordering::AcqRel) >= pool.max_waiting {
            pool.waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(SamlError::Busy);
        }
        Ok(Self(pool))
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.waiting.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn work_never_runs_on_more_threads_than_cores_and_panics_are_refusals() {
        static RUNNING: AtomicUsize = AtomicUsize::new(0);
        static MOST: AtomicUsize = AtomicUsize::new(0);
        let tasks: Vec<_> = (0..40)
            .map(|_| {
                tokio::spawn(run(|| {
                    let now = RUNNING.fetch_add(1, Ordering::SeqCst) + 1;
                    MOST.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(5));
                    RUNNING.fetch_sub(1, Ordering::SeqCst);
                    Ok(())
                }))
            })
            .collect();
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        assert!(MOST.load(Ordering::SeqCst) <= threads());
        let panicked = run(|| -> Result<(), SamlError> { panic!("boom") }).await;
        assert_eq!(panicked.unwrap_err().reason(), "saml_malformed");
    }
}
