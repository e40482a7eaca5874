//! Function logs: one durable table of log events (`lambda_logs`), written by a log writer thread
//! that batches the events of many invocations into one store write, so an invocation never waits
//! for its log lines to commit. Readers flush the writer first, so what an invocation logged is
//! readable as soon as the invocation has returned.

use std::sync::mpsc;
use std::sync::Arc;

use store::rusqlite::params;
use store::Store;
use tokio::sync::watch;

use crate::error::LambdaError;

/// One log event of a function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEvent {
    /// Increases with every event written; pass the last one seen to [`crate::Lambda::logs_after`].
    pub id: i64,
    pub function: String,
    /// The invocation the line belongs to.
    pub request_id: Option<String>,
    /// `YYYY/MM/DD/[$LATEST]<instance>`, one per instance, as on AWS.
    pub log_stream: String,
    /// Epoch ms on the service's clock.
    pub timestamp_ms: i64,
    pub message: String,
}

/// An event not yet written.
pub(crate) struct NewEvent {
    pub function: Arc<str>,
    pub request_id: Option<String>,
    pub log_stream: Arc<str>,
    pub timestamp_ms: i64,
    pub message: String,
}

enum Job {
    Events(Vec<NewEvent>),
    Flush(std::sync::mpsc::Sender<()>),
}

/// The handle of the log writer thread; the thread ends when the last handle is dropped.
pub(crate) struct LogWriter {
    jobs: std::sync::Mutex<mpsc::Sender<Job>>,
    /// Bumped after each committed batch, for followers.
    written: watch::Receiver<u64>,
}

impl LogWriter {
    pub fn start(store: Store) -> LogWriter {
        let (tx, rx) = mpsc::channel::<Job>();
        let (written_tx, written) = watch::channel(0u64);
        std::thread::Builder::new()
            .name("lambda-logs".into())
            .spawn(move || {
                while let Ok(first) = rx.recv() {
                    let mut events = Vec::new();
                    let mut flushes = Vec::new();
                    let mut take = |job: Job| match job {
                        Job::Events(e) => events.extend(e),
                        Job::Flush(done) => flushes.push(done),
                    };
                    take(first);
                    while let Ok(job) = rx.try_recv() {
                        take(job);
                    }
                    if !events.is_empty() {
                        let result = store.write(move |conn| {
                            let mut stmt = conn.prepare_cached(
                                "INSERT INTO lambda_logs (function, request_id, log_stream, timestamp_ms, message)
                                 VALUES (?1, ?2, ?3, ?4, ?5)",
                            )?;
                            for e in &events {
                                stmt.execute(params![
                                    &*e.function,
                                    e.request_id,
                                    &*e.log_stream,
                                    e.timestamp_ms,
                                    e.message
                                ])?;
                            }
                            Ok::<_, store::StoreError>(())
                        });
                        if let Err(e) = result {
                            tracing::warn!("function log events were not written: {e}");
                        }
                        written_tx.send_modify(|n| *n += 1);
                    }
                    for done in flushes {
                        let _ = done.send(());
                    }
                }
            })
            .expect("spawning the log writer thread");
        LogWriter {
            jobs: std::sync::Mutex::new(tx),
            written,
        }
    }

    pub fn push(&self, events: Vec<NewEvent>) {
        let jobs = self.jobs.lock().unwrap_or_else(|e| e.into_inner());
        let _ = jobs.send(Job::Events(events));
    }

    /// Waits until everything pushed before this call is committed.
    pub fn flush(&self) {
        let (tx, rx) = mpsc::channel();
        {
            let jobs = self.jobs.lock().unwrap_or_else(|e| e.into_inner());
            if jobs.send(Job::Flush(tx)).is_err() {
                return;
            }
        }
        let _ = rx.recv();
    }

    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.written.clone()
    }
}

const COLUMNS: &str = "id, function, request_id, log_stream, timestamp_ms, message";

fn row(r: &store::rusqlite::Row<'_>) -> store::rusqlite::Result<LogEvent> {
    Ok(LogEvent {
        id: r.get(0)?,
        function: r.get(1)?,
        request_id: r.get(2)?,
        log_stream: r.get(3)?,
        timestamp_ms: r.get(4)?,
        message: r.get(5)?,
    })
}

