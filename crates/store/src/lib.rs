//! The durable state of one environment on embedded SQLite.
//!
//! Every service (SQS, DynamoDB) keeps its tables in one SQLite database per environment, opened
//! through [`Store`]. The store guarantees three things and nothing more:
//!
//! - **Durable before reply.** [`Store::write`] returns, and the [`Pending`] of [`Store::submit`]
//!   becomes ready, only after the transaction holding the caller's closure has committed. With [`Durability::Normal`] (`synchronous=NORMAL` in WAL mode)
//!   a commit survives a killed process; with [`Durability::Full`] it also survives power loss.
//! - **Group commit.** Writes go through one writer thread that holds the only write connection.
//!   It takes every closure waiting at that moment, runs each after the first inside its own
//!   `SAVEPOINT` (so a closure that fails rolls back only its own changes; the first needs none, as
//!   rolling back the whole transaction undoes just its changes, and so does a checked closure,
//!   [`Store::submit_checked`], which changes nothing when it fails), commits once, then answers
//!   every caller.
//!   Throughput therefore does not depend on one commit per call. A caller that blocks on its
//!   write runs it itself instead when the connection is free and no write is queued.
//! - **Versioned schemas.** [`Store::migrate`] applies a component's migrations in order and refuses a
//!   database written by a newer version ([`StoreError::NewerSchema`]).
//!
//! Checkpoints (copying the WAL back into the database file, which syncs it) run on a checkpointer
//! thread with its own connection, so a write never waits for them.
//!
//! Reads run on pooled read connections ([`Store::read`]); in WAL mode they see the last commit and
//! never wait for the writer. Time is not read from the system here: services take a [`Clock`] so
//! that every time rule can be tested on virtual time ([`ManualClock`]).
//!
//! Layout: `store.rs` holds [`Store`] and its writer thread, `pending.rs` a write waiting for its
//! commit ([`Pending`], which async callers await and others wait on), `wal_vfs.rs` the VFS every
//! connection opens with (the default one, writing each commit's WAL frames in one system call
//! rather than two per page), `clock.rs` the clocks,
//! `error.rs` the error type, `blocking.rs` (feature `async`) the helper async callers go through
//! for everything else. The store knows nothing of HTTP, JSON or AWS names.

#[cfg(feature = "async")]
mod blocking;
mod clock;
mod error;
mod pending;
mod store;
mod wal_vfs;

#[cfg(feature = "async")]
pub use blocking::blocking;

pub use clock::{Clock, ManualClock, SystemClock};
pub use error::StoreError;
pub use pending::{block_on, Pending};
/// The SQLite binding the closures receive, re-exported so that every service uses the same version.
pub use rusqlite;
pub use store::{Durability, Options, Store, StoreStats};
