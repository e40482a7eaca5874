//! Alarm state: syncing the deployed alarms, evaluation on the clock, history, SetAlarmState.
//!
//! Evaluation follows AWS's rules (aws-semantics.md): the last `EvaluationPeriods` complete
//! periods (aligned to multiples of the period since the epoch) are computed with the alarm's
//! statistic; `TreatMissingData` decides what an empty period counts as (breaching, not breaching,
//! or nothing); ALARM when at least `DatapointsToAlarm` counted periods breach, OK otherwise; when
//! nothing is counted `missing` gives INSUFFICIENT_DATA and `ignore` keeps the state. A state
//! change and its history item are written in one store write; the change is then returned (and
//! given to the notifiers) with the actions of the new state.

use rusqlite::{params, Connection, OptionalExtension};
use serde_json::{json, Value};

use crate::alarm::{AlarmSpec, MissingData};
use crate::metrics::aggregate;
use crate::time::{iso, iso_offset, reason_time};
use crate::{CloudWatch, CloudWatchError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlarmState {
    Ok,
    Alarm,
    InsufficientData,
}

impl AlarmState {
    pub fn name(self) -> &'static str {
        match self {
            AlarmState::Ok => "OK",
            AlarmState::Alarm => "ALARM",
            AlarmState::InsufficientData => "INSUFFICIENT_DATA",
        }
    }

    pub fn parse(text: &str) -> Option<AlarmState> {
        match text {
            "OK" => Some(AlarmState::Ok),
            "ALARM" => Some(AlarmState::Alarm),
            "INSUFFICIENT_DATA" => Some(AlarmState::InsufficientData),
            _ => None,
        }
    }
}

/// An alarm with its current state (DescribeAlarms).
#[derive(Debug, Clone, PartialEq)]
pub struct AlarmStatus {
    pub spec: AlarmSpec,
    pub arn: String,
    pub state: AlarmState,
    pub reason: String,
    /// JSON text, as AWS's `StateReasonData`.
    pub reason_data: Option<String>,
    pub state_updated_ms: i64,
    pub config_updated_ms: i64,
}

/// One transition, with the actions of the new state to deliver (empty when actions are off).
#[derive(Debug, Clone, PartialEq)]
pub struct StateChange {
    pub alarm: AlarmSpec,
    pub arn: String,
    pub account_id: String,
    pub region: String,
    pub old_state: AlarmState,
    pub new_state: AlarmState,
    pub reason: String,
    pub reason_data: Option<String>,
    pub at_ms: i64,
    pub config_updated_ms: i64,
    pub actions: Vec<String>,
}

impl StateChange {
    /// The JSON message CloudWatch publishes to SNS topics for this change.
    pub fn notification_message(&self) -> Value {
        let spec = &self.alarm;
        let mut trigger = json!({
            "MetricName": spec.metric.name,
            "Namespace": spec.metric.namespace,
            "StatisticType": if spec.statistic.is_extended() { "ExtendedStatistic" } else { "Statistic" },
            "Statistic": if spec.statistic.is_extended() { spec.statistic.name() } else { spec.statistic.name().to_uppercase() },
            "Unit": spec.unit,
            "Dimensions": spec.metric.dimensions.iter().map(|d| json!({"value": d.value, "name": d.name})).collect::<Vec<_>>(),
            "Period": spec.period_s,
            "EvaluationPeriods": spec.evaluation_periods,
            "DatapointsToAlarm": spec.datapoints_to_alarm,
            "ComparisonOperator": spec.comparison.name(),
            "Threshold": spec.threshold,
            "TreatMissingData": spec.treat_missing_data.name(),
            "EvaluateLowSampleCountPercentile": "",
        });
        if spec.statistic.is_extended() {
            trigger["ExtendedStatistic"] = spec.statistic.name().into();
        }
        json!({
            "AlarmName": spec.name,
            "AlarmDescription": spec.description,
            "AWSAccountId": self.account_id,
            "AlarmConfigurationUpdatedTimestamp": iso_offset(self.config_updated_ms),
            "NewStateValue": self.new_state.name(),
            "NewStateReason": self.reason,
            "StateChangeTime": iso_offset(self.at_ms),
            "Region": region_name(&self.region),
            "AlarmArn": self.arn,
            "OldStateValue": self.old_state.name(),
            "OKActions": spec.ok_actions,
            "AlarmActions": spec.alarm_actions,
            "InsufficientDataActions": spec.insufficient_data_actions,
            "Trigger": trigger,
        })
    }

