//! The fast path of the busiest DynamoDB operations (PutItem, BatchWriteItem, BatchGetItem): the
//! body is read straight into the engine's input types with serde, without building a
//! `serde_json::Value` tree first. In the W1 profile that tree (one map per attribute value, one
//! string per tag, all dropped right after) was the engine's largest single cost.
//!
//! The items of BatchWriteItem's puts go further: straight into their stored form
//! ([`StoredItemBuilder`]), with names and plain strings borrowed from the body.
//!
//! The fast path only ever accepts: anything unexpected (invalid UTF-8, a null member, a second
//! type tag, an unknown tag, a bad number, a missing member, a duplicate member, and for a stored
//! item anything the engine refuses: an empty set or one with duplicates, nesting too deep, more
//! than 400 KB) makes [`read`] answer `None`,
//! and the request goes through the general path of `dynamodb_api`, which accepts the same
//! well-formed requests and words every error. So the two paths cannot disagree on an error's
//! code or message, and a request the fast path takes is one the general path would have read
//! the same way. The structs deny unknown members, as only the general path reads the whole body
//! as JSON (an out-of-range number in a member nobody reads is still a SerializationException),
//! and a repeated map key keeps the last value in both.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::fmt;

use base64::Engine as _;
use dynamodb::{
    AttributeValue, BatchGetItemInput, BatchWriteItemInput, Item, KeysAndAttributes, Number,
    PutItemInput, StoredItem, StoredItemBuilder, WriteRequest,
};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;

use crate::dynamodb_api::parse_return_on_failure;

/// The engine input of a fast-path operation.
pub enum Input {
    Put(PutItemInput),
    BatchWrite(BatchWriteItemInput),
    BatchGet(BatchGetItemInput),
}

impl Input {
    /// The operation's name, as in `X-Amz-Target` and IAM's action.
    pub fn operation(&self) -> &'static str {
        match self {
            Input::Put(_) => "PutItem",
            Input::BatchWrite(_) => "BatchWriteItem",
            Input::BatchGet(_) => "BatchGetItem",
        }
    }

    /// The tables the request names, for authorization.
    pub fn tables(&self) -> Box<dyn Iterator<Item = &str> + '_> {
        match self {
            Input::Put(input) => Box::new(std::iter::once(input.table_name.as_str())),
            Input::BatchWrite(input) => Box::new(input.request_items.keys().map(String::as_str)),
            Input::BatchGet(input) => Box::new(input.request_items.keys().map(String::as_str)),
        }
    }
}

/// `operation`'s input read from `body`, or `None` when the operation has no fast path or the body
/// is anything but a plainly well-formed request.
pub fn read(operation: &str, body: &[u8]) -> Option<Input> {
    if !matches!(operation, "PutItem" | "BatchWriteItem" | "BatchGetItem") {
        return None;
    }
    // The body's UTF-8 is checked once, whole: read from a `str`, the parser takes each string
    // as it is instead of checking it again (and invalid UTF-8 goes to the general path).
    let body = std::str::from_utf8(body).ok()?;
    match operation {
        "PutItem" => put_item(serde_json::from_str(body).ok()?).map(Input::Put),
        "BatchWriteItem" => {
            let wire: BatchWriteWire = serde_json::from_str(body).ok()?;
            let mut input = BatchWriteItemInput::default();
            for (table, requests) in wire.request_items {
                let writes = requests
                    .into_iter()
                    .map(|r| match (r.put_request, r.delete_request) {
                        (Some(put), None) => Some(WriteRequest::PutStored { item: put.item.0 }),
                        (None, Some(delete)) => Some(WriteRequest::Delete { key: delete.key.0 }),
                        _ => None,
                    })
                    .collect::<Option<Vec<_>>>()?;
                input.request_items.insert(table, writes);
            }
            Some(Input::BatchWrite(input))
        }
        "BatchGetItem" => {
            let wire: BatchGetWire = serde_json::from_str(body).ok()?;
            let mut input = BatchGetItemInput::default();
            for (table, k) in wire.request_items {
                input.request_items.insert(
                    table,
                    KeysAndAttributes {
                        keys: k.keys.into_iter().map(|key| key.0).collect(),
                        projection_expression: k.projection_expression,
                        expression_attribute_names: k
                            .expression_attribute_names
                            .unwrap_or_default(),
                        consistent_read: k.consistent_read.unwrap_or(false),
                    },
                );
            }
            Some(Input::BatchGet(input))
        }
        _ => None,
    }
}

