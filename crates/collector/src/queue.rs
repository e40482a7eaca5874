//! Feeding the next stage: SendMessageBatch in tens, failed entries retried.
//!
//! Entries that SQS reports failed through no fault of the sender are sent again with backoff;
//! a sender fault (a body SQS refuses) is an error at once, since sending it again cannot help.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use futures_util::stream::{self, StreamExt, TryStreamExt};

use crate::time::Sleeper;

/// SQS's limit of entries per SendMessageBatch.
const BATCH: usize = 10;
/// Batches in flight at once.
const CONCURRENCY: usize = 8;
/// Rounds of resending failed entries before giving up.
const MAX_ROUNDS: u32 = 6;

/// A send that did not complete.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("SendMessageBatch to `{queue}` failed: {message}")]
    Request { queue: String, message: String },
    #[error("SQS refused a message for `{queue}`: {code}: {message}")]
    Refused {
        queue: String,
        code: String,
        message: String,
    },
    #[error("{left} messages for `{queue}` still failed after {MAX_ROUNDS} rounds: {last}")]
    StillFailing {
        queue: String,
        left: usize,
        last: String,
    },
}

/// The queue a stage feeds.
#[derive(Clone)]
pub struct Queue {
    client: aws_sdk_sqs::Client,
    url: String,
    sleeper: Arc<dyn Sleeper>,
}

impl Queue {
    pub fn new(client: aws_sdk_sqs::Client, url: &str, sleeper: Arc<dyn Sleeper>) -> Queue {
        Queue {
            client,
            url: url.to_owned(),
            sleeper,
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Sends every body; the number sent.
    pub async fn send_all(&self, bodies: Vec<String>) -> Result<u64, QueueError> {
        let total = bodies.len() as u64;
        let batches: Vec<Vec<String>> = bodies.chunks(BATCH).map(<[String]>::to_vec).collect();
        stream::iter(batches)
            .map(|batch| self.send_batch(batch))
            .buffer_unordered(CONCURRENCY)
            .try_collect::<Vec<()>>()
            .await?;
        Ok(total)
    }

    async fn send_batch(&self, bodies: Vec<String>) -> Result<(), QueueError> {
        // Entry ids are positions in `bodies`, so a failed entry names its body.
        let mut pending: Vec<usize> = (0..bodies.len()).collect();
        let mut last = String::new();
        for round in 0..MAX_ROUNDS {
            let entries = pending
                .iter()
                .map(|&i| {
                    SendMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .message_body(&bodies[i])
                        .build()
                        .map_err(|error| QueueError::Request {
                            queue: self.url.clone(),
                            message: error.to_string(),
                        })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let output = self
                .client
                .send_message_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|error| QueueError::Request {
                    queue: self.url.clone(),
                    message: DisplayErrorContext(error).to_string(),
                })?;
            let mut failed = Vec::new();
            for entry in output.failed {
                if entry.sender_fault {
                    return Err(QueueError::Refused {
                        queue: self.url.clone(),
                        code: entry.code,
                        message: entry.message.unwrap_or_default(),
                    });
                }
                last = format!("{}: {}", entry.code, entry.message.unwrap_or_default());
                if let Ok(i) = entry.id.parse::<usize>() {
                    failed.push(i);
                }
            }
            if failed.is_empty() {
                return Ok(());
            }
            pending = failed;
            let ceiling = Duration::from_millis(50 << round.min(5));
            self.sleeper.sleep(ceiling.mul_f64(fastrand::f64())).await;
        }
        Err(QueueError::StillFailing {
            queue: self.url.clone(),
            left: pending.len(),
            last,
        })
    }
}
