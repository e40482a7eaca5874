//! Message actions: SendMessage(Batch), ReceiveMessage, DeleteMessage(Batch),
//! ChangeMessageVisibility(Batch).
//!
//! A receipt handle names the queue, the message row, the receive it came from (the message's
//! receive count at that moment) and the message id. Every receive increments the count, so an
//! older handle stops matching: DeleteMessage with it succeeds without deleting (as AWS documents),
//! ChangeMessageVisibility with it fails with ReceiptHandleIsInvalid.
//!
//! ReceiveMessage hands out the oldest visible messages first (by visibility time, then arrival),
//! scanning the `(queue_id, visible_ms)` index. Expired messages met on the way are deleted; a
//! message already handed out `maxReceiveCount` times is moved to the dead-letter queue instead of
//! being returned.
//!
//! A SendMessageBatch inserts its messages with one multi-row INSERT rather than one statement per
//! message. The statement is atomic: when it fails it has changed nothing, and the batch is redone
//! message by message to place the error on its entry. Receives and deletes run one single-row
//! statement per message, prepared once per call: multi-row UPDATE (`id IN (...)`) and DELETE
//! forms measured slower in instruction counts.
//!
//! Each action adds what it did to the queue's activity counts (`activity.rs`) after its
//! transaction committed: atomics in memory, no statement.
//!
//! The in-flight limit needs the number of messages in flight, which no index gives without
//! reading every in-flight and delayed message. A receive therefore checks an upper bound kept in
//! memory per queue ([`InFlightBound`]): the count when it was last taken, plus every message
//! received since. Only a receive that the bound cannot clear (when it comes within one receive
//! of the limit, or is not known yet) counts, and resets the bound to what it found. Deletes and
//! ending visibility timeouts only make the bound looser, never wrong; a clock set back (virtual
//! time) can put messages back in flight, so the bound holds only from the time it was counted.
//! The bound counts this process's receives: a second process receiving from the same database
//! could take a queue past the limit by what it received.

use std::collections::{BTreeMap, HashSet};
use std::sync::LazyLock;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, Statement};

use crate::activity::Count;
use crate::schema::{self, Queue};
use crate::validate::{self, attributes_md5, md5_hex};
use crate::{
    name_from_url, BatchResult, BatchResultErrorEntry, ChangeMessageVisibilityBatchEntry,
    DeleteMessageBatchEntry, Message, MessageAttributes, ReceiveMessage, ReceiveMessageResult,
    SendMessage, SendMessageBatchEntry, SendMessageBatchResultEntry, SendMessageResult, Sqs,
    SqsError,
};

/// The most a batch may carry in total, whatever the queue's MaximumMessageSize.
const MAX_BATCH_BYTES: usize = 1_048_576;

/// The longest visibility timeout, and the longest a message may stay in flight after a receive.
const MAX_VISIBILITY_SECONDS: i64 = 43_200;

/// System attribute names ReceiveMessage knows for standard queues. FIFO-only names are accepted
/// and never returned, since no message of a standard queue has them.
const SYSTEM_ATTRIBUTES: &[&str] = &[
    "SenderId",
    "SentTimestamp",
    "ApproximateReceiveCount",
    "ApproximateFirstReceiveTimestamp",
    "AWSTraceHeader",
    "DeadLetterQueueSourceArn",
    "SqsManagedSseEnabled",
];
const FIFO_SYSTEM_ATTRIBUTES: &[&str] =
    &["MessageDeduplicationId", "MessageGroupId", "SequenceNumber"];

/// One receive attempt without waiting, as an async endpoint drives a long poll itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiveAttempt {
    pub messages: Vec<Message>,
    /// The long-poll wait that applies (the request's, else the queue's), in seconds.
    pub wait_time_seconds: i64,
    /// When the queue's next message becomes visible (epoch ms), if none was received and one is
    /// delayed or in flight: a waiter should re-check then even without a signal.
    pub next_visible_ms: Option<i64>,
}

/// A validated message ready to insert.
struct Outgoing {
    message_id: String,
    body: String,
    body_md5: String,
    attributes: Option<Vec<u8>>,
    attributes_md5: Option<String>,
    trace_header: Option<String>,
    delay_seconds: Option<i64>,
    size: usize,
}

fn delay(delay_seconds: Option<i64>) -> Result<Option<i64>, SqsError> {
    match delay_seconds {
        Some(d) if !(0..=900).contains(&d) => Err(SqsError::InvalidParameterValue(format!(
            "Value {d} for parameter DelaySeconds is invalid. Reason: must be between 0 and 900"
        ))),
        d => Ok(d),
    }
}

fn outgoing(
    body: String,
    attributes: &MessageAttributes,
    trace_header: Option<String>,
    delay_seconds: Option<i64>,
) -> Result<Outgoing, SqsError> {
    validate::body(&body)?;
    validate::message_attributes(attributes)?;
    let delay_seconds = delay(delay_seconds)?;
    let size = validate::message_size(&body, attributes);
    let encoded = (!attributes.is_empty()).then(|| validate::encode_attributes(attributes.iter()));
    Ok(Outgoing {
        message_id: uuid::Uuid::new_v4().to_string(),
        body_md5: md5_hex(body.as_bytes()),
        attributes_md5: encoded.as_deref().map(md5_hex),
        attributes: encoded,
        body,
        trace_header,
        delay_seconds,
        size,
    })
}

