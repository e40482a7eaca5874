//! [`Store`]: one SQLite database in WAL mode, one writer thread doing group commit, pooled readers.
//!
//! Layout of a write: the caller boxes its closure into a [`Job`] and sends it to the writer thread,
//! then waits for the answer in its [`Pending`] (awaiting it, or blocking on it). A caller that
//! blocks ([`crate::block_on`]) runs its job itself instead when the write connection is free and
//! no job is queued: a transaction of one job, without waking any thread. The writer takes
//! every job waiting at that moment, opens one transaction, runs each job inside its own savepoint
//! (but the first, and checked jobs: [`Store::submit_checked`]), goes on with the jobs that
//! arrived meanwhile until none is waiting (up to [`MAX_BATCH`] in all), commits once, and only
//! then lets each job send its reply. A reply therefore always describes committed state.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, TryLockError};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags, OptionalExtension};

use crate::pending::{self, Pending, Replier};
use crate::{wal_vfs, StoreError};

/// How far a committed write survives.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// `synchronous=NORMAL`: a commit survives a killed process (the WAL is written before the reply),
    /// but the last commits may be lost if the machine loses power.
    #[default]
    Normal,
    /// `synchronous=FULL`: the WAL is synced to disk on every commit, so a commit survives power loss.
    Full,
}

/// Settings of [`Store::open`].
#[derive(Debug, Clone)]
pub struct Options {
    pub durability: Durability,
    /// The WAL's length, in pages, at which the writer has it copied into the database and lets
    /// it start over (at most one and a half times this length); the WAL file is cut back to
    /// this length then too (the store's `WalBound`).
    pub wal_limit_pages: u32,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            durability: Durability::default(),
            wal_limit_pages: DEFAULT_WAL_LIMIT_PAGES,
        }
    }
}

/// Counters of the writes, to check that group commit batches (tests, benchmarks, metrics).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct StoreStats {
    /// Writes submitted (run in place or handed to the writer thread).
    pub submitted: u64,
    /// Writes run (committed or rolled back), by the writer thread or in place.
    pub writes: u64,
    /// Transactions committed (or attempted); `writes / commits` is the mean batch size. A write
    /// run in place has a transaction of its own, so it counts as a batch of one.
    pub commits: u64,
    /// The most writes that shared one transaction.
    pub largest_batch: u64,
}

/// The most jobs that share one transaction, so that a flood of writers still gets replies in
/// bounded time rather than waiting for one huge commit.
const MAX_BATCH: usize = 512;

/// Read connections kept open for reuse; more may exist while many readers run at once.
const MAX_IDLE_READERS: usize = 8;

/// The writer asks for a checkpoint after this many commits.
const COMMITS_PER_CHECKPOINT: u64 = 64;

/// 32,768 pages of 4 KiB: a WAL of at most about 128 MiB.
const DEFAULT_WAL_LIMIT_PAGES: u32 = 32_768;

/// How long a connection waits for a lock held by another process before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// What the writer learns from running one job: whether to keep its savepoint, and how to answer it
/// once the fate of the shared transaction is known (`None` = committed, `Some(message)` = failed).
struct Done {
    keep: bool,
    finish: Finish,
}

/// Answers one caller: `None` when its transaction committed, else why it did not.
type Finish = Box<dyn FnOnce(Option<&str>) + Send>;

/// One caller's write as the writer thread sees it.
trait Work: Send {
    /// Runs the closure (inside the savepoint the writer opened, if [`Work::guarded`] and not the
    /// first of its transaction).
    fn run(self: Box<Self>, conn: &Connection) -> Done;
    /// Whether the closure needs a savepoint to fail alone; false for [`Store::submit_checked`].
    fn guarded(&self) -> bool;
    /// Answers the caller without running, when no transaction could be started.
    fn fail(self: Box<Self>, message: &str);
}

type Job = Box<dyn Work>;

struct WriteJob<F, T, E: From<StoreError>> {
    f: F,
    reply: Replier<T, E>,
    guarded: bool,
}

