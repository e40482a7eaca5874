//! Publish: the notification JSON AWS sends, one outbox row per subscription, the terminal
//! sinks; and the CloudWatch alarm notifier that publishes alarm state changes.
//!
//! What is a placeholder in the notification: `Signature` (the local engine holds no AWS signing
//! key; the value is a fixed base64 text that says so) and `SigningCertURL` (it names a
//! certificate that does not exist). `UnsubscribeURL` is real: it is the endpoint's Unsubscribe
//! action for the subscription.

use rusqlite::params;
use serde_json::{Map, Value};

use crate::topics::{subscriptions_of, topic_exists};
use crate::{Sns, SnsError};

/// Largest message, as on AWS: 256 KiB.
const MAX_MESSAGE_BYTES: usize = 262_144;

/// base64 of "cascade local engine: this notification is not signed".
const SIGNATURE_PLACEHOLDER: &str =
    "Y2FzY2FkZSBsb2NhbCBlbmdpbmU6IHRoaXMgbm90aWZpY2F0aW9uIGlzIG5vdCBzaWduZWQ=";

/// A message attribute of Publish: `DataType` (`String`, `Number`, `Binary`...) and its value
/// (base64 for binary values).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageAttribute {
    pub name: String,
    pub data_type: String,
    pub value: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublishRequest {
    pub topic_arn: String,
    pub message: String,
    pub subject: Option<String>,
    pub message_attributes: Vec<MessageAttribute>,
}

/// The notification JSON of `request` for the subscription `subscription_arn`, with AWS's
/// member order.
pub fn notification_json(
    request: &PublishRequest,
    message_id: &str,
    subscription_arn: &str,
    timestamp: &str,
    region: &str,
    endpoint_url: &str,
) -> Value {
    let mut n = Map::new();
    n.insert("Type".into(), "Notification".into());
    n.insert("MessageId".into(), message_id.into());
    n.insert("TopicArn".into(), request.topic_arn.clone().into());
    if let Some(subject) = &request.subject {
        n.insert("Subject".into(), subject.clone().into());
    }
    n.insert("Message".into(), request.message.clone().into());
    n.insert("Timestamp".into(), timestamp.into());
    n.insert("SignatureVersion".into(), "1".into());
    n.insert("Signature".into(), SIGNATURE_PLACEHOLDER.into());
    n.insert(
        "SigningCertURL".into(),
        format!("https://sns.{region}.amazonaws.com/SimpleNotificationService-cascade-local.pem")
            .into(),
    );
    n.insert(
        "UnsubscribeURL".into(),
        format!(
            "{}/?Action=Unsubscribe&SubscriptionArn={subscription_arn}",
            endpoint_url.trim_end_matches('/')
        )
        .into(),
    );
    if !request.message_attributes.is_empty() {
        let mut attrs = Map::new();
        for a in &request.message_attributes {
            let mut attr = Map::new();
            attr.insert("Type".into(), a.data_type.clone().into());
            attr.insert("Value".into(), a.value.clone().into());
            attrs.insert(a.name.clone(), Value::Object(attr));
        }
        n.insert("MessageAttributes".into(), Value::Object(attrs));
    }
    Value::Object(n)
}

fn check(request: &PublishRequest) -> Result<(), SnsError> {
    if request.message.is_empty() {
        return Err(SnsError::InvalidParameter("Empty message".into()));
    }
    if request.message.len() > MAX_MESSAGE_BYTES {
        return Err(SnsError::InvalidParameter(format!(
            "Message too long: {} bytes, at most {MAX_MESSAGE_BYTES}",
            request.message.len()
        )));
    }
    if let Some(subject) = &request.subject {
        if subject.is_empty()
            || subject.chars().count() > 100
            || subject
                .chars()
                .any(|c| !c.is_ascii() || c.is_ascii_control())
        {
            return Err(SnsError::InvalidParameter(
                "Subject must be 1 to 100 ASCII characters without line breaks or control characters".into(),
            ));
        }
    }
    for a in &request.message_attributes {
        if !["String", "Number", "Binary", "String.Array"]
            .iter()
            .any(|t| a.data_type == *t || a.data_type.starts_with(&format!("{t}.")))
        {
            return Err(SnsError::InvalidParameter(format!(
                "The message attribute '{}' has an invalid message attribute type, the set of supported type prefixes is Binary, Number, and String.",
                a.name
            )));
        }
    }
    Ok(())
}

impl Sns {
    /// Publish: accepts the message (one outbox row per subscription, in one store write),
    /// delivers its `sqs` subscriptions at once, gives it to the terminal sinks and wakes the
    /// HTTP delivery loop. Returns the MessageId.
    pub fn publish(&self, request: &PublishRequest) -> Result<String, SnsError> {
        check(request)?;
        let message_id = uuid::Uuid::new_v4().to_string();
        let now = self.now();
        let timestamp = cloudwatch::time::iso(now);
        let config = self.config().clone();
        let req = request.clone();
        let id = message_id.clone();
        let has_http = self.store().write(move |conn| {
            if !topic_exists(conn, &req.topic_arn)? {
                return Err(SnsError::NotFound("Topic does not exist".into()));
            }
            let mut insert = conn.prepare_cached(
                "INSERT INTO sns_deliveries (message_id, topic_arn, subscription_arn, protocol, endpoint, body, state, attempts, next_ms, last_error, created_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', 0, ?7, NULL, ?7)",
            )?;
            let mut has_http = false;
            for sub in subscriptions_of(conn, Some(&req.topic_arn))? {
                let body = if sub.raw_message_delivery {
                    req.message.clone()
                } else {
                    notification_json(
                        &req,
                        &id,
                        &sub.arn,
                        &timestamp,
                        &config.region,
                        &config.endpoint_url,
                    )
                    .to_string()
                };
                has_http |= sub.protocol.starts_with("http");
                insert.execute(params![
                    id,
                    req.topic_arn,
                    sub.arn,
                    sub.protocol,
                    sub.endpoint,
                    body,
                    now
                ])?;
            }
            Ok(has_http)
        })?;
        let sinks = self
            .inner
            .sinks
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        for sink in sinks {
            sink.published(
                &request.topic_arn,
                request.subject.as_deref(),
                &request.message,
            );
        }
        self.deliver_local(&message_id)?;
        if has_http {
            self.inner.wake.notify_one();
        }
        Ok(message_id)
    }
}

/// CloudWatch alarm actions that are SNS topic ARNs are published as AWS does: the alarm JSON
/// as the message, `ALARM: "name" in Region` as the subject.
impl cloudwatch::AlarmNotifier for Sns {
    fn state_changed(&self, change: &cloudwatch::StateChange) {
        for action in &change.actions {
            if !action.starts_with("arn:") || action.split(':').nth(2) != Some("sns") {
                continue;
            }
            let request = PublishRequest {
                topic_arn: action.clone(),
                message: change.notification_message().to_string(),
                subject: Some(change.notification_subject()),
                message_attributes: Vec::new(),
            };
            match self.publish(&request) {
                Ok(id) => {
                    tracing::info!(alarm = %change.alarm.name, topic = %action, message_id = %id, state = change.new_state.name(), "alarm notification published")
                }
                Err(e) => {
                    tracing::warn!(alarm = %change.alarm.name, topic = %action, error = %e, "alarm notification could not be published")
                }
            }
        }
    }
}
