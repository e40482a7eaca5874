//! SQS over the wire: every operation of the `sqs` engine, in AWS JSON 1.0 and the query protocol.
//!
//! Both protocols share one translation. A JSON request is read as is; a query request is first
//! rebuilt into the same JSON shape by `sqs_query.rs`, with `lenient` reading numbers from
//! strings. Results carry the JSON protocol's member names ([`Answer`]: plain structs for the
//! queue cycle's operations, JSON values for the rest), which `sqs_query.rs` also renders as XML.
//! The queue cycle's operations (SendMessageBatch, ReceiveMessage, DeleteMessageBatch) call the
//! engine's async forms, which await their commit without holding a thread, and ReceiveMessage's
//! long poll waits on the queue's signal on the async side; the others run through `blocking`.

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::Full;
use hyper::http::request::Parts;
use hyper::Response;
use serde::Serialize;
use serde_json::{Map, Value};
use sqs::{
    BatchResult, BatchResultErrorEntry, ChangeMessageVisibilityBatchEntry, CreateQueue,
    DeleteMessageBatchEntry, ListQueues, Message, MessageAttributeValue, MessageAttributes,
    ReceiveMessage, SendMessage, SendMessageBatchEntry, SendMessageBatchResultEntry, Sqs,
    StartMessageMoveTask,
};

use crate::error::ApiError;
use crate::object;
use crate::server::{blocking, guard, json_response, xml_response, App, RequestCtx};
use crate::sqs_query;
use crate::wire::{top, Obj, WireError};

/// A request of the JSON protocol (`X-Amz-Target: AmazonSQS.<operation>`).
pub async fn handle_json(
    app: &Arc<App>,
    ctx: &RequestCtx,
    operation: String,
    body: Bytes,
) -> Result<Response<Full<Bytes>>, ApiError> {
    let request = parse_json(&body)?;
    let answer = call(app, ctx, &operation, request, false).await?;
    Ok(json_response(&answer, &ctx.request_id))
}

/// A request of the query protocol (form parameters, `Action=<operation>`).
pub async fn handle_query(
    app: &Arc<App>,
    ctx: &RequestCtx,
    parts: &Parts,
    body: Bytes,
) -> Result<Response<Full<Bytes>>, ApiError> {
    let params = sqs_query::parse_params(parts.uri.query(), &body)?;
    let Some(action) = params
        .iter()
        .find(|(k, _)| k == "Action")
        .map(|(_, v)| v.clone())
    else {
        return Err(ApiError::client(
            "MissingAction",
            "The request must contain the parameter Action",
        ));
    };
    let mut request = sqs_query::to_json(&params);
    // Older clients address a queue by posting to its URL instead of passing QueueUrl.
    let path = parts.uri.path().trim_matches('/');
    if !request.contains_key("QueueUrl") && path.split('/').count() == 2 {
        request.insert("QueueUrl".into(), format!("{}/{path}", ctx.base_url).into());
    }
    let answer = call(app, ctx, &action, Value::Object(request), true).await?;
    let result = serde_json::to_value(answer).map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(xml_response(
        sqs_query::to_xml(&action, &result, &ctx.request_id),
        &ctx.request_id,
    ))
}

fn parse_json(body: &[u8]) -> Result<Value, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Map::new()));
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::serialization(format!("The request body is not valid JSON: {e}")))
}

/// A wire mistake as SQS answers it.
fn wire_error(query: bool) -> impl Fn(WireError) -> ApiError {
    move |e| match e {
        WireError::Missing(_) => ApiError::client("MissingParameter", e.message()),
        WireError::Type(..) if query => ApiError::client("InvalidParameterValue", e.message()),
        WireError::Type(..) => ApiError::serialization(e.message()),
    }
}

async fn call(
    app: &Arc<App>,
    ctx: &RequestCtx,
    operation: &str,
    request: Value,
    query: bool,
) -> Result<Answer, ApiError> {
    let sqs = app.services.sqs.clone();
    // The queue cycle's operations wait for their commit on the async side (their engine calls
    // are async); the others run in place through `blocking`.
    match operation {
        "ReceiveMessage" => {
            let request = top(&request, query)
                .and_then(receive_request)
                .map_err(wire_error(query))?;
            let messages = long_poll(app, &sqs, request).await?;
            return Ok(Answer::Received {
                messages: messages.into_iter().map(MessageOut::from).collect(),
            });
        }
        "SendMessageBatch" => {
            let (url, entries) = batch_request(&request, query, send_entries)?;
            let result = guard(sqs.send_message_batch_async(url, entries)).await?;
            return Ok(Answer::Sent(BatchOut::from(result)));
        }
        "DeleteMessageBatch" => {
            let (url, entries) = batch_request(&request, query, delete_entries)?;
            let result = guard(sqs.delete_message_batch_async(url, entries)).await?;
            return Ok(Answer::Done(BatchOut::from(result)));
        }
        _ => {}
    }
    let base_url = ctx.base_url.clone();
    let operation = operation.to_owned();
    blocking(move || dispatch(&sqs, &base_url, &operation, &request, query)).await
}

