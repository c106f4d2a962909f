//! The Extensions API against real processes: external extensions (a Python script started
//! through differently named symlinks, so that each registers under its own file name) and an
//! internal one registered from inside the test runtime. Covers the three phases (Init waits
//! for the extensions and the runtime starts after they register; INVOKE events and the invoke
//! phase lasting until every extension calls next; SHUTDOWN with its reason), the failures
//! (a crash in Init or during an invocation, init/error, an extension that never registers or
//! outlives the timeout), the resets after a failure (SHUTDOWN `timeout` or `failure`; after
//! the Init timeout, before the retry starts new extensions, and killing one that ignores it)
//! and the bad calls with their 403 error types.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::*;
use firebox_emulator::{Emulator, FunctionConfig};

/// The test extension, under `name` in `dir` (a symlink: the file name is what it registers
/// as).
fn extension(dir: &TempDir, name: &str) -> PathBuf {
    let link = dir.path(name);
    std::os::unix::fs::symlink(runtime("extension.py"), &link).expect("symlink the extension");
    link
}

/// The test runtime with the extensions of `modes` (name, EXT_MODE), idle environments kept
/// for `idle`.
fn with_extensions(dir: &TempDir, name: &str, modes: &[(&str, &str)]) -> FunctionConfig {
    let mut f = function(name, "").idle_timeout(Duration::from_secs(60));
    for (ext, mode) in modes {
        f = f.extension(extension(dir, ext)).env(
            format!("EXT_MODE_{}", ext.to_uppercase().replace('-', "_")),
            *mode,
        );
    }
    f
}

/// Invokes and expects success; returns (request id, pid).
async fn ok(emu: &Emulator, function: &str, event: &str) -> (String, i64) {
    let r = emu.invoke(function, event.to_owned()).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.function_error, None, "{}", r.text());
    let v = r.json().unwrap();
    (r.request_id.clone().unwrap(), v["pid"].as_i64().unwrap())
}

/// Invokes and expects a function error; returns the error document.
async fn failed(emu: &Emulator, function: &str, event: &str) -> serde_json::Value {
    let r = emu.invoke(function, event.to_owned()).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.function_error.as_deref(),
        Some("Unhandled"),
        "{}",
        r.text()
    );
    r.json().unwrap()
}

/// Waits until the function's invoke phases are over: every extension called `/next` again
/// and gave back the environment (and its unit of concurrency), so the next invoke finds it.
async fn invoke_phase_over(emu: &Emulator, function: &str) {
    wait_metric(
        emu,
        &format!("firebox_concurrent_executions{{function=\"{function}\"}}"),
        0.0,
    )
    .await;
}

/// Index of the first log line containing `needle`.
fn position(emu: &Emulator, function: &str, needle: &str) -> usize {
    let lines = texts(emu, function);
    lines
        .iter()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle:?}; log was:\n{}", lines.join("\n")))
}

#[tokio::test]
async fn an_external_extension_registers_first_gets_every_invoke_and_a_spindown_shutdown() {
    let dir = TempDir::new("ext-normal");
    let f = with_extensions(&dir, "f", &[("watcher", "normal")])
        .idle_timeout(Duration::from_secs(2))
        .handler("app.handler");
    let emu = start(vec![f]).await;
    let (first, pid) = ok(&emu, "f", "{}").await;
    invoke_phase_over(&emu, "f").await;
    let (second, again) = ok(&emu, "f", "{}").await;
    assert_eq!(pid, again, "the second invoke is warm");

    // Registration answered with the function's metadata, the account id asked for.
    let registered = wait_for_line(&emu, "f", |l| l.starts_with("[watcher] registered")).await;
    assert!(registered.contains("200"), "{registered}");
    for want in [
        "\"functionName\":\"f\"",
        "\"functionVersion\":\"$LATEST\"",
        "\"handler\":\"app.handler\"",
        "\"accountId\":\"123456789012\"",
    ] {
        assert!(registered.contains(want), "{want} in {registered}");
    }
    // The extension's environment lacks the runtime's own variables.
    let env = wait_for_line(&emu, "f", |l| l.starts_with("[watcher] env")).await;
    assert_eq!(env, "[watcher] env handler=None task_root=None function=f");
    // Init ended with the extension ready, subscribed to both events.
    wait_for_line(&emu, "f", |l| {
        l == "EXTENSION\tName: watcher\tState: Ready\tEvents: [INVOKE,SHUTDOWN]"
    })
    .await;
    // One INVOKE per invocation, with the ARN, the trace id and an event identifier.
    for id in [&first, &second] {
        let line = wait_for_line(&emu, "f", |l| {
            l.starts_with(&format!("[watcher] INVOKE {id}"))
        })
        .await;
        assert_eq!(
            line,
            format!(
                "[watcher] INVOKE {id} arn:aws:lambda:us-east-1:123456789012:function:f Root= event_id=True"
            )
        );
    }
    // Idle reclaim: SHUTDOWN with reason spindown and a deadline about 2 s ahead; the
    // extension exits by itself.
    let line = wait_for_line(&emu, "f", |l| l.starts_with("[watcher] SHUTDOWN")).await;
    let parts: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(parts[2], "spindown", "{line}");
    let left: i64 = parts[4].parse().unwrap();
    assert!(left <= 2000, "the deadline is at most 2 s away: {line}");
    assert!(line.ends_with("after 2 invokes"), "{line}");
    wait_until("the environment is gone", Duration::from_secs(30), || {
        emu.live_processes() == 0
    })
    .await;
}

