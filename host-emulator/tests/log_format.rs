//! Lambda's log formats against real processes: under `JSON` the platform lines are JSON
//! records filtered by the system log level, the function's own lines are filtered by the
//! application log level, the runtime is told both, and `GetFunctionConfiguration` shows them.
//! `Text` (the default) is left as it always was.

mod common;

use std::time::Duration;

use common::*;
use firebox_emulator::{Emulator, InvokeOptions, LogLevel, LoggingConfig};
use serde_json::{json, Value};

fn json_logging(application: Option<LogLevel>, system: Option<LogLevel>) -> LoggingConfig {
    LoggingConfig {
        application_level: application,
        system_level: system,
        ..LoggingConfig::json()
    }
}

/// The function's log lines, each parsed when it is JSON (`Value::String` otherwise).
fn records(emu: &Emulator, function: &str) -> Vec<Value> {
    texts(emu, function)
        .into_iter()
        .map(|t| serde_json::from_str(&t).unwrap_or(Value::String(t)))
        .collect()
}

/// The `type` of each platform record, in order.
fn platform_types(records: &[Value]) -> Vec<String> {
    records
        .iter()
        .filter_map(|r| r["type"].as_str())
        .map(str::to_owned)
        .collect()
}

fn of_type<'a>(records: &'a [Value], kind: &str) -> Vec<&'a Value> {
    records.iter().filter(|r| r["type"] == kind).collect()
}

/// Four lines of the function's own: plain text, a DEBUG record, an ERROR record, and a DEBUG
/// record without a timestamp (which Lambda takes for INFO).
fn mixed_lines() -> Value {
    json!({"lines": [
        "plain text line",
        r#"{"timestamp":"2026-01-01T00:00:00.5Z","level":"debug","message":"a debug record"}"#,
        r#"{"timestamp":"2026-01-01T00:00:00Z","level":"ERROR","message":"an error record"}"#,
        r#"{"level":"DEBUG","message":"an untimed record"}"#,
    ]})
}

#[tokio::test]
async fn json_format_writes_platform_records_and_tells_the_runtime() {
    let emu = start(vec![function("j", "").logging(LoggingConfig::json())]).await;
    let tail = InvokeOptions {
        log_tail: true,
        ..Default::default()
    };
    let first = emu
        .invoke_with("j", mixed_lines().to_string(), &tail)
        .await
        .unwrap();
    assert_eq!(first.status, 200, "{}", first.text());
    let answer = first.json().unwrap();
    assert_eq!(answer["env"]["AWS_LAMBDA_LOG_FORMAT"], "JSON");
    assert_eq!(answer["env"]["AWS_LAMBDA_LOG_LEVEL"], "INFO");
    let id = first.request_id.clone().unwrap();

    let second = emu.invoke("j", "{}").await.unwrap();
    assert_eq!(second.status, 200);

    let log = records(&emu, "j");
    // INFO: Init's start, each invocation's start and report; `runtimeDone` (END) is DEBUG.
    assert_eq!(
        platform_types(&log),
        [
            "platform.initStart",
            "platform.start",
            "platform.report",
            "platform.start",
            "platform.report"
        ],
        "{log:#?}"
    );
    for record in log.iter().filter(|r| r.get("type").is_some()) {
        let time = record["time"].as_str().unwrap_or_default();
        assert!(time.len() == 24 && time.ends_with('Z'), "{record}");
    }
    let init = &of_type(&log, "platform.initStart")[0]["record"];
    assert_eq!(init["initializationType"], "on-demand");
    assert_eq!(init["phase"], "init");
    assert_eq!(init["functionVersion"], "$LATEST");
    assert_eq!(init["functionName"], "j");
    let start = &of_type(&log, "platform.start")[0]["record"];
    assert_eq!(start["requestId"], id.as_str());
    assert_eq!(start["version"], "$LATEST");
    let reports = of_type(&log, "platform.report");
    let cold = &reports[0]["record"];
    assert_eq!(cold["requestId"], id.as_str());
    assert_eq!(cold["status"], "success");
    assert_eq!(cold["metrics"]["memorySizeMB"], 128);
    assert!(
        cold["metrics"]["maxMemoryUsedMB"].as_u64().unwrap() > 0,
        "{cold}"
    );
    assert!(
        cold["metrics"]["initDurationMs"].as_f64().unwrap() > 0.0,
        "{cold}"
    );
    assert!(cold["metrics"]["billedDurationMs"].as_u64().unwrap() >= 1);
    assert!(
        reports[1]["record"]["metrics"]
            .get("initDurationMs")
            .is_none(),
        "a warm start has no Init: {}",
        reports[1]
    );

    // The function's own lines: plain text counts as INFO and stays as written; DEBUG is
    // below the default application level.
    let texts = texts(&emu, "j");
    assert!(texts.iter().any(|t| t == "plain text line"), "{texts:#?}");
    assert!(texts.iter().any(|t| t.contains("an error record")));
    assert!(!texts.iter().any(|t| t.contains("a debug record")));
    // "If you don't supply a valid timestamp, Lambda will assign the log the level INFO".
    assert!(texts.iter().any(|t| t.contains("an untimed record")));

    // The tail holds the same records as the log.
    let tail = first.log_tail.unwrap();
    let lines: Vec<&str> = tail.lines().collect();
    assert!(lines.contains(&"plain text line"), "{tail}");
    assert!(!tail.contains("a debug record"), "{tail}");
    let last: Value = serde_json::from_str(lines.last().unwrap()).unwrap();
    assert_eq!(last["type"], "platform.report", "{tail}");
    assert_eq!(last["record"]["requestId"], id.as_str());
}

