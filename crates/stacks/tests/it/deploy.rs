//! Deploys that succeed: the shipped sales stacks, the seed fixture, updates, destroy, and two
//! environments side by side.

use crate::{data, repo, statuses_of, Env, Project};
use stacks::{Action, Outcome};

#[test]
fn shipped_sales_stacks_deploy_into_the_engines() {
    let env = Env::new();
    let (outcome, events) = env.deploy(&repo(), "dev", false);
    let Outcome::Applied(changes) = outcome.expect("deploy") else {
        panic!("no changes on a first deploy")
    };
    assert!(changes.changes().all(|c| c.action == Action::Add));

    // Queues with their redrive to the dead-letter queue created before them.
    let employee = env.queue_attributes("employee-queue-dev");
    assert_eq!(employee["VisibilityTimeout"], "900");
    let redrive: serde_json::Value =
        serde_json::from_str(&employee["RedrivePolicy"]).expect("redrive json");
    assert_eq!(
        redrive["deadLetterTargetArn"],
        "arn:aws:sqs:us-east-1:000000000000:employee-workload-dead-letter-queue-dev"
    );
    assert_eq!(redrive["maxReceiveCount"], 10);
    let dlq = env.queue_attributes("sale-workload-dead-letter-queue-dev");
    assert_eq!(dlq["MessageRetentionPeriod"], "1209600");

    // Tables with their key schema and stream.
    let sale = env
        .deployer
        .dynamodb()
        .describe_table("sale-dev")
        .expect("sale-dev");
    let keys: Vec<(String, &str)> = sale
        .key_schema
        .iter()
        .map(|k| (k.attribute_name.clone(), k.key_type.as_str()))
        .collect();
    assert_eq!(
        keys,
        [
            ("sale_id".to_string(), "HASH"),
            ("employee_id".to_string(), "RANGE")
        ]
    );
    let stream = sale.stream_specification.expect("stream");
    assert_eq!(
        stream.stream_view_type.map(|v| v.as_str()),
        Some("NEW_IMAGE")
    );

    // Outputs and exports.
    let registry = env.deployer.registry();
    let root = registry
        .stack("cascade")
        .expect("read")
        .expect("root stack");
    assert_eq!(root.status, "CREATE_COMPLETE");
    let outputs: Vec<(String, String)> = root
        .outputs
        .iter()
        .map(|o| (o.key.clone(), o.value.clone()))
        .collect();
    assert_eq!(
        outputs,
        [
            ("BranchTable".to_string(), "branch-dev".to_string()),
            (
                "SalespersonTable".to_string(),
                "salesperson-dev".to_string()
            ),
            ("SaleTable".to_string(), "sale-dev".to_string()),
        ]
    );
    let exports = registry.exports().expect("exports");
    let employee_export = exports
        .iter()
        .find(|e| e.name == "dev-EmployeeQueue")
        .expect("dev-EmployeeQueue exported");
    assert_eq!(employee_export.stack, "cascade-Queues");
    assert_eq!(
        employee_export.value,
        "https://sqs.us-east-1.amazonaws.com/000000000000/employee-queue-dev"
    );
    // The exported stream ARN (GetAtt StreamArn, resolved before the table existed) names the
    // table's stream: the one DescribeTable gives and DescribeStream finds.
    let stream_export = exports
        .iter()
        .find(|e| e.name == "dev-SaleTableStreamArn")
        .expect("dev-SaleTableStreamArn exported");
    assert_eq!(
        sale.latest_stream_arn.as_deref(),
        Some(stream_export.value.as_str())
    );
    let described = env
        .deployer
        .dynamodb()
        .describe_stream(&stream_export.value)
        .expect("the exported stream exists");
    assert_eq!(described.table_name, "sale-dev");
    assert!(
        env.statuses()
            .iter()
            .all(|s| s.ends_with("CREATE_COMPLETE")),
        "{:?}",
        env.statuses()
    );

    // Every other type is recorded, functions with their code folder.
    let functions = registry
        .resources_of_type("AWS::Lambda::Function")
        .expect("functions");
    assert_eq!(functions.len(), 3);
    for f in &functions {
        let dir = f.code_dir.as_ref().expect("code dir");
        assert!(dir.is_absolute() && dir.exists(), "{dir:?}");
    }
    assert_eq!(
        registry
            .resources_of_type("AWS::Events::Rule")
            .expect("rules")
            .len(),
        1
    );
    assert_eq!(
        statuses_of(&events, "EmployeeQueue"),
        ["CREATE_IN_PROGRESS", "CREATE_COMPLETE"]
    );

    // Deploying the same thing again changes nothing.
    let (again, events) = env.deploy(&repo(), "dev", false);
    assert_eq!(again.expect("deploy"), Outcome::NoChanges);
    assert!(events.is_empty());
}

