//! PutMetricData validation and statistics per period.

use cloudwatch::{
    Dimension, MetricDatum, MetricId, MetricQuery, Statistic, StatisticSet, StatisticsRequest,
};
use expect_test::expect;

use crate::support::{datum, env, T0};

fn stats(env: &crate::support::Env, period: i64, statistics: &[&str]) -> String {
    let points = env
        .cw
        .get_metric_statistics(&StatisticsRequest {
            metric: MetricId::new(
                "Cascade/Sales",
                "Latency",
                &[Dimension::new("Environment", "dev")],
            ),
            start_ms: T0,
            end_ms: T0 + 180_000,
            period_s: period,
            statistics: statistics
                .iter()
                .map(|s| Statistic::parse(s).unwrap())
                .collect(),
            unit: None,
        })
        .unwrap();
    points
        .iter()
        .map(|p| {
            let values: Vec<String> = statistics
                .iter()
                .map(|s| format!("{s}={:?}", p.get(&Statistic::parse(s).unwrap())))
                .collect();
            format!("+{}s {}", (p.timestamp_ms - T0) / 1000, values.join(" "))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn statistics_per_period_with_values_counts_and_sets() {
    let env = env();
    let mut with_counts = datum("Latency", 0.0, T0 + 61_000);
    with_counts.value = None;
    with_counts.values = vec![10.0, 20.0, 30.0];
    with_counts.counts = vec![1.0, 2.0, 1.0];
    let set = MetricDatum {
        statistic_values: Some(StatisticSet {
            sample_count: Some(4.0),
            sum: Some(100.0),
            minimum: Some(5.0),
            maximum: Some(50.0),
        }),
        value: None,
        ..datum("Latency", 0.0, T0 + 130_000)
    };
    env.cw
        .put_metric_data(
            "Cascade/Sales",
            &[
                datum("Latency", 4.0, T0 + 1_000),
                datum("Latency", 8.0, T0 + 2_000),
                with_counts,
                set,
            ],
        )
        .unwrap();
    expect![[r#"
        +0s SampleCount=Some(2.0) Sum=Some(12.0) Average=Some(6.0) Minimum=Some(4.0) Maximum=Some(8.0) p50=Some(4.0)
        +60s SampleCount=Some(4.0) Sum=Some(80.0) Average=Some(20.0) Minimum=Some(10.0) Maximum=Some(30.0) p50=Some(20.0)
        +120s SampleCount=Some(4.0) Sum=Some(100.0) Average=Some(25.0) Minimum=Some(5.0) Maximum=Some(50.0) p50=None"#]]
    .assert_eq(&stats(&env, 60, &["SampleCount", "Sum", "Average", "Minimum", "Maximum", "p50"]));
    expect![[r#"
        +-60s SampleCount=Some(6.0) Maximum=Some(30.0)
        +120s SampleCount=Some(4.0) Maximum=Some(50.0)"#]]
    .assert_eq(&stats(&env, 180, &["SampleCount", "Maximum"]));
    let results = env
        .cw
        .get_metric_data(
            &[MetricQuery {
                id: "m1".into(),
                label: None,
                metric: Some(MetricId::new(
                    "Cascade/Sales",
                    "Latency",
                    &[Dimension::new("Environment", "dev")],
                )),
                period_s: 60,
                stat: "Sum".into(),
                unit: None,
                expression: None,
                return_data: true,
            }],
            T0,
            T0 + 180_000,
            false,
        )
        .unwrap();
    assert_eq!(results[0].values, vec![100.0, 80.0, 12.0], "newest first");
    assert_eq!(
        results[0].timestamps_ms,
        vec![T0 + 120_000, T0 + 60_000, T0]
    );
    let listed = env
        .cw
        .list_metrics(Some("Cascade/Sales"), None, &[("Environment".into(), None)])
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert!(env
        .cw
        .list_metrics(Some("Other"), None, &[])
        .unwrap()
        .is_empty());
}

#[test]
fn put_metric_data_refuses_what_aws_refuses() {
    let env = env();
    let mut both = datum("M", 1.0, T0);
    both.values = vec![1.0];
    let mut counts = datum("M", 1.0, T0);
    counts.value = None;
    counts.values = vec![1.0, 2.0];
    counts.counts = vec![1.0];
    let mut unit = datum("M", 1.0, T0);
    unit.unit = Some("Parsecs".into());
    let mut dup = datum("M", 1.0, T0);
    dup.dimensions.push(Dimension::new("Environment", "prod"));
    let set = MetricDatum {
        value: None,
        statistic_values: Some(StatisticSet {
            sample_count: Some(1.0),
            sum: Some(1.0),
            minimum: None,
            maximum: Some(1.0),
        }),
        ..datum("M", 0.0, T0)
    };
    let cases: Vec<(&str, Vec<MetricDatum>)> = vec![
        ("AWS/Lambda", vec![datum("M", 1.0, T0)]),
        ("Cascade", vec![]),
        ("Cascade", vec![datum("M", f64::NAN, T0)]),
        ("Cascade", vec![datum("M", 1e200, T0)]),
        ("Cascade", vec![datum("M", 1.0, T0 - 15 * 24 * 3_600_000)]),
        ("Cascade", vec![datum("M", 1.0, T0 + 3 * 3_600_000)]),
        ("Cascade", vec![both]),
        ("Cascade", vec![counts]),
        ("Cascade", vec![unit]),
        ("Cascade", vec![dup]),
        ("Cascade", vec![set]),
        ("Cascade", vec![datum("", 1.0, T0)]),
    ];
    let mut out = String::new();
    for (namespace, data) in cases {
        let e = env.cw.put_metric_data(namespace, &data).unwrap_err();
        out.push_str(&format!("{}: {}\n", e.code(), e));
    }
    expect![[r#"
        InvalidParameterValue: The value AWS/Lambda for parameter Namespace is invalid: the AWS/ prefix is reserved for AWS's own metrics.
        MissingParameter: The parameter MetricData is required.
        InvalidParameterValue: The value NaN for parameter MetricData.member.1.Value is invalid: it must be a finite number.
        InvalidParameterValue: The value 1e200 for parameter MetricData.member.1.Value is invalid: values must be in the range -2^360 to 2^360 and, other than zero, at least 2^-360 in magnitude.
        InvalidParameterValue: The parameter MetricData.member.1.Timestamp must specify a time no more than two weeks in the past.
        InvalidParameterValue: The parameter MetricData.member.1.Timestamp must specify a time no more than two hours in the future.
        InvalidParameterCombination: The parameters MetricData.member.1.Value, MetricData.member.1.Values and MetricData.member.1.StatisticValues are mutually exclusive and you have specified more than one.
        InvalidParameterCombination: The parameters MetricData.member.1.Values and MetricData.member.1.Counts must be of the same size.
        InvalidParameterValue: The value Parsecs for parameter MetricData.member.1.Unit is invalid: it must be one of Seconds, Microseconds, Milliseconds, Bytes, Kilobytes, Megabytes, Gigabytes, Terabytes, Bits, Kilobits, Megabits, Gigabits, Terabits, Percent, Count, Bytes/Second, Kilobytes/Second, Megabytes/Second, Gigabytes/Second, Terabytes/Second, Bits/Second, Kilobits/Second, Megabits/Second, Gigabits/Second, Terabits/Second, Count/Second, None.
        InvalidParameterCombination: No metric may have duplicate dimension names: `Environment` is given twice in MetricData.member.1.Dimensions.
        MissingParameter: The parameter MetricData.member.1.StatisticValues.Minimum is required.
        InvalidParameterValue: The value `` for parameter MetricData.member.1.MetricName is invalid: it must be 1 to 255 characters long.
    "#]]
    .assert_eq(&out);
    // The engine's own metrics may use AWS/ namespaces.
    env.cw
        .record("AWS/Lambda", &[datum("Invocations", 1.0, T0)])
        .unwrap();
    // Nothing of a refused call was stored.
    assert_eq!(env.cw.list_metrics(None, None, &[]).unwrap().len(), 1);
}

#[test]
fn get_metric_statistics_limits() {
    let env = env();
    let request = StatisticsRequest {
        metric: MetricId::new("Cascade", "M", &[]),
        start_ms: T0,
        end_ms: T0 + 2 * 24 * 3_600_000,
        period_s: 60,
        statistics: vec![Statistic::Sum],
        unit: None,
    };
    let e = env.cw.get_metric_statistics(&request).unwrap_err();
    assert_eq!(e.code(), "InvalidParameterCombination", "{e}");
    let e = env
        .cw
        .get_metric_data(
            &[MetricQuery {
                id: "e1".into(),
                label: None,
                metric: None,
                period_s: 60,
                stat: String::new(),
                unit: None,
                expression: Some("SUM(METRICS())".into()),
                return_data: true,
            }],
            T0,
            T0 + 60_000,
            false,
        )
        .unwrap_err();
    assert!(
        e.to_string().contains("math expressions are not supported"),
        "{e}"
    );
}
