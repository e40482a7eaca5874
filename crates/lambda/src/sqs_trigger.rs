//! SQS event source mappings: pollers that long-poll the `sqs` engine in-process and invoke the
//! function synchronously with each batch (aws-semantics.md, "Lambda reading from SQS").
//!
//! - A batch is up to BatchSize messages, gathered for at most MaximumBatchingWindowInSeconds of
//!   clock time (receives take at most 10 messages each, as on AWS).
//! - Success deletes the batch. With ReportBatchItemFailures, only the messages not named in
//!   `batchItemFailures` are deleted; an empty or missing itemIdentifier, or one that is not in
//!   the batch, fails the whole batch. A failed batch (function error, timeout, throttle) deletes
//!   nothing: the messages become visible again when their visibility timeout ends, and the queue's
//!   redrive policy moves them to its dead-letter queue after maxReceiveCount receives.
//! - Scaling: a mapping starts with one poller; a poller that receives a full batch starts
//!   another, up to the function's concurrency, ScalingConfig.MaximumConcurrency and
//!   `Config::max_sqs_pollers`; a poller that finds the queue empty stops unless it is the last.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde_json::Value;

use crate::error::LambdaError;
use crate::spec::SqsMappingSpec;
use crate::{events, lock, Lambda};

/// The longest long poll (SQS's WaitTimeSeconds limit).
const WAIT_SECONDS: i64 = 20;

pub(crate) struct Mapping {
    spec: SqsMappingSpec,
    queue: String,
    pollers: AtomicUsize,
    max_pollers: usize,
}

pub(crate) fn start(lambda: &Lambda, spec: SqsMappingSpec) -> Result<(), LambdaError> {
    let queue = queue_name(&spec.queue_arn).ok_or_else(|| {
        LambdaError::InvalidParameter(format!(
            "mapping `{}`: `{}` is not an SQS queue ARN",
            spec.id, spec.queue_arn
        ))
    })?;
    let f = lambda.function(&spec.function)?;
    let visibility = lambda
        .inner
        .deps
        .sqs
        .get_queue_attributes(&queue, &["VisibilityTimeout".to_owned()])?
        .get("VisibilityTimeout")
        .and_then(|v| v.parse::<u32>().ok())
        .unwrap_or(30);
    if f.spec.timeout_s > visibility {
        return Err(LambdaError::InvalidParameter(format!(
            "mapping `{}`: the function timeout ({} s) exceeds the visibility timeout of queue `{queue}` ({visibility} s)",
            spec.id, f.spec.timeout_s
        )));
    }
    // A store is served by one engine at a time, so messages in flight when this mapping starts
    // were received by pollers of an engine that is gone (`cascade up` killed and started again):
    // nobody will settle them, and waiting out their visibility timeout would only stall the run.
    let released = lambda.inner.deps.sqs.release_in_flight(&queue)?;
    if released > 0 {
        tracing::info!(
            mapping = %spec.id,
            queue = %queue,
            released,
            "released messages a previous engine left in flight"
        );
    }
    let function_limit = f
        .spec
        .reserved_concurrency
        .map_or(lambda.inner.config.account_concurrency, |r| r as usize);
    let max_pollers = [
        function_limit,
        spec.maximum_concurrency.map_or(usize::MAX, |m| m as usize),
        lambda.inner.config.max_sqs_pollers,
    ]
    .into_iter()
    .min()
    .unwrap_or(1)
    .max(1);
    let mapping = Arc::new(Mapping {
        spec,
        queue,
        pollers: AtomicUsize::new(1),
        max_pollers,
    });
    lock(&lambda.inner.sqs_mappings).push(Arc::clone(&mapping));
    spawn_poller(lambda, mapping);
    Ok(())
}

/// Starts one more poller. Boxed, because a poller starts pollers.
fn spawn_poller(lambda: &Lambda, mapping: Arc<Mapping>) {
    let poller: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> =
        Box::pin(poller(lambda.clone(), mapping));
    lambda.spawn(poller);
}

/// The queue name of an SQS ARN.
fn queue_name(arn: &str) -> Option<String> {
    let rest = arn.strip_prefix("arn:aws:sqs:")?;
    let name = rest.splitn(3, ':').nth(2)?;
    (!name.is_empty()).then(|| name.to_owned())
}

impl Mapping {
    /// No message visible, delayed or in flight in the queue.
    pub fn is_drained(&self, lambda: &Lambda) -> Result<bool, LambdaError> {
        Ok(!lambda.inner.deps.sqs.holds_messages(&self.queue)?)
    }
}

async fn poller(lambda: Lambda, mapping: Arc<Mapping>) {
    loop {
        let batch = match receive_batch(&lambda, &mapping).await {
            Ok(batch) => batch,
            Err(e) => {
                tracing::warn!("mapping `{}` cannot read its queue: {e}", mapping.spec.id);
                lambda.wait_until(lambda.now() + 1000).await;
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        if batch.is_empty() {
            // Scale down: an idle extra poller leaves.
            let left = mapping
                .pollers
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                    (n > 1).then(|| n - 1)
                });
            if left.is_ok() {
                return;
            }
            continue;
        }
        let full = batch.len() as u32 >= mapping.spec.batch_size.min(10);
        if full {
            let grown = mapping
                .pollers
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                    (n < mapping.max_pollers).then(|| n + 1)
                });
            if grown.is_ok() {
                spawn_poller(&lambda, Arc::clone(&mapping));
            }
        }
        process(&lambda, &mapping, batch).await;
    }
}

