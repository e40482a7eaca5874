//! A CloudWatch engine on a temporary store and a [`ManualClock`].

use std::sync::Arc;

use cloudwatch::{CloudWatch, Config, Dimension, MetricDatum};
use store::{ManualClock, Options, Store};

/// 2023-11-14T22:13:00Z: a whole minute, so periods of 60 s start on it.
pub const T0: i64 = 1_699_999_980_000;

pub struct Env {
    pub cw: CloudWatch,
    pub clock: Arc<ManualClock>,
    pub store: Store,
    _dir: tempfile::TempDir,
}

pub fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("state.db"), Options::default()).unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let cw = CloudWatch::new(store.clone(), clock.clone(), Config::default()).unwrap();
    Env {
        cw,
        clock,
        store,
        _dir: dir,
    }
}

pub fn datum(name: &str, value: f64, ts: i64) -> MetricDatum {
    MetricDatum {
        metric_name: name.into(),
        dimensions: vec![Dimension::new("Environment", "dev")],
        value: Some(value),
        timestamp_ms: Some(ts),
        ..Default::default()
    }
}
