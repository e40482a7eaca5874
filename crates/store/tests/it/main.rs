//! Behaviour tests of the store: group commit with savepoint isolation, migrations, durability.

use std::sync::mpsc;
use std::sync::{Arc, Barrier};
use std::thread::JoinHandle;
use std::time::Duration;

use store::rusqlite::{self, Connection};
use store::{Clock, Durability, ManualClock, Options, Store, StoreError};

/// The error type of the test closures: anything the store or SQLite says, or a refusal by a closure.
#[derive(Debug, thiserror::Error)]
enum TestError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    #[error("refused: {0}")]
    Refused(String),
}

fn open(dir: &tempfile::TempDir) -> Store {
    Store::open(&dir.path().join("env/state.db"), Options::default()).unwrap()
}

fn with_table(store: &Store) {
    store
        .migrate(
            "test",
            &["CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT NOT NULL) STRICT;"],
        )
        .unwrap();
}

/// A store in a new temporary folder (removed when the returned handle drops), with table `t`.
fn store_with_table() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    with_table(&store);
    (dir, store)
}

fn insert(store: &Store, k: i64, v: &str) -> Result<(), TestError> {
    let v = v.to_owned();
    store.write(move |c: &Connection| {
        c.prepare_cached("INSERT INTO t (k, v) VALUES (?1, ?2)")?
            .execute(rusqlite::params![k, v])?;
        Ok(())
    })
}