impl<F, T, E> Work for WriteJob<F, T, E>
where
    F: FnOnce(&Connection) -> Result<T, E> + Send + 'static,
    T: Send + 'static,
    E: From<StoreError> + Send + 'static,
{
    fn guarded(&self) -> bool {
        self.guarded
    }

    fn run(self: Box<Self>, conn: &Connection) -> Done {
        let WriteJob { f, reply, .. } = *self;
        let outcome = catch_unwind(AssertUnwindSafe(|| f(conn)));
        let keep = matches!(outcome, Ok(Ok(_)));
        Done {
            keep,
            finish: Box::new(move |commit_error: Option<&str>| {
                let answer = match (outcome, commit_error) {
                    (Err(panic), _) => Err(panic),
                    (Ok(Ok(_)), Some(message)) => {
                        Ok(Err(E::from(StoreError::CommitFailed(message.to_owned()))))
                    }
                    (Ok(result), _) => Ok(result),
                };
                // The caller may have gone (its future was dropped); nobody is left to tell.
                reply.send(answer);
            }),
        }
    }

    fn fail(self: Box<Self>, message: &str) {
        self.reply.send(Ok(Err(E::from(StoreError::CommitFailed(
            message.to_owned(),
        )))));
    }
}

/// A cheap handle to one open database. Clones share the writer thread and the reader pool.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    durability: Durability,
    /// `None` only while dropping, so that the writer sees the channel close and exits.
    sender: Option<Sender<Job>>,
    /// The write connection, held by whoever runs a transaction: the writer thread, or a caller
    /// running its own write in place ([`Store::submit`]). `None` once the writer thread ended.
    writer_state: Arc<Mutex<Option<Writer>>>,
    /// Writes sent to the writer thread and not yet committed by it. A caller runs its write in
    /// place only when this is zero, so that it never overtakes a write sent before it.
    queued: Arc<AtomicUsize>,
    writer: Option<JoinHandle<()>>,
    /// Ends after the writer, once it has run a last checkpoint.
    checkpointer: Option<JoinHandle<()>>,
    /// Taken by whoever checkpoints in this process (see [`WalBound::turn`]).
    checkpoint_turn: Arc<Mutex<()>>,
    /// Idle read connections. A `std::sync::Mutex` suffices: it is held only to push or pop.
    readers: Mutex<Vec<Connection>>,
    stats: Arc<Counters>,
}

#[derive(Default)]
struct Counters {
    submitted: AtomicU64,
    writes: AtomicU64,
    commits: AtomicU64,
    largest_batch: AtomicU64,
}

/// The store's own schema, applied at open under the component name `store`.
const STORE_MIGRATIONS: &[&str] = &["CREATE TABLE IF NOT EXISTS store_schema_versions (
        component TEXT PRIMARY KEY,
        version INTEGER NOT NULL
    ) STRICT;"];