#[test]
fn seed_fixture_deploys_with_its_functions_recorded() {
    let env = Env::new();
    let seed = repo().join("crates/template/tests/data/seed-stack");
    let (outcome, _) = env.deploy(&seed, "dev", false);
    outcome.expect("deploy");
    let functions = env
        .deployer
        .registry()
        .resources_of_type("AWS::Lambda::Function")
        .expect("functions");
    let mut names: Vec<&str> = functions.iter().map(|f| f.physical_id.as_str()).collect();
    names.sort();
    assert_eq!(names.len(), 3, "{names:?}");
    for f in &functions {
        assert!(f.properties["Handler"].is_string(), "{:?}", f.properties);
        assert!(f.properties["Role"].is_string(), "{:?}", f.properties);
        assert!(f.code_dir.is_some());
    }
    let registry = env.deployer.registry();
    let rules = registry
        .resources_of_type("AWS::Events::Rule")
        .expect("rules");
    assert_eq!(rules.len(), 3);
    let alarms = registry
        .resources_of_type("AWS::CloudWatch::Alarm")
        .expect("alarms");
    assert_eq!(alarms.len(), 9);
    assert!(env.queue_exists("employee-queue-dev"));
}

#[test]
fn queue_attribute_change_is_modify_and_keeps_messages() {
    let project = Project::copy("app");
    let env = Env::new();
    env.deploy(project.path(), "dev", false)
        .0
        .expect("first deploy");
    let url = "https://sqs.us-east-1.amazonaws.com/000000000000/jobs-dev";
    env.deployer
        .sqs()
        .send_message(sqs::SendMessage {
            queue_url: url.into(),
            message_body: "kept".into(),
            ..Default::default()
        })
        .expect("send");

    project.edit(
        "producer.yml",
        "VisibilityTimeout: 60",
        "VisibilityTimeout: 120",
    );
    let plan = env.plan(project.path(), "dev").expect("plan");
    let changes: Vec<_> = plan.changes().collect();
    assert_eq!(changes.len(), 1, "{}", plan.render());
    assert_eq!(changes[0].action, Action::Modify);
    assert_eq!(changes[0].paths, ["VisibilityTimeout"]);
    assert!(!changes[0].deletes_data);

    let (outcome, events) = env.deploy(project.path(), "dev", false);
    outcome.expect("update");
    let attrs = env.queue_attributes("jobs-dev");
    assert_eq!(attrs["VisibilityTimeout"], "120");
    assert_eq!(attrs["ApproximateNumberOfMessages"], "1");
    assert!(
        attrs.contains_key("RedrivePolicy"),
        "redrive kept: {attrs:?}"
    );
    assert_eq!(
        statuses_of(&events, "JobsQueue"),
        ["UPDATE_IN_PROGRESS", "UPDATE_COMPLETE"]
    );
    assert_eq!(
        statuses_of(&events, "Producer"),
        ["UPDATE_IN_PROGRESS", "UPDATE_COMPLETE"]
    );
    let stored = env
        .deployer
        .registry()
        .stack_resources("cascade-Producer")
        .expect("resources");
    let jobs = stored
        .iter()
        .find(|r| r.resource.logical_id == "JobsQueue")
        .expect("JobsQueue");
    assert_eq!(jobs.resource.properties["VisibilityTimeout"], 120);
    assert_eq!(jobs.status, "UPDATE_COMPLETE");
}

