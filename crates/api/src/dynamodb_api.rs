//! DynamoDB and DynamoDB Streams over AWS JSON 1.0: one translation per operation of the engine.
//!
//! Each operation reads its members into the engine's typed input, calls the engine through
//! `blocking` and writes the typed output back as JSON. PutItem, BatchWriteItem and BatchGetItem
//! first try the fast path of `dynamodb_typed`, which reads the body straight into the engine's
//! input on the async side (the server reads it, before authorization, which then takes the
//! tables from it); its PutItem and BatchWriteItem then await their commit (the engine's
//! async forms), and every path shares the answers below. Members the engine has no use for
//! (`ReturnConsumedCapacity`, `ReturnItemCollectionMetrics`) are accepted and ignored, as a local
//! endpoint has no capacity to report.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use dynamodb::{
    AttributeDefinition, BatchGetItemInput, BatchWriteItemInput, BatchWriteItemOutput, BillingMode,
    CreateTableInput, DeleteItemInput, DynamoDb, GetItemInput, GetRecordsInput,
    GetShardIteratorInput, KeysAndAttributes, ListStreamsInput, ListTablesInput,
    ProvisionedThroughput, PutItemInput, PutItemOutput, QueryInput, ReturnOnFailure, ReturnValues,
    ScanInput, Select, StreamSpecification, StreamViewType, TransactGetItem, TransactGetItemsInput,
    TransactWriteItem, TransactWriteItemsInput, UpdateItemInput, WriteRequest,
};
use http_body_util::Full;
use hyper::Response;
use serde_json::{Map, Value};

use crate::dynamodb_typed::Input;
use crate::dynamodb_values::{
    item_json, item_member, key_schema_from_json, key_schema_json, names_member, req_item,
    scalar_type, stream_record_json, table_json, validation, values_member,
};
use crate::error::{ApiError, Protocol};
use crate::object;
use crate::server::{blocking, guard, json_response, App, RequestCtx};
use crate::wire::{top, Obj, WireError};

/// A request with `X-Amz-Target: DynamoDB_20120810.*` or `DynamoDBStreams_20120810.*`.
pub async fn handle(
    app: &Arc<App>,
    ctx: &RequestCtx,
    protocol: Protocol,
    operation: String,
    body: Bytes,
    typed: Option<Input>,
) -> Result<Response<Full<Bytes>>, ApiError> {
    let engine = app.services.dynamodb.clone();
    if let Some(input) = typed {
        let result = run_typed(&engine, input).await?;
        return Ok(json_response(&result, &ctx.request_id));
    }
    let result = blocking(move || {
        let request: Value = if body.iter().all(u8::is_ascii_whitespace) {
            Value::Object(Map::new())
        } else {
            serde_json::from_slice(&body).map_err(|e| {
                ApiError::serialization(format!("The request body is not valid JSON: {e}"))
            })?
        };
        let o = top(&request, false)?;
        match protocol {
            Protocol::DynamoDbStreams => streams(&engine, &operation, o),
            _ => tables_and_items(&engine, &operation, o),
        }
    })
    .await?;
    Ok(json_response(&result, &ctx.request_id))
}

