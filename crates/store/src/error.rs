//! The store's error type: what a caller of [`crate::Store`] may have to branch on.

use std::path::PathBuf;

/// Everything that can go wrong in the store itself (service errors wrap this, never the reverse).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite refused a statement or the database file is unusable.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The database file or its folder could not be created.
    #[error("cannot open database `{path}`: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The database could not be put in WAL mode (a file system without shared memory, say), which
    /// the store needs for readers that never wait for the writer.
    #[error("database `{path}` cannot use WAL mode (journal mode stays `{mode}`)")]
    NoWal { path: PathBuf, mode: String },
    /// The database was written by a newer version of this program: opening it could corrupt it.
    #[error(
        "the database holds schema version {found} of `{component}`, but this program supports \
         only up to version {supported}; use a newer version of the program"
    )]
    NewerSchema {
        component: String,
        found: i64,
        supported: i64,
    },
    /// The shared transaction that held this write failed to commit, so the write did not happen.
    #[error("commit failed, the write was not applied: {0}")]
    CommitFailed(String),
    /// The writer thread has stopped (it only stops when the store is dropped or SQLite failed hard).
    #[error("the store's writer has stopped")]
    WriterGone,
}
