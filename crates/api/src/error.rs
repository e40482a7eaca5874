//! [`ApiError`]: one error as the wire sees it, and its rendering in each protocol's exact shape.
//!
//! Every failure of a request ends here, whether it comes from the engines (their error enums carry
//! AWS's codes) or from the endpoint itself (a malformed body, an unknown operation, a bad
//! signature). [`ApiError::render`] builds the HTTP response: the `__type` JSON body of AWS JSON 1.0
//! (with the `x-amzn-query-error` header for SQS), the XML `ErrorResponse` of the query
//! protocols, or the `X-Amzn-ErrorType` header and JSON body of Lambda's REST-JSON.

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Response, StatusCode};
use serde_json::{json, Map, Value};

/// The wire protocol a request arrived in; errors and results are answered in the same one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// AWS JSON 1.0 with `X-Amz-Target: DynamoDB_20120810.*`.
    DynamoDb,
    /// AWS JSON 1.0 with `X-Amz-Target: DynamoDBStreams_20120810.*`.
    DynamoDbStreams,
    /// AWS JSON 1.0 with `X-Amz-Target: AmazonSQS.*`.
    SqsJson,
    /// The SQS query protocol: form parameters in, XML out.
    SqsQuery,
    /// CloudWatch in AWS JSON 1.0 (`X-Amz-Target: GraniteServiceVersion20100801.*`).
    CloudWatchJson,
    /// CloudWatch in Smithy RPC v2 CBOR (the Rust SDK).
    CloudWatchCbor,
    /// CloudWatch in the query protocol (credential scope `monitoring`).
    CloudWatchQuery,
    /// SNS in the query protocol (credential scope `sns`).
    SnsQuery,
    /// CloudFormation in the query protocol (credential scope `cloudformation`).
    CloudFormationQuery,
    /// Lambda in REST-JSON (paths under `/2015-03-31/`).
    Lambda,
    /// CloudWatch Logs in AWS JSON 1.1 (`X-Amz-Target: Logs_20140328.*`).
    Logs,
}

/// One error answer. `code` is the short AWS code (`ResourceNotFoundException`,
/// `QueueDoesNotExist`); `query_code` the older SQS query code where it differs.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: String,
    pub query_code: Option<String>,
    /// AWS's `Sender` (the caller's fault) or `Receiver` (ours).
    pub sender_fault: bool,
    pub message: String,
    /// Extra members of the JSON body (DynamoDB's `Item`, `CancellationReasons`). A list rather
    /// than a map keeps the error small, as it travels in every `Result` of the endpoint.
    pub extra: Vec<(&'static str, Value)>,
}

/// Codes that AWS JSON services answer in the `com.amazon.coral.service` namespace rather than the
/// service's own.
const CORAL_CODES: &[&str] = &[
    "SerializationException",
    "UnknownOperationException",
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "MissingAuthenticationTokenException",
    "RequestEntityTooLarge",
];

