//! Clocks: the only source of time for every service rule (visibility timeouts, retention, streams).
//!
//! Services hold an `Arc<dyn Clock>`. Production uses [`SystemClock`]; tests use [`ManualClock`],
//! whose time moves only when the test moves it, so no time rule is ever tested with a sleep.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A wake-up callback registered with [`Clock::on_change`].
pub type ClockListener = Box<dyn Fn() + Send + Sync>;

/// A source of wall-clock time in milliseconds since the Unix epoch.
pub trait Clock: Send + Sync + 'static {
    /// The current time in epoch milliseconds.
    fn now_millis(&self) -> i64;

    /// Registers a callback run whenever the clock jumps (only a [`ManualClock`] jumps). Waiters that
    /// sleep until a moment in clock time (a long poll's end, a delayed message) use it to re-check
    /// when virtual time moves; a real clock never jumps, so the default ignores the listener.
    fn on_change(&self, listener: ClockListener) {
        drop(listener);
    }

    /// Whether time moves by itself. Waiters on a clock that does not (a [`ManualClock`]) wait for
    /// [`Clock::on_change`] instead of sleeping in real time.
    fn is_real(&self) -> bool {
        true
    }
}

/// The system's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_millis(&self) -> i64 {
        // A system clock before 1970 is a broken machine; time zero keeps every rule well-defined.
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    }
}

/// A clock that moves only when told to: virtual time for tests.
pub struct ManualClock {
    now: AtomicI64,
    /// The listeners are few and registered once per service, so a plain mutex is enough.
    listeners: Mutex<Vec<ClockListener>>,
}

impl ManualClock {
    /// A clock standing at `start_ms` epoch milliseconds.
    pub fn new(start_ms: i64) -> ManualClock {
        ManualClock {
            now: AtomicI64::new(start_ms),
            listeners: Mutex::new(Vec::new()),
        }
    }

    /// Moves the clock to `ms` epoch milliseconds (backwards too) and wakes every waiter.
    pub fn set(&self, ms: i64) {
        self.now.store(ms, Ordering::SeqCst);
        self.notify();
    }

    /// Moves the clock forward by `by` and wakes every waiter.
    pub fn advance(&self, by: Duration) {
        self.advance_millis(by.as_millis() as i64);
    }

    /// Moves the clock forward by `ms` milliseconds and wakes every waiter.
    pub fn advance_millis(&self, ms: i64) {
        self.now.fetch_add(ms, Ordering::SeqCst);
        self.notify();
    }

    fn notify(&self) {
        let listeners = self.listeners.lock().unwrap_or_else(|e| e.into_inner());
        for listener in listeners.iter() {
            listener();
        }
    }
}

impl Clock for ManualClock {
    fn now_millis(&self) -> i64 {
        self.now.load(Ordering::SeqCst)
    }

    fn on_change(&self, listener: ClockListener) {
        self.listeners
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(listener);
    }

    fn is_real(&self) -> bool {
        false
    }
}

impl std::fmt::Debug for ManualClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ManualClock")
            .field("now_millis", &self.now_millis())
            .finish()
    }
}
