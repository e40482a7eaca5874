//! CreateTable, DescribeTable, ListTables, DeleteTable and the key rules of every write.

use dynamodb::{
    BillingMode, Error, GetItemInput, ListTablesInput, ProvisionedThroughput, PutItemInput,
    ScalarType, StreamSpecification, StreamViewType,
};
use expect_test::{expect, Expect};

use crate::support::*;

/// Runs each CreateTable variant on a fresh engine and prints its outcome.
fn check_create(cases: Vec<(&str, dynamodb::CreateTableInput)>, expected: Expect) {
    let out: Vec<String> = cases
        .into_iter()
        .map(|(label, input)| {
            let e = env();
            match e.db.create_table(input) {
                Ok(d) => format!(
                    "{label}: ok {} {:?}",
                    d.table_status,
                    d.key_schema
                        .iter()
                        .map(|k| k.key_type.as_str())
                        .collect::<Vec<_>>()
                ),
                Err(err) => format!("{label}: {} {err}", err.code()),
            }
        })
        .collect();
    expected.assert_eq(&out.join("\n"));
}

#[test]
fn key_schema_is_one_hash_or_hash_then_range_defined_as_s_n_or_b() {
    let base = || table_input("t_1", &[("pk", ScalarType::S), ("sk", ScalarType::N)], None);
    let mut range_first = base();
    range_first.key_schema.reverse();
    let mut undefined = base();
    undefined.attribute_definitions.pop();
    let mut extra_def = base();
    extra_def
        .attribute_definitions
        .push(dynamodb::AttributeDefinition {
            attribute_name: "other".into(),
            attribute_type: ScalarType::B,
        });
    let mut two_hashes = base();
    two_hashes.key_schema[1].key_type = dynamodb::KeyType::Hash;
    let mut no_throughput = base();
    no_throughput.billing_mode = Some(BillingMode::Provisioned);
    let mut provisioned = base();
    provisioned.billing_mode = None;
    provisioned.provisioned_throughput = Some(ProvisionedThroughput {
        read_capacity_units: 5,
        write_capacity_units: 5,
    });
    let mut stream_without_view = base();
    stream_without_view.stream_specification = Some(StreamSpecification {
        stream_enabled: true,
        stream_view_type: None,
    });
    check_create(
        vec![
            ("hash and range", base()),
            (
                "hash only",
                table_input("t_2", &[("id", ScalarType::B)], None),
            ),
            ("range first", range_first),
            ("range not defined", undefined),
            ("extra definition", extra_def),
            ("two hashes", two_hashes),
            ("provisioned without throughput", no_throughput),
            ("provisioned", provisioned),
            ("stream without view type", stream_without_view),
            (
                "bad name",
                table_input("a b", &[("pk", ScalarType::S)], None),
            ),
        ],
        expect![[r#"
            hash and range: ok ACTIVE ["HASH", "RANGE"]
            hash only: ok ACTIVE ["HASH"]
            range first: ValidationException One or more parameter values were invalid: Invalid KeySchema: The first KeySchemaElement is not a HASH key type
            range not defined: ValidationException One or more parameter values were invalid: Some index key attributes are not defined in AttributeDefinitions. Keys: [sk], AttributeDefinitions: [pk]
            extra definition: ValidationException One or more parameter values were invalid: Number of attributes in KeySchema does not exactly match number of attributes defined in AttributeDefinitions
            two hashes: ValidationException One or more parameter values were invalid: Too many hash keys specified.  All Dynamo DB tables must have exactly one hash key
            provisioned without throughput: ValidationException One or more parameter values were invalid: ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is PROVISIONED
            provisioned: ok ACTIVE ["HASH", "RANGE"]
            stream without view type: ValidationException One or more parameter values were invalid: StreamViewType must be specified when StreamEnabled is true
            bad name: ValidationException 1 validation error detected: Value 'a b' at 'tableName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+ and have length between 3 and 255"#]],
    );
}

#[test]
fn describe_reports_arns_counts_and_stream() {
    let e = env();
    create(
        &e.db,
        "sale-dev",
        Some(ScalarType::S),
        Some(StreamViewType::NewImage),
    );
    for i in 0..3 {
        e.db.put_item(PutItemInput {
            table_name: "sale-dev".into(),
            item: j(&format!(
                r#"{{"pk":{{"S":"p{i}"}},"sk":{{"S":"s"}},"quantity":{{"N":"12"}}}}"#
            )),
            ..Default::default()
        })
        .unwrap();
    }
    let d = e.db.describe_table("sale-dev").unwrap();
    assert_eq!(
        d.table_arn,
        "arn:aws:dynamodb:us-east-1:000000000000:table/sale-dev"
    );
    assert_eq!(
        d.latest_stream_label.as_deref(),
        Some("2026-11-26T00:00:00.000")
    );
    assert_eq!(
        d.latest_stream_arn.as_deref(),
        Some(
            "arn:aws:dynamodb:us-east-1:000000000000:table/sale-dev/stream/2026-11-26T00:00:00.000"
        )
    );
    assert_eq!(d.item_count, 3);
    // pk (2 + 2) + sk (2 + 1) + quantity (8 + 2) per item.
    assert_eq!(d.table_size_bytes, 3 * 17);
    assert_eq!(d.billing_mode, BillingMode::PayPerRequest);
    assert_eq!(d.creation_date_time_millis, T0);
    let err = e.db.describe_table("nope-table").unwrap_err();
    assert_eq!(err.code(), "ResourceNotFoundException");
}

#[test]
fn create_existing_is_in_use_and_delete_removes_items() {
    let e = env();
    create(&e.db, "branch", None, None);
    let again =
        e.db.create_table(table_input("branch", &[("pk", ScalarType::S)], None));
    assert_eq!(
        again.unwrap_err(),
        Error::ResourceInUse("Table already exists: branch".into())
    );
    e.db.put_item(PutItemInput {
        table_name: "branch".into(),
        item: j(r#"{"pk":{"S":"a"}}"#),
        ..Default::default()
    })
    .unwrap();
    let deleted = e.db.delete_table("branch").unwrap();
    assert_eq!(deleted.table_status, "DELETING");
    assert_eq!(
        e.db.describe_table("branch").unwrap_err().code(),
        "ResourceNotFoundException"
    );
    create(&e.db, "branch", None, None);
    let got = e.db.get_item(GetItemInput {
        table_name: "branch".into(),
        key: j(r#"{"pk":{"S":"a"}}"#),
        ..Default::default()
    });
    assert_eq!(got.unwrap().item, None, "a re-created table starts empty");
}

#[test]
fn list_tables_pages_in_name_order() {
    let e = env();
    for name in ["ccc", "aaa", "bbb", "ddd"] {
        create(&e.db, name, None, None);
    }
    let page =
        e.db.list_tables(ListTablesInput {
            limit: Some(3),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(page.table_names, ["aaa", "bbb", "ccc"]);
    assert_eq!(page.last_evaluated_table_name.as_deref(), Some("ccc"));
    let rest =
        e.db.list_tables(ListTablesInput {
            exclusive_start_table_name: page.last_evaluated_table_name,
            limit: Some(3),
        })
        .unwrap();
    assert_eq!(rest.table_names, ["ddd"]);
    assert_eq!(rest.last_evaluated_table_name, None);
}

/// Puts each item into a table keyed by pk (S) and sk (N) and prints the outcome.
fn check_puts(items: &[&str], expected: Expect) {
    let e = env();
    create(&e.db, "keys", Some(ScalarType::N), None);
    let out: Vec<String> = items
        .iter()
        .map(|text| {
            let r = e.db.put_item(PutItemInput {
                table_name: "keys".into(),
                item: j(text),
                ..Default::default()
            });
            match r {
                Ok(_) => format!("{text} => ok"),
                Err(err) => format!("{text} => {err}"),
            }
        })
        .collect();
    expected.assert_eq(&out.join("\n"));
}

#[test]
fn key_rules_apply_on_every_write() {
    check_puts(
        &[
            r#"{"pk":{"S":"a"},"sk":{"N":"1"}}"#,
            r#"{"pk":{"S":"a"}}"#,
            r#"{"pk":{"N":"1"},"sk":{"N":"1"}}"#,
            r#"{"pk":{"S":""},"sk":{"N":"1"}}"#,
            r#"{"pk":{"S":"a"},"sk":{"S":"1"}}"#,
        ],
        expect![[r#"
            {"pk":{"S":"a"},"sk":{"N":"1"}} => ok
            {"pk":{"S":"a"}} => One or more parameter values were invalid: Missing the key sk in the item
            {"pk":{"N":"1"},"sk":{"N":"1"}} => One or more parameter values were invalid: Type mismatch for key pk expected: S actual: N
            {"pk":{"S":""},"sk":{"N":"1"}} => One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty string value. Key: pk
            {"pk":{"S":"a"},"sk":{"S":"1"}} => One or more parameter values were invalid: Type mismatch for key sk expected: N actual: S"#]],
    );
    let e = env();
    create(&e.db, "keys", Some(ScalarType::N), None);
    for key in [
        r#"{"pk":{"S":"a"}}"#,
        r#"{"pk":{"S":"a"},"sk":{"N":"1"},"x":{"S":"y"}}"#,
        r#"{"pk":{"S":"a"},"sk":{"S":"1"}}"#,
    ] {
        let err =
            e.db.get_item(GetItemInput {
                table_name: "keys".into(),
                key: j(key),
                ..Default::default()
            })
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "The provided key element does not match the schema",
            "{key}"
        );
    }
}

#[test]
fn a_table_created_again_with_another_key_type_takes_writes_by_its_new_schema() {
    let e = env();
    let other = e.db.clone();
    create(&e.db, "again", None, None);
    e.db.put_item(PutItemInput {
        table_name: "again".into(),
        item: j(r#"{"pk":{"S":"a"}}"#),
        ..Default::default()
    })
    .unwrap();
    other.delete_table("again").unwrap();
    other
        .create_table(table_input("again", &[("pk", ScalarType::N)], None))
        .unwrap();
    let stale = e.db.put_item(PutItemInput {
        table_name: "again".into(),
        item: j(r#"{"pk":{"S":"a"}}"#),
        ..Default::default()
    });
    assert_eq!(
        stale.unwrap_err().to_string(),
        "One or more parameter values were invalid: Type mismatch for key pk expected: N actual: S"
    );
    e.db.put_item(PutItemInput {
        table_name: "again".into(),
        item: j(r#"{"pk":{"N":"1"}}"#),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(e.db.describe_table("again").unwrap().item_count, 1);
}