/// ReceiveMessage: receive attempts that never block, separated by waits on the queue's signal
/// until the wait time passes on the engine's clock.
async fn long_poll(
    app: &Arc<App>,
    sqs: &Sqs,
    request: ReceiveMessage,
) -> Result<Vec<Message>, ApiError> {
    let clock = Arc::clone(&app.services.clock);
    let start = clock.now_millis();
    let attempt = || guard(sqs.try_receive_message(&request));
    // The first attempt comes before the queue's signal is looked up, so that receives on queues
    // that do not exist fail without leaving a signal behind.
    let first = attempt().await?;
    if !first.messages.is_empty() || first.wait_time_seconds <= 0 {
        return Ok(first.messages);
    }
    let signal = sqs.queue_signal(&request.queue_url)?;
    loop {
        let seen = signal.version();
        let attempt = attempt().await?;
        if !attempt.messages.is_empty() {
            return Ok(attempt.messages);
        }
        let deadline = start + attempt.wait_time_seconds * 1000;
        let now = clock.now_millis();
        if now >= deadline {
            sqs.count_empty_receive(&request.queue_url)?;
            return Ok(Vec::new());
        }
        let wake_at = attempt
            .next_visible_ms
            .map_or(deadline, |v| v.min(deadline));
        let pause = if clock.is_real() {
            std::time::Duration::from_millis((wake_at - now).max(1) as u64)
        } else {
            // A virtual clock notifies the signal whenever it moves; the bound only keeps a
            // forgotten waiter from waiting forever.
            std::time::Duration::from_secs(1)
        };
        let _ = tokio::time::timeout(pause, signal.changed(seen)).await;
    }
}

fn receive_request(o: Obj<'_>) -> Result<ReceiveMessage, WireError> {
    let mut attribute_names = o.str_list("AttributeNames")?;
    attribute_names.extend(o.str_list("MessageSystemAttributeNames")?);
    Ok(ReceiveMessage {
        queue_url: o.req_str("QueueUrl")?.to_owned(),
        max_number_of_messages: o.i64("MaxNumberOfMessages")?,
        visibility_timeout: o.i64("VisibilityTimeout")?,
        wait_time_seconds: o.i64("WaitTimeSeconds")?,
        attribute_names,
        message_attribute_names: o.str_list("MessageAttributeNames")?,
    })
}

fn dispatch(
    sqs: &Sqs,
    base_url: &str,
    operation: &str,
    request: &Value,
    query: bool,
) -> Result<Answer, ApiError> {
    let o = top(request, query).map_err(wire_error(query))?;
    run(sqs, base_url, operation, o).map_err(|e| match e {
        Failure::Wire(w) => wire_error(query)(w),
        Failure::Api(a) => a,
    })
}

/// A failure while translating or running one operation.
enum Failure {
    Wire(WireError),
    Api(ApiError),
}

impl From<WireError> for Failure {
    fn from(e: WireError) -> Failure {
        Failure::Wire(e)
    }
}

impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Failure {
        Failure::Api(e)
    }
}

impl From<sqs::SqsError> for Failure {
    fn from(e: sqs::SqsError) -> Failure {
        Failure::Api(e.into())
    }
}

