//! [`AlarmSpec`]: a metric alarm's definition, read from `AWS::CloudWatch::Alarm` properties.
//!
//! The spec is stored as the same CloudFormation properties ([`AlarmSpec::to_cfn`]) and read back
//! with [`AlarmSpec::from_cfn`], so the stored form and the template form never drift apart.

use serde_json::{json, Map, Value};

use crate::metrics::{check_dimensions, check_period, check_unit, Dimension, MetricId};

/// A statistic: the five simple ones and percentiles (`p99`, `p99.9`).
#[derive(Debug, Clone, PartialEq)]
pub enum Statistic {
    SampleCount,
    Sum,
    Average,
    Minimum,
    Maximum,
    /// `pN` with N in `[0, 100]`.
    Percentile(f64),
}

impl Statistic {
    /// Parses `Sum`, `Average`... or `pN`.
    pub fn parse(text: &str) -> Option<Statistic> {
        Some(match text {
            "SampleCount" => Statistic::SampleCount,
            "Sum" => Statistic::Sum,
            "Average" => Statistic::Average,
            "Minimum" => Statistic::Minimum,
            "Maximum" => Statistic::Maximum,
            _ => {
                let n: f64 = text.strip_prefix('p')?.parse().ok()?;
                if !(0.0..=100.0).contains(&n) {
                    return None;
                }
                Statistic::Percentile(n)
            }
        })
    }

    pub fn name(&self) -> String {
        match self {
            Statistic::SampleCount => "SampleCount".into(),
            Statistic::Sum => "Sum".into(),
            Statistic::Average => "Average".into(),
            Statistic::Minimum => "Minimum".into(),
            Statistic::Maximum => "Maximum".into(),
            Statistic::Percentile(n) => format!("p{n}"),
        }
    }

    pub fn is_extended(&self) -> bool {
        matches!(self, Statistic::Percentile(_))
    }
}

/// ComparisonOperator. The anomaly-detection operators need a model the local engine does not
/// have and are refused by [`AlarmSpec::from_cfn`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    GreaterThanThreshold,
    GreaterThanOrEqualToThreshold,
    LessThanThreshold,
    LessThanOrEqualToThreshold,
}

impl Comparison {
    pub fn name(self) -> &'static str {
        match self {
            Comparison::GreaterThanThreshold => "GreaterThanThreshold",
            Comparison::GreaterThanOrEqualToThreshold => "GreaterThanOrEqualToThreshold",
            Comparison::LessThanThreshold => "LessThanThreshold",
            Comparison::LessThanOrEqualToThreshold => "LessThanOrEqualToThreshold",
        }
    }

    /// The words of AWS's state reasons: "was greater than or equal to the threshold".
    pub fn words(self) -> &'static str {
        match self {
            Comparison::GreaterThanThreshold => "greater than",
            Comparison::GreaterThanOrEqualToThreshold => "greater than or equal to",
            Comparison::LessThanThreshold => "less than",
            Comparison::LessThanOrEqualToThreshold => "less than or equal to",
        }
    }

    pub fn breaches(self, value: f64, threshold: f64) -> bool {
        match self {
            Comparison::GreaterThanThreshold => value > threshold,
            Comparison::GreaterThanOrEqualToThreshold => value >= threshold,
            Comparison::LessThanThreshold => value < threshold,
            Comparison::LessThanOrEqualToThreshold => value <= threshold,
        }
    }
}

/// TreatMissingData.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissingData {
    /// The default: missing periods are left out; all missing gives INSUFFICIENT_DATA.
    Missing,
    /// All missing keeps the current state.
    Ignore,
    Breaching,
    NotBreaching,
}

impl MissingData {
    pub fn name(self) -> &'static str {
        match self {
            MissingData::Missing => "missing",
            MissingData::Ignore => "ignore",
            MissingData::Breaching => "breaching",
            MissingData::NotBreaching => "notBreaching",
        }
    }
}

/// A metric alarm.
#[derive(Debug, Clone, PartialEq)]
pub struct AlarmSpec {
    pub name: String,
    pub description: Option<String>,
    pub metric: MetricId,
    pub statistic: Statistic,
    pub unit: Option<String>,
    pub period_s: i64,
    pub evaluation_periods: i64,
    pub datapoints_to_alarm: i64,
    pub threshold: f64,
    pub comparison: Comparison,
    pub treat_missing_data: MissingData,
    pub actions_enabled: bool,
    pub alarm_actions: Vec<String>,
    pub ok_actions: Vec<String>,
    pub insufficient_data_actions: Vec<String>,
}

/// A property of an alarm that cannot be used; `property` is its path in the properties.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{property}: {message}")]
pub struct SpecError {
    pub property: String,
    pub message: String,
}

