//! The local Lambda service: functions run as processes behind the Lambda Runtime API, invoked
//! synchronously, asynchronously (with AWS's retries and dead-letter queue) and by triggers (SQS
//! event source mappings, DynamoDB stream mappings, schedules).
//!
//! [`Lambda`] is the whole service as a library. It takes spec structs ([`FunctionSpec`],
//! [`SqsMappingSpec`], [`StreamMappingSpec`], [`ScheduleSpec`]; `from_cfn` converters build them
//! from resolved CloudFormation properties), the environment's store, clock, SQS and DynamoDB
//! engines (polled in-process, never over HTTP), and two host-supplied boundaries: a
//! [`CredentialsIssuer`] (keys for a function's role, which the endpoint then verifies) and a
//! [`MetricsSink`] (the AWS/Lambda datapoints). It needs a tokio runtime.
//!
//! Layout:
//! - `spec.rs`: the specs and their `from_cfn` converters; `error.rs`: [`SpecError`], [`LambdaError`].
//! - `instance.rs`: one execution environment (process, Runtime API listener, output pipe).
//! - `invoke.rs`: instance pools, concurrency and throttling, synchronous invocation, log lines and
//!   metrics of each invocation.
//! - `async_invoke.rs`: the durable asynchronous event queue, retries with backoff, the DLQ.
//! - `sqs_trigger.rs`, `stream_trigger.rs`, `schedule.rs`: the triggers; `events.rs`: the event
//!   JSON they build.
//! - `logs.rs`: the durable log table and its batching writer; `schema.rs`: the tables.
//! - `build.rs`: building `rust-cargolambda` functions into `bootstrap` files.
//!
//! Time: every rule (retry backoff, event age, schedules, batching windows, visibility) runs on the
//! injected [`store::Clock`]; only a function's own run (its timeout, its init) is real time,
//! because the process runs in real time.

pub mod build;
mod error;
mod events;
mod instance;
pub use instance::peak_memory_kib;
mod invoke;
mod logs;
mod schema;
mod spec;

mod async_invoke;
mod schedule;
mod sqs_trigger;
mod stream_trigger;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use store::{Clock, Store};
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

pub use error::{LambdaError, SpecError};
pub use invoke::{FunctionError, FunctionStats, InvokeResult};
pub use logs::{LogEvent, LogQuery, LogStreamSummary};
pub use schedule::next_fire;
pub use spec::{
    definitions, function_name, AsyncConfig, CfnResource, Definitions, FunctionSpec, MappingSpec,
    ScheduleSpec, SqsMappingSpec, StartingPosition, StreamMappingSpec,
};

/// Credentials a function's process gets in its environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

/// Issues the credentials of a function's role. The host registers them with the endpoint (for
/// example `api::KeyRegistry::insert(access_key, secret, principal)`) so that each request the
/// function makes is verified and checked against its role.
pub trait CredentialsIssuer: Send + Sync + 'static {
    fn credentials_for(&self, function: &str, role_arn: Option<&str>) -> Credentials;
}

/// The same fixed keys for every function (the endpoint treats unissued keys as the
/// administrator).
pub struct StaticCredentials(pub Credentials);

impl StaticCredentials {
    pub fn local() -> StaticCredentials {
        StaticCredentials(Credentials {
            access_key_id: "AKIDLOCALLAMBDA".into(),
            secret_access_key: "local".into(),
            session_token: None,
        })
    }
}

impl CredentialsIssuer for StaticCredentials {
    fn credentials_for(&self, _function: &str, _role_arn: Option<&str>) -> Credentials {
        self.0.clone()
    }
}

/// One metric datapoint (CloudWatch's PutMetricData shape without the wire).
#[derive(Debug, Clone, PartialEq)]
pub struct Datapoint {
    /// `AWS/Lambda`.
    pub namespace: &'static str,
    /// `Invocations`, `Errors`, `Throttles`, `Duration`, `ConcurrentExecutions`,
    /// `DeadLetterErrors`.
    pub metric_name: &'static str,
    /// `[("FunctionName", name)]`.
    pub dimensions: Vec<(String, String)>,
    pub value: f64,
    /// `Count` or `Milliseconds`.
    pub unit: &'static str,
    /// Clock ms.
    pub timestamp_ms: i64,
}

/// Receives the service's datapoints. Called on the invocation path: keep it quick.
pub trait MetricsSink: Send + Sync + 'static {
    fn put(&self, datapoint: Datapoint);
}

/// Drops every datapoint.
pub struct NoMetrics;

impl MetricsSink for NoMetrics {
    fn put(&self, _datapoint: Datapoint) {}
}

