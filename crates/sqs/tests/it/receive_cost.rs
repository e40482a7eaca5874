//! The cost of the queue cycle must not grow with the queue's depth: a receive reads the front of
//! the `(queue_id, visible_ms)` index and the few rows it takes, never the whole queue, whether
//! the messages behind the front are visible, delayed or in flight. Nor may the check whether a
//! queue is drained, which the engine makes every few milliseconds while a cascade runs.
//!
//! The cost is counted in SQLite virtual machine steps on the store's connections (through a
//! progress handler called at every step), which is deterministic, unlike a timing. A statement
//! that scans or counts the queue's messages takes steps in proportion to the depth, so the
//! counts at two depths a hundred times apart tell a flat cycle from an O(depth) one.

use std::ffi::{c_int, c_void};
use std::sync::atomic::{AtomicU64, Ordering};

use sqs::{DeleteMessageBatchEntry, ReceiveMessage, SendMessageBatchEntry};

use crate::support::{env, Env};

/// Counts one virtual machine step; `counter` is the `AtomicU64` installed with the handler.
extern "C" fn count_step(counter: *mut c_void) -> c_int {
    // SAFETY: `counter` is the leaked `&'static AtomicU64` that `install_counter` passed.
    let counter = unsafe { &*(counter as *const AtomicU64) };
    counter.fetch_add(1, Ordering::Relaxed);
    0
}

/// Which of the store's connections a counter goes on.
#[derive(Clone, Copy)]
enum On {
    /// The writer, which runs every send, receive and delete.
    Writer,
    /// The read connection. The test reads from one thread, so the pool holds that one
    /// connection and every later read takes it again.
    Reader,
}

/// Installs a step counter on one of the store's connections.
fn install_counter(e: &Env, on: On) -> &'static AtomicU64 {
    let counter: &'static AtomicU64 = Box::leak(Box::new(AtomicU64::new(0)));
    let address = counter as *const AtomicU64 as usize;
    let install = move |conn: &rusqlite::Connection| {
        // SAFETY: the handle is a live connection, used on the calling thread, and the counter
        // outlives it (it is leaked).
        unsafe {
            rusqlite::ffi::sqlite3_progress_handler(
                conn.handle(),
                1,
                Some(count_step),
                address as *mut c_void,
            );
        }
        Ok::<_, store::StoreError>(())
    };
    match on {
        On::Writer => e.sqs.store().write(install),
        On::Reader => e.sqs.store().read(install),
    }
    .unwrap();
    counter
}

/// What the messages a queue is filled with are doing while the cycle runs.
#[derive(Debug, Clone, Copy)]
enum Fill {
    Visible,
    /// Sent with the queue's delay of 15 minutes, which the cycle's own messages override.
    Delayed,
    /// Received (the clock stands still, so their visibility timeout never ends).
    InFlight,
}

/// A fresh queue holding `depth` messages of `fill`.
fn filled(depth: usize, fill: Fill) -> (Env, String) {
    let e = env();
    let q = match fill {
        Fill::Delayed => e.create("q", &[("DelaySeconds", "900")]),
        Fill::Visible | Fill::InFlight => e.create("q", &[]),
    };
    let mut left = depth;
    while left > 0 {
        let n = left.min(10_000);
        e.sqs
            .send_messages_bulk(&q, (0..n).map(|i| format!("fill {i}")).collect())
            .unwrap();
        left -= n;
    }
    if let Fill::InFlight = fill {
        let mut received = 0;
        while received < depth {
            received += e
                .sqs
                .receive_message(&ReceiveMessage {
                    queue_url: q.clone(),
                    max_number_of_messages: Some(10),
                    ..ReceiveMessage::default()
                })
                .unwrap()
                .messages
                .len();
        }
    }
    (e, q)
}