#[tokio::test]
async fn the_runtime_starts_only_after_every_external_extension_registered() {
    let dir = TempDir::new("ext-order");
    let f = FunctionConfig::new("f")
        .command([PYTHON, "-u", &runtime_script(), "print_init"])
        .extension(extension(&dir, "one"))
        .extension(extension(&dir, "two"));
    let emu = start(vec![f]).await;
    ok(&emu, "f", "{}").await;
    let runtime_begins = position(&emu, "f", "init line 1");
    for name in ["one", "two"] {
        let registered = position(&emu, "f", &format!("[{name}] registered 200"));
        assert!(
            registered < runtime_begins,
            "{name} registered after the runtime started:\n{}",
            texts(&emu, "f").join("\n")
        );
    }
}

#[tokio::test]
async fn the_invoke_phase_lasts_until_every_extension_calls_next_again() {
    let dir = TempDir::new("ext-slow");
    let gate = Gate::new("ext-slow");
    let f = with_extensions(&dir, "f", &[("slow", "gated")])
        .env("EXT_GATE", gate.path().display().to_string())
        .reserved_concurrency(1);
    let emu = start(vec![f]).await;
    let (first, pid) = ok(&emu, "f", "{}").await;
    let done = format!("[slow] done {first}");
    // The caller had its answer while the extension still worked on the invocation.
    assert!(
        !texts(&emu, "f").contains(&done),
        "the answer waited for the extension"
    );
    // Meanwhile the environment, and the function's one unit of concurrency, are still taken:
    // as on Lambda, an invoke now is throttled.
    let r = emu.invoke("f", "{}".to_owned()).await.unwrap();
    assert_eq!(r.status, 429, "{}", r.text());
    assert_eq!(
        r.json().unwrap()["Reason"],
        "ReservedFunctionConcurrentInvocationLimitExceeded"
    );
    // Its invoke phase is not over: no REPORT yet (Lambda writes it when the phase ends).
    tokio::time::sleep(Duration::from_millis(300)).await;
    let report_of_first = format!("REPORT RequestId: {first}\t");
    assert!(
        !texts(&emu, "f")
            .iter()
            .any(|l| l.starts_with(&report_of_first)),
        "REPORT before the extension called next"
    );
    // Once the extension called next again, the environment is reused, warm.
    gate.open();
    wait_for_line(&emu, "f", |l| l == done).await;
    invoke_phase_over(&emu, "f").await;
    // The REPORT came then, after the extension's last line, and its duration covers the
    // extension's time (the 300 ms above at least).
    let report = wait_for_line(&emu, "f", |l| l.starts_with(&report_of_first)).await;
    assert!(position(&emu, "f", &done) < position(&emu, "f", &report_of_first));
    let duration: f64 = report
        .split('\t')
        .find_map(|f| f.strip_prefix("Duration: "))
        .and_then(|d| d.strip_suffix(" ms"))
        .and_then(|d| d.parse().ok())
        .unwrap_or_else(|| panic!("{report}"));
    assert!(duration >= 300.0, "{report}");
    // That time after the runtime's answer is measured (Lambda's PostRuntimeExtensionsDuration).
    let text = metrics(&emu).await;
    let series = "firebox_post_runtime_extensions_duration_milliseconds_count{function=\"f\"}";
    assert_eq!(metric(&text, series), Some(1.0), "{text}");
    let (second, again) = ok(&emu, "f", "{}").await;
    assert_eq!(pid, again);
    assert!(
        position(&emu, "f", &done) < position(&emu, "f", &format!("START RequestId: {second}"))
    );
}

