//! A Lambda service on a temporary store and a virtual clock, running the `test-function` binary.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use lambda::{Config, Datapoint, Deps, FunctionSpec, Lambda, MetricsSink, StaticCredentials};
use store::{ManualClock, Options, Store};

/// 2026-01-01T00:00:00Z.
pub const START_MS: i64 = 1_767_225_600_000;

/// The folder holding the test function as `bootstrap`, built once per test run.
pub fn code_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        // The test binary is `<target>/debug/deps/it-<hash>`: build the function in the same
        // target folder so that its dependencies are shared.
        let exe = std::env::current_exe().expect("test binary path");
        let target = exe
            .ancestors()
            .nth(3)
            .expect("target folder of the test binary")
            .to_owned();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = std::process::Command::new(cargo)
            .args(["build", "--quiet", "-p", "test-function"])
            .env("CARGO_TARGET_DIR", &target)
            .status()
            .expect("run cargo build -p test-function");
        assert!(status.success(), "building test-function failed");
        let dir = target.join("lambda-test-code");
        std::fs::create_dir_all(&dir).unwrap();
        let built = target.join("debug").join("test-function");
        let partial = dir.join(format!(".bootstrap.{}", std::process::id()));
        std::fs::copy(&built, &partial).unwrap();
        std::fs::rename(&partial, dir.join("bootstrap")).unwrap();
        dir
    })
}

/// A function running the test function.
pub fn function(name: &str) -> FunctionSpec {
    FunctionSpec::new(name, code_dir())
}

/// Datapoints the service reported.
#[derive(Default)]
pub struct Recorder(Mutex<Vec<Datapoint>>);

impl MetricsSink for Recorder {
    fn put(&self, datapoint: Datapoint) {
        self.0.lock().unwrap().push(datapoint);
    }
}

impl Recorder {
    /// The sum of a metric of a function.
    pub fn sum(&self, metric: &str, function: &str) -> f64 {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|d| d.metric_name == metric && d.dimensions[0].1 == function)
            .map(|d| d.value)
            .sum()
    }
}

pub struct Env {
    pub dir: tempfile::TempDir,
    pub store: Store,
    pub clock: Arc<ManualClock>,
    pub sqs: sqs::Sqs,
    pub dynamodb: dynamodb::DynamoDb,
    pub metrics: Arc<Recorder>,
    pub lambda: Lambda,
}

pub fn config() -> Config {
    Config {
        stream_poll_interval: Duration::from_millis(20),
        ..Config::default()
    }
}

impl Env {
    pub fn new(functions: Vec<FunctionSpec>) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("state.db"), Options::default()).unwrap();
        Env::on(dir, store, functions)
    }

    /// A service on an existing store (a restart).
    pub fn on(dir: tempfile::TempDir, store: Store, functions: Vec<FunctionSpec>) -> Env {
        code_dir();
        let clock = Arc::new(ManualClock::new(START_MS));
        let sqs = sqs::Sqs::new(store.clone(), clock.clone(), sqs::Config::default()).unwrap();
        let dynamodb = dynamodb::DynamoDb::new(store.clone(), clock.clone()).unwrap();
        let metrics = Arc::new(Recorder::default());
        let lambda = Lambda::new(
            Deps {
                store: store.clone(),
                clock: clock.clone(),
                sqs: sqs.clone(),
                dynamodb: dynamodb.clone(),
                credentials: Arc::new(StaticCredentials::local()),
                metrics: metrics.clone(),
            },
            config(),
            functions,
        )
        .unwrap();
        Env {
            dir,
            store,
            clock,
            sqs,
            dynamodb,
            metrics,
            lambda,
        }
    }

    /// Creates a queue with attributes and returns its ARN.
    pub fn queue(&self, name: &str, attributes: &[(&str, &str)]) -> String {
        self.sqs
            .create_queue(
                "http://localhost",
                sqs::CreateQueue {
                    queue_name: name.into(),
                    attributes: attributes
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                    tags: Default::default(),
                },
            )
            .unwrap();
        self.sqs.queue_arn(name)
    }

    pub fn send(&self, queue: &str, body: &str) {
        self.sqs
            .send_message(sqs::SendMessage {
                queue_url: queue.into(),
                message_body: body.into(),
                ..Default::default()
            })
            .unwrap();
    }

    /// Visible, in-flight counts of a queue.
    pub fn counts(&self, queue: &str) -> (i64, i64) {
        let a = self
            .sqs
            .get_queue_attributes(queue, &["All".to_string()])
            .unwrap();
        (
            a["ApproximateNumberOfMessages"].parse().unwrap(),
            a["ApproximateNumberOfMessagesNotVisible"].parse().unwrap(),
        )
    }

    /// Takes every message of a queue (for checking dead-letter queues).
    pub fn drain_queue(&self, queue: &str) -> Vec<sqs::Message> {
        let mut all = Vec::new();
        loop {
            let got = self
                .sqs
                .receive_message(&sqs::ReceiveMessage {
                    queue_url: queue.into(),
                    max_number_of_messages: Some(10),
                    wait_time_seconds: Some(0),
                    visibility_timeout: Some(600),
                    attribute_names: vec!["All".into()],
                    message_attribute_names: vec!["All".into()],
                })
                .unwrap()
                .messages;
            if got.is_empty() {
                return all;
            }
            all.extend(got);
        }
    }

    /// Log messages of a function.
    pub fn log(&self, function: &str) -> Vec<String> {
        self.lambda
            .logs(function, 0)
            .unwrap()
            .into_iter()
            .map(|e| e.message)
            .collect()
    }

    pub fn stats(&self, function: &str) -> lambda::FunctionStats {
        self.lambda
            .stats()
            .into_iter()
            .find(|s| s.function == function)
            .unwrap()
    }
}

/// Waits (real time, for real processes) until `check` holds; panics after 20 s with `what`.
pub async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The events the function printed (it runs with `TEST_FUNCTION_PRINT_EVENT`).
pub fn printed_events(env: &Env, function: &str) -> Vec<serde_json::Value> {
    env.log(function)
        .iter()
        .filter_map(|l| l.strip_prefix("event "))
        .map(|e| serde_json::from_str(e).unwrap())
        .collect()
}

pub fn printing(name: &str) -> lambda::FunctionSpec {
    let mut spec = function(name);
    spec.environment = vec![("TEST_FUNCTION_PRINT_EVENT".into(), "1".into())];
    spec
}