fn err(property: &str, message: impl Into<String>) -> SpecError {
    SpecError {
        property: property.to_owned(),
        message: message.into(),
    }
}

fn string(props: &Map<String, Value>, key: &str) -> Result<Option<String>, SpecError> {
    match props.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(err(key, "must be a string")),
    }
}

/// A number, written as a JSON number or as a string (templates write both).
fn number(props: &Map<String, Value>, key: &str) -> Result<Option<f64>, SpecError> {
    match props.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_f64()),
        Some(Value::String(s)) => s
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .map(Some)
            .ok_or_else(|| err(key, format!("`{s}` is not a number"))),
        Some(_) => Err(err(key, "must be a number")),
    }
}

fn integer(props: &Map<String, Value>, key: &str) -> Result<Option<i64>, SpecError> {
    match number(props, key)? {
        None => Ok(None),
        Some(v) if v.fract() == 0.0 && v >= 1.0 => Ok(Some(v as i64)),
        Some(v) => Err(err(key, format!("`{v}` must be a positive integer"))),
    }
}

fn boolean(props: &Map<String, Value>, key: &str) -> Result<Option<bool>, SpecError> {
    match props.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(_) => Err(err(key, "must be true or false")),
    }
}

fn strings(props: &Map<String, Value>, key: &str) -> Result<Vec<String>, SpecError> {
    match props.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, v)| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| err(&format!("{key}[{i}]"), "must be a string"))
            })
            .collect(),
        Some(_) => Err(err(key, "must be a list")),
    }
}

