//! DynamoDB Streams: one record per change in the declared view, none for a write that changes
//! nothing, increasing sequence numbers, 24-hour retention, and the four iterator types.

use dynamodb::{
    DeleteItemInput, DynamoDb, GetRecordsInput, GetShardIteratorInput, ListStreamsInput,
    PutItemInput, ScalarType, ShardIteratorType, StreamRecord, StreamViewType, UpdateItemInput,
};
use expect_test::expect;

use crate::support::*;

fn stream_arn(db: &DynamoDb, table: &str) -> String {
    db.describe_table(table)
        .unwrap()
        .latest_stream_arn
        .expect("stream")
}

fn iterator(db: &DynamoDb, table: &str, kind: ShardIteratorType, seq: Option<String>) -> String {
    let arn = stream_arn(db, table);
    let shard = db.describe_stream(&arn).unwrap().shards[0].shard_id.clone();
    db.get_shard_iterator(GetShardIteratorInput {
        stream_arn: arn,
        shard_id: shard,
        shard_iterator_type: kind,
        sequence_number: seq,
    })
    .unwrap()
}

fn all_records(db: &DynamoDb, table: &str) -> Vec<StreamRecord> {
    let it = iterator(db, table, ShardIteratorType::TrimHorizon, None);
    db.get_records(GetRecordsInput {
        shard_iterator: it,
        limit: None,
    })
    .unwrap()
    .records
}

