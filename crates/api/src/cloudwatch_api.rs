//! CloudWatch over the wire, in the three protocols its clients speak, plus the query-protocol
//! helpers SNS shares.
//!
//! The CloudWatch model lists `smithy-rpc-v2-cbor`, `json` and `query`: the Rust SDK sends CBOR
//! (`POST /service/GraniteServiceVersion20100801/operation/<Op>`, `smithy-protocol: rpc-v2-cbor`),
//! the AWS CLI and boto3 send AWS JSON 1.0 (`X-Amz-Target: GraniteServiceVersion20100801.<Op>`),
//! and older clients the query protocol (`Action=<Op>` form, XML out). All three are rebuilt into
//! one JSON request shape (timestamps as epoch seconds, or ISO 8601 text from forms) and answered
//! from one JSON result, written back as CBOR (timestamps tagged), JSON, or XML. Errors carry the
//! JSON shape name (`InvalidParameterValueException`) and the query code (`InvalidParameterValue`,
//! sent in `x-amzn-query-error` as the model's `awsQueryCompatible` trait asks).
//!
//! Metric math expressions in GetMetricData are not supported (refused with
//! InvalidParameterValue), nor composite alarms, anomaly detectors, dashboards or PutMetricAlarm:
//! alarms come from the deployed templates.

use std::sync::Arc;

use base64::Engine as _;
use bytes::Bytes;
use cloudwatch::{
    AlarmState, AlarmStatus, CloudWatchError, Dimension, HistoryItemType, MetricDatum, MetricId,
    MetricQuery, Statistic, StatisticSet, StatisticsRequest,
};
use http_body_util::Full;
use hyper::http::request::Parts;
use hyper::{Response, StatusCode};
use serde_json::{json, Map, Value};

use crate::error::{xml_escape, ApiError, Protocol};
use crate::identity::SigV4;
use crate::object;
use crate::server::{blocking, json_response, xml_response, App, RequestCtx};
use crate::sqs_query;
use crate::wire::{top, Obj, WireError};

/// The CBOR path prefix of the Rust SDK's requests.
const CBOR_PREFIX: &str = "/service/GraniteServiceVersion20100801/operation/";
const XMLNS: &str = "http://monitoring.amazonaws.com/doc/2010-08-01/";
/// Result members holding timestamps (epoch seconds in JSON, tag 1 in CBOR, ISO text in XML).
const TIMESTAMP_KEYS: &[&str] = &[
    "Timestamp",
    "Timestamps",
    "StateUpdatedTimestamp",
    "AlarmConfigurationUpdatedTimestamp",
    "StateTransitionedTimestamp",
];

/// Routes the requests without `X-Amz-Target` that are not SQS: the CBOR path, and query
/// requests signed for `monitoring` or `sns`.
pub fn route(parts: &Parts) -> Option<(Protocol, Option<String>)> {
    if let Some(operation) = parts.uri.path().strip_prefix(CBOR_PREFIX) {
        return Some((Protocol::CloudWatchCbor, Some(operation.to_owned())));
    }
    let scope = SigV4::from_request(parts)?.scope;
    match scope.split('/').nth(2)? {
        "monitoring" => Some((Protocol::CloudWatchQuery, None)),
        "sns" => Some((Protocol::SnsQuery, None)),
        _ => None,
    }
}

/// The request of any CloudWatch protocol as `(operation, JSON request, lenient)`.
pub fn decode_request(
    protocol: Protocol,
    operation: Option<&str>,
    parts: &Parts,
    body: &[u8],
) -> Result<(String, Value, bool), ApiError> {
    match protocol {
        Protocol::CloudWatchCbor => Ok((
            operation.unwrap_or_default().to_owned(),
            cbor_to_json(body)?,
            false,
        )),
        Protocol::CloudWatchQuery | Protocol::SnsQuery => {
            let params = sqs_query::parse_params(parts.uri.query(), body)?;
            let action = params
                .iter()
                .find(|(k, _)| k == "Action")
                .map(|(_, v)| v.clone())
                .ok_or_else(|| {
                    ApiError::client(
                        "MissingAction",
                        "The request must contain the parameter Action",
                    )
                })?;
            Ok((action, Value::Object(query_to_json(&params)), true))
        }
        _ => {
            let request = if body.iter().all(u8::is_ascii_whitespace) {
                Value::Object(Map::new())
            } else {
                serde_json::from_slice(body).map_err(|e| {
                    ApiError::serialization(format!("The request body is not valid JSON: {e}"))
                })?
            };
            Ok((operation.unwrap_or_default().to_owned(), request, false))
        }
    }
}

