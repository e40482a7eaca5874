//! A write waiting for its commit: [`Pending`], and [`block_on`] for callers that wait on a thread.
//!
//! [`crate::Store::submit`] hands the closure to the writer thread and returns at once (or, inside
//! [`block_on`], may run it on the calling thread first); the `Pending` it returns is a future that
//! completes with the closure's result once its transaction has committed. Async code awaits it and
//! holds no thread meanwhile: the writer wakes the task. Blocking code waits with [`block_on`] (for
//! a future built on pending writes, such as a service operation written once as an `async fn`).

use std::any::Any;
use std::cell::Cell;
use std::future::Future;
use std::panic::resume_unwind;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::Thread;

use crate::StoreError;

/// What the writer answers: the closure's result, or the payload of its panic.
pub(crate) type Reply<T, E> = Result<Result<T, E>, Box<dyn Any + Send>>;

enum State<R> {
    /// Not answered yet; the waker of whoever polled last.
    Waiting(Option<Waker>),
    Answered(R),
    /// The answer was taken.
    Taken,
}

/// Where the writer leaves one answer.
pub(crate) struct Slot<R> {
    state: Mutex<State<R>>,
}

impl<R> Slot<R> {
    fn new() -> Arc<Slot<R>> {
        Arc::new(Slot {
            state: Mutex::new(State::Waiting(None)),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State<R>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The writer's end of a [`Slot`]. Dropped without an answer (the writer thread is gone), it
/// answers [`StoreError::WriterGone`], so that no caller waits forever.
pub(crate) struct Replier<T, E: From<StoreError>> {
    slot: Option<Arc<Slot<Reply<T, E>>>>,
}

impl<T, E: From<StoreError>> Replier<T, E> {
    pub(crate) fn send(mut self, reply: Reply<T, E>) {
        if let Some(slot) = self.slot.take() {
            answer(&slot, reply);
        }
    }
}

impl<T, E: From<StoreError>> Drop for Replier<T, E> {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            answer(&slot, Ok(Err(E::from(StoreError::WriterGone))));
        }
    }
}

fn answer<R>(slot: &Slot<R>, reply: R) {
    let previous = std::mem::replace(&mut *slot.lock(), State::Answered(reply));
    // Woken after the lock is released, so that the waiter finds the answer at once.
    if let State::Waiting(Some(waker)) = previous {
        waker.wake();
    }
}

/// A pair of ends for one write.
pub(crate) fn pending<T, E: From<StoreError>>() -> (Replier<T, E>, Pending<T, E>) {
    let slot = Slot::new();
    (
        Replier {
            slot: Some(Arc::clone(&slot)),
        },
        Pending { slot },
    )
}

/// A submitted write ([`crate::Store::submit`]): a future of the closure's result, ready once the
/// transaction holding it has committed. A panic of the closure resumes
/// where the result is taken. Dropping it does not cancel the write; its result is then dropped.
#[must_use = "a write's result says whether it committed"]
pub struct Pending<T, E> {
    slot: Arc<Slot<Reply<T, E>>>,
}

impl<T, E> Future for Pending<T, E> {
    type Output = Result<T, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T, E>> {
        let mut state = self.slot.lock();
        match std::mem::replace(&mut *state, State::Taken) {
            State::Answered(Ok(result)) => Poll::Ready(result),
            State::Answered(Err(panic)) => {
                drop(state);
                resume_unwind(panic)
            }
            State::Waiting(_) => {
                *state = State::Waiting(Some(cx.waker().clone()));
                Poll::Pending
            }
            State::Taken => panic!("a store write's result was taken twice"),
        }
    }
}

thread_local! {
    /// Whether this thread is polling a future inside [`block_on`].
    static BLOCKING: Cell<bool> = const { Cell::new(false) };
}

/// Marks this thread as inside [`block_on`] until dropped, even if the poll panics (the thread
/// may go on to run async tasks, whose writes must not run in place).
struct Blocking {
    outer: bool,
}

impl Blocking {
    fn enter() -> Blocking {
        Blocking {
            outer: BLOCKING.replace(true),
        }
    }
}

impl Drop for Blocking {
    fn drop(&mut self) {
        BLOCKING.set(self.outer);
    }
}

/// Whether a write submitted now would be waited for on this thread, parking it ([`block_on`]),
/// rather than awaited by an async task that leaves its thread to other tasks meanwhile.
pub(crate) fn waits_on_its_thread() -> bool {
    BLOCKING.get()
}

/// Wakes a thread parked in [`block_on`].
struct Unpark(Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// Runs `future` to completion on the calling thread, parking it while the future waits. Meant
/// for futures that wait only on store writes ([`Pending`]), which the writer thread completes;
/// a future that needs an async runtime's timers or I/O would never finish here.
///
/// Writes submitted while `block_on` polls (inside `future`) may run on this thread
/// ([`crate::Store::submit`]): it would only park waiting for the writer thread otherwise.
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        let poll = {
            let _blocking = Blocking::enter();
            future.as_mut().poll(&mut cx)
        };
        if let Poll::Ready(output) = poll {
            return output;
        }
        // A wake that came before this park makes it return at once; a spurious return polls
        // again, which only re-registers the waker.
        std::thread::park();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dropped_replier_answers_writer_gone() {
        let (replier, pending) = pending::<u8, StoreError>();
        drop(replier);
        assert!(matches!(block_on(pending), Err(StoreError::WriterGone)));
    }

    #[test]
    fn an_answer_from_another_thread_wakes_the_waiter() {
        let (replier, pending) = pending::<u8, StoreError>();
        let sender = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(20));
            replier.send(Ok(Ok(7)));
        });
        assert_eq!(block_on(pending).unwrap(), 7);
        sender.join().unwrap();
    }

    #[test]
    fn only_a_poll_inside_block_on_counts_as_waiting_on_its_thread_even_after_a_panic() {
        assert!(!waits_on_its_thread());
        assert!(block_on(async { waits_on_its_thread() }));
        let panicked = std::panic::catch_unwind(|| {
            block_on(async {
                assert!(waits_on_its_thread());
                panic!("boom")
            })
        });
        assert!(panicked.is_err());
        assert!(!waits_on_its_thread());
    }

    #[test]
    fn a_panic_resumes_where_the_result_is_taken() {
        let (replier, pending) = pending::<u8, StoreError>();
        replier.send(Err(Box::new("boom")));
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| block_on(pending)));
        assert_eq!(caught.unwrap_err().downcast_ref::<&str>(), Some(&"boom"));
    }
}
