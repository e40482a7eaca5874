//! [`Registry`]: reads of the deployed state of one environment. Everything here is a read on a
//! pooled store connection (a consistent snapshot of the last commit); the writes belong to the
//! deploy (`deploy.rs`), which changes the registry only in whole steps.

use std::path::PathBuf;

use rusqlite::{Connection, OptionalExtension, Row};
use store::Store;

use crate::{schema, StacksError};

/// One deployed resource, as the runtime, metrics and notification crates read it.
#[derive(Debug, Clone, PartialEq)]
pub struct DeployedResource {
    /// Physical stack name, e.g. `cascade-Queues`.
    pub stack: String,
    pub logical_id: String,
    /// Plain CloudFormation type after the SAM transform.
    pub type_: String,
    /// What `Ref` gives: queue URL, table name, function name, role name, topic ARN.
    pub physical_id: String,
    pub arn: Option<String>,
    /// Resolved CloudFormation properties (AWS's property names).
    pub properties: serde_json::Value,
    /// Lambda functions: the absolute `CodeUri` folder.
    pub code_dir: Option<PathBuf>,
    /// The resource's `Metadata` (`BuildMethod`...).
    pub metadata: Option<serde_json::Value>,
}

/// A deployed resource with its registry bookkeeping.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceRecord {
    pub resource: DeployedResource,
    /// `CREATE_COMPLETE`, `UPDATE_COMPLETE`.
    pub status: String,
    pub updated_ms: i64,
    pub deletion_policy: Option<String>,
    pub update_replace_policy: Option<String>,
    /// SHA-256 of the canonical JSON of `properties`.
    pub properties_hash: String,
}

/// One output of a deployed stack.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct OutputRecord {
    pub key: String,
    pub value: String,
    pub description: Option<String>,
    pub export_name: Option<String>,
}

/// One stack of the environment (deleted stacks stay, as `DELETE_COMPLETE`).
#[derive(Debug, Clone, PartialEq)]
pub struct StackRecord {
    pub name: String,
    /// `arn:aws:cloudformation:<region>:<account>:stack/<name>/<uuid>`.
    pub stack_id: String,
    /// The parent stack's name, for nested stacks.
    pub parent: Option<String>,
    /// The nested-stack resource's logical id in the parent.
    pub logical_id: Option<String>,
    /// Logical ids from the root; empty for the root.
    pub logical_path: Vec<String>,
    pub status: String,
    pub status_reason: Option<String>,
    /// Template file relative to the root template's folder.
    pub template_file: String,
    /// SHA-256 of the template text.
    pub template_hash: String,
    pub parameters: Vec<(String, String)>,
    pub outputs: Vec<OutputRecord>,
    pub created_ms: i64,
    pub updated_ms: Option<i64>,
}

/// One export of the environment.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportRecord {
    pub name: String,
    pub value: String,
    /// The exporting stack's name.
    pub stack: String,
    pub stack_id: String,
}

/// One stack importing one export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportRecord {
    pub export: String,
    pub stack: String,
}

/// One entry of the event history.
#[derive(Debug, Clone, PartialEq)]
pub struct StackEvent {
    /// Ascending in time across the environment.
    pub seq: i64,
    pub event_id: String,
    pub stack: String,
    pub stack_id: String,
    /// The resource, or the stack's own logical id (its name for the root) for stack events.
    pub logical_id: String,
    pub physical_id: String,
    pub type_: String,
    /// `CREATE_IN_PROGRESS`, `CREATE_COMPLETE`, `UPDATE_ROLLBACK_COMPLETE`...
    pub status: String,
    pub reason: Option<String>,
    pub timestamp_ms: i64,
}

/// The registry of deployed stacks of one environment's store.
#[derive(Clone)]
pub struct Registry {
    store: Store,
}

pub(crate) const RESOURCE_COLUMNS: &str = "stack, logical_id, type, physical_id, arn, properties, \
     code_dir, metadata, status, updated_ms, deletion_policy, replace_policy, properties_hash";

pub(crate) fn resource_row(row: &Row<'_>) -> rusqlite::Result<RawResource> {
    Ok(RawResource {
        stack: row.get(0)?,
        logical_id: row.get(1)?,
        type_: row.get(2)?,
        physical_id: row.get(3)?,
        arn: row.get(4)?,
        properties: row.get(5)?,
        code_dir: row.get(6)?,
        metadata: row.get(7)?,
        status: row.get(8)?,
        updated_ms: row.get(9)?,
        deletion_policy: row.get(10)?,
        replace_policy: row.get(11)?,
        properties_hash: row.get(12)?,
    })
}

