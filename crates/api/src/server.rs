//! The HTTP/1.1 listener: connections, body limits, identity, and routing to a protocol.
//!
//! Each connection is one task serving keep-alive requests with hyper. A request is routed by its
//! `X-Amz-Target` header (AWS JSON: DynamoDB, DynamoDB Streams, SQS, CloudWatch, CloudWatch
//! Logs) or, without one, by its path (the Lambda API under `/2015-03-31/`), by its credential
//! scope (CloudFormation, CloudWatch and SNS in the query protocol), or else as an SQS
//! query-protocol request whose `Action` is in the form body or the query string. Engine calls
//! block on SQLite, so they run on tokio's blocking pool (`blocking`); only the wait of an SQS long
//! poll stays on the async side, where it costs no thread.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::http::request::Parts;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::error::{ApiError, Protocol};
use crate::identity::{authenticate, AuthError, Identity};
use crate::{
    cloudformation_api, cloudwatch_api, dynamodb_api, dynamodb_typed, lambda_api, logs_api,
    sns_api, sqs_api, ServeConfig, Services,
};

/// What every request handler sees.
pub struct App {
    pub config: ServeConfig,
    pub services: Services,
    next_request: AtomicU64,
    /// The process id, the first part of every request id (read once: it is a system call).
    pid: u32,
}

/// The context of one request.
pub struct RequestCtx {
    pub identity: Identity,
    /// `http://HOST` as the caller addressed the endpoint; queue URLs are built under it.
    pub base_url: String,
    pub request_id: String,
}

/// Serves `listener` until the task is dropped.
pub async fn run(config: ServeConfig, services: Services, listener: TcpListener) {
    let app = Arc::new(App {
        config,
        services,
        next_request: AtomicU64::new(1),
        pid: std::process::id(),
    });
    // The ticker lives as long as this future: dropping the server stops it.
    let _ticker = AbortOnDrop(tokio::spawn(advance_move_tasks(app.services.sqs.clone())));
    let _sns_delivery = AbortOnDrop(tokio::spawn(app.services.sns.clone().run_delivery()));
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Running out of file descriptors must not end the server; wait a little and retry.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let app = Arc::clone(&app);
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let app = Arc::clone(&app);
                async move { Ok::<_, Infallible>(app.handle(request, peer).await) }
            });
            if let Err(e) = http1::Builder::new()
                .keep_alive(true)
                // A client that closes its sending side mid-request still gets its error answer.
                .half_close(true)
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(error = %e, %peer, "connection ended with an error");
            }
        });
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Advances SQS message move tasks about once a second, as the `sqs` engine expects of its host:
/// a task moves messages at its rate even when nobody asks about it.
async fn advance_move_tasks(sqs: ::sqs::Sqs) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let sqs = sqs.clone();
        if let Err(e) = blocking(move || Ok(sqs.run_message_move_tasks()?)).await {
            tracing::warn!(code = %e.code, message = %e.message, "advancing message move tasks failed");
        }
    }
}

/// Runs an engine call, which blocks on the store, without stalling the other requests
/// ([`store::blocking`]); a panic in it is answered as an internal error.
pub async fn blocking<T, F>(f: F) -> Result<T, ApiError>
where
    F: FnOnce() -> Result<T, ApiError> + Send + 'static,
    T: Send + 'static,
{
    store::blocking(f).await.unwrap_or_else(|_| {
        tracing::error!("request handler panicked");
        Err(ApiError::internal("The request handler failed"))
    })
}