impl Store {
    /// Opens (creating if needed) the database file at `path` and its folder, switches it to WAL
    /// mode, and starts the writer thread.
    pub fn open(path: &Path, options: Options) -> Result<Store, StoreError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|source| StoreError::Io {
                path: parent.to_path_buf(),
                source,
            })?;
        }
        let mut conn = open_connection(path, options.durability)?;
        // The store's own table must exist before any component records its version; this runs
        // before the writer starts, so it needs no coordination.
        conn.execute_batch(STORE_MIGRATIONS[0])?;
        check_and_apply(&conn, "store", &to_owned(STORE_MIGRATIONS))?;

        // Checkpoints sync the database file, so they run on their own connection and thread: the
        // writer appends to the WAL and nudges the checkpointer, and steps in only to bound the WAL.
        // SQLite lets one checkpoint run at a time and fails any other at once, without waiting; the
        // writer's and the checkpointer's take turns through this lock instead.
        let checkpoint_turn = Arc::new(Mutex::new(()));
        let passes = Arc::new(Passes::default());
        let wal_bound = WalBound::install(
            &mut conn,
            options.wal_limit_pages,
            Arc::clone(&checkpoint_turn),
            Arc::clone(&passes),
        )?;
        let checkpointer_turn = Arc::clone(&checkpoint_turn);
        let checkpoint_conn = open_connection(path, options.durability)?;
        let (nudge, nudged) = mpsc::sync_channel::<()>(1);
        let spawn_error = |source| StoreError::Io {
            path: path.to_path_buf(),
            source,
        };
        let checkpointer = std::thread::Builder::new()
            .name("store-checkpointer".into())
            .spawn(move || checkpointer_loop(checkpoint_conn, nudged, &checkpointer_turn, &passes))
            .map_err(spawn_error)?;

        let (sender, receiver) = mpsc::channel::<Job>();
        let stats = Arc::new(Counters::default());
        let writer_state = Arc::new(Mutex::new(Some(Writer {
            conn,
            wal_bound,
            checkpointer: nudge,
            since_nudge: 0,
        })));
        let queued = Arc::new(AtomicUsize::new(0));
        let writer = {
            let (state, queued, stats) = (
                Arc::clone(&writer_state),
                Arc::clone(&queued),
                Arc::clone(&stats),
            );
            std::thread::Builder::new()
                .name("store-writer".into())
                .spawn(move || writer_loop(&state, receiver, &queued, &stats))
                .map_err(spawn_error)?
        };
        Ok(Store {
            inner: Arc::new(Inner {
                path: path.to_path_buf(),
                durability: options.durability,
                sender: Some(sender),
                writer_state,
                queued,
                writer: Some(writer),
                checkpointer: Some(checkpointer),
                checkpoint_turn,
                readers: Mutex::new(Vec::new()),
                stats,
            }),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The durability this store was opened with.
    pub fn durability(&self) -> Durability {
        self.inner.durability
    }

    /// The writer's counters so far.
    pub fn stats(&self) -> StoreStats {
        let s = &self.inner.stats;
        StoreStats {
            submitted: s.submitted.load(Ordering::Relaxed),
            writes: s.writes.load(Ordering::Relaxed),
            commits: s.commits.load(Ordering::Relaxed),
            largest_batch: s.largest_batch.load(Ordering::Relaxed),
        }
    }

    /// Applies one component's migrations: `migrations[i]` is the SQL batch that takes the
    /// component's schema from version `i` to version `i + 1`. The version reached is recorded per
    /// component, so each batch runs once per database, all pending ones in one transaction.
    ///
    /// A database whose version for `component` is newer than `migrations.len()` was written by a
    /// newer program and is refused with [`StoreError::NewerSchema`].
    pub fn migrate(&self, component: &str, migrations: &[&str]) -> Result<(), StoreError> {
        let component = component.to_owned();
        let migrations = to_owned(migrations);
        self.write(move |conn| check_and_apply(conn, &component, &migrations))
    }

    /// Runs `f` inside a transaction and returns its result once that transaction has committed:
    /// the write is durable (per [`Durability`]) before this returns.
    ///
    /// `f` runs inside its own savepoint (unless it is the first of its transaction): on the writer
    /// thread, in the next shared transaction, or, when no other write is running or queued, on
    /// the calling thread in a transaction of its own ([`Store::submit`] says when). If it returns
    /// `Err`, its changes are rolled back and the others in the same transaction are kept. `f`
    /// must not begin, commit or roll back the transaction itself (its own nested `SAVEPOINT`s are
    /// fine), and must not call `write` on the same store: it holds the write connection, so it
    /// would wait for itself. If `f` panics, its changes are rolled back and the panic resumes in
    /// the caller. If the shared commit fails, every write in it gets
    /// [`StoreError::CommitFailed`].
    pub fn write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&Connection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        pending::block_on(async move { self.submit(f).await })
    }

    /// [`Store::write`] without waiting: the write's [`Pending`] result, a future that completes
    /// once the transaction holding `f` has committed.
    ///
    /// Usually `f` goes to the writer thread, which runs it in the next shared transaction, and an
    /// async caller awaits it without holding a thread. But a caller inside [`crate::block_on`]
    /// (as [`Store::write`] is) would only park its thread until the writer answers; so when no
    /// transaction is running and no write waits for the writer thread, `f` runs here, on the
    /// calling thread, in a transaction of its own that commits before this returns. That saves
    /// two thread wake-ups (the writer's and the caller's), which on two cores are most of what a
    /// small write costs: one caller cycling a queue went from 31,162 to 84,260 msgs/s (`cargo
    /// bench -p sqs --bench queue`, 2-core VM). Writes from async tasks always go to the writer
    /// thread: run in place they held up the endpoint's workers, and its PutItem and
    /// BatchWriteItem rates fell 3 to 8%. With [`Durability::Full`] every write goes to the writer
    /// thread too, so that no caller's thread waits for a sync of the WAL at each commit. A write
    /// run in place may still be the one whose commit brings the WAL to its limit, and then its
    /// caller lets the WAL start over before returning (a few milliseconds, once
    /// per 128 MiB of WAL by default), as the writer thread would have before its next batch.
    pub fn submit<T, E, F>(&self, f: F) -> Pending<T, E>
    where
        F: FnOnce(&Connection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        self.submit_job(f, true)
    }

    /// [`Store::submit`] for a closure that changes nothing when it fails: every check that can
    /// fail it comes before its first change, so that only the database itself (a full disk, an
    /// I/O error) can fail it after that. Such a closure needs no savepoint of its own to fail
    /// alone, and the writer opens none: a savepoint copies every page the closure changes into
    /// a journal first. Should the closure fail after changing rows all the same, its changes
    /// cannot be undone alone: the writer rolls back the whole transaction, and every write that
    /// shared it gets [`StoreError::CommitFailed`]. A broken promise thus costs the others a
    /// retry, never a wrong answer.
    pub fn submit_checked<T, E, F>(&self, f: F) -> Pending<T, E>
    where
        F: FnOnce(&Connection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        self.submit_job(f, false)
    }

    fn submit_job<T, E, F>(&self, f: F, guarded: bool) -> Pending<T, E>
    where
        F: FnOnce(&Connection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let (reply, pending) = pending::pending();
        let job: Job = Box::new(WriteJob { f, reply, guarded });
        let Some(job) = self.run_in_place(job) else {
            return pending;
        };
        // A job that cannot be sent is dropped, and its dropped replier answers WriterGone.
        if let Some(sender) = self.inner.sender.as_ref() {
            self.inner.queued.fetch_add(1, Ordering::SeqCst);
            match sender.send(job) {
                // Counted once it is in the channel, so that a test that has seen the count
                // knows the writer thread will find the job there.
                Ok(()) => {
                    self.inner.stats.submitted.fetch_add(1, Ordering::Relaxed);
                }
                Err(unsent) => {
                    self.inner.queued.fetch_sub(1, Ordering::SeqCst);
                    drop(unsent);
                }
            }
        }
        pending
    }

    /// Runs `job` on the calling thread if the write connection is free and no write waits for the
    /// writer thread; gives it back otherwise.
    fn run_in_place(&self, job: Job) -> Option<Job> {
        if !pending::waits_on_its_thread()
            || self.inner.durability != Durability::Normal
            || self.inner.queued.load(Ordering::SeqCst) != 0
        {
            return Some(job);
        }
        let mut state = match self.inner.writer_state.try_lock() {
            Ok(state) => state,
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(TryLockError::WouldBlock) => return Some(job),
        };
        // Checked again under the lock: the writer thread takes the lock before it runs a job it
        // received, so a job queued meanwhile is still counted here.
        match state.as_mut() {
            Some(writer) if self.inner.queued.load(Ordering::SeqCst) == 0 => {
                self.inner.stats.submitted.fetch_add(1, Ordering::Relaxed);
                writer.run(std::iter::once(job), &self.inner.stats);
                None
            }
            _ => Some(job),
        }
    }

    /// Copies every committed page from the WAL into the database file, syncs it and truncates the
    /// WAL, waiting for running writes to finish. Worth calling after a bulk load: a long WAL makes
    /// every later page lookup slower until it is checkpointed.
    pub fn checkpoint(&self) -> Result<(), StoreError> {
        let conn = open_connection(&self.inner.path, self.inner.durability)?;
        let _turn = self
            .inner
            .checkpoint_turn
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let busy: i64 = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
        if busy != 0 {
            return Err(StoreError::Sqlite(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
                Some("the checkpoint could not finish: the database stayed busy".into()),
            )));
        }
        Ok(())
    }

    /// Runs `f` on a pooled read connection inside one read transaction, so that everything `f`
    /// reads comes from the same committed state (the last commit when `f` starts; WAL readers never
    /// wait for the writer). The connection is read-only.
    pub fn read<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&Connection) -> Result<T, E>,
        E: From<StoreError>,
    {
        let pooled = self
            .inner
            .readers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop();
        let conn = match pooled {
            Some(conn) => conn,
            None => {
                let conn = open_connection(&self.inner.path, self.inner.durability)?;
                conn.pragma_update(None, "query_only", true)
                    .map_err(StoreError::from)?;
                conn
            }
        };
        conn.prepare_cached("BEGIN DEFERRED")
            .and_then(|mut s| s.execute([]))
            .map_err(StoreError::from)?;
        let result = f(&conn);
        let end = conn
            .prepare_cached("COMMIT")
            .and_then(|mut s| s.execute([]));
        if end.is_ok() && conn.is_autocommit() {
            let mut idle = self.inner.readers.lock().unwrap_or_else(|e| e.into_inner());
            if idle.len() < MAX_IDLE_READERS {
                idle.push(conn);
            }
        }
        result
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Closing the channel ends the writer loop after it has answered every job already sent.
        self.sender.take();
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
        if let Some(checkpointer) = self.checkpointer.take() {
            let _ = checkpointer.join();
        }
    }
}

