//! Alarm evaluation as data: each case is an alarm and a run of periods (`5` a datum of 5 in
//! that period, `-` no datum); after each period ends the alarm is evaluated and its state is
//! written down, with the actions of each transition.

use cloudwatch::{AlarmSpec, AlarmState, HistoryItemType};
use expect_test::{expect, Expect};
use serde_json::json;

use crate::support::{datum, env, T0};

/// The alarm of `alerts.yml` (Sum over 60 s here), with `overrides` merged in.
fn alarm(overrides: serde_json::Value) -> AlarmSpec {
    let mut props = json!({
        "AlarmName": "rejected",
        "Namespace": "Cascade/Sales",
        "MetricName": "RejectedRecords",
        "Dimensions": [{"Name": "Environment", "Value": "dev"}],
        "Statistic": "Sum",
        "Period": 60,
        "EvaluationPeriods": 1,
        "Threshold": 1,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "AlarmActions": ["arn:aws:sns:us-east-1:000000000000:alarms"],
        "OKActions": ["arn:aws:sns:us-east-1:000000000000:ok"],
    });
    for (k, v) in overrides.as_object().unwrap() {
        props[k] = v.clone();
    }
    AlarmSpec::from_cfn(&props).unwrap()
}

/// Runs `periods` against the alarm and compares the transcript with `expected`.
fn check(overrides: serde_json::Value, periods: &str, expected: Expect) {
    let env = env();
    env.cw.put_alarms(&[alarm(overrides)]).unwrap();
    let mut out = String::new();
    for (i, step) in periods.split_whitespace().enumerate() {
        let start = T0 + i as i64 * 60_000;
        if step != "-" {
            let value: f64 = step.parse().unwrap();
            env.clock.set(start + 1_000);
            env.cw
                .put_metric_data(
                    "Cascade/Sales",
                    &[datum("RejectedRecords", value, start + 1_000)],
                )
                .unwrap();
        }
        env.clock.set(start + 60_000);
        let changes = env.cw.evaluate().unwrap();
        let state = env.cw.describe_alarm("rejected").unwrap().unwrap().state;
        out.push_str(&format!("{step} -> {}", state.name()));
        for c in changes {
            out.push_str(&format!(
                " (from {}, actions {:?})",
                c.old_state.name(),
                c.actions
            ));
        }
        out.push('\n');
    }
    expected.assert_eq(&out);
}

