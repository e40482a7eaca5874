//! The SQS query protocol: form parameters in, XML out.
//!
//! [`to_json`] rebuilds the flattened form names of the query protocol (`Attribute.1.Name`,
//! `MessageAttribute.2.Value.StringValue`, `SendMessageBatchRequestEntry.3.Id`) into the member
//! shapes of the JSON protocol (`Attributes`, `MessageAttributes`, `Entries`), so that one
//! translation in `sqs_api.rs` serves both. [`to_xml`] renders a JSON result in the query
//! protocol's XML, where lists and maps are flattened into repeated elements.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::error::{xml_escape, ApiError};

/// The form parameters of the query string and the body, decoded strictly: text that is not
/// UTF-8 after percent-decoding is refused rather than altered.
pub fn parse_params(query: Option<&str>, body: &[u8]) -> Result<Vec<(String, String)>, ApiError> {
    let mut params = Vec::new();
    for source in [query.unwrap_or("").as_bytes(), body] {
        for pair in source.split(|b| *b == b'&') {
            if pair.is_empty() {
                continue;
            }
            let (key, value) = match pair.iter().position(|b| *b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &b""[..]),
            };
            params.push((decode(key)?, decode(value)?));
        }
    }
    Ok(params)
}

/// Percent-decodes form text (`+` is a space).
pub fn decode(text: &[u8]) -> Result<String, ApiError> {
    let mut bytes = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b'+' => bytes.push(b' '),
            b'%' => {
                let hex = text
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        bytes.push(b);
                        i += 2;
                    }
                    None => bytes.push(b'%'),
                }
            }
            b => bytes.push(b),
        }
        i += 1;
    }
    String::from_utf8(bytes).map_err(|_| {
        ApiError::client(
            "InvalidParameterValue",
            "A request parameter is not valid UTF-8 text",
        )
    })
}

/// Lists of strings: form prefix and JSON member.
const STRING_LISTS: &[(&str, &str)] = &[
    ("AttributeName", "AttributeNames"),
    ("MessageAttributeName", "MessageAttributeNames"),
    ("MessageSystemAttributeName", "MessageSystemAttributeNames"),
    ("TagKey", "TagKeys"),
];

/// Maps: form prefix, JSON member, and the names of the key and value fields of each entry.
const MAPS: &[(&str, &str, &str, &str)] = &[
    ("Attribute", "Attributes", "Name", "Value"),
    ("Tag", "Tags", "Key", "Value"),
    ("MessageAttribute", "MessageAttributes", "Name", "Value"),
    (
        "MessageSystemAttribute",
        "MessageSystemAttributes",
        "Name",
        "Value",
    ),
];

/// Rebuilds form parameters into the JSON protocol's request shape; every scalar stays a string.
pub fn to_json(params: &[(String, String)]) -> Map<String, Value> {
    let pairs: Vec<Pair<'_>> = params
        .iter()
        .filter(|(k, _)| k != "Action" && k != "Version")
        .map(|(k, v)| (k.split('.').collect(), v.as_str()))
        .collect();
    build(&pairs)
}

/// A form parameter split at its dots: `(["Attribute", "1", "Name"], "DelaySeconds")`.
type Pair<'a> = (Vec<&'a str>, &'a str);