fn to_owned(migrations: &[&str]) -> Vec<String> {
    migrations.iter().map(|m| (*m).to_owned()).collect()
}

fn open_connection(path: &Path, durability: Durability) -> Result<Connection, StoreError> {
    wal_vfs::register().map_err(|rc| {
        rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rc),
            Some("could not register the cascade-wal VFS".to_owned()),
        )
    })?;
    let conn = Connection::open_with_flags_and_vfs(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI,
        wal_vfs::NAME,
    )?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::NoWal {
            path: path.to_path_buf(),
            mode,
        });
    }
    let synchronous = match durability {
        Durability::Normal => "NORMAL",
        Durability::Full => "FULL",
    };
    conn.pragma_update(None, "synchronous", synchronous)?;
    // 8 MiB of page cache per connection: enough for the hot pages of a deep queue's index and of a
    // table's B-tree. A larger cache costs at every COMMIT: SQLite walks the cache's hash table when
    // it truncates pages past the end of the file, and with 64 MiB that walk took 213M of 4.77G
    // instructions writing 100,000 items (callgrind, `benches/writes.rs --only engine` in the
    // dynamodb crate) against 39M of 4.59G with 8 MiB.
    conn.pragma_update(None, "cache_size", -8192)?;
    // Pages beyond the cache are read through a memory map rather than a read call and a copy
    // each: a table of a million items is far larger than the cache, and a write to it touches a
    // leaf page chosen by the key's hash. W1 (`cargo bench -p cascade --bench w1 -- --runs 3`),
    // run back to back on the same machine: ratio to the floor 6.0x with the map, 7.8x without.
    // Writes still go through the WAL file; the map only reads the database file.
    conn.pragma_update(None, "mmap_size", 1i64 << 30)?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.pragma_update(None, "foreign_keys", true)?;
    // The query planner stability guarantee: without it, SQLite re-prepares a cached statement each
    // time a new value is bound to a parameter its planner looked at (`LIMIT ?`, a range bound),
    // which costs far more than running the statement. The store never runs ANALYZE, so the plans
    // never had anything to learn from those values.
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    conn.set_prepared_statement_cache_capacity(256);
    Ok(conn)
}

