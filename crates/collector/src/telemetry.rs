//! What the collectors report: one summary line per invocation, running counters, and the
//! `Cascade/Sales` metrics.
//!
//! Each invocation puts its metrics with one PutMetricData call, leaving out zero values (and
//! making no call when all are zero):
//! - `RejectedRecords` with the dimension `Environment` alone: the metric the
//!   `RejectedRecordsAlarm` of `templates/alerts.yml` watches, whatever the stage;
//! - per stage, with the dimensions `Environment` and `Stage` (`branches`, `salespersons`,
//!   `sales`): `FetchedRecords` (records the vendor served, rejected ones included),
//!   `WrittenRecords` (written because new or changed) and `RejectedRecords`: the progress
//!   `cascade up` shows per stage.
//!
//! Emitting them is best effort: a failure (an endpoint without CloudWatch, a missing permission)
//! is logged as a warning and counted, and never fails the records that were collected.

use std::sync::atomic::{AtomicU64, Ordering};

use aws_sdk_cloudwatch::error::DisplayErrorContext;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};

use crate::config::Stage;

/// The metric namespace of the pipeline.
pub const NAMESPACE: &str = "Cascade/Sales";
/// The metric of records skipped as malformed.
pub const REJECTED_RECORDS: &str = "RejectedRecords";
/// The metric of records the vendor served (per stage).
pub const FETCHED_RECORDS: &str = "FetchedRecords";
/// The metric of records written because they were new or changed (per stage).
pub const WRITTEN_RECORDS: &str = "WrittenRecords";
/// The dimension of the environment (`dev`, `prod`).
pub const ENVIRONMENT_DIMENSION: &str = "Environment";
/// The dimension of the stage ([`Stage::as_str`]).
pub const STAGE_DIMENSION: &str = "Stage";

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

    /// The data of one invocation of `stage`: the alarm's `RejectedRecords` by environment and
    /// the stage's `FetchedRecords`, `WrittenRecords` and `RejectedRecords`, zero values left out.
    pub fn data(&self, stage: Stage, tally: &Tally) -> Vec<MetricDatum> {
        let environment = || {
            Dimension::builder()
                .name(ENVIRONMENT_DIMENSION)
                .value(&self.environment)
                .build()
        };
        let datum = |name: &str, value: u64, per_stage: bool| {
            let mut datum = MetricDatum::builder()
                .metric_name(name)
                .dimensions(environment())
                .unit(StandardUnit::Count)
                .value(value as f64);
            if per_stage {
                datum = datum.dimensions(
                    Dimension::builder()
                        .name(STAGE_DIMENSION)
                        .value(stage.as_str())
                        .build(),
                );
            }
            datum.build()
        };
        [
            (REJECTED_RECORDS, tally.rejected, false),
            (FETCHED_RECORDS, tally.fetched, true),
            (WRITTEN_RECORDS, tally.written, true),
            (REJECTED_RECORDS, tally.rejected, true),
        ]
        .into_iter()
        .filter(|(_, value, _)| *value > 0)
        .map(|(name, value, per_stage)| datum(name, value, per_stage))
        .collect()
    }

    /// Puts the metrics of one invocation of `stage` ([`Metrics::data`]) in one PutMetricData
    /// call, none when every value is 0; false when the call failed, which is logged and
    /// otherwise ignored.
    pub async fn put(&self, stage: Stage, tally: &Tally, counters: &Counters) -> bool {
        let data = self.data(stage, tally);
        if data.is_empty() {
            return true;
        }
        let sent = self
            .client
            .put_metric_data()
            .namespace(NAMESPACE)
            .set_metric_data(Some(data))
            .send()
            .await;
        match sent {
            Ok(_) => true,
            Err(error) => {
                counters.metric_failures.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    stage = stage.as_str(),
                    fetched = tally.fetched,
                    written = tally.written,
                    rejected = tally.rejected,
                    error = %DisplayErrorContext(error),
                    "could not put the Cascade/Sales metrics; the records were collected"
                );
                false
            }
        }
    }
}
