//! DynamoDB's JSON shapes: attribute values, items, key schemas, table and stream descriptions, and
//! the error conversions of the DynamoDB protocol.
//!
//! An attribute value is an object with exactly one type tag (`{"S": "x"}`, `{"N": "1.5"}`,
//! `{"B": "<base64>"}`, `{"M": {...}}`, ...). A value of the wrong JSON type is a
//! `SerializationException`, as in DynamoDB; a value that parses but breaks a rule (no tag, two
//! tags, a number out of range) is a `ValidationException`.

use std::collections::BTreeMap;

use base64::Engine as _;
use dynamodb::{
    AttributeValue, Item, KeySchemaElement, KeyType, Number, ScalarType, StreamRecord,
    StreamSpecification, TableDescription,
};
use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::object;
use crate::wire::{Obj, WireError};

/// DynamoDB's answer to a mistake in the shape of a request.
impl From<WireError> for ApiError {
    fn from(e: WireError) -> ApiError {
        match &e {
            WireError::Type(..) => ApiError::serialization(e.message()),
            WireError::Missing(member) => validation(format!(
                "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
                lower_first(member)
            )),
        }
    }
}

impl From<dynamodb::Error> for ApiError {
    fn from(e: dynamodb::Error) -> ApiError {
        let mut error = match &e {
            dynamodb::Error::Internal(message) => {
                tracing::error!(error = %message, "dynamodb engine failure");
                let mut error = ApiError::internal(e.to_string());
                error.code = e.code().to_owned();
                return error;
            }
            _ => ApiError::client(e.code(), e.to_string()),
        };
        match e {
            dynamodb::Error::ConditionalCheckFailed { item: Some(item) } => {
                error.extra.push(("Item", item_json(&item)));
            }
            dynamodb::Error::TransactionCanceled { reasons } => {
                let reasons: Vec<Value> = reasons
                    .iter()
                    .map(|r| {
                        object! {
                            "Code" => r.code.clone(),
                            "Message" => r.message.clone(),
                            "Item" => r.item.as_ref().map(item_json),
                        }
                    })
                    .collect();
                error.extra.push(("CancellationReasons", reasons.into()));
            }
            _ => {}
        }
        error
    }
}

pub fn validation(message: impl Into<String>) -> ApiError {
    ApiError::client("ValidationException", message)
}

fn lower_first(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

// ---- attribute values ----

/// Reads one attribute value; `path` names it in messages.
pub fn value_from_json(value: &Value, path: &str) -> Result<AttributeValue, ApiError> {
    let Value::Object(map) = value else {
        return Err(WireError::Type(path.into(), "an attribute value object").into());
    };
    let mut tags = map.iter().filter(|(_, v)| !v.is_null());
    let (tag, inner) = match (tags.next(), tags.next()) {
        (Some(one), None) => one,
        (None, _) => {
            return Err(validation(
                "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes",
            ))
        }
        (Some(_), Some(_)) => {
            return Err(validation(
                "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes",
            ))
        }
    };
    let wrong =
        |expected: &'static str| ApiError::from(WireError::Type(format!("{path}.{tag}"), expected));
    let text = |v: &Value| -> Result<String, ApiError> {
        v.as_str()
            .map(str::to_owned)
            .ok_or_else(|| wrong("a string"))
    };
    let number = |v: &Value| -> Result<Number, ApiError> {
        let text = v.as_str().ok_or_else(|| wrong("a string"))?;
        Number::parse(text).map_err(|e| validation(e.to_string()))
    };
    let binary = |v: &Value| -> Result<Vec<u8>, ApiError> {
        let text = v.as_str().ok_or_else(|| wrong("base64 text"))?;
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|_| wrong("base64 text"))
    };
    let list = |v: &Value| -> Result<Vec<Value>, ApiError> {
        v.as_array().cloned().ok_or_else(|| wrong("a list"))
    };
    Ok(match tag.as_str() {
        "S" => AttributeValue::S(text(inner)?),
        "N" => AttributeValue::N(number(inner)?),
        "B" => AttributeValue::B(binary(inner)?),
        "BOOL" => AttributeValue::Bool(inner.as_bool().ok_or_else(|| wrong("a boolean"))?),
        "NULL" => match inner.as_bool() {
            Some(true) => AttributeValue::Null,
            Some(false) => {
                return Err(validation(
                    "One or more parameter values were invalid: Null attribute value types must have the value of true",
                ))
            }
            None => return Err(wrong("a boolean")),
        },
        "M" => {
            let Value::Object(members) = inner else {
                return Err(wrong("an object"));
            };
            AttributeValue::M(map_from_json(members, path)?)
        }
        "L" => AttributeValue::L(
            list(inner)?
                .iter()
                .map(|v| value_from_json(v, path))
                .collect::<Result<_, _>>()?,
        ),
        "SS" => AttributeValue::Ss(list(inner)?.iter().map(text).collect::<Result<_, _>>()?),
        "NS" => AttributeValue::Ns(list(inner)?.iter().map(number).collect::<Result<_, _>>()?),
        "BS" => AttributeValue::Bs(list(inner)?.iter().map(binary).collect::<Result<_, _>>()?),
        other => {
            return Err(validation(format!(
                "Supplied AttributeValue has an unknown datatype `{other}`, must contain exactly one of the supported datatypes"
            )))
        }
    })
}

