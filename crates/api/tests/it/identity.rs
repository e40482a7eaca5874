//! Identity and the auth token: issued keys are verified by signature, other keys are the
//! administrator, and a token-protected endpoint refuses requests without the token.

use std::sync::Arc;

use store::SystemClock;

use crate::support::{start, start_with};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issued_keys_are_verified() {
    let server = start().await;
    server
        .services
        .keys
        .insert("AKIDISSUED", "the-real-secret", "function/collector");

    // Any other key is the administrator, whatever its secret.
    server
        .sqs_as("AKIDANY", "anything")
        .list_queues()
        .send()
        .await
        .unwrap();
    // The issued key with its secret verifies (the SDK's own SigV4 signer against ours).
    server
        .sqs_as("AKIDISSUED", "the-real-secret")
        .list_queues()
        .send()
        .await
        .unwrap();
    server
        .dynamodb_as("AKIDISSUED", "the-real-secret")
        .list_tables()
        .send()
        .await
        .unwrap();

    let error = server
        .sqs_as("AKIDISSUED", "a-wrong-secret")
        .list_queues()
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error.into_service_error().meta().code(),
        Some("SignatureDoesNotMatch")
    );
    let error = server
        .dynamodb_as("AKIDISSUED", "a-wrong-secret")
        .list_tables()
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error.into_service_error().meta().code(),
        Some("InvalidSignatureException")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_token_is_required_when_configured() {
    let server = start_with(Arc::new(SystemClock), Some("tok-123")).await;
    // Signed with the token as the secret key: accepted.
    server
        .dynamodb_as("AKIDANY", "tok-123")
        .list_tables()
        .send()
        .await
        .unwrap();
    // Any other secret: refused.
    let error = server
        .dynamodb_as("AKIDANY", "guess")
        .list_tables()
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error.into_service_error().meta().code(),
        Some("UnrecognizedClientException")
    );
    let error = server
        .sqs_as("AKIDANY", "guess")
        .list_queues()
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        error.into_service_error().meta().code(),
        Some("InvalidClientTokenId")
    );
    // The token in its header: accepted; an unsigned request without it: refused.
    let raw = server
        .post(
            &[
                ("x-amz-target", "DynamoDB_20120810.ListTables"),
                ("x-cascade-auth-token", "tok-123"),
            ],
            b"{}",
        )
        .await;
    assert_eq!(raw.status, 200, "{}", raw.body);
    let raw = server.json("DynamoDB_20120810.ListTables", "{}").await;
    assert_eq!(
        raw.error_type(),
        "403 com.amazon.coral.service#UnrecognizedClientException"
    );
}

#[test]
fn non_loopback_listen_requires_a_token() {
    let mut config = api::ServeConfig::new("dev", "/tmp/state");
    assert_eq!(config.check(), Ok(()));
    config.listen = "0.0.0.0:4566".parse().unwrap();
    assert_eq!(
        config.check(),
        Err(api::ConfigError::TokenRequired(config.listen))
    );
    config.auth_token = Some(String::new());
    assert_eq!(config.check(), Err(api::ConfigError::EmptyToken));
    config.auth_token = Some("t".into());
    assert_eq!(config.check(), Ok(()));
    let message = config.startup_message(config.listen);
    assert!(
        message.contains("http://0.0.0.0:4566") && message.contains("auth token"),
        "{message}"
    );
}