/// The ARN a deployed table's stream has: the one `GetAtt StreamArn` resolves to.
fn stream(table: &str) -> String {
    format!(
        "arn:aws:dynamodb:us-east-1:000000000000:table/{table}/stream/{}",
        template::types::RESOLVED_STREAM_LABEL
    )
}

/// Every record of the stream `arn`, oldest first.
fn stream_records(dynamodb: &dynamodb::DynamoDb, arn: &str) -> Vec<dynamodb::StreamRecord> {
    let shard = dynamodb
        .describe_stream(arn)
        .expect("the stream")
        .shards
        .remove(0);
    let iterator = dynamodb
        .get_shard_iterator(dynamodb::GetShardIteratorInput {
            stream_arn: arn.to_owned(),
            shard_id: shard.shard_id,
            shard_iterator_type: dynamodb::ShardIteratorType::TrimHorizon,
            sequence_number: None,
        })
        .expect("iterator");
    dynamodb
        .get_records(dynamodb::GetRecordsInput {
            shard_iterator: iterator,
            limit: None,
        })
        .expect("records")
        .records
}

#[test]
fn a_table_stream_change_is_applied_and_keeps_the_items() {
    let project = Project::copy("app");
    let env = Env::new();
    env.deploy(project.path(), "dev", false)
        .0
        .expect("first deploy");
    let dynamodb = env.deployer.dynamodb();
    let order = dynamodb::item([("order_id", dynamodb::AttributeValue::S("o-1".into()))]);
    dynamodb
        .put_item(dynamodb::PutItemInput {
            table_name: "orders-dev".into(),
            item: order,
            ..Default::default()
        })
        .expect("put");
    let view = |table: &str| {
        let description = dynamodb.describe_table(table).expect("table");
        let view = description
            .stream_specification
            .and_then(|s| s.stream_view_type)
            .map(|v| v.as_str());
        (view, description.latest_stream_arn, description.item_count)
    };

    // Another view type on one table, a stream where there was none on the other.
    project.edit(
        "producer.yml",
        "StreamViewType: NEW_IMAGE",
        "StreamViewType: NEW_AND_OLD_IMAGES",
    );
    project.edit(
        "producer.yml",
        "KeySchema:\n        - AttributeName: event_id\n          KeyType: HASH",
        "KeySchema:\n        - AttributeName: event_id\n          KeyType: HASH\n      StreamSpecification:\n        StreamViewType: KEYS_ONLY",
    );
    let plan = env.plan(project.path(), "dev").expect("plan");
    assert!(
        plan.changes()
            .filter(|c| c.type_ == "AWS::DynamoDB::Table")
            .all(|c| c.action == Action::Modify && !c.deletes_data),
        "{}",
        plan.render()
    );
    env.deploy(project.path(), "dev", false).0.expect("update");
    assert_eq!(
        view("orders-dev"),
        (Some("NEW_AND_OLD_IMAGES"), Some(stream("orders-dev")), 1)
    );
    assert_eq!(
        view("events-dev"),
        (Some("KEYS_ONLY"), Some(stream("events-dev")), 0)
    );
    // The new stream starts empty: the record of the put went with the stream before.
    let records = stream_records(dynamodb, &stream("orders-dev"));
    assert!(records.is_empty(), "{records:?}");

    // No stream at all.
    project.edit(
        "producer.yml",
        "      StreamSpecification:\n        StreamViewType: NEW_AND_OLD_IMAGES\n",
        "",
    );
    env.deploy(project.path(), "dev", false).0.expect("update");
    assert_eq!(view("orders-dev"), (None, None, 1));
}