#[tokio::test]
async fn an_extension_that_outlives_the_timeout_resets_the_environment() {
    let dir = TempDir::new("ext-hang");
    let f = with_extensions(&dir, "f", &[("stuck", "hang")]).timeout(Duration::from_secs(1));
    let emu = start(vec![f]).await;
    let (first, pid) = ok(&emu, "f", "{}").await;
    let line = wait_for_line(&emu, "f", |l| l.contains("did not call next")).await;
    assert_eq!(
        line,
        format!("RequestId: {first} Error: Extension stuck did not call next within the function timeout (1.00 seconds)")
    );
    // Its invoke phase ended with the timeout: so says its REPORT.
    let report = wait_for_line(&emu, "f", |l| l.starts_with("REPORT")).await;
    assert!(
        report.starts_with(&format!("REPORT RequestId: {first}\t")),
        "{report}"
    );
    assert!(report.ends_with("\tStatus: timeout"), "{report}");
    let (_, next) = ok(&emu, "f", "{}").await;
    assert_ne!(pid, next, "a new environment after the reset");
}

#[tokio::test]
async fn an_extension_crashing_in_init_fails_the_invoke_with_extension_crash() {
    let dir = TempDir::new("ext-crash-init");
    let f = with_extensions(&dir, "f", &[("fragile", "crash_init")]);
    let emu = start(vec![f]).await;
    let doc = failed(&emu, "f", "{}").await;
    assert_eq!(doc["errorType"], "Extension.Crash");
    let message = doc["errorMessage"].as_str().unwrap();
    assert!(
        message.ends_with("Error: Extension fragile exited: exit status 2"),
        "{message}"
    );
    // The first Init failed, then the one retried inside the invoke (the extension started
    // anew, crashing again).
    for phase in ["init", "invoke"] {
        wait_for_line(&emu, "f", |l| {
            l.starts_with("INIT_REPORT Init Duration:")
                && l.ends_with(&format!(
                    "Phase: {phase}\tStatus: error\tError Type: Extension.Crash"
                ))
        })
        .await;
    }
}

#[tokio::test]
async fn an_extension_init_error_fails_the_invoke_with_its_own_type() {
    let dir = TempDir::new("ext-init-error");
    let f = with_extensions(&dir, "f", &[("picky", "init_error")]);
    let emu = start(vec![f]).await;
    let doc = failed(&emu, "f", "{}").await;
    assert_eq!(doc["errorType"], "Extension.ConfigError");
    assert_eq!(doc["errorMessage"], "no config");
    wait_for_line(&emu, "f", |l| l == "[picky] init/error 202").await;
    wait_for_line(&emu, "f", |l| {
        l.ends_with("Status: error\tError Type: Extension.ConfigError")
    })
    .await;
    // The environment was reset: the next invoke runs Init again inside its invoke (and fails
    // the same way).
    let doc = failed(&emu, "f", "{}").await;
    assert_eq!(doc["errorType"], "Extension.ConfigError");
}

