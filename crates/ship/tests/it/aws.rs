//! Packaging and deploying against a moto server (one per test).
//!
//! moto has no SAM transform and no CloudWatch alarms, so the deployed stacks here use only what
//! it models: nested `AWS::CloudFormation::Stack`s (moto reads their `TemplateURL` from its own
//! S3, so the packaged URLs are followed for real), SQS queues, DynamoDB tables and S3 buckets.
//! moto applies a change set synchronously and writes no resource failure events: a failing
//! resource makes ExecuteChangeSet itself fail, so that is the failure checked here; how a failed
//! run on AWS is explained from its events is tested on recorded events in `events.rs`.

use crate::moto::Moto;
use ship::package::What;
use ship::{Build, DeployOptions, Destroyed, Outcome, PackageOptions, ShipError, TemplateSource};
use std::io::Read;
use std::path::Path;
use std::time::Duration;

const BUCKET: &str = "cascade-artifacts";

/// A project folder from `(path, text)` pairs.
fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in files {
        write(dir.path(), path, text);
    }
    dir
}

fn write(root: &Path, path: &str, text: &str) {
    let path = root.join(path);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn options(dir: &Path) -> PackageOptions {
    PackageOptions {
        template: dir.join("template.yml"),
        bucket: BUCKET.into(),
        prefix: "cascade/main/dev".into(),
        build: Build::Prebuilt,
        work_dir: dir.join(".cascade/dev/package"),
    }
}

/// The one check of a package run: what it uploaded or found unchanged, one line each.
async fn check_package(clients: &ship::Clients, dir: &Path) -> (ship::Packaged, String) {
    let mut log = Vec::new();
    let packaged = ship::package(
        clients,
        &options(dir),
        Some(&dir.join("packaged.yml")),
        &mut log,
    )
    .await
    .unwrap();
    let mut summary = String::new();
    if packaged.created_bucket {
        summary.push_str("created bucket\n");
    }
    for o in &packaged.objects {
        let verb = if o.uploaded { "uploaded" } else { "unchanged" };
        summary.push_str(&format!("{verb} {}\n", o.what));
    }
    (packaged, summary)
}

const FUNCTIONS: &[(&str, &str)] = &[
    (
        "template.yml",
        "AWSTemplateFormatVersion: '2010-09-09'
Resources:
  Functions:
    Type: AWS::CloudFormation::Stack
    Properties:
      TemplateURL: ./templates/functions.yml # the collectors
  Queues:
    Type: AWS::CloudFormation::Stack
    Properties:
      TemplateURL: ./templates/queues.yml
",
    ),
    (
        "templates/functions.yml",
        "Transform: AWS::Serverless-2016-10-31
Resources:
  Collector:
    Type: AWS::Serverless::Function
    Metadata:
      BuildMethod: rust-cargolambda
    Properties:
      CodeUri: ../collector/
      Handler: bootstrap
      Runtime: provided.al2023
",
    ),
    (
        "templates/queues.yml",
        "Resources:\n  Queue:\n    Type: AWS::SQS::Queue\n",
    ),
    ("collector/bootstrap", "collector v1"),
];

async fn get(clients: &ship::Clients, key: &str) -> Vec<u8> {
    let object = clients
        .s3
        .get_object()
        .bucket(BUCKET)
        .key(key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{key}: {e:?}"));
    object.body.collect().await.unwrap().into_bytes().to_vec()
}

#[tokio::test]
async fn package_creates_the_bucket_uploads_and_skips_what_is_unchanged() {
    let moto = Moto::start();
    let clients = moto.clients().await;
    let dir = project(FUNCTIONS);
    assert!(clients
        .s3
        .head_bucket()
        .bucket(BUCKET)
        .send()
        .await
        .is_err());

    let (_, first) = check_package(&clients, dir.path()).await;
    expect_test::expect![[r#"
        created bucket
        uploaded function Collector (collector)
        uploaded template templates/functions.yml
        uploaded template templates/queues.yml
    "#]]
    .assert_eq(&first);
    clients
        .s3
        .head_bucket()
        .bucket(BUCKET)
        .send()
        .await
        .unwrap();

    let (_, second) = check_package(&clients, dir.path()).await;
    expect_test::expect![[r#"
        unchanged function Collector (collector)
        unchanged template templates/functions.yml
        unchanged template templates/queues.yml
    "#]]
    .assert_eq(&second);

    // A new build changes the zip, so its key, so the template that names it; not the others.
    write(dir.path(), "collector/bootstrap", "collector v2");
    let (_, third) = check_package(&clients, dir.path()).await;
    expect_test::expect![[r#"
        uploaded function Collector (collector)
        uploaded template templates/functions.yml
        unchanged template templates/queues.yml
    "#]]
    .assert_eq(&third);
}

#[tokio::test]
async fn packaged_templates_point_at_the_uploaded_objects() {
    let moto = Moto::start();
    let clients = moto.clients().await;
    let dir = project(FUNCTIONS);
    let (packaged, _) = check_package(&clients, dir.path()).await;
    let written = std::fs::read_to_string(dir.path().join("packaged.yml")).unwrap();
    assert_eq!(written, packaged.template);
    assert!(
        written.contains("# the collectors"),
        "comments are kept:\n{written}"
    );

    // Every nested TemplateURL is the path-style S3 URL of an uploaded object with the
    // rewritten child in it; the child's CodeUri is the zip with an executable bootstrap.
    let prefix = format!("https://s3.us-east-1.amazonaws.com/{BUCKET}/");
    let urls: Vec<&str> = written
        .lines()
        .filter_map(|l| l.trim().strip_prefix("TemplateURL: "))
        .map(|l| l.split(" #").next().unwrap())
        .collect();
    assert_eq!(urls.len(), 2, "{written}");
    let mut code_uris = Vec::new();
    for url in urls {
        let key = url.strip_prefix(&prefix).unwrap_or_else(|| panic!("{url}"));
        assert!(key.starts_with("cascade/main/dev/") && key.ends_with(".template"));
        let child = String::from_utf8(get(&clients, key).await).unwrap();
        assert!(!child.contains("./"), "a local path is left:\n{child}");
        code_uris.extend(
            child
                .lines()
                .filter_map(|l| l.trim().strip_prefix("CodeUri: "))
                .map(str::to_string),
        );
    }
    assert_eq!(code_uris.len(), 1);
    let key = code_uris[0]
        .strip_prefix(&format!("s3://{BUCKET}/"))
        .unwrap();
    let zip = get(&clients, key).await;
    assert_eq!(
        key,
        format!("cascade/main/dev/{}.zip", ship::artifact::hex_sha256(&zip))
    );
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).unwrap();
    let mut entry = archive.by_name("bootstrap").unwrap();
    assert_eq!(entry.unix_mode().map(|m| m & 0o777), Some(0o755));
    let mut text = String::new();
    entry.read_to_string(&mut text).unwrap();
    assert_eq!(text, "collector v1");
    assert!(packaged.objects.iter().any(|o| o.what
        == What::Function {
            logical_id: "Collector".into(),
            dir: "collector".into()
        }));
}

/// A nested stack of types moto models, with an S3 bucket kept on deletion.
const STACKS: &[(&str, &str)] = &[
    (
        "template.yml",
        "AWSTemplateFormatVersion: '2010-09-09'
Parameters:
  Environment:
    Type: String
Resources:
  Queues:
    Type: AWS::CloudFormation::Stack
    Properties:
      TemplateURL: ./templates/queues.yml
      Parameters:
        Environment: !Ref Environment
  Tables:
    Type: AWS::CloudFormation::Stack
    Properties:
      TemplateURL: ./templates/tables.yml
      Parameters:
        Environment: !Ref Environment
  Storage:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: !Sub cascade-storage-${Environment}
",
    ),
    (
        "templates/queues.yml",
        "Parameters:
  Environment:
    Type: String
Resources:
  EmployeeQueue:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !Sub employee-queue-${Environment}
      RedrivePolicy:
        deadLetterTargetArn: !GetAtt EmployeeDeadLetterQueue.Arn
        maxReceiveCount: 10
  EmployeeDeadLetterQueue:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !Sub employee-dlq-${Environment}
Outputs:
  EmployeeQueue:
    Value: !Ref EmployeeQueue
",
    ),
    (
        "templates/tables.yml",
        "Parameters:
  Environment:
    Type: String
Resources:
  BranchTable:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: !Sub branch-${Environment}
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions:
        - AttributeName: branch_id
          AttributeType: S
      KeySchema:
        - AttributeName: branch_id
          KeyType: HASH
  Archive:
    Type: AWS::S3::Bucket
    DeletionPolicy: Retain
    Properties:
      BucketName: !Sub cascade-archive-${Environment}
",
    ),
];

fn deploy_options(template: String, fail_on_empty: bool) -> DeployOptions {
    DeployOptions {
        stack_name: "cascade-dev".into(),
        template: TemplateSource::Body(template),
        parameters: vec![("Environment".into(), "dev".into())],
        capabilities: vec!["CAPABILITY_IAM".into(), "CAPABILITY_AUTO_EXPAND".into()],
        fail_on_empty_changeset: fail_on_empty,
        // moto applies a change set within the call: there is never anything to wait for.
        poll: Duration::ZERO,
    }
}

/// Packages the project and deploys it; returns the outcome and what was printed.
async fn check_deploy(
    clients: &ship::Clients,
    dir: &Path,
    fail_on_empty: bool,
) -> (Result<Outcome, ShipError>, String) {
    let mut log = Vec::new();
    let packaged = ship::package(clients, &options(dir), None, &mut log)
        .await
        .unwrap();
    let mut out = Vec::new();
    let outcome = ship::deploy(
        &clients.cloudformation,
        &deploy_options(packaged.template, fail_on_empty),
        &mut out,
    )
    .await;
    (outcome, String::from_utf8(out).unwrap())
}

/// The change-set table of a deploy's output.
fn table(out: &str) -> String {
    out.lines()
        .skip_while(|l| !l.starts_with("Operation"))
        .take_while(|l| !l.starts_with("executing"))
        .map(|l| format!("{l}\n"))
        .collect()
}

#[tokio::test]
async fn change_sets_create_then_update_a_nested_stack() {
    let moto = Moto::start();
    let clients = moto.clients().await;
    let dir = project(STACKS);

    let (outcome, out) = check_deploy(&clients, dir.path(), true).await;
    assert_eq!(
        outcome.unwrap(),
        Outcome::Deployed {
            status: "CREATE_COMPLETE".into()
        },
        "{out}"
    );
    assert!(out.contains("(CREATE)"), "{out}");
    expect_test::expect![[r#"
        Operation  LogicalResourceId  ResourceType                Replacement
        ---------  -----------------  --------------------------  -----------
        + Add      Queues             AWS::CloudFormation::Stack  N/A
        + Add      Tables             AWS::CloudFormation::Stack  N/A
        + Add      Storage            AWS::S3::Bucket             N/A
    "#]]
    .assert_eq(&table(&out));
    assert!(
        out.contains("CREATE_COMPLETE"),
        "the events are shown:\n{out}"
    );
    // The nested stacks were read from the packaged TemplateURLs and created.
    let cfn = &clients.cloudformation;
    let resources = cfn
        .list_stack_resources()
        .stack_name("cascade-dev")
        .send()
        .await
        .unwrap();
    let nested: Vec<&str> = resources
        .stack_resource_summaries()
        .iter()
        .filter(|r| r.resource_type() == Some("AWS::CloudFormation::Stack"))
        .filter_map(|r| r.physical_resource_id())
        .collect();
    assert_eq!(nested.len(), 2);
    let mut nested_types = Vec::new();
    for id in nested {
        let inner = cfn
            .list_stack_resources()
            .stack_name(id)
            .send()
            .await
            .unwrap();
        for r in inner.stack_resource_summaries() {
            nested_types.push(format!(
                "{} {}",
                r.logical_resource_id().unwrap_or_default(),
                r.resource_type().unwrap_or_default()
            ));
        }
    }
    nested_types.sort();
    assert_eq!(
        nested_types,
        [
            "Archive AWS::S3::Bucket",
            "BranchTable AWS::DynamoDB::Table",
            "EmployeeDeadLetterQueue AWS::SQS::Queue",
            "EmployeeQueue AWS::SQS::Queue",
        ]
    );
    clients
        .s3
        .head_bucket()
        .bucket("cascade-storage-dev")
        .send()
        .await
        .unwrap();

    // A changed nested template is a new object, so its TemplateURL changes: an UPDATE.
    write(
        dir.path(),
        "templates/queues.yml",
        &STACKS[1]
            .1
            .replace("employee-dlq-", "employee-dead-letters-"),
    );
    let (outcome, out) = check_deploy(&clients, dir.path(), true).await;
    assert_eq!(
        outcome.unwrap(),
        Outcome::Deployed {
            status: "UPDATE_COMPLETE".into()
        },
        "{out}"
    );
    assert!(out.contains("(UPDATE)"), "{out}");
    expect_test::expect![[r#"
        Operation  LogicalResourceId  ResourceType                Replacement
        ---------  -----------------  --------------------------  -----------
        * Modify   Queues             AWS::CloudFormation::Stack  N/A
    "#]]
    .assert_eq(&table(&out));
}

#[tokio::test]
async fn an_empty_change_set_fails_unless_told_otherwise() {
    let moto = Moto::start();
    let clients = moto.clients().await;
    let dir = project(STACKS);
    let (first, out) = check_deploy(&clients, dir.path(), true).await;
    assert!(matches!(first, Ok(Outcome::Deployed { .. })), "{out}");

    let (strict, _) = check_deploy(&clients, dir.path(), true).await;
    let err = strict.unwrap_err();
    assert!(
        matches!(err, ShipError::NoChanges { ref stack } if stack == "cascade-dev"),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("--no-fail-on-empty-changeset"),
        "{err}"
    );

    let (lenient, out) = check_deploy(&clients, dir.path(), false).await;
    assert_eq!(lenient.unwrap(), Outcome::NoChanges);
    assert!(
        out.contains("no changes to deploy: stack cascade-dev is up to date"),
        "{out}"
    );
}

#[tokio::test]
async fn a_failing_stack_is_reported_with_its_reason() {
    let moto = Moto::start();
    let clients = moto.clients().await;
    // The stack's bucket takes the name of the artifacts bucket, which already exists.
    let root = STACKS[0]
        .1
        .replace("cascade-storage-${Environment}", BUCKET);
    let dir = project(&[("template.yml", &root), STACKS[1], STACKS[2]]);
    let (outcome, out) = check_deploy(&clients, dir.path(), true).await;
    let err = outcome.unwrap_err();
    assert!(
        matches!(&err, ShipError::Aws { operation: "ExecuteChangeSet", message } if message.contains("BucketAlreadyExists")),
        "{err}\n{out}"
    );
}

#[tokio::test]
async fn destroy_deletes_the_stack_and_names_what_was_retained() {
    let moto = Moto::start();
    let clients = moto.clients().await;
    let dir = project(STACKS);
    let (outcome, out) = check_deploy(&clients, dir.path(), true).await;
    assert!(matches!(outcome, Ok(Outcome::Deployed { .. })), "{out}");

    let mut out = Vec::new();
    let destroyed = ship::destroy(
        &clients.cloudformation,
        "cascade-dev",
        Duration::ZERO,
        &mut out,
    )
    .await
    .unwrap();
    let out = String::from_utf8(out).unwrap();
    let Destroyed::Deleted { retained } = destroyed else {
        panic!("{destroyed:?}\n{out}")
    };
    let retained: Vec<String> = retained
        .iter()
        .map(|r| format!("{} {} {}", r.path, r.type_, r.physical_id))
        .collect();
    assert_eq!(
        retained,
        ["Tables/Archive AWS::S3::Bucket cascade-archive-dev"],
        "{out}"
    );
    assert!(out.contains("Tables/Archive"), "{out}");
    let s3 = &clients.s3;
    s3.head_bucket()
        .bucket("cascade-archive-dev")
        .send()
        .await
        .unwrap();
    assert!(s3
        .head_bucket()
        .bucket("cascade-storage-dev")
        .send()
        .await
        .is_err());

    let mut out = Vec::new();
    let again = ship::destroy(
        &clients.cloudformation,
        "cascade-dev",
        Duration::ZERO,
        &mut out,
    )
    .await
    .unwrap();
    assert_eq!(again, Destroyed::Missing);
}
