//! [`Deployer`]: deploy, destroy and crash recovery of one environment.
//!
//! A deploy runs in three phases, each boundary one store write:
//! 1. **begin**: the operation row (`stacks_operation`, phase `apply`) and the stacks' `*_IN_PROGRESS`
//!    statuses are written together.
//! 2. **apply**: adds, modifications and replacements in deployment order. Each engine change is
//!    journaled (`stacks_journal`) in its own write before it is made. The registry's resources
//!    are not touched: they still describe the last complete state.
//! 3. **commit**: one write replaces the changed registry rows, exports and imports, clears the
//!    journal and moves the operation to phase `cleanup`, which lists the removals (and the old
//!    objects of renamed replacements). Cleanup then deletes them in reverse deployment order and
//!    a last write sets the final statuses and drops the operation row.
//!
//! A failure in phase 2 undoes the journal in reverse and marks the stacks `ROLLBACK_COMPLETE`
//! (new) or `UPDATE_ROLLBACK_COMPLETE`. A process killed in phase 2 leaves the operation row and
//! the journal: the next deploy or destroy ([`Deployer::recover`]) rolls them back first. A
//! process killed in cleanup has already committed; recovery completes the cleanup (removals are
//! never rolled back, as on AWS). Applying everything inside one store write is not possible: the
//! engines' operations are store writes of their own and may not nest. The undo of a replacement
//! recreates the old queue or table empty: that data loss was allowed with `--allow-data-loss`.
//!
//! One deploy or destroy per environment runs at a time (the CLI is the only writer of the
//! registry); events take their time from the injected [`store::Clock`].

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use dynamodb::DynamoDb;
use rusqlite::{params, Connection, OptionalExtension};
use sqs::Sqs;
use store::{Clock, Store};

use crate::desired::{Desired, DesiredResource, DesiredStack};
use crate::engines::{queue_name, Engines, Step};
use crate::plan::{self, Action, ChangeSet, StackAction};
use crate::registry::{query_exports, query_imports, query_resources, query_stacks};
use crate::{ResourceRecord, StackEvent, StackRecord, StacksError, QUEUE, TABLE};

/// What a deploy may do, and a hook between resources.
#[derive(Default)]
pub struct DeployOptions<'a> {
    /// Allow replacements and removals that delete a table's items or a queue's messages.
    pub allow_data_loss: bool,
    /// Called after each resource of the apply phase with the number of resources done (the CLI
    /// uses it to hold a deploy in place for its crash test).
    pub after_step: Option<&'a dyn Fn(usize)>,
}

/// What a deploy did.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The environment already matched.
    NoChanges,
    /// The change set, applied.
    Applied(ChangeSet),
}

/// A removal left for the cleanup phase.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Cleanup {
    stack: String,
    logical_id: String,
    type_: String,
    physical_id: String,
    retained: bool,
    /// False for the old object of a renamed replacement, whose row already describes the new one.
    remove_row: bool,
}

/// The running operation, as kept in `stacks_operation.state`.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
struct OpState {
    /// Stack name to (event logical id, stack id) for every stack the operation touches.
    stacks: BTreeMap<String, (String, String)>,
    created: Vec<String>,
    updated: Vec<String>,
    deleted: Vec<String>,
    cleanup: Vec<Cleanup>,
}

/// One journal row: which resource a step belongs to, and the step.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct JournalEntry {
    stack: String,
    logical_id: String,
    type_: String,
    physical_id: String,
    step: Step,
}

/// An event before it is stored.
struct NewEvent {
    stack: String,
    logical_id: String,
    physical_id: String,
    type_: String,
    status: String,
    reason: Option<String>,
}

const STACK_TYPE: &str = "AWS::CloudFormation::Stack";

fn insert_event(conn: &Connection, e: &NewEvent, now: i64) -> Result<StackEvent, StacksError> {
    conn.prepare_cached(
        "INSERT INTO stacks_events (stack, logical_id, physical_id, type, status, reason, ts_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        e.stack,
        e.logical_id,
        e.physical_id,
        e.type_,
        e.status,
        e.reason,
        now
    ])?;
    let seq = conn.last_insert_rowid();
    let stack_id: String = conn
        .prepare_cached("SELECT stack_id FROM stacks_stacks WHERE name = ?1")?
        .query_row([&e.stack], |r| r.get(0))
        .optional()?
        .unwrap_or_default();
    Ok(StackEvent {
        seq,
        event_id: format!("{}-{seq:08}", e.logical_id),
        stack: e.stack.clone(),
        stack_id,
        logical_id: e.logical_id.clone(),
        physical_id: e.physical_id.clone(),
        type_: e.type_.clone(),
        status: e.status.clone(),
        reason: e.reason.clone(),
        timestamp_ms: now,
    })
}