/// The statement [`insert`] runs, prepared once per transaction by its caller: looking a statement
/// up in the connection's cache costs about as much as inserting a small row.
const INSERT_MESSAGE: &str =
    "INSERT INTO sqs_messages (queue_id, message_id, body, body_md5, attributes, trace_header,
        sent_ms, visible_ms, expires_ms)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";

/// The most messages one SendMessageBatch carries, and so the most rows of one multi-row insert.
const MAX_BATCH_ENTRIES: usize = 10;

/// `INSERT_MESSAGES[n - 1]` inserts `n` messages in one statement: one statement instead of `n`
/// saves the per-statement work (lookup, reset, statement journal) that dominates small inserts.
static INSERT_MESSAGES: LazyLock<Vec<String>> = LazyLock::new(|| {
    (1..=MAX_BATCH_ENTRIES)
        .map(|n| {
            let rows: Vec<String> = (0..n)
                .map(|i| {
                    let p: Vec<String> = (1..=9).map(|k| format!("?{}", i * 9 + k)).collect();
                    format!("({})", p.join(", "))
                })
                .collect();
            format!(
                "INSERT INTO sqs_messages (queue_id, message_id, body, body_md5, attributes, \
                 trace_header, sent_ms, visible_ms, expires_ms) VALUES {}",
                rows.join(", ")
            )
        })
        .collect()
});

/// Refuses `m` if it is larger than `queue` allows.
fn check_size(queue: &Queue, m: &Outgoing) -> Result<(), SqsError> {
    let max = queue.settings.maximum_message_size as usize;
    if m.size > max {
        return Err(SqsError::InvalidParameterValue(format!(
            "One or more parameters are invalid. Reason: Message must be shorter than {max} bytes \
             (this one has {})",
            m.size
        )));
    }
    Ok(())
}

/// The delay `m` gets in `queue`, in seconds.
fn delay_of(queue: &Queue, m: &Outgoing) -> i64 {
    m.delay_seconds.unwrap_or(queue.settings.delay_seconds)
}

/// Inserts every message of `ms` (at most [`MAX_BATCH_ENTRIES`], each already size-checked) into
/// `queue` with one statement.
fn insert_many(
    conn: &Connection,
    queue: &Queue,
    ms: &[&Outgoing],
    now: i64,
) -> Result<(), SqsError> {
    let Some(sql) = ms.len().checked_sub(1).and_then(|i| INSERT_MESSAGES.get(i)) else {
        return Ok(());
    };
    let mut stmt = conn.prepare_cached(sql)?;
    for (i, m) in ms.iter().enumerate() {
        let at = i * 9;
        stmt.raw_bind_parameter(at + 1, queue.id)?;
        stmt.raw_bind_parameter(at + 2, &m.message_id)?;
        stmt.raw_bind_parameter(at + 3, &m.body)?;
        stmt.raw_bind_parameter(at + 4, &m.body_md5)?;
        stmt.raw_bind_parameter(at + 5, &m.attributes)?;
        stmt.raw_bind_parameter(at + 6, &m.trace_header)?;
        stmt.raw_bind_parameter(at + 7, now)?;
        stmt.raw_bind_parameter(at + 8, now + delay_of(queue, m) * 1000)?;
        stmt.raw_bind_parameter(at + 9, now + queue.settings.message_retention_period * 1000)?;
    }
    stmt.raw_execute()?;
    Ok(())
}

/// Inserts `m` into `queue` with `stmt` (prepared from [`INSERT_MESSAGE`]); returns whether it is
/// visible at once.
fn insert(
    stmt: &mut Statement<'_>,
    queue: &Queue,
    m: &Outgoing,
    now: i64,
) -> Result<bool, SqsError> {
    check_size(queue, m)?;
    let delay = delay_of(queue, m);
    stmt.execute(rusqlite::params![
        queue.id,
        m.message_id,
        m.body,
        m.body_md5,
        m.attributes,
        m.trace_header,
        now,
        now + delay * 1000,
        now + queue.settings.message_retention_period * 1000,
    ])?;
    Ok(delay == 0)
}

fn batch_error(id: &str, e: &SqsError) -> BatchResultErrorEntry {
    BatchResultErrorEntry {
        id: id.to_owned(),
        sender_fault: e.is_sender_fault(),
        code: e.code().to_owned(),
        message: e.to_string(),
    }
}

/// The parts of a receipt handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Receipt<'a> {
    queue_id: i64,
    row: i64,
    receive_count: i64,
    message_id: &'a str,
}

fn receipt_handle(queue_id: i64, row: i64, receive_count: i64, message_id: &str) -> String {
    format!("{queue_id:x}.{row:x}.{receive_count:x}.{message_id}")
}

