//! Asynchronous invocation (`Event`): a durable queue of events in `lambda_async_events`, and the
//! dispatcher that runs them with AWS's rules (aws-semantics.md, "Lambda asynchronous
//! invocation"):
//!
//! - a function error (error answer, timeout, crash) is retried MaximumRetryAttempts times
//!   (default 2), the first retry one minute after the failure, the second two minutes after;
//! - a throttle or a system error is retried with a growing delay (1 s doubling up to 5 min)
//!   without using up attempts, for as long as the event is younger than MaximumEventAgeInSeconds;
//! - when attempts run out or the event is too old, the event goes unchanged to the function's
//!   dead-letter queue with the attributes RequestID, ErrorCode and ErrorMessage, and leaves the
//!   table.
//!
//! Every state change is one store write, so a killed process loses nothing: on the next start
//! the dispatcher finds the rows and runs what is due. An attempt running when the process died
//! runs again (AWS also delivers an event more than once at times). All delays are clock time.

use std::collections::HashSet;
use std::time::Duration;

use bytes::Bytes;
use store::rusqlite::params;

use crate::error::LambdaError;
use crate::{blocking, lock, Lambda};

/// In-memory state of the dispatcher: the events whose attempt is running now.
#[derive(Default)]
pub(crate) struct State {
    running: HashSet<i64>,
}

/// How many due events the dispatcher takes at once.
const BATCH: i64 = 64;
/// The delay after a throttle or system error grows from this, doubling...
const THROTTLE_RETRY_MS: i64 = 1_000;
/// ...up to this.
const THROTTLE_RETRY_MAX_MS: i64 = 5 * 60_000;

struct Event {
    id: i64,
    request_id: String,
    function: String,
    payload: Vec<u8>,
    enqueued_ms: i64,
    attempts: i64,
    last_error: Option<(String, String)>,
}

impl Lambda {
    /// Queues an asynchronous invocation of `function` (`InvocationType: Event`) and returns its
    /// request id once the event is durable. Blocks on the store write: from async code, call it
    /// through `store::blocking` or use [`Lambda::invoke_async_nonblocking`].
    pub fn invoke_async(&self, function: &str, payload: &[u8]) -> Result<String, LambdaError> {
        let f = self.function(function)?;
        let limit = self.inner.config.max_async_payload;
        if payload.len() > limit {
            return Err(LambdaError::RequestTooLarge {
                size: payload.len(),
                limit,
            });
        }
        let request_id = uuid::Uuid::new_v4().to_string();
        let now = self.now();
        let (rid, name, payload) = (request_id.clone(), f.spec.name.clone(), payload.to_vec());
        self.inner.deps.store.write(move |conn| {
            conn.prepare_cached(
                "INSERT INTO lambda_async_events (request_id, function, payload, enqueued_ms, due_ms)
                 VALUES (?1, ?2, ?3, ?4, ?4)",
            )?
            .execute(params![rid, name, payload, now])?;
            Ok::<_, store::StoreError>(())
        })?;
        self.inner.async_wake.notify_one();
        Ok(request_id)
    }

    /// [`Lambda::invoke_async`] on tokio's blocking pool.
    pub async fn invoke_async_nonblocking(
        &self,
        function: &str,
        payload: Vec<u8>,
    ) -> Result<String, LambdaError> {
        let this = self.clone();
        let function = function.to_owned();
        blocking(move || this.invoke_async(&function, &payload)).await
    }
}

/// Events not yet finished (queued, waiting for a retry, or running).
pub(crate) fn pending(lambda: &Lambda) -> Result<i64, LambdaError> {
    Ok(lambda.inner.deps.store.read(|conn| {
        conn.prepare_cached("SELECT count(*) FROM lambda_async_events")?
            .query_row([], |r| r.get::<_, i64>(0))
            .map_err(store::StoreError::from)
    })?)
}