    /// The subject CloudWatch gives the SNS message: `ALARM: "name" in US East (N. Virginia)`.
    pub fn notification_subject(&self) -> String {
        let subject = format!(
            "{}: \"{}\" in {}",
            self.new_state.name(),
            self.alarm.name,
            region_name(&self.region)
        );
        // SNS subjects are at most 100 characters.
        subject.chars().take(100).collect()
    }
}

/// The long region name AWS writes in alarm notifications.
fn region_name(region: &str) -> String {
    match region {
        "us-east-1" => "US East (N. Virginia)".into(),
        "us-east-2" => "US East (Ohio)".into(),
        "us-west-1" => "US West (N. California)".into(),
        "us-west-2" => "US West (Oregon)".into(),
        "eu-west-1" => "EU (Ireland)".into(),
        "eu-central-1" => "EU (Frankfurt)".into(),
        other => other.to_owned(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryItemType {
    ConfigurationUpdate,
    StateUpdate,
    Action,
}

impl HistoryItemType {
    pub fn name(self) -> &'static str {
        match self {
            HistoryItemType::ConfigurationUpdate => "ConfigurationUpdate",
            HistoryItemType::StateUpdate => "StateUpdate",
            HistoryItemType::Action => "Action",
        }
    }

    pub fn parse(text: &str) -> Option<HistoryItemType> {
        match text {
            "ConfigurationUpdate" => Some(HistoryItemType::ConfigurationUpdate),
            "StateUpdate" => Some(HistoryItemType::StateUpdate),
            "Action" => Some(HistoryItemType::Action),
            _ => None,
        }
    }
}

/// One DescribeAlarmHistory item.
#[derive(Debug, Clone, PartialEq)]
pub struct AlarmHistoryItem {
    pub alarm_name: String,
    pub timestamp_ms: i64,
    pub item_type: HistoryItemType,
    pub summary: String,
    /// JSON text, as AWS's `HistoryData`.
    pub data: String,
}

const INITIAL_REASON: &str = "Unchecked: Initial alarm creation";

fn add_history(
    conn: &Connection,
    name: &str,
    at: i64,
    item_type: HistoryItemType,
    summary: &str,
    data: &str,
) -> Result<(), CloudWatchError> {
    conn.prepare_cached(
        "INSERT INTO cloudwatch_alarm_history (alarm_name, ts_ms, item_type, summary, data) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![name, at, item_type.name(), summary, data])?;
    Ok(())
}

fn read_status(
    conn: &Connection,
    name: &str,
    arn: impl Fn(&str) -> String,
) -> Result<Option<AlarmStatus>, CloudWatchError> {
    let row = conn
        .prepare_cached(
            "SELECT spec, state, reason, reason_data, state_updated_ms, config_updated_ms FROM cloudwatch_alarms WHERE name = ?1",
        )?
        .query_row([name], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, i64>(5)?,
            ))
        })
        .optional()?;
    let Some((spec, state, reason, reason_data, state_updated_ms, config_updated_ms)) = row else {
        return Ok(None);
    };
    let corrupt = |what: &str| {
        CloudWatchError::Store(store::StoreError::CommitFailed(format!(
            "the stored alarm `{name}` has an unreadable {what}"
        )))
    };
    let spec_json: Value = serde_json::from_str(&spec).map_err(|_| corrupt("definition"))?;
    let spec = AlarmSpec::from_cfn(&spec_json).map_err(|_| corrupt("definition"))?;
    Ok(Some(AlarmStatus {
        arn: arn(&spec.name),
        spec,
        state: AlarmState::parse(&state).ok_or_else(|| corrupt("state"))?,
        reason,
        reason_data,
        state_updated_ms,
        config_updated_ms,
    }))
}

