//! Queue actions: create (names, attributes, idempotence), URLs, list, delete, purge, attributes,
//! tags.

use std::collections::BTreeMap;

use expect_test::expect;
use sqs::{CreateQueue, ListQueues};

use crate::support::{env, BASE, T0};

#[test]
fn queue_names_follow_aws_rules() {
    let e = env();
    let check = |name: &str| match e.try_create(name, &[]) {
        Ok(url) => url,
        Err(err) => err.code().to_owned(),
    };
    assert_eq!(
        check("Orders_v2-x"),
        "http://localhost:4566/000000000000/Orders_v2-x"
    );
    assert_eq!(check(&"n".repeat(80)).len(), BASE.len() + 14 + 80);
    assert_eq!(check(&"n".repeat(81)), "InvalidParameterValue");
    assert_eq!(check(""), "InvalidParameterValue");
    assert_eq!(check("has.dot"), "InvalidParameterValue");
    assert_eq!(check("q.fifo"), "UnsupportedOperation");
    let fifo = e.try_create("q", &[("FifoQueue", "true")]).unwrap_err();
    assert_eq!(fifo.code(), "UnsupportedOperation");
}

#[test]
fn create_is_idempotent_with_the_same_attributes_only() {
    let e = env();
    let url = e.create("q", &[("VisibilityTimeout", "60")]);
    assert_eq!(e.create("q", &[("VisibilityTimeout", "60")]), url);
    assert_eq!(
        e.create("q", &[]),
        url,
        "no attributes given: nothing differs"
    );
    let err = e
        .try_create("q", &[("VisibilityTimeout", "61")])
        .unwrap_err();
    assert_eq!(err.code(), "QueueAlreadyExists");
    let err = e.try_create("q", &[("Bogus", "1")]).unwrap_err();
    assert_eq!(err.code(), "InvalidAttributeName");
    let err = e.try_create("q2", &[("QueueArn", "x")]).unwrap_err();
    assert_eq!(err.code(), "InvalidAttributeName");
}

