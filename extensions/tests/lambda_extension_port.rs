//! Extensions written for the official `lambda_extension` crate, ported to
//! `firebox_extensions::lambda_extension` by the import line alone (`examples/ported-extension-*`,
//! AWS's own examples in their idiom), run as real processes under the Firebox emulator: each
//! test checks, in the function's log, what the extension observed.
//!
//! - `extension-basic` (`lambda_extension::run`): every `INVOKE`, with its ARN, and the
//!   `SHUTDOWN` of an idle reclaim, after which it exits cleanly;
//! - `extension-custom-events` (`with_events(&["SHUTDOWN"])`): the `SHUTDOWN` only;
//! - `extension-logs-basic` (a logs processor on the default port): the function's lines and
//!   each invocation's `platform.start` and `platform.report`, typed — and under the JSON log
//!   format, a JSON-object line as its JSON text;
//! - `extension-telemetry-basic` (a telemetry processor): Init's start, the function's lines,
//!   each invocation's start, `runtimeDone` and report;
//! - an internal extension registered (`with_extension_name(..).register()`) before the
//!   runtime starts, beside `lambda_runtime::run` in the same process: every `INVOKE`;
//! - the bad path: an events processor failing on `INVOKE` reports an exit error and ends the
//!   extension with exit status 1, which ends the environment.

use std::time::Duration;

mod examples_built;
use examples_built::{example, runtime, texts, wait_for, wait_for_the_end, wait_until};

use firebox_emulator::{Emulator, FunctionConfig, LogFormat, LoggingConfig};

/// A function `f` run by the Python test runtime, with the example `extension` as its
/// external extension.
fn function_with(extension: &str) -> FunctionConfig {
    FunctionConfig::new("f")
        .command(["python3", "-u", &runtime()])
        .extension(example(extension))
}

/// Waits for a line containing `text`.
async fn wait_for_text(emu: &Emulator, text: &str) -> Vec<String> {
    wait_until(emu, &format!("no line containing {text:?}"), |lines| {
        lines.iter().any(|l| l.contains(text))
    })
    .await
}

/// How many environments started (one `INIT_START` line each).
fn environments(lines: &[String]) -> usize {
    lines
        .iter()
        .filter(|l| l.starts_with("INIT_START Runtime Version"))
        .count()
}

/// Invokes `f` with `event`, expecting a success; the request id and the answer.
async fn invoke(emu: &Emulator, event: &str) -> (String, String) {
    let r = emu.invoke("f", event.to_owned()).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.function_error, None, "{}", r.text());
    (r.request_id.clone().unwrap(), r.text())
}

/// Waits until every environment's log has `line` (once per environment); the log.
async fn once_per_environment(emu: &Emulator, line: &str) -> Vec<String> {
    wait_until(
        emu,
        &format!("not every environment logged {line:?}"),
        |lines| {
            let seen = lines.iter().filter(|l| l.contains(line)).count();
            environments(lines) > 0 && seen == environments(lines)
        },
    )
    .await
}

#[tokio::test]
async fn extension_basic_hears_every_invoke_and_the_shutdown_then_exits_cleanly() {
    let f = function_with("ported-extension-basic").idle_timeout(Duration::from_secs(1));
    let emu = Emulator::builder().function(f).start().await.unwrap();
    let (first, _) = invoke(&emu, "{}").await;
    let (second, _) = invoke(&emu, "{}").await;
    wait_for(
        &emu,
        "EXTENSION\tName: ported-extension-basic\tState: Ready\tEvents: [INVOKE,SHUTDOWN]",
    )
    .await;
    for id in [&first, &second] {
        wait_for_text(
            &emu,
            &format!(
                "[ported-extension-basic] INVOKE {id} arn:aws:lambda:us-east-1:123456789012:function:f"
            ),
        )
        .await;
    }
    // The idle reclaim after 1 s is a Shutdown phase: every environment's extension hears why,
    // then `run` returns and the program exits 0 (no exit is reported as a failure).
    let lines = once_per_environment(&emu, "[ported-extension-basic] SHUTDOWN spindown").await;
    wait_for_the_end(&emu).await;
    let lines = [lines, texts(&emu)].concat();
    assert!(
        !lines.iter().any(|l| l.contains("exited:")),
        "{}",
        lines.join("\n")
    );
}

#[tokio::test]
async fn extension_custom_events_gets_the_shutdown_only() {
    let f = function_with("ported-extension-custom-events").idle_timeout(Duration::from_secs(1));
    let emu = Emulator::builder().function(f).start().await.unwrap();
    invoke(&emu, "{}").await;
    invoke(&emu, "{}").await;
    wait_for(
        &emu,
        "EXTENSION\tName: ported-extension-custom-events\tState: Ready\tEvents: [SHUTDOWN]",
    )
    .await;
    let lines =
        once_per_environment(&emu, "[ported-extension-custom-events] SHUTDOWN spindown").await;
    assert!(
        !lines.iter().any(|l| l.contains("UNEXPECTED")),
        "{}",
        lines.join("\n")
    );
    wait_for_the_end(&emu).await;
}

/// A function whose extension is `extension`, not frozen between invocations (so that batches
/// come while it is idle) and kept for a minute.
async fn emulator_with(extension: &str, logging: Option<LoggingConfig>) -> Emulator {
    let mut f = function_with(extension)
        .freeze(false)
        .idle_timeout(Duration::from_secs(60));
    if let Some(logging) = logging {
        f = f.logging(logging);
    }
    Emulator::builder().function(f).start().await.unwrap()
}