fn set_status(conn: &Connection, stack: &str, status: &str, now: i64) -> Result<(), StacksError> {
    conn.prepare_cached("UPDATE stacks_stacks SET status = ?2, updated_ms = ?3 WHERE name = ?1")?
        .execute(params![stack, status, now])?;
    Ok(())
}

fn stack_event(state: &OpState, stack: &str, status: &str, reason: Option<String>) -> NewEvent {
    let (logical_id, stack_id) = state
        .stacks
        .get(stack)
        .cloned()
        .unwrap_or_else(|| (stack.to_string(), String::new()));
    NewEvent {
        stack: stack.to_string(),
        logical_id,
        physical_id: stack_id,
        type_: STACK_TYPE.to_string(),
        status: status.to_string(),
        reason,
    }
}

fn write_stack_row(
    conn: &Connection,
    s: &DesiredStack,
    status: &str,
    position: usize,
    with_outputs: bool,
    now: i64,
) -> Result<(), StacksError> {
    let parameters =
        serde_json::to_string(&s.parameters).map_err(|e| StacksError::corrupt("parameters", e))?;
    let outputs = if with_outputs {
        serde_json::to_string(&s.outputs).map_err(|e| StacksError::corrupt("outputs", e))?
    } else {
        "[]".to_string()
    };
    conn.prepare_cached(
        "INSERT INTO stacks_stacks (name, stack_id, parent, logical_id, logical_path, status,
             status_reason, template_file, template_hash, template_body, parameters, outputs,
             created_ms, updated_ms, position)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL, ?7, ?8, ?9, ?10, ?11, ?12, NULL, ?13)
         ON CONFLICT (name) DO UPDATE SET stack_id = excluded.stack_id, parent = excluded.parent,
             logical_id = excluded.logical_id, logical_path = excluded.logical_path,
             status = excluded.status, status_reason = NULL,
             template_file = excluded.template_file, template_hash = excluded.template_hash,
             template_body = excluded.template_body, parameters = excluded.parameters,
             outputs = excluded.outputs, updated_ms = ?12, position = excluded.position",
    )?
    .execute(params![
        s.name,
        s.stack_id,
        s.parent,
        s.logical_id,
        s.logical_path.join("/"),
        status,
        s.template_file,
        s.template_hash,
        s.template_body,
        parameters,
        outputs,
        now,
        position as i64
    ])?;
    Ok(())
}

fn write_resource_row(
    conn: &Connection,
    r: &DesiredResource,
    status: &str,
    position: usize,
    now: i64,
) -> Result<(), StacksError> {
    let metadata = r.metadata.as_ref().map(|m| m.to_string());
    conn.prepare_cached(
        "INSERT OR REPLACE INTO stacks_resources (stack, logical_id, type, physical_id, arn,
             properties, properties_hash, code_dir, metadata, deletion_policy, replace_policy,
             status, updated_ms, position)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
    )?
    .execute(params![
        r.stack,
        r.logical_id,
        r.type_,
        r.physical_id,
        r.arn,
        r.properties.to_string(),
        r.properties_hash,
        r.code_dir,
        metadata,
        r.deletion_policy,
        r.update_replace_policy,
        status,
        now,
        position as i64
    ])?;
    Ok(())
}

fn load_op(conn: &Connection) -> Result<Option<(String, String, OpState)>, StacksError> {
    let row: Option<(String, String, String)> = conn
        .prepare_cached("SELECT kind, phase, state FROM stacks_operation")?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    match row {
        None => Ok(None),
        Some((kind, phase, state)) => {
            let state =
                serde_json::from_str(&state).map_err(|e| StacksError::corrupt("operation", e))?;
            Ok(Some((kind, phase, state)))
        }
    }
}

/// Deploys, destroys and recovers one environment: the registry and the engines it changes.
#[derive(Clone)]
pub struct Deployer {
    registry: crate::Registry,
    engines: Engines,
    clock: Arc<dyn Clock>,
}

type Observer<'o> = &'o mut dyn FnMut(&StackEvent);