fn run(sqs: &Sqs, base_url: &str, operation: &str, o: Obj<'_>) -> Result<Answer, Failure> {
    let empty = || Value::Object(Map::new());
    Ok(Answer::Value(match operation {
        "CreateQueue" => {
            let mut tags = o.str_map("tags")?;
            tags.extend(o.str_map("Tags")?);
            let url = sqs.create_queue(
                base_url,
                CreateQueue {
                    queue_name: o.req_str("QueueName")?.to_owned(),
                    attributes: o.str_map("Attributes")?,
                    tags,
                },
            )?;
            object! { "QueueUrl" => url }
        }
        "GetQueueUrl" => {
            let url = sqs.get_queue_url(base_url, o.req_str("QueueName")?)?;
            object! { "QueueUrl" => url }
        }
        "ListQueues" => {
            let result = sqs.list_queues(
                base_url,
                &ListQueues {
                    queue_name_prefix: o.string("QueueNamePrefix")?,
                    max_results: o.i64("MaxResults")?,
                    next_token: o.string("NextToken")?,
                },
            )?;
            object! { "QueueUrls" => result.queue_urls, "NextToken" => result.next_token }
        }
        "DeleteQueue" => {
            sqs.delete_queue(o.req_str("QueueUrl")?)?;
            empty()
        }
        "PurgeQueue" => {
            sqs.purge_queue(o.req_str("QueueUrl")?)?;
            empty()
        }
        "GetQueueAttributes" => {
            let attributes =
                sqs.get_queue_attributes(o.req_str("QueueUrl")?, &o.str_list("AttributeNames")?)?;
            object! { "Attributes" => string_map(attributes) }
        }
        "SetQueueAttributes" => {
            sqs.set_queue_attributes(o.req_str("QueueUrl")?, o.str_map("Attributes")?)?;
            empty()
        }
        "TagQueue" => {
            sqs.tag_queue(o.req_str("QueueUrl")?, o.str_map("Tags")?)?;
            empty()
        }
        "UntagQueue" => {
            sqs.untag_queue(o.req_str("QueueUrl")?, o.str_list("TagKeys")?)?;
            empty()
        }
        "ListQueueTags" => {
            let tags = sqs.list_queue_tags(o.req_str("QueueUrl")?)?;
            object! { "Tags" => string_map(tags) }
        }
        "ListDeadLetterSourceQueues" => {
            let result = sqs.list_dead_letter_source_queues(
                base_url,
                o.req_str("QueueUrl")?,
                o.i64("MaxResults")?,
                o.str("NextToken")?,
            )?;
            object! { "queueUrls" => result.queue_urls, "NextToken" => result.next_token }
        }
        "SendMessage" => {
            let result = sqs.send_message(SendMessage {
                queue_url: o.req_str("QueueUrl")?.to_owned(),
                message_body: o.req_str("MessageBody")?.to_owned(),
                delay_seconds: o.i64("DelaySeconds")?,
                message_attributes: message_attributes(o, "MessageAttributes")?,
                aws_trace_header: trace_header(o)?,
            })?;
            object! {
                "MessageId" => result.message_id,
                "MD5OfMessageBody" => result.md5_of_message_body,
                "MD5OfMessageAttributes" => result.md5_of_message_attributes,
            }
        }
        "DeleteMessage" => {
            sqs.delete_message(o.req_str("QueueUrl")?, o.req_str("ReceiptHandle")?)?;
            empty()
        }
        "ChangeMessageVisibility" => {
            let timeout = o
                .i64("VisibilityTimeout")?
                .ok_or_else(|| WireError::Missing("VisibilityTimeout".into()))?;
            sqs.change_message_visibility(
                o.req_str("QueueUrl")?,
                o.req_str("ReceiptHandle")?,
                timeout,
            )?;
            empty()
        }
        "ChangeMessageVisibilityBatch" => {
            let entries = o
                .objs("Entries")?
                .into_iter()
                .map(|e| {
                    Ok(ChangeMessageVisibilityBatchEntry {
                        id: e.req_str("Id")?.to_owned(),
                        receipt_handle: e.req_str("ReceiptHandle")?.to_owned(),
                        visibility_timeout: e
                            .i64("VisibilityTimeout")?
                            .ok_or_else(|| WireError::Missing("VisibilityTimeout".into()))?,
                    })
                })
                .collect::<Result<Vec<_>, WireError>>()?;
            let result = sqs.change_message_visibility_batch(o.req_str("QueueUrl")?, entries)?;
            return Ok(Answer::Done(BatchOut::from(result)));
        }
        "StartMessageMoveTask" => {
            let handle = sqs.start_message_move_task(StartMessageMoveTask {
                source_arn: o.req_str("SourceArn")?.to_owned(),
                destination_arn: o.string("DestinationArn")?,
                max_number_of_messages_per_second: o.i64("MaxNumberOfMessagesPerSecond")?,
            })?;
            object! { "TaskHandle" => handle }
        }
        "ListMessageMoveTasks" => {
            let tasks =
                sqs.list_message_move_tasks(o.req_str("SourceArn")?, o.i64("MaxResults")?)?;
            let results: Vec<Value> = tasks
                .into_iter()
                .map(|t| {
                    object! {
                        "TaskHandle" => t.task_handle,
                        "Status" => t.status,
                        "SourceArn" => t.source_arn,
                        "DestinationArn" => t.destination_arn,
                        "MaxNumberOfMessagesPerSecond" => t.max_number_of_messages_per_second,
                        "ApproximateNumberOfMessagesMoved" => t.approximate_number_of_messages_moved,
                        "ApproximateNumberOfMessagesToMove" => t.approximate_number_of_messages_to_move,
                        "FailureReason" => t.failure_reason,
                        "StartedTimestamp" => t.started_timestamp,
                    }
                })
                .collect();
            object! { "Results" => results }
        }
        "CancelMessageMoveTask" => {
            let moved = sqs.cancel_message_move_task(o.req_str("TaskHandle")?)?;
            object! { "ApproximateNumberOfMessagesMoved" => moved }
        }
        other => {
            return Err(ApiError::unknown_operation(crate::Protocol::SqsJson, other).into());
        }
    }))
}