fn tables_and_items(db: &DynamoDb, operation: &str, o: Obj<'_>) -> Result<Value, ApiError> {
    Ok(match operation {
        "CreateTable" => {
            let description = db.create_table(create_table_input(o)?)?;
            object! { "TableDescription" => table_json(&description) }
        }
        "DescribeTable" => {
            let description = db.describe_table(o.req_str("TableName")?)?;
            object! { "Table" => table_json(&description) }
        }
        "DeleteTable" => {
            let description = db.delete_table(o.req_str("TableName")?)?;
            object! { "TableDescription" => table_json(&description) }
        }
        "ListTables" => {
            let output = db.list_tables(ListTablesInput {
                exclusive_start_table_name: o.string("ExclusiveStartTableName")?,
                limit: o.usize("Limit")?,
            })?;
            object! {
                "TableNames" => output.table_names,
                "LastEvaluatedTableName" => output.last_evaluated_table_name,
            }
        }
        "PutItem" => put_answer(db.put_item(PutItemInput {
            table_name: o.req_str("TableName")?.to_owned(),
            item: req_item(o, "Item")?,
            condition_expression: o.string("ConditionExpression")?,
            expression_attribute_names: names_member(o)?,
            expression_attribute_values: values_member(o)?,
            return_values: return_values(o)?,
            return_values_on_condition_check_failure: return_on_failure(o)?,
        })?),
        "GetItem" => {
            let output = db.get_item(GetItemInput {
                table_name: o.req_str("TableName")?.to_owned(),
                key: req_item(o, "Key")?,
                projection_expression: o.string("ProjectionExpression")?,
                expression_attribute_names: names_member(o)?,
                consistent_read: o.bool("ConsistentRead")?.unwrap_or(false),
            })?;
            object! { "Item" => output.item.as_ref().map(item_json) }
        }
        "DeleteItem" => {
            let output = db.delete_item(delete_input(o)?)?;
            object! { "Attributes" => output.attributes.as_ref().map(item_json) }
        }
        "UpdateItem" => {
            let output = db.update_item(update_input(o)?)?;
            object! { "Attributes" => output.attributes.as_ref().map(item_json) }
        }
        "Query" => {
            let select = select(o)?;
            let output = db.query(QueryInput {
                table_name: o.req_str("TableName")?.to_owned(),
                index_name: o.string("IndexName")?,
                key_condition_expression: o.string("KeyConditionExpression")?,
                filter_expression: o.string("FilterExpression")?,
                projection_expression: o.string("ProjectionExpression")?,
                expression_attribute_names: names_member(o)?,
                expression_attribute_values: values_member(o)?,
                scan_index_forward: o.bool("ScanIndexForward")?.unwrap_or(true),
                limit: o.usize("Limit")?,
                exclusive_start_key: item_member(o, "ExclusiveStartKey")?,
                select,
                consistent_read: o.bool("ConsistentRead")?.unwrap_or(false),
            })?;
            query_output_json(output, select)
        }
        "Scan" => {
            let select = select(o)?;
            let segment = |key: &str| -> Result<Option<u32>, ApiError> {
                match o.usize(key)? {
                    None => Ok(None),
                    Some(n) => u32::try_from(n)
                        .map(Some)
                        .map_err(|_| validation(format!("The value of {key} is too large: {n}"))),
                }
            };
            let output = db.scan(ScanInput {
                table_name: o.req_str("TableName")?.to_owned(),
                index_name: o.string("IndexName")?,
                filter_expression: o.string("FilterExpression")?,
                projection_expression: o.string("ProjectionExpression")?,
                expression_attribute_names: names_member(o)?,
                expression_attribute_values: values_member(o)?,
                limit: o.usize("Limit")?,
                exclusive_start_key: item_member(o, "ExclusiveStartKey")?,
                select,
                segment: segment("Segment")?,
                total_segments: segment("TotalSegments")?,
                consistent_read: o.bool("ConsistentRead")?.unwrap_or(false),
            })?;
            query_output_json(output, select)
        }
        "BatchWriteItem" => {
            let mut request_items = BTreeMap::new();
            let tables = o.req_obj("RequestItems")?;
            for (table, requests) in tables.map {
                let Value::Array(requests) = requests else {
                    return Err(WireError::Type(format!("RequestItems.{table}"), "a list").into());
                };
                let mut writes = Vec::with_capacity(requests.len());
                for request in requests {
                    let r = top(request, false)?;
                    let write = match (r.obj("PutRequest")?, r.obj("DeleteRequest")?) {
                        (Some(put), None) => WriteRequest::Put {
                            item: req_item(put, "Item")?,
                        },
                        (None, Some(delete)) => WriteRequest::Delete {
                            key: req_item(delete, "Key")?,
                        },
                        _ => {
                            return Err(validation(
                                "1 validation error detected: a WriteRequest must contain exactly one of PutRequest and DeleteRequest",
                            ))
                        }
                    };
                    writes.push(write);
                }
                request_items.insert(table.clone(), writes);
            }
            batch_write_answer(db.batch_write_item(BatchWriteItemInput { request_items })?)
        }
        "BatchGetItem" => {
            let mut request_items = BTreeMap::new();
            o.req_obj("RequestItems")?;
            for (table, keys) in o.obj_map("RequestItems")? {
                request_items.insert(table.clone(), keys_and_attributes(keys)?);
            }
            batch_get_item(db, BatchGetItemInput { request_items })?
        }
        "TransactWriteItems" => {
            let mut transact_items = Vec::new();
            for entry in o.objs("TransactItems")? {
                transact_items.push(transact_write_item(entry)?);
            }
            db.transact_write_items(TransactWriteItemsInput {
                transact_items,
                client_request_token: o.string("ClientRequestToken")?,
            })?;
            Value::Object(Map::new())
        }
        "TransactGetItems" => {
            let mut transact_items = Vec::new();
            for entry in o.objs("TransactItems")? {
                let get = entry.req_obj("Get")?;
                transact_items.push(TransactGetItem {
                    table_name: get.req_str("TableName")?.to_owned(),
                    key: req_item(get, "Key")?,
                    projection_expression: get.string("ProjectionExpression")?,
                    expression_attribute_names: names_member(get)?,
                });
            }
            let output = db.transact_get_items(TransactGetItemsInput { transact_items })?;
            let responses: Vec<Value> = output
                .responses
                .iter()
                .map(|item| object! { "Item" => item.as_ref().map(item_json) })
                .collect();
            object! { "Responses" => responses }
        }
        "DescribeTimeToLive" => {
            db.describe_table(o.req_str("TableName")?)?;
            object! { "TimeToLiveDescription" => object! { "TimeToLiveStatus" => "DISABLED" } }
        }
        "UpdateTimeToLive" => {
            db.describe_table(o.req_str("TableName")?)?;
            let spec = o.req_obj("TimeToLiveSpecification")?;
            let enabled = spec
                .bool("Enabled")?
                .ok_or_else(|| WireError::Missing("TimeToLiveSpecification.Enabled".into()))?;
            let attribute = spec.req_str("AttributeName")?;
            object! {
                "TimeToLiveSpecification" => object! { "Enabled" => enabled, "AttributeName" => attribute },
            }
        }
        "ListTagsOfResource" => {
            let arn = o.req_str("ResourceArn")?;
            let table = arn
                .rsplit_once(":table/")
                .map(|(_, name)| name)
                .filter(|name| !name.is_empty() && !name.contains('/'))
                .ok_or_else(|| validation(format!("Invalid TableArn: `{arn}`")))?;
            db.describe_table(table)?;
            object! { "Tags" => Vec::<Value>::new() }
        }
        other => return Err(ApiError::unknown_operation(Protocol::DynamoDb, other)),
    })
}