impl Deployer {
    /// Opens the registry and both engines on `store`.
    pub fn new(store: Store, clock: Arc<dyn Clock>) -> Result<Deployer, StacksError> {
        let sqs = Sqs::new(store.clone(), Arc::clone(&clock), sqs::Config::default())
            .map_err(|e| StacksError::corrupt("SQS engine", e))?;
        let dynamodb = DynamoDb::new(store.clone(), Arc::clone(&clock))
            .map_err(|e| StacksError::corrupt("DynamoDB engine", e))?;
        Deployer::with_engines(store, clock, sqs, dynamodb)
    }

    /// Like [`Deployer::new`], with engines the caller already opened on the same store.
    pub fn with_engines(
        store: Store,
        clock: Arc<dyn Clock>,
        sqs: Sqs,
        dynamodb: DynamoDb,
    ) -> Result<Deployer, StacksError> {
        let base_url = format!("https://sqs.{}.amazonaws.com", sqs.config().region);
        Ok(Deployer {
            registry: crate::Registry::open(store)?,
            engines: Engines {
                sqs,
                dynamodb,
                base_url,
            },
            clock,
        })
    }

    pub fn registry(&self) -> &crate::Registry {
        &self.registry
    }

    pub fn sqs(&self) -> &Sqs {
        &self.engines.sqs
    }

    pub fn dynamodb(&self) -> &DynamoDb {
        &self.engines.dynamodb
    }

    fn store(&self) -> &Store {
        self.registry.store()
    }

    fn now(&self) -> i64 {
        self.clock.now_millis()
    }

    /// Records events in one write and shows them to the observer.
    fn events(&self, events: Vec<NewEvent>, observer: Observer<'_>) -> Result<(), StacksError> {
        let now = self.now();
        let stored = self
            .store()
            .write(move |conn| -> Result<Vec<StackEvent>, StacksError> {
                events.iter().map(|e| insert_event(conn, e, now)).collect()
            })?;
        for e in &stored {
            observer(e);
        }
        Ok(())
    }

    /// Gives every deployed table the stream its recorded properties ask for, under the label the
    /// template engine resolves (`RESOLVED_STREAM_LABEL`). Deploys keep them so; this brings an
    /// environment deployed before streams were labelled so (with their creation time) in line,
    /// renaming each stream and keeping its records. Cheap and idempotent: a few reads when all
    /// is in line.
    pub fn align_streams(&self) -> Result<(), StacksError> {
        for table in self.registry.resources_of_type(TABLE)? {
            self.engines
                .modify_table(&table.physical_id, &table.properties)
                .map_err(|message| StacksError::Align {
                    resource: format!("{}/{}", table.stack, table.logical_id),
                    message,
                })?;
        }
        Ok(())
    }

    /// The change set from the deployed state to `desired`, with the export rules checked.
    pub fn plan(&self, desired: &Desired) -> Result<ChangeSet, StacksError> {
        let (stacks, resources, exports, imports) =
            self.store().read(|conn| -> Result<_, StacksError> {
                Ok((
                    query_stacks(conn)?,
                    query_resources(conn, "", None)?,
                    query_exports(conn)?,
                    query_imports(conn)?,
                ))
            })?;
        plan::compute(desired, &stacks, &resources, &exports, &imports)
    }

    /// Rolls back (phase apply) or completes (phase cleanup) an operation a killed process left.
    /// Returns whether there was one.
    pub fn recover(&self, observer: Observer<'_>) -> Result<bool, StacksError> {
        let Some((_, phase, _)) = self.store().read(load_op)? else {
            return Ok(false);
        };
        if phase == "apply" {
            self.rollback(None, observer)?;
        } else {
            self.cleanup(observer)?;
        }
        Ok(true)
    }

