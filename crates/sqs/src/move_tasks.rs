//! Message move tasks (StartMessageMoveTask, ListMessageMoveTasks, CancelMessageMoveTask): moving
//! dead letters back to the queues they came from, or to a chosen queue.
//!
//! A task is a row in `sqs_move_tasks`. It progresses whenever the service is asked about it
//! (start, list) and when the host calls [`Sqs::run_message_move_tasks`] (an endpoint does so about
//! once a second): each step moves as many visible messages as the task's rate allows for the clock
//! time since it started. Without a rate, the first step moves everything. In-flight messages stay
//! until they are visible again. A task is COMPLETED once its source has no visible message left.
//!
//! A moved message keeps its id, body, attributes and SentTimestamp; its receive count starts at
//! zero and its retention period starts again in the destination (a re-drive is a new enqueue).

use rusqlite::{Connection, OptionalExtension};

use crate::attributes::name_from_arn;
use crate::schema::{self, Queue};
use crate::{MessageMoveTask, Sqs, SqsError, StartMessageMoveTask};

const RUNNING: &str = "RUNNING";

/// A message being moved.
struct Moving {
    id: i64,
    message_id: String,
    body: String,
    body_md5: String,
    attributes: Option<Vec<u8>>,
    trace_header: Option<String>,
    sent_ms: i64,
    /// The queue it was dead-lettered from.
    origin: Option<String>,
}

/// A task row.
struct Task {
    handle: String,
    source_name: String,
    source_arn: String,
    destination_arn: Option<String>,
    max_per_second: Option<i64>,
    status: String,
    started_ms: i64,
    moved: i64,
    to_move: i64,
    failure_reason: Option<String>,
}

const TASK_COLUMNS: &str = "handle, source_name, source_arn, destination_arn, max_per_second, \
    status, started_ms, moved, to_move, failure_reason";

fn task(r: &rusqlite::Row<'_>) -> rusqlite::Result<Task> {
    Ok(Task {
        handle: r.get(0)?,
        source_name: r.get(1)?,
        source_arn: r.get(2)?,
        destination_arn: r.get(3)?,
        max_per_second: r.get(4)?,
        status: r.get(5)?,
        started_ms: r.get(6)?,
        moved: r.get(7)?,
        to_move: r.get(8)?,
        failure_reason: r.get(9)?,
    })
}

impl Sqs {
    /// The queue an ARN of this account designates, or ResourceNotFoundException.
    fn queue_by_arn(&self, conn: &Connection, arn: &str) -> Result<Queue, SqsError> {
        let missing = || SqsError::ResourceNotFound(format!("The resource `{arn}` does not exist"));
        let name = name_from_arn(arn).ok_or_else(missing)?;
        if self.queue_arn(name) != arn {
            return Err(missing());
        }
        schema::find_queue(conn, name)?.ok_or_else(missing)
    }

