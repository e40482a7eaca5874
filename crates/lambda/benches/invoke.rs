//! Warm invocation overhead: the median time of a synchronous invocation of the test function
//! with an empty event (it answers at once), next to the median of a bare HTTP/1.1 round trip on
//! loopback (a keep-alive client thread against a hyper server), measured in the same run.
//! Target: under 200 us per warm invocation.
//!
//! Run: `cargo bench -p lambda --bench invoke`. The test function is built with
//! `cargo build -p test-function` (debug profile) into the same target folder, so its own part of
//! each invocation is, if anything, overstated.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use lambda::{Config, Deps, FunctionSpec, Lambda, NoMetrics, StaticCredentials};
use store::{Options, Store, SystemClock};

const WARMUP: usize = 200;
const ROUNDS: usize = 3000;

fn main() {
    let code_dir = build_test_function();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let reference = runtime.block_on(http_round_trip());
    let invoke = runtime.block_on(warm_invoke(code_dir));
    println!(
        "warm invocation overhead, empty function ({ROUNDS} invocations after {WARMUP} warm-up)"
    );
    println!(
        "  reference: bare HTTP round trip on loopback   median {:>7.1} us   p90 {:>7.1} us",
        micros(reference.0),
        micros(reference.1)
    );
    println!(
        "  lambda:    warm synchronous invocation        median {:>7.1} us   p90 {:>7.1} us",
        micros(invoke.0),
        micros(invoke.1)
    );
    println!(
        "  ratio {:.2}x the reference; target: under 200 us per warm invocation",
        invoke.0.as_secs_f64() / reference.0.as_secs_f64()
    );
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// Median and 90th percentile.
fn stats(mut samples: Vec<Duration>) -> (Duration, Duration) {
    samples.sort();
    (samples[samples.len() / 2], samples[samples.len() * 9 / 10])
}

fn build_test_function() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let target = exe.ancestors().nth(3).unwrap().to_owned();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = std::process::Command::new(cargo)
        .args(["build", "--quiet", "-p", "test-function"])
        .env("CARGO_TARGET_DIR", &target)
        .status()
        .unwrap();
    assert!(status.success(), "building test-function failed");
    let dir = target.join("lambda-bench-code");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(
        target.join("debug").join("test-function"),
        dir.join("bootstrap"),
    )
    .unwrap();
    dir
}

async fn warm_invoke(code_dir: PathBuf) -> (Duration, Duration) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("state.db"), Options::default()).unwrap();
    let clock = Arc::new(SystemClock);
    let sqs = sqs::Sqs::new(store.clone(), clock.clone(), sqs::Config::default()).unwrap();
    let dynamodb = dynamodb::DynamoDb::new(store.clone(), clock.clone()).unwrap();
    let lambda = Lambda::new(
        Deps {
            store,
            clock,
            sqs,
            dynamodb,
            credentials: Arc::new(StaticCredentials::local()),
            metrics: Arc::new(NoMetrics),
        },
        Config::default(),
        vec![FunctionSpec::new("empty", code_dir)],
    )
    .unwrap();
    let mut samples = Vec::with_capacity(ROUNDS);
    for i in 0..WARMUP + ROUNDS {
        let start = Instant::now();
        let r = lambda.invoke("empty", b"").await.unwrap();
        let took = start.elapsed();
        assert!(r.function_error.is_none());
        if i >= WARMUP {
            samples.push(took);
        }
    }
    lambda.stop().await;
    stats(samples)
}

/// A hyper server answering every request with a small body, and a blocking keep-alive client
/// on its own thread (as a function's runtime client is).
async fn http_round_trip() -> (Duration, Duration) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            stream.set_nodelay(true).unwrap();
            tokio::spawn(async move {
                let service =
                    hyper::service::service_fn(|_req: Request<hyper::body::Incoming>| async {
                        Ok::<_, std::convert::Infallible>(Response::new(Full::new(
                            Bytes::from_static(b"{\"status\":\"OK\"}"),
                        )))
                    });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    tokio::task::spawn_blocking(move || {
        let stream = TcpStream::connect(addr).unwrap();
        stream.set_nodelay(true).unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut writer = stream;
        let mut samples = Vec::with_capacity(ROUNDS);
        let mut line = String::new();
        for i in 0..WARMUP + ROUNDS {
            let start = Instant::now();
            writer
                .write_all(b"GET /ping HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
                .unwrap();
            let mut length = 0;
            loop {
                line.clear();
                reader.read_line(&mut line).unwrap();
                if line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap();
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            if i >= WARMUP {
                samples.push(start.elapsed());
            }
        }
        stats(samples)
    })
    .await
    .unwrap()
}