/// The rows of `t` as `k=v` lines, read through the read pool.
fn rows(store: &Store) -> Vec<String> {
    store
        .read(|c: &Connection| -> Result<Vec<String>, TestError> {
            let mut stmt = c.prepare_cached("SELECT k, v FROM t ORDER BY k")?;
            let rows = stmt.query_map([], |r| {
                Ok(format!(
                    "{}={}",
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?
                ))
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .unwrap()
}

#[test]
fn write_is_visible_to_readers_and_after_reopen() {
    let (dir, store) = store_with_table();
    insert(&store, 1, "one").unwrap();
    assert_eq!(rows(&store), ["1=one"]);
    drop(store);
    let store = open(&dir);
    assert_eq!(rows(&store), ["1=one"]);
}

/// Holds the write connection inside a write run in place (inserting row 0, `blocker`, on another
/// thread) until the returned sender is used: the writes submitted meanwhile queue for the writer
/// thread, which then runs them all in one transaction, in the order they were submitted.
fn hold_writer(store: &Store) -> (JoinHandle<Result<(), TestError>>, mpsc::Sender<()>) {
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let (started_tx, started_rx) = mpsc::channel::<()>();
    let holder = store.clone();
    let blocker = std::thread::spawn(move || {
        holder.write(move |c: &Connection| -> Result<(), TestError> {
            c.execute("INSERT INTO t (k, v) VALUES (0, 'blocker')", [])?;
            started_tx.send(()).unwrap();
            release_rx.recv().unwrap();
            Ok(())
        })
    });
    started_rx.recv().unwrap();
    (blocker, release_tx)
}

/// Where a write of [`insert_row`] fails, if it does.
#[derive(Clone, Copy)]
enum Fails {
    No,
    BeforeInsert,
    AfterInsert,
}

/// A write of row `k` (value `w`) that answers `Ok(k)` or fails with `Refused` as `fails` says.
fn insert_row(
    k: i64,
    fails: Fails,
) -> impl FnOnce(&Connection) -> Result<i64, TestError> + Send + 'static {
    move |c: &Connection| {
        let refused = || TestError::Refused(format!("writer {k}"));
        if let Fails::BeforeInsert = fails {
            return Err(refused());
        }
        c.execute("INSERT INTO t (k, v) VALUES (?1, 'w')", [k])?;
        match fails {
            Fails::AfterInsert => Err(refused()),
            _ => Ok(k),
        }
    }
}

/// Lets the write of [`hold_writer`] finish, then waits for each pending write's answer.
fn release_then_answer(
    (blocker, release_tx): (JoinHandle<Result<(), TestError>>, mpsc::Sender<()>),
    pending: Vec<store::Pending<i64, TestError>>,
) -> Vec<String> {
    release_tx.send(()).unwrap();
    blocker.join().unwrap().unwrap();
    pending
        .into_iter()
        .map(|p| answer(store::block_on(p)))
        .collect()
}

/// [`insert_row`] as a blocking write on a new thread.
fn spawn_insert(store: &Store, k: i64, fails: Fails) -> JoinHandle<Result<i64, TestError>> {
    let store = store.clone();
    std::thread::spawn(move || store.write(insert_row(k, fails)))
}

fn answer(result: Result<i64, TestError>) -> String {
    match result {
        Ok(k) => format!("ok {k}"),
        Err(e) => format!("err {e}"),
    }
}

#[test]
fn waiting_writers_share_one_commit_and_a_failing_one_rolls_back_alone() {
    let (_dir, store) = store_with_table();
    let before = store.stats();

    // Every other writer queues behind the held one, so the writer thread runs them all in the
    // next transaction, and they share its commit.
    let (blocker, release_tx) = hold_writer(&store);
    let writers = 16;
    let handles: Vec<_> = (1..=writers)
        .map(|k| {
            // Writer 7's insert happens; its savepoint must undo it without touching others.
            let fails = if k == 7 {
                Fails::AfterInsert
            } else {
                Fails::No
            };
            spawn_insert(&store, k, fails)
        })
        .collect();
    while store.stats().submitted < before.submitted + 1 + writers as u64 {
        std::thread::yield_now();
    }
    release_tx.send(()).unwrap();
    blocker.join().unwrap().unwrap();
    let results: Vec<String> = handles
        .into_iter()
        .map(|h| answer(h.join().unwrap()))
        .collect();
    assert_eq!(results[6], "err refused: writer 7");
    assert_eq!(results.iter().filter(|r| r.starts_with("ok")).count(), 15);

    let after = store.stats();
    assert_eq!(after.writes - before.writes, 1 + writers as u64);
    assert_eq!(
        after.commits - before.commits,
        2,
        "the blocker's, then one for every writer that arrived while it ran"
    );
    assert_eq!(after.largest_batch, writers as u64);

    let expected: Vec<String> = std::iter::once("0=blocker".to_owned())
        .chain((1..=16).filter(|k| *k != 7).map(|k| format!("{k}=w")))
        .collect();
    assert_eq!(rows(&store), expected);
}

fn thread_name() -> String {
    std::thread::current().name().unwrap_or("").to_owned()
}

/// The name of the thread a blocking write ran on.
fn ran_on(store: &Store, k: i64) -> String {
    store
        .write(move |c: &Connection| -> Result<String, TestError> {
            c.execute("INSERT INTO t (k, v) VALUES (?1, 'x')", [k])?;
            Ok(thread_name())
        })
        .unwrap()
}

#[test]
fn a_lone_blocking_write_runs_on_its_callers_thread_and_an_awaited_one_on_the_writer() {
    let (_dir, store) = store_with_table();
    let caller = thread_name();
    assert_eq!(ran_on(&store, 1), caller);
    assert_eq!(store::block_on(async { ran_on(&store, 2) }), caller);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let awaited = runtime.block_on(async {
        store
            .submit(|_: &Connection| Ok::<_, TestError>(thread_name()))
            .await
            .unwrap()
    });
    assert_eq!(awaited, "store-writer");
    // Submitted without waiting (outside `block_on`), a write goes to the writer too.
    let pending = store.submit(|_: &Connection| Ok::<_, TestError>(thread_name()));
    assert_eq!(store::block_on(pending).unwrap(), "store-writer");
    assert_eq!(rows(&store), ["1=x", "2=x"]);
}

/// A blocking write never overtakes a write queued for the writer thread before it. The race it
/// guards against: a thread finishes a write run in place just as another write is queued; the
/// writer thread has received that one but not yet taken the connection, and the first thread's
/// next blocking write would find the connection free. Without the count of queued writes it
/// overtook the queued one in about one round of six (measured on 2 cores), so 200 rounds fail
/// such a change all but surely; with the count it never does.
#[test]
fn a_blocking_write_never_overtakes_a_queued_one() {
    let (_dir, store) = store_with_table();
    for round in 0..200i64 {
        let (k_in_place, k_queued, k_next) = (3 * round + 1, 3 * round + 2, 3 * round + 3);
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let (started_tx, started_rx) = mpsc::channel::<()>();
        let writer = {
            let store = store.clone();
            std::thread::spawn(move || {
                // Runs in place (nothing else is writing) and holds the connection until released.
                store.write(move |c: &Connection| -> Result<(), TestError> {
                    started_tx.send(()).unwrap();
                    release_rx.recv().unwrap();
                    c.execute("INSERT INTO t (k, v) VALUES (?1, 'x')", [k_in_place])?;
                    Ok(())
                })?;
                // Submitted after the queued write below: it must see that write's row.
                store.write(move |c: &Connection| -> Result<i64, TestError> {
                    let seen: i64 =
                        c.query_row("SELECT count(*) FROM t WHERE k = ?1", [k_queued], |r| {
                            r.get(0)
                        })?;
                    c.execute("INSERT INTO t (k, v) VALUES (?1, 'x')", [k_next])?;
                    Ok(seen)
                })
            })
        };
        started_rx.recv().unwrap();
        // Outside `block_on`: queued for the writer thread, which waits for the connection.
        let queued = store.submit(move |c: &Connection| -> Result<(), TestError> {
            c.execute("INSERT INTO t (k, v) VALUES (?1, 'x')", [k_queued])?;
            Ok(())
        });
        release_tx.send(()).unwrap();
        let seen = writer.join().unwrap().unwrap();
        store::block_on(queued).unwrap();
        assert_eq!(
            seen, 1,
            "round {round}: the later write ran before the queued one"
        );
    }
    assert_eq!(rows(&store).len(), 600);
}

#[test]
fn concurrent_writers_are_coalesced_and_all_acknowledged_writes_persist() {
    let (dir, store) = store_with_table();
    let threads = 8;
    let per_thread = 200;
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let store = store.clone();
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                barrier.wait();
                for i in 0..per_thread {
                    insert(&store, (t * per_thread + i) as i64, "x").unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let stats = store.stats();
    assert!(stats.writes >= (threads * per_thread) as u64);
    drop(store);
    let store = open(&dir);
    assert_eq!(rows(&store).len(), threads * per_thread);
}

/// An awaited write holds no thread: on a single-threaded runtime, a write that finishes only
/// once another task of the same thread has run still commits. Waiting on the thread instead
/// (`store::block_on`, or `Store::write`) would leave that task unrun, and the write would refuse.
#[tokio::test(flavor = "current_thread")]
async fn an_awaited_write_leaves_its_thread_to_other_tasks() {
    let (_dir, store) = store_with_table();
    let (go, gone) = mpsc::channel::<()>();
    let pending = store.submit(move |c: &Connection| {
        gone.recv_timeout(Duration::from_secs(10))
            .map_err(|_| TestError::Refused("no other task ran".into()))?;
        c.execute("INSERT INTO t (k, v) VALUES (1, 'a')", [])?;
        Ok::<_, TestError>(())
    });
    tokio::spawn(async move { go.send(()).unwrap() });
    pending.await.unwrap();
    assert_eq!(rows(&store), ["1=a"]);
}

#[test]
fn a_failing_first_write_of_a_batch_is_rolled_back_and_the_rest_still_commit() {
    let (_dir, store) = store_with_table();
    let before = store.stats();
    // The failing write is the first of the writer thread's next transaction, which it opens
    // without a savepoint.
    let (blocker, release_tx) = hold_writer(&store);

    let wait_for = |submitted: u64| {
        while store.stats().submitted < before.submitted + submitted {
            std::thread::yield_now();
        }
    };
    let failing = spawn_insert(&store, 1, Fails::AfterInsert);
    wait_for(2);
    let others: Vec<_> = (2..=5)
        .map(|k| spawn_insert(&store, k, Fails::No))
        .collect();
    wait_for(6);
    release_tx.send(()).unwrap();
    blocker.join().unwrap().unwrap();
    assert_eq!(
        failing.join().unwrap().unwrap_err().to_string(),
        "refused: writer 1"
    );
    let committed: Vec<i64> = others
        .into_iter()
        .map(|h| h.join().unwrap().unwrap())
        .collect();
    assert_eq!(committed, [2, 3, 4, 5]);
    assert_eq!(rows(&store), ["0=blocker", "2=w", "3=w", "4=w", "5=w"]);
    // A lone write run in place is the first of its transaction too.
    let lone = store.write(|c: &Connection| -> Result<(), TestError> {
        c.execute("INSERT INTO t (k, v) VALUES (6, 'lone')", [])?;
        Err(TestError::Refused("lone".into()))
    });
    assert!(lone.is_err());
    insert(&store, 7, "after").unwrap();
    assert_eq!(
        rows(&store),
        ["0=blocker", "2=w", "3=w", "4=w", "5=w", "7=after"]
    );
}

#[test]
fn checked_writes_need_no_savepoint_and_one_failing_before_it_writes_fails_alone() {
    let (_dir, store) = store_with_table();
    let (blocker, release_tx) = hold_writer(&store);
    let pending: Vec<_> = [(1, Fails::No), (2, Fails::BeforeInsert), (3, Fails::No)]
        .into_iter()
        .map(|(k, fails)| store.submit_checked(insert_row(k, fails)))
        .collect();
    let answers = release_then_answer((blocker, release_tx), pending);
    assert_eq!(answers, ["ok 1", "err refused: writer 2", "ok 3"]);
    assert_eq!(rows(&store), ["0=blocker", "1=w", "3=w"]);
}

#[test]
fn a_checked_write_that_fails_after_changing_rows_fails_the_transaction_it_shared() {
    let (_dir, store) = store_with_table();
    let before = store.stats();
    let (blocker, release_tx) = hold_writer(&store);
    let mut pending: Vec<_> = [(1, Fails::No), (2, Fails::AfterInsert), (3, Fails::No)]
        .into_iter()
        .map(|(k, fails)| store.submit_checked(insert_row(k, fails)))
        .collect();
    pending.push(store.submit(insert_row(4, Fails::No)));
    while store.stats().submitted < before.submitted + 5 {
        std::thread::yield_now();
    }
    let answers = release_then_answer((blocker, release_tx), pending);
    // Write 1 shared the transaction that write 2 broke, so it was rolled back with it and told
    // so; writes 3 and 4 came after, in a new transaction.
    assert!(
        answers[0].starts_with("err commit failed") && answers[0].contains("rolled back"),
        "{answers:?}"
    );
    assert_eq!(answers[1..], ["err refused: writer 2", "ok 3", "ok 4"]);
    assert_eq!(rows(&store), ["0=blocker", "3=w", "4=w"]);
}

#[test]
fn a_failing_sql_statement_fails_only_its_own_write() {
    let (_dir, store) = store_with_table();
    insert(&store, 1, "first").unwrap();
    let duplicate = insert(&store, 1, "again").unwrap_err();
    assert!(
        duplicate.to_string().contains("UNIQUE constraint failed"),
        "{duplicate}"
    );
    insert(&store, 2, "second").unwrap();
    assert_eq!(rows(&store), ["1=first", "2=second"]);
}

#[test]
fn a_panicking_closure_panics_in_the_caller_and_leaves_nothing_behind() {
    let (_dir, store) = store_with_table();
    let panicking = store.clone();
    let joined = std::thread::spawn(move || {
        panicking.write(|c: &Connection| -> Result<(), TestError> {
            c.execute("INSERT INTO t (k, v) VALUES (1, 'half')", [])?;
            panic!("closure bug");
        })
    })
    .join();
    let panic = joined.unwrap_err();
    assert_eq!(panic.downcast_ref::<&str>(), Some(&"closure bug"));
    insert(&store, 2, "after").unwrap();
    assert_eq!(rows(&store), ["2=after"]);
}

#[test]
fn migrations_run_once_in_order_and_extend_later() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let v1 = "CREATE TABLE a (x INTEGER) STRICT;";
    let v2 = "INSERT INTO a (x) VALUES (1);";
    store.migrate("comp", &[v1]).unwrap();
    store.migrate("comp", &[v1]).unwrap();
    store.migrate("comp", &[v1, v2]).unwrap();
    store.migrate("comp", &[v1, v2]).unwrap();
    // Another component's versions are independent.
    store
        .migrate("other", &[v1.replace(" a ", " b ").as_str()])
        .unwrap();
    drop(store);
    let store = open(&dir);
    store.migrate("comp", &[v1, v2]).unwrap();
    let count: i64 = store
        .read(|c: &Connection| -> Result<i64, TestError> {
            Ok(c.query_row("SELECT count(*) FROM a", [], |r| r.get(0))?)
        })
        .unwrap();
    assert_eq!(count, 1, "the second migration ran exactly once");
}

#[test]
fn a_failing_migration_leaves_the_version_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let v1 = "CREATE TABLE a (x INTEGER) STRICT;";
    let err = store.migrate("comp", &[v1, "NOT SQL"]).unwrap_err();
    assert!(matches!(err, StoreError::Sqlite(_)), "{err}");
    // Version 1 was not recorded either (same transaction), so applying it again works.
    store.migrate("comp", &[v1]).unwrap();
}

#[test]
fn a_newer_schema_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    store
        .migrate(
            "sqs",
            &[
                "CREATE TABLE a (x ANY) STRICT;",
                "CREATE TABLE b (x ANY) STRICT;",
            ],
        )
        .unwrap();
    drop(store);
    let store = open(&dir);
    let err = store
        .migrate("sqs", &["CREATE TABLE a (x ANY) STRICT;"])
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::NewerSchema { component, found: 2, supported: 1 } if component == "sqs"),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "the database holds schema version 2 of `sqs`, but this program supports only up to \
         version 1; use a newer version of the program"
    );
}

