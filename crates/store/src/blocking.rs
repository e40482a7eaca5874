//! Store calls from async code: [`blocking`].

use std::panic::{catch_unwind, AssertUnwindSafe};

use tokio::runtime::{Handle, RuntimeFlavor};

/// Runs `f`, which blocks on the store (a read, or a write waiting for its commit), from async
/// code without stalling the runtime's other tasks. A panic in `f` comes back as `Err` with its
/// payload, for the caller to answer or resume.
///
/// On a multi-threaded runtime `f` runs in place (`block_in_place`): the worker thread runs it and
/// hands its other tasks to another thread meanwhile. Sending `f` to the blocking pool instead
/// costs two more thread wake-ups per call, one there and one back, which on two cores is much of
/// what a small request costs. In place, the endpoint bench's ListTables went from 39,700 to
/// 46,200 ops/s and BatchWriteItem from 137,000 to 156,000 items/s (`cargo bench -p api --bench
/// endpoint`, medians of three interleaved runs each, 2-core VM). A current-thread runtime cannot
/// hand its tasks over, so there `f` goes to the blocking pool.
///
/// `f` must not wait for async work (a task, a timer): were every worker inside such a call, no
/// task would run.
pub async fn blocking<T, F>(f: F) -> std::thread::Result<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    match Handle::current().runtime_flavor() {
        RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(|| catch_unwind(AssertUnwindSafe(f)))
        }
        _ => match tokio::task::spawn_blocking(f).await {
            Ok(value) => Ok(value),
            Err(error) if error.is_panic() => Err(error.into_panic()),
            // Cancelled: only a runtime shutting down drops a blocking task before it runs.
            Err(error) => Err(Box::new(error.to_string())),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::blocking;

    /// Runs a call and a panicking call through `blocking`; whether the call ran on the caller's
    /// thread.
    async fn ran_in_place() -> bool {
        let caller = std::thread::current().id();
        let ran_on = blocking(|| std::thread::current().id()).await.unwrap();
        let panic = blocking(|| -> u8 { panic!("boom") }).await.unwrap_err();
        assert_eq!(panic.downcast_ref::<&str>(), Some(&"boom"));
        ran_on == caller
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn runs_in_place_on_a_multi_threaded_runtime_and_returns_panics() {
        assert!(ran_in_place().await);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn goes_to_the_blocking_pool_on_a_current_thread_runtime() {
        assert!(!ran_in_place().await);
    }
}
