//! One execution environment: a `bootstrap` process and the Runtime API it talks to.
//!
//! Each instance has its own loopback listener (hyper, HTTP/1.1) serving
//! `/2018-06-01/runtime/invocation/next`, `/{id}/response`, `/{id}/error` and `/init/error`, so
//! instances never need to be told apart by peer address. The invoker and the listener meet in a
//! [`Slot`]: the invoker puts one [`Pending`] invocation there and waits; `/next` takes it (and
//! answers the process with the event and its headers); `/response` or `/error` answers the
//! invoker; the process's exit answers whatever is still open with the crash.
//!
//! Output: stdout and stderr share one pipe, read without blocking. A reader task collects lines
//! as they arrive, and the invoker drains the pipe once more when the answer comes, so every line
//! the function wrote before answering belongs to its invocation. The process runs in its own
//! process group, and killing the instance kills the group.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::unix::AsyncFd;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, Notify};
use tokio::task::JoinHandle;

use crate::error::LambdaError;

/// The largest response a function may return (AWS's 6 MB plus the slack the emulator allows).
pub const MAX_RESPONSE_BYTES: usize = 6 * 1024 * 1024 + 100;

/// How to start the process.
pub(crate) struct Launch {
    pub program: PathBuf,
    pub cwd: PathBuf,
    pub env: Vec<(String, String)>,
    pub function_arn: String,
}

/// How one invocation on an instance ended.
pub(crate) enum RunOutcome {
    Response(Bytes),
    FunctionError {
        error_type: String,
        error_message: String,
        body: Bytes,
    },
    /// The timeout passed; the instance was killed.
    Timeout,
    /// The process exited, failed its init or never asked for the event; the instance is dead.
    Crashed {
        error_type: String,
        error_message: String,
    },
}

pub(crate) struct RunResult {
    pub outcome: RunOutcome,
    /// From the moment the process took the event to its answer.
    pub duration: Duration,
    /// Start of the process to its first `/next`, on a cold start.
    pub init: Option<Duration>,
    /// Output lines written during this invocation (and the init before it).
    pub lines: Vec<String>,
}

/// What the process answered.
enum Answer {
    Response(Bytes),
    Error {
        error_type: String,
        error_message: String,
        body: Bytes,
    },
    Exited {
        error_type: String,
        error_message: String,
    },
}

struct Pending {
    request_id: String,
    payload: Bytes,
    deadline_ms: i64,
    picked: oneshot::Sender<Instant>,
    reply: oneshot::Sender<Answer>,
}

struct Current {
    request_id: String,
    reply: oneshot::Sender<Answer>,
}

#[derive(Default)]
struct Slot {
    queued: Option<Pending>,
    current: Option<Current>,
    init_error: Option<(String, String)>,
    /// Set once the process has exited: the error every later invocation gets.
    exited: Option<(String, String)>,
}

/// State shared by the invoker, the listener and the exit watcher. The slot is a
/// `std::sync::Mutex`: it is held only to move a value in or out, never across an await.
struct Shared {
    slot: Mutex<Slot>,
    wake: Notify,
    function_arn: String,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Slot> {
        self.slot.lock().unwrap_or_else(|e| e.into_inner())
    }
}

pub(crate) struct Instance {
    shared: Arc<Shared>,
    output: Arc<Output>,
    pid: i32,
    exited: Arc<AtomicBool>,
    started: Instant,
    initialized: AtomicBool,
    tasks: Vec<JoinHandle<()>>,
}

