//! W1, the sales cascade at scale: `cascade up --once` on the shipped stacks with the vendor API
//! serving `branches x salespersons x sales` records (100 x 100 x 100 = 1,000,000 sales by
//! default), from the schedule firing to the cascade drained, with durable state. Prints per run
//! the drain time, sales per second and the peak memory of the engine and of each function (from
//! `up`'s summary), and beside it, measured in the same run, the floor: a bare SQLite insert of
//! the same rows (every item the tables end with, as JSON documents keyed by table and key) into
//! one table with the store's journal settings, in one transaction. Each run also prints the CPU
//! seconds of the whole `up --once` process tree (engine and functions, from `getrusage`), which
//! tells a run that did more work from one that waited more: the two cores stay busy while the
//! cascade drains, so the two figures should move together.
//!
//! Usage: `cargo bench -p cascade --bench w1 -- [--branches N] [--salespersons N] [--sales N]
//! [--runs R]`. The functions are built (`cascade build`) before the clock starts; each run has
//! its own empty state folder.

// The bench reads what the tables must become, not the check of them.
#[allow(dead_code)]
#[path = "../../collector/tests/it/expected.rs"]
mod expected;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use aws_sdk_dynamodb::types::AttributeValue;
use store::rusqlite::{params, Connection};

use expected::Expected;

struct Args {
    branches: u32,
    salespersons: u32,
    sales: u32,
    runs: usize,
}

fn args() -> Args {
    let mut args = Args {
        branches: 100,
        salespersons: 100,
        sales: 100,
        runs: 1,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || -> u32 {
            it.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{flag} takes a number"))
        };
        match flag.as_str() {
            "--branches" => args.branches = value(),
            "--salespersons" => args.salespersons = value(),
            "--sales" => args.sales = value(),
            "--runs" => args.runs = value() as usize,
            // `cargo bench` passes `--bench`.
            "--bench" => {}
            other => panic!("unknown argument {other}"),
        }
    }
    args
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn cascade() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_cascade"));
    command.current_dir(repo());
    command
}

/// CPU seconds (user and system) of this process's children that have ended and been waited
/// for, and of their own such descendants.
fn children_cpu() -> f64 {
    // SAFETY: an all-zero `rusage` is a valid value, and getrusage writes only into it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    assert_eq!(rc, 0, "getrusage(RUSAGE_CHILDREN) failed");
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

/// One `up --once` run: seconds from the schedule firing to drained, the summary's line of peak
/// memory, and the CPU seconds of the whole run (the engine and the functions it ran, start-up
/// and shut-down included).
fn run_up(vendor_url: &str) -> (f64, String, f64) {
    let state = tempfile::tempdir().expect("temporary folder");
    let cpu_before = children_cpu();
    let out = cascade()
        .args(["up", "--once", "--env", "w1", "--listen", "127.0.0.1:0"])
        .args(["--timeout", "3600", "--state-dir"])
        .arg(state.path())
        .args(["--param", &format!("VendorApiUrl={vendor_url}")])
        .output()
        .expect("run cascade up");
    let cpu = children_cpu() - cpu_before;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "cascade up failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let drained = stdout
        .lines()
        .find_map(|l| l.strip_prefix("drained in "))
        .and_then(|rest| rest.trim_end_matches(" s").parse().ok())
        .unwrap_or_else(|| panic!("no `drained in` line in:\n{stdout}"));
    let memory = stdout
        .lines()
        .find_map(|l| l.strip_prefix("peak memory: "))
        .unwrap_or("unknown")
        .to_owned();
    (drained, memory, cpu)
}

/// Seconds to insert `rows` (table, key, JSON document) into bare SQLite.
fn floor(rows: &[(&str, String, String)]) -> f64 {
    let dir = tempfile::tempdir().expect("temporary folder");
    let mut conn = Connection::open(dir.path().join("floor.db")).expect("open the floor db");
    conn.execute_batch(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;
         CREATE TABLE item (tbl TEXT NOT NULL, key TEXT NOT NULL, doc TEXT NOT NULL,
           PRIMARY KEY (tbl, key));",
    )
    .expect("floor schema");
    let start = Instant::now();
    let tx = conn.transaction().expect("begin");
    {
        let mut insert = tx
            .prepare("INSERT INTO item VALUES (?1, ?2, ?3)")
            .expect("prepare");
        for (table, key, doc) in rows {
            insert.execute(params![table, key, doc]).expect("insert");
        }
    }
    tx.commit().expect("commit");
    start.elapsed().as_secs_f64()
}

/// An item as the DynamoDB JSON document the tables keep.
fn document(item: &BTreeMap<String, AttributeValue>) -> String {
    let fields: serde_json::Map<String, serde_json::Value> = item
        .iter()
        .map(|(name, value)| {
            let typed = match value {
                AttributeValue::S(s) => serde_json::json!({ "S": s }),
                AttributeValue::N(n) => serde_json::json!({ "N": n }),
                other => serde_json::json!({ "S": format!("{other:?}") }),
            };
            (name.clone(), typed)
        })
        .collect();
    serde_json::Value::Object(fields).to_string()
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let args = args();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let config = vendor_api::Config {
        now: Some(SystemTime::now()),
        window: Duration::from_secs(43_200),
        branches: args.branches,
        salespersons: args.salespersons,
        sales: args.sales,
        ..vendor_api::Config::default()
    };
    let dataset = vendor_api::Dataset::new(config.clone()).expect("valid vendor config");
    let expected = Expected::of(&dataset);
    let rows: Vec<(&str, String, String)> = [
        ("branch", "branch_id", &expected.branches),
        ("salesperson", "employee_id", &expected.salespersons),
        ("sale", "sale_id", &expected.sales),
    ]
    .into_iter()
    .flat_map(|(table, key, items)| {
        items
            .iter()
            .map(move |item| (table, format!("{:?}", item[key]), document(item)))
    })
    .collect();
    let sales = expected.sales.len();
    println!(
        "W1: {} branches x {} salespersons x {} sales: {sales} sales, {} items in all",
        args.branches,
        args.salespersons,
        args.sales,
        rows.len()
    );

    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind loopback");
    let url = format!("http://{}", listener.local_addr().expect("bound address"));
    runtime.spawn(async move {
        if let Err(error) = vendor_api::serve(config, listener).await {
            panic!("vendor stopped: {error}");
        }
    });

    let built = cascade().arg("build").status().expect("run cascade build");
    assert!(built.success(), "cascade build failed");

    let (mut drains, mut floors) = (Vec::new(), Vec::new());
    for run in 1..=args.runs {
        let (drained, memory, cpu) = run_up(&url);
        let bare = floor(&rows);
        println!(
            "run {run}: drained in {drained:.1} s ({:.0} sales/s)   floor {bare:.2} s   ratio {:.1}x\n  peak memory: {memory}\n  CPU time of the run (engine and functions): {cpu:.1} s",
            sales as f64 / drained,
            drained / bare
        );
        drains.push(drained);
        floors.push(bare);
    }
    let (drained, bare) = (median(drains), median(floors));
    println!(
        "median of {}: cascade up --once {drained:.1} s ({:.0} sales/s)   bare SQLite floor {bare:.2} s   ratio {:.1}x   (targets: at most 10 s and 5x)",
        args.runs,
        sales as f64 / drained,
        drained / bare
    );
}
