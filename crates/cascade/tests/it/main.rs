//! The `cascade` binary run as a user runs it: exit codes, JSON output, the human diagnostics
//! with source lines and carets, and the graph formats; `deploy` the local stacks, `up` a small
//! cascade of the test function, `sales` the shipped sales pipeline end to end.

/// A client of the AWS SDK crate `$sdk` for the local endpoint at `$endpoint` (any key works).
macro_rules! local_client {
    ($sdk:ident, $endpoint:expr) => {{
        use $sdk::config::{BehaviorVersion, Credentials, Region};
        let config = $sdk::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("AKIDLOCAL", "secret", None, None, "test"))
            .endpoint_url($endpoint)
            .http_client(collector::http_client())
            .build();
        $sdk::Client::from_conf(config)
    }};
}

mod deploy;
#[path = "../../../collector/tests/it/expected.rs"]
mod expected;
mod sales;
mod up;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn data(rel: &str) -> PathBuf {
    repo().join("crates/template/tests/data").join(rel)
}

/// Runs `cascade` in `dir` and returns (exit code, stdout, stderr).
fn cascade(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = Command::new(env!("CARGO_BIN_EXE_cascade"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run cascade");
    (
        status.code().expect("exit code"),
        String::from_utf8(stdout).expect("utf-8 stdout"),
        String::from_utf8(stderr).expect("utf-8 stderr"),
    )
}

#[test]
fn shipped_stacks_validate_with_exit_0() {
    let (code, out, _) = cascade(&repo(), &["validate", "--param", "Environment=dev"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(" 0 errors"), "{out}");
}

#[test]
fn warnings_fail_only_with_strict() {
    let seed = data("seed-stack");
    let (code, _, _) = cascade(&seed, &["validate", "-p", "Environment=dev"]);
    assert_eq!(code, 0);
    let (code, _, _) = cascade(&seed, &["validate", "-p", "Environment=dev", "--strict"]);
    assert_eq!(code, 1);
}

#[test]
fn errors_exit_1_and_bad_usage_exit_2() {
    let (code, out, _) = cascade(&data("cases/reference-errors"), &["validate"]);
    assert_eq!(code, 1, "{out}");
    let (code, _, err) = cascade(&repo(), &["validate", "--output", "yaml"]);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = cascade(&repo(), &["validate", "--param", "NoEquals"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("`NoEquals` is not `Name=value`"), "{err}");
    let (code, _, _) = cascade(&repo(), &["frobnicate"]);
    assert_eq!(code, 2);
}

#[test]
fn missing_root_template_is_a_finding() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (code, out, _) = cascade(dir.path(), &["validate", "--output", "json"]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["diagnostics"][0]["code"], "E1004");
    assert_eq!(v["diagnostics"][0]["file"], "template.yml");
}

#[test]
fn json_output_has_the_documented_shape() {
    let template = data("seed-stack/template.yml");
    let template = template.to_str().expect("utf-8 path");
    // Run from elsewhere: files stay relative to the root template's folder.
    let (code, out, _) = cascade(
        &repo(),
        &[
            "validate",
            "--template",
            template,
            "--param",
            "Environment=dev",
            "--output",
            "json",
        ],
    );
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).expect("one JSON object");
    let keys: Vec<&String> = v.as_object().expect("object").keys().collect();
    assert_eq!(keys, ["diagnostics", "stacks", "resources"]);
    assert_eq!(v["stacks"], 7);
    assert_eq!(v["resources"], 36);
    let db: Vec<&serde_json::Value> = v["diagnostics"]
        .as_array()
        .expect("list")
        .iter()
        .filter(|d| d["code"] == "W5001")
        .collect();
    assert_eq!(db.len(), 3);
    let first = serde_json::to_string_pretty(db[0]).expect("json");
    expect_test::expect![[r#"
        {
          "severity": "warning",
          "code": "W5001",
          "file": "templates/BranchCollector.yml",
          "line": 27,
          "column": 20,
          "logical_id": "BranchCollector",
          "path": "Resources.BranchCollector.Properties.Environment.Variables.DB",
          "message": "environment variable `DB` names table `branches-dev`, which no stack creates"
        }"#]]
    .assert_eq(&first);
}

#[test]
fn human_output_shows_the_source_line_and_a_caret() {
    let (code, out, _) = cascade(
        &data("seed-stack"),
        &["validate", "--param", "Environment=dev"],
    );
    assert_eq!(code, 0);
    let first: String = out
        .split("\n\n")
        .find(|d| d.contains("W5001"))
        .expect("a DB warning")
        .to_string();
    expect_test::expect![[r#"
        warning[W5001]: environment variable `DB` names table `branches-dev`, which no stack creates
          --> templates/BranchCollector.yml:27:20
           |
        27 |           DB: !Sub branches-${Environment}
           |                    ^^^^^^^^^^^^^^^^^^^^^^^ Resources.BranchCollector.Properties.Environment.Variables.DB
           = help: did you mean `branch-dev`? (Tables/BranchDynamoDBTable at templates/tables.yml:7)"#]].assert_eq(&first);
    assert!(
        out.ends_with("validated 7 stacks, 36 resources: 0 errors, 3 warnings\n"),
        "{out}"
    );
}

#[test]
fn human_output_of_errors() {
    let (code, out, _) = cascade(&data("cases/exports-imports"), &["validate"]);
    assert_eq!(code, 1);
    expect_test::expect![[r#"
        error[E4005]: `work-url` is exported by stack `Producer` (producer.yml), but nothing orders `Producer` before `Racer` in template.yml: CloudFormation may create them in parallel
         --> consumer.yml:5:33
          |
        5 |       DisplayName: !ImportValue work-url
          |                                 ^^^^^^^^ Resources.Fn.Properties.DisplayName
          = help: add `DependsOn: Producer` to `Racer` in template.yml

        error[E4004]: no stack exports `work-arm`
         --> consumer.yml:6:18
          |
        6 |       TopicName: {"Fn::ImportValue": "work-arm"}
          |                  ^^^^^^^^^^^^^^^^^^ Resources.Fn.Properties.TopicName
          = help: did you mean `work-arn`?

        error[E4003]: export name `work-url` is already exported
         --> producer-copy.yml:4:45
          |
        4 |   Again: {Value: !Ref Topic, Export: {Name: work-url}}
          |                                             ^^^^^^^^ Outputs.Again.Export.Name
          = help: first exported at producer.yml:4:48; export names are unique per account and region

        validated 5 stacks, 8 resources: 3 errors, 0 warnings
    "#]].assert_eq(&out);
}

#[test]
fn graph_formats() {
    let dir = data("cases/env-vars");
    let mut all = String::new();
    for format in ["text", "mermaid", "dot"] {
        let (code, out, err) = cascade(&dir, &["graph", "--format", format]);
        assert_eq!(code, 0, "{err}");
        all.push_str(&format!("--- {format}\n{out}"));
    }
    expect_test::expect![[r#"
        --- text
        stacks:
          (root)  cascade (template.yml)
            - Orders AWS::DynamoDB::Table
            - Jobs AWS::SQS::Queue
            - Fn AWS::Lambda::Function
            - FnRole AWS::IAM::Role
        edges:
          Fn -> Orders (reference)
          Fn -> Jobs (reference)
          Fn -> FnRole (reference)
          Fn -> Orders (data-flow)
          Fn -> Jobs (data-flow)
        deployment order:
            1. Orders
            2. Jobs
            3. FnRole
            4. Fn
        --- mermaid
        flowchart LR
          subgraph s0["cascade (template.yml)"]
            n0["Orders<br/><small>AWS::DynamoDB::Table</small>"]
            n1["Jobs<br/><small>AWS::SQS::Queue</small>"]
            n2["Fn<br/><small>AWS::Lambda::Function</small>"]
            n3["FnRole<br/><small>AWS::IAM::Role</small>"]
          end
          n2 -->|reference| n0
          n2 -->|reference| n1
          n2 -->|reference| n3
          n2 ==>|data-flow| n0
          n2 ==>|data-flow| n1
        --- dot
        digraph cascade {
          rankdir=LR;
          compound=true;
          node [shape=box, fontsize=10];
          subgraph cluster_0 {
            label="cascade (template.yml)";
            s0 [shape=point, style=invis];
            n0 [label="Orders\nAWS::DynamoDB::Table"];
            n1 [label="Jobs\nAWS::SQS::Queue"];
            n2 [label="Fn\nAWS::Lambda::Function"];
            n3 [label="FnRole\nAWS::IAM::Role"];
          }
          n2 -> n0 [label="reference", style=solid];
          n2 -> n1 [label="reference", style=solid];
          n2 -> n3 [label="reference", style=solid];
          n2 -> n0 [label="data-flow", style=bold];
          n2 -> n1 [label="data-flow", style=bold];
        }
    "#]]
    .assert_eq(&all);
}

#[test]
fn graph_of_the_seed_shows_imports_and_the_schedule() {
    let (code, out, _) = cascade(&data("seed-stack"), &["graph", "-p", "Environment=dev"]);
    assert_eq!(code, 0);
    for edge in [
        "BranchCollector/BranchCollector -> IAM/LambdaRole (import)",
        "BranchCollector/BranchCollector -> Queues/EmployeeQueue (import)",
        "BranchCollector/BranchCollectorStartScheduledEvent -> BranchCollector/BranchCollector (event-source)",
        "BranchCollector/BranchCollector -> Queues/EmployeeQueue (data-flow)",
        "BranchCollector -> Queues (depends-on)",
    ] {
        assert!(out.contains(edge), "missing `{edge}` in\n{out}");
    }
    let (code, out, _) = cascade(
        &data("seed-stack"),
        &["graph", "-p", "Environment=dev", "--format", "json"],
    );
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["stacks"].as_array().map(Vec::len), Some(7));
    assert_eq!(v["order"].as_array().map(Vec::len), Some(36));
    let kinds: Vec<&str> = v["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    for kind in [
        "reference",
        "depends-on",
        "import",
        "event-source",
        "data-flow",
    ] {
        assert!(kinds.contains(&kind), "no {kind} edge");
    }
}

#[test]
fn every_command_has_help_with_an_example() {
    for cmd in [
        &["--help"][..],
        &["validate", "--help"],
        &["graph", "--help"],
    ] {
        let (code, out, _) = cascade(&repo(), cmd);
        assert_eq!(code, 0);
        assert!(out.contains("Examples:\n  cascade "), "{cmd:?}: {out}");
    }
}

#[test]
fn serve_refuses_a_public_address_without_a_token() {
    let (code, _, err) = cascade(
        &repo(),
        &[
            "serve",
            "--listen",
            "0.0.0.0:0",
            "--state-dir",
            "/nonexistent",
        ],
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("requires an auth token: pass --auth-token or set CASCADE_AUTH_TOKEN"),
        "{err}"
    );
}

/// One AWS JSON request on a fresh connection; the whole HTTP answer.
fn post(addr: &str, target: &str, body: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    write!(
        s,
        "POST / HTTP/1.1\r\nHost: {addr}\r\nX-Amz-Target: {target}\r\nContent-Type: application/x-amz-json-1.0\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("send");
    let mut answer = String::new();
    s.read_to_string(&mut answer).expect("read");
    answer
}

/// `cascade serve` on an ephemeral port: the process, its address and the rest of its standard
/// error after the start-up line.
fn serve(state: &Path) -> (std::process::Child, String, impl std::io::BufRead) {
    use std::io::BufRead;
    let mut child = Command::new(env!("CARGO_BIN_EXE_cascade"))
        .args(["serve", "--listen", "127.0.0.1:0", "--state-dir"])
        .arg(state)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start cascade serve");
    let mut stderr = std::io::BufReader::new(child.stderr.take().expect("stderr"));
    let mut line = String::new();
    stderr.read_line(&mut line).expect("start-up line");
    let addr = line
        .split("listening on http://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string();
    (child, addr, stderr)
}

#[test]
fn serve_answers_on_its_port_and_keeps_state() {
    let state = std::env::temp_dir().join(format!("cascade-serve-{}", std::process::id()));
    // Two runs of the server on the same state folder: what the first acknowledged, the second has.
    for run in 0..2 {
        let (mut child, addr, _stderr) = serve(&state);
        if run == 0 {
            let created = post(
                &addr,
                "AmazonSQS.CreateQueue",
                r#"{"QueueName":"kept-queue"}"#,
            );
            assert!(created.starts_with("HTTP/1.1 200"), "{created}");
        }
        let listed = post(&addr, "AmazonSQS.ListQueues", "{}");
        assert!(listed.contains("/000000000000/kept-queue"), "{listed}");
        child.kill().expect("stop the server");
        child.wait().expect("reap the server");
    }
    std::fs::remove_dir_all(&state).ok();
}

#[test]
fn serve_prints_the_engines_warnings() {
    use std::io::Read;
    let state = tempfile::tempdir().expect("temp dir");
    let (mut child, addr, mut stderr) = serve(state.path());
    let created = post(
        &addr,
        "DynamoDB_20120810.CreateTable",
        r#"{"TableName":"indexed","KeySchema":[{"AttributeName":"pk","KeyType":"HASH"}],
            "AttributeDefinitions":[{"AttributeName":"pk","AttributeType":"S"}],
            "BillingMode":"PAY_PER_REQUEST",
            "GlobalSecondaryIndexes":[{"IndexName":"by-pk","KeySchema":[{"AttributeName":"pk","KeyType":"HASH"}],"Projection":{"ProjectionType":"KEYS_ONLY"}}]}"#,
    );
    child.kill().expect("stop the server");
    child.wait().expect("reap the server");
    assert!(created.starts_with("HTTP/1.1 200"), "{created}");
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).expect("read stderr");
    assert!(
        rest.contains(
            "WARN secondary indexes of CreateTable are not supported yet and are ignored"
        ),
        "stderr after the start-up line:\n{rest}"
    );
}