#[tokio::test]
async fn an_extension_crashing_during_an_invocation_fails_it_and_the_next_invoke_runs_init_again() {
    let dir = TempDir::new("ext-crash-invoke");
    let f = with_extensions(&dir, "f", &[("fragile", "crash_invoke")]);
    let emu = start(vec![f]).await;
    let doc = failed(&emu, "f", r#"{"sleep": 1}"#).await;
    assert_eq!(doc["errorType"], "Extension.Crash");
    assert!(
        doc["errorMessage"]
            .as_str()
            .unwrap()
            .ends_with("Error: Extension fragile exited: exit status 3"),
        "{doc}"
    );
    // The environment is reset: Init runs again inside the next invoke, with the extension
    // started anew (it crashes again on its first INVOKE), and no new environment.
    let doc = failed(&emu, "f", r#"{"sleep": 1}"#).await;
    assert_eq!(doc["errorType"], "Extension.Crash");
    let texts = texts(&emu, "f");
    let init_starts = texts.iter().filter(|l| l.starts_with("INIT_START")).count();
    assert_eq!(init_starts, 1, "{texts:#?}");
    let m = metrics(&emu).await;
    assert_eq!(
        metric(&m, "firebox_suppressed_inits_total{function=\"f\"}"),
        Some(1.0)
    );
}

/// A function whose extension `name` (in `mode`) keeps Init from ending: the invoke times
/// out (Init's 500 ms, then its retry under the 1 s timeout) and the log has `line`.
async fn init_times_out_with(name: &str, mode: &str, line: &str) -> Emulator {
    let dir = TempDir::new(&format!("ext-{mode}"));
    let f = with_extensions(&dir, "f", &[(name, mode)])
        .init_timeout(Duration::from_millis(500))
        .timeout(Duration::from_secs(1));
    let emu = start(vec![f]).await;
    let doc = failed(&emu, "f", "{}").await;
    assert_eq!(doc["errorType"], "Sandbox.Timedout");
    wait_for_line(&emu, "f", |l| l == line).await;
    emu
}

#[tokio::test]
async fn an_extension_that_never_registers_times_init_out_and_the_log_says_why() {
    let emu = init_times_out_with(
        "silent",
        "no_register",
        "Extension silent did not register: it must call /2020-01-01/extension/register with Lambda-Extension-Name: silent (its file name)",
    )
    .await;
    // The runtime never started: its Init lines are absent.
    assert!(!texts(&emu, "f").iter().any(|l| l.contains("\"pid\"")));
}

#[tokio::test]
async fn an_extension_that_never_calls_next_times_init_out_and_the_log_names_it() {
    init_times_out_with(
        "stuck",
        "no_next",
        "Extension stuck registered but did not call /2020-01-01/extension/event/next: Init ends when the runtime and every extension wait in next",
    )
    .await;
}

#[tokio::test]
async fn bad_extension_calls_get_403_with_lambdas_error_types() {
    let dir = TempDir::new("ext-probe");
    let f = with_extensions(&dir, "f", &[("probe", "probe")]);
    let emu = start(vec![f]).await;
    ok(&emu, "f", "{}").await;
    for (case, want) in [
        ("no_name", "403 Extension.InvalidExtensionName"),
        ("bad_body", "403 InvalidRequestFormat"),
        ("bad_event", "403 Extension.InvalidEventType"),
        ("next_no_id", "403 Extension.MissingExtensionIdentifier"),
        (
            "next_invalid_id",
            "403 Extension.InvalidExtensionIdentifier",
        ),
        (
            "next_unknown_id",
            "403 Extension.UnknownExtensionIdentifier",
        ),
        ("register_twice", "403 Extension.InvalidExtensionState"),
        ("init_error_no_type", "403 Extension.MissingHeader"),
        ("register_after_init", "403 Extension.RegistrationClosed"),
    ] {
        let line = wait_for_line(&emu, "f", |l| l.starts_with(&format!("PROBE {case} "))).await;
        assert_eq!(line, format!("PROBE {case} {want}"));
    }
    // None of it broke the environment.
    ok(&emu, "f", "{}").await;
}

#[tokio::test]
async fn an_internal_extension_registers_from_the_runtime_and_gets_invoke_events() {
    let f = function("f", "internal_ext");
    let emu = start(vec![f]).await;
    let (id, _) = ok(&emu, "f", "{}").await;
    wait_for_line(&emu, "f", |l| {
        l == "POST internal-shutdown 403 Extension.InvalidEventType"
    })
    .await;
    wait_for_line(&emu, "f", |l| l == "POST internal-ext 200").await;
    wait_for_line(&emu, "f", |l| l == format!("[internal-ext] INVOKE {id}")).await;
    wait_for_line(&emu, "f", |l| {
        l == "EXTENSION\tName: internal-ext\tState: Ready\tEvents: [INVOKE]"
    })
    .await;
}

#[tokio::test]
async fn extensions_are_checked_when_the_function_is_defined() {
    let dir = TempDir::new("ext-config");
    let plain = dir.path("plain.txt");
    std::fs::write(&plain, "not a program").unwrap();
    let base = std::path::Path::new("/");
    let err = |f: FunctionConfig| f.validate("test.toml", base).unwrap_err().to_string();
    let f = || FunctionConfig::new("f").command(["/bin/true"]);
    let missing = err(f().extension(dir.path("nowhere")));
    assert!(
        missing.contains("field 'extensions'") || missing.contains("extensions"),
        "{missing}"
    );
    assert!(missing.contains("nowhere"), "{missing}");
    let not_exec = err(f().extension(&plain));
    assert!(not_exec.contains("is not an executable file"), "{not_exec}");
    let sub = TempDir::new("ext-config-sub");
    let twice = err(f()
        .extension(extension(&dir, "same"))
        .extension(extension(&sub, "same")));
    assert!(twice.contains("two extensions are named `same`"), "{twice}");
    let mut many = f();
    for i in 0..11 {
        many = many.extension(extension(&dir, &format!("e{i}")));
    }
    assert!(err(many).contains("more than Lambda's limit of 10"));
}

/// The records a telemetry subscriber received so far (one JSON object per line).
fn received(path: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON record"))
        .collect()
}

#[tokio::test]
async fn a_telemetry_subscriber_gets_the_init_records_the_invocations_and_both_outputs() {
    let dir = TempDir::new("ext-telemetry");
    let out = dir.path("records.jsonl");
    // Not frozen between invocations: a frozen extension cannot take its batches, which then
    // wait for the next thaw (as on Lambda).
    let f = with_extensions(&dir, "f", &[("telemetry", "telemetry")])
        .env("EXT_TELEMETRY_OUT", out.display().to_string())
        .freeze(false);
    let emu = start(vec![f]).await;
    let r = emu.invoke("f", r#"{"print": 2}"#).await.unwrap();
    assert_eq!(
        (r.status.as_u16(), r.function_error.as_deref()),
        (200, None)
    );
    let (id, produced) = (r.request_id.clone().unwrap(), r.body.len());
    for (case, want) in [
        ("telemetry_bad_buffering", "400 ValidationError"),
        (
            "telemetry_no_id",
            "403 Extension.MissingExtensionIdentifier",
        ),
        (
            "telemetry_invalid_id",
            "403 Extension.InvalidExtensionIdentifier",
        ),
        (
            "telemetry_unknown_id",
            "403 Extension.UnknownExtensionIdentifier",
        ),
    ] {
        let line = wait_for_line(&emu, "f", |l| l.starts_with(&format!("PROBE {case} "))).await;
        assert_eq!(line, format!("PROBE {case} {want}"));
    }
    wait_for_line(&emu, "f", |l| l == "[telemetry] subscribed 200").await;
    // Lambda's log line for the subscription, before the extension's `EXTENSION` line.
    let lines = texts(&emu, "f");
    let at = |wanted: &str| lines.iter().position(|l| l.starts_with(wanted));
    let subscribed =
        at("TELEMETRY\tName: telemetry\tState: Subscribed\tTypes: [Platform, Function, Extension]");
    assert!(subscribed.is_some(), "{lines:#?}");
    assert!(
        subscribed < at("EXTENSION\tName: telemetry\t"),
        "{lines:#?}"
    );
    // The first invocation counts until the extension called `/next` again; after that the
    // next invoke goes to the same environment (on a slow machine it would otherwise start a
    // second one, with a second Init).
    wait_metric(&emu, "firebox_concurrent_executions{function=\"f\"}", 0.0).await;
    // A function error, in a trace its caller sampled.
    let sampled = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
    let error = r#"{"error": {"type": "Flaky", "message": "no"}}"#;
    let failed = invoke_raw(emu.endpoint(), "f", &[("x-amzn-trace-id", sampled)], error).await;
    assert_eq!(
        failed.header("x-amz-function-error"),
        Some("Unhandled"),
        "{} {}",
        failed.status,
        String::from_utf8_lossy(&failed.body)
    );
    // Batches arrive within the 25 ms buffering timeout; wait (bounded) for both reports.
    let mut records = Vec::new();
    for _ in 0..3000 {
        records = received(&out);
        if records
            .iter()
            .filter(|r| r["type"] == "platform.report")
            .count()
            == 2
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let of = |kind: &str| -> Vec<&serde_json::Value> {
        records.iter().filter(|r| r["type"] == kind).collect()
    };
    // Init, from before the subscription: the start, the extension, the runtime done, the report.
    assert_eq!(of("platform.initStart").len(), 1, "{records:#?}");
    assert_eq!(
        of("platform.initStart")[0]["record"]["initializationType"],
        "on-demand"
    );
    assert_eq!(
        of("platform.telemetrySubscription")[0]["record"]["name"],
        "telemetry"
    );
    assert_eq!(
        of("platform.extension")[0]["record"]["events"],
        serde_json::json!(["INVOKE", "SHUTDOWN"])
    );
    assert_eq!(
        of("platform.initRuntimeDone")[0]["record"]["status"],
        "success"
    );
    assert!(
        of("platform.initReport")[0]["record"]["metrics"]["durationMs"]
            .as_f64()
            .unwrap()
            > 0.0
    );
    // The invocation: start, the function's two lines, runtime done, report.
    assert_eq!(of("platform.start")[0]["record"]["requestId"], id.as_str());
    let lines: Vec<&str> = of("function")
        .iter()
        .filter_map(|r| r["record"].as_str())
        .collect();
    assert!(
        lines.contains(&"line 0") && lines.contains(&"line 1"),
        "{lines:?}"
    );
    // The extension's own lines are `extension` records, not `function` ones.
    assert!(
        !lines.iter().any(|l| l.starts_with("[telemetry]")),
        "{lines:?}"
    );
    let extension_lines: Vec<&str> = of("extension")
        .iter()
        .filter_map(|r| r["record"].as_str())
        .collect();
    assert!(
        extension_lines.contains(&"[telemetry] subscribed 200"),
        "{extension_lines:?}"
    );
    assert!(
        extension_lines
            .iter()
            .all(|l| l.starts_with("[telemetry]") || l.starts_with("PROBE ")),
        "{extension_lines:?}"
    );
    let done = &of("platform.runtimeDone")[0]["record"];
    assert_eq!(
        (done["requestId"].as_str(), done["status"].as_str()),
        (Some(id.as_str()), Some("success"))
    );
    // The response's size and spans: the time until the runtime began to send it, then the
    // sending, together within the invocation's duration. Not sampled: no trace context.
    assert_eq!(done["metrics"]["producedBytes"], produced, "{done}");
    let spans = done["spans"].as_array().unwrap();
    let span = |i: usize, name: &str| {
        assert_eq!(spans[i]["name"], name, "{done}");
        spans[i]["durationMs"].as_f64().unwrap()
    };
    let (latency, sending) = (span(0, "responseLatency"), span(1, "responseDuration"));
    let duration = done["metrics"]["durationMs"].as_f64().unwrap();
    assert!(
        latency > 0.0 && sending >= 0.0 && latency + sending <= duration,
        "{done}"
    );
    assert_eq!(done.get("tracing"), None, "{done}");
    assert_eq!(of("platform.start")[0]["record"].get("tracing"), None);
    // The error: no response, so no bytes and no spans; its type (the runtime's `Flaky`, as
    // the platform names it); the caller's sampled trace.
    let done = &of("platform.runtimeDone")[1]["record"];
    assert_eq!(
        (done["status"].as_str(), done["errorType"].as_str()),
        (Some("error"), Some("Runtime.Unknown")),
        "{done}"
    );
    assert_eq!(done["metrics"]["producedBytes"], 0, "{done}");
    assert_eq!(done["spans"], serde_json::json!([]), "{done}");
    let context = serde_json::json!({
        "spanId": "53995c3f42cd8ad8", "type": "X-Amzn-Trace-Id", "value": sampled
    });
    for kind in ["platform.start", "platform.runtimeDone", "platform.report"] {
        assert_eq!(of(kind)[1]["record"]["tracing"], context, "{kind}");
    }
    let report = &of("platform.report")[0]["record"];
    assert_eq!(report["requestId"], id.as_str());
    assert_eq!(report["metrics"]["memorySizeMB"], 128);
    assert!(report["metrics"]["maxMemoryUsedMB"].as_u64().unwrap() > 0);
    assert!(
        report["metrics"]["initDurationMs"].as_f64().is_some(),
        "a cold start: {report}"
    );
    // Every record has an RFC 3339 time.
    assert!(records
        .iter()
        .all(|r| r["time"].as_str().is_some_and(|t| t.ends_with('Z'))));
}

#[tokio::test]
async fn an_extension_reporting_exit_error_fails_the_invocation_with_its_type() {
    let dir = TempDir::new("ext-exit-error");
    let f = with_extensions(&dir, "f", &[("doomed", "exit_error")]);
    let emu = start(vec![f]).await;
    let doc = failed(&emu, "f", r#"{"sleep": 1}"#).await;
    assert_eq!(doc["errorType"], "Extension.Boom");
    assert!(
        doc["errorMessage"]
            .as_str()
            .unwrap()
            .ends_with("Error: Extension doomed exited: exit status 4"),
        "{doc}"
    );
    wait_for_line(&emu, "f", |l| l == "[doomed] exit/error 202").await;
    wait_for_line(&emu, "f", |l| {
        l == "Extension doomed reported an exit error: Extension.Boom"
    })
    .await;
    // After exit/error no further call of the extension succeeds.
    wait_for_line(&emu, "f", |l| {
        l == "PROBE after_exit_error 403 Extension.InvalidExtensionState"
    })
    .await;
}

#[tokio::test]
async fn a_second_next_from_the_same_extension_at_once_is_refused() {
    let dir = TempDir::new("ext-double-next");
    // Not frozen: the second call comes 300 ms after the first, while the environment idles.
    let f = with_extensions(&dir, "f", &[("greedy", "double_next")]).freeze(false);
    let emu = start(vec![f]).await;
    // Registered for SHUTDOWN only, its first next stays parked while the second comes.
    ok(&emu, "f", "{}").await;
    let line = wait_for_line(&emu, "f", |l| l.starts_with("PROBE double_next ")).await;
    assert_eq!(
        line,
        "PROBE double_next 403 Extension.InvalidExtensionState"
    );
    // The refusal changed nothing: the environment still serves.
    ok(&emu, "f", "{}").await;
}

/// A function whose first Init never ends (a shell that leaves a marker, then sleeps) and
/// whose retried Init starts the test runtime: the Init timeout (2 s) resets the environment
/// and the retry, under the function timeout, succeeds. With the external extension `name` in
/// `mode`.
fn slow_first_init(dir: &TempDir, name: &str, mode: &str) -> FunctionConfig {
    let marker = dir.path("marker");
    let script = format!(
        "if [ -e '{m}' ]; then exec {PYTHON} -u '{r}'; else : > '{m}'; echo slow init; exec sleep 1000; fi",
        m = marker.display(),
        r = runtime_script()
    );
    FunctionConfig::new("f")
        .command(["/bin/sh", "-c", &script])
        .init_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(20))
        .idle_timeout(Duration::from_secs(60))
        .extension(extension(dir, name))
        .env(format!("EXT_MODE_{}", name.to_uppercase()), mode)
}

/// Indexes of the log lines satisfying `pred`.
fn positions(emu: &Emulator, function: &str, pred: impl Fn(&str) -> bool) -> Vec<usize> {
    texts(emu, function)
        .iter()
        .enumerate()
        .filter(|(_, l)| pred(l))
        .map(|(i, _)| i)
        .collect()
}

#[tokio::test]
async fn an_init_timeout_resets_the_extensions_with_a_timeout_shutdown_before_the_retry() {
    let dir = TempDir::new("ext-init-reset");
    let emu = start(vec![slow_first_init(&dir, "watcher", "normal")]).await;
    let (id, pid) = ok(&emu, "f", "{}").await;
    let log = || texts(&emu, "f").join("\n");

    // The first Init's extension heard of the reset, with reason `timeout` and the phase's
    // deadline, and exited by itself.
    let shutdown = position(&emu, "f", "[watcher] SHUTDOWN");
    let line = &texts(&emu, "f")[shutdown];
    let parts: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(parts[2], "timeout", "{line}");
    let left: i64 = parts[4].parse().unwrap();
    assert!(
        (0..=2000).contains(&left),
        "the deadline is the phase's: {line}"
    );
    assert!(line.ends_with("after 0 invokes"), "{line}");
    // In order: the Init timed out, its extension got SHUTDOWN, then the retry started a new
    // extension, which registered and got the invocation's INVOKE.
    let timed_out = position(&emu, "f", "Phase: init\tStatus: timeout");
    let registered = positions(&emu, "f", |l| l.starts_with("[watcher] registered 200"));
    assert_eq!(registered.len(), 2, "two Inits, two extensions:\n{}", log());
    assert!(
        timed_out < shutdown && shutdown < registered[1],
        "the SHUTDOWN came between the Init timeout and the retry:\n{}",
        log()
    );
    let invoke_line = format!("[watcher] INVOKE {id}");
    wait_for_line(&emu, "f", |l| l.starts_with(&invoke_line)).await;
    let invoke = position(&emu, "f", &invoke_line);
    assert!(registered[1] < invoke, "{}", log());
    // Only one SHUTDOWN so far: the new extension lives on, and the environment is warm.
    assert_eq!(
        positions(&emu, "f", |l| l.starts_with("[watcher] SHUTDOWN")).len(),
        1,
        "{}",
        log()
    );
    invoke_phase_over(&emu, "f").await;
    let (_, again) = ok(&emu, "f", "{}").await;
    assert_eq!(
        pid, again,
        "the retried Init's environment serves the next invoke"
    );
}

#[tokio::test]
async fn an_extension_that_ignores_the_shutdown_of_a_reset_is_killed_and_the_retry_goes_on() {
    let dir = TempDir::new("ext-init-reset-stuck");
    let emu = start(vec![slow_first_init(&dir, "stubborn", "ignore_shutdown")]).await;
    let began = std::time::Instant::now();
    let (id, _) = ok(&emu, "f", "{}").await;
    let took = began.elapsed();
    // The Init timeout (2 s), then the whole Shutdown limit (2 s) that the extension let
    // pass, then the retry.
    assert!(
        took >= Duration::from_millis(3900),
        "the reset waited for the extension: {took:?}"
    );
    let line = wait_for_line(&emu, "f", |l| l.starts_with("[stubborn] SHUTDOWN")).await;
    let (reason, pid) = line
        .strip_prefix("[stubborn] SHUTDOWN ")
        .and_then(|rest| rest.split_once(" ignored by pid "))
        .unwrap_or_else(|| panic!("{line}"));
    assert_eq!(reason, "timeout");
    // It was killed when the limit passed, while the environment (and the retry's
    // extension) lives on.
    assert!(!alive(pid.parse().unwrap()), "the old extension still runs");
    wait_for_line(&emu, "f", |l| {
        l.starts_with(&format!("[stubborn] INVOKE {id}"))
    })
    .await;
    assert!(emu.live_processes() > 0, "the environment is gone");
}

#[tokio::test]
async fn extensions_learn_why_a_failed_environment_resets() {
    let dir = TempDir::new("ext-reset-reasons");
    let other = TempDir::new("ext-reset-reasons-init");
    let f = with_extensions(&dir, "f", &[("watcher", "normal")]).timeout(Duration::from_secs(1));
    let init_fails = with_extensions(&other, "g", &[("watcher", "normal")]).command([
        PYTHON,
        "-u",
        &runtime_script(),
        "init_error",
    ]);
    let emu = start(vec![f, init_fails]).await;
    let shutdown = |reason: &'static str, invokes: usize| {
        let (start, end) = (
            format!("[watcher] SHUTDOWN {reason} "),
            format!("after {invokes} invokes"),
        );
        move |l: &str| l.starts_with(&start) && l.ends_with(&end)
    };
    // The invocation times out: the reset is a `timeout`.
    let doc = failed(&emu, "f", r#"{"sleep": 3}"#).await;
    assert_eq!(doc["errorType"], "Sandbox.Timedout");
    wait_for_line(&emu, "f", shutdown("timeout", 1)).await;
    // The runtime crashes during an invocation: a `failure`.
    let doc = failed(&emu, "f", r#"{"exit": 3}"#).await;
    assert_eq!(doc["errorType"], "Runtime.ExitError");
    wait_for_line(&emu, "f", shutdown("failure", 1)).await;
    // The runtime's Init fails: a `failure` too, before any invocation.
    let doc = failed(&emu, "g", "{}").await;
    assert_eq!(doc["errorType"], "MyInitError");
    wait_for_line(&emu, "g", shutdown("failure", 0)).await;
}

#[tokio::test]
async fn an_extension_crashing_after_the_answer_is_logged_and_the_environment_is_reset() {
    let dir = TempDir::new("ext-crash-after");
    let f = with_extensions(&dir, "f", &[("fragile", "crash_after")]);
    let emu = start(vec![f]).await;
    // The runtime answers at once; the extension is still in its invoke phase and crashes
    // 0.5 s later. The caller has its answer, so only the log can say why the environment went.
    let (id, first_pid) = ok(&emu, "f", "{}").await;
    let want = format!("RequestId: {id} Error: Extension fragile exited: exit status 3");
    wait_for_line(&emu, "f", |l| l == want).await;
    wait_for_line(&emu, "f", |l| l == "Extension.Crash").await;
    // Its invoke phase ended with the crash: its REPORT comes then, and says so.
    let report = wait_for_line(&emu, "f", |l| l.starts_with("REPORT")).await;
    assert!(
        report.starts_with(&format!("REPORT RequestId: {id}\t")),
        "{report}"
    );
    assert!(
        report.ends_with("\tStatus: error\tError Type: Extension.Crash"),
        "{report}"
    );
    assert!(position(&emu, "f", &want) < position(&emu, "f", &report));
    // The reset runs Init again (inside the next invoke, as after any failure): a new runtime.
    let (second, second_pid) = ok(&emu, "f", "{}").await;
    assert_ne!(first_pid, second_pid, "the runtime was started again");
    wait_for_line(&emu, "f", |l| {
        l.starts_with(&format!("REPORT RequestId: {second}\t"))
    })
    .await;
    let texts = texts(&emu, "f");
    let reports = texts.iter().filter(|l| l.starts_with("REPORT")).count();
    assert_eq!(reports, 2, "{texts:#?}");
}