/// Account-level settings.
#[derive(Debug, Clone)]
pub struct Config {
    pub region: String,
    pub account_id: String,
    /// `AWS_ENDPOINT_URL` given to functions: the local endpoint.
    pub endpoint_url: Option<String>,
    /// Concurrent executions of the account (AWS's default quota: 1,000).
    pub account_concurrency: usize,
    /// The longest a new process may take to ask for its first event (AWS: 10 s).
    pub init_timeout: Duration,
    /// How often a stream mapping polls its shard when it is caught up (AWS: 4 times a second).
    pub stream_poll_interval: Duration,
    /// Pollers per SQS mapping at most, besides the function's concurrency and the mapping's
    /// `ScalingConfig.MaximumConcurrency`. AWS starts five and adds more while the queue stays
    /// busy; 8 (each poller runs one instance) kept the CPU of a 2-core machine busy in W1, where
    /// 5 left it idle about 10% of the time.
    pub max_sqs_pollers: usize,
    /// Largest asynchronous event (AWS: 1 MB, 256 KB before 2025).
    pub max_async_payload: usize,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            region: "us-east-1".into(),
            account_id: "000000000000".into(),
            endpoint_url: None,
            account_concurrency: 1000,
            init_timeout: Duration::from_secs(10),
            stream_poll_interval: Duration::from_millis(250),
            max_sqs_pollers: 8,
            max_async_payload: 1024 * 1024,
        }
    }
}

/// What the service depends on.
#[derive(Clone)]
pub struct Deps {
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub sqs: sqs::Sqs,
    pub dynamodb: dynamodb::DynamoDb,
    pub credentials: Arc<dyn CredentialsIssuer>,
    pub metrics: Arc<dyn MetricsSink>,
}

/// The triggers to run.
#[derive(Debug, Clone, Default)]
pub struct Triggers {
    pub sqs: Vec<SqsMappingSpec>,
    pub streams: Vec<StreamMappingSpec>,
    pub schedules: Vec<ScheduleSpec>,
}

/// The Lambda service of one environment. Cheap to clone.
#[derive(Clone)]
pub struct Lambda {
    inner: Arc<Inner>,
}

struct Inner {
    deps: Deps,
    config: Config,
    functions: HashMap<String, Arc<invoke::Function>>,
    /// Invocations running now, all functions together (the account's concurrency).
    running_total: AtomicUsize,
    logs: logs::LogWriter,
    /// Bumped whenever a virtual clock moves, so that waiters on clock time re-check.
    ticks: watch::Sender<u64>,
    /// Wakes the asynchronous dispatcher (new event, finished attempt).
    async_wake: Notify,
    async_state: Mutex<async_invoke::State>,
    /// Trigger and dispatcher tasks, aborted by [`Lambda::stop`]. A `std::sync::Mutex`: held only
    /// to push or take handles.
    tasks: Mutex<Vec<JoinHandle<()>>>,
    sqs_mappings: Mutex<Vec<Arc<sqs_trigger::Mapping>>>,
    stream_mappings: Mutex<Vec<Arc<stream_trigger::Mapping>>>,
    schedules: Mutex<Vec<ScheduleSpec>>,
    stopped: AtomicBool,
}

impl Lambda {
    /// Opens the service on the store (applying its migrations), prepares `functions` (issuing
    /// each one's credentials) and starts the asynchronous dispatcher, which resumes the events a
    /// previous run left. Must be called within a tokio runtime.
    pub fn new(
        deps: Deps,
        config: Config,
        functions: Vec<FunctionSpec>,
    ) -> Result<Lambda, LambdaError> {
        deps.store.migrate("lambda", schema::MIGRATIONS)?;
        let mut map = HashMap::new();
        for spec in functions {
            let f = invoke::Function::new(spec, &config, deps.credentials.as_ref());
            if map.insert(f.spec.name.clone(), Arc::new(f)).is_some() {
                return Err(LambdaError::InvalidParameter(
                    "two functions have the same name".into(),
                ));
            }
        }
        let (ticks, _) = watch::channel(0u64);
        let inner = Arc::new(Inner {
            logs: logs::LogWriter::start(deps.store.clone()),
            deps,
            config,
            functions: map,
            running_total: AtomicUsize::new(0),
            ticks,
            async_wake: Notify::new(),
            async_state: Mutex::new(async_invoke::State::default()),
            tasks: Mutex::new(Vec::new()),
            sqs_mappings: Mutex::new(Vec::new()),
            stream_mappings: Mutex::new(Vec::new()),
            schedules: Mutex::new(Vec::new()),
            stopped: AtomicBool::new(false),
        });
        let weak: Weak<Inner> = Arc::downgrade(&inner);
        inner.deps.clock.on_change(Box::new(move || {
            if let Some(inner) = weak.upgrade() {
                inner.ticks.send_modify(|n| *n = n.wrapping_add(1));
                inner.async_wake.notify_one();
            }
        }));
        let lambda = Lambda { inner };
        lambda.spawn(async_invoke::dispatcher(lambda.clone()));
        Ok(lambda)
    }

