//! An alarm firing on virtual time and its notification reaching an HTTP subscription on
//! loopback, as CloudWatch and SNS deliver it on AWS.

use cloudwatch::{AlarmSpec, Dimension, MetricDatum};
use serde_json::{json, Value};
use sns::TopicSpec;

use crate::support::{endpoint, env, T0};

#[tokio::test]
async fn alarm_to_alarm_and_back_notifies_the_http_subscription() {
    let env = env();
    let hook = endpoint(&[200]).await;
    let topic = env.sns.topic_arn("cascade-alarms-dev");
    env.sns
        .sync_deployed(
            &[TopicSpec::from_cfn(&topic, &json!({"TopicName": "cascade-alarms-dev", "Subscription": [{"Protocol": "http", "Endpoint": hook.url}]})).unwrap()],
            &[],
        )
        .unwrap();
    let spec = AlarmSpec::from_resource(
        "RejectedRecordsAlarm",
        &json!({
            "AlarmDescription": "The collectors skipped malformed vendor records.",
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "EvaluationPeriods": 1,
            "MetricName": "RejectedRecords",
            "Namespace": "Cascade/Sales",
            "Dimensions": [{"Name": "Environment", "Value": "dev"}],
            "Period": 60,
            "Statistic": "Sum",
            "Threshold": 1,
            "TreatMissingData": "notBreaching",
            "AlarmActions": [topic],
            "OKActions": [topic],
        }),
    )
    .unwrap();
    env.cw.put_alarms(&[spec]).unwrap();
    env.clock.set(T0 + 5_000);
    env.cw
        .put_metric_data(
            "Cascade/Sales",
            &[MetricDatum {
                metric_name: "RejectedRecords".into(),
                dimensions: vec![Dimension::new("Environment", "dev")],
                value: Some(2.0),
                ..Default::default()
            }],
        )
        .unwrap();
    env.clock.set(T0 + 60_000);
    let changes = env.cw.evaluate().unwrap();
    assert_eq!(changes.len(), 1);
    env.sns.deliver_due().await.unwrap();
    env.clock.set(T0 + 120_000);
    env.cw.evaluate().unwrap();
    env.sns.deliver_due().await.unwrap();

    let received = hook.received.lock().unwrap().clone();
    assert_eq!(received.len(), 2);
    let first: Value = serde_json::from_str(&received[0].body).unwrap();
    assert_eq!(
        first["Subject"],
        "ALARM: \"RejectedRecordsAlarm\" in US East (N. Virginia)"
    );
    assert_eq!(first["TopicArn"], topic.as_str());
    let mut alarm: Value = serde_json::from_str(first["Message"].as_str().unwrap()).unwrap();
    assert_eq!(alarm["OldStateValue"], "INSUFFICIENT_DATA");
    alarm["AlarmConfigurationUpdatedTimestamp"] = "(time)".into();
    expect_test::expect![[r#"
        {
          "AlarmName": "RejectedRecordsAlarm",
          "AlarmDescription": "The collectors skipped malformed vendor records.",
          "AWSAccountId": "000000000000",
          "AlarmConfigurationUpdatedTimestamp": "(time)",
          "NewStateValue": "ALARM",
          "NewStateReason": "Threshold Crossed: 1 out of the last 1 datapoints [2.0 (14/11/23 22:13:00)] was greater than or equal to the threshold (1.0) (minimum 1 datapoint for INSUFFICIENT_DATA -> ALARM transition).",
          "StateChangeTime": "2023-11-14T22:14:00.000+0000",
          "Region": "US East (N. Virginia)",
          "AlarmArn": "arn:aws:cloudwatch:us-east-1:000000000000:alarm:RejectedRecordsAlarm",
          "OldStateValue": "INSUFFICIENT_DATA",
          "OKActions": [
            "arn:aws:sns:us-east-1:000000000000:cascade-alarms-dev"
          ],
          "AlarmActions": [
            "arn:aws:sns:us-east-1:000000000000:cascade-alarms-dev"
          ],
          "InsufficientDataActions": [],
          "Trigger": {
            "MetricName": "RejectedRecords",
            "Namespace": "Cascade/Sales",
            "StatisticType": "Statistic",
            "Statistic": "SUM",
            "Unit": null,
            "Dimensions": [
              {
                "value": "dev",
                "name": "Environment"
              }
            ],
            "Period": 60,
            "EvaluationPeriods": 1,
            "DatapointsToAlarm": 1,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "Threshold": 1.0,
            "TreatMissingData": "notBreaching",
            "EvaluateLowSampleCountPercentile": ""
          }
        }"#]]
    .assert_eq(&serde_json::to_string_pretty(&alarm).unwrap());
    let second: Value = serde_json::from_str(&received[1].body).unwrap();
    let back: Value = serde_json::from_str(second["Message"].as_str().unwrap()).unwrap();
    assert_eq!(back["NewStateValue"], "OK");
    assert_eq!(back["OldStateValue"], "ALARM");
    assert_eq!(
        second["Subject"],
        "OK: \"RejectedRecordsAlarm\" in US East (N. Virginia)"
    );
}