/// Runs due events until the service stops.
pub(crate) async fn dispatcher(lambda: Lambda) {
    loop {
        let notified = lambda.inner.async_wake.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let now = lambda.now();
        let this = lambda.clone();
        let due = blocking(move || due_events(&this, now)).await;
        let next_due = match due {
            Ok((events, next_due)) => {
                for event in events {
                    let this = lambda.clone();
                    lambda.spawn(async move { attempt(this, event).await });
                }
                next_due
            }
            Err(e) => {
                tracing::warn!("reading the asynchronous event queue failed: {e}");
                Some(now + 1000)
            }
        };
        let wait = match next_due {
            Some(at) if lambda.inner.deps.clock.is_real() => {
                Duration::from_millis((at - lambda.now()).clamp(0, 60_000) as u64)
            }
            // On a virtual clock the clock's moves wake the dispatcher; a new event does too.
            _ => Duration::from_secs(1),
        };
        let _ = tokio::time::timeout(wait, notified).await;
    }
}

/// Due events not already running (marked running here), and when the next one is due.
fn due_events(lambda: &Lambda, now: i64) -> Result<(Vec<Event>, Option<i64>), LambdaError> {
    let limit = BATCH + lock(&lambda.inner.async_state).running.len() as i64;
    let rows: Vec<(i64, Event)> = lambda.inner.deps.store.read(|conn| {
        conn.prepare_cached(
            "SELECT id, request_id, function, payload, enqueued_ms, attempts, last_error_type,
                last_error_message, due_ms
             FROM lambda_async_events ORDER BY due_ms, id LIMIT ?1",
        )?
        .query_map([limit], |r| {
            let t: Option<String> = r.get(6)?;
            let m: Option<String> = r.get(7)?;
            Ok((
                r.get(8)?,
                Event {
                    id: r.get(0)?,
                    request_id: r.get(1)?,
                    function: r.get(2)?,
                    payload: r.get(3)?,
                    enqueued_ms: r.get(4)?,
                    attempts: r.get(5)?,
                    last_error: t.map(|t| (t, m.unwrap_or_default())),
                },
            ))
        })?
        .collect::<Result<Vec<_>, _>>()
        .map_err(store::StoreError::from)
    })?;
    let mut state = lock(&lambda.inner.async_state);
    let mut out = Vec::new();
    let mut next_due = None;
    for (due, event) in rows {
        if state.running.contains(&event.id) {
            continue;
        }
        if due <= now {
            state.running.insert(event.id);
            out.push(event);
        } else {
            next_due = Some(next_due.map_or(due, |n: i64| n.min(due)));
        }
    }
    Ok((out, next_due))
}

/// What one attempt decided.
enum Decision {
    Done,
    Retry {
        due_ms: i64,
        attempts: i64,
        error: (String, String),
    },
    DeadLetter {
        error: (String, String),
    },
}

async fn attempt(lambda: Lambda, event: Event) {
    let id = event.id;
    let decision = decide(&lambda, &event).await;
    let this = lambda.clone();
    let result = blocking(move || apply(&this, event, decision)).await;
    if let Err(e) = result {
        tracing::warn!("recording an asynchronous attempt failed: {e}");
    }
    lock(&lambda.inner.async_state).running.remove(&id);
    lambda.inner.async_wake.notify_one();
}

async fn decide(lambda: &Lambda, event: &Event) -> Decision {
    let Ok(f) = lambda.function(&event.function).cloned() else {
        tracing::warn!(
            "asynchronous event {} for unknown function `{}` dropped",
            event.request_id,
            event.function
        );
        return Decision::Done;
    };
    let config = f.spec.async_config;
    let now = lambda.now();
    let max_age_ms = i64::from(config.maximum_event_age_s) * 1000;
    if now - event.enqueued_ms > max_age_ms {
        let error = event.last_error.clone().unwrap_or_else(|| {
            (
                "EventAgeExceeded".into(),
                "The event is older than MaximumEventAgeInSeconds".into(),
            )
        });
        return Decision::DeadLetter { error };
    }
    let result = lambda
        .run_invocation(
            &f,
            event.request_id.clone(),
            Bytes::from(event.payload.clone()),
        )
        .await;
    let now = lambda.now();
    match result {
        Ok(r) => match r.function_error {
            None => Decision::Done,
            Some(e) => {
                let attempts = event.attempts + 1;
                let error = (e.error_type, e.error_message);
                if attempts > i64::from(config.maximum_retry_attempts) {
                    Decision::DeadLetter { error }
                } else {
                    // AWS waits about one minute before the first retry, two before the second.
                    Decision::Retry {
                        due_ms: now + 60_000 * attempts,
                        attempts,
                        error,
                    }
                }
            }
        },
        Err(e) => {
            // Throttles and system errors do not use up attempts; the delay grows with the
            // event's age.
            let age = (now - event.enqueued_ms).max(0);
            let delay = (age / 2).clamp(THROTTLE_RETRY_MS, THROTTLE_RETRY_MAX_MS);
            Decision::Retry {
                due_ms: now + delay,
                attempts: event.attempts,
                error: (e.code().to_owned(), e.to_string()),
            }
        }
    }
}

