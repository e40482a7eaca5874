//! Synchronous invocation: the instance pool of each function, concurrency and throttling, and
//! what each invocation leaves behind (log lines with START/END/REPORT, metrics, counters).
//!
//! A function's pool holds its warm instances; an invocation takes one (or starts one) and puts
//! it back if it is still healthy: a timeout or a crash discards it, so the next invocation starts
//! a fresh process. Concurrency is counted per function (limit: ReservedConcurrentExecutions, or
//! the account limit) and for the account; past either limit the request is throttled.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::error::LambdaError;
use crate::instance::{Instance, Launch, RunOutcome};
use crate::logs::NewEvent;
use crate::spec::FunctionSpec;
use crate::{events, lock, Config, CredentialsIssuer, Lambda};

/// The largest synchronous request payload (AWS: 6 MB).
pub const MAX_SYNC_PAYLOAD: usize = 6 * 1024 * 1024;

/// The result of one invocation, as the Invoke API reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct InvokeResult {
    pub request_id: String,
    /// The response, or the error document when the function failed.
    pub payload: Vec<u8>,
    /// Set when the invocation ended in a function error (an error answer, a timeout, a crash).
    pub function_error: Option<FunctionError>,
    /// Milliseconds from the moment the function took the event to its answer.
    pub duration_ms: f64,
    /// Set on a cold start.
    pub init_duration_ms: Option<f64>,
    /// The invocation's log lines, START to REPORT.
    pub log: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionError {
    /// `errorType` of the error document (`Sandbox.Timedout`, `Runtime.ExitError`, ...).
    pub error_type: String,
    pub error_message: String,
}

/// Counters of one function since the service started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionStats {
    pub function: String,
    pub invocations: u64,
    pub errors: u64,
    pub throttles: u64,
    pub running: usize,
    pub warm_instances: usize,
    /// The largest resident set of any of its instances seen so far (KiB; 0 when unknown),
    /// read from `/proc` when an instance is idle or shut down.
    pub peak_memory_kib: u64,
    /// The last function error and when it ended (`errorType: errorMessage`).
    pub last_error: Option<(Instant, String)>,
}

pub(crate) struct Function {
    pub spec: FunctionSpec,
    pub arn: String,
    /// The environment every instance gets (the per-instance log stream is added at start).
    env: Vec<(String, String)>,
    pool: Mutex<Pool>,
    invocations: AtomicU64,
    errors: AtomicU64,
    throttles: AtomicU64,
    peak_memory_kib: AtomicU64,
    last_error: Mutex<Option<(Instant, String)>>,
}

#[derive(Default)]
struct Pool {
    idle: Vec<Warm>,
    running: usize,
}

struct Warm {
    instance: Instance,
    log_stream: Arc<str>,
}

impl Function {
    pub fn new(
        spec: FunctionSpec,
        config: &Config,
        credentials: &dyn CredentialsIssuer,
    ) -> Function {
        let arn = format!(
            "arn:aws:lambda:{}:{}:function:{}",
            config.region, config.account_id, spec.name
        );
        let log_group = format!("/aws/lambda/{}", spec.name);
        let keys = credentials.credentials_for(&spec.name, spec.role_arn.as_deref());
        // The template's variables first: the runtime's own variables are reserved and win, as
        // on AWS.
        let mut env: Vec<(String, String)> = spec.environment.clone();
        let code_dir = spec.code_dir.display().to_string();
        let mut reserved = vec![
            ("AWS_LAMBDA_FUNCTION_NAME", spec.name.clone()),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
            (
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
                spec.memory_mb.to_string(),
            ),
            ("AWS_LAMBDA_LOG_GROUP_NAME", log_group.clone()),
            ("_HANDLER", spec.handler.clone()),
            ("AWS_REGION", config.region.clone()),
            ("AWS_DEFAULT_REGION", config.region.clone()),
            ("AWS_EXECUTION_ENV", format!("AWS_Lambda_{}", spec.runtime)),
            ("LAMBDA_TASK_ROOT", code_dir.clone()),
            ("LAMBDA_RUNTIME_DIR", code_dir),
            ("TZ", ":UTC".into()),
            ("LANG", "en_US.UTF-8".into()),
            (
                "PATH",
                std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".into()),
            ),
            ("AWS_ACCESS_KEY_ID", keys.access_key_id),
            ("AWS_SECRET_ACCESS_KEY", keys.secret_access_key),
        ];
        if let Some(token) = keys.session_token {
            reserved.push(("AWS_SESSION_TOKEN", token));
        }
        if let Some(url) = &config.endpoint_url {
            reserved.push(("AWS_ENDPOINT_URL", url.clone()));
        }
        for (k, v) in reserved {
            env.retain(|(name, _)| name != k);
            env.push((k.to_owned(), v));
        }
        Function {
            spec,
            arn,
            env,
            pool: Mutex::new(Pool::default()),
            invocations: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            throttles: AtomicU64::new(0),
            peak_memory_kib: AtomicU64::new(0),
            last_error: Mutex::new(None),
        }
    }

