//! DynamoDB Streams readers: ListStreams, DescribeStream, GetShardIterator and GetRecords.
//!
//! Each table with a stream has one stream of one open shard (DynamoDB splits shards as a table
//! grows; one shard is enough locally and keeps the order of every key trivially). Records are
//! written by `write.rs` in the same savepoint as their item change, numbered per table by
//! `dynamodb_tables.next_seq`, which never goes back, so sequence numbers only increase even after
//! old records are trimmed; it starts at the table's creation time (`SEQUENCES_PER_MS` in
//! `table.rs`), so a table created again numbers above the one before. They are stored packed,
//! one `dynamodb_stream_batches` row per write call (`table.rs`); a reader seeks the row holding
//! its position by the row's last number and skips the records before it.
//!
//! A sequence number is the table's counter `n` printed as `1` followed by `n` in 20 digits: 21
//! digits, as DynamoDB's are 21 to 40. A shard iterator is `table_id:position:issued_ms:stream_arn`,
//! where `position` is the next sequence counter to read; it expires 15 minutes after it was issued.

use store::rusqlite::{params, Connection};

use crate::encoding::{decode_item, read_records};
use crate::error::Error;
use crate::table::{self, TableMeta, REGION};
use crate::types::{
    EventName, GetRecordsInput, GetRecordsOutput, GetShardIteratorInput, ListStreamsInput,
    ListStreamsOutput, SequenceNumberRange, Shard, ShardIteratorType, StreamDescription,
    StreamRecord, StreamRecordData, StreamSummary, StreamViewType,
};

/// How long stream records are kept.
pub const RETENTION_MS: i64 = 24 * 60 * 60 * 1000;
/// How long a shard iterator stays valid.
const ITERATOR_TTL_MS: i64 = 15 * 60 * 1000;
const MAX_RECORDS: usize = 1000;

/// The printed form of a sequence counter.
pub fn sequence_number(n: i64) -> String {
    format!("1{n:020}")
}

fn parse_sequence_number(s: &str) -> Result<i64, Error> {
    let invalid = || Error::validation(format!("Invalid SequenceNumber: {s}"));
    if s.len() != 21 || !s.starts_with('1') || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    s[1..].parse::<i64>().map_err(|_| invalid())
}

fn shard_id(meta: &TableMeta) -> String {
    format!("shardId-{:020}-{:08x}", meta.created_ms, meta.id)
}

fn stream_not_found(arn: &str) -> Error {
    Error::ResourceNotFound(format!(
        "Requested resource not found: Stream: {arn} not found"
    ))
}

/// The table behind a stream ARN, if that stream exists now.
fn table_of_stream(conn: &Connection, arn: &str) -> Result<TableMeta, Error> {
    let name = arn
        .split_once(":table/")
        .and_then(|(_, rest)| rest.split_once("/stream/"))
        .map(|(name, _)| name)
        .ok_or_else(|| Error::validation(format!("Invalid StreamArn: {arn}")))?;
    match table::load(conn, name) {
        Ok(meta) if meta.stream_arn().as_deref() == Some(arn) => Ok(meta),
        Ok(_) | Err(Error::ResourceNotFound(_)) => Err(stream_not_found(arn)),
        Err(e) => Err(e),
    }
}

pub(crate) fn list_streams(
    conn: &Connection,
    input: ListStreamsInput,
) -> Result<ListStreamsOutput, Error> {
    let limit = input.limit.unwrap_or(100);
    if !(1..=100).contains(&limit) {
        return Err(Error::validation(format!(
            "1 validation error detected: Value '{limit}' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 100"
        )));
    }
    let mut streams: Vec<StreamSummary> = table::load_all(conn)?
        .into_iter()
        .filter(|m| input.table_name.as_ref().is_none_or(|t| *t == m.name))
        .filter_map(|m| {
            Some(StreamSummary {
                stream_arn: m.stream_arn()?,
                table_name: m.name.clone(),
                stream_label: m.stream_label.clone()?,
            })
        })
        .collect();
    streams.sort_by(|a, b| a.stream_arn.cmp(&b.stream_arn));
    if let Some(start) = &input.exclusive_start_stream_arn {
        streams.retain(|s| s.stream_arn > *start);
    }
    let more = streams.len() > limit;
    streams.truncate(limit);
    let last_evaluated_stream_arn = if more {
        streams.last().map(|s| s.stream_arn.clone())
    } else {
        None
    };
    Ok(ListStreamsOutput {
        streams,
        last_evaluated_stream_arn,
    })
}

pub(crate) fn describe_stream(
    conn: &Connection,
    arn: &str,
    now_ms: i64,
) -> Result<StreamDescription, Error> {
    let meta = table_of_stream(conn, arn)?;
    let first: Option<i64> = conn
        .prepare_cached(
            "SELECT first_seq FROM dynamodb_stream_batches WHERE table_id = ?1 AND created_ms >= ?2 ORDER BY last_seq LIMIT 1",
        )?
        .query_map(params![meta.id, now_ms - RETENTION_MS], |r| r.get(0))?
        .next()
        .transpose()?;
    Ok(StreamDescription {
        stream_arn: arn.to_string(),
        stream_label: meta.stream_label.clone().unwrap_or_default(),
        stream_status: "ENABLED",
        stream_view_type: meta.stream.unwrap_or(StreamViewType::KeysOnly),
        creation_request_date_time_millis: meta.created_ms,
        table_name: meta.name.clone(),
        key_schema: meta.key_schema(),
        shards: vec![Shard {
            shard_id: shard_id(&meta),
            sequence_number_range: SequenceNumberRange {
                starting_sequence_number: Some(sequence_number(first.unwrap_or(meta.next_seq))),
                ending_sequence_number: None,
            },
            parent_shard_id: None,
        }],
    })
}

