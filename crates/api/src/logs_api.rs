//! CloudWatch Logs, read side, in AWS JSON 1.1 (`X-Amz-Target: Logs_20140328.*`): the functions'
//! log events as AWS keeps them, one log group per function (`/aws/lambda/NAME`) and one stream
//! per instance. DescribeLogGroups, DescribeLogStreams, GetLogEvents and FilterLogEvents (term
//! patterns), which is what `aws logs tail --follow` calls. Events are read from the store, so
//! `cascade serve` answers too; a running Lambda service first commits what it has buffered.

use bytes::Bytes;
use http_body_util::Full;
use hyper::Response;
use serde_json::{json, Value};

use crate::error::ApiError;
use crate::server::{blocking, App, RequestCtx};
use ::lambda::{LogEvent, LogQuery};

/// Log groups of functions are named `/aws/lambda/` and the function name, as on AWS.
const GROUP_PREFIX: &str = "/aws/lambda/";
/// The largest page of DescribeLogGroups and DescribeLogStreams.
const MAX_DESCRIBE: usize = 50;
/// The largest page of GetLogEvents and FilterLogEvents.
const MAX_EVENTS: usize = 10_000;

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::client("InvalidParameterException", message)
}

fn no_group() -> ApiError {
    ApiError::client(
        "ResourceNotFoundException",
        "The specified log group does not exist.",
    )
}

/// Serves one CloudWatch Logs request.
pub async fn handle(
    app: &App,
    ctx: &RequestCtx,
    operation: String,
    body: Bytes,
) -> Result<Response<Full<Bytes>>, ApiError> {
    let request: Value = if body.is_empty() {
        json!({})
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::serialization(format!("The request body is not JSON: {e}")))?
    };
    let store = app.services.sqs.store().clone();
    let functions = app.services.functions.get();
    let config = app.services.sqs.config();
    let arn_prefix = format!(
        "arn:aws:logs:{}:{}:log-group:",
        config.region, config.account_id
    );
    let answer = blocking(move || {
        if let Some(lambda) = functions {
            lambda.flush_logs();
        }
        match operation.as_str() {
            "DescribeLogGroups" => describe_log_groups(&store, &request, &arn_prefix),
            "DescribeLogStreams" => describe_log_streams(&store, &request, &arn_prefix),
            "GetLogEvents" => get_log_events(&store, &request),
            "FilterLogEvents" => filter_log_events(&store, &request),
            other => Err(ApiError::client(
                "UnknownOperationException",
                format!("Unknown operation `Logs_20140328.{other}`"),
            )),
        }
    })
    .await?;
    Ok(Response::builder()
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amzn-RequestId", &ctx.request_id)
        .body(Full::new(Bytes::from(answer.to_string())))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new()))))
}

fn text<'r>(request: &'r Value, key: &str) -> Option<&'r str> {
    request.get(key).and_then(Value::as_str)
}

fn number(request: &Value, key: &str) -> Result<Option<i64>, ApiError> {
    match request.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_i64()
            .map(Some)
            .ok_or_else(|| ApiError::serialization(format!("`{key}` must be an integer"))),
    }
}

fn limit(request: &Value, max: usize) -> Result<usize, ApiError> {
    match number(request, "limit")? {
        None => Ok(max),
        Some(n) if n >= 1 && n as usize <= max => Ok(n as usize),
        Some(n) => Err(invalid(format!(
            "1 validation error detected: Value '{n}' at 'limit' failed to satisfy constraint: Member must have value between 1 and {max}"
        ))),
    }
}

/// The function of the request's log group (`logGroupName`, or `logGroupIdentifier` as a name
/// or an ARN).
fn function_of(request: &Value) -> Result<String, ApiError> {
    let group = text(request, "logGroupName")
        .or_else(|| text(request, "logGroupIdentifier"))
        .ok_or_else(|| invalid("logGroupName is required"))?;
    let group = group
        .split_once(":log-group:")
        .map_or(group, |(_, rest)| rest.trim_end_matches(":*"));
    group
        .strip_prefix(GROUP_PREFIX)
        .filter(|f| !f.is_empty())
        .map(str::to_owned)
        .ok_or_else(no_group)
}

fn describe_log_groups(
    store: &store::Store,
    request: &Value,
    arn_prefix: &str,
) -> Result<Value, ApiError> {
    let prefix = text(request, "logGroupNamePrefix").unwrap_or("");
    let after = text(request, "nextToken").unwrap_or("");
    let limit = limit(request, MAX_DESCRIBE)?;
    let mut groups: Vec<Value> = ::lambda::log_groups(store)?
        .into_iter()
        .map(|(function, created, bytes)| (format!("{GROUP_PREFIX}{function}"), created, bytes))
        .filter(|(name, _, _)| name.starts_with(prefix) && name.as_str() > after)
        .take(limit + 1)
        .map(|(name, created, bytes)| {
            json!({
                "logGroupName": name,
                "creationTime": created,
                "metricFilterCount": 0,
                "storedBytes": bytes,
                "arn": format!("{arn_prefix}{name}:*"),
                "logGroupArn": format!("{arn_prefix}{name}"),
            })
        })
        .collect();
    let mut answer = json!({});
    if groups.len() > limit {
        groups.truncate(limit);
        answer["nextToken"] = groups[limit - 1]["logGroupName"].clone();
    }
    answer["logGroups"] = Value::Array(groups);
    Ok(answer)
}