    /// StartMessageMoveTask: starts moving the messages of a dead-letter queue; returns the task
    /// handle. Only one task may run per source queue.
    pub fn start_message_move_task(
        &self,
        request: StartMessageMoveTask,
    ) -> Result<String, SqsError> {
        if let Some(rate) = request.max_number_of_messages_per_second {
            if !(1..=500).contains(&rate) {
                return Err(SqsError::InvalidParameterValue(format!(
                    "Value {rate} for parameter MaxNumberOfMessagesPerSecond is invalid. Reason: \
                     must be between 1 and 500"
                )));
            }
        }
        let handle = uuid::Uuid::new_v4().to_string();
        let now = self.now();
        let this = self.clone();
        let task_handle = handle.clone();
        let touched = self.inner.store.write(move |conn| {
            let source = this.queue_by_arn(conn, &request.source_arn)?;
            let is_dead_letter_queue: bool = conn
                .prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM sqs_queues WHERE dead_letter_target_name = ?1)",
                )?
                .query_row([&source.name], |r| r.get(0))?;
            if !is_dead_letter_queue {
                return Err(SqsError::InvalidParameterValue(format!(
                    "Source queue `{}` must be configured as a dead-letter queue",
                    request.source_arn
                )));
            }
            if let Some(destination) = &request.destination_arn {
                this.queue_by_arn(conn, destination)?;
            }
            let running: bool = conn
                .prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM sqs_move_tasks
                     WHERE source_name = ?1 AND status = 'RUNNING')",
                )?
                .query_row([&source.name], |r| r.get(0))?;
            if running {
                return Err(SqsError::UnsupportedOperation(format!(
                    "A message move task is already running on `{}`",
                    request.source_arn
                )));
            }
            let to_move: i64 = conn
                .prepare_cached(
                    "SELECT count(*) FROM sqs_messages WHERE queue_id = ?1 AND expires_ms > ?2",
                )?
                .query_row([source.id, now], |r| r.get(0))?;
            conn.prepare_cached(
                "INSERT INTO sqs_move_tasks (handle, source_name, source_arn, destination_arn,
                    max_per_second, status, started_ms, moved, to_move)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'RUNNING', ?6, 0, ?7)",
            )?
            .execute(rusqlite::params![
                task_handle,
                source.name,
                request.source_arn,
                request.destination_arn,
                request.max_number_of_messages_per_second,
                now,
                to_move
            ])?;
            this.progress(conn, Some(&source.name), now)
        })?;
        self.notify_all(&touched);
        Ok(handle)
    }

    /// ListMessageMoveTasks: the most recent tasks of a source queue, newest first (1 to 10,
    /// default 1).
    pub fn list_message_move_tasks(
        &self,
        source_arn: &str,
        max_results: Option<i64>,
    ) -> Result<Vec<MessageMoveTask>, SqsError> {
        let limit = match max_results {
            None => 1,
            Some(n @ 1..=10) => n,
            Some(n) => {
                return Err(SqsError::InvalidParameterValue(format!(
                "Value {n} for parameter MaxResults is invalid. Reason: must be between 1 and 10"
            )))
            }
        };
        let now = self.now();
        let this = self.clone();
        let source_arn = source_arn.to_owned();
        let (tasks, touched) = self.inner.store.write(move |conn| {
            let source = this.queue_by_arn(conn, &source_arn)?;
            let touched = this.progress(conn, Some(&source.name), now)?;
            let tasks = conn
                .prepare_cached(&format!(
                    "SELECT {TASK_COLUMNS} FROM sqs_move_tasks WHERE source_name = ?1
                     ORDER BY started_ms DESC, rowid DESC LIMIT ?2"
                ))?
                .query_map(rusqlite::params![source.name, limit], task)?
                .collect::<Result<Vec<_>, _>>()?;
            Ok::<_, SqsError>((tasks, touched))
        })?;
        self.notify_all(&touched);
        Ok(tasks
            .into_iter()
            .map(|t| MessageMoveTask {
                task_handle: (t.status == RUNNING).then_some(t.handle),
                status: t.status,
                source_arn: t.source_arn,
                destination_arn: t.destination_arn,
                max_number_of_messages_per_second: t.max_per_second,
                approximate_number_of_messages_moved: t.moved,
                approximate_number_of_messages_to_move: t.to_move,
                failure_reason: t.failure_reason,
                started_timestamp: t.started_ms,
            })
            .collect())
    }

    /// CancelMessageMoveTask: stops a running task; returns how many messages it had moved.
    pub fn cancel_message_move_task(&self, task_handle: &str) -> Result<i64, SqsError> {
        let handle = task_handle.to_owned();
        self.inner.store.write(move |conn| {
            let found = conn
                .prepare_cached(&format!(
                    "SELECT {TASK_COLUMNS} FROM sqs_move_tasks WHERE handle = ?1"
                ))?
                .query_row([&handle], task)
                .optional()?;
            let t = found.ok_or_else(|| {
                SqsError::ResourceNotFound(format!("The task handle `{handle}` does not exist"))
            })?;
            if t.status != RUNNING {
                return Err(SqsError::UnsupportedOperation(format!(
                    "Only running tasks can be cancelled; `{handle}` is {}",
                    t.status
                )));
            }
            conn.prepare_cached(
                "UPDATE sqs_move_tasks SET status = 'CANCELLED' WHERE handle = ?1",
            )?
            .execute([&handle])?;
            Ok(t.moved)
        })
    }

    /// Advances every running move task to the clock's present time.
    pub fn run_message_move_tasks(&self) -> Result<(), SqsError> {
        let now = self.now();
        let this = self.clone();
        let touched = self
            .inner
            .store
            .write(move |conn| this.progress(conn, None, now))?;
        self.notify_all(&touched);
        Ok(())
    }

    fn notify_all(&self, names: &[String]) {
        for name in names {
            self.notify(name);
        }
    }

    /// Advances the running tasks (of one source queue, or all); returns the queues that received
    /// messages.
    fn progress(
        &self,
        conn: &Connection,
        source: Option<&str>,
        now: i64,
    ) -> Result<Vec<String>, SqsError> {
        let tasks = conn
            .prepare_cached(&format!(
                "SELECT {TASK_COLUMNS} FROM sqs_move_tasks
                 WHERE status = 'RUNNING' AND (?1 IS NULL OR source_name = ?1)"
            ))?
            .query_map([source], task)?
            .collect::<Result<Vec<_>, _>>()?;
        let mut touched = Vec::new();
        for t in tasks {
            self.step(conn, t, now, &mut touched)?;
        }
        Ok(touched)
    }

    fn step(
        &self,
        conn: &Connection,
        t: Task,
        now: i64,
        touched: &mut Vec<String>,
    ) -> Result<(), SqsError> {
        let finish = |status: &str, moved: i64, reason: Option<String>| -> Result<(), SqsError> {
            conn.prepare_cached(
                "UPDATE sqs_move_tasks SET status = ?2, moved = ?3, failure_reason = ?4
                 WHERE handle = ?1",
            )?
            .execute(rusqlite::params![t.handle, status, moved, reason])?;
            Ok(())
        };
        let Some(source) = schema::find_queue(conn, &t.source_name)? else {
            return finish(
                "FAILED",
                t.moved,
                Some("The source queue was deleted".into()),
            );
        };
        let fixed_destination = match &t.destination_arn {
            Some(arn) => match self.queue_by_arn(conn, arn) {
                Ok(queue) => Some(queue),
                Err(_) => {
                    return finish(
                        "FAILED",
                        t.moved,
                        Some(format!("The destination queue `{arn}` does not exist")),
                    )
                }
            },
            None => None,
        };
        // The rate allows `rate` messages per started second since the task began.
        let allowed = match t.max_per_second {
            Some(rate) => (rate * ((now - t.started_ms) / 1000 + 1) - t.moved).max(0),
            None => i64::MAX,
        };
        let mut moved = t.moved;
        let mut budget = allowed;
        while budget > 0 {
            let page: Vec<Moving> = conn
                .prepare_cached(
                    "SELECT id, message_id, body, body_md5, attributes, trace_header, sent_ms,
                        dead_letter_source
                     FROM sqs_messages WHERE queue_id = ?1 AND visible_ms <= ?2 AND expires_ms > ?2
                     ORDER BY visible_ms, id LIMIT ?3",
                )?
                .query_map(rusqlite::params![source.id, now, budget.min(1_000)], |r| {
                    Ok(Moving {
                        id: r.get(0)?,
                        message_id: r.get(1)?,
                        body: r.get(2)?,
                        body_md5: r.get(3)?,
                        attributes: r.get(4)?,
                        trace_header: r.get(5)?,
                        sent_ms: r.get(6)?,
                        origin: r.get(7)?,
                    })
                })?
                .collect::<Result<_, _>>()?;
            if page.is_empty() {
                return finish("COMPLETED", moved, None);
            }
            for Moving {
                id,
                message_id,
                body,
                body_md5,
                attributes,
                trace_header,
                sent_ms,
                origin,
            } in page
            {
                let destination = match &fixed_destination {
                    Some(queue) => Some(queue.clone()),
                    None => match &origin {
                        Some(name) => schema::find_queue(conn, name)?,
                        None => None,
                    },
                };
                let Some(destination) = destination else {
                    return finish(
                        "FAILED",
                        moved,
                        Some(format!(
                            "Message {message_id} has no source queue to return to; give a \
                             DestinationArn"
                        )),
                    );
                };
                conn.prepare_cached("DELETE FROM sqs_messages WHERE id = ?1")?
                    .execute([id])?;
                conn.prepare_cached(
                    "INSERT INTO sqs_messages (queue_id, message_id, body, body_md5, attributes,
                        trace_header, sent_ms, visible_ms, expires_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                )?
                .execute(rusqlite::params![
                    destination.id,
                    message_id,
                    body,
                    body_md5,
                    attributes,
                    trace_header,
                    sent_ms,
                    now,
                    now + destination.settings.message_retention_period * 1000,
                ])?;
                if !touched.contains(&destination.name) {
                    touched.push(destination.name.clone());
                }
                moved += 1;
                budget -= 1;
            }
        }
        finish(RUNNING, moved, None)
    }
}
