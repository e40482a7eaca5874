//! Integration tests of the endpoint: a real server on an ephemeral port, driven by the real AWS
//! SDK clients and by a raw HTTP client for the requests no SDK would send.
//!
//! Layout: `support.rs` (server start, SDK clients, raw HTTP), then one module per area.

/// A client of the AWS SDK crate `$sdk` for the test server `$server`, signing with `$key` and
/// `$secret`, without retries (a test sees the first answer).
macro_rules! client_as {
    ($sdk:ident, $server:expr, $key:expr, $secret:expr) => {{
        use $sdk::config::{Credentials, Region};
        let config = $sdk::Config::builder()
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new($key, $secret, None, None, "test"))
            .endpoint_url($server.url())
            .http_client(aws_smithy_http_client::Builder::new().build_http())
            .retry_config($sdk::config::retry::RetryConfig::disabled())
            .build();
        $sdk::Client::from_conf(config)
    }};
}

mod authorize;
mod cloudformation;
mod cloudwatch;
mod dynamodb;
mod hostile;
mod identity;
mod sns;
mod sqs;
mod sqs_query;
mod support;
