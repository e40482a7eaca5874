//! Metric data: PutMetricData with AWS's validation, statistics per period, ListMetrics.
//!
//! Every datum is kept as a statistic set, so that SampleCount, Sum, Average, Minimum and Maximum
//! of any period are one aggregate query over the `(metric_id, ts_ms)` index. Percentiles need the
//! values themselves: they are computed from the rows that kept one (single values and
//! value/count pairs), never from statistic sets, as on AWS.

use rusqlite::{params, Connection, OptionalExtension};

use crate::alarm::Statistic;
use crate::{CloudWatch, CloudWatchError};

/// The units AWS accepts.
pub const UNITS: &[&str] = &[
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

/// At most this many data per PutMetricData call.
const MAX_DATA: usize = 1000;
/// At most this many dimensions per metric.
const MAX_DIMENSIONS: usize = 30;
/// At most this many values in one datum's `Values`.
const MAX_VALUES: usize = 150;
/// At most this many datapoints in one GetMetricStatistics answer.
const MAX_DATAPOINTS: i64 = 1440;
/// Values outside +-2^360 are refused, as are magnitudes below 2^-360 other than zero.
const MAX_MAGNITUDE: f64 = 2.348_542_582_773_833_2e108;
const MIN_MAGNITUDE: f64 = 8.515_920_536_555_53e-109;
/// A datum may be at most two weeks old and two hours ahead.
const MAX_AGE_MS: i64 = 14 * 24 * 3600 * 1000;
const MAX_AHEAD_MS: i64 = 2 * 3600 * 1000;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Dimension {
    pub name: String,
    pub value: String,
}

impl Dimension {
    pub fn new(name: &str, value: &str) -> Dimension {
        Dimension {
            name: name.to_owned(),
            value: value.to_owned(),
        }
    }
}

/// A metric: namespace, name and dimensions. Dimensions are kept sorted by name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MetricId {
    pub namespace: String,
    pub name: String,
    pub dimensions: Vec<Dimension>,
}

impl MetricId {
    pub fn new(namespace: &str, name: &str, dimensions: &[Dimension]) -> MetricId {
        let mut dimensions = dimensions.to_vec();
        dimensions.sort();
        MetricId {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            dimensions,
        }
    }

    fn canonical_dimensions(&self) -> String {
        canonical(&self.dimensions)
    }
}

fn canonical(dimensions: &[Dimension]) -> String {
    let mut sorted = dimensions.to_vec();
    sorted.sort();
    sorted
        .iter()
        .map(|d| format!("{}={}", d.name, d.value))
        .collect::<Vec<_>>()
        .join("\n")
}

fn parse_canonical(text: &str) -> Vec<Dimension> {
    text.lines()
        .filter_map(|line| line.split_once('='))
        .map(|(n, v)| Dimension::new(n, v))
        .collect()
}

/// One entry of PutMetricData's `MetricData`. Exactly one of `value`, `values` (with optional
/// `counts`) and `statistic_values` must be given.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetricDatum {
    pub metric_name: String,
    pub dimensions: Vec<Dimension>,
    pub value: Option<f64>,
    pub values: Vec<f64>,
    pub counts: Vec<f64>,
    /// `(SampleCount, Sum, Minimum, Maximum)`.
    pub statistic_values: Option<StatisticSet>,
    pub unit: Option<String>,
    /// Epoch milliseconds; the time of the call when absent.
    pub timestamp_ms: Option<i64>,
    pub storage_resolution: Option<i64>,
}

/// A datum given as a statistic set; each member may be absent on the wire, which AWS refuses.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StatisticSet {
    pub sample_count: Option<f64>,
    pub sum: Option<f64>,
    pub minimum: Option<f64>,
    pub maximum: Option<f64>,
}

/// What a value of a datum becomes: one row of `cloudwatch_data`.
struct Row {
    ts_ms: i64,
    unit: String,
    sample_count: f64,
    sum: f64,
    minimum: f64,
    maximum: f64,
    value: Option<f64>,
}

/// The aggregates of one period.
#[derive(Debug, Clone, PartialEq)]
pub struct Datapoint {
    /// Start of the period, epoch milliseconds.
    pub timestamp_ms: i64,
    pub sample_count: f64,
    pub sum: f64,
    pub minimum: f64,
    pub maximum: f64,
    /// `(pN as asked, value)` for each percentile asked that the period's values allow.
    pub percentiles: Vec<(String, f64)>,
    pub unit: String,
}