fn pragma(store: &Store, name: &'static str) -> String {
    store
        .write(move |c: &Connection| -> Result<String, TestError> {
            Ok(c.query_row(&format!("PRAGMA {name}"), [], |r| {
                r.get::<_, rusqlite::types::Value>(0)
            })
            .map(|v| match v {
                rusqlite::types::Value::Integer(i) => i.to_string(),
                rusqlite::types::Value::Text(t) => t,
                other => format!("{other:?}"),
            })?)
        })
        .unwrap()
}

#[test]
fn durability_options_set_the_synchronous_mode_in_wal() {
    let dir = tempfile::tempdir().unwrap();
    let normal = Store::open(&dir.path().join("normal.db"), Options::default()).unwrap();
    assert_eq!(normal.durability(), Durability::Normal);
    assert_eq!(pragma(&normal, "synchronous"), "1");
    assert_eq!(pragma(&normal, "journal_mode"), "wal");
    let full = Store::open(
        &dir.path().join("full.db"),
        Options {
            durability: Durability::Full,
            ..Options::default()
        },
    )
    .unwrap();
    assert_eq!(full.durability(), Durability::Full);
    assert_eq!(pragma(&full, "synchronous"), "2");
    with_table(&full);
    insert(&full, 1, "synced").unwrap();
    assert_eq!(rows(&full), ["1=synced"]);
}

