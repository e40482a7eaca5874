//! Idempotent upserts: compare, then write only what changed.
//!
//! For each chunk of 100 items, one BatchGetItem reads the stored versions (a consistent read,
//! projected on the attributes the collector owns through ExpressionAttributeNames, so reserved
//! words such as `state` need no renaming); the items whose owned attributes differ, or that are
//! new, are written with BatchWriteItem in chunks of 25, with `last_modified` added. An unchanged
//! record is therefore never written and adds no stream record. Unprocessed keys and items are
//! retried with backoff; each request takes its items by value, and a retry sends what the
//! answer gave back as unprocessed, so no item is copied on the way.
//!
//! Two collectors writing the same item at once both write the vendor's content, so the last
//! write wins without harm; the only cost of the race is one extra stream record.

use std::collections::hash_map::{Entry, HashMap};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, PutRequest, WriteRequest};
use futures_util::stream::{self, StreamExt, TryStreamExt};

use crate::records::{Item, TableSpec, LAST_MODIFIED};
use crate::time::Sleeper;

/// DynamoDB's limits per BatchGetItem and per BatchWriteItem.
const GET_CHUNK: usize = 100;
const WRITE_CHUNK: usize = 25;
/// Chunks of one upsert in flight at once.
const CONCURRENCY: usize = 4;
/// Rounds of retrying unprocessed keys or items before giving up.
const MAX_ROUNDS: u32 = 10;

/// What an upsert did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UpsertCounts {
    pub written: u64,
    pub unchanged: u64,
}

impl std::ops::AddAssign for UpsertCounts {
    fn add_assign(&mut self, other: UpsertCounts) {
        self.written += other.written;
        self.unchanged += other.unchanged;
    }
}

/// A failed upsert.
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    #[error("{operation} on table `{table}` failed: {message}")]
    Request {
        operation: &'static str,
        table: String,
        message: String,
    },
    #[error(
        "{operation} on table `{table}` left {left} requests unprocessed after {MAX_ROUNDS} rounds"
    )]
    Unprocessed {
        operation: &'static str,
        table: String,
        left: usize,
    },
    #[error("an item for table `{table}` lacks its key attribute `{key}`")]
    MissingKey { table: String, key: &'static str },
}

/// One table the collector writes.
#[derive(Clone)]
pub struct Table {
    client: aws_sdk_dynamodb::Client,
    name: String,
    spec: TableSpec,
    sleeper: Arc<dyn Sleeper>,
}