impl Instance {
    /// Starts the process with its own Runtime API listener; `env` gets `AWS_LAMBDA_RUNTIME_API`.
    pub async fn start(launch: Launch) -> Result<Instance, LambdaError> {
        let io = |what: &str| {
            let what = what.to_owned();
            move |source| LambdaError::Io { what, source }
        };
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(io("bind the runtime API listener"))?;
        let addr = listener
            .local_addr()
            .map_err(io("read the runtime API address"))?;
        let (read_end, write_end) = pipe().map_err(io("create the output pipe"))?;
        let write_err = write_end
            .try_clone()
            .map_err(io("duplicate the output pipe"))?;
        let mut command = tokio::process::Command::new(&launch.program);
        command
            .current_dir(&launch.cwd)
            .env_clear()
            .envs(launch.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::from(write_end))
            .stderr(Stdio::from(write_err))
            .process_group(0)
            .kill_on_drop(true);
        let started = Instant::now();
        let mut child = command.spawn().map_err(|source| LambdaError::Start {
            path: launch.program.clone(),
            source,
        })?;
        // The command holds the pipe's write ends; dropping it leaves them only to the child, so
        // the pipe reaches end-of-file when the process (and its descendants) are gone.
        drop(command);
        let pid = child.id().map(|p| p as i32).unwrap_or(0);
        let output = Arc::new(Output::new(read_end).map_err(io("watch the output pipe"))?);
        let shared = Arc::new(Shared {
            slot: Mutex::new(Slot::default()),
            wake: Notify::new(),
            function_arn: launch.function_arn,
        });
        let exited = Arc::new(AtomicBool::new(false));
        let mut tasks = Vec::new();
        tasks.push(tokio::spawn(serve(listener, Arc::clone(&shared))));
        tasks.push(tokio::spawn(read_output(Arc::clone(&output))));
        let (s, o, e) = (
            Arc::clone(&shared),
            Arc::clone(&output),
            Arc::clone(&exited),
        );
        tasks.push(tokio::spawn(async move {
            let status = child.wait().await;
            e.store(true, Ordering::SeqCst);
            o.drain();
            let detail = match status {
                Ok(status) => match status.code() {
                    Some(code) => format!("exit status {code}"),
                    None => format!("{status}"),
                },
                Err(err) => format!("wait failed: {err}"),
            };
            let mut slot = s.lock();
            let (error_type, error_message) = match slot.init_error.take() {
                Some((t, m)) => (
                    "Runtime.InitError".to_owned(),
                    format!("{t}: {m} (runtime exited with {detail})"),
                ),
                None => (
                    "Runtime.ExitError".to_owned(),
                    format!("Runtime exited with error: {detail}"),
                ),
            };
            slot.exited = Some((error_type.clone(), error_message.clone()));
            let answers = [
                slot.queued.take().map(|p| p.reply),
                slot.current.take().map(|c| c.reply),
            ];
            drop(slot);
            for reply in answers.into_iter().flatten() {
                let _ = reply.send(Answer::Exited {
                    error_type: error_type.clone(),
                    error_message: error_message.clone(),
                });
            }
            // Wake a `/next` still waiting so that its connection task ends.
            s.wake.notify_waiters();
        }));
        Ok(Instance {
            shared,
            output,
            pid,
            exited,
            started,
            initialized: AtomicBool::new(false),
            tasks,
        })
    }

    /// Whether the process is still running.
    pub fn is_alive(&self) -> bool {
        !self.exited.load(Ordering::SeqCst)
    }

    /// The process's peak resident set (`VmHWM` of `/proc/<pid>/status`, KiB), while it runs.
    pub fn peak_memory_kib(&self) -> Option<u64> {
        if self.pid <= 0 || !self.is_alive() {
            return None;
        }
        peak_memory_kib(&format!("/proc/{}/status", self.pid))
    }

    /// Kills the process group (the bootstrap and anything it started).
    pub fn kill(&self) {
        if self.pid > 0 && self.is_alive() {
            // SAFETY: kill(2) with a negative pid signals the process group the child leads; it
            // touches no memory of this process.
            unsafe {
                libc::kill(-self.pid, libc::SIGKILL);
            }
        }
    }