/// A CloudWatch request in any of its protocols.
pub async fn handle(
    app: &Arc<App>,
    ctx: &RequestCtx,
    protocol: Protocol,
    operation: Option<String>,
    parts: &Parts,
    body: Bytes,
) -> Result<Response<Full<Bytes>>, ApiError> {
    let (operation, request, lenient) =
        decode_request(protocol, operation.as_deref(), parts, &body)?;
    let cw = app.services.cloudwatch.clone();
    let op = operation.clone();
    let result = blocking(move || dispatch(&cw, &op, &request, lenient)).await?;
    Ok(match protocol {
        Protocol::CloudWatchCbor => cbor_response(&result, &ctx.request_id),
        Protocol::CloudWatchQuery => xml_response(
            query_xml(&operation, &result, &ctx.request_id, XMLNS),
            &ctx.request_id,
        ),
        _ => json_response(&result, &ctx.request_id),
    })
}

fn wire_error(e: WireError) -> ApiError {
    match e {
        WireError::Missing(_) => {
            let mut error = ApiError::client("MissingRequiredParameterException", e.message());
            error.query_code = Some("MissingParameter".into());
            error
        }
        WireError::Type(..) => {
            let mut error = ApiError::client("InvalidParameterValueException", e.message());
            error.query_code = Some("InvalidParameterValue".into());
            error
        }
    }
}

impl From<CloudWatchError> for ApiError {
    fn from(e: CloudWatchError) -> ApiError {
        let shape = match &e {
            CloudWatchError::InvalidParameterValue(_) => "InvalidParameterValueException",
            CloudWatchError::InvalidParameterCombination(_) => {
                "InvalidParameterCombinationException"
            }
            CloudWatchError::MissingParameter(_) => "MissingRequiredParameterException",
            CloudWatchError::ResourceNotFound(_) => "ResourceNotFound",
            CloudWatchError::InvalidFormat(_) => "InvalidFormatFault",
            CloudWatchError::Store(_) => "InternalServiceFault",
        };
        let mut error = if e.is_sender_fault() {
            ApiError::client(shape, e.to_string())
        } else {
            tracing::error!(error = %e, "cloudwatch engine failure");
            let mut error = ApiError::internal(e.to_string());
            error.code = shape.to_owned();
            error
        };
        if e.code() != shape {
            error.query_code = Some(e.code().to_owned());
        }
        if matches!(e, CloudWatchError::ResourceNotFound(_)) {
            error.status = StatusCode::NOT_FOUND;
        }
        error
    }
}

/// A number member: JSON numbers, or text in forms.
fn f64_member(obj: &Obj<'_>, key: &str) -> Result<Option<f64>, WireError> {
    match obj.map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_f64()),
        Some(Value::String(s)) if obj.lenient => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| WireError::Type(key.into(), "a number")),
        Some(_) => Err(WireError::Type(key.into(), "a number")),
    }
}

/// A timestamp member as epoch ms: epoch seconds (JSON, CBOR) or ISO 8601 text (forms).
fn time_member(obj: &Obj<'_>, key: &str) -> Result<Option<i64>, WireError> {
    match obj.map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => Ok(n.as_f64().map(|s| (s * 1000.0).round() as i64)),
        Some(Value::String(s)) => cloudwatch::time::parse(s)
            .map(Some)
            .ok_or_else(|| WireError::Type(key.into(), "a timestamp")),
        Some(_) => Err(WireError::Type(key.into(), "a timestamp")),
    }
}

fn req_time(obj: &Obj<'_>, key: &str) -> Result<i64, WireError> {
    time_member(obj, key)?.ok_or_else(|| WireError::Missing(key.into()))
}

