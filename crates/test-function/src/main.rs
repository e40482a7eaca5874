//! A Lambda function for the runtime's tests, as a custom-runtime `bootstrap`.
//!
//! The runtime loop is written by hand against the documented Runtime API (one keep-alive HTTP/1.1
//! connection over `std::net::TcpStream`) rather than with `lambda_runtime`. That keeps the
//! function independent of any client library, so the tests show that a runtime speaking only the
//! documented protocol works, and it keeps the empty invocation cheap for the overhead benchmark.
//!
//! What the function does is chosen by the event (a JSON object); keys combine:
//! - `print`: lines written to stdout, `stderr`: lines written to stderr;
//! - `sleep_ms`: sleeps that long before answering;
//! - `env`: a list of variable names whose values are returned under `env`;
//! - `context: true`: returns the invocation's Runtime API headers (request id, deadline, function
//!   ARN, trace id);
//! - `exit`: exits with that code without answering (a crash);
//! - `fail`: answers with a function error whose message is this string;
//! - `sqs_send`: `{queue_url, body}`, sends one message through aws-sdk-sqs to
//!   `AWS_ENDPOINT_URL` with the credentials of the environment; the error, if any, is returned
//!   under `sqs_error` (so a denial can be inspected);
//! - `Records`: an SQS or DynamoDB stream batch: each record is printed as one line
//!   (`record <eventName or body>`); an SQS record whose body has `"fail": true` is reported in
//!   `batchItemFailures`, one with `"fail_batch": true` fails the whole invocation, and one with
//!   `"sleep_ms": n` sleeps that long; a stream record whose new image has `fail: true` fails
//!   the invocation.
//!
//! Anything else is echoed back. With `TEST_FUNCTION_INIT_ERROR` set, the function reports an
//! init error and exits before its first invocation; with `TEST_FUNCTION_PRINT_EVENT` set, it
//! prints each event as one line `event <json>`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;

use serde_json::{json, Value};

fn main() {
    let api = match std::env::var("AWS_LAMBDA_RUNTIME_API") {
        Ok(api) => api,
        Err(_) => {
            eprintln!("AWS_LAMBDA_RUNTIME_API is not set");
            std::process::exit(2);
        }
    };
    let mut conn = match Conn::open(&api) {
        Ok(conn) => conn,
        Err(e) => {
            eprintln!("cannot reach the runtime API at {api}: {e}");
            std::process::exit(2);
        }
    };
    if let Ok(message) = std::env::var("TEST_FUNCTION_INIT_ERROR") {
        let body = json!({"errorType": "InitFailed", "errorMessage": message}).to_string();
        let _ = conn.request("POST", "/2018-06-01/runtime/init/error", body.as_bytes());
        std::process::exit(1);
    }
    loop {
        let (headers, event) = match conn.request("GET", "/2018-06-01/runtime/invocation/next", b"")
        {
            Ok((200, headers, body)) => (headers, body),
            Ok((status, _, _)) => {
                eprintln!("runtime API answered {status} to next");
                std::process::exit(1);
            }
            Err(e) => {
                eprintln!("runtime API connection failed: {e}");
                std::process::exit(1);
            }
        };
        let Some(id) = header(&headers, "lambda-runtime-aws-request-id") else {
            eprintln!("next carried no request id");
            std::process::exit(1);
        };
        let (path, body) = match handle(&event, &headers) {
            Ok(response) => (
                format!("/2018-06-01/runtime/invocation/{id}/response"),
                response,
            ),
            Err(message) => (
                format!("/2018-06-01/runtime/invocation/{id}/error"),
                json!({"errorType": "TestFailure", "errorMessage": message}).to_string(),
            ),
        };
        if let Err(e) = conn.request("POST", &path, body.as_bytes()) {
            eprintln!("runtime API connection failed: {e}");
            std::process::exit(1);
        }
    }
}