    /// Deploys `desired`: recovers an interrupted operation, computes the change set, refuses
    /// data loss unless allowed, and applies it. On a failure the environment is rolled back and
    /// [`StacksError::Failed`] names the resource.
    pub fn deploy(
        &self,
        desired: &Desired,
        options: &DeployOptions<'_>,
        observer: Observer<'_>,
    ) -> Result<Outcome, StacksError> {
        self.recover(observer)?;
        let (stacks, resources, exports, imports) =
            self.store().read(|conn| -> Result<_, StacksError> {
                Ok((
                    query_stacks(conn)?,
                    query_resources(conn, "", None)?,
                    query_exports(conn)?,
                    query_imports(conn)?,
                ))
            })?;
        let changes = plan::compute(desired, &stacks, &resources, &exports, &imports)?;
        changes.check_data_loss(options.allow_data_loss)?;
        if changes.is_empty() {
            return Ok(Outcome::NoChanges);
        }
        let state = self.op_state(desired, &stacks, &resources, &changes);
        self.begin(desired, &state, observer)?;

        let current: HashMap<(&str, &str), &ResourceRecord> = resources
            .iter()
            .map(|r| {
                (
                    (r.resource.stack.as_str(), r.resource.logical_id.as_str()),
                    r,
                )
            })
            .collect();
        let by_key: HashMap<(&str, &str), &plan::Change> = changes
            .changes()
            .map(|c| ((c.stack.as_str(), c.logical_id.as_str()), c))
            .collect();
        let mut done = 0;
        for new in &desired.resources {
            let key = (new.stack.as_str(), new.logical_id.as_str());
            let Some(change) = by_key.get(&key) else {
                continue;
            };
            let (verb, action) = match change.action {
                Action::Add => ("CREATE", "create"),
                Action::Modify => ("UPDATE", "update"),
                Action::Replace => ("UPDATE", "replace"),
                Action::Remove => continue,
            };
            let event = |status: &str, reason: Option<String>| NewEvent {
                stack: new.stack.clone(),
                logical_id: new.logical_id.clone(),
                physical_id: new.physical_id.clone(),
                type_: new.type_.clone(),
                status: status.to_string(),
                reason,
            };
            let reason = if change.action == Action::Replace {
                Some("Requested update requires the creation of a new physical resource".into())
            } else {
                None
            };
            self.events(
                vec![event(&format!("{verb}_IN_PROGRESS"), reason)],
                observer,
            )?;
            if let Err(reason) = self.apply(change.action, new, current.get(&key).copied()) {
                self.events(
                    vec![event(&format!("{verb}_FAILED"), Some(reason.clone()))],
                    observer,
                )?;
                self.rollback(Some(reason.clone()), observer)?;
                return Err(StacksError::Failed {
                    stack: new.stack.clone(),
                    logical_id: new.logical_id.clone(),
                    type_: new.type_.clone(),
                    action,
                    reason,
                });
            }
            self.events(vec![event(&format!("{verb}_COMPLETE"), None)], observer)?;
            done += 1;
            if let Some(hook) = options.after_step {
                hook(done);
            }
        }
        self.commit(desired, &changes, &state, observer)?;
        self.cleanup(observer)?;
        Ok(Outcome::Applied(changes))
    }

    /// Deletes every stack of the environment in reverse deployment order. Resources with
    /// DeletionPolicy Retain stay in their engine and leave the registry.
    pub fn destroy(&self, observer: Observer<'_>) -> Result<Outcome, StacksError> {
        self.recover(observer)?;
        let desired = Desired::empty();
        let changes = self.plan(&desired)?;
        if changes.is_empty() {
            return Ok(Outcome::NoChanges);
        }
        let (stacks, resources) = self.store().read(|conn| -> Result<_, StacksError> {
            Ok((query_stacks(conn)?, query_resources(conn, "", None)?))
        })?;
        let state = self.op_state(&desired, &stacks, &resources, &changes);
        let now = self.now();
        let begin_state = state.clone();
        let stored = self.store().write(move |conn| -> Result<Vec<StackEvent>, StacksError> {
            let text = serde_json::to_string(&begin_state).map_err(|e| StacksError::corrupt("operation", e))?;
            conn.execute(
                "INSERT INTO stacks_operation (id, kind, phase, state, started_ms) VALUES (1, 'destroy', 'cleanup', ?1, ?2)",
                params![text, now],
            )?;
            let mut events = Vec::new();
            for s in begin_state.deleted.iter() {
                set_status(conn, s, "DELETE_IN_PROGRESS", now)?;
                events.push(insert_event(conn, &stack_event(&begin_state, s, "DELETE_IN_PROGRESS", Some("User Initiated".into())), now)?);
            }
            Ok(events)
        })?;
        for e in &stored {
            observer(e);
        }
        self.cleanup(observer)?;
        Ok(Outcome::Applied(changes))
    }

