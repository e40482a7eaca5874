//! The CloudFormation read API, driven by the AWS SDK's CloudFormation client, on an endpoint
//! whose store holds a deploy of the `stacks` crate's fixture project.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::support::{start, Server};
use stacks::{DeployOptions, Deployer, Desired};
use template::{LoadError, Loader};

struct Folder(PathBuf);

impl Loader for Folder {
    fn read(&self, path: &str) -> Result<String, LoadError> {
        std::fs::read_to_string(self.0.join(path)).map_err(|_| LoadError::NotFound(path.into()))
    }
    fn exists(&self, path: &str) -> bool {
        self.0.join(path).exists()
    }
}

/// Deploys `crates/stacks/tests/data/app` into the server's store.
fn deploy_fixture(server: &Server) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../stacks/tests/data/app");
    let loader = Folder(root.clone());
    let project = template::load("template.yml", &loader, &template::Options::default());
    assert_eq!(project.errors(), 0, "{:?}", project.diagnostics);
    let desired = Desired::from_project(&project, &loader, &root);
    let services = &server.services;
    let deployer = Deployer::with_engines(
        services.sqs.store().clone(),
        Arc::new(store::SystemClock),
        services.sqs.clone(),
        services.dynamodb.clone(),
    )
    .expect("deployer");
    deployer
        .deploy(&desired, &DeployOptions::default(), &mut |_| {})
        .expect("deploy");
}

fn client(server: &Server) -> aws_sdk_cloudformation::Client {
    client_as!(aws_sdk_cloudformation, server, "AKIDLOCAL", "secret")
}

#[tokio::test]
async fn describe_and_list_stacks() {
    let server = start().await;
    let cfn = client(&server);
    let empty = cfn.describe_stacks().send().await.expect("describe");
    assert!(empty.stacks().is_empty());
    deploy_fixture(&server);

    let out = cfn.describe_stacks().send().await.expect("describe");
    let names: Vec<(&str, &str)> = out
        .stacks()
        .iter()
        .map(|s| {
            (
                s.stack_name().unwrap_or(""),
                s.stack_status().map(|x| x.as_str()).unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            ("cascade", "CREATE_COMPLETE"),
            ("cascade-Producer", "CREATE_COMPLETE"),
            ("cascade-Consumer", "CREATE_COMPLETE")
        ]
    );
    let producer = &out.stacks()[1];
    assert_eq!(producer.parent_id(), out.stacks()[0].stack_id());
    assert_eq!(producer.root_id(), out.stacks()[0].stack_id());
    assert!(producer.creation_time().is_some());
    let output = &producer.outputs()[0];
    assert_eq!(output.output_key(), Some("JobsQueue"));
    assert_eq!(
        output.output_value(),
        Some("https://sqs.us-east-1.amazonaws.com/000000000000/jobs-dev")
    );
    assert_eq!(output.export_name(), Some("dev-JobsQueue"));
    let environment = &producer.parameters()[0];
    assert_eq!(
        (environment.parameter_key(), environment.parameter_value()),
        (Some("Environment"), Some("dev"))
    );

    let one = cfn
        .describe_stacks()
        .stack_name("cascade-Consumer")
        .send()
        .await
        .expect("one stack");
    assert_eq!(one.stacks().len(), 1);

    let err = cfn
        .describe_stacks()
        .stack_name("nope")
        .send()
        .await
        .expect_err("no such stack");
    let service = err.into_service_error();
    assert_eq!(
        aws_sdk_cloudformation::error::ProvideErrorMetadata::code(&service),
        Some("ValidationError")
    );
    assert_eq!(
        aws_sdk_cloudformation::error::ProvideErrorMetadata::message(&service),
        Some("Stack with id nope does not exist")
    );

    let listed = cfn.list_stacks().send().await.expect("list");
    assert_eq!(listed.stack_summaries().len(), 3);
    let filtered = cfn
        .list_stacks()
        .stack_status_filter(aws_sdk_cloudformation::types::StackStatus::DeleteComplete)
        .send()
        .await
        .expect("list");
    assert!(filtered.stack_summaries().is_empty());
}

#[tokio::test]
async fn resources_events_exports_imports_and_templates() {
    let server = start().await;
    deploy_fixture(&server);
    let cfn = client(&server);

    let resources = cfn
        .describe_stack_resources()
        .stack_name("cascade-Producer")
        .send()
        .await
        .expect("resources");
    let rows: Vec<(&str, &str, &str)> = resources
        .stack_resources()
        .iter()
        .map(|r| {
            (
                r.logical_resource_id().unwrap_or(""),
                r.resource_type().unwrap_or(""),
                r.physical_resource_id().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (
                "JobsDeadLetterQueue",
                "AWS::SQS::Queue",
                "https://sqs.us-east-1.amazonaws.com/000000000000/jobs-dlq-dev"
            ),
            (
                "JobsQueue",
                "AWS::SQS::Queue",
                "https://sqs.us-east-1.amazonaws.com/000000000000/jobs-dev"
            ),
            ("OrdersTable", "AWS::DynamoDB::Table", "orders-dev"),
            ("EventsTable", "AWS::DynamoDB::Table", "events-dev"),
        ]
    );
    let by_physical = cfn
        .describe_stack_resources()
        .physical_resource_id("orders-dev")
        .send()
        .await
        .expect("by physical id");
    assert_eq!(by_physical.stack_resources().len(), 1);
    let listed = cfn
        .list_stack_resources()
        .stack_name("cascade-Producer")
        .send()
        .await
        .expect("list resources");
    assert_eq!(listed.stack_resource_summaries().len(), 4);

    let events = cfn
        .describe_stack_events()
        .stack_name("cascade")
        .send()
        .await
        .expect("events");
    let statuses: Vec<&str> = events
        .stack_events()
        .iter()
        .filter(|e| e.logical_resource_id() == Some("cascade"))
        .filter_map(|e| e.resource_status().map(|s| s.as_str()))
        .collect();
    assert_eq!(
        statuses,
        ["CREATE_COMPLETE", "CREATE_IN_PROGRESS"],
        "newest first"
    );
    assert!(events
        .stack_events()
        .iter()
        .all(|e| e.timestamp().is_some()));

    let exports = cfn.list_exports().send().await.expect("exports");
    let names: Vec<&str> = exports.exports().iter().filter_map(|e| e.name()).collect();
    assert_eq!(names, ["dev-JobsQueue", "dev-OrdersTable"]);
    assert!(exports.exports()[0]
        .exporting_stack_id()
        .is_some_and(|id| id
            .starts_with("arn:aws:cloudformation:us-east-1:000000000000:stack/cascade-Producer/")));

    let imports = cfn
        .list_imports()
        .export_name("dev-JobsQueue")
        .send()
        .await
        .expect("imports");
    assert_eq!(imports.imports(), ["cascade-Consumer"]);
    let err = cfn
        .list_imports()
        .export_name("dev-OrdersTable")
        .send()
        .await
        .expect_err("not imported");
    assert!(format!("{:?}", err.into_service_error()).contains("is not imported by any stack"));

    let template = cfn
        .get_template()
        .stack_name("cascade-Producer")
        .send()
        .await
        .expect("template");
    assert!(template
        .template_body()
        .is_some_and(|t| t.contains("JobsDeadLetterQueue:\n    Type: AWS::SQS::Queue")));
}
