//! One test per SQS rule of aws-semantics.md ("SQS standard queues"), on virtual time.

use std::time::Duration;

use sqs::{
    ChangeMessageVisibilityBatchEntry, Config, DeleteMessageBatchEntry, MessageAttributeValue,
    ReceiveMessage, SendMessage, SendMessageBatchEntry,
};

use crate::support::{describe, env, env_with, T0};

/// VisibilityTimeout: default 30 s, 0 to 43,200 s.
#[test]
fn visibility_timeout_defaults_to_30_seconds_within_0_to_43200() {
    let e = env();
    let q = e.create("q", &[]);
    assert_eq!(e.attribute(&q, "VisibilityTimeout"), "30");
    e.send(&q, "m");
    assert_eq!(e.bodies(&q), ["m"]);
    e.advance_ms(29_999);
    assert!(e.bodies(&q).is_empty(), "still in flight just before 30 s");
    e.advance_ms(1);
    assert_eq!(
        e.bodies(&q),
        ["m"],
        "visible again at 30 s: at-least-once delivery"
    );

    for (value, ok) in [
        ("0", true),
        ("43200", true),
        ("43201", false),
        ("-1", false),
        ("x", false),
    ] {
        let r = e.try_create(
            &format!("v{}", value.len()),
            &[("VisibilityTimeout", value)],
        );
        match (r, ok) {
            (Ok(_), true) => {}
            (Err(err), false) => assert_eq!(err.code(), "InvalidAttributeValue", "{value}"),
            (r, _) => panic!("VisibilityTimeout={value}: {r:?}"),
        }
        if ok {
            e.sqs
                .delete_queue(&format!(
                    "{}/000000000000/v{}",
                    crate::support::BASE,
                    value.len()
                ))
                .unwrap();
        }
    }
    // The receive's own override applies to those messages only.
    let q2 = e.create("override", &[]);
    e.send(&q2, "o");
    let got = e.sqs.receive_message(&ReceiveMessage {
        queue_url: q2.clone(),
        visibility_timeout: Some(5),
        ..ReceiveMessage::default()
    });
    assert_eq!(got.unwrap().messages.len(), 1);
    e.advance_ms(5_000);
    assert_eq!(e.bodies(&q2), ["o"]);
}

/// ChangeMessageVisibility restarts the timer from the call.
#[test]
fn change_message_visibility_restarts_the_timer_from_the_call() {
    let e = env();
    let q = e.create("q", &[]);
    e.send(&q, "m");
    let handle = e.receive(&q, 1).remove(0).receipt_handle;
    e.advance_ms(20_000);
    e.sqs.change_message_visibility(&q, &handle, 15).unwrap();
    e.advance_ms(14_999);
    assert!(
        e.bodies(&q).is_empty(),
        "15 s from the call, not from the receive"
    );
    e.advance_ms(1);
    assert_eq!(e.bodies(&q), ["m"]);

    // Zero makes it visible at once; a handle whose message is visible again is not in flight.
    let q = e.create("zero", &[]);
    e.send(&q, "z");
    let handle = e.receive(&q, 1).remove(0).receipt_handle;
    e.sqs.change_message_visibility(&q, &handle, 0).unwrap();
    let err = e
        .sqs
        .change_message_visibility(&q, &handle, 10)
        .unwrap_err();
    assert_eq!(err.code(), "MessageNotInflight");
    let err = e
        .sqs
        .change_message_visibility(&q, &handle, 43_201)
        .unwrap_err();
    assert_eq!(err.code(), "InvalidParameterValue");
}

/// A visibility timeout cannot be extended past 12 hours after the receive.
#[test]
fn visibility_cannot_be_extended_beyond_12_hours_from_the_receive() {
    let e = env();
    let q = e.create("q", &[]);
    e.send(&q, "m");
    let handle = e.receive(&q, 1).remove(0).receipt_handle;
    e.advance_ms(10_000);
    let err = e
        .sqs
        .change_message_visibility(&q, &handle, 43_200)
        .unwrap_err();
    assert!(
        describe(&err).contains("beyond the limit"),
        "{}",
        describe(&err)
    );
    e.sqs
        .change_message_visibility(&q, &handle, 43_190)
        .unwrap();
}

