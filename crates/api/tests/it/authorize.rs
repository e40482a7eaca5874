//! Authorization of issued keys through the endpoint: a role without `sqs:SendMessage` on a
//! queue gets AccessDenied from the real SDK clients; the administrator key never does.

use std::sync::Arc;

use api::IamAuthorizer;
use serde_json::json;

use crate::support::{start, Server};

/// The message of a denial to the test's issued key (role `collector-role`).
fn denied(action: &str, resource: &str) -> String {
    format!(
        "User: arn:aws:sts::000000000000:assumed-role/collector-role/collector-role is not authorized to perform: {action} on resource: {resource} because no identity-based policy allows the action"
    )
}

/// The ARN of table `name`.
fn table(name: &str) -> String {
    format!("arn:aws:dynamodb:us-east-1:000000000000:table/{name}")
}

/// Asserts that DynamoDB error `e` denies the test's issued key `action` on table `name`.
#[track_caller]
fn assert_table_denied<E>(e: &E, action: &str, name: &str, context: &str)
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::fmt::Debug,
{
    assert_eq!(
        e.message(),
        Some(denied(action, &table(name)).as_str()),
        "{context}: {e:?}"
    );
}

/// A server whose authorizer knows one role, `collector-role`, and a key issued to it.
async fn start_with_roles() -> Server {
    let server = start().await;
    let roles = iam::Roles::new("000000000000");
    let sets = roles
        .from_cfn(
            &[(
                "collector-role".into(),
                json!({
                    "ManagedPolicyArns": ["arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"],
                    "Policies": [{"PolicyName": "p", "PolicyDocument": {"Statement": [
                        {"Effect": "Allow", "Action": ["sqs:SendMessage", "sqs:GetQueueUrl"], "Resource": "arn:aws:sqs:us-east-1:000000000000:allowed"},
                        {"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "arn:aws:dynamodb:us-east-1:000000000000:table/t"},
                        {"Effect": "Allow", "Action": "dynamodb:BatchWriteItem", "Resource": "arn:aws:dynamodb:us-east-1:000000000000:table/t*"},
                        {"Effect": "Allow", "Action": "cloudwatch:PutMetricData", "Resource": "*", "Condition": {"StringEquals": {"cloudwatch:namespace": "Cascade/Sales"}}}
                    ]}}]
                }),
            )],
            &[],
        )
        .unwrap();
    roles.replace_all(sets);
    server
        .services
        .authorizer
        .set(Some(Arc::new(IamAuthorizer::new(roles))));
    server
        .services
        .keys
        .insert("AKIDISSUED", "issued-secret", "collector-role");
    server
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issued_key_is_denied_what_its_role_lacks_and_admin_never_is() {
    let server = start_with_roles().await;
    let admin = server.sqs();
    let function = server.sqs_as("AKIDISSUED", "issued-secret");
    let allowed = admin
        .create_queue()
        .queue_name("allowed")
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_owned();
    let other = admin
        .create_queue()
        .queue_name("other")
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_owned();

    function
        .send_message()
        .queue_url(&allowed)
        .message_body("ok")
        .send()
        .await
        .unwrap();
    let e = function
        .send_message()
        .queue_url(&other)
        .message_body("no")
        .send()
        .await
        .unwrap_err();
    let e = e.into_service_error();
    let meta = aws_sdk_sqs::error::ProvideErrorMetadata::meta(&e);
    assert_eq!(meta.code(), Some("AccessDenied"), "{e:?}");
    assert_eq!(
        meta.message(),
        Some(
            denied(
                "sqs:SendMessage",
                "arn:aws:sqs:us-east-1:000000000000:other"
            )
            .as_str()
        )
    );
    // Receiving from the allowed queue is not granted either.
    assert!(function
        .receive_message()
        .queue_url(&allowed)
        .send()
        .await
        .is_err());
    // The administrator may do anything.
    admin
        .send_message()
        .queue_url(&other)
        .message_body("admin")
        .send()
        .await
        .unwrap();
    assert_eq!(
        admin
            .receive_message()
            .queue_url(&other)
            .send()
            .await
            .unwrap()
            .messages()
            .len(),
        1
    );

    // DynamoDB answers AccessDeniedException.
    let ddb = server.dynamodb_as("AKIDISSUED", "issued-secret");
    let e = ddb
        .put_item()
        .table_name("t")
        .item("pk", aws_sdk_dynamodb::types::AttributeValue::S("x".into()))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(
        aws_sdk_dynamodb::error::ProvideErrorMetadata::code(&e),
        Some("AccessDeniedException"),
        "{e:?}"
    );

    // The batch operations ask about every table they name.
    use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, PutRequest, WriteRequest};
    let put = |pk: &str| {
        WriteRequest::builder()
            .put_request(
                PutRequest::builder()
                    .item("pk", AttributeValue::S(pk.into()))
                    .build()
                    .unwrap(),
            )
            .build()
    };
    let batch_write = |tables: &'static [&'static str]| {
        let mut request = ddb.batch_write_item();
        for table in tables {
            request = request.request_items(*table, vec![put(table)]);
        }
        async move { request.send().await.unwrap_err().into_service_error() }
    };
    let e = batch_write(&["t", "t2", "u"]).await;
    assert_table_denied(&e, "dynamodb:BatchWriteItem", "u", "t, t2 and u");
    // With two tables denied, the first in name order is named, whichever path reads the body:
    // a plain put takes the fast path, a put with an empty set the general one. The SDK writes
    // the tables in its map's order, which varies from request to request.
    let empty_set = WriteRequest::builder()
        .put_request(
            PutRequest::builder()
                .item("pk", AttributeValue::S("x".into()))
                .item("s", AttributeValue::Ss(vec![]))
                .build()
                .unwrap(),
        )
        .build();
    for other in ["v", "w", "x", "y", "z", "zz"] {
        for entry in [put("x"), empty_set.clone()] {
            let e = ddb
                .batch_write_item()
                .request_items(other, vec![entry.clone()])
                .request_items("u", vec![entry])
                .send()
                .await
                .unwrap_err()
                .into_service_error();
            assert_table_denied(
                &e,
                "dynamodb:BatchWriteItem",
                "u",
                &format!("u and {other}"),
            );
        }
    }
    // Allowed on both tables: past authorization, the tables do not exist.
    let e = batch_write(&["t", "t2"]).await;
    assert_eq!(
        aws_sdk_dynamodb::error::ProvideErrorMetadata::code(&e),
        Some("ResourceNotFoundException"),
        "{e:?}"
    );
    // GetItem on `t` does not grant BatchGetItem on it.
    let e = ddb
        .batch_get_item()
        .request_items(
            "t",
            KeysAndAttributes::builder()
                .keys([("pk".to_owned(), AttributeValue::S("a".into()))].into())
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_table_denied(&e, "dynamodb:BatchGetItem", "t", "BatchGetItem on t");

    // CloudWatch: the namespace condition of the role decides.
    let cw = client_as!(aws_sdk_cloudwatch, server, "AKIDISSUED", "issued-secret");
    let datum = aws_sdk_cloudwatch::types::MetricDatum::builder()
        .metric_name("RejectedRecords")
        .value(1.0)
        .build();
    cw.put_metric_data()
        .namespace("Cascade/Sales")
        .metric_data(datum.clone())
        .send()
        .await
        .unwrap();
    let e = cw
        .put_metric_data()
        .namespace("Other")
        .metric_data(datum)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(
        aws_sdk_cloudwatch::error::ProvideErrorMetadata::code(&e),
        Some("AccessDenied"),
        "{e:?}"
    );
}

/// The Lambda API asks for `lambda:InvokeFunction` on the function's ARN (a name or an ARN in the
/// path); without a running Lambda service, the administrator is told that functions are not
/// running.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lambda_api_is_authorized_by_function_arn() {
    use aws_sdk_lambda::error::ProvideErrorMetadata;
    let server = start_with_roles().await;
    let function = server.lambda_as("AKIDISSUED", "issued-secret");
    let arn = "arn:aws:lambda:us-east-1:000000000000:function:work";
    for name in ["work", arn] {
        let e = function
            .invoke()
            .function_name(name)
            .send()
            .await
            .unwrap_err();
        assert_eq!(
            e.message(),
            Some(denied("lambda:InvokeFunction", arn).as_str()),
            "{e:?}"
        );
        assert_eq!(e.code(), Some("AccessDeniedException"));
    }
    let e = function.list_functions().send().await.unwrap_err();
    assert_eq!(
        e.message(),
        Some(denied("lambda:ListFunctions", "*").as_str()),
        "{e:?}"
    );
    let admin = server.lambda_as("AKIDLOCAL", "secret");
    let e = admin
        .invoke()
        .function_name("work")
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("ResourceConflictException"), "{e:?}");
    assert!(
        e.message()
            .is_some_and(|m| m.contains("`cascade serve` serves the endpoint without them")),
        "{e:?}"
    );
}