/// Keeps the WAL near a limit, in place of SQLite's automatic checkpoint on the writer's
/// connection.
///
/// The WAL only starts over from its first frame when a write transaction begins while every
/// frame has been copied into the database. The checkpointer copies in the background, but under
/// a steady stream of writes it never catches up with the last commit, so the WAL would grow
/// without end (to 414 MB writing 300,000 items, before this bound). So when a commit leaves the
/// WAL at the limit or past it, the writer runs a RESTART checkpoint before its next transaction:
/// it copies what the checkpointer has not yet copied (waiting for the checkpointer's own pass,
/// if one is running), waits briefly for readers still on older frames, and the next transaction
/// writes the WAL from its start. `journal_size_limit` then cuts the file back to the limit. Only
/// the writer commits, so nothing grows the WAL meanwhile. Should readers hold the WAL longer
/// than [`RESTART_WAIT`], the writer goes on and tries again a limit's worth of frames later,
/// rather than stalling on every commit.
///
/// Every write waits while the writer restarts the WAL, so the restart is kept short. Its cost
/// was the sync of the database file: the checkpointer's passes copy frames into it but sync it
/// only when they copy the whole WAL, which under steady writes they never do, so the restart
/// wrote back everything copied since the last one. Now, at the limit, the writer asks the
/// checkpointer for a pass that ends with that sync, and goes on writing; it restarts once the
/// pass is done (or at once, should the WAL grow another half limit meanwhile). Writing 1,000,000
/// items (`benches/writes.rs` in the dynamodb crate) the WAL starts over about ten times; each
/// restart stalled the writes for about 32 ms before, 4 to 7 ms after.
struct WalBound {
    limit: i64,
    next_try: i64,
    /// The checkpointer pass asked for at the limit, until the restart.
    asked: Option<u64>,
    passes: Arc<Passes>,
    /// The WAL's length in frames after the writer's last commit, recorded by its WAL hook.
    frames: Arc<AtomicI64>,
    /// SQLite runs one checkpoint at a time and fails any other at once, without waiting; the
    /// writer, the checkpointer and [`Store::checkpoint`] take turns through this lock instead.
    turn: Arc<Mutex<()>>,
}

