//! SNS through the endpoint with the Rust SDK (query protocol): topics, subscriptions, Publish,
//! delivery to an HTTP endpoint on loopback and to an SQS queue, and an alarm's notification.

use std::time::Duration;

use aws_sdk_cloudwatch::types::{Dimension, MetricDatum};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::support::{start, start_virtual, Server};

fn client(server: &Server) -> aws_sdk_sns::Client {
    client_as!(aws_sdk_sns, server, "AKIDLOCAL", "secret")
}

/// An HTTP endpoint on loopback that answers 200 and sends each request's `(head, body)` on.
async fn hook() -> (String, mpsc::UnboundedReceiver<(String, String)>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/notify", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut data = Vec::new();
            let mut buf = [0u8; 8192];
            let received = loop {
                let n = stream.read(&mut buf).await.unwrap_or(0);
                if n == 0 {
                    break None;
                }
                data.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&data).to_string();
                if let Some(end) = text.find("\r\n\r\n") {
                    let head = text[..end].to_ascii_lowercase();
                    let length: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0);
                    if data.len() >= end + 4 + length {
                        break Some((head, text[end + 4..].to_owned()));
                    }
                }
            };
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                .await;
            if let Some(r) = received {
                let _ = tx.send(r);
            }
        }
    });
    (url, rx)
}

async fn next(rx: &mut mpsc::UnboundedReceiver<(String, String)>) -> (String, Value) {
    let (head, body) = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("a delivery within 10 s")
        .unwrap();
    (head, serde_json::from_str(&body).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_topics_subscriptions_publish_and_delivery() {
    let server = start().await;
    let sns = client(&server);
    let (url, mut rx) = hook().await;
    let topic = sns
        .create_topic()
        .name("orders")
        .send()
        .await
        .unwrap()
        .topic_arn()
        .unwrap()
        .to_owned();
    assert_eq!(topic, "arn:aws:sns:us-east-1:000000000000:orders");
    let queue_url = server
        .sqs()
        .create_queue()
        .queue_name("order-copies")
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_owned();
    let sub = sns
        .subscribe()
        .topic_arn(&topic)
        .protocol("http")
        .endpoint(&url)
        .send()
        .await
        .unwrap();
    assert!(sub.subscription_arn().unwrap().starts_with(&topic));
    sns.subscribe()
        .topic_arn(&topic)
        .protocol("sqs")
        .endpoint("arn:aws:sqs:us-east-1:000000000000:order-copies")
        .attributes("RawMessageDelivery", "true")
        .send()
        .await
        .unwrap();
    let topics = sns.list_topics().send().await.unwrap();
    assert_eq!(
        topics
            .topics()
            .iter()
            .filter_map(|t| t.topic_arn())
            .collect::<Vec<_>>(),
        [topic.as_str()]
    );
    let subs = sns.list_subscriptions().send().await.unwrap();
    let mut protocols: Vec<&str> = subs
        .subscriptions()
        .iter()
        .filter_map(|s| s.protocol())
        .collect();
    protocols.sort();
    assert_eq!(protocols, ["http", "sqs"]);

    let published = sns
        .publish()
        .topic_arn(&topic)
        .subject("new order")
        .message("{\"order\":7}")
        .message_attributes(
            "kind",
            aws_sdk_sns::types::MessageAttributeValue::builder()
                .data_type("String")
                .string_value("order")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let (head, body) = next(&mut rx).await;
    assert!(head.starts_with("post /notify http/1.1"), "{head}");
    assert!(
        head.contains("x-amz-sns-message-type: notification"),
        "{head}"
    );
    assert!(
        head.contains(&format!("x-amz-sns-topic-arn: {topic}")),
        "{head}"
    );
    assert_eq!(body["MessageId"], published.message_id().unwrap());
    assert_eq!(body["Subject"], "new order");
    assert_eq!(body["Message"], "{\"order\":7}");
    assert_eq!(
        body["MessageAttributes"],
        json!({"kind": {"Type": "String", "Value": "order"}})
    );
    let received = server
        .sqs()
        .receive_message()
        .queue_url(&queue_url)
        .send()
        .await
        .unwrap();
    assert_eq!(
        received.messages()[0].body(),
        Some("{\"order\":7}"),
        "raw delivery to SQS"
    );

    let e = sns
        .publish()
        .topic_arn("arn:aws:sns:us-east-1:000000000000:nope")
        .message("m")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_not_found_exception(), "{e:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alarm_notification_reaches_the_http_subscription_through_the_endpoint() {
    let (server, clock) = start_virtual().await;
    let t0 = 1_700_000_000_000 - 1_700_000_000_000 % 60_000;
    clock.set(t0 + 1_000);
    let sns = client(&server);
    let (url, mut rx) = hook().await;
    let topic = sns
        .create_topic()
        .name("cascade-alarms-dev")
        .send()
        .await
        .unwrap()
        .topic_arn()
        .unwrap()
        .to_owned();
    sns.subscribe()
        .topic_arn(&topic)
        .protocol("http")
        .endpoint(&url)
        .send()
        .await
        .unwrap();
    let spec = cloudwatch::AlarmSpec::from_resource(
        "RejectedRecordsAlarm",
        &json!({
            "Namespace": "Cascade/Sales", "MetricName": "RejectedRecords",
            "Dimensions": [{"Name": "Environment", "Value": "dev"}], "Statistic": "Sum", "Period": 60,
            "EvaluationPeriods": 1, "Threshold": 1, "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "TreatMissingData": "notBreaching", "AlarmActions": [topic],
        }),
    )
    .unwrap();
    server.services.cloudwatch.put_alarms(&[spec]).unwrap();
    crate::cloudwatch::client(&server)
        .put_metric_data()
        .namespace("Cascade/Sales")
        .metric_data(
            MetricDatum::builder()
                .metric_name("RejectedRecords")
                .dimensions(
                    Dimension::builder()
                        .name("Environment")
                        .value("dev")
                        .build(),
                )
                .value(4.0)
                .build(),
        )
        .send()
        .await
        .unwrap();
    clock.set(t0 + 60_000);
    let services = server.services.clone();
    let changes = tokio::task::spawn_blocking(move || services.cloudwatch.evaluate().unwrap())
        .await
        .unwrap();
    assert_eq!(changes.len(), 1);
    let (_, body) = next(&mut rx).await;
    assert_eq!(
        body["Subject"],
        "ALARM: \"RejectedRecordsAlarm\" in US East (N. Virginia)"
    );
    let alarm: Value = serde_json::from_str(body["Message"].as_str().unwrap()).unwrap();
    assert_eq!(alarm["NewStateValue"], "ALARM");
    assert_eq!(alarm["Trigger"]["MetricName"], "RejectedRecords");
}
