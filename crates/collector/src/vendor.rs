//! The vendor API client: pages, a timeout per request, and retries.
//!
//! Retry rules ([`RetryPolicy::decide`], a pure function tested as a table):
//! - a 5xx, a 429, a 408, a timeout or a broken connection is retried; any other 4xx is not;
//! - the delay is exponential backoff with full jitter, `uniform(0, min(cap, base * 2^attempt))`;
//! - a `Retry-After` header (seconds or an HTTP date) is a floor under that delay; one longer
//!   than [`RetryPolicy::max_retry_after`] gives up rather than hold a function for minutes;
//! - after `max_attempts` attempts the last failure is returned.
//!
//! Pages are fetched one after the other by following `next` (the vendor's cursors are opaque).
//! Records come back as [`RawRecord`]s (`page.rs` reads them), unchecked: `records.rs` validates
//! them one by one, so that one malformed record never costs its page.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::header::{HeaderValue, ACCEPT, RETRY_AFTER, USER_AGENT};
use hyper::{Request, StatusCode};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::page::{self, read_page, ListShape, Members, RawRecord};
use crate::time::{parse_retry_after, Clock, Sleeper};

/// When and how long to wait before another attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// The backoff ceiling of the first retry.
    pub base: Duration,
    /// The largest backoff ceiling.
    pub cap: Duration,
    /// The longest `Retry-After` honoured; a longer one gives up.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 8,
            base: Duration::from_millis(100),
            cap: Duration::from_secs(10),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

/// How one attempt failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The vendor answered with a non-success status.
    Status {
        status: u16,
        retry_after: Option<Duration>,
        body: String,
    },
    /// No answer within the request timeout.
    Timeout,
    /// The connection failed or broke.
    Transport(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Status {
                status,
                retry_after: Some(wait),
                body,
            } => write!(f, "HTTP {status} (Retry-After {}s): {body}", wait.as_secs()),
            Failure::Status { status, body, .. } => write!(f, "HTTP {status}: {body}"),
            Failure::Timeout => write!(f, "timed out"),
            Failure::Transport(error) => write!(f, "connection failed: {error}"),
        }
    }
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    RetryAfter(Duration),
    GiveUp,
}

impl RetryPolicy {
    /// The decision after attempt `attempt` (from 0) failed with `failure`; `jitter` is a draw
    /// from `[0, 1)`.
    pub fn decide(&self, attempt: u32, failure: &Failure, jitter: f64) -> Decision {
        let retry_after = match failure {
            Failure::Status { status, .. } if !retryable_status(*status) => {
                return Decision::GiveUp;
            }
            Failure::Status { retry_after, .. } => *retry_after,
            Failure::Timeout | Failure::Transport(_) => None,
        };
        if attempt + 1 >= self.max_attempts {
            return Decision::GiveUp;
        }
        if retry_after.is_some_and(|wait| wait > self.max_retry_after) {
            return Decision::GiveUp;
        }
        let ceiling = self
            .base
            .saturating_mul(1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX))
            .min(self.cap);
        let backoff = ceiling.mul_f64(jitter.clamp(0.0, 1.0));
        Decision::RetryAfter(backoff.max(retry_after.unwrap_or(Duration::ZERO)))
    }
}

/// 5xx, 429 (rate limited) and 408 (request timeout) may succeed later; other statuses will not.
fn retryable_status(status: u16) -> bool {
    status >= 500 || status == 429 || status == 408
}

/// A request that did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum VendorError {
    /// The vendor refused the request for good (a 4xx other than 408 and 429).
    #[error("the vendor refused `{url}`: {failure}")]
    Refused { url: String, failure: Failure },
    /// Every attempt failed, or the vendor asked to wait longer than we hold on.
    #[error("`{url}` failed after {attempts} attempts; last: {failure}")]
    GaveUp {
        url: String,
        attempts: u32,
        failure: Failure,
    },
    /// A successful answer that is not a page of the expected shape.
    #[error("`{url}` answered a page this client cannot read: {reason}")]
    BadPage { url: String, reason: String },
}

/// The vendor client; cheap to share behind an `Arc`.
pub struct VendorClient {
    base_url: String,
    http: Client<HttpsConnector<HttpConnector>, Empty<Bytes>>,
    timeout: Duration,
    page_limit: u32,
    policy: RetryPolicy,
    sleeper: Arc<dyn Sleeper>,
    clock: Arc<dyn Clock>,
    // A std mutex: held for one draw, never across an await.
    rng: Mutex<fastrand::Rng>,
}

