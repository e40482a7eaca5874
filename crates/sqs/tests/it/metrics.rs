//! The activity metrics SQS reports to CloudWatch, on virtual time: the four counts per queue
//! (sent, received, deleted, empty receives) and the age of the oldest message.

use sqs::{
    DeleteMessageBatchEntry, MessageAttributes, QueueActivity, ReceiveMessage, SendMessage,
    SendMessageBatchEntry,
};

use crate::support::{env, Env, BASE};

/// Checks the activity taken now: `(queue, sent, received, deleted, empty receives)` per queue.
fn check_activity(e: &Env, expected: &[(&str, u64, u64, u64, u64)]) {
    let expected: Vec<QueueActivity> = expected
        .iter()
        .map(
            |&(queue_name, sent, received, deleted, empty_receives)| QueueActivity {
                queue_name: queue_name.to_owned(),
                sent,
                received,
                deleted,
                empty_receives,
            },
        )
        .collect();
    assert_eq!(e.sqs.take_activity(), expected);
}

fn batch_entry(id: &str, body: &str, delay_seconds: Option<i64>) -> SendMessageBatchEntry {
    SendMessageBatchEntry {
        id: id.into(),
        message_body: body.into(),
        delay_seconds,
        message_attributes: MessageAttributes::new(),
        aws_trace_header: None,
    }
}

fn delete_entry(id: &str, receipt_handle: &str) -> DeleteMessageBatchEntry {
    DeleteMessageBatchEntry {
        id: id.into(),
        receipt_handle: receipt_handle.into(),
    }
}

fn receive_request(url: &str, wait_time_seconds: i64) -> ReceiveMessage {
    ReceiveMessage {
        queue_url: url.into(),
        max_number_of_messages: Some(10),
        wait_time_seconds: Some(wait_time_seconds),
        ..ReceiveMessage::default()
    }
}

#[test]
fn sends_receives_deletes_and_empty_receives_are_counted_per_queue() {
    let e = env();
    let a = e.create("a", &[("VisibilityTimeout", "10")]);
    let b = e.create("b", &[]);
    check_activity(&e, &[]);

    // 3 single sends and a batch of 4 of which one entry fails (its delay is out of range).
    for body in ["1", "2", "3"] {
        e.send(&a, body);
    }
    let batch = e
        .sqs
        .send_message_batch(
            &a,
            vec![
                batch_entry("4", "4", None),
                batch_entry("5", "5", None),
                batch_entry("6", "6", None),
                batch_entry("bad", "7", Some(901)),
            ],
        )
        .unwrap();
    assert_eq!((batch.successful.len(), batch.failed.len()), (3, 1));
    // A send to a queue that does not exist fails and counts nowhere.
    let missing = format!("{BASE}/000000000000/missing");
    assert!(e
        .sqs
        .send_message(SendMessage {
            queue_url: missing.clone(),
            message_body: "x".into(),
            ..SendMessage::default()
        })
        .is_err());

    // Receives: 2, then the other 4, then nothing (one empty receive).
    let first = e.receive(&a, 2);
    let rest = e.receive(&a, 10);
    assert_eq!((first.len(), rest.len()), (2, 4));
    assert!(e.receive(&a, 10).is_empty());
    // Two empty receives on the empty queue b.
    assert!(e.receive(&b, 1).is_empty());
    assert!(e.receive(&b, 1).is_empty());

    // One delete, then a batch of three of which one handle was already used: 3 deleted.
    e.sqs.delete_message(&a, &first[0].receipt_handle).unwrap();
    let deleted = e
        .sqs
        .delete_message_batch(
            &a,
            vec![
                delete_entry("1", &first[0].receipt_handle),
                delete_entry("2", &rest[0].receipt_handle),
                delete_entry("3", &rest[1].receipt_handle),
            ],
        )
        .unwrap();
    assert_eq!(
        deleted.successful.len(),
        3,
        "a used handle succeeds as on AWS"
    );
    check_activity(&e, &[("a", 6, 6, 3, 1), ("b", 0, 0, 0, 2)]);

    // Taking resets: nothing happened since.
    check_activity(&e, &[("a", 0, 0, 0, 0), ("b", 0, 0, 0, 0)]);

    // The visibility timeout passes: the 3 undeleted messages are received again and count again;
    // a handle of the earlier receive deletes nothing and counts nothing.
    e.advance_ms(10_000);
    let again = e.receive(&a, 10);
    assert_eq!(again.len(), 3);
    e.sqs.delete_message(&a, &rest[2].receipt_handle).unwrap();
    e.sqs.delete_message(&a, &again[0].receipt_handle).unwrap();
    e.send(&b, "b1");
    check_activity(&e, &[("a", 0, 3, 1, 0), ("b", 1, 0, 0, 0)]);

    // A deleted queue is no longer listed.
    e.sqs.delete_queue(&b).unwrap();
    check_activity(&e, &[("a", 0, 0, 0, 0)]);
}