fn describe_log_streams(
    store: &store::Store,
    request: &Value,
    arn_prefix: &str,
) -> Result<Value, ApiError> {
    let function = function_of(request)?;
    let group = format!("{GROUP_PREFIX}{function}");
    let prefix = text(request, "logStreamNamePrefix").unwrap_or("");
    let by_time = match text(request, "orderBy").unwrap_or("LogStreamName") {
        "LogStreamName" => false,
        "LastEventTime" if prefix.is_empty() => true,
        "LastEventTime" => {
            return Err(invalid(
                "Cannot order by LastEventTime with a logStreamNamePrefix.",
            ))
        }
        other => {
            return Err(invalid(format!(
                "orderBy `{other}` is not LogStreamName or LastEventTime"
            )))
        }
    };
    let descending = request.get("descending").and_then(Value::as_bool) == Some(true);
    let skip: usize = match text(request, "nextToken") {
        Some(token) => token
            .parse()
            .map_err(|_| invalid(format!("The next token `{token}` is not valid")))?,
        None => 0,
    };
    let limit = limit(request, MAX_DESCRIBE)?;
    let mut streams = ::lambda::log_streams(store, &function)?;
    if streams.is_empty() {
        return Err(no_group());
    }
    streams.retain(|s| s.name.starts_with(prefix));
    if by_time {
        streams.sort_by_key(|s| s.last_ms);
    }
    if descending {
        streams.reverse();
    }
    let page: Vec<Value> = streams
        .iter()
        .skip(skip)
        .take(limit)
        .map(|s| {
            json!({
                "logStreamName": s.name,
                "creationTime": s.first_ms,
                "firstEventTimestamp": s.first_ms,
                "lastEventTimestamp": s.last_ms,
                "lastIngestionTime": s.last_ms,
                "arn": format!("{arn_prefix}{group}:log-stream:{}", s.name),
                "storedBytes": s.stored_bytes,
            })
        })
        .collect();
    let mut answer = json!({ "logStreams": page });
    if skip + limit < streams.len() {
        answer["nextToken"] = (skip + limit).to_string().into();
    }
    Ok(answer)
}

/// A token of GetLogEvents: `f/ID` reads forward after event ID, `b/ID` backward before it.
fn read_token(token: &str) -> Result<(bool, i64), ApiError> {
    let bad = || invalid(format!("The specified nextToken `{token}` is not valid."));
    let (direction, id) = token.split_once('/').ok_or_else(bad)?;
    let id = id.parse().map_err(|_| bad())?;
    match direction {
        "f" => Ok((false, id)),
        "b" => Ok((true, id)),
        _ => Err(bad()),
    }
}

fn get_log_events(store: &store::Store, request: &Value) -> Result<Value, ApiError> {
    let function = function_of(request)?;
    let stream = text(request, "logStreamName")
        .ok_or_else(|| invalid("logStreamName is required"))?
        .to_owned();
    let start_from_head = request.get("startFromHead").and_then(Value::as_bool) == Some(true);
    let (newest_first, from_id) = match text(request, "nextToken") {
        Some(token) => {
            let (backward, id) = read_token(token)?;
            (backward, Some(id))
        }
        // Without a token, the newest events, unless reading from the head.
        None => (!start_from_head, None),
    };
    let query = LogQuery {
        function: Some(function),
        streams: vec![stream],
        start_ms: number(request, "startTime")?,
        end_ms: number(request, "endTime")?,
        from_id,
        newest_first,
        limit: limit(request, MAX_EVENTS)?,
        ..LogQuery::default()
    };
    let mut events = ::lambda::query_logs(store, &query)?;
    if newest_first {
        events.reverse();
    }
    // At the end, a token stays where it was, which is how a reader knows it is done; an empty
    // backward read leaves the forward token just before where it stopped, so that a reader
    // going forward from there sees the events written later.
    let (first, last) = match (events.first(), events.last(), from_id) {
        (Some(first), Some(last), _) => (first.id, last.id),
        (_, _, Some(id)) if newest_first => (id, id - 1),
        (_, _, Some(id)) => (id, id),
        (_, _, None) => (0, 0),
    };
    let events: Vec<Value> = events
        .iter()
        .map(|e| json!({ "timestamp": e.timestamp_ms, "message": e.message, "ingestionTime": e.timestamp_ms }))
        .collect();
    Ok(json!({
        "events": events,
        "nextForwardToken": format!("f/{last}"),
        "nextBackwardToken": format!("b/{first}"),
    }))
}