    pub fn stats(&self) -> FunctionStats {
        let pool = lock(&self.pool);
        for warm in &pool.idle {
            self.note_peak_memory(&warm.instance);
        }
        FunctionStats {
            function: self.spec.name.clone(),
            invocations: self.invocations.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            throttles: self.throttles.load(Ordering::Relaxed),
            running: pool.running,
            warm_instances: pool.idle.len(),
            peak_memory_kib: self.peak_memory_kib.load(Ordering::Relaxed),
            last_error: lock(&self.last_error).clone(),
        }
    }

    fn note_peak_memory(&self, instance: &Instance) {
        if let Some(kib) = instance.peak_memory_kib() {
            self.peak_memory_kib.fetch_max(kib, Ordering::Relaxed);
        }
    }

    /// Shuts down every warm instance.
    pub fn clear_idle(&self) {
        let idle = std::mem::take(&mut lock(&self.pool).idle);
        for warm in &idle {
            self.note_peak_memory(&warm.instance);
        }
        drop(idle);
    }

    fn limit(&self, config: &Config) -> usize {
        self.spec
            .reserved_concurrency
            .map_or(config.account_concurrency, |r| r as usize)
    }
}

/// Gives back a concurrency slot however the invocation ends (even when its task is aborted).
struct Slot<'a> {
    lambda: &'a Lambda,
    function: &'a Function,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        lock(&self.function.pool).running -= 1;
        self.lambda
            .inner
            .running_total
            .fetch_sub(1, Ordering::SeqCst);
    }
}

impl Lambda {
    /// Invokes `function` synchronously (`RequestResponse`) with `payload` and waits for its answer.
    /// A function error is a successful call whose result carries `function_error`; throttling,
    /// an unknown function or a `bootstrap` that cannot start are errors.
    pub async fn invoke(
        &self,
        function: &str,
        payload: &[u8],
    ) -> Result<InvokeResult, LambdaError> {
        if payload.len() > MAX_SYNC_PAYLOAD {
            return Err(LambdaError::RequestTooLarge {
                size: payload.len(),
                limit: MAX_SYNC_PAYLOAD,
            });
        }
        let f = Arc::clone(self.function(function)?);
        let request_id = uuid::Uuid::new_v4().to_string();
        self.run_invocation(&f, request_id, Bytes::copy_from_slice(payload))
            .await
    }

