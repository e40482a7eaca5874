//! The Lambda API in its REST-JSON protocol (version 2015-03-31): ListFunctions, GetFunction,
//! GetFunctionConfiguration and Invoke (`X-Amz-Invocation-Type` RequestResponse, Event or DryRun;
//! the log tail with `X-Amz-Log-Type: Tail`), answered by the Lambda service of
//! [`Services::functions`](crate::Services::functions); ListEventSourceMappings and
//! GetEventSourceMapping, answered from the deployed stacks (a mapping's `UUID` is its physical
//! id, what `Ref` gives). Requests are routed here by their path (`/2015-03-31/...`); an error
//! carries its code in `X-Amzn-ErrorType` and its message in the JSON body, as AWS answers.
//!
//! A host that serves the endpoint without running functions (`cascade serve`) leaves the slot
//! empty, and the function operations answer ResourceConflictException saying so.

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::Full;
use hyper::http::request::Parts;
use hyper::{Method, Response, StatusCode};
use serde_json::{json, Map, Value};

use crate::error::{ApiError, Protocol};
use crate::server::{blocking, App, RequestCtx};
use ::lambda::{FunctionSpec, Lambda, LambdaError};

const PREFIX: &str = "/2015-03-31/";
/// How much of an invocation's log `X-Amz-Log-Result` carries: its last 4 KB, as on AWS.
const LOG_TAIL_BYTES: usize = 4 * 1024;
/// The only version the local service runs.
const LATEST: &str = "$LATEST";

/// One operation of the API, read from the method and the path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    ListFunctions,
    GetFunction(String),
    GetFunctionConfiguration(String),
    Invoke(String),
    ListEventSourceMappings,
    GetEventSourceMapping(String),
}

impl Operation {
    /// The IAM action the operation needs.
    pub fn action(&self) -> &'static str {
        match self {
            Operation::ListFunctions => "lambda:ListFunctions",
            Operation::GetFunction(_) => "lambda:GetFunction",
            Operation::GetFunctionConfiguration(_) => "lambda:GetFunctionConfiguration",
            Operation::Invoke(_) => "lambda:InvokeFunction",
            Operation::ListEventSourceMappings => "lambda:ListEventSourceMappings",
            Operation::GetEventSourceMapping(_) => "lambda:GetEventSourceMapping",
        }
    }

    /// The ARN of the resource the operation names, or `*`.
    pub fn resource(&self, region: &str, account: &str) -> String {
        match self {
            Operation::ListFunctions | Operation::ListEventSourceMappings => "*".into(),
            Operation::GetFunction(f)
            | Operation::GetFunctionConfiguration(f)
            | Operation::Invoke(f) => format!(
                "arn:aws:lambda:{region}:{account}:function:{}",
                ::lambda::function_name(f)
            ),
            Operation::GetEventSourceMapping(uuid) => {
                format!("arn:aws:lambda:{region}:{account}:event-source-mapping:{uuid}")
            }
        }
    }
}

/// A request under the Lambda API's path.
pub fn route(parts: &Parts) -> Option<(Protocol, Option<String>)> {
    parts
        .uri
        .path()
        .starts_with(PREFIX)
        .then_some((Protocol::Lambda, None))
}

/// The operation of a routed request; an unknown method and path is UnknownOperationException.
pub fn operation(parts: &Parts) -> Result<Operation, ApiError> {
    let path = parts.uri.path();
    let rest = path.strip_prefix(PREFIX).unwrap_or_default();
    let segments: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
    let name = |segment: &str| crate::sqs_query::decode(segment.as_bytes());
    match (&parts.method, segments.as_slice()) {
        (&Method::GET, ["functions"]) => Ok(Operation::ListFunctions),
        (&Method::GET, ["functions", f]) => Ok(Operation::GetFunction(name(f)?)),
        (&Method::GET, ["functions", f, "configuration"]) => {
            Ok(Operation::GetFunctionConfiguration(name(f)?))
        }
        (&Method::POST, ["functions", f, "invocations"]) => Ok(Operation::Invoke(name(f)?)),
        (&Method::GET, ["event-source-mappings"]) => Ok(Operation::ListEventSourceMappings),
        (&Method::GET, ["event-source-mappings", uuid]) => {
            Ok(Operation::GetEventSourceMapping(name(uuid)?))
        }
        _ => Err(ApiError::unknown_operation(
            Protocol::Lambda,
            &format!("{} {path}", parts.method),
        )
        .with_status(StatusCode::NOT_FOUND)),
    }
}

