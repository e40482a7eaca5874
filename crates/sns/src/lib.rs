//! SNS over the store: topics, subscriptions, Publish and delivery.
//!
//! Publish writes one delivery row per subscription (the outbox, table `sns_deliveries`) in the
//! same store write that accepts the message, so an accepted message is delivered even if the
//! process dies right after. `sqs` deliveries run at once through the `sqs` engine;
//! `http` deliveries are POSTed by [`Sns::deliver_due`] (the host calls it on a tick and when
//! [`Sns::wake`] fires), retried on the clock with AWS's default HTTP delivery policy (3 retries,
//! 20 s apart). Every published message is also given to the [`TerminalSink`]s (`cascade up`
//! prints them). Subscriptions are confirmed at once: the local engine sends no
//! SubscriptionConfirmation.
//!
//! Layout:
//! - `error.rs`: [`SnsError`], one variant per AWS error code.
//! - `schema.rs`: the tables (migrations of the component `sns`).
//! - `spec.rs`: [`TopicSpec`] and [`SubscriptionSpec`] from CloudFormation properties.
//! - `topics.rs`: topics and subscriptions (create, list, sync from the deployed set).
//! - `publish.rs`: Publish and the notification JSON; the CloudWatch alarm notifier.
//! - `deliver.rs`: the outbox: SQS and HTTP delivery, retries.

mod deliver;
mod error;
mod publish;
mod schema;
mod spec;
mod topics;

use std::sync::{Arc, RwLock};

use store::{Clock, Store};

pub use deliver::{DeliveryOutcome, DeliveryRecord};
pub use error::SnsError;
pub use publish::{notification_json, MessageAttribute, PublishRequest};
pub use spec::{SubscriptionSpec, TopicSpec};
pub use topics::{Subscription, Topic};

/// Settings of the service; AWS's values by default.
#[derive(Debug, Clone)]
pub struct Config {
    pub region: String,
    pub account_id: String,
    /// The endpoint the notification's `UnsubscribeURL` points at.
    pub endpoint_url: String,
    /// Retries of a failed HTTP delivery after the first attempt (AWS's default: 3).
    pub http_retries: i64,
    /// Delay between HTTP attempts, ms (AWS's default policy: 20 s).
    pub http_retry_delay_ms: i64,
    /// Time allowed for one HTTP delivery, ms (AWS waits 15 s).
    pub http_timeout_ms: u64,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            region: "us-east-1".into(),
            account_id: "000000000000".into(),
            endpoint_url: "http://localhost:4566".into(),
            http_retries: 3,
            http_retry_delay_ms: 20_000,
            http_timeout_ms: 15_000,
        }
    }
}

/// Receives every published message, whatever the topic's subscriptions (`cascade up` prints
/// them on the terminal).
pub trait TerminalSink: Send + Sync {
    fn published(&self, topic_arn: &str, subject: Option<&str>, message: &str);
}

/// The SNS service of one environment. Cheap to clone; clones share the store.
#[derive(Clone)]
pub struct Sns {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    clock: Arc<dyn Clock>,
    config: Config,
    /// Where `sqs` subscriptions deliver; without it they fail and are kept as failed.
    sqs: Option<sqs::Sqs>,
    /// A `std::sync::RwLock`: it is held only to clone the list.
    sinks: RwLock<Vec<Arc<dyn TerminalSink>>>,
    /// Wakes the host's delivery loop when HTTP deliveries are waiting.
    wake: tokio::sync::Notify,
}

impl Sns {
    /// Opens the service on `store`, applying its schema migrations.
    pub fn new(
        store: Store,
        clock: Arc<dyn Clock>,
        config: Config,
        sqs: Option<sqs::Sqs>,
    ) -> Result<Sns, SnsError> {
        store.migrate("sns", schema::MIGRATIONS)?;
        Ok(Sns {
            inner: Arc::new(Inner {
                store,
                clock,
                config,
                sqs,
                sinks: RwLock::new(Vec::new()),
                wake: tokio::sync::Notify::new(),
            }),
        })
    }

    /// Adds a receiver of every published message.
    pub fn add_sink(&self, sink: Arc<dyn TerminalSink>) {
        self.inner
            .sinks
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push(sink);
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The ARN of the topic named `name`.
    pub fn topic_arn(&self, name: &str) -> String {
        let c = &self.inner.config;
        format!("arn:aws:sns:{}:{}:{name}", c.region, c.account_id)
    }

    /// Resolves when HTTP deliveries may be waiting (after a publish); the host then calls
    /// [`Sns::deliver_due`].
    pub async fn wake(&self) {
        self.inner.wake.notified().await;
    }

    /// The host's delivery loop: delivers due HTTP notifications after every publish and about
    /// once a second (for retries), until the task is dropped.
    pub async fn run_delivery(self) {
        loop {
            tokio::select! {
                () = self.wake() => {}
                () = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
            }
            if let Err(e) = self.deliver_due().await {
                tracing::warn!(error = %e, "SNS delivery pass failed");
            }
        }
    }

    fn now(&self) -> i64 {
        self.inner.clock.now_millis()
    }

    fn store(&self) -> &Store {
        &self.inner.store
    }
}