/// Which events [`query`] reads: the events of one function (or of all), optionally of some of
/// its streams, in a time range, holding every term, after or before an event id, in id order
/// (backwards from the newest when `newest_first`).
#[derive(Debug, Clone, Default)]
pub struct LogQuery {
    /// `None`: every function.
    pub function: Option<String>,
    /// Empty: every stream.
    pub streams: Vec<String>,
    /// Epoch ms, inclusive.
    pub start_ms: Option<i64>,
    /// Epoch ms, exclusive.
    pub end_ms: Option<i64>,
    /// Text each event must contain (case-sensitive), as CloudWatch Logs' term patterns.
    pub terms: Vec<String>,
    /// Only events after this id (forward) or before it (`newest_first`).
    pub from_id: Option<i64>,
    pub newest_first: bool,
    pub limit: usize,
}

impl LogQuery {
    /// Up to `limit` events of `function` (every function when `None`) after the event `after_id`.
    pub fn after(function: Option<&str>, after_id: i64, limit: usize) -> LogQuery {
        LogQuery {
            function: function.map(str::to_owned),
            from_id: Some(after_id),
            limit,
            ..LogQuery::default()
        }
    }
}

/// One stream of a function's log group: an instance, as on AWS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogStreamSummary {
    pub name: String,
    pub first_ms: i64,
    pub last_ms: i64,
    pub stored_bytes: i64,
}

/// The functions that have log events, with the time of their first event and the bytes of
/// their messages, by name.
pub(crate) fn groups(store: &Store) -> Result<Vec<(String, i64, i64)>, LambdaError> {
    Ok(store.read(|conn| {
        conn.prepare(
            "SELECT function, min(timestamp_ms), sum(length(message)) FROM lambda_logs
             GROUP BY function ORDER BY function",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(store::StoreError::from)
    })?)
}

/// The log streams of `function`, by name.
pub(crate) fn streams(store: &Store, function: &str) -> Result<Vec<LogStreamSummary>, LambdaError> {
    Ok(store.read(|conn| {
        conn.prepare(
            "SELECT log_stream, min(timestamp_ms), max(timestamp_ms), sum(length(message))
             FROM lambda_logs WHERE function = ?1 GROUP BY log_stream ORDER BY log_stream",
        )?
        .query_map([function], |r| {
            Ok(LogStreamSummary {
                name: r.get(0)?,
                first_ms: r.get(1)?,
                last_ms: r.get(2)?,
                stored_bytes: r.get(3)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()
        .map_err(store::StoreError::from)
    })?)
}

/// The events `q` selects, in id order (newest first when `q.newest_first`).
pub(crate) fn query(store: &Store, q: &LogQuery) -> Result<Vec<LogEvent>, LambdaError> {
    use store::rusqlite::types::Value;
    /// Appends `clause` with its `?` numbered as the next argument, `value`.
    fn and(sql: &mut String, args: &mut Vec<Value>, clause: &str, value: Value) {
        args.push(value);
        sql.push_str(&clause.replace('?', &format!("?{}", args.len())));
    }
    let mut sql = format!("SELECT {COLUMNS} FROM lambda_logs WHERE 1");
    let mut args = Vec::new();
    if let Some(function) = &q.function {
        and(
            &mut sql,
            &mut args,
            " AND function = ?",
            Value::Text(function.clone()),
        );
    }
    if !q.streams.is_empty() {
        let first = args.len() + 1;
        let list: Vec<String> = (first..first + q.streams.len())
            .map(|i| format!("?{i}"))
            .collect();
        sql.push_str(&format!(" AND log_stream IN ({})", list.join(", ")));
        args.extend(q.streams.iter().cloned().map(Value::Text));
    }
    if let Some(start) = q.start_ms {
        and(
            &mut sql,
            &mut args,
            " AND timestamp_ms >= ?",
            Value::Integer(start),
        );
    }
    if let Some(end) = q.end_ms {
        and(
            &mut sql,
            &mut args,
            " AND timestamp_ms < ?",
            Value::Integer(end),
        );
    }
    for term in &q.terms {
        and(
            &mut sql,
            &mut args,
            " AND instr(message, ?) > 0",
            Value::Text(term.clone()),
        );
    }
    if let Some(id) = q.from_id {
        let clause = if q.newest_first {
            " AND id < ?"
        } else {
            " AND id > ?"
        };
        and(&mut sql, &mut args, clause, Value::Integer(id));
    }
    let order = if q.newest_first { "DESC" } else { "ASC" };
    let limit = Value::Integer(i64::try_from(q.limit).unwrap_or(i64::MAX));
    and(
        &mut sql,
        &mut args,
        &format!(" ORDER BY id {order} LIMIT ?"),
        limit,
    );
    Ok(store.read(|conn| {
        conn.prepare(&sql)?
            .query_map(store::rusqlite::params_from_iter(args.iter()), row)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(store::StoreError::from)
    })?)
}