    /// The service's settings.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The names of the functions, sorted.
    pub fn function_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.inner.functions.keys().cloned().collect();
        names.sort();
        names
    }

    /// The definition of a function, by name or ARN.
    pub fn function_spec(&self, name_or_arn: &str) -> Result<&FunctionSpec, LambdaError> {
        Ok(&self.function(name_or_arn)?.spec)
    }

    /// The ARN of a function.
    pub fn function_arn(&self, function: &str) -> String {
        let c = &self.inner.config;
        format!(
            "arn:aws:lambda:{}:{}:function:{function}",
            c.region, c.account_id
        )
    }

    /// Starts the triggers. Mappings and schedules of unknown functions are refused, and so is an
    /// SQS mapping whose function's Timeout exceeds the queue's VisibilityTimeout (as on AWS).
    pub fn start_triggers(&self, triggers: Triggers) -> Result<(), LambdaError> {
        if self.inner.stopped.load(Ordering::SeqCst) {
            return Err(LambdaError::Stopped);
        }
        let known = |f: &str| {
            if self.inner.functions.contains_key(f) {
                Ok(())
            } else {
                Err(LambdaError::FunctionNotFound(f.to_owned()))
            }
        };
        for m in &triggers.sqs {
            known(&m.function)?;
        }
        for m in &triggers.streams {
            known(&m.function)?;
        }
        for s in &triggers.schedules {
            known(&s.function)?;
        }
        for spec in triggers.sqs.into_iter().filter(|m| m.enabled) {
            sqs_trigger::start(self, spec)?;
        }
        for spec in triggers.streams.into_iter().filter(|m| m.enabled) {
            stream_trigger::start(self, spec)?;
        }
        for spec in triggers.schedules {
            if spec.enabled {
                self.spawn(schedule::run(self.clone(), spec.clone()));
            }
            lock(&self.inner.schedules).push(spec);
        }
        Ok(())
    }

    /// Stops every trigger and the dispatcher and kills every instance. Events not finished stay
    /// in the store and resume with the next [`Lambda::new`] on it.
    pub async fn stop(&self) {
        self.inner.stopped.store(true, Ordering::SeqCst);
        let tasks = std::mem::take(&mut *lock(&self.inner.tasks));
        for t in &tasks {
            t.abort();
        }
        for t in tasks {
            let _ = t.await;
        }
        for f in self.inner.functions.values() {
            f.clear_idle();
        }
        self.inner.logs.flush();
    }

    /// Commits the log events written so far, so that readers of the store see them.
    pub fn flush_logs(&self) {
        self.inner.logs.flush();
    }

    /// Log events of `function` at or after `since_ms` (clock ms), oldest first.
    pub fn logs(&self, function: &str, since_ms: i64) -> Result<Vec<LogEvent>, LambdaError> {
        self.inner.logs.flush();
        let query = LogQuery {
            function: Some(function.to_owned()),
            start_ms: Some(since_ms),
            limit: usize::MAX,
            ..LogQuery::default()
        };
        logs::query(&self.inner.deps.store, &query)
    }

    /// Up to `limit` log events after the event `after_id` (0 for the first), of one function or
    /// of all; for `cascade logs --follow`, call [`Lambda::wait_for_logs`] between calls.
    pub fn logs_after(
        &self,
        function: Option<&str>,
        after_id: i64,
        limit: usize,
    ) -> Result<Vec<LogEvent>, LambdaError> {
        self.inner.logs.flush();
        logs::query(
            &self.inner.deps.store,
            &LogQuery::after(function, after_id, limit),
        )
    }

    /// Waits until new log events may have been written, or `timeout` passes.
    pub async fn wait_for_logs(&self, timeout: Duration) {
        let mut rx = self.inner.logs.subscribe();
        rx.borrow_and_update();
        let _ = tokio::time::timeout(timeout, rx.changed()).await;
    }

    /// Counters of every function, sorted by name, for a live view.
    pub fn stats(&self) -> Vec<FunctionStats> {
        let mut all: Vec<FunctionStats> =
            self.inner.functions.values().map(|f| f.stats()).collect();
        all.sort_by(|a, b| a.function.cmp(&b.function));
        all
    }

    /// Whether the cascade has drained: no message visible, delayed or in flight in any queue an
    /// SQS mapping reads, no unread record in any mapped stream, no running invocation and no
    /// pending asynchronous event (retries included).
    pub fn is_idle(&self) -> Result<bool, LambdaError> {
        if self.inner.running_total.load(Ordering::SeqCst) > 0 {
            return Ok(false);
        }
        if async_invoke::pending(self)? > 0 {
            return Ok(false);
        }
        let sqs_mappings: Vec<_> = lock(&self.inner.sqs_mappings).clone();
        for m in sqs_mappings {
            if !m.is_drained(self)? {
                return Ok(false);
            }
        }
        let streams: Vec<_> = lock(&self.inner.stream_mappings).clone();
        for m in streams {
            if !m.is_drained(self)? {
                return Ok(false);
            }
        }
        Ok(self.inner.running_total.load(Ordering::SeqCst) == 0)
    }

    /// Waits until [`Lambda::is_idle`] holds, checking every `poll`.
    pub async fn wait_idle(&self, poll: Duration) -> Result<(), LambdaError> {
        loop {
            let this = self.clone();
            if blocking(move || this.is_idle()).await? {
                return Ok(());
            }
            tokio::time::sleep(poll).await;
        }
    }

    fn function(&self, name: &str) -> Result<&Arc<invoke::Function>, LambdaError> {
        self.inner
            .functions
            .get(spec::function_name(name).as_str())
            .ok_or_else(|| LambdaError::FunctionNotFound(name.to_owned()))
    }

    fn now(&self) -> i64 {
        self.inner.deps.clock.now_millis()
    }

    fn spawn<F>(&self, future: F)
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        let handle = tokio::spawn(future);
        let mut tasks = lock(&self.inner.tasks);
        // Attempts and extra pollers end by themselves: forget them so the list stays short.
        tasks.retain(|t| !t.is_finished());
        tasks.push(handle);
    }

    fn metric(&self, function: &str, metric_name: &'static str, value: f64, unit: &'static str) {
        self.inner.deps.metrics.put(Datapoint {
            namespace: "AWS/Lambda",
            metric_name,
            dimensions: vec![("FunctionName".into(), function.to_owned())],
            value,
            unit,
            timestamp_ms: self.now(),
        });
    }

    /// Waits until the clock reaches `at_ms`: a sleep on a real clock, the clock's moves on a
    /// virtual one (with a one-second real-time bound so that a missed wake-up only delays).
    async fn wait_until(&self, at_ms: i64) {
        let mut ticks = self.inner.ticks.subscribe();
        loop {
            ticks.borrow_and_update();
            let now = self.now();
            if now >= at_ms {
                return;
            }
            if self.inner.deps.clock.is_real() {
                tokio::time::sleep(Duration::from_millis((at_ms - now) as u64)).await;
            } else {
                let _ = tokio::time::timeout(Duration::from_secs(1), ticks.changed()).await;
            }
        }
    }
}