/// Long-polls for the first messages, then gathers up to BatchSize within the batching window.
async fn receive_batch(
    lambda: &Lambda,
    mapping: &Mapping,
) -> Result<Vec<sqs::Message>, LambdaError> {
    let sqs = &lambda.inner.deps.sqs;
    let signal = sqs.queue_signal(&mapping.queue)?;
    let batch_size = mapping.spec.batch_size as usize;
    let mut batch: Vec<sqs::Message> = Vec::new();
    let start = lambda.now();
    let mut window_end: Option<i64> = None;
    loop {
        let seen = signal.version();
        let want = (batch_size - batch.len()).min(10);
        let request = sqs::ReceiveMessage {
            queue_url: mapping.queue.clone(),
            max_number_of_messages: Some(want as i64),
            visibility_timeout: None,
            wait_time_seconds: Some(WAIT_SECONDS),
            attribute_names: vec!["All".into()],
            message_attribute_names: vec!["All".into()],
        };
        let asked = lambda.now();
        let attempt = sqs.try_receive_message(&request).await?;
        let got = attempt.messages.len();
        batch.extend(attempt.messages);
        if batch.len() >= batch_size {
            return Ok(batch);
        }
        let now = lambda.now();
        if !batch.is_empty() {
            // The window opens when the first messages were received, which is no later than
            // when the receive was asked: a clock that moved since cannot push the window's end.
            let end = *window_end
                .get_or_insert(asked + i64::from(mapping.spec.maximum_batching_window_s) * 1000);
            if now >= end {
                return Ok(batch);
            }
            if got > 0 {
                // More may be visible right away.
                continue;
            }
        } else if now >= start + WAIT_SECONDS * 1000 {
            sqs.count_empty_receive(&mapping.queue)?;
            return Ok(batch);
        }
        let until = window_end.unwrap_or(start + WAIT_SECONDS * 1000);
        let until = attempt.next_visible_ms.map_or(until, |v| v.min(until));
        let pause = if lambda.inner.deps.clock.is_real() {
            Duration::from_millis((until - now).max(1) as u64)
        } else {
            // On a virtual clock every move notifies the queue's signal.
            Duration::from_secs(1)
        };
        let _ = tokio::time::timeout(pause, signal.changed(seen)).await;
    }
}

/// Invokes the function with a batch and deletes what succeeded.
async fn process(lambda: &Lambda, mapping: &Mapping, batch: Vec<sqs::Message>) {
    let Ok(f) = lambda.function(&mapping.spec.function).cloned() else {
        return;
    };
    let event = events::sqs_batch(&batch, &mapping.spec.queue_arn, &lambda.inner.config.region);
    let request_id = uuid::Uuid::new_v4().to_string();
    let result = lambda
        .run_invocation(&f, request_id, Bytes::from(event.to_string()))
        .await;
    let succeeded: Vec<&sqs::Message> = match result {
        Ok(r) if r.function_error.is_none() => {
            if mapping.spec.report_batch_item_failures {
                match failed_ids(&r.payload, &batch) {
                    Some(failed) => batch
                        .iter()
                        .filter(|m| !failed.contains(m.message_id.as_str()))
                        .collect(),
                    None => {
                        tracing::info!(
                            "mapping `{}`: the batch response names an unknown or empty itemIdentifier; the whole batch failed",
                            mapping.spec.id
                        );
                        Vec::new()
                    }
                }
            } else {
                batch.iter().collect()
            }
        }
        Ok(_) => Vec::new(),
        Err(LambdaError::Throttled { .. }) => {
            // The messages come back after their visibility timeout; waiting a little keeps the
            // pollers from spinning on a function at its limit.
            tokio::time::sleep(Duration::from_millis(50)).await;
            Vec::new()
        }
        Err(e) => {
            tracing::warn!("mapping `{}`: invocation failed: {e}", mapping.spec.id);
            Vec::new()
        }
    };
    if succeeded.is_empty() {
        return;
    }
    let entries: Vec<sqs::DeleteMessageBatchEntry> = succeeded
        .iter()
        .enumerate()
        .map(|(i, m)| sqs::DeleteMessageBatchEntry {
            id: i.to_string(),
            receipt_handle: m.receipt_handle.clone(),
        })
        .collect();
    let sqs = &lambda.inner.deps.sqs;
    let mut result = Ok(());
    for chunk in entries.chunks(10) {
        result = sqs
            .delete_message_batch_async(&mapping.queue, chunk.to_vec())
            .await
            .map(drop);
        if result.is_err() {
            break;
        }
    }
    if let Err(e) = result {
        tracing::warn!(
            "mapping `{}`: deleting processed messages failed: {e}",
            mapping.spec.id
        );
    }
}

/// The message ids a partial batch response names as failed; `None` when the response fails the
/// whole batch (an empty or null itemIdentifier, or one not in the batch). A response that is not
/// JSON, or has no or a null or empty `batchItemFailures`, means every message succeeded.
fn failed_ids<'a>(payload: &[u8], batch: &'a [sqs::Message]) -> Option<HashSet<&'a str>> {
    let doc: Value = serde_json::from_slice(payload).unwrap_or(Value::Null);
    let items = match doc.get("batchItemFailures") {
        Some(Value::Array(items)) => items,
        _ => return Some(HashSet::new()),
    };
    let mut failed = HashSet::new();
    for item in items {
        let id = item.get("itemIdentifier").and_then(Value::as_str)?;
        let m = batch.iter().find(|m| m.message_id == id)?;
        failed.insert(m.message_id.as_str());
    }
    Some(failed)
}
