//! Tables: the SQL schema, table metadata, key rules, and CreateTable / DescribeTable /
//! ListTables / DeleteTable.
//!
//! SQL layout (all names prefixed `dynamodb_`):
//! - `dynamodb_tables`: one row per table with its key schema, settings, live counters (item count,
//!   size) and the next stream sequence number. The id is AUTOINCREMENT so that a table created
//!   again under a deleted table's name never reuses its id (stream iterators name the id).
//! - `dynamodb_items`: `(table_id, pk, sk) -> (hash, item)`, through a UNIQUE index over a rowid
//!   table (migration 2 says why). `pk`/`sk` are the key attributes in sortable bytes
//!   (`encoding.rs`), so Query walks the index with `pk` fixed and rows come in sort-key order.
//!   `hash` (of `pk`) assigns each partition to a Scan Segment. The hash is deliberately not part
//!   of the key: keys written in order (sale ids) then land on the same B-tree pages, and a commit
//!   rewrites a few pages instead of one per item.
//! - `dynamodb_stream_batches`: `(table_id, last_seq) -> (first_seq, created_ms, records)`, also
//!   a UNIQUE index over a rowid table, one row per write closure and table holding every stream
//!   record it produced, packed; written in the same savepoint as the item changes that caused
//!   them.

use store::rusqlite::{params, Connection, OptionalExtension};

use crate::encoding::{key_bytes, partition_hash};
use crate::error::Error;
use crate::time::iso_millis;
use crate::types::{
    AttributeDefinition, BillingMode, CreateTableInput, KeySchemaElement, KeyType, ListTablesInput,
    ListTablesOutput, ProvisionedThroughput, StreamSpecification, StreamViewType, TableDescription,
};
use crate::value::{AttributeValue, Item, ScalarType};

/// The region and account of every ARN: the local engine plays one account in one region.
pub const REGION: &str = "us-east-1";
pub const ACCOUNT: &str = "000000000000";

pub(crate) const MIGRATIONS: &[&str] = &[
    "
CREATE TABLE dynamodb_tables (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    hash_name TEXT NOT NULL,
    hash_type TEXT NOT NULL,
    range_name TEXT,
    range_type TEXT,
    attribute_definitions TEXT NOT NULL,
    billing_mode TEXT NOT NULL,
    read_capacity INTEGER NOT NULL,
    write_capacity INTEGER NOT NULL,
    stream_view_type TEXT,
    stream_label TEXT,
    created_ms INTEGER NOT NULL,
    item_count INTEGER NOT NULL DEFAULT 0,
    size_bytes INTEGER NOT NULL DEFAULT 0,
    next_seq INTEGER NOT NULL DEFAULT 1
) STRICT;
CREATE TABLE dynamodb_items (
    table_id INTEGER NOT NULL,
    hash INTEGER NOT NULL,
    pk BLOB NOT NULL,
    sk BLOB NOT NULL,
    item BLOB NOT NULL,
    PRIMARY KEY (table_id, pk, sk)
) STRICT, WITHOUT ROWID;
-- Stream records are written one row per write closure and table: a BatchWriteItem of 25 puts
-- appends one row, not 25. `records` packs the records numbered first_seq..=last_seq
-- (`encoding::put_record`); keyed by the last so that a reader finds the row holding any number
-- with one range seek.
CREATE TABLE dynamodb_stream_batches (
    table_id INTEGER NOT NULL,
    last_seq INTEGER NOT NULL,
    first_seq INTEGER NOT NULL,
    created_ms INTEGER NOT NULL,
    records BLOB NOT NULL,
    PRIMARY KEY (table_id, last_seq)
) STRICT, WITHOUT ROWID;
",
    "
-- Version 2: both tables become rowid tables with their key as a UNIQUE index. In a WITHOUT ROWID
-- table the rows themselves make up the key's B-tree, and every page split there moves whole items
-- between three sibling pages; a rowid table appends rows in key order at the end of its B-tree,
-- and only the small index entries are split. Writing sale items in 25-item batches with the
-- stream on went from 79,000 to 110,000 items/s (`cargo bench -p dynamodb --bench writes`, 1,000,000
-- items, median of 3, on a 2-core VM), and
-- a stream batch (a few KB) now fits in its row's page instead of spilling past 1 KB.
CREATE TABLE dynamodb_items_v2 (
    table_id INTEGER NOT NULL,
    hash INTEGER NOT NULL,
    pk BLOB NOT NULL,
    sk BLOB NOT NULL,
    item BLOB NOT NULL,
    UNIQUE (table_id, pk, sk)
) STRICT;
INSERT INTO dynamodb_items_v2 (table_id, hash, pk, sk, item)
    SELECT table_id, hash, pk, sk, item FROM dynamodb_items ORDER BY table_id, pk, sk;
DROP TABLE dynamodb_items;
ALTER TABLE dynamodb_items_v2 RENAME TO dynamodb_items;
CREATE TABLE dynamodb_stream_batches_v2 (
    table_id INTEGER NOT NULL,
    last_seq INTEGER NOT NULL,
    first_seq INTEGER NOT NULL,
    created_ms INTEGER NOT NULL,
    records BLOB NOT NULL,
    UNIQUE (table_id, last_seq)
) STRICT;
INSERT INTO dynamodb_stream_batches_v2 (table_id, last_seq, first_seq, created_ms, records)
    SELECT table_id, last_seq, first_seq, created_ms, records FROM dynamodb_stream_batches
    ORDER BY table_id, last_seq;
DROP TABLE dynamodb_stream_batches;
ALTER TABLE dynamodb_stream_batches_v2 RENAME TO dynamodb_stream_batches;
",
];