fn put_item(wire: PutItemWire) -> Option<PutItemInput> {
    let return_values = match wire.return_values {
        None => dynamodb::ReturnValues::None,
        Some(text) => text.parse().ok()?,
    };
    let return_values_on_condition_check_failure =
        parse_return_on_failure(wire.return_values_on_condition_check_failure.as_deref())?;
    Some(PutItemInput {
        table_name: wire.table_name,
        item: wire.item.0,
        condition_expression: wire.condition_expression,
        expression_attribute_names: wire.expression_attribute_names.unwrap_or_default(),
        expression_attribute_values: wire
            .expression_attribute_values
            .unwrap_or_default()
            .into_iter()
            .map(|(name, value)| (name, value.0))
            .collect(),
        return_values,
        return_values_on_condition_check_failure,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct PutItemWire {
    table_name: String,
    item: WireItem,
    condition_expression: Option<String>,
    expression_attribute_names: Option<HashMap<String, String>>,
    expression_attribute_values: Option<HashMap<String, WireValue>>,
    return_values: Option<String>,
    return_values_on_condition_check_failure: Option<String>,
    #[serde(rename = "ReturnItemCollectionMetrics")]
    _return_item_collection_metrics: Option<String>,
    #[serde(rename = "ReturnConsumedCapacity")]
    _return_consumed_capacity: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct BatchWriteWire {
    request_items: BTreeMap<String, Vec<WriteRequestWire>>,
    #[serde(rename = "ReturnItemCollectionMetrics")]
    _return_item_collection_metrics: Option<String>,
    #[serde(rename = "ReturnConsumedCapacity")]
    _return_consumed_capacity: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct WriteRequestWire {
    put_request: Option<PutRequestWire>,
    delete_request: Option<DeleteRequestWire>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct PutRequestWire {
    item: WireStoredItem,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct DeleteRequestWire {
    key: WireItem,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct BatchGetWire {
    request_items: BTreeMap<String, KeysAndAttributesWire>,
    #[serde(rename = "ReturnConsumedCapacity")]
    _return_consumed_capacity: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct KeysAndAttributesWire {
    keys: Vec<WireItem>,
    projection_expression: Option<String>,
    expression_attribute_names: Option<HashMap<String, String>>,
    consistent_read: Option<bool>,
}

/// An item (`{"name": <attribute value>, ...}`).
struct WireItem(Item);

impl<'de> Deserialize<'de> for WireItem {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<WireItem, D::Error> {
        struct ItemVisitor;
        impl<'de> Visitor<'de> for ItemVisitor {
            type Value = Item;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an item")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Item, A::Error> {
                let mut item = Item::new();
                while let Some((name, value)) = map.next_entry::<String, WireValue>()? {
                    item.insert(name, value.0);
                }
                Ok(item)
            }
        }
        d.deserialize_map(ItemVisitor).map(WireItem)
    }
}

/// An item read straight into its stored form: no [`Item`], and no allocation for a name or a
/// string without escapes.
struct WireStoredItem(StoredItem);

impl<'de> Deserialize<'de> for WireStoredItem {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<WireStoredItem, D::Error> {
        struct ItemVisitor;
        impl<'de> Visitor<'de> for ItemVisitor {
            type Value = StoredItem;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an item")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<StoredItem, A::Error> {
                let mut item = StoredItemBuilder::new();
                while let Some(Text(name)) = map.next_key::<Text<'de>>()? {
                    map.next_value_seed(StoredValue {
                        item: &mut item,
                        name,
                    })?;
                }
                // An item over 400 KB: the general path words the error.
                item.finish().map_err(de::Error::custom)
            }
        }
        d.deserialize_map(ItemVisitor).map(WireStoredItem)
    }
}

/// One attribute value, added to the item being built under `name`.
struct StoredValue<'b, 'de> {
    item: &'b mut StoredItemBuilder<'de>,
    name: Cow<'de, str>,
}

impl<'de> DeserializeSeed<'de> for StoredValue<'_, 'de> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for StoredValue<'_, 'de> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an attribute value")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let Some(tag) = map.next_key::<Tag>()? else {
            return Err(de::Error::custom("no type tag"));
        };
        let (item, name) = (self.item, self.name);
        match tag {
            Tag::S => item.string(name, &map.next_value::<Text<'de>>()?.0),
            Tag::N => item.number(name, &map.next_value::<WireNumber>()?.0),
            Tag::B => item.binary(name, &map.next_value::<WireBinary>()?.0),
            Tag::Bool => item.boolean(name, map.next_value()?),
            Tag::Null => match map.next_value()? {
                true => item.null(name),
                false => return Err(de::Error::custom("NULL must be true")),
            },
            // Maps, lists and sets are read as values first; a set the engine refuses (empty,
            // with duplicates) goes to the general path, which words the error.
            Tag::M | Tag::L | Tag::Ss | Tag::Ns | Tag::Bs => {
                let value = tagged_value(tag, &mut map)?;
                item.value(name, value).map_err(de::Error::custom)?;
            }
        }
        if map.next_key::<IgnoredAny>()?.is_some() {
            return Err(de::Error::custom("more than one type tag"));
        }
        Ok(())
    }
}

/// Text borrowed from the body when it has no escapes, owned otherwise.
struct Text<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Text<'de>, D::Error> {
        struct TextCow;
        impl<'de> Visitor<'de> for TextCow {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(text)))
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(text.to_owned())))
            }
            fn visit_string<E: de::Error>(self, text: String) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(text)))
            }
        }
        d.deserialize_str(TextCow)
    }
}