fn names(conn: &Connection) -> Result<Vec<String>, CloudWatchError> {
    let mut stmt = conn.prepare_cached("SELECT name FROM cloudwatch_alarms ORDER BY name")?;
    let names = stmt
        .query_map([], |r| r.get(0))?
        .collect::<Result<Vec<String>, _>>()?;
    Ok(names)
}

/// What one evaluation concludes: the new state and why, or `None` to keep the state.
struct Verdict {
    state: AlarmState,
    reason: String,
    reason_data: String,
}

fn format_value(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.1}")
    } else {
        format!("{v}")
    }
}

fn judge(
    conn: &Connection,
    spec: &AlarmSpec,
    current: AlarmState,
    now: i64,
) -> Result<Option<Verdict>, CloudWatchError> {
    let period_ms = spec.period_s * 1000;
    let end = now - now.rem_euclid(period_ms);
    let n = spec.evaluation_periods;
    let start = end - n * period_ms;
    let percentiles: Vec<_> = [spec.statistic.clone()]
        .into_iter()
        .filter(|s| s.is_extended())
        .collect();
    let points = aggregate(
        conn,
        &spec.metric,
        spec.unit.as_deref(),
        start,
        end,
        period_ms,
        &percentiles,
    )?;
    // Newest first, as AWS lists them in reasons.
    let mut periods: Vec<(i64, Option<(f64, f64)>)> = Vec::new();
    for k in (0..n).rev() {
        let ts = start + k * period_ms;
        let value = points
            .iter()
            .find(|p| p.timestamp_ms == ts)
            .and_then(|p| p.get(&spec.statistic).map(|v| (v, p.sample_count)));
        periods.push((ts, value));
    }
    let present: Vec<(i64, f64)> = periods
        .iter()
        .filter_map(|(ts, v)| v.map(|(v, _)| (*ts, v)))
        .collect();
    let missing = periods.len() - present.len();
    let breaching_present = present
        .iter()
        .filter(|(_, v)| spec.comparison.breaches(*v, spec.threshold))
        .count();
    let (counted, breaching, missing_as) = match spec.treat_missing_data {
        MissingData::Breaching => (periods.len(), breaching_present + missing, "Breaching"),
        MissingData::NotBreaching => (periods.len(), breaching_present, "NonBreaching"),
        MissingData::Missing | MissingData::Ignore => (present.len(), breaching_present, ""),
    };
    let reason_data = json!({
        "version": "1.0",
        "queryDate": iso_offset(now),
        "startDate": iso_offset(start),
        "statistic": spec.statistic.name(),
        "period": spec.period_s,
        "recentDatapoints": present.iter().map(|p| p.1).collect::<Vec<_>>(),
        "threshold": spec.threshold,
        "evaluatedDatapoints": periods.iter().filter_map(|(ts, v)| v.map(|(value, count)| json!({
            "timestamp": iso_offset(*ts), "sampleCount": count, "value": value
        }))).collect::<Vec<_>>(),
    })
    .to_string();
    if counted == 0 {
        return Ok(match spec.treat_missing_data {
            MissingData::Ignore => None,
            _ => Some(Verdict {
                state: AlarmState::InsufficientData,
                reason: format!(
                    "Insufficient Data: {n} datapoint{} {} unknown.",
                    if n == 1 { "" } else { "s" },
                    if n == 1 { "was" } else { "were" }
                ),
                reason_data,
            }),
        });
    }
    let state = if breaching as i64 >= spec.datapoints_to_alarm {
        AlarmState::Alarm
    } else {
        AlarmState::Ok
    };
    let listed = present
        .iter()
        .map(|(ts, v)| format!("{} ({})", format_value(*v), reason_time(*ts)))
        .collect::<Vec<_>>()
        .join(", ");
    let (count, negation, transition) = match state {
        AlarmState::Alarm => (breaching, "", format!("{} -> ALARM", current.name())),
        _ => (
            counted - breaching,
            "not ",
            format!("{} -> OK", current.name()),
        ),
    };
    let mut reason = if present.is_empty() {
        format!(
            "Threshold Crossed: no datapoints were received for {n} period{}",
            if n == 1 { "" } else { "s" }
        )
    } else {
        format!(
            "Threshold Crossed: {count} out of the last {counted} datapoints [{listed}] {} {negation}{} the threshold ({})",
            if count == 1 { "was" } else { "were" },
            spec.comparison.words(),
            format_value(spec.threshold)
        )
    };
    if missing > 0 && !missing_as.is_empty() {
        reason.push_str(&format!(
            " and {missing} missing datapoint{} {} treated as [{missing_as}]",
            if missing == 1 { "" } else { "s" },
            if missing == 1 { "was" } else { "were" }
        ));
    }
    reason.push_str(&format!(
        " (minimum {} datapoint{} for {transition} transition).",
        spec.datapoints_to_alarm,
        if spec.datapoints_to_alarm == 1 {
            ""
        } else {
            "s"
        }
    ));
    Ok(Some(Verdict {
        state,
        reason,
        reason_data,
    }))
}