fn parse_receipt(handle: &str) -> Result<Receipt<'_>, SqsError> {
    let invalid = || SqsError::ReceiptHandleIsInvalid(handle.to_owned());
    let mut parts = handle.splitn(4, '.');
    let mut number = || {
        parts
            .next()
            .and_then(|p| i64::from_str_radix(p, 16).ok())
            .ok_or_else(invalid)
    };
    let (queue_id, row, receive_count) = (number()?, number()?, number()?);
    let message_id = parts.next().filter(|m| !m.is_empty()).ok_or_else(invalid)?;
    Ok(Receipt {
        queue_id,
        row,
        receive_count,
        message_id,
    })
}

/// What ReceiveMessage was asked for, validated.
struct ReceiveParams {
    max: usize,
    visibility_timeout: Option<i64>,
    wait_time_seconds: Option<i64>,
    system: Vec<String>,
    all_system: bool,
    message_attribute_names: Vec<String>,
}

fn receive_params(request: &ReceiveMessage) -> Result<ReceiveParams, SqsError> {
    let range = |name: &str, value: Option<i64>, max: i64| match value {
        Some(v) if !(0..=max).contains(&v) => Err(SqsError::InvalidParameterValue(format!(
            "Value {v} for parameter {name} is invalid. Reason: must be between 0 and {max}"
        ))),
        v => Ok(v),
    };
    let max = match request.max_number_of_messages {
        None => 1,
        Some(n @ 1..=10) => n as usize,
        Some(n) => {
            return Err(SqsError::InvalidParameterValue(format!(
                "Value {n} for parameter MaxNumberOfMessages is invalid. Reason: Must be between \
                 1 and 10, if provided."
            )))
        }
    };
    let mut system = Vec::new();
    let mut all_system = false;
    for name in &request.attribute_names {
        match name.as_str() {
            "All" => all_system = true,
            n if SYSTEM_ATTRIBUTES.contains(&n) => system.push(name.clone()),
            n if FIFO_SYSTEM_ATTRIBUTES.contains(&n) => {}
            _ => return Err(SqsError::InvalidAttributeName(name.clone())),
        }
    }
    Ok(ReceiveParams {
        max,
        visibility_timeout: range(
            "VisibilityTimeout",
            request.visibility_timeout,
            MAX_VISIBILITY_SECONDS,
        )?,
        wait_time_seconds: range("WaitTimeSeconds", request.wait_time_seconds, 20)?,
        system,
        all_system,
        message_attribute_names: request.message_attribute_names.clone(),
    })
}

/// Whether a message attribute called `name` was asked for.
fn wants_attribute(names: &[String], name: &str) -> bool {
    names.iter().any(|n| {
        n == "All"
            || n == ".*"
            || n == name
            || n.strip_suffix(".*").is_some_and(|prefix| {
                name.strip_prefix(prefix)
                    .is_some_and(|r| r.starts_with('.'))
            })
    })
}

/// A message row as a receive reads it.
struct Row {
    id: i64,
    message_id: String,
    body: String,
    body_md5: String,
    attributes: Option<Vec<u8>>,
    trace_header: Option<String>,
    sent_ms: i64,
    visible_ms: i64,
    expires_ms: i64,
    receive_count: i64,
    first_receive_ms: Option<i64>,
    dead_letter_source: Option<String>,
}

/// The columns [`row`] reads, as a macro so that queries are built by `concat!` at compile time.
macro_rules! row_columns {
    () => {
        "id, message_id, body, body_md5, attributes, trace_header, sent_ms, \
         visible_ms, expires_ms, receive_count, first_receive_ms, dead_letter_source"
    };
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    Ok(Row {
        id: r.get(0)?,
        message_id: r.get(1)?,
        body: r.get(2)?,
        body_md5: r.get(3)?,
        attributes: r.get(4)?,
        trace_header: r.get(5)?,
        sent_ms: r.get(6)?,
        visible_ms: r.get(7)?,
        expires_ms: r.get(8)?,
        receive_count: r.get(9)?,
        first_receive_ms: r.get(10)?,
        dead_letter_source: r.get(11)?,
    })
}

/// An upper bound of one queue's in-flight count (see the module's documentation).
#[derive(Debug, Clone, Copy)]
pub(crate) struct InFlightBound {
    /// No more messages than this are in flight, at any time from `since_ms` on.
    count: i64,
    since_ms: i64,
}

/// The outcome of one receive transaction.
struct Received {
    messages: Vec<Message>,
    queue_wait_seconds: i64,
    next_visible_ms: Option<i64>,
    /// Dead-letter queues that got messages, whose waiters must wake.
    dead_lettered: Option<String>,
}

impl Sqs {
    /// SendMessage.
    pub fn send_message(&self, request: SendMessage) -> Result<SendMessageResult, SqsError> {
        let name = name_from_url(&request.queue_url)?.to_owned();
        let m = outgoing(
            request.message_body,
            &request.message_attributes,
            request.aws_trace_header,
            request.delay_seconds,
        )?;
        let shown = request.queue_url;
        let now = self.now();
        let queue_name = name.clone();
        let (visible, m) = self.inner.store.write(move |conn| {
            let queue = schema::queue(conn, &queue_name, &shown)?;
            let visible = insert(&mut *conn.prepare_cached(INSERT_MESSAGE)?, &queue, &m, now)?;
            Ok::<_, SqsError>((visible, m))
        })?;
        self.count(&name, Count::Sent, 1);
        if visible {
            self.notify(&name);
        }
        Ok(SendMessageResult {
            message_id: m.message_id,
            md5_of_message_body: m.body_md5,
            md5_of_message_attributes: m.attributes_md5,
        })
    }