    pub(crate) async fn run_invocation(
        &self,
        f: &Function,
        request_id: String,
        payload: Bytes,
    ) -> Result<InvokeResult, LambdaError> {
        let config = &self.inner.config;
        let name = f.spec.name.as_str();
        // Take a concurrency slot, or throttle.
        let (warm, running) = {
            let mut pool = lock(&f.pool);
            let limit = f.limit(config);
            let total = self.inner.running_total.load(Ordering::SeqCst);
            if pool.running >= limit || total >= config.account_concurrency {
                drop(pool);
                f.throttles.fetch_add(1, Ordering::Relaxed);
                self.metric(name, "Throttles", 1.0, "Count");
                let limit = if total >= config.account_concurrency {
                    config.account_concurrency
                } else {
                    limit
                };
                return Err(LambdaError::Throttled {
                    function: name.to_owned(),
                    limit,
                });
            }
            pool.running += 1;
            self.inner.running_total.fetch_add(1, Ordering::SeqCst);
            (
                pool.idle.pop(),
                self.inner.running_total.load(Ordering::SeqCst),
            )
        };
        let slot = Slot {
            lambda: self,
            function: f,
        };
        self.metric(name, "ConcurrentExecutions", running as f64, "Count");
        let warm = match warm {
            Some(w) => w,
            None => self.start_instance(f).await?,
        };
        let timeout = Duration::from_secs(u64::from(f.spec.timeout_s));
        // The deadline tells the process when it will be killed, which happens in real time (the
        // process runs in real time whatever the service's clock says), so it is the one moment
        // taken from the system clock rather than the injected one.
        let deadline_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64)
            + timeout.as_millis() as i64;
        let result = warm
            .instance
            .run(
                &request_id,
                payload,
                deadline_ms,
                timeout,
                config.init_timeout,
            )
            .await;
        let duration_ms =
            (result.duration.as_secs_f64() * 1000.0).min(timeout.as_secs_f64() * 1000.0);
        let init_ms = result.init.map(|d| d.as_secs_f64() * 1000.0);
        let (payload, function_error, reusable) = match result.outcome {
            RunOutcome::Response(body) => (body.to_vec(), None, true),
            RunOutcome::FunctionError {
                error_type,
                error_message,
                body,
            } => (
                body.to_vec(),
                Some(FunctionError {
                    error_type,
                    error_message,
                }),
                true,
            ),
            RunOutcome::Timeout => {
                let message = format!("Task timed out after {:.2} seconds", timeout.as_secs_f64());
                (
                    error_document("Sandbox.Timedout", &message),
                    Some(FunctionError {
                        error_type: "Sandbox.Timedout".into(),
                        error_message: message,
                    }),
                    false,
                )
            }
            RunOutcome::Crashed {
                error_type,
                error_message,
            } => {
                let message = format!("RequestId: {request_id} Error: {error_message}");
                (
                    error_document(&error_type, &message),
                    Some(FunctionError {
                        error_type,
                        error_message: message,
                    }),
                    false,
                )
            }
        };
        let log_stream = Arc::clone(&warm.log_stream);
        if reusable && warm.instance.is_alive() {
            lock(&f.pool).idle.push(warm);
        } else {
            drop(warm);
        }
        drop(slot);
        // The log of the invocation, as AWS writes it.
        let mut log = Vec::with_capacity(result.lines.len() + 3);
        log.push(format!("START RequestId: {request_id} Version: $LATEST"));
        log.extend(result.lines);
        if let Some(e) = &function_error {
            if e.error_type == "Sandbox.Timedout" {
                log.push(format!(
                    "{} {request_id} {}",
                    events::iso_seconds(self.now()),
                    e.error_message
                ));
            }
        }
        log.push(format!("END RequestId: {request_id}"));
        let mut report = format!(
            "REPORT RequestId: {request_id}\tDuration: {duration_ms:.2} ms\tBilled Duration: {} ms\tMemory Size: {} MB\t",
            duration_ms.ceil() as u64,
            f.spec.memory_mb
        );
        if let Some(init) = init_ms {
            report.push_str(&format!("Init Duration: {init:.2} ms\t"));
        }
        log.push(report);
        let now = self.now();
        let function: Arc<str> = Arc::from(name);
        self.inner.logs.push(
            log.iter()
                .map(|line| NewEvent {
                    function: Arc::clone(&function),
                    request_id: Some(request_id.clone()),
                    log_stream: Arc::clone(&log_stream),
                    timestamp_ms: now,
                    message: line.clone(),
                })
                .collect(),
        );
        f.invocations.fetch_add(1, Ordering::Relaxed);
        self.metric(name, "Invocations", 1.0, "Count");
        self.metric(name, "Duration", duration_ms, "Milliseconds");
        let failed = function_error.is_some();
        if let Some(e) = &function_error {
            f.errors.fetch_add(1, Ordering::Relaxed);
            let text = format!("{}: {}", e.error_type, e.error_message.trim_end());
            *lock(&f.last_error) = Some((Instant::now(), text));
        }
        self.metric(name, "Errors", if failed { 1.0 } else { 0.0 }, "Count");
        Ok(InvokeResult {
            request_id,
            payload,
            function_error,
            duration_ms,
            init_duration_ms: init_ms,
            log,
        })
    }

    async fn start_instance(&self, f: &Function) -> Result<Warm, LambdaError> {
        let instance_id = uuid::Uuid::new_v4().simple().to_string();
        let log_stream: Arc<str> = Arc::from(format!(
            "{}/[$LATEST]{instance_id}",
            events::date_path(self.now())
        ));
        let mut env = f.env.clone();
        env.push(("AWS_LAMBDA_LOG_STREAM_NAME".into(), log_stream.to_string()));
        let instance = Instance::start(Launch {
            program: f.spec.code_dir.join("bootstrap"),
            cwd: f.spec.code_dir.clone(),
            env,
            function_arn: f.arn.clone(),
        })
        .await?;
        Ok(Warm {
            instance,
            log_stream,
        })
    }
}

fn error_document(error_type: &str, message: &str) -> Vec<u8> {
    serde_json::json!({ "errorType": error_type, "errorMessage": message })
        .to_string()
        .into_bytes()
}
