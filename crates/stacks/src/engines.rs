//! The engine side of a deploy: CloudFormation properties of queues and tables turned into the
//! `sqs` and `dynamodb` engines' typed requests, and the journaled [`Step`]s with their undo.
//!
//! Every engine change is written to the journal before it is made (write-ahead), so the undo of
//! each step tolerates a change that never happened: deleting a queue or table that is not there
//! is not an error, and restoring attributes sets them whatever they are.
//!
//! The `dynamodb` engine has no UpdateTable, so a table's Modify (billing, streams, tags) is
//! recorded in the registry only; key changes are replacements and go through the engine.

use std::collections::BTreeMap;

use dynamodb::{
    AttributeDefinition, BillingMode, CreateTableInput, DynamoDb, KeySchemaElement, KeyType,
    ProvisionedThroughput, ScalarType, StreamSpecification, StreamViewType,
};
use serde_json::Value;
use sqs::{CreateQueue, Sqs, SqsError};

use crate::desired::value_text;

/// One engine change of a running deploy, as journaled before it is made.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(tag = "step")]
pub(crate) enum Step {
    CreatedQueue {
        name: String,
    },
    ModifiedQueue {
        name: String,
        previous: BTreeMap<String, String>,
    },
    DeletedQueue {
        name: String,
        properties: Value,
    },
    CreatedTable {
        name: String,
    },
    DeletedTable {
        name: String,
        properties: Value,
    },
    /// A table's stream set from its properties; undone by setting it from `previous`.
    ModifiedTable {
        name: String,
        previous: Value,
    },
}

/// Queue attributes a CloudFormation update may set, with AWS's defaults (what a property left
/// out of the template goes back to). Empty means "unset".
const QUEUE_SETTABLE: &[(&str, &str)] = &[
    ("DelaySeconds", "0"),
    ("KmsDataKeyReusePeriodSeconds", "300"),
    ("KmsMasterKeyId", ""),
    ("MaximumMessageSize", "1048576"),
    ("MessageRetentionPeriod", "345600"),
    ("Policy", ""),
    ("ReceiveMessageWaitTimeSeconds", "0"),
    ("RedriveAllowPolicy", ""),
    ("RedrivePolicy", ""),
    ("SqsManagedSseEnabled", "true"),
    ("VisibilityTimeout", "30"),
];

/// Properties that are not queue attributes.
const QUEUE_NOT_ATTRIBUTES: &[&str] = &["QueueName", "Tags"];

/// The queue name at the end of a queue URL (or a bare name).
pub(crate) fn queue_name(physical_id: &str) -> String {
    physical_id
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or(physical_id)
        .to_string()
}

/// A queue's CloudFormation properties as SQS attributes (objects such as RedrivePolicy as JSON).
fn queue_attributes(props: &Value) -> BTreeMap<String, String> {
    props
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, _)| !QUEUE_NOT_ATTRIBUTES.contains(&k.as_str()))
        .map(|(k, v)| {
            let text = match v {
                Value::Object(_) => v.to_string(),
                other => value_text(other),
            };
            (k.clone(), text)
        })
        .collect()
}

/// CloudFormation `Tags: [{Key, Value}]` as a map.
fn tags(props: &Value) -> BTreeMap<String, String> {
    props["Tags"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| Some((t["Key"].as_str()?.to_string(), value_text(&t["Value"]))))
        .collect()
}

fn scalar_type(s: &str) -> Result<ScalarType, String> {
    match s {
        "S" => Ok(ScalarType::S),
        "N" => Ok(ScalarType::N),
        "B" => Ok(ScalarType::B),
        other => Err(format!("AttributeType `{other}` is not S, N or B")),
    }
}

fn number(v: &Value, what: &str) -> Result<i64, String> {
    v.as_i64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        .ok_or_else(|| format!("{what} `{v}` is not an integer"))
}