    /// SendMessageBatch: up to 10 messages, each succeeding or failing on its own.
    pub fn send_message_batch(
        &self,
        queue_url: &str,
        entries: Vec<SendMessageBatchEntry>,
    ) -> Result<BatchResult<SendMessageBatchResultEntry>, SqsError> {
        store::block_on(self.send_message_batch_async(queue_url, entries))
    }

    /// [`Sqs::send_message_batch`] for async callers: no thread waits for the commit. A future
    /// dropped after its write was handed to the store (a client gone mid-request) leaves the
    /// messages sent but skips the rest: the activity counts, and the signal to long-polling
    /// receivers, which then find the messages at their next attempt (at the latest when their
    /// wait ends).
    pub async fn send_message_batch_async(
        &self,
        queue_url: &str,
        entries: Vec<SendMessageBatchEntry>,
    ) -> Result<BatchResult<SendMessageBatchResultEntry>, SqsError> {
        validate::batch_ids(entries.iter().map(|e| e.id.as_str()))?;
        let size: usize = entries
            .iter()
            .map(|e| validate::message_size(&e.message_body, &e.message_attributes))
            .sum();
        if size > MAX_BATCH_BYTES {
            return Err(SqsError::BatchRequestTooLong {
                size,
                limit: MAX_BATCH_BYTES,
            });
        }
        let name = name_from_url(queue_url)?.to_owned();
        let prepared: Vec<(String, Result<Outgoing, SqsError>)> = entries
            .into_iter()
            .map(|e| {
                let m = outgoing(
                    e.message_body,
                    &e.message_attributes,
                    e.aws_trace_header,
                    e.delay_seconds,
                );
                (e.id, m)
            })
            .collect();
        let shown = queue_url.to_owned();
        let now = self.now();
        let queue_name = name.clone();
        let (result, any_visible) = self
            .inner
            .store
            // Checked: the queue is looked up before any change, and after that each entry fails on
            // its own, in the result; only the database can fail the write after its first insert.
            .submit_checked(move |conn| {
                let queue = schema::queue(conn, &queue_name, &shown)?;
                let mut result = BatchResult {
                    successful: Vec::new(),
                    failed: Vec::new(),
                };
                let mut any_visible = false;
                let prepared: Vec<(String, Result<Outgoing, SqsError>)> = prepared
                    .into_iter()
                    .map(|(id, m)| (id, m.and_then(|m| check_size(&queue, &m).map(|()| m))))
                    .collect();
                let valid: Vec<&Outgoing> = prepared
                    .iter()
                    .filter_map(|(_, m)| m.as_ref().ok())
                    .collect();
                // All valid messages go in one statement, which is atomic: if it fails, nothing of it
                // stays, and each message is inserted alone so that the error lands on its own entry.
                let together = insert_many(conn, &queue, &valid, now).is_ok();
                drop(valid);
                let mut stmt = conn.prepare_cached(INSERT_MESSAGE)?;
                for (id, m) in prepared {
                    let inserted = m.and_then(|m| {
                        if together {
                            Ok((delay_of(&queue, &m) == 0, m))
                        } else {
                            insert(&mut stmt, &queue, &m, now).map(|v| (v, m))
                        }
                    });
                    match inserted {
                        Ok((visible, m)) => {
                            any_visible |= visible;
                            result.successful.push(SendMessageBatchResultEntry {
                                id,
                                message_id: m.message_id,
                                md5_of_message_body: m.body_md5,
                                md5_of_message_attributes: m.attributes_md5,
                            });
                        }
                        Err(e) => result.failed.push(batch_error(&id, &e)),
                    }
                }
                Ok::<_, SqsError>((result, any_visible))
            })
            .await?;
        self.count(&name, Count::Sent, result.successful.len() as u64);
        if any_visible {
            self.notify(&name);
        }
        Ok(result)
    }

    /// Sends many plain messages in one transaction (seeding a queue, benchmarks): each body is
    /// checked as SendMessage checks it, and the whole call fails if one is invalid.
    pub fn send_messages_bulk(
        &self,
        queue_url: &str,
        bodies: Vec<String>,
    ) -> Result<usize, SqsError> {
        let name = name_from_url(queue_url)?.to_owned();
        let none = MessageAttributes::new();
        let messages = bodies
            .into_iter()
            .map(|b| outgoing(b, &none, None, None))
            .collect::<Result<Vec<_>, _>>()?;
        let shown = queue_url.to_owned();
        let now = self.now();
        let queue_name = name.clone();
        let count = self.inner.store.write(move |conn| {
            let queue = schema::queue(conn, &queue_name, &shown)?;
            let mut stmt = conn.prepare_cached(INSERT_MESSAGE)?;
            for m in &messages {
                insert(&mut stmt, &queue, m, now)?;
            }
            Ok::<_, SqsError>(messages.len())
        })?;
        self.count(&name, Count::Sent, count as u64);
        self.notify(&name);
        Ok(count)
    }