#[test]
fn all_attributes_with_aws_defaults_and_computed_values() {
    let e = env();
    let q = e.create("q", &[]);
    e.send(&q, "visible");
    e.send(&q, "in-flight");
    e.send_delayed(&q, "delayed", 60);
    assert_eq!(e.receive(&q, 1).len(), 1);
    let all = e.sqs.get_queue_attributes(&q, &["All".into()]).unwrap();
    let text: String = all.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
    expect![[r#"
        ApproximateNumberOfMessages=1
        ApproximateNumberOfMessagesDelayed=1
        ApproximateNumberOfMessagesNotVisible=1
        CreatedTimestamp=1700000000
        DelaySeconds=0
        LastModifiedTimestamp=1700000000
        MaximumMessageSize=1048576
        MessageRetentionPeriod=345600
        QueueArn=arn:aws:sqs:us-east-1:000000000000:q
        ReceiveMessageWaitTimeSeconds=0
        SqsManagedSseEnabled=true
        VisibilityTimeout=30
    "#]]
    .assert_eq(&text);
    assert!(e.sqs.get_queue_attributes(&q, &[]).unwrap().is_empty());
    let err = e
        .sqs
        .get_queue_attributes(&q, &["Nope".into()])
        .unwrap_err();
    assert_eq!(err.code(), "InvalidAttributeName");
}

#[test]
fn set_attributes_validates_all_then_applies_and_updates_last_modified() {
    let e = env();
    let q = e.create("q", &[]);
    e.advance_ms(5_000);
    let set = |pairs: &[(&str, &str)]| {
        e.sqs.set_queue_attributes(
            &q,
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    };
    let err = set(&[("DelaySeconds", "5"), ("VisibilityTimeout", "99999")]).unwrap_err();
    assert_eq!(err.code(), "InvalidAttributeValue");
    assert!(err.to_string().contains("VisibilityTimeout"), "{err}");
    assert_eq!(e.attribute(&q, "DelaySeconds"), "0", "nothing applied");
    set(&[
        ("DelaySeconds", "5"),
        ("Policy", r#"{"Version": "2012-10-17"}"#),
    ])
    .unwrap();
    assert_eq!(e.attribute(&q, "DelaySeconds"), "5");
    assert_eq!(e.attribute(&q, "Policy"), r#"{"Version":"2012-10-17"}"#);
    assert_eq!(
        e.attribute(&q, "LastModifiedTimestamp"),
        ((T0 + 5_000) / 1000).to_string()
    );
    assert_eq!(e.attribute(&q, "CreatedTimestamp"), (T0 / 1000).to_string());
    assert_eq!(
        set(&[("ApproximateNumberOfMessages", "1")])
            .unwrap_err()
            .code(),
        "InvalidAttributeName"
    );
}

#[test]
fn urls_come_from_the_callers_base_and_unknown_queues_are_reported() {
    let e = env();
    e.create("q", &[]);
    assert_eq!(
        e.sqs.get_queue_url("http://127.0.0.1:9324/", "q").unwrap(),
        "http://127.0.0.1:9324/000000000000/q"
    );
    let err = e.sqs.get_queue_url(BASE, "missing").unwrap_err();
    assert_eq!(err.code(), "QueueDoesNotExist");
    assert!(err.to_string().contains("`missing`"), "{err}");
    let err = e
        .sqs
        .purge_queue("http://localhost:4566/000000000000/missing")
        .unwrap_err();
    assert_eq!(err.code(), "QueueDoesNotExist");
}

#[test]
fn list_queues_by_prefix_with_paging() {
    let e = env();
    for name in ["b1", "a2", "a1", "a3", "c"] {
        e.create(name, &[]);
    }
    let names = |r: sqs::ListQueuesResult| {
        r.queue_urls
            .iter()
            .map(|u| u.rsplit('/').next().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    let all = e.sqs.list_queues(BASE, &ListQueues::default()).unwrap();
    assert_eq!(all.next_token, None);
    assert_eq!(names(all), ["a1", "a2", "a3", "b1", "c"]);
    let page1 = e
        .sqs
        .list_queues(
            BASE,
            &ListQueues {
                queue_name_prefix: Some("a".into()),
                max_results: Some(2),
                next_token: None,
            },
        )
        .unwrap();
    let token = page1.next_token.clone();
    assert_eq!(names(page1), ["a1", "a2"]);
    let page2 = e
        .sqs
        .list_queues(
            BASE,
            &ListQueues {
                queue_name_prefix: Some("a".into()),
                max_results: Some(2),
                next_token: token,
            },
        )
        .unwrap();
    assert_eq!(page2.next_token, None);
    assert_eq!(names(page2), ["a3"]);
    let err = e
        .sqs
        .list_queues(
            BASE,
            &ListQueues {
                max_results: Some(0),
                ..ListQueues::default()
            },
        )
        .unwrap_err();
    assert_eq!(err.code(), "InvalidParameterValue");
}

#[test]
fn delete_queue_removes_it_and_its_messages() {
    let e = env();
    let q = e.create("q", &[]);
    e.send(&q, "m");
    e.sqs.delete_queue(&q).unwrap();
    assert_eq!(
        e.sqs.get_queue_url(BASE, "q").unwrap_err().code(),
        "QueueDoesNotExist"
    );
    let q = e.create("q", &[]);
    assert_eq!(
        e.counts(&q),
        [0, 0, 0],
        "a new queue of the same name starts empty"
    );
    assert_eq!(
        e.sqs
            .delete_queue(&format!("{BASE}/000000000000/nope"))
            .unwrap_err()
            .code(),
        "QueueDoesNotExist"
    );
}

#[test]
fn purge_deletes_everything_once_per_60_seconds() {
    let e = env();
    let q = e.create("q", &[]);
    e.send(&q, "a");
    e.send(&q, "b");
    e.send_delayed(&q, "c", 10);
    e.receive(&q, 1);
    e.sqs.purge_queue(&q).unwrap();
    assert_eq!(e.counts(&q), [0, 0, 0]);
    e.advance_ms(59_999);
    assert_eq!(
        e.sqs.purge_queue(&q).unwrap_err().code(),
        "PurgeQueueInProgress"
    );
    e.advance_ms(1);
    e.sqs.purge_queue(&q).unwrap();
}

#[test]
fn tags_at_creation_and_later() {
    let e = env();
    let q = e
        .sqs
        .create_queue(
            BASE,
            CreateQueue {
                queue_name: "q".into(),
                attributes: BTreeMap::new(),
                tags: [("team".to_string(), "sales".to_string())].into(),
            },
        )
        .unwrap();
    e.sqs
        .tag_queue(
            &q,
            [
                ("env".to_string(), "dev".to_string()),
                ("team".to_string(), "ops".to_string()),
            ]
            .into(),
        )
        .unwrap();
    e.sqs
        .untag_queue(&q, vec!["env".into(), "absent".into()])
        .unwrap();
    let tags = e.sqs.list_queue_tags(&q).unwrap();
    assert_eq!(tags, [("team".to_string(), "ops".to_string())].into());
    let err = e
        .sqs
        .tag_queue(&q, [("aws:x".to_string(), "v".to_string())].into())
        .unwrap_err();
    assert_eq!(err.code(), "InvalidParameterValue");
    let many = (0..50)
        .map(|i| (format!("k{i}"), "v".to_string()))
        .collect();
    let err = e.sqs.tag_queue(&q, many).unwrap_err();
    assert!(err.to_string().contains("at most 50 tags"), "{err}");
    assert_eq!(
        e.sqs.list_queue_tags(&q).unwrap().len(),
        1,
        "the failed call changed nothing"
    );
}

#[test]
fn the_schema_survives_reopening() {
    let e = env();
    let q = e.create("q", &[]);
    e.send(&q, "kept");
    let path = e.dir.path().join("state.db");
    drop(e.sqs);
    let store = store::Store::open(&path, store::Options::default()).unwrap();
    let clock = std::sync::Arc::new(store::ManualClock::new(T0));
    let sqs = sqs::Sqs::new(store, clock, sqs::Config::default()).unwrap();
    let got = sqs
        .receive_message(&sqs::ReceiveMessage {
            queue_url: q,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(got.messages[0].body, "kept");
}

#[test]
fn bulk_sends_are_one_transaction_of_checked_messages() {
    let e = env();
    let q = e.create("q", &[]);
    let n = e
        .sqs
        .send_messages_bulk(&q, (0..500).map(|i| format!("m{i}")).collect())
        .unwrap();
    assert_eq!(n, 500);
    assert_eq!(e.counts(&q), [500, 0, 0]);
    let err = e
        .sqs
        .send_messages_bulk(&q, vec!["fine".into(), String::new()])
        .unwrap_err();
    assert_eq!(err.code(), "MissingParameter");
    assert_eq!(
        e.counts(&q),
        [500, 0, 0],
        "nothing of the failed call was sent"
    );
}

#[test]
fn a_queue_holds_messages_until_each_is_deleted_or_expired() {
    let e = env();
    let q = e.create("q", &[("MessageRetentionPeriod", "60")]);
    let holds = || e.sqs.holds_messages(&q).unwrap();
    assert!(!holds(), "a new queue");
    e.send_delayed(&q, "later", 10);
    assert!(holds(), "a delayed message");
    e.advance_ms(10_000);
    assert!(holds(), "a visible message");
    let taken = e.receive(&q, 1);
    assert_eq!(e.counts(&q), [0, 1, 0]);
    assert!(holds(), "a message in flight");
    e.sqs.delete_message(&q, &taken[0].receipt_handle).unwrap();
    assert!(!holds(), "after its delete");
    e.send(&q, "old");
    e.advance_ms(60_000);
    assert_eq!(e.counts(&q), [0, 0, 0]);
    assert!(!holds(), "past its retention period");
    assert_eq!(
        e.sqs
            .holds_messages(&format!("{BASE}/000000000000/nope"))
            .unwrap_err()
            .code(),
        "QueueDoesNotExist"
    );
}
