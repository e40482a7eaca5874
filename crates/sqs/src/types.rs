//! Typed requests and results of every SQS action, shaped like AWS's API but free of any wire format.
//!
//! Numbers the caller supplies are `i64` so that an out-of-range value (negative, too large) reaches
//! validation and gets AWS's error instead of failing to parse at the boundary.

use std::collections::BTreeMap;

/// A message attribute: `data_type` is `String`, `Number` or `Binary`, optionally followed by
/// `.custom-label`; `String`/`Number` carry `string_value`, `Binary` carries `binary_value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageAttributeValue {
    pub data_type: String,
    pub string_value: Option<String>,
    pub binary_value: Option<Vec<u8>>,
}

impl MessageAttributeValue {
    /// A `String` attribute.
    pub fn string(value: impl Into<String>) -> MessageAttributeValue {
        MessageAttributeValue {
            data_type: "String".into(),
            string_value: Some(value.into()),
            binary_value: None,
        }
    }

    /// A `Number` attribute.
    pub fn number(value: impl Into<String>) -> MessageAttributeValue {
        MessageAttributeValue {
            data_type: "Number".into(),
            string_value: Some(value.into()),
            binary_value: None,
        }
    }

    /// A `Binary` attribute.
    pub fn binary(value: impl Into<Vec<u8>>) -> MessageAttributeValue {
        MessageAttributeValue {
            data_type: "Binary".into(),
            string_value: None,
            binary_value: Some(value.into()),
        }
    }
}

/// Message attributes by name (sorted, as AWS's MD5 needs them).
pub type MessageAttributes = BTreeMap<String, MessageAttributeValue>;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreateQueue {
    pub queue_name: String,
    pub attributes: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListQueues {
    pub queue_name_prefix: Option<String>,
    /// 1 to 1,000; when given, results are paged with `next_token`.
    pub max_results: Option<i64>,
    pub next_token: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListQueuesResult {
    pub queue_urls: Vec<String>,
    pub next_token: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SendMessage {
    pub queue_url: String,
    pub message_body: String,
    pub delay_seconds: Option<i64>,
    pub message_attributes: MessageAttributes,
    /// The `AWSTraceHeader` message system attribute.
    pub aws_trace_header: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendMessageResult {
    pub message_id: String,
    pub md5_of_message_body: String,
    pub md5_of_message_attributes: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SendMessageBatchEntry {
    pub id: String,
    pub message_body: String,
    pub delay_seconds: Option<i64>,
    pub message_attributes: MessageAttributes,
    pub aws_trace_header: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendMessageBatchResultEntry {
    pub id: String,
    pub message_id: String,
    pub md5_of_message_body: String,
    pub md5_of_message_attributes: Option<String>,
}

/// A failed entry of a batch call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchResultErrorEntry {
    pub id: String,
    pub sender_fault: bool,
    pub code: String,
    pub message: String,
}

/// The result of a batch call: entries that succeeded and entries that failed, in request order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchResult<T> {
    pub successful: Vec<T>,
    pub failed: Vec<BatchResultErrorEntry>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReceiveMessage {
    pub queue_url: String,
    /// 1 to 10, default 1.
    pub max_number_of_messages: Option<i64>,
    /// Overrides the queue's VisibilityTimeout for these messages (0 to 43,200 s).
    pub visibility_timeout: Option<i64>,
    /// 0 to 20 s; `None` uses the queue's ReceiveMessageWaitTimeSeconds.
    pub wait_time_seconds: Option<i64>,
    /// System attribute names (`All`, `SentTimestamp`, `ApproximateReceiveCount`, ...); covers both
    /// AWS's `AttributeNames` and `MessageSystemAttributeNames`.
    pub attribute_names: Vec<String>,
    /// Message attribute names to return: `All`, `.*`, `prefix.*` or exact names.
    pub message_attribute_names: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub message_id: String,
    pub receipt_handle: String,
    pub md5_of_body: String,
    pub body: String,
    /// The requested system attributes.
    pub attributes: BTreeMap<String, String>,
    /// MD5 of the returned message attributes, when any are returned.
    pub md5_of_message_attributes: Option<String>,
    pub message_attributes: MessageAttributes,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReceiveMessageResult {
    pub messages: Vec<Message>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeleteMessageBatchEntry {
    pub id: String,
    pub receipt_handle: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChangeMessageVisibilityBatchEntry {
    pub id: String,
    pub receipt_handle: String,
    pub visibility_timeout: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StartMessageMoveTask {
    /// The ARN of the dead-letter queue to move messages out of.
    pub source_arn: String,
    /// Where to move them; `None` moves each message back to the queue it was dead-lettered from.
    pub destination_arn: Option<String>,
    /// 1 to 500; `None` moves as fast as possible.
    pub max_number_of_messages_per_second: Option<i64>,
}

/// One move task as ListMessageMoveTasks reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageMoveTask {
    /// Present only while the task is RUNNING (it is what CancelMessageMoveTask takes).
    pub task_handle: Option<String>,
    /// RUNNING, COMPLETED, CANCELLED or FAILED.
    pub status: String,
    pub source_arn: String,
    pub destination_arn: Option<String>,
    pub max_number_of_messages_per_second: Option<i64>,
    pub approximate_number_of_messages_moved: i64,
    pub approximate_number_of_messages_to_move: i64,
    pub failure_reason: Option<String>,
    /// Epoch milliseconds.
    pub started_timestamp: i64,
}
