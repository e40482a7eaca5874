//! Item writes: PutItem, DeleteItem, UpdateItem, BatchWriteItem and TransactWriteItems.
//!
//! Every call is split in two halves. The `prepare_*` functions run on the caller's thread: they
//! check the request and parse its expressions, which needs no table state, and
//! [`Action::pre_encode`] encodes a put's item and key from the cached table schema. The prepared
//! actions then run inside one store write closure ([`WriteCtx`]), on the store's writer thread,
//! where they read the current items, evaluate conditions, and write. Each item change is written
//! by [`WriteCtx::insert_new`] or [`WriteCtx::apply`], which number its stream record and pack it
//! into the closure's pending records; [`WriteCtx::finish`] writes them as one row per table at the
//! end of the same closure, hence in the same savepoint: the changes and their records commit
//! together or not at all. A change that leaves the item as it was writes nothing and emits no
//! record.
//!
//! The hot path is a BatchWriteItem of new items: one closure, one reused INSERT per item that
//! skips reading the old item (`ON CONFLICT DO NOTHING`; a key that exists falls back to the
//! general path, which compares old and new), and one stream row for all 25 records.

use std::collections::BTreeMap;

use store::rusqlite::{params, CachedStatement, Connection, OptionalExtension};

use crate::encoding::{
    decode_item, encode_item, encode_item_sized, encode_pairs, put_record, PackedRecord, StoredItem,
};
use crate::error::{CancellationReason, Error};
use crate::expr::{
    self, apply_update, evaluate, parse_condition, parse_update, Condition, ExprKind, Placeholders,
    Update,
};
use crate::table::{self, EncodedKey, TableMeta};
use crate::types::{
    DeleteItemInput, EventName, Names, PutItemInput, ReturnOnFailure, ReturnValues,
    TransactWriteItem, UpdateItemInput, Values,
};
use crate::value::{
    item_size, validate_item, validate_item_sized, AttributeValue, Item, MAX_ITEM_SIZE,
};

/// What a prepared action does to its item.
#[derive(Debug)]
pub(crate) enum ActionKind {
    Put(Item),
    /// A put of an item already in stored form (a BatchWriteItem entry read from the wire); its
    /// bytes move to the action's `pre` when it is encoded.
    PutStored(StoredItem),
    Delete,
    Update(Update),
    Check,
}

/// One write, checked and parsed, waiting for the table state.
#[derive(Debug)]
pub(crate) struct Action {
    pub table: String,
    /// The item for a put, the `Key` parameter otherwise.
    pub key: Item,
    pub kind: ActionKind,
    pub condition: Option<Condition>,
    pub return_values: ReturnValues,
    pub on_failure: ReturnOnFailure,
    /// For a put: the item's size by AWS's rules, computed when it was validated.
    pub put_size: usize,
    /// For a put: its index key and stored bytes, computed on the caller's thread from the table's
    /// schema as it was then. Used only if the table still has that id when the write runs.
    pub pre: Option<Encoded>,
}

/// A put's item in stored form.
#[derive(Debug)]
pub(crate) struct Encoded {
    pub table_id: i64,
    pub key: EncodedKey,
    pub bytes: Vec<u8>,
    pub size: usize,
    /// The key attributes in stored form and their size, for a stream record.
    pub keys_bytes: Vec<u8>,
    pub keys_size: usize,
}

impl Action {
    /// Encodes a put's item ahead of the write, so that the store's single writer thread does only
    /// SQL work. Key errors surface here, on the caller's thread, with the same messages.
    pub fn pre_encode(&mut self, meta: &TableMeta) -> Result<(), Error> {
        if let ActionKind::PutStored(stored) = &mut self.kind {
            // Only the key attributes are decoded, as an item of their own: the key and its
            // errors, the stream record's keys and their size come out as for an `Item` put. The
            // bytes move into `pre` ([`Action::stored_item`] reads them there).
            let keys = stored.attributes(meta.key_names())?;
            let key = meta.item_key(&keys)?;
            self.pre = Some(Encoded {
                table_id: meta.id,
                key,
                bytes: std::mem::take(&mut stored.bytes),
                size: stored.size,
                keys_bytes: encode_item(&keys),
                keys_size: item_size(&keys),
            });
        }
        if let ActionKind::Put(item) = &self.kind {
            let key = meta.item_key(item)?;
            // Key attributes in name order, as an item of their own would hold them (item_key
            // has checked that they are there).
            let mut keys: [Option<(&str, &AttributeValue)>; 2] = [None, None];
            for (slot, name) in keys.iter_mut().zip(meta.key_names()) {
                *slot = item.get_key_value(name).map(|(k, v)| (k.as_str(), v));
            }
            if let [Some(a), Some(b)] = &mut keys {
                if b.0 < a.0 {
                    std::mem::swap(a, b);
                }
            }
            let keys = keys.iter().flatten();
            self.pre = Some(Encoded {
                table_id: meta.id,
                key,
                bytes: encode_item_sized(item, self.put_size),
                size: self.put_size,
                keys_bytes: encode_pairs(keys.clone().count(), keys.clone().copied()),
                keys_size: keys.map(|(k, v)| k.len() + v.size()).sum(),
            });
        }
        Ok(())
    }