fn f64_list(obj: &Obj<'_>, key: &str) -> Result<Vec<f64>, WireError> {
    obj.list(key)?
        .iter()
        .map(|v| match v {
            Value::Number(n) => n
                .as_f64()
                .ok_or_else(|| WireError::Type(format!("{key}[]"), "a number")),
            Value::String(s) if obj.lenient => s
                .trim()
                .parse()
                .map_err(|_| WireError::Type(format!("{key}[]"), "a number")),
            _ => Err(WireError::Type(format!("{key}[]"), "a number")),
        })
        .collect()
}

fn dimensions(obj: &Obj<'_>, key: &str) -> Result<Vec<Dimension>, WireError> {
    obj.objs(key)?
        .iter()
        .map(|d| Ok(Dimension::new(d.req_str("Name")?, d.req_str("Value")?)))
        .collect()
}

fn dimensions_json(dims: &[Dimension]) -> Value {
    dims.iter()
        .map(|d| json!({"Name": d.name, "Value": d.value}))
        .collect()
}

fn secs(ms: i64) -> Value {
    json!(ms as f64 / 1000.0)
}

fn dispatch(
    cw: &cloudwatch::CloudWatch,
    operation: &str,
    request: &Value,
    lenient: bool,
) -> Result<Value, ApiError> {
    let r = top(request, lenient).map_err(wire_error)?;
    match operation {
        "PutMetricData" => {
            let namespace = r.req_str("Namespace").map_err(wire_error)?;
            let data = r
                .objs("MetricData")
                .map_err(wire_error)?
                .iter()
                .map(|d| {
                    let statistic_values = d
                        .obj("StatisticValues")?
                        .map(|s| {
                            Ok::<_, WireError>(StatisticSet {
                                sample_count: f64_member(&s, "SampleCount")?,
                                sum: f64_member(&s, "Sum")?,
                                minimum: f64_member(&s, "Minimum")?,
                                maximum: f64_member(&s, "Maximum")?,
                            })
                        })
                        .transpose()?;
                    Ok(MetricDatum {
                        metric_name: d.req_str("MetricName")?.to_owned(),
                        dimensions: dimensions(d, "Dimensions")?,
                        value: f64_member(d, "Value")?,
                        values: f64_list(d, "Values")?,
                        counts: f64_list(d, "Counts")?,
                        statistic_values,
                        unit: d.string("Unit")?,
                        timestamp_ms: time_member(d, "Timestamp")?,
                        storage_resolution: d.i64("StorageResolution")?,
                    })
                })
                .collect::<Result<Vec<_>, WireError>>()
                .map_err(wire_error)?;
            cw.put_metric_data(namespace, &data)?;
            Ok(json!({}))
        }
        "GetMetricStatistics" => {
            let metric = MetricId::new(
                r.req_str("Namespace").map_err(wire_error)?,
                r.req_str("MetricName").map_err(wire_error)?,
                &dimensions(&r, "Dimensions").map_err(wire_error)?,
            );
            let mut statistics = Vec::new();
            for name in r.str_list("Statistics").map_err(wire_error)? {
                match Statistic::parse(&name) {
                    Some(s) if !s.is_extended() => statistics.push(s),
                    _ => {
                        return Err(CloudWatchError::InvalidParameterValue(format!(
                            "The value {name} for parameter Statistics is invalid."
                        ))
                        .into())
                    }
                }
            }
            for name in r.str_list("ExtendedStatistics").map_err(wire_error)? {
                match Statistic::parse(&name) {
                    Some(s) if s.is_extended() => statistics.push(s),
                    _ => {
                        return Err(CloudWatchError::InvalidParameterValue(format!(
                            "The value {name} for parameter ExtendedStatistics is invalid."
                        ))
                        .into())
                    }
                }
            }
            let request = StatisticsRequest {
                metric: metric.clone(),
                start_ms: req_time(&r, "StartTime").map_err(wire_error)?,
                end_ms: req_time(&r, "EndTime").map_err(wire_error)?,
                period_s: r
                    .i64("Period")
                    .map_err(wire_error)?
                    .ok_or_else(|| wire_error(WireError::Missing("Period".into())))?,
                statistics: statistics.clone(),
                unit: r.string("Unit").map_err(wire_error)?,
            };
            let points = cw.get_metric_statistics(&request)?;
            let datapoints: Vec<Value> = points
                .iter()
                .map(|p| {
                    let mut d = Map::new();
                    d.insert("Timestamp".into(), secs(p.timestamp_ms));
                    let mut extended = Map::new();
                    for s in &statistics {
                        if let Some(v) = p.get(s) {
                            if s.is_extended() {
                                extended.insert(s.name(), json!(v));
                            } else {
                                d.insert(s.name(), json!(v));
                            }
                        }
                    }
                    d.insert("Unit".into(), p.unit.clone().into());
                    if !extended.is_empty() {
                        d.insert("ExtendedStatistics".into(), Value::Object(extended));
                    }
                    Value::Object(d)
                })
                .collect();
            Ok(json!({"Label": metric.name, "Datapoints": datapoints}))
        }
        "GetMetricData" => {
            let start = req_time(&r, "StartTime").map_err(wire_error)?;
            let end = req_time(&r, "EndTime").map_err(wire_error)?;
            let ascending = r.str("ScanBy").map_err(wire_error)? == Some("TimestampAscending");
            let queries = r
                .objs("MetricDataQueries")
                .map_err(wire_error)?
                .iter()
                .map(|q| {
                    let stat = q.obj("MetricStat")?;
                    let (metric, period, stat_name, unit) = match stat {
                        Some(s) => {
                            let m = s.req_obj("Metric")?;
                            (
                                Some(MetricId::new(
                                    m.req_str("Namespace")?,
                                    m.req_str("MetricName")?,
                                    &dimensions(&m, "Dimensions")?,
                                )),
                                s.i64("Period")?.unwrap_or(0),
                                s.req_str("Stat")?.to_owned(),
                                s.string("Unit")?,
                            )
                        }
                        None => (None, q.i64("Period")?.unwrap_or(0), String::new(), None),
                    };
                    Ok(MetricQuery {
                        id: q.req_str("Id")?.to_owned(),
                        label: q.string("Label")?,
                        metric,
                        period_s: period,
                        stat: stat_name,
                        unit,
                        expression: q.string("Expression")?,
                        return_data: q.bool("ReturnData")?.unwrap_or(true),
                    })
                })
                .collect::<Result<Vec<_>, WireError>>()
                .map_err(wire_error)?;
            let results = cw.get_metric_data(&queries, start, end, ascending)?;
            let results: Vec<Value> = results
                .iter()
                .map(|m| {
                    json!({
                        "Id": m.id,
                        "Label": m.label,
                        "Timestamps": m.timestamps_ms.iter().map(|t| secs(*t)).collect::<Vec<_>>(),
                        "Values": m.values,
                        "StatusCode": "Complete",
                    })
                })
                .collect();
            Ok(json!({"MetricDataResults": results, "Messages": []}))
        }
        "ListMetrics" => {
            let filters = r
                .objs("Dimensions")
                .map_err(wire_error)?
                .iter()
                .map(|d| Ok((d.req_str("Name")?.to_owned(), d.string("Value")?)))
                .collect::<Result<Vec<_>, WireError>>()
                .map_err(wire_error)?;
            let metrics = cw.list_metrics(
                r.str("Namespace").map_err(wire_error)?,
                r.str("MetricName").map_err(wire_error)?,
                &filters,
            )?;
            let metrics: Vec<Value> = metrics
                .iter()
                .map(|m| {
                    json!({"Namespace": m.namespace, "MetricName": m.name, "Dimensions": dimensions_json(&m.dimensions)})
                })
                .collect();
            Ok(json!({"Metrics": metrics}))
        }
        "DescribeAlarms" => {
            let state = match r.str("StateValue").map_err(wire_error)? {
                None => None,
                Some(s) => Some(AlarmState::parse(s).ok_or_else(|| {
                    CloudWatchError::InvalidParameterValue(format!(
                        "The value {s} for parameter StateValue is invalid."
                    ))
                })?),
            };
            let alarms = cw.describe_alarms(
                &r.str_list("AlarmNames").map_err(wire_error)?,
                r.str("AlarmNamePrefix").map_err(wire_error)?,
                state,
            )?;
            let alarms: Vec<Value> = alarms.iter().map(alarm_json).collect();
            Ok(json!({"MetricAlarms": alarms, "CompositeAlarms": []}))
        }
        "DescribeAlarmHistory" => {
            let item_type = match r.str("HistoryItemType").map_err(wire_error)? {
                None => None,
                Some(s) => Some(HistoryItemType::parse(s).ok_or_else(|| {
                    CloudWatchError::InvalidParameterValue(format!(
                        "The value {s} for parameter HistoryItemType is invalid."
                    ))
                })?),
            };
            let mut items = cw.alarm_history(
                r.str("AlarmName").map_err(wire_error)?,
                item_type,
                time_member(&r, "StartDate").map_err(wire_error)?,
                time_member(&r, "EndDate").map_err(wire_error)?,
            )?;
            if r.str("ScanBy").map_err(wire_error)? == Some("TimestampAscending") {
                items.reverse();
            }
            if let Some(max) = r.usize("MaxRecords").map_err(wire_error)? {
                items.truncate(max);
            }
            let items: Vec<Value> = items
                .iter()
                .map(|h| {
                    json!({
                        "AlarmName": h.alarm_name,
                        "AlarmType": "MetricAlarm",
                        "Timestamp": secs(h.timestamp_ms),
                        "HistoryItemType": h.item_type.name(),
                        "HistorySummary": h.summary,
                        "HistoryData": h.data,
                    })
                })
                .collect();
            Ok(json!({"AlarmHistoryItems": items}))
        }
        "SetAlarmState" => {
            let name = r.req_str("AlarmName").map_err(wire_error)?;
            let value = r.req_str("StateValue").map_err(wire_error)?;
            let state = AlarmState::parse(value).ok_or_else(|| {
                CloudWatchError::InvalidParameterValue(format!(
                    "The value {value} for parameter StateValue is invalid."
                ))
            })?;
            cw.set_alarm_state(
                name,
                state,
                r.req_str("StateReason").map_err(wire_error)?,
                r.str("StateReasonData").map_err(wire_error)?,
            )?;
            Ok(json!({}))
        }
        other => {
            let mut error = ApiError::client(
                "UnknownOperationException",
                format!("The operation `{other}` is not supported by the local CloudWatch"),
            );
            error.query_code = Some("InvalidAction".into());
            Err(error)
        }
    }
}

