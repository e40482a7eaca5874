//! The CloudWatch tables (migrations of the component `cloudwatch`).
//!
//! A metric is identified by namespace, name and its dimensions in canonical form (sorted by
//! name, `name=value` lines), so that the same dimensions in any order are the same metric. Each
//! datum is one row of `cloudwatch_data` holding a statistic set (sample count, sum, minimum,
//! maximum); a single value or a value with its count also keeps `value`, which is what
//! percentiles are computed from. Alarms keep their definition as CloudFormation properties
//! (`spec`), their state, and an append-only history.

pub const MIGRATIONS: &[&str] = &[r#"
CREATE TABLE cloudwatch_metrics (
    id INTEGER PRIMARY KEY,
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    dimensions TEXT NOT NULL,
    UNIQUE (namespace, name, dimensions)
) STRICT;

CREATE TABLE cloudwatch_data (
    metric_id INTEGER NOT NULL REFERENCES cloudwatch_metrics (id),
    ts_ms INTEGER NOT NULL,
    unit TEXT NOT NULL,
    sample_count REAL NOT NULL,
    sum REAL NOT NULL,
    minimum REAL NOT NULL,
    maximum REAL NOT NULL,
    value REAL
) STRICT;
CREATE INDEX cloudwatch_data_metric_ts ON cloudwatch_data (metric_id, ts_ms);

CREATE TABLE cloudwatch_alarms (
    name TEXT PRIMARY KEY,
    spec TEXT NOT NULL,
    state TEXT NOT NULL,
    reason TEXT NOT NULL,
    reason_data TEXT,
    state_updated_ms INTEGER NOT NULL,
    config_updated_ms INTEGER NOT NULL
) STRICT;

CREATE TABLE cloudwatch_alarm_history (
    id INTEGER PRIMARY KEY,
    alarm_name TEXT NOT NULL,
    ts_ms INTEGER NOT NULL,
    item_type TEXT NOT NULL,
    summary TEXT NOT NULL,
    data TEXT NOT NULL
) STRICT;
CREATE INDEX cloudwatch_alarm_history_name ON cloudwatch_alarm_history (alarm_name, ts_ms);
"#];
