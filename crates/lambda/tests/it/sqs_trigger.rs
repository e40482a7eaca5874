//! SQS event source mappings on virtual time: partial batch failures, visibility and redrive,
//! whole-batch failures, the batching window, poller scaling, the drain query.

use std::time::Duration;

use lambda::{SqsMappingSpec, Triggers};

use crate::support::{eventually, function, Env};

fn mapping(queue_arn: &str, function: &str) -> SqsMappingSpec {
    SqsMappingSpec {
        id: format!("{function}Mapping"),
        queue_arn: queue_arn.to_owned(),
        function: function.to_owned(),
        batch_size: 10,
        maximum_batching_window_s: 0,
        report_batch_item_failures: true,
        enabled: true,
        maximum_concurrency: None,
    }
}

fn start(env: &Env, m: SqsMappingSpec) {
    env.lambda
        .start_triggers(Triggers {
            sqs: vec![m],
            ..Triggers::default()
        })
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_reported_failures_stay_and_are_redriven_after_max_receive_count() {
    let env = Env::new(vec![function("orders")]);
    let dlq = env.queue("orders-dlq", &[]);
    let redrive = format!(r#"{{"deadLetterTargetArn":"{dlq}","maxReceiveCount":"2"}}"#);
    let queue = env.queue(
        "orders",
        &[("VisibilityTimeout", "30"), ("RedrivePolicy", &redrive)],
    );
    for body in [
        r#"{"n":1}"#,
        r#"{"n":2,"fail":true}"#,
        r#"{"n":3}"#,
        r#"{"n":4,"fail":true}"#,
        r#"{"n":5}"#,
    ] {
        env.send("orders", body);
    }
    start(&env, mapping(&queue, "orders"));
    assert!(!env.lambda.is_idle().unwrap());

    eventually("the successes deleted", || {
        env.stats("orders").invocations == 1 && env.counts("orders") == (0, 2)
    })
    .await;
    let first: Vec<String> = env
        .log("orders")
        .into_iter()
        .filter(|l| l.starts_with("record "))
        .collect();
    assert_eq!(first.len(), 5, "one batch of five: {first:?}");
    assert!(!env.lambda.is_idle().unwrap(), "two messages are in flight");

    // The failures come back when their visibility timeout ends, and fail again.
    env.clock.advance(Duration::from_secs(29));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(env.stats("orders").invocations, 1, "still invisible");
    env.clock.advance(Duration::from_secs(1));
    eventually("the second receive", || {
        env.stats("orders").invocations == 2 && env.stats("orders").running == 0
    })
    .await;
    // After maxReceiveCount receives the next receive moves them to the dead-letter queue.
    env.clock.advance(Duration::from_secs(30));
    eventually("the failures in the DLQ", || {
        env.counts("orders-dlq").0 == 2
    })
    .await;
    assert_eq!(env.counts("orders"), (0, 0));
    let mut bodies: Vec<String> = env
        .drain_queue("orders-dlq")
        .into_iter()
        .map(|m| m.body)
        .collect();
    bodies.sort();
    assert_eq!(bodies, [r#"{"n":2,"fail":true}"#, r#"{"n":4,"fail":true}"#]);
    assert_eq!(env.stats("orders").invocations, 2);
    eventually("drained", || env.lambda.is_idle().unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mapping_started_on_a_store_takes_over_what_a_gone_engine_left_in_flight() {
    let env = Env::new(vec![function("resumed")]);
    let queue = env.queue("left", &[("VisibilityTimeout", "900")]);
    for n in 1..=3 {
        env.send("left", &format!(r#"{{"n":{n}}}"#));
    }
    env.send("left", r#"{"n":4}"#);
    // Three messages held by a consumer that is gone (the killed engine's pollers).
    let held = env
        .sqs
        .receive_message(&sqs::ReceiveMessage {
            queue_url: "left".into(),
            max_number_of_messages: Some(3),
            wait_time_seconds: Some(0),
            visibility_timeout: Some(900),
            attribute_names: vec![],
            message_attribute_names: vec![],
        })
        .unwrap()
        .messages;
    assert_eq!(held.len(), 3);
    assert_eq!(env.counts("left"), (1, 3));

    // No virtual time passes: the messages come back because the mapping starts, not because
    // their visibility timeout ended.
    start(&env, mapping(&queue, "resumed"));
    eventually("all four handled", || {
        env.counts("left") == (0, 0) && env.stats("resumed").running == 0
    })
    .await;
    let handled: Vec<String> = env
        .log("resumed")
        .into_iter()
        .filter(|l| l.starts_with("record "))
        .collect();
    assert_eq!(handled.len(), 4, "{handled:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poll_that_ends_empty_counts_one_empty_receive() {
    let env = Env::new(vec![function("quiet")]);
    let queue = env.queue("quiet-q", &[]);
    start(&env, mapping(&queue, "quiet"));
    let empty = || {
        env.sqs
            .take_activity()
            .into_iter()
            .filter(|a| a.queue_name == "quiet-q")
            .map(|a| a.empty_receives)
            .sum::<u64>()
    };
    // Nothing is counted while the long poll waits; once its 20 s pass, one empty receive is.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(empty(), 0);
    env.clock.advance(Duration::from_secs(20));
    let mut seen = 0;
    eventually("an empty receive", || {
        seen += empty();
        seen >= 1
    })
    .await;
    assert_eq!(env.stats("quiet").invocations, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_batch_leaves_every_message() {
    let env = Env::new(vec![function("all-or-nothing")]);
    let queue = env.queue("batch", &[("VisibilityTimeout", "30")]);
    for body in [r#"{"n":1}"#, r#"{"n":2,"fail_batch":true}"#, r#"{"n":3}"#] {
        env.send("batch", body);
    }
    start(&env, mapping(&queue, "all-or-nothing"));
    eventually("the failed batch", || {
        env.stats("all-or-nothing").errors == 1 && env.stats("all-or-nothing").running == 0
    })
    .await;
    assert_eq!(env.counts("batch"), (0, 3));
    env.clock.advance(Duration::from_secs(30));
    eventually("the batch again", || {
        env.stats("all-or-nothing").invocations == 2
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_report_batch_item_failures_a_success_deletes_the_batch() {
    let env = Env::new(vec![function("plain")]);
    let queue = env.queue("plain-q", &[]);
    env.send("plain-q", r#"{"n":1,"fail":true}"#);
    env.send("plain-q", r#"{"n":2}"#);
    let mut m = mapping(&queue, "plain");
    m.report_batch_item_failures = false;
    start(&env, m);
    eventually("the batch deleted", || {
        env.stats("plain").invocations == 1 && env.counts("plain-q") == (0, 0)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_batching_window_gathers_up_to_batch_size() {
    let env = Env::new(vec![function("windowed")]);
    let queue = env.queue("window", &[]);
    let mut m = mapping(&queue, "windowed");
    m.batch_size = 3;
    m.maximum_batching_window_s = 10;
    start(&env, m);
    env.send("window", r#"{"n":1}"#);
    eventually("the first message received", || {
        env.counts("window") == (0, 1)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(env.stats("windowed").invocations, 0, "the window is open");
    env.send("window", r#"{"n":2}"#);
    env.send("window", r#"{"n":3}"#);
    eventually("one full batch", || env.stats("windowed").invocations == 1).await;
    let records = env
        .log("windowed")
        .iter()
        .filter(|l| l.starts_with("record "))
        .count();
    assert_eq!(records, 3);
    // A lone message waits for the window to close on the clock.
    env.send("window", r#"{"n":4}"#);
    eventually("the fourth received", || env.counts("window") == (0, 1)).await;
    env.clock.advance(Duration::from_secs(10));
    eventually("the window closed", || {
        env.stats("windowed").invocations == 2
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pollers_scale_up_to_the_function_concurrency() {
    let mut spec = function("busy");
    spec.reserved_concurrency = Some(3);
    let env = Env::new(vec![spec]);
    let queue = env.queue("busy-q", &[]);
    for n in 0..12 {
        env.send("busy-q", &format!(r#"{{"n":{n},"sleep_ms":150}}"#));
    }
    let mut m = mapping(&queue, "busy");
    m.batch_size = 1;
    start(&env, m);
    let mut most = 0;
    eventually("every message processed", || {
        most = most.max(env.stats("busy").running);
        env.counts("busy-q") == (0, 0) && env.stats("busy").running == 0
    })
    .await;
    assert_eq!(most, 3, "three pollers at most, each running one batch");
    let stats = env.stats("busy");
    assert_eq!((stats.invocations, stats.throttles), (12, 0));
}
