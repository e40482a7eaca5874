//! `cascade up --once` on a two-stage cascade of the test function: a schedule fires the starter,
//! whose message (sent with its own role's credentials) triggers the worker through an SQS
//! mapping. A clean run drains and exits 0; a failing message is redriven to the dead-letter
//! queue after maxReceiveCount receives and the run exits 1 naming it. After a run, the
//! environment's store holds the queues' AWS/SQS metrics; the summary shows the stages' progress
//! from the pipeline's own metrics.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use api::cloudwatch::{CloudWatch, Dimension, MetricDatum, MetricId, Statistic, StatisticsRequest};

/// A copy of `tests/data/up` with the test function as `fn/bootstrap`.
fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/up");
    std::fs::copy(data.join("template.yml"), dir.path().join("template.yml")).unwrap();
    std::fs::create_dir_all(dir.path().join("fn")).unwrap();
    std::fs::copy(test_function(), dir.path().join("fn/bootstrap")).unwrap();
    dir
}

/// Builds `test-function` in the test binary's target folder.
fn test_function() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let target = exe.ancestors().nth(3).unwrap().to_owned();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--quiet", "-p", "test-function"])
        .env("CARGO_TARGET_DIR", &target)
        .status()
        .unwrap();
    assert!(status.success(), "building test-function failed");
    target.join("debug/test-function")
}

fn up(dir: &Path, extra: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_cascade"))
        .args(["up", "--once", "--listen", "127.0.0.1:0", "--timeout", "60"])
        .args(extra)
        .current_dir(dir)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn line_with<'a>(text: &'a str, needle: &str) -> &'a str {
    text.lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with `{needle}` in:\n{text}"))
}

/// The CloudWatch engine on the store a run of `up` in `dir` left (environment `dev`).
fn cloudwatch(dir: &Path) -> CloudWatch {
    let path = dir.join(".cascade/dev").join(api::STORE_FILE);
    let store = store::Store::open(&path, store::Options::default()).unwrap();
    CloudWatch::new(
        store,
        Arc::new(store::SystemClock),
        api::cloudwatch::Config::default(),
    )
    .unwrap()
}

/// The `statistic` of the AWS/SQS metric `name` of queue `queue` over the last hour: the sum
/// over every datapoint, or the maximum of all.
fn sqs_metric(cw: &CloudWatch, name: &str, queue: &str, statistic: Statistic) -> f64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let points = cw
        .get_metric_statistics(&StatisticsRequest {
            metric: MetricId::new("AWS/SQS", name, &[Dimension::new("QueueName", queue)]),
            start_ms: now - 3_600_000,
            end_ms: now + 60_000,
            period_s: 3_660,
            statistics: vec![statistic.clone()],
            unit: None,
        })
        .unwrap();
    assert!(!points.is_empty(), "no datapoint of {name} for {queue}");
    match statistic {
        Statistic::Maximum => points.iter().map(|p| p.maximum).fold(f64::MIN, f64::max),
        _ => points.iter().map(|p| p.sum).sum(),
    }
}

/// Checks the activity of the work and dead-letter queues over every run so far
/// (`[sent, received, deleted]` each) and the largest age of the oldest message recorded in the
/// dead-letter queue (the work queue's is always 0: every recording found it drained or empty).
fn check_queue_metrics(dir: &Path, work: [f64; 3], dead: [f64; 3], dead_age: f64) {
    let cw = cloudwatch(dir);
    for (queue, expected) in [("up-work", work), ("up-dead", dead)] {
        let counts = [
            "NumberOfMessagesSent",
            "NumberOfMessagesReceived",
            "NumberOfMessagesDeleted",
        ]
        .map(|name| sqs_metric(&cw, name, queue, Statistic::Sum));
        assert_eq!(counts, expected, "{queue}: sent, received, deleted");
    }
    for (queue, expected) in [("up-work", 0.0), ("up-dead", dead_age)] {
        let age = sqs_metric(
            &cw,
            "ApproximateAgeOfOldestMessage",
            queue,
            Statistic::Maximum,
        );
        assert_eq!(age, expected, "{queue}: age of the oldest message");
    }
}

