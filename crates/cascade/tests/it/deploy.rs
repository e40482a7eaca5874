//! `cascade deploy`, `plan`, `destroy` and `status` run as a user runs them, on copies of the
//! `stacks` crate's fixture project in temporary folders; and a deploy killed with SIGKILL.

use super::{cascade, repo};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A copy of `crates/stacks/tests/data/<fixture>` in a temporary folder.
fn project(fixture: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let from = repo().join("crates/stacks/tests/data").join(fixture);
    for entry in std::fs::read_dir(from).expect("fixture") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).expect("copy");
    }
    dir
}

fn edit(dir: &Path, file: &str, from: &str, to: &str) {
    let path = dir.join(file);
    let text = std::fs::read_to_string(&path).expect("read");
    assert!(text.contains(from), "`{from}` not in {file}");
    std::fs::write(&path, text.replace(from, to)).expect("write");
}

fn status_json(dir: &Path, env: &str) -> serde_json::Value {
    let (code, out, err) = cascade(dir, &["status", "--env", env, "--output", "json"]);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).expect("json")
}

/// Every (stack, status) of a `status --output json` tree.
fn statuses(v: &serde_json::Value) -> Vec<String> {
    fn walk(v: &serde_json::Value, out: &mut Vec<String>) {
        for s in v["stacks"].as_array().into_iter().flatten() {
            out.push(format!(
                "{} {}",
                s["name"].as_str().unwrap_or(""),
                s["status"].as_str().unwrap_or("")
            ));
            walk(s, out);
        }
    }
    let mut out = Vec::new();
    walk(v, &mut out);
    out
}

