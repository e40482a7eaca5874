//! Queue attributes: AWS's names, defaults and ranges, and the typed [`Settings`] they set.
//!
//! Settable attributes are parsed into [`Settings`] (validated, normalised) and written back out by
//! [`Settings::to_map`], so that the values GetQueueAttributes returns and the values CreateQueue
//! compares for an existing queue are the same strings.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::SqsError;

/// Attributes computed from the queue's state; they can be read but never set.
pub const COMPUTED: &[&str] = &[
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
    "CreatedTimestamp",
    "LastModifiedTimestamp",
    "QueueArn",
];

/// Attributes that exist only on FIFO queues, which this engine does not provide yet.
const FIFO_ONLY: &[&str] = &[
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "FifoThroughputLimit",
];

/// The dead-letter part of a queue's settings (its RedrivePolicy).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redrive {
    pub dead_letter_target_arn: String,
    /// The dead-letter queue's name, taken from the ARN.
    pub target_name: String,
    /// 1 to 1,000: how many times a message is handed out before the next receive moves it.
    pub max_receive_count: i64,
}

/// The settable attributes of a queue, with AWS's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub delay_seconds: i64,
    pub maximum_message_size: i64,
    pub message_retention_period: i64,
    pub receive_message_wait_time_seconds: i64,
    pub visibility_timeout: i64,
    pub redrive: Option<Redrive>,
    /// Normalised JSON, or `None`.
    pub redrive_allow_policy: Option<String>,
    pub policy: Option<String>,
    pub kms_master_key_id: Option<String>,
    pub kms_data_key_reuse_period_seconds: i64,
    pub sqs_managed_sse_enabled: bool,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            delay_seconds: 0,
            maximum_message_size: 1_048_576,
            message_retention_period: 345_600,
            receive_message_wait_time_seconds: 0,
            visibility_timeout: 30,
            redrive: None,
            redrive_allow_policy: None,
            policy: None,
            kms_master_key_id: None,
            kms_data_key_reuse_period_seconds: 300,
            sqs_managed_sse_enabled: true,
        }
    }
}

fn invalid(name: &str, reason: impl Into<String>) -> SqsError {
    SqsError::InvalidAttributeValue {
        name: name.to_owned(),
        reason: reason.into(),
    }
}

fn integer(name: &str, value: &str, min: i64, max: i64) -> Result<i64, SqsError> {
    match value.trim().parse::<i64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(invalid(
            name,
            format!("`{value}` is not an integer from {min} to {max}"),
        )),
    }
}

fn json(name: &str, value: &str) -> Result<Value, SqsError> {
    serde_json::from_str(value).map_err(|e| invalid(name, format!("`{value}` is not JSON: {e}")))
}

/// The queue name at the end of an SQS ARN (`arn:aws:sqs:region:account:name`), if it is one.
pub fn name_from_arn(arn: &str) -> Option<&str> {
    let mut parts = arn.splitn(6, ':');
    let fields: [&str; 6] = std::array::from_fn(|_| parts.next().unwrap_or(""));
    (fields[0] == "arn" && fields[2] == "sqs" && !fields[5].is_empty()).then_some(fields[5])
}

impl Settings {
    /// Sets one attribute from its AWS name and string value, validating it. `FifoQueue` is
    /// accepted only as `false` (standard queues).
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), SqsError> {
        match name {
            "DelaySeconds" => self.delay_seconds = integer(name, value, 0, 900)?,
            "MaximumMessageSize" => {
                self.maximum_message_size = integer(name, value, 1_024, 1_048_576)?
            }
            "MessageRetentionPeriod" => {
                self.message_retention_period = integer(name, value, 60, 1_209_600)?
            }
            "ReceiveMessageWaitTimeSeconds" => {
                self.receive_message_wait_time_seconds = integer(name, value, 0, 20)?
            }
            "VisibilityTimeout" => self.visibility_timeout = integer(name, value, 0, 43_200)?,
            "KmsDataKeyReusePeriodSeconds" => {
                self.kms_data_key_reuse_period_seconds = integer(name, value, 60, 86_400)?
            }
            "SqsManagedSseEnabled" => {
                self.sqs_managed_sse_enabled = match value.to_ascii_lowercase().as_str() {
                    "true" => true,
                    "false" => false,
                    _ => return Err(invalid(name, format!("`{value}` is not true or false"))),
                }
            }
            "KmsMasterKeyId" => {
                self.kms_master_key_id = (!value.is_empty()).then(|| value.to_owned())
            }
            "Policy" => {
                self.policy = if value.is_empty() {
                    None
                } else {
                    Some(json(name, value)?.to_string())
                }
            }
            "RedrivePolicy" => self.redrive = redrive_policy(value)?,
            "RedriveAllowPolicy" => {
                self.redrive_allow_policy = redrive_allow_policy(value)?;
            }
            "FifoQueue" => {
                if !value.eq_ignore_ascii_case("false") {
                    return Err(SqsError::UnsupportedOperation(
                        "FIFO queues are not supported; FifoQueue must be false".into(),
                    ));
                }
            }
            _ if FIFO_ONLY.contains(&name) => {
                return Err(SqsError::InvalidAttributeName(name.to_owned()))
            }
            _ if COMPUTED.contains(&name) => {
                return Err(SqsError::InvalidAttributeName(name.to_owned()))
            }
            _ => return Err(SqsError::InvalidAttributeName(name.to_owned())),
        }
        Ok(())
    }

    /// Every settable attribute with its current value, as GetQueueAttributes returns them (unset
    /// optional ones are left out, as AWS does).
    pub fn to_map(&self) -> BTreeMap<String, String> {
        let mut map = BTreeMap::new();
        let mut put = |k: &str, v: String| {
            map.insert(k.to_owned(), v);
        };
        put("DelaySeconds", self.delay_seconds.to_string());
        put("MaximumMessageSize", self.maximum_message_size.to_string());
        put(
            "MessageRetentionPeriod",
            self.message_retention_period.to_string(),
        );
        put(
            "ReceiveMessageWaitTimeSeconds",
            self.receive_message_wait_time_seconds.to_string(),
        );
        put("VisibilityTimeout", self.visibility_timeout.to_string());
        put(
            "SqsManagedSseEnabled",
            self.sqs_managed_sse_enabled.to_string(),
        );
        if let Some(redrive) = &self.redrive {
            put("RedrivePolicy", redrive_policy_json(redrive));
        }
        if let Some(p) = &self.redrive_allow_policy {
            put("RedriveAllowPolicy", p.clone());
        }
        if let Some(p) = &self.policy {
            put("Policy", p.clone());
        }
        if let Some(k) = &self.kms_master_key_id {
            put("KmsMasterKeyId", k.clone());
            put(
                "KmsDataKeyReusePeriodSeconds",
                self.kms_data_key_reuse_period_seconds.to_string(),
            );
        }
        map
    }
}

