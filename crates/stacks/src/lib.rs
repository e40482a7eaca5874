//! The deployed stacks of one environment, and the local deploy that creates them.
//!
//! The registry lives in the environment's one store (component `stacks`) beside the engines'
//! tables: stacks (status, template, parameters, outputs), their resources with resolved
//! properties ([`DeployedResource`]), exports, imports and the event history. [`Registry`] reads
//! it; the runtime, metrics and notification crates take their definitions from
//! [`Registry::resources_of_type`].
//!
//! A deploy ([`Deployer::deploy`]) turns a resolved [`template::Project`] into a [`Desired`]
//! state, computes the [`ChangeSet`] against the registry, refuses what CloudFormation refuses
//! (an export in use, data loss without `allow_data_loss`) before changing anything, then creates
//! queues (with their redrive) and tables (with their streams) in the `sqs` and `dynamodb`
//! engines in dependency order and records every other type in the registry only. `deploy.rs`
//! explains how a failure, or a process killed part-way, rolls back to the last complete state.
//!
//! Layout: `registry.rs` (reads and record types), `desired.rs` (the project as a target state),
//! `plan.rs` (change sets and the export and data-loss rules), `deploy.rs` (apply, rollback,
//! cleanup, destroy, recovery), `engines.rs` (CloudFormation properties to engine requests, the
//! journaled steps and their undo), `schema.rs` (tables), `error.rs`.

mod deploy;
mod desired;
mod engines;
mod error;
mod plan;
mod registry;
mod schema;

pub use deploy::{DeployOptions, Deployer, Outcome};
pub use desired::{stack_id, value_text, Desired, DesiredResource, DesiredStack};
pub use error::StacksError;
pub use plan::{diff_paths, Action, Change, ChangeSet, StackAction, StackChange};
pub use registry::{
    DeployedResource, ExportRecord, ImportRecord, OutputRecord, Registry, ResourceRecord,
    StackEvent, StackRecord,
};

/// The queue type: created in the `sqs` engine.
pub const QUEUE: &str = "AWS::SQS::Queue";
/// The table type: created in the `dynamodb` engine.
pub const TABLE: &str = "AWS::DynamoDB::Table";
