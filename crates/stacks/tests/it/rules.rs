//! CloudFormation's rules: data loss needs consent, exports in use stay, failures roll back.

use crate::{statuses_of, Env, Project};
use dynamodb::{AttributeValue, GetItemInput, PutItemInput};
use stacks::{Action, StacksError};

fn put_event(env: &Env, key: &str) {
    let item = [(key.to_string(), AttributeValue::S("e-1".into()))]
        .into_iter()
        .collect();
    env.deployer
        .dynamodb()
        .put_item(PutItemInput {
            table_name: "events-dev".into(),
            item,
            ..Default::default()
        })
        .expect("put");
}

fn has_event(env: &Env, key: &str) -> bool {
    let key = [(key.to_string(), AttributeValue::S("e-1".into()))]
        .into_iter()
        .collect();
    env.deployer
        .dynamodb()
        .get_item(GetItemInput {
            table_name: "events-dev".into(),
            key,
            ..Default::default()
        })
        .map(|o| o.item.is_some())
        .unwrap_or(false)
}

#[test]
fn table_key_change_is_a_replace_that_needs_allow_data_loss() {
    let project = Project::copy("app");
    let env = Env::new();
    env.deploy(project.path(), "dev", false).0.expect("deploy");
    put_event(&env, "event_id");
    project.edit(
        "producer.yml",
        "VisibilityTimeout: 60",
        "VisibilityTimeout: 90",
    );
    project.edit(
        "producer.yml",
        "- AttributeName: event_id\n          KeyType: HASH",
        "- AttributeName: event_ts\n          KeyType: HASH",
    );
    project.edit(
        "producer.yml",
        "- AttributeName: event_id\n          AttributeType: S",
        "- AttributeName: event_ts\n          AttributeType: S",
    );
    let plan = env.plan(project.path(), "dev").expect("plan");
    let replace = plan
        .changes()
        .find(|c| c.logical_id == "EventsTable")
        .expect("EventsTable changes");
    assert_eq!(replace.action, Action::Replace);
    assert!(replace.deletes_data);

    // Refused before any change: the queue modification listed before it is not made either.
    let (refused, events) = env.deploy(project.path(), "dev", false);
    let err = refused.expect_err("data loss refused");
    assert!(matches!(err, StacksError::DataLoss { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("Replace `cascade-Producer/EventsTable` (AWS::DynamoDB::Table) deletes the items of `events-dev`"),
        "{err}"
    );
    assert!(events.is_empty());
    assert_eq!(env.queue_attributes("jobs-dev")["VisibilityTimeout"], "60");
    assert!(has_event(&env, "event_id"));

    let (done, events) = env.deploy(project.path(), "dev", true);
    done.expect("replace allowed");
    let table = env
        .deployer
        .dynamodb()
        .describe_table("events-dev")
        .expect("table");
    assert_eq!(table.key_schema[0].attribute_name, "event_ts");
    assert_eq!(table.item_count, 0);
    assert_eq!(env.queue_attributes("jobs-dev")["VisibilityTimeout"], "90");
    assert_eq!(
        statuses_of(&events, "EventsTable"),
        ["UPDATE_IN_PROGRESS", "UPDATE_COMPLETE"]
    );
}

#[test]
fn removing_a_queue_needs_allow_data_loss_but_a_retained_table_does_not() {
    let project = Project::copy("app");
    let env = Env::new();
    env.deploy(project.path(), "dev", false).0.expect("deploy");
    project.edit(
        "consumer.yml",
        "  ResultsQueue:\n    Type: AWS::SQS::Queue\n    Properties:\n      QueueName: !Sub results-${Environment}\n",
        "",
    );
    let err = env
        .deploy(project.path(), "dev", false)
        .0
        .expect_err("refused");
    assert!(
        err.to_string()
            .contains("Remove `cascade-Consumer/ResultsQueue`"),
        "{err}"
    );
    assert!(env.queue_exists("results-dev"));
    env.deploy(project.path(), "dev", true).0.expect("allowed");
    assert!(!env.queue_exists("results-dev"));
    assert_eq!(
        env.deployer
            .registry()
            .stack("cascade-Consumer")
            .expect("read")
            .expect("stack")
            .status,
        "UPDATE_COMPLETE"
    );
}

#[test]
fn removing_an_imported_export_is_refused_naming_the_importer() {
    let project = Project::copy("app");
    let env = Env::new();
    env.deploy(project.path(), "dev", false).0.expect("deploy");
    // The consumer stops importing and the producer stops exporting in the same deploy: AWS
    // updates the producer first and refuses, because the consumer still imports it.
    project.edit(
        "consumer.yml",
        "DisplayName:\n        Fn::ImportValue: !Sub ${Environment}-JobsQueue",
        "DisplayName: jobs",
    );
    project.edit(
        "producer.yml",
        "    Export:\n      Name: !Sub ${Environment}-JobsQueue\n",
        "",
    );
    let (outcome, events) = env.deploy(project.path(), "dev", false);
    let err = outcome.expect_err("refused");
    assert_eq!(
        err.to_string(),
        "cannot remove export `dev-JobsQueue` of stack `cascade-Producer`: it is imported by `cascade-Consumer`"
    );
    assert!(events.is_empty());
    assert_eq!(
        env.deployer.registry().exports().expect("exports").len(),
        2,
        "nothing changed"
    );
}

#[test]
fn changing_an_imported_export_is_refused() {
    let project = Project::copy("app");
    let env = Env::new();
    env.deploy(project.path(), "dev", false).0.expect("deploy");
    project.edit(
        "producer.yml",
        "QueueName: !Sub jobs-${Environment}",
        "QueueName: !Sub work-${Environment}",
    );
    let err = env
        .deploy(project.path(), "dev", true)
        .0
        .expect_err("refused");
    assert!(
        matches!(&err, StacksError::ExportInUse { change: "change", importers, .. } if importers == &["cascade-Consumer"]),
        "{err}"
    );
    assert!(env.queue_exists("jobs-dev") && !env.queue_exists("work-dev"));
}

#[test]
fn deleting_a_stack_whose_export_is_imported_is_refused() {
    let project = Project::copy("app");
    let env = Env::new();
    env.deploy(project.path(), "dev", false).0.expect("deploy");
    // The root no longer has the producer; the consumer stays (and, in this edit, stops importing).
    project.edit(
        "template.yml",
        "  Producer:\n    Type: AWS::CloudFormation::Stack\n    Properties:\n      TemplateURL: ./producer.yml\n      Parameters:\n        Environment: !Ref Environment\n",
        "",
    );
    project.edit("template.yml", "    DependsOn: Producer\n", "");
    project.edit(
        "template.yml",
        "Outputs:\n  JobsQueue:\n    Value: !GetAtt Producer.Outputs.JobsQueue\n",
        "",
    );
    project.edit(
        "consumer.yml",
        "DisplayName:\n        Fn::ImportValue: !Sub ${Environment}-JobsQueue",
        "DisplayName: jobs",
    );
    let err = env
        .deploy(project.path(), "dev", true)
        .0
        .expect_err("refused");
    assert!(
        matches!(&err, StacksError::StackExportImported { stack, .. } if stack == "cascade-Producer"),
        "{err}"
    );
    assert!(
        err.to_string().contains("imported by `cascade-Consumer`"),
        "{err}"
    );
}

#[test]
fn a_failing_first_deploy_rolls_back_with_nothing_left() {
    let project = Project::copy("app");
    project.edit(
        "consumer.yml",
        "Outputs:",
        "  BrokenQueue:\n    Type: AWS::SQS::Queue\n    Properties:\n      QueueName: !Sub broken-${Environment}\n      RedrivePolicy:\n        deadLetterTargetArn: arn:aws:sqs:us-east-1:000000000000:no-such-queue\n        maxReceiveCount: 3\nOutputs:",
    );
    let env = Env::new();
    let (outcome, events) = env.deploy(project.path(), "dev", false);
    let err = outcome.expect_err("fails");
    assert!(
        matches!(&err, StacksError::Failed { logical_id, action: "create", .. } if logical_id == "BrokenQueue"),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("Dead letter target does not exist"),
        "{err}"
    );
    for queue in ["jobs-dev", "jobs-dlq-dev", "results-dev", "broken-dev"] {
        assert!(!env.queue_exists(queue), "{queue} left behind");
    }
    assert!(!env.table_exists("orders-dev") && !env.table_exists("events-dev"));
    let registry = env.deployer.registry();
    assert!(registry.resources().expect("resources").is_empty());
    assert!(registry.exports().expect("exports").is_empty());
    assert!(
        env.statuses()
            .iter()
            .all(|s| s.ends_with(" ROLLBACK_COMPLETE")),
        "{:?}",
        env.statuses()
    );
    assert_eq!(
        statuses_of(&events, "BrokenQueue"),
        ["CREATE_IN_PROGRESS", "CREATE_FAILED"]
    );
    assert_eq!(
        statuses_of(&events, "cascade"),
        [
            "CREATE_IN_PROGRESS",
            "ROLLBACK_IN_PROGRESS",
            "ROLLBACK_COMPLETE"
        ]
    );
    assert_eq!(
        statuses_of(&events, "JobsQueue"),
        ["CREATE_IN_PROGRESS", "CREATE_COMPLETE", "DELETE_COMPLETE"]
    );
    assert!(registry.interrupted().expect("read").is_none());

    // Fixed, the next deploy creates everything.
    project.edit(
        "consumer.yml",
        "arn:aws:sqs:us-east-1:000000000000:no-such-queue",
        "!GetAtt ResultsQueue.Arn",
    );
    env.deploy(project.path(), "dev", false)
        .0
        .expect("fixed deploy");
    assert!(env.queue_exists("broken-dev"));
    assert!(
        env.statuses()
            .iter()
            .all(|s| s.ends_with(" CREATE_COMPLETE")),
        "{:?}",
        env.statuses()
    );
}

#[test]
fn a_failing_update_restores_the_last_complete_state() {
    let project = Project::copy("app");
    let env = Env::new();
    env.deploy(project.path(), "dev", false).0.expect("deploy");
    project.edit(
        "producer.yml",
        "VisibilityTimeout: 60",
        "VisibilityTimeout: 300",
    );
    project.edit("producer.yml", "maxReceiveCount: 3", "maxReceiveCount: 4");
    project.edit(
        "consumer.yml",
        "Outputs:",
        "  NewQueue:\n    Type: AWS::SQS::Queue\n    Properties:\n      QueueName: !Sub new-${Environment}\n  BrokenQueue:\n    Type: AWS::SQS::Queue\n    Properties:\n      QueueName: !Sub broken-${Environment}\n      RedrivePolicy:\n        deadLetterTargetArn: arn:aws:sqs:us-east-1:000000000000:no-such-queue\n        maxReceiveCount: 3\nOutputs:",
    );
    let (outcome, events) = env.deploy(project.path(), "dev", false);
    outcome.expect_err("fails");
    let attrs = env.queue_attributes("jobs-dev");
    assert_eq!(attrs["VisibilityTimeout"], "60");
    assert!(
        attrs["RedrivePolicy"].contains("\"maxReceiveCount\":3"),
        "{attrs:?}"
    );
    assert!(!env.queue_exists("new-dev") && !env.queue_exists("broken-dev"));
    let stored = env
        .deployer
        .registry()
        .stack_resources("cascade-Producer")
        .expect("read");
    let jobs = stored
        .iter()
        .find(|r| r.resource.logical_id == "JobsQueue")
        .expect("JobsQueue");
    assert_eq!(jobs.resource.properties["VisibilityTimeout"], 60);
    assert_eq!(
        statuses_of(&events, "Producer"),
        [
            "UPDATE_IN_PROGRESS",
            "UPDATE_ROLLBACK_IN_PROGRESS",
            "UPDATE_ROLLBACK_COMPLETE"
        ]
    );
    assert_eq!(
        statuses_of(&events, "JobsQueue"),
        ["UPDATE_IN_PROGRESS", "UPDATE_COMPLETE", "UPDATE_COMPLETE"]
    );
}
