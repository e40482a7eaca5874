//! SNS over the wire: the query protocol (form parameters in, XML out), the only one SNS speaks.
//!
//! Operations: CreateTopic, ListTopics, Subscribe, Unsubscribe, ListSubscriptions,
//! ListSubscriptionsByTopic, Publish. Forms are rebuilt by `cloudwatch_api::query_to_json`
//! (`Attributes.entry.N.key`, `MessageAttributes.entry.N.Name`...) and results rendered by
//! `cloudwatch_api::query_xml`. Lists are not paged: every answer holds the whole list.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::http::request::Parts;
use hyper::{Response, StatusCode};
use serde_json::{json, Value};
use sns::{MessageAttribute, PublishRequest, Sns, SnsError};

use crate::cloudwatch_api::{decode_request, query_xml};
use crate::error::{ApiError, Protocol};
use crate::server::{blocking, xml_response, App, RequestCtx};
use crate::wire::{top, Obj, WireError};

pub const XMLNS: &str = "http://sns.amazonaws.com/doc/2010-03-31/";

impl From<SnsError> for ApiError {
    fn from(e: SnsError) -> ApiError {
        let mut error = if e.status() < 500 {
            ApiError::client(e.code(), e.to_string())
        } else {
            tracing::error!(error = %e, "sns engine failure");
            let mut error = ApiError::internal(e.to_string());
            error.code = e.code().to_owned();
            error
        };
        error.status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
        error
    }
}

fn wire_error(e: WireError) -> ApiError {
    ApiError::client(
        "InvalidParameter",
        format!("Invalid parameter: {}", e.message()),
    )
}

/// An SNS request.
pub async fn handle(
    app: &Arc<App>,
    ctx: &RequestCtx,
    parts: &Parts,
    body: Bytes,
) -> Result<Response<Full<Bytes>>, ApiError> {
    let (operation, request, _) = decode_request(Protocol::SnsQuery, None, parts, &body)?;
    let sns = app.services.sns.clone();
    let op = operation.clone();
    let result = blocking(move || dispatch(&sns, &op, &request)).await?;
    Ok(xml_response(
        query_xml(&operation, &result, &ctx.request_id, XMLNS),
        &ctx.request_id,
    ))
}

/// The `entry` list of a query map (`Attributes.entry.N.key/value`) as pairs.
fn entries(r: &Obj<'_>, key: &str, k: &str, v: &str) -> Result<Vec<(String, Value)>, WireError> {
    Ok(r.objs(key)?
        .iter()
        .filter_map(|e| {
            let name = e.map.get(k)?.as_str()?.to_owned();
            Some((name, e.map.get(v).cloned().unwrap_or(Value::Null)))
        })
        .collect())
}

fn subscription_json(s: &sns::Subscription, account: &str) -> Value {
    json!({
        "SubscriptionArn": s.arn,
        "Owner": account,
        "Protocol": s.protocol,
        "Endpoint": s.endpoint,
        "TopicArn": s.topic_arn,
    })
}

fn dispatch(sns: &Sns, operation: &str, request: &Value) -> Result<Value, ApiError> {
    let r = top(request, true).map_err(wire_error)?;
    let account = sns.config().account_id.clone();
    match operation {
        "CreateTopic" => {
            let name = r.req_str("Name").map_err(wire_error)?;
            Ok(json!({"TopicArn": sns.create_topic(name)?}))
        }
        "ListTopics" => {
            let topics: Vec<Value> = sns
                .list_topics()?
                .iter()
                .map(|t| json!({"TopicArn": t.arn}))
                .collect();
            Ok(json!({"Topics": topics}))
        }
        "Subscribe" => {
            let attributes = entries(&r, "Attributes", "key", "value").map_err(wire_error)?;
            let raw = attributes
                .iter()
                .any(|(k, v)| k == "RawMessageDelivery" && v.as_str() == Some("true"));
            let arn = sns.subscribe(
                r.req_str("TopicArn").map_err(wire_error)?,
                r.req_str("Protocol").map_err(wire_error)?,
                r.str("Endpoint").map_err(wire_error)?.unwrap_or_default(),
                raw,
            )?;
            Ok(json!({"SubscriptionArn": arn}))
        }
        "Unsubscribe" => {
            sns.unsubscribe(r.req_str("SubscriptionArn").map_err(wire_error)?)?;
            Ok(json!({}))
        }
        "ListSubscriptions" | "ListSubscriptionsByTopic" => {
            let topic = if operation == "ListSubscriptionsByTopic" {
                Some(r.req_str("TopicArn").map_err(wire_error)?)
            } else {
                None
            };
            let subs: Vec<Value> = sns
                .list_subscriptions(topic)?
                .iter()
                .map(|s| subscription_json(s, &account))
                .collect();
            Ok(json!({"Subscriptions": subs}))
        }
        "Publish" => {
            let topic = match r.str("TopicArn").map_err(wire_error)? {
                Some(t) => t,
                None => r.str("TargetArn").map_err(wire_error)?.ok_or_else(|| {
                    ApiError::client("InvalidParameter", "Invalid parameter: TopicArn or TargetArn Reason: no value for required parameter")
                })?,
            };
            let mut message_attributes = Vec::new();
            for (name, value) in
                entries(&r, "MessageAttributes", "Name", "Value").map_err(wire_error)?
            {
                let data_type = value
                    .get("DataType")
                    .and_then(Value::as_str)
                    .unwrap_or("String");
                let value = value
                    .get("StringValue")
                    .or_else(|| value.get("BinaryValue"))
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                message_attributes.push(MessageAttribute {
                    name,
                    data_type: data_type.to_owned(),
                    value: value.to_owned(),
                });
            }
            let id = sns.publish(&PublishRequest {
                topic_arn: topic.to_owned(),
                message: r.req_str("Message").map_err(wire_error)?.to_owned(),
                subject: r.string("Subject").map_err(wire_error)?,
                message_attributes,
            })?;
            Ok(json!({"MessageId": id}))
        }
        other => Err(ApiError::client(
            "InvalidAction",
            format!("The action `{other}` is not supported by the local SNS"),
        )),
    }
}
