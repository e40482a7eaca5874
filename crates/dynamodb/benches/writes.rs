//! Write throughput of sale items through BatchWriteItem, beside its floor.
//!
//! The measured path: SALE items (source-api.md: `sale_id` HASH, `employee_id` RANGE, customer,
//! product, quantity, unit_price, total, transaction_timestamp, branch_id) written with
//! BatchWriteItem in 25-item batches into a table whose stream is on with NEW_IMAGE, through the
//! real store (WAL, synchronous=NORMAL, group commit). The floor, measured in the same run: a bare
//! SQLite insert of the same rows into a nine-column table (same journal settings), with one
//! prepared statement in one transaction.
//!
//! Usage: `cargo bench -p dynamodb --bench writes -- [--items N] [--runs R] [--callers C]
//! [--only engine|floor|commits-default-cache|commits-64mib-cache]` (defaults: 1,000,000 items,
//! 3 runs, 4 callers, both sides). `--only` runs one side, for instruction counts under
//! `valgrind --tool=callgrind`; the `commits-*` sides are the bare insert in commits of 100 rows
//! with SQLite's default page cache and with the store's 64 MiB, to show the cost of the latter
//! on every commit. Requests are built before the clock starts, for both sides; with C callers,
//! C threads each build their share of the batches, then call the engine concurrently, and their
//! writes share commits through the store's group commit.

use std::sync::Arc;
use std::time::Instant;

use dynamodb::{
    AttributeDefinition, AttributeValue, BatchWriteItemInput, BillingMode, CreateTableInput,
    DynamoDb, Item, KeySchemaElement, KeyType, ScalarType, StreamSpecification, StreamViewType,
    WriteRequest,
};
use store::rusqlite::{params, Connection};
use store::{Options, Store, SystemClock};

/// The allocator `cascade` runs the engine on, so that the figures are the product's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Sale {
    sale_id: i64,
    employee_id: i64,
    customer: String,
    product: String,
    quantity: i64,
    unit_price: String,
    total: String,
    transaction_timestamp: String,
    branch_id: i64,
}

fn sales(n: usize) -> Vec<Sale> {
    const PRODUCTS: [&str; 5] = [
        "Copy paper A4",
        "Cardstock",
        "Envelopes",
        "Legal pads",
        "Printer paper",
    ];
    (0..n as i64)
        .map(|i| {
            let quantity = 1 + i % 40;
            let cents = 199 + (i * 37) % 5000;
            Sale {
                sale_id: 1_000_000 + i,
                employee_id: 100 + i % 10_000,
                customer: format!("Customer {}", i % 997),
                product: PRODUCTS[(i % 5) as usize].to_string(),
                quantity,
                unit_price: format!("{}.{:02}", cents / 100, cents % 100),
                total: format!("{}.{:02}", cents * quantity / 100, cents * quantity % 100),
                transaction_timestamp: format!(
                    "2026-11-25 {:02}:{:02}:{:02}",
                    i / 3600 % 24,
                    i / 60 % 60,
                    i % 60
                ),
                branch_id: 1 + i % 13,
            }
        })
        .collect()
}

fn n(text: &str) -> AttributeValue {
    AttributeValue::n(text).expect("valid number")
}

fn sale_item(s: &Sale) -> Item {
    let mut item = Item::new();
    item.insert("sale_id".into(), n(&s.sale_id.to_string()));
    item.insert("employee_id".into(), n(&s.employee_id.to_string()));
    item.insert("customer".into(), AttributeValue::s(&s.customer));
    item.insert("product".into(), AttributeValue::s(&s.product));
    item.insert("quantity".into(), n(&s.quantity.to_string()));
    item.insert("unit_price".into(), n(&s.unit_price));
    item.insert("total".into(), n(&s.total));
    item.insert(
        "transaction_timestamp".into(),
        AttributeValue::s(&s.transaction_timestamp),
    );
    item.insert("branch_id".into(), n(&s.branch_id.to_string()));
    item
}

fn sale_table() -> CreateTableInput {
    let def = |name: &str| AttributeDefinition {
        attribute_name: name.into(),
        attribute_type: ScalarType::N,
    };
    CreateTableInput {
        table_name: "sale-bench".into(),
        key_schema: vec![
            KeySchemaElement {
                attribute_name: "sale_id".into(),
                key_type: KeyType::Hash,
            },
            KeySchemaElement {
                attribute_name: "employee_id".into(),
                key_type: KeyType::Range,
            },
        ],
        attribute_definitions: vec![def("sale_id"), def("employee_id")],
        billing_mode: Some(BillingMode::PayPerRequest),
        provisioned_throughput: None,
        stream_specification: Some(StreamSpecification {
            stream_enabled: true,
            stream_view_type: Some(StreamViewType::NewImage),
        }),
    }
}