/// MessageRetentionPeriod: 60 to 1,209,600 s, default 345,600. Expired messages disappear.
#[test]
fn retention_defaults_to_4_days_and_expired_messages_disappear() {
    let e = env();
    let q = e.create("q", &[]);
    assert_eq!(e.attribute(&q, "MessageRetentionPeriod"), "345600");
    for bad in ["59", "1209601"] {
        let err = e
            .try_create("bad", &[("MessageRetentionPeriod", bad)])
            .unwrap_err();
        assert_eq!(err.code(), "InvalidAttributeValue");
    }
    let short = e.create(
        "short",
        &[
            ("MessageRetentionPeriod", "60"),
            ("VisibilityTimeout", "120"),
        ],
    );
    e.send(&short, "visible");
    e.send(&short, "in-flight");
    assert_eq!(e.receive(&short, 1).len(), 1);
    e.advance_ms(59_999);
    assert_eq!(e.counts(&short), [1, 1, 0]);
    e.advance_ms(1);
    assert_eq!(e.counts(&short), [0, 0, 0], "both expired at 60 s");
    assert!(e.bodies(&short).is_empty());
    e.send(&q, "long");
    e.advance_ms(345_599_000);
    assert_eq!(e.counts(&q), [1, 0, 0]);
    e.advance_ms(1_000);
    assert_eq!(e.counts(&q), [0, 0, 0]);
}

/// WaitTimeSeconds: 0 to 20; a long poll returns an empty list when the wait ends.
#[test]
fn long_poll_returns_empty_when_the_wait_ends_on_virtual_time() {
    let e = env();
    let q = e.create("q", &[("ReceiveMessageWaitTimeSeconds", "20")]);
    for bad in [-1, 21] {
        let err = e
            .sqs
            .receive_message(&ReceiveMessage {
                queue_url: q.clone(),
                wait_time_seconds: Some(bad),
                ..ReceiveMessage::default()
            })
            .unwrap_err();
        assert_eq!(err.code(), "InvalidParameterValue");
    }
    let err = e
        .try_create("bad", &[("ReceiveMessageWaitTimeSeconds", "21")])
        .unwrap_err();
    assert_eq!(err.code(), "InvalidAttributeValue");

    // The queue's default wait (20 s) applies; the poll ends only when virtual time reaches it.
    let sqs = e.sqs.clone();
    let url = q.clone();
    let poll = std::thread::spawn(move || {
        sqs.receive_message(&ReceiveMessage {
            queue_url: url,
            ..ReceiveMessage::default()
        })
    });
    std::thread::sleep(Duration::from_millis(20));
    assert!(
        !poll.is_finished(),
        "the poll waits while virtual time stands still"
    );
    e.advance_ms(19_000);
    std::thread::sleep(Duration::from_millis(20));
    assert!(!poll.is_finished(), "19 s is not the end of a 20 s wait");
    e.advance_ms(1_000);
    assert!(poll.join().unwrap().unwrap().messages.is_empty());
}

/// A long poll returns as soon as a message arrives.
#[test]
fn long_poll_returns_as_soon_as_a_message_arrives() {
    let e = env();
    let q = e.create("q", &[]);
    let sqs = e.sqs.clone();
    let url = q.clone();
    let poll = std::thread::spawn(move || {
        sqs.receive_message(&ReceiveMessage {
            queue_url: url,
            wait_time_seconds: Some(20),
            ..ReceiveMessage::default()
        })
    });
    std::thread::sleep(Duration::from_millis(20));
    assert!(!poll.is_finished());
    e.send(&q, "wake");
    let got = poll.join().unwrap().unwrap().messages;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].body, "wake");
    assert_eq!(e.clock_now(), T0, "no virtual time passed");
}

