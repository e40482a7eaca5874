//! Asynchronous invocation on virtual time: retries after one then two minutes, the dead-letter
//! queue with its attributes, event age, and events surviving a restart.

use std::time::Duration;

use serde_json::json;

use crate::support::{eventually, function, Env};

fn arn(queue: &str) -> String {
    format!("arn:aws:sqs:us-east-1:000000000000:{queue}")
}

fn with_dlq(name: &str, dlq_arn: &str) -> lambda::FunctionSpec {
    let mut spec = function(name);
    spec.dead_letter_target_arn = Some(dlq_arn.to_owned());
    spec
}

/// Waits until `n` invocations have finished and the dispatcher recorded the last one.
async fn wait_invocations(env: &Env, function: &str, n: u64) {
    eventually(&format!("{n} invocations of {function}"), || {
        env.stats(function).invocations == n && env.stats(function).running == 0
    })
    .await;
    // The attempt's outcome is written right after the invocation returns.
    tokio::time::sleep(Duration::from_millis(100)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_events_are_retried_after_one_then_two_minutes_then_dead_lettered() {
    let env = Env::new(vec![with_dlq("failing", &arn("failures-dlq"))]);
    env.queue("failures-dlq", &[]);
    let event = json!({"fail": "vendor API down", "branch": 7}).to_string();
    let request_id = env
        .lambda
        .invoke_async("failing", event.as_bytes())
        .unwrap();

    wait_invocations(&env, "failing", 1).await;
    env.clock.advance(Duration::from_secs(59));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        env.stats("failing").invocations,
        1,
        "no retry before a minute"
    );
    env.clock.advance(Duration::from_secs(1));
    wait_invocations(&env, "failing", 2).await;
    env.clock.advance(Duration::from_secs(119));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        env.stats("failing").invocations,
        2,
        "the second retry waits two minutes"
    );
    assert!(env.drain_queue("failures-dlq").is_empty());
    assert!(!env.lambda.is_idle().unwrap(), "a retry is pending");
    env.clock.advance(Duration::from_secs(1));
    wait_invocations(&env, "failing", 3).await;

    eventually("the event in the DLQ", || env.counts("failures-dlq").0 == 1).await;
    let dead = env.drain_queue("failures-dlq");
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].body, event, "the event goes unchanged");
    let attrs = &dead[0].message_attributes;
    assert_eq!(
        attrs["RequestID"].string_value.as_deref(),
        Some(request_id.as_str())
    );
    assert_eq!(attrs["ErrorCode"].data_type, "Number");
    assert_eq!(attrs["ErrorCode"].string_value.as_deref(), Some("200"));
    assert_eq!(
        attrs["ErrorMessage"].string_value.as_deref(),
        Some("vendor API down")
    );
    assert!(env.lambda.is_idle().unwrap());
    // Every attempt kept the request id.
    let log = env.log("failing");
    let starts = log
        .iter()
        .filter(|l| l.starts_with(&format!("START RequestId: {request_id}")))
        .count();
    assert_eq!(starts, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maximum_retry_attempts_zero_dead_letters_at_once() {
    let mut spec = with_dlq("once", &arn("dlq0"));
    spec.async_config.maximum_retry_attempts = 0;
    let env = Env::new(vec![spec]);
    env.queue("dlq0", &[]);
    env.lambda
        .invoke_async("once", br#"{"fail": "x"}"#)
        .unwrap();
    eventually("dead-lettered after one attempt", || {
        env.counts("dlq0").0 == 1
    })
    .await;
    assert_eq!(env.stats("once").invocations, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_older_than_its_maximum_age_is_not_retried() {
    let mut spec = with_dlq("aging", &arn("dlq-age"));
    spec.async_config.maximum_event_age_s = 90;
    let env = Env::new(vec![spec]);
    env.queue("dlq-age", &[]);
    env.lambda
        .invoke_async("aging", br#"{"fail": "old"}"#)
        .unwrap();
    wait_invocations(&env, "aging", 1).await;
    env.clock.advance(Duration::from_secs(60));
    wait_invocations(&env, "aging", 2).await;
    // The second retry would be due at 180 s, past the 90 s age limit.
    env.clock.advance(Duration::from_secs(120));
    eventually("dead-lettered for age", || env.counts("dlq-age").0 == 1).await;
    assert_eq!(env.stats("aging").invocations, 2);
    let dead = env.drain_queue("dlq-age");
    assert_eq!(
        dead[0].message_attributes["ErrorMessage"]
            .string_value
            .as_deref(),
        Some("old")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_events_survive_a_restart() {
    let env = Env::new(vec![function("later")]);
    // Stop the service before it runs the event, as a kill would.
    env.lambda.stop().await;
    let id = env
        .lambda
        .invoke_async("later", br#"{"print": "ran after restart"}"#)
        .unwrap();
    assert!(!env.lambda.is_idle().unwrap());
    let Env {
        dir, store, lambda, ..
    } = env;
    drop(lambda);
    let env = Env::on(dir, store, vec![function("later")]);
    eventually("the event ran", || env.stats("later").invocations == 1).await;
    eventually("the queue is empty", || env.lambda.is_idle().unwrap()).await;
    let log = env.log("later");
    assert!(log.contains(&format!("START RequestId: {id} Version: $LATEST")));
    assert!(log.contains(&"ran after restart".to_string()));
}