/// Items per second through the engine.
fn run_engine(rows: &[Sale], callers: usize) -> Measure {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(&dir.path().join("bench.db"), Options::default()).expect("open store");
    let db = DynamoDb::new(store, Arc::new(SystemClock)).expect("engine");
    db.create_table(sale_table()).expect("create table");
    let batch = |chunk: &[Sale]| {
        let mut input = BatchWriteItemInput::default();
        input.request_items.insert(
            "sale-bench".into(),
            chunk
                .iter()
                .map(|s| WriteRequest::Put { item: sale_item(s) })
                .collect(),
        );
        input
    };
    // Each caller builds its own requests before the clock starts, as the endpoint parses a
    // request on the thread that then calls the engine and drops it.
    let ready = std::sync::Barrier::new(callers + 1);
    let (start, cpu_before) = std::thread::scope(|scope| {
        for c in 0..callers {
            let db = db.clone();
            let ready = &ready;
            scope.spawn(move || {
                let share: Vec<BatchWriteItemInput> = rows
                    .chunks(25)
                    .skip(c)
                    .step_by(callers)
                    .map(batch)
                    .collect();
                ready.wait();
                for input in share {
                    db.batch_write_item(input).expect("batch write");
                }
            });
        }
        ready.wait();
        (Instant::now(), cpu_seconds())
    });
    let secs = start.elapsed().as_secs_f64();
    let described = db.describe_table("sale-bench").expect("describe");
    assert_eq!(
        described.item_count as usize,
        rows.len(),
        "every item written"
    );
    let stats = db.store().stats();
    eprintln!(
        "  engine: {} commits, {:.1} writes per commit, largest {}",
        stats.commits,
        stats.writes as f64 / stats.commits.max(1) as f64,
        stats.largest_batch
    );
    Measure::new(rows.len(), secs, cpu_before)
}

/// Items per second of the bare SQLite insert.
fn run_floor(rows: &[Sale]) -> Measure {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut conn = Connection::open(dir.path().join("floor.db")).expect("open floor db");
    conn.execute_batch(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;
         CREATE TABLE sale (sale_id INTEGER NOT NULL, employee_id INTEGER NOT NULL, customer TEXT,
           product TEXT, quantity INTEGER, unit_price TEXT, total TEXT, transaction_timestamp TEXT,
           branch_id INTEGER, PRIMARY KEY (sale_id, employee_id));",
    )
    .expect("floor schema");
    let cpu_before = cpu_seconds();
    let start = Instant::now();
    let tx = conn.transaction().expect("begin");
    {
        let mut stmt = tx
            .prepare("INSERT INTO sale VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)")
            .expect("prepare");
        for s in rows {
            stmt.execute(params![
                s.sale_id,
                s.employee_id,
                s.customer,
                s.product,
                s.quantity,
                s.unit_price,
                s.total,
                s.transaction_timestamp,
                s.branch_id
            ])
            .expect("insert");
        }
    }
    tx.commit().expect("commit");
    Measure::new(rows.len(), start.elapsed().as_secs_f64(), cpu_before)
}