impl Datapoint {
    pub fn average(&self) -> f64 {
        self.sum / self.sample_count
    }

    /// The value of `statistic` in this period, if it has one.
    pub fn get(&self, statistic: &Statistic) -> Option<f64> {
        Some(match statistic {
            Statistic::SampleCount => self.sample_count,
            Statistic::Sum => self.sum,
            Statistic::Average => self.average(),
            Statistic::Minimum => self.minimum,
            Statistic::Maximum => self.maximum,
            Statistic::Percentile(_) => {
                let name = statistic.name();
                return self
                    .percentiles
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| *v);
            }
        })
    }
}

/// GetMetricStatistics.
#[derive(Debug, Clone, PartialEq)]
pub struct StatisticsRequest {
    pub metric: MetricId,
    pub start_ms: i64,
    pub end_ms: i64,
    pub period_s: i64,
    pub statistics: Vec<Statistic>,
    pub unit: Option<String>,
}

/// One `MetricDataQuery` of GetMetricData with a `MetricStat`. Math expressions are not
/// supported: a query with `expression` is refused.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricQuery {
    pub id: String,
    pub label: Option<String>,
    pub metric: Option<MetricId>,
    pub period_s: i64,
    pub stat: String,
    pub unit: Option<String>,
    pub expression: Option<String>,
    pub return_data: bool,
}

/// One `MetricDataResult`.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricQueryResult {
    pub id: String,
    pub label: String,
    pub timestamps_ms: Vec<i64>,
    pub values: Vec<f64>,
}

fn invalid(message: String) -> CloudWatchError {
    CloudWatchError::InvalidParameterValue(message)
}

fn check_value(value: f64, member: &str) -> Result<(), CloudWatchError> {
    if !value.is_finite() {
        return Err(invalid(format!(
            "The value {value} for parameter {member} is invalid: it must be a finite number."
        )));
    }
    let magnitude = value.abs();
    if magnitude > MAX_MAGNITUDE || (magnitude != 0.0 && magnitude < MIN_MAGNITUDE) {
        return Err(invalid(format!(
            "The value {value:e} for parameter {member} is invalid: values must be in the range -2^360 to 2^360 and, other than zero, at least 2^-360 in magnitude."
        )));
    }
    Ok(())
}

fn check_name(text: &str, member: &str, max: usize) -> Result<(), CloudWatchError> {
    if text.is_empty() || text.chars().count() > max {
        return Err(invalid(format!(
            "The value `{text}` for parameter {member} is invalid: it must be 1 to {max} characters long."
        )));
    }
    Ok(())
}

/// Checks a namespace; `AWS/` ones are refused unless `internal` (the engine's own metrics).
fn check_namespace(namespace: &str, internal: bool) -> Result<(), CloudWatchError> {
    if namespace.is_empty() {
        return Err(CloudWatchError::MissingParameter("Namespace".into()));
    }
    check_name(namespace, "Namespace", 255)?;
    if !internal && namespace.starts_with("AWS/") {
        return Err(invalid(format!(
            "The value {namespace} for parameter Namespace is invalid: the AWS/ prefix is reserved for AWS's own metrics."
        )));
    }
    Ok(())
}

/// Checks the dimensions of a metric: count, lengths, distinct names.
pub(crate) fn check_dimensions(
    dimensions: &[Dimension],
    member: &str,
) -> Result<(), CloudWatchError> {
    if dimensions.len() > MAX_DIMENSIONS {
        return Err(invalid(format!(
            "The collection {member} must not have a size greater than {MAX_DIMENSIONS}."
        )));
    }
    for (i, d) in dimensions.iter().enumerate() {
        check_name(&d.name, &format!("{member}.member.{}.Name", i + 1), 255)?;
        check_name(&d.value, &format!("{member}.member.{}.Value", i + 1), 1024)?;
        if dimensions[..i].iter().any(|o| o.name == d.name) {
            return Err(CloudWatchError::InvalidParameterCombination(format!(
                "No metric may have duplicate dimension names: `{}` is given twice in {member}.",
                d.name
            )));
        }
    }
    Ok(())
}

