//! DynamoDB and DynamoDB Streams semantics over the store.
//!
//! [`DynamoDb`] is the engine: one method per AWS operation, typed requests and responses
//! (`types.rs`), errors with AWS codes (`error.rs`). It knows nothing of HTTP or JSON; the wire
//! endpoint translates.
//!
//! Layout:
//! - `value.rs`, `number.rs`: attribute values, DynamoDB's 38-digit decimal, validation, item size.
//! - `expr/`: one parser for every expression kind, and their evaluation.
//! - `encoding.rs`: sortable key bytes and the stored item format.
//! - `table.rs`: the SQL schema, table metadata and key rules, table operations.
//! - `write.rs`: item writes (each call is one store write closure; stream records are written
//!   beside the item change), `read.rs`: item reads, `stream.rs`: stream readers.
//! - `time.rs`: ISO timestamps for stream labels.

pub mod error;
pub mod expr;
pub mod number;
pub mod types;
pub mod value;

mod encoding;
mod read;
mod stream;
mod table;
mod time;
mod write;

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use store::{Clock, Store};

pub use encoding::{StoredItem, StoredItemBuilder};
pub use error::{CancellationReason, Error};
pub use number::Number;
pub use stream::sequence_number;
pub use table::{ACCOUNT, REGION};
pub use types::*;
pub use value::{item, item_size, AttributeValue, Item, ScalarType};

/// How often, at most, a write also trims expired stream records.
const TRIM_EVERY_MS: i64 = 60_000;
/// The most entries of one BatchWriteItem.
const MAX_BATCH_WRITE: usize = 25;

/// The DynamoDB engine of one environment.
#[derive(Clone)]
pub struct DynamoDb {
    store: Store,
    clock: Arc<dyn Clock>,
    /// When expired stream records were last trimmed (clock ms). Shared by clones so that trimming
    /// runs at most once a minute per engine.
    last_trim_ms: Arc<AtomicI64>,
    /// Table definitions by name, for encoding puts on the caller's thread. An entry may be stale
    /// (the table deleted and created again): each write compares the table id it was encoded
    /// for with the table's id at write time and re-encodes when they differ. The mutex is held
    /// only to clone or replace an entry.
    schemas: Arc<Mutex<HashMap<String, Arc<table::TableMeta>>>>,
}

impl DynamoDb {
    /// Opens the engine on a store, creating or upgrading its tables.
    pub fn new(store: Store, clock: Arc<dyn Clock>) -> Result<DynamoDb, Error> {
        store.migrate("dynamodb", table::MIGRATIONS)?;
        let now = clock.now_millis();
        Ok(DynamoDb {
            store,
            clock,
            last_trim_ms: Arc::new(AtomicI64::new(now - TRIM_EVERY_MS)),
            schemas: Arc::new(Mutex::new(HashMap::new())),
        })
    }