/// A long poll also returns when a delayed message comes due during the wait.
#[test]
fn long_poll_returns_when_a_delayed_message_becomes_visible() {
    let e = env();
    let q = e.create("q", &[]);
    e.send_delayed(&q, "later", 5);
    let sqs = e.sqs.clone();
    let url = q.clone();
    let poll = std::thread::spawn(move || {
        sqs.receive_message(&ReceiveMessage {
            queue_url: url,
            wait_time_seconds: Some(20),
            ..ReceiveMessage::default()
        })
    });
    std::thread::sleep(Duration::from_millis(20));
    assert!(!poll.is_finished());
    e.advance_ms(5_000);
    assert_eq!(poll.join().unwrap().unwrap().messages[0].body, "later");
}

/// An async endpoint can wait on the queue's signal instead of a thread.
#[test]
fn queue_signal_future_completes_when_a_message_is_sent() {
    use std::future::Future;
    use std::sync::Arc;
    use std::task::{Context, Wake, Waker};

    struct Flag(std::sync::atomic::AtomicBool);
    impl Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.0.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }
    let e = env();
    let q = e.create("q", &[]);
    let signal = e.sqs.queue_signal(&q).unwrap();
    let seen = signal.version();
    let attempt = store::block_on(e.sqs.try_receive_message(&ReceiveMessage {
        queue_url: q.clone(),
        ..ReceiveMessage::default()
    }))
    .unwrap();
    assert!(attempt.messages.is_empty());
    assert_eq!(attempt.next_visible_ms, None);
    let flag = Arc::new(Flag(false.into()));
    let waker = Waker::from(flag.clone());
    let mut changed = Box::pin(signal.changed(seen));
    assert!(changed
        .as_mut()
        .poll(&mut Context::from_waker(&waker))
        .is_pending());
    e.send(&q, "m");
    assert!(
        flag.0.load(std::sync::atomic::Ordering::SeqCst),
        "woken by the send"
    );
    assert!(changed
        .as_mut()
        .poll(&mut Context::from_waker(&waker))
        .is_ready());
}

/// DelaySeconds: 0 to 900.
#[test]
fn delay_seconds_hide_messages_for_0_to_900_seconds() {
    let e = env();
    let q = e.create("q", &[("DelaySeconds", "10")]);
    e.send(&q, "queue-default");
    e.send_delayed(&q, "own", 0);
    assert_eq!(e.counts(&q), [1, 0, 1]);
    assert_eq!(e.bodies(&q), ["own"]);
    e.advance_ms(9_999);
    assert!(e.bodies(&q).is_empty());
    e.advance_ms(1);
    assert_eq!(e.bodies(&q), ["queue-default"]);
    for bad in [-1, 901] {
        let err = e
            .sqs
            .send_message(SendMessage {
                queue_url: q.clone(),
                message_body: "x".into(),
                delay_seconds: Some(bad),
                ..SendMessage::default()
            })
            .unwrap_err();
        assert_eq!(err.code(), "InvalidParameterValue");
    }
    let q = e.create("max", &[]);
    e.send_delayed(&q, "max", 900);
    e.advance_ms(899_999);
    assert!(e.bodies(&q).is_empty());
    e.advance_ms(1);
    assert_eq!(e.bodies(&q), ["max"]);
    assert!(e.try_create("bad", &[("DelaySeconds", "901")]).is_err());
}

/// Message body: up to 1 MiB; MaximumMessageSize; attributes count towards the size.
#[test]
fn message_size_is_limited_by_maximum_message_size() {
    let e = env();
    let q = e.create("q", &[]);
    assert_eq!(e.attribute(&q, "MaximumMessageSize"), "1048576");
    let send = |url: &str, body: String, attrs: &[(&str, &str)]| {
        e.sqs.send_message(SendMessage {
            queue_url: url.into(),
            message_body: body,
            message_attributes: attrs
                .iter()
                .map(|(k, v)| (k.to_string(), MessageAttributeValue::string(*v)))
                .collect(),
            ..SendMessage::default()
        })
    };
    send(&q, "x".repeat(1_048_576), &[]).unwrap();
    let err = send(&q, "x".repeat(1_048_577), &[]).unwrap_err();
    assert_eq!(err.code(), "InvalidParameterValue");
    assert!(
        err.to_string().contains("shorter than 1048576 bytes"),
        "{err}"
    );
    let small = e.create("small", &[("MaximumMessageSize", "1024")]);
    // 1,014 body bytes + "k" + "String" + "abc" = 1,024.
    send(&small, "x".repeat(1_014), &[("k", "abc")]).unwrap();
    assert!(send(&small, "x".repeat(1_015), &[("k", "abc")]).is_err());
    assert!(e
        .try_create("bad", &[("MaximumMessageSize", "1023")])
        .is_err());
    assert!(e
        .try_create("bad", &[("MaximumMessageSize", "1048577")])
        .is_err());
}