const MAX_TABLE_NAME: usize = 255;

/// A table's definition as the engine uses it on every call.
#[derive(Debug, Clone)]
pub(crate) struct TableMeta {
    pub id: i64,
    pub name: String,
    pub hash: (String, ScalarType),
    pub range: Option<(String, ScalarType)>,
    pub attribute_definitions: Vec<AttributeDefinition>,
    pub billing_mode: BillingMode,
    pub throughput: ProvisionedThroughput,
    pub stream: Option<StreamViewType>,
    pub stream_label: Option<String>,
    pub created_ms: i64,
    pub item_count: i64,
    pub size_bytes: i64,
    pub next_seq: i64,
}

/// A key in its index form.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct EncodedKey {
    pub hash: i64,
    pub pk: Vec<u8>,
    pub sk: Vec<u8>,
}

impl TableMeta {
    pub fn arn(&self) -> String {
        table_arn(&self.name)
    }

    pub fn stream_arn(&self) -> Option<String> {
        self.stream_label
            .as_ref()
            .filter(|_| self.stream.is_some())
            .map(|label| format!("{}/stream/{label}", self.arn()))
    }

    pub fn key_names(&self) -> impl Iterator<Item = &str> + Clone {
        std::iter::once(self.hash.0.as_str()).chain(self.range.as_ref().map(|r| r.0.as_str()))
    }

    pub fn is_key(&self, name: &str) -> bool {
        self.key_names().any(|k| k == name)
    }

    pub fn key_schema(&self) -> Vec<KeySchemaElement> {
        let mut out = vec![KeySchemaElement {
            attribute_name: self.hash.0.clone(),
            key_type: KeyType::Hash,
        }];
        if let Some((name, _)) = &self.range {
            out.push(KeySchemaElement {
                attribute_name: name.clone(),
                key_type: KeyType::Range,
            });
        }
        out
    }

    /// The key attributes of an item.
    pub fn key_of(&self, item: &Item) -> Item {
        self.key_names()
            .filter_map(|k| item.get(k).map(|v| (k.to_string(), v.clone())))
            .collect()
    }

    fn check_key_value(
        &self,
        name: &str,
        ty: ScalarType,
        value: &AttributeValue,
    ) -> Result<(), Error> {
        if value.scalar_type() != Some(ty) {
            return Err(Error::validation(format!(
                "One or more parameter values were invalid: Type mismatch for key {name} expected: {} actual: {}",
                ty.as_str(),
                value.type_name()
            )));
        }
        let empty = match value {
            AttributeValue::S(s) => s.is_empty(),
            AttributeValue::B(b) => b.is_empty(),
            _ => false,
        };
        if empty {
            return Err(Error::validation(format!(
                "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty {} value. Key: {name}",
                if ty == ScalarType::S { "string" } else { "binary" }
            )));
        }
        Ok(())
    }

