//! DynamoDB stream event source mappings: one poller per mapping reads the table's shard through
//! the `dynamodb` engine in-process and invokes the function synchronously with each batch.
//!
//! - Without a checkpoint the poller starts at StartingPosition (TRIM_HORIZON: the oldest record
//!   kept; LATEST: what is written after the mapping starts). After each batch that succeeded (or
//!   was given up on) the last sequence number is written to `lambda_stream_checkpoints`, and
//!   reading resumes after it, also after a restart.
//! - A failed batch is retried, in order, until it succeeds or MaximumRetryAttempts retries
//!   have failed (-1: until the records expire); then it is skipped. Records of one shard are
//!   never processed out of order.
//! - When caught up the poller waits `Config::stream_poll_interval` of real time between reads:
//!   a shard has no wake-up signal, and AWS polls shards a few times a second too.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use dynamodb::{GetRecordsInput, GetShardIteratorInput, ShardIteratorType, StreamRecord};
use store::rusqlite::{params, OptionalExtension};

use crate::error::LambdaError;
use crate::spec::{StartingPosition, StreamMappingSpec};
use crate::{blocking, events, lock, Lambda};

pub(crate) struct Mapping {
    spec: StreamMappingSpec,
    /// The last sequence number processed (from the checkpoint table).
    checkpoint: Mutex<Option<String>>,
    /// For LATEST without a checkpoint: the iterator taken when the mapping started, so that
    /// records written after the start are read.
    start_iterator: Mutex<Option<String>>,
    /// A batch is being processed.
    busy: AtomicBool,
}

pub(crate) fn start(lambda: &Lambda, spec: StreamMappingSpec) -> Result<(), LambdaError> {
    let id = spec.id.clone();
    let checkpoint: Option<String> = lambda.inner.deps.store.read(|conn| {
        conn.prepare_cached(
            "SELECT sequence_number FROM lambda_stream_checkpoints WHERE mapping = ?1",
        )?
        .query_row([&id], |r| r.get(0))
        .optional()
        .map_err(store::StoreError::from)
    })?;
    let mapping = Arc::new(Mapping {
        spec,
        checkpoint: Mutex::new(checkpoint),
        start_iterator: Mutex::new(None),
        busy: AtomicBool::new(false),
    });
    if lock(&mapping.checkpoint).is_none()
        && mapping.spec.starting_position == StartingPosition::Latest
    {
        let iterator = mapping.iterator(lambda)?;
        *lock(&mapping.start_iterator) = Some(iterator);
    }
    lock(&lambda.inner.stream_mappings).push(Arc::clone(&mapping));
    lambda.spawn(poller(lambda.clone(), mapping));
    Ok(())
}

impl Mapping {
    /// An iterator at the mapping's position now.
    fn iterator(&self, lambda: &Lambda) -> Result<String, LambdaError> {
        let ddb = &lambda.inner.deps.dynamodb;
        if let Some(it) = lock(&self.start_iterator).clone() {
            return Ok(it);
        }
        let stream = ddb.describe_stream(&self.spec.stream_arn)?;
        let shard_id = stream
            .shards
            .first()
            .map(|s| s.shard_id.clone())
            .ok_or_else(|| LambdaError::InvalidParameter("the stream has no shard".into()))?;
        let checkpoint = lock(&self.checkpoint).clone();
        let (kind, sequence_number) = match checkpoint {
            Some(seq) => (ShardIteratorType::AfterSequenceNumber, Some(seq)),
            None => match self.spec.starting_position {
                StartingPosition::TrimHorizon => (ShardIteratorType::TrimHorizon, None),
                StartingPosition::Latest => (ShardIteratorType::Latest, None),
            },
        };
        Ok(ddb.get_shard_iterator(GetShardIteratorInput {
            stream_arn: self.spec.stream_arn.clone(),
            shard_id,
            shard_iterator_type: kind,
            sequence_number,
        })?)
    }

