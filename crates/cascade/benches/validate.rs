//! Validation speed, measured as a user meets it: the release `cascade` binary spawned N times.
//! Prints medians side by side with the bare process start (`cascade --version`) measured in the
//! same run, for the shipped stacks (target: under 20 ms including process start) and for a
//! generated project of 200 stacks and 5,000 resources (target: under 1 s).
//!
//! Run with `cargo bench -p cascade --bench validate`.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const RUNS: usize = 21;
const STACKS: usize = 200;
const RESOURCES: usize = 5_000;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// Median wall time of `cascade args` in `dir`; panics unless every run exits 0.
fn spawn_median(dir: &Path, args: &[&str], runs: usize) -> Duration {
    let samples = (0..runs)
        .map(|_| {
            let start = Instant::now();
            let out = Command::new(env!("CARGO_BIN_EXE_cascade"))
                .args(args)
                .current_dir(dir)
                .output()
                .expect("spawn cascade");
            let took = start.elapsed();
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success(),
                "cascade {args:?} failed:\n{}",
                &stdout[..stdout.len().min(2000)]
            );
            took
        })
        .collect();
    median(samples)
}

/// Writes a project of `STACKS` stacks (the root and its children) holding `RESOURCES` resources:
/// each child has a table, a queue with its dead-letter queue, an SQS-triggered SAM function
/// (three resources once transformed) and 18 alarms, exports its queue ARN, and imports the
/// previous child's export (with the DependsOn that orders them).
fn generate(dir: &Path) -> usize {
    let children = STACKS - 1;
    let per_child = 24;
    let root_extra = RESOURCES - children * per_child - children;
    let mut root = String::from("AWSTemplateFormatVersion: '2010-09-09'\nParameters:\n  Environment: {Type: String, Default: bench}\nResources:\n");
    for i in 0..root_extra {
        root.push_str(&format!("  Topic{i}: {{Type: AWS::SNS::Topic, Properties: {{TopicName: !Sub 'topic-{i}-${{Environment}}'}}}}\n"));
    }
    std::fs::create_dir_all(dir.join("stacks")).expect("stacks folder");
    for c in 0..children {
        let depends = if c == 0 {
            String::new()
        } else {
            format!("\n    DependsOn: Child{}", c - 1)
        };
        root.push_str(&format!(
            "  Child{c}:\n    Type: AWS::CloudFormation::Stack{depends}\n    Properties:\n      TemplateURL: ./stacks/child{c}.yml\n      Parameters: {{Environment: !Ref Environment}}\n"
        ));
        let import = if c == 0 {
            "!Ref Queue".to_string()
        } else {
            format!(
                "!ImportValue {{'Fn::Sub': '${{Environment}}-queue-{}'}}",
                c - 1
            )
        };
        // Each line is written out whole: string continuations would eat the YAML indentation.
        let mut t = String::new();
        for line in [
            "AWSTemplateFormatVersion: '2010-09-09'".to_string(),
            "Transform: AWS::Serverless-2016-10-31".to_string(),
            "Parameters:".to_string(),
            "  Environment: {Type: String}".to_string(),
            "Resources:".to_string(),
            "  Table:".to_string(),
            "    Type: AWS::DynamoDB::Table".to_string(),
            "    Properties:".to_string(),
            format!("      TableName: !Sub 'table-{c}-${{Environment}}'"),
            "      BillingMode: PAY_PER_REQUEST".to_string(),
            "      AttributeDefinitions: [{AttributeName: id, AttributeType: S}, {AttributeName: at, AttributeType: N}]".to_string(),
            "      KeySchema: [{AttributeName: id, KeyType: HASH}, {AttributeName: at, KeyType: RANGE}]".to_string(),
            "  Queue:".to_string(),
            "    Type: AWS::SQS::Queue".to_string(),
            "    Properties:".to_string(),
            format!("      QueueName: !Sub 'queue-{c}-${{Environment}}'"),
            "      VisibilityTimeout: 900".to_string(),
            "      RedrivePolicy: {deadLetterTargetArn: !GetAtt Dlq.Arn, maxReceiveCount: 10}".to_string(),
            "  Dlq:".to_string(),
            "    Type: AWS::SQS::Queue".to_string(),
            format!("    Properties: {{QueueName: !Sub 'dlq-{c}-${{Environment}}', MessageRetentionPeriod: 1209600}}"),
            "  Fn:".to_string(),
            "    Type: AWS::Serverless::Function".to_string(),
            "    Properties:".to_string(),
            format!("      FunctionName: !Sub 'fn-{c}-${{Environment}}'"),
            "      Runtime: provided.al2023".to_string(),
            "      Handler: bootstrap".to_string(),
            "      InlineCode: bench".to_string(),
            "      Timeout: 60".to_string(),
            "      Environment:".to_string(),
            "        Variables:".to_string(),
            "          TABLE: !Ref Table".to_string(),
            format!("          PREVIOUS_QUEUE: {import}"),
            "      Events:".to_string(),
            "        Work:".to_string(),
            "          Type: SQS".to_string(),
            "          Properties: {Queue: !GetAtt Queue.Arn, BatchSize: 10, FunctionResponseTypes: [ReportBatchItemFailures]}".to_string(),
        ] {
            t.push_str(&line);
            t.push('\n');
        }
        for a in 0..18 {
            t.push_str(&format!(
                "  Alarm{a}:\n    Type: AWS::CloudWatch::Alarm\n    Properties:\n"
            ));
            t.push_str("      Namespace: AWS/Lambda\n      MetricName: Errors\n      Dimensions: [{Name: FunctionName, Value: !Ref Fn}]\n");
            t.push_str(&format!("      Statistic: Sum\n      Period: 60\n      EvaluationPeriods: 1\n      Threshold: {a}\n"));
            t.push_str("      ComparisonOperator: GreaterThanThreshold\n");
        }
        t.push_str(&format!("Outputs:\n  QueueArn:\n    Value: !GetAtt Queue.Arn\n    Export: {{Name: !Sub '${{Environment}}-queue-{c}'}}\n"));
        std::fs::write(dir.join(format!("stacks/child{c}.yml")), t).expect("write child");
    }
    std::fs::write(dir.join("template.yml"), root).expect("write root");
    root_extra + children * (per_child + 1)
}

