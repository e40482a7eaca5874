//! [`StacksError`]: what a deploy, plan, destroy or registry read can fail with. The variants a
//! caller branches on (data loss, exports in use, a failed and rolled-back deploy) carry what the
//! user needs to see: the resources, the export and the importing stacks by name.

use store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum StacksError {
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// A row of the registry that does not decode (written by a newer or broken version).
    #[error("the deployed-stack registry holds an unreadable {what}: {reason}")]
    Corrupt { what: String, reason: String },
    /// Replacements or removals that delete a table's items or a queue's messages.
    #[error(
        "this change deletes data and needs --allow-data-loss:\n{}",
        .changes.iter().map(|c| format!("  - {c}")).collect::<Vec<_>>().join("\n")
    )]
    DataLoss { changes: Vec<String> },
    /// An export that another stack imports would be removed or changed.
    #[error(
        "cannot {change} export `{export}` of stack `{stack}`: it is imported by {}",
        .importers.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", ")
    )]
    ExportInUse {
        export: String,
        stack: String,
        /// `remove` or `change`.
        change: &'static str,
        importers: Vec<String>,
    },
    /// A stack would be deleted while another stack imports one of its exports.
    #[error(
        "cannot delete stack `{stack}`: its export `{export}` is imported by {}",
        .importers.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", ")
    )]
    StackExportImported {
        stack: String,
        export: String,
        importers: Vec<String>,
    },
    /// A custom-named resource whose replacement would have to delete the one it keeps.
    #[error(
        "`{stack}/{logical_id}` needs replacement but its UpdateReplacePolicy is Retain and the \
         new one has the same name `{physical_id}`: rename it or change the policy"
    )]
    RetainedReplacement {
        stack: String,
        logical_id: String,
        physical_id: String,
    },
    /// The deploy failed at one resource; the environment was rolled back.
    #[error(
        "{action} of `{stack}/{logical_id}` ({type_}) failed: {reason}; the environment was \
         rolled back to its last complete state"
    )]
    Failed {
        stack: String,
        logical_id: String,
        type_: String,
        /// `create`, `update`, `replace` or `delete`.
        action: &'static str,
        reason: String,
    },
    /// A deployed resource the engines could not bring in line with its recorded properties.
    #[error("`{resource}` could not be brought in line with its deployed properties: {message}")]
    Align { resource: String, message: String },
}

impl From<rusqlite::Error> for StacksError {
    fn from(e: rusqlite::Error) -> StacksError {
        StacksError::Store(StoreError::Sqlite(e))
    }
}

impl StacksError {
    pub(crate) fn corrupt(what: &str, reason: impl std::fmt::Display) -> StacksError {
        StacksError::Corrupt {
            what: what.to_string(),
            reason: reason.to_string(),
        }
    }
}
