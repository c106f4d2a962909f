//! The Telemetry and Logs APIs against real processes: a stdlib-only Python extension
//! (`tests/runtimes/extension.py`) subscribes from inside the environment and writes down what
//! it receives. Covers TCP destinations (newline-delimited JSON over a kept connection, for
//! both APIs; bad destinations refused with the reason; a connection the extension closes
//! replaced by a new one) and the records of an Init that fails (`/init/error`, the runtime
//! exiting, the Init timeout): `platform.initRuntimeDone` and `platform.initReport` with the
//! status and error type, delivered before the extension hears of the Shutdown (or of the
//! reset before a timed-out Init is retried), and the SHUTDOWN's reason.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;
use firebox_emulator::{Emulator, FunctionConfig};
use serde_json::Value;

/// The test extension, under `name` in `dir` (a symlink: the file name is what it registers
/// as).
fn extension(dir: &TempDir, name: &str) -> PathBuf {
    let link = dir.path(name);
    std::os::unix::fs::symlink(runtime("extension.py"), &link).expect("symlink the extension");
    link
}

/// The test runtime (Init mode `init`) with the extension `name` in mode `mode`, writing what
/// it receives to `out` (TCP: `out.N` per connection). Never frozen, so that the extension
/// takes its records as they come.
fn subscribed(dir: &TempDir, init: &str, name: &str, mode: &str, out: &Path) -> FunctionConfig {
    function("f", init)
        .extension(extension(dir, name))
        .env(format!("EXT_MODE_{}", name.to_uppercase()), mode)
        .env("EXT_TELEMETRY_OUT", out.display().to_string())
        .freeze(false)
        .idle_timeout(Duration::from_secs(60))
}

/// The records in `path`, one JSON object per line (a last line still being written is left
/// out). Panics on a line that is not one JSON object: the framing is part of what is tested.
fn records(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let complete = &text[..text.rfind('\n').map_or(0, |i| i + 1)];
    complete
        .lines()
        .map(|line| {
            let record: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("not one JSON record per line ({e}): {line:?}"));
            assert!(record.is_object(), "not a record: {line}");
            record
        })
        .collect()
}