    /// The definition of `name`, from the cache or the store.
    fn schema(&self, name: &str) -> Result<Arc<table::TableMeta>, Error> {
        let cached = self
            .schemas
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned();
        if let Some(meta) = cached {
            return Ok(meta);
        }
        let meta = Arc::new(self.store.read(|conn| table::load(conn, name))?);
        self.schemas
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.to_string(), meta.clone());
        Ok(meta)
    }

    fn forget_schema(&self, name: &str) {
        self.schemas
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(name);
    }

    /// The store underneath.
    pub fn store(&self) -> &Store {
        &self.store
    }

    fn now(&self) -> i64 {
        self.clock.now_millis()
    }

    /// Runs a write closure, trimming expired stream records first when a minute has passed.
    fn write<T, F>(&self, f: F) -> Result<T, Error>
    where
        F: FnOnce(&mut write::WriteCtx<'_>) -> Result<T, Error> + Send + 'static,
        T: Send + 'static,
    {
        store::block_on(async move { self.submit(f).await })
    }

    /// [`DynamoDb::write`] without waiting: the write's commit as a future.
    fn submit<T, F>(&self, f: F) -> store::Pending<T, Error>
    where
        F: FnOnce(&mut write::WriteCtx<'_>) -> Result<T, Error> + Send + 'static,
        T: Send + 'static,
    {
        self.submit_with(false, f)
    }

    /// [`DynamoDb::submit`] for a write whose every check that can refuse it came before (the
    /// table, keys, items, duplicates) or comes before its first change (a condition): it goes to
    /// the store as a checked write ([`store::Store::submit_checked`]), without a savepoint of its
    /// own, unless it is the one that trims the streams first.
    fn submit_checked<T, F>(&self, f: F) -> store::Pending<T, Error>
    where
        F: FnOnce(&mut write::WriteCtx<'_>) -> Result<T, Error> + Send + 'static,
        T: Send + 'static,
    {
        self.submit_with(true, f)
    }

    fn submit_with<T, F>(&self, checked: bool, f: F) -> store::Pending<T, Error>
    where
        F: FnOnce(&mut write::WriteCtx<'_>) -> Result<T, Error> + Send + 'static,
        T: Send + 'static,
    {
        let now = self.now();
        let last = self.last_trim_ms.load(Ordering::Relaxed);
        let trim = now - last >= TRIM_EVERY_MS
            && self
                .last_trim_ms
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok();
        let job = move |conn: &store::rusqlite::Connection| {
            if trim {
                write::trim_streams(conn, now - stream::RETENTION_MS)?;
            }
            let mut ctx = write::WriteCtx::new(conn, now);
            let out = f(&mut ctx)?;
            ctx.finish()?;
            Ok(out)
        };
        // Trimming changes rows before the write's own checks run, so that write takes the
        // guarded path.
        if checked && !trim {
            self.store.submit_checked(job)
        } else {
            self.store.submit(job)
        }
    }

    /// Deletes expired stream records now (writes also do it once a minute).
    pub fn trim_streams(&self) -> Result<usize, Error> {
        let cutoff = self.now() - stream::RETENTION_MS;
        self.store
            .write(move |conn| write::trim_streams(conn, cutoff))
    }

    // ---- tables ----

    pub fn create_table(&self, input: CreateTableInput) -> Result<TableDescription, Error> {
        self.create_table_with_stream_label(input, None)
    }

    /// CreateTable, with the stream (if the input asks for one) labelled `stream_label` rather
    /// than with the creation time. For a deployer that resolved `Fn::GetAtt Table.StreamArn`
    /// before the table existed: the ARN it handed to outputs, exports, policies and mappings
    /// then names the stream that exists.
    pub fn create_table_with_stream_label(
        &self,
        input: CreateTableInput,
        stream_label: Option<&str>,
    ) -> Result<TableDescription, Error> {
        let meta = table::validate_create(&input)?;
        self.forget_schema(&input.table_name);
        let now = self.now();
        let label = stream_label.map(str::to_owned);
        self.store.write(move |conn| {
            table::insert(conn, meta, now, label.as_deref()).map(|m| m.describe())
        })
    }

    /// Turns a table's stream on, off (`view` None) or to another view type; a new stream starts
    /// empty and is labelled `stream_label` (as in [`DynamoDb::create_table_with_stream_label`])
    /// or with the time. The same stream again changes nothing but its label, when
    /// `stream_label` names another.
    pub fn set_stream(
        &self,
        table_name: &str,
        view: Option<StreamViewType>,
        stream_label: Option<&str>,
    ) -> Result<TableDescription, Error> {
        let name = table_name.to_owned();
        self.forget_schema(table_name);
        let now = self.now();
        let label = stream_label.map(str::to_owned);
        self.store.write(move |conn| {
            table::set_stream(conn, &name, view, label.as_deref(), now).map(|m| m.describe())
        })
    }

    pub fn describe_table(&self, table_name: &str) -> Result<TableDescription, Error> {
        self.store
            .read(|conn| table::load(conn, table_name).map(|m| m.describe()))
    }

    pub fn list_tables(&self, input: ListTablesInput) -> Result<ListTablesOutput, Error> {
        self.store.read(|conn| table::list(conn, &input))
    }

    /// Deletes a table, its items and its stream.
    pub fn delete_table(&self, table_name: &str) -> Result<TableDescription, Error> {
        let name = table_name.to_string();
        self.forget_schema(table_name);
        self.store.write(move |conn| {
            let mut description = table::delete(conn, &name)?.describe();
            description.table_status = "DELETING";
            Ok(description)
        })
    }

    // ---- items ----

    pub fn put_item(&self, input: PutItemInput) -> Result<PutItemOutput, Error> {
        store::block_on(self.put_item_async(input))
    }

    /// [`DynamoDb::put_item`] for async callers: no thread waits for the commit. (The table's
    /// schema is read on the caller's thread the first time a table is written; it is cached
    /// after that.)
    pub async fn put_item_async(&self, input: PutItemInput) -> Result<PutItemOutput, Error> {
        let mut action = write::prepare_put(input)?;
        let meta = self.schema(&action.table)?;
        action.pre_encode(&meta)?;
        let attributes = self
            .submit_checked(move |ctx| write::run_single(ctx, action))
            .await?;
        Ok(PutItemOutput { attributes })
    }

    pub fn delete_item(&self, input: DeleteItemInput) -> Result<DeleteItemOutput, Error> {
        let action = write::prepare_delete(input)?;
        let attributes = self.write(move |ctx| write::run_single(ctx, action))?;
        Ok(DeleteItemOutput { attributes })
    }

    pub fn update_item(&self, input: UpdateItemInput) -> Result<UpdateItemOutput, Error> {
        let action = write::prepare_update(input)?;
        let attributes = self.write(move |ctx| write::run_single(ctx, action))?;
        Ok(UpdateItemOutput { attributes })
    }

    pub fn get_item(&self, input: GetItemInput) -> Result<GetItemOutput, Error> {
        self.store.read(|conn| read::get_item(conn, input))
    }

    pub fn query(&self, input: QueryInput) -> Result<QueryOutput, Error> {
        self.store.read(|conn| read::query(conn, input))
    }

    pub fn scan(&self, input: ScanInput) -> Result<ScanOutput, Error> {
        self.store.read(|conn| read::scan(conn, input))
    }

    /// Writes up to 25 puts and deletes. All of them are written in one store transaction, so
    /// `unprocessed_items` is always empty.
    pub fn batch_write_item(
        &self,
        input: BatchWriteItemInput,
    ) -> Result<BatchWriteItemOutput, Error> {
        store::block_on(self.batch_write_item_async(input))
    }

    /// [`DynamoDb::batch_write_item`] for async callers, as [`DynamoDb::put_item_async`].
    pub async fn batch_write_item_async(
        &self,
        input: BatchWriteItemInput,
    ) -> Result<BatchWriteItemOutput, Error> {
        let total: usize = input.request_items.values().map(Vec::len).sum();
        if total > MAX_BATCH_WRITE {
            return Err(Error::validation(format!(
                "1 validation error detected: Value at 'requestItems' failed to satisfy constraint: Map value must satisfy constraint: [Member must have length less than or equal to {MAX_BATCH_WRITE}, Member must have length greater than or equal to 1]"
            )));
        }
        if total == 0 {
            return Err(Error::validation(
                "1 validation error detected: Value at 'requestItems' failed to satisfy constraint: Member must have length greater than or equal to 1",
            ));
        }
        let mut actions = Vec::with_capacity(total);
        for (table_name, requests) in input.request_items {
            for request in requests {
                actions.push(match request {
                    WriteRequest::Put { item } => write::prepare_put(PutItemInput {
                        table_name: table_name.clone(),
                        item,
                        ..Default::default()
                    })?,
                    WriteRequest::PutStored { item } => {
                        write::prepare_stored_put(table_name.clone(), item)
                    }
                    WriteRequest::Delete { key } => write::prepare_delete(DeleteItemInput {
                        table_name: table_name.clone(),
                        key,
                        ..Default::default()
                    })?,
                });
            }
        }
        // Keys are checked and puts encoded here, on the caller's thread; duplicates are refused
        // before anything is written. The schema is looked up once per table, not per entry.
        let mut meta: Option<Arc<table::TableMeta>> = None;
        let mut delete_keys: Vec<table::EncodedKey> = Vec::new();
        for action in &mut actions {
            let m = match meta.take() {
                Some(m) if m.name == action.table => m,
                _ => self.schema(&action.table)?,
            };
            action.pre_encode(&m)?;
            if action.pre.is_none() {
                delete_keys.push(m.key(&action.key)?);
            }
            meta = Some(m);
        }
        let mut deletes = delete_keys.iter();
        let mut keys: Vec<(&str, &table::EncodedKey)> = Vec::with_capacity(actions.len());
        for action in &actions {
            let key = match &action.pre {
                Some(pre) => &pre.key,
                None => deletes
                    .next()
                    .ok_or_else(|| Error::Internal("a batch entry lost its key".into()))?,
            };
            keys.push((action.table.as_str(), key));
        }
        keys.sort_unstable();
        if keys.windows(2).any(|w| w[0] == w[1]) {
            return Err(Error::validation(
                "Provided list of item keys contains duplicates",
            ));
        }
        drop(keys);
        drop(delete_keys);
        let written = self
            .submit_checked(move |ctx| write::run_batch(ctx, actions))
            .await?;
        drop(written);
        Ok(BatchWriteItemOutput::default())
    }

    pub fn batch_get_item(&self, input: BatchGetItemInput) -> Result<BatchGetItemOutput, Error> {
        self.store.read(|conn| read::batch_get(conn, input))
    }

    /// Up to 100 actions, all or nothing. A failed condition cancels the whole transaction with one
    /// reason per action.
    pub fn transact_write_items(&self, input: TransactWriteItemsInput) -> Result<(), Error> {
        let n = input.transact_items.len();
        if n == 0 || n > read::MAX_TRANSACT {
            return Err(Error::validation(format!(
                "1 validation error detected: Value at 'transactItems' failed to satisfy constraint: Member must have length less than or equal to {} and greater than or equal to 1",
                read::MAX_TRANSACT
            )));
        }
        let actions = input
            .transact_items
            .into_iter()
            .map(write::prepare_transact)
            .collect::<Result<Vec<_>, _>>()?;
        self.write(move |ctx| write::run_transaction(ctx, actions))
    }

    pub fn transact_get_items(
        &self,
        input: TransactGetItemsInput,
    ) -> Result<TransactGetItemsOutput, Error> {
        self.store.read(|conn| read::transact_get(conn, input))
    }

    // ---- streams ----

    pub fn list_streams(&self, input: ListStreamsInput) -> Result<ListStreamsOutput, Error> {
        self.store.read(|conn| stream::list_streams(conn, input))
    }

    pub fn describe_stream(&self, stream_arn: &str) -> Result<StreamDescription, Error> {
        let now = self.now();
        self.store
            .read(|conn| stream::describe_stream(conn, stream_arn, now))
    }

    pub fn get_shard_iterator(&self, input: GetShardIteratorInput) -> Result<String, Error> {
        let now = self.now();
        self.store
            .read(|conn| stream::get_shard_iterator(conn, input, now))
    }

    pub fn get_records(&self, input: GetRecordsInput) -> Result<GetRecordsOutput, Error> {
        let now = self.now();
        self.store
            .read(|conn| stream::get_records(conn, input, now))
    }
}