fn alarm_json(a: &AlarmStatus) -> Value {
    let s = &a.spec;
    let mut alarm = object! {
        "AlarmName" => s.name.clone(),
        "AlarmArn" => a.arn.clone(),
        "AlarmDescription" => s.description.clone(),
        "AlarmConfigurationUpdatedTimestamp" => secs(a.config_updated_ms),
        "ActionsEnabled" => s.actions_enabled,
        "OKActions" => s.ok_actions.clone(),
        "AlarmActions" => s.alarm_actions.clone(),
        "InsufficientDataActions" => s.insufficient_data_actions.clone(),
        "StateValue" => a.state.name(),
        "StateReason" => a.reason.clone(),
        "StateReasonData" => a.reason_data.clone(),
        "StateUpdatedTimestamp" => secs(a.state_updated_ms),
        "MetricName" => s.metric.name.clone(),
        "Namespace" => s.metric.namespace.clone(),
        "Dimensions" => dimensions_json(&s.metric.dimensions),
        "Period" => s.period_s,
        "Unit" => s.unit.clone(),
        "EvaluationPeriods" => s.evaluation_periods,
        "DatapointsToAlarm" => s.datapoints_to_alarm,
        "Threshold" => s.threshold,
        "ComparisonOperator" => s.comparison.name(),
        "TreatMissingData" => s.treat_missing_data.name(),
        "StateTransitionedTimestamp" => secs(a.state_updated_ms),
    };
    let key = if s.statistic.is_extended() {
        "ExtendedStatistic"
    } else {
        "Statistic"
    };
    alarm[key] = s.statistic.name().into();
    alarm
}

