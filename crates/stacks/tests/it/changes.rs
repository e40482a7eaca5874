//! Change sets: what `plan` shows for each kind of change.

use crate::{Env, Project};

#[test]
fn plan_shows_add_modify_replace_and_remove() {
    let project = Project::copy("app");
    let env = Env::new();
    env.deploy(project.path(), "dev", false).0.expect("deploy");
    project.edit("producer.yml", "maxReceiveCount: 3", "maxReceiveCount: 5");
    project.edit(
        "producer.yml",
        "- AttributeName: event_id\n          KeyType: HASH",
        "- AttributeName: event_ts\n          KeyType: HASH",
    );
    project.edit(
        "producer.yml",
        "- AttributeName: event_id\n          AttributeType: S",
        "- AttributeName: event_ts\n          AttributeType: N",
    );
    project.edit("consumer.yml", "  ResultsQueue:\n    Type: AWS::SQS::Queue\n    Properties:\n      QueueName: !Sub results-${Environment}\n", "  Results:\n    Type: AWS::SNS::Topic\n");
    let plan = env.plan(project.path(), "dev").expect("plan");
    expect_test::expect![[r#"
        stack cascade-Producer (Producer): update
          ~ Modify   JobsQueue (AWS::SQS::Queue) [RedrivePolicy.maxReceiveCount]
          ! Replace  EventsTable (AWS::DynamoDB::Table) [AttributeDefinitions[0].AttributeName, AttributeDefinitions[0].AttributeType, KeySchema[0].AttributeName] (deletes data)
        stack cascade-Consumer (Consumer): update
          + Add      Results (AWS::SNS::Topic)
          - Remove   ResultsQueue (AWS::SQS::Queue) (deletes data)
        1 to add, 1 to modify, 1 to replace, 1 to remove
    "#]]
    .assert_eq(&plan.render());
}

#[test]
fn unchanged_project_plans_no_changes() {
    let project = Project::copy("app");
    let env = Env::new();
    assert!(!env.plan(project.path(), "dev").expect("plan").is_empty());
    env.deploy(project.path(), "dev", false).0.expect("deploy");
    let plan = env.plan(project.path(), "dev").expect("plan");
    assert!(plan.is_empty());
    assert_eq!(plan.render(), "No changes\n");
}

#[test]
fn diff_paths_name_members_and_items() {
    let old = serde_json::json!({"A": 1, "B": {"C": [1, 2]}, "D": "x"});
    let new = serde_json::json!({"A": "1", "B": {"C": [1, 3]}, "E": true});
    assert_eq!(stacks::diff_paths(&old, &new), ["B.C[1]", "D", "E"]);
}