    /// A stored put's item, decoded for the general path: from `pre` once the put is encoded
    /// (stored bytes do not depend on the table, so even a `pre` of a table since recreated
    /// holds them), from the action before.
    fn stored_item(&self, stored: &StoredItem) -> Result<Item, Error> {
        match &self.pre {
            Some(pre) => decode_item(&pre.bytes),
            None => stored.to_item(),
        }
    }

    /// Whether the action is a plain put: no condition, nothing to return.
    fn is_blind_put(&self) -> bool {
        matches!(self.kind, ActionKind::Put(_) | ActionKind::PutStored(_))
            && self.condition.is_none()
            && self.return_values == ReturnValues::None
    }
}

/// Parses a write's ConditionExpression (and UpdateExpression) and checks its placeholders.
fn parse_expressions(
    condition: Option<&str>,
    update: Option<&str>,
    names: &Names,
    values: &Values,
) -> Result<(Option<Condition>, Option<Update>), Error> {
    if condition.is_none() && update.is_none() {
        expr::reject_unexpected_placeholders(names, values)?;
        return Ok((None, None));
    }
    let mut placeholders = Placeholders::new(names, values)?;
    let update = update
        .map(|text| parse_update(text, &mut placeholders))
        .transpose()?;
    let condition = condition
        .map(|text| parse_condition(ExprKind::Condition, text, &mut placeholders))
        .transpose()?;
    placeholders.finish()?;
    Ok((condition, update))
}

pub(crate) fn prepare_put(input: PutItemInput) -> Result<Action, Error> {
    if !matches!(
        input.return_values,
        ReturnValues::None | ReturnValues::AllOld
    ) {
        return Err(Error::validation("Return values set to invalid value"));
    }
    let mut item = input.item;
    let put_size = validate_item_sized(&mut item)?;
    let (condition, _) = parse_expressions(
        input.condition_expression.as_deref(),
        None,
        &input.expression_attribute_names,
        &input.expression_attribute_values,
    )?;
    Ok(Action {
        table: input.table_name,
        key: Item::new(),
        kind: ActionKind::Put(item),
        condition,
        return_values: input.return_values,
        on_failure: input.return_values_on_condition_check_failure,
        put_size,
        pre: None,
    })
}

/// A BatchWriteItem put of an item in stored form: its values and size were checked as it was
/// built.
pub(crate) fn prepare_stored_put(table: String, item: StoredItem) -> Action {
    Action {
        table,
        key: Item::new(),
        put_size: item.size,
        kind: ActionKind::PutStored(item),
        condition: None,
        return_values: ReturnValues::None,
        on_failure: ReturnOnFailure::default(),
        pre: None,
    }
}

pub(crate) fn prepare_delete(input: DeleteItemInput) -> Result<Action, Error> {
    if !matches!(
        input.return_values,
        ReturnValues::None | ReturnValues::AllOld
    ) {
        return Err(Error::validation("Return values set to invalid value"));
    }
    let mut key = input.key;
    validate_item(&mut key)?;
    let (condition, _) = parse_expressions(
        input.condition_expression.as_deref(),
        None,
        &input.expression_attribute_names,
        &input.expression_attribute_values,
    )?;
    Ok(Action {
        table: input.table_name,
        key,
        kind: ActionKind::Delete,
        condition,
        return_values: input.return_values,
        on_failure: input.return_values_on_condition_check_failure,
        put_size: 0,
        pre: None,
    })
}