/// Writer and readers run with the query planner stability guarantee, so that binding a new value
/// to a `LIMIT ?` or a range bound never makes SQLite re-prepare a cached statement.
#[test]
fn every_connection_keeps_its_prepared_plans() {
    use rusqlite::config::DbConfig;
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let stable = |c: &Connection| -> Result<bool, TestError> {
        Ok(c.db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG)?)
    };
    assert!(store.write(stable).unwrap(), "writer");
    assert!(store.read(stable).unwrap(), "reader");
}

#[test]
fn readers_are_read_only() {
    let (_dir, store) = store_with_table();
    let err = store
        .read(|c: &Connection| -> Result<usize, TestError> {
            Ok(c.execute("INSERT INTO t (k, v) VALUES (1, 'x')", [])?)
        })
        .unwrap_err();
    assert!(err.to_string().contains("readonly"), "{err}");
    assert!(rows(&store).is_empty());
}

#[test]
fn open_reports_an_unusable_path() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plain-file");
    std::fs::write(&file, "x").unwrap();
    let err = Store::open(&file.join("state.db"), Options::default())
        .err()
        .unwrap();
    assert!(matches!(err, StoreError::Io { .. }), "{err:?}");
}

#[test]
fn manual_clock_moves_only_when_told_and_wakes_listeners() {
    let clock = ManualClock::new(1_000);
    let (tx, rx) = mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    clock.on_change(Box::new(move || {
        tx.lock().unwrap().send(()).unwrap();
    }));
    assert_eq!(clock.now_millis(), 1_000);
    clock.advance(Duration::from_secs(2));
    assert_eq!(clock.now_millis(), 3_000);
    clock.set(500);
    assert_eq!(clock.now_millis(), 500);
    assert_eq!(rx.try_iter().count(), 2);
    assert!(!clock.is_real());
    assert!(store::SystemClock.now_millis() > 1_600_000_000_000);
}