/// Waits (up to 60 s, a bound for broken runs only) until the records in `path` satisfy
/// `done`; returns them.
async fn wait_records(path: &Path, what: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let mut got = Vec::new();
    for _ in 0..6000 {
        got = records(path);
        if done(&got) {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{what}; records were: {got:#?}");
}

/// Whether `records` have one of type `kind` about request `id`.
fn has(records: &[Value], kind: &str, id: &str) -> bool {
    records
        .iter()
        .any(|r| r["type"] == kind && r["record"]["requestId"] == id)
}

/// How many of `records` are of type `kind`.
fn count(records: &[Value], kind: &str) -> usize {
    records.iter().filter(|r| r["type"] == kind).count()
}

/// Index of the first record satisfying `pred`.
fn index(records: &[Value], what: &str, pred: impl Fn(&Value) -> bool) -> usize {
    records
        .iter()
        .position(pred)
        .unwrap_or_else(|| panic!("no {what} in {records:#?}"))
}

/// Invokes and expects success; returns (request id, pid).
async fn ok(emu: &Emulator, event: &str) -> (String, i64) {
    let r = emu.invoke("f", event.to_owned()).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.function_error, None, "{}", r.text());
    let pid = r.json().unwrap()["pid"].as_i64().unwrap();
    (r.request_id.clone().unwrap(), pid)
}

/// Invokes `f` with `event` (it must succeed) and waits until the subscriber has its
/// `platform.report`; returns every record received by then.
async fn ok_and_reported(emu: &Emulator, event: &str, out: &Path) -> Vec<Value> {
    let (id, _) = ok(emu, event).await;
    wait_records(out, "the invocation's report", |r| {
        has(r, "platform.report", &id)
    })
    .await
}

/// Subscribes over TCP through `api` (`telemetry` or `logs`), invokes once with two output
/// lines, and returns the invocation's request id and the records of the first connection
/// once its `platform.report` is there.
async fn one_invocation_over_tcp(api: &str, schema: Option<&str>) -> (String, Vec<Value>) {
    let dir = TempDir::new(&format!("tcp-{api}"));
    let out = dir.path("records");
    let mut f = subscribed(&dir, "", "tcp", "telemetry_tcp", &out).env("EXT_TELEMETRY_API", api);
    if let Some(schema) = schema {
        f = f.env("EXT_TELEMETRY_SCHEMA", schema);
    }
    let emu = start(vec![f]).await;
    let (id, _) = ok(&emu, r#"{"print": 2}"#).await;
    wait_for_line(&emu, "f", |l| l == format!("[tcp] subscribed {api} 200")).await;
    let first = PathBuf::from(format!("{}.1", out.display()));
    let got = wait_records(&first, "the invocation's report over TCP", |r| {
        has(r, "platform.report", &id)
    })
    .await;
    // The stream is whole lines: the last record ends with its newline.
    let raw = std::fs::read(&first).unwrap();
    assert_eq!(raw.last(), Some(&b'\n'));
    // The invocation's records, in order: start, the function's two lines, report.
    let start = index(&got, "platform.start", |r| {
        r["type"] == "platform.start" && r["record"]["requestId"] == id.as_str()
    });
    let line = |text: &'static str| move |r: &Value| r["type"] == "function" && r["record"] == text;
    let line0 = index(&got, "line 0", line("line 0"));
    let line1 = index(&got, "line 1", line("line 1"));
    let report = index(&got, "platform.report", |r| {
        r["type"] == "platform.report" && r["record"]["requestId"] == id.as_str()
    });
    assert!(start < line0 && line0 < line1 && line1 < report, "{got:#?}");
    assert_eq!(got[report]["record"]["metrics"]["memorySizeMB"], 128);
    assert!(got
        .iter()
        .all(|r| r["time"].as_str().is_some_and(|t| t.ends_with('Z'))));
    (id, got)
}

#[tokio::test]
async fn a_tcp_subscriber_of_the_telemetry_api_gets_ndjson_records() {
    let (_, got) = one_invocation_over_tcp("telemetry", None).await;
    let kinds: Vec<&str> = got.iter().filter_map(|r| r["type"].as_str()).collect();
    for kind in [
        "platform.initStart",
        "platform.telemetrySubscription",
        "platform.initRuntimeDone",
        "platform.initReport",
        "platform.runtimeDone",
    ] {
        assert!(kinds.contains(&kind), "{kind} in {kinds:?}");
    }
    assert!(!kinds.contains(&"platform.logsSubscription"), "{kinds:?}");
}

#[tokio::test]
async fn a_tcp_subscriber_of_the_logs_api_gets_ndjson_records_of_its_types() {
    let (id, got) = one_invocation_over_tcp("logs", None).await;
    let kinds: Vec<&str> = got.iter().filter_map(|r| r["type"].as_str()).collect();
    assert!(kinds.contains(&"platform.logsSubscription"), "{kinds:?}");
    assert!(has(&got, "platform.end", &id), "{kinds:?}");
    // Records the Logs API does not have are not sent to it.
    for kind in ["platform.initStart", "platform.telemetrySubscription"] {
        assert!(!kinds.contains(&kind), "{kind} in {kinds:?}");
    }
    // The Logs API's own record shapes: no spans, tracing or error types.
    let record = |kind: &str| {
        got.iter()
            .find(|r| r["type"] == kind && r["record"]["requestId"] == id.as_str())
            .map(|r| r["record"].clone())
            .unwrap_or_else(|| panic!("no {kind} in {got:#?}"))
    };
    let keys = |v: &Value| {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(keys(&record("platform.start")), ["requestId"]);
    assert_eq!(keys(&record("platform.end")), ["requestId"]);
    assert_eq!(keys(&record("platform.report")), ["metrics", "requestId"]);
    // `2021-03-18` (the extension's) has `platform.runtimeDone`, in its own shape.
    assert_eq!(
        record("platform.runtimeDone"),
        serde_json::json!({"requestId": id, "status": "success"})
    );
}

#[tokio::test]
async fn the_logs_api_of_schema_2020_08_15_has_no_runtime_done() {
    let (id, got) = one_invocation_over_tcp("logs", Some("2020-08-15")).await;
    let kinds: Vec<&str> = got.iter().filter_map(|r| r["type"].as_str()).collect();
    assert!(has(&got, "platform.end", &id), "{kinds:?}");
    assert!(!kinds.contains(&"platform.runtimeDone"), "{kinds:?}");
}

#[tokio::test]
async fn bad_tcp_destinations_are_refused_with_the_reason() {
    let dir = TempDir::new("tcp-bad");
    let out = dir.path("records");
    let f = subscribed(&dir, "", "tcp", "telemetry_tcp", &out);
    let emu = start(vec![f]).await;
    ok(&emu, "{}").await;
    for (case, says) in [
        (
            "tcp_no_port",
            "tcp://sandbox.localdomain has no port: a TCP destination is tcp://HOST:PORT",
        ),
        ("tcp_http_uri", " must start with tcp:// for protocol TCP"),
        (
            "tcp_path",
            "/logs has a path: a TCP destination is tcp://HOST:PORT only",
        ),
        ("http_tcp_uri", " must start with http:// for protocol HTTP"),
        ("udp", "is not supported: use HTTP or TCP"),
        (
            "tcp_big_port",
            "tcp://sandbox.localdomain:99999: port 99999 is not a port number (1 to 65535)",
        ),
        (
            "http_big_port",
            "http://sandbox.localdomain:99999/: port 99999 is not a port number (1 to 65535)",
        ),
    ] {
        let line = wait_for_line(&emu, "f", |l| l.starts_with(&format!("PROBE {case} "))).await;
        let prefix = format!("PROBE {case} 400 ValidationError destination.");
        assert!(
            line.starts_with(&prefix) && line.contains(says),
            "{line} (wanted {prefix}...{says})"
        );
    }
    // The refusals subscribed nothing: one subscription, the good one.
    let got = wait_records(&dir.path("records.1"), "a subscription record", |r| {
        r.iter()
            .any(|r| r["type"] == "platform.telemetrySubscription")
    })
    .await;
    assert_eq!(count(&got, "platform.telemetrySubscription"), 1, "{got:#?}");
}

/// All the records received on connections `records.1`, `records.2`, ... of `out`.
fn all_connections(out: &Path) -> Vec<Value> {
    (1..)
        .map(|n| PathBuf::from(format!("{}.{n}", out.display())))
        .take_while(|p| p.exists())
        .flat_map(|p| records(&p))
        .collect()
}

#[tokio::test]
async fn a_repeated_subscription_replaces_the_first_and_the_other_api_is_refused() {
    for api in ["telemetry", "logs"] {
        let dir = TempDir::new(&format!("resubscribe-{api}"));
        let out = dir.path("records");
        let f = subscribed(&dir, "", "tcp", "telemetry_tcp", &out)
            .env("EXT_TELEMETRY_API", api)
            .env("EXT_TCP_RESUBSCRIBE", "1");
        let emu = start(vec![f]).await;
        let (id, _) = ok(&emu, r#"{"print": 1}"#).await;
        wait_for_line(&emu, "f", |l| {
            l == format!("[tcp] subscribed again {api} 200")
        })
        .await;
        let first = if api == "telemetry" {
            "Telemetry"
        } else {
            "Logs"
        };
        let line = wait_for_line(&emu, "f", |l| l.starts_with("PROBE other_api ")).await;
        assert!(
            line.starts_with("PROBE other_api 400 ValidationError ")
                && line.contains(&format!("already subscribed through the {first} API")),
            "{line}"
        );
        // Every record once, over whichever connection: none twice.
        let mut got = Vec::new();
        for _ in 0..6000 {
            got = all_connections(&out);
            if has(&got, "platform.report", &id) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(has(&got, "platform.report", &id), "{got:#?}");
        let line0 = got
            .iter()
            .filter(|r| r["type"] == "function" && r["record"] == "line 0")
            .count();
        assert_eq!(line0, 1, "{got:#?}");
        assert_eq!(count(&got, "platform.report"), 1, "{got:#?}");
        if api == "telemetry" {
            assert_eq!(count(&got, "platform.initStart"), 1, "{got:#?}");
        }
    }
}

#[tokio::test]
async fn a_tcp_destination_that_closes_its_connection_gets_later_records_on_a_new_one() {
    let dir = TempDir::new("tcp-reconnect");
    let out = dir.path("records");
    let f = subscribed(&dir, "", "tcp", "telemetry_tcp", &out)
        .env("EXT_TCP_CLOSE_AFTER", "platform.report");
    let emu = start(vec![f]).await;
    let (first_id, pid) = ok(&emu, "{}").await;
    // The extension read the first report and closed the connection.
    wait_for_line(&emu, "f", |l| l == "[tcp] closed connection 1").await;
    wait_metric(&emu, "firebox_concurrent_executions{function=\"f\"}", 0.0).await;
    let (second_id, again) = ok(&emu, "{}").await;
    assert_eq!(pid, again, "the same environment and subscription");
    let second = wait_records(
        &dir.path("records.2"),
        "the second invocation on a second connection",
        |r| has(r, "platform.report", &second_id),
    )
    .await;
    assert!(has(&second, "platform.start", &second_id), "{second:#?}");
    let first = records(&dir.path("records.1"));
    assert!(has(&first, "platform.report", &first_id), "{first:#?}");
    assert!(!has(&first, "platform.start", &second_id), "{first:#?}");
    assert!(!dir.path("records.3").exists(), "one reconnection only");
}

/// A function whose Init fails in `mode`, with an extension subscribed (HTTP) to every record
/// type; the runtime waits for the subscription before failing. The buffering timeout is
/// Lambda's longest (30 s), so that only the flush of the ending environment delivers the
/// failed Init's records in time. Returns the function and the file of the records.
fn failing_init(dir: &TempDir, mode: &str) -> (FunctionConfig, PathBuf) {
    let out = dir.path("records.jsonl");
    let flag = dir.path("subscribed").display().to_string();
    let f = subscribed(dir, mode, "telemetry", "telemetry", &out)
        .env("EXT_SUBSCRIBED", flag.clone())
        .env("INIT_WAIT_FOR", flag)
        .env("EXT_TELEMETRY_TIMEOUT_MS", "30000");
    (f, out)
}

/// Invokes, expects the Init failure `error_type`, and returns the records once the
/// extensions got `shutdowns` SHUTDOWN events (`SHUTDOWN received` is the extension's own mark
/// in the file).
async fn failed_init_records(
    emu: &Emulator,
    out: &Path,
    error_type: &str,
    shutdowns: usize,
) -> Vec<Value> {
    let r = emu.invoke("f", "{}".to_owned()).await.unwrap();
    assert_eq!(
        r.function_error.as_deref(),
        Some("Unhandled"),
        "{}",
        r.text()
    );
    assert_eq!(r.json().unwrap()["errorType"], error_type);
    wait_records(out, "the extensions' SHUTDOWN", |r| {
        r.iter()
            .filter(|r| r["type"] == "SHUTDOWN received")
            .count()
            >= shutdowns
    })
    .await
}

/// The Init records, the extension's SHUTDOWN marks among them, as (type, phase, status,
/// errorType); the status of a SHUTDOWN mark is the event's `shutdownReason`.
fn init_records(got: &[Value]) -> Vec<(String, String, String, Option<String>)> {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    got.iter()
        .filter(|r| {
            r["type"]
                .as_str()
                .is_some_and(|t| t.starts_with("platform.init") || t == "SHUTDOWN received")
        })
        .map(|r| {
            let record = &r["record"];
            (
                text(&r["type"]),
                text(&record["phase"]),
                text(&record["status"]).max(text(&record["shutdownReason"])),
                record["errorType"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

/// `(type, phase, status, errorType)` of one expected record.
fn init(
    kind: &str,
    phase: &str,
    status: &str,
    error_type: Option<&str>,
) -> (String, String, String, Option<String>) {
    (
        kind.to_owned(),
        phase.to_owned(),
        status.to_owned(),
        error_type.map(str::to_owned),
    )
}

/// The records of an Init that ended with `status` (and `error_type`) and of its retry inside
/// the invoke (phase `invoke`), which ended the same way: each Init's records reached the
/// extension started with it before the reset told that extension to stop (SHUTDOWN with
/// `reason`).
fn failed_twice(
    status: &str,
    error_type: Option<&str>,
    reason: &str,
) -> Vec<(String, String, String, Option<String>)> {
    ["init", "invoke"]
        .into_iter()
        .flat_map(|phase| {
            [
                init("platform.initStart", phase, "", None),
                init("platform.initRuntimeDone", phase, status, error_type),
                init("platform.initReport", phase, status, error_type),
                init("SHUTDOWN received", "", reason, None),
            ]
        })
        .collect()
}

#[tokio::test]
async fn an_init_error_sends_init_runtime_done_and_init_report_before_the_shutdown() {
    let dir = TempDir::new("tele-init-error");
    let (f, out) = failing_init(&dir, "init_error");
    let emu = start(vec![f]).await;
    let got = failed_init_records(&emu, &out, "MyInitError", 2).await;
    assert_eq!(
        init_records(&got),
        // The platform's type for the runtime's `MyInitError`.
        failed_twice("error", Some("Runtime.Unknown"), "failure"),
        "{got:#?}"
    );
    let report = &got[index(&got, "platform.initReport", |r| {
        r["type"] == "platform.initReport"
    })]["record"];
    assert_eq!(report["initializationType"], "on-demand");
    assert!(report["metrics"]["durationMs"].as_f64().unwrap() > 0.0);
}

#[tokio::test]
async fn a_runtime_exiting_in_init_sends_its_records_with_runtime_exit_error() {
    let dir = TempDir::new("tele-init-exit");
    let (f, out) = failing_init(&dir, "exit_now");
    let emu = start(vec![f]).await;
    let got = failed_init_records(&emu, &out, "Runtime.ExitError", 2).await;
    assert_eq!(
        init_records(&got),
        failed_twice("error", Some("Runtime.ExitError"), "failure"),
        "{got:#?}"
    );
}

#[tokio::test]
async fn an_init_timeout_sends_timeout_records_for_both_inits() {
    let dir = TempDir::new("tele-init-timeout");
    let (f, out) = failing_init(&dir, "never_next");
    let f = f
        .init_timeout(Duration::from_secs(3))
        .timeout(Duration::from_secs(3));
    let emu = start(vec![f]).await;
    let got = failed_init_records(&emu, &out, "Sandbox.Timedout", 2).await;
    assert_eq!(
        init_records(&got),
        failed_twice("timeout", None, "timeout"),
        "{got:#?}"
    );
}

#[tokio::test]
async fn a_subscriber_that_falls_behind_loses_records_and_is_told_how_many() {
    let dir = TempDir::new("tele-overflow");
    let out = dir.path("records.jsonl");
    let hold = dir.path("hold");
    let f = subscribed(&dir, "", "telemetry", "telemetry", &out)
        .env("EXT_TELEMETRY_HOLD", hold.display().to_string())
        .env("EXT_TELEMETRY_TYPES", "platform,function");
    let emu = start(vec![f]).await;
    ok_and_reported(&emu, "{}", &out).await;
    // From now on the extension takes no batch: the one sent next is held, the buffer behind
    // it fills (maxItems 1,000), and the rest of 5,000 lines cannot be kept.
    std::fs::write(&hold, "").unwrap();
    let (second, _) = ok(&emu, r#"{"print": 5000}"#).await;
    wait_for_line(&emu, "f", |l| l == "line 4999").await;
    wait_metric(&emu, "firebox_concurrent_executions{function=\"f\"}", 0.0).await;
    std::fs::remove_file(&hold).unwrap();

    // Every record of the invocation (its start, 5,000 lines, its end and its report) was
    // delivered or counted as dropped, exactly once.
    let dropped = |r: &[Value]| -> u64 {
        r.iter()
            .filter(|r| r["type"] == "platform.logsDropped")
            .map(|r| r["record"]["droppedRecords"].as_u64().unwrap())
            .sum()
    };
    let delivered = |r: &[Value]| -> u64 {
        let lines = r.iter().filter(|r| r["type"] == "function").count();
        let platform = ["platform.start", "platform.runtimeDone", "platform.report"]
            .iter()
            .filter(|kind| has(r, kind, &second))
            .count();
        (lines + platform) as u64
    };
    let got = wait_records(&out, "every record delivered or counted", |r| {
        dropped(r) > 0 && delivered(r) + dropped(r) == 5003
    })
    .await;
    assert!(
        dropped(&got) >= 3000,
        "at most a batch and a buffer (1,000 records each) were kept: {} dropped",
        dropped(&got)
    );
    let announcement = &got[index(&got, "platform.logsDropped", |r| {
        r["type"] == "platform.logsDropped"
    })];
    assert!(
        announcement["record"]["reason"]
            .as_str()
            .is_some_and(|reason| reason.contains("buffering.maxItems")),
        "{announcement}"
    );
    assert!(announcement["record"]["droppedBytes"].as_u64().unwrap() > 0);

    // Once the extension keeps up again, nothing more is lost or announced.
    let got = ok_and_reported(&emu, r#"{"print": 2}"#, &out).await;
    assert_eq!(count(&got, "platform.logsDropped"), 1, "one announcement");
}

#[tokio::test]
async fn records_a_destination_refused_are_announced_with_its_status() {
    let dir = TempDir::new("tele-refused");
    let out = dir.path("records.jsonl");
    let refuse = dir.path("refuse");
    let refused = dir.path("records.jsonl.refused");
    let f = subscribed(&dir, "", "telemetry", "telemetry", &out)
        .env("EXT_TELEMETRY_REFUSE", refuse.display().to_string())
        .env("EXT_TELEMETRY_TYPES", "platform,function");
    let emu = start(vec![f]).await;
    ok_and_reported(&emu, "{}", &out).await;
    // The destination answers 500 to what comes next: those records are lost, and said to be.
    std::fs::write(&refuse, "").unwrap();
    ok(&emu, r#"{"print": 3}"#).await;
    for _ in 0..6000 {
        if refused.exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(refused.exists(), "no batch was refused");
    std::fs::remove_file(&refuse).unwrap();
    let got = ok_and_reported(&emu, "{}", &out).await;
    let announcement = &got[index(&got, "platform.logsDropped", |r| {
        r["type"] == "platform.logsDropped"
    })]["record"];
    let reason = announcement["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("answered HTTP 500"), "{announcement}");
    let lost: u64 = std::fs::read_to_string(&refused)
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix("refused ")?.parse::<u64>().ok())
        .sum();
    assert_eq!(
        announcement["droppedRecords"].as_u64(),
        Some(lost),
        "{announcement}"
    );
}

#[tokio::test]
async fn a_slow_subscriber_still_gets_its_shutdown_event_in_time_to_act_on_it() {
    let dir = TempDir::new("tele-slow-shutdown");
    let out = dir.path("records.jsonl");
    let hold = dir.path("hold");
    let f = subscribed(&dir, "", "telemetry", "telemetry", &out)
        .env("EXT_TELEMETRY_HOLD", hold.display().to_string());
    let emu = start(vec![f]).await;
    ok_and_reported(&emu, "{}", &out).await;
    // The subscriber takes no batch from now on: the next one is held when the emulator
    // stops, and the Shutdown phase's flush waits for it.
    std::fs::write(&hold, "").unwrap();
    ok(&emu, r#"{"print": 2}"#).await;
    emu.shutdown().await;
    let got = records(&out);
    std::fs::remove_file(&hold).unwrap();
    let shutdown = got
        .iter()
        .find(|r| r["type"] == "SHUTDOWN received")
        .unwrap_or_else(|| panic!("the extension never got SHUTDOWN: {got:#?}"));
    assert_eq!(shutdown["record"]["shutdownReason"], "spindown");
}