/// How long the writer waits for readers when it lets the WAL start over.
const RESTART_WAIT: Duration = Duration::from_millis(200);

/// The checkpointer passes the writer asked for and those done, numbered in order of asking.
#[derive(Default)]
struct Passes {
    asked: AtomicU64,
    done: AtomicU64,
}

impl Passes {
    /// A new request; done once [`Passes::is_done`] says so.
    fn ask(&self) -> u64 {
        self.asked.fetch_add(1, Ordering::SeqCst) + 1
    }

    fn is_done(&self, pass: u64) -> bool {
        self.done.load(Ordering::SeqCst) >= pass
    }

    /// The last request made; a pass that starts now answers it and every earlier one.
    fn last_asked(&self) -> u64 {
        self.asked.load(Ordering::SeqCst)
    }

    fn mark_done(&self, upto: u64) {
        self.done.fetch_max(upto, Ordering::SeqCst);
    }
}

impl WalBound {
    fn install(
        conn: &mut Connection,
        limit_pages: u32,
        turn: Arc<Mutex<()>>,
        passes: Arc<Passes>,
    ) -> Result<WalBound, StoreError> {
        let limit = i64::from(limit_pages.max(1));
        let page_size: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
        conn.pragma_update(None, "journal_size_limit", limit * page_size)?;
        let frames = Arc::new(AtomicI64::new(0));
        let hook_frames = Arc::clone(&frames);
        conn.wal_hook(Some(move |_: &mut rusqlite::hooks::Wal, n: i32| {
            hook_frames.store(i64::from(n), Ordering::Relaxed);
            Ok(())
        }))?;
        Ok(WalBound {
            limit,
            next_try: limit,
            asked: None,
            passes,
            frames,
            turn,
        })
    }

    /// Runs between two transactions of the writer; `checkpointer` nudges the checkpointer.
    fn after_commit(&mut self, conn: &Connection, checkpointer: &mpsc::SyncSender<()>) {
        let frames = self.frames.load(Ordering::Relaxed);
        if frames < self.limit {
            self.next_try = self.limit;
            self.asked = None;
        }
        if frames < self.next_try {
            return;
        }
        let caught_up = match self.asked {
            Some(pass) => self.passes.is_done(pass),
            None => {
                self.asked = Some(self.passes.ask());
                // A full channel means a pass is pending, which will see this request.
                let _ = checkpointer.try_send(());
                false
            }
        };
        if !caught_up && frames < self.next_try + self.limit / 2 {
            return;
        }
        self.asked = None;
        let _turn = self.turn.lock().unwrap_or_else(|e| e.into_inner());
        let _ = conn.busy_timeout(RESTART_WAIT);
        let busy = conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |r| r.get::<_, i64>(0));
        let _ = conn.busy_timeout(BUSY_TIMEOUT);
        self.next_try = match busy {
            Ok(0) => self.limit,
            _ => frames + self.limit,
        };
    }
}