#[test]
fn checkpoint_empties_the_wal_and_keeps_every_commit() {
    let (dir, store) = store_with_table();
    for k in 0..50 {
        insert(&store, k, "row").unwrap();
    }
    let wal = dir.path().join("env/state.db-wal");
    assert!(std::fs::metadata(&wal).unwrap().len() > 0);
    store.checkpoint().unwrap();
    assert_eq!(std::fs::metadata(&wal).unwrap().len(), 0);
    assert_eq!(rows(&store).len(), 50);
    insert(&store, 50, "after").unwrap();
    drop(store);
    assert_eq!(rows(&open(&dir)).len(), 51);
}

const WAL_LIMIT_PAGES: u32 = 256;
const WAL_LIMIT_BYTES: u64 = WAL_LIMIT_PAGES as u64 * 4096;

fn open_with_wal_limit(dir: &tempfile::TempDir) -> Store {
    let options = Options {
        wal_limit_pages: WAL_LIMIT_PAGES,
        ..Options::default()
    };
    Store::open(&dir.path().join("env/state.db"), options).unwrap()
}

/// Writes `count` rows of about 40 KB from key `from`, one commit each, and returns the largest
/// length the WAL file had after a commit.
fn write_big_rows(store: &Store, dir: &tempfile::TempDir, from: i64, count: i64) -> u64 {
    let value = "x".repeat(40_000);
    let wal = dir.path().join("env/state.db-wal");
    let mut largest = 0;
    for k in from..from + count {
        insert(store, k, &value).unwrap();
        largest = largest.max(std::fs::metadata(&wal).unwrap().len());
    }
    largest
}