pub(crate) fn prepare_update(input: UpdateItemInput) -> Result<Action, Error> {
    let mut key = input.key;
    validate_item(&mut key)?;
    let (condition, update) = parse_expressions(
        input.condition_expression.as_deref(),
        input.update_expression.as_deref(),
        &input.expression_attribute_names,
        &input.expression_attribute_values,
    )?;
    Ok(Action {
        table: input.table_name,
        key,
        kind: ActionKind::Update(update.unwrap_or_default()),
        condition,
        return_values: input.return_values,
        on_failure: input.return_values_on_condition_check_failure,
        put_size: 0,
        pre: None,
    })
}

pub(crate) fn prepare_transact(item: TransactWriteItem) -> Result<Action, Error> {
    match item {
        TransactWriteItem::Put(p) => prepare_put(p),
        TransactWriteItem::Delete(d) => prepare_delete(d),
        TransactWriteItem::Update(u) => prepare_update(u),
        TransactWriteItem::ConditionCheck {
            table_name,
            key,
            condition_expression,
            expression_attribute_names,
            expression_attribute_values,
            return_values_on_condition_check_failure,
        } => {
            let mut key = key;
            validate_item(&mut key)?;
            let (condition, _) = parse_expressions(
                Some(&condition_expression),
                None,
                &expression_attribute_names,
                &expression_attribute_values,
            )?;
            Ok(Action {
                table: table_name,
                key,
                kind: ActionKind::Check,
                condition,
                return_values: ReturnValues::None,
                on_failure: return_values_on_condition_check_failure,
                put_size: 0,
                pre: None,
            })
        }
    }
}

/// The state of one store write closure: the connection, the time, the tables touched (with
/// their counters, saved once at the end) and the stream records produced so far (written once at
/// the end, one row per table).
pub(crate) struct WriteCtx<'c> {
    conn: &'c Connection,
    now_ms: i64,
    /// Few calls touch more than one table, so a list searched by name beats hashing the name.
    tables: Vec<TableMeta>,
    pending: Vec<PendingRecords>,
    /// The blind-put statement, kept across the entries of one call rather than looked up in the
    /// connection's statement cache for each.
    insert: Option<CachedStatement<'c>>,
}

/// The stream records one closure has produced for one table, packed, numbered
/// `first_seq..=last_seq`.
struct PendingRecords {
    table_id: i64,
    first_seq: i64,
    last_seq: i64,
    records: Vec<u8>,
}

/// The table `name` in the closure's cache, loaded on first use.
fn table_in<'m>(
    conn: &Connection,
    tables: &'m mut Vec<TableMeta>,
    name: &str,
) -> Result<&'m mut TableMeta, Error> {
    let at = match tables.iter().position(|m| m.name == name) {
        Some(at) => at,
        None => {
            tables.push(table::load(conn, name)?);
            tables.len() - 1
        }
    };
    Ok(&mut tables[at])
}

/// An action located: its table and index key, and the item as it is now.
pub(crate) struct Located {
    pub key: EncodedKey,
    pub old: Option<Item>,
}

