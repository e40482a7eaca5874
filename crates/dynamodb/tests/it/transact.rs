//! TransactWriteItems and TransactGetItems: all or nothing, with cancellation reasons.

use dynamodb::{
    DeleteItemInput, Error, GetItemInput, PutItemInput, ReturnOnFailure, TransactGetItem,
    TransactGetItemsInput, TransactWriteItem, TransactWriteItemsInput, UpdateItemInput,
};

use crate::support::*;

fn get(e: &Env, pk: &str) -> Option<String> {
    e.db.get_item(GetItemInput {
        table_name: "tbl".into(),
        key: j(&format!(r#"{{"pk":{{"S":"{pk}"}}}}"#)),
        ..Default::default()
    })
    .unwrap()
    .item
    .map(|i| show(&i))
}

fn put(item: &str, cond: Option<&str>) -> TransactWriteItem {
    TransactWriteItem::Put(PutItemInput {
        table_name: "tbl".into(),
        item: j(item),
        condition_expression: cond.map(String::from),
        ..Default::default()
    })
}

#[test]
fn a_failed_condition_cancels_every_action() {
    let e = env();
    create(&e.db, "tbl", None, None);
    e.db.put_item(PutItemInput {
        table_name: "tbl".into(),
        item: j(r#"{"pk":{"S":"taken"},"n":{"N":"1"}}"#),
        ..Default::default()
    })
    .unwrap();
    let err =
        e.db.transact_write_items(TransactWriteItemsInput {
            transact_items: vec![
                put(r#"{"pk":{"S":"new"}}"#, None),
                TransactWriteItem::ConditionCheck {
                    table_name: "tbl".into(),
                    key: j(r#"{"pk":{"S":"taken"}}"#),
                    condition_expression: "attribute_not_exists(pk)".into(),
                    expression_attribute_names: Default::default(),
                    expression_attribute_values: Default::default(),
                    return_values_on_condition_check_failure: ReturnOnFailure::AllOld,
                },
                TransactWriteItem::Delete(DeleteItemInput {
                    table_name: "tbl".into(),
                    key: j(r#"{"pk":{"S":"other"}}"#),
                    ..Default::default()
                }),
            ],
            client_request_token: None,
        })
        .unwrap_err();
    assert_eq!(err.code(), "TransactionCanceledException");
    assert_eq!(
        err.to_string(),
        "Transaction cancelled, please refer cancellation reasons for specific reasons [None, ConditionalCheckFailed, None]"
    );
    let Error::TransactionCanceled { reasons } = err else {
        unreachable!()
    };
    assert_eq!(
        reasons[1].item,
        Some(j(r#"{"pk":{"S":"taken"},"n":{"N":"1"}}"#))
    );
    assert_eq!(
        get(&e, "new"),
        None,
        "nothing of a cancelled transaction is written"
    );
    assert!(get(&e, "taken").is_some());

    e.db.transact_write_items(TransactWriteItemsInput {
        transact_items: vec![
            put(r#"{"pk":{"S":"new"}}"#, Some("attribute_not_exists(pk)")),
            TransactWriteItem::Update(UpdateItemInput {
                table_name: "tbl".into(),
                key: j(r#"{"pk":{"S":"taken"}}"#),
                update_expression: Some("ADD n :one".into()),
                expression_attribute_values: vals(r#"{":one":{"N":"1"}}"#),
                ..Default::default()
            }),
        ],
        client_request_token: None,
    })
    .unwrap();
    assert_eq!(get(&e, "new").as_deref(), Some(r#"{"pk": {S:"new"}}"#));
    assert_eq!(
        get(&e, "taken").as_deref(),
        Some(r#"{"n": {N:2}, "pk": {S:"taken"}}"#)
    );

    let twice = e.db.transact_write_items(TransactWriteItemsInput {
        transact_items: vec![
            put(r#"{"pk":{"S":"x"}}"#, None),
            put(r#"{"pk":{"S":"x"}}"#, None),
        ],
        client_request_token: None,
    });
    assert_eq!(
        twice.unwrap_err().to_string(),
        "Transaction request cannot include multiple operations on one item"
    );
    let too_many = (0..101)
        .map(|i| put(&format!(r#"{{"pk":{{"S":"{i}"}}}}"#), None))
        .collect();
    let err =
        e.db.transact_write_items(TransactWriteItemsInput {
            transact_items: too_many,
            client_request_token: None,
        })
        .unwrap_err();
    assert_eq!(err.code(), "ValidationException");
}

#[test]
fn transact_get_reads_every_item_in_order() {
    let e = env();
    create(&e.db, "tbl", None, None);
    e.db.put_item(PutItemInput {
        table_name: "tbl".into(),
        item: j(r#"{"pk":{"S":"a"},"v":{"N":"1"}}"#),
        ..Default::default()
    })
    .unwrap();
    let get = |pk: &str| TransactGetItem {
        table_name: "tbl".into(),
        key: j(&format!(r#"{{"pk":{{"S":"{pk}"}}}}"#)),
        ..Default::default()
    };
    let out =
        e.db.transact_get_items(TransactGetItemsInput {
            transact_items: vec![get("zz"), get("a")],
        })
        .unwrap();
    assert_eq!(
        out.responses,
        vec![None, Some(j(r#"{"pk":{"S":"a"},"v":{"N":"1"}}"#))]
    );
}

#[test]
fn an_action_failing_after_others_ran_leaves_no_item_and_no_stream_record() {
    let e = env();
    create(&e.db, "tbl", None, Some(dynamodb::StreamViewType::NewImage));
    e.db.put_item(PutItemInput {
        table_name: "tbl".into(),
        item: j(r#"{"pk":{"S":"text"},"v":{"S":"not a number"}}"#),
        ..Default::default()
    })
    .unwrap();
    let err =
        e.db.transact_write_items(TransactWriteItemsInput {
            transact_items: vec![
                put(r#"{"pk":{"S":"written-first"}}"#, None),
                TransactWriteItem::Update(UpdateItemInput {
                    table_name: "tbl".into(),
                    key: j(r#"{"pk":{"S":"text"}}"#),
                    update_expression: Some("SET v = v + :one".into()),
                    expression_attribute_values: vals(r#"{":one":{"N":"1"}}"#),
                    ..Default::default()
                }),
            ],
            client_request_token: None,
        })
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "An operand in the update expression has an incorrect data type"
    );
    assert_eq!(get(&e, "written-first"), None);
    let arn =
        e.db.describe_table("tbl")
            .unwrap()
            .latest_stream_arn
            .unwrap();
    let shard = e.db.describe_stream(&arn).unwrap().shards[0]
        .shard_id
        .clone();
    let it =
        e.db.get_shard_iterator(dynamodb::GetShardIteratorInput {
            stream_arn: arn,
            shard_id: shard,
            shard_iterator_type: dynamodb::ShardIteratorType::TrimHorizon,
            sequence_number: None,
        })
        .unwrap();
    let records =
        e.db.get_records(dynamodb::GetRecordsInput {
            shard_iterator: it,
            limit: None,
        })
        .unwrap()
        .records;
    assert_eq!(records.len(), 1, "only the first put's record");
    assert_eq!(e.db.describe_table("tbl").unwrap().item_count, 1);
}