impl AlarmSpec {
    /// Reads `AWS::CloudWatch::Alarm` properties. `AlarmName` is optional in templates; without
    /// it the name is empty and the caller names the alarm (see [`AlarmSpec::from_resource`]).
    pub fn from_cfn(properties: &Value) -> Result<AlarmSpec, SpecError> {
        let Some(props) = properties.as_object() else {
            return Err(err("Properties", "must be an object"));
        };
        for unsupported in ["Metrics", "ThresholdMetricId"] {
            if props.contains_key(unsupported) {
                return Err(err(
                    unsupported,
                    "metric math and anomaly detection alarms are not supported by the local engine; use MetricName, Namespace and Statistic",
                ));
            }
        }
        let required = |key: &str| -> Result<String, SpecError> {
            string(props, key)?.ok_or_else(|| err(key, "is required"))
        };
        let namespace = required("Namespace")?;
        let metric_name = required("MetricName")?;
        let dimensions = match props.get("Dimensions") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, d)| {
                    let at = format!("Dimensions[{i}]");
                    let d = d.as_object().ok_or_else(|| err(&at, "must be an object"))?;
                    let name = string(d, "Name")?.ok_or_else(|| err(&at, "Name is required"))?;
                    let value = string(d, "Value")?.ok_or_else(|| err(&at, "Value is required"))?;
                    Ok(Dimension { name, value })
                })
                .collect::<Result<Vec<_>, SpecError>>()?,
            Some(_) => return Err(err("Dimensions", "must be a list")),
        };
        check_dimensions(&dimensions, "Dimensions")
            .map_err(|e| err("Dimensions", e.to_string()))?;
        let statistic = match (
            string(props, "Statistic")?,
            string(props, "ExtendedStatistic")?,
        ) {
            (Some(_), Some(_)) => {
                return Err(err(
                    "ExtendedStatistic",
                    "Statistic and ExtendedStatistic are mutually exclusive",
                ))
            }
            (Some(s), None) => match Statistic::parse(&s) {
                Some(st) if !st.is_extended() => st,
                _ => {
                    return Err(err(
                        "Statistic",
                        format!("`{s}` is not one of SampleCount, Average, Sum, Minimum, Maximum"),
                    ))
                }
            },
            (None, Some(s)) => match Statistic::parse(&s) {
                Some(st) if st.is_extended() => st,
                _ => {
                    return Err(err(
                        "ExtendedStatistic",
                        format!("`{s}` is not a percentile like p99"),
                    ))
                }
            },
            (None, None) => {
                return Err(err(
                    "Statistic",
                    "Statistic or ExtendedStatistic is required",
                ))
            }
        };
        let unit = string(props, "Unit")?;
        if let Some(unit) = &unit {
            check_unit(unit, "Unit").map_err(|e| err("Unit", e.to_string()))?;
        }
        let period_s = integer(props, "Period")?.ok_or_else(|| err("Period", "is required"))?;
        check_period(period_s, "Period").map_err(|e| err("Period", e.to_string()))?;
        let evaluation_periods = integer(props, "EvaluationPeriods")?
            .ok_or_else(|| err("EvaluationPeriods", "is required"))?;
        let datapoints_to_alarm =
            integer(props, "DatapointsToAlarm")?.unwrap_or(evaluation_periods);
        if datapoints_to_alarm > evaluation_periods {
            return Err(err(
                "DatapointsToAlarm",
                format!(
                    "{datapoints_to_alarm} is more than EvaluationPeriods ({evaluation_periods})"
                ),
            ));
        }
        let threshold = number(props, "Threshold")?
            .ok_or_else(|| err("Threshold", "is required (threshold alarms only)"))?;
        let operator = required("ComparisonOperator")?;
        let comparison = match operator.as_str() {
            "GreaterThanThreshold" => Comparison::GreaterThanThreshold,
            "GreaterThanOrEqualToThreshold" => Comparison::GreaterThanOrEqualToThreshold,
            "LessThanThreshold" => Comparison::LessThanThreshold,
            "LessThanOrEqualToThreshold" => Comparison::LessThanOrEqualToThreshold,
            "LessThanLowerOrGreaterThanUpperThreshold"
            | "LessThanLowerThreshold"
            | "GreaterThanUpperThreshold" => {
                return Err(err(
                    "ComparisonOperator",
                    format!("`{operator}` compares with an anomaly detection band, which the local engine does not model"),
                ))
            }
            _ => return Err(err("ComparisonOperator", format!("`{operator}` is not a comparison operator"))),
        };
        let treat_missing_data = match string(props, "TreatMissingData")?.as_deref() {
            None | Some("missing") => MissingData::Missing,
            Some("ignore") => MissingData::Ignore,
            Some("breaching") => MissingData::Breaching,
            Some("notBreaching") => MissingData::NotBreaching,
            Some(other) => {
                return Err(err(
                    "TreatMissingData",
                    format!("`{other}` is not one of missing, ignore, breaching, notBreaching"),
                ))
            }
        };
        Ok(AlarmSpec {
            name: string(props, "AlarmName")?.unwrap_or_default(),
            description: string(props, "AlarmDescription")?,
            metric: MetricId::new(&namespace, &metric_name, &dimensions),
            statistic,
            unit,
            period_s,
            evaluation_periods,
            datapoints_to_alarm,
            threshold,
            comparison,
            treat_missing_data,
            actions_enabled: boolean(props, "ActionsEnabled")?.unwrap_or(true),
            alarm_actions: strings(props, "AlarmActions")?,
            ok_actions: strings(props, "OKActions")?,
            insufficient_data_actions: strings(props, "InsufficientDataActions")?,
        })
    }

    /// Reads a deployed alarm: its properties, named by `AlarmName` or else by its physical id
    /// (what `Ref` gives for an alarm).
    pub fn from_resource(physical_id: &str, properties: &Value) -> Result<AlarmSpec, SpecError> {
        let mut spec = AlarmSpec::from_cfn(properties)?;
        if spec.name.is_empty() {
            spec.name = physical_id.to_owned();
        }
        Ok(spec)
    }

    /// The spec as `AWS::CloudWatch::Alarm` properties; [`AlarmSpec::from_cfn`] reads it back.
    pub fn to_cfn(&self) -> Value {
        let mut props = Map::new();
        props.insert("AlarmName".into(), self.name.clone().into());
        if let Some(d) = &self.description {
            props.insert("AlarmDescription".into(), d.clone().into());
        }
        props.insert("Namespace".into(), self.metric.namespace.clone().into());
        props.insert("MetricName".into(), self.metric.name.clone().into());
        props.insert(
            "Dimensions".into(),
            self.metric
                .dimensions
                .iter()
                .map(|d| json!({"Name": d.name, "Value": d.value}))
                .collect(),
        );
        let key = if self.statistic.is_extended() {
            "ExtendedStatistic"
        } else {
            "Statistic"
        };
        props.insert(key.into(), self.statistic.name().into());
        if let Some(u) = &self.unit {
            props.insert("Unit".into(), u.clone().into());
        }
        props.insert("Period".into(), self.period_s.into());
        props.insert("EvaluationPeriods".into(), self.evaluation_periods.into());
        props.insert("DatapointsToAlarm".into(), self.datapoints_to_alarm.into());
        props.insert("Threshold".into(), self.threshold.into());
        props.insert("ComparisonOperator".into(), self.comparison.name().into());
        props.insert(
            "TreatMissingData".into(),
            self.treat_missing_data.name().into(),
        );
        props.insert("ActionsEnabled".into(), self.actions_enabled.into());
        props.insert("AlarmActions".into(), self.alarm_actions.clone().into());
        props.insert("OKActions".into(), self.ok_actions.clone().into());
        props.insert(
            "InsufficientDataActions".into(),
            self.insufficient_data_actions.clone().into(),
        );
        Value::Object(props)
    }
}