#[test]
fn deploy_plan_status_and_destroy() {
    let dir = project("app");
    let dir = dir.path();
    let (code, out, err) = cascade(dir, &["deploy"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("stack cascade (root): create\n"), "{out}");
    assert!(
        out.contains(
            "  CREATE_COMPLETE                      cascade-Producer/JobsQueue (AWS::SQS::Queue)\n"
        ),
        "{out}"
    );
    assert!(out.ends_with("deployed environment dev: 3 stacks changed, 8 added, 0 modified, 0 replaced, 0 removed\n"), "{out}");
    assert!(dir.join(".cascade/dev/state.db").exists());

    let (code, out, _) = cascade(dir, &["deploy"]);
    assert_eq!((code, out.as_str()), (0, "No changes\n"));
    let (code, out, _) = cascade(dir, &["deploy", "--fail-on-empty-changeset"]);
    assert_eq!((code, out.as_str()), (1, "No changes\n"));

    let status = status_json(dir, "dev");
    assert_eq!(
        statuses(&status),
        [
            "cascade CREATE_COMPLETE",
            "cascade-Producer CREATE_COMPLETE",
            "cascade-Consumer CREATE_COMPLETE"
        ]
    );
    let producer = &status["stacks"][0]["stacks"][0];
    assert_eq!(producer["outputs"][0]["export"], "dev-JobsQueue");
    let jobs = producer["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .find(|r| r["logical_id"] == "JobsQueue")
        .expect("JobsQueue");
    assert_eq!(
        jobs["physical_id"],
        "https://sqs.us-east-1.amazonaws.com/000000000000/jobs-dev"
    );
    let (code, out, _) = cascade(dir, &["status"]);
    assert_eq!(code, 0);
    assert!(out.contains("  cascade-Producer (Producer)  CREATE_COMPLETE\n    output JobsQueue = https://sqs.us-east-1.amazonaws.com/000000000000/jobs-dev  (export dev-JobsQueue)\n"), "{out}");

    // A queue attribute is a Modify; plan shows it and changes nothing.
    edit(
        dir,
        "producer.yml",
        "VisibilityTimeout: 60",
        "VisibilityTimeout: 61",
    );
    let (code, out, _) = cascade(dir, &["plan"]);
    assert_eq!(code, 0);
    expect_test::expect![[r#"
        stack cascade-Producer (Producer): update
          ~ Modify   JobsQueue (AWS::SQS::Queue) [VisibilityTimeout]
        0 to add, 1 to modify, 0 to replace, 0 to remove
    "#]]
    .assert_eq(&out);

    // A table key change needs --allow-data-loss, in plan as in deploy, and changes nothing.
    edit(
        dir,
        "producer.yml",
        "- AttributeName: event_id\n          KeyType: HASH",
        "- AttributeName: id\n          KeyType: HASH",
    );
    edit(
        dir,
        "producer.yml",
        "- AttributeName: event_id\n          AttributeType: S",
        "- AttributeName: id\n          AttributeType: S",
    );
    let (code, _, err) = cascade(dir, &["plan"]);
    assert_eq!(code, 1);
    assert!(err.contains("needs --allow-data-loss"), "{err}");
    let (code, out, err) = cascade(dir, &["deploy"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        err.contains("Replace `cascade-Producer/EventsTable`"),
        "{err}"
    );
    assert!(!out.contains("UPDATE_IN_PROGRESS"), "{out}");
    let (code, _, _) = cascade(dir, &["plan", "--allow-data-loss"]);
    assert_eq!(code, 0);
    let (code, out, err) = cascade(dir, &["deploy", "--allow-data-loss"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("1 modified, 1 replaced"), "{out}");

    let (code, out, err) = cascade(dir, &["destroy"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("DELETE_SKIPPED                       cascade-Producer/OrdersTable (AWS::DynamoDB::Table): DeletionPolicy Retain"), "{out}");
    assert!(
        out.ends_with("destroyed environment dev: 3 stacks deleted\n"),
        "{out}"
    );
    let (code, out, _) = cascade(dir, &["status"]);
    assert_eq!(
        (code, out.as_str()),
        (0, "No stacks deployed in environment dev\n")
    );
    let (code, out, _) = cascade(dir, &["destroy"]);
    assert_eq!(
        (code, out.as_str()),
        (0, "Nothing to destroy in environment dev\n")
    );
}

#[test]
fn deploy_refuses_templates_with_errors() {
    let dir = repo().join("crates/template/tests/data/cases/reference-errors");
    let state = tempfile::tempdir().expect("temp dir");
    let state_dir = state.path().to_str().expect("utf-8");
    let (code, out, err) = cascade(&dir, &["deploy", "--state-dir", state_dir]);
    assert_eq!(code, 1, "{out}");
    assert!(err.contains("error["), "{err}");
    assert!(
        err.contains("in the templates; nothing was deployed"),
        "{err}"
    );
    assert!(!state.path().join("state.db").exists());
}

#[test]
fn a_failing_deploy_exits_1_and_rolls_back() {
    let dir = project("app");
    let dir = dir.path();
    edit(dir, "consumer.yml", "QueueName: !Sub results-${Environment}", "QueueName: !Sub results-${Environment}\n      Tags:\n        - Key: aws:reserved\n          Value: x");
    let (code, out, err) = cascade(dir, &["deploy"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        err.contains("create of `cascade-Consumer/ResultsQueue` (AWS::SQS::Queue) failed"),
        "{err}"
    );
    assert!(
        out.contains(
            "  ROLLBACK_COMPLETE                    cascade/cascade (AWS::CloudFormation::Stack)\n"
        ),
        "{out}"
    );
    assert!(statuses(&status_json(dir, "dev"))
        .iter()
        .all(|s| s.ends_with(" ROLLBACK_COMPLETE")));
}

#[test]
fn environments_are_side_by_side() {
    let dir = project("app");
    let dir = dir.path();
    for env in ["dev", "prod"] {
        let (code, out, err) = cascade(dir, &["deploy", "--env", env]);
        assert_eq!(code, 0, "{out}{err}");
    }
    assert!(
        dir.join(".cascade/dev/state.db").exists() && dir.join(".cascade/prod/state.db").exists()
    );
    let prod = status_json(dir, "prod");
    let exports: Vec<&str> = prod["stacks"][0]["stacks"][0]["outputs"]
        .as_array()
        .expect("outputs")
        .iter()
        .filter_map(|o| o["export"].as_str())
        .collect();
    assert_eq!(exports, ["prod-JobsQueue", "prod-OrdersTable"]);
    let (code, _, _) = cascade(dir, &["destroy", "--env", "dev"]);
    assert_eq!(code, 0);
    assert_eq!(
        statuses(&status_json(dir, "prod"))[0],
        "cascade CREATE_COMPLETE"
    );
}

#[test]
fn a_deploy_killed_mid_way_is_rolled_back_by_the_next() {
    let state = tempfile::tempdir().expect("temp dir");
    let template: PathBuf = repo().join("template.yml");
    let args = |cmd: &str| -> Vec<String> {
        vec![
            cmd.into(),
            "--template".into(),
            template.to_string_lossy().into_owned(),
            "--state-dir".into(),
            state.path().to_string_lossy().into_owned(),
        ]
    };
    let mut child = Command::new(env!("CARGO_BIN_EXE_cascade"))
        .args(args("deploy"))
        .env(cascade_hold(), "12")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start cascade deploy");
    let mut line = String::new();
    BufReader::new(child.stderr.take().expect("stderr"))
        .read_line(&mut line)
        .expect("hold line");
    assert_eq!(line, "holding after 12 resources\n");
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");

    let status_args: Vec<String> =
        [args("status"), vec!["--output".into(), "json".into()]].concat();
    let status_args: Vec<&str> = status_args.iter().map(String::as_str).collect();
    let (_, out, _) = cascade(&repo(), &status_args);
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["interrupted"], "deploy");
    assert!(statuses(&v)
        .iter()
        .any(|s| s.ends_with("CREATE_IN_PROGRESS")));

    let deploy_args = args("deploy");
    let deploy_args: Vec<&str> = deploy_args.iter().map(String::as_str).collect();
    let (code, out, err) = cascade(&repo(), &deploy_args);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("rolled back the interrupted operation of environment dev\n"),
        "{out}"
    );
    assert!(out.contains("  DELETE_COMPLETE                      cascade-Tables/BranchDynamoDBTable (AWS::DynamoDB::Table)\n"), "{out}");
    assert!(
        out.contains("deployed environment dev: 8 stacks changed, 38 added"),
        "{out}"
    );
    let (_, out, _) = cascade(&repo(), &status_args);
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["interrupted"], serde_json::Value::Null);
    let all = statuses(&v);
    assert_eq!(all.len(), 8);
    assert!(
        all.iter().all(|s| s.ends_with(" CREATE_COMPLETE")),
        "{all:?}"
    );
}

fn cascade_hold() -> &'static str {
    "CASCADE_DEPLOY_HOLD_AFTER"
}

#[test]
fn deploy_commands_have_help_with_an_example() {
    for cmd in ["deploy", "plan", "destroy", "status"] {
        let (code, out, _) = cascade(&repo(), &[cmd, "--help"]);
        assert_eq!(code, 0);
        assert!(out.contains("Examples:\n  cascade "), "{cmd}: {out}");
    }
}