impl From<LambdaError> for ApiError {
    fn from(e: LambdaError) -> ApiError {
        let status = match e.code() {
            "ResourceNotFoundException" => StatusCode::NOT_FOUND,
            "TooManyRequestsException" => StatusCode::TOO_MANY_REQUESTS,
            "RequestTooLargeException" => StatusCode::PAYLOAD_TOO_LARGE,
            "InvalidParameterValueException" => StatusCode::BAD_REQUEST,
            _ => {
                tracing::error!(error = %e, "lambda service failure");
                let mut error = ApiError::internal(e.to_string());
                error.code = e.code().to_owned();
                return error;
            }
        };
        ApiError::client(e.code(), e.to_string()).with_status(status)
    }
}

/// Serves one Lambda API request.
pub async fn handle(
    app: &App,
    ctx: &RequestCtx,
    parts: &Parts,
    body: Bytes,
) -> Result<Response<Full<Bytes>>, ApiError> {
    let operation = operation(parts)?;
    let params = crate::sqs_query::parse_params(parts.uri.query(), b"")?;
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let qualifier = param("Qualifier");
    let qualifier = qualifier.as_deref();
    match operation {
        Operation::ListEventSourceMappings => {
            let function = param("FunctionName").map(|f| ::lambda::function_name(&f));
            let source = param("EventSourceArn");
            let listed: Vec<Value> = event_source_mappings(app)
                .await?
                .into_iter()
                .filter(|m| {
                    function.as_ref().is_none_or(|f| {
                        m["FunctionArn"]
                            .as_str()
                            .is_some_and(|arn| arn.ends_with(&format!(":function:{f}")))
                    }) && source
                        .as_ref()
                        .is_none_or(|s| m["EventSourceArn"] == s.as_str())
                })
                .collect();
            Ok(answer(
                StatusCode::OK,
                json!({ "EventSourceMappings": listed }),
                ctx,
            ))
        }
        Operation::GetEventSourceMapping(uuid) => {
            let found = event_source_mappings(app)
                .await?
                .into_iter()
                .find(|m| m["UUID"] == uuid.as_str())
                .ok_or_else(|| {
                    ApiError::client(
                        "ResourceNotFoundException",
                        "The resource you requested does not exist.",
                    )
                    .with_status(StatusCode::NOT_FOUND)
                })?;
            Ok(answer(StatusCode::OK, found, ctx))
        }
        Operation::ListFunctions => {
            let lambda = running(app)?;
            let functions: Vec<Value> = lambda
                .function_names()
                .iter()
                .filter_map(|name| lambda.function_spec(name).ok())
                .map(|spec| configuration(&lambda, spec))
                .collect();
            Ok(answer(
                StatusCode::OK,
                json!({ "Functions": functions }),
                ctx,
            ))
        }
        Operation::GetFunction(name) => {
            let lambda = running(app)?;
            let spec = spec_of(&lambda, &name, qualifier)?;
            let mut function = Map::new();
            function.insert("Configuration".into(), configuration(&lambda, spec));
            function.insert(
                "Code".into(),
                json!({ "Location": format!("file://{}", spec.code_dir.display()) }),
            );
            if let Some(reserved) = spec.reserved_concurrency {
                function.insert(
                    "Concurrency".into(),
                    json!({ "ReservedConcurrentExecutions": reserved }),
                );
            }
            Ok(answer(StatusCode::OK, Value::Object(function), ctx))
        }
        Operation::GetFunctionConfiguration(name) => {
            let lambda = running(app)?;
            let spec = spec_of(&lambda, &name, qualifier)?;
            Ok(answer(StatusCode::OK, configuration(&lambda, spec), ctx))
        }
        Operation::Invoke(name) => {
            let lambda = running(app)?;
            invoke(&lambda, ctx, parts, &name, qualifier, body).await
        }
    }
}

/// The running Lambda service, or the answer that functions are not running.
fn running(app: &App) -> Result<Lambda, ApiError> {
    app.services.functions.get().ok_or_else(|| {
        ApiError::client(
            "ResourceConflictException",
            "The functions of this environment are not running: `cascade serve` serves the endpoint without them; `cascade up` runs them",
        )
        .with_status(StatusCode::CONFLICT)
    })
}