    fn op_state(
        &self,
        desired: &Desired,
        stacks: &[StackRecord],
        resources: &[ResourceRecord],
        changes: &ChangeSet,
    ) -> OpState {
        let mut state = OpState::default();
        for s in stacks {
            let id = s.logical_id.clone().unwrap_or_else(|| s.name.clone());
            state
                .stacks
                .insert(s.name.clone(), (id, s.stack_id.clone()));
        }
        for s in &desired.stacks {
            let id = s.logical_id.clone().unwrap_or_else(|| s.name.clone());
            state
                .stacks
                .insert(s.name.clone(), (id, s.stack_id.clone()));
        }
        for s in &changes.stacks {
            match s.action {
                StackAction::Create => state.created.push(s.stack.clone()),
                StackAction::Update => state.updated.push(s.stack.clone()),
                StackAction::Delete => state.deleted.push(s.stack.clone()),
            }
        }
        // Removals and the old objects of renamed replacements, in reverse deployment order.
        let by_key: HashMap<(&str, &str), &plan::Change> = changes
            .changes()
            .map(|c| ((c.stack.as_str(), c.logical_id.as_str()), c))
            .collect();
        for old in resources.iter().rev() {
            let r = &old.resource;
            let Some(c) = by_key.get(&(r.stack.as_str(), r.logical_id.as_str())) else {
                continue;
            };
            let renamed = c.action == Action::Replace && r.physical_id != c.physical_id;
            if c.action == Action::Remove || renamed {
                state.cleanup.push(Cleanup {
                    stack: r.stack.clone(),
                    logical_id: r.logical_id.clone(),
                    type_: r.type_.clone(),
                    physical_id: r.physical_id.clone(),
                    retained: c.retained,
                    remove_row: c.action == Action::Remove,
                });
            }
        }
        state
    }

    fn begin(
        &self,
        desired: &Desired,
        state: &OpState,
        observer: Observer<'_>,
    ) -> Result<(), StacksError> {
        let now = self.now();
        let state = state.clone();
        let created: Vec<(usize, DesiredStack)> = desired
            .stacks
            .iter()
            .enumerate()
            .filter(|(_, s)| state.created.contains(&s.name))
            .map(|(i, s)| (i, s.clone()))
            .collect();
        let stored = self.store().write(move |conn| -> Result<Vec<StackEvent>, StacksError> {
            let text = serde_json::to_string(&state).map_err(|e| StacksError::corrupt("operation", e))?;
            conn.execute(
                "INSERT INTO stacks_operation (id, kind, phase, state, started_ms) VALUES (1, 'deploy', 'apply', ?1, ?2)",
                params![text, now],
            )?;
            let mut events = Vec::new();
            for (i, s) in &created {
                write_stack_row(conn, s, "CREATE_IN_PROGRESS", *i, false, now)?;
                events.push(insert_event(conn, &stack_event(&state, &s.name, "CREATE_IN_PROGRESS", Some("User Initiated".into())), now)?);
            }
            for s in &state.updated {
                set_status(conn, s, "UPDATE_IN_PROGRESS", now)?;
                events.push(insert_event(conn, &stack_event(&state, s, "UPDATE_IN_PROGRESS", Some("User Initiated".into())), now)?);
            }
            for s in &state.deleted {
                set_status(conn, s, "UPDATE_IN_PROGRESS", now)?;
            }
            Ok(events)
        })?;
        for e in &stored {
            observer(e);
        }
        Ok(())
    }

    /// Journals `step`, then runs `change`. An engine call that fails changed nothing (each is one
    /// store write), so its journal entry is dropped again.
    fn step(
        &self,
        new: &DesiredResource,
        step: Step,
        change: impl FnOnce() -> Result<(), String>,
    ) -> Result<(), String> {
        let entry = JournalEntry {
            stack: new.stack.clone(),
            logical_id: new.logical_id.clone(),
            type_: new.type_.clone(),
            physical_id: new.physical_id.clone(),
            step,
        };
        let text = serde_json::to_string(&entry).map_err(|e| e.to_string())?;
        let seq = self
            .store()
            .write(move |conn| -> Result<i64, StacksError> {
                conn.prepare_cached("INSERT INTO stacks_journal (step) VALUES (?1)")?
                    .execute([text])?;
                Ok(conn.last_insert_rowid())
            })
            .map_err(|e| e.to_string())?;
        let outcome = change();
        if outcome.is_err() {
            // Best effort: an entry left behind undoes to nothing.
            let _ = self.store().write(move |conn| -> Result<(), StacksError> {
                conn.execute("DELETE FROM stacks_journal WHERE seq = ?1", [seq])?;
                Ok(())
            });
        }
        outcome
    }