/// A resource row before its JSON columns are decoded (decoding errors are ours, not SQLite's).
pub(crate) struct RawResource {
    stack: String,
    logical_id: String,
    type_: String,
    physical_id: String,
    arn: Option<String>,
    properties: String,
    code_dir: Option<String>,
    metadata: Option<String>,
    status: String,
    updated_ms: i64,
    deletion_policy: Option<String>,
    replace_policy: Option<String>,
    properties_hash: String,
}

impl RawResource {
    pub(crate) fn decode(self) -> Result<ResourceRecord, StacksError> {
        let what = || format!("resource `{}/{}`", self.stack, self.logical_id);
        let properties =
            serde_json::from_str(&self.properties).map_err(|e| StacksError::corrupt(&what(), e))?;
        let metadata = match &self.metadata {
            Some(m) => Some(serde_json::from_str(m).map_err(|e| StacksError::corrupt(&what(), e))?),
            None => None,
        };
        Ok(ResourceRecord {
            resource: DeployedResource {
                stack: self.stack,
                logical_id: self.logical_id,
                type_: self.type_,
                physical_id: self.physical_id,
                arn: self.arn,
                properties,
                code_dir: self.code_dir.map(PathBuf::from),
                metadata,
            },
            status: self.status,
            updated_ms: self.updated_ms,
            deletion_policy: self.deletion_policy,
            update_replace_policy: self.replace_policy,
            properties_hash: self.properties_hash,
        })
    }
}

pub(crate) fn query_resources(
    conn: &Connection,
    filter: &str,
    param: Option<&str>,
) -> Result<Vec<ResourceRecord>, StacksError> {
    let sql =
        format!("SELECT {RESOURCE_COLUMNS} FROM stacks_resources {filter} ORDER BY position, stack, logical_id");
    let mut stmt = conn.prepare_cached(&sql)?;
    let raws: Vec<RawResource> = match param {
        Some(p) => stmt
            .query_map([p], resource_row)?
            .collect::<Result<_, _>>()?,
        None => stmt
            .query_map([], resource_row)?
            .collect::<Result<_, _>>()?,
    };
    raws.into_iter().map(RawResource::decode).collect()
}

const STACK_COLUMNS: &str = "name, stack_id, parent, logical_id, logical_path, status, \
     status_reason, template_file, template_hash, parameters, outputs, created_ms, updated_ms";

type RawStack = (
    (String, String, Option<String>, Option<String>, String),
    (String, Option<String>, String, String),
    (String, String, i64, Option<i64>),
);

fn stack_row(row: &Row<'_>) -> rusqlite::Result<RawStack> {
    Ok((
        (
            row.get(0)?,
            row.get(1)?,
            row.get(2)?,
            row.get(3)?,
            row.get(4)?,
        ),
        (row.get(5)?, row.get(6)?, row.get(7)?, row.get(8)?),
        (row.get(9)?, row.get(10)?, row.get(11)?, row.get(12)?),
    ))
}

fn decode_stack(raw: RawStack) -> Result<StackRecord, StacksError> {
    let ((name, stack_id, parent, logical_id, path), (status, reason, file, hash), rest) = raw;
    let (parameters, outputs, created_ms, updated_ms) = rest;
    let what = format!("stack `{name}`");
    let parameters: Vec<(String, String)> =
        serde_json::from_str(&parameters).map_err(|e| StacksError::corrupt(&what, e))?;
    let outputs: Vec<OutputRecord> =
        serde_json::from_str(&outputs).map_err(|e| StacksError::corrupt(&what, e))?;
    Ok(StackRecord {
        name,
        stack_id,
        parent,
        logical_id,
        logical_path: if path.is_empty() {
            Vec::new()
        } else {
            path.split('/').map(str::to_string).collect()
        },
        status,
        status_reason: reason,
        template_file: file,
        template_hash: hash,
        parameters,
        outputs,
        created_ms,
        updated_ms,
    })
}

pub(crate) fn query_stacks(conn: &Connection) -> Result<Vec<StackRecord>, StacksError> {
    let sql = format!("SELECT {STACK_COLUMNS} FROM stacks_stacks ORDER BY position, name");
    let mut stmt = conn.prepare_cached(&sql)?;
    let raws: Vec<RawStack> = stmt.query_map([], stack_row)?.collect::<Result<_, _>>()?;
    raws.into_iter().map(decode_stack).collect()
}

