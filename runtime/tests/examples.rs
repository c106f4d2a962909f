//! The example functions as real processes against the loopback Runtime API server: the
//! `#[handler]`-generated `main`, init errors, process exit codes and JSON logs.

mod support;

use serde_json::{json, Value};
use support::{run_example, Invocation, RuntimeApiServer};

#[tokio::test]
async fn hello_answers_and_exits_1_on_container_error() {
    let server = RuntimeApiServer::start(vec![
        Invocation::json("id-1", json!({"name": "Ada"})),
        Invocation::json("id-2", json!({})),
        Invocation::json("id-3", json!({"name": 5})),
    ])
    .await;
    let done = run_example("hello", &server.api(), &[]).await;
    assert_eq!(done.code, Some(1), "stderr: {}", done.stderr);
    assert!(done.stderr.contains("500"), "{}", done.stderr);
    let records = server.records();
    assert_eq!(records[1].json(), json!({"message": "Hello, Ada!"}));
    assert_eq!(records[3].json(), json!({"message": "Hello, world!"}));
    assert_eq!(records[5].path, server.path("invocation/id-3/error"));
    assert_eq!(records[5].json()["errorType"], "Runtime.UnmarshalError");
    assert!(records[5].json()["errorMessage"]
        .as_str()
        .unwrap()
        .contains("`name`"));
    assert_eq!(server.connections(), 1);
}

#[tokio::test]
async fn malformed_environment_is_posted_to_init_error() {
    let server = RuntimeApiServer::start(vec![Invocation::json("id-1", json!({}))]).await;
    let done = run_example(
        "hello",
        &server.api(),
        &[("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "lots")],
    )
    .await;
    assert_eq!(done.code, Some(1));
    let records = server.records();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].path, server.path("init/error"));
    let doc = records[0].json();
    assert_eq!(doc["errorType"], "Runtime.InvalidEnvironment");
    assert!(doc["errorMessage"]
        .as_str()
        .unwrap()
        .contains("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"));
}

#[tokio::test]
async fn missing_runtime_api_exits_with_a_clear_message() {
    let done = run_example("hello", "", &[]).await;
    // `AWS_LAMBDA_RUNTIME_API` set but empty is invalid; unset is tested below.
    assert_eq!(done.code, Some(1));
    assert!(
        done.stderr.contains("AWS_LAMBDA_RUNTIME_API"),
        "{}",
        done.stderr
    );

    let bin = support::example_bin("hello");
    let output = tokio::process::Command::new(bin)
        .env_clear()
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("AWS_LAMBDA_RUNTIME_API is not set"),
        "{stderr}"
    );
}

#[tokio::test]
async fn unreachable_runtime_api_exits_with_a_clear_message() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let done = run_example("hello", &format!("127.0.0.1:{port}"), &[]).await;
    assert_eq!(done.code, Some(1));
    assert!(
        done.stderr.contains("cannot reach the Runtime API"),
        "{}",
        done.stderr
    );
}

#[tokio::test]
async fn init_state_reuses_state_and_reports_init_failure() {
    let server = RuntimeApiServer::start(vec![
        Invocation::json("id-1", json!({})),
        Invocation::json("id-2", json!({})),
        Invocation::json("id-3", json!({})),
    ])
    .await;
    let done = run_example("init-state", &server.api(), &[]).await;
    assert_eq!(done.code, Some(1));
    let answers: Vec<Value> = server
        .records()
        .iter()
        .filter(|r| r.path.ends_with("/response"))
        .map(|r| r.json())
        .collect();
    assert_eq!(
        answers
            .iter()
            .map(|a| a["invocations"].clone())
            .collect::<Vec<_>>(),
        vec![json!(1), json!(2), json!(3)]
    );
    assert_eq!(answers[0]["initId"], answers[2]["initId"]);

    let server = RuntimeApiServer::start(vec![Invocation::json("id-1", json!({}))]).await;
    let done = run_example("init-state", &server.api(), &[("INIT_FAIL", "1")]).await;
    assert_eq!(done.code, Some(1));
    let records = server.records();
    assert_eq!(records.len(), 1, "no /next after a failed init");
    assert_eq!(records[0].path, server.path("init/error"));
    assert_eq!(
        records[0].header("lambda-runtime-function-error-type"),
        Some("InitFailed")
    );
    assert_eq!(
        records[0].json(),
        json!({"errorType": "InitFailed", "errorMessage": "initialization failed on purpose (INIT_FAIL=1)"})
    );
}