fn build(pairs: &[Pair<'_>]) -> Map<String, Value> {
    let mut out = Map::new();
    // Indexed groups: prefix -> index -> the rest of each key.
    let mut groups: BTreeMap<&str, BTreeMap<u64, Vec<Pair<'_>>>> = BTreeMap::new();
    for (segments, value) in pairs {
        match segments.as_slice() {
            [name] => {
                out.insert((*name).to_owned(), Value::String((*value).to_owned()));
            }
            [prefix, index, rest @ ..] => {
                let Ok(index) = index.parse::<u64>() else {
                    continue;
                };
                groups
                    .entry(prefix)
                    .or_default()
                    .entry(index)
                    .or_default()
                    .push((rest.to_vec(), *value));
            }
            _ => {}
        }
    }
    for (prefix, entries) in groups {
        if let Some((_, member)) = STRING_LISTS.iter().find(|(p, _)| *p == prefix) {
            let list = entries
                .values()
                .filter_map(|e| e.iter().find(|(rest, _)| rest.is_empty()))
                .map(|(_, v)| Value::String((*v).to_owned()))
                .collect();
            out.insert((*member).to_owned(), Value::Array(list));
        } else if let Some((_, member, key_field, value_field)) =
            MAPS.iter().find(|(p, ..)| *p == prefix)
        {
            let mut map = Map::new();
            for entry in entries.values() {
                let Some((_, key)) = entry
                    .iter()
                    .find(|(rest, _)| rest.as_slice() == [*key_field])
                else {
                    continue;
                };
                let direct = entry
                    .iter()
                    .find(|(rest, _)| rest.as_slice() == [*value_field])
                    .map(|(_, v)| Value::String((*v).to_owned()));
                let nested: Vec<Pair<'_>> = entry
                    .iter()
                    .filter(|(rest, _)| rest.len() > 1 && rest[0] == *value_field)
                    .map(|(rest, v)| (rest[1..].to_vec(), *v))
                    .collect();
                let value = direct.unwrap_or_else(|| Value::Object(build(&nested)));
                map.insert((*key).to_owned(), value);
            }
            out.insert((*member).to_owned(), Value::Object(map));
        } else if prefix.ends_with("RequestEntry") {
            let list = entries
                .values()
                .map(|entry| Value::Object(build(entry)))
                .collect();
            out.insert("Entries".to_owned(), Value::Array(list));
        }
    }
    out
}

/// Actions whose XML answer has no `<ActionResult>` element.
const NO_RESULT: &[&str] = &[
    "DeleteQueue",
    "PurgeQueue",
    "SetQueueAttributes",
    "TagQueue",
    "UntagQueue",
    "DeleteMessage",
    "ChangeMessageVisibility",
];

/// Renders the JSON result of `action` as the query protocol's XML response.
pub fn to_xml(action: &str, result: &Value, request_id: &str) -> String {
    let mut out = String::with_capacity(256);
    out.push_str("<?xml version=\"1.0\"?>");
    out.push_str(&format!(
        "<{action}Response xmlns=\"http://queue.amazonaws.com/doc/2012-11-05/\">"
    ));
    if !NO_RESULT.contains(&action) {
        out.push_str(&format!("<{action}Result>"));
        if let Value::Object(members) = result {
            members_xml(action, members, &mut out);
        }
        out.push_str(&format!("</{action}Result>"));
    }
    out.push_str(&format!(
        "<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></{action}Response>"
    ));
    out
}

/// The element name of each item of a flattened list member.
fn list_item(action: &str, member: &str) -> String {
    match member {
        "QueueUrls" | "queueUrls" => "QueueUrl".into(),
        "Messages" => "Message".into(),
        "Successful" => format!("{action}ResultEntry"),
        "Failed" => "BatchResultErrorEntry".into(),
        "Results" => "ListMessageMoveTasksResultEntry".into(),
        other => other.into(),
    }
}

fn members_xml(action: &str, members: &Map<String, Value>, out: &mut String) {
    for (member, value) in members {
        match value {
            Value::Array(items) => {
                let name = list_item(action, member);
                for item in items {
                    element(&name, item, action, out);
                }
            }
            Value::Object(map) => {
                if let Some((prefix, _, key_field, value_field)) =
                    MAPS.iter().find(|(_, m, ..)| m == member)
                {
                    for (key, value) in map {
                        out.push_str(&format!(
                            "<{prefix}><{key_field}>{}</{key_field}>",
                            xml_escape(key)
                        ));
                        element(value_field, value, action, out);
                        out.push_str(&format!("</{prefix}>"));
                    }
                } else {
                    element(member, value, action, out);
                }
            }
            scalar => element(member, scalar, action, out),
        }
    }
}

fn element(name: &str, value: &Value, action: &str, out: &mut String) {
    out.push_str(&format!("<{name}>"));
    match value {
        Value::Object(members) => members_xml(action, members, out),
        Value::String(s) => out.push_str(&xml_escape(s)),
        Value::Null => {}
        other => out.push_str(&other.to_string()),
    }
    out.push_str(&format!("</{name}>"));
}

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::expect;

    fn check(form: &str, expected: expect_test::Expect) {
        let params = parse_params(None, form.as_bytes()).unwrap();
        expected.assert_eq(&Value::Object(to_json(&params)).to_string());
    }

    #[test]
    fn rebuilds_flattened_members() {
        check(
            "Action=CreateQueue&QueueName=q&Attribute.1.Name=DelaySeconds&Attribute.1.Value=5&Tag.1.Key=team&Tag.1.Value=a+b",
            expect![[r#"{"QueueName":"q","Attributes":{"DelaySeconds":"5"},"Tags":{"team":"a b"}}"#]],
        );
        check(
            "Action=SendMessageBatch&QueueUrl=u&SendMessageBatchRequestEntry.2.Id=b&SendMessageBatchRequestEntry.2.MessageBody=two&SendMessageBatchRequestEntry.1.Id=a&SendMessageBatchRequestEntry.1.MessageBody=one&SendMessageBatchRequestEntry.1.MessageAttribute.1.Name=k&SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.DataType=String&SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.StringValue=v",
            expect![[r#"{"QueueUrl":"u","Entries":[{"Id":"a","MessageBody":"one","MessageAttributes":{"k":{"DataType":"String","StringValue":"v"}}},{"Id":"b","MessageBody":"two"}]}"#]],
        );
        check(
            "Action=ReceiveMessage&AttributeName.1=All&MessageAttributeName.1=k%C3%A9&Bad.x.y=1",
            expect![[r#"{"AttributeNames":["All"],"MessageAttributeNames":["ké"]}"#]],
        );
    }

    #[test]
    fn refuses_invalid_utf8() {
        let error = parse_params(None, b"Action=SendMessage&MessageBody=%FF%FE").unwrap_err();
        assert_eq!(error.code, "InvalidParameterValue");
    }

    #[test]
    fn renders_flattened_xml() {
        let result = serde_json::json!({
            "Messages": [{"MessageId": "m", "Body": "<a&b>", "Attributes": {"SentTimestamp": "1"},
                          "MessageAttributes": {"k": {"StringValue": "v", "DataType": "String"}}}]
        });
        expect![[r#"<?xml version="1.0"?><ReceiveMessageResponse xmlns="http://queue.amazonaws.com/doc/2012-11-05/"><ReceiveMessageResult><Message><MessageId>m</MessageId><Body>&lt;a&amp;b&gt;</Body><Attribute><Name>SentTimestamp</Name><Value>1</Value></Attribute><MessageAttribute><Name>k</Name><Value><StringValue>v</StringValue><DataType>String</DataType></Value></MessageAttribute></Message></ReceiveMessageResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></ReceiveMessageResponse>"#]]
            .assert_eq(&to_xml("ReceiveMessage", &result, "r"));
    }
}