impl CloudWatch {
    /// Makes the stored alarms exactly `specs` (the deployed set): new ones start in
    /// INSUFFICIENT_DATA, changed ones keep their state with a ConfigurationUpdate history item,
    /// and alarms not in `specs` are deleted. Every spec must have a name, each name once.
    pub fn put_alarms(&self, specs: &[AlarmSpec]) -> Result<(), CloudWatchError> {
        for (i, spec) in specs.iter().enumerate() {
            if spec.name.is_empty() || spec.name.chars().count() > 255 {
                return Err(CloudWatchError::InvalidParameterValue(format!(
                    "The alarm name `{}` must be 1 to 255 characters long.",
                    spec.name
                )));
            }
            if specs[..i].iter().any(|o| o.name == spec.name) {
                return Err(CloudWatchError::InvalidParameterValue(format!(
                    "The alarm `{}` is defined twice.",
                    spec.name
                )));
            }
        }
        let now = self.now();
        let specs: Vec<(String, String)> = specs
            .iter()
            .map(|s| (s.name.clone(), s.to_cfn().to_string()))
            .collect();
        self.store().write(move |conn| {
            let existing = names(conn)?;
            for name in &existing {
                if !specs.iter().any(|(n, _)| n == name) {
                    conn.prepare_cached("DELETE FROM cloudwatch_alarms WHERE name = ?1")?
                        .execute([name])?;
                    add_history(
                        conn,
                        name,
                        now,
                        HistoryItemType::ConfigurationUpdate,
                        &format!("Alarm \"{name}\" deleted"),
                        &json!({"version": "1.0", "type": "Delete"}).to_string(),
                    )?;
                }
            }
            for (name, spec) in &specs {
                let stored: Option<String> = conn
                    .prepare_cached("SELECT spec FROM cloudwatch_alarms WHERE name = ?1")?
                    .query_row([name], |r| r.get(0))
                    .optional()?;
                match stored {
                    Some(stored) if stored == *spec => {}
                    Some(_) => {
                        conn.prepare_cached(
                            "UPDATE cloudwatch_alarms SET spec = ?2, config_updated_ms = ?3 WHERE name = ?1",
                        )?
                        .execute(params![name, spec, now])?;
                        add_history(
                            conn,
                            name,
                            now,
                            HistoryItemType::ConfigurationUpdate,
                            &format!("Alarm \"{name}\" updated"),
                            &json!({"version": "1.0", "type": "Update"}).to_string(),
                        )?;
                    }
                    None => {
                        conn.prepare_cached(
                            "INSERT INTO cloudwatch_alarms (name, spec, state, reason, reason_data, state_updated_ms, config_updated_ms) VALUES (?1, ?2, 'INSUFFICIENT_DATA', ?3, NULL, ?4, ?4)",
                        )?
                        .execute(params![name, spec, INITIAL_REASON, now])?;
                        add_history(
                            conn,
                            name,
                            now,
                            HistoryItemType::ConfigurationUpdate,
                            &format!("Alarm \"{name}\" created"),
                            &json!({"version": "1.0", "type": "Create"}).to_string(),
                        )?;
                    }
                }
            }
            Ok::<_, CloudWatchError>(())
        })
    }

