//! How fast `cascade up` is ready: the time from starting the process to its endpoint answering
//! an SQS ListQueues over HTTP, with the shipped sales stacks already deployed and the functions
//! already built (the everyday restart). Beside it, measured in the same run, the floor of any
//! `cascade` command: starting the binary for `cascade --version`.
//!
//! Usage: `cargo bench -p cascade --bench up_start -- [--runs N]` (default 20). Each start is
//! stopped with SIGKILL once ready; its state folder is kept across runs, as a user's is. The
//! vendor address points at a closed port: the run the schedules start fails its fetches after
//! the endpoint is ready, which is not measured.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const VENDOR: &str = "VendorApiUrl=http://127.0.0.1:9";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn cascade() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_cascade"));
    command.current_dir(repo());
    command
}

/// Seconds from spawning `up` to an answered ListQueues on its endpoint.
fn start_up(state: &Path) -> f64 {
    let began = Instant::now();
    let mut child = cascade()
        .args([
            "up",
            "--env",
            "bench",
            "--listen",
            "127.0.0.1:0",
            "--state-dir",
        ])
        .arg(state)
        .args(["--param", VENDOR])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start cascade up");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let address = loop {
        let line = lines
            .next()
            .expect("cascade up ended before its endpoint line")
            .expect("read stderr");
        if let Some(rest) = line.strip_prefix("endpoint http://") {
            break rest
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_owned();
        }
    };
    let mut stream = TcpStream::connect(&address).expect("connect to the endpoint");
    let body = "Action=ListQueues&Version=2012-11-05";
    write!(
        stream,
        "POST / HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("send ListQueues");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read the answer");
    let elapsed = began.elapsed().as_secs_f64();
    assert!(
        answer.starts_with("HTTP/1.1 200"),
        "ListQueues failed: {answer}"
    );
    child.kill().expect("stop cascade up");
    child.wait().expect("reap cascade up");
    // Keep draining stderr so nothing blocks; the process is gone.
    std::thread::spawn(move || lines.for_each(drop));
    elapsed
}

fn version() -> f64 {
    let began = Instant::now();
    let status = cascade()
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .expect("run cascade --version");
    assert!(status.success());
    began.elapsed().as_secs_f64()
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let mut runs = 20;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--runs" => {
                runs = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--runs takes a number")
            }
            "--bench" => {}
            other => panic!("unknown argument {other}"),
        }
    }
    let state = tempfile::tempdir().expect("temporary folder");
    let built = cascade().arg("build").status().expect("run cascade build");
    assert!(built.success(), "cascade build failed");
    let deployed = cascade()
        .args(["deploy", "--env", "bench", "--state-dir"])
        .arg(state.path())
        .args(["--param", VENDOR])
        .stdout(Stdio::null())
        .status()
        .expect("run cascade deploy");
    assert!(deployed.success(), "cascade deploy failed");
    // One start to warm the page cache, not counted.
    start_up(state.path());
    std::thread::sleep(Duration::from_millis(200));

    let (mut ups, mut versions) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        ups.push(start_up(state.path()));
        versions.push(version());
    }
    let (up, floor) = (median(ups), median(versions));
    println!(
        "cascade up to a ready endpoint (sales stacks deployed, functions built): median of {runs} {:.1} ms   cascade --version {:.1} ms   (target: under 50 ms)",
        up * 1e3,
        floor * 1e3
    );
}