/// A batch request's queue URL and entries, read with `entries`. The entries are read first, so
/// that a request wrong in both is answered about its entries.
fn batch_request<T>(
    request: &Value,
    query: bool,
    entries: fn(Obj<'_>) -> Result<Vec<T>, WireError>,
) -> Result<(&str, Vec<T>), ApiError> {
    top(request, query)
        .and_then(|o| {
            let entries = entries(o)?;
            Ok((o.req_str("QueueUrl")?, entries))
        })
        .map_err(wire_error(query))
}

fn send_entries(o: Obj<'_>) -> Result<Vec<SendMessageBatchEntry>, WireError> {
    o.objs("Entries")?
        .into_iter()
        .map(|e| {
            Ok(SendMessageBatchEntry {
                id: e.req_str("Id")?.to_owned(),
                message_body: e.req_str("MessageBody")?.to_owned(),
                delay_seconds: e.i64("DelaySeconds")?,
                message_attributes: message_attributes(e, "MessageAttributes")?,
                aws_trace_header: trace_header(e)?,
            })
        })
        .collect()
}

fn delete_entries(o: Obj<'_>) -> Result<Vec<DeleteMessageBatchEntry>, WireError> {
    o.objs("Entries")?
        .into_iter()
        .map(|e| {
            Ok(DeleteMessageBatchEntry {
                id: e.req_str("Id")?.to_owned(),
                receipt_handle: e.req_str("ReceiptHandle")?.to_owned(),
            })
        })
        .collect()
}

fn string_map(map: std::collections::BTreeMap<String, String>) -> Value {
    Value::Object(
        map.into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect(),
    )
}

fn trace_header(o: Obj<'_>) -> Result<Option<String>, WireError> {
    let system = message_attributes(o, "MessageSystemAttributes")?;
    Ok(system
        .get("AWSTraceHeader")
        .and_then(|a| a.string_value.clone()))
}

fn message_attributes(o: Obj<'_>, key: &str) -> Result<MessageAttributes, WireError> {
    let mut attributes = MessageAttributes::new();
    for (name, value) in o.obj_map(key)? {
        let binary_value = match value.str("BinaryValue")? {
            None => None,
            Some(text) => Some(
                base64::engine::general_purpose::STANDARD
                    .decode(text)
                    .map_err(|_| {
                        WireError::Type(format!("{key}.{name}.BinaryValue"), "base64 text")
                    })?,
            ),
        };
        attributes.insert(
            name.clone(),
            MessageAttributeValue {
                data_type: value.str("DataType")?.unwrap_or_default().to_owned(),
                string_value: value.string("StringValue")?,
                binary_value,
            },
        );
    }
    Ok(attributes)
}

/// An operation's answer. The busiest operations (the queue cycle's SendMessageBatch,
/// ReceiveMessage and DeleteMessageBatch) answer with plain structs that serialize straight to
/// the response, without building a `serde_json::Value` tree first; the others build a value.
/// The query protocol renders either as XML through the value it serializes to, so both
/// protocols share each shape. Members that AWS leaves out when empty are skipped, as `object!`
/// skips nulls.
#[derive(Serialize)]
#[serde(untagged)]
enum Answer {
    Value(Value),
    Received {
        #[serde(rename = "Messages")]
        messages: Vec<MessageOut>,
    },
    Sent(BatchOut<SentOut>),
    Done(BatchOut<IdOut>),
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct MessageOut {
    message_id: String,
    receipt_handle: String,
    #[serde(rename = "MD5OfBody")]
    md5_of_body: String,
    body: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    attributes: BTreeMap<String, String>,
    #[serde(
        rename = "MD5OfMessageAttributes",
        skip_serializing_if = "Option::is_none"
    )]
    md5_of_message_attributes: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    message_attributes: BTreeMap<String, AttributeOut>,
}