impl Table {
    pub fn new(
        client: aws_sdk_dynamodb::Client,
        name: &str,
        spec: TableSpec,
        sleeper: Arc<dyn Sleeper>,
    ) -> Table {
        Table {
            client,
            name: name.to_owned(),
            spec,
            sleeper,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Writes the items that differ from what is stored, stamping them with `last_modified`.
    /// Items with the same key keep the last one.
    pub async fn upsert(
        &self,
        items: Vec<Item>,
        last_modified: &str,
    ) -> Result<UpsertCounts, TableError> {
        let mut by_key: HashMap<String, usize> = HashMap::with_capacity(items.len());
        let mut unique: Vec<Keyed> = Vec::with_capacity(items.len());
        for item in items {
            let key = self.key_text(&item)?;
            match by_key.entry(key) {
                Entry::Occupied(at) => unique[*at.get()].1 = item,
                Entry::Vacant(entry) => {
                    unique.push((entry.key().clone(), item));
                    entry.insert(unique.len() - 1);
                }
            }
        }
        stream::iter(chunks_of(unique, GET_CHUNK))
            .map(|chunk| self.upsert_chunk(chunk, last_modified))
            .buffer_unordered(CONCURRENCY)
            .try_fold(UpsertCounts::default(), |mut total, counts| async move {
                total += counts;
                Ok(total)
            })
            .await
    }

    async fn upsert_chunk(
        &self,
        items: Vec<Keyed>,
        last_modified: &str,
    ) -> Result<UpsertCounts, TableError> {
        let keys = items.iter().map(|(_, item)| self.key_of(item)).collect();
        let stored = self.stored(keys).await?;
        let mut counts = UpsertCounts::default();
        let mut changed = Vec::new();
        for (key, mut item) in items {
            if stored.get(&key) == Some(&item) {
                counts.unchanged += 1;
                continue;
            }
            item.insert(
                LAST_MODIFIED.to_owned(),
                AttributeValue::S(last_modified.to_owned()),
            );
            changed.push(item);
        }
        counts.written = changed.len() as u64;
        stream::iter(chunks_of(changed, WRITE_CHUNK))
            .map(|chunk| self.put_all(chunk))
            .buffer_unordered(CONCURRENCY)
            .try_collect::<Vec<()>>()
            .await?;
        Ok(counts)
    }

    /// The stored items of `keys` (owned attributes only), by key text.
    async fn stored(&self, keys: Vec<Item>) -> Result<HashMap<String, Item>, TableError> {
        let names: HashMap<String, String> = self
            .spec
            .attributes
            .iter()
            .enumerate()
            .map(|(i, name)| (format!("#a{i}"), (*name).to_owned()))
            .collect();
        let projection = (0..self.spec.attributes.len())
            .map(|i| format!("#a{i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut pending = KeysAndAttributes::builder()
            .set_keys(Some(keys))
            .projection_expression(projection)
            .set_expression_attribute_names(Some(names))
            .consistent_read(true)
            .build()
            .map_err(|error| self.request_error("BatchGetItem", &error))?;
        let mut found = HashMap::new();
        for round in 0..MAX_ROUNDS {
            let output = self
                .client
                .batch_get_item()
                .request_items(&self.name, pending)
                .send()
                .await
                .map_err(|error| self.request_error("BatchGetItem", &DisplayErrorContext(error)))?;
            let items = output
                .responses
                .and_then(|mut responses| responses.remove(&self.name))
                .unwrap_or_default();
            for item in items {
                found.insert(self.key_text(&item)?, item);
            }
            match output
                .unprocessed_keys
                .and_then(|mut rest| rest.remove(&self.name))
            {
                Some(rest) if !rest.keys().is_empty() => {
                    pending = rest;
                    self.sleeper.sleep(backoff(round)).await;
                }
                _ => return Ok(found),
            }
        }
        Err(TableError::Unprocessed {
            operation: "BatchGetItem",
            table: self.name.clone(),
            left: pending.keys().len(),
        })
    }

    async fn put_all(&self, items: Vec<Item>) -> Result<(), TableError> {
        let mut pending = items
            .into_iter()
            .map(|item| {
                PutRequest::builder()
                    .set_item(Some(item))
                    .build()
                    .map(|put| WriteRequest::builder().put_request(put).build())
                    .map_err(|error| self.request_error("BatchWriteItem", &error))
            })
            .collect::<Result<Vec<_>, _>>()?;
        for round in 0..MAX_ROUNDS {
            let output = self
                .client
                .batch_write_item()
                .request_items(&self.name, pending)
                .send()
                .await
                .map_err(|error| {
                    self.request_error("BatchWriteItem", &DisplayErrorContext(error))
                })?;
            match output
                .unprocessed_items
                .and_then(|mut rest| rest.remove(&self.name))
            {
                Some(rest) if !rest.is_empty() => {
                    pending = rest;
                    self.sleeper.sleep(backoff(round)).await;
                }
                _ => return Ok(()),
            }
        }
        Err(TableError::Unprocessed {
            operation: "BatchWriteItem",
            table: self.name.clone(),
            left: pending.len(),
        })
    }

    fn request_error(&self, operation: &'static str, error: &dyn std::fmt::Display) -> TableError {
        TableError::Request {
            operation,
            table: self.name.clone(),
            message: error.to_string(),
        }
    }

    fn key_names(&self) -> impl Iterator<Item = &'static str> {
        std::iter::once(self.spec.hash_key).chain(self.spec.range_key)
    }

    /// The key attributes of an item.
    fn key_of(&self, item: &Item) -> Item {
        self.key_names()
            .filter_map(|name| item.get(name).map(|value| (name.to_owned(), value.clone())))
            .collect()
    }

    /// The key as one string, for maps: the key values joined by a NUL.
    fn key_text(&self, item: &Item) -> Result<String, TableError> {
        let mut text = String::new();
        for (i, name) in self.key_names().enumerate() {
            let value = match item.get(name) {
                Some(AttributeValue::S(value)) => value.as_str(),
                Some(AttributeValue::N(value)) => value.as_str(),
                _ => {
                    return Err(TableError::MissingKey {
                        table: self.name.clone(),
                        key: name,
                    })
                }
            };
            if i > 0 {
                text.push('\0');
            }
            text.push_str(value);
        }
        Ok(text)
    }
}

/// An item with its key text.
type Keyed = (String, Item);

/// `items` in chunks of `size`, moved rather than cloned: an item is a map of owned strings.
fn chunks_of<T>(items: Vec<T>, size: usize) -> Vec<Vec<T>> {
    let mut chunks = Vec::with_capacity(items.len().div_ceil(size));
    let mut items = items.into_iter().peekable();
    while items.peek().is_some() {
        chunks.push(items.by_ref().take(size).collect());
    }
    chunks
}

/// Backoff between rounds of unprocessed requests: 50 ms doubling up to 2 s, with full jitter.
fn backoff(round: u32) -> Duration {
    let ceiling = Duration::from_millis(50 << round.min(5)).min(Duration::from_secs(2));
    ceiling.mul_f64(fastrand::f64())
}