    /// ReceiveMessage with long polling: returns as soon as at least one message is received, or
    /// an empty list once WaitTimeSeconds (the request's, else the queue's) has passed on the clock.
    /// Blocks the calling thread while it waits.
    pub fn receive_message(
        &self,
        request: &ReceiveMessage,
    ) -> Result<ReceiveMessageResult, SqsError> {
        let params = receive_params(request)?;
        let name = name_from_url(&request.queue_url)?;
        let signal = self.signal(name);
        let start = self.now();
        loop {
            let seen = signal.version();
            let received = store::block_on(self.receive_once(name, &request.queue_url, &params))?;
            if !received.messages.is_empty() {
                return Ok(ReceiveMessageResult {
                    messages: received.messages,
                });
            }
            let wait = params
                .wait_time_seconds
                .unwrap_or(received.queue_wait_seconds);
            let deadline = start + wait * 1000;
            let now = self.now();
            if now >= deadline {
                self.count(name, Count::EmptyReceives, 1);
                return Ok(ReceiveMessageResult::default());
            }
            let wake_at = received
                .next_visible_ms
                .map_or(deadline, |v| v.min(deadline));
            let pause = if self.inner.clock.is_real() {
                Duration::from_millis((wake_at - now).max(1) as u64)
            } else {
                // Virtual time moves only by the clock's hand, and every move notifies the signal;
                // the real-time bound only keeps a forgotten waiter from sleeping forever.
                Duration::from_secs(1)
            };
            signal.wait(seen, pause);
        }
    }

    /// One ReceiveMessage attempt that never waits, for an async endpoint driving its own long poll
    /// with [`Sqs::queue_signal`]: take the signal's version, call this, and if it returned nothing
    /// await [`crate::Signal::changed`] until the wait ends or `next_visible_ms` comes.
    pub async fn try_receive_message(
        &self,
        request: &ReceiveMessage,
    ) -> Result<ReceiveAttempt, SqsError> {
        let params = receive_params(request)?;
        let name = name_from_url(&request.queue_url)?;
        let received = self.receive_once(name, &request.queue_url, &params).await?;
        let wait_time_seconds = params
            .wait_time_seconds
            .unwrap_or(received.queue_wait_seconds);
        // Without a wait this attempt is the whole ReceiveMessage; a longer poll's driver counts
        // its empty end itself (`count_empty_receive`).
        if received.messages.is_empty() && wait_time_seconds <= 0 {
            self.count(name, Count::EmptyReceives, 1);
        }
        Ok(ReceiveAttempt {
            messages: received.messages,
            wait_time_seconds,
            next_visible_ms: received.next_visible_ms,
        })
    }