fn streams(db: &DynamoDb, operation: &str, o: Obj<'_>) -> Result<Value, ApiError> {
    Ok(match operation {
        "ListStreams" => {
            let output = db.list_streams(ListStreamsInput {
                table_name: o.string("TableName")?,
                limit: o.usize("Limit")?,
                exclusive_start_stream_arn: o.string("ExclusiveStartStreamArn")?,
            })?;
            let streams: Vec<Value> = output
                .streams
                .iter()
                .map(|s| {
                    object! {
                        "StreamArn" => s.stream_arn.clone(),
                        "TableName" => s.table_name.clone(),
                        "StreamLabel" => s.stream_label.clone(),
                    }
                })
                .collect();
            object! { "Streams" => streams, "LastEvaluatedStreamArn" => output.last_evaluated_stream_arn }
        }
        "DescribeStream" => {
            let d = db.describe_stream(o.req_str("StreamArn")?)?;
            let shards: Vec<Value> = d
                .shards
                .iter()
                .map(|s| {
                    object! {
                        "ShardId" => s.shard_id.clone(),
                        "ParentShardId" => s.parent_shard_id.clone(),
                        "SequenceNumberRange" => object! {
                            "StartingSequenceNumber" => s.sequence_number_range.starting_sequence_number.clone(),
                            "EndingSequenceNumber" => s.sequence_number_range.ending_sequence_number.clone(),
                        },
                    }
                })
                .collect();
            object! {
                "StreamDescription" => object! {
                    "StreamArn" => d.stream_arn.clone(),
                    "StreamLabel" => d.stream_label.clone(),
                    "StreamStatus" => d.stream_status,
                    "StreamViewType" => d.stream_view_type.as_str(),
                    "CreationRequestDateTime" => serde_json::Number::from_f64(d.creation_request_date_time_millis as f64 / 1000.0).map(Value::Number),
                    "TableName" => d.table_name.clone(),
                    "KeySchema" => key_schema_json(&d.key_schema),
                    "Shards" => shards,
                },
            }
        }
        "GetShardIterator" => {
            let iterator = db.get_shard_iterator(GetShardIteratorInput {
                stream_arn: o.req_str("StreamArn")?.to_owned(),
                shard_id: o.req_str("ShardId")?.to_owned(),
                shard_iterator_type: o.req_str("ShardIteratorType")?.parse()?,
                sequence_number: o.string("SequenceNumber")?,
            })?;
            object! { "ShardIterator" => iterator }
        }
        "GetRecords" => {
            let output = db.get_records(GetRecordsInput {
                shard_iterator: o.req_str("ShardIterator")?.to_owned(),
                limit: o.usize("Limit")?,
            })?;
            object! {
                "Records" => output.records.iter().map(stream_record_json).collect::<Vec<_>>(),
                "NextShardIterator" => output.next_shard_iterator,
            }
        }
        other => {
            return Err(ApiError::unknown_operation(
                Protocol::DynamoDbStreams,
                other,
            ))
        }
    })
}