    /// Evaluates every alarm at the clock's current time; see [`CloudWatch::evaluate_at`].
    pub fn evaluate(&self) -> Result<Vec<StateChange>, CloudWatchError> {
        self.evaluate_at(self.now())
    }

    /// Evaluates every alarm at `now` (epoch ms): stores each state change with its history
    /// item, gives the changes to the notifiers, and returns them.
    pub fn evaluate_at(&self, now: i64) -> Result<Vec<StateChange>, CloudWatchError> {
        let cw = self.clone();
        let verdicts = self.store().read(move |conn| {
            let mut verdicts = Vec::new();
            for name in names(conn)? {
                let Some(status) = read_status(conn, &name, |n| cw.alarm_arn(n))? else {
                    continue;
                };
                if let Some(verdict) = judge(conn, &status.spec, status.state, now)? {
                    if verdict.state != status.state {
                        verdicts.push((status, verdict));
                    }
                }
            }
            Ok::<_, CloudWatchError>(verdicts)
        })?;
        let mut changes = Vec::new();
        for (status, verdict) in verdicts {
            if let Some(change) = self.change_state(
                &status.spec.name,
                verdict.state,
                verdict.reason,
                Some(verdict.reason_data),
                now,
            )? {
                changes.push(change);
            }
        }
        self.notify(&changes);
        Ok(changes)
    }

    /// SetAlarmState: sets the state until the next evaluation says otherwise; the actions of
    /// the new state run as for an evaluated change.
    pub fn set_alarm_state(
        &self,
        name: &str,
        state: AlarmState,
        reason: &str,
        reason_data: Option<&str>,
    ) -> Result<Option<StateChange>, CloudWatchError> {
        if let Some(data) = reason_data {
            if serde_json::from_str::<Value>(data).is_err() {
                return Err(CloudWatchError::InvalidFormat(
                    "The parameter StateReasonData must be valid JSON.".into(),
                ));
            }
        }
        if self.describe_alarm(name)?.is_none() {
            return Err(CloudWatchError::ResourceNotFound(format!(
                "Alarm {name} does not exist"
            )));
        }
        let change = self.change_state(
            name,
            state,
            reason.to_owned(),
            reason_data.map(str::to_owned),
            self.now(),
        )?;
        if let Some(change) = &change {
            self.notify(std::slice::from_ref(change));
        }
        Ok(change)
    }

    /// Stores a transition of `name` to `state` with its history item, if the state differs.
    fn change_state(
        &self,
        name: &str,
        state: AlarmState,
        reason: String,
        reason_data: Option<String>,
        at: i64,
    ) -> Result<Option<StateChange>, CloudWatchError> {
        let cw = self.clone();
        let name = name.to_owned();
        self.store().write(move |conn| {
            let Some(status) = read_status(conn, &name, |n| cw.alarm_arn(n))? else {
                return Ok(None);
            };
            if status.state == state {
                return Ok(None);
            }
            conn.prepare_cached(
                "UPDATE cloudwatch_alarms SET state = ?2, reason = ?3, reason_data = ?4, state_updated_ms = ?5 WHERE name = ?1",
            )?
            .execute(params![name, state.name(), reason, reason_data, at])?;
            let mut new_state = json!({"stateValue": state.name(), "stateReason": reason});
            if let Some(data) = reason_data.as_deref().and_then(|d| serde_json::from_str::<Value>(d).ok()) {
                new_state["stateReasonData"] = data;
            }
            let data = json!({
                "version": "1.0",
                "oldState": {"stateValue": status.state.name(), "stateReason": status.reason},
                "newState": new_state,
            });
            add_history(
                conn,
                &name,
                at,
                HistoryItemType::StateUpdate,
                &format!("Alarm updated from {} to {}", status.state.name(), state.name()),
                &data.to_string(),
            )?;
            let spec = &status.spec;
            let actions = if !spec.actions_enabled {
                Vec::new()
            } else {
                match state {
                    AlarmState::Alarm => spec.alarm_actions.clone(),
                    AlarmState::Ok => spec.ok_actions.clone(),
                    AlarmState::InsufficientData => spec.insufficient_data_actions.clone(),
                }
            };
            let config = cw.config();
            Ok::<_, CloudWatchError>(Some(StateChange {
                alarm: status.spec.clone(),
                arn: status.arn.clone(),
                account_id: config.account_id.clone(),
                region: config.region.clone(),
                old_state: status.state,
                new_state: state,
                reason,
                reason_data,
                at_ms: at,
                config_updated_ms: status.config_updated_ms,
                actions,
            }))
        })
    }

