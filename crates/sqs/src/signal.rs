//! [`Signal`]: the wake-up a long poll waits on, one per queue.
//!
//! A signal is a version counter. Whatever may make a message receivable (a send, a visibility
//! change to zero, a move, a jump of a virtual clock) bumps it; a waiter remembers the version it saw
//! before its last empty receive and sleeps until the version differs. Taking the version *before*
//! the receive closes the race with a send that commits in between.
//!
//! Blocking callers use [`Signal::wait`]; an async endpoint awaits [`Signal::changed`] (a plain
//! `Future`, so no runtime is needed here) under its own timeout.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// A wake-up counter for one queue.
#[derive(Default)]
pub struct Signal {
    /// A `std::sync::Mutex`: it is held only to bump or read the counter, never across a wait.
    state: Mutex<State>,
    changed: Condvar,
}

#[derive(Default)]
struct State {
    version: u64,
    wakers: Vec<Waker>,
}

impl Signal {
    /// The current version; pass it to [`Signal::wait`] or [`Signal::changed`].
    pub fn version(&self) -> u64 {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).version
    }

    /// Wakes every waiter.
    pub fn notify(&self) {
        let wakers = {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            state.version = state.version.wrapping_add(1);
            std::mem::take(&mut state.wakers)
        };
        self.changed.notify_all();
        for waker in wakers {
            waker.wake();
        }
    }

    /// Blocks until the version differs from `seen` or `timeout` passes; true if it changed.
    pub fn wait(&self, seen: u64, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        while state.version == seen {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            state = self
                .changed
                .wait_timeout(state, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        true
    }

    /// A future that completes once the version differs from `seen`.
    pub fn changed(self: &Arc<Self>, seen: u64) -> Changed {
        Changed {
            signal: Arc::clone(self),
            seen,
        }
    }
}

/// The future of [`Signal::changed`].
pub struct Changed {
    signal: Arc<Signal>,
    seen: u64,
}

impl Future for Changed {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut state = self.signal.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.version != self.seen {
            return Poll::Ready(());
        }
        if !state.wakers.iter().any(|w| w.will_wake(cx.waker())) {
            state.wakers.push(cx.waker().clone());
        }
        Poll::Pending
    }
}