/// An attribute value: an object with exactly one type tag.
struct WireValue(AttributeValue);

#[derive(Deserialize)]
enum Tag {
    S,
    N,
    B,
    #[serde(rename = "BOOL")]
    Bool,
    #[serde(rename = "NULL")]
    Null,
    M,
    L,
    #[serde(rename = "SS")]
    Ss,
    #[serde(rename = "NS")]
    Ns,
    #[serde(rename = "BS")]
    Bs,
}

impl<'de> Deserialize<'de> for WireValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<WireValue, D::Error> {
        struct ValueVisitor;
        impl<'de> Visitor<'de> for ValueVisitor {
            type Value = AttributeValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an attribute value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<AttributeValue, A::Error> {
                let Some(tag) = map.next_key::<Tag>()? else {
                    return Err(de::Error::custom("no type tag"));
                };
                let value = tagged_value(tag, &mut map)?;
                if map.next_key::<IgnoredAny>()?.is_some() {
                    return Err(de::Error::custom("more than one type tag"));
                }
                Ok(value)
            }
        }
        d.deserialize_map(ValueVisitor).map(WireValue)
    }
}

/// The value of type `tag`, read from the member that tag names.
fn tagged_value<'de, A: MapAccess<'de>>(tag: Tag, map: &mut A) -> Result<AttributeValue, A::Error> {
    Ok(match tag {
        Tag::S => AttributeValue::S(map.next_value()?),
        Tag::N => AttributeValue::N(map.next_value::<WireNumber>()?.0),
        Tag::B => AttributeValue::B(map.next_value::<WireBinary>()?.0),
        Tag::Bool => AttributeValue::Bool(map.next_value()?),
        Tag::Null => match map.next_value()? {
            true => AttributeValue::Null,
            false => return Err(de::Error::custom("NULL must be true")),
        },
        Tag::M => AttributeValue::M(map.next_value::<WireItem>()?.0),
        Tag::L => AttributeValue::L(unwrap_all(map.next_value::<Vec<WireValue>>()?)),
        Tag::Ss => AttributeValue::Ss(map.next_value()?),
        Tag::Ns => AttributeValue::Ns(
            map.next_value::<Vec<WireNumber>>()?
                .into_iter()
                .map(|n| n.0)
                .collect(),
        ),
        Tag::Bs => AttributeValue::Bs(
            map.next_value::<Vec<WireBinary>>()?
                .into_iter()
                .map(|b| b.0)
                .collect(),
        ),
    })
}