/// Under a steady stream of commits the WAL file never grows much past one and a half times its
/// limit: at the limit the writer asks the checkpointer to catch up, and lets the WAL start over
/// once it has, or at one and a half times the limit, however far behind the checkpointer is.
#[test]
fn the_wal_starts_over_at_its_limit_under_steady_writes() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_with_wal_limit(&dir);
    with_table(&store);
    // 300 commits of about 40 KB, 12 MB through a WAL limited to 1 MiB; one commit is 11 pages.
    let largest = write_big_rows(&store, &dir, 0, 300);
    assert!(
        largest > WAL_LIMIT_BYTES / 2 && largest < WAL_LIMIT_BYTES * 3 / 2 + 16 * 4096,
        "largest WAL {largest} bytes, limit {WAL_LIMIT_BYTES}"
    );
    assert_eq!(rows(&store).len(), 300);
    drop(store);
    assert_eq!(rows(&open(&dir)).len(), 300);
}

/// A reader that keeps an old snapshot keeps the WAL from starting over, without stopping the
/// writes; once it is done, the WAL starts over and its file is cut back to the bound.
#[test]
fn a_reader_holding_an_old_snapshot_delays_the_wal_bound_without_blocking_writes() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_with_wal_limit(&dir);
    with_table(&store);
    write_big_rows(&store, &dir, 0, 10);
    let (holding_tx, holding) = mpsc::channel();
    let (release, release_rx) = mpsc::channel::<()>();
    let reader = {
        let store = store.clone();
        std::thread::spawn(move || {
            store
                .read(|c: &Connection| -> Result<i64, TestError> {
                    let n = c.query_row("SELECT count(*) FROM t", [], |r| r.get(0))?;
                    holding_tx.send(()).unwrap();
                    release_rx.recv().unwrap();
                    Ok(n)
                })
                .unwrap()
        })
    };
    holding.recv().unwrap();
    let pinned = write_big_rows(&store, &dir, 10, 90);
    assert!(
        pinned > 2 * WAL_LIMIT_BYTES,
        "a pinned WAL grew to only {pinned} bytes"
    );
    release.send(()).unwrap();
    assert_eq!(
        reader.join().unwrap(),
        10,
        "the reader saw its own snapshot"
    );
    write_big_rows(&store, &dir, 100, 150);
    let wal = std::fs::metadata(dir.path().join("env/state.db-wal"))
        .unwrap()
        .len();
    assert!(
        wal < WAL_LIMIT_BYTES * 3 / 2 + 16 * 4096,
        "after the reader, WAL {wal} bytes, limit {WAL_LIMIT_BYTES}"
    );
    assert_eq!(rows(&store).len(), 250);
}

