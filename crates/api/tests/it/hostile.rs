//! Malformed and hostile requests: each gets the protocol's error shape and a 4xx status, and the
//! server keeps serving afterwards.

use crate::support::{start, Server};

const DDB: &str = "DynamoDB_20120810.PutItem";

async fn still_serving(server: &Server) {
    let raw = server.json("DynamoDB_20120810.ListTables", "{}").await;
    assert_eq!(raw.status, 200, "{}", raw.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_json_gets_serialization_errors() {
    let server = start().await;
    server
        .json("DynamoDB_20120810.CreateTable", r#"{"TableName":"t","KeySchema":[{"AttributeName":"pk","KeyType":"HASH"}],"AttributeDefinitions":[{"AttributeName":"pk","AttributeType":"S"}],"BillingMode":"PAY_PER_REQUEST"}"#)
        .await;
    let cases: Vec<(String, &str)> = vec![
        ("{\"TableName\":\"t\",\"Item\":".into(), "400 com.amazon.coral.service#SerializationException"),
        ("not json at all".into(), "400 com.amazon.coral.service#SerializationException"),
        ("[1,2,3]".into(), "400 com.amazon.coral.service#SerializationException"),
        (r#"{"TableName":["t"],"Item":{}}"#.into(), "400 com.amazon.coral.service#SerializationException"),
        (r#"{"TableName":"t","Item":[]}"#.into(), "400 com.amazon.coral.service#SerializationException"),
        (r#"{"TableName":"t","Item":{"pk":"plain"}}"#.into(), "400 com.amazon.coral.service#SerializationException"),
        (r#"{"TableName":"t","Item":{"pk":{"S":"a"},"n":{"N":"123456789012345678901234567890123456789012"}}}"#.into(), "400 com.amazonaws.dynamodb.v20120810#ValidationException"),
        (r#"{"TableName":"t","Item":{"pk":{"S":"a"},"n":{"N":"abc"}}}"#.into(), "400 com.amazonaws.dynamodb.v20120810#ValidationException"),
        (r#"{"TableName":"t","Item":{"pk":{"S":"a"}},"ReturnValues":"SOME"}"#.into(), "400 com.amazonaws.dynamodb.v20120810#ValidationException"),
        (r#"{"TableName":"t","Item":{"pk":{"S":"a"},"b":{"B":"***"}}}"#.into(), "400 com.amazon.coral.service#SerializationException"),
        (r#"{"TableName":"t","Item":{"pk":{"S":"a"}},"Limit":1e400}"#.into(), "400 com.amazon.coral.service#SerializationException"),
        (format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)), "400 com.amazon.coral.service#SerializationException"),
    ];
    for (body, expected) in cases {
        let raw = server.json(DDB, &body).await;
        assert_eq!(
            raw.error_type(),
            expected,
            "{}: {}",
            &body[..body.len().min(80)],
            raw.body
        );
    }

    // Deep nesting that JSON accepts but DynamoDB does not (more than 32 levels).
    let deep = format!(
        r#"{{"TableName":"t","Item":{{"pk":{{"S":"a"}},"d":{}{{"S":"x"}}{}}}}}"#,
        r#"{"L":["#.repeat(40),
        "]}".repeat(40)
    );
    let raw = server.json(DDB, &deep).await;
    assert_eq!(
        raw.error_type(),
        "400 com.amazonaws.dynamodb.v20120810#ValidationException",
        "{}",
        raw.body
    );

    // Invalid UTF-8 inside a JSON string.
    let mut invalid = br#"{"TableName":"t","Item":{"pk":{"S":""#.to_vec();
    invalid.extend_from_slice(&[0xff, 0xfe]);
    invalid.extend_from_slice(br#""}}}"#);
    let raw = server
        .post(
            &[
                ("x-amz-target", DDB),
                ("content-type", "application/x-amz-json-1.0"),
            ],
            &invalid,
        )
        .await;
    assert_eq!(
        raw.error_type(),
        "400 com.amazon.coral.service#SerializationException"
    );
    still_serving(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_targets_and_operations() {
    let server = start().await;
    let raw = server.json("Nonsense_2020.Do", "{}").await;
    assert_eq!(
        raw.error_type(),
        "400 com.amazon.coral.service#UnknownOperationException"
    );
    let raw = server.json("DynamoDBStreams_20120810.PutItem", "{}").await;
    assert_eq!(
        raw.error_type(),
        "400 com.amazon.coral.service#UnknownOperationException"
    );
    let raw = server.json("AmazonSQS.SendMessage", "{\"QueueUrl\":").await;
    assert_eq!(
        raw.error_type(),
        "400 com.amazonaws.sqs#SerializationException"
    );
    still_serving(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversize_and_truncated_bodies() {
    let server = start().await;
    // The test server's limit is 1 MiB.
    let huge = format!(r#"{{"TableName":"{}"}}"#, "x".repeat(2 * 1024 * 1024));
    let raw = server.json("DynamoDB_20120810.DescribeTable", &huge).await;
    assert_eq!(
        raw.error_type(),
        "413 com.amazon.coral.service#RequestEntityTooLarge"
    );

    let raw = server
        .post(
            &[("content-type", "application/x-www-form-urlencoded")],
            format!(
                "Action=SendMessage&MessageBody={}",
                "y".repeat(2 * 1024 * 1024)
            )
            .as_bytes(),
        )
        .await;
    assert_eq!(raw.status, 413);
    assert!(
        raw.body.contains("<Code>RequestEntityTooLarge</Code>"),
        "{}",
        raw.body
    );

    // A body shorter than its Content-Length, from a client that then stops sending.
    let truncated = format!(
        "POST / HTTP/1.1\r\nhost: {}\r\nx-amz-target: DynamoDB_20120810.ListTables\r\ncontent-length: 100\r\n\r\n{{\"Lim",
        server.addr
    );
    let raw = server.raw_truncated(truncated.as_bytes()).await;
    assert_eq!(
        raw.error_type(),
        "400 com.amazon.coral.service#SerializationException",
        "{}",
        raw.body
    );

    // Garbage instead of HTTP.
    let raw = server
        .raw(b"\x00\x01\x02 definitely not http\r\n\r\n")
        .await;
    assert!(
        raw.status == 0 || (400..500).contains(&raw.status),
        "{raw:?}"
    );
    still_serving(&server).await;
}

/// Many requests on one keep-alive connection are all answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_alive_serves_many_requests_per_connection() {
    let server = start().await;
    let mut requests = Vec::new();
    for i in 0..20 {
        let body = "{}";
        let close = if i == 19 { "connection: close\r\n" } else { "" };
        requests.extend_from_slice(
            format!(
                "POST / HTTP/1.1\r\nhost: {}\r\nx-amz-target: DynamoDB_20120810.ListTables\r\n{close}content-length: {}\r\n\r\n{body}",
                server.addr,
                body.len()
            )
            .as_bytes(),
        );
    }
    let raw = server.raw(&requests).await;
    assert_eq!(raw.status, 200);
    // The body part holds the first answer's body and the 19 answers after it, whole.
    assert_eq!(raw.body.matches("TableNames").count(), 20, "{}", raw.body);
    assert_eq!(raw.body.matches("HTTP/1.1 200 OK").count(), 19);
}