pub(crate) fn get_shard_iterator(
    conn: &Connection,
    input: GetShardIteratorInput,
    now_ms: i64,
) -> Result<String, Error> {
    let meta = table_of_stream(conn, &input.stream_arn)?;
    if input.shard_id != shard_id(&meta) {
        return Err(Error::ResourceNotFound(format!(
            "Requested resource not found: Shard does not exist: {}",
            input.shard_id
        )));
    }
    let sequence = || -> Result<i64, Error> {
        let s = input.sequence_number.as_deref().ok_or_else(|| {
            Error::validation(
                "A SequenceNumber is required for AT_SEQUENCE_NUMBER and AFTER_SEQUENCE_NUMBER",
            )
        })?;
        parse_sequence_number(s)
    };
    let position = match input.shard_iterator_type {
        ShardIteratorType::TrimHorizon => 0,
        ShardIteratorType::Latest => meta.next_seq,
        ShardIteratorType::AtSequenceNumber => sequence()?,
        ShardIteratorType::AfterSequenceNumber => sequence()? + 1,
    };
    Ok(iterator(meta.id, position, now_ms, &input.stream_arn))
}

fn iterator(table_id: i64, position: i64, issued_ms: i64, arn: &str) -> String {
    format!("{table_id}:{position}:{issued_ms}:{arn}")
}

pub(crate) fn get_records(
    conn: &Connection,
    input: GetRecordsInput,
    now_ms: i64,
) -> Result<GetRecordsOutput, Error> {
    let limit = input.limit.unwrap_or(MAX_RECORDS);
    if !(1..=MAX_RECORDS).contains(&limit) {
        return Err(Error::validation(format!(
            "1 validation error detected: Value '{limit}' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 1000"
        )));
    }
    let invalid = || Error::validation("Invalid ShardIterator");
    let mut parts = input.shard_iterator.splitn(4, ':');
    let mut number = || -> Result<i64, Error> {
        parts
            .next()
            .and_then(|p| p.parse().ok())
            .ok_or_else(invalid)
    };
    let (table_id, position, issued_ms) = (number()?, number()?, number()?);
    let arn = parts.next().ok_or_else(invalid)?.to_string();
    if now_ms - issued_ms > ITERATOR_TTL_MS {
        return Err(Error::ExpiredIterator(format!(
            "Iterator expired. The iterator was created at time {} while right now it's {}",
            crate::time::iso_millis(issued_ms),
            crate::time::iso_millis(now_ms)
        )));
    }
    let meta = match table::load_by_id(conn, table_id)? {
        Some(m) if m.stream_arn().as_deref() == Some(arn.as_str()) => m,
        _ => return Err(stream_not_found(&arn)),
    };
    let view = meta.stream.unwrap_or(StreamViewType::KeysOnly);
    let mut records = Vec::new();
    let mut next = position;
    // The first row is the one holding `position`, or the first after it.
    let mut stmt = conn.prepare_cached(
        "SELECT first_seq, created_ms, records FROM dynamodb_stream_batches \
         WHERE table_id = ?1 AND last_seq >= ?2 AND created_ms >= ?3 ORDER BY last_seq LIMIT ?4",
    )?;
    let mut rows = stmt.query(params![
        table_id,
        position,
        now_ms - RETENTION_MS,
        limit as i64
    ])?;
    'rows: while let Some(row) = rows.next()? {
        let first_seq: i64 = row.get(0)?;
        let created_ms: i64 = row.get(1)?;
        let packed = row
            .get_ref(2)?
            .as_blob()
            .map_err(|e| Error::Internal(e.to_string()))?;
        for (seq, packed_record) in (first_seq..).zip(read_records(packed)) {
            if seq < next {
                continue;
            }
            if records.len() == limit {
                break 'rows;
            }
            let r = packed_record?;
            let event_name = match r.event {
                1 => EventName::Insert,
                2 => EventName::Modify,
                3 => EventName::Remove,
                _ => return Err(Error::Internal("a stored stream record is damaged".into())),
            };
            records.push(StreamRecord {
                event_id: format!("{:016x}{:016x}", table_id, seq),
                event_name,
                event_version: "1.1",
                event_source: "aws:dynamodb",
                aws_region: REGION,
                event_source_arn: arn.clone(),
                dynamodb: StreamRecordData {
                    approximate_creation_date_time_millis: created_ms,
                    keys: decode_item(r.keys)?,
                    new_image: r.new_image.map(decode_item).transpose()?,
                    old_image: r.old_image.map(decode_item).transpose()?,
                    sequence_number: sequence_number(seq),
                    size_bytes: r.size as i64,
                    stream_view_type: view,
                },
            });
            next = seq + 1;
        }
    }
    Ok(GetRecordsOutput {
        records,
        next_shard_iterator: Some(iterator(table_id, next, now_ms, &arn)),
    })
}