    /// Records that an action of `alarm_name` ran (or failed), as an Action history item.
    pub fn record_action(&self, alarm_name: &str, summary: &str) -> Result<(), CloudWatchError> {
        let now = self.now();
        let name = alarm_name.to_owned();
        let summary = summary.to_owned();
        self.store().write(move |conn| {
            add_history(
                conn,
                &name,
                now,
                HistoryItemType::Action,
                &summary,
                &json!({"version": "1.0", "actionState": "Succeeded", "stateUpdateTimestamp": iso(now)}).to_string(),
            )
        })
    }

    /// One alarm with its state.
    pub fn describe_alarm(&self, name: &str) -> Result<Option<AlarmStatus>, CloudWatchError> {
        let cw = self.clone();
        self.store()
            .read(|conn| read_status(conn, name, |n| cw.alarm_arn(n)))
    }

    /// DescribeAlarms: by names (all when empty), name prefix and state, sorted by name.
    pub fn describe_alarms(
        &self,
        names_filter: &[String],
        prefix: Option<&str>,
        state: Option<AlarmState>,
    ) -> Result<Vec<AlarmStatus>, CloudWatchError> {
        let cw = self.clone();
        self.store().read(|conn| {
            let mut out = Vec::new();
            for name in names(conn)? {
                if !names_filter.is_empty() && !names_filter.contains(&name) {
                    continue;
                }
                if prefix.is_some_and(|p| !name.starts_with(p)) {
                    continue;
                }
                if let Some(status) = read_status(conn, &name, |n| cw.alarm_arn(n))? {
                    if state.is_none_or(|s| s == status.state) {
                        out.push(status);
                    }
                }
            }
            Ok(out)
        })
    }

    /// DescribeAlarmHistory: newest first, optionally for one alarm, one item type, and
    /// `[start, end)`.
    pub fn alarm_history(
        &self,
        alarm_name: Option<&str>,
        item_type: Option<HistoryItemType>,
        start_ms: Option<i64>,
        end_ms: Option<i64>,
    ) -> Result<Vec<AlarmHistoryItem>, CloudWatchError> {
        self.store().read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT alarm_name, ts_ms, item_type, summary, data FROM cloudwatch_alarm_history
                 WHERE (?1 IS NULL OR alarm_name = ?1) AND (?2 IS NULL OR item_type = ?2)
                   AND (?3 IS NULL OR ts_ms >= ?3) AND (?4 IS NULL OR ts_ms < ?4)
                 ORDER BY ts_ms DESC, id DESC",
            )?;
            let rows = stmt.query_map(
                params![
                    alarm_name,
                    item_type.map(HistoryItemType::name),
                    start_ms,
                    end_ms
                ],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                    ))
                },
            )?;
            let mut items = Vec::new();
            for row in rows {
                let (alarm_name, timestamp_ms, item_type, summary, data) = row?;
                items.push(AlarmHistoryItem {
                    alarm_name,
                    timestamp_ms,
                    item_type: HistoryItemType::parse(&item_type)
                        .unwrap_or(HistoryItemType::StateUpdate),
                    summary,
                    data,
                });
            }
            Ok(items)
        })
    }
}