/// ReceiveMessage returns 1 to 10 messages (default 1).
#[test]
fn receive_returns_1_to_10_messages_default_1() {
    let e = env();
    let q = e.create("q", &[]);
    for i in 0..12 {
        e.send(&q, &format!("m{i}"));
    }
    let one = e
        .sqs
        .receive_message(&ReceiveMessage {
            queue_url: q.clone(),
            ..ReceiveMessage::default()
        })
        .unwrap();
    assert_eq!(one.messages.len(), 1);
    assert_eq!(e.receive(&q, 10).len(), 10);
    assert_eq!(e.receive(&q, 10).len(), 1, "only one left");
    for bad in [0, 11] {
        let err = e
            .sqs
            .receive_message(&ReceiveMessage {
                queue_url: q.clone(),
                max_number_of_messages: Some(bad),
                ..ReceiveMessage::default()
            })
            .unwrap_err();
        assert_eq!(err.code(), "InvalidParameterValue");
    }
}

fn entry(id: &str, body: &str) -> SendMessageBatchEntry {
    SendMessageBatchEntry {
        id: id.into(),
        message_body: body.into(),
        ..SendMessageBatchEntry::default()
    }
}

/// Batch calls take at most 10 entries; ids at most 80 characters; a batch at most 1 MiB in total.
#[test]
fn batch_limits() {
    let e = env();
    let q = e.create("q", &[]);
    let code = |entries: Vec<SendMessageBatchEntry>| {
        e.sqs
            .send_message_batch(&q, entries)
            .map(|r| r.successful.len())
            .map_err(|e| e.code())
    };
    let ten: Vec<_> = (0..10).map(|i| entry(&format!("e{i}"), "b")).collect();
    assert_eq!(code(ten), Ok(10));
    let eleven: Vec<_> = (0..11).map(|i| entry(&format!("e{i}"), "b")).collect();
    assert_eq!(code(eleven), Err("TooManyEntriesInBatchRequest"));
    assert_eq!(code(vec![]), Err("EmptyBatchRequest"));
    assert_eq!(
        code(vec![entry("a", "1"), entry("a", "2")]),
        Err("BatchEntryIdsNotDistinct")
    );
    assert_eq!(code(vec![entry(&"i".repeat(80), "1")]), Ok(1));
    assert_eq!(
        code(vec![entry(&"i".repeat(81), "1")]),
        Err("InvalidBatchEntryId")
    );
    assert_eq!(
        code(vec![entry("has space", "1")]),
        Err("InvalidBatchEntryId")
    );
    let half = "x".repeat(524_288);
    assert_eq!(code(vec![entry("a", &half), entry("b", &half)]), Ok(2));
    assert_eq!(
        code(vec![entry("a", &half), entry("b", &half), entry("c", "x")]),
        Err("BatchRequestTooLong")
    );
    // One bad entry fails alone.
    let r = e
        .sqs
        .send_message_batch(&q, vec![entry("good", "ok"), entry("bad", "a\u{1}b")])
        .unwrap();
    assert_eq!(r.successful[0].id, "good");
    assert_eq!(r.failed[0].id, "bad");
    assert_eq!(r.failed[0].code, "InvalidMessageContents");
    assert!(r.failed[0].sender_fault);

    // The same limits on delete and visibility batches.
    let del = e.sqs.delete_message_batch(&q, vec![]).unwrap_err();
    assert_eq!(del.code(), "EmptyBatchRequest");
    let vis: Vec<_> = (0..11)
        .map(|i| ChangeMessageVisibilityBatchEntry {
            id: format!("v{i}"),
            receipt_handle: "h".into(),
            visibility_timeout: 1,
        })
        .collect();
    let err = e.sqs.change_message_visibility_batch(&q, vis).unwrap_err();
    assert_eq!(err.code(), "TooManyEntriesInBatchRequest");
}

