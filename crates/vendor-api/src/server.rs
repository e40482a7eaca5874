//! The HTTP server: the connection loop, routing, query parsing and the fault injector's place in
//! each request.
//!
//! A request goes through, in order: routing (404, 405), the health check and the admin paths
//! (exempt from every fault), the rate limiter (429 with `Retry-After`), query parsing (400), the failing-branch rule
//! and the per-request fault draw (500 or a delay), then the lookup (404) and the page. Cursors are
//! the decimal offset of the next record; clients treat them as opaque.
//!
//! The admin paths switch the failing-branch rule at run time, so that a test clears the fault
//! that sent a message to a dead-letter queue without restarting the vendor:
//! `PUT /_admin/fail-branch/ID` makes a branch fail, `DELETE /_admin/fail-branch/ID` clears it.

use std::collections::{BTreeSet, HashMap};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, ALLOW, CONTENT_TYPE, RETRY_AFTER};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::clock::SharedClock;
use crate::config::{Config, ConfigError, DEFAULT_LIMIT, MAX_LIMIT};
use crate::dataset::{Dataset, EMPLOYEE_ID_STRIDE};
use crate::faults::{Faults, RateLimiter, RequestFault};
use crate::wire;

/// Why the server did not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The configuration is out of its bounds.
    #[error("invalid configuration: {0}")]
    Config(#[from] ConfigError),
}

/// The paths the API serves, each with and without a trailing slash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `GET /branches/?branch=NAME`
    Branches,
    /// `GET /employees?branchID=ID`
    Employees,
    /// `GET /sales/?salespersonsID=ID`
    Sales,
    /// `GET /health`
    Health,
    /// `PUT` or `DELETE /_admin/fail-branch/ID`
    FailBranch(u64),
}

impl Endpoint {
    /// The endpoint of a request path.
    pub fn from_path(path: &str) -> Option<Self> {
        match path.strip_suffix('/').unwrap_or(path) {
            "/branches" => Some(Endpoint::Branches),
            "/employees" => Some(Endpoint::Employees),
            "/sales" => Some(Endpoint::Sales),
            "/health" => Some(Endpoint::Health),
            other => other
                .strip_prefix("/_admin/fail-branch/")
                .and_then(|id| id.parse().ok())
                .map(Endpoint::FailBranch),
        }
    }

    /// The endpoint's name, the first part of a request's fault key ([`Faults::request_key`]).
    pub fn name(self) -> &'static str {
        match self {
            Endpoint::Branches => "branches",
            Endpoint::Employees => "employees",
            Endpoint::Sales => "sales",
            Endpoint::Health => "health",
            Endpoint::FailBranch(_) => "fail-branch",
        }
    }
}

/// After this many distinct requests the attempt counts start again, so that a long run keeps a
/// bounded table.
const MAX_TRACKED_REQUESTS: usize = 1_000_000;

struct State {
    dataset: Dataset,
    slow: Duration,
    clock: SharedClock,
    // Std mutexes: each is held for a map update or a bucket refill, never across an await.
    attempts: Mutex<HashMap<u64, u32>>,
    limiter: Option<Mutex<RateLimiter>>,
    /// Starts as the configuration's `fail_branches`; the admin paths change it.
    fail_branches: Mutex<BTreeSet<u64>>,
}

impl State {
    fn next_attempt(&self, key: u64) -> u32 {
        let mut attempts = self
            .attempts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if attempts.len() >= MAX_TRACKED_REQUESTS && !attempts.contains_key(&key) {
            attempts.clear();
        }
        let count = attempts.entry(key).or_insert(0);
        let attempt = *count;
        *count += 1;
        attempt
    }

    fn fails_branch(&self, branch_id: u64) -> bool {
        self.fail_branches
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .contains(&branch_id)
    }

    fn set_failing(&self, branch_id: u64, failing: bool) {
        let mut branches = self
            .fail_branches
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if failing {
            branches.insert(branch_id);
        } else {
            branches.remove(&branch_id);
        }
    }
}

/// Serves the API on `listener` until the future is dropped.
///
/// The configuration is checked first; the dataset's window end is fixed when the future first
/// runs (from `config.now`, or the clock).
pub async fn serve(config: Config, listener: TcpListener) -> Result<(), ServeError> {
    let clock = config.clock.clone();
    let slow = config.slow;
    let limiter = config
        .rate_limit
        .map(|rate| Mutex::new(RateLimiter::new(rate, clock.now())));
    let fail_branches = Mutex::new(config.fail_branches.iter().copied().collect());
    let dataset = Dataset::new(config)?;
    let state = Arc::new(State {
        fail_branches,
        dataset,
        slow,
        clock,
        attempts: Mutex::new(HashMap::new()),
        limiter,
    });
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _peer)) => stream,
            Err(error) => {
                // Accept fails for one connection (reset before accept) or while file
                // descriptors run out; both pass, so wait a moment and go on.
                tracing::warn!(%error, "accept a connection");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        // Pages are written in one piece; Nagle's delay would only hold back the last packet.
        let _ = stream.set_nodelay(true);
        let state = state.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let state = state.clone();
                async move { Ok::<_, Infallible>(handle(&state, request).await) }
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            if let Err(error) = connection.await {
                tracing::debug!(%error, "connection closed with an error");
            }
        });
    }
}

type Reply = Response<Full<Bytes>>;