fn create_table_input(o: Obj<'_>) -> Result<CreateTableInput, ApiError> {
    let attribute_definitions = o
        .objs("AttributeDefinitions")?
        .into_iter()
        .map(|d| {
            Ok(AttributeDefinition {
                attribute_name: d.req_str("AttributeName")?.to_owned(),
                attribute_type: scalar_type(d.req_str("AttributeType")?)?,
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    let billing_mode = match o.str("BillingMode")? {
        None => None,
        Some("PROVISIONED") => Some(BillingMode::Provisioned),
        Some("PAY_PER_REQUEST") => Some(BillingMode::PayPerRequest),
        Some(other) => {
            return Err(validation(format!(
                "1 validation error detected: Value '{other}' at 'billingMode' failed to satisfy constraint: Member must satisfy enum value set: [PROVISIONED, PAY_PER_REQUEST]"
            )))
        }
    };
    let provisioned_throughput = match o.obj("ProvisionedThroughput")? {
        None => None,
        Some(p) => Some(ProvisionedThroughput {
            read_capacity_units: p.i64("ReadCapacityUnits")?.ok_or_else(|| {
                WireError::Missing("ProvisionedThroughput.ReadCapacityUnits".into())
            })?,
            write_capacity_units: p.i64("WriteCapacityUnits")?.ok_or_else(|| {
                WireError::Missing("ProvisionedThroughput.WriteCapacityUnits".into())
            })?,
        }),
    };
    let stream_specification = match o.obj("StreamSpecification")? {
        None => None,
        Some(s) => Some(StreamSpecification {
            stream_enabled: s
                .bool("StreamEnabled")?
                .ok_or_else(|| WireError::Missing("StreamSpecification.StreamEnabled".into()))?,
            stream_view_type: s
                .str("StreamViewType")?
                .map(str::parse::<StreamViewType>)
                .transpose()?,
        }),
    };
    if o.has("GlobalSecondaryIndexes") || o.has("LocalSecondaryIndexes") {
        tracing::warn!("secondary indexes of CreateTable are not supported yet and are ignored");
    }
    Ok(CreateTableInput {
        table_name: o.req_str("TableName")?.to_owned(),
        key_schema: key_schema_from_json(o)?,
        attribute_definitions,
        billing_mode,
        provisioned_throughput,
        stream_specification,
    })
}

/// The operations with a fast path (`dynamodb_typed`), run from the async side: the writes
/// await their commit (no thread waits for it), the read runs through `blocking`.
async fn run_typed(db: &DynamoDb, input: Input) -> Result<Value, ApiError> {
    match input {
        Input::Put(input) => guard(db.put_item_async(input)).await.map(put_answer),
        Input::BatchWrite(input) => guard(db.batch_write_item_async(input))
            .await
            .map(batch_write_answer),
        Input::BatchGet(input) => {
            let db = db.clone();
            blocking(move || batch_get_item(&db, input)).await
        }
    }
}

fn put_answer(output: PutItemOutput) -> Value {
    object! { "Attributes" => output.attributes.as_ref().map(item_json) }
}

fn batch_write_answer(_: BatchWriteItemOutput) -> Value {
    object! { "UnprocessedItems" => Value::Object(Map::new()) }
}

fn batch_get_item(db: &DynamoDb, input: BatchGetItemInput) -> Result<Value, ApiError> {
    let output = db.batch_get_item(input)?;
    let responses: Map<String, Value> = output
        .responses
        .iter()
        .map(|(table, items)| (table.clone(), items.iter().map(item_json).collect()))
        .collect();
    let unprocessed: Map<String, Value> = output
        .unprocessed_keys
        .iter()
        .map(|(table, k)| {
            let names: Map<String, Value> = k
                .expression_attribute_names
                .iter()
                .map(|(a, b)| (a.clone(), Value::String(b.clone())))
                .collect();
            let value = object! {
                "Keys" => k.keys.iter().map(item_json).collect::<Vec<_>>(),
                "ProjectionExpression" => k.projection_expression.clone(),
                "ExpressionAttributeNames" => if names.is_empty() { Value::Null } else { Value::Object(names) },
                "ConsistentRead" => k.consistent_read,
            };
            (table.clone(), value)
        })
        .collect();
    Ok(object! { "Responses" => responses, "UnprocessedKeys" => unprocessed })
}

fn return_values(o: Obj<'_>) -> Result<ReturnValues, ApiError> {
    Ok(match o.str("ReturnValues")? {
        None => ReturnValues::None,
        Some(text) => text.parse()?,
    })
}

/// `ReturnValuesOnConditionCheckFailure`, `None` for a value outside its enum.
pub(crate) fn parse_return_on_failure(text: Option<&str>) -> Option<ReturnOnFailure> {
    match text {
        None | Some("NONE") => Some(ReturnOnFailure::None),
        Some("ALL_OLD") => Some(ReturnOnFailure::AllOld),
        Some(_) => None,
    }
}

fn return_on_failure(o: Obj<'_>) -> Result<ReturnOnFailure, ApiError> {
    let text = o.str("ReturnValuesOnConditionCheckFailure")?;
    parse_return_on_failure(text).ok_or_else(|| {
        validation(format!(
            "1 validation error detected: Value '{}' at 'returnValuesOnConditionCheckFailure' failed to satisfy constraint: Member must satisfy enum value set: [ALL_OLD, NONE]",
            text.unwrap_or_default()
        ))
    })
}

fn select(o: Obj<'_>) -> Result<Option<Select>, ApiError> {
    Ok(match o.str("Select")? {
        None => None,
        Some("ALL_ATTRIBUTES") => Some(Select::AllAttributes),
        Some("ALL_PROJECTED_ATTRIBUTES") => Some(Select::AllProjectedAttributes),
        Some("SPECIFIC_ATTRIBUTES") => Some(Select::SpecificAttributes),
        Some("COUNT") => Some(Select::Count),
        Some(other) => {
            return Err(validation(format!(
                "1 validation error detected: Value '{other}' at 'select' failed to satisfy constraint: Member must satisfy enum value set: [SPECIFIC_ATTRIBUTES, COUNT, ALL_ATTRIBUTES, ALL_PROJECTED_ATTRIBUTES]"
            )))
        }
    })
}

fn query_output_json(output: dynamodb::QueryOutput, select: Option<Select>) -> Value {
    let items = if select == Some(Select::Count) {
        Value::Null
    } else {
        output.items.iter().map(item_json).collect()
    };
    object! {
        "Items" => items,
        "Count" => output.count,
        "ScannedCount" => output.scanned_count,
        "LastEvaluatedKey" => output.last_evaluated_key.as_ref().map(item_json),
    }
}

fn delete_input(o: Obj<'_>) -> Result<DeleteItemInput, ApiError> {
    Ok(DeleteItemInput {
        table_name: o.req_str("TableName")?.to_owned(),
        key: req_item(o, "Key")?,
        condition_expression: o.string("ConditionExpression")?,
        expression_attribute_names: names_member(o)?,
        expression_attribute_values: values_member(o)?,
        return_values: return_values(o)?,
        return_values_on_condition_check_failure: return_on_failure(o)?,
    })
}

fn update_input(o: Obj<'_>) -> Result<UpdateItemInput, ApiError> {
    if o.has("AttributeUpdates") || o.has("Expected") {
        return Err(validation(
            "The legacy parameters AttributeUpdates and Expected are not supported: use UpdateExpression and ConditionExpression",
        ));
    }
    Ok(UpdateItemInput {
        table_name: o.req_str("TableName")?.to_owned(),
        key: req_item(o, "Key")?,
        update_expression: o.string("UpdateExpression")?,
        condition_expression: o.string("ConditionExpression")?,
        expression_attribute_names: names_member(o)?,
        expression_attribute_values: values_member(o)?,
        return_values: return_values(o)?,
        return_values_on_condition_check_failure: return_on_failure(o)?,
    })
}

fn keys_and_attributes(k: Obj<'_>) -> Result<KeysAndAttributes, ApiError> {
    let keys = k
        .objs("Keys")?
        .into_iter()
        .map(|key| {
            key.map
                .iter()
                .map(|(name, v)| {
                    Ok((
                        name.clone(),
                        crate::dynamodb_values::value_from_json(v, "Keys")?,
                    ))
                })
                .collect::<Result<dynamodb::Item, ApiError>>()
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    Ok(KeysAndAttributes {
        keys,
        projection_expression: k.string("ProjectionExpression")?,
        expression_attribute_names: names_member(k)?,
        consistent_read: k.bool("ConsistentRead")?.unwrap_or(false),
    })
}

fn transact_write_item(entry: Obj<'_>) -> Result<TransactWriteItem, ApiError> {
    let kinds = ["ConditionCheck", "Put", "Delete", "Update"];
    let present: Vec<&str> = kinds.into_iter().filter(|k| entry.has(k)).collect();
    if present.len() != 1 {
        return Err(validation(
            "1 validation error detected: a TransactWriteItem must contain exactly one of ConditionCheck, Put, Delete and Update",
        ));
    }
    let o = entry.req_obj(present[0])?;
    Ok(match present[0] {
        "ConditionCheck" => TransactWriteItem::ConditionCheck {
            table_name: o.req_str("TableName")?.to_owned(),
            key: req_item(o, "Key")?,
            condition_expression: o.req_str("ConditionExpression")?.to_owned(),
            expression_attribute_names: names_member(o)?,
            expression_attribute_values: values_member(o)?,
            return_values_on_condition_check_failure: return_on_failure(o)?,
        },
        "Put" => TransactWriteItem::Put(PutItemInput {
            table_name: o.req_str("TableName")?.to_owned(),
            item: req_item(o, "Item")?,
            condition_expression: o.string("ConditionExpression")?,
            expression_attribute_names: names_member(o)?,
            expression_attribute_values: values_member(o)?,
            return_values: ReturnValues::None,
            return_values_on_condition_check_failure: return_on_failure(o)?,
        }),
        "Delete" => TransactWriteItem::Delete(delete_input(o)?),
        _ => TransactWriteItem::Update(update_input(o)?),
    })
}