/// Brings `component` up to `migrations.len()`, or refuses a newer database. Runs inside the
/// caller's transaction (or savepoint), so a failing batch leaves the version unchanged.
fn check_and_apply(
    conn: &Connection,
    component: &str,
    migrations: &[String],
) -> Result<(), StoreError> {
    let found: i64 = conn
        .prepare_cached("SELECT version FROM store_schema_versions WHERE component = ?1")?
        .query_row([component], |r| r.get(0))
        .optional()?
        .unwrap_or(0);
    let supported = migrations.len() as i64;
    if found > supported {
        return Err(StoreError::NewerSchema {
            component: component.to_owned(),
            found,
            supported,
        });
    }
    for batch in &migrations[found as usize..] {
        conn.execute_batch(batch)?;
    }
    if found < supported {
        conn.prepare_cached(
            "INSERT INTO store_schema_versions (component, version) VALUES (?1, ?2)
             ON CONFLICT (component) DO UPDATE SET version = excluded.version",
        )?
        .execute(rusqlite::params![component, supported])?;
    }
    Ok(())
}

/// Runs a passive checkpoint each time the writer nudges (at most one pending nudge), and once more
/// when the writer has gone, so that a closed store leaves a short WAL behind.
fn checkpointer_loop(conn: Connection, nudged: Receiver<()>, turn: &Mutex<()>, passes: &Passes) {
    while nudged.recv().is_ok() {
        // A busy or failed checkpoint is retried at the next nudge; the WAL keeps every commit safe
        // meanwhile, so there is nothing to report. A pass answers the requests made before it
        // began.
        let asked = passes.last_asked();
        let _turn = turn.lock().unwrap_or_else(|e| e.into_inner());
        if conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
            .is_err()
        {
            continue;
        }
        if !passes.is_done(asked) {
            // The writer is about to let the WAL start over, which first syncs the database
            // file: what the passes copied since the last such sync is written back here, while
            // the writes go on, rather than there, while they wait.
            if wal_vfs::sync_database_file(&conn) == rusqlite::ffi::SQLITE_OK {
                passes.mark_done(asked);
            }
        }
    }
    let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
}

/// The write connection and what each commit on it updates.
struct Writer {
    conn: Connection,
    wal_bound: WalBound,
    checkpointer: mpsc::SyncSender<()>,
    since_nudge: u64,
}

impl Writer {
    /// Runs `jobs` in one shared transaction, then keeps the WAL bounded and nudges the
    /// checkpointer every [`COMMITS_PER_CHECKPOINT`] commits.
    fn run(&mut self, jobs: impl Iterator<Item = Job>, stats: &Counters) {
        run_batch(&self.conn, jobs, stats);
        self.wal_bound.after_commit(&self.conn, &self.checkpointer);
        self.since_nudge += 1;
        if self.since_nudge >= COMMITS_PER_CHECKPOINT {
            // A full channel means a checkpoint is already pending, which covers this commit too.
            let _ = self.checkpointer.try_send(());
            self.since_nudge = 0;
        }
    }
}

