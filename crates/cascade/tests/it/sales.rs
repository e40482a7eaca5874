//! The sales pipeline as its user runs it: `cascade up --once` on the shipped stacks (the three
//! collectors built with cargo and run as processes by the local Lambda), with the vendor API on a
//! loopback port given as the `VendorApiUrl` parameter. Afterwards `cascade serve` opens the same
//! state and the tables are read through the AWS SDK, field for field against what the vendor's
//! dataset must become (`expected`, shared with the collector's tests). A `kill -9` of `up` in the
//! middle of a run, then `up --once` again, ends with the same exact contents.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, SystemTime};

use crate::expected::{check_table, scan_table, Expected};
use crate::repo;

/// The environment of these tests: its own table and queue names, no companion.
const ENV: &str = "e2e";

/// The vendor API on an ephemeral port with `branches x salespersons x sales` records, its
/// window ending now (the collectors run on the real clock).
async fn vendor(branches: u32, salespersons: u32, sales: u32) -> (String, vendor_api::Dataset) {
    let config = vendor_api::Config {
        now: Some(SystemTime::now()),
        // Half a day, inside the collectors' 24 hours however long the run takes.
        window: Duration::from_secs(43_200),
        branches,
        salespersons,
        sales,
        ..vendor_api::Config::default()
    };
    let dataset = vendor_api::Dataset::new(config.clone()).expect("valid vendor config");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let url = format!("http://{}", listener.local_addr().expect("bound address"));
    tokio::spawn(async move {
        if let Err(error) = vendor_api::serve(config, listener).await {
            panic!("vendor stopped: {error}");
        }
    });
    (url, dataset)
}

/// `cascade up --once` of environment [`ENV`] on the shipped stacks, state in `state`, started.
fn start_up(state: &Path, vendor_url: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_cascade"))
        .args(["up", "--once", "--env", ENV, "--listen", "127.0.0.1:0"])
        .args(["--timeout", "600", "--state-dir"])
        .arg(state)
        .args(["--param", &format!("VendorApiUrl={vendor_url}")])
        .current_dir(repo())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start cascade up")
}

