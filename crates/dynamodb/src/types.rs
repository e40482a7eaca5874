//! Typed requests and responses of the DynamoDB and DynamoDB Streams operations.
//!
//! Field names follow the AWS API in snake case. Optional request fields use `Option` or the AWS
//! default through `Default`, so a caller writes only what it sets:
//! `PutItemInput { table_name, item, ..Default::default() }`. Enumerations that arrive as strings
//! on the wire implement `FromStr` with DynamoDB's ValidationException messages.

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;

use crate::encoding::StoredItem;
use crate::error::Error;
use crate::value::{AttributeValue, Item, ScalarType};

/// ExpressionAttributeNames.
pub type Names = HashMap<String, String>;
/// ExpressionAttributeValues.
pub type Values = HashMap<String, AttributeValue>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    Hash,
    Range,
}

impl KeyType {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyType::Hash => "HASH",
            KeyType::Range => "RANGE",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySchemaElement {
    pub attribute_name: String,
    pub key_type: KeyType,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributeDefinition {
    pub attribute_name: String,
    pub attribute_type: ScalarType,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BillingMode {
    #[default]
    Provisioned,
    PayPerRequest,
}

impl BillingMode {
    pub fn as_str(self) -> &'static str {
        match self {
            BillingMode::Provisioned => "PROVISIONED",
            BillingMode::PayPerRequest => "PAY_PER_REQUEST",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProvisionedThroughput {
    pub read_capacity_units: i64,
    pub write_capacity_units: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamViewType {
    KeysOnly,
    NewImage,
    OldImage,
    NewAndOldImages,
}

impl StreamViewType {
    pub fn as_str(self) -> &'static str {
        match self {
            StreamViewType::KeysOnly => "KEYS_ONLY",
            StreamViewType::NewImage => "NEW_IMAGE",
            StreamViewType::OldImage => "OLD_IMAGE",
            StreamViewType::NewAndOldImages => "NEW_AND_OLD_IMAGES",
        }
    }

    pub(crate) fn has_new(self) -> bool {
        matches!(
            self,
            StreamViewType::NewImage | StreamViewType::NewAndOldImages
        )
    }

    pub(crate) fn has_old(self) -> bool {
        matches!(
            self,
            StreamViewType::OldImage | StreamViewType::NewAndOldImages
        )
    }
}

impl FromStr for StreamViewType {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Ok(match s {
            "KEYS_ONLY" => StreamViewType::KeysOnly,
            "NEW_IMAGE" => StreamViewType::NewImage,
            "OLD_IMAGE" => StreamViewType::OldImage,
            "NEW_AND_OLD_IMAGES" => StreamViewType::NewAndOldImages,
            other => {
                return Err(Error::validation(format!(
                    "1 validation error detected: Value '{other}' at 'streamSpecification.streamViewType' failed to satisfy constraint: Member must satisfy enum value set: [NEW_IMAGE, OLD_IMAGE, NEW_AND_OLD_IMAGES, KEYS_ONLY]"
                )))
            }
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamSpecification {
    pub stream_enabled: bool,
    pub stream_view_type: Option<StreamViewType>,
}

#[derive(Debug, Clone, Default)]
pub struct CreateTableInput {
    pub table_name: String,
    pub key_schema: Vec<KeySchemaElement>,
    pub attribute_definitions: Vec<AttributeDefinition>,
    pub billing_mode: Option<BillingMode>,
    pub provisioned_throughput: Option<ProvisionedThroughput>,
    pub stream_specification: Option<StreamSpecification>,
}

/// DescribeTable's `Table`.
#[derive(Debug, Clone, PartialEq)]
pub struct TableDescription {
    pub table_name: String,
    pub table_arn: String,
    pub table_id: String,
    /// Always `ACTIVE`: tables are usable as soon as CreateTable returns.
    pub table_status: &'static str,
    pub creation_date_time_millis: i64,
    pub key_schema: Vec<KeySchemaElement>,
    pub attribute_definitions: Vec<AttributeDefinition>,
    pub billing_mode: BillingMode,
    pub provisioned_throughput: ProvisionedThroughput,
    pub item_count: i64,
    pub table_size_bytes: i64,
    pub stream_specification: Option<StreamSpecification>,
    pub latest_stream_label: Option<String>,
    pub latest_stream_arn: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct ListTablesInput {
    pub exclusive_start_table_name: Option<String>,
    /// 1 to 100; 100 when absent.
    pub limit: Option<usize>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ListTablesOutput {
    pub table_names: Vec<String>,
    pub last_evaluated_table_name: Option<String>,
}

/// ReturnValues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReturnValues {
    #[default]
    None,
    AllOld,
    UpdatedOld,
    AllNew,
    UpdatedNew,
}

impl FromStr for ReturnValues {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Ok(match s {
            "NONE" => ReturnValues::None,
            "ALL_OLD" => ReturnValues::AllOld,
            "UPDATED_OLD" => ReturnValues::UpdatedOld,
            "ALL_NEW" => ReturnValues::AllNew,
            "UPDATED_NEW" => ReturnValues::UpdatedNew,
            other => {
                return Err(Error::validation(format!(
                    "1 validation error detected: Value '{other}' at 'returnValues' failed to satisfy constraint: Member must satisfy enum value set: [ALL_NEW, UPDATED_OLD, ALL_OLD, NONE, UPDATED_NEW]"
                )))
            }
        })
    }
}

/// ReturnValuesOnConditionCheckFailure: whether a failed condition returns the item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReturnOnFailure {
    #[default]
    None,
    AllOld,
}

/// PutItem: replaces the whole item.
#[derive(Debug, Clone, Default)]
pub struct PutItemInput {
    pub table_name: String,
    pub item: Item,
    pub condition_expression: Option<String>,
    pub expression_attribute_names: Names,
    pub expression_attribute_values: Values,
    pub return_values: ReturnValues,
    pub return_values_on_condition_check_failure: ReturnOnFailure,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct PutItemOutput {
    pub attributes: Option<Item>,
}

#[derive(Debug, Clone, Default)]
pub struct GetItemInput {
    pub table_name: String,
    pub key: Item,
    pub projection_expression: Option<String>,
    pub expression_attribute_names: Names,
    /// Accepted; every read is strongly consistent here.
    pub consistent_read: bool,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct GetItemOutput {
    pub item: Option<Item>,
}

#[derive(Debug, Clone, Default)]
pub struct DeleteItemInput {
    pub table_name: String,
    pub key: Item,
    pub condition_expression: Option<String>,
    pub expression_attribute_names: Names,
    pub expression_attribute_values: Values,
    pub return_values: ReturnValues,
    pub return_values_on_condition_check_failure: ReturnOnFailure,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct DeleteItemOutput {
    pub attributes: Option<Item>,
}

#[derive(Debug, Clone, Default)]
pub struct UpdateItemInput {
    pub table_name: String,
    pub key: Item,
    pub update_expression: Option<String>,
    pub condition_expression: Option<String>,
    pub expression_attribute_names: Names,
    pub expression_attribute_values: Values,
    pub return_values: ReturnValues,
    pub return_values_on_condition_check_failure: ReturnOnFailure,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct UpdateItemOutput {
    pub attributes: Option<Item>,
}

/// Select of Query and Scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Select {
    #[default]
    AllAttributes,
    AllProjectedAttributes,
    SpecificAttributes,
    Count,
}

#[derive(Debug, Clone)]
pub struct QueryInput {
    pub table_name: String,
    pub index_name: Option<String>,
    pub key_condition_expression: Option<String>,
    pub filter_expression: Option<String>,
    pub projection_expression: Option<String>,
    pub expression_attribute_names: Names,
    pub expression_attribute_values: Values,
    /// `true` (the default) walks the sort key upwards.
    pub scan_index_forward: bool,
    pub limit: Option<usize>,
    pub exclusive_start_key: Option<Item>,
    pub select: Option<Select>,
    pub consistent_read: bool,
}

impl Default for QueryInput {
    fn default() -> Self {
        QueryInput {
            table_name: String::new(),
            index_name: None,
            key_condition_expression: None,
            filter_expression: None,
            projection_expression: None,
            expression_attribute_names: Names::new(),
            expression_attribute_values: Values::new(),
            scan_index_forward: true,
            limit: None,
            exclusive_start_key: None,
            select: None,
            consistent_read: false,
        }
    }
}

/// The answer of Query and Scan.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct QueryOutput {
    /// Empty when Select is COUNT.
    pub items: Vec<Item>,
    /// Items that passed the filter.
    pub count: usize,
    /// Items read before the filter.
    pub scanned_count: usize,
    pub last_evaluated_key: Option<Item>,
}

#[derive(Debug, Clone, Default)]
pub struct ScanInput {
    pub table_name: String,
    pub index_name: Option<String>,
    pub filter_expression: Option<String>,
    pub projection_expression: Option<String>,
    pub expression_attribute_names: Names,
    pub expression_attribute_values: Values,
    pub limit: Option<usize>,
    pub exclusive_start_key: Option<Item>,
    pub select: Option<Select>,
    pub segment: Option<u32>,
    pub total_segments: Option<u32>,
    pub consistent_read: bool,
}

pub type ScanOutput = QueryOutput;

/// One entry of BatchWriteItem.
#[derive(Debug, Clone, PartialEq)]
pub enum WriteRequest {
    Put {
        item: Item,
    },
    /// A put whose item was read from the wire straight into its stored form; it behaves exactly
    /// as `Put` with that item.
    PutStored {
        item: StoredItem,
    },
    Delete {
        key: Item,
    },
}

#[derive(Debug, Clone, Default)]
pub struct BatchWriteItemInput {
    pub request_items: BTreeMap<String, Vec<WriteRequest>>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct BatchWriteItemOutput {
    /// Always empty here: every accepted batch is written whole. Kept for clients that loop on it.
    pub unprocessed_items: BTreeMap<String, Vec<WriteRequest>>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct KeysAndAttributes {
    pub keys: Vec<Item>,
    pub projection_expression: Option<String>,
    pub expression_attribute_names: Names,
    pub consistent_read: bool,
}

#[derive(Debug, Clone, Default)]
pub struct BatchGetItemInput {
    pub request_items: BTreeMap<String, KeysAndAttributes>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct BatchGetItemOutput {
    pub responses: BTreeMap<String, Vec<Item>>,
    /// Keys left over when the response reached 16 MB.
    pub unprocessed_keys: BTreeMap<String, KeysAndAttributes>,
}

/// One action of TransactWriteItems.
#[derive(Debug, Clone)]
pub enum TransactWriteItem {
    ConditionCheck {
        table_name: String,
        key: Item,
        condition_expression: String,
        expression_attribute_names: Names,
        expression_attribute_values: Values,
        return_values_on_condition_check_failure: ReturnOnFailure,
    },
    Put(PutItemInput),
    Delete(DeleteItemInput),
    Update(UpdateItemInput),
}

#[derive(Debug, Clone, Default)]
pub struct TransactWriteItemsInput {
    pub transact_items: Vec<TransactWriteItem>,
    pub client_request_token: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct TransactGetItem {
    pub table_name: String,
    pub key: Item,
    pub projection_expression: Option<String>,
    pub expression_attribute_names: Names,
}

#[derive(Debug, Clone, Default)]
pub struct TransactGetItemsInput {
    pub transact_items: Vec<TransactGetItem>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct TransactGetItemsOutput {
    /// One entry per request, in order; `None` when the item does not exist.
    pub responses: Vec<Option<Item>>,
}

// ---- Streams ----

#[derive(Debug, Clone, Default)]
pub struct ListStreamsInput {
    pub table_name: Option<String>,
    pub limit: Option<usize>,
    pub exclusive_start_stream_arn: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StreamSummary {
    pub stream_arn: String,
    pub table_name: String,
    pub stream_label: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ListStreamsOutput {
    pub streams: Vec<StreamSummary>,
    pub last_evaluated_stream_arn: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SequenceNumberRange {
    pub starting_sequence_number: Option<String>,
    /// `None` while the shard is open.
    pub ending_sequence_number: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Shard {
    pub shard_id: String,
    pub sequence_number_range: SequenceNumberRange,
    pub parent_shard_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StreamDescription {
    pub stream_arn: String,
    pub stream_label: String,
    /// `ENABLED`.
    pub stream_status: &'static str,
    pub stream_view_type: StreamViewType,
    pub creation_request_date_time_millis: i64,
    pub table_name: String,
    pub key_schema: Vec<KeySchemaElement>,
    /// One open shard per stream.
    pub shards: Vec<Shard>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShardIteratorType {
    TrimHorizon,
    Latest,
    AtSequenceNumber,
    AfterSequenceNumber,
}

impl FromStr for ShardIteratorType {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Ok(match s {
            "TRIM_HORIZON" => ShardIteratorType::TrimHorizon,
            "LATEST" => ShardIteratorType::Latest,
            "AT_SEQUENCE_NUMBER" => ShardIteratorType::AtSequenceNumber,
            "AFTER_SEQUENCE_NUMBER" => ShardIteratorType::AfterSequenceNumber,
            other => {
                return Err(Error::validation(format!(
                    "1 validation error detected: Value '{other}' at 'shardIteratorType' failed to satisfy constraint: Member must satisfy enum value set: [AFTER_SEQUENCE_NUMBER, LATEST, AT_SEQUENCE_NUMBER, TRIM_HORIZON]"
                )))
            }
        })
    }
}

#[derive(Debug, Clone)]
pub struct GetShardIteratorInput {
    pub stream_arn: String,
    pub shard_id: String,
    pub shard_iterator_type: ShardIteratorType,
    pub sequence_number: Option<String>,
}

#[derive(Debug, Clone)]
pub struct GetRecordsInput {
    pub shard_iterator: String,
    /// 1 to 1,000; 1,000 when absent.
    pub limit: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventName {
    Insert,
    Modify,
    Remove,
}

impl EventName {
    pub fn as_str(self) -> &'static str {
        match self {
            EventName::Insert => "INSERT",
            EventName::Modify => "MODIFY",
            EventName::Remove => "REMOVE",
        }
    }
}

/// The `dynamodb` part of a stream record.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamRecordData {
    pub approximate_creation_date_time_millis: i64,
    pub keys: Item,
    pub new_image: Option<Item>,
    pub old_image: Option<Item>,
    pub sequence_number: String,
    pub size_bytes: i64,
    pub stream_view_type: StreamViewType,
}

/// One stream record, as GetRecords returns it.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamRecord {
    pub event_id: String,
    pub event_name: EventName,
    /// `1.1`.
    pub event_version: &'static str,
    /// `aws:dynamodb`.
    pub event_source: &'static str,
    pub aws_region: &'static str,
    pub event_source_arn: String,
    pub dynamodb: StreamRecordData,
}

#[derive(Debug, Clone, PartialEq)]
pub struct GetRecordsOutput {
    pub records: Vec<StreamRecord>,
    pub next_shard_iterator: Option<String>,
}
