//! Schedules on virtual time: rate expressions, the EventBridge scheduled event, firing at once.

use std::time::Duration;

use lambda::{ScheduleSpec, Triggers};

use crate::support::{eventually, printed_events, printing, Env};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedules_fire_on_the_clock_with_the_scheduled_event() {
    let env = Env::new(vec![printing("collector")]);
    let rule_arn = "arn:aws:events:us-east-1:000000000000:rule/nightly";
    env.lambda
        .start_triggers(Triggers {
            schedules: vec![ScheduleSpec {
                rule: "nightly".into(),
                rule_arn: rule_arn.into(),
                expression: "rate(5 minutes)".into(),
                function: "collector".into(),
                input: None,
                enabled: true,
            }],
            ..Triggers::default()
        })
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(env.stats("collector").invocations, 0);
    env.clock.advance(Duration::from_secs(300));
    eventually("the first firing", || {
        env.stats("collector").invocations == 1
    })
    .await;
    let event = &printed_events(&env, "collector")[0];
    assert_eq!(event["detail-type"], "Scheduled Event");
    assert_eq!(event["source"], "aws.events");
    assert_eq!(event["resources"], serde_json::json!([rule_arn]));
    assert_eq!(event["time"], "2026-01-01T00:05:00Z");
    assert_eq!(event["account"], "000000000000");
    assert_eq!(event["detail"], serde_json::json!({}));
    env.clock.advance(Duration::from_secs(300));
    eventually("the second firing", || {
        env.stats("collector").invocations == 2
    })
    .await;
    // `up --once` fires a rule at once.
    let ids = env.lambda.fire_now("nightly").await.unwrap();
    assert_eq!(ids.len(), 1);
    eventually("fired now", || env.stats("collector").invocations == 3).await;
    assert_eq!(env.lambda.schedule_rules(), ["nightly"]);
}