/// Runs one event; `Err` is a function error with that message.
fn handle(event: &[u8], headers: &[(String, String)]) -> Result<String, String> {
    if event.is_empty() {
        return Ok(String::new());
    }
    let event: Value =
        serde_json::from_slice(event).map_err(|e| format!("event is not JSON: {e}"))?;
    if std::env::var_os("TEST_FUNCTION_PRINT_EVENT").is_some() {
        println!("event {event}");
    }
    let lines = |key: &str| -> Vec<String> {
        match event.get(key) {
            Some(Value::Array(items)) => items.iter().map(text).collect(),
            Some(v) => vec![text(v)],
            None => Vec::new(),
        }
    };
    for line in lines("print") {
        println!("{line}");
    }
    for line in lines("stderr") {
        eprintln!("{line}");
    }
    if let Some(ms) = event.get("sleep_ms").and_then(Value::as_u64) {
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
    if let Some(code) = event.get("exit").and_then(Value::as_i64) {
        let _ = std::io::stdout().flush();
        std::process::exit(code as i32);
    }
    if let Some(message) = event.get("fail") {
        return Err(text(message));
    }
    if let Some(records) = event.get("Records").and_then(Value::as_array) {
        return records_batch(records);
    }
    let mut out = event.clone();
    if let Some(names) = event.get("env").and_then(Value::as_array) {
        let values: serde_json::Map<String, Value> = names
            .iter()
            .map(|n| {
                let name = text(n);
                let value = std::env::var(&name)
                    .map(Value::String)
                    .unwrap_or(Value::Null);
                (name, value)
            })
            .collect();
        out = json!({ "env": values });
    }
    if event.get("context") == Some(&Value::Bool(true)) {
        let h = |name: &str| header(headers, name).map(str::to_owned);
        out = json!({
            "request_id": h("lambda-runtime-aws-request-id"),
            "deadline_ms": h("lambda-runtime-deadline-ms"),
            "function_arn": h("lambda-runtime-invoked-function-arn"),
            "trace_id": h("lambda-runtime-trace-id"),
        });
    }
    if let Some(send) = event.get("sqs_send") {
        let queue_url = send.get("queue_url").map(text).unwrap_or_default();
        let body = send.get("body").map(text).unwrap_or_default();
        out = match sqs_send(&queue_url, &body) {
            Ok(message_id) => json!({ "message_id": message_id }),
            Err(e) => json!({ "sqs_error": e }),
        };
    }
    Ok(out.to_string())
}

/// An SQS or stream batch: prints a line per record and reports the SQS records asked to fail.
fn records_batch(records: &[Value]) -> Result<String, String> {
    let mut failures = Vec::new();
    for record in records {
        if let Some(name) = record.get("eventName").and_then(Value::as_str) {
            println!("record {name}");
            if record.pointer("/dynamodb/NewImage/fail/BOOL") == Some(&Value::Bool(true)) {
                return Err(format!("record {name} asks to fail"));
            }
            continue;
        }
        let body = record.get("body").map(text).unwrap_or_default();
        println!("record {body}");
        let parsed: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        if let Some(ms) = parsed.get("sleep_ms").and_then(Value::as_u64) {
            std::thread::sleep(std::time::Duration::from_millis(ms));
        }
        if parsed.get("fail_batch") == Some(&Value::Bool(true)) {
            return Err(format!("batch failed on `{body}`"));
        }
        if parsed.get("fail") == Some(&Value::Bool(true)) {
            let id = record.get("messageId").map(text).unwrap_or_default();
            failures.push(json!({ "itemIdentifier": id }));
        }
    }
    Ok(json!({ "batchItemFailures": failures }).to_string())
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Sends one message with aws-sdk-sqs to the endpoint and credentials of the environment.
fn sqs_send(queue_url: &str, body: &str) -> Result<String, String> {
    use aws_sdk_sqs::config::{Credentials, Region};
    let var = |name: &str| std::env::var(name).map_err(|_| format!("{name} is not set"));
    let config = aws_sdk_sqs::Config::builder()
        .region(Region::new(var("AWS_REGION")?))
        .credentials_provider(Credentials::new(
            var("AWS_ACCESS_KEY_ID")?,
            var("AWS_SECRET_ACCESS_KEY")?,
            std::env::var("AWS_SESSION_TOKEN").ok(),
            None,
            "environment",
        ))
        .endpoint_url(var("AWS_ENDPOINT_URL")?)
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    let client = aws_sdk_sqs::Client::from_conf(config);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async {
        match client
            .send_message()
            .queue_url(queue_url)
            .message_body(body)
            .send()
            .await
        {
            Ok(out) => Ok(out.message_id().unwrap_or_default().to_owned()),
            Err(e) => Err(match e.as_service_error() {
                Some(service) => format!(
                    "{}: {}",
                    service.meta().code().unwrap_or("Unknown"),
                    service.meta().message().unwrap_or("")
                ),
                None => format!("{e:?}"),
            }),
        }
    })
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// One keep-alive HTTP/1.1 connection to the runtime API. Answers are read by Content-Length,
/// which the runtime API always sends.
struct Conn {
    host: String,
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

type Response = (u16, Vec<(String, String)>, Vec<u8>);

impl Conn {
    fn open(host: &str) -> std::io::Result<Conn> {
        let stream = TcpStream::connect(host)?;
        // Requests are small and answered at once: waiting to coalesce them only adds latency.
        stream.set_nodelay(true)?;
        Ok(Conn {
            host: host.to_owned(),
            reader: BufReader::new(stream.try_clone()?),
            writer: stream,
        })
    }

    fn request(&mut self, method: &str, path: &str, body: &[u8]) -> std::io::Result<Response> {
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\n",
            self.host,
            body.len()
        );
        if !body.is_empty() {
            head.push_str("Content-Type: application/json\r\n");
        }
        head.push_str("\r\n");
        let mut request = head.into_bytes();
        request.extend_from_slice(body);
        self.writer.write_all(&request)?;
        let bad =
            |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned());
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Err(bad("connection closed"));
        }
        let status: u16 = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad("bad status line"))?;
        let mut headers = Vec::new();
        let mut length = 0usize;
        loop {
            line.clear();
            if self.reader.read_line(&mut line)? == 0 {
                return Err(bad("connection closed in headers"));
            }
            let trimmed = line.trim_end();
            if trimmed.is_empty() {
                break;
            }
            if let Some((k, v)) = trimmed.split_once(':') {
                let (k, v) = (k.trim().to_owned(), v.trim().to_owned());
                if k.eq_ignore_ascii_case("content-length") {
                    length = v.parse().map_err(|_| bad("bad content-length"))?;
                }
                headers.push((k, v));
            }
        }
        let mut body = vec![0; length];
        self.reader.read_exact(&mut body)?;
        Ok((status, headers, body))
    }
}
