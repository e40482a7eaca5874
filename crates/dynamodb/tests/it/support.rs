//! Shared helpers: an engine on a temporary store with a manual clock, and DynamoDB JSON for
//! writing items compactly.

use std::collections::HashMap;
use std::sync::Arc;

use dynamodb::{
    AttributeDefinition, AttributeValue, BillingMode, CreateTableInput, DynamoDb, Item,
    KeySchemaElement, KeyType, Number, ScalarType, StreamSpecification, StreamViewType,
};
use store::{ManualClock, Options, Store};

/// 2026-11-26T00:00:00Z, the start of virtual time in tests.
pub const T0: i64 = 1_795_651_200_000;

pub struct Env {
    pub db: DynamoDb,
    pub clock: Arc<ManualClock>,
    /// Kept so that the folder lives as long as the engine.
    pub _dir: tempfile::TempDir,
}

pub fn env() -> Env {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(&dir.path().join("state.db"), Options::default()).expect("open store");
    let clock = Arc::new(ManualClock::new(T0));
    let db = DynamoDb::new(store, clock.clone()).expect("engine");
    Env {
        db,
        clock,
        _dir: dir,
    }
}

/// A value from DynamoDB JSON (`{"S":"x"}`).
pub fn value(json: &serde_json::Value) -> AttributeValue {
    let (tag, v) = json
        .as_object()
        .and_then(|o| o.iter().next())
        .expect("one type tag");
    let strings = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_string())
            .collect()
    };
    match tag.as_str() {
        "S" => AttributeValue::S(v.as_str().unwrap().into()),
        "N" => AttributeValue::n(v.as_str().unwrap()).unwrap(),
        "B" => AttributeValue::B(v.as_str().unwrap().as_bytes().to_vec()),
        "BOOL" => AttributeValue::Bool(v.as_bool().unwrap()),
        "NULL" => AttributeValue::Null,
        "M" => AttributeValue::M(item_of(v)),
        "L" => AttributeValue::L(v.as_array().unwrap().iter().map(value).collect()),
        "SS" => AttributeValue::Ss(strings(v)),
        "NS" => AttributeValue::Ns(
            strings(v)
                .iter()
                .map(|s| Number::parse(s).unwrap())
                .collect(),
        ),
        "BS" => AttributeValue::Bs(strings(v).into_iter().map(String::into_bytes).collect()),
        other => panic!("unknown tag {other}"),
    }
}

fn item_of(json: &serde_json::Value) -> Item {
    json.as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), value(v)))
        .collect()
}

/// An item from DynamoDB JSON text.
pub fn j(text: &str) -> Item {
    item_of(&serde_json::from_str(text).expect("valid JSON"))
}

/// ExpressionAttributeValues from DynamoDB JSON text.
pub fn vals(text: &str) -> HashMap<String, AttributeValue> {
    j(text).into_iter().collect()
}

/// ExpressionAttributeNames from pairs.
pub fn names(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A CreateTable request: `key` is `[(name, type)]`, HASH first.
pub fn table_input(
    name: &str,
    key: &[(&str, ScalarType)],
    stream: Option<StreamViewType>,
) -> CreateTableInput {
    CreateTableInput {
        table_name: name.into(),
        key_schema: key
            .iter()
            .enumerate()
            .map(|(i, (k, _))| KeySchemaElement {
                attribute_name: k.to_string(),
                key_type: if i == 0 {
                    KeyType::Hash
                } else {
                    KeyType::Range
                },
            })
            .collect(),
        attribute_definitions: key
            .iter()
            .map(|(k, t)| AttributeDefinition {
                attribute_name: k.to_string(),
                attribute_type: *t,
            })
            .collect(),
        billing_mode: Some(BillingMode::PayPerRequest),
        provisioned_throughput: None,
        stream_specification: stream.map(|v| StreamSpecification {
            stream_enabled: true,
            stream_view_type: Some(v),
        }),
    }
}

/// Creates `name` keyed by `pk` (S) and, when given, `sk` of the given type.
pub fn create(db: &DynamoDb, name: &str, sort: Option<ScalarType>, stream: Option<StreamViewType>) {
    let mut key = vec![("pk", ScalarType::S)];
    if let Some(t) = sort {
        key.push(("sk", t));
    }
    db.create_table(table_input(name, &key, stream))
        .expect("create table");
}

/// A compact one-line form of an item for expectations.
pub fn show(item: &Item) -> String {
    format!("{item:?}")
}