#[test]
fn streams_labelled_with_their_creation_time_are_renamed_with_their_records() {
    let project = Project::copy("app");
    let env = Env::new();
    env.deploy(project.path(), "dev", false).0.expect("deploy");
    let dynamodb = env.deployer.dynamodb();
    // As an environment deployed before streams took the resolved label has it.
    let view = Some(dynamodb::StreamViewType::NewImage);
    dynamodb
        .set_stream("orders-dev", view, Some("2026-11-01T10:00:00.000"))
        .expect("label");
    dynamodb
        .put_item(dynamodb::PutItemInput {
            table_name: "orders-dev".into(),
            item: dynamodb::item([("order_id", dynamodb::AttributeValue::S("o-1".into()))]),
            ..Default::default()
        })
        .expect("put");
    env.deployer.align_streams().expect("align");
    let resolved = stream("orders-dev");
    let table = dynamodb.describe_table("orders-dev").expect("orders-dev");
    assert_eq!(table.latest_stream_arn.as_deref(), Some(resolved.as_str()));
    assert_eq!(
        stream_records(dynamodb, &resolved).len(),
        1,
        "the record is kept"
    );
    // The table without a stream keeps none.
    let events = dynamodb.describe_table("events-dev").expect("events-dev");
    assert_eq!(events.latest_stream_arn, None);
}

#[test]
fn destroy_keeps_a_retained_table_and_deletes_the_rest() {
    let project = Project::copy("app");
    let env = Env::new();
    env.deploy(project.path(), "dev", false).0.expect("deploy");
    let mut events = Vec::new();
    env.deployer
        .destroy(&mut |e| events.push(e.clone()))
        .expect("destroy");
    assert!(env.table_exists("orders-dev"), "Retain keeps the table");
    assert!(!env.table_exists("events-dev"));
    assert!(!env.queue_exists("jobs-dev"));
    assert!(!env.queue_exists("results-dev"));
    assert_eq!(statuses_of(&events, "OrdersTable"), ["DELETE_SKIPPED"]);
    assert_eq!(
        statuses_of(&events, "EventsTable"),
        ["DELETE_IN_PROGRESS", "DELETE_COMPLETE"]
    );
    let registry = env.deployer.registry();
    assert!(registry.resources().expect("resources").is_empty());
    assert!(registry.exports().expect("exports").is_empty());
    assert!(
        env.statuses()
            .iter()
            .all(|s| s.ends_with(" DELETE_COMPLETE")),
        "{:?}",
        env.statuses()
    );
    // The importer went before the exporter.
    let order: Vec<&str> = events
        .iter()
        .filter(|e| e.status == "DELETE_COMPLETE" && e.physical_id == e.stack_id)
        .map(|e| e.logical_id.as_str())
        .collect();
    assert_eq!(order, ["Consumer", "Producer", "cascade"]);

    // A new deploy creates everything again next to the kept table only if it is gone: the
    // retained table now blocks its own re-creation, as on AWS.
    let (again, _) = env.deploy(project.path(), "dev", false);
    let err = again.expect_err("the retained table is in the way");
    assert!(
        err.to_string()
            .contains("table `orders-dev` already exists"),
        "{err}"
    );
    assert!(!env.queue_exists("jobs-dev"), "rolled back");
}

#[test]
fn two_environments_side_by_side() {
    let project = Project::copy("app");
    let dev = Env::new();
    let prod = Env::new();
    dev.deploy(project.path(), "dev", false).0.expect("dev");
    prod.deploy(project.path(), "prod", false).0.expect("prod");
    assert!(dev.queue_exists("jobs-dev") && !dev.queue_exists("jobs-prod"));
    assert!(prod.queue_exists("jobs-prod") && !prod.queue_exists("jobs-dev"));
    let exports: Vec<String> = prod
        .deployer
        .registry()
        .exports()
        .expect("exports")
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(exports, ["prod-JobsQueue", "prod-OrdersTable"]);
    dev.deployer.destroy(&mut |_| {}).expect("destroy dev");
    assert!(prod.queue_exists("jobs-prod"));
    assert_eq!(
        prod.deploy(project.path(), "prod", false)
            .0
            .expect("prod again"),
        Outcome::NoChanges
    );
}

#[test]
fn seed_and_app_fixtures_exist() {
    // Guards the fixtures the other tests rely on.
    assert!(data("app/template.yml").exists());
    assert!(repo().join("template.yml").exists());
}