pub(crate) fn query_imports(conn: &Connection) -> Result<Vec<ImportRecord>, StacksError> {
    let mut stmt =
        conn.prepare_cached("SELECT export, stack FROM stacks_imports ORDER BY export, stack")?;
    let rows = stmt
        .query_map([], |r| {
            Ok(ImportRecord {
                export: r.get(0)?,
                stack: r.get(1)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

pub(crate) fn query_exports(conn: &Connection) -> Result<Vec<ExportRecord>, StacksError> {
    let mut stmt = conn.prepare_cached(
        "SELECT e.name, e.value, e.stack, coalesce(s.stack_id, '') FROM stacks_exports e
         LEFT JOIN stacks_stacks s ON s.name = e.stack ORDER BY e.name",
    )?;
    let rows = stmt
        .query_map([], |r| {
            Ok(ExportRecord {
                name: r.get(0)?,
                value: r.get(1)?,
                stack: r.get(2)?,
                stack_id: r.get(3)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

impl Registry {
    /// Opens the registry on `store`, applying its schema migrations.
    pub fn open(store: Store) -> Result<Registry, StacksError> {
        store.migrate("stacks", schema::MIGRATIONS)?;
        Ok(Registry { store })
    }

    /// The store underneath.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Every deployed resource of every stack, in deployment order.
    pub fn resources(&self) -> Result<Vec<DeployedResource>, StacksError> {
        Ok(self
            .store
            .read(|conn| query_resources(conn, "", None))?
            .into_iter()
            .map(|r| r.resource)
            .collect())
    }

    /// The deployed resources of one CloudFormation type (`AWS::Lambda::Function`...).
    pub fn resources_of_type(&self, type_: &str) -> Result<Vec<DeployedResource>, StacksError> {
        Ok(self
            .store
            .read(|conn| query_resources(conn, "WHERE type = ?1", Some(type_)))?
            .into_iter()
            .map(|r| r.resource)
            .collect())
    }

    /// The resources of one stack with their status.
    pub fn stack_resources(&self, stack: &str) -> Result<Vec<ResourceRecord>, StacksError> {
        self.store
            .read(|conn| query_resources(conn, "WHERE stack = ?1", Some(stack)))
    }

    /// Every stack, the root first, then nested stacks in deployment order; deleted ones included.
    pub fn stacks(&self) -> Result<Vec<StackRecord>, StacksError> {
        self.store.read(query_stacks)
    }

    /// One stack by name or stack id.
    pub fn stack(&self, name_or_id: &str) -> Result<Option<StackRecord>, StacksError> {
        Ok(self
            .stacks()?
            .into_iter()
            .find(|s| s.name == name_or_id || s.stack_id == name_or_id))
    }

    /// Every export, by name.
    pub fn exports(&self) -> Result<Vec<ExportRecord>, StacksError> {
        self.store.read(query_exports)
    }

    /// Every (export, importing stack) pair.
    pub fn imports(&self) -> Result<Vec<ImportRecord>, StacksError> {
        self.store.read(query_imports)
    }

    /// The event history, newest first; of one stack when `stack` is given.
    pub fn events(&self, stack: Option<&str>) -> Result<Vec<StackEvent>, StacksError> {
        self.store.read(|conn| -> Result<_, StacksError> {
            let mut stmt = conn.prepare_cached(
                "SELECT e.seq, e.stack, coalesce(s.stack_id, ''), e.logical_id, e.physical_id,
                        e.type, e.status, e.reason, e.ts_ms
                 FROM stacks_events e LEFT JOIN stacks_stacks s ON s.name = e.stack
                 WHERE ?1 IS NULL OR e.stack = ?1 ORDER BY e.seq DESC",
            )?;
            let rows = stmt
                .query_map([stack], |r| {
                    let seq: i64 = r.get(0)?;
                    let logical_id: String = r.get(3)?;
                    Ok(StackEvent {
                        seq,
                        event_id: format!("{logical_id}-{seq:08}"),
                        stack: r.get(1)?,
                        stack_id: r.get(2)?,
                        logical_id,
                        physical_id: r.get(4)?,
                        type_: r.get(5)?,
                        status: r.get(6)?,
                        reason: r.get(7)?,
                        timestamp_ms: r.get(8)?,
                    })
                })?
                .collect::<Result<_, _>>()?;
            Ok(rows)
        })
    }

    /// The template text a stack was last deployed with.
    pub fn template(&self, stack: &str) -> Result<Option<String>, StacksError> {
        let stack = stack.to_string();
        self.store.read(move |conn| -> Result<_, StacksError> {
            Ok(conn
                .prepare_cached(
                    "SELECT template_body FROM stacks_stacks WHERE name = ?1 OR stack_id = ?1",
                )?
                .query_row([&stack], |r| r.get(0))
                .optional()?)
        })
    }

    /// The kind (`deploy` or `destroy`) of an operation a killed process left unfinished.
    pub fn interrupted(&self) -> Result<Option<String>, StacksError> {
        self.store.read(|conn| -> Result<_, StacksError> {
            Ok(conn
                .prepare_cached("SELECT kind FROM stacks_operation")?
                .query_row([], |r| r.get(0))
                .optional()?)
        })
    }
}