fn writer_loop(
    state: &Mutex<Option<Writer>>,
    jobs: Receiver<Job>,
    queued: &AtomicUsize,
    stats: &Counters,
) {
    while let Ok(first) = jobs.recv() {
        let mut state = state.lock().unwrap_or_else(|e| e.into_inner());
        let Some(writer) = state.as_mut() else {
            break;
        };
        // Everything that arrived while the previous transaction committed shares this one, and so
        // does every write that arrives while it runs, up to MAX_BATCH: the transaction commits
        // when no job is waiting, so a caller that sent during it is answered by its commit
        // rather than by the next one.
        let mut taken = 1;
        let arriving = std::iter::from_fn(|| {
            let job = jobs.try_recv().ok()?;
            taken += 1;
            Some(job)
        });
        writer.run(
            std::iter::once(first).chain(arriving).take(MAX_BATCH),
            stats,
        );
        queued.fetch_sub(taken, Ordering::SeqCst);
    }
    // Closing the connection here, before the store's handle waits for the checkpointer, drops
    // the checkpointer's channel, which lets it run its last checkpoint and end.
    state.lock().unwrap_or_else(|e| e.into_inner()).take();
}

fn exec(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

/// Runs one shared transaction. Every job is answered exactly once, after the commit or failure;
/// the stats count the transaction before its jobs are answered.
fn run_batch(conn: &Connection, jobs: impl Iterator<Item = Job>, stats: &Counters) {
    let mut finished: Vec<Finish> = Vec::new();
    let mut open = false;
    let mut size = 0u64;
    for job in jobs {
        size += 1;
        // A savepoint copies every page a job changes into a journal first (a 4 KiB copy and an
        // allocation each). The first job of a transaction needs none: if it fails, rolling the
        // whole transaction back undoes exactly its changes. Nor does a checked job, which
        // changes nothing when it fails.
        let first = !open;
        if first {
            if let Err(e) = exec(conn, "BEGIN IMMEDIATE") {
                // Nothing can run without a transaction: the job fails without running.
                job.fail(&e.to_string());
                continue;
            }
            open = true;
        }
        let guarded = !first && job.guarded();
        let started = if guarded {
            exec(conn, "SAVEPOINT job")
        } else {
            Ok(())
        };
        let changes = conn.total_changes();
        let done = job.run(conn);
        let unguarded_failure = !done.keep && !guarded && !conn.is_autocommit();
        if unguarded_failure && (first || conn.total_changes() != changes) {
            // The job failed, and without a savepoint only rolling back the whole transaction
            // undoes its changes: the first job's (whatever they were, the schema's too), or a
            // checked job's changed rows, which it promised not to leave. The jobs before it in
            // this transaction are told so; the job's own answer is its error (or panic). The next
            // job starts afresh.
            let _ = exec(conn, "ROLLBACK");
            let message = "the transaction was rolled back: a write that shared it failed after changing rows";
            for finish in finished.drain(..) {
                finish(Some(message));
            }
            (done.finish)(None);
            open = false;
            continue;
        }
        let kept = !guarded
            || started.is_ok()
                && if done.keep {
                    exec(conn, "RELEASE job").is_ok()
                } else {
                    exec(conn, "ROLLBACK TO job")
                        .and_then(|_| exec(conn, "RELEASE job"))
                        .is_ok()
                };
        finished.push(done.finish);
        if conn.is_autocommit() {
            // SQLite rolled the whole transaction back by itself (a full disk, an I/O error): every
            // write that shared it is lost, so each is told so, and the next job starts afresh.
            let message = "the transaction was rolled back by the database".to_owned();
            for finish in finished.drain(..) {
                finish(Some(&message));
            }
            open = false;
        } else if !kept {
            // The savepoint itself could not be managed, so this job's effects are unknown; failing
            // the whole transaction is the only answer that never reports a write wrongly.
            let _ = exec(conn, "ROLLBACK");
            let message = "the job's savepoint could not be released".to_owned();
            for finish in finished.drain(..) {
                finish(Some(&message));
            }
            open = false;
        }
    }
    stats.writes.fetch_add(size, Ordering::Relaxed);
    stats.commits.fetch_add(1, Ordering::Relaxed);
    stats.largest_batch.fetch_max(size, Ordering::Relaxed);
    if !open {
        return;
    }
    match exec(conn, "COMMIT") {
        Ok(()) => {
            for finish in finished {
                finish(None);
            }
        }
        Err(e) => {
            let _ = exec(conn, "ROLLBACK");
            let message = e.to_string();
            for finish in finished {
                finish(Some(&message));
            }
        }
    }
}
