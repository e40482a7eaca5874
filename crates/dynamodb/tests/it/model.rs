//! Model-based test: random sequences of puts, conditional puts, updates and deletes run against
//! the engine and against a small in-memory model of DynamoDB's rules (a `BTreeMap`), which must
//! agree on every result, on the final items, and on the stream records.

use std::collections::BTreeMap;

use dynamodb::{
    AttributeValue, DeleteItemInput, Error, EventName, GetRecordsInput, GetShardIteratorInput,
    Item, PutItemInput, ScanInput, ShardIteratorType, StreamViewType, UpdateItemInput,
};
use proptest::prelude::*;

use crate::support::*;

#[derive(Debug, Clone)]
enum Op {
    Put { key: u8, v: i64 },
    PutIfAbsent { key: u8, v: i64 },
    Add { key: u8, by: i64 },
    SetIfEquals { key: u8, expected: i64, v: i64 },
    Remove { key: u8 },
    Delete { key: u8 },
    DeleteIfAtLeast { key: u8, min: i64 },
}

fn op() -> impl Strategy<Value = Op> {
    let key = 0u8..4;
    let v = -3i64..4;
    prop_oneof![
        (key.clone(), v.clone()).prop_map(|(key, v)| Op::Put { key, v }),
        (key.clone(), v.clone()).prop_map(|(key, v)| Op::PutIfAbsent { key, v }),
        (key.clone(), v.clone()).prop_map(|(key, by)| Op::Add { key, by }),
        (key.clone(), v.clone(), v.clone()).prop_map(|(key, expected, v)| Op::SetIfEquals {
            key,
            expected,
            v
        }),
        key.clone().prop_map(|key| Op::Remove { key }),
        key.clone().prop_map(|key| Op::Delete { key }),
        (key, v).prop_map(|(key, min)| Op::DeleteIfAtLeast { key, min }),
    ]
}

fn num(n: i64) -> AttributeValue {
    AttributeValue::n(&n.to_string()).unwrap()
}

fn key_item(key: u8) -> Item {
    [("pk".to_string(), AttributeValue::s(format!("k{key}")))]
        .into_iter()
        .collect()
}

fn with_v(key: u8, v: i64) -> Item {
    let mut item = key_item(key);
    item.insert("v".into(), num(v));
    item
}

/// The model: items by key, and the stream records (event, new image, old image) it expects.
#[derive(Default)]
struct Model {
    items: BTreeMap<u8, Item>,
    records: Vec<(EventName, Option<Item>, Option<Item>)>,
}

impl Model {
    /// Applies a change; a change to the same item emits nothing.
    fn change(&mut self, key: u8, new: Option<Item>) {
        let old = self.items.get(&key).cloned();
        if old == new {
            return;
        }
        let event = match (&old, &new) {
            (None, _) => EventName::Insert,
            (Some(_), Some(_)) => EventName::Modify,
            (Some(_), None) => EventName::Remove,
        };
        match &new {
            Some(item) => self.items.insert(key, item.clone()),
            None => self.items.remove(&key),
        };
        self.records.push((event, new, old));
    }

    fn v(&self, key: u8) -> Option<i64> {
        match self.items.get(&key)?.get("v")? {
            AttributeValue::N(n) => n.to_string().parse().ok(),
            _ => None,
        }
    }

    /// Runs one operation; `Err(())` is a failed condition.
    fn apply(&mut self, op: &Op) -> Result<(), ()> {
        match *op {
            Op::Put { key, v } => self.change(key, Some(with_v(key, v))),
            Op::PutIfAbsent { key, v } => {
                if self.items.contains_key(&key) {
                    return Err(());
                }
                self.change(key, Some(with_v(key, v)));
            }
            Op::Add { key, by } => {
                let mut item = self
                    .items
                    .get(&key)
                    .cloned()
                    .unwrap_or_else(|| key_item(key));
                item.insert("v".into(), num(self.v(key).unwrap_or(0) + by));
                self.change(key, Some(item));
            }
            Op::SetIfEquals { key, expected, v } => {
                if self.v(key) != Some(expected) {
                    return Err(());
                }
                let mut item = self.items[&key].clone();
                item.insert("v".into(), num(v));
                self.change(key, Some(item));
            }
            Op::Remove { key } => {
                let mut item = self
                    .items
                    .get(&key)
                    .cloned()
                    .unwrap_or_else(|| key_item(key));
                item.remove("v");
                self.change(key, Some(item));
            }
            Op::Delete { key } => self.change(key, None),
            Op::DeleteIfAtLeast { key, min } => {
                if self.v(key).is_none_or(|v| v < min) {
                    return Err(());
                }
                self.change(key, None);
            }
        }
        Ok(())
    }
}