/// In-flight messages: at most 120,000 per queue (a setting), OverLimit past that.
#[test]
fn in_flight_limit_gives_over_limit() {
    assert_eq!(Config::default().max_inflight_messages, 120_000);
    let e = env_with(Config {
        max_inflight_messages: 3,
        ..Config::default()
    });
    let q = e.create("q", &[]);
    for i in 0..5 {
        e.send(&q, &format!("m{i}"));
    }
    assert_eq!(e.receive(&q, 2).len(), 2);
    assert_eq!(e.receive(&q, 10).len(), 1, "only up to the limit");
    let err = e
        .sqs
        .receive_message(&ReceiveMessage {
            queue_url: q.clone(),
            ..ReceiveMessage::default()
        })
        .unwrap_err();
    assert_eq!(err.code(), "OverLimit");
    e.advance_ms(30_000);
    assert_eq!(
        e.receive(&q, 10).len(),
        3,
        "no longer in flight once visible again"
    );
}

/// The in-flight limit follows deletes, ending visibility timeouts and a clock set back: the
/// receive path checks a bound kept in memory and counts only when the bound cannot clear it.
#[test]
fn in_flight_limit_follows_deletes_and_time() {
    let e = env_with(Config {
        max_inflight_messages: 10,
        ..Config::default()
    });
    let q = e.create("q", &[]);
    let over_limit = |max: i64| {
        e.sqs
            .receive_message(&ReceiveMessage {
                queue_url: q.clone(),
                max_number_of_messages: Some(max),
                wait_time_seconds: Some(0),
                ..ReceiveMessage::default()
            })
            .map_err(|err| err.code().to_owned())
    };
    for i in 0..10 {
        e.send(&q, &format!("m{i}"));
    }
    let first = e.receive(&q, 10);
    assert_eq!(first.len(), 10);
    assert_eq!(over_limit(1).unwrap_err(), "OverLimit");
    for m in &first[..5] {
        e.sqs.delete_message(&q, &m.receipt_handle).unwrap();
    }
    for i in 10..15 {
        e.send(&q, &format!("m{i}"));
    }
    assert_eq!(e.receive(&q, 10).len(), 5, "deletes made room for 5");
    assert_eq!(over_limit(1).unwrap_err(), "OverLimit");
    // All ten visible again; one received now, the other nine stay visible.
    e.advance_ms(31_000);
    assert_eq!(e.receive(&q, 1).len(), 1);
    // Back before the first timeouts ended: all ten are in flight again.
    e.clock.set(T0 + 5_000);
    assert_eq!(over_limit(1).unwrap_err(), "OverLimit");
}