fn reply(status: StatusCode, body: Vec<u8>) -> Reply {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

fn error(status: StatusCode, message: &str) -> Reply {
    reply(status, wire::error_body(message))
}

/// What a list request asks for, once its query is parsed.
enum Query {
    Branches { names: Vec<String> },
    Employees { branch_id: u64 },
    Sales { salesperson_id: u64 },
}

/// The page a list request asks for: the offset of its first record and its size.
struct Page {
    cursor: u64,
    limit: u64,
}

fn parse_query(endpoint: Endpoint, raw: &str) -> Result<(Query, Page), String> {
    let mut page = Page {
        cursor: 0,
        limit: DEFAULT_LIMIT as u64,
    };
    let mut names = Vec::new();
    let mut id: Option<u64> = None;
    let id_name = match endpoint {
        Endpoint::Employees => "branchID",
        _ => "salespersonsID",
    };
    for (key, value) in form_urlencoded::parse(raw.as_bytes()) {
        match &*key {
            "cursor" => {
                page.cursor = value.parse().map_err(|_| {
                    format!(
                        "`cursor` must be a value of `next` from an earlier page, got `{value}`"
                    )
                })?;
            }
            "limit" => {
                page.limit = value
                    .parse()
                    .ok()
                    .filter(|limit| (1..=MAX_LIMIT as u64).contains(limit))
                    .ok_or_else(|| {
                        format!("`limit` must be an integer from 1 to {MAX_LIMIT}, got `{value}`")
                    })?;
            }
            "branch" if endpoint == Endpoint::Branches => names.push(value.into_owned()),
            name if name == id_name && endpoint != Endpoint::Branches => {
                id =
                    Some(value.parse().map_err(|_| {
                        format!("`{id_name}` must be an integer id, got `{value}`")
                    })?);
            }
            // Unknown parameters are ignored, as most vendors do.
            _ => {}
        }
    }
    let query = match endpoint {
        // The health and admin paths are answered before any query is parsed.
        Endpoint::Branches | Endpoint::Health | Endpoint::FailBranch(_) => {
            Query::Branches { names }
        }
        Endpoint::Employees => Query::Employees {
            branch_id: id.ok_or_else(|| format!("`{id_name}` is required"))?,
        },
        Endpoint::Sales => Query::Sales {
            salesperson_id: id.ok_or_else(|| format!("`{id_name}` is required"))?,
        },
    };
    Ok((query, page))
}

async fn handle(state: &State, request: Request<Incoming>) -> Reply {
    let Some(endpoint) = Endpoint::from_path(request.uri().path()) else {
        return error(StatusCode::NOT_FOUND, "no such path");
    };
    if let Endpoint::FailBranch(branch_id) = endpoint {
        let failing = match *request.method() {
            Method::PUT => true,
            Method::DELETE => false,
            _ => {
                let mut response = error(StatusCode::METHOD_NOT_ALLOWED, "use PUT or DELETE");
                response
                    .headers_mut()
                    .insert(ALLOW, HeaderValue::from_static("PUT, DELETE"));
                return response;
            }
        };
        state.set_failing(branch_id, failing);
        tracing::info!(branch_id, failing, "failing branches changed");
        let mut response = Response::new(Full::new(Bytes::new()));
        *response.status_mut() = StatusCode::NO_CONTENT;
        return response;
    }
    if request.method() != Method::GET {
        let mut response = error(StatusCode::METHOD_NOT_ALLOWED, "only GET is served");
        response
            .headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET"));
        return response;
    }
    if endpoint == Endpoint::Health {
        return reply(StatusCode::OK, b"{\"status\":\"ok\"}".to_vec());
    }
    if let Some(limiter) = &state.limiter {
        let now = state.clock.now();
        let acquired = limiter
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .acquire(now);
        if let Err(wait) = acquired {
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            let mut response = error(StatusCode::TOO_MANY_REQUESTS, "rate limit exceeded");
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(seconds.max(1)));
            return response;
        }
    }
    let raw_query = request.uri().query().unwrap_or("");
    let (query, page) = match parse_query(endpoint, raw_query) {
        Ok(parsed) => parsed,
        Err(message) => return error(StatusCode::BAD_REQUEST, &message),
    };
    let faults = state.dataset.faults();
    let branch_in_scope = match query {
        Query::Branches { .. } => None,
        Query::Employees { branch_id } => Some(branch_id),
        Query::Sales { salesperson_id } => Some(salesperson_id / EMPLOYEE_ID_STRIDE),
    };
    if branch_in_scope.is_some_and(|branch| state.fails_branch(branch)) {
        return error(StatusCode::INTERNAL_SERVER_ERROR, "branch unavailable");
    }
    if faults.has_request_faults() {
        let key = Faults::request_key(endpoint.name(), raw_query);
        match faults.request_fault(key, state.next_attempt(key)) {
            Some(RequestFault::Fail) => {
                return error(StatusCode::INTERNAL_SERVER_ERROR, "internal error");
            }
            Some(RequestFault::Slow) => tokio::time::sleep(state.slow).await,
            None => {}
        }
    }
    let dataset = &state.dataset;
    match query {
        Query::Branches { names } => reply(
            StatusCode::OK,
            wire::branches_page_json(dataset, &names, page.cursor, page.limit),
        ),
        Query::Employees { branch_id } => page_reply(
            wire::employees_page_json(dataset, branch_id, page.cursor, page.limit),
            || format!("no branch with id {branch_id}"),
        ),
        Query::Sales { salesperson_id } => page_reply(
            wire::sales_page_json(dataset, salesperson_id, page.cursor, page.limit),
            || format!("no employee with id {salesperson_id}"),
        ),
    }
}

fn page_reply(body: Option<Vec<u8>>, missing: impl FnOnce() -> String) -> Reply {
    match body {
        Some(body) => reply(StatusCode::OK, body),
        None => error(StatusCode::NOT_FOUND, &missing()),
    }
}
