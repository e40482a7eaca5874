//! The service's tables in the environment's store (component `lambda`). Never edit a released
//! migration; append a new one.
//!
//! - `lambda_logs`: every log line of every invocation (START/END/REPORT included).
//! - `lambda_async_events`: asynchronous invocations not yet finished: their attempts so far, when
//!   the next attempt is due (clock ms) and the last error. A row leaves the table when the event
//!   succeeded, went to the dead-letter queue or was dropped.
//! - `lambda_stream_checkpoints`: per stream mapping, the last sequence number processed.

pub(crate) const MIGRATIONS: &[&str] = &["
CREATE TABLE lambda_logs (
    id INTEGER PRIMARY KEY,
    function TEXT NOT NULL,
    request_id TEXT,
    log_stream TEXT NOT NULL,
    timestamp_ms INTEGER NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX lambda_logs_by_function ON lambda_logs (function, id);
CREATE TABLE lambda_async_events (
    id INTEGER PRIMARY KEY,
    request_id TEXT NOT NULL,
    function TEXT NOT NULL,
    payload BLOB NOT NULL,
    enqueued_ms INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    due_ms INTEGER NOT NULL,
    last_error_type TEXT,
    last_error_message TEXT
);
CREATE INDEX lambda_async_events_due ON lambda_async_events (due_ms, id);
CREATE TABLE lambda_stream_checkpoints (
    mapping TEXT PRIMARY KEY,
    stream_arn TEXT NOT NULL,
    sequence_number TEXT NOT NULL
);
"];
