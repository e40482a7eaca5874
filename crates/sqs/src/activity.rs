//! Activity metrics: what SQS reports per queue to CloudWatch (namespace `AWS/SQS`, dimension
//! `QueueName`) besides the depths GetQueueAttributes already gives.
//!
//! - Four counts, kept in memory as atomics per queue and taken by [`Sqs::take_activity`]:
//!   `NumberOfMessagesSent`, `NumberOfMessagesReceived`, `NumberOfMessagesDeleted`,
//!   `NumberOfEmptyReceives`. The actions add to them after their transaction committed, so a
//!   failed action counts nothing; they cost the hot paths one map lookup under a read lock and an
//!   atomic add, never a statement.
//! - `ApproximateAgeOfOldestMessage`, computed from the store on demand by
//!   [`Sqs::age_of_oldest_message`].
//!
//! What is counted where:
//! - sent: every message SendMessage, SendMessageBatch (successful entries) and the bulk send
//!   inserted. Messages moved to a dead-letter queue by a receive, or back from it by a move
//!   task, are not counted (AWS documents the first; the second is a service move, not a send);
//! - received: every message a receive returned (a redelivery counts again, as on AWS);
//! - deleted: every message a DeleteMessage(Batch) entry actually deleted. A stale or repeated
//!   handle deletes nothing and counts nothing; expired messages and purges count nothing;
//! - empty receives: a ReceiveMessage that returned no message counts one, once its wait is over.
//!   [`Sqs::receive_message`] knows when that is; [`Sqs::try_receive_message`] knows it only when
//!   the wait is 0, so a driver of a longer poll calls [`Sqs::count_empty_receive`] when its poll
//!   ends empty.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use rusqlite::OptionalExtension;

use crate::{name_from_url, schema, Sqs, SqsError};

/// The activity of one queue since the previous [`Sqs::take_activity`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueActivity {
    pub queue_name: String,
    /// `NumberOfMessagesSent`.
    pub sent: u64,
    /// `NumberOfMessagesReceived`.
    pub received: u64,
    /// `NumberOfMessagesDeleted`.
    pub deleted: u64,
    /// `NumberOfEmptyReceives`.
    pub empty_receives: u64,
}

/// The running counts of one queue.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    sent: AtomicU64,
    received: AtomicU64,
    deleted: AtomicU64,
    empty_receives: AtomicU64,
}

/// Which count an action adds to.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Count {
    Sent,
    Received,
    Deleted,
    EmptyReceives,
}

impl Counters {
    fn get(&self, count: Count) -> &AtomicU64 {
        match count {
            Count::Sent => &self.sent,
            Count::Received => &self.received,
            Count::Deleted => &self.deleted,
            Count::EmptyReceives => &self.empty_receives,
        }
    }
}

/// The counters of every queue that has had activity since the service opened, by queue name.
///
/// They live in memory only, by design: they are metrics, sampled and handed to CloudWatch about
/// once a minute, and a crash may lose what was counted since the last sample. The queue's state
/// (its messages, their receive counts) is never kept here and is never lost: it is in the store.
/// A `RwLock` because almost every use is a lookup of an existing entry; the write lock is taken
/// only to add a queue's entry or to drop it when the queue is deleted.
#[derive(Default)]
pub(crate) struct Activity {
    queues: RwLock<HashMap<String, Arc<Counters>>>,
}

impl Activity {
    /// Adds `n` to `count` of the queue `name`.
    pub(crate) fn add(&self, name: &str, count: Count, n: u64) {
        if n == 0 {
            return;
        }
        let found = self
            .queues
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .map(|c| c.get(count).fetch_add(n, Ordering::Relaxed))
            .is_some();
        if !found {
            let mut queues = self.queues.write().unwrap_or_else(|e| e.into_inner());
            queues
                .entry(name.to_owned())
                .or_default()
                .get(count)
                .fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Forgets the queue `name` (it was deleted).
    pub(crate) fn remove(&self, name: &str) {
        self.queues
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(name);
    }

    fn take(&self) -> Vec<QueueActivity> {
        let queues = self.queues.read().unwrap_or_else(|e| e.into_inner());
        let mut taken: Vec<QueueActivity> = queues
            .iter()
            .map(|(name, c)| QueueActivity {
                queue_name: name.clone(),
                sent: c.sent.swap(0, Ordering::Relaxed),
                received: c.received.swap(0, Ordering::Relaxed),
                deleted: c.deleted.swap(0, Ordering::Relaxed),
                empty_receives: c.empty_receives.swap(0, Ordering::Relaxed),
            })
            .collect();
        taken.sort_by(|a, b| a.queue_name.cmp(&b.queue_name));
        taken
    }
}

impl Sqs {
    /// The activity counts of every queue that has had activity since the service opened, sorted
    /// by queue name, counted since the previous call (which they are reset by). A queue with no
    /// activity since then is listed with zeros; a deleted queue is no longer listed.
    ///
    /// The counts are kept in memory only: a crash loses those not yet taken, never a message.
    pub fn take_activity(&self) -> Vec<QueueActivity> {
        self.inner.activity.take()
    }

    /// Counts one empty receive on the queue at `queue_url`: for a driver of a long poll made of
    /// [`Sqs::try_receive_message`] attempts, once, when its wait ended without a message.
    pub fn count_empty_receive(&self, queue_url: &str) -> Result<(), SqsError> {
        let name = name_from_url(queue_url)?;
        self.count(name, Count::EmptyReceives, 1);
        Ok(())
    }

    pub(crate) fn count(&self, name: &str, count: Count, n: u64) {
        self.inner.activity.add(name, count, n);
    }

    /// `ApproximateAgeOfOldestMessage`: the age in whole seconds, on the service's clock, of the
    /// oldest message of the queue that is neither deleted nor expired, whatever its state
    /// (visible, in flight or delayed); 0 for an empty queue.
    ///
    /// The age counts from the message's SentTimestamp, which a message moved to a dead-letter
    /// queue keeps (AWS counts from the move there), and a message received many times is not
    /// left out (AWS leaves out such poison messages). It reads every message of the queue, so it
    /// is for sampling (about once a minute), not for a hot path.
    pub fn age_of_oldest_message(&self, queue_url: &str) -> Result<u64, SqsError> {
        let name = name_from_url(queue_url)?;
        let now = self.now();
        let oldest: Option<i64> = self.inner.store.read(|conn| -> Result<_, SqsError> {
            let queue_id = schema::queue_id(conn, name, queue_url)?;
            Ok(conn
                .prepare_cached(
                    "SELECT min(sent_ms) FROM sqs_messages WHERE queue_id = ?1 AND expires_ms > ?2",
                )?
                .query_row([queue_id, now], |r| r.get(0))
                .optional()?
                .flatten())
        })?;
        Ok(oldest.map_or(0, |sent| ((now - sent).max(0) / 1000) as u64))
    }
}