impl VendorClient {
    /// A client of `base_url` (no trailing slash). HTTPS uses the platform's root certificates;
    /// when none can be read, only plain HTTP works (a warning says so).
    pub fn new(
        base_url: &str,
        timeout: Duration,
        page_limit: u32,
        policy: RetryPolicy,
        sleeper: Arc<dyn Sleeper>,
        clock: Arc<dyn Clock>,
    ) -> VendorClient {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = match hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(provider.clone())
        {
            Ok(builder) => builder,
            Err(error) => {
                tracing::warn!(%error, "no root certificates: the vendor client speaks plain HTTP only");
                let config = rustls::ClientConfig::builder_with_provider(provider)
                    .with_safe_default_protocol_versions()
                    .expect("the ring provider supports the default TLS versions")
                    .with_root_certificates(rustls::RootCertStore::empty())
                    .with_no_client_auth();
                hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(config)
            }
        };
        let connector = builder.https_or_http().enable_http1().build();
        let http = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        VendorClient {
            base_url: base_url.trim_end_matches('/').to_owned(),
            http,
            timeout,
            page_limit,
            policy,
            sleeper,
            clock,
            rng: Mutex::new(fastrand::Rng::new()),
        }
    }

    /// Seeds the jitter, so that a test sees the same delays on every run.
    pub fn with_jitter_seed(self, seed: u64) -> VendorClient {
        *self.rng.lock().unwrap_or_else(|p| p.into_inner()) = fastrand::Rng::with_seed(seed);
        self
    }

    /// `GET /branches/?branch=NAME...`: all branches, or only those named.
    pub async fn branches(&self, names: &[String]) -> Result<Vec<RawRecord>, VendorError> {
        let mut query = form_urlencoded::Serializer::new(String::new());
        for name in names {
            query.append_pair("branch", name);
        }
        self.list("/branches/", query.finish(), ListShape::Plain, page::BRANCH)
            .await
    }

    /// `GET /employees?branchID=ID`: every employee of a branch.
    pub async fn employees(&self, branch_id: u64) -> Result<Vec<RawRecord>, VendorError> {
        self.list(
            "/employees",
            format!("branchID={branch_id}"),
            ListShape::Nested("employees"),
            page::EMPLOYEE,
        )
        .await
    }

    /// `GET /sales/?salespersonsID=ID`: every sale of a salesperson.
    pub async fn sales(&self, salesperson_id: u64) -> Result<Vec<RawRecord>, VendorError> {
        self.list(
            "/sales/",
            format!("salespersonsID={salesperson_id}"),
            ListShape::Nested("sales"),
            page::SALE,
        )
        .await
    }