fn apply(lambda: &Lambda, event: Event, decision: Decision) -> Result<(), LambdaError> {
    let store = &lambda.inner.deps.store;
    let id = event.id;
    match decision {
        Decision::Done => store.write(move |conn| {
            conn.prepare_cached("DELETE FROM lambda_async_events WHERE id = ?1")?
                .execute([id])?;
            Ok::<_, LambdaError>(())
        }),
        Decision::Retry {
            due_ms,
            attempts,
            error,
        } => store.write(move |conn| {
            conn.prepare_cached(
                "UPDATE lambda_async_events SET due_ms = ?2, attempts = ?3, last_error_type = ?4,
                    last_error_message = ?5 WHERE id = ?1",
            )?
            .execute(params![id, due_ms, attempts, error.0, error.1])?;
            Ok::<_, LambdaError>(())
        }),
        Decision::DeadLetter { error } => {
            dead_letter(lambda, &event, &error);
            store.write(move |conn| {
                conn.prepare_cached("DELETE FROM lambda_async_events WHERE id = ?1")?
                    .execute([id])?;
                Ok::<_, LambdaError>(())
            })
        }
    }
}

/// Sends the event to the function's dead-letter queue; a failed send counts DeadLetterErrors.
fn dead_letter(lambda: &Lambda, event: &Event, error: &(String, String)) {
    let Ok(f) = lambda.function(&event.function) else {
        return;
    };
    let Some(target) = f.spec.dead_letter_target_arn.clone() else {
        tracing::info!(
            "asynchronous event {} of `{}` dropped after its last attempt: {}: {}",
            event.request_id,
            event.function,
            error.0,
            error.1
        );
        return;
    };
    let queue = target
        .strip_prefix("arn:aws:sqs:")
        .and_then(|rest| rest.splitn(3, ':').nth(2));
    let sent = match queue {
        Some(queue) => {
            let mut attributes = sqs::MessageAttributes::new();
            attributes.insert(
                "RequestID".into(),
                sqs::MessageAttributeValue::string(event.request_id.clone()),
            );
            // The Invoke status code of the failed attempt: 200 for a function error (the
            // invocation itself succeeded), 429 for a throttle, 500 for a system error.
            let code = match error.0.as_str() {
                "TooManyRequestsException" => "429",
                "ServiceException" => "500",
                _ => "200",
            };
            attributes.insert("ErrorCode".into(), sqs::MessageAttributeValue::number(code));
            attributes.insert(
                "ErrorMessage".into(),
                sqs::MessageAttributeValue::string(first_kilobyte(&error.1)),
            );
            lambda
                .inner
                .deps
                .sqs
                .send_message(sqs::SendMessage {
                    queue_url: queue.to_owned(),
                    message_body: String::from_utf8_lossy(&event.payload).into_owned(),
                    delay_seconds: None,
                    message_attributes: attributes,
                    aws_trace_header: None,
                })
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
        None => Err(format!(
            "dead-letter target `{target}` is not an SQS queue (SNS targets are not run locally)"
        )),
    };
    if let Err(e) = sent {
        tracing::warn!(
            "asynchronous event {} of `{}` could not be dead-lettered: {e}",
            event.request_id,
            event.function
        );
        lambda.metric(&event.function, "DeadLetterErrors", 1.0, "Count");
    }
}

/// The first 1,024 bytes of `s`, cut at a character boundary.
fn first_kilobyte(s: &str) -> String {
    let mut end = s.len().min(1024);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}
