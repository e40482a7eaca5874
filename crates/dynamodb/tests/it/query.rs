//! Query and Scan: key conditions, order, filters, Select COUNT, Limit and 1 MB pages, segments.

use std::collections::BTreeSet;

use dynamodb::{
    BatchWriteItemInput, DynamoDb, Item, QueryInput, ScalarType, ScanInput, Select, WriteRequest,
};
use expect_test::{expect, Expect};

use crate::support::*;

fn fill(db: &DynamoDb, table: &str, items: Vec<Item>) {
    for chunk in items.chunks(25) {
        let mut input = BatchWriteItemInput::default();
        input.request_items.insert(
            table.into(),
            chunk
                .iter()
                .map(|i| WriteRequest::Put { item: i.clone() })
                .collect(),
        );
        db.batch_write_item(input).unwrap();
    }
}

fn numbers_table() -> Env {
    let e = env();
    create(&e.db, "qry", Some(ScalarType::N), None);
    let sks = ["-10", "-2.5", "0", "1", "1.5", "2", "10", "100"];
    let mut items: Vec<Item> = sks
        .iter()
        .map(|sk| {
            j(&format!(
                r#"{{"pk":{{"S":"p"}},"sk":{{"N":"{sk}"}},"odd":{{"BOOL":{}}}}}"#,
                sk.len() % 2 == 1
            ))
        })
        .collect();
    items.push(j(r#"{"pk":{"S":"other"},"sk":{"N":"5"}}"#));
    fill(&e.db, "qry", items);
    e
}

/// Runs each key condition (with `:p` = "p" and the given values) and prints the sort keys found.
fn check_queries(e: &Env, cases: &[(&str, &str)], expected: Expect) {
    let out: Vec<String> = cases
        .iter()
        .map(|(cond, v)| {
            let mut values = vals(&format!(r#"{{":p":{{"S":"p"}}{v}}}"#));
            if !cond.contains(":p") {
                values.remove(":p");
            }
            let r = e.db.query(QueryInput {
                table_name: "qry".into(),
                key_condition_expression: Some(cond.to_string()),
                expression_attribute_values: values,
                ..Default::default()
            });
            match r {
                Ok(o) => format!(
                    "{cond} => {}",
                    o.items
                        .iter()
                        .map(|i| format!("{:?}", i["sk"]))
                        .collect::<Vec<_>>()
                        .join(" ")
                ),
                Err(err) => format!("{cond} => {err}"),
            }
        })
        .collect();
    expected.assert_eq(&out.join("\n"));
}

#[test]
fn query_needs_partition_equality_and_sorts_by_sort_key() {
    let e = numbers_table();
    check_queries(
        &e,
        &[
            ("pk = :p", ""),
            ("pk = :p AND sk < :v", r#",":v":{"N":"1"}"#),
            ("pk = :p AND sk <= :v", r#",":v":{"N":"1"}"#),
            ("pk = :p AND sk > :v", r#",":v":{"N":"1.5"}"#),
            ("pk = :p AND sk >= :v", r#",":v":{"N":"1.5"}"#),
            ("pk = :p AND sk = :v", r#",":v":{"N":"2"}"#),
            (
                "pk = :p AND sk BETWEEN :a AND :b",
                r#",":a":{"N":"-3"},":b":{"N":"1.5"}"#,
            ),
            (":p = pk AND :v < sk", r#",":v":{"N":"10"}"#),
            ("sk = :v", r#",":v":{"N":"2"}"#),
            ("pk > :p", ""),
            ("pk = :p OR sk = :v", r#",":v":{"N":"2"}"#),
            ("pk = :p AND sk = :v AND sk = :v", r#",":v":{"N":"2"}"#),
            ("pk = :p AND sk = :v", r#",":v":{"S":"2"}"#),
            ("pk = :p AND begins_with(sk, :v)", r#",":v":{"N":"1"}"#),
            ("pk = :p AND price = :v", r#",":v":{"N":"2"}"#),
            ("pk = :p AND sk <> :v", r#",":v":{"N":"2"}"#),
        ],
        expect![[r#"
            pk = :p => {N:-10} {N:-2.5} {N:0} {N:1} {N:1.5} {N:2} {N:10} {N:100}
            pk = :p AND sk < :v => {N:-10} {N:-2.5} {N:0}
            pk = :p AND sk <= :v => {N:-10} {N:-2.5} {N:0} {N:1}
            pk = :p AND sk > :v => {N:2} {N:10} {N:100}
            pk = :p AND sk >= :v => {N:1.5} {N:2} {N:10} {N:100}
            pk = :p AND sk = :v => {N:2}
            pk = :p AND sk BETWEEN :a AND :b => {N:-2.5} {N:0} {N:1} {N:1.5}
            :p = pk AND :v < sk => {N:100}
            sk = :v => Query condition missed key schema element: pk
            pk > :p => Query key condition not supported
            pk = :p OR sk = :v => Invalid KeyConditionExpression: Invalid operator used in KeyConditionExpression: OR
            pk = :p AND sk = :v AND sk = :v => Invalid KeyConditionExpression: Conditions can be of length 1 or 2 only
            pk = :p AND sk = :v => One or more parameter values were invalid: Condition parameter type does not match schema type
            pk = :p AND begins_with(sk, :v) => Invalid KeyConditionExpression: Incorrect operand type for operator or function; operator or function: begins_with, operand type: N
            pk = :p AND price = :v => Query condition missed key schema element: sk
            pk = :p AND sk <> :v => Query key condition not supported"#]],
    );
}

#[test]
fn begins_with_on_string_sort_keys_and_reverse_order() {
    let e = env();
    create(&e.db, "qry", Some(ScalarType::S), None);
    let sks = ["a", "ab", "abc", "abd", "ac", "b", "\u{e9}", "a\u{10ffff}"];
    fill(
        &e.db,
        "qry",
        sks.iter()
            .map(|sk| j(&format!(r#"{{"pk":{{"S":"p"}},"sk":{{"S":"{sk}"}}}}"#)))
            .collect(),
    );
    let run = |cond: &str, forward: bool| {
        let o =
            e.db.query(QueryInput {
                table_name: "qry".into(),
                key_condition_expression: Some(cond.into()),
                expression_attribute_values: vals(r#"{":p":{"S":"p"},":v":{"S":"ab"}}"#),
                scan_index_forward: forward,
                ..Default::default()
            })
            .unwrap();
        o.items
            .iter()
            .map(|i| format!("{:?}", i["sk"]))
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(
        run("pk = :p AND begins_with(sk, :v)", true),
        r#"{S:"ab"} {S:"abc"} {S:"abd"}"#
    );
    assert_eq!(
        run("pk = :p AND begins_with(sk, :v)", false),
        r#"{S:"abd"} {S:"abc"} {S:"ab"}"#
    );
    // Strings sort by UTF-8 bytes: "a" then U+10FFFF (F4 8F BF BF) sorts after "ac"; "é" (C3 A9)
    // after "b".
    assert_eq!(
        run("pk = :p AND sk > :v", true),
        r#"{S:"abc"} {S:"abd"} {S:"ac"} {S:"a\u{10ffff}"} {S:"b"} {S:"é"}"#
    );
}

#[test]
fn limit_pages_continue_from_last_evaluated_key_and_filter_counts() {
    let e = numbers_table();
    let page = |start: Option<Item>, forward: bool| {
        e.db.query(QueryInput {
            table_name: "qry".into(),
            key_condition_expression: Some("pk = :p".into()),
            filter_expression: Some("odd = :t".into()),
            expression_attribute_values: vals(r#"{":p":{"S":"p"},":t":{"BOOL":true}}"#),
            limit: Some(3),
            exclusive_start_key: start,
            scan_index_forward: forward,
            ..Default::default()
        })
        .unwrap()
    };
    let mut seen = Vec::new();
    let mut start = None;
    let mut pages = 0;
    loop {
        let o = page(start, true);
        pages += 1;
        assert!(o.scanned_count <= 3);
        assert_eq!(o.count, o.items.len());
        seen.extend(o.items.iter().map(|i| format!("{:?}", i["sk"])));
        start = o.last_evaluated_key;
        if start.is_none() {
            break;
        }
    }
    // Odd-length texts: "-10", "0", "1", "1.5", "2", "100"; 8 items in pages of 3 (the last one has 2).
    assert_eq!(
        seen,
        ["{N:-10}", "{N:0}", "{N:1}", "{N:1.5}", "{N:2}", "{N:100}"]
    );
    assert_eq!(pages, 3);
    let back = page(None, false);
    assert_eq!(
        show(back.last_evaluated_key.as_ref().unwrap()),
        r#"{"pk": {S:"p"}, "sk": {N:2}}"#
    );
    let count =
        e.db.query(QueryInput {
            table_name: "qry".into(),
            key_condition_expression: Some("pk = :p".into()),
            expression_attribute_values: vals(r#"{":p":{"S":"p"}}"#),
            select: Some(Select::Count),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(
        (count.count, count.scanned_count, count.items.len()),
        (8, 8, 0)
    );
    let key_in_filter = e.db.query(QueryInput {
        table_name: "qry".into(),
        key_condition_expression: Some("pk = :p".into()),
        filter_expression: Some("sk = :t".into()),
        expression_attribute_values: vals(r#"{":p":{"S":"p"},":t":{"N":"1"}}"#),
        ..Default::default()
    });
    assert_eq!(
        key_in_filter.unwrap_err().to_string(),
        "Filter Expression can only contain non-primary key attributes: Primary key attribute: sk"
    );
}

#[test]
fn pages_stop_at_one_megabyte() {
    let e = env();
    create(&e.db, "qry", Some(ScalarType::N), None);
    let blob = "x".repeat(100 * 1024);
    let items = (0..25)
        .map(|i| {
            j(&format!(
                r#"{{"pk":{{"S":"p"}},"sk":{{"N":"{i}"}},"d":{{"S":"{blob}"}}}}"#
            ))
        })
        .collect();
    fill(&e.db, "qry", items);
    let first =
        e.db.query(QueryInput {
            table_name: "qry".into(),
            key_condition_expression: Some("pk = :p".into()),
            expression_attribute_values: vals(r#"{":p":{"S":"p"}}"#),
            ..Default::default()
        })
        .unwrap();
    // Ten items of ~100 KB reach 1 MB (1,048,576 bytes) on the eleventh.
    assert_eq!(first.items.len(), 11);
    assert_eq!(
        show(first.last_evaluated_key.as_ref().unwrap()),
        r#"{"pk": {S:"p"}, "sk": {N:10}}"#
    );
    let scan =
        e.db.scan(ScanInput {
            table_name: "qry".into(),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(scan.items.len(), 11);
    let rest =
        e.db.scan(ScanInput {
            table_name: "qry".into(),
            exclusive_start_key: scan.last_evaluated_key,
            ..Default::default()
        })
        .unwrap();
    let last =
        e.db.scan(ScanInput {
            table_name: "qry".into(),
            exclusive_start_key: rest.last_evaluated_key,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(
        (rest.items.len(), last.items.len(), last.last_evaluated_key),
        (11, 3, None)
    );
}

#[test]
fn scan_segments_partition_the_table() {
    let e = env();
    create(&e.db, "qry", None, None);
    fill(
        &e.db,
        "qry",
        (0..200)
            .map(|i| j(&format!(r#"{{"pk":{{"S":"k{i}"}}}}"#)))
            .collect(),
    );
    let mut all = BTreeSet::new();
    let mut total = 0;
    for segment in 0..4 {
        let mut start = None;
        loop {
            let o =
                e.db.scan(ScanInput {
                    table_name: "qry".into(),
                    segment: Some(segment),
                    total_segments: Some(4),
                    limit: Some(7),
                    exclusive_start_key: start,
                    ..Default::default()
                })
                .unwrap();
            assert!(o.items.len() < 200, "one segment holds part of the table");
            total += o.items.len();
            all.extend(o.items.iter().map(show));
            start = o.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
    }
    assert_eq!((total, all.len()), (200, 200));
    let bad = e.db.scan(ScanInput {
        table_name: "qry".into(),
        segment: Some(4),
        total_segments: Some(4),
        ..Default::default()
    });
    assert_eq!(
        bad.unwrap_err().to_string(),
        "The Segment parameter is zero-based and must be less than parameter TotalSegments: Segment: 4 is out of bounds; TotalSegments: 4"
    );
    let filtered =
        e.db.scan(ScanInput {
            table_name: "qry".into(),
            filter_expression: Some("begins_with(pk, :p)".into()),
            expression_attribute_values: vals(r#"{":p":{"S":"k1"}}"#),
            select: Some(Select::Count),
            ..Default::default()
        })
        .unwrap();
    // k1, k10-k19, k100-k199.
    assert_eq!((filtered.count, filtered.scanned_count), (111, 200));
}