fn map_from_json(members: &Map<String, Value>, path: &str) -> Result<Item, ApiError> {
    members
        .iter()
        .map(|(name, v)| Ok((name.clone(), value_from_json(v, path)?)))
        .collect()
}

/// An item-shaped member (`Item`, `Key`, `ExclusiveStartKey`), absent as `None`.
pub fn item_member(o: Obj<'_>, key: &str) -> Result<Option<Item>, ApiError> {
    match o.obj(key)? {
        None => Ok(None),
        Some(members) => Ok(Some(map_from_json(members.map, key)?)),
    }
}

pub fn req_item(o: Obj<'_>, key: &str) -> Result<Item, ApiError> {
    item_member(o, key)?.ok_or_else(|| WireError::Missing(key.into()).into())
}

/// `ExpressionAttributeValues`.
pub fn values_member(o: Obj<'_>) -> Result<dynamodb::Values, ApiError> {
    Ok(item_member(o, "ExpressionAttributeValues")?
        .unwrap_or_default()
        .into_iter()
        .collect())
}

/// `ExpressionAttributeNames`.
pub fn names_member(o: Obj<'_>) -> Result<dynamodb::Names, ApiError> {
    Ok(o.str_map("ExpressionAttributeNames")?.into_iter().collect())
}

pub fn value_json(value: &AttributeValue) -> Value {
    let b64 = |b: &Vec<u8>| Value::String(base64::engine::general_purpose::STANDARD.encode(b));
    let (tag, inner) = match value {
        AttributeValue::S(s) => ("S", Value::String(s.clone())),
        AttributeValue::N(n) => ("N", Value::String(n.to_string())),
        AttributeValue::B(b) => ("B", b64(b)),
        AttributeValue::Bool(b) => ("BOOL", Value::Bool(*b)),
        AttributeValue::Null => ("NULL", Value::Bool(true)),
        AttributeValue::M(m) => ("M", item_json(m)),
        AttributeValue::L(l) => ("L", Value::Array(l.iter().map(value_json).collect())),
        AttributeValue::Ss(s) => ("SS", s.iter().cloned().map(Value::String).collect()),
        AttributeValue::Ns(s) => (
            "NS",
            s.iter().map(|n| Value::String(n.to_string())).collect(),
        ),
        AttributeValue::Bs(s) => ("BS", s.iter().map(b64).collect()),
    };
    let mut map = Map::with_capacity(1);
    map.insert(tag.to_owned(), inner);
    Value::Object(map)
}

pub fn item_json(item: &BTreeMap<String, AttributeValue>) -> Value {
    Value::Object(
        item.iter()
            .map(|(k, v)| (k.clone(), value_json(v)))
            .collect(),
    )
}