    /// Makes one resource's engine changes, journaling each first. Types other than queues and
    /// tables live in the registry only.
    fn apply(
        &self,
        action: Action,
        new: &DesiredResource,
        old: Option<&ResourceRecord>,
    ) -> Result<(), String> {
        let props = &new.properties;
        let old_id = old.map(|o| o.resource.physical_id.clone());
        let old_properties = || {
            old.map(|o| o.resource.properties.clone())
                .unwrap_or_default()
        };
        match new.type_.as_str() {
            QUEUE => {
                let name = queue_name(&new.physical_id);
                let create = |check: bool| -> Result<(), String> {
                    if check && self.engines.queue_exists(&name)? {
                        return Err(format!("queue `{name}` already exists"));
                    }
                    self.step(new, Step::CreatedQueue { name: name.clone() }, || {
                        self.engines.create_queue(&name, props)
                    })
                };
                match action {
                    Action::Add => create(true),
                    Action::Modify => {
                        let previous = self.engines.queue_settings(&name)?;
                        self.step(
                            new,
                            Step::ModifiedQueue {
                                name: name.clone(),
                                previous,
                            },
                            || self.engines.modify_queue(&name, props),
                        )
                    }
                    Action::Replace => self.replace(
                        new,
                        queue_name(old_id.as_deref().unwrap_or("")) == name,
                        Step::DeletedQueue {
                            name: name.clone(),
                            properties: old_properties(),
                        },
                        || self.engines.delete_queue(&name),
                        create,
                    ),
                    Action::Remove => Ok(()),
                }
            }
            TABLE => {
                let name = new.physical_id.clone();
                let create = |check: bool| -> Result<(), String> {
                    if check && self.engines.table_exists(&name)? {
                        return Err(format!("table `{name}` already exists"));
                    }
                    // Validate the request before journaling, so a bad definition fails cleanly.
                    crate::engines::table_request(&name, props)?;
                    self.step(new, Step::CreatedTable { name: name.clone() }, || {
                        self.engines.create_table(&name, props)
                    })
                };
                match action {
                    Action::Add => create(true),
                    Action::Modify => {
                        crate::engines::table_request(&name, props)?;
                        self.step(
                            new,
                            Step::ModifiedTable {
                                name: name.clone(),
                                previous: old_properties(),
                            },
                            || self.engines.modify_table(&name, props),
                        )
                    }
                    Action::Remove => Ok(()),
                    Action::Replace => self.replace(
                        new,
                        old_id.as_deref() == Some(name.as_str()),
                        Step::DeletedTable {
                            name: name.clone(),
                            properties: old_properties(),
                        },
                        || self.engines.delete_table(&name),
                        create,
                    ),
                }
            }
            _ => Ok(()),
        }
    }

    /// Replaces a queue or table. One that keeps its name is deleted first (journaled as `deleted`,
    /// so that a rollback recreates it); one with a new name is created beside the old, which the
    /// cleanup after the deploy removes. `create(check)` creates the new one, refusing a name
    /// already taken when `check` is set.
    fn replace(
        &self,
        new: &DesiredResource,
        same_name: bool,
        deleted: Step,
        delete: impl FnOnce() -> Result<(), String>,
        create: impl Fn(bool) -> Result<(), String>,
    ) -> Result<(), String> {
        if same_name {
            self.step(new, deleted, delete)?;
            create(false)
        } else {
            create(true)
        }
    }