    /// Runs one invocation: hands the event to the process, waits `init_timeout` for it to be
    /// taken and `timeout` for the answer.
    pub async fn run(
        &self,
        request_id: &str,
        payload: Bytes,
        deadline_ms: i64,
        timeout: Duration,
        init_timeout: Duration,
    ) -> RunResult {
        let (picked_tx, picked_rx) = oneshot::channel();
        let (reply_tx, reply_rx) = oneshot::channel();
        let crashed = |error_type: String, error_message: String| RunOutcome::Crashed {
            error_type,
            error_message,
        };
        {
            let mut slot = self.shared.lock();
            if let Some((t, m)) = &slot.exited {
                let outcome = crashed(t.clone(), m.clone());
                drop(slot);
                return self.finish(outcome, Duration::ZERO, None);
            }
            slot.queued = Some(Pending {
                request_id: request_id.to_owned(),
                payload,
                deadline_ms,
                picked: picked_tx,
                reply: reply_tx,
            });
        }
        self.shared.wake.notify_one();
        let cold = !self.initialized.swap(true, Ordering::SeqCst);
        let picked_at = match tokio::time::timeout(init_timeout, picked_rx).await {
            Ok(Ok(at)) => at,
            Ok(Err(_)) => {
                // The exit watcher dropped the event before the process took it.
                let outcome = match reply_rx.await {
                    Ok(Answer::Exited {
                        error_type,
                        error_message,
                    }) => crashed(error_type, error_message),
                    _ => crashed(
                        "Runtime.ExitError".into(),
                        "Runtime exited before taking the event".into(),
                    ),
                };
                return self.finish(outcome, Duration::ZERO, None);
            }
            Err(_) => {
                self.kill();
                let outcome = crashed(
                    "Runtime.InitTimeout".into(),
                    format!(
                        "The runtime did not ask for the event within {:.2} seconds",
                        init_timeout.as_secs_f64()
                    ),
                );
                return self.finish(outcome, Duration::ZERO, None);
            }
        };
        let init = cold.then(|| picked_at.saturating_duration_since(self.started));
        let outcome = match tokio::time::timeout(timeout, reply_rx).await {
            Ok(Ok(Answer::Response(body))) => RunOutcome::Response(body),
            Ok(Ok(Answer::Error {
                error_type,
                error_message,
                body,
            })) => RunOutcome::FunctionError {
                error_type,
                error_message,
                body,
            },
            Ok(Ok(Answer::Exited {
                error_type,
                error_message,
            })) => crashed(error_type, error_message),
            Ok(Err(_)) => crashed(
                "Runtime.ExitError".into(),
                "the runtime API listener stopped".into(),
            ),
            Err(_) => {
                self.kill();
                // Whatever the process is doing, this invocation is over: the next one starts
                // a new instance.
                self.shared.lock().current = None;
                RunOutcome::Timeout
            }
        };
        let duration = picked_at.elapsed();
        self.finish(outcome, duration, init)
    }

