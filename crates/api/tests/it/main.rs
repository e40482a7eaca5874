//! Integration tests of the endpoint: a real server on an ephemeral port, driven by the real AWS
//! SDK clients and by a raw HTTP client for the requests no SDK would send.
//!
//! Layout: `support.rs` (server start, SDK clients, raw HTTP), then one module per area.

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