impl<'c> WriteCtx<'c> {
    pub fn new(conn: &'c Connection, now_ms: i64) -> WriteCtx<'c> {
        WriteCtx {
            conn,
            now_ms,
            tables: Vec::new(),
            pending: Vec::new(),
            insert: None,
        }
    }

    pub fn table(&mut self, name: &str) -> Result<&mut TableMeta, Error> {
        table_in(self.conn, &mut self.tables, name)
    }

    fn get(&self, table_id: i64, key: &EncodedKey) -> Result<Option<Item>, Error> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT item FROM dynamodb_items WHERE table_id = ?1 AND pk = ?2 AND sk = ?3",
        )?;
        let blob: Option<Vec<u8>> = stmt
            .query_row(params![table_id, key.pk, key.sk], |r| r.get(0))
            .optional()?;
        blob.map(|b| decode_item(&b)).transpose()
    }

    /// Finds the action's item: checks its key against the table's schema and reads the item.
    pub fn locate(&mut self, action: &Action) -> Result<Located, Error> {
        let meta = self.table(&action.table)?;
        let pre = action.pre.as_ref().filter(|p| p.table_id == meta.id);
        let key = match (&action.kind, pre) {
            (ActionKind::Put(_) | ActionKind::PutStored(_), Some(pre)) => pre.key.clone(),
            (ActionKind::Put(item), None) => meta.item_key(item)?,
            (ActionKind::PutStored(stored), None) => meta.item_key(&action.stored_item(stored)?)?,
            (ActionKind::Update(update), _) => {
                let key = meta.key(&action.key)?;
                for path in update.target_paths() {
                    if meta.is_key(path.top()) {
                        return Err(Error::validation(format!(
                            "One or more parameter values were invalid: Cannot update attribute {}. This attribute is part of the key",
                            path.top()
                        )));
                    }
                }
                key
            }
            _ => meta.key(&action.key)?,
        };
        let id = meta.id;
        let old = self.get(id, &key)?;
        Ok(Located { key, old })
    }

    /// Whether the action's condition holds on the located item.
    pub fn check(action: &Action, located: &Located) -> bool {
        match &action.condition {
            Some(c) => {
                let empty = Item::new();
                evaluate(c, located.old.as_ref().unwrap_or(&empty))
            }
            None => true,
        }
    }

    /// The item after the action, or `None` when the action deletes it.
    pub fn new_item(&mut self, action: &Action, located: &Located) -> Result<Option<Item>, Error> {
        Ok(match &action.kind {
            ActionKind::Put(item) => Some(item.clone()),
            ActionKind::PutStored(stored) => Some(action.stored_item(stored)?),
            ActionKind::Delete => None,
            ActionKind::Check => located.old.clone(),
            ActionKind::Update(update) => {
                let base = match &located.old {
                    Some(old) => old.clone(),
                    None => {
                        let meta = self.table(&action.table)?;
                        meta.key_of(&action.key)
                    }
                };
                let new = apply_update(&base, update)?;
                if item_size(&new) > MAX_ITEM_SIZE {
                    return Err(Error::validation(
                        "Item size to update has exceeded the maximum allowed size",
                    ));
                }
                Some(new)
            }
        })
    }

    /// Writes a blind put whose key is new with one statement, skipping the read of the old item.
    /// Returns false, having written nothing, when the action does not qualify or the key exists;
    /// the caller then takes the general path.
    pub fn insert_new(&mut self, action: &Action) -> Result<bool, Error> {
        if !action.is_blind_put() {
            return Ok(false);
        }
        let conn = self.conn;
        let meta = table_in(conn, &mut self.tables, &action.table)?;
        let Some(pre) = action.pre.as_ref().filter(|p| p.table_id == meta.id) else {
            return Ok(false);
        };
        let stmt = match &mut self.insert {
            Some(stmt) => stmt,
            None => self.insert.insert(conn.prepare_cached(
                "INSERT INTO dynamodb_items (table_id, hash, pk, sk, item) VALUES (?1, ?2, ?3, ?4, ?5) \
                 ON CONFLICT DO NOTHING",
            )?),
        };
        let inserted = stmt.execute(params![
            meta.id,
            pre.key.hash,
            pre.key.pk,
            pre.key.sk,
            pre.bytes
        ])?;
        if inserted == 0 {
            return Ok(false);
        }
        meta.item_count += 1;
        meta.size_bytes += pre.size as i64;
        if let Some(view) = meta.stream {
            let size = pre.keys_size + if view.has_new() { pre.size } else { 0 };
            let record = PackedRecord {
                event: event_code(EventName::Insert),
                size,
                keys: &pre.keys_bytes,
                new_image: view.has_new().then_some(pre.bytes.as_slice()),
                old_image: None,
            };
            add_record(&mut self.pending, meta, record);
        }
        Ok(true)
    }

    /// Writes an item change and, when the table has a stream, its record. Nothing happens when
    /// the item does not change.
    pub fn apply(
        &mut self,
        table: &str,
        key: &EncodedKey,
        old: Option<&Item>,
        new: Option<&Item>,
    ) -> Result<(), Error> {
        if old == new {
            return Ok(());
        }
        let conn = self.conn;
        let meta = table_in(conn, &mut self.tables, table)?;
        let new_bytes = new.map(encode_item);
        match &new_bytes {
            Some(bytes) => {
                conn.prepare_cached(
                    "INSERT OR REPLACE INTO dynamodb_items (table_id, hash, pk, sk, item) VALUES (?1, ?2, ?3, ?4, ?5)",
                )?
                .execute(params![meta.id, key.hash, key.pk, key.sk, bytes])?;
            }
            None => {
                conn.prepare_cached(
                    "DELETE FROM dynamodb_items WHERE table_id = ?1 AND pk = ?2 AND sk = ?3",
                )?
                .execute(params![meta.id, key.pk, key.sk])?;
            }
        }
        let old_size = old.map_or(0, item_size) as i64;
        let new_size = new.map_or(0, item_size) as i64;
        meta.item_count += i64::from(new.is_some()) - i64::from(old.is_some());
        meta.size_bytes += new_size - old_size;
        if let Some(view) = meta.stream {
            let event = match (old, new) {
                (None, Some(_)) => EventName::Insert,
                (Some(_), Some(_)) => EventName::Modify,
                _ => EventName::Remove,
            };
            let keys = match new.or(old) {
                Some(item) => meta.key_of(item),
                None => Item::new(),
            };
            let new_image = new_bytes.filter(|_| view.has_new());
            let old_image = old.filter(|_| view.has_old()).map(encode_item);
            let size = item_size(&keys) as i64
                + if view.has_new() { new_size } else { 0 }
                + if view.has_old() { old_size } else { 0 };
            let keys = encode_item(&keys);
            let record = PackedRecord {
                event: event_code(event),
                size: size as usize,
                keys: &keys,
                new_image: new_image.as_deref(),
                old_image: old_image.as_deref(),
            };
            add_record(&mut self.pending, meta, record);
        }
        Ok(())
    }

    /// Writes the pending stream records, one row per table, and saves the counters of every
    /// table touched. Called once, last, inside the same savepoint as the item changes.
    pub fn finish(self) -> Result<(), Error> {
        drop(self.insert);
        if !self.pending.is_empty() {
            let mut stmt = self.conn.prepare_cached(
                "INSERT INTO dynamodb_stream_batches (table_id, last_seq, first_seq, created_ms, records) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for p in &self.pending {
                stmt.execute(params![
                    p.table_id,
                    p.last_seq,
                    p.first_seq,
                    self.now_ms,
                    p.records
                ])?;
            }
        }
        for meta in &self.tables {
            table::save_counters(self.conn, meta)?;
        }
        Ok(())
    }
}