    /// The next batch from the mapping's position.
    fn read(&self, lambda: &Lambda, limit: usize) -> Result<Vec<StreamRecord>, LambdaError> {
        let iterator = self.iterator(lambda)?;
        let ddb = &lambda.inner.deps.dynamodb;
        match ddb.get_records(GetRecordsInput {
            shard_iterator: iterator,
            limit: Some(limit.min(1000)),
        }) {
            Ok(out) => Ok(out.records),
            Err(dynamodb::Error::ExpiredIterator(_)) => {
                // The start iterator of a LATEST mapping lived 15 minutes without a record:
                // start again from the latest position.
                *lock(&self.start_iterator) = None;
                Ok(Vec::new())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// No batch running and no record after the checkpoint.
    pub fn is_drained(&self, lambda: &Lambda) -> Result<bool, LambdaError> {
        if self.busy.load(Ordering::SeqCst) {
            return Ok(false);
        }
        Ok(self.read(lambda, 1)?.is_empty())
    }

    fn advance(&self, lambda: &Lambda, last: &str) -> Result<(), LambdaError> {
        let (id, arn, seq) = (
            self.spec.id.clone(),
            self.spec.stream_arn.clone(),
            last.to_owned(),
        );
        lambda.inner.deps.store.write(move |conn| {
            conn.prepare_cached(
                "INSERT INTO lambda_stream_checkpoints (mapping, stream_arn, sequence_number)
                 VALUES (?1, ?2, ?3)
                 ON CONFLICT (mapping) DO UPDATE SET stream_arn = ?2, sequence_number = ?3",
            )?
            .execute(params![id, arn, seq])?;
            Ok::<_, store::StoreError>(())
        })?;
        *lock(&self.checkpoint) = Some(last.to_owned());
        *lock(&self.start_iterator) = None;
        Ok(())
    }
}

async fn poller(lambda: Lambda, mapping: Arc<Mapping>) {
    let interval = lambda.inner.config.stream_poll_interval;
    loop {
        mapping.busy.store(true, Ordering::SeqCst);
        let (this, m) = (lambda.clone(), Arc::clone(&mapping));
        let limit = mapping.spec.batch_size as usize;
        let records = match blocking(move || m.read(&this, limit)).await {
            Ok(records) => records,
            Err(e) => {
                tracing::warn!("mapping `{}` cannot read its stream: {e}", mapping.spec.id);
                Vec::new()
            }
        };
        if records.is_empty() {
            mapping.busy.store(false, Ordering::SeqCst);
            tokio::time::sleep(interval).await;
            continue;
        }
        run_batch(&lambda, &mapping, &records).await;
        let Some(last) = records.last().map(|r| r.dynamodb.sequence_number.clone()) else {
            continue;
        };
        let (this, m) = (lambda.clone(), Arc::clone(&mapping));
        if let Err(e) = blocking(move || m.advance(&this, &last)).await {
            tracing::warn!(
                "mapping `{}` cannot save its checkpoint: {e}",
                mapping.spec.id
            );
        }
        mapping.busy.store(false, Ordering::SeqCst);
    }
}

/// Invokes the function with the batch until it succeeds or the retries run out.
async fn run_batch(lambda: &Lambda, mapping: &Mapping, records: &[StreamRecord]) {
    let Ok(f) = lambda.function(&mapping.spec.function).cloned() else {
        return;
    };
    let event = Bytes::from(events::stream_batch(records).to_string());
    let mut retries: i64 = 0;
    loop {
        let request_id = uuid::Uuid::new_v4().to_string();
        let result = lambda.run_invocation(&f, request_id, event.clone()).await;
        let failure = match result {
            Ok(r) => match r.function_error {
                None => return,
                Some(e) => format!("{}: {}", e.error_type, e.error_message),
            },
            // Throttles do not count as retries.
            Err(LambdaError::Throttled { .. }) => {
                tokio::time::sleep(lambda.inner.config.stream_poll_interval).await;
                continue;
            }
            Err(e) => e.to_string(),
        };
        let max = mapping.spec.maximum_retry_attempts;
        if max >= 0 && retries >= max {
            tracing::warn!(
                "mapping `{}`: batch ending at {} skipped after {} retries: {failure}",
                mapping.spec.id,
                records
                    .last()
                    .map(|r| r.dynamodb.sequence_number.as_str())
                    .unwrap_or(""),
                retries
            );
            return;
        }
        retries += 1;
        tokio::time::sleep(lambda.inner.config.stream_poll_interval).await;
    }
}