/// Virtual machine steps of each part of one cycle (SendMessageBatch 10, ReceiveMessage 10,
/// DeleteMessageBatch 10) on a queue holding `depth` messages of `fill`, after a few cycles to
/// warm up.
fn cycle_steps(depth: usize, fill: Fill) -> [u64; 3] {
    let (e, q) = filled(depth, fill);

    let counter = install_counter(&e, On::Writer);
    let mut steps = [0; 3];
    for _ in 0..3 {
        let entries = (0..10)
            .map(|i| SendMessageBatchEntry {
                id: format!("m{i}"),
                message_body: format!("cycle {i}"),
                delay_seconds: Some(0),
                ..SendMessageBatchEntry::default()
            })
            .collect();
        let before = counter.load(Ordering::Relaxed);
        e.sqs.send_message_batch(&q, entries).unwrap();
        let sent = counter.load(Ordering::Relaxed);
        let received = store::block_on(e.sqs.try_receive_message(&ReceiveMessage {
            queue_url: q.clone(),
            max_number_of_messages: Some(10),
            ..ReceiveMessage::default()
        }))
        .unwrap();
        assert_eq!(received.messages.len(), 10);
        let after_receive = counter.load(Ordering::Relaxed);
        let entries = received
            .messages
            .iter()
            .enumerate()
            .map(|(i, m)| DeleteMessageBatchEntry {
                id: format!("d{i}"),
                receipt_handle: m.receipt_handle.clone(),
            })
            .collect();
        let deleted = e.sqs.delete_message_batch(&q, entries).unwrap();
        assert_eq!(deleted.successful.len(), 10);
        let after_delete = counter.load(Ordering::Relaxed);
        steps = [
            sent - before,
            after_receive - sent,
            after_delete - after_receive,
        ];
    }
    steps
}

/// Compares the cycle's steps on a queue of 200 and of 20,000 messages of `fill`.
fn assert_flat(fill: Fill) {
    let shallow = cycle_steps(200, fill);
    let deep = cycle_steps(20_000, fill);
    for (part, (s, d)) in ["send", "receive", "delete"]
        .iter()
        .zip(shallow.iter().zip(deep.iter()))
    {
        assert!(*s > 0, "{part}: no steps counted");
        // A hundred times the depth may cost a few more steps (a longer message id, a deeper
        // index), never a multiple.
        assert!(
            *d <= s + s / 4,
            "{fill:?} messages: {part} at depth 20,000 takes {d} VM steps, at depth 200 {s}"
        );
    }
}

#[test]
fn queue_cycle_cost_does_not_grow_with_depth() {
    assert_flat(Fill::Visible);
}

#[test]
fn queue_cycle_cost_does_not_grow_with_delayed_messages() {
    assert_flat(Fill::Delayed);
}

#[test]
fn queue_cycle_cost_does_not_grow_with_messages_in_flight() {
    assert_flat(Fill::InFlight);
}

/// Steps of the drain check (`holds_messages`) on a queue of `depth` messages of `fill`.
fn drain_check_steps(depth: usize, fill: Fill) -> u64 {
    let (e, q) = filled(depth, fill);
    let counter = install_counter(&e, On::Reader);
    assert!(e.sqs.holds_messages(&q).unwrap());
    let before = counter.load(Ordering::Relaxed);
    assert!(e.sqs.holds_messages(&q).unwrap());
    counter.load(Ordering::Relaxed) - before
}

/// The engine asks whether each queue is drained every few milliseconds while a cascade runs, so
/// the answer must not count the queue's messages.
#[test]
fn drain_check_cost_does_not_grow_with_depth() {
    for fill in [Fill::Visible, Fill::Delayed, Fill::InFlight] {
        let shallow = drain_check_steps(200, fill);
        let deep = drain_check_steps(20_000, fill);
        assert!(shallow > 0, "{fill:?}: no steps counted");
        assert!(
            deep <= shallow + shallow / 4,
            "{fill:?} messages: the drain check at depth 20,000 takes {deep} VM steps, at depth 200 {shallow}"
        );
    }
}