/// The normalised RedrivePolicy JSON, as GetQueueAttributes returns it.
pub fn redrive_policy_json(redrive: &Redrive) -> String {
    serde_json::json!({
        "deadLetterTargetArn": redrive.dead_letter_target_arn,
        "maxReceiveCount": redrive.max_receive_count,
    })
    .to_string()
}

fn redrive_policy(value: &str) -> Result<Option<Redrive>, SqsError> {
    const NAME: &str = "RedrivePolicy";
    if value.is_empty() {
        return Ok(None);
    }
    let json = json(NAME, value)?;
    let arn = json
        .get("deadLetterTargetArn")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(NAME, "deadLetterTargetArn is missing"))?;
    let target_name = name_from_arn(arn)
        .ok_or_else(|| invalid(NAME, format!("`{arn}` is not an SQS queue ARN")))?;
    // AWS accepts the count as a number or as a string holding one.
    let count = match json.get("maxReceiveCount") {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.parse::<i64>().ok(),
        _ => None,
    };
    let max_receive_count = count
        .filter(|n| (1..=1_000).contains(n))
        .ok_or_else(|| invalid(NAME, "maxReceiveCount must be an integer from 1 to 1000"))?;
    Ok(Some(Redrive {
        dead_letter_target_arn: arn.to_owned(),
        target_name: target_name.to_owned(),
        max_receive_count,
    }))
}

fn redrive_allow_policy(value: &str) -> Result<Option<String>, SqsError> {
    const NAME: &str = "RedriveAllowPolicy";
    if value.is_empty() {
        return Ok(None);
    }
    let json = json(NAME, value)?;
    let permission = json
        .get("redrivePermission")
        .and_then(Value::as_str)
        .unwrap_or("");
    let sources = json.get("sourceQueueArns").and_then(Value::as_array);
    match (permission, sources) {
        ("allowAll" | "denyAll", None) => {}
        ("byQueue", Some(arns)) if (1..=10).contains(&arns.len()) => {}
        _ => {
            return Err(invalid(
                NAME,
                "redrivePermission must be allowAll, denyAll, or byQueue with 1 to 10 \
                 sourceQueueArns",
            ))
        }
    }
    Ok(Some(json.to_string()))
}

/// Whether a dead-letter queue whose RedriveAllowPolicy is `policy` accepts `source_arn` as a source.
pub fn redrive_allowed(policy: Option<&str>, source_arn: &str) -> bool {
    let Some(json) = policy.and_then(|p| serde_json::from_str::<Value>(p).ok()) else {
        return true;
    };
    match json.get("redrivePermission").and_then(Value::as_str) {
        Some("denyAll") => false,
        Some("byQueue") => json
            .get("sourceQueueArns")
            .and_then(Value::as_array)
            .is_some_and(|arns| arns.iter().any(|a| a.as_str() == Some(source_arn))),
        _ => true,
    }
}

/// Checks the names asked of GetQueueAttributes; `All` expands to every attribute.
pub fn requested_names(names: &[String]) -> Result<(bool, Vec<String>), SqsError> {
    let mut out = Vec::new();
    let mut all = false;
    for name in names {
        if name == "All" {
            all = true;
            continue;
        }
        let known = COMPUTED.contains(&name.as_str())
            || matches!(
                name.as_str(),
                "DelaySeconds"
                    | "MaximumMessageSize"
                    | "MessageRetentionPeriod"
                    | "ReceiveMessageWaitTimeSeconds"
                    | "VisibilityTimeout"
                    | "RedrivePolicy"
                    | "RedriveAllowPolicy"
                    | "Policy"
                    | "KmsMasterKeyId"
                    | "KmsDataKeyReusePeriodSeconds"
                    | "SqsManagedSseEnabled"
            );
        if !known {
            return Err(SqsError::InvalidAttributeName(name.clone()));
        }
        out.push(name.clone());
    }
    Ok((all, out))
}