/// One line per record: event, keys, images.
fn show_records(records: &[StreamRecord]) -> String {
    records
        .iter()
        .map(|r| {
            let d = &r.dynamodb;
            let img =
                |i: &Option<dynamodb::Item>| i.as_ref().map(show).unwrap_or_else(|| "-".into());
            format!(
                "{} keys={} new={} old={}",
                r.event_name.as_str(),
                show(&d.keys),
                img(&d.new_image),
                img(&d.old_image)
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The same writes on a table of each view type, some of which change nothing.
fn run_writes(e: &Env, table: &str) {
    let put = |item: &str| {
        e.db.put_item(PutItemInput {
            table_name: table.into(),
            item: j(item),
            ..Default::default()
        })
        .unwrap();
    };
    put(r#"{"pk":{"S":"a"},"v":{"N":"1"}}"#);
    put(r#"{"pk":{"S":"a"},"v":{"N":"1.0"}}"#); // the same item again: no record
    e.db.update_item(UpdateItemInput {
        table_name: table.into(),
        key: j(r#"{"pk":{"S":"a"}}"#),
        update_expression: Some("SET v = :v".into()),
        expression_attribute_values: vals(r#"{":v":{"N":"2"}}"#),
        ..Default::default()
    })
    .unwrap();
    e.db.update_item(UpdateItemInput {
        table_name: table.into(),
        key: j(r#"{"pk":{"S":"a"}}"#),
        update_expression: Some("SET v = :v".into()),
        expression_attribute_values: vals(r#"{":v":{"N":"2"}}"#),
        ..Default::default()
    })
    .unwrap(); // sets an equal value: no record
    let failed = e.db.put_item(PutItemInput {
        table_name: table.into(),
        item: j(r#"{"pk":{"S":"a"},"v":{"N":"9"}}"#),
        condition_expression: Some("attribute_not_exists(pk)".into()),
        ..Default::default()
    });
    assert!(failed.is_err()); // a failed condition writes nothing: no record
    e.db.delete_item(DeleteItemInput {
        table_name: table.into(),
        key: j(r#"{"pk":{"S":"a"}}"#),
        ..Default::default()
    })
    .unwrap();
    e.db.delete_item(DeleteItemInput {
        table_name: table.into(),
        key: j(r#"{"pk":{"S":"a"}}"#),
        ..Default::default()
    })
    .unwrap(); // missing: no record
}

#[test]
fn records_follow_the_view_type_and_skip_writes_that_change_nothing() {
    let mut out = String::new();
    for view in [
        StreamViewType::KeysOnly,
        StreamViewType::NewImage,
        StreamViewType::OldImage,
        StreamViewType::NewAndOldImages,
    ] {
        let e = env();
        create(&e.db, "str", None, Some(view));
        run_writes(&e, "str");
        out.push_str(&format!(
            "{}:\n{}\n",
            view.as_str(),
            show_records(&all_records(&e.db, "str"))
        ));
    }
    expect![[r#"
        KEYS_ONLY:
        INSERT keys={"pk": {S:"a"}} new=- old=-
        MODIFY keys={"pk": {S:"a"}} new=- old=-
        REMOVE keys={"pk": {S:"a"}} new=- old=-
        NEW_IMAGE:
        INSERT keys={"pk": {S:"a"}} new={"pk": {S:"a"}, "v": {N:1}} old=-
        MODIFY keys={"pk": {S:"a"}} new={"pk": {S:"a"}, "v": {N:2}} old=-
        REMOVE keys={"pk": {S:"a"}} new=- old=-
        OLD_IMAGE:
        INSERT keys={"pk": {S:"a"}} new=- old=-
        MODIFY keys={"pk": {S:"a"}} new=- old={"pk": {S:"a"}, "v": {N:1}}
        REMOVE keys={"pk": {S:"a"}} new=- old={"pk": {S:"a"}, "v": {N:2}}
        NEW_AND_OLD_IMAGES:
        INSERT keys={"pk": {S:"a"}} new={"pk": {S:"a"}, "v": {N:1}} old=-
        MODIFY keys={"pk": {S:"a"}} new={"pk": {S:"a"}, "v": {N:2}} old={"pk": {S:"a"}, "v": {N:1}}
        REMOVE keys={"pk": {S:"a"}} new=- old={"pk": {S:"a"}, "v": {N:2}}
    "#]]
    .assert_eq(&out);
}

#[test]
fn record_fields_sequence_numbers_and_clock() {
    let e = env();
    create(
        &e.db,
        "sale-dev",
        Some(ScalarType::S),
        Some(StreamViewType::NewImage),
    );
    for i in 0..5 {
        e.clock.advance_millis(1000);
        e.db.put_item(PutItemInput {
            table_name: "sale-dev".into(),
            item: j(&format!(r#"{{"pk":{{"S":"s{i}"}},"sk":{{"S":"e"}}}}"#)),
            ..Default::default()
        })
        .unwrap();
    }
    let records = all_records(&e.db, "sale-dev");
    assert_eq!(records.len(), 5);
    let arn = stream_arn(&e.db, "sale-dev");
    for (i, r) in records.iter().enumerate() {
        assert_eq!(
            (r.event_version, r.event_source, r.aws_region),
            ("1.1", "aws:dynamodb", "us-east-1")
        );
        assert_eq!(r.event_source_arn, arn);
        assert_eq!(
            r.dynamodb.approximate_creation_date_time_millis,
            T0 + 1000 * (i as i64 + 1)
        );
        assert_eq!(r.dynamodb.stream_view_type, StreamViewType::NewImage);
        assert_eq!(r.dynamodb.sequence_number.len(), 21);
        // keys (pk 2+2, sk 2+1) and the new image (the same attributes).
        assert_eq!(r.dynamodb.size_bytes, 14);
    }
    let seqs: Vec<u128> = records
        .iter()
        .map(|r| r.dynamodb.sequence_number.parse().unwrap())
        .collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    let ids: std::collections::BTreeSet<&str> =
        records.iter().map(|r| r.event_id.as_str()).collect();
    assert_eq!(ids.len(), 5);
}

#[test]
fn a_table_created_again_numbers_its_records_above_the_one_before() {
    let e = env();
    let put = |sk: &str| {
        e.db.put_item(PutItemInput {
            table_name: "sale-dev".into(),
            item: j(&format!(r#"{{"pk":{{"S":"p"}},"sk":{{"S":"{sk}"}}}}"#)),
            ..Default::default()
        })
        .unwrap();
    };
    let last = |db: &DynamoDb| -> u128 {
        let records = all_records(db, "sale-dev");
        records
            .last()
            .expect("a record")
            .dynamodb
            .sequence_number
            .parse()
            .unwrap()
    };
    let stream = Some(StreamViewType::KeysOnly);
    create(&e.db, "sale-dev", Some(ScalarType::S), stream);
    for sk in ["a", "b", "c"] {
        put(sk);
    }
    let before = last(&e.db);
    e.db.delete_table("sale-dev").unwrap();
    e.clock.advance_millis(1);
    create(&e.db, "sale-dev", Some(ScalarType::S), stream);
    put("d");
    let records = all_records(&e.db, "sale-dev");
    assert_eq!(
        records.len(),
        1,
        "the new stream holds the new table's records only"
    );
    assert!(last(&e.db) > before, "{} <= {before}", last(&e.db));
}

#[test]
fn iterators_trim_horizon_latest_at_and_after() {
    let e = env();
    create(&e.db, "str", None, Some(StreamViewType::KeysOnly));
    let put = |pk: &str| {
        e.db.put_item(PutItemInput {
            table_name: "str".into(),
            item: j(&format!(r#"{{"pk":{{"S":"{pk}"}}}}"#)),
            ..Default::default()
        })
        .unwrap();
    };
    put("a");
    put("b");
    let latest = iterator(&e.db, "str", ShardIteratorType::Latest, None);
    put("c");
    put("d");
    let keys = |it: String, limit: Option<usize>| {
        let out =
            e.db.get_records(GetRecordsInput {
                shard_iterator: it,
                limit,
            })
            .unwrap();
        let keys: Vec<String> = out
            .records
            .iter()
            .map(|r| format!("{:?}", r.dynamodb.keys["pk"]))
            .collect();
        (
            keys.join(" "),
            out.records,
            out.next_shard_iterator.unwrap(),
        )
    };
    let (after_latest, _, _) = keys(latest, None);
    assert_eq!(after_latest, r#"{S:"c"} {S:"d"}"#);
    let (first_two, records, next) = keys(
        iterator(&e.db, "str", ShardIteratorType::TrimHorizon, None),
        Some(2),
    );
    assert_eq!(first_two, r#"{S:"a"} {S:"b"}"#);
    let (rest, _, next) = keys(next, Some(10));
    assert_eq!(rest, r#"{S:"c"} {S:"d"}"#);
    let (empty, _, _) = keys(next, None);
    assert_eq!(empty, "");
    let b_seq = records[1].dynamodb.sequence_number.clone();
    let (at_b, _, _) = keys(
        iterator(
            &e.db,
            "str",
            ShardIteratorType::AtSequenceNumber,
            Some(b_seq.clone()),
        ),
        None,
    );
    assert_eq!(at_b, r#"{S:"b"} {S:"c"} {S:"d"}"#);
    let (after_b, _, _) = keys(
        iterator(
            &e.db,
            "str",
            ShardIteratorType::AfterSequenceNumber,
            Some(b_seq),
        ),
        None,
    );
    assert_eq!(after_b, r#"{S:"c"} {S:"d"}"#);
}

#[test]
fn records_are_kept_24_hours_and_iterators_expire_after_15_minutes() {
    let e = env();
    create(&e.db, "str", None, Some(StreamViewType::KeysOnly));
    let put = |pk: &str| {
        e.db.put_item(PutItemInput {
            table_name: "str".into(),
            item: j(&format!(r#"{{"pk":{{"S":"{pk}"}}}}"#)),
            ..Default::default()
        })
        .unwrap();
    };
    put("old");
    let it = iterator(&e.db, "str", ShardIteratorType::TrimHorizon, None);
    e.clock.advance_millis(15 * 60 * 1000 + 1);
    let expired =
        e.db.get_records(GetRecordsInput {
            shard_iterator: it,
            limit: None,
        })
        .unwrap_err();
    assert_eq!(expired.code(), "ExpiredIteratorException");
    e.clock.advance_millis(12 * 3600 * 1000);
    put("young");
    assert_eq!(all_records(&e.db, "str").len(), 2);
    e.clock.advance_millis(12 * 3600 * 1000);
    let kept = all_records(&e.db, "str");
    assert_eq!(kept.len(), 1, "the first record is older than 24 hours");
    assert_eq!(
        format!("{:?}", kept[0].dynamodb.keys["pk"]),
        r#"{S:"young"}"#
    );
    // A write after a minute trims what expired; sequence numbers keep increasing after a trim.
    e.clock.advance_millis(60_000);
    put("next");
    assert_eq!(e.db.trim_streams().unwrap(), 0, "the write already trimmed");
    let after = all_records(&e.db, "str");
    assert_eq!(after.len(), 2);
    assert!(after[1].dynamodb.sequence_number > kept[0].dynamodb.sequence_number);
    e.clock.advance_millis(25 * 3600 * 1000);
    assert_eq!(e.db.trim_streams().unwrap(), 2);
    put("last");
    assert!(
        all_records(&e.db, "str")[0].dynamodb.sequence_number > after[1].dynamodb.sequence_number
    );
}

#[test]
fn list_and_describe_streams() {
    let e = env();
    create(
        &e.db,
        "with-stream",
        None,
        Some(StreamViewType::NewAndOldImages),
    );
    create(&e.db, "no-stream", None, None);
    let list = e.db.list_streams(ListStreamsInput::default()).unwrap();
    assert_eq!(list.streams.len(), 1);
    assert_eq!(list.streams[0].table_name, "with-stream");
    let d = e.db.describe_stream(&list.streams[0].stream_arn).unwrap();
    assert_eq!(
        (d.stream_status, d.stream_view_type, d.shards.len()),
        ("ENABLED", StreamViewType::NewAndOldImages, 1)
    );
    assert_eq!(
        d.shards[0].sequence_number_range.ending_sequence_number,
        None
    );
    assert!(e
        .db
        .describe_table("no-stream")
        .unwrap()
        .latest_stream_arn
        .is_none());
    e.db.delete_table("with-stream").unwrap();
    assert_eq!(
        e.db.describe_stream(&list.streams[0].stream_arn)
            .unwrap_err()
            .code(),
        "ResourceNotFoundException"
    );
}

#[test]
fn records_of_one_batch_write_are_read_in_pages_that_split_the_batch() {
    let e = env();
    create(&e.db, "bat", None, Some(StreamViewType::NewImage));
    let mut input = dynamodb::BatchWriteItemInput::default();
    input.request_items.insert(
        "bat".into(),
        ["a", "b", "c", "d", "e"]
            .iter()
            .map(|pk| dynamodb::WriteRequest::Put {
                item: j(&format!(r#"{{"pk":{{"S":"{pk}"}},"v":{{"N":"1"}}}}"#)),
            })
            .collect(),
    );
    e.db.batch_write_item(input).unwrap();
    let all = all_records(&e.db, "bat");
    let seqs: Vec<&str> = all
        .iter()
        .map(|r| r.dynamodb.sequence_number.as_str())
        .collect();
    assert_eq!(all.len(), 5);
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    // Pages of two records walk the five records of the one write exactly once, in order.
    let mut it = iterator(&e.db, "bat", ShardIteratorType::TrimHorizon, None);
    let mut paged = Vec::new();
    loop {
        let out =
            e.db.get_records(GetRecordsInput {
                shard_iterator: it,
                limit: Some(2),
            })
            .unwrap();
        assert!(out.records.len() <= 2);
        if out.records.is_empty() {
            break;
        }
        paged.extend(out.records);
        it = out.next_shard_iterator.unwrap();
    }
    assert_eq!(paged, all);
    // An iterator at a number inside the write starts there.
    let at = iterator(
        &e.db,
        "bat",
        ShardIteratorType::AtSequenceNumber,
        Some(all[2].dynamodb.sequence_number.clone()),
    );
    let from_c =
        e.db.get_records(GetRecordsInput {
            shard_iterator: at,
            limit: None,
        })
        .unwrap()
        .records;
    assert_eq!(from_c, all[2..]);
    expect![[r#"
        INSERT keys={"pk": {S:"c"}} new={"pk": {S:"c"}, "v": {N:1}} old=-
        INSERT keys={"pk": {S:"d"}} new={"pk": {S:"d"}, "v": {N:1}} old=-
        INSERT keys={"pk": {S:"e"}} new={"pk": {S:"e"}, "v": {N:1}} old=-"#]]
    .assert_eq(&show_records(&from_c));
}

/// The stored form of `item`, built attribute by attribute in reverse name order as the
/// endpoint's BatchWriteItem reader builds it from a request body.
fn stored(item: &dynamodb::Item) -> dynamodb::StoredItem {
    use dynamodb::AttributeValue as V;
    let mut b = dynamodb::StoredItemBuilder::new();
    for (name, value) in item.iter().rev() {
        let name = name.as_str().into();
        match value {
            V::S(s) => b.string(name, s),
            V::N(n) => b.number(name, n),
            V::B(bytes) => b.binary(name, bytes),
            V::Bool(v) => b.boolean(name, *v),
            V::Null => b.null(name),
            other => b.value(name, other.clone()).expect("valid value"),
        }
    }
    b.finish().expect("within 400 KB")
}

/// Writes `items` into two tables of the same schema, as `Put`s into `tables[0]` and as
/// `PutStored`s into `tables[1]`; each table's answer, an error as its message.
fn put_both(e: &Env, tables: [&str; 2], items: &[&str]) -> [Result<(), String>; 2] {
    tables.map(|table| {
        let requests = items
            .iter()
            .map(|text| {
                let item = j(text);
                if table == tables[0] {
                    dynamodb::WriteRequest::Put { item }
                } else {
                    dynamodb::WriteRequest::PutStored {
                        item: stored(&item),
                    }
                }
            })
            .collect();
        let mut input = dynamodb::BatchWriteItemInput::default();
        input.request_items.insert(table.into(), requests);
        e.db.batch_write_item(input)
            .map(|_| ())
            .map_err(|err| err.to_string())
    })
}

/// Checks that both tables hold the same items and the same stream records (with their sizes);
/// returns how many items each holds.
fn assert_same(e: &Env, tables: [&str; 2], round: &str) -> usize {
    let scan = |table: &str| {
        e.db.scan(dynamodb::ScanInput {
            table_name: table.into(),
            ..Default::default()
        })
        .unwrap()
        .items
    };
    assert_eq!(scan(tables[0]), scan(tables[1]), "{round}: items");
    let records = |table: &str| {
        let records = all_records(&e.db, table);
        let sizes: Vec<i64> = records.iter().map(|r| r.dynamodb.size_bytes).collect();
        (show_records(&records), sizes)
    };
    assert_eq!(records(tables[0]), records(tables[1]), "{round}: records");
    scan(tables[0]).len()
}

/// A put that arrives in stored form is a put of its item: the same items, the same stream
/// records with the same sizes, nothing for a put that changes nothing, and the same errors,
/// whether the key is new (written in one statement) or exists (the general path).
#[test]
fn a_stored_put_is_a_put_of_its_item() {
    let e = env();
    let tables = ["whole", "stored"];
    for table in tables {
        create(
            &e.db,
            table,
            Some(ScalarType::N),
            Some(StreamViewType::NewAndOldImages),
        );
    }
    let [whole, stored] = put_both(
        &e,
        tables,
        &[
            r#"{"pk": {"S": "a"}, "sk": {"N": "1"}, "s": {"S": "x"}, "n": {"N": "-0012.50"},
            "b": {"B": "AAE="}, "t": {"BOOL": true}, "z": {"NULL": true},
            "m": {"M": {"y": {"SS": ["b", "a"]}}}, "l": {"L": [{"N": "1"}]}}"#,
            r#"{"pk": {"S": "b"}, "sk": {"N": "2"}, "é": {"S": ""}}"#,
        ],
    );
    assert_eq!((whole, stored), (Ok(()), Ok(())));
    assert_eq!(assert_same(&e, tables, "new keys"), 2);
    let [whole, stored] = put_both(
        &e,
        tables,
        &[
            r#"{"pk": {"S": "a"}, "sk": {"N": "1"}, "s": {"S": "changed"}}"#,
            r#"{"pk": {"S": "b"}, "sk": {"N": "2"}, "é": {"S": ""}}"#,
            r#"{"pk": {"S": "c"}, "sk": {"N": "3"}}"#,
        ],
    );
    assert_eq!((whole, stored), (Ok(()), Ok(())));
    assert_eq!(assert_same(&e, tables, "a change, no change, a new key"), 3);
    for bad in [
        r#"{"pk": {"S": "d"}}"#,
        r#"{"pk": {"S": "d"}, "sk": {"S": "1"}}"#,
        r#"{"pk": {"S": ""}, "sk": {"N": "1"}}"#,
    ] {
        let [whole, stored] = put_both(&e, tables, &[bad]);
        assert!(whole.is_err(), "{bad} was written");
        assert_eq!(whole, stored, "{bad}");
    }
    assert_eq!(assert_same(&e, tables, "refused keys"), 3);
}

/// The same with a binary partition key and no sort key, past sets of every kind.
#[test]
fn a_stored_put_with_a_binary_key_is_a_put_of_its_item() {
    let e = env();
    let tables = ["whole", "stored"];
    for table in tables {
        e.db.create_table(table_input(
            table,
            &[("pk", ScalarType::B)],
            Some(StreamViewType::NewImage),
        ))
        .expect("create table");
    }
    let [whole, stored] = put_both(
        &e,
        tables,
        &[
            r#"{"a": {"NS": ["2", "1"]}, "b": {"BS": ["Ag==", "AQ=="]}, "pk": {"B": "AAE="},
            "z": {"SS": ["y", "x"]}}"#,
        ],
    );
    assert_eq!((whole, stored), (Ok(()), Ok(())));
    assert_eq!(assert_same(&e, tables, "binary key"), 1);
    for bad in [r#"{"pk": {"B": ""}}"#, r#"{"pk": {"S": "AAE="}}"#] {
        let [whole, stored] = put_both(&e, tables, &[bad]);
        assert!(whole.is_err(), "{bad} was written");
        assert_eq!(whole, stored, "{bad}");
    }
}