fn unwrap_all(values: Vec<WireValue>) -> Vec<AttributeValue> {
    values.into_iter().map(|v| v.0).collect()
}

/// A number's text, checked as the engine's [`Number`].
struct WireNumber(Number);

impl<'de> Deserialize<'de> for WireNumber {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<WireNumber, D::Error> {
        d.deserialize_str(TextVisitor(|text: &str| {
            Number::parse(text).map(WireNumber).ok()
        }))
    }
}

/// Base64 text, decoded.
struct WireBinary(Vec<u8>);

impl<'de> Deserialize<'de> for WireBinary {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<WireBinary, D::Error> {
        d.deserialize_str(TextVisitor(|text: &str| {
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .map(WireBinary)
                .ok()
        }))
    }
}

/// A string converted by a function, without an owned copy of the text.
struct TextVisitor<F>(F);

impl<'de, T, F: FnOnce(&str) -> Option<T>> Visitor<'de> for TextVisitor<F> {
    type Value = T;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_str<E: de::Error>(self, text: &str) -> Result<T, E> {
        (self.0)(text).ok_or_else(|| E::custom("not convertible"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(input: Input) -> BTreeMap<String, Vec<WriteRequest>> {
        match input {
            Input::BatchWrite(input) => input.request_items,
            _ => panic!("not a BatchWriteItem"),
        }
    }

    #[test]
    fn reads_every_attribute_type() {
        let body = br#"{"RequestItems": {"t": [{"PutRequest": {"Item": {
            "s": {"S": "x\u00e9"}, "n": {"N": "1.50"}, "b": {"B": "AAE="}, "t": {"BOOL": true},
            "z": {"NULL": true}, "m": {"M": {"a": {"S": "1"}}}, "l": {"L": [{"N": "2"}]},
            "ss": {"SS": ["a", "b"]}, "ns": {"NS": ["1", "2"]}, "bs": {"BS": ["AA=="]}
        }}}, {"DeleteRequest": {"Key": {"s": {"S": "y"}}}}]}, "ReturnConsumedCapacity": "TOTAL"}"#;
        let requests = items(read("BatchWriteItem", body).expect("fast path"));
        let WriteRequest::PutStored { item } = &requests["t"][0] else {
            panic!("not a put");
        };
        let item = item.to_item().expect("decodes");
        assert_eq!(item["s"], AttributeValue::S("xé".into()));
        assert_eq!(item["n"], AttributeValue::N(Number::parse("1.5").unwrap()));
        assert_eq!(item["b"], AttributeValue::B(vec![0, 1]));
        assert_eq!(item["t"], AttributeValue::Bool(true));
        assert_eq!(item["z"], AttributeValue::Null);
        assert_eq!(item.len(), 10);
        assert!(matches!(&requests["t"][1], WriteRequest::Delete { key } if key.len() == 1));
    }

    /// Each of these must go to the general path, which words the error (or, for a null second
    /// tag, accepts the request as DynamoDB does).
    #[test]
    fn anything_unusual_goes_to_the_general_path() {
        for body in [
            r#"{"RequestItems": {"t": [{"PutRequest": {"Item": {"a": {"S": "x", "N": "1"}}}}]}}"#,
            r#"{"RequestItems": {"t": [{"PutRequest": {"Item": {"a": {"S": "x", "N": null}}}}]}}"#,
            r#"{"RequestItems": {"t": [{"PutRequest": {"Item": {"a": {}}}}]}}"#,
            r#"{"RequestItems": {"t": [{"PutRequest": {"Item": {"a": {"Q": "x"}}}}]}}"#,
            r#"{"RequestItems": {"t": [{"PutRequest": {"Item": {"a": {"N": "1e999"}}}}]}}"#,
            r#"{"RequestItems": {"t": [{"PutRequest": {"Item": {"a": {"NULL": false}}}}]}}"#,
            r#"{"RequestItems": {"t": [{"PutRequest": {"Item": {"a": {"B": "%%"}}}}]}}"#,
            r#"{"RequestItems": {"t": [{"PutRequest": {"Item": {"a": null}}}]}}"#,
            r#"{"RequestItems": {"t": [{}]}}"#,
            r#"{"RequestItems": {"t": [{"PutRequest": {"Item": {}}, "DeleteRequest": {"Key": {}}}]}}"#,
            r#"{"RequestItems": {"t": [], "t": []}, "RequestItems": {}}"#,
            r#"{"RequestItems": null}"#,
            r#"{"RequestItems": {"t": [{"PutRequest": {"Item": {"a": {"S": 1}}}}]}}"#,
            r#"[]"#,
            r#"{"RequestItems": {}, "Limit": 1e400}"#,
            r#"{"RequestItems": {"t": [{"PutRequest""#,
        ] {
            assert!(
                read("BatchWriteItem", body.as_bytes()).is_none(),
                "fast path took {body}"
            );
        }
        for body in [
            r#"{"TableName": "t", "Item": {}, "ReturnValues": "SOME"}"#,
            r#"{"TableName": "t", "Item": {}, "ReturnValuesOnConditionCheckFailure": "ALL_NEW"}"#,
            r#"{"Item": {}}"#,
        ] {
            assert!(
                read("PutItem", body.as_bytes()).is_none(),
                "fast path took {body}"
            );
        }
        assert!(read("Query", b"{}").is_none());
        let invalid_utf8 = b"{\"RequestItems\": {\"t\": [{\"PutRequest\": {\"Item\": {\"a\": {\"S\": \"\xff\"}}}}]}}";
        assert!(read("BatchWriteItem", invalid_utf8).is_none());
        let valid = b"{\"RequestItems\": {\"t\": [{\"PutRequest\": {\"Item\": {\"a\": {\"S\": \"\xc3\xa9\"}}}}]}}";
        assert!(read("BatchWriteItem", valid).is_some());
    }

    /// A put's item read into stored form is the item the general reader reads, escapes, repeated
    /// names and sets out of order included.
    #[test]
    fn a_stored_item_is_the_item_read_whole() {
        let item = r#"{"b": {"S": "tab\there"}, "a\u00e9": {"N": "-0012.50"}, "b": {"S": "last"},
            "s": {"SS": ["z", "a"]}, "m": {"M": {"y": {"NULL": true}, "x": {"BOOL": false}}},
            "": {"B": "AAE="}, "l": {"L": [{"NS": ["2", "1"]}]}}"#;
        let put = format!(r#"{{"RequestItems": {{"t": [{{"PutRequest": {{"Item": {item}}}}}]}}}}"#);
        let requests = items(read("BatchWriteItem", put.as_bytes()).expect("fast path"));
        let WriteRequest::PutStored { item: stored } = &requests["t"][0] else {
            panic!("not a stored put");
        };
        let WireItem(mut whole) = serde_json::from_str(item).expect("whole item");
        let size = dynamodb::value::validate_item_sized(&mut whole).expect("valid");
        assert_eq!(stored.to_item().expect("decodes"), whole);
        assert_eq!(stored.size(), size);
        assert_eq!(whole["b"], AttributeValue::S("last".into()));
    }

    #[test]
    fn a_put_the_engine_refuses_goes_to_the_general_path() {
        let big = "x".repeat(400 * 1024);
        for item in [
            r#"{"s": {"SS": []}}"#.to_owned(),
            r#"{"s": {"NS": ["1", "1.0"]}}"#.to_owned(),
            format!(r#"{{"s": {{"S": "{big}"}}}}"#),
        ] {
            let put =
                format!(r#"{{"RequestItems": {{"t": [{{"PutRequest": {{"Item": {item}}}}}]}}}}"#);
            assert!(
                read("BatchWriteItem", put.as_bytes()).is_none(),
                "fast path took {item:.40}"
            );
        }
    }

    #[test]
    fn a_repeated_attribute_keeps_the_last_value_as_the_general_path_does() {
        let body = br#"{"TableName": "t", "Item": {"a": {"S": "1"}, "a": {"S": "2"}}}"#;
        let Some(Input::Put(put)) = read("PutItem", body) else {
            panic!("not read");
        };
        assert_eq!(put.item["a"], AttributeValue::S("2".into()));
    }
}