/// The code of an event in a packed record.
pub(crate) fn event_code(event: EventName) -> u8 {
    match event {
        EventName::Insert => 1,
        EventName::Modify => 2,
        EventName::Remove => 3,
    }
}

/// Adds one stream record to the closure's pending records of its table, numbered from the
/// table's counter.
fn add_record(pending: &mut Vec<PendingRecords>, meta: &mut TableMeta, record: PackedRecord<'_>) {
    let seq = meta.next_seq;
    meta.next_seq += 1;
    let at = match pending.iter().position(|p| p.table_id == meta.id) {
        Some(at) => at,
        None => {
            pending.push(PendingRecords {
                table_id: meta.id,
                first_seq: seq,
                last_seq: seq,
                // Room for a full BatchWriteItem of small items without regrowing.
                records: Vec::with_capacity(8192),
            });
            pending.len() - 1
        }
    };
    let p = &mut pending[at];
    p.last_seq = seq;
    put_record(&mut p.records, record);
}

/// The ConditionalCheckFailedException for an action whose condition did not hold.
fn condition_failed(action: &Action, located: Located) -> Error {
    Error::ConditionalCheckFailed {
        item: match action.on_failure {
            ReturnOnFailure::AllOld => located.old,
            ReturnOnFailure::None => None,
        },
    }
}

/// The attributes a single-item write returns, per ReturnValues.
fn returned(action: &Action, old: Option<Item>, new: Option<&Item>) -> Option<Item> {
    let updated = |item: &Item| -> Item {
        match &action.kind {
            ActionKind::Update(u) => expr::project(item, &u.target_paths()),
            _ => item.clone(),
        }
    };
    let out = match action.return_values {
        ReturnValues::None => None,
        ReturnValues::AllOld => old,
        ReturnValues::AllNew => new.cloned(),
        ReturnValues::UpdatedOld => old.as_ref().map(updated),
        ReturnValues::UpdatedNew => new.map(updated),
    };
    out.filter(|i| !i.is_empty())
}

/// Runs one PutItem, DeleteItem or UpdateItem inside a write closure.
pub(crate) fn run_single(ctx: &mut WriteCtx<'_>, action: Action) -> Result<Option<Item>, Error> {
    if ctx.insert_new(&action)? {
        return Ok(None);
    }
    let located = ctx.locate(&action)?;
    if !WriteCtx::check(&action, &located) {
        return Err(condition_failed(&action, located));
    }
    let new = ctx.new_item(&action, &located)?;
    ctx.apply(
        &action.table,
        &located.key,
        located.old.as_ref(),
        new.as_ref(),
    )?;
    Ok(returned(&action, located.old, new.as_ref()))
}