/// Awaits an engine call made on the async side (one that waits only on [`store::Pending`]
/// writes), answering a panic in it as an internal error, as [`blocking`] does.
pub async fn guard<T, E: Into<ApiError>>(
    call: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, ApiError> {
    use futures_util::FutureExt as _;
    match std::panic::AssertUnwindSafe(call).catch_unwind().await {
        Ok(result) => result.map_err(Into::into),
        Err(_) => {
            tracing::error!("request handler panicked");
            Err(ApiError::internal("The request handler failed"))
        }
    }
}

/// The protocol and operation of a request, from its headers alone.
fn route(parts: &Parts) -> Result<(Protocol, Option<String>), ApiError> {
    let Some(target) = parts.headers.get("x-amz-target") else {
        if let Some(routed) = lambda_api::route(parts) {
            return Ok(routed);
        }
        if let Some(routed) = cloudformation_api::route(parts) {
            return Ok(routed);
        }
        if let Some(routed) = cloudwatch_api::route(parts) {
            return Ok(routed);
        }
        return Ok((Protocol::SqsQuery, None));
    };
    let target = target
        .to_str()
        .map_err(|_| ApiError::serialization("The X-Amz-Target header is not valid text"))?;
    let (service, operation) = target.split_once('.').unwrap_or((target, ""));
    let protocol = match service {
        "DynamoDB_20120810" => Protocol::DynamoDb,
        "DynamoDBStreams_20120810" => Protocol::DynamoDbStreams,
        "AmazonSQS" => Protocol::SqsJson,
        "GraniteServiceVersion20100801" => Protocol::CloudWatchJson,
        "Logs_20140328" => Protocol::Logs,
        _ => {
            return Err(ApiError::unknown_operation(Protocol::DynamoDb, target));
        }
    };
    Ok((protocol, Some(operation.to_owned())))
}

impl App {
    async fn handle(
        self: Arc<App>,
        request: Request<Incoming>,
        peer: SocketAddr,
    ) -> Response<Full<Bytes>> {
        let request_id = format!(
            "{:08x}-0000-4000-8000-{:012x}",
            self.pid,
            self.next_request.fetch_add(1, Ordering::Relaxed)
        );
        let (parts, body) = request.into_parts();
        let (protocol, operation) = match route(&parts) {
            Ok(routed) => routed,
            Err(e) => return e.render(Protocol::DynamoDb, &request_id),
        };
        let body = match Limited::new(body, self.config.max_body_bytes)
            .collect()
            .await
        {
            Ok(collected) => collected.to_bytes(),
            Err(e) => {
                let error = if e
                    .downcast_ref::<http_body_util::LengthLimitError>()
                    .is_some()
                {
                    ApiError::client(
                        "RequestEntityTooLarge",
                        format!(
                            "The request body is larger than the limit of {} bytes",
                            self.config.max_body_bytes
                        ),
                    )
                    .with_status(StatusCode::PAYLOAD_TOO_LARGE)
                } else {
                    ApiError::serialization(format!("The request body could not be read: {e}"))
                };
                return error.render(protocol, &request_id);
            }
        };
        let identity = match authenticate(
            &parts,
            &body,
            &self.services.keys,
            self.config.auth_token.as_deref(),
        ) {
            Ok(identity) => identity,
            Err(e) => return auth_error(protocol, e).render(protocol, &request_id),
        };
        let host = parts
            .headers
            .get("host")
            .and_then(|h| h.to_str().ok())
            .filter(|h| !h.is_empty() && !h.contains(['/', ' ']))
            .map(str::to_owned)
            .unwrap_or_else(|| self.config.listen.to_string());
        let ctx = RequestCtx {
            identity,
            base_url: format!("http://{host}"),
            request_id,
        };
        tracing::debug!(%peer, ?protocol, operation = operation.as_deref().unwrap_or("-"), access_key = %ctx.identity.access_key, "request");
        // The busiest DynamoDB operations are read once, here, and authorized by the tables read.
        let typed = match (protocol, operation.as_deref()) {
            (Protocol::DynamoDb, Some(operation)) => dynamodb_typed::read(operation, &body),
            _ => None,
        };
        let authorized = match &typed {
            Some(input) => crate::authorize::check_typed(&self, &ctx, input),
            None => {
                crate::authorize::check(&self, &ctx, protocol, operation.as_deref(), &parts, &body)
            }
        };
        if let Err(e) = authorized {
            return e.render(protocol, &ctx.request_id);
        }
        let result = match protocol {
            Protocol::DynamoDb | Protocol::DynamoDbStreams => {
                let operation = operation.unwrap_or_default();
                dynamodb_api::handle(&self, &ctx, protocol, operation, body, typed).await
            }
            Protocol::SqsJson => {
                sqs_api::handle_json(&self, &ctx, operation.unwrap_or_default(), body).await
            }
            Protocol::SqsQuery => sqs_api::handle_query(&self, &ctx, &parts, body).await,
            Protocol::CloudWatchJson | Protocol::CloudWatchCbor | Protocol::CloudWatchQuery => {
                cloudwatch_api::handle(&self, &ctx, protocol, operation, &parts, body).await
            }
            Protocol::SnsQuery => sns_api::handle(&self, &ctx, &parts, body).await,
            Protocol::CloudFormationQuery => {
                cloudformation_api::handle(&self, &ctx, &parts, body).await
            }
            Protocol::Lambda => lambda_api::handle(&self, &ctx, &parts, body).await,
            Protocol::Logs => {
                logs_api::handle(&self, &ctx, operation.unwrap_or_default(), body).await
            }
        };
        match result {
            Ok(response) => response,
            Err(e) => {
                if e.status.is_server_error() {
                    tracing::error!(code = %e.code, message = %e.message, "request failed");
                }
                e.render(protocol, &ctx.request_id)
            }
        }
    }
}

fn auth_error(protocol: Protocol, error: AuthError) -> ApiError {
    let sqs = matches!(protocol, Protocol::SqsJson | Protocol::SqsQuery);
    match error {
        AuthError::MissingToken => ApiError::client(
            if sqs { "InvalidClientTokenId" } else { "UnrecognizedClientException" },
            "This endpoint requires its auth token: send it in the x-cascade-auth-token header or sign with it as the secret access key",
        )
        .with_status(StatusCode::FORBIDDEN),
        AuthError::BadSignature(message) => {
            if sqs {
                ApiError::client("SignatureDoesNotMatch", message).with_status(StatusCode::FORBIDDEN)
            } else {
                ApiError::client("InvalidSignatureException", message)
            }
        }
    }
}

/// A successful JSON answer.
pub fn json_response(value: &impl serde::Serialize, request_id: &str) -> Response<Full<Bytes>> {
    // Serializing a value built of JSON values and plain structs cannot fail.
    let body = serde_json::to_vec(value).unwrap_or_default();
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/x-amz-json-1.0")
        .header("x-amzn-RequestId", request_id)
        .body(Full::new(Bytes::from(body)))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

/// A successful XML answer.
pub fn xml_response(body: String, request_id: &str) -> Response<Full<Bytes>> {
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "text/xml")
        .header("x-amzn-RequestId", request_id)
        .body(Full::new(Bytes::from(body)))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}