// ---- CBOR -------------------------------------------------------------------------------------

fn cbor_to_json(body: &[u8]) -> Result<Value, ApiError> {
    if body.is_empty() {
        return Ok(Value::Object(Map::new()));
    }
    let value: ciborium::Value = ciborium::from_reader(body)
        .map_err(|e| ApiError::serialization(format!("The request body is not valid CBOR: {e}")))?;
    from_cbor(value)
}

fn from_cbor(value: ciborium::Value) -> Result<Value, ApiError> {
    use ciborium::Value as C;
    Ok(match value {
        C::Integer(i) => {
            let i = i128::from(i);
            if let Ok(v) = i64::try_from(i) {
                json!(v)
            } else if let Ok(v) = u64::try_from(i) {
                json!(v)
            } else {
                json!(i as f64)
            }
        }
        C::Float(f) => serde_json::Number::from_f64(f)
            .map(Value::Number)
            .ok_or_else(|| ApiError::serialization("A CBOR number is not finite"))?,
        C::Text(s) => Value::String(s),
        C::Bytes(b) => Value::String(base64::engine::general_purpose::STANDARD.encode(b)),
        C::Bool(b) => Value::Bool(b),
        C::Null => Value::Null,
        // Tag 1 is an epoch-seconds timestamp: kept as its number. Other tags are read through.
        C::Tag(_, inner) => from_cbor(*inner)?,
        C::Array(items) => {
            Value::Array(items.into_iter().map(from_cbor).collect::<Result<_, _>>()?)
        }
        C::Map(entries) => {
            let mut map = Map::new();
            for (k, v) in entries {
                let C::Text(k) = k else {
                    return Err(ApiError::serialization("A CBOR map key is not text"));
                };
                map.insert(k, from_cbor(v)?);
            }
            Value::Object(map)
        }
        _ => return Err(ApiError::serialization("Unsupported CBOR value")),
    })
}