/// ApproximateReceiveCount, SentTimestamp, ApproximateFirstReceiveTimestamp (epoch ms),
/// MD5OfMessageBody.
#[test]
fn message_system_attributes() {
    let e = env();
    let q = e.create("q", &[]);
    let sent = e
        .sqs
        .send_message(SendMessage {
            queue_url: q.clone(),
            message_body: "hello".into(),
            message_attributes: [(
                "SellerName".to_string(),
                MessageAttributeValue::string("Example Store"),
            )]
            .into(),
            ..SendMessage::default()
        })
        .unwrap();
    assert_eq!(sent.md5_of_message_body, "5d41402abc4b2a76b9719d911017c592");
    assert_eq!(
        sent.md5_of_message_attributes.as_deref(),
        Some("cd28f3b68aeee4b2eac9c66f2f694b58")
    );
    e.advance_ms(1_000);
    let first = e.receive(&q, 1).remove(0);
    assert_eq!(first.message_id, sent.message_id);
    assert_eq!(first.md5_of_body, sent.md5_of_message_body);
    assert_eq!(
        first.md5_of_message_attributes,
        sent.md5_of_message_attributes
    );
    assert_eq!(
        first.message_attributes["SellerName"]
            .string_value
            .as_deref(),
        Some("Example Store")
    );
    let attrs = |m: &sqs::Message| {
        [
            "ApproximateReceiveCount",
            "SentTimestamp",
            "ApproximateFirstReceiveTimestamp",
        ]
        .map(|n| m.attributes[n].clone())
    };
    assert_eq!(
        attrs(&first),
        ["1".to_string(), T0.to_string(), (T0 + 1_000).to_string()]
    );
    e.advance_ms(30_000);
    let second = e.receive(&q, 1).remove(0);
    assert_eq!(
        attrs(&second),
        ["2".to_string(), T0.to_string(), (T0 + 1_000).to_string()]
    );
    // Only the attributes asked for come back.
    e.advance_ms(30_000);
    let some = e
        .sqs
        .receive_message(&ReceiveMessage {
            queue_url: q.clone(),
            attribute_names: vec!["SentTimestamp".into()],
            ..ReceiveMessage::default()
        })
        .unwrap()
        .messages
        .remove(0);
    assert_eq!(
        some.attributes.keys().collect::<Vec<_>>(),
        ["SentTimestamp"]
    );
    assert!(some.message_attributes.is_empty());
    assert_eq!(some.md5_of_message_attributes, None);
    let err = e
        .sqs
        .receive_message(&ReceiveMessage {
            queue_url: q.clone(),
            attribute_names: vec!["Nope".into()],
            ..ReceiveMessage::default()
        })
        .unwrap_err();
    assert_eq!(err.code(), "InvalidAttributeName");
}

/// Receipt handles stop working after a re-receive; DeleteMessage with a stale handle succeeds
/// without deleting (AWS's documented behaviour); ChangeMessageVisibility with it fails.
#[test]
fn receipt_handles_stop_working_after_a_re_receive() {
    let e = env();
    let q = e.create("q", &[]);
    e.send(&q, "m");
    let old = e.receive(&q, 1).remove(0).receipt_handle;
    e.advance_ms(30_000);
    let new = e.receive(&q, 1).remove(0).receipt_handle;
    assert_ne!(old, new);
    e.sqs.delete_message(&q, &old).unwrap();
    assert_eq!(e.counts(&q), [0, 1, 0], "the stale handle deleted nothing");
    let err = e.sqs.change_message_visibility(&q, &old, 0).unwrap_err();
    assert_eq!(err.code(), "ReceiptHandleIsInvalid");
    e.sqs.delete_message(&q, &new).unwrap();
    assert_eq!(e.counts(&q), [0, 0, 0]);
    // Deleting again is fine; changing the visibility of a deleted message is not; garbage or
    // another queue's handle is refused.
    e.sqs.delete_message(&q, &new).unwrap();
    let err = e.sqs.change_message_visibility(&q, &new, 5).unwrap_err();
    assert_eq!(err.code(), "ReceiptHandleIsInvalid");
    let err = e.sqs.delete_message(&q, "garbage").unwrap_err();
    assert_eq!(err.code(), "ReceiptHandleIsInvalid");
    let other = e.create("other", &[]);
    assert_eq!(
        e.sqs.delete_message(&other, &new).unwrap_err().code(),
        "ReceiptHandleIsInvalid"
    );
}

#[test]
fn delete_and_visibility_batches_report_each_entry() {
    let e = env();
    let q = e.create("q", &[]);
    e.send(&q, "a");
    e.send(&q, "b");
    let got = e.receive(&q, 10);
    let r = e
        .sqs
        .change_message_visibility_batch(
            &q,
            vec![
                ChangeMessageVisibilityBatchEntry {
                    id: "a".into(),
                    receipt_handle: got[0].receipt_handle.clone(),
                    visibility_timeout: 0,
                },
                ChangeMessageVisibilityBatchEntry {
                    id: "bad".into(),
                    receipt_handle: "nope".into(),
                    visibility_timeout: 0,
                },
            ],
        )
        .unwrap();
    assert_eq!(r.successful, ["a"]);
    assert_eq!(r.failed[0].code, "ReceiptHandleIsInvalid");
    assert_eq!(e.counts(&q), [1, 1, 0]);
    let r = e
        .sqs
        .delete_message_batch(
            &q,
            vec![
                DeleteMessageBatchEntry {
                    id: "b".into(),
                    receipt_handle: got[1].receipt_handle.clone(),
                },
                DeleteMessageBatchEntry {
                    id: "bad".into(),
                    receipt_handle: "nope".into(),
                },
            ],
        )
        .unwrap();
    assert_eq!(r.successful, ["b"]);
    assert_eq!(r.failed[0].id, "bad");
    assert_eq!(e.counts(&q), [1, 0, 0]);
}