    async fn list(
        &self,
        path: &str,
        query: String,
        shape: ListShape,
        members: Members,
    ) -> Result<Vec<RawRecord>, VendorError> {
        let mut records = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut url = format!("{}{path}?", self.base_url);
            if !query.is_empty() {
                url.push_str(&query);
                url.push('&');
            }
            url.push_str(&format!("limit={}", self.page_limit));
            if let Some(cursor) = &cursor {
                url.push_str("&cursor=");
                url.extend(form_urlencoded::byte_serialize(cursor.as_bytes()));
            }
            let body = self.get(&url).await?;
            let (page, next) =
                read_page(&body, shape, members).map_err(|reason| VendorError::BadPage {
                    url: url.clone(),
                    reason,
                })?;
            records.extend(page);
            match next {
                Some(next) if Some(&next) == cursor.as_ref() => {
                    return Err(VendorError::BadPage {
                        url,
                        reason: format!("`next` repeats the cursor `{next}`"),
                    });
                }
                Some(next) => cursor = Some(next),
                None => return Ok(records),
            }
        }
    }

    /// One GET with the retry rules; the body of the successful answer.
    async fn get(&self, url: &str) -> Result<Bytes, VendorError> {
        let mut attempt = 0;
        loop {
            let failure = match tokio::time::timeout(self.timeout, self.attempt(url)).await {
                Ok(Ok(body)) => return Ok(body),
                Ok(Err(failure)) => failure,
                Err(_elapsed) => Failure::Timeout,
            };
            let jitter = self.rng.lock().unwrap_or_else(|p| p.into_inner()).f64();
            match self.policy.decide(attempt, &failure, jitter) {
                Decision::RetryAfter(delay) => {
                    tracing::debug!(url, attempt, %failure, ?delay, "vendor request failed; retrying");
                    self.sleeper.sleep(delay).await;
                    attempt += 1;
                }
                Decision::GiveUp => {
                    let url = url.to_owned();
                    return Err(match failure {
                        Failure::Status { status, .. } if !retryable_status(status) => {
                            VendorError::Refused { url, failure }
                        }
                        failure => VendorError::GaveUp {
                            url,
                            attempts: attempt + 1,
                            failure,
                        },
                    });
                }
            }
        }
    }

    async fn attempt(&self, url: &str) -> Result<Bytes, Failure> {
        let request = Request::get(url)
            .header(ACCEPT, HeaderValue::from_static("application/json"))
            .header(USER_AGENT, HeaderValue::from_static("cascade-collector/1"))
            .body(Empty::new())
            .map_err(|error| Failure::Transport(error.to_string()))?;
        let response = self
            .http
            .request(request)
            .await
            .map_err(|error| Failure::Transport(error_chain(&error)))?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| parse_retry_after(value, self.clock.now()));
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|error| Failure::Transport(error_chain(&error)))?
            .to_bytes();
        if status == StatusCode::OK {
            return Ok(body);
        }
        let text = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
        Err(Failure::Status {
            status: status.as_u16(),
            retry_after,
            body: text,
        })
    }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16, retry_after: Option<u64>) -> Failure {
        Failure::Status {
            status: code,
            retry_after: retry_after.map(Duration::from_secs),
            body: String::new(),
        }
    }

    /// One line per case: the failure, the attempt and the jitter draw, then the decision.
    #[test]
    fn retry_decisions() {
        let policy = RetryPolicy {
            max_attempts: 5,
            base: Duration::from_millis(100),
            cap: Duration::from_millis(500),
            max_retry_after: Duration::from_secs(30),
        };
        let cases = [
            (status(500, None), 0, 1.0),
            (status(503, None), 1, 1.0),
            (status(502, None), 2, 0.5),
            (status(500, None), 3, 0.999),
            (status(500, None), 4, 1.0),
            (Failure::Timeout, 0, 0.25),
            (Failure::Transport("reset".into()), 2, 0.0),
            (status(429, Some(2)), 0, 1.0),
            (status(429, Some(0)), 0, 0.5),
            (status(429, None), 0, 0.5),
            (status(429, Some(31)), 0, 0.5),
            (status(408, None), 0, 1.0),
            (status(400, None), 0, 1.0),
            (status(404, Some(1)), 0, 1.0),
            (status(403, None), 0, 1.0),
        ];
        let actual: String = cases
            .iter()
            .map(|(failure, attempt, jitter)| {
                format!(
                    "{:<26} attempt {attempt} jitter {jitter:<5} -> {:?}\n",
                    failure.to_string(),
                    policy.decide(*attempt, failure, *jitter)
                )
            })
            .collect();
        expect_test::expect![[r#"
            HTTP 500:                  attempt 0 jitter 1     -> RetryAfter(100ms)
            HTTP 503:                  attempt 1 jitter 1     -> RetryAfter(200ms)
            HTTP 502:                  attempt 2 jitter 0.5   -> RetryAfter(200ms)
            HTTP 500:                  attempt 3 jitter 0.999 -> RetryAfter(499.5ms)
            HTTP 500:                  attempt 4 jitter 1     -> GiveUp
            timed out                  attempt 0 jitter 0.25  -> RetryAfter(25ms)
            connection failed: reset   attempt 2 jitter 0     -> RetryAfter(0ns)
            HTTP 429 (Retry-After 2s):  attempt 0 jitter 1     -> RetryAfter(2s)
            HTTP 429 (Retry-After 0s):  attempt 0 jitter 0.5   -> RetryAfter(50ms)
            HTTP 429:                  attempt 0 jitter 0.5   -> RetryAfter(50ms)
            HTTP 429 (Retry-After 31s):  attempt 0 jitter 0.5   -> GiveUp
            HTTP 408:                  attempt 0 jitter 1     -> RetryAfter(100ms)
            HTTP 400:                  attempt 0 jitter 1     -> GiveUp
            HTTP 404 (Retry-After 1s):  attempt 0 jitter 1     -> GiveUp
            HTTP 403:                  attempt 0 jitter 1     -> GiveUp
        "#]]
        .assert_eq(&actual);
    }

    #[test]
    fn backoff_never_exceeds_the_cap_even_after_many_attempts() {
        let policy = RetryPolicy {
            max_attempts: 100,
            ..RetryPolicy::default()
        };
        for attempt in [10, 31, 32, 64, 98] {
            assert_eq!(
                policy.decide(attempt, &Failure::Timeout, 1.0),
                Decision::RetryAfter(policy.cap)
            );
        }
    }
}