#[tokio::test]
async fn levels_filter_both_the_platform_and_the_function() {
    let emu = start(vec![
        function("verbose", "").logging(json_logging(Some(LogLevel::Debug), Some(LogLevel::Debug))),
        function("quiet", "")
            .logging(json_logging(Some(LogLevel::Error), Some(LogLevel::Warn)))
            .timeout(Duration::from_secs(1)),
    ])
    .await;

    let r = emu
        .invoke("verbose", mixed_lines().to_string())
        .await
        .unwrap();
    assert_eq!(r.json().unwrap()["env"]["AWS_LAMBDA_LOG_LEVEL"], "DEBUG");
    let failed = emu
        .invoke(
            "verbose",
            json!({"error": {"type": "OrderRejected", "message": "no stock"}}).to_string(),
        )
        .await
        .unwrap();
    assert_eq!(failed.function_error.as_deref(), Some("Unhandled"));
    let log = records(&emu, "verbose");
    assert!(
        texts(&emu, "verbose")
            .iter()
            .any(|t| t.contains("a debug record")),
        "DEBUG application records are kept at DEBUG"
    );
    let done = of_type(&log, "platform.runtimeDone");
    assert_eq!(done.len(), 2, "runtimeDone is DEBUG: {log:#?}");
    assert_eq!(done[0]["record"]["status"], "success");
    assert!(done[0]["record"]["metrics"]["durationMs"]
        .as_f64()
        .is_some());
    assert_eq!(done[1]["record"]["status"], "error");
    // The platform's type for an error the runtime named `OrderRejected`.
    assert_eq!(done[1]["record"]["errorType"], "Runtime.Unknown");
    let reports = of_type(&log, "platform.report");
    assert_eq!(reports[1]["record"]["status"], "error");
    assert_eq!(reports[1]["record"]["errorType"], "Runtime.Unknown");

    // WARN keeps only faults of the platform; ERROR drops plain lines and DEBUG records.
    let r = emu
        .invoke("quiet", mixed_lines().to_string())
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    let timed_out = emu.invoke("quiet", r#"{"sleep": 3}"#).await.unwrap();
    assert_eq!(timed_out.function_error.as_deref(), Some("Unhandled"));
    let log = records(&emu, "quiet");
    let types = platform_types(&log);
    assert!(
        types.iter().all(|t| t == "platform.fault"),
        "only WARN records at WARN: {log:#?}"
    );
    let faults = of_type(&log, "platform.fault");
    assert!(
        faults.iter().any(|f| f["record"]
            .as_str()
            .is_some_and(|t| t.contains("Task timed out after 1.00 seconds"))),
        "{log:#?}"
    );
    let texts = texts(&emu, "quiet");
    assert!(
        texts.iter().any(|t| t.contains("an error record")),
        "{texts:#?}"
    );
    assert!(!texts.iter().any(|t| t == "plain text line"), "{texts:#?}");
    assert!(!texts.iter().any(|t| t.contains("a debug record")));
}

#[tokio::test]
async fn a_failed_init_is_reported_as_records() {
    let emu = start(vec![
        function("broken", "init_error").logging(LoggingConfig::json())
    ])
    .await;
    let r = emu.invoke("broken", "{}").await.unwrap();
    assert_eq!(r.function_error.as_deref(), Some("Unhandled"));
    let log = records(&emu, "broken");
    // The first Init, then its retry inside the invoke.
    let report = of_type(&log, "platform.initReport");
    assert_eq!(report.len(), 2, "{log:#?}");
    for (record, phase) in report.iter().map(|r| &r["record"]).zip(["init", "invoke"]) {
        assert_eq!(record["phase"], phase);
        assert_eq!(record["status"], "error");
        // `MyInitError` is not of the `Runtime.Xyz` form: the platform says `Runtime.Unknown`.
        assert_eq!(record["errorType"], "Runtime.Unknown", "{record}");
        assert!(
            record["metrics"]["durationMs"].as_f64().is_some(),
            "{record}"
        );
    }
    let report = of_type(&log, "platform.report");
    assert_eq!(report.len(), 1, "{log:#?}");
    assert_eq!(report[0]["record"]["errorType"], "Runtime.Unknown");
}

#[tokio::test]
async fn text_format_is_left_as_it_was() {
    let emu = start(vec![function("t", "")]).await;
    let r = emu.invoke("t", mixed_lines().to_string()).await.unwrap();
    let env = &r.json().unwrap()["env"];
    assert!(env.get("AWS_LAMBDA_LOG_FORMAT").is_none(), "{env}");
    assert!(env.get("AWS_LAMBDA_LOG_LEVEL").is_none(), "{env}");
    let texts = texts(&emu, "t");
    assert!(
        texts.iter().any(|t| t.contains("a debug record")),
        "no filter in Text"
    );
    assert!(texts.iter().any(|t| t.starts_with("START RequestId: ")));
    assert!(texts.iter().any(|t| t.starts_with("END RequestId: ")));
    assert!(texts.iter().any(|t| t.starts_with("REPORT RequestId: ")));
}

#[tokio::test]
async fn the_configuration_shows_the_logging_config() {
    let emu = start(vec![
        function("j", "").logging(json_logging(Some(LogLevel::Trace), None)),
        function("t", ""),
    ])
    .await;
    let get = |name: &'static str| {
        let endpoint = emu.endpoint().to_owned();
        async move {
            send(
                &endpoint,
                "GET",
                &format!("/2015-03-31/functions/{name}/configuration"),
                &[],
                "",
            )
            .await
            .json()
        }
    };
    let j = get("j").await;
    assert_eq!(
        j["LoggingConfig"],
        json!({
            "LogFormat": "JSON",
            "ApplicationLogLevel": "TRACE",
            "SystemLogLevel": "INFO",
            "LogGroup": "/aws/lambda/j",
        })
    );
    let t = get("t").await;
    assert_eq!(
        t["LoggingConfig"],
        json!({"LogFormat": "Text", "LogGroup": "/aws/lambda/t"})
    );
}