    /// Undoes the journal in reverse and marks the stacks rolled back. `reason` is the failure
    /// that caused it (`None` when recovering from a killed process).
    fn rollback(&self, reason: Option<String>, observer: Observer<'_>) -> Result<(), StacksError> {
        let Some((_, _, state)) = self.store().read(load_op)? else {
            return Ok(());
        };
        let reason = reason.unwrap_or_else(|| "The previous deploy was interrupted".to_string());
        let mut start = Vec::new();
        for s in &state.created {
            start.push(stack_event(
                &state,
                s,
                "ROLLBACK_IN_PROGRESS",
                Some(reason.clone()),
            ));
        }
        for s in state.updated.iter().chain(&state.deleted) {
            start.push(stack_event(
                &state,
                s,
                "UPDATE_ROLLBACK_IN_PROGRESS",
                Some(reason.clone()),
            ));
        }
        self.events(start, observer)?;
        let entries: Vec<(i64, String)> = self.store().read(|conn| -> Result<_, StacksError> {
            let mut stmt =
                conn.prepare_cached("SELECT seq, step FROM stacks_journal ORDER BY seq DESC")?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })?;
        let mut failed = false;
        for (seq, text) in entries {
            let entry: JournalEntry = serde_json::from_str(&text)
                .map_err(|e| StacksError::corrupt("journal entry", e))?;
            let outcome = self.engines.undo(&entry.step);
            let status = match (&entry.step, &outcome) {
                (_, Err(_)) => "DELETE_FAILED",
                (Step::CreatedQueue { .. } | Step::CreatedTable { .. }, Ok(())) => {
                    "DELETE_COMPLETE"
                }
                (_, Ok(())) => "UPDATE_COMPLETE",
            };
            failed |= outcome.is_err();
            let event = NewEvent {
                stack: entry.stack,
                logical_id: entry.logical_id,
                physical_id: entry.physical_id,
                type_: entry.type_,
                status: status.to_string(),
                reason: outcome.err(),
            };
            let now = self.now();
            let stored = self
                .store()
                .write(move |conn| -> Result<StackEvent, StacksError> {
                    conn.prepare_cached("DELETE FROM stacks_journal WHERE seq = ?1")?
                        .execute([seq])?;
                    insert_event(conn, &event, now)
                })?;
            observer(&stored);
        }
        let now = self.now();
        let stored = self
            .store()
            .write(move |conn| -> Result<Vec<StackEvent>, StacksError> {
                let mut events = Vec::new();
                let (created, updated) = if failed {
                    ("ROLLBACK_FAILED", "UPDATE_ROLLBACK_FAILED")
                } else {
                    ("ROLLBACK_COMPLETE", "UPDATE_ROLLBACK_COMPLETE")
                };
                for s in &state.created {
                    set_status(conn, s, created, now)?;
                    conn.execute(
                        "UPDATE stacks_stacks SET status_reason = ?2 WHERE name = ?1",
                        params![s, reason],
                    )?;
                    events.push(insert_event(
                        conn,
                        &stack_event(&state, s, created, None),
                        now,
                    )?);
                }
                for s in state.updated.iter().chain(&state.deleted) {
                    set_status(conn, s, updated, now)?;
                    events.push(insert_event(
                        conn,
                        &stack_event(&state, s, updated, None),
                        now,
                    )?);
                }
                conn.execute("DELETE FROM stacks_journal", [])?;
                conn.execute("DELETE FROM stacks_operation", [])?;
                Ok(events)
            })?;
        for e in &stored {
            observer(e);
        }
        Ok(())
    }

    /// The one write that makes the new state the registry's: resources, stacks, exports and
    /// imports; the operation moves on to its cleanup.
    fn commit(
        &self,
        desired: &Desired,
        changes: &ChangeSet,
        state: &OpState,
        observer: Observer<'_>,
    ) -> Result<(), StacksError> {
        let now = self.now();
        let desired = desired.clone();
        let state = state.clone();
        let actions: HashMap<(String, String), Action> = changes
            .changes()
            .map(|c| ((c.stack.clone(), c.logical_id.clone()), c.action))
            .collect();
        let stored = self.store().write(move |conn| -> Result<Vec<StackEvent>, StacksError> {
            for (i, r) in desired.resources.iter().enumerate() {
                match actions.get(&(r.stack.clone(), r.logical_id.clone())) {
                    Some(Action::Add) => write_resource_row(conn, r, "CREATE_COMPLETE", i, now)?,
                    Some(Action::Modify | Action::Replace) => {
                        write_resource_row(conn, r, "UPDATE_COMPLETE", i, now)?
                    }
                    _ => {
                        conn.prepare_cached(
                            "UPDATE stacks_resources SET position = ?3 WHERE stack = ?1 AND logical_id = ?2",
                        )?
                        .execute(params![r.stack, r.logical_id, i as i64])?;
                    }
                }
            }
            let cleaning: BTreeSet<&str> = state.cleanup.iter().map(|c| c.stack.as_str()).collect();
            let mut events = Vec::new();
            for (i, s) in desired.stacks.iter().enumerate() {
                let status = if state.created.contains(&s.name) {
                    "CREATE_COMPLETE"
                } else if state.updated.contains(&s.name) {
                    if cleaning.contains(s.name.as_str()) {
                        "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"
                    } else {
                        "UPDATE_COMPLETE"
                    }
                } else {
                    conn.prepare_cached("UPDATE stacks_stacks SET position = ?2 WHERE name = ?1")?
                        .execute(params![s.name, i as i64])?;
                    continue;
                };
                write_stack_row(conn, s, status, i, true, now)?;
                events.push(insert_event(conn, &stack_event(&state, &s.name, status, None), now)?);
            }
            conn.execute("DELETE FROM stacks_exports", [])?;
            for (name, (stack, value)) in &desired.exports {
                conn.prepare_cached("INSERT INTO stacks_exports (name, stack, value) VALUES (?1, ?2, ?3)")?
                    .execute(params![name, stack, value])?;
            }
            conn.execute("DELETE FROM stacks_imports", [])?;
            for (export, stack) in &desired.imports {
                conn.prepare_cached("INSERT OR IGNORE INTO stacks_imports (export, stack) VALUES (?1, ?2)")?
                    .execute(params![export, stack])?;
            }
            conn.execute("DELETE FROM stacks_journal", [])?;
            conn.execute("UPDATE stacks_operation SET phase = 'cleanup'", [])?;
            Ok(events)
        })?;
        for e in &stored {
            observer(e);
        }
        Ok(())
    }