/// Readers see whole commits while checkpoints copy pages into the database file, whose writes
/// the store's VFS gathers: with a WAL of 1 MiB, 400 commits of about 20 KB start the WAL over
/// many times, and after each start readers take those pages from the database file. Each commit
/// adds keys `10n..10n+10`, so a reader that saw `n` rows must see their keys add up to
/// `n(n-1)/2`; a page read from the file before its checkpoint wrote it out would break that,
/// or the B-tree. After a full checkpoint the database file alone holds every row.
#[test]
fn readers_see_whole_commits_while_checkpoints_copy_pages() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_with_wal_limit(&dir);
    with_table(&store);
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (store, done) = (store.clone(), Arc::clone(&done));
            std::thread::spawn(move || {
                let mut reads = 0;
                while !done.load(std::sync::atomic::Ordering::SeqCst) {
                    let (n, sum): (i64, i64) = store
                        .read(|c: &Connection| -> Result<(i64, i64), TestError> {
                            Ok(c.query_row("SELECT count(*), total(k) FROM t", [], |r| {
                                Ok((r.get(0)?, r.get::<_, f64>(1)? as i64))
                            })?)
                        })
                        .unwrap();
                    assert_eq!(sum, n * (n - 1) / 2, "{n} rows");
                    reads += 1;
                }
                reads
            })
        })
        .collect();
    let value = "y".repeat(2_000);
    for batch in 0..400i64 {
        let value = value.clone();
        store
            .write(move |c: &Connection| -> Result<(), TestError> {
                let mut insert = c.prepare_cached("INSERT INTO t (k, v) VALUES (?1, ?2)")?;
                for k in batch * 10..batch * 10 + 10 {
                    insert.execute(rusqlite::params![k, value])?;
                }
                Ok(())
            })
            .unwrap();
    }
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    for reader in readers {
        assert!(reader.join().unwrap() > 0);
    }
    store.checkpoint().unwrap();
    let copy = dir.path().join("file-alone");
    std::fs::create_dir_all(&copy).unwrap();
    std::fs::copy(dir.path().join("env/state.db"), copy.join("state.db")).unwrap();
    let alone = Connection::open(copy.join("state.db")).unwrap();
    let (n, sum, check): (i64, i64, String) = alone
        .query_row(
            "SELECT count(*), sum(k), (SELECT integrity_check FROM pragma_integrity_check) FROM t",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!((n, sum, check.as_str()), (4_000, 4_000 * 3_999 / 2, "ok"));
}

/// What a crash leaves behind at this moment: the database file and its WAL, copied while the
/// store is open, opened with SQLite's default VFS, which recovers the WAL by its checksums.
fn crash_image(dir: &tempfile::TempDir, to: &std::path::Path) -> Connection {
    std::fs::create_dir_all(to).unwrap();
    for name in ["state.db-wal", "state.db"] {
        std::fs::copy(dir.path().join("env").join(name), to.join(name)).unwrap();
    }
    let conn = Connection::open(to.join("state.db")).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    conn
}

/// Every acknowledged commit is in the WAL file when the write returns, whatever its shape: small
/// commits, and one transaction too large for the page cache, whose pages SQLite writes to the
/// WAL before the commit and then writes again, in place, when they change once more.
#[test]
fn every_acknowledged_commit_is_in_the_files_when_the_write_returns() {
    let (dir, store) = store_with_table();
    for k in 0..20 {
        insert(&store, k, "small").unwrap();
    }
    let image = crash_image(&dir, &dir.path().join("after-small"));
    let n: i64 = image
        .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 20);

    // About 30 MB in one transaction, beyond the 8 MiB page cache, then the first rows again.
    store
        .write(|c: &Connection| -> Result<(), TestError> {
            let mut insert = c.prepare_cached("INSERT INTO t (k, v) VALUES (?1, ?2)")?;
            for k in 100..3_100 {
                insert.execute(rusqlite::params![k, format!("{k:>10000}")])?;
            }
            c.execute("UPDATE t SET v = 'changed ' || k WHERE k < 400", [])?;
            Ok(())
        })
        .unwrap();
    let image = crash_image(&dir, &dir.path().join("after-large"));
    let (n, changed, length): (i64, i64, i64) = image
        .query_row(
            "SELECT count(*), sum(v LIKE 'changed %'), sum(length(v)) FROM t",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(n, 3_020);
    assert_eq!(changed, 20 + 300);
    let changed_length: i64 = (0..20)
        .chain(100..400)
        .map(|k| format!("changed {k}").len() as i64)
        .sum();
    assert_eq!(length, changed_length + 2_700 * 10_000);
}