pub(crate) fn check_unit(unit: &str, member: &str) -> Result<(), CloudWatchError> {
    if !UNITS.contains(&unit) {
        return Err(invalid(format!(
            "The value {unit} for parameter {member} is invalid: it must be one of {}.",
            UNITS.join(", ")
        )));
    }
    Ok(())
}

/// The rows one datum becomes, after AWS's checks.
fn datum_rows(datum: &MetricDatum, member: &str, now: i64) -> Result<Vec<Row>, CloudWatchError> {
    check_name(&datum.metric_name, &format!("{member}.MetricName"), 255)?;
    check_dimensions(&datum.dimensions, &format!("{member}.Dimensions"))?;
    let unit = match &datum.unit {
        Some(unit) => {
            check_unit(unit, &format!("{member}.Unit"))?;
            unit.clone()
        }
        None => "None".to_owned(),
    };
    if let Some(resolution) = datum.storage_resolution {
        if resolution != 1 && resolution != 60 {
            return Err(invalid(format!(
                "The value {resolution} for parameter {member}.StorageResolution is invalid: it must be 1 or 60."
            )));
        }
    }
    let ts_ms = datum.timestamp_ms.unwrap_or(now);
    if ts_ms < now - MAX_AGE_MS {
        return Err(invalid(format!(
            "The parameter {member}.Timestamp must specify a time no more than two weeks in the past."
        )));
    }
    if ts_ms > now + MAX_AHEAD_MS {
        return Err(invalid(format!(
            "The parameter {member}.Timestamp must specify a time no more than two hours in the future."
        )));
    }
    let given = usize::from(datum.value.is_some())
        + usize::from(!datum.values.is_empty())
        + usize::from(datum.statistic_values.is_some());
    if given > 1 {
        return Err(CloudWatchError::InvalidParameterCombination(format!(
            "The parameters {member}.Value, {member}.Values and {member}.StatisticValues are mutually exclusive and you have specified more than one."
        )));
    }
    let row = |count: f64, sum: f64, min: f64, max: f64, value: Option<f64>| Row {
        ts_ms,
        unit: unit.clone(),
        sample_count: count,
        sum,
        minimum: min,
        maximum: max,
        value,
    };
    if let Some(value) = datum.value {
        check_value(value, &format!("{member}.Value"))?;
        return Ok(vec![row(1.0, value, value, value, Some(value))]);
    }
    if let Some(set) = &datum.statistic_values {
        let part = |v: Option<f64>, name: &str| {
            v.ok_or_else(|| {
                CloudWatchError::MissingParameter(format!("{member}.StatisticValues.{name}"))
            })
        };
        let count = part(set.sample_count, "SampleCount")?;
        let sum = part(set.sum, "Sum")?;
        let min = part(set.minimum, "Minimum")?;
        let max = part(set.maximum, "Maximum")?;
        for (v, name) in [
            (count, "SampleCount"),
            (sum, "Sum"),
            (min, "Minimum"),
            (max, "Maximum"),
        ] {
            check_value(v, &format!("{member}.StatisticValues.{name}"))?;
        }
        if count <= 0.0 {
            return Err(invalid(format!(
                "The value {count} for parameter {member}.StatisticValues.SampleCount is invalid: it must be greater than zero."
            )));
        }
        if min > max {
            return Err(invalid(format!(
                "The parameter {member}.StatisticValues.Minimum must be no greater than {member}.StatisticValues.Maximum."
            )));
        }
        return Ok(vec![row(count, sum, min, max, None)]);
    }
    if datum.values.is_empty() {
        return Err(CloudWatchError::InvalidParameterCombination(format!(
            "One of the parameters {member}.Value, {member}.Values or {member}.StatisticValues must be specified."
        )));
    }
    if datum.values.len() > MAX_VALUES {
        return Err(invalid(format!(
            "The collection {member}.Values must not have a size greater than {MAX_VALUES}."
        )));
    }
    if !datum.counts.is_empty() && datum.counts.len() != datum.values.len() {
        return Err(CloudWatchError::InvalidParameterCombination(format!(
            "The parameters {member}.Values and {member}.Counts must be of the same size."
        )));
    }
    let mut rows = Vec::with_capacity(datum.values.len());
    for (i, value) in datum.values.iter().enumerate() {
        check_value(*value, &format!("{member}.Values.member.{}", i + 1))?;
        let count = datum.counts.get(i).copied().unwrap_or(1.0);
        check_value(count, &format!("{member}.Counts.member.{}", i + 1))?;
        if count < 0.0 {
            return Err(invalid(format!(
                "The value {count} for parameter {member}.Counts.member.{} is invalid: counts may not be negative.",
                i + 1
            )));
        }
        if count > 0.0 {
            rows.push(row(count, value * count, *value, *value, Some(*value)));
        }
    }
    Ok(rows)
}