    async fn receive_once(
        &self,
        name: &str,
        shown: &str,
        params: &ReceiveParams,
    ) -> Result<Received, SqsError> {
        let now = self.now();
        let this = self.clone();
        let queue_name = name;
        let name = name.to_owned();
        let shown = shown.to_owned();
        let max = params.max;
        let visibility_timeout = params.visibility_timeout;
        let system = params.system.clone();
        let all_system = params.all_system;
        let wanted_attributes = params.message_attribute_names.clone();
        // Checked: the queue, the in-flight limit and the dead-letter queue are looked up before
        // any change.
        let received = self.inner.store.submit_checked(move |conn| {
            let queue = schema::queue(conn, &name, &shown)?;
            let limit = this.inner.config.max_inflight_messages;
            let mut bounds = this.inner.in_flight.lock().unwrap_or_else(|e| e.into_inner());
            let cleared = bounds
                .get(&queue.id)
                .filter(|b| b.since_ms <= now && b.count + max as i64 <= limit);
            let (in_flight, since_ms) = match cleared {
                Some(b) => (b.count, b.since_ms),
                None => {
                    let counted: i64 = conn
                        .prepare_cached(
                            "SELECT count(*) FROM (SELECT 1 FROM sqs_messages
                             WHERE queue_id = ?1 AND visible_ms > ?2 AND receive_count > 0
                             LIMIT ?3)",
                        )?
                        .query_row([queue.id, now, limit], |r| r.get(0))?;
                    (counted, now)
                }
            };
            if in_flight >= limit {
                return Err(SqsError::OverLimit(format!(
                    "Queue `{name}` has reached the limit of {limit} in-flight messages"
                )));
            }
            let want = max.min((limit - in_flight) as usize);
            let visibility_ms =
                visibility_timeout.unwrap_or(queue.settings.visibility_timeout) * 1000;
            let dead_letter = match &queue.settings.redrive {
                Some(r) => schema::find_queue(conn, &r.target_name)?
                    .map(|dlq| (dlq, r.max_receive_count)),
                None => None,
            };
            let mut messages = Vec::with_capacity(want);
            let mut picked: HashSet<i64> = HashSet::new();
            let mut dead_lettered = None;
            let mut cursor: Option<(i64, i64)> = None;
            // Prepared once for the whole receive: the statement cache lookup costs about as much as
            // the update. (One multi-row UPDATE of all received ids measured slightly slower.)
            let mut update = conn.prepare_cached(
                "UPDATE sqs_messages SET receive_count = ?2, first_receive_ms = ?3,
                    last_receive_ms = ?4, visible_ms = ?5 WHERE id = ?1",
            )?;
            'scan: loop {
                let page: Vec<Row> = match cursor {
                    None => conn
                        .prepare_cached(concat!(
                            "SELECT ",
                            row_columns!(),
                            " FROM sqs_messages WHERE queue_id = ?1 AND visible_ms <= ?2
                             ORDER BY visible_ms, id LIMIT ?3"
                        ))?
                        .query_map(rusqlite::params![queue.id, now, want as i64], row)?
                        .collect::<Result<_, _>>()?,
                    Some((v, id)) => conn
                        .prepare_cached(concat!(
                            "SELECT ",
                            row_columns!(),
                            " FROM sqs_messages
                             WHERE queue_id = ?1 AND visible_ms <= ?2 AND visible_ms >= ?3
                                AND (visible_ms > ?3 OR id > ?4)
                             ORDER BY visible_ms, id LIMIT ?5"
                        ))?
                        .query_map(rusqlite::params![queue.id, now, v, id, want as i64], row)?
                        .collect::<Result<_, _>>()?,
                };
                let full_page = page.len() == want;
                for m in page {
                    cursor = Some((m.visible_ms, m.id));
                    if !picked.insert(m.id) {
                        continue;
                    }
                    if m.expires_ms <= now {
                        delete_row(conn, m.id)?;
                        continue;
                    }
                    if let Some((dlq, max_receive_count)) = &dead_letter {
                        if m.receive_count >= *max_receive_count {
                            move_to_dead_letter_queue(conn, &m, dlq, &queue.name, now)?;
                            dead_lettered = Some(dlq.name.clone());
                            continue;
                        }
                    }
                    let count = m.receive_count + 1;
                    let first = m.first_receive_ms.unwrap_or(now);
                    update.execute([m.id, count, first, now, now + visibility_ms])?;
                    messages.push(this.message(&queue, m, count, first, &system, all_system, &wanted_attributes)?);
                    if messages.len() == want {
                        break 'scan;
                    }
                }
                if !full_page {
                    break;
                }
            }
            // Counted now, before the commit: a receive rolled back only leaves the bound looser.
            bounds.insert(
                queue.id,
                InFlightBound {
                    count: in_flight + messages.len() as i64,
                    since_ms,
                },
            );
            drop(bounds);
            let next_visible_ms = if messages.is_empty() {
                conn.prepare_cached(
                    "SELECT min(visible_ms) FROM sqs_messages WHERE queue_id = ?1 AND visible_ms > ?2",
                )?
                .query_row([queue.id, now], |r| r.get(0))
                .optional()?
                .flatten()
            } else {
                None
            };
            Ok::<_, SqsError>(Received {
                messages,
                queue_wait_seconds: queue.settings.receive_message_wait_time_seconds,
                next_visible_ms,
                dead_lettered,
            })
        })
        .await?;
        self.count(queue_name, Count::Received, received.messages.len() as u64);
        if let Some(dlq) = &received.dead_lettered {
            self.notify(dlq);
        }
        Ok(received)
    }

    /// The message as ReceiveMessage returns it, after this receive.
    #[allow(clippy::too_many_arguments)]
    fn message(
        &self,
        queue: &Queue,
        m: Row,
        receive_count: i64,
        first_receive_ms: i64,
        system: &[String],
        all_system: bool,
        wanted_attributes: &[String],
    ) -> Result<Message, SqsError> {
        let wants = |name: &str| all_system || system.iter().any(|s| s == name);
        let mut attributes = BTreeMap::new();
        if wants("SenderId") {
            attributes.insert("SenderId".into(), self.inner.config.account_id.clone());
        }
        if wants("SentTimestamp") {
            attributes.insert("SentTimestamp".into(), m.sent_ms.to_string());
        }
        if wants("ApproximateReceiveCount") {
            attributes.insert("ApproximateReceiveCount".into(), receive_count.to_string());
        }
        if wants("ApproximateFirstReceiveTimestamp") {
            attributes.insert(
                "ApproximateFirstReceiveTimestamp".into(),
                first_receive_ms.to_string(),
            );
        }
        if let (true, Some(trace)) = (wants("AWSTraceHeader"), &m.trace_header) {
            attributes.insert("AWSTraceHeader".into(), trace.clone());
        }
        if let (true, Some(source)) = (wants("DeadLetterQueueSourceArn"), &m.dead_letter_source) {
            attributes.insert("DeadLetterQueueSourceArn".into(), self.queue_arn(source));
        }
        if wants("SqsManagedSseEnabled") && !all_system {
            attributes.insert(
                "SqsManagedSseEnabled".into(),
                queue.settings.sqs_managed_sse_enabled.to_string(),
            );
        }
        let stored = match &m.attributes {
            Some(bytes) => validate::decode_attributes(bytes).ok_or_else(|| {
                SqsError::Store(store::StoreError::CommitFailed(format!(
                    "message {} has corrupt attributes",
                    m.message_id
                )))
            })?,
            None => MessageAttributes::new(),
        };
        let message_attributes: MessageAttributes = stored
            .into_iter()
            .filter(|(name, _)| wants_attribute(wanted_attributes, name))
            .collect();
        Ok(Message {
            receipt_handle: receipt_handle(queue.id, m.id, receive_count, &m.message_id),
            message_id: m.message_id,
            md5_of_body: m.body_md5,
            body: m.body,
            attributes,
            md5_of_message_attributes: attributes_md5(&message_attributes),
            message_attributes,
        })
    }

    /// DeleteMessage. A handle from an earlier receive of a message since received again, or of a
    /// message already deleted, succeeds without deleting anything (as AWS documents).
    pub fn delete_message(&self, queue_url: &str, receipt_handle: &str) -> Result<(), SqsError> {
        let name = name_from_url(queue_url)?.to_owned();
        parse_receipt(receipt_handle)?;
        let shown = queue_url.to_owned();
        let handle = receipt_handle.to_owned();
        let queue_name = name.clone();
        let deleted = self.inner.store.write(move |conn| {
            let queue_id = schema::queue_id(conn, &queue_name, &shown)?;
            delete_by_handle(
                &mut *conn.prepare_cached(DELETE_BY_HANDLE)?,
                queue_id,
                &handle,
            )
        })?;
        self.count(&name, Count::Deleted, deleted as u64);
        Ok(())
    }

    /// DeleteMessageBatch.
    pub fn delete_message_batch(
        &self,
        queue_url: &str,
        entries: Vec<DeleteMessageBatchEntry>,
    ) -> Result<BatchResult<String>, SqsError> {
        store::block_on(self.delete_message_batch_async(queue_url, entries))
    }

    /// [`Sqs::delete_message_batch`] for async callers: no thread waits for the commit.
    pub async fn delete_message_batch_async(
        &self,
        queue_url: &str,
        entries: Vec<DeleteMessageBatchEntry>,
    ) -> Result<BatchResult<String>, SqsError> {
        validate::batch_ids(entries.iter().map(|e| e.id.as_str()))?;
        let name = name_from_url(queue_url)?.to_owned();
        let shown = queue_url.to_owned();
        let queue_name = name.clone();
        let (result, deleted) = self
            .inner
            .store
            // Checked: the queue is looked up before any change; a bad receipt handle fails only
            // its entry, in the result.
            .submit_checked(move |conn| {
                let queue_id = schema::queue_id(conn, &queue_name, &shown)?;
                let mut result = BatchResult {
                    successful: Vec::with_capacity(entries.len()),
                    failed: Vec::new(),
                };
                let mut deleted = 0;
                let mut stmt = conn.prepare_cached(DELETE_BY_HANDLE)?;
                for e in entries {
                    match delete_by_handle(&mut stmt, queue_id, &e.receipt_handle) {
                        Ok(n) => {
                            deleted += n;
                            result.successful.push(e.id);
                        }
                        Err(err) => result.failed.push(batch_error(&e.id, &err)),
                    }
                }
                Ok::<_, SqsError>((result, deleted))
            })
            .await?;
        self.count(&name, Count::Deleted, deleted as u64);
        Ok(result)
    }

    /// ChangeMessageVisibility: the message becomes visible `visibility_timeout` seconds from now.
    pub fn change_message_visibility(
        &self,
        queue_url: &str,
        receipt_handle: &str,
        visibility_timeout: i64,
    ) -> Result<(), SqsError> {
        let entry = ChangeMessageVisibilityBatchEntry {
            id: "single".into(),
            receipt_handle: receipt_handle.to_owned(),
            visibility_timeout,
        };
        let name = name_from_url(queue_url)?.to_owned();
        let shown = queue_url.to_owned();
        let now = self.now();
        self.inner.store.write(move |conn| {
            let queue = schema::queue(conn, &name, &shown)?;
            change_visibility(conn, &queue, &entry, now)
        })?;
        if visibility_timeout == 0 {
            self.notify(name_from_url(queue_url)?);
        }
        Ok(())
    }

    /// ChangeMessageVisibilityBatch.
    pub fn change_message_visibility_batch(
        &self,
        queue_url: &str,
        entries: Vec<ChangeMessageVisibilityBatchEntry>,
    ) -> Result<BatchResult<String>, SqsError> {
        validate::batch_ids(entries.iter().map(|e| e.id.as_str()))?;
        let name = name_from_url(queue_url)?.to_owned();
        let shown = queue_url.to_owned();
        let now = self.now();
        let result = self.inner.store.write(move |conn| {
            let queue = schema::queue(conn, &name, &shown)?;
            let mut result = BatchResult {
                successful: Vec::new(),
                failed: Vec::new(),
            };
            for e in entries {
                match change_visibility(conn, &queue, &e, now) {
                    Ok(()) => result.successful.push(e.id),
                    Err(err) => result.failed.push(batch_error(&e.id, &err)),
                }
            }
            Ok::<_, SqsError>(result)
        })?;
        self.notify(name_from_url(queue_url)?);
        Ok(result)
    }
}

