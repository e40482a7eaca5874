//! DynamoDB stream mappings: event shape, starting positions, checkpoints, retries.

use dynamodb::{
    AttributeDefinition, AttributeValue, CreateTableInput, KeySchemaElement, KeyType, PutItemInput,
    ScalarType, StreamSpecification, StreamViewType, UpdateItemInput,
};
use lambda::{StartingPosition, StreamMappingSpec, Triggers};

use crate::support::{eventually, function, printed_events, printing, Env};

fn table(env: &Env, name: &str) -> String {
    env.dynamodb
        .create_table(CreateTableInput {
            table_name: name.into(),
            key_schema: vec![KeySchemaElement {
                attribute_name: "pk".into(),
                key_type: KeyType::Hash,
            }],
            attribute_definitions: vec![AttributeDefinition {
                attribute_name: "pk".into(),
                attribute_type: ScalarType::S,
            }],
            stream_specification: Some(StreamSpecification {
                stream_enabled: true,
                stream_view_type: Some(StreamViewType::NewAndOldImages),
            }),
            billing_mode: Some(dynamodb::BillingMode::PayPerRequest),
            ..Default::default()
        })
        .unwrap()
        .latest_stream_arn
        .unwrap()
}

fn put(env: &Env, table: &str, pk: &str, n: &str) {
    env.dynamodb
        .put_item(PutItemInput {
            table_name: table.into(),
            item: dynamodb::item([
                ("pk", AttributeValue::S(pk.into())),
                ("n", AttributeValue::N(dynamodb::Number::parse(n).unwrap())),
            ]),
            ..Default::default()
        })
        .unwrap();
}

fn bump(env: &Env, table: &str, pk: &str) {
    env.dynamodb
        .update_item(UpdateItemInput {
            table_name: table.into(),
            key: dynamodb::item([("pk", AttributeValue::S(pk.into()))]),
            update_expression: Some("SET n = n + :one".into()),
            expression_attribute_values: [(
                ":one".to_string(),
                AttributeValue::N(dynamodb::Number::parse("1").unwrap()),
            )]
            .into_iter()
            .collect(),
            ..Default::default()
        })
        .unwrap();
}

fn stream_mapping(arn: &str, function: &str, position: StartingPosition) -> StreamMappingSpec {
    StreamMappingSpec {
        id: format!("{function}Stream"),
        stream_arn: arn.into(),
        function: function.into(),
        starting_position: position,
        batch_size: 100,
        maximum_retry_attempts: 2,
        enabled: true,
    }
}

fn records(env: &Env, function: &str) -> Vec<String> {
    env.log(function)
        .into_iter()
        .filter(|l| l.starts_with("record "))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_function_sees_inserts_and_modifies_in_order() {
    let env = Env::new(vec![printing("projector")]);
    let arn = table(&env, "sales");
    put(&env, "sales", "a", "1");
    env.lambda
        .start_triggers(Triggers {
            streams: vec![stream_mapping(
                &arn,
                "projector",
                StartingPosition::TrimHorizon,
            )],
            ..Triggers::default()
        })
        .unwrap();
    eventually("the insert", || records(&env, "projector").len() == 1).await;
    bump(&env, "sales", "a");
    eventually("the modify", || records(&env, "projector").len() == 2).await;
    assert_eq!(
        records(&env, "projector"),
        ["record INSERT", "record MODIFY"]
    );
    let events = printed_events(&env, "projector");
    let modify = &events[1]["Records"][0];
    assert_eq!(modify["eventSource"], "aws:dynamodb");
    assert_eq!(modify["eventSourceARN"], arn.as_str());
    assert_eq!(
        modify["dynamodb"]["Keys"],
        serde_json::json!({"pk": {"S": "a"}})
    );
    assert_eq!(
        modify["dynamodb"]["OldImage"]["n"],
        serde_json::json!({"N": "1"})
    );
    assert_eq!(
        modify["dynamodb"]["NewImage"]["n"],
        serde_json::json!({"N": "2"})
    );
    assert_eq!(modify["dynamodb"]["StreamViewType"], "NEW_AND_OLD_IMAGES");
    eventually("caught up", || env.lambda.is_idle().unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latest_skips_old_records_and_the_checkpoint_survives_a_restart() {
    let env = Env::new(vec![function("late")]);
    let arn = table(&env, "late-table");
    put(&env, "late-table", "before", "1");
    let triggers = Triggers {
        streams: vec![stream_mapping(&arn, "late", StartingPosition::Latest)],
        ..Triggers::default()
    };
    env.lambda.start_triggers(triggers.clone()).unwrap();
    put(&env, "late-table", "after", "1");
    eventually("the new record", || env.stats("late").invocations == 1).await;
    eventually("caught up", || env.lambda.is_idle().unwrap()).await;
    env.lambda.stop().await;
    put(&env, "late-table", "while-stopped", "1");
    let Env { dir, store, .. } = env;
    let env = Env::on(dir, store, vec![function("late")]);
    env.lambda.start_triggers(triggers).unwrap();
    eventually("the record written while stopped", || {
        env.stats("late").invocations == 1
    })
    .await;
    eventually("caught up", || env.lambda.is_idle().unwrap()).await;
    assert_eq!(env.stats("late").invocations, 1, "nothing is read twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_batch_is_retried_then_skipped() {
    let env = Env::new(vec![function("stubborn")]);
    let arn = table(&env, "stubborn-table");
    env.dynamodb
        .put_item(PutItemInput {
            table_name: "stubborn-table".into(),
            item: dynamodb::item([
                ("pk", AttributeValue::S("poison".into())),
                ("fail", AttributeValue::Bool(true)),
            ]),
            ..Default::default()
        })
        .unwrap();
    let mut m = stream_mapping(&arn, "stubborn", StartingPosition::TrimHorizon);
    m.maximum_retry_attempts = 1;
    env.lambda
        .start_triggers(Triggers {
            streams: vec![m],
            ..Triggers::default()
        })
        .unwrap();
    eventually("the batch and one retry", || {
        env.stats("stubborn").errors == 2
    })
    .await;
    // Then the batch is skipped and the next record is processed.
    put(&env, "stubborn-table", "fine", "1");
    eventually("the next record", || env.stats("stubborn").invocations == 3).await;
    eventually("caught up", || env.lambda.is_idle().unwrap()).await;
    assert_eq!(env.stats("stubborn").errors, 2);
}
