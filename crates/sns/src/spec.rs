//! Topics and subscriptions as the templates define them: `AWS::SNS::Topic` (with its inline
//! `Subscription` list) and `AWS::SNS::Subscription`.

use serde_json::Value;

use crate::SnsError;

/// A deployed topic. `arn` is its physical id (what `Ref` of a topic gives).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicSpec {
    pub arn: String,
    pub name: String,
    pub display_name: Option<String>,
    pub subscriptions: Vec<SubscriptionSpec>,
}

/// A deployed subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionSpec {
    pub topic_arn: String,
    pub protocol: String,
    pub endpoint: String,
    pub raw_message_delivery: bool,
}

fn text(props: &Value, key: &str, place: &str) -> Result<Option<String>, SnsError> {
    match props.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(SnsError::InvalidParameter(format!(
            "{place}.{key} must be a string"
        ))),
    }
}

fn required(props: &Value, key: &str, place: &str) -> Result<String, SnsError> {
    text(props, key, place)?
        .ok_or_else(|| SnsError::InvalidParameter(format!("{place}.{key} is required")))
}

impl TopicSpec {
    /// Reads `AWS::SNS::Topic` properties of the topic whose ARN is `arn`.
    pub fn from_cfn(arn: &str, properties: &Value) -> Result<TopicSpec, SnsError> {
        let name = text(properties, "TopicName", "Properties")?
            .unwrap_or_else(|| arn.rsplit(':').next().unwrap_or(arn).to_owned());
        let mut subscriptions = Vec::new();
        match properties.get("Subscription") {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    let place = format!("Properties.Subscription[{i}]");
                    subscriptions.push(SubscriptionSpec {
                        topic_arn: arn.to_owned(),
                        protocol: required(item, "Protocol", &place)?,
                        endpoint: required(item, "Endpoint", &place)?,
                        raw_message_delivery: false,
                    });
                }
            }
            Some(_) => {
                return Err(SnsError::InvalidParameter(
                    "Properties.Subscription must be a list".into(),
                ))
            }
        }
        Ok(TopicSpec {
            arn: arn.to_owned(),
            name,
            display_name: text(properties, "DisplayName", "Properties")?,
            subscriptions,
        })
    }
}

impl SubscriptionSpec {
    /// Reads `AWS::SNS::Subscription` properties.
    pub fn from_cfn(properties: &Value) -> Result<SubscriptionSpec, SnsError> {
        let raw = match properties.get("RawMessageDelivery") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
            Some(_) => {
                return Err(SnsError::InvalidParameter(
                    "Properties.RawMessageDelivery must be true or false".into(),
                ))
            }
        };
        Ok(SubscriptionSpec {
            topic_arn: required(properties, "TopicArn", "Properties")?,
            protocol: required(properties, "Protocol", "Properties")?,
            endpoint: required(properties, "Endpoint", "Properties")?,
            raw_message_delivery: raw,
        })
    }
}