fn delete_row(conn: &Connection, id: i64) -> Result<(), SqsError> {
    conn.prepare_cached("DELETE FROM sqs_messages WHERE id = ?1")?
        .execute([id])?;
    Ok(())
}

/// The statement [`delete_by_handle`] runs, prepared once per transaction by its caller.
const DELETE_BY_HANDLE: &str = "DELETE FROM sqs_messages
    WHERE id = ?1 AND queue_id = ?2 AND receive_count = ?3 AND message_id = ?4";

/// The receipt `handle`, if it is well formed and names a message of queue `queue_id`.
fn receipt_of_queue(handle: &str, queue_id: i64) -> Result<Receipt<'_>, SqsError> {
    let receipt = parse_receipt(handle)?;
    if receipt.queue_id != queue_id {
        return Err(SqsError::ReceiptHandleIsInvalid(handle.to_owned()));
    }
    Ok(receipt)
}

/// Deletes the message `handle` names from queue `queue_id` with `stmt` (prepared from
/// [`DELETE_BY_HANDLE`]), if the handle is still its latest; how many messages it deleted (0 or 1).
fn delete_by_handle(
    stmt: &mut Statement<'_>,
    queue_id: i64,
    handle: &str,
) -> Result<usize, SqsError> {
    let receipt = receipt_of_queue(handle, queue_id)?;
    Ok(stmt.execute(rusqlite::params![
        receipt.row,
        queue_id,
        receipt.receive_count,
        receipt.message_id
    ])?)
}