impl ApiError {
    /// A client error (HTTP 400) with this code and message.
    pub fn client(code: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code: code.to_owned(),
            query_code: None,
            sender_fault: true,
            message: message.into(),
            extra: Vec::new(),
        }
    }

    /// A failure of ours (HTTP 500).
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "InternalFailure".to_owned(),
            query_code: None,
            sender_fault: false,
            message: message.into(),
            extra: Vec::new(),
        }
    }

    pub fn with_status(mut self, status: StatusCode) -> ApiError {
        self.status = status;
        self
    }

    /// A body that is not valid JSON, or a member of the wrong type.
    pub fn serialization(message: impl Into<String>) -> ApiError {
        ApiError::client("SerializationException", message)
    }

    /// An operation this endpoint does not know, named in `protocol`'s terms.
    pub fn unknown_operation(protocol: Protocol, operation: &str) -> ApiError {
        match protocol {
            Protocol::SqsQuery | Protocol::SqsJson => ApiError::client(
                "InvalidAction",
                format!("The action `{operation}` is not valid for this endpoint"),
            ),
            Protocol::DynamoDb | Protocol::DynamoDbStreams | Protocol::Lambda | Protocol::Logs => {
                ApiError::client(
                    "UnknownOperationException",
                    format!("Unknown operation `{operation}`"),
                )
            }
            Protocol::CloudWatchJson
            | Protocol::CloudWatchCbor
            | Protocol::CloudWatchQuery
            | Protocol::SnsQuery
            | Protocol::CloudFormationQuery => ApiError::client(
                "InvalidAction",
                format!("The action `{operation}` is not valid for this endpoint"),
            ),
        }
    }

    /// The HTTP response of this error in `protocol`'s shape.
    pub fn render(&self, protocol: Protocol, request_id: &str) -> Response<Full<Bytes>> {
        let fault = if self.sender_fault {
            "Sender"
        } else {
            "Receiver"
        };
        let query_code = self.query_code.as_deref().unwrap_or(&self.code);
        let builder = Response::builder()
            .status(self.status)
            .header("x-amzn-RequestId", request_id);
        let response = match protocol {
            Protocol::CloudFormationQuery => {
                return crate::cloudformation_api::render_error(self, request_id)
            }
            Protocol::CloudWatchJson
            | Protocol::CloudWatchCbor
            | Protocol::CloudWatchQuery
            | Protocol::SnsQuery => {
                return crate::cloudwatch_api::render_error(self, protocol, request_id)
            }
            Protocol::Lambda => {
                let body = json!({
                    "Type": if self.sender_fault { "User" } else { "Service" },
                    "message": self.message,
                });
                builder
                    .header("content-type", "application/json")
                    .header("x-amzn-ErrorType", self.code.as_str())
                    .body(Full::new(Bytes::from(body.to_string())))
            }
            Protocol::Logs => {
                let body = json!({ "__type": self.code, "message": self.message });
                builder
                    .header("content-type", "application/x-amz-json-1.1")
                    .body(Full::new(Bytes::from(body.to_string())))
            }
            Protocol::SqsQuery => {
                let body = format!(
                    "<?xml version=\"1.0\"?><ErrorResponse xmlns=\"http://queue.amazonaws.com/doc/2012-11-05/\"><Error><Type>{fault}</Type><Code>{}</Code><Message>{}</Message><Detail/></Error><RequestId>{request_id}</RequestId></ErrorResponse>",
                    xml_escape(query_code),
                    xml_escape(&self.message)
                );
                builder
                    .header("content-type", "text/xml")
                    .body(Full::new(Bytes::from(body)))
            }
            Protocol::SqsJson => {
                let body = json!({
                    "__type": format!("com.amazonaws.sqs#{}", self.code),
                    "message": self.message,
                });
                builder
                    .header("content-type", "application/x-amz-json-1.0")
                    .header("x-amzn-query-error", format!("{query_code};{fault}"))
                    .body(Full::new(Bytes::from(body.to_string())))
            }
            Protocol::DynamoDb | Protocol::DynamoDbStreams => {
                let namespace = if CORAL_CODES.contains(&self.code.as_str()) {
                    "com.amazon.coral.service"
                } else {
                    "com.amazonaws.dynamodb.v20120810"
                };
                let mut body = Map::new();
                body.insert("__type".into(), format!("{namespace}#{}", self.code).into());
                body.insert("message".into(), self.message.clone().into());
                body.extend(self.extra.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
                builder
                    .header("content-type", "application/x-amz-json-1.0")
                    .body(Full::new(Bytes::from(Value::Object(body).to_string())))
            }
        };
        response.unwrap_or_else(|_| Response::new(Full::new(Bytes::from_static(b"internal error"))))
    }
}

impl From<::sqs::SqsError> for ApiError {
    fn from(e: ::sqs::SqsError) -> ApiError {
        let mut error = if e.is_sender_fault() {
            ApiError::client(e.code(), e.to_string())
        } else {
            tracing::error!(error = %e, "sqs engine failure");
            ApiError::internal(e.to_string())
        };
        error.code = e.code().to_owned();
        if e.legacy_code() != e.code() {
            error.query_code = Some(e.legacy_code().to_owned());
        }
        error
    }
}

/// Escapes text for an XML element or attribute.
pub fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Carriage returns would be normalised away by XML parsers; keep them as references.
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
    out
}