fn row(name: &str, took: Duration, reference: Duration, target: &str) {
    println!(
        "{name:<44} {:>9.2} ms   reference {:>7.2} ms   difference {:>8.2} ms   target {target}",
        took.as_secs_f64() * 1e3,
        reference.as_secs_f64() * 1e3,
        (took.as_secs_f64() - reference.as_secs_f64()) * 1e3
    );
}

fn main() {
    // `cargo bench` passes `--bench`; other arguments (a filter) are ignored.
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let start = spawn_median(&repo, &["--version"], RUNS);
    println!(
        "median of {RUNS} runs (reference: bare process start, `cascade --version`, same run)"
    );
    let shipped = spawn_median(&repo, &["validate", "--param", "Environment=dev"], RUNS);
    row(
        "validate shipped stacks (process)",
        shipped,
        start,
        "< 20 ms",
    );

    // CASCADE_BENCH_DIR keeps the generated project for profiling; a temporary folder otherwise.
    let dir = tempfile::tempdir().expect("temp dir");
    let dir = std::env::var_os("CASCADE_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| dir.path().to_path_buf());
    let count = generate(&dir);
    assert_eq!(count, RESOURCES);
    let big = spawn_median(&dir, &["validate", "--output", "json"], 7);
    row(
        &format!("validate {STACKS} stacks / {RESOURCES} resources (process)"),
        big,
        start,
        "< 1000 ms",
    );
    let out = Command::new(env!("CARGO_BIN_EXE_cascade"))
        .args(["validate", "--output", "json"])
        .current_dir(&dir)
        .output()
        .expect("spawn");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["stacks"], STACKS);
    assert_eq!(v["resources"], RESOURCES);
    assert_eq!(
        v["diagnostics"].as_array().map(Vec::len),
        Some(0),
        "{}",
        v["diagnostics"][0]
    );
}