#[test]
fn ok_to_alarm_and_back_with_one_period() {
    check(
        json!({}),
        "0 3 3 0",
        expect![[r#"
            0 -> OK (from INSUFFICIENT_DATA, actions ["arn:aws:sns:us-east-1:000000000000:ok"])
            3 -> ALARM (from OK, actions ["arn:aws:sns:us-east-1:000000000000:alarms"])
            3 -> ALARM
            0 -> OK (from ALARM, actions ["arn:aws:sns:us-east-1:000000000000:ok"])
        "#]],
    );
}

#[test]
fn two_of_three_datapoints_to_alarm() {
    check(
        json!({"EvaluationPeriods": 3, "DatapointsToAlarm": 2}),
        "0 3 0 3 0 0",
        expect![[r#"
            0 -> OK (from INSUFFICIENT_DATA, actions ["arn:aws:sns:us-east-1:000000000000:ok"])
            3 -> OK
            0 -> OK
            3 -> ALARM (from OK, actions ["arn:aws:sns:us-east-1:000000000000:alarms"])
            0 -> OK (from ALARM, actions ["arn:aws:sns:us-east-1:000000000000:ok"])
            0 -> OK
        "#]],
    );
}

#[test]
fn three_of_three_by_default() {
    check(
        json!({"EvaluationPeriods": 3}),
        "3 3 3 0",
        expect![[r#"
            3 -> OK (from INSUFFICIENT_DATA, actions ["arn:aws:sns:us-east-1:000000000000:ok"])
            3 -> OK
            3 -> ALARM (from OK, actions ["arn:aws:sns:us-east-1:000000000000:alarms"])
            0 -> OK (from ALARM, actions ["arn:aws:sns:us-east-1:000000000000:ok"])
        "#]],
    );
}

#[test]
fn missing_data_missing_gives_insufficient_data() {
    check(
        json!({"TreatMissingData": "missing"}),
        "3 - 0 -",
        expect![[r#"
            3 -> ALARM (from INSUFFICIENT_DATA, actions ["arn:aws:sns:us-east-1:000000000000:alarms"])
            - -> INSUFFICIENT_DATA (from ALARM, actions [])
            0 -> OK (from INSUFFICIENT_DATA, actions ["arn:aws:sns:us-east-1:000000000000:ok"])
            - -> INSUFFICIENT_DATA (from OK, actions [])
        "#]],
    );
}

#[test]
fn missing_data_ignore_keeps_the_state() {
    check(
        json!({"TreatMissingData": "ignore"}),
        "- 3 - - 0 -",
        expect![[r#"
            - -> INSUFFICIENT_DATA
            3 -> ALARM (from INSUFFICIENT_DATA, actions ["arn:aws:sns:us-east-1:000000000000:alarms"])
            - -> ALARM
            - -> ALARM
            0 -> OK (from ALARM, actions ["arn:aws:sns:us-east-1:000000000000:ok"])
            - -> OK
        "#]],
    );
}

#[test]
fn missing_data_breaching() {
    check(
        json!({"TreatMissingData": "breaching", "EvaluationPeriods": 2}),
        "0 0 - 0 0",
        expect![[r#"
            0 -> OK (from INSUFFICIENT_DATA, actions ["arn:aws:sns:us-east-1:000000000000:ok"])
            0 -> OK
            - -> OK
            0 -> OK
            0 -> OK
        "#]],
    );
    check(
        json!({"TreatMissingData": "breaching", "EvaluationPeriods": 2, "DatapointsToAlarm": 1}),
        "0 0 - 0 0",
        expect![[r#"
            0 -> ALARM (from INSUFFICIENT_DATA, actions ["arn:aws:sns:us-east-1:000000000000:alarms"])
            0 -> OK (from ALARM, actions ["arn:aws:sns:us-east-1:000000000000:ok"])
            - -> ALARM (from OK, actions ["arn:aws:sns:us-east-1:000000000000:alarms"])
            0 -> ALARM
            0 -> OK (from ALARM, actions ["arn:aws:sns:us-east-1:000000000000:ok"])
        "#]],
    );
}

#[test]
fn missing_data_not_breaching() {
    check(
        json!({"TreatMissingData": "notBreaching"}),
        "- 5 - -",
        expect![[r#"
            - -> OK (from INSUFFICIENT_DATA, actions ["arn:aws:sns:us-east-1:000000000000:ok"])
            5 -> ALARM (from OK, actions ["arn:aws:sns:us-east-1:000000000000:alarms"])
            - -> OK (from ALARM, actions ["arn:aws:sns:us-east-1:000000000000:ok"])
            - -> OK
        "#]],
    );
}

#[test]
fn each_comparison_operator() {
    for (operator, expected) in [
        ("GreaterThanThreshold", expect![["OK ALARM OK"]]),
        ("GreaterThanOrEqualToThreshold", expect![["ALARM ALARM OK"]]),
        ("LessThanThreshold", expect![["OK OK ALARM"]]),
        ("LessThanOrEqualToThreshold", expect![["ALARM OK ALARM"]]),
    ] {
        let env = env();
        env.cw
            .put_alarms(&[alarm(json!({"ComparisonOperator": operator}))])
            .unwrap();
        let mut states = Vec::new();
        for (i, v) in [1.0, 2.0, 0.0].into_iter().enumerate() {
            let start = T0 + i as i64 * 60_000;
            env.clock.set(start + 1);
            env.cw
                .put_metric_data("Cascade/Sales", &[datum("RejectedRecords", v, start + 1)])
                .unwrap();
            env.clock.set(start + 60_000);
            env.cw.evaluate().unwrap();
            states.push(
                env.cw
                    .describe_alarm("rejected")
                    .unwrap()
                    .unwrap()
                    .state
                    .name(),
            );
        }
        expected.assert_eq(&states.join(" "));
    }
}

#[test]
fn alarm_reason_history_and_actions_disabled() {
    let env = env();
    env.cw
        .put_alarms(&[alarm(json!({"ActionsEnabled": false}))])
        .unwrap();
    env.clock.set(T0 + 1_000);
    env.cw
        .put_metric_data(
            "Cascade/Sales",
            &[
                datum("RejectedRecords", 2.0, T0 + 1_000),
                datum("RejectedRecords", 3.0, T0 + 2_000),
            ],
        )
        .unwrap();
    env.clock.set(T0 + 60_000);
    let changes = env.cw.evaluate().unwrap();
    assert_eq!(changes.len(), 1);
    assert!(changes[0].actions.is_empty(), "actions are disabled");
    expect![[r#"Threshold Crossed: 1 out of the last 1 datapoints [5.0 (14/11/23 22:13:00)] was greater than or equal to the threshold (1.0) (minimum 1 datapoint for INSUFFICIENT_DATA -> ALARM transition)."#]]
        .assert_eq(&changes[0].reason);
    let history: Vec<String> = env
        .cw
        .alarm_history(Some("rejected"), None, None, None)
        .unwrap()
        .iter()
        .map(|h| format!("{} {}", h.item_type.name(), h.summary))
        .collect();
    expect![[r#"
        [
            "StateUpdate Alarm updated from INSUFFICIENT_DATA to ALARM",
            "ConfigurationUpdate Alarm \"rejected\" created",
        ]
    "#]]
    .assert_debug_eq(&history);
    let state_only = env
        .cw
        .alarm_history(None, Some(HistoryItemType::StateUpdate), None, None)
        .unwrap();
    assert_eq!(state_only.len(), 1);
    let data: serde_json::Value = serde_json::from_str(&state_only[0].data).unwrap();
    assert_eq!(
        data["newState"]["stateReasonData"]["recentDatapoints"],
        json!([5.0])
    );
}

#[test]
fn put_alarms_syncs_the_deployed_set_and_state_survives_reopen() {
    let env = env();
    let a = alarm(json!({}));
    let mut b = alarm(json!({"AlarmName": "other"}));
    env.cw.put_alarms(&[a.clone(), b.clone()]).unwrap();
    env.cw
        .set_alarm_state("other", AlarmState::Alarm, "testing", None)
        .unwrap();
    b.threshold = 10.0;
    env.cw.put_alarms(&[b.clone()]).unwrap();
    let all = env.cw.describe_alarms(&[], None, None).unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].spec, b);
    assert_eq!(
        all[0].state,
        AlarmState::Alarm,
        "an updated alarm keeps its state"
    );
    // A second engine on the same store (a restarted process) sees the same state.
    let again =
        cloudwatch::CloudWatch::new(env.store.clone(), env.clock.clone(), Default::default())
            .unwrap();
    assert_eq!(
        again.describe_alarm("other").unwrap().unwrap().state,
        AlarmState::Alarm
    );
    assert!(again.describe_alarm("rejected").unwrap().is_none());
    let err = env
        .cw
        .set_alarm_state("nope", AlarmState::Ok, "x", None)
        .unwrap_err();
    assert_eq!(err.code(), "ResourceNotFound");
}

#[test]
fn alarm_properties_refused_with_their_place() {
    let cases = [
        json!({"ComparisonOperator": "LessThanLowerOrGreaterThanUpperThreshold"}),
        json!({"TreatMissingData": "sometimes"}),
        json!({"DatapointsToAlarm": 2}),
        json!({"Period": 45}),
        json!({"Statistic": "Median"}),
        json!({"Metrics": []}),
    ];
    let mut out = String::new();
    for overrides in cases {
        let mut props = alarm(json!({})).to_cfn();
        for (k, v) in overrides.as_object().unwrap() {
            props[k] = v.clone();
        }
        out.push_str(&AlarmSpec::from_cfn(&props).unwrap_err().to_string());
        out.push('\n');
    }
    expect![[r#"
        ComparisonOperator: `LessThanLowerOrGreaterThanUpperThreshold` compares with an anomaly detection band, which the local engine does not model
        TreatMissingData: `sometimes` is not one of missing, ignore, breaching, notBreaching
        DatapointsToAlarm: 2 is more than EvaluationPeriods (1)
        Period: The parameter Period must be 1, 5, 10, 30, or a multiple of 60; it is 45.
        Statistic: `Median` is not one of SampleCount, Average, Sum, Minimum, Maximum
        Metrics: metric math and anomaly detection alarms are not supported by the local engine; use MetricName, Namespace and Statistic
    "#]]
    .assert_eq(&out);
}

#[test]
fn the_shipped_alarm_reads_and_round_trips() {
    // The properties of `templates/alerts.yml` once resolved: numbers written as numbers.
    let props = json!({
        "AlarmDescription": "The collectors skipped malformed vendor records.",
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "EvaluationPeriods": 1,
        "MetricName": "RejectedRecords",
        "Namespace": "Cascade/Sales",
        "Dimensions": [{"Name": "Environment", "Value": "dev"}],
        "Period": 300,
        "Statistic": "Sum",
        "Threshold": 1,
        "TreatMissingData": "notBreaching",
        "AlarmActions": ["arn:aws:sns:us-east-1:000000000000:cascade-alarms-dev"],
    });
    let spec = AlarmSpec::from_resource("dev-RejectedRecordsAlarm-1", &props).unwrap();
    assert_eq!(spec.name, "dev-RejectedRecordsAlarm-1");
    assert_eq!(spec.datapoints_to_alarm, 1);
    assert_eq!(AlarmSpec::from_cfn(&spec.to_cfn()).unwrap(), spec);
}