fn run(e: &Env, op: &Op) -> Result<(), Error> {
    let table = "model-table".to_string();
    let update = |key: u8, expr: &str, cond: Option<&str>, values: Vec<(&str, i64)>| {
        e.db.update_item(UpdateItemInput {
            table_name: table.clone(),
            key: key_item(key),
            update_expression: Some(expr.into()),
            condition_expression: cond.map(String::from),
            expression_attribute_values: values
                .into_iter()
                .map(|(k, v)| (k.to_string(), num(v)))
                .collect(),
            ..Default::default()
        })
        .map(|_| ())
    };
    match *op {
        Op::Put { key, v } => {
            e.db.put_item(PutItemInput {
                table_name: table,
                item: with_v(key, v),
                ..Default::default()
            })
            .map(|_| ())
        }
        Op::PutIfAbsent { key, v } => {
            e.db.put_item(PutItemInput {
                table_name: table,
                item: with_v(key, v),
                condition_expression: Some("attribute_not_exists(pk)".into()),
                ..Default::default()
            })
            .map(|_| ())
        }
        Op::Add { key, by } => update(key, "ADD v :by", None, vec![(":by", by)]),
        Op::SetIfEquals { key, expected, v } => update(
            key,
            "SET v = :v",
            Some("v = :e"),
            vec![(":v", v), (":e", expected)],
        ),
        Op::Remove { key } => update(key, "REMOVE v", None, vec![]),
        Op::Delete { key } => {
            e.db.delete_item(DeleteItemInput {
                table_name: table,
                key: key_item(key),
                ..Default::default()
            })
            .map(|_| ())
        }
        Op::DeleteIfAtLeast { key, min } => {
            e.db.delete_item(DeleteItemInput {
                table_name: table,
                key: key_item(key),
                condition_expression: Some("v >= :min".into()),
                expression_attribute_values: [(":min".to_string(), num(min))].into_iter().collect(),
                ..Default::default()
            })
            .map(|_| ())
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn engine_matches_model(ops in proptest::collection::vec(op(), 1..30)) {
        let e = env();
        create(&e.db, "model-table", None, Some(StreamViewType::NewAndOldImages));
        let mut model = Model::default();
        for op in &ops {
            let expected = model.apply(op);
            let got = run(&e, op);
            match (&expected, &got) {
                (Ok(()), Ok(())) => {}
                (Err(()), Err(Error::ConditionalCheckFailed { .. })) => {}
                _ => prop_assert!(false, "{op:?}: model {expected:?}, engine {got:?}"),
            }
        }
        let scan = e.db.scan(ScanInput { table_name: "model-table".into(), ..Default::default() }).unwrap();
        let mut items = scan.items.clone();
        items.sort_by_key(|i| format!("{:?}", i["pk"]));
        let model_items: Vec<Item> = model.items.values().cloned().collect();
        prop_assert_eq!(items, model_items);
        prop_assert_eq!(e.db.describe_table("model-table").unwrap().item_count as usize, model.items.len());

        let arn = e.db.describe_table("model-table").unwrap().latest_stream_arn.unwrap();
        let shard = e.db.describe_stream(&arn).unwrap().shards[0].shard_id.clone();
        let it = e.db.get_shard_iterator(GetShardIteratorInput {
            stream_arn: arn, shard_id: shard, shard_iterator_type: ShardIteratorType::TrimHorizon, sequence_number: None,
        }).unwrap();
        let records = e.db.get_records(GetRecordsInput { shard_iterator: it, limit: None }).unwrap().records;
        let got: Vec<(EventName, Option<Item>, Option<Item>)> = records
            .into_iter()
            .map(|r| (r.event_name, r.dynamodb.new_image, r.dynamodb.old_image))
            .collect();
        prop_assert_eq!(got, model.records);
    }
}