fn to_cbor(value: &Value, timestamp: bool) -> ciborium::Value {
    use ciborium::Value as C;
    match value {
        Value::Null => C::Null,
        Value::Bool(b) => C::Bool(*b),
        Value::Number(n) if timestamp => C::Tag(1, Box::new(C::Float(n.as_f64().unwrap_or(0.0)))),
        Value::Number(n) => match (n.as_i64(), n.is_f64()) {
            (Some(i), false) => C::Integer(i.into()),
            _ => C::Float(n.as_f64().unwrap_or(0.0)),
        },
        Value::String(s) => C::Text(s.clone()),
        Value::Array(items) => C::Array(items.iter().map(|v| to_cbor(v, timestamp)).collect()),
        Value::Object(map) => C::Map(
            map.iter()
                .map(|(k, v)| {
                    (
                        C::Text(k.clone()),
                        to_cbor(v, TIMESTAMP_KEYS.contains(&k.as_str())),
                    )
                })
                .collect(),
        ),
    }
}

fn cbor_bytes(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = ciborium::into_writer(&to_cbor(value, false), &mut out);
    out
}

fn cbor_response(value: &Value, request_id: &str) -> Response<Full<Bytes>> {
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/cbor")
        .header("smithy-protocol", "rpc-v2-cbor")
        .header("x-amzn-RequestId", request_id)
        .body(Full::new(Bytes::from(cbor_bytes(value))))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

/// The error of a CloudWatch or SNS request in its protocol's shape.
pub fn render_error(
    error: &ApiError,
    protocol: Protocol,
    request_id: &str,
) -> Response<Full<Bytes>> {
    let fault = if error.sender_fault {
        "Sender"
    } else {
        "Receiver"
    };
    let query_code = error.query_code.as_deref().unwrap_or(&error.code);
    let builder = Response::builder()
        .status(error.status)
        .header("x-amzn-RequestId", request_id)
        .header("x-amzn-query-error", format!("{query_code};{fault}"));
    let response = match protocol {
        Protocol::CloudWatchCbor => {
            let body = json!({
                "__type": format!("com.amazonaws.cloudwatch#{}", error.code),
                "message": error.message,
            });
            builder
                .header("content-type", "application/cbor")
                .header("smithy-protocol", "rpc-v2-cbor")
                .body(Full::new(Bytes::from(cbor_bytes(&body))))
        }
        Protocol::CloudWatchJson => {
            let body = json!({
                "__type": format!("com.amazonaws.cloudwatch#{}", error.code),
                "message": error.message,
            });
            builder
                .header("content-type", "application/x-amz-json-1.0")
                .body(Full::new(Bytes::from(body.to_string())))
        }
        _ => {
            let xmlns = if protocol == Protocol::SnsQuery {
                crate::sns_api::XMLNS
            } else {
                XMLNS
            };
            let body = format!(
                "<ErrorResponse xmlns=\"{xmlns}\"><Error><Type>{fault}</Type><Code>{}</Code><Message>{}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>",
                xml_escape(query_code),
                xml_escape(&error.message)
            );
            builder
                .header("content-type", "text/xml")
                .body(Full::new(Bytes::from(body)))
        }
    };
    response.unwrap_or_else(|_| Response::new(Full::new(Bytes::from_static(b"internal error"))))
}

// ---- The query protocol of CloudWatch and SNS ---------------------------------------------------

/// Rebuilds form parameters into the JSON request shape: `A.member.N.B` becomes a list `A` of
/// objects or values, `A.entry.N.key` a list of entry objects (callers turn those into maps),
/// `A.B` an object; every scalar stays a string.
pub fn query_to_json(params: &[(String, String)]) -> Map<String, Value> {
    let mut root = Map::new();
    for (key, value) in params {
        if key == "Action" || key == "Version" {
            continue;
        }
        let segments: Vec<&str> = key.split('.').collect();
        insert(&mut root, &segments, value);
    }
    let mut value = Value::Object(root);
    listify(&mut value);
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

fn insert(map: &mut Map<String, Value>, segments: &[&str], value: &str) {
    match segments {
        [] => {}
        [last] => {
            map.insert((*last).to_owned(), Value::String(value.to_owned()));
        }
        [first, rest @ ..] => {
            let child = map
                .entry((*first).to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            if !child.is_object() {
                *child = Value::Object(Map::new());
            }
            if let Value::Object(child) = child {
                insert(child, rest, value);
            }
        }
    }
}

/// Turns `{"member": {"1": x, "2": y}}` (or `entry`) into `[x, y]`, everywhere.
fn listify(value: &mut Value) {
    let Value::Object(map) = value else {
        if let Value::Array(items) = value {
            items.iter_mut().for_each(listify);
        }
        return;
    };
    for child in map.values_mut() {
        listify(child);
    }
    if map.len() == 1 {
        let (key, inner) = map
            .iter()
            .next()
            .map(|(k, v)| (k.clone(), v.clone()))
            .unwrap_or_default();
        if key == "member" || key == "entry" {
            if let Value::Object(indexed) = inner {
                let mut items: Vec<(u64, Value)> = indexed
                    .into_iter()
                    .filter_map(|(i, v)| i.parse().ok().map(|i| (i, v)))
                    .collect();
                items.sort_by_key(|(i, _)| *i);
                *value = Value::Array(items.into_iter().map(|(_, v)| v).collect());
            }
        }
    }
}

/// A JSON result as the query protocol's XML: lists as `<member>` elements, timestamps in
/// ISO 8601.
pub fn query_xml(operation: &str, result: &Value, request_id: &str, xmlns: &str) -> String {
    let mut out = format!(
        "<?xml version=\"1.0\"?><{operation}Response xmlns=\"{xmlns}\"><{operation}Result>"
    );
    if let Value::Object(map) = result {
        for (k, v) in map {
            xml_value(&mut out, k, v, TIMESTAMP_KEYS.contains(&k.as_str()));
        }
    }
    out.push_str(&format!(
        "</{operation}Result><ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></{operation}Response>"
    ));
    out
}

fn xml_value(out: &mut String, name: &str, value: &Value, timestamp: bool) {
    match value {
        Value::Null => {}
        Value::Object(map) => {
            out.push_str(&format!("<{name}>"));
            for (k, v) in map {
                xml_value(out, k, v, TIMESTAMP_KEYS.contains(&k.as_str()));
            }
            out.push_str(&format!("</{name}>"));
        }
        Value::Array(items) => {
            out.push_str(&format!("<{name}>"));
            for item in items {
                xml_value(out, "member", item, timestamp);
            }
            out.push_str(&format!("</{name}>"));
        }
        Value::Number(n) if timestamp => {
            let ms = (n.as_f64().unwrap_or(0.0) * 1000.0).round() as i64;
            out.push_str(&format!("<{name}>{}</{name}>", cloudwatch::time::iso(ms)));
        }
        Value::String(s) => out.push_str(&format!("<{name}>{}</{name}>", xml_escape(s))),
        other => out.push_str(&format!("<{name}>{other}</{name}>")),
    }
}
