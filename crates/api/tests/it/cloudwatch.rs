//! CloudWatch through the endpoint: the Rust SDK (Smithy RPC v2 CBOR), AWS JSON 1.0 as the AWS
//! CLI sends it (and the CLI itself when `target/venv-api` holds it), and the query protocol.

use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{
    Dimension, Metric, MetricDataQuery, MetricDatum, MetricStat, StateValue, Statistic,
    StatisticSet,
};
use serde_json::json;

use crate::support::{start, start_virtual, Server};

pub fn client(server: &Server) -> aws_sdk_cloudwatch::Client {
    client_as!(aws_sdk_cloudwatch, server, "AKIDLOCAL", "secret")
}

fn dim() -> Dimension {
    Dimension::builder()
        .name("Environment")
        .value("dev")
        .build()
}

fn at(ms: i64) -> DateTime {
    DateTime::from_millis(ms)
}

/// The virtual clock's start rounded down to a minute.
const T0: i64 = 1_700_000_000_000 - 1_700_000_000_000 % 60_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_put_metric_data_and_statistics() {
    let (server, clock) = start_virtual().await;
    clock.set(T0 + 150_000);
    let cw = client(&server);
    cw.put_metric_data()
        .namespace("Cascade/Sales")
        .metric_data(
            MetricDatum::builder()
                .metric_name("Latency")
                .dimensions(dim())
                .timestamp(at(T0 + 1_000))
                .value(4.0)
                .unit("Milliseconds".into())
                .build(),
        )
        .metric_data(
            MetricDatum::builder()
                .metric_name("Latency")
                .dimensions(dim())
                .timestamp(at(T0 + 2_000))
                .values(10.0)
                .values(20.0)
                .counts(1.0)
                .counts(3.0)
                .unit("Milliseconds".into())
                .build(),
        )
        .metric_data(
            MetricDatum::builder()
                .metric_name("Latency")
                .dimensions(dim())
                .timestamp(at(T0 + 61_000))
                .statistic_values(
                    StatisticSet::builder()
                        .sample_count(2.0)
                        .sum(30.0)
                        .minimum(10.0)
                        .maximum(20.0)
                        .build(),
                )
                .unit("Milliseconds".into())
                .build(),
        )
        .send()
        .await
        .unwrap();
    let stats = cw
        .get_metric_statistics()
        .namespace("Cascade/Sales")
        .metric_name("Latency")
        .dimensions(dim())
        .start_time(at(T0))
        .end_time(at(T0 + 120_000))
        .period(60)
        .statistics(Statistic::Sum)
        .statistics(Statistic::SampleCount)
        .statistics(Statistic::Maximum)
        .statistics(Statistic::Average)
        .extended_statistics("p50")
        .send()
        .await
        .unwrap();
    assert_eq!(stats.label(), Some("Latency"));
    let mut points = stats.datapoints().to_vec();
    points.sort_by_key(|p| p.timestamp().map(|t| t.to_millis().unwrap()));
    let summary: Vec<String> = points
        .iter()
        .map(|p| {
            format!(
                "{} n={:?} sum={:?} max={:?} avg={:?} p50={:?} unit={:?}",
                p.timestamp().unwrap().to_millis().unwrap() - T0,
                p.sample_count(),
                p.sum(),
                p.maximum(),
                p.average(),
                p.extended_statistics().and_then(|e| e.get("p50")),
                p.unit().map(|u| u.as_str().to_owned()),
            )
        })
        .collect();
    expect_test::expect![[r#"
        [
            "0 n=Some(5.0) sum=Some(74.0) max=Some(20.0) avg=Some(14.8) p50=Some(20.0) unit=Some(\"Milliseconds\")",
            "60000 n=Some(2.0) sum=Some(30.0) max=Some(20.0) avg=Some(15.0) p50=None unit=Some(\"Milliseconds\")",
        ]
    "#]]
    .assert_debug_eq(&summary);

    let data = cw
        .get_metric_data()
        .start_time(at(T0))
        .end_time(at(T0 + 120_000))
        .metric_data_queries(
            MetricDataQuery::builder()
                .id("sum")
                .metric_stat(
                    MetricStat::builder()
                        .metric(
                            Metric::builder()
                                .namespace("Cascade/Sales")
                                .metric_name("Latency")
                                .dimensions(dim())
                                .build(),
                        )
                        .period(60)
                        .stat("Sum")
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let result = &data.metric_data_results()[0];
    assert_eq!(result.id(), Some("sum"));
    assert_eq!(result.values(), [30.0, 74.0]);
    assert_eq!(result.timestamps()[0].to_millis().unwrap(), T0 + 60_000);

    let listed = cw
        .list_metrics()
        .namespace("Cascade/Sales")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.metrics().len(), 1);
    assert_eq!(listed.metrics()[0].dimensions()[0].value(), Some("dev"));

    let e = cw
        .put_metric_data()
        .namespace("AWS/Lambda")
        .metric_data(
            MetricDatum::builder()
                .metric_name("Invocations")
                .value(1.0)
                .build(),
        )
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(
        aws_sdk_cloudwatch::error::ProvideErrorMetadata::code(&e),
        Some("InvalidParameterValue")
    );
    assert!(e.is_invalid_parameter_value_exception(), "{e:?}");
    let e = cw
        .get_metric_data()
        .start_time(at(T0))
        .end_time(at(T0 + 60_000))
        .metric_data_queries(
            MetricDataQuery::builder()
                .id("e")
                .expression("SUM(METRICS())")
                .build(),
        )
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(
        format!("{e:?}").contains("math expressions are not supported"),
        "{e:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_describe_alarms_history_and_set_alarm_state() {
    let (server, clock) = start_virtual().await;
    clock.set(T0 + 1_000);
    let spec = cloudwatch::AlarmSpec::from_cfn(&json!({
        "AlarmName": "rejected", "Namespace": "Cascade/Sales", "MetricName": "RejectedRecords",
        "Dimensions": [{"Name": "Environment", "Value": "dev"}], "Statistic": "Sum", "Period": 60,
        "EvaluationPeriods": 1, "Threshold": 1, "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "TreatMissingData": "notBreaching",
    }))
    .unwrap();
    server.services.cloudwatch.put_alarms(&[spec]).unwrap();
    let cw = client(&server);
    cw.put_metric_data()
        .namespace("Cascade/Sales")
        .metric_data(
            MetricDatum::builder()
                .metric_name("RejectedRecords")
                .dimensions(dim())
                .value(3.0)
                .build(),
        )
        .send()
        .await
        .unwrap();
    clock.set(T0 + 60_000);
    server.services.cloudwatch.evaluate().unwrap();
    let alarms = cw.describe_alarms().send().await.unwrap();
    let alarm = &alarms.metric_alarms()[0];
    assert_eq!(alarm.alarm_name(), Some("rejected"));
    assert_eq!(alarm.state_value(), Some(&StateValue::Alarm));
    assert_eq!(alarm.threshold(), Some(1.0));
    assert_eq!(alarm.period(), Some(60));
    assert_eq!(
        alarm
            .state_updated_timestamp()
            .unwrap()
            .to_millis()
            .unwrap(),
        T0 + 60_000
    );
    assert!(alarm
        .state_reason()
        .unwrap()
        .starts_with("Threshold Crossed: 1 out of the last 1 datapoints [3.0"));
    let ok = cw
        .describe_alarms()
        .state_value(StateValue::Ok)
        .send()
        .await
        .unwrap();
    assert!(ok.metric_alarms().is_empty());

    cw.set_alarm_state()
        .alarm_name("rejected")
        .state_value(StateValue::Ok)
        .state_reason("checked by hand")
        .send()
        .await
        .unwrap();
    let history = cw
        .describe_alarm_history()
        .alarm_name("rejected")
        .send()
        .await
        .unwrap();
    let summaries: Vec<&str> = history
        .alarm_history_items()
        .iter()
        .filter_map(|h| h.history_summary())
        .collect();
    assert_eq!(
        summaries,
        [
            "Alarm updated from ALARM to OK",
            "Alarm updated from INSUFFICIENT_DATA to ALARM",
            "Alarm \"rejected\" created"
        ]
    );
    let e = cw
        .set_alarm_state()
        .alarm_name("missing")
        .state_value(StateValue::Ok)
        .state_reason("x")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_resource_not_found(), "{e:?}");
}

/// `GraniteServiceVersion20100801.*` targets, as the AWS CLI and boto3 send them; then the CLI
/// itself, when the project's Python environment has it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_protocol_and_the_aws_cli() {
    let server = start().await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let start_s = (now / 60.0).floor() * 60.0 - 600.0;
    let put = server
        .json(
            "GraniteServiceVersion20100801.PutMetricData",
            &json!({"Namespace": "Cli", "MetricData": [{"MetricName": "Hits", "Value": 2, "Timestamp": start_s + 1.0}, {"MetricName": "Hits", "Value": 5.5, "Timestamp": start_s + 2.0}]}).to_string(),
        )
        .await;
    assert_eq!(put.status, 200, "{}", put.body);
    let got = server
        .json(
            "GraniteServiceVersion20100801.GetMetricStatistics",
            &json!({"Namespace": "Cli", "MetricName": "Hits", "StartTime": start_s, "EndTime": start_s + 60.0, "Period": 60, "Statistics": ["Sum", "Maximum"]}).to_string(),
        )
        .await;
    assert_eq!(
        got.json(),
        json!({"Label": "Hits", "Datapoints": [{"Timestamp": start_s, "Sum": 7.5, "Maximum": 5.5, "Unit": "None"}]})
    );
    let bad = server
        .json(
            "GraniteServiceVersion20100801.PutMetricData",
            &json!({"MetricData": []}).to_string(),
        )
        .await;
    assert_eq!(
        bad.error_type(),
        "400 com.amazonaws.cloudwatch#MissingRequiredParameterException"
    );
    assert_eq!(
        bad.header("x-amzn-query-error"),
        Some("MissingParameter;Sender")
    );

    let cli =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/venv-api/bin/aws");
    if !cli.exists() {
        eprintln!(
            "the AWS CLI is not installed in target/venv-api: only the raw JSON requests ran"
        );
        return;
    }
    let url = server.url();
    let run = move |args: Vec<String>| {
        let output = std::process::Command::new(&cli)
            .args([
                "--endpoint-url",
                &url,
                "--region",
                "us-east-1",
                "--output",
                "json",
                "cloudwatch",
            ])
            .args(&args)
            .env("AWS_ACCESS_KEY_ID", "AKIDCLI")
            .env("AWS_SECRET_ACCESS_KEY", "secret")
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "aws {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&output.stdout)
            .unwrap_or(serde_json::Value::Null)
    };
    let iso = |s: f64| cloudwatch::time::iso((s * 1000.0) as i64);
    let (t1, t0, t2) = (iso(start_s + 3.0), iso(start_s), iso(start_s + 60.0));
    let out = tokio::task::spawn_blocking(move || {
        run(vec![
            "put-metric-data".into(),
            "--namespace".into(),
            "Cli".into(),
            "--metric-name".into(),
            "Hits".into(),
            "--value".into(),
            "10".into(),
            "--timestamp".into(),
            t1,
        ]);
        run(vec![
            "get-metric-statistics".into(),
            "--namespace".into(),
            "Cli".into(),
            "--metric-name".into(),
            "Hits".into(),
            "--start-time".into(),
            t0,
            "--end-time".into(),
            t2,
            "--period".into(),
            "60".into(),
            "--statistics".into(),
            "Sum".into(),
            "SampleCount".into(),
        ])
    })
    .await
    .unwrap();
    let point = &out["Datapoints"][0];
    assert_eq!(point["Sum"], json!(17.5), "{out}");
    assert_eq!(point["SampleCount"], json!(3.0), "{out}");
}

/// The query protocol, routed by the `monitoring` credential scope.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_protocol() {
    let (server, clock) = start_virtual().await;
    clock.set(T0 + 30_000);
    let auth = "AWS4-HMAC-SHA256 Credential=AKIDLOCAL/20231114/us-east-1/monitoring/aws4_request, SignedHeaders=host, Signature=0";
    let headers = [
        ("content-type", "application/x-www-form-urlencoded"),
        ("authorization", auth),
    ];
    let form = "Action=PutMetricData&Version=2010-08-01&Namespace=Q&MetricData.member.1.MetricName=M&MetricData.member.1.Value=3&MetricData.member.1.Dimensions.member.1.Name=D&MetricData.member.1.Dimensions.member.1.Value=v&MetricData.member.1.Timestamp=2023-11-14T22%3A13%3A05Z";
    let put = server.post(&headers, form.as_bytes()).await;
    assert_eq!(put.status, 200, "{}", put.body);
    assert!(
        put.body.contains(
            "<PutMetricDataResponse xmlns=\"http://monitoring.amazonaws.com/doc/2010-08-01/\">"
        ),
        "{}",
        put.body
    );
    let form = "Action=GetMetricStatistics&Namespace=Q&MetricName=M&Dimensions.member.1.Name=D&Dimensions.member.1.Value=v&StartTime=2023-11-14T22%3A13%3A00Z&EndTime=2023-11-14T22%3A14%3A00Z&Period=60&Statistics.member.1=Sum";
    let got = server.post(&headers, form.as_bytes()).await;
    assert!(
        got.body.contains("<Datapoints><member><Timestamp>2023-11-14T22:13:00.000Z</Timestamp><Sum>3.0</Sum><Unit>None</Unit></member></Datapoints>"),
        "{}",
        got.body
    );
    let bad = server.post(&headers, b"Action=PutMetricData&Namespace=AWS%2FX&MetricData.member.1.MetricName=M&MetricData.member.1.Value=1").await;
    assert_eq!(bad.status, 400);
    assert!(
        bad.body.contains("<Code>InvalidParameterValue</Code>"),
        "{}",
        bad.body
    );
}
