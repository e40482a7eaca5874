//! SQS standard-queue semantics over the store.
//!
//! [`Sqs`] is the whole service as a library: every action of AWS's SQS API for standard queues
//! takes a typed request (`types.rs`) and returns a typed result or an [`SqsError`] whose
//! [`SqsError::code`] is AWS's error code. There is no HTTP and no wire JSON here; the endpoint
//! translates. The rules reproduced are those of `aws-semantics.md`; time comes only from the
//! injected [`store::Clock`].
//!
//! Layout:
//! - `queues.rs`: CreateQueue, GetQueueUrl, ListQueues, DeleteQueue, PurgeQueue, Get/Set
//!   QueueAttributes, tags, ListDeadLetterSourceQueues.
//! - `messages.rs`: SendMessage(Batch), ReceiveMessage (with long polling and redrive),
//!   DeleteMessage(Batch), ChangeMessageVisibility(Batch).
//! - `move_tasks.rs`: Start/List/CancelMessageMoveTask (dead letters back to their source).
//! - `activity.rs`: the per-queue activity counts and the age of the oldest message, the metrics
//!   SQS reports to CloudWatch (kept in memory: a crash may lose them, never a message).
//! - `attributes.rs` (queue attributes), `validate.rs` (input rules and MD5s), `schema.rs` (tables),
//!   `signal.rs` (long-poll wake-ups), `types.rs`, `error.rs`.
//!
//! Choices pinned by tests where AWS's behaviour is not documented:
//! - A dead-lettered message keeps its id, body, attributes and SentTimestamp, expires at its
//!   original send time plus the dead-letter queue's retention period (AWS documents this for
//!   standard queues), and its receive count starts again at zero.
//! - If the dead-letter queue has been deleted, the message stays and keeps being handed out.
//! - ChangeMessageVisibility with a handle of an earlier receive, or of a deleted or expired
//!   message, fails with ReceiptHandleIsInvalid; with the latest handle of a message that is
//!   visible again, with MessageNotInflight.
//! - Near the in-flight limit a receive returns only up to the limit; at the limit it fails with
//!   OverLimit.
//!
//! Every action is one store transaction: a write action runs in one [`store::Store::write`]
//! closure, so it is atomic, serialised with every other write, and durable before it returns.

mod activity;
mod attributes;
mod error;
mod messages;
mod move_tasks;
mod queues;
mod schema;
mod signal;
mod types;
mod validate;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use store::{Clock, Store};

pub use activity::QueueActivity;
pub use error::SqsError;
pub use messages::ReceiveAttempt;
pub use signal::{Changed, Signal};
pub use types::*;
pub use validate::{attributes_md5, md5_hex};

/// Account-level settings of the service.
#[derive(Debug, Clone)]
pub struct Config {
    /// Used in queue ARNs.
    pub region: String,
    /// Used in queue URLs and ARNs.
    pub account_id: String,
    /// In-flight messages per queue beyond which ReceiveMessage fails with OverLimit.
    pub max_inflight_messages: i64,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            region: "us-east-1".into(),
            account_id: "000000000000".into(),
            max_inflight_messages: 120_000,
        }
    }
}

/// The SQS service of one environment. Cheap to clone; all clones share the store and signals.
#[derive(Clone)]
pub struct Sqs {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    clock: Arc<dyn Clock>,
    config: Config,
    /// Long-poll signals by queue name, created on first use. A `std::sync::Mutex`: it is held only
    /// to look up or insert an entry.
    signals: Mutex<HashMap<String, Arc<Signal>>>,
    /// Activity counts by queue name, in memory only (see `activity.rs`).
    activity: activity::Activity,
    /// Upper bounds of each queue's in-flight count, by queue id, which spare most receives the
    /// count of in-flight messages (`messages.rs`). Used only inside write closures, which run one
    /// at a time, so the lock is never contended.
    in_flight: Mutex<HashMap<i64, messages::InFlightBound>>,
}

impl Sqs {
    /// Opens the service on `store`, applying its schema migrations.
    pub fn new(store: Store, clock: Arc<dyn Clock>, config: Config) -> Result<Sqs, SqsError> {
        store.migrate("sqs", schema::MIGRATIONS)?;
        let inner = Arc::new(Inner {
            store,
            clock: Arc::clone(&clock),
            config,
            signals: Mutex::new(HashMap::new()),
            activity: activity::Activity::default(),
            in_flight: Mutex::new(HashMap::new()),
        });
        // When virtual time jumps, delayed messages and visibility timeouts may have come due and
        // long polls may have ended: every waiter re-checks.
        let weak: Weak<Inner> = Arc::downgrade(&inner);
        clock.on_change(Box::new(move || {
            if let Some(inner) = weak.upgrade() {
                let signals: Vec<Arc<Signal>> = inner
                    .signals
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .values()
                    .cloned()
                    .collect();
                for signal in signals {
                    signal.notify();
                }
            }
        }));
        Ok(Sqs { inner })
    }

    /// The store this service writes to.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The service's settings.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    fn now(&self) -> i64 {
        self.inner.clock.now_millis()
    }

    /// The ARN of the queue named `name`.
    pub fn queue_arn(&self, name: &str) -> String {
        let c = &self.inner.config;
        format!("arn:aws:sqs:{}:{}:{name}", c.region, c.account_id)
    }

    /// The URL of the queue named `name` under `base_url` (for example `http://localhost:4566`, as
    /// the caller saw the endpoint): `{base_url}/{account_id}/{name}`.
    pub fn queue_url(&self, base_url: &str, name: &str) -> String {
        format!(
            "{}/{}/{name}",
            base_url.trim_end_matches('/'),
            self.inner.config.account_id
        )
    }

    /// The long-poll signal of the queue at `queue_url`, for an async endpoint that waits with
    /// [`Signal::changed`] between non-waiting receives ([`Sqs::try_receive_message`]).
    pub fn queue_signal(&self, queue_url: &str) -> Result<Arc<Signal>, SqsError> {
        Ok(self.signal(name_from_url(queue_url)?))
    }

    fn signal(&self, name: &str) -> Arc<Signal> {
        let mut signals = self.inner.signals.lock().unwrap_or_else(|e| e.into_inner());
        Arc::clone(signals.entry(name.to_owned()).or_default())
    }

    fn notify(&self, name: &str) {
        let signal = self
            .inner
            .signals
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned();
        if let Some(signal) = signal {
            signal.notify();
        }
    }
}

/// The queue name a queue URL designates: its last path segment (a bare name is accepted too).
fn name_from_url(queue_url: &str) -> Result<&str, SqsError> {
    let name = queue_url
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or("");
    if name.is_empty() || validate::queue_name(name).is_err() {
        return Err(SqsError::QueueDoesNotExist(queue_url.to_owned()));
    }
    Ok(name)
}
