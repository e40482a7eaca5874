//! CloudWatch over the store: custom and service metrics, their statistics, and metric alarms.
//!
//! [`CloudWatch`] keeps every datum it is given (component `cloudwatch` of the environment's
//! store) and computes statistics per period on demand, so that GetMetricStatistics, GetMetricData
//! and alarm evaluation read the same numbers. Alarms come from `AWS::CloudWatch::Alarm`
//! properties ([`AlarmSpec::from_cfn`]); [`CloudWatch::evaluate`] applies AWS's rules at a moment of
//! the injected clock and returns the state changes with the actions to deliver (an
//! [`AlarmNotifier`] given to [`CloudWatch::set_notifier`] is also called with each).
//!
//! Layout:
//! - `error.rs`: [`CloudWatchError`], one variant per AWS error code.
//! - `schema.rs`: the tables (migrations of the component `cloudwatch`).
//! - `metrics.rs`: PutMetricData with AWS's validation, statistics per period, ListMetrics.
//! - `alarm.rs`: [`AlarmSpec`] and its reading from CloudFormation properties.
//! - `evaluate.rs`: alarm state, evaluation, history, SetAlarmState.
//! - `time.rs`: ISO 8601 timestamps as AWS writes them.

mod alarm;
mod error;
mod evaluate;
mod metrics;
mod schema;
pub mod time;

use std::sync::{Arc, RwLock};

use store::{Clock, Store};

pub use alarm::{AlarmSpec, Comparison, MissingData, SpecError, Statistic};
pub use error::CloudWatchError;
pub use evaluate::{AlarmHistoryItem, AlarmState, AlarmStatus, HistoryItemType, StateChange};
pub use metrics::{
    Datapoint, Dimension, MetricDatum, MetricId, MetricQuery, MetricQueryResult, StatisticSet,
    StatisticsRequest, UNITS,
};

/// Settings of the service; AWS's values by default.
#[derive(Debug, Clone)]
pub struct Config {
    pub region: String,
    pub account_id: String,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            region: "us-east-1".into(),
            account_id: "000000000000".into(),
        }
    }
}

/// Receives every alarm state change, after it is stored (an SNS publisher, the terminal).
pub trait AlarmNotifier: Send + Sync {
    fn state_changed(&self, change: &StateChange);
}

/// The CloudWatch service of one environment. Cheap to clone; clones share the store.
#[derive(Clone)]
pub struct CloudWatch {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    clock: Arc<dyn Clock>,
    config: Config,
    /// A `std::sync::RwLock`: it is held only to clone the list, never while notifying.
    notifiers: RwLock<Vec<Arc<dyn AlarmNotifier>>>,
}

impl CloudWatch {
    /// Opens the service on `store`, applying its schema migrations.
    pub fn new(
        store: Store,
        clock: Arc<dyn Clock>,
        config: Config,
    ) -> Result<CloudWatch, CloudWatchError> {
        store.migrate("cloudwatch", schema::MIGRATIONS)?;
        Ok(CloudWatch {
            inner: Arc::new(Inner {
                store,
                clock,
                config,
                notifiers: RwLock::new(Vec::new()),
            }),
        })
    }

    /// Adds a receiver of alarm state changes; every later change is given to it.
    pub fn set_notifier(&self, notifier: Arc<dyn AlarmNotifier>) {
        self.inner
            .notifiers
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push(notifier);
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The ARN of the alarm named `name`.
    pub fn alarm_arn(&self, name: &str) -> String {
        let c = &self.inner.config;
        format!(
            "arn:aws:cloudwatch:{}:{}:alarm:{name}",
            c.region, c.account_id
        )
    }

    fn now(&self) -> i64 {
        self.inner.clock.now_millis()
    }

    fn store(&self) -> &Store {
        &self.inner.store
    }

    fn notify(&self, changes: &[StateChange]) {
        if changes.is_empty() {
            return;
        }
        let notifiers = self
            .inner
            .notifiers
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        for change in changes {
            for notifier in &notifiers {
                notifier.state_changed(change);
            }
        }
    }
}
