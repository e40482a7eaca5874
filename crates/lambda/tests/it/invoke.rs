//! Synchronous invocation: echo, environment, errors, timeout, crash, throttling, logs.

use serde_json::{json, Value};

use crate::support::{eventually, function, Env};

async fn invoke(env: &Env, function: &str, event: Value) -> lambda::InvokeResult {
    env.lambda
        .invoke(function, event.to_string().as_bytes())
        .await
        .unwrap()
}

fn payload(r: &lambda::InvokeResult) -> Value {
    serde_json::from_slice(&r.payload).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_invoke_echoes_and_reuses_the_warm_instance() {
    let env = Env::new(vec![function("echo")]);
    let first = invoke(&env, "echo", json!({"hello": "world"})).await;
    assert_eq!(payload(&first), json!({"hello": "world"}));
    assert_eq!(first.function_error, None);
    assert!(
        first.init_duration_ms.is_some(),
        "the first invocation is a cold start"
    );
    let second = invoke(&env, "echo", json!([1, 2, 3])).await;
    assert_eq!(payload(&second), json!([1, 2, 3]));
    assert_eq!(
        second.init_duration_ms, None,
        "the second reuses the warm instance"
    );
    assert_ne!(first.request_id, second.request_id);
    let stats = env.stats("echo");
    assert_eq!(
        (stats.invocations, stats.errors, stats.warm_instances),
        (2, 0, 1)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_process_gets_the_documented_environment() {
    let mut spec = function("env-check");
    spec.memory_mb = 256;
    spec.environment = vec![
        ("TABLE".into(), "sales".into()),
        // A template may not override what the runtime sets.
        ("AWS_REGION".into(), "mars-1".into()),
    ];
    let env = Env::new(vec![spec]);
    let names = [
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "_HANDLER",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "TABLE",
    ];
    let r = invoke(&env, "env-check", json!({ "env": names })).await;
    assert_eq!(
        payload(&r)["env"],
        json!({
            "AWS_LAMBDA_FUNCTION_NAME": "env-check",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
            "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/env-check",
            "_HANDLER": "bootstrap",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "AKIDLOCALLAMBDA",
            "AWS_SECRET_ACCESS_KEY": "local",
            "TABLE": "sales",
        })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_function_error_is_reported_and_keeps_the_instance() {
    let env = Env::new(vec![function("fails")]);
    let r = invoke(&env, "fails", json!({"fail": "no such branch"})).await;
    let e = r.function_error.clone().unwrap();
    assert_eq!(
        (e.error_type.as_str(), e.error_message.as_str()),
        ("TestFailure", "no such branch")
    );
    assert_eq!(payload(&r)["errorMessage"], "no such branch");
    let stats = env.stats("fails");
    assert_eq!(
        (stats.invocations, stats.errors, stats.warm_instances),
        (1, 1, 1)
    );
    assert_eq!(env.metrics.sum("Errors", "fails"), 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_kills_the_instance_and_the_next_invocation_starts_a_new_one() {
    let mut spec = function("slow");
    spec.timeout_s = 1;
    let env = Env::new(vec![spec]);
    let r = invoke(&env, "slow", json!({"sleep_ms": 30_000})).await;
    let e = r.function_error.clone().unwrap();
    assert_eq!(e.error_type, "Sandbox.Timedout");
    assert_eq!(e.error_message, "Task timed out after 1.00 seconds");
    assert!(r.duration_ms <= 1000.0);
    assert_eq!(
        env.stats("slow").warm_instances,
        0,
        "the timed-out instance is gone"
    );
    let next = invoke(&env, "slow", json!({"ok": true})).await;
    assert_eq!(payload(&next), json!({"ok": true}));
    assert!(next.init_duration_ms.is_some(), "a new instance started");
    assert!(env
        .log("slow")
        .iter()
        .any(|l| l.ends_with("Task timed out after 1.00 seconds")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_instance_is_replaced() {
    let env = Env::new(vec![function("crashy")]);
    let r = invoke(&env, "crashy", json!({"print": "going down", "exit": 3})).await;
    let e = r.function_error.clone().unwrap();
    assert_eq!(e.error_type, "Runtime.ExitError");
    assert!(
        e.error_message
            .ends_with("Runtime exited with error: exit status 3"),
        "{}",
        e.error_message
    );
    assert!(r.log.contains(&"going down".to_string()), "{:?}", r.log);
    let next = invoke(&env, "crashy", json!({"after": "crash"})).await;
    assert_eq!(payload(&next), json!({"after": "crash"}));
    assert!(next.init_duration_ms.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_init_error_fails_the_invocation() {
    let mut spec = function("bad-init");
    spec.environment = vec![("TEST_FUNCTION_INIT_ERROR".into(), "missing config".into())];
    let env = Env::new(vec![spec]);
    let r = invoke(&env, "bad-init", json!({})).await;
    let e = r.function_error.unwrap();
    assert_eq!(e.error_type, "Runtime.InitError");
    assert!(
        e.error_message.contains("InitFailed: missing config"),
        "{}",
        e.error_message
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn invocations_beyond_reserved_concurrency_are_throttled() {
    let mut spec = function("narrow");
    spec.reserved_concurrency = Some(2);
    let env = Env::new(vec![spec]);
    let slow = |ms: u64| {
        let lambda = env.lambda.clone();
        tokio::spawn(async move {
            lambda
                .invoke("narrow", json!({"sleep_ms": ms}).to_string().as_bytes())
                .await
        })
    };
    let a = slow(1500);
    let b = slow(1500);
    eventually("two invocations running", || {
        env.stats("narrow").running == 2
    })
    .await;
    let third = env.lambda.invoke("narrow", b"{}").await;
    match third {
        Err(lambda::LambdaError::Throttled { limit, .. }) => assert_eq!(limit, 2),
        other => panic!("expected a throttle, got {other:?}"),
    }
    assert!(a.await.unwrap().is_ok());
    assert!(b.await.unwrap().is_ok());
    let stats = env.stats("narrow");
    assert_eq!(
        (stats.invocations, stats.throttles, stats.warm_instances),
        (2, 1, 2)
    );
    assert_eq!(env.metrics.sum("Throttles", "narrow"), 1.0);
    assert_eq!(env.metrics.sum("Invocations", "narrow"), 2.0);
    // With a slot free again, the function runs.
    assert!(env.lambda.invoke("narrow", b"{}").await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_lines_are_logged_per_invocation() {
    let env = Env::new(vec![function("chatty")]);
    let one = invoke(
        &env,
        "chatty",
        json!({"print": ["one a", "one b"], "stderr": "one err"}),
    )
    .await;
    let two = invoke(&env, "chatty", json!({"print": "two"})).await;
    let events = env.lambda.logs("chatty", 0).unwrap();
    let of = |id: &str| -> Vec<String> {
        events
            .iter()
            .filter(|e| e.request_id.as_deref() == Some(id))
            .map(|e| e.message.clone())
            .collect()
    };
    let first = of(&one.request_id);
    assert_eq!(
        first[0],
        format!("START RequestId: {} Version: $LATEST", one.request_id)
    );
    assert_eq!(&first[1..4], ["one a", "one b", "one err"]);
    assert_eq!(first[4], format!("END RequestId: {}", one.request_id));
    assert!(first[5].starts_with(&format!("REPORT RequestId: {}\tDuration: ", one.request_id)));
    assert!(first[5].contains("Init Duration: "));
    let second = of(&two.request_id);
    assert_eq!(
        second[1..3],
        [
            "two".to_string(),
            format!("END RequestId: {}", two.request_id)
        ]
    );
    assert!(!second[3].contains("Init Duration"));
    assert_eq!(one.log, first, "the result carries the same lines");
    // Every event of one instance shares its log stream.
    assert!(events.iter().all(|e| e.log_stream == events[0].log_stream));
    assert!(events[0].log_stream.starts_with("2026/01/01/[$LATEST]"));
    // Following: nothing after the last event until the next invocation.
    let last = events.last().unwrap().id;
    assert!(env
        .lambda
        .logs_after(Some("chatty"), last, 100)
        .unwrap()
        .is_empty());
    invoke(&env, "chatty", json!({"print": "three"})).await;
    let new = env.lambda.logs_after(Some("chatty"), last, 100).unwrap();
    assert_eq!(new[1].message, "three");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_functions_and_missing_bootstraps_are_errors() {
    let env = Env::new(vec![lambda::FunctionSpec::new("nothing", "/nonexistent")]);
    assert!(matches!(
        env.lambda.invoke("other", b"{}").await,
        Err(lambda::LambdaError::FunctionNotFound(_))
    ));
    assert!(matches!(
        env.lambda.invoke("nothing", b"{}").await,
        Err(lambda::LambdaError::Start { .. })
    ));
    assert_eq!(env.stats("nothing").running, 0, "the slot was given back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn next_carries_the_documented_headers() {
    let mut spec = function("ctx");
    spec.timeout_s = 7;
    let env = Env::new(vec![spec]);
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let r = invoke(&env, "ctx", json!({"context": true})).await;
    let ctx = payload(&r);
    assert_eq!(ctx["request_id"], r.request_id.as_str());
    assert_eq!(
        ctx["function_arn"],
        "arn:aws:lambda:us-east-1:000000000000:function:ctx"
    );
    assert!(ctx["trace_id"].as_str().unwrap().starts_with("Root=1-"));
    // The deadline is when the process will be killed: real time plus the timeout.
    let deadline: i64 = ctx["deadline_ms"].as_str().unwrap().parse().unwrap();
    assert!(
        (before + 7000..before + 9000).contains(&deadline),
        "{deadline} vs {before}"
    );
}
