//! BatchWriteItem and BatchGetItem.

use dynamodb::{
    BatchGetItemInput, BatchWriteItemInput, Item, KeysAndAttributes, ScalarType, WriteRequest,
};

use crate::support::*;

fn puts(table: &str, range: std::ops::Range<usize>) -> BatchWriteItemInput {
    let mut input = BatchWriteItemInput::default();
    input.request_items.insert(
        table.into(),
        range
            .map(|i| WriteRequest::Put {
                item: j(&format!(r#"{{"pk":{{"S":"k{i}"}},"v":{{"N":"{i}"}}}}"#)),
            })
            .collect(),
    );
    input
}

#[test]
fn batch_write_takes_at_most_25_and_reports_no_unprocessed_items() {
    let e = env();
    create(&e.db, "tbl", None, None);
    create(&e.db, "ubl", None, None);
    let out = e.db.batch_write_item(puts("tbl", 0..25)).unwrap();
    assert!(out.unprocessed_items.is_empty());
    let err = e.db.batch_write_item(puts("tbl", 0..26)).unwrap_err();
    assert!(
        err.to_string()
            .contains("Member must have length less than or equal to 25"),
        "{err}"
    );
    // Puts and deletes across two tables in one call.
    let mut mixed = puts("ubl", 0..3);
    mixed.request_items.insert(
        "tbl".into(),
        vec![WriteRequest::Delete {
            key: j(r#"{"pk":{"S":"k0"}}"#),
        }],
    );
    e.db.batch_write_item(mixed).unwrap();
    assert_eq!(e.db.describe_table("tbl").unwrap().item_count, 24);
    assert_eq!(e.db.describe_table("ubl").unwrap().item_count, 3);
    let mut dup = puts("tbl", 0..2);
    dup.request_items
        .get_mut("tbl")
        .unwrap()
        .push(WriteRequest::Delete {
            key: j(r#"{"pk":{"S":"k1"}}"#),
        });
    assert_eq!(
        e.db.batch_write_item(dup).unwrap_err().to_string(),
        "Provided list of item keys contains duplicates"
    );
    let mut bad_key = puts("tbl", 30..31);
    bad_key
        .request_items
        .get_mut("tbl")
        .unwrap()
        .push(WriteRequest::Put {
            item: j(r#"{"v":{"N":"1"}}"#),
        });
    assert_eq!(bad_key.request_items["tbl"].len(), 2);
    assert_eq!(
        e.db.batch_write_item(bad_key).unwrap_err().code(),
        "ValidationException"
    );
    assert_eq!(
        e.db.describe_table("tbl").unwrap().item_count,
        24,
        "a refused batch writes nothing"
    );
}

#[test]
fn batch_get_returns_found_items_and_refuses_over_100_keys() {
    let e = env();
    create(&e.db, "tbl", None, None);
    e.db.batch_write_item(puts("tbl", 0..10)).unwrap();
    let keys = |r: std::ops::Range<usize>| KeysAndAttributes {
        keys: r
            .map(|i| j(&format!(r#"{{"pk":{{"S":"k{i}"}}}}"#)))
            .collect(),
        projection_expression: Some("v".into()),
        ..Default::default()
    };
    let mut input = BatchGetItemInput::default();
    input.request_items.insert("tbl".into(), keys(5..15));
    let out = e.db.batch_get_item(input).unwrap();
    let mut got: Vec<String> = out.responses["tbl"].iter().map(show).collect();
    got.sort();
    assert_eq!(got.len(), 5);
    assert_eq!(got[0], r#"{"v": {N:5}}"#);
    assert!(out.unprocessed_keys.is_empty());
    let mut too_many = BatchGetItemInput::default();
    too_many.request_items.insert("tbl".into(), keys(0..101));
    assert_eq!(
        e.db.batch_get_item(too_many).unwrap_err().to_string(),
        "Too many items requested for the BatchGetItem call"
    );
}

#[test]
fn batch_get_refuses_a_repeated_key_wherever_it_stands() {
    let e = env();
    create(&e.db, "two", Some(ScalarType::N), None);
    let key = |pk: &str, sk: &str| j(&format!(r#"{{"pk":{{"S":"{pk}"}},"sk":{{"N":"{sk}"}}}}"#));
    let get = |keys: Vec<Item>| {
        let mut input = BatchGetItemInput::default();
        input.request_items.insert(
            "two".into(),
            KeysAndAttributes {
                keys,
                ..Default::default()
            },
        );
        e.db.batch_get_item(input)
    };
    // Keys that share a partition key or a sort key are different keys; a number's two spellings
    // are the same key.
    let distinct = vec![key("a", "1"), key("a", "2"), key("b", "1")];
    assert!(get(distinct).unwrap().responses["two"].is_empty());
    for repeated in [
        vec![key("a", "1"), key("a", "1"), key("b", "2")],
        vec![key("b", "2"), key("a", "1"), key("c", "3"), key("a", "1.0")],
        vec![key("a", "1"), key("b", "2"), key("c", "3"), key("b", "2")],
    ] {
        assert_eq!(
            get(repeated).unwrap_err().to_string(),
            "Provided list of item keys contains duplicates"
        );
    }
}

#[test]
fn batch_get_hands_back_the_keys_past_16_mb_of_items() {
    let e = env();
    create(&e.db, "tbl", None, None);
    let big = "x".repeat(300_000);
    for chunk in [0..25, 25..50, 50..60] {
        let mut input = BatchWriteItemInput::default();
        input.request_items.insert(
            "tbl".into(),
            chunk
                .map(|i| WriteRequest::Put {
                    item: j(&format!(
                        r#"{{"pk":{{"S":"k{i}"}},"p":{{"S":"{big}"}},"v":{{"N":"{i}"}}}}"#
                    )),
                })
                .collect(),
        );
        e.db.batch_write_item(input).unwrap();
    }
    let mut input = BatchGetItemInput::default();
    input.request_items.insert(
        "tbl".into(),
        KeysAndAttributes {
            keys: (0..60)
                .map(|i| j(&format!(r#"{{"pk":{{"S":"k{i}"}}}}"#)))
                .collect(),
            projection_expression: Some("v".into()),
            consistent_read: true,
            ..Default::default()
        },
    );
    let out = e.db.batch_get_item(input).unwrap();
    // An item is about 300,009 bytes, so the 56th read passes 16 MiB (16,777,216 bytes): the four
    // keys not read come back as they were asked, with the request's settings.
    assert_eq!(out.responses["tbl"].len(), 56);
    let rest = &out.unprocessed_keys["tbl"];
    let keys: Vec<String> = rest.keys.iter().map(show).collect();
    assert_eq!(
        keys,
        [56, 57, 58, 59].map(|i| format!(r#"{{"pk": {{S:"k{i}"}}}}"#))
    );
    assert_eq!(rest.projection_expression.as_deref(), Some("v"));
    assert!(rest.consistent_read);
}
