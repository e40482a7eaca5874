//! `cascade alarms`: the CloudWatch alarms of an environment, their states and history, read
//! from the environment's store (`.cascade/<env>/state.db`); `--output json` for scripts.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use api::cloudwatch::{time, AlarmHistoryItem, AlarmStatus};
use serde_json::{json, Value};

use super::deploy::EnvArgs;
use super::ProjectArgs;

#[derive(clap::Args, Debug)]
#[command(
    about = "Show the alarms of an environment: state, reason and history",
    after_help = "Examples:\n  cascade alarms\n  cascade alarms --env prod --history 50 --output json"
)]
pub struct Args {
    #[command(flatten)]
    pub project: ProjectArgs,
    #[command(flatten)]
    pub env: EnvArgs,
    /// How many history items to show per alarm, newest first.
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub history: usize,
    /// Output format.
    #[arg(long, value_enum, default_value_t = super::status::Output::Human)]
    pub output: super::status::Output,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let path = args.env.state_dir(&args.project).join(api::STORE_FILE);
    if !path.exists() {
        anyhow::bail!(
            "environment `{}` has no state yet (`{}` does not exist): deploy or run it first",
            args.env.env,
            path.display()
        );
    }
    let store = store::Store::open(&path, store::Options::default())
        .with_context(|| format!("open the store `{}`", path.display()))?;
    let cloudwatch = api::cloudwatch::CloudWatch::new(
        store,
        Arc::new(store::SystemClock),
        api::cloudwatch::Config::default(),
    )
    .context("open the alarms")?;
    let alarms = cloudwatch.describe_alarms(&[], None, None)?;
    let mut listed = Vec::new();
    for alarm in &alarms {
        let mut history = cloudwatch.alarm_history(Some(&alarm.spec.name), None, None, None)?;
        history.truncate(args.history);
        listed.push((alarm, history));
    }
    match args.output {
        super::status::Output::Json => {
            let doc = json!({
                "environment": args.env.env,
                "alarms": listed.iter().map(|(a, h)| alarm_json(a, h)).collect::<Vec<_>>(),
            });
            println!("{}", serde_json::to_string_pretty(&doc)?);
        }
        super::status::Output::Human => print!("{}", human(&args.env.env, &listed)),
    }
    Ok(ExitCode::SUCCESS)
}

fn alarm_json(a: &AlarmStatus, history: &[AlarmHistoryItem]) -> Value {
    json!({
        "name": a.spec.name,
        "state": a.state.name(),
        "reason": a.reason,
        "since": time::iso(a.state_updated_ms),
        "metric": {
            "namespace": a.spec.metric.namespace,
            "name": a.spec.metric.name,
            "dimensions": a.spec.metric.dimensions.iter().map(|d| json!({"name": d.name, "value": d.value})).collect::<Vec<_>>(),
        },
        "statistic": a.spec.statistic.name(),
        "period": a.spec.period_s,
        "comparison": a.spec.comparison.name(),
        "threshold": a.spec.threshold,
        "actions": a.spec.alarm_actions,
        "history": history.iter().map(|h| json!({
            "time": time::iso(h.timestamp_ms),
            "type": h.item_type.name(),
            "summary": h.summary,
        })).collect::<Vec<_>>(),
    })
}

fn human(env: &str, listed: &[(&AlarmStatus, Vec<AlarmHistoryItem>)]) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    if listed.is_empty() {
        let _ = writeln!(out, "No alarms in environment {env}");
        return out;
    }
    for (a, history) in listed {
        let s = &a.spec;
        let _ = writeln!(
            out,
            "{} {} (since {})",
            a.state.name(),
            s.name,
            time::iso(a.state_updated_ms)
        );
        let _ = writeln!(
            out,
            "  {} of {}/{} over {} s {} {}",
            s.statistic.name(),
            s.metric.namespace,
            s.metric.name,
            s.period_s,
            s.comparison.name(),
            s.threshold
        );
        let _ = writeln!(out, "  {}", a.reason);
        for h in history {
            let _ = writeln!(out, "  {}  {}", time::iso(h.timestamp_ms), h.summary);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use api::cloudwatch::{AlarmSpec, CloudWatch, Config, Dimension, MetricDatum};
    use store::{ManualClock, Options, Store};

    /// An alarm of a real store going to ALARM on a virtual clock, as `cascade alarms` prints it.
    #[test]
    fn shows_state_reason_and_history() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("state.db"), Options::default()).unwrap();
        let t0 = 1_699_999_980_000;
        let clock = Arc::new(ManualClock::new(t0));
        let cw = CloudWatch::new(store, clock.clone(), Config::default()).unwrap();
        let spec = AlarmSpec::from_cfn(&json!({
            "AlarmName": "rejected", "Namespace": "Cascade/Sales", "MetricName": "RejectedRecords",
            "Dimensions": [{"Name": "Environment", "Value": "dev"}], "Statistic": "Sum", "Period": 60,
            "EvaluationPeriods": 1, "Threshold": 1, "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        }))
        .unwrap();
        cw.put_alarms(&[spec]).unwrap();
        let datum = MetricDatum {
            metric_name: "RejectedRecords".into(),
            dimensions: vec![Dimension::new("Environment", "dev")],
            value: Some(2.0),
            ..Default::default()
        };
        cw.put_metric_data("Cascade/Sales", &[datum]).unwrap();
        clock.set(t0 + 60_000);
        cw.evaluate().unwrap();
        let alarms = cw.describe_alarms(&[], None, None).unwrap();
        let history = cw.alarm_history(None, None, None, None).unwrap();
        let listed = vec![(&alarms[0], history)];
        expect_test::expect![[r#"
            ALARM rejected (since 2023-11-14T22:14:00.000Z)
              Sum of Cascade/Sales/RejectedRecords over 60 s GreaterThanOrEqualToThreshold 1
              Threshold Crossed: 1 out of the last 1 datapoints [2.0 (14/11/23 22:13:00)] was greater than or equal to the threshold (1.0) (minimum 1 datapoint for INSUFFICIENT_DATA -> ALARM transition).
              2023-11-14T22:14:00.000Z  Alarm updated from INSUFFICIENT_DATA to ALARM
              2023-11-14T22:13:00.000Z  Alarm "rejected" created
        "#]]
        .assert_eq(&human("dev", &listed));
        let doc = alarm_json(listed[0].0, &listed[0].1);
        assert_eq!(doc["state"], "ALARM");
        assert_eq!(doc["history"].as_array().unwrap().len(), 2);
        assert_eq!(human("dev", &[]), "No alarms in environment dev\n");
    }
}
