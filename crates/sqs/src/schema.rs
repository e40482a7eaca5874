//! The SQS tables (migrations of the component `sqs`) and the queue row every action starts from.
//!
//! Messages live in one table for all queues; the index on `(queue_id, visible_ms)` makes a receive
//! a range scan from the oldest visible message, so its cost does not grow with queue depth.
//! A message's state is entirely its columns: visible when `visible_ms <= now`, in flight when
//! `visible_ms > now` and it has been received, delayed when `visible_ms > now` and it has not,
//! gone when `expires_ms <= now` (expired rows are skipped everywhere and removed when met).

use rusqlite::{Connection, OptionalExtension, Row};

use crate::attributes::{Redrive, Settings};
use crate::SqsError;

pub const MIGRATIONS: &[&str] = &[r#"
CREATE TABLE sqs_queues (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_ms INTEGER NOT NULL,
    modified_ms INTEGER NOT NULL,
    delay_seconds INTEGER NOT NULL,
    maximum_message_size INTEGER NOT NULL,
    message_retention_period INTEGER NOT NULL,
    receive_message_wait_time_seconds INTEGER NOT NULL,
    visibility_timeout INTEGER NOT NULL,
    dead_letter_target_arn TEXT,
    dead_letter_target_name TEXT,
    max_receive_count INTEGER,
    redrive_allow_policy TEXT,
    policy TEXT,
    kms_master_key_id TEXT,
    kms_data_key_reuse_period_seconds INTEGER NOT NULL,
    sqs_managed_sse_enabled INTEGER NOT NULL,
    purged_ms INTEGER
) STRICT;
CREATE INDEX sqs_queues_dead_letter_target ON sqs_queues (dead_letter_target_name);

CREATE TABLE sqs_queue_tags (
    queue_id INTEGER NOT NULL REFERENCES sqs_queues (id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (queue_id, key)
) STRICT, WITHOUT ROWID;

CREATE TABLE sqs_messages (
    id INTEGER PRIMARY KEY,
    queue_id INTEGER NOT NULL,
    message_id TEXT NOT NULL,
    body TEXT NOT NULL,
    body_md5 TEXT NOT NULL,
    attributes BLOB,
    trace_header TEXT,
    sent_ms INTEGER NOT NULL,
    visible_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    first_receive_ms INTEGER,
    last_receive_ms INTEGER,
    dead_letter_source TEXT
) STRICT;
CREATE INDEX sqs_messages_visible ON sqs_messages (queue_id, visible_ms);

CREATE TABLE sqs_move_tasks (
    handle TEXT PRIMARY KEY,
    source_name TEXT NOT NULL,
    source_arn TEXT NOT NULL,
    destination_arn TEXT,
    max_per_second INTEGER,
    status TEXT NOT NULL,
    started_ms INTEGER NOT NULL,
    moved INTEGER NOT NULL,
    to_move INTEGER NOT NULL,
    failure_reason TEXT
) STRICT;
CREATE INDEX sqs_move_tasks_source ON sqs_move_tasks (source_name, started_ms);
"#];

/// A queue as stored.
#[derive(Debug, Clone)]
pub struct Queue {
    pub id: i64,
    pub name: String,
    pub created_ms: i64,
    pub modified_ms: i64,
    pub settings: Settings,
    pub purged_ms: Option<i64>,
}

/// The columns [`queue_from_row`] reads, as a macro so that queries can be built with `concat!`
/// at compile time rather than formatted on every call.
macro_rules! queue_columns {
    () => {
        "id, name, created_ms, modified_ms, delay_seconds, \
    maximum_message_size, message_retention_period, receive_message_wait_time_seconds, \
    visibility_timeout, dead_letter_target_arn, dead_letter_target_name, max_receive_count, \
    redrive_allow_policy, policy, kms_master_key_id, kms_data_key_reuse_period_seconds, \
    sqs_managed_sse_enabled, purged_ms"
    };
}

fn queue_from_row(r: &Row<'_>) -> rusqlite::Result<Queue> {
    let arn: Option<String> = r.get(9)?;
    let target: Option<String> = r.get(10)?;
    let count: Option<i64> = r.get(11)?;
    let redrive = match (arn, target, count) {
        (Some(dead_letter_target_arn), Some(target_name), Some(max_receive_count)) => {
            Some(Redrive {
                dead_letter_target_arn,
                target_name,
                max_receive_count,
            })
        }
        _ => None,
    };
    Ok(Queue {
        id: r.get(0)?,
        name: r.get(1)?,
        created_ms: r.get(2)?,
        modified_ms: r.get(3)?,
        settings: Settings {
            delay_seconds: r.get(4)?,
            maximum_message_size: r.get(5)?,
            message_retention_period: r.get(6)?,
            receive_message_wait_time_seconds: r.get(7)?,
            visibility_timeout: r.get(8)?,
            redrive,
            redrive_allow_policy: r.get(12)?,
            policy: r.get(13)?,
            kms_master_key_id: r.get(14)?,
            kms_data_key_reuse_period_seconds: r.get(15)?,
            sqs_managed_sse_enabled: r.get(16)?,
        },
        purged_ms: r.get(17)?,
    })
}

/// The queue named `name`, if it exists.
pub fn find_queue(conn: &Connection, name: &str) -> Result<Option<Queue>, SqsError> {
    Ok(conn
        .prepare_cached(concat!(
            "SELECT ",
            queue_columns!(),
            " FROM sqs_queues WHERE name = ?1"
        ))?
        .query_row([name], queue_from_row)
        .optional()?)
}

/// The queue named `name`, or QueueDoesNotExist naming `shown` (the URL the caller gave).
pub fn queue(conn: &Connection, name: &str, shown: &str) -> Result<Queue, SqsError> {
    find_queue(conn, name)?.ok_or_else(|| SqsError::QueueDoesNotExist(shown.to_owned()))
}

/// The id of the queue named `name`, or QueueDoesNotExist naming `shown`: for actions that need
/// nothing else of the queue, which saves reading and allocating its whole row.
pub fn queue_id(conn: &Connection, name: &str, shown: &str) -> Result<i64, SqsError> {
    conn.prepare_cached("SELECT id FROM sqs_queues WHERE name = ?1")?
        .query_row([name], |r| r.get(0))
        .optional()?
        .ok_or_else(|| SqsError::QueueDoesNotExist(shown.to_owned()))
}

/// Inserts a new queue and returns its id.
pub fn insert_queue(
    conn: &Connection,
    name: &str,
    settings: &Settings,
    now: i64,
) -> Result<i64, SqsError> {
    conn.prepare_cached(
        "INSERT INTO sqs_queues (name, created_ms, modified_ms, delay_seconds,
            maximum_message_size, message_retention_period, receive_message_wait_time_seconds,
            visibility_timeout, kms_data_key_reuse_period_seconds, sqs_managed_sse_enabled)
         VALUES (?1, ?2, ?2, 0, 0, 0, 0, 0, 0, 0)",
    )?
    .execute(rusqlite::params![name, now])?;
    let id = conn.last_insert_rowid();
    update_settings(conn, id, settings, now)?;
    Ok(id)
}

/// Writes every setting of queue `id` and marks it modified at `now`.
pub fn update_settings(conn: &Connection, id: i64, s: &Settings, now: i64) -> Result<(), SqsError> {
    let redrive = s.redrive.as_ref();
    conn.prepare_cached(
        "UPDATE sqs_queues SET modified_ms = ?2, delay_seconds = ?3, maximum_message_size = ?4,
            message_retention_period = ?5, receive_message_wait_time_seconds = ?6,
            visibility_timeout = ?7, dead_letter_target_arn = ?8, dead_letter_target_name = ?9,
            max_receive_count = ?10, redrive_allow_policy = ?11, policy = ?12,
            kms_master_key_id = ?13, kms_data_key_reuse_period_seconds = ?14,
            sqs_managed_sse_enabled = ?15
         WHERE id = ?1",
    )?
    .execute(rusqlite::params![
        id,
        now,
        s.delay_seconds,
        s.maximum_message_size,
        s.message_retention_period,
        s.receive_message_wait_time_seconds,
        s.visibility_timeout,
        redrive.map(|r| &r.dead_letter_target_arn),
        redrive.map(|r| &r.target_name),
        redrive.map(|r| r.max_receive_count),
        s.redrive_allow_policy,
        s.policy,
        s.kms_master_key_id,
        s.kms_data_key_reuse_period_seconds,
        s.sqs_managed_sse_enabled,
    ])?;
    Ok(())
}