/// Waits for `up` to exit; returns (exit code, stdout, stderr).
async fn finish(child: Child) -> (i32, String, String) {
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .expect("join")
        .expect("wait for cascade up");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A DynamoDB client of the local endpoint at `endpoint`.
fn dynamodb_client(endpoint: &str) -> aws_sdk_dynamodb::Client {
    local_client!(aws_sdk_dynamodb, endpoint)
}

/// `cascade serve` on the state a run left; killed when dropped.
struct Serve {
    child: Child,
    endpoint: String,
}

impl Serve {
    fn start(state: &Path) -> Serve {
        let mut child = Command::new(env!("CARGO_BIN_EXE_cascade"))
            .args([
                "serve",
                "--env",
                ENV,
                "--listen",
                "127.0.0.1:0",
                "--state-dir",
            ])
            .arg(state)
            .stderr(Stdio::piped())
            .spawn()
            .expect("start cascade serve");
        let mut first = String::new();
        BufReader::new(child.stderr.take().expect("stderr"))
            .read_line(&mut first)
            .expect("read the startup line");
        let endpoint = first
            .split_whitespace()
            .find(|word| word.starts_with("http://"))
            .unwrap_or_else(|| panic!("no endpoint in `{first}`"))
            .to_owned();
        Serve { child, endpoint }
    }

    fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        dynamodb_client(&self.endpoint)
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Asserts that each table of [`ENV`] holds exactly what the dataset must become.
async fn check_tables(state: &Path, expected: &Expected) {
    let serve = Serve::start(state);
    for (table, key, want) in [
        ("branch", "branch_id", &expected.branches),
        ("salesperson", "employee_id", &expected.salespersons),
        ("sale", "sale_id", &expected.sales),
    ] {
        let table = format!("{table}-{ENV}");
        check_table(
            &table,
            scan_table(&serve.dynamodb(), &table).await,
            want,
            key,
        );
    }
}

/// The number after `word` on the summary line of a stage (`stage sales  fetched N ...`).
fn stage_count(out: &str, stage: &str, word: &str) -> u64 {
    let line = out
        .lines()
        .find(|l| l.split_whitespace().take(2).eq(["stage", stage]))
        .unwrap_or_else(|| panic!("no line for stage {stage} in:\n{out}"));
    let mut words = line.split_whitespace();
    words.find(|w| *w == word);
    words
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no `{word} N` in `{line}`"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_once_fills_each_table_with_the_vendor_records_and_a_second_run_writes_nothing() {
    let (url, dataset) = vendor(4, 3, 5).await;
    let expected = Expected::of(&dataset);
    let state = tempfile::tempdir().expect("temporary folder");
    let (code, out, err) = finish(start_up(state.path(), &url)).await;
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(out.contains("result: ok"), "{out}");
    // Every queue and dead-letter queue is empty at the end.
    for line in out
        .lines()
        .filter(|l| l.trim_start().starts_with("queue") || l.trim_start().starts_with("dlq"))
    {
        let words: Vec<&str> = line.split_whitespace().collect();
        assert!(
            words.ends_with(&["visible", "0", "in", "flight", "0"]),
            "{line}"
        );
    }
    assert_eq!(
        stage_count(&out, "sales", "written"),
        expected.sales.len() as u64
    );
    assert_eq!(
        stage_count(&out, "salespersons", "written"),
        expected.salespersons.len() as u64
    );
    check_tables(state.path(), &expected).await;

    // The same source again: everything is fetched, nothing is written.
    let (code, out, err) = finish(start_up(state.path(), &url)).await;
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert_eq!(
        stage_count(&out, "sales", "fetched"),
        expected.sales.len() as u64
    );
    for stage in ["branches", "salespersons", "sales"] {
        assert_eq!(stage_count(&out, stage, "written"), 0, "{stage}:\n{out}");
    }
    check_tables(state.path(), &expected).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_killed_mid_way_and_run_again_ends_with_exact_contents() {
    let (url, dataset) = vendor(10, 10, 100).await;
    let expected = Expected::of(&dataset);
    let state = tempfile::tempdir().expect("temporary folder");

    let mut child = start_up(state.path(), &url);
    // Every stderr line, as it comes (`up` must never block on a full pipe).
    let (lines, on_line) = mpsc::channel::<String>();
    let stderr = child.stderr.take().expect("stderr");
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    // The endpoint comes up before the schedule fires; on a fresh clone `up` first builds the
    // collectors, which takes minutes.
    let (on_line, endpoint, mut seen) = tokio::task::spawn_blocking(move || {
        let mut seen = Vec::new();
        loop {
            let line = on_line
                .recv_timeout(Duration::from_secs(1800))
                .unwrap_or_else(|e| panic!("no endpoint line ({e}) after:\n{}", seen.join("\n")));
            if let Some(rest) = line.strip_prefix("endpoint ") {
                let endpoint = rest
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_owned();
                seen.push(line);
                return (on_line, endpoint, seen);
            }
            seen.push(line);
        }
    })
    .await
    .expect("join");
    // Kill once the first sales are written and before all of them are: mid-run for sure.
    let db = dynamodb_client(&endpoint);
    let total = expected.sales.len() as i64;
    let table = format!("sale-{ENV}");
    let mut written = 0;
    while written == 0 {
        seen.extend(on_line.try_iter());
        assert!(
            child.try_wait().expect("poll cascade up").is_none(),
            "cascade up ended before any sale was written:\n{}",
            seen.join("\n")
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
        written = db
            .describe_table()
            .table_name(&table)
            .send()
            .await
            .ok()
            .and_then(|d| d.table?.item_count)
            .unwrap_or(0);
    }
    // SIGKILL: no handler runs, the functions die with the engine (parent-death signal).
    child.kill().expect("kill -9");
    child.wait().expect("reap");
    assert!(
        written < total,
        "the run wrote all {total} sales before the kill: make it larger"
    );

    let (code, out, err) = finish(start_up(state.path(), &url)).await;
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(out.contains("result: ok"), "{out}");
    check_tables(state.path(), &expected).await;
}

/// `cascade ARGS` in the repository, run to its end.
async fn cascade(args: Vec<String>) -> std::process::Output {
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_cascade"))
            .args(&args)
            .current_dir(repo())
            .output()
            .expect("run cascade")
    })
    .await
    .expect("join")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cascade_invoke_of_the_branch_collector_with_its_default_event_starts_a_run() {
    let (url, _dataset) = vendor(3, 1, 1).await;
    let state = tempfile::tempdir().expect("temporary folder");
    let state_dir = state.path().display().to_string();
    let env = ["--env", ENV, "--state-dir", &state_dir].map(String::from);
    let mut deploy = vec!["deploy".to_owned(), "--param".to_owned()];
    deploy.push(format!("VendorApiUrl={url}"));
    let out = cascade([&deploy[..], &env].concat()).await;
    assert!(out.status.success(), "{out:?}");
    // The event `cascade invoke` sends when given none is `{}`.
    let invoke = ["invoke", "BranchCollector"].map(String::from);
    let out = cascade([&invoke[..], &env].concat()).await;
    assert!(out.status.success(), "{out:?}");
    let started: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("the function's response is JSON");
    assert_eq!(
        (&started["branches"], &started["sent"]),
        (&3.into(), &3.into())
    );
}