/// Up to `limit` log events after the event `after_id`, of one function or of all, read straight
/// from `store` without starting the service: `cascade logs` reads what a running `cascade up`
/// (another process) writes.
pub fn read_logs(
    store: &Store,
    function: Option<&str>,
    after_id: i64,
    limit: usize,
) -> Result<Vec<LogEvent>, LambdaError> {
    query_logs(store, &LogQuery::after(function, after_id, limit))
}

/// The functions that have log events in `store`, each with the time of its first event and the
/// bytes of its messages, by name: their CloudWatch Logs groups.
pub fn log_groups(store: &Store) -> Result<Vec<(String, i64, i64)>, LambdaError> {
    store.migrate("lambda", schema::MIGRATIONS)?;
    logs::groups(store)
}

/// The log streams (one per instance) of `function` in `store`, by name.
pub fn log_streams(store: &Store, function: &str) -> Result<Vec<LogStreamSummary>, LambdaError> {
    store.migrate("lambda", schema::MIGRATIONS)?;
    logs::streams(store, function)
}

/// The log events of `store` that `query` selects.
pub fn query_logs(store: &Store, query: &LogQuery) -> Result<Vec<LogEvent>, LambdaError> {
    store.migrate("lambda", schema::MIGRATIONS)?;
    logs::query(store, query)
}

/// Runs blocking store work without stalling the runtime's other tasks ([`store::blocking`]).
async fn blocking<T, F>(f: F) -> T
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    store::blocking(f)
        .await
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