    /// Deletes what the committed operation removed, then sets the final statuses. Idempotent:
    /// recovery runs it again after a kill.
    fn cleanup(&self, observer: Observer<'_>) -> Result<(), StacksError> {
        let Some((kind, _, state)) = self.store().read(load_op)? else {
            return Ok(());
        };
        for c in &state.cleanup {
            let still_there = self.store().read(|conn| -> Result<bool, StacksError> {
                Ok(conn
                    .prepare_cached("SELECT 1 FROM stacks_resources WHERE stack = ?1 AND logical_id = ?2 AND physical_id = ?3")?
                    .query_row(params![c.stack, c.logical_id, c.physical_id], |_| Ok(()))
                    .optional()?
                    .is_some())
            })?;
            if c.remove_row && !still_there {
                continue; // Done before a kill.
            }
            let event = |status: &str, reason: Option<String>| NewEvent {
                stack: c.stack.clone(),
                logical_id: c.logical_id.clone(),
                physical_id: c.physical_id.clone(),
                type_: c.type_.clone(),
                status: status.to_string(),
                reason,
            };
            let outcome = if c.retained {
                Ok(())
            } else {
                self.events(vec![event("DELETE_IN_PROGRESS", None)], observer)?;
                match c.type_.as_str() {
                    QUEUE => self.engines.delete_queue(&queue_name(&c.physical_id)),
                    TABLE => self.engines.delete_table(&c.physical_id),
                    _ => Ok(()),
                }
            };
            let final_event = match (&outcome, c.retained) {
                (Err(e), _) => event("DELETE_FAILED", Some(e.clone())),
                (Ok(()), true) => event("DELETE_SKIPPED", Some("DeletionPolicy Retain".into())),
                (Ok(()), false) => event("DELETE_COMPLETE", None),
            };
            let now = self.now();
            let (stack, logical_id, physical_id, remove_row) = (
                c.stack.clone(),
                c.logical_id.clone(),
                c.physical_id.clone(),
                c.remove_row,
            );
            let stored = self.store().write(move |conn| -> Result<StackEvent, StacksError> {
                if remove_row {
                    conn.prepare_cached(
                        "DELETE FROM stacks_resources WHERE stack = ?1 AND logical_id = ?2 AND physical_id = ?3",
                    )?
                    .execute(params![stack, logical_id, physical_id])?;
                }
                insert_event(conn, &final_event, now)
            })?;
            observer(&stored);
        }
        let now = self.now();
        let stored = self
            .store()
            .write(move |conn| -> Result<Vec<StackEvent>, StacksError> {
                let mut events = Vec::new();
                if kind == "deploy" {
                    let cleaning: BTreeSet<&str> =
                        state.cleanup.iter().map(|c| c.stack.as_str()).collect();
                    for s in &state.updated {
                        if cleaning.contains(s.as_str()) {
                            set_status(conn, s, "UPDATE_COMPLETE", now)?;
                            events.push(insert_event(
                                conn,
                                &stack_event(&state, s, "UPDATE_COMPLETE", None),
                                now,
                            )?);
                        }
                    }
                }
                for s in &state.deleted {
                    conn.execute("DELETE FROM stacks_resources WHERE stack = ?1", [s])?;
                    conn.execute("DELETE FROM stacks_exports WHERE stack = ?1", [s])?;
                    conn.execute("DELETE FROM stacks_imports WHERE stack = ?1", [s])?;
                    conn.execute(
                        "UPDATE stacks_stacks SET outputs = '[]' WHERE name = ?1",
                        [s],
                    )?;
                    set_status(conn, s, "DELETE_COMPLETE", now)?;
                    events.push(insert_event(
                        conn,
                        &stack_event(&state, s, "DELETE_COMPLETE", None),
                        now,
                    )?);
                }
                conn.execute("DELETE FROM stacks_operation", [])?;
                Ok(events)
            })?;
        for e in &stored {
            observer(e);
        }
        Ok(())
    }
}