impl CloudWatch {
    /// PutMetricData: checks every datum as AWS does and stores them all, or none.
    pub fn put_metric_data(
        &self,
        namespace: &str,
        data: &[MetricDatum],
    ) -> Result<(), CloudWatchError> {
        self.put(namespace, data, false)
    }

    /// Records the engine's own metrics (`AWS/Lambda`, `AWS/SQS`): the same as PutMetricData,
    /// but `AWS/` namespaces are allowed.
    pub fn record(&self, namespace: &str, data: &[MetricDatum]) -> Result<(), CloudWatchError> {
        self.put(namespace, data, true)
    }

    fn put(
        &self,
        namespace: &str,
        data: &[MetricDatum],
        internal: bool,
    ) -> Result<(), CloudWatchError> {
        check_namespace(namespace, internal)?;
        if data.is_empty() {
            return Err(CloudWatchError::MissingParameter("MetricData".into()));
        }
        if data.len() > MAX_DATA {
            return Err(invalid(format!(
                "The collection MetricData must not have a size greater than {MAX_DATA}."
            )));
        }
        let now = self.now();
        let mut rows = Vec::new();
        for (i, datum) in data.iter().enumerate() {
            let member = format!("MetricData.member.{}", i + 1);
            let metric = MetricId::new(namespace, &datum.metric_name, &datum.dimensions);
            for row in datum_rows(datum, &member, now)? {
                rows.push((metric.clone(), row));
            }
        }
        self.store().write(move |conn| {
            let mut insert = conn.prepare_cached(
                "INSERT INTO cloudwatch_data (metric_id, ts_ms, unit, sample_count, sum, minimum, maximum, value) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?;
            let mut last: Option<(MetricId, i64)> = None;
            for (metric, row) in &rows {
                let id = match &last {
                    Some((m, id)) if m == metric => *id,
                    _ => metric_id_or_insert(conn, metric)?,
                };
                last = Some((metric.clone(), id));
                insert.execute(params![
                    id,
                    row.ts_ms,
                    row.unit,
                    row.sample_count,
                    row.sum,
                    row.minimum,
                    row.maximum,
                    row.value
                ])?;
            }
            Ok::<_, CloudWatchError>(())
        })
    }

    /// GetMetricStatistics: one datapoint per period of `[start, end)` that has data, oldest
    /// first. Periods start at `start_ms` rounded down to the period.
    pub fn get_metric_statistics(
        &self,
        request: &StatisticsRequest,
    ) -> Result<Vec<Datapoint>, CloudWatchError> {
        check_period(request.period_s, "Period")?;
        if request.end_ms <= request.start_ms {
            return Err(invalid(
                "The parameter StartTime must be less than the parameter EndTime.".into(),
            ));
        }
        if request.statistics.is_empty() {
            return Err(CloudWatchError::MissingParameter(
                "Statistics or ExtendedStatistics".into(),
            ));
        }
        if let Some(unit) = &request.unit {
            check_unit(unit, "Unit")?;
        }
        check_dimensions(&request.metric.dimensions, "Dimensions")?;
        let period_ms = request.period_s * 1000;
        let start = request.start_ms - request.start_ms.rem_euclid(period_ms);
        let periods = (request.end_ms - start + period_ms - 1) / period_ms;
        if periods > MAX_DATAPOINTS {
            return Err(CloudWatchError::InvalidParameterCombination(format!(
                "You have requested up to {periods} datapoints, which exceeds the limit of {MAX_DATAPOINTS}. You may reduce the datapoints requested by increasing Period, or decreasing the time range."
            )));
        }
        let percentiles: Vec<Statistic> = request
            .statistics
            .iter()
            .filter(|s| matches!(s, Statistic::Percentile(_)))
            .cloned()
            .collect();
        let metric = request.metric.clone();
        let unit = request.unit.clone();
        let end = request.end_ms;
        self.store().read(move |conn| {
            aggregate(
                conn,
                &metric,
                unit.as_deref(),
                start,
                end,
                period_ms,
                &percentiles,
            )
        })
    }

    /// GetMetricData for `MetricStat` queries: per query, the periods with data in
    /// `[start, end)`, newest first unless `ascending`.
    pub fn get_metric_data(
        &self,
        queries: &[MetricQuery],
        start_ms: i64,
        end_ms: i64,
        ascending: bool,
    ) -> Result<Vec<MetricQueryResult>, CloudWatchError> {
        if queries.is_empty() {
            return Err(CloudWatchError::MissingParameter(
                "MetricDataQueries".into(),
            ));
        }
        if end_ms <= start_ms {
            return Err(invalid(
                "The parameter StartTime must be less than the parameter EndTime.".into(),
            ));
        }
        let mut results = Vec::new();
        for (i, query) in queries.iter().enumerate() {
            let member = format!("MetricDataQueries.member.{}", i + 1);
            if query.expression.is_some() {
                return Err(invalid(format!(
                    "{member}.Expression: metric math expressions are not supported by the local engine; use MetricStat queries."
                )));
            }
            let Some(metric) = &query.metric else {
                return Err(CloudWatchError::MissingParameter(format!(
                    "{member}.MetricStat"
                )));
            };
            let statistic = Statistic::parse(&query.stat).ok_or_else(|| {
                invalid(format!(
                    "The value {} for parameter {member}.MetricStat.Stat is invalid.",
                    query.stat
                ))
            })?;
            let points = self.get_metric_statistics(&StatisticsRequest {
                metric: metric.clone(),
                start_ms,
                end_ms,
                period_s: query.period_s,
                statistics: vec![statistic.clone()],
                unit: query.unit.clone(),
            })?;
            if !query.return_data {
                continue;
            }
            let mut pairs: Vec<(i64, f64)> = points
                .iter()
                .filter_map(|p| p.get(&statistic).map(|v| (p.timestamp_ms, v)))
                .collect();
            if !ascending {
                pairs.reverse();
            }
            results.push(MetricQueryResult {
                id: query.id.clone(),
                label: query.label.clone().unwrap_or_else(|| metric.name.clone()),
                timestamps_ms: pairs.iter().map(|p| p.0).collect(),
                values: pairs.iter().map(|p| p.1).collect(),
            });
        }
        Ok(results)
    }

    /// ListMetrics: metrics with data, filtered by namespace, name and dimensions (a dimension
    /// filter without value matches any value of that dimension).
    pub fn list_metrics(
        &self,
        namespace: Option<&str>,
        metric_name: Option<&str>,
        dimensions: &[(String, Option<String>)],
    ) -> Result<Vec<MetricId>, CloudWatchError> {
        let all = self.store().read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT namespace, name, dimensions FROM cloudwatch_metrics ORDER BY namespace, name, dimensions",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok(MetricId {
                    namespace: r.get(0)?,
                    name: r.get(1)?,
                    dimensions: parse_canonical(&r.get::<_, String>(2)?),
                })
            })?;
            Ok::<_, CloudWatchError>(rows.collect::<Result<Vec<_>, _>>()?)
        })?;
        Ok(all
            .into_iter()
            .filter(|m| namespace.is_none_or(|n| n == m.namespace))
            .filter(|m| metric_name.is_none_or(|n| n == m.name))
            .filter(|m| {
                dimensions.iter().all(|(name, value)| {
                    m.dimensions
                        .iter()
                        .any(|d| d.name == *name && value.as_ref().is_none_or(|v| *v == d.value))
                })
            })
            .collect())
    }
}