fn change_visibility(
    conn: &Connection,
    queue: &Queue,
    entry: &ChangeMessageVisibilityBatchEntry,
    now: i64,
) -> Result<(), SqsError> {
    let timeout = entry.visibility_timeout;
    if !(0..=MAX_VISIBILITY_SECONDS).contains(&timeout) {
        return Err(SqsError::InvalidParameterValue(format!(
            "Value {timeout} for parameter VisibilityTimeout is invalid. Reason: must be between \
             0 and {MAX_VISIBILITY_SECONDS}"
        )));
    }
    let handle = &entry.receipt_handle;
    let receipt = parse_receipt(handle)?;
    let invalid = || SqsError::ReceiptHandleIsInvalid(handle.clone());
    if receipt.queue_id != queue.id {
        return Err(invalid());
    }
    let found: Option<(String, i64, i64, Option<i64>)> = conn
        .prepare_cached(
            "SELECT message_id, receive_count, visible_ms, last_receive_ms FROM sqs_messages
             WHERE id = ?1 AND queue_id = ?2 AND expires_ms > ?3",
        )?
        .query_row([receipt.row, queue.id, now], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .optional()?;
    let Some((message_id, receive_count, visible_ms, last_receive_ms)) = found else {
        return Err(invalid());
    };
    if message_id != receipt.message_id || receive_count != receipt.receive_count {
        return Err(invalid());
    }
    if visible_ms <= now {
        return Err(SqsError::MessageNotInflight(handle.clone()));
    }
    let received_at = last_receive_ms.unwrap_or(now);
    if now + timeout * 1000 > received_at + MAX_VISIBILITY_SECONDS * 1000 {
        return Err(SqsError::InvalidParameterValue(format!(
            "Value {timeout} for parameter VisibilityTimeout is invalid. Reason: Total \
             VisibilityTimeout for the message is beyond the limit [{MAX_VISIBILITY_SECONDS} \
             seconds]"
        )));
    }
    conn.prepare_cached("UPDATE sqs_messages SET visible_ms = ?2 WHERE id = ?1")?
        .execute([receipt.row, now + timeout * 1000])?;
    Ok(())
}

/// Moves a message that has been handed out `maxReceiveCount` times to its dead-letter queue. The
/// message keeps its id, body, attributes and SentTimestamp; its expiry keeps counting from the
/// original send (with the dead-letter queue's retention period, as AWS does for standard queues);
/// its receive count starts again at zero.
fn move_to_dead_letter_queue(
    conn: &Connection,
    m: &Row,
    dlq: &Queue,
    source: &str,
    now: i64,
) -> Result<(), SqsError> {
    delete_row(conn, m.id)?;
    let expires_ms = m.sent_ms + dlq.settings.message_retention_period * 1000;
    if expires_ms <= now {
        return Ok(());
    }
    conn.prepare_cached(
        "INSERT INTO sqs_messages (queue_id, message_id, body, body_md5, attributes, trace_header,
            sent_ms, visible_ms, expires_ms, dead_letter_source)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(rusqlite::params![
        dlq.id,
        m.message_id,
        m.body,
        m.body_md5,
        m.attributes,
        m.trace_header,
        m.sent_ms,
        now,
        expires_ms,
        source,
    ])?;
    Ok(())
}