#[tokio::test]
async fn sqs_batch_reports_partial_failures() {
    let event = json!({"Records": [
        {"messageId": "m-ok", "body": "{\"n\":1}", "eventSource": "aws:sqs"},
        {"messageId": "m-fail", "body": "{\"fail\":true}", "eventSource": "aws:sqs"},
        {"messageId": "m-bad", "body": "not json", "eventSource": "aws:sqs"},
    ]});
    let server = RuntimeApiServer::start(vec![
        Invocation::json("id-1", event),
        Invocation::json("id-2", json!({"Records": []})),
    ])
    .await;
    run_example("sqs-batch", &server.api(), &[]).await;
    let records = server.records();
    assert_eq!(
        records[1].json(),
        json!({"batchItemFailures": [{"itemIdentifier": "m-fail"}, {"itemIdentifier": "m-bad"}]})
    );
    assert_eq!(records[3].json(), json!({"batchItemFailures": []}));
}

#[tokio::test]
async fn errors_example_covers_every_kind() {
    let server = RuntimeApiServer::start(vec![
        Invocation::json("ok", json!({"kind": "ok"})),
        Invocation::json("typed", json!({"kind": "typed", "order_id": "42"})),
        Invocation::json("panic", json!({"kind": "panic"})),
        Invocation::json("slow", json!({"kind": "slow", "ms": 5})),
        Invocation::json("unknown", json!({"kind": "dance"})),
        Invocation::json("exit", json!({"kind": "exit", "code": 7})),
        Invocation::json("never", json!({"kind": "ok"})),
    ])
    .await;
    let done = run_example("errors", &server.api(), &[]).await;
    assert_eq!(
        done.code,
        Some(7),
        "the exit kind ends the process with its code"
    );
    let posts: Vec<(String, Value)> = server
        .records()
        .iter()
        .filter(|r| r.method == "POST")
        .map(|r| (r.path.clone(), r.json()))
        .collect();
    assert_eq!(posts.len(), 5, "no post for the exit kind: {posts:?}");
    assert_eq!(
        posts[0],
        (server.path("invocation/ok/response"), json!({"ok": true}))
    );
    assert_eq!(
        posts[1],
        (
            server.path("invocation/typed/error"),
            json!({"errorType": "OrderNotFound", "errorMessage": "order 42 not found"})
        )
    );
    assert_eq!(
        posts[2],
        (
            server.path("invocation/panic/error"),
            json!({"errorType": "Panic", "errorMessage": "panic requested by the event"})
        )
    );
    assert_eq!(
        posts[3],
        (
            server.path("invocation/slow/response"),
            json!({"slept_ms": 5})
        )
    );
    assert_eq!(posts[4].0, server.path("invocation/unknown/error"));
    assert_eq!(posts[4].1["errorType"], "Runtime.UnmarshalError");
}

#[tokio::test]
async fn json_logs_carry_the_request_id() {
    let server = RuntimeApiServer::start(vec![Invocation::json(
        "req-json-1",
        json!({"kind": "typed"}),
    )])
    .await;
    let done = run_example(
        "errors",
        &server.api(),
        &[("AWS_LAMBDA_LOG_FORMAT", "JSON")],
    )
    .await;
    let records: Vec<Value> = done
        .stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
        .collect();
    let error = records
        .iter()
        .find(|r| r["requestId"] == "req-json-1")
        .unwrap_or_else(|| panic!("no record with the request id in {}", done.stdout));
    assert_eq!(error["level"], "ERROR");
    assert_eq!(error["message"], "order unknown not found");
    assert_eq!(error["errorType"], "OrderNotFound");
    assert!(error["timestamp"].as_str().unwrap().contains('T'));
}

#[tokio::test]
async fn log_level_filters_records() {
    let server =
        RuntimeApiServer::start(vec![Invocation::json("r", json!({"kind": "typed"}))]).await;
    let done = run_example(
        "errors",
        &server.api(),
        &[
            ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
            ("AWS_LAMBDA_LOG_LEVEL", "FATAL"),
        ],
    )
    .await;
    // FATAL keeps only ERROR records.
    assert!(
        done.stdout
            .lines()
            .all(|l| l.contains(r#""level":"ERROR""#)),
        "{}",
        done.stdout
    );
    let server = RuntimeApiServer::start(vec![Invocation::json("r", json!({"n": 1}))]).await;
    let done = run_example("tower", &server.api(), &[("AWS_LAMBDA_LOG_LEVEL", "ERROR")]).await;
    assert!(!done.stdout.contains("invocation done"), "{}", done.stdout);
}

#[tokio::test]
async fn tower_example_counts_invocations_through_its_layer() {
    let server = RuntimeApiServer::start(vec![
        Invocation::json("id-1", json!({"a": 1})),
        Invocation::json("id-2", json!("b")),
    ])
    .await;
    let done = run_example("tower", &server.api(), &[]).await;
    assert_eq!(done.code, Some(1));
    let records = server.records();
    assert_eq!(
        records[1].json(),
        json!({"echo": {"a": 1}, "invocation": 1})
    );
    assert_eq!(records[3].json(), json!({"echo": "b", "invocation": 2}));
    assert!(
        done.stdout.contains("invocation done") && done.stdout.contains("requestId=id-2"),
        "text logs carry the invocation span: {}",
        done.stdout
    );
}