#[tokio::test]
async fn extension_logs_basic_gets_function_lines_starts_and_reports() {
    let emu = emulator_with("ported-extension-logs-basic", None).await;
    let event = r#"{"lines": ["hello from the function"]}"#;
    let (first, _) = invoke(&emu, event).await;
    let (second, _) = invoke(&emu, event).await;
    wait_for(&emu, "[logs] [function] hello from the function").await;
    for id in [&first, &second] {
        let start = format!("[logs] START {id}");
        let report = format!("[logs] REPORT {id} billed=");
        let lines = wait_until(&emu, &format!("no START and REPORT for {id}"), |lines| {
            lines.contains(&start) && lines.iter().any(|l| l.starts_with(&report))
        })
        .await;
        let at = |prefix: &str| lines.iter().position(|l| l.starts_with(prefix));
        assert!(at(&start) < at(&report), "{}", lines.join("\n"));
        let rest = lines
            .iter()
            .find_map(|l| l.strip_prefix(&report))
            .unwrap_or_default();
        let (billed, memory) = rest.split_once("ms memory=").expect("billed and memory");
        assert!(billed.parse::<u64>().is_ok(), "{rest}");
        assert_eq!(memory, "128MB");
    }
    let lines = texts(&emu);
    assert_eq!(
        lines
            .iter()
            .filter(|l| *l == "[logs] [function] hello from the function")
            .count(),
        2,
        "{}",
        lines.join("\n")
    );
}

#[tokio::test]
async fn extension_logs_basic_gets_a_json_function_line_as_its_json_text() {
    let logging = LoggingConfig {
        format: LogFormat::Json,
        ..LoggingConfig::default()
    };
    let emu = emulator_with("ported-extension-logs-basic", Some(logging)).await;
    let line = r#"{"level":"INFO","message":"structured"}"#;
    let event = serde_json::json!({ "lines": [line] }).to_string();
    let (id, _) = invoke(&emu, &event).await;
    // lambda_extension would refuse the whole batch (its `Function` holds a String); here the
    // object comes as its JSON text, and the rest of the batch with it.
    wait_for_text(&emu, &format!("[logs] [function] {line}")).await;
    wait_for_text(&emu, &format!("[logs] REPORT {id} billed=")).await;
}

#[tokio::test]
async fn extension_telemetry_basic_hears_init_lines_and_every_invocation() {
    let emu = emulator_with("ported-extension-telemetry-basic", None).await;
    let event = r#"{"lines": ["telemetry line"]}"#;
    let (first, _) = invoke(&emu, event).await;
    let (second, _) = invoke(&emu, event).await;
    wait_for(&emu, "[telemetry] INIT_START OnDemand Init").await;
    wait_for(&emu, "[telemetry] [function] telemetry line").await;
    for id in [&first, &second] {
        let lines = [
            format!("[telemetry] START {id}"),
            format!("[telemetry] RUNTIME_DONE {id} Success"),
            format!("[telemetry] REPORT {id} Success memory=128MB"),
        ];
        let log = wait_until(&emu, &format!("not every record of {id}"), |log| {
            lines.iter().all(|line| log.contains(line))
        })
        .await;
        let at = |line: &String| log.iter().position(|l| l == line);
        assert!(at(&lines[0]) < at(&lines[1]), "{}", log.join("\n"));
        assert!(at(&lines[1]) < at(&lines[2]), "{}", log.join("\n"));
    }
}

#[tokio::test]
async fn an_internal_extension_registered_before_the_runtime_hears_every_invoke() {
    let f = FunctionConfig::new("f")
        .command([example("ported-extension-internal").display().to_string()])
        .idle_timeout(Duration::from_secs(1));
    let emu = Emulator::builder().function(f).start().await.unwrap();
    let (first, answer) = invoke(&emu, r#"{"n": 1}"#).await;
    let answer: serde_json::Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(
        answer,
        serde_json::json!({"requestId": first, "payload": {"n": 1}})
    );
    let (second, _) = invoke(&emu, r#"{"n": 2}"#).await;
    wait_for(&emu, "[internal-extension] REGISTERED f $LATEST").await;
    wait_for(
        &emu,
        "EXTENSION\tName: internal-extension\tState: Ready\tEvents: [INVOKE]",
    )
    .await;
    for id in [&first, &second] {
        wait_for(&emu, &format!("[internal-extension] INVOKE {id}")).await;
    }
    wait_for_the_end(&emu).await;
}

#[tokio::test]
async fn an_events_processor_failing_on_invoke_ends_the_extension_with_an_exit_error() {
    let f = function_with("ported-extension-failing").idle_timeout(Duration::from_secs(60));
    let emu = Emulator::builder().function(f).start().await.unwrap();
    // The runtime answers; the extension fails on the INVOKE it got meanwhile.
    let r = emu.invoke("f", "{}".to_owned()).await.unwrap();
    let id = r.request_id.clone().expect("a request id");
    wait_for(&emu, &format!("[ported-extension-failing] INVOKE {id}")).await;
    // Reported through /extension/exit/error, then `run` returned the processor's error:
    // `main` returned it, and the program exited 1.
    wait_for_text(
        &emu,
        "Extension ported-extension-failing reported an exit error: Extension.HandlerError",
    )
    .await;
    wait_for_text(&emu, &format!("cannot process {id}")).await;
    wait_for_text(
        &emu,
        "Extension ported-extension-failing exited: exit status 1",
    )
    .await;
    // The invocation's report names the extension's error type; the environment did not
    // survive it: its processes are gone.
    let report = format!("REPORT RequestId: {id}");
    let lines = wait_for_text(&emu, &report).await;
    let report = lines.iter().find(|l| l.starts_with(&report)).unwrap();
    assert!(
        report.contains("Status: error\tError Type: Extension.HandlerError"),
        "{report}"
    );
    wait_for_the_end(&emu).await;
}