/// Runs a BatchWriteItem's puts and deletes inside a write closure.
///
/// Duplicate keys were refused when the batch was prepared, so every entry touches its own item
/// and the entries can be written one by one. The actions are handed back so that the caller's
/// thread, not the store's writer, frees them.
pub(crate) fn run_batch(
    ctx: &mut WriteCtx<'_>,
    actions: Vec<Action>,
) -> Result<Vec<Action>, Error> {
    for action in &actions {
        if ctx.insert_new(action)? {
            continue;
        }
        let l = ctx.locate(action)?;
        let new = ctx.new_item(action, &l)?;
        ctx.apply(&action.table, &l.key, l.old.as_ref(), new.as_ref())?;
    }
    Ok(actions)
}

/// Runs a TransactWriteItems inside a write closure: every condition is checked first, and only
/// when all hold is anything written.
pub(crate) fn run_transaction(ctx: &mut WriteCtx<'_>, actions: Vec<Action>) -> Result<(), Error> {
    let mut seen: BTreeMap<(&str, EncodedKey), ()> = BTreeMap::new();
    let mut located = Vec::with_capacity(actions.len());
    for action in &actions {
        let l = ctx.locate(action)?;
        if seen
            .insert((action.table.as_str(), l.key.clone()), ())
            .is_some()
        {
            return Err(Error::validation(
                "Transaction request cannot include multiple operations on one item",
            ));
        }
        located.push(l);
    }
    let passed: Vec<bool> = actions
        .iter()
        .zip(&located)
        .map(|(a, l)| WriteCtx::check(a, l))
        .collect();
    if passed.iter().any(|p| !p) {
        let reasons = actions
            .iter()
            .zip(located)
            .zip(passed)
            .map(|((action, l), ok)| {
                if ok {
                    CancellationReason {
                        code: "None".into(),
                        message: None,
                        item: None,
                    }
                } else {
                    CancellationReason {
                        code: "ConditionalCheckFailed".into(),
                        message: Some("The conditional request failed".into()),
                        item: match action.on_failure {
                            ReturnOnFailure::AllOld => l.old,
                            ReturnOnFailure::None => None,
                        },
                    }
                }
            })
            .collect();
        return Err(Error::TransactionCanceled { reasons });
    }
    for (action, l) in actions.iter().zip(located) {
        if matches!(action.kind, ActionKind::Check) {
            continue;
        }
        let new = ctx.new_item(action, &l)?;
        ctx.apply(&action.table, &l.key, l.old.as_ref(), new.as_ref())?;
    }
    Ok(())
}

/// Deletes the stream records older than `cutoff_ms` of every table. Records are written in
/// sequence order with a clock that moves forward, so the expired ones are a prefix of each
/// stream; the first row still kept, found by walking the primary key in order, marks its end.
pub(crate) fn trim_streams(conn: &Connection, cutoff_ms: i64) -> Result<usize, Error> {
    let ids: Vec<i64> = conn
        .prepare_cached("SELECT id FROM dynamodb_tables WHERE stream_view_type IS NOT NULL")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut deleted = 0;
    for id in ids {
        // Every record of a batch row shares its time, so whole rows expire; they count by their
        // records.
        let end: Option<i64> = conn
            .prepare_cached(
                "SELECT last_seq FROM dynamodb_stream_batches \
                 WHERE table_id = ?1 AND created_ms >= ?2 ORDER BY last_seq LIMIT 1",
            )?
            .query_row(params![id, cutoff_ms], |r| r.get(0))
            .optional()?;
        let end = end.unwrap_or(i64::MAX);
        let expired: i64 = conn
            .prepare_cached(
                "SELECT coalesce(sum(last_seq - first_seq + 1), 0) FROM dynamodb_stream_batches \
                 WHERE table_id = ?1 AND last_seq < ?2",
            )?
            .query_row(params![id, end], |r| r.get(0))?;
        if expired > 0 {
            conn.prepare_cached(
                "DELETE FROM dynamodb_stream_batches WHERE table_id = ?1 AND last_seq < ?2",
            )?
            .execute(params![id, end])?;
            deleted += expired as usize;
        }
    }
    Ok(deleted)
}
