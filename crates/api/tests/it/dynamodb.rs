//! DynamoDB and DynamoDB Streams through `aws-sdk-dynamodb` and `aws-sdk-dynamodbstreams`: every
//! operation and the error shapes.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, ConditionCheck, Delete, DeleteRequest, Get,
    KeySchemaElement, KeyType, KeysAndAttributes, Put, PutRequest, ReturnValue,
    ReturnValuesOnConditionCheckFailure, ScalarAttributeType, Select, StreamSpecification,
    StreamViewType, TimeToLiveSpecification, TransactGetItem, TransactWriteItem, Update,
    WriteRequest,
};

use crate::support::{start, Server};

fn s(text: &str) -> AttributeValue {
    AttributeValue::S(text.to_owned())
}

fn n(text: &str) -> AttributeValue {
    AttributeValue::N(text.to_owned())
}

/// A table `sales` keyed by `pk` (S) and `sk` (N), with a NEW_AND_OLD_IMAGES stream.
async fn create_sales(server: &Server) -> aws_sdk_dynamodb::Client {
    let db = server.dynamodb();
    let created = db
        .create_table()
        .table_name("sales")
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("sk")
                .key_type(KeyType::Range)
                .build()
                .unwrap(),
        )
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("sk")
                .attribute_type(ScalarAttributeType::N)
                .build()
                .unwrap(),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewAndOldImages)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let table = created.table_description.unwrap();
    assert_eq!(table.table_name(), Some("sales"));
    assert!(table.latest_stream_arn().is_some());
    db
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn table_operations() {
    let server = start().await;
    let db = create_sales(&server).await;
    let described = db
        .describe_table()
        .table_name("sales")
        .send()
        .await
        .unwrap();
    let table = described.table.unwrap();
    assert_eq!(table.key_schema().len(), 2);
    assert_eq!(
        table.billing_mode_summary().and_then(|b| b.billing_mode()),
        Some(&BillingMode::PayPerRequest)
    );
    assert!(table.creation_date_time().is_some());

    let listed = db.list_tables().send().await.unwrap();
    assert_eq!(listed.table_names(), ["sales"]);

    let ttl = db
        .describe_time_to_live()
        .table_name("sales")
        .send()
        .await
        .unwrap();
    assert!(ttl.time_to_live_description().is_some());
    let updated = db
        .update_time_to_live()
        .table_name("sales")
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .enabled(true)
                .attribute_name("expires")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        updated
            .time_to_live_specification()
            .unwrap()
            .attribute_name(),
        "expires"
    );
    let arn = table.table_arn().unwrap();
    let tags = db
        .list_tags_of_resource()
        .resource_arn(arn)
        .send()
        .await
        .unwrap();
    assert!(tags.tags().is_empty());

    let deleted = db.delete_table().table_name("sales").send().await.unwrap();
    assert_eq!(
        deleted.table_description().unwrap().table_name(),
        Some("sales")
    );
    let error = db
        .describe_table()
        .table_name("sales")
        .send()
        .await
        .unwrap_err();
    assert!(
        error
            .as_service_error()
            .unwrap()
            .is_resource_not_found_exception(),
        "{error:?}"
    );
    let again = db.create_table().table_name("x").send().await.unwrap_err();
    assert!(again.as_service_error().is_some(), "{again:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn item_operations() {
    let server = start().await;
    let db = create_sales(&server).await;
    let item = HashMap::from([
        ("pk".to_owned(), s("branch-1")),
        ("sk".to_owned(), n("1")),
        ("amount".to_owned(), n("12.50")),
        (
            "tags".to_owned(),
            AttributeValue::Ss(vec!["b".into(), "a".into()]),
        ),
        (
            "blob".to_owned(),
            AttributeValue::B(aws_sdk_dynamodb::primitives::Blob::new(vec![1u8, 2, 3])),
        ),
        (
            "nested".to_owned(),
            AttributeValue::M(HashMap::from([(
                "list".to_owned(),
                AttributeValue::L(vec![AttributeValue::Bool(true), AttributeValue::Null(true)]),
            )])),
        ),
    ]);
    db.put_item()
        .table_name("sales")
        .set_item(Some(item.clone()))
        .send()
        .await
        .unwrap();
    let key = HashMap::from([("pk".to_owned(), s("branch-1")), ("sk".to_owned(), n("1"))]);
    let got = db
        .get_item()
        .table_name("sales")
        .set_key(Some(key.clone()))
        .send()
        .await
        .unwrap();
    let got = got.item.unwrap();
    assert_eq!(got["amount"], n("12.5"));
    assert_eq!(got["blob"], item["blob"]);
    assert_eq!(got["nested"], item["nested"]);

    // A failed condition returns the item when asked.
    let failed = db
        .put_item()
        .table_name("sales")
        .set_item(Some(item.clone()))
        .condition_expression("attribute_not_exists(pk)")
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
        .send()
        .await
        .unwrap_err();
    let failed = failed.into_service_error();
    assert!(failed.is_conditional_check_failed_exception(), "{failed:?}");

    let updated = db
        .update_item()
        .table_name("sales")
        .set_key(Some(key.clone()))
        .update_expression("SET amount = amount + :d, #n = :name")
        .expression_attribute_names("#n", "name")
        .expression_attribute_values(":d", n("0.5"))
        .expression_attribute_values(":name", s("Dwight"))
        .return_values(ReturnValue::AllNew)
        .send()
        .await
        .unwrap();
    assert_eq!(updated.attributes().unwrap()["amount"], n("13"));

    for sk in 2..=5 {
        db.put_item()
            .table_name("sales")
            .item("pk", s("branch-1"))
            .item("sk", n(&sk.to_string()))
            .item("amount", n(&(sk * 10).to_string()))
            .send()
            .await
            .unwrap();
    }
    let queried = db
        .query()
        .table_name("sales")
        .key_condition_expression("pk = :p AND sk > :s")
        .filter_expression("amount >= :min")
        .expression_attribute_values(":p", s("branch-1"))
        .expression_attribute_values(":s", n("1"))
        .expression_attribute_values(":min", n("30"))
        .scan_index_forward(false)
        .send()
        .await
        .unwrap();
    assert_eq!(queried.count, 3);
    assert_eq!(queried.scanned_count, 4);
    assert_eq!(queried.items()[0]["sk"], n("5"));

    // Paging with Limit and ExclusiveStartKey through the SDK's paginator.
    let pages: Vec<_> = db
        .query()
        .table_name("sales")
        .key_condition_expression("pk = :p")
        .expression_attribute_values(":p", s("branch-1"))
        .limit(2)
        .into_paginator()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap();
    let total: usize = pages.iter().map(|p| p.items().len()).sum();
    assert_eq!(total, 5);
    assert!(pages.len() >= 3);

    let counted = db
        .scan()
        .table_name("sales")
        .select(Select::Count)
        .send()
        .await
        .unwrap();
    assert_eq!(counted.count, 5);
    assert!(counted.items.is_none());
    let projected = db
        .scan()
        .table_name("sales")
        .projection_expression("sk")
        .segment(0)
        .total_segments(1)
        .send()
        .await
        .unwrap();
    assert!(projected.items().iter().all(|i| i.len() == 1));

    let deleted = db
        .delete_item()
        .table_name("sales")
        .set_key(Some(key.clone()))
        .return_values(ReturnValue::AllOld)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.attributes().unwrap()["name"], s("Dwight"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_and_transaction_operations() {
    let server = start().await;
    let db = create_sales(&server).await;
    let writes: Vec<WriteRequest> = (0..25)
        .map(|sk| {
            WriteRequest::builder()
                .put_request(
                    PutRequest::builder()
                        .item("pk", s("b"))
                        .item("sk", n(&sk.to_string()))
                        .build()
                        .unwrap(),
                )
                .build()
        })
        .collect();
    let written = db
        .batch_write_item()
        .request_items("sales", writes)
        .send()
        .await
        .unwrap();
    assert!(written.unprocessed_items().is_none_or(|u| u.is_empty()));
    let deletes = vec![WriteRequest::builder()
        .delete_request(
            DeleteRequest::builder()
                .key("pk", s("b"))
                .key("sk", n("0"))
                .build()
                .unwrap(),
        )
        .build()];
    db.batch_write_item()
        .request_items("sales", deletes)
        .send()
        .await
        .unwrap();

    let keys = KeysAndAttributes::builder()
        .keys(HashMap::from([
            ("pk".to_owned(), s("b")),
            ("sk".to_owned(), n("0")),
        ]))
        .keys(HashMap::from([
            ("pk".to_owned(), s("b")),
            ("sk".to_owned(), n("1")),
        ]))
        .build()
        .unwrap();
    let got = db
        .batch_get_item()
        .request_items("sales", keys)
        .send()
        .await
        .unwrap();
    assert_eq!(got.responses().unwrap()["sales"].len(), 1);

    let too_many: Vec<WriteRequest> = (0..26)
        .map(|sk| {
            WriteRequest::builder()
                .put_request(
                    PutRequest::builder()
                        .item("pk", s("c"))
                        .item("sk", n(&sk.to_string()))
                        .build()
                        .unwrap(),
                )
                .build()
        })
        .collect();
    let error = db
        .batch_write_item()
        .request_items("sales", too_many)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error.into_service_error().meta().code(),
        Some("ValidationException")
    );

    db.transact_write_items()
        .transact_items(
            TransactWriteItem::builder()
                .put(
                    Put::builder()
                        .table_name("sales")
                        .item("pk", s("t"))
                        .item("sk", n("1"))
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .transact_items(
            TransactWriteItem::builder()
                .update(
                    Update::builder()
                        .table_name("sales")
                        .key("pk", s("b"))
                        .key("sk", n("1"))
                        .update_expression("SET done = :t")
                        .expression_attribute_values(":t", AttributeValue::Bool(true))
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .transact_items(
            TransactWriteItem::builder()
                .delete(
                    Delete::builder()
                        .table_name("sales")
                        .key("pk", s("b"))
                        .key("sk", n("2"))
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let cancelled = db
        .transact_write_items()
        .transact_items(
            TransactWriteItem::builder()
                .condition_check(
                    ConditionCheck::builder()
                        .table_name("sales")
                        .key("pk", s("t"))
                        .key("sk", n("1"))
                        .condition_expression("attribute_not_exists(pk)")
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .transact_items(
            TransactWriteItem::builder()
                .put(
                    Put::builder()
                        .table_name("sales")
                        .item("pk", s("u"))
                        .item("sk", n("1"))
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    let aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(cancelled) = cancelled else {
        panic!("expected TransactionCanceledException, got {cancelled:?}");
    };
    let codes: Vec<_> = cancelled
        .cancellation_reasons()
        .iter()
        .map(|r| r.code().unwrap_or("-"))
        .collect();
    assert_eq!(codes, ["ConditionalCheckFailed", "None"]);

    let got = db
        .transact_get_items()
        .transact_items(
            TransactGetItem::builder()
                .get(
                    Get::builder()
                        .table_name("sales")
                        .key("pk", s("b"))
                        .key("sk", n("1"))
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .transact_items(
            TransactGetItem::builder()
                .get(
                    Get::builder()
                        .table_name("sales")
                        .key("pk", s("u"))
                        .key("sk", n("1"))
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let responses = got.responses();
    assert_eq!(
        responses[0].item().unwrap()["done"],
        AttributeValue::Bool(true)
    );
    assert!(responses[1].item().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_operations() {
    let server = start().await;
    let db = create_sales(&server).await;
    db.put_item()
        .table_name("sales")
        .item("pk", s("a"))
        .item("sk", n("1"))
        .send()
        .await
        .unwrap();
    db.put_item()
        .table_name("sales")
        .item("pk", s("a"))
        .item("sk", n("1"))
        .item("v", n("2"))
        .send()
        .await
        .unwrap();
    db.delete_item()
        .table_name("sales")
        .key("pk", s("a"))
        .key("sk", n("1"))
        .send()
        .await
        .unwrap();

    let streams = server.streams();
    let listed = streams
        .list_streams()
        .table_name("sales")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.streams().len(), 1);
    let arn = listed.streams()[0].stream_arn().unwrap().to_owned();
    let described = streams
        .describe_stream()
        .stream_arn(&arn)
        .send()
        .await
        .unwrap();
    let description = described.stream_description().unwrap();
    assert_eq!(description.table_name(), Some("sales"));
    let shard = description.shards()[0].shard_id().unwrap().to_owned();
    let iterator = streams
        .get_shard_iterator()
        .stream_arn(&arn)
        .shard_id(&shard)
        .shard_iterator_type(aws_sdk_dynamodbstreams::types::ShardIteratorType::TrimHorizon)
        .send()
        .await
        .unwrap()
        .shard_iterator
        .unwrap();
    let records = streams
        .get_records()
        .shard_iterator(iterator)
        .send()
        .await
        .unwrap();
    let names: Vec<_> = records
        .records()
        .iter()
        .map(|r| {
            r.event_name()
                .map(|e| e.as_str().to_owned())
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(names, ["INSERT", "MODIFY", "REMOVE"]);
    let modify = records.records()[1].dynamodb().unwrap();
    assert!(modify.old_image().is_some() && modify.new_image().is_some());
    assert!(records.next_shard_iterator().is_some());

    let missing = streams
        .describe_stream()
        .stream_arn(
            "arn:aws:dynamodb:us-east-1:000000000000:table/none/stream/2024-01-01T00:00:00.000",
        )
        .send()
        .await
        .unwrap_err();
    assert!(
        missing
            .as_service_error()
            .unwrap()
            .is_resource_not_found_exception(),
        "{missing:?}"
    );
}

/// The raw error bodies behind the SDK's typed errors.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_shapes() {
    let server = start().await;
    create_sales(&server).await;
    let check = |target: &'static str, body: &'static str, expected: &'static str| {
        let server = &server;
        async move {
            let raw = server.json(target, body).await;
            assert_eq!(raw.error_type(), expected, "{target} {body}: {}", raw.body);
            assert!(raw.json()["message"].is_string(), "{}", raw.body);
        }
    };
    check(
        "DynamoDB_20120810.GetItem",
        r#"{"TableName":"nope","Key":{"pk":{"S":"a"}}}"#,
        "400 com.amazonaws.dynamodb.v20120810#ResourceNotFoundException",
    )
    .await;
    check(
        "DynamoDB_20120810.GetItem",
        r#"{"Key":{"pk":{"S":"a"}}}"#,
        "400 com.amazonaws.dynamodb.v20120810#ValidationException",
    )
    .await;
    check(
        "DynamoDB_20120810.PutItem",
        r#"{"TableName":"sales","Item":{"pk":{"S":"a"},"sk":{"N":"1e500"}}}"#,
        "400 com.amazonaws.dynamodb.v20120810#ValidationException",
    )
    .await;
    check(
        "DynamoDB_20120810.PutItem",
        r#"{"TableName":"sales","Item":{"pk":{"S":"a","N":"1"}}}"#,
        "400 com.amazonaws.dynamodb.v20120810#ValidationException",
    )
    .await;
    check(
        "DynamoDB_20120810.PutItem",
        r#"{"TableName":"sales","Item":{"pk":{"S":5}}}"#,
        "400 com.amazon.coral.service#SerializationException",
    )
    .await;
    check(
        "DynamoDB_20120810.Frobnicate",
        "{}",
        "400 com.amazon.coral.service#UnknownOperationException",
    )
    .await;
    check(
        "DynamoDBStreams_20120810.GetRecords",
        r#"{"ShardIterator":"garbage"}"#,
        "400 com.amazonaws.dynamodb.v20120810#ValidationException",
    )
    .await;

    // A failed condition carries the old item when asked.
    server
        .json(
            "DynamoDB_20120810.PutItem",
            r#"{"TableName":"sales","Item":{"pk":{"S":"a"},"sk":{"N":"1"}}}"#,
        )
        .await;
    let raw = server
        .json(
            "DynamoDB_20120810.PutItem",
            r#"{"TableName":"sales","Item":{"pk":{"S":"a"},"sk":{"N":"1"}},"ConditionExpression":"attribute_not_exists(pk)","ReturnValuesOnConditionCheckFailure":"ALL_OLD"}"#,
        )
        .await;
    assert_eq!(
        raw.error_type(),
        "400 com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException"
    );
    assert_eq!(raw.json()["Item"]["pk"]["S"], "a");
}