/// The deployed event source mappings as the API shows them, in the registry's order.
async fn event_source_mappings(app: &App) -> Result<Vec<Value>, ApiError> {
    let registry = app.services.stacks.clone();
    let config = app.services.sqs.config();
    let (region, account) = (config.region.clone(), config.account_id.clone());
    blocking(move || {
        let deployed = registry.resources_of_type("AWS::Lambda::EventSourceMapping")?;
        Ok(deployed
            .iter()
            .filter_map(|r| {
                let spec = ::lambda::MappingSpec::from_cfn(&r.logical_id, &r.properties)
                    .map_err(|e| tracing::warn!(error = %e, "a deployed mapping does not read"))
                    .ok()?;
                Some(mapping(&spec, &r.physical_id, &region, &account))
            })
            .collect())
    })
    .await
}

/// One mapping in the shape of GetEventSourceMapping.
fn mapping(spec: &::lambda::MappingSpec, uuid: &str, region: &str, account: &str) -> Value {
    use ::lambda::{MappingSpec, StartingPosition};
    let function_arn = |f: &str| format!("arn:aws:lambda:{region}:{account}:function:{f}");
    let state = |enabled: bool| if enabled { "Enabled" } else { "Disabled" };
    let mut m = match spec {
        MappingSpec::Sqs(s) => {
            let mut m = json!({
                "EventSourceArn": s.queue_arn,
                "FunctionArn": function_arn(&s.function),
                "BatchSize": s.batch_size,
                "MaximumBatchingWindowInSeconds": s.maximum_batching_window_s,
                "State": state(s.enabled),
                "FunctionResponseTypes": if s.report_batch_item_failures { json!(["ReportBatchItemFailures"]) } else { json!([]) },
            });
            if let Some(max) = s.maximum_concurrency {
                m["ScalingConfig"] = json!({ "MaximumConcurrency": max });
            }
            m
        }
        MappingSpec::Stream(s) => json!({
            "EventSourceArn": s.stream_arn,
            "FunctionArn": function_arn(&s.function),
            "BatchSize": s.batch_size,
            "StartingPosition": match s.starting_position {
                StartingPosition::TrimHorizon => "TRIM_HORIZON",
                StartingPosition::Latest => "LATEST",
            },
            "MaximumRetryAttempts": s.maximum_retry_attempts,
            "State": state(s.enabled),
        }),
    };
    m["UUID"] = uuid.into();
    m["EventSourceMappingArn"] =
        format!("arn:aws:lambda:{region}:{account}:event-source-mapping:{uuid}").into();
    m["StateTransitionReason"] = "USER_INITIATED".into();
    m
}

/// The function `name` (a name or an ARN) at `qualifier`, which must be `$LATEST` if given.
fn spec_of<'l>(
    lambda: &'l Lambda,
    name: &str,
    qualifier: Option<&str>,
) -> Result<&'l FunctionSpec, ApiError> {
    let arn = lambda.function_arn(&::lambda::function_name(name));
    let not_found = |arn: String| {
        ApiError::client(
            "ResourceNotFoundException",
            format!("Function not found: {arn}"),
        )
        .with_status(StatusCode::NOT_FOUND)
    };
    match qualifier {
        Some(q) if q != LATEST => Err(not_found(format!("{arn}:{q}"))),
        _ => lambda.function_spec(name).map_err(|_| not_found(arn)),
    }
}

/// Invoke: synchronously (`RequestResponse`, the default), queued (`Event`), or only checked
/// (`DryRun`).
async fn invoke(
    lambda: &Lambda,
    ctx: &RequestCtx,
    parts: &Parts,
    name: &str,
    qualifier: Option<&str>,
    payload: Bytes,
) -> Result<Response<Full<Bytes>>, ApiError> {
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    let spec = spec_of(lambda, name, qualifier)?;
    if !payload.is_empty() {
        if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(&payload) {
            return Err(ApiError::client(
                "InvalidRequestContentException",
                format!("Could not parse request body into json: {e}"),
            ));
        }
    }
    let response = Response::builder()
        .header("x-amzn-RequestId", &ctx.request_id)
        .header("X-Amz-Executed-Version", LATEST);
    let response = match header("x-amz-invocation-type").unwrap_or("RequestResponse") {
        "RequestResponse" => {
            let result = lambda.invoke(&spec.name, &payload).await?;
            let mut response = response
                .status(StatusCode::OK)
                .header("content-type", "application/json");
            if result.function_error.is_some() {
                response = response.header("X-Amz-Function-Error", "Unhandled");
            }
            if header("x-amz-log-type") == Some("Tail") {
                response = response.header("X-Amz-Log-Result", log_tail(&result.log));
            }
            response.body(Full::new(Bytes::from(result.payload)))
        }
        "Event" => {
            lambda
                .invoke_async_nonblocking(&spec.name, payload.to_vec())
                .await?;
            response
                .status(StatusCode::ACCEPTED)
                .body(Full::new(Bytes::new()))
        }
        "DryRun" => response
            .status(StatusCode::NO_CONTENT)
            .body(Full::new(Bytes::new())),
        other => {
            return Err(ApiError::client(
                "InvalidParameterValueException",
                format!(
                    "X-Amz-Invocation-Type `{other}` is not one of RequestResponse, Event, DryRun"
                ),
            ))
        }
    };
    response.map_err(|e| ApiError::internal(format!("building the Invoke answer failed: {e}")))
}