#[test]
fn a_clean_cascade_drains_and_exits_0() {
    let dir = project();
    let (code, out, err) = up(dir.path(), &[]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(out.contains("drained in"), "{out}");
    assert!(out.contains("result: ok"), "{out}");
    // The worker ran once: the starter's message got through with the starter's own key.
    let worker = line_with(&out, "function up-worker");
    assert!(worker.contains("invocations        1"), "{worker}");
    assert!(
        line_with(&out, "up-dead").contains("visible        0"),
        "{out}"
    );
    // The one message the run produced was sent, received and deleted, and recorded as such
    // before the run ended.
    check_queue_metrics(dir.path(), [1.0, 1.0, 1.0], [0.0, 0.0, 0.0], 0.0);
    // A second run deploys nothing new and runs the cascade again.
    let (code, out, err) = up(dir.path(), &[]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(out.contains("are up to date"), "{out}");
    check_queue_metrics(dir.path(), [2.0, 2.0, 2.0], [0.0, 0.0, 0.0], 0.0);
}

#[test]
fn a_failed_run_quotes_the_last_function_error_of_each_function() {
    let dir = project();
    let (code, out, err) = up(
        dir.path(),
        &["--param", "Fail=true", "--param", "FailHow=fail_batch"],
    );
    assert_eq!(code, 1, "stdout:\n{out}\nstderr:\n{err}");
    assert!(
        out.contains("dead letters: 1 message(s) in up-dead"),
        "{out}"
    );
    let quoted = line_with(&out, "last error of up-worker: ");
    assert!(quoted.contains("batch failed on"), "{quoted}");
    assert!(
        quoted.ends_with("(all of it: `cascade logs up-worker --env dev`)"),
        "{quoted}"
    );
    assert!(!out.contains("last error of up-starter"), "{out}");
}

/// A table with a stream whose reader's mapping names it through `GetAtt StreamArn`, resolved
/// before the table existed.
const STREAM_TEMPLATE: &str = r#"
Transform: AWS::Serverless-2016-10-31
Resources:
  Orders:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: up-orders
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{AttributeName: id, AttributeType: S}]
      KeySchema: [{AttributeName: id, KeyType: HASH}]
      StreamSpecification: {StreamViewType: NEW_IMAGE}
  Reader:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: up-reader
      CodeUri: fn/
      Handler: bootstrap
      Runtime: provided.al2023
      Policies:
        - DynamoDBStreamReadPolicy:
            TableName: !Ref Orders
            StreamName: '*'
  ReaderStream:
    Type: AWS::Lambda::EventSourceMapping
    Properties:
      FunctionName: !Ref Reader
      EventSourceArn: !GetAtt Orders.StreamArn
      StartingPosition: TRIM_HORIZON
"#;

#[test]
fn a_mapping_on_a_table_stream_named_by_getatt_reads_its_records() {
    let dir = project();
    std::fs::write(dir.path().join("template.yml"), STREAM_TEMPLATE).unwrap();
    let deploy = Command::new(env!("CARGO_BIN_EXE_cascade"))
        .arg("deploy")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(deploy.status.success(), "{deploy:?}");
    let path = dir.path().join(".cascade/dev").join(api::STORE_FILE);
    let store = store::Store::open(&path, store::Options::default()).unwrap();
    let db = dynamodb::DynamoDb::new(store, Arc::new(store::SystemClock)).unwrap();
    for id in ["o-1", "o-2"] {
        db.put_item(dynamodb::PutItemInput {
            table_name: "up-orders".into(),
            item: dynamodb::item([("id", dynamodb::AttributeValue::S(id.into()))]),
            ..Default::default()
        })
        .unwrap();
    }
    drop(db);
    let (code, out, err) = up(dir.path(), &[]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    // Both records in one batch, read from the stream the mapping names.
    let reader = line_with(&out, "function up-reader");
    assert!(reader.contains("invocations        1"), "{reader}");
    assert!(reader.contains("errors      0"), "{reader}");
}

#[test]
fn an_endpoint_address_in_use_stops_up_before_it_deploys_anything() {
    let dir = project();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_cascade"))
        .args(["up", "--once", "--listen", &address])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("listen on {address}: "))
            && err.contains("is another `cascade up` or `cascade serve` running?"),
        "{err}"
    );
    assert!(!dir
        .path()
        .join(".cascade/dev")
        .join(api::STORE_FILE)
        .exists());
}

