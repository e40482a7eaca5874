//! The events a trigger hands to a function, in AWS's JSON shapes: the EventBridge scheduled
//! event, the SQS batch and the DynamoDB stream batch (`lambda-runtime.md` section 3), and the
//! time formats they use. Only this module writes event JSON.

use std::collections::BTreeMap;

use base64::Engine;
use dynamodb::{AttributeValue, StreamRecord};
use serde_json::{json, Map, Value};

/// The scheduled event of a rule firing at `time_ms`.
pub fn scheduled(account: &str, region: &str, rule_arn: &str, time_ms: i64) -> Value {
    json!({
        "version": "0",
        "id": uuid::Uuid::new_v4().to_string(),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account,
        "time": iso_seconds(time_ms),
        "region": region,
        "resources": [rule_arn],
        "detail": {}
    })
}

/// The SQS batch event of `messages` received from `queue_arn`.
pub fn sqs_batch(messages: &[sqs::Message], queue_arn: &str, region: &str) -> Value {
    let records: Vec<Value> = messages
        .iter()
        .map(|m| {
            let attributes: Map<String, Value> = m
                .attributes
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect();
            let message_attributes: Map<String, Value> = m
                .message_attributes
                .iter()
                .map(|(name, a)| {
                    let mut v = Map::new();
                    if let Some(s) = &a.string_value {
                        v.insert("stringValue".into(), Value::String(s.clone()));
                    }
                    if let Some(b) = &a.binary_value {
                        v.insert(
                            "binaryValue".into(),
                            Value::String(base64::engine::general_purpose::STANDARD.encode(b)),
                        );
                    }
                    v.insert("stringListValues".into(), json!([]));
                    v.insert("binaryListValues".into(), json!([]));
                    v.insert("dataType".into(), Value::String(a.data_type.clone()));
                    (name.clone(), Value::Object(v))
                })
                .collect();
            let mut record = json!({
                "messageId": m.message_id,
                "receiptHandle": m.receipt_handle,
                "body": m.body,
                "attributes": attributes,
                "messageAttributes": message_attributes,
                "md5OfBody": m.md5_of_body,
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            });
            if let Some(md5) = &m.md5_of_message_attributes {
                record["md5OfMessageAttributes"] = Value::String(md5.clone());
            }
            record
        })
        .collect();
    json!({ "Records": records })
}

/// The DynamoDB stream batch event of `records`.
pub fn stream_batch(records: &[StreamRecord]) -> Value {
    let records: Vec<Value> = records
        .iter()
        .map(|r| {
            let d = &r.dynamodb;
            let mut data = json!({
                "ApproximateCreationDateTime": d.approximate_creation_date_time_millis / 1000,
                "Keys": item(&d.keys),
                "SequenceNumber": d.sequence_number,
                "SizeBytes": d.size_bytes,
                "StreamViewType": d.stream_view_type.as_str(),
            });
            if let Some(new) = &d.new_image {
                data["NewImage"] = item(new);
            }
            if let Some(old) = &d.old_image {
                data["OldImage"] = item(old);
            }
            json!({
                "eventID": r.event_id,
                "eventName": r.event_name.as_str(),
                "eventVersion": r.event_version,
                "eventSource": r.event_source,
                "awsRegion": r.aws_region,
                "eventSourceARN": r.event_source_arn,
                "dynamodb": data,
            })
        })
        .collect();
    json!({ "Records": records })
}

/// An item as DynamoDB's typed JSON (`{"pk": {"S": "a"}}`).
fn item(item: &BTreeMap<String, AttributeValue>) -> Value {
    Value::Object(
        item.iter()
            .map(|(k, v)| (k.clone(), attribute(v)))
            .collect(),
    )
}

fn attribute(v: &AttributeValue) -> Value {
    let b64 = |b: &[u8]| Value::String(base64::engine::general_purpose::STANDARD.encode(b));
    match v {
        AttributeValue::S(s) => json!({ "S": s }),
        AttributeValue::N(n) => json!({ "N": n.to_string() }),
        AttributeValue::B(b) => json!({ "B": b64(b) }),
        AttributeValue::Bool(b) => json!({ "BOOL": b }),
        AttributeValue::Null => json!({ "NULL": true }),
        AttributeValue::M(m) => json!({ "M": item(m) }),
        AttributeValue::L(l) => json!({ "L": l.iter().map(attribute).collect::<Vec<_>>() }),
        AttributeValue::Ss(s) => json!({ "SS": s }),
        AttributeValue::Ns(n) => {
            json!({ "NS": n.iter().map(|n| n.to_string()).collect::<Vec<_>>() })
        }
        AttributeValue::Bs(b) => json!({ "BS": b.iter().map(|b| b64(b)).collect::<Vec<_>>() }),
    }
}

/// Days since 1970-01-01 to (year, month 1-12, day 1-31), proleptic Gregorian.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// (year, month 1-12, day 1-31) to days since 1970-01-01.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `2015-10-08T16:53:06Z`.
pub fn iso_seconds(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let t = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}Z",
        t / 3600,
        t / 60 % 60,
        t % 60
    )
}

/// `YYYY/MM/DD` of a moment, for log stream names.
pub fn date_path(ms: i64) -> String {
    let (y, m, d) = civil_from_days(ms.div_euclid(86_400_000));
    format!("{y:04}/{m:02}/{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip() {
        for days in [-800_000, -1, 0, 59, 10_957, 20_000, 2_000_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(iso_seconds(1_444_323_186_000), "2015-10-08T16:53:06Z");
        assert_eq!(date_path(0), "1970/01/01");
    }
}