    /// The index key of an item given to PutItem: key attributes present with the declared types.
    pub fn item_key(&self, item: &Item) -> Result<EncodedKey, Error> {
        let part = |(name, ty): &(String, ScalarType)| -> Result<Vec<u8>, Error> {
            let value = item.get(name).ok_or_else(|| {
                Error::validation(format!(
                    "One or more parameter values were invalid: Missing the key {name} in the item"
                ))
            })?;
            self.check_key_value(name, *ty, value)?;
            Ok(key_bytes(value))
        };
        let pk = part(&self.hash)?;
        let sk = match &self.range {
            Some(range) => part(range)?,
            None => Vec::new(),
        };
        Ok(EncodedKey {
            hash: partition_hash(&pk),
            pk,
            sk,
        })
    }

    /// The index key of a `Key` parameter: exactly the key attributes, with the declared types.
    pub fn key(&self, key: &Item) -> Result<EncodedKey, Error> {
        let expected = 1 + usize::from(self.range.is_some());
        let mismatch = || Error::validation("The provided key element does not match the schema");
        if key.len() != expected {
            return Err(mismatch());
        }
        let mut parts = Vec::with_capacity(2);
        for (name, ty) in std::iter::once(&self.hash).chain(self.range.as_ref()) {
            let value = key.get(name).ok_or_else(mismatch)?;
            if value.scalar_type() != Some(*ty) {
                return Err(mismatch());
            }
            self.check_key_value(name, *ty, value)?;
            parts.push(key_bytes(value));
        }
        Ok(self.encoded(parts))
    }

    fn encoded(&self, mut parts: Vec<Vec<u8>>) -> EncodedKey {
        let sk = if parts.len() > 1 {
            parts.pop().unwrap_or_default()
        } else {
            Vec::new()
        };
        let pk = parts.pop().unwrap_or_default();
        EncodedKey {
            hash: partition_hash(&pk),
            pk,
            sk,
        }
    }

    pub fn describe(&self) -> TableDescription {
        TableDescription {
            table_name: self.name.clone(),
            table_arn: self.arn(),
            table_id: format!("00000000-0000-4000-8000-{:012x}", self.id),
            table_status: "ACTIVE",
            creation_date_time_millis: self.created_ms,
            key_schema: self.key_schema(),
            attribute_definitions: self.attribute_definitions.clone(),
            billing_mode: self.billing_mode,
            provisioned_throughput: self.throughput,
            item_count: self.item_count,
            table_size_bytes: self.size_bytes,
            stream_specification: self.stream.map(|v| StreamSpecification {
                stream_enabled: true,
                stream_view_type: Some(v),
            }),
            latest_stream_label: self.stream.and(self.stream_label.clone()),
            latest_stream_arn: self.stream_arn(),
        }
    }
}

pub(crate) fn table_arn(name: &str) -> String {
    format!("arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}")
}

const SELECT_META: &str = "SELECT id, name, hash_name, hash_type, range_name, range_type, \
    attribute_definitions, billing_mode, read_capacity, write_capacity, stream_view_type, \
    stream_label, created_ms, item_count, size_bytes, next_seq FROM dynamodb_tables";

fn meta_from_row(row: &store::rusqlite::Row<'_>) -> store::rusqlite::Result<RawMeta> {
    Ok(RawMeta {
        id: row.get(0)?,
        name: row.get(1)?,
        hash_name: row.get(2)?,
        hash_type: row.get(3)?,
        range_name: row.get(4)?,
        range_type: row.get(5)?,
        attribute_definitions: row.get(6)?,
        billing_mode: row.get(7)?,
        read_capacity: row.get(8)?,
        write_capacity: row.get(9)?,
        stream_view_type: row.get(10)?,
        stream_label: row.get(11)?,
        created_ms: row.get(12)?,
        item_count: row.get(13)?,
        size_bytes: row.get(14)?,
        next_seq: row.get(15)?,
    })
}

struct RawMeta {
    id: i64,
    name: String,
    hash_name: String,
    hash_type: String,
    range_name: Option<String>,
    range_type: Option<String>,
    attribute_definitions: String,
    billing_mode: String,
    read_capacity: i64,
    write_capacity: i64,
    stream_view_type: Option<String>,
    stream_label: Option<String>,
    created_ms: i64,
    item_count: i64,
    size_bytes: i64,
    next_seq: i64,
}