#[test]
fn an_empty_receive_counts_once_when_its_wait_is_over() {
    let e = env();
    let q = e.create("q", &[]);
    // A non-waiting attempt is the whole receive: it counts.
    let attempt = store::block_on(e.sqs.try_receive_message(&receive_request(&q, 0))).unwrap();
    assert!(attempt.messages.is_empty());
    // An attempt of a long poll does not; its driver counts the poll's empty end, once.
    let attempt = store::block_on(e.sqs.try_receive_message(&receive_request(&q, 20))).unwrap();
    assert!(attempt.messages.is_empty());
    assert_eq!(attempt.wait_time_seconds, 20);
    check_activity(&e, &[("q", 0, 0, 0, 1)]);
    e.sqs.count_empty_receive(&q).unwrap();
    check_activity(&e, &[("q", 0, 0, 0, 1)]);
    // An attempt that finds messages counts them as received.
    e.send(&q, "m");
    let attempt = store::block_on(e.sqs.try_receive_message(&receive_request(&q, 20))).unwrap();
    assert_eq!(attempt.messages.len(), 1);
    check_activity(&e, &[("q", 1, 1, 0, 0)]);
}

#[test]
fn age_of_oldest_message_grows_with_time_and_resets_when_the_oldest_is_deleted() {
    let e = env();
    let q = e.create("q", &[("VisibilityTimeout", "60")]);
    let age = || e.sqs.age_of_oldest_message(&q).unwrap();
    assert_eq!(age(), 0, "an empty queue");
    e.send(&q, "old");
    assert_eq!(age(), 0);
    e.advance_ms(5_500);
    assert_eq!(age(), 5, "whole seconds");
    e.send(&q, "young");
    e.advance_ms(10_000);
    assert_eq!(age(), 15);
    // In flight, the oldest still counts: it is not deleted.
    let got = e.receive(&q, 1);
    assert_eq!(got[0].body, "old");
    e.advance_ms(1_000);
    assert_eq!(age(), 16);
    e.sqs.delete_message(&q, &got[0].receipt_handle).unwrap();
    assert_eq!(age(), 11, "now the younger message is the oldest");
    let got = e.receive(&q, 1);
    e.sqs.delete_message(&q, &got[0].receipt_handle).unwrap();
    assert_eq!(age(), 0, "empty again");

    // A delayed message counts from its send; an expired one does not count.
    e.send_delayed(&q, "delayed", 30);
    e.advance_ms(3_000);
    assert_eq!(age(), 3);
    let short = e.create("short", &[("MessageRetentionPeriod", "60")]);
    e.send(&short, "expires");
    e.advance_ms(59_000);
    assert_eq!(e.sqs.age_of_oldest_message(&short).unwrap(), 59);
    e.advance_ms(1_000);
    assert_eq!(e.sqs.age_of_oldest_message(&short).unwrap(), 0);

    let missing = format!("{BASE}/000000000000/missing");
    let err = e.sqs.age_of_oldest_message(&missing).unwrap_err();
    assert_eq!(err.code(), "QueueDoesNotExist");
}