/// A table's CloudFormation properties as a CreateTable request.
pub(crate) fn table_request(name: &str, props: &Value) -> Result<CreateTableInput, String> {
    let key_schema = props["KeySchema"]
        .as_array()
        .ok_or("KeySchema is missing")?
        .iter()
        .map(|k| {
            let key_type = match k["KeyType"].as_str() {
                Some("HASH") => KeyType::Hash,
                Some("RANGE") => KeyType::Range,
                other => {
                    return Err(format!(
                        "KeyType `{}` is not HASH or RANGE",
                        other.unwrap_or("")
                    ))
                }
            };
            Ok(KeySchemaElement {
                attribute_name: k["AttributeName"].as_str().unwrap_or("").to_string(),
                key_type,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let attribute_definitions = props["AttributeDefinitions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|d| {
            Ok(AttributeDefinition {
                attribute_name: d["AttributeName"].as_str().unwrap_or("").to_string(),
                attribute_type: scalar_type(d["AttributeType"].as_str().unwrap_or(""))?,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let billing_mode = match props["BillingMode"].as_str() {
        None => None,
        Some("PAY_PER_REQUEST") => Some(BillingMode::PayPerRequest),
        Some("PROVISIONED") => Some(BillingMode::Provisioned),
        Some(other) => {
            return Err(format!(
                "BillingMode `{other}` is not PAY_PER_REQUEST or PROVISIONED"
            ))
        }
    };
    let provisioned_throughput = match props.get("ProvisionedThroughput") {
        Some(p) => Some(ProvisionedThroughput {
            read_capacity_units: number(&p["ReadCapacityUnits"], "ReadCapacityUnits")?,
            write_capacity_units: number(&p["WriteCapacityUnits"], "WriteCapacityUnits")?,
        }),
        None => None,
    };
    let stream_specification = match props.get("StreamSpecification") {
        Some(s) => {
            let view = s["StreamViewType"]
                .as_str()
                .ok_or("StreamViewType is missing")?;
            let view: StreamViewType = view.parse().map_err(|e: dynamodb::Error| e.to_string())?;
            Some(StreamSpecification {
                stream_enabled: s["StreamEnabled"].as_bool().unwrap_or(true),
                stream_view_type: Some(view),
            })
        }
        None => None,
    };
    Ok(CreateTableInput {
        table_name: name.to_string(),
        key_schema,
        attribute_definitions,
        billing_mode,
        provisioned_throughput,
        stream_specification,
    })
}

/// The engines a deploy changes.
#[derive(Clone)]
pub(crate) struct Engines {
    pub sqs: Sqs,
    pub dynamodb: DynamoDb,
    /// The base of the queue URLs CreateQueue answers (AWS's, as `Ref` gives them).
    pub base_url: String,
}

impl Engines {
    pub fn queue_exists(&self, name: &str) -> Result<bool, String> {
        match self.sqs.get_queue_url(&self.base_url, name) {
            Ok(_) => Ok(true),
            Err(SqsError::QueueDoesNotExist(_)) => Ok(false),
            Err(e) => Err(e.to_string()),
        }
    }

    pub fn table_exists(&self, name: &str) -> Result<bool, String> {
        match self.dynamodb.describe_table(name) {
            Ok(_) => Ok(true),
            Err(dynamodb::Error::ResourceNotFound(_)) => Ok(false),
            Err(e) => Err(e.to_string()),
        }
    }

    pub fn create_queue(&self, name: &str, props: &Value) -> Result<(), String> {
        self.sqs
            .create_queue(
                &self.base_url,
                CreateQueue {
                    queue_name: name.to_string(),
                    attributes: queue_attributes(props),
                    tags: tags(props),
                },
            )
            .map(|_| ())
            .map_err(|e| format!("{} ({})", e, e.code()))
    }

    /// The settable attributes a queue has now (to restore them on rollback).
    pub fn queue_settings(&self, name: &str) -> Result<BTreeMap<String, String>, String> {
        let all = self
            .sqs
            .get_queue_attributes(name, &["All".to_string()])
            .map_err(|e| e.to_string())?;
        Ok(QUEUE_SETTABLE
            .iter()
            .map(|(k, default)| {
                (
                    k.to_string(),
                    all.get(*k).cloned().unwrap_or_else(|| default.to_string()),
                )
            })
            .collect())
    }

    /// SetQueueAttributes to the template's values, the AWS default for each one left out.
    pub fn modify_queue(&self, name: &str, props: &Value) -> Result<(), String> {
        let mut wanted: BTreeMap<String, String> = QUEUE_SETTABLE
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        for (k, v) in queue_attributes(props) {
            if k != "FifoQueue" {
                wanted.insert(k, v);
            }
        }
        self.set_queue(name, wanted)
    }

    fn set_queue(
        &self,
        name: &str,
        mut attributes: BTreeMap<String, String>,
    ) -> Result<(), String> {
        // An unset RedrivePolicy is written last in AWS's eyes too: set the others first so that
        // a dead-letter target's RedriveAllowPolicy is in place before a source names it.
        let redrive = attributes.remove("RedrivePolicy");
        self.sqs
            .set_queue_attributes(name, attributes)
            .map_err(|e| format!("{} ({})", e, e.code()))?;
        if let Some(r) = redrive {
            self.sqs
                .set_queue_attributes(name, BTreeMap::from([("RedrivePolicy".to_string(), r)]))
                .map_err(|e| format!("{} ({})", e, e.code()))?;
        }
        Ok(())
    }

    pub fn delete_queue(&self, name: &str) -> Result<(), String> {
        match self.sqs.delete_queue(name) {
            Ok(()) | Err(SqsError::QueueDoesNotExist(_)) => Ok(()),
            Err(e) => Err(e.to_string()),
        }
    }

    pub fn create_table(&self, name: &str, props: &Value) -> Result<(), String> {
        let request = table_request(name, props)?;
        self.dynamodb
            .create_table_with_stream_label(request, Some(template::types::RESOLVED_STREAM_LABEL))
            .map(|_| ())
            .map_err(|e| format!("{} ({})", e, e.code()))
    }

    /// Applies what an update of a table's properties changes locally: its stream (on, off, or
    /// another view type), labelled as [`Engines::create_table`] labels it. Other updatable
    /// properties (billing mode, throughput) have no local effect.
    pub fn modify_table(&self, name: &str, props: &Value) -> Result<(), String> {
        let view = table_request(name, props)?
            .stream_specification
            .filter(|s| s.stream_enabled)
            .and_then(|s| s.stream_view_type);
        self.dynamodb
            .set_stream(name, view, Some(template::types::RESOLVED_STREAM_LABEL))
            .map(|_| ())
            .map_err(|e| format!("{} ({})", e, e.code()))
    }

    pub fn delete_table(&self, name: &str) -> Result<(), String> {
        match self.dynamodb.delete_table(name) {
            Ok(_) | Err(dynamodb::Error::ResourceNotFound(_)) => Ok(()),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Undoes one journaled step; a step whose change never happened undoes to nothing.
    pub fn undo(&self, step: &Step) -> Result<(), String> {
        match step {
            Step::CreatedQueue { name } => self.delete_queue(name),
            Step::ModifiedQueue { name, previous } => {
                if self.queue_exists(name)? {
                    self.set_queue(name, previous.clone())
                } else {
                    Ok(())
                }
            }
            Step::DeletedQueue { name, properties } => {
                if self.queue_exists(name)? {
                    Ok(())
                } else {
                    self.create_queue(name, properties)
                }
            }
            Step::CreatedTable { name } => self.delete_table(name),
            Step::ModifiedTable { name, previous } => {
                if self.table_exists(name)? {
                    self.modify_table(name, previous)
                } else {
                    Ok(())
                }
            }
            Step::DeletedTable { name, properties } => {
                if self.table_exists(name)? {
                    Ok(())
                } else {
                    self.create_table(name, properties)
                }
            }
        }
    }
}