/// The last [`LOG_TAIL_BYTES`] of an invocation's log lines, base64-encoded.
fn log_tail(lines: &[String]) -> String {
    let mut text = lines.join("\n");
    text.push('\n');
    let mut start = text.len().saturating_sub(LOG_TAIL_BYTES);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    base64::engine::general_purpose::STANDARD.encode(&text.as_bytes()[start..])
}

/// A function's configuration as GetFunctionConfiguration answers it.
fn configuration(lambda: &Lambda, spec: &FunctionSpec) -> Value {
    let mut c = Map::new();
    c.insert("FunctionName".into(), spec.name.clone().into());
    c.insert("FunctionArn".into(), lambda.function_arn(&spec.name).into());
    c.insert("Runtime".into(), spec.runtime.clone().into());
    if let Some(role) = &spec.role_arn {
        c.insert("Role".into(), role.clone().into());
    }
    c.insert("Handler".into(), spec.handler.clone().into());
    let code_size = std::fs::metadata(spec.code_dir.join("bootstrap")).map_or(0, |m| m.len());
    c.insert("CodeSize".into(), code_size.into());
    c.insert("Timeout".into(), spec.timeout_s.into());
    c.insert("MemorySize".into(), spec.memory_mb.into());
    c.insert("Version".into(), LATEST.into());
    if !spec.environment.is_empty() {
        let variables: Map<String, Value> = spec
            .environment
            .iter()
            .map(|(k, v)| (k.clone(), v.clone().into()))
            .collect();
        c.insert("Environment".into(), json!({ "Variables": variables }));
    }
    if let Some(target) = &spec.dead_letter_target_arn {
        c.insert("DeadLetterConfig".into(), json!({ "TargetArn": target }));
    }
    c.insert("PackageType".into(), "Zip".into());
    c.insert("State".into(), "Active".into());
    c.insert("LastUpdateStatus".into(), "Successful".into());
    c.insert("Architectures".into(), json!(["x86_64"]));
    Value::Object(c)
}

fn answer(status: StatusCode, body: Value, ctx: &RequestCtx) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header("x-amzn-RequestId", &ctx.request_id)
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(method: Method, path: &str) -> Parts {
        hyper::Request::builder()
            .method(method)
            .uri(path)
            .body(())
            .unwrap()
            .into_parts()
            .0
    }

    #[test]
    fn operations_are_read_from_the_method_and_the_path() {
        let read = |method, path| operation(&parts(method, path)).map_err(|e| e.code);
        assert_eq!(
            read(Method::GET, "/2015-03-31/functions/"),
            Ok(Operation::ListFunctions)
        );
        assert_eq!(
            read(
                Method::POST,
                "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Awork/invocations"
            ),
            Ok(Operation::Invoke(
                "arn:aws:lambda:us-east-1:000000000000:function:work".into()
            ))
        );
        assert_eq!(
            read(Method::GET, "/2015-03-31/functions/work/configuration"),
            Ok(Operation::GetFunctionConfiguration("work".into()))
        );
        assert_eq!(
            read(Method::DELETE, "/2015-03-31/functions/work"),
            Err("UnknownOperationException".to_owned())
        );
    }

    #[test]
    fn the_log_tail_keeps_the_last_4_kb_on_a_character_boundary() {
        let lines = vec!["START".to_owned(), "é".repeat(3_000), "END".to_owned()];
        let tail = base64::engine::general_purpose::STANDARD
            .decode(log_tail(&lines))
            .unwrap();
        let tail = String::from_utf8(tail).expect("whole characters");
        assert!(tail.len() <= LOG_TAIL_BYTES && tail.len() >= LOG_TAIL_BYTES - 1);
        assert!(tail.ends_with("é\nEND\n"), "{tail}");
    }
}