// ---- schemas and descriptions ----

pub fn key_schema_from_json(o: Obj<'_>) -> Result<Vec<KeySchemaElement>, ApiError> {
    o.objs("KeySchema")?
        .into_iter()
        .map(|e| {
            let key_type = match e.req_str("KeyType")? {
                "HASH" => KeyType::Hash,
                "RANGE" => KeyType::Range,
                other => {
                    return Err(validation(format!(
                        "1 validation error detected: Value '{other}' at 'keySchema.member.keyType' failed to satisfy constraint: Member must satisfy enum value set: [HASH, RANGE]"
                    )))
                }
            };
            Ok(KeySchemaElement {
                attribute_name: e.req_str("AttributeName")?.to_owned(),
                key_type,
            })
        })
        .collect()
}

pub fn key_schema_json(schema: &[KeySchemaElement]) -> Value {
    schema
        .iter()
        .map(|k| object! { "AttributeName" => k.attribute_name.clone(), "KeyType" => k.key_type.as_str() })
        .collect()
}

pub fn scalar_type(text: &str) -> Result<ScalarType, ApiError> {
    ScalarType::parse(text).ok_or_else(|| {
        validation(format!(
            "1 validation error detected: Value '{text}' at 'attributeDefinitions.member.attributeType' failed to satisfy constraint: Member must satisfy enum value set: [B, N, S]"
        ))
    })
}

fn seconds(millis: i64) -> Value {
    serde_json::Number::from_f64(millis as f64 / 1000.0)
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

fn stream_specification_json(spec: &StreamSpecification) -> Value {
    object! {
        "StreamEnabled" => spec.stream_enabled,
        "StreamViewType" => spec.stream_view_type.map(|t| t.as_str()),
    }
}

pub fn table_json(t: &TableDescription) -> Value {
    let definitions: Vec<Value> = t
        .attribute_definitions
        .iter()
        .map(|d| object! { "AttributeName" => d.attribute_name.clone(), "AttributeType" => d.attribute_type.as_str() })
        .collect();
    object! {
        "TableName" => t.table_name.clone(),
        "TableArn" => t.table_arn.clone(),
        "TableId" => t.table_id.clone(),
        "TableStatus" => t.table_status,
        "CreationDateTime" => seconds(t.creation_date_time_millis),
        "KeySchema" => key_schema_json(&t.key_schema),
        "AttributeDefinitions" => definitions,
        "BillingModeSummary" => object! { "BillingMode" => t.billing_mode.as_str() },
        "ProvisionedThroughput" => object! {
            "ReadCapacityUnits" => t.provisioned_throughput.read_capacity_units,
            "WriteCapacityUnits" => t.provisioned_throughput.write_capacity_units,
            "NumberOfDecreasesToday" => 0,
        },
        "ItemCount" => t.item_count,
        "TableSizeBytes" => t.table_size_bytes,
        "StreamSpecification" => t.stream_specification.as_ref().map(stream_specification_json),
        "LatestStreamLabel" => t.latest_stream_label.clone(),
        "LatestStreamArn" => t.latest_stream_arn.clone(),
        "DeletionProtectionEnabled" => false,
    }
}

pub fn stream_record_json(r: &StreamRecord) -> Value {
    let d = &r.dynamodb;
    object! {
        "eventID" => r.event_id.clone(),
        "eventName" => r.event_name.as_str(),
        "eventVersion" => r.event_version,
        "eventSource" => r.event_source,
        "awsRegion" => r.aws_region,
        "dynamodb" => object! {
            "ApproximateCreationDateTime" => seconds(d.approximate_creation_date_time_millis),
            "Keys" => item_json(&d.keys),
            "NewImage" => d.new_image.as_ref().map(item_json),
            "OldImage" => d.old_image.as_ref().map(item_json),
            "SequenceNumber" => d.sequence_number.clone(),
            "SizeBytes" => d.size_bytes,
            "StreamViewType" => d.stream_view_type.as_str(),
        },
    }
}