/// The terms of a filter pattern: words and quoted phrases, each of which an event must contain.
/// JSON and space-delimited patterns, and the `?` and `-` term operators, are refused by name.
fn pattern_terms(pattern: &str) -> Result<Vec<String>, ApiError> {
    let pattern = pattern.trim();
    if pattern.starts_with('{') || pattern.starts_with('[') {
        return Err(invalid(format!(
            "filterPattern `{pattern}`: only term patterns (words and quoted phrases) are supported locally"
        )));
    }
    let mut terms = Vec::new();
    let mut rest = pattern;
    while let Some(start) = rest.find(|c: char| !c.is_whitespace()) {
        rest = &rest[start..];
        let term = if let Some(quoted) = rest.strip_prefix('"') {
            let end = quoted.find('"').ok_or_else(|| {
                invalid(format!("filterPattern `{pattern}` has an unclosed quote"))
            })?;
            rest = &quoted[end + 1..];
            &quoted[..end]
        } else {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            let word = &rest[..end];
            rest = &rest[end..];
            if word.starts_with(['?', '-']) {
                return Err(invalid(format!(
                    "filterPattern `{pattern}`: the `?` and `-` term operators are not supported locally"
                )));
            }
            word
        };
        if !term.is_empty() {
            terms.push(term.to_owned());
        }
    }
    Ok(terms)
}

fn filter_log_events(store: &store::Store, request: &Value) -> Result<Value, ApiError> {
    let function = function_of(request)?;
    let mut streams: Vec<String> = request
        .get("logStreamNames")
        .and_then(Value::as_array)
        .map(|names| {
            names
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    if let Some(prefix) = text(request, "logStreamNamePrefix") {
        if !streams.is_empty() {
            return Err(invalid(
                "logStreamNames and logStreamNamePrefix cannot both be given",
            ));
        }
        streams = ::lambda::log_streams(store, &function)?
            .into_iter()
            .map(|s| s.name)
            .filter(|name| name.starts_with(prefix))
            .collect();
        if streams.is_empty() {
            return Ok(json!({ "events": [], "searchedLogStreams": [] }));
        }
    }
    let from_id =
        match text(request, "nextToken") {
            Some(token) => Some(token.parse().map_err(|_| {
                invalid(format!("The specified nextToken `{token}` is not valid."))
            })?),
            None => None,
        };
    let query = LogQuery {
        function: Some(function.clone()),
        streams,
        start_ms: number(request, "startTime")?,
        end_ms: number(request, "endTime")?,
        terms: pattern_terms(text(request, "filterPattern").unwrap_or(""))?,
        from_id,
        newest_first: false,
        limit: limit(request, MAX_EVENTS)?,
    };
    let events = ::lambda::query_logs(store, &query)?;
    let mut answer = json!({
        "events": events.iter().map(event).collect::<Vec<_>>(),
        "searchedLogStreams": [],
    });
    // A full page may have more behind it.
    if let (true, Some(last)) = (events.len() == query.limit, events.last()) {
        answer["nextToken"] = last.id.to_string().into();
    }
    Ok(answer)
}

fn event(e: &LogEvent) -> Value {
    json!({
        "logStreamName": e.log_stream,
        "timestamp": e.timestamp_ms,
        "message": e.message,
        "ingestionTime": e.timestamp_ms,
        "eventId": e.id.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_patterns_are_words_and_quoted_phrases() {
        assert_eq!(
            pattern_terms(r#" ERROR  "stage=sales" run-1 "#).unwrap(),
            ["ERROR", "stage=sales", "run-1"]
        );
        assert_eq!(pattern_terms("").unwrap(), Vec::<String>::new());
        for refused in [
            r#"{ $.level = "error" }"#,
            "[ip, user]",
            "?ERROR ?WARN",
            "-DEBUG",
            "\"open",
        ] {
            assert_eq!(
                pattern_terms(refused).unwrap_err().code,
                "InvalidParameterException",
                "{refused}"
            );
        }
    }

    #[test]
    fn a_log_group_names_its_function() {
        let of = |request: Value| function_of(&request).map_err(|e| e.code);
        assert_eq!(
            of(json!({"logGroupName": "/aws/lambda/work"})),
            Ok("work".into())
        );
        assert_eq!(
            of(
                json!({"logGroupIdentifier": "arn:aws:logs:us-east-1:000000000000:log-group:/aws/lambda/work:*"})
            ),
            Ok("work".into())
        );
        assert_eq!(
            of(json!({"logGroupName": "/ecs/web"})),
            Err("ResourceNotFoundException".into())
        );
    }
}