    fn finish(&self, outcome: RunOutcome, duration: Duration, init: Option<Duration>) -> RunResult {
        RunResult {
            outcome,
            duration,
            init,
            lines: self.output.take_lines(),
        }
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.kill();
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Accepts the process's connections and serves the Runtime API on each.
async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        // Every exchange is one small request and one small answer: Nagle's delay only hurts.
        let _ = stream.set_nodelay(true);
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let shared = Arc::clone(&shared);
                async move { Ok::<_, std::convert::Infallible>(route(&shared, req).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn reply(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
}

fn api_error(status: StatusCode, error_type: &str, message: &str) -> Response<Full<Bytes>> {
    reply(
        status,
        serde_json::json!({ "errorType": error_type, "errorMessage": message }).to_string(),
    )
}

async fn route(shared: &Shared, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_owned();
    let Some(rest) = path.strip_prefix("/2018-06-01/runtime/") else {
        return api_error(StatusCode::NOT_FOUND, "NotFound", "unknown path");
    };
    match (req.method(), rest) {
        (&Method::GET, "invocation/next") => next(shared).await,
        (&Method::POST, "init/error") => {
            let error_type = function_error_type(&req);
            let body = req.into_body().collect().await.map(|b| b.to_bytes());
            let (t, m) = error_fields(&body.unwrap_or_default(), error_type);
            shared.lock().init_error = Some((t, m));
            reply(StatusCode::ACCEPTED, r#"{"status":"OK"}"#.into())
        }
        (&Method::POST, rest) => {
            let Some((id, action)) = rest
                .strip_prefix("invocation/")
                .and_then(|r| r.rsplit_once('/'))
            else {
                return api_error(StatusCode::NOT_FOUND, "NotFound", "unknown path");
            };
            let (id, action) = (id.to_owned(), action.to_owned());
            if action != "response" && action != "error" {
                return api_error(StatusCode::NOT_FOUND, "NotFound", "unknown path");
            }
            let error_type = function_error_type(&req);
            let body = match req.into_body().collect().await {
                Ok(b) => b.to_bytes(),
                Err(e) => return api_error(StatusCode::BAD_REQUEST, "InvalidBody", &e.to_string()),
            };
            let current = {
                let mut slot = shared.lock();
                match &slot.current {
                    Some(c) if c.request_id == id => slot.current.take(),
                    _ => None,
                }
            };
            let Some(current) = current else {
                return api_error(
                    StatusCode::BAD_REQUEST,
                    "InvalidRequestID",
                    &format!("Invalid request ID: {id}"),
                );
            };
            if action == "response" && body.len() > MAX_RESPONSE_BYTES {
                let message = format!(
                    "Response payload size ({} bytes) exceeded maximum allowed payload size ({} bytes).",
                    body.len(),
                    MAX_RESPONSE_BYTES
                );
                let _ = current.reply.send(Answer::Error {
                    error_type: "Function.ResponseSizeTooLarge".into(),
                    error_message: message.clone(),
                    body: Bytes::from(
                        serde_json::json!({"errorType": "Function.ResponseSizeTooLarge", "errorMessage": message})
                            .to_string(),
                    ),
                });
                return api_error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "RequestEntityTooLarge",
                    &message,
                );
            }
            let answer = if action == "response" {
                Answer::Response(body)
            } else {
                let (error_type, error_message) = error_fields(&body, error_type);
                Answer::Error {
                    error_type,
                    error_message,
                    body,
                }
            };
            let _ = current.reply.send(answer);
            reply(StatusCode::ACCEPTED, r#"{"status":"OK"}"#.into())
        }
        _ => api_error(StatusCode::NOT_FOUND, "NotFound", "unknown path"),
    }
}

fn function_error_type(req: &Request<Incoming>) -> Option<String> {
    req.headers()
        .get("lambda-runtime-function-error-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// `errorType` and `errorMessage` of an error document; both are optional on the wire.
fn error_fields(body: &[u8], header_type: Option<String>) -> (String, String) {
    let doc: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let field = |k: &str| doc.get(k).and_then(|v| v.as_str()).map(str::to_owned);
    (
        field("errorType")
            .or(header_type)
            .unwrap_or_else(|| "Unhandled".into()),
        field("errorMessage").unwrap_or_default(),
    )
}

/// `/next`: waits for an event, makes it current and hands it over with its headers.
async fn next(shared: &Shared) -> Response<Full<Bytes>> {
    loop {
        let notified = shared.wake.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        {
            let mut slot = shared.lock();
            if slot.exited.is_some() {
                return api_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Runtime.Exited",
                    "the instance is gone",
                );
            }
            if let Some(p) = slot.queued.take() {
                slot.current = Some(Current {
                    request_id: p.request_id.clone(),
                    reply: p.reply,
                });
                drop(slot);
                let _ = p.picked.send(Instant::now());
                let mut response = Response::new(Full::new(p.payload));
                let headers = response.headers_mut();
                let mut put = |name: &'static str, value: &str| {
                    if let Ok(v) = hyper::header::HeaderValue::from_str(value) {
                        headers.insert(name, v);
                    }
                };
                put("lambda-runtime-aws-request-id", &p.request_id);
                put("lambda-runtime-deadline-ms", &p.deadline_ms.to_string());
                put("lambda-runtime-invoked-function-arn", &shared.function_arn);
                put("lambda-runtime-trace-id", &trace_id(&p.request_id));
                put("content-type", "application/json");
                return response;
            }
        }
        notified.await;
    }
}

/// An X-Ray trace header derived from the request id (`Root=1-<8 hex>-<24 hex>;...`).
fn trace_id(request_id: &str) -> String {
    let hex: String = request_id.chars().filter(char::is_ascii_hexdigit).collect();
    let hex = format!("{hex:0<32}");
    format!(
        "Root=1-{}-{};Parent={};Sampled=0",
        &hex[..8],
        &hex[8..32],
        &hex[16..32]
    )
}

fn pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two new descriptors into `fds`, which this function then owns.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just created and are owned by nothing else.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    // SAFETY: fcntl on a descriptor this function owns.
    let flags = unsafe { libc::fcntl(read.as_raw_fd(), libc::F_GETFL) };
    if flags < 0
        || unsafe { libc::fcntl(read.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0
    {
        return Err(std::io::Error::last_os_error());
    }
    Ok((read, write))
}

/// The read end of the output pipe and the lines read so far.
struct Output {
    fd: AsyncFd<OwnedFd>,
    buf: Mutex<OutBuf>,
}

#[derive(Default)]
struct OutBuf {
    partial: Vec<u8>,
    lines: Vec<String>,
    eof: bool,
}

impl Output {
    fn new(fd: OwnedFd) -> std::io::Result<Output> {
        Ok(Output {
            // SAFETY: `fd` is owned by the AsyncFd, so it stays open for as long as it is
            // registered.
            fd: unsafe { AsyncFd::register(fd) }?,
            buf: Mutex::new(OutBuf::default()),
        })
    }

    /// Reads everything available now; true at end-of-file.
    fn drain(&self) -> bool {
        let mut buf = self.buf.lock().unwrap_or_else(|e| e.into_inner());
        if buf.eof {
            return true;
        }
        let mut chunk = [0u8; 16 * 1024];
        loop {
            // SAFETY: reads into a stack buffer of the given length from a descriptor `self`
            // owns.
            let n = unsafe {
                libc::read(
                    self.fd.get_ref().as_raw_fd(),
                    chunk.as_mut_ptr().cast(),
                    chunk.len(),
                )
            };
            if n > 0 {
                buf.partial.extend_from_slice(&chunk[..n as usize]);
                while let Some(pos) = buf.partial.iter().position(|&b| b == b'\n') {
                    let line: Vec<u8> = buf.partial.drain(..=pos).collect();
                    let text = String::from_utf8_lossy(&line[..line.len() - 1]);
                    buf.lines.push(text.trim_end_matches('\r').to_owned());
                }
                continue;
            }
            if n == 0 {
                buf.eof = true;
                if !buf.partial.is_empty() {
                    let rest = std::mem::take(&mut buf.partial);
                    buf.lines.push(String::from_utf8_lossy(&rest).into_owned());
                }
                return true;
            }
            let err = std::io::Error::last_os_error();
            match err.kind() {
                std::io::ErrorKind::Interrupted => continue,
                _ => return false,
            }
        }
    }

    fn take_lines(&self) -> Vec<String> {
        self.drain();
        std::mem::take(&mut self.buf.lock().unwrap_or_else(|e| e.into_inner()).lines)
    }
}

async fn read_output(output: Arc<Output>) {
    loop {
        let Ok(mut guard) = output.fd.readable().await else {
            return;
        };
        if output.drain() {
            return;
        }
        guard.clear_ready();
    }
}

/// The `VmHWM` (peak resident set, KiB) of a `/proc/<pid>/status` file; `None` where there is no
/// such file (not Linux, or the process is gone).
pub fn peak_memory_kib(status_file: &str) -> Option<u64> {
    let status = std::fs::read_to_string(status_file).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