/// Delivery is at-least-once: an undeleted message comes back, with the oldest visible first.
#[test]
fn undeleted_messages_are_delivered_again_oldest_first() {
    let e = env();
    let q = e.create("q", &[("VisibilityTimeout", "10")]);
    e.send(&q, "a");
    e.advance_ms(1);
    e.send(&q, "b");
    assert_eq!(e.receive(&q, 1)[0].body, "a");
    e.advance_ms(10_000);
    assert_eq!(e.bodies(&q), ["b", "a"], "b has been visible longer than a");
}

/// DeleteMessageBatch applies the receipt rule to each entry: a handle of an earlier receive deletes
/// nothing, the latest deletes, whatever the order of the two in one batch, and the other entries
/// of the batch are deleted alongside.
#[test]
fn delete_batch_applies_the_latest_handle_rule_per_entry() {
    let check = |latest_first: bool| {
        let e = env();
        let q = e.create("q", &[("VisibilityTimeout", "10")]);
        e.send(&q, "a");
        e.send(&q, "b");
        let first = e.receive(&q, 10);
        assert_eq!(first.len(), 2);
        e.advance_ms(10_000);
        let again = e.receive(&q, 10);
        let old_a = first.iter().find(|m| m.body == "a").unwrap();
        let new_a = again.iter().find(|m| m.body == "a").unwrap();
        let new_b = again.iter().find(|m| m.body == "b").unwrap();
        let entry = |id: &str, m: &sqs::Message| DeleteMessageBatchEntry {
            id: id.into(),
            receipt_handle: m.receipt_handle.clone(),
        };
        // A stale handle alone deletes nothing, yet succeeds.
        let r = e
            .sqs
            .delete_message_batch(&q, vec![entry("old", old_a)])
            .unwrap();
        assert_eq!(r.successful, ["old"]);
        assert_eq!(e.counts(&q), [0, 2, 0]);
        let mut entries = vec![entry("old", old_a), entry("new", new_a)];
        if latest_first {
            entries.reverse();
        }
        entries.push(entry("b", new_b));
        let r = e.sqs.delete_message_batch(&q, entries).unwrap();
        assert_eq!(r.successful.len(), 3, "{latest_first}");
        assert!(r.failed.is_empty());
        assert_eq!(e.counts(&q), [0, 0, 0], "{latest_first}");
    };
    check(false);
    check(true);
}

/// SendMessageBatch stores every valid entry (each with its own delay) and fails only the entries
/// that break a rule, in entry order.
#[test]
fn send_batch_stores_the_valid_entries_and_fails_the_others() {
    let e = env();
    let q = e.create("small", &[("MaximumMessageSize", "1024")]);
    let entry = |id: &str, body: String, delay: Option<i64>| SendMessageBatchEntry {
        id: id.into(),
        message_body: body,
        delay_seconds: delay,
        ..SendMessageBatchEntry::default()
    };
    let r = e
        .sqs
        .send_message_batch(
            &q,
            vec![
                entry("a", "first".into(), None),
                entry("big", "x".repeat(1_025), None),
                entry("late", "later".into(), Some(5)),
                entry("b", "second".into(), None),
            ],
        )
        .unwrap();
    let ids: Vec<&str> = r.successful.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["a", "late", "b"]);
    assert_eq!(r.failed.len(), 1);
    assert_eq!(
        (r.failed[0].id.as_str(), r.failed[0].code.as_str()),
        ("big", "InvalidParameterValue")
    );
    assert_eq!(e.counts(&q), [2, 0, 1]);
    assert_eq!(e.bodies(&q), ["first", "second"]);
    e.advance_ms(5_000);
    assert_eq!(e.bodies(&q), ["later"]);
}