/// AWS's periods: 1, 5, 10, 30, or a multiple of 60 seconds.
pub(crate) fn check_period(period_s: i64, member: &str) -> Result<(), CloudWatchError> {
    if period_s <= 0 || !(matches!(period_s, 1 | 5 | 10 | 30) || period_s % 60 == 0) {
        return Err(invalid(format!(
            "The parameter {member} must be 1, 5, 10, 30, or a multiple of 60; it is {period_s}."
        )));
    }
    Ok(())
}

fn metric_id_or_insert(conn: &Connection, metric: &MetricId) -> Result<i64, CloudWatchError> {
    let dims = metric.canonical_dimensions();
    let found: Option<i64> = conn
        .prepare_cached(
            "SELECT id FROM cloudwatch_metrics WHERE namespace = ?1 AND name = ?2 AND dimensions = ?3",
        )?
        .query_row(params![metric.namespace, metric.name, dims], |r| r.get(0))
        .optional()?;
    if let Some(id) = found {
        return Ok(id);
    }
    conn.prepare_cached(
        "INSERT INTO cloudwatch_metrics (namespace, name, dimensions) VALUES (?1, ?2, ?3)",
    )?
    .execute(params![metric.namespace, metric.name, dims])?;
    Ok(conn.last_insert_rowid())
}