fn damaged(what: &str) -> Error {
    Error::Internal(format!("the stored table definition is damaged: {what}"))
}

impl RawMeta {
    fn into_meta(self) -> Result<TableMeta, Error> {
        let scalar = |s: &str| ScalarType::parse(s).ok_or_else(|| damaged("key type"));
        let range = match (self.range_name, self.range_type) {
            (Some(n), Some(t)) => Some((n, scalar(&t)?)),
            _ => None,
        };
        let attribute_definitions = self
            .attribute_definitions
            .split('\n')
            .filter(|l| !l.is_empty())
            .map(|l| {
                let (ty, name) = l
                    .split_once(' ')
                    .ok_or_else(|| damaged("attribute definitions"))?;
                Ok(AttributeDefinition {
                    attribute_name: name.to_string(),
                    attribute_type: scalar(ty)?,
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        Ok(TableMeta {
            id: self.id,
            name: self.name,
            hash: (self.hash_name, scalar(&self.hash_type)?),
            range,
            attribute_definitions,
            billing_mode: if self.billing_mode == "PAY_PER_REQUEST" {
                BillingMode::PayPerRequest
            } else {
                BillingMode::Provisioned
            },
            throughput: ProvisionedThroughput {
                read_capacity_units: self.read_capacity,
                write_capacity_units: self.write_capacity,
            },
            stream: match self.stream_view_type {
                Some(s) => Some(s.parse().map_err(|_| damaged("stream view type"))?),
                None => None,
            },
            stream_label: self.stream_label,
            created_ms: self.created_ms,
            item_count: self.item_count,
            size_bytes: self.size_bytes,
            next_seq: self.next_seq,
        })
    }
}

fn not_found(name: &str) -> Error {
    Error::ResourceNotFound(format!(
        "Requested resource not found: Table: {name} not found"
    ))
}

/// The table named `name`, or ResourceNotFoundException.
pub(crate) fn load(conn: &Connection, name: &str) -> Result<TableMeta, Error> {
    let mut stmt = conn.prepare_cached(&format!("{SELECT_META} WHERE name = ?1"))?;
    let raw = stmt.query_row([name], meta_from_row).optional()?;
    raw.ok_or_else(|| not_found(name))?.into_meta()
}

pub(crate) fn load_by_id(conn: &Connection, id: i64) -> Result<Option<TableMeta>, Error> {
    let mut stmt = conn.prepare_cached(&format!("{SELECT_META} WHERE id = ?1"))?;
    let raw = stmt.query_row([id], meta_from_row).optional()?;
    raw.map(RawMeta::into_meta).transpose()
}

pub(crate) fn load_all(conn: &Connection) -> Result<Vec<TableMeta>, Error> {
    let mut stmt = conn.prepare_cached(&format!("{SELECT_META} ORDER BY name"))?;
    let rows = stmt.query_map([], meta_from_row)?;
    let mut out = Vec::new();
    for raw in rows {
        out.push(raw?.into_meta()?);
    }
    Ok(out)
}

/// Checks a table name by DynamoDB's rule: 3 to 255 of `a-z A-Z 0-9 _ - .`.
pub(crate) fn check_table_name(name: &str) -> Result<(), Error> {
    let ok_chars = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if name.len() < 3 || name.len() > MAX_TABLE_NAME || !ok_chars {
        return Err(Error::validation(format!(
            "1 validation error detected: Value '{name}' at 'tableName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+ and have length between 3 and 255"
        )));
    }
    Ok(())
}

/// Validates a CreateTable request and builds the row to insert.
pub(crate) fn validate_create(input: &CreateTableInput) -> Result<TableMeta, Error> {
    check_table_name(&input.table_name)?;
    let invalid =
        |m: String| Error::validation(format!("One or more parameter values were invalid: {m}"));
    let ks = &input.key_schema;
    if ks.is_empty() || ks.len() > 2 {
        return Err(Error::validation(
            "1 validation error detected: Value at 'keySchema' failed to satisfy constraint: Member must have length less than or equal to 2 and greater than or equal to 1",
        ));
    }
    if ks[0].key_type != KeyType::Hash {
        return Err(invalid(
            "Invalid KeySchema: The first KeySchemaElement is not a HASH key type".into(),
        ));
    }
    if ks.len() == 2 {
        if ks[1].key_type != KeyType::Range {
            return Err(invalid("Too many hash keys specified.  All Dynamo DB tables must have exactly one hash key".into()));
        }
        if ks[0].attribute_name == ks[1].attribute_name {
            return Err(invalid(
                "Both the Hash Key and the Range Key element in the KeySchema have the same name"
                    .into(),
            ));
        }
    }
    let defs = &input.attribute_definitions;
    for (i, d) in defs.iter().enumerate() {
        if defs[..i]
            .iter()
            .any(|o| o.attribute_name == d.attribute_name)
        {
            return Err(invalid(format!(
                "Cannot have two attributes with the same name; attribute name: {}",
                d.attribute_name
            )));
        }
    }
    let typed = |name: &str| -> Result<ScalarType, Error> {
        defs.iter()
            .find(|d| d.attribute_name == name)
            .map(|d| d.attribute_type)
            .ok_or_else(|| {
                invalid(format!(
                    "Some index key attributes are not defined in AttributeDefinitions. Keys: [{name}], AttributeDefinitions: [{}]",
                    defs.iter().map(|d| d.attribute_name.as_str()).collect::<Vec<_>>().join(", ")
                ))
            })
    };
    let hash = (ks[0].attribute_name.clone(), typed(&ks[0].attribute_name)?);
    let range = match ks.get(1) {
        Some(r) => Some((r.attribute_name.clone(), typed(&r.attribute_name)?)),
        None => None,
    };
    if defs.len() != ks.len() {
        return Err(invalid("Number of attributes in KeySchema does not exactly match number of attributes defined in AttributeDefinitions".into()));
    }
    let billing_mode = input.billing_mode.unwrap_or_default();
    let throughput = match (billing_mode, input.provisioned_throughput) {
        (BillingMode::Provisioned, Some(t)) => {
            if t.read_capacity_units < 1 || t.write_capacity_units < 1 {
                return Err(invalid(
                    "Cannot specify zero or negative values for provisioned throughput".into(),
                ));
            }
            t
        }
        (BillingMode::Provisioned, None) => {
            return Err(invalid("ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is PROVISIONED".into()));
        }
        (BillingMode::PayPerRequest, Some(_)) => {
            return Err(invalid("Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST".into()));
        }
        (BillingMode::PayPerRequest, None) => ProvisionedThroughput {
            read_capacity_units: 0,
            write_capacity_units: 0,
        },
    };
    let stream = match input.stream_specification {
        Some(StreamSpecification {
            stream_enabled: true,
            stream_view_type: Some(v),
        }) => Some(v),
        Some(StreamSpecification {
            stream_enabled: true,
            stream_view_type: None,
        }) => {
            return Err(invalid(
                "StreamViewType must be specified when StreamEnabled is true".into(),
            ));
        }
        Some(StreamSpecification {
            stream_enabled: false,
            stream_view_type: Some(_),
        }) => {
            return Err(invalid(
                "StreamViewType cannot be specified when StreamEnabled is false".into(),
            ));
        }
        _ => None,
    };
    Ok(TableMeta {
        id: 0,
        name: input.table_name.clone(),
        hash,
        range,
        attribute_definitions: defs.clone(),
        billing_mode,
        throughput,
        stream,
        stream_label: None,
        created_ms: 0,
        item_count: 0,
        size_bytes: 0,
        next_seq: 1,
    })
}

/// A table's stream counter starts at its creation time in milliseconds times this, so a table
/// created again under the same name (whose stream may keep its ARN: the deployer labels streams
/// as the template resolved them) numbers its records above every record of the table before,
/// and a reader's checkpoint from the old table skips none of the new ones. It would take a
/// million records per millisecond of the old table's life to reach the new table's start.
const SEQUENCES_PER_MS: i64 = 1_000_000;

/// Inserts a validated table; ResourceInUseException when the name is taken. Its stream, if it
/// has one, is labelled `stream_label`, or with the creation time as on AWS.
pub(crate) fn insert(
    conn: &Connection,
    mut meta: TableMeta,
    now_ms: i64,
    stream_label: Option<&str>,
) -> Result<TableMeta, Error> {
    let exists: Option<i64> = conn
        .prepare_cached("SELECT id FROM dynamodb_tables WHERE name = ?1")?
        .query_row([&meta.name], |r| r.get(0))
        .optional()?;
    if exists.is_some() {
        return Err(Error::ResourceInUse(format!(
            "Table already exists: {}",
            meta.name
        )));
    }
    meta.created_ms = now_ms;
    meta.next_seq = now_ms.max(0) * SEQUENCES_PER_MS + 1;
    meta.stream_label = meta
        .stream
        .map(|_| stream_label.map_or_else(|| iso_millis(now_ms), str::to_owned));
    let defs: String = meta
        .attribute_definitions
        .iter()
        .map(|d| format!("{} {}\n", d.attribute_type.as_str(), d.attribute_name))
        .collect();
    conn.execute(
        "INSERT INTO dynamodb_tables (name, hash_name, hash_type, range_name, range_type, \
         attribute_definitions, billing_mode, read_capacity, write_capacity, stream_view_type, \
         stream_label, created_ms, next_seq) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        params![
            meta.name,
            meta.hash.0,
            meta.hash.1.as_str(),
            meta.range.as_ref().map(|r| r.0.clone()),
            meta.range.as_ref().map(|r| r.1.as_str()),
            defs,
            meta.billing_mode.as_str(),
            meta.throughput.read_capacity_units,
            meta.throughput.write_capacity_units,
            meta.stream.map(|s| s.as_str()),
            meta.stream_label,
            now_ms,
            meta.next_seq,
        ],
    )?;
    meta.id = conn.last_insert_rowid();
    Ok(meta)
}

/// Turns a table's stream on with `view`, off (`None`), or to another view type, as
/// UpdateTable's StreamSpecification does. A changed stream is a new stream: it starts empty
/// (the records of the one before are dropped) and is labelled `stream_label`, or with the time.
/// Asking for the stream the table has changes nothing, but for its label when `stream_label`
/// names another one: the same stream, records and all, is renamed.
pub(crate) fn set_stream(
    conn: &Connection,
    name: &str,
    view: Option<StreamViewType>,
    stream_label: Option<&str>,
    now_ms: i64,
) -> Result<TableMeta, Error> {
    let mut meta = load(conn, name)?;
    if meta.stream == view {
        if let Some(label) =
            stream_label.filter(|l| view.is_some() && meta.stream_label.as_deref() != Some(l))
        {
            meta.stream_label = Some(label.to_owned());
            conn.execute(
                "UPDATE dynamodb_tables SET stream_label = ?2 WHERE id = ?1",
                params![meta.id, label],
            )?;
        }
        return Ok(meta);
    }
    conn.execute(
        "DELETE FROM dynamodb_stream_batches WHERE table_id = ?1",
        [meta.id],
    )?;
    meta.stream = view;
    meta.stream_label =
        view.map(|_| stream_label.map_or_else(|| iso_millis(now_ms), str::to_owned));
    conn.execute(
        "UPDATE dynamodb_tables SET stream_view_type = ?2, stream_label = ?3 WHERE id = ?1",
        params![meta.id, view.map(|v| v.as_str()), meta.stream_label],
    )?;
    Ok(meta)
}

/// Deletes a table with its items and stream records.
pub(crate) fn delete(conn: &Connection, name: &str) -> Result<TableMeta, Error> {
    let meta = load(conn, name)?;
    conn.execute("DELETE FROM dynamodb_items WHERE table_id = ?1", [meta.id])?;
    conn.execute(
        "DELETE FROM dynamodb_stream_batches WHERE table_id = ?1",
        [meta.id],
    )?;
    conn.execute("DELETE FROM dynamodb_tables WHERE id = ?1", [meta.id])?;
    Ok(meta)
}

/// ListTables: names in order, pages of at most `limit` (1 to 100).
pub(crate) fn list(conn: &Connection, input: &ListTablesInput) -> Result<ListTablesOutput, Error> {
    let limit = input.limit.unwrap_or(100);
    if !(1..=100).contains(&limit) {
        return Err(Error::validation(format!(
            "1 validation error detected: Value '{limit}' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 100"
        )));
    }
    let start = input.exclusive_start_table_name.clone().unwrap_or_default();
    let mut stmt = conn.prepare_cached(
        "SELECT name FROM dynamodb_tables WHERE name > ?1 ORDER BY name LIMIT ?2",
    )?;
    let names = stmt
        .query_map(params![start, (limit + 1) as i64], |r| {
            r.get::<_, String>(0)
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let more = names.len() > limit;
    let table_names: Vec<String> = names.into_iter().take(limit).collect();
    let last_evaluated_table_name = if more {
        table_names.last().cloned()
    } else {
        None
    };
    Ok(ListTablesOutput {
        table_names,
        last_evaluated_table_name,
    })
}

/// Stores the live counters and the next sequence number after a write.
pub(crate) fn save_counters(conn: &Connection, meta: &TableMeta) -> Result<(), Error> {
    conn.prepare_cached(
        "UPDATE dynamodb_tables SET item_count = ?2, size_bytes = ?3, next_seq = ?4 WHERE id = ?1",
    )?
    .execute(params![
        meta.id,
        meta.item_count,
        meta.size_bytes,
        meta.next_seq
    ])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use store::rusqlite::params;
    use store::{Options, Store};

    use super::MIGRATIONS;

    /// Every row written under version 1 is there under version 2, and the keys stay unique.
    #[test]
    fn version_2_keeps_every_item_and_stream_batch() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("state.db"), Options::default()).unwrap();
        store.migrate("dynamodb", &MIGRATIONS[..1]).unwrap();
        store
            .write(|c| {
                for i in 0..300i64 {
                    c.execute(
                        "INSERT INTO dynamodb_items (table_id, hash, pk, sk, item) VALUES (?1, ?2, ?3, ?4, ?5)",
                        params![1 + i % 2, i * 7, i.to_be_bytes().to_vec(), Vec::<u8>::new(), vec![i as u8; 50]],
                    )?;
                    c.execute(
                        "INSERT INTO dynamodb_stream_batches (table_id, last_seq, first_seq, created_ms, records) VALUES (?1, ?2, ?3, ?4, ?5)",
                        params![1 + i % 2, i + 1, i + 1, 1000 + i, vec![i as u8; 3000]],
                    )?;
                }
                Ok::<_, store::StoreError>(())
            })
            .unwrap();
        let dump = |store: &Store| -> (Vec<String>, Vec<String>) {
            store
                .read(|c| {
                    let rows = |sql: &str| -> store::rusqlite::Result<Vec<String>> {
                        let mut stmt = c.prepare(sql)?;
                        let out = stmt
                            .query_map([], |r| {
                                Ok((0..5)
                                    .map(|i| format!("{:?}", r.get_ref(i).unwrap()))
                                    .collect::<Vec<_>>()
                                    .join(" "))
                            })?
                            .collect();
                        out
                    };
                    Ok::<_, store::StoreError>((
                        rows("SELECT table_id, hash, pk, sk, item FROM dynamodb_items ORDER BY table_id, pk, sk")?,
                        rows("SELECT table_id, last_seq, first_seq, created_ms, records FROM dynamodb_stream_batches ORDER BY table_id, last_seq")?,
                    ))
                })
                .unwrap()
        };
        let before = dump(&store);
        store.migrate("dynamodb", MIGRATIONS).unwrap();
        assert_eq!(dump(&store), before);
        assert_eq!(before.0.len(), 300);
        assert_eq!(before.1.len(), 300);
        let duplicate = store.write(|c| {
            c.execute(
                "INSERT INTO dynamodb_items (table_id, hash, pk, sk, item) VALUES (1, 0, ?1, ?2, x'00')",
                params![0i64.to_be_bytes().to_vec(), Vec::<u8>::new()],
            )
            .map_err(store::StoreError::from)
        });
        assert!(duplicate.is_err(), "a second row under the same key");
        let rowids: i64 = store
            .read(|c| {
                c.query_row(
                    "SELECT count(rowid) FROM dynamodb_stream_batches",
                    [],
                    |r| r.get(0),
                )
                .map_err(store::StoreError::from)
            })
            .unwrap();
        assert_eq!(rowids, 300, "a rowid table");
    }
}
