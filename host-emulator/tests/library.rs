//! The library API tests use, on real functions over real HTTP: streaming invokes read chunk by
//! chunk, function URL addresses, waits for log lines and parsed `REPORT`s, the log echo that
//! libtest shows for a failed test, and the messages for functions defined in code.

mod common;
mod streaming_support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use firebox_emulator::url::UrlConfig;
use firebox_emulator::{
    ClientError, Config, ConfigError, ControlError, Emulator, FunctionConfig, InvocationType,
    InvokeOptions, LogSource, LogWaitError, LoggingConfig, StartError,
};
use serde_json::json;
use streaming_support::*;

/// Far longer than any wait here needs: a bound for broken runs only.
const PATIENCE: Duration = Duration::from_secs(30);

fn tail() -> InvokeOptions {
    InvokeOptions {
        log_tail: true,
        ..InvokeOptions::default()
    }
}

#[tokio::test]
async fn invoke_stream_hands_each_chunk_over_as_it_arrives() {
    let emu = start(vec![stream_fn("s", "events")]).await;
    let flag = flag_path("library-stream");
    let event = json!({"chunks": ["early", "late"], "wait_file": flag.display().to_string()});
    let mut stream = emu
        .invoke_stream("s", event.to_string(), &tail())
        .await
        .expect("invoke");
    assert_eq!(stream.status, 200);
    assert_eq!(stream.executed_version.as_deref(), Some("$LATEST"));
    let id = stream.request_id.clone().expect("a request id");
    // The runtime waits for the flag after its first chunk: the chunk is handed over while the
    // function still runs.
    let first = stream.next_chunk().await.expect("read").expect("a chunk");
    assert_eq!(&first.bytes[..], b"early");
    assert!(stream.complete().is_none());
    let released = Instant::now();
    std::fs::write(&flag, b"go").unwrap();
    let second = stream.next_chunk().await.expect("read").expect("a chunk");
    assert_eq!(&second.bytes[..], b"late");
    assert!(
        first.arrived < released && second.arrived > released,
        "each chunk has its own arrival time"
    );
    assert_eq!(stream.next_chunk().await.expect("read"), None);
    assert_eq!(
        stream.next_chunk().await.expect("read"),
        None,
        "stays ended"
    );
    let complete = stream.complete().expect("InvokeComplete").clone();
    assert_eq!(complete.error_code, None);
    assert_eq!(complete.error_details, None);
    assert!(complete.arrived >= second.arrived);
    let log = complete.log_tail.expect("the tail, decoded");
    assert!(log.contains(&format!("START RequestId: {id}")), "{log}");
    let _ = std::fs::remove_file(flag);
}

#[tokio::test]
async fn invoke_stream_puts_a_failed_stream_in_invoke_complete() {
    let emu = start(vec![stream_fn("s", "events")]).await;
    let event = json!({
        "chunks": ["one ", "two"],
        "fail": {"type": "StreamBroke", "message": "disk on fire"}
    });
    let whole = emu
        .invoke_stream("s", event.to_string(), &InvokeOptions::default())
        .await
        .expect("invoke")
        .finish()
        .await
        .expect("the whole stream");
    assert_eq!(whole.text(), "one two");
    assert_eq!(whole.complete.error_code.as_deref(), Some("StreamBroke"));
    assert_eq!(
        whole.complete.error_details.as_deref(),
        Some("disk on fire")
    );
    assert_eq!(whole.complete.log_tail, None, "no tail asked for");
}

