//! Bounded verification: the ACS's XML and signature work runs on a fixed set of
//! threads, one per core, fed by a bounded queue. A flood of responses waits in
//! the queue (at most `QUEUE_PER_THREAD` per thread, each at most `LONGEST_WAIT`)
//! and is refused with 503 beyond that, instead of growing tokio's blocking pool
//! to its cap of 512 threads and starving genuine logins. The threads never
//! sleep while work is queued, so the cores stay busy under load.

use std::panic::AssertUnwindSafe;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::{SamlError, unparsable};

/// How many responses may wait for a thread, per thread.
const QUEUE_PER_THREAD: usize = 64;
/// How long one may wait before it is refused.
const LONGEST_WAIT: Duration = Duration::from_secs(5);

type Job = Box<dyn FnOnce() + Send>;

/// The queue's sending end; the threads share the receiving end.
static QUEUE: LazyLock<Option<SyncSender<Job>>> = LazyLock::new(start);

/// The pool's size: one thread per core.
pub fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

fn start() -> Option<SyncSender<Job>> {
    let (sender, receiver) = sync_channel::<Job>(threads() * QUEUE_PER_THREAD);
    let receiver: &'static Mutex<Receiver<Job>> = Box::leak(Box::new(Mutex::new(receiver)));
    for n in 0..threads() {
        let spawned = std::thread::Builder::new()
            .name(format!("saml-verify-{n}"))
            .spawn(move || work(receiver));
        if spawned.is_err() {
            tracing::error!("cannot start a SAML verification thread");
            return None;
        }
    }
    Some(sender)
}

/// One thread: take the next job, run it, until the process ends.
fn work(queue: &Mutex<Receiver<Job>>) {
    loop {
        let job = match queue.lock() {
            Ok(receiver) => receiver.recv(),
            Err(poisoned) => poisoned.into_inner().recv(),
        };
        match job {
            Ok(job) => job(),
            Err(_) => return,
        }
    }
}

/// Runs `work` on the pool; a panic in it is a refusal, never a crash. Refused
/// with `Busy` when the queue is full or the wait would be too long.
pub async fn run<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, SamlError> + Send + 'static,
) -> Result<T, SamlError> {
    let queue = QUEUE.as_ref().ok_or(SamlError::Busy)?;
    let (answer, answered) = oneshot::channel();
    let deadline = Instant::now() + LONGEST_WAIT;
    let job: Job = Box::new(move || {
        let result = if Instant::now() > deadline {
            Err(SamlError::Busy)
        } else {
            std::panic::catch_unwind(AssertUnwindSafe(work)).unwrap_or_else(|_| Err(unparsable()))
        };
        // The caller may have gone (the client hung up): nothing to do then.
        let _ = answer.send(result);
    });
    match queue.try_send(job) {
        Ok(()) => {}
        Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => return Err(SamlError::Busy),
    }
    answered.await.unwrap_or_else(|_| Err(unparsable()))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// The pool is the process's: its tests take turns (one of them fills it).
    static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn work_never_runs_on_more_threads_than_cores_and_panics_are_refusals() {
        let _turn = ONE_AT_A_TIME.lock().await;
        static RUNNING: AtomicUsize = AtomicUsize::new(0);
        static MOST: AtomicUsize = AtomicUsize::new(0);
        let tasks: Vec<_> = (0..40)
            .map(|_| {
                tokio::spawn(run(|| {
                    let now = RUNNING.fetch_add(1, Ordering::SeqCst) + 1;
                    MOST.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(5));
                    RUNNING.fetch_sub(1, Ordering::SeqCst);
                    Ok(std::thread::current().name().map(str::to_owned))
                }))
            })
            .collect();
        for task in tasks {
            let name = task.await.unwrap().unwrap();
            assert!(
                name.is_some_and(|n| n.starts_with("saml-verify-")),
                "on the pool's own threads"
            );
        }
        assert!(MOST.load(Ordering::SeqCst) <= threads());
        let panicked = run(|| -> Result<(), SamlError> { panic!("boom") }).await;
        assert_eq!(panicked.unwrap_err().reason(), "saml_malformed");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_queue_refuses_at_once_instead_of_growing() {
        use futures_util::FutureExt;
        let _turn = ONE_AT_A_TIME.lock().await;
        // Hold every thread, fill the queue, then one more is refused at once.
        // (A job's first poll queues it; the dropped future leaves it queued.)
        let (release, hold) = std::sync::mpsc::channel::<()>();
        let hold = std::sync::Arc::new(Mutex::new(hold));
        for _ in 0..threads() {
            let hold = hold.clone();
            let pending = run(move || {
                let _ = hold.lock().map(|h| h.recv());
                Ok(())
            })
            .now_or_never();
            assert!(pending.is_none());
        }
        let mut accepted = 0;
        let refused = loop {
            match run(|| Ok(())).now_or_never() {
                None => accepted += 1,
                Some(Err(SamlError::Busy)) => break true,
                Some(other) => panic!("nothing can have run yet: {other:?}"),
            }
            if accepted > threads() * (QUEUE_PER_THREAD + 1) {
                break false;
            }
        };
        for _ in 0..threads() {
            release.send(()).unwrap();
        }
        // Let the queue drain before the next test takes its turn.
        for _ in 0..1_000 {
            if run(|| Ok(())).await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert!(refused, "a full queue refuses");
        assert!(
            accepted <= threads() * QUEUE_PER_THREAD,
            "{accepted} waited"
        );
    }
}