/// The bare insert again, but in commits of `per_commit` rows as the store's group commit makes
/// them (each 25 rows in a savepoint, as each call is), on a connection with SQLite's default page cache or with `cache_kib` KiB of it (the
/// store's writer has 64 MiB). Shows what a large page cache costs on every COMMIT: SQLite walks
/// the cache's whole page hash at the end of each write transaction.
fn run_commits(rows: &[Sale], per_commit: usize, cache_kib: Option<i64>) -> Measure {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut conn = Connection::open(dir.path().join("commits.db")).expect("open db");
    conn.execute_batch(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;
         CREATE TABLE sale (sale_id INTEGER NOT NULL, employee_id INTEGER NOT NULL, customer TEXT,
           product TEXT, quantity INTEGER, unit_price TEXT, total TEXT, transaction_timestamp TEXT,
           branch_id INTEGER, PRIMARY KEY (sale_id, employee_id));",
    )
    .expect("schema");
    if let Some(kib) = cache_kib {
        conn.pragma_update(None, "cache_size", -kib)
            .expect("cache size");
    }
    let cpu_before = cpu_seconds();
    let start = Instant::now();
    for chunk in rows.chunks(per_commit) {
        let tx = conn.transaction().expect("begin");
        // As in the store: 25 rows (one call) per savepoint.
        for call in chunk.chunks(25) {
            tx.execute_batch("SAVEPOINT job").expect("savepoint");
            let mut stmt = tx
                .prepare_cached("INSERT INTO sale VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)")
                .expect("prepare");
            for s in call {
                stmt.execute(params![
                    s.sale_id,
                    s.employee_id,
                    s.customer,
                    s.product,
                    s.quantity,
                    s.unit_price,
                    s.total,
                    s.transaction_timestamp,
                    s.branch_id
                ])
                .expect("insert");
            }
            drop(stmt);
            tx.execute_batch("RELEASE job").expect("release");
        }
        tx.commit().expect("commit");
    }
    Measure::new(rows.len(), start.elapsed().as_secs_f64(), cpu_before)
}

/// CPU seconds this process has used (all threads, user and system), from `/proc/self/stat`.
/// Beside wall-clock rates it shows the cost of each side independently of other load on the
/// machine. `None` where `/proc` is not there.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // After the command name (which ends with the last ')'), utime and stime are the 12th and
    // 13th fields, in clock ticks of 1/100 s on Linux.
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// One measured run: items per second, and CPU microseconds per item when known.
struct Measure {
    rate: f64,
    cpu_us: Option<f64>,
}

impl Measure {
    fn new(items: usize, secs: f64, cpu_before: Option<f64>) -> Measure {
        let cpu_us = match (cpu_before, cpu_seconds()) {
            (Some(a), Some(b)) => Some((b - a) * 1e6 / items as f64),
            _ => None,
        };
        Measure {
            rate: items as f64 / secs,
            cpu_us,
        }
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn arg(args: &[String], name: &str, default: usize) -> usize {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let items = arg(&args, "--items", 1_000_000);
    let runs = arg(&args, "--runs", 3).max(1);
    let callers = arg(&args, "--callers", 4).max(1);
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .map(String::as_str);
    let rows = sales(items);
    if let Some(side) = only {
        for run in 0..runs {
            let m = match side {
                "engine" => run_engine(&rows, callers),
                "floor" => run_floor(&rows),
                "commits-default-cache" => run_commits(&rows, 100, None),
                "commits-64mib-cache" => run_commits(&rows, 100, Some(65536)),
                other => panic!(
                    "--only takes engine, floor, commits-default-cache or commits-64mib-cache, not {other}"
                ),
            };
            println!(
                "run {}: {side} {:>8.0} items/s ({:.1} us CPU/item)",
                run + 1,
                m.rate,
                m.cpu_us.unwrap_or(f64::NAN)
            );
        }
        return;
    }
    let (mut engine, mut floor) = (Vec::new(), Vec::new());
    let (mut engine_cpu, mut floor_cpu) = (Vec::new(), Vec::new());
    for run in 0..runs {
        let f = run_floor(&rows);
        let e = run_engine(&rows, callers);
        println!(
            "run {}: engine {:>8.0} items/s ({:.1} us CPU/item)   floor {:>8.0} rows/s ({:.1} us CPU/row)",
            run + 1,
            e.rate,
            e.cpu_us.unwrap_or(f64::NAN),
            f.rate,
            f.cpu_us.unwrap_or(f64::NAN)
        );
        engine.push(e.rate);
        floor.push(f.rate);
        engine_cpu.extend(e.cpu_us);
        floor_cpu.extend(f.cpu_us);
    }
    let (e, f) = (median(engine), median(floor));
    println!(
        "{items} sale items, 25-item BatchWriteItem, NEW_IMAGE stream, {callers} caller(s), median of {runs}:"
    );
    println!(
        "  engine {e:>8.0} items/s   floor {f:>8.0} rows/s   engine/floor time ratio {:.2}x",
        f / e
    );
    if !engine_cpu.is_empty() && !floor_cpu.is_empty() {
        let (ec, fc) = (median(engine_cpu), median(floor_cpu));
        println!(
            "  CPU per item (all threads): engine {ec:.1} us   floor {fc:.1} us   ratio {:.2}x",
            ec / fc
        );
    }
    println!("  targets: engine >= 300000 items/s, ratio <= 3.00x");
}