#[tokio::test]
async fn invoke_stream_of_a_buffered_function_and_answers_that_are_no_stream() {
    let emu = start(vec![function("b", "")]).await;
    let whole = emu
        .invoke_stream("b", r#"{"x":1}"#, &InvokeOptions::default())
        .await
        .expect("invoke")
        .finish()
        .await
        .expect("the whole stream");
    assert_eq!(whole.chunks.len(), 1, "a buffered answer is one chunk");
    let answer: serde_json::Value = serde_json::from_slice(&whole.body()).expect("JSON");
    assert_eq!(answer["event"], json!({"x": 1}), "{answer}");

    let mut missing = emu
        .invoke_stream("nope", "{}", &InvokeOptions::default())
        .await
        .expect("an answer");
    assert_eq!(missing.status, 404);
    assert_eq!(
        missing.error_code.as_deref(),
        Some("ResourceNotFoundException")
    );
    assert!(String::from_utf8_lossy(&missing.body).contains("nope"));
    match missing.next_chunk().await {
        Err(ClientError::NotAStream { status, .. }) => assert_eq!(status, 404),
        other => panic!("expected NotAStream, got {other:?}"),
    }

    let dry = InvokeOptions {
        invocation_type: InvocationType::DryRun,
        ..InvokeOptions::default()
    };
    let mut dry = emu.invoke_stream("b", "{}", &dry).await.expect("an answer");
    assert_eq!(dry.status, 204);
    assert!(matches!(
        dry.finish().await,
        Err(ClientError::NotAStream { .. })
    ));
}

/// The `streaming` example (`examples/streaming`), built into the current target directory.
fn streaming_example() -> FunctionConfig {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let target = std::env::var_os("FIREBOX_TARGET_DIR")
        .or_else(|| std::env::var_os("CARGO_TARGET_DIR"))
        .map(PathBuf::from)
        .unwrap_or_else(|| repo.join("target"));
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    // Always (re)built: cargo does nothing when the binary is up to date.
    let status = Command::new(cargo)
        .args(["build", "-q", "-p", "streaming", "--bin", "streaming"])
        .env("CARGO_TARGET_DIR", &target)
        .current_dir(&repo)
        .status()
        .expect("run cargo build");
    assert!(status.success(), "cannot build the streaming example");
    FunctionConfig::new("streaming")
        .command([target.join("debug/streaming").display().to_string()])
        .timeout(Duration::from_secs(30))
}

#[tokio::test]
async fn invoke_stream_of_the_streaming_example() {
    let emu = start(vec![streaming_example()]).await;
    let whole = emu
        .invoke_stream(
            "streaming",
            r#"{"mode":"fail_midway"}"#,
            &InvokeOptions::default(),
        )
        .await
        .expect("invoke")
        .finish()
        .await
        .expect("the whole stream");
    // The chunks as the emulator read them from the runtime: written back to back, they may
    // come in more pieces than the three writes.
    assert_eq!(whole.text(), "chunk 1\nchunk 2\nchunk 3\n");
    assert!(whole
        .chunks
        .windows(2)
        .all(|w| w[0].arrived <= w[1].arrived));
    assert_eq!(
        whole.complete.error_code.as_deref(),
        Some("StreamInterrupted")
    );

    let whole = emu
        .invoke_stream(
            "streaming",
            r#"{"mode":"large","mib":2}"#,
            &InvokeOptions::default(),
        )
        .await
        .expect("invoke")
        .finish()
        .await
        .expect("the whole stream");
    assert_eq!(whole.complete.error_code, None);
    let body = whole.body();
    assert_eq!(body.len(), 2 * 1024 * 1024);
    assert!(body.iter().enumerate().all(|(i, b)| *b == (i % 251) as u8));
}

#[tokio::test]
async fn function_url_is_the_path_form_of_the_unqualified_url() {
    let emu = start(vec![
        stream_fn("web", "url").url(UrlConfig::default()),
        stream_fn("plain", "url"),
    ])
    .await;
    let url = emu.function_url("web");
    assert_eq!(url, format!("{}/lambda-url/web/", emu.endpoint()));
    let path = format!("{url}items/42?tag=a");
    let path = path.strip_prefix(emu.endpoint()).expect("on the emulator");
    let r = send(emu.endpoint(), "GET", path, &[], "").await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let event = r.json();
    assert_eq!(event["rawPath"], "/items/42", "{event}");
    assert_eq!(event["rawQueryString"], "tag=a", "{event}");

    let url = emu.function_url("plain");
    let path = url.strip_prefix(emu.endpoint()).expect("on the emulator");
    let r = send(emu.endpoint(), "GET", path, &[], "").await;
    assert_eq!(r.status, 404, "no URL there");
}

#[tokio::test]
async fn invoke_takes_text_a_borrowed_string_bytes_and_json() {
    #[derive(serde::Serialize)]
    struct Event {
        echo: &'static str,
    }
    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Answer {
        event: serde_json::Value,
        count: u64,
    }
    let emu = start(vec![function("f", "")]).await;
    let text = r#"{"echo": "a"}"#.to_owned();
    let json = json!({"echo": "a"});
    let typed = firebox_emulator::Payload::json(&Event { echo: "a" }).expect("JSON");
    for r in [
        emu.invoke("f", r#"{"echo": "a"}"#).await,
        emu.invoke("f", &text).await,
        emu.invoke("f", text.as_str()).await,
        emu.invoke("f", br#"{"echo": "a"}"#).await,
        emu.invoke("f", text.clone().into_bytes()).await,
        emu.invoke("f", &json).await,
        emu.invoke("f", json.clone()).await,
        emu.invoke("f", typed).await,
    ] {
        let r = r.expect("invoke");
        assert_eq!(r.function_error, None, "{}", r.text());
        assert_eq!(r.json().unwrap()["event"], json, "{}", r.text());
        let answer: Answer = r.json_as().expect("the answer's shape");
        assert_eq!(answer.event, json);
    }
}

#[tokio::test]
async fn a_dropped_emulators_port_is_free_at_once() {
    let emu = Emulator::builder()
        .listen("127.0.0.1:0".parse().unwrap())
        .function(function("f", ""))
        .start()
        .await
        .expect("start");
    let addr = emu.addr();
    drop(emu);
    // No await in between: the next emulator binds the same port right away.
    let again = Emulator::builder()
        .listen(addr)
        .function(function("f", ""))
        .start()
        .await
        .expect("the port is free again");
    let r = again.invoke("f", "{}").await.expect("invoke");
    assert_eq!(r.status, 200, "{}", r.text());
}

#[tokio::test]
async fn an_invocations_lines_are_told_apart_from_those_running_beside_it() {
    let emu = start(vec![function("f", "")]).await;
    let event = |name: &str| json!({"lines": [format!("{name} before")], "sleep": 0.3}).to_string();
    // Two invocations at once, in two environments: their lines interleave in the stream.
    let (a, b) = tokio::join!(
        emu.invoke("f", event("alpha")),
        emu.invoke("f", event("beta"))
    );
    for (r, mine, other) in [(a, "alpha", "beta"), (b, "beta", "alpha")] {
        let r = r.expect("invoke");
        let id = r.request_id.clone().expect("a request id");
        emu.report("f", &id, PATIENCE).await.expect("its REPORT");
        let lines: Vec<String> = emu
            .invocation_logs("f", &id)
            .into_iter()
            .map(|l| l.text)
            .collect();
        assert!(
            lines[0].starts_with(&format!("START RequestId: {id}")),
            "{lines:#?}"
        );
        assert!(lines.contains(&format!("{mine} before")), "{lines:#?}");
        assert!(!lines.iter().any(|l| l.contains(other)), "{lines:#?}");
        assert!(lines
            .last()
            .unwrap()
            .starts_with(&format!("REPORT RequestId: {id}")));
    }
    assert!(emu.invocation_logs("f", "no-such-id").is_empty());
}

#[tokio::test]
async fn report_reads_the_figures_of_cold_and_warm_invocations() {
    let emu = start(vec![function("f", "").memory_mb(256)]).await;
    let cold = emu.invoke("f", "{}").await.expect("invoke");
    let warm = emu.invoke("f", "{}").await.expect("invoke");
    let id = cold.request_id.expect("a request id");
    let report = emu.report("f", &id, PATIENCE).await.expect("its REPORT");
    assert_eq!(report.request_id, id);
    assert!(report.is_cold(), "{report:?}");
    assert_eq!(report.memory_size_mb, 256);
    assert!(report.max_memory_used_mb > 0, "{report:?}");
    assert!(report.duration <= report.billed_duration, "{report:?}");
    assert_eq!(report.status, None);
    let line = reports(&emu, "f")
        .into_iter()
        .find(|l| l.contains(&id))
        .expect("the line");
    let ms = report.duration.as_secs_f64() * 1000.0;
    assert!(
        (ms - report_number(&line, "Duration")).abs() < 1e-9,
        "{line}"
    );
    let id = warm.request_id.expect("a request id");
    let report = emu.report("f", &id, PATIENCE).await.expect("its REPORT");
    assert!(!report.is_cold(), "{report:?}");
}

#[tokio::test]
async fn report_of_a_timeout_and_of_the_json_format() {
    let emu = start(vec![
        function("slow", "").timeout(Duration::from_secs(1)),
        function("j", "").logging(LoggingConfig::json()),
    ])
    .await;
    let r = emu.invoke("slow", r#"{"sleep": 5}"#).await.expect("invoke");
    let id = r.request_id.expect("a request id");
    let report = emu.report("slow", &id, PATIENCE).await.expect("its REPORT");
    assert_eq!(report.status.as_deref(), Some("timeout"));

    let r = emu.invoke("j", "{}").await.expect("invoke");
    let id = r.request_id.expect("a request id");
    let report = emu.report("j", &id, PATIENCE).await.expect("its record");
    assert_eq!(report.status.as_deref(), Some("success"));
    assert!(report.is_cold());
    assert_eq!(report.memory_size_mb, 128);
}

#[tokio::test]
async fn report_waits_for_an_event_invocation_to_finish() {
    let emu = start(vec![function("f", "")]).await;
    let flag = flag_path("library-report");
    let id = invoke_event(
        &emu,
        "f",
        None,
        json!({"wait_for": flag.display().to_string()}),
    )
    .await;
    let waiting = emu.report("f", &id, PATIENCE);
    let release = async {
        // `join!` polls the wait first: it has looked at the log and is waiting now.
        assert!(
            !reports(&emu, "f").iter().any(|l| l.contains(&id)),
            "the invocation still runs"
        );
        std::fs::write(&flag, b"go").unwrap();
    };
    let (report, ()) = tokio::join!(waiting, release);
    let report = report.expect("its REPORT");
    assert_eq!(report.request_id, id);
    let end = format!("END RequestId: {id}");
    let line = emu
        .wait_for_log("f", PATIENCE, |l| l.text == end)
        .await
        .expect("END, logged already");
    assert_eq!(line.source, LogSource::Platform);
    let _ = std::fs::remove_file(flag);
}

#[tokio::test]
async fn wait_for_log_finds_a_line_to_come_and_times_out_showing_the_log() {
    let emu = start(vec![function("f", "")]).await;
    let flag = flag_path("library-wait");
    let id = invoke_event(
        &emu,
        "f",
        None,
        json!({"lines": ["marker-41"], "wait_for": flag.display().to_string()}),
    )
    .await;
    let end = format!("END RequestId: {id}");
    let waiting = emu.wait_for_log("f", PATIENCE, |l| l.text == end);
    let release = async { std::fs::write(&flag, b"go").unwrap() };
    let (line, ()) = tokio::join!(waiting, release);
    assert_eq!(line.expect("END").text, end);

    match emu
        .wait_for_log("f", Duration::from_millis(300), |l| l.text == "never")
        .await
    {
        Err(e @ LogWaitError::Timeout { .. }) => {
            let message = e.to_string();
            assert!(
                message.contains("marker-41") && message.contains(&end),
                "the message shows the last lines: {message}"
            );
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    let _ = std::fs::remove_file(flag);
}

#[tokio::test]
async fn an_unknown_function_is_said_to_be_unknown() {
    let emu = start(vec![function("f", "")]).await;
    assert!(emu.logs("typo").is_empty(), "logs() stays as it was");
    assert!(matches!(
        emu.try_logs("typo"),
        Err(ControlError::FunctionNotFound(name)) if name == "typo"
    ));
    assert_eq!(emu.try_logs("f").expect("a function").len(), 0);
    // At once, not after the wait.
    let waited = tokio::time::timeout(
        Duration::from_secs(10),
        emu.report("typo", "some-id", Duration::from_secs(600)),
    )
    .await
    .expect("no wait");
    assert!(matches!(waited, Err(LogWaitError::FunctionNotFound(_))));
    let waited = tokio::time::timeout(
        Duration::from_secs(10),
        emu.wait_for_log("typo", Duration::from_secs(600), |_| true),
    )
    .await
    .expect("no wait");
    assert!(matches!(waited, Err(LogWaitError::FunctionNotFound(_))));

    // A deleted function's log stays readable.
    emu.invoke("f", "{}").await.expect("invoke");
    emu.delete_function("f").expect("delete");
    assert!(!emu.try_logs("f").expect("its log").is_empty());
}

/// Invokes a function that prints a marker, with the echo on, and passes. Run again by
/// `echo_shows_the_functions_lines_for_a_failed_test` in a child process, where
/// `FIREBOX_ECHO_CHILD` says whether the echo is on (`on...`) and whether to fail at the end
/// (unless it ends with `pass`).
#[tokio::test]
async fn echo_child() {
    let mode = std::env::var("FIREBOX_ECHO_CHILD").unwrap_or_else(|_| "on-pass".to_owned());
    let emu = Emulator::builder()
        .echo_logs(mode.starts_with("on"))
        .function(function("e", ""))
        .start()
        .await
        .expect("start");
    let r = emu
        .invoke("e", r#"{"lines": ["echo-marker-7"]}"#)
        .await
        .expect("invoke");
    assert_eq!(r.status, 200);
    assert!(mode.ends_with("pass"), "deliberate failure");
}

/// Runs `echo_child` in a child test process with `FIREBOX_ECHO_CHILD=mode`: whether it
/// passed, and its stdout.
fn run_echo_child(mode: &str) -> (bool, String) {
    let out = Command::new(std::env::current_exe().expect("the test binary"))
        .args(["echo_child", "--exact", "--test-threads=1"])
        .env("FIREBOX_ECHO_CHILD", mode)
        .output()
        .expect("run the child");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn echo_shows_the_functions_lines_for_a_failed_test() {
    let (passed, stdout) = run_echo_child("on-fail");
    assert!(!passed, "{stdout}");
    assert!(stdout.contains("deliberate failure"), "{stdout}");
    assert!(stdout.contains("[e] echo-marker-7"), "{stdout}");
    // The last line of the invocation, logged just before the answer and printed at the
    // latest when the emulator is dropped as the test unwinds.
    assert!(stdout.contains("[e] REPORT RequestId: "), "{stdout}");

    let (passed, stdout) = run_echo_child("off-fail");
    assert!(!passed, "{stdout}");
    assert!(!stdout.contains("echo-marker-7"), "no echo unless asked");

    let (passed, stdout) = run_echo_child("on-pass");
    assert!(passed, "{stdout}");
    assert!(
        !stdout.contains("echo-marker-7"),
        "libtest shows a passing test's output only with --nocapture: {stdout}"
    );
}

#[tokio::test]
async fn messages_for_functions_in_code_name_the_builder_method() {
    let refused = |f: FunctionConfig| async move {
        match Emulator::builder().function(f).start().await {
            Ok(_) => panic!("started"),
            Err(StartError::Config(e)) => e,
            Err(e) => panic!("not a configuration error: {e}"),
        }
    };
    let e = refused(
        FunctionConfig::new("a")
            .command(["/bin/true"])
            .timeout(Duration::ZERO),
    )
    .await;
    assert!(matches!(&e, ConfigError::Field { field, .. } if field == "timeout_s"));
    assert_eq!(
        e.to_string(),
        "<code>: function `a`: `.timeout()` (field `timeout_s`): must be between 1 and 900 seconds (got 0)"
    );
    for (f, says) in [
        (
            FunctionConfig::new("a").command(["/bin/true"]).memory_mb(1),
            "`.memory_mb()` (field `memory_mb`)",
        ),
        (
            FunctionConfig::new("a")
                .command(["/bin/true"])
                .env("AWS_REGION", "x"),
            "`.env()` (field `environment`)",
        ),
        (
            FunctionConfig::new("a")
                .command(["/bin/true"])
                .init_timeout(Duration::ZERO),
            "`.init_timeout()` (field `init_timeout_s`)",
        ),
        (
            FunctionConfig::new("a")
                .command(["/bin/true"])
                .layer("/nonexistent/layer"),
            "`.layer()` (field `layers`)",
        ),
        (
            FunctionConfig::new("a b"),
            "`FunctionConfig::new()` (field `name`)",
        ),
    ] {
        let message = refused(f).await.to_string();
        assert!(message.contains(says), "{says}: {message}");
    }
    // So does a function created while the emulator runs.
    let emu = start(vec![]).await;
    let message = emu
        .create_function(
            FunctionConfig::new("later")
                .command(["/bin/true"])
                .memory_mb(1),
        )
        .expect_err("refused")
        .to_string();
    assert!(
        message.contains("`.memory_mb()` (field `memory_mb`)"),
        "{message}"
    );

    // A configuration file's messages name its fields only.
    let text = "[functions.a]\ncommand = [\"/bin/true\"]\ntimeout_s = 0\n";
    let e = Config::parse(text, "firebox.toml", Path::new("/tmp")).expect_err("refused");
    assert_eq!(
        e.to_string(),
        "firebox.toml: function `a`: field `timeout_s`: must be between 1 and 900 seconds (got 0)"
    );
}
