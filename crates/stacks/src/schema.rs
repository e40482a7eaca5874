//! The registry's tables in the environment's store (component `stacks`). Never edit a released
//! migration; append one.
//!
//! - `stacks_stacks`: one row per stack ever deployed (deleted stacks stay as `DELETE_COMPLETE`).
//! - `stacks_resources`: the resources of the last complete state, with their resolved properties
//!   and a hash of them; `position` is the deployment order (removal runs in reverse).
//! - `stacks_exports` / `stacks_imports`: the export registry and who imports what.
//! - `stacks_events`: the event history, `seq` ascending in time.
//! - `stacks_operation` and `stacks_journal`: the running deploy or destroy (at most one row) and
//!   its write-ahead journal of engine changes, which recovery undoes or completes.

pub(crate) const MIGRATIONS: &[&str] = &[r#"
CREATE TABLE stacks_stacks (
    name            TEXT PRIMARY KEY,
    stack_id        TEXT NOT NULL,
    parent          TEXT,
    logical_id      TEXT,
    logical_path    TEXT NOT NULL,
    status          TEXT NOT NULL,
    status_reason   TEXT,
    template_file   TEXT NOT NULL,
    template_hash   TEXT NOT NULL,
    template_body   TEXT NOT NULL,
    parameters      TEXT NOT NULL,
    outputs         TEXT NOT NULL,
    created_ms      INTEGER NOT NULL,
    updated_ms      INTEGER,
    position        INTEGER NOT NULL
);
CREATE TABLE stacks_resources (
    stack           TEXT NOT NULL,
    logical_id      TEXT NOT NULL,
    type            TEXT NOT NULL,
    physical_id     TEXT NOT NULL,
    arn             TEXT,
    properties      TEXT NOT NULL,
    properties_hash TEXT NOT NULL,
    code_dir        TEXT,
    metadata        TEXT,
    deletion_policy TEXT,
    replace_policy  TEXT,
    status          TEXT NOT NULL,
    updated_ms      INTEGER NOT NULL,
    position        INTEGER NOT NULL,
    PRIMARY KEY (stack, logical_id)
);
CREATE INDEX stacks_resources_type ON stacks_resources (type);
CREATE TABLE stacks_exports (
    name    TEXT PRIMARY KEY,
    stack   TEXT NOT NULL,
    value   TEXT NOT NULL
);
CREATE TABLE stacks_imports (
    export  TEXT NOT NULL,
    stack   TEXT NOT NULL,
    PRIMARY KEY (export, stack)
);
CREATE TABLE stacks_events (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    stack       TEXT NOT NULL,
    logical_id  TEXT NOT NULL,
    physical_id TEXT NOT NULL,
    type        TEXT NOT NULL,
    status      TEXT NOT NULL,
    reason      TEXT,
    ts_ms       INTEGER NOT NULL
);
CREATE INDEX stacks_events_stack ON stacks_events (stack, seq);
CREATE TABLE stacks_operation (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    kind        TEXT NOT NULL,
    phase       TEXT NOT NULL,
    state       TEXT NOT NULL,
    started_ms  INTEGER NOT NULL
);
CREATE TABLE stacks_journal (
    seq     INTEGER PRIMARY KEY,
    step    TEXT NOT NULL
);
"#];
