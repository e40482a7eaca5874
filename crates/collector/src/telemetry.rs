//! What the collectors report: one summary line per invocation, running counters, and the
//! `Cascade/Sales` `RejectedRecords` metric.
//!
//! The metric goes out with PutMetricData, dimension `Environment`, the dimension of the
//! `RejectedRecordsAlarm` in `templates/alerts.yml`. Emitting it is best effort: a failure (an
//! endpoint without CloudWatch, a missing permission) is logged as a warning and counted, and
//! never fails the records that were collected.

use std::sync::atomic::{AtomicU64, Ordering};

use aws_sdk_cloudwatch::error::DisplayErrorContext;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};

use crate::config::Stage;

/// The metric namespace of the pipeline.
pub const NAMESPACE: &str = "Cascade/Sales";
/// The metric of records skipped as malformed.
pub const REJECTED_RECORDS: &str = "RejectedRecords";

/// The counts of one invocation (or of many, added up).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Records the vendor served.
    pub fetched: u64,
    /// Records written because they were new or changed.
    pub written: u64,
    /// Records already stored as served.
    pub unchanged: u64,
    /// Malformed records skipped.
    pub rejected: u64,
    /// Valid records not carried on: employees who do not sell, sales outside the window.
    pub skipped: u64,
    /// Messages sent to the next stage.
    pub sent: u64,
    /// Messages (or scheduled runs) that failed and will be retried.
    pub failed: u64,
}

impl std::ops::AddAssign for Tally {
    fn add_assign(&mut self, o: Tally) {
        self.fetched += o.fetched;
        self.written += o.written;
        self.unchanged += o.unchanged;
        self.rejected += o.rejected;
        self.skipped += o.skipped;
        self.sent += o.sent;
        self.failed += o.failed;
    }
}

impl Tally {
    /// Logs the invocation's one summary line.
    pub fn log(&self, stage: Stage, run_id: &str) {
        tracing::info!(
            stage = stage.as_str(),
            run_id,
            fetched = self.fetched,
            written = self.written,
            unchanged = self.unchanged,
            rejected = self.rejected,
            skipped = self.skipped,
            sent = self.sent,
            failed = self.failed,
            "collected"
        );
    }
}

/// Counters over the life of a process, shared by its invocations (tests and benchmarks read
/// them after draining a run).
#[derive(Debug, Default)]
pub struct Counters {
    fetched: AtomicU64,
    written: AtomicU64,
    unchanged: AtomicU64,
    rejected: AtomicU64,
    skipped: AtomicU64,
    sent: AtomicU64,
    failed: AtomicU64,
    /// PutMetricData calls that failed (the records were still collected).
    metric_failures: AtomicU64,
}

impl Counters {
    pub fn add(&self, t: &Tally) {
        self.fetched.fetch_add(t.fetched, Ordering::Relaxed);
        self.written.fetch_add(t.written, Ordering::Relaxed);
        self.unchanged.fetch_add(t.unchanged, Ordering::Relaxed);
        self.rejected.fetch_add(t.rejected, Ordering::Relaxed);
        self.skipped.fetch_add(t.skipped, Ordering::Relaxed);
        self.sent.fetch_add(t.sent, Ordering::Relaxed);
        self.failed.fetch_add(t.failed, Ordering::Relaxed);
    }

    /// The totals so far.
    pub fn snapshot(&self) -> Tally {
        Tally {
            fetched: self.fetched.load(Ordering::Relaxed),
            written: self.written.load(Ordering::Relaxed),
            unchanged: self.unchanged.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
            skipped: self.skipped.load(Ordering::Relaxed),
            sent: self.sent.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
        }
    }

    /// PutMetricData calls that failed so far.
    pub fn metric_failures(&self) -> u64 {
        self.metric_failures.load(Ordering::Relaxed)
    }
}

/// The metric emitter.
#[derive(Clone)]
pub struct Metrics {
    client: aws_sdk_cloudwatch::Client,
    environment: String,
}

impl Metrics {
    pub fn new(client: aws_sdk_cloudwatch::Client, environment: &str) -> Metrics {
        Metrics {
            client,
            environment: environment.to_owned(),
        }
    }

    /// Puts `count` rejected records (nothing when 0); false when the call failed, which is
    /// logged and otherwise ignored.
    pub async fn rejected(&self, stage: Stage, count: u64, counters: &Counters) -> bool {
        if count == 0 {
            return true;
        }
        let datum = MetricDatum::builder()
            .metric_name(REJECTED_RECORDS)
            .dimensions(
                Dimension::builder()
                    .name("Environment")
                    .value(&self.environment)
                    .build(),
            )
            .unit(StandardUnit::Count)
            .value(count as f64)
            .build();
        let sent = self
            .client
            .put_metric_data()
            .namespace(NAMESPACE)
            .metric_data(datum)
            .send()
            .await;
        match sent {
            Ok(_) => true,
            Err(error) => {
                counters.metric_failures.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    stage = stage.as_str(),
                    count,
                    error = %DisplayErrorContext(error),
                    "could not put the RejectedRecords metric; the records were collected"
                );
                false
            }
        }
    }
}
