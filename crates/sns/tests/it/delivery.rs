//! Publish and delivery: SQS and HTTP subscriptions, raw delivery, retries on the clock, the
//! terminal sink, and Publish's errors.

use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use sns::{PublishRequest, SubscriptionSpec, TerminalSink, TopicSpec};

use crate::support::{endpoint, env};

fn publish(topic: &str, message: &str) -> PublishRequest {
    PublishRequest {
        topic_arn: topic.into(),
        message: message.into(),
        subject: Some("hello".into()),
        message_attributes: vec![sns::MessageAttribute {
            name: "kind".into(),
            data_type: "String".into(),
            value: "test".into(),
        }],
    }
}

#[tokio::test]
async fn http_subscription_gets_the_notification_with_aws_headers() {
    let env = env();
    let hook = endpoint(&[200]).await;
    let topic = env.sns.create_topic("events").unwrap();
    let sub = env.sns.subscribe(&topic, "http", &hook.url, false).unwrap();
    let id = env.sns.publish(&publish(&topic, "body text")).unwrap();
    let outcome = env.sns.deliver_due().await.unwrap();
    assert_eq!(outcome.delivered, 1);
    let received = hook.received.lock().unwrap().clone();
    assert_eq!(received.len(), 1);
    let r = &received[0];
    assert!(r.head.starts_with("POST /hook HTTP/1.1"), "{}", r.head);
    assert_eq!(
        r.header("x-amz-sns-message-type").as_deref(),
        Some("Notification")
    );
    assert_eq!(
        r.header("x-amz-sns-message-id").as_deref(),
        Some(id.as_str())
    );
    assert_eq!(
        r.header("x-amz-sns-topic-arn").as_deref(),
        Some(topic.as_str())
    );
    assert_eq!(
        r.header("x-amz-sns-subscription-arn").as_deref(),
        Some(sub.as_str())
    );
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("text/plain; charset=UTF-8")
    );
    let body: Value = serde_json::from_str(&r.body).unwrap();
    let keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "Type",
            "MessageId",
            "TopicArn",
            "Subject",
            "Message",
            "Timestamp",
            "SignatureVersion",
            "Signature",
            "SigningCertURL",
            "UnsubscribeURL",
            "MessageAttributes"
        ]
    );
    assert_eq!(body["Message"], "body text");
    assert_eq!(body["Timestamp"], "2023-11-14T22:13:00.000Z");
    assert_eq!(
        body["MessageAttributes"],
        json!({"kind": {"Type": "String", "Value": "test"}})
    );
    // Delivered once: a second pass sends nothing.
    assert_eq!(env.sns.deliver_due().await.unwrap().delivered, 0);
    assert_eq!(hook.received.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn failed_http_delivery_is_retried_on_the_clock_then_given_up() {
    let env = env();
    let hook = endpoint(&[500, 503, 200]).await;
    let down = endpoint(&[500]).await;
    let topic = env.sns.create_topic("events").unwrap();
    env.sns.subscribe(&topic, "http", &hook.url, true).unwrap();
    env.sns.subscribe(&topic, "http", &down.url, true).unwrap();
    let id = env.sns.publish(&publish(&topic, "raw body")).unwrap();
    let mut log = Vec::new();
    for step in 0..6 {
        let o = env.sns.deliver_due().await.unwrap();
        log.push(format!(
            "{step}: delivered {} retrying {} failed {}",
            o.delivered, o.retrying, o.failed
        ));
        // Nothing more happens until the retry delay has passed on the clock.
        assert_eq!(env.sns.deliver_due().await.unwrap(), Default::default());
        env.clock.advance_millis(20_000);
    }
    expect_test::expect![[r#"
        [
            "0: delivered 0 retrying 2 failed 0",
            "1: delivered 0 retrying 2 failed 0",
            "2: delivered 1 retrying 1 failed 0",
            "3: delivered 0 retrying 0 failed 1",
            "4: delivered 0 retrying 0 failed 0",
            "5: delivered 0 retrying 0 failed 0",
        ]
    "#]]
    .assert_debug_eq(&log);
    assert_eq!(hook.received.lock().unwrap().len(), 3);
    assert_eq!(
        down.received.lock().unwrap().len(),
        4,
        "one attempt and AWS's 3 retries"
    );
    assert_eq!(
        hook.received.lock().unwrap()[2].body,
        "raw body",
        "raw message delivery"
    );
    let mut states: Vec<(String, i64)> = env
        .sns
        .deliveries(Some(&id))
        .unwrap()
        .into_iter()
        .map(|d| (d.state, d.attempts))
        .collect();
    states.sort();
    assert_eq!(
        states,
        [("delivered".to_owned(), 3), ("failed".to_owned(), 4)]
    );
}

#[tokio::test]
async fn sqs_subscriptions_receive_through_the_sqs_engine() {
    let env = env();
    let queue_url = env
        .sqs
        .create_queue(
            "http://localhost",
            sqs::CreateQueue {
                queue_name: "inbox".into(),
                ..Default::default()
            },
        )
        .unwrap();
    let raw_url = env
        .sqs
        .create_queue(
            "http://localhost",
            sqs::CreateQueue {
                queue_name: "raw".into(),
                ..Default::default()
            },
        )
        .unwrap();
    let topic = env.sns.topic_arn("orders");
    env.sns
        .sync_deployed(
            &[TopicSpec::from_cfn(
                &topic,
                &json!({"TopicName": "orders", "Subscription": [{"Protocol": "sqs", "Endpoint": "arn:aws:sqs:us-east-1:000000000000:inbox"}]}),
            )
            .unwrap()],
            &[SubscriptionSpec::from_cfn(&json!({
                "TopicArn": topic, "Protocol": "sqs", "Endpoint": "arn:aws:sqs:us-east-1:000000000000:raw", "RawMessageDelivery": "true"
            }))
            .unwrap()],
        )
        .unwrap();
    assert_eq!(env.sns.list_subscriptions(Some(&topic)).unwrap().len(), 2);
    env.sns.publish(&publish(&topic, "{\"order\":1}")).unwrap();
    let receive = |url: &str| {
        env.sqs
            .receive_message(&sqs::ReceiveMessage {
                queue_url: url.into(),
                max_number_of_messages: Some(10),
                ..Default::default()
            })
            .unwrap()
            .messages
    };
    let wrapped = receive(&queue_url);
    assert_eq!(wrapped.len(), 1);
    let body: Value = serde_json::from_str(&wrapped[0].body).unwrap();
    assert_eq!(body["Type"], "Notification");
    assert_eq!(body["Message"], "{\"order\":1}");
    assert_eq!(body["TopicArn"], topic.as_str());
    let raw = receive(&raw_url);
    assert_eq!(raw[0].body, "{\"order\":1}");
    // Syncing again with no subscriptions removes the template's, and keeps the topic list exact.
    env.sns
        .sync_deployed(
            &[TopicSpec::from_cfn(&topic, &json!({"TopicName": "orders"})).unwrap()],
            &[],
        )
        .unwrap();
    assert!(env.sns.list_subscriptions(Some(&topic)).unwrap().is_empty());
}

struct Recorder(Mutex<Vec<String>>);

impl TerminalSink for Recorder {
    fn published(&self, topic_arn: &str, subject: Option<&str>, message: &str) {
        self.0
            .lock()
            .unwrap()
            .push(format!("{topic_arn} {subject:?} {message}"));
    }
}

#[test]
fn terminal_sink_and_publish_errors() {
    let env = env();
    let sink = Arc::new(Recorder(Mutex::new(Vec::new())));
    env.sns.add_sink(sink.clone());
    let topic = env.sns.create_topic("t").unwrap();
    assert_eq!(
        env.sns.create_topic("t").unwrap(),
        topic,
        "CreateTopic is idempotent"
    );
    env.sns.publish(&publish(&topic, "m")).unwrap();
    assert_eq!(
        sink.0.lock().unwrap().as_slice(),
        [format!("{topic} Some(\"hello\") m")]
    );
    let mut out = Vec::new();
    for request in [
        publish("arn:aws:sns:us-east-1:000000000000:nope", "m"),
        publish(&topic, ""),
        PublishRequest {
            subject: Some("two\nlines".into()),
            ..publish(&topic, "m")
        },
    ] {
        let e = env.sns.publish(&request).unwrap_err();
        out.push(format!("{} {}", e.code(), e));
    }
    out.push(
        env.sns
            .create_topic("bad name")
            .unwrap_err()
            .code()
            .to_owned(),
    );
    out.push(
        env.sns
            .subscribe(&topic, "carrier-pigeon", "x", false)
            .unwrap_err()
            .to_string(),
    );
    expect_test::expect![[r#"
        [
            "NotFound Topic does not exist",
            "InvalidParameter Invalid parameter: Empty message",
            "InvalidParameter Invalid parameter: Subject must be 1 to 100 ASCII characters without line breaks or control characters",
            "InvalidParameter",
            "Invalid parameter: Invalid protocol type: carrier-pigeon",
        ]
    "#]]
    .assert_debug_eq(&out);
    assert_eq!(
        sink.0.lock().unwrap().len(),
        1,
        "refused messages reach no sink"
    );
}