impl From<Message> for MessageOut {
    fn from(m: Message) -> MessageOut {
        MessageOut {
            message_id: m.message_id,
            receipt_handle: m.receipt_handle,
            md5_of_body: m.md5_of_body,
            body: m.body,
            attributes: m.attributes,
            md5_of_message_attributes: m.md5_of_message_attributes,
            message_attributes: m
                .message_attributes
                .into_iter()
                .map(|(name, a)| (name, AttributeOut::from(a)))
                .collect(),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct AttributeOut {
    #[serde(skip_serializing_if = "Option::is_none")]
    string_value: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    binary_value: Option<String>,
    data_type: String,
}

impl From<MessageAttributeValue> for AttributeOut {
    fn from(a: MessageAttributeValue) -> AttributeOut {
        AttributeOut {
            string_value: a.string_value,
            binary_value: a
                .binary_value
                .map(|b| base64::engine::general_purpose::STANDARD.encode(b)),
            data_type: a.data_type,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct BatchOut<T> {
    successful: Vec<T>,
    failed: Vec<FailedOut>,
}

impl<S, T: From<S>> From<BatchResult<S>> for BatchOut<T> {
    fn from(result: BatchResult<S>) -> BatchOut<T> {
        BatchOut {
            successful: result.successful.into_iter().map(T::from).collect(),
            failed: result.failed.into_iter().map(FailedOut::from).collect(),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct FailedOut {
    id: String,
    sender_fault: bool,
    code: String,
    message: String,
}

impl From<BatchResultErrorEntry> for FailedOut {
    fn from(f: BatchResultErrorEntry) -> FailedOut {
        FailedOut {
            id: f.id,
            sender_fault: f.sender_fault,
            code: f.code,
            message: f.message,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct SentOut {
    id: String,
    message_id: String,
    #[serde(rename = "MD5OfMessageBody")]
    md5_of_message_body: String,
    #[serde(
        rename = "MD5OfMessageAttributes",
        skip_serializing_if = "Option::is_none"
    )]
    md5_of_message_attributes: Option<String>,
}

impl From<SendMessageBatchResultEntry> for SentOut {
    fn from(r: SendMessageBatchResultEntry) -> SentOut {
        SentOut {
            id: r.id,
            message_id: r.message_id,
            md5_of_message_body: r.md5_of_message_body,
            md5_of_message_attributes: r.md5_of_message_attributes,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct IdOut {
    id: String,
}

impl From<String> for IdOut {
    fn from(id: String) -> IdOut {
        IdOut { id }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(attributes: bool) -> Message {
        let mut m = Message {
            message_id: "id".into(),
            receipt_handle: "rh".into(),
            md5_of_body: "md5".into(),
            body: "{\"a\":1}".into(),
            attributes: BTreeMap::new(),
            md5_of_message_attributes: None,
            message_attributes: MessageAttributes::new(),
        };
        if attributes {
            m.attributes
                .insert("ApproximateReceiveCount".into(), "2".into());
            m.md5_of_message_attributes = Some("amd5".into());
            m.message_attributes.insert(
                "k".into(),
                MessageAttributeValue {
                    data_type: "Binary".into(),
                    string_value: None,
                    binary_value: Some(vec![0, 1]),
                },
            );
        }
        m
    }

    #[test]
    fn typed_answers_keep_the_wire_names_and_leave_out_empty_members() {
        let answer = Answer::Received {
            messages: vec![message(false).into(), message(true).into()],
        };
        assert_eq!(
            serde_json::to_string(&answer).unwrap(),
            concat!(
                r#"{"Messages":[{"MessageId":"id","ReceiptHandle":"rh","MD5OfBody":"md5","Body":"{\"a\":1}"},"#,
                r#"{"MessageId":"id","ReceiptHandle":"rh","MD5OfBody":"md5","Body":"{\"a\":1}","#,
                r#""Attributes":{"ApproximateReceiveCount":"2"},"MD5OfMessageAttributes":"amd5","#,
                r#""MessageAttributes":{"k":{"BinaryValue":"AAE=","DataType":"Binary"}}}]}"#
            )
        );
        let answer = Answer::Done(BatchOut::from(BatchResult {
            successful: vec!["a".to_owned()],
            failed: vec![BatchResultErrorEntry {
                id: "b".into(),
                sender_fault: true,
                code: "ReceiptHandleIsInvalid".into(),
                message: "no".into(),
            }],
        }));
        assert_eq!(
            serde_json::to_string(&answer).unwrap(),
            r#"{"Successful":[{"Id":"a"}],"Failed":[{"Id":"b","SenderFault":true,"Code":"ReceiptHandleIsInvalid","Message":"no"}]}"#
        );
    }
}