/// The datapoints of `metric` in `[start, end)`, by periods of `period_ms` starting at `start`.
pub(crate) fn aggregate(
    conn: &Connection,
    metric: &MetricId,
    unit: Option<&str>,
    start: i64,
    end: i64,
    period_ms: i64,
    percentiles: &[Statistic],
) -> Result<Vec<Datapoint>, CloudWatchError> {
    let id: Option<i64> = conn
        .prepare_cached(
            "SELECT id FROM cloudwatch_metrics WHERE namespace = ?1 AND name = ?2 AND dimensions = ?3",
        )?
        .query_row(
            params![metric.namespace, metric.name, metric.canonical_dimensions()],
            |r| r.get(0),
        )
        .optional()?;
    let Some(id) = id else {
        return Ok(Vec::new());
    };
    let mut stmt = conn.prepare_cached(
        "SELECT (ts_ms - ?2) / ?4 AS bucket, SUM(sample_count), SUM(sum), MIN(minimum), MAX(maximum), MIN(unit)
         FROM cloudwatch_data
         WHERE metric_id = ?1 AND ts_ms >= ?2 AND ts_ms < ?3 AND (?5 IS NULL OR unit = ?5)
         GROUP BY bucket ORDER BY bucket",
    )?;
    let mut points = stmt
        .query_map(params![id, start, end, period_ms, unit], |r| {
            Ok(Datapoint {
                timestamp_ms: start + r.get::<_, i64>(0)? * period_ms,
                sample_count: r.get(1)?,
                sum: r.get(2)?,
                minimum: r.get(3)?,
                maximum: r.get(4)?,
                percentiles: Vec::new(),
                unit: r.get(5)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    if percentiles.is_empty() || points.is_empty() {
        return Ok(points);
    }
    let mut stmt = conn.prepare_cached(
        "SELECT (ts_ms - ?2) / ?4 AS bucket, value, sample_count FROM cloudwatch_data
         WHERE metric_id = ?1 AND ts_ms >= ?2 AND ts_ms < ?3 AND (?5 IS NULL OR unit = ?5) AND value IS NOT NULL
         ORDER BY bucket, value",
    )?;
    let values = stmt
        .query_map(params![id, start, end, period_ms, unit], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, f64>(1)?,
                r.get::<_, f64>(2)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    for point in &mut points {
        let bucket = (point.timestamp_ms - start) / period_ms;
        let weighted: Vec<(f64, f64)> = values
            .iter()
            .filter(|v| v.0 == bucket)
            .map(|v| (v.1, v.2))
            .collect();
        for p in percentiles {
            if let Statistic::Percentile(q) = p {
                if let Some(v) = percentile(&weighted, *q) {
                    point.percentiles.push((p.name(), v));
                }
            }
        }
    }
    Ok(points)
}

/// The nearest-rank percentile `q` (0 to 100) of values sorted ascending with their counts.
fn percentile(sorted: &[(f64, f64)], q: f64) -> Option<f64> {
    let total: f64 = sorted.iter().map(|v| v.1).sum();
    if total <= 0.0 {
        return None;
    }
    let rank = (q / 100.0 * total).ceil().max(1.0);
    let mut seen = 0.0;
    for (value, count) in sorted {
        seen += count;
        if seen >= rank {
            return Some(*value);
        }
    }
    sorted.last().map(|v| v.0)
}
