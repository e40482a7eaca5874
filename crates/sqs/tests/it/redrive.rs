//! Redrive to the dead-letter queue, ListDeadLetterSourceQueues, and message move tasks.

use sqs::{ReceiveMessage, StartMessageMoveTask};

use crate::support::{env, Env, BASE, T0};

const DLQ_ARN: &str = "arn:aws:sqs:us-east-1:000000000000:dlq";

fn redrive(max: i64) -> String {
    format!(r#"{{"deadLetterTargetArn":"{DLQ_ARN}","maxReceiveCount":{max}}}"#)
}

/// A source queue with VisibilityTimeout 10 and maxReceiveCount 2, and its dead-letter queue.
fn pair(e: &Env) -> (String, String) {
    let dlq = e.create("dlq", &[]);
    let src = e.create(
        "src",
        &[("VisibilityTimeout", "10"), ("RedrivePolicy", &redrive(2))],
    );
    (src, dlq)
}

/// A message is handed out at most maxReceiveCount times; on the receive after that it is moved
/// to the dead-letter queue instead.
#[test]
fn a_message_is_handed_out_max_receive_count_times_then_moved() {
    let e = env();
    let (src, dlq) = pair(&e);
    let id = e.send(&src, "poison");
    let first = e.receive(&src, 10);
    assert_eq!(first[0].attributes["ApproximateReceiveCount"], "1");
    e.advance_ms(10_000);
    let second = e.receive(&src, 10);
    assert_eq!(second[0].attributes["ApproximateReceiveCount"], "2");
    e.advance_ms(10_000);
    assert!(
        e.receive(&src, 10).is_empty(),
        "the third receive moves it instead"
    );
    assert_eq!(e.counts(&src), [0, 0, 0]);
    let moved = e.receive(&dlq, 10);
    assert_eq!(moved.len(), 1);
    let m = &moved[0];
    assert_eq!(
        (m.message_id.as_str(), m.body.as_str()),
        (id.as_str(), "poison")
    );
    assert_eq!(
        m.attributes["SentTimestamp"],
        T0.to_string(),
        "the original send time"
    );
    assert_eq!(
        m.attributes["ApproximateReceiveCount"], "1",
        "counted afresh in the DLQ"
    );
    assert_eq!(
        m.attributes["DeadLetterQueueSourceArn"],
        "arn:aws:sqs:us-east-1:000000000000:src"
    );
}

/// Pinned (unconfirmed in aws-semantics.md): the move keeps the original retention clock; the
/// message expires at its original send time plus the dead-letter queue's retention period.
#[test]
fn a_dead_lettered_message_keeps_its_original_enqueue_time_for_retention() {
    let e = env();
    let dlq = e.create("dlq", &[("MessageRetentionPeriod", "120")]);
    let src = e.create(
        "src",
        &[("VisibilityTimeout", "10"), ("RedrivePolicy", &redrive(1))],
    );
    e.send(&src, "m");
    e.receive(&src, 1);
    e.advance_ms(100_000);
    assert!(e.receive(&src, 1).is_empty(), "moved at T0+100 s");
    assert_eq!(e.counts(&dlq), [1, 0, 0]);
    e.advance_ms(19_999);
    assert_eq!(e.counts(&dlq), [1, 0, 0]);
    e.advance_ms(1);
    assert_eq!(e.counts(&dlq), [0, 0, 0], "gone at T0+120 s, not T0+220 s");
}

#[test]
fn redrive_policy_is_validated() {
    let e = env();
    let check = |policy: &str| match e.try_create("src", &[("RedrivePolicy", policy)]) {
        Ok(_) => "ok".to_owned(),
        Err(err) => format!("{}: {err}", err.code()),
    };
    assert!(check(&redrive(2)).contains("Dead letter target does not exist"));
    e.create(
        "dlq",
        &[("RedriveAllowPolicy", r#"{"redrivePermission":"denyAll"}"#)],
    );
    assert!(check(&redrive(2)).contains("does not allow this queue"));
    e.sqs
        .set_queue_attributes(
            &format!("{BASE}/000000000000/dlq"),
            [("RedriveAllowPolicy".to_string(), String::new())].into(),
        )
        .unwrap();
    assert!(check(&redrive(0)).contains("maxReceiveCount must be an integer from 1 to 1000"));
    assert!(check(&redrive(1001)).starts_with("InvalidAttributeValue"));
    assert!(check("{not json").starts_with("InvalidAttributeValue"));
    assert_eq!(
        check(&format!(
            r#"{{"deadLetterTargetArn":"{DLQ_ARN}","maxReceiveCount":"3"}}"#
        )),
        "ok"
    );
    let src = format!("{BASE}/000000000000/src");
    assert_eq!(e.attribute(&src, "RedrivePolicy"), redrive(3));
}

#[test]
fn list_dead_letter_source_queues() {
    let e = env();
    let (_src, dlq) = pair(&e);
    e.create("other-src", &[("RedrivePolicy", &redrive(5))]);
    e.create("plain", &[]);
    let got = e
        .sqs
        .list_dead_letter_source_queues(BASE, &dlq, None, None)
        .unwrap();
    assert_eq!(
        got.queue_urls,
        [
            format!("{BASE}/000000000000/other-src"),
            format!("{BASE}/000000000000/src")
        ]
    );
    let err = e
        .sqs
        .list_dead_letter_source_queues(BASE, &format!("{BASE}/000000000000/nope"), None, None)
        .unwrap_err();
    assert_eq!(err.code(), "QueueDoesNotExist");
}

/// Dead-letters two messages from `src` into `dlq`.
fn dead_letter_two(e: &Env, src: &str) {
    e.send(src, "one");
    e.send(src, "two");
    for _ in 0..2 {
        e.receive(src, 10);
        e.advance_ms(10_000);
    }
    assert!(e.receive(src, 10).is_empty());
}

/// A DLQ redrive (StartMessageMoveTask) moves messages back to the source queue.
#[test]
fn move_task_moves_dead_letters_back_to_their_source() {
    let e = env();
    let (src, dlq) = pair(&e);
    dead_letter_two(&e, &src);
    assert_eq!(e.counts(&dlq), [2, 0, 0]);
    let handle = e
        .sqs
        .start_message_move_task(StartMessageMoveTask {
            source_arn: DLQ_ARN.into(),
            ..StartMessageMoveTask::default()
        })
        .unwrap();
    assert!(!handle.is_empty());
    assert_eq!(e.counts(&dlq), [0, 0, 0]);
    let back = e.receive(&src, 10);
    let mut bodies: Vec<_> = back.iter().map(|m| m.body.as_str()).collect();
    bodies.sort();
    assert_eq!(bodies, ["one", "two"]);
    assert_eq!(back[0].attributes["ApproximateReceiveCount"], "1");
    let tasks = e.sqs.list_message_move_tasks(DLQ_ARN, Some(10)).unwrap();
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0].status, "COMPLETED");
    assert_eq!(tasks[0].task_handle, None);
    assert_eq!(tasks[0].approximate_number_of_messages_moved, 2);
    assert_eq!(tasks[0].approximate_number_of_messages_to_move, 2);
    assert_eq!(tasks[0].started_timestamp, e.clock_now());
    let err = e.sqs.cancel_message_move_task(&handle).unwrap_err();
    assert_eq!(err.code(), "UnsupportedOperation");
}

#[test]
fn a_rate_limited_move_task_progresses_with_time_and_can_be_cancelled() {
    let e = env();
    let (src, _dlq) = pair(&e);
    dead_letter_two(&e, &src);
    let other = e.create("elsewhere", &[]);
    let handle = e
        .sqs
        .start_message_move_task(StartMessageMoveTask {
            source_arn: DLQ_ARN.into(),
            destination_arn: Some("arn:aws:sqs:us-east-1:000000000000:elsewhere".into()),
            max_number_of_messages_per_second: Some(1),
        })
        .unwrap();
    assert_eq!(
        e.counts(&other),
        [1, 0, 0],
        "one per second: one in the first second"
    );
    let err = e
        .sqs
        .start_message_move_task(StartMessageMoveTask {
            source_arn: DLQ_ARN.into(),
            ..StartMessageMoveTask::default()
        })
        .unwrap_err();
    assert_eq!(
        err.code(),
        "UnsupportedOperation",
        "one running task per source"
    );
    let running = e.sqs.list_message_move_tasks(DLQ_ARN, None).unwrap();
    assert_eq!(running[0].status, "RUNNING");
    assert_eq!(running[0].task_handle.as_deref(), Some(handle.as_str()));
    assert_eq!(e.sqs.cancel_message_move_task(&handle).unwrap(), 1);
    e.advance_ms(5_000);
    e.sqs.run_message_move_tasks().unwrap();
    assert_eq!(
        e.counts(&other),
        [1, 0, 0],
        "a cancelled task moves nothing more"
    );
    let tasks = e.sqs.list_message_move_tasks(DLQ_ARN, None).unwrap();
    assert_eq!(tasks[0].status, "CANCELLED");
    assert_eq!(
        e.sqs.cancel_message_move_task("nope").unwrap_err().code(),
        "ResourceNotFoundException"
    );
}

#[test]
fn move_task_sources_must_be_dead_letter_queues() {
    let e = env();
    e.create("plain", &[]);
    let start = |arn: &str| {
        e.sqs
            .start_message_move_task(StartMessageMoveTask {
                source_arn: arn.into(),
                ..StartMessageMoveTask::default()
            })
            .unwrap_err()
            .code()
    };
    assert_eq!(
        start("arn:aws:sqs:us-east-1:000000000000:plain"),
        "InvalidParameterValue"
    );
    assert_eq!(
        start("arn:aws:sqs:us-east-1:000000000000:nope"),
        "ResourceNotFoundException"
    );
    assert_eq!(start("not-an-arn"), "ResourceNotFoundException");
    let poll = e.sqs.receive_message(&ReceiveMessage {
        queue_url: format!("{BASE}/000000000000/plain"),
        ..ReceiveMessage::default()
    });
    assert!(poll.unwrap().messages.is_empty());
}

/// Pinned: if the dead-letter queue has been deleted, the message stays and keeps being handed out.
#[test]
fn without_its_dead_letter_queue_a_message_keeps_being_handed_out() {
    let e = env();
    let (src, dlq) = pair(&e);
    e.send(&src, "m");
    e.sqs.delete_queue(&dlq).unwrap();
    for count in 1..=4 {
        let got = e.receive(&src, 1);
        assert_eq!(
            got[0].attributes["ApproximateReceiveCount"],
            count.to_string()
        );
        e.advance_ms(10_000);
    }
}