/// The words of the summary line that starts with `prefix` (after its indentation).
fn words_of<'a>(text: &'a str, prefix: &str) -> Vec<&'a str> {
    text.lines()
        .find(|l| l.trim_start().starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starting with `{prefix}` in:\n{text}"))
        .split_whitespace()
        .collect()
}

#[test]
fn the_summary_counts_only_the_metrics_of_its_own_run() {
    let dir = project();
    let (code, out, err) = up(dir.path(), &[]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    // What an earlier run of the collectors put, moments before the next run starts: the same
    // CloudWatch minute, which a time window would count again.
    let put = |name: &str, dimensions: &[(&str, &str)], value: f64| MetricDatum {
        metric_name: name.into(),
        dimensions: dimensions
            .iter()
            .map(|(n, v)| Dimension::new(n, v))
            .collect(),
        value: Some(value),
        unit: Some("Count".into()),
        ..MetricDatum::default()
    };
    let stage = |s: &'static str| [("Environment", "dev"), ("Stage", s)];
    cloudwatch(dir.path())
        .record(
            "Cascade/Sales",
            &[
                put("FetchedRecords", &stage("sales"), 40.0),
                put("FetchedRecords", &stage("branches"), 13.0),
                put("WrittenRecords", &stage("branches"), 12.0),
                put("RejectedRecords", &stage("branches"), 1.0),
                put("RejectedRecords", &[("Environment", "dev")], 1.0),
            ],
        )
        .unwrap();
    let (code, out, err) = up(dir.path(), &[]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    // Each stage has a line, in cascade order, with nothing of the earlier run in it; a metric
    // without a stage keeps its own line.
    assert_eq!(
        words_of(&out, "stage branches"),
        ["stage", "branches", "fetched", "0", "written", "0", "rejected", "0"]
    );
    assert_eq!(
        words_of(&out, "stage sales"),
        ["stage", "sales", "fetched", "0", "written", "0", "rejected", "0"]
    );
    let branches = out.find("stage branches").unwrap();
    assert!(branches < out.find("stage sales").unwrap(), "{out}");
    assert_eq!(
        words_of(&out, "dev RejectedRecords"),
        ["dev", "RejectedRecords", "0"]
    );
    assert!(!out.contains("FetchedRecords"), "{out}");
}

#[test]
fn a_message_that_keeps_failing_ends_in_the_dead_letter_queue_and_exits_1() {
    let dir = project();
    let (code, out, err) = up(dir.path(), &["--param", "Fail=true"]);
    assert_eq!(code, 1, "stdout:\n{out}\nstderr:\n{err}");
    assert!(
        out.contains("dead letters: 1 message(s) in up-dead"),
        "{out}"
    );
    // maxReceiveCount is 2: the worker saw the message exactly twice.
    let worker = line_with(&out, "function up-worker");
    assert!(worker.contains("invocations        2"), "{worker}");
    assert!(out.contains("result: FAILED"), "{out}");
    // Sent once, received twice, never deleted; the move to the dead-letter queue is no send.
    // The dead letter's age, recorded at the end, counts from its send: at least the two
    // visibility timeouts of 1 s it waited out.
    let age = sqs_metric(
        &cloudwatch(dir.path()),
        "ApproximateAgeOfOldestMessage",
        "up-dead",
        Statistic::Maximum,
    );
    assert!(age >= 2.0, "{age}");
    check_queue_metrics(dir.path(), [1.0, 2.0, 0.0], [0.0, 0.0, 0.0], age);
}

/// `cascade up` running (no `--once`) on a copy of the test cascade; killed when dropped.
struct Running {
    child: std::process::Child,
    endpoint: String,
    _dir: tempfile::TempDir,
}

impl Running {
    fn start() -> Running {
        use std::io::{BufRead, BufReader};
        let dir = project();
        let mut child = Command::new(env!("CARGO_BIN_EXE_cascade"))
            .args(["up", "--listen", "127.0.0.1:0"])
            .current_dir(dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let mut seen = Vec::new();
        let endpoint = loop {
            let line = lines
                .next()
                .unwrap_or_else(|| {
                    panic!("`up` ended before its endpoint line:\n{}", seen.join("\n"))
                })
                .unwrap();
            if let Some(rest) = line.strip_prefix("endpoint ") {
                break rest.split_whitespace().next().unwrap().to_owned();
            }
            seen.push(line);
        };
        // Keep reading, so that the live view never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Running {
            child,
            endpoint,
            _dir: dir,
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_lambda_api_lists_and_invokes_the_running_functions() {
    use aws_sdk_lambda::primitives::Blob;
    use aws_sdk_lambda::types::{InvocationType, LogType, Runtime};
    use base64::Engine as _;
    let running = Running::start();
    let lambda = local_client!(aws_sdk_lambda, &running.endpoint);
    let arn = "arn:aws:lambda:us-east-1:000000000000:function:up-worker";

    let listed = lambda.list_functions().send().await.unwrap();
    let mut names: Vec<&str> = listed
        .functions()
        .iter()
        .filter_map(|f| f.function_name())
        .collect();
    names.sort();
    assert_eq!(names, ["up-starter", "up-worker"]);
    let config = lambda
        .get_function_configuration()
        .function_name("up-worker")
        .send()
        .await
        .unwrap();
    assert_eq!(config.function_arn(), Some(arn));
    assert_eq!(config.runtime(), Some(&Runtime::Providedal2023));
    assert_eq!(
        (config.timeout(), config.memory_size()),
        (Some(1), Some(128))
    );
    assert!(config.code_size() > 0, "{config:?}");

    // Synchronous, with the log tail: the function's answer and its log lines.
    let event = r#"{"print":"hello from the test"}"#;
    let echoed = lambda
        .invoke()
        .function_name("up-worker")
        .payload(Blob::new(event))
        .log_type(LogType::Tail)
        .send()
        .await
        .unwrap();
    assert_eq!(echoed.status_code(), 200);
    assert_eq!(echoed.function_error(), None);
    assert_eq!(echoed.executed_version(), Some("$LATEST"));
    let payload: serde_json::Value =
        serde_json::from_slice(echoed.payload().unwrap().as_ref()).unwrap();
    assert_eq!(payload, serde_json::json!({"print": "hello from the test"}));
    let tail = base64::engine::general_purpose::STANDARD
        .decode(echoed.log_result().unwrap())
        .unwrap();
    let tail = String::from_utf8(tail).unwrap();
    assert!(
        tail.starts_with("START RequestId: ")
            && tail.contains("hello from the test\n")
            && tail.contains("REPORT RequestId: "),
        "{tail}"
    );

    // A function error is a successful call that says so.
    let failed = lambda
        .invoke()
        .function_name(arn)
        .payload(Blob::new(r#"{"fail":"on purpose"}"#))
        .send()
        .await
        .unwrap();
    assert_eq!(failed.function_error(), Some("Unhandled"));
    let error = String::from_utf8_lossy(failed.payload().unwrap().as_ref()).into_owned();
    assert!(error.contains("on purpose"), "{error}");

    let queued = lambda
        .invoke()
        .function_name("up-worker")
        .invocation_type(InvocationType::Event)
        .payload(Blob::new("{}"))
        .send()
        .await
        .unwrap();
    assert_eq!(queued.status_code(), 202);

    let missing = lambda
        .invoke()
        .function_name("up-nope")
        .send()
        .await
        .unwrap_err();
    let missing = missing.into_service_error();
    assert!(missing.is_resource_not_found_exception(), "{missing:?}");
    assert_eq!(
        missing.meta().message(),
        Some("Function not found: arn:aws:lambda:us-east-1:000000000000:function:up-nope")
    );
    // The SQS mapping of the worker, as deployed, and by its UUID.
    let mappings = lambda
        .list_event_source_mappings()
        .function_name("up-worker")
        .send()
        .await
        .unwrap();
    let [mapping] = mappings.event_source_mappings() else {
        panic!("not one mapping: {mappings:?}");
    };
    assert_eq!(
        mapping.event_source_arn(),
        Some("arn:aws:sqs:us-east-1:000000000000:up-work")
    );
    assert_eq!(mapping.function_arn(), Some(arn));
    assert_eq!(
        (mapping.batch_size(), mapping.state()),
        (Some(10), Some("Enabled"))
    );
    assert_eq!(
        mapping.function_response_types(),
        [aws_sdk_lambda::types::FunctionResponseType::ReportBatchItemFailures]
    );
    let uuid = mapping.uuid().unwrap();
    let got = lambda
        .get_event_source_mapping()
        .uuid(uuid)
        .send()
        .await
        .unwrap();
    assert_eq!(got.event_source_arn(), mapping.event_source_arn());
    let none = lambda
        .list_event_source_mappings()
        .function_name("up-starter")
        .send()
        .await
        .unwrap();
    assert!(none.event_source_mappings().is_empty(), "{none:?}");

    let not_json = lambda
        .invoke()
        .function_name("up-worker")
        .payload(Blob::new("not json"))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(
        not_json.is_invalid_request_content_exception(),
        "{not_json:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_functions_logs_are_read_through_cloudwatch_logs() {
    use aws_sdk_lambda::primitives::Blob;
    let running = Running::start();
    let marker = format!("marker-{}", std::process::id());
    let invoked = local_client!(aws_sdk_lambda, &running.endpoint)
        .invoke()
        .function_name("up-worker")
        .payload(Blob::new(format!(r#"{{"print":"{marker}"}}"#)))
        .send()
        .await
        .unwrap();
    assert_eq!(invoked.function_error(), None);
    let logs = local_client!(aws_sdk_cloudwatchlogs, &running.endpoint);
    let group = "/aws/lambda/up-worker";

    let groups = logs.describe_log_groups().send().await.unwrap();
    let names: Vec<&str> = groups
        .log_groups()
        .iter()
        .filter_map(|g| g.log_group_name())
        .collect();
    assert!(names.contains(&group), "{names:?}");

    // The marker is in exactly one event, in the stream of the instance that ran.
    let found = logs
        .filter_log_events()
        .log_group_name(group)
        .filter_pattern(&marker)
        .send()
        .await
        .unwrap();
    let [event] = found.events() else {
        panic!("not one event: {:?}", found.events());
    };
    assert_eq!(event.message(), Some(marker.as_str()));
    let stream = event.log_stream_name().unwrap();
    assert!(stream.contains("/[$LATEST]"), "{stream}");
    let streams = logs
        .describe_log_streams()
        .log_group_name(group)
        .send()
        .await
        .unwrap();
    assert!(
        streams
            .log_streams()
            .iter()
            .any(|s| s.log_stream_name() == Some(stream)),
        "{streams:?}"
    );

    // The stream from its head: the invocation's lines in order; then the token stays put.
    let read = logs
        .get_log_events()
        .log_group_name(group)
        .log_stream_name(stream)
        .start_from_head(true)
        .send()
        .await
        .unwrap();
    let messages: Vec<&str> = read.events().iter().filter_map(|e| e.message()).collect();
    // The instance may have run the worker's own message before: look around the marker.
    let at = messages
        .iter()
        .position(|m| *m == marker)
        .unwrap_or_else(|| panic!("no marker in {messages:?}"));
    let around = &messages[at.saturating_sub(1)..messages.len().min(at + 3)];
    assert!(
        around.len() == 4
            && around[0].starts_with("START RequestId: ")
            && around[2].starts_with("END RequestId: ")
            && around[3].starts_with("REPORT RequestId: "),
        "{messages:?}"
    );
    let token = read.next_forward_token().unwrap();
    let again = logs
        .get_log_events()
        .log_group_name(group)
        .log_stream_name(stream)
        .next_token(token)
        .send()
        .await
        .unwrap();
    assert!(again.events().is_empty(), "{again:?}");
    assert_eq!(again.next_forward_token(), Some(token));
    // Without a token, the newest events; the backward token pages towards the oldest.
    let newest = logs
        .get_log_events()
        .log_group_name(group)
        .log_stream_name(stream)
        .limit(1)
        .send()
        .await
        .unwrap();
    let last = newest.events().first().and_then(|e| e.message()).unwrap();
    assert!(last.starts_with("REPORT RequestId: "), "{newest:?}");
    let before = logs
        .get_log_events()
        .log_group_name(group)
        .log_stream_name(stream)
        .limit(1)
        .next_token(newest.next_backward_token().unwrap())
        .send()
        .await
        .unwrap();
    let end = before.events().first().and_then(|e| e.message()).unwrap();
    assert!(end.starts_with("END RequestId: "), "{before:?}");

    let missing = logs
        .describe_log_streams()
        .log_group_name("/aws/lambda/up-nope")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(missing.is_resource_not_found_exception(), "{missing:?}");
}
