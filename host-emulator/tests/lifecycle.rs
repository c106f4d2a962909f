//! Lifecycle of execution environments, against real processes: cold and warm starts,
//! timeouts, crashes, init failures, init retries, idle reclaim and clean shutdown.

mod common;

use std::time::Duration;

use common::*;
use firebox_emulator::{Emulator, FunctionConfig};

#[tokio::test]
async fn cold_then_warm_reuses_the_environment() {
    let emu = start(vec![function("echo", "print_init")]).await;
    let first = emu.invoke("echo", r#"{"n": 1}"#).await.unwrap();
    assert_eq!(first.status, 200, "{}", first.text());
    assert_eq!(first.function_error, None);
    assert_eq!(first.executed_version.as_deref(), Some("$LATEST"));
    let a = first.json().unwrap();
    assert_eq!(a["event"]["n"], 1);
    assert_eq!(a["count"], 1);
    assert_eq!(
        Some(a["request_id"].as_str().unwrap()),
        first.request_id.as_deref()
    );

    let second = emu.invoke("echo", r#"{"n": 2}"#).await.unwrap();
    let b = second.json().unwrap();
    assert_eq!(b["pid"], a["pid"], "warm invoke runs in the same process");
    assert_eq!(b["count"], 2);

    let reports = reports(&emu, "echo");
    assert_eq!(reports.len(), 2, "{reports:?}");
    assert!(reports[0].contains("\tInit Duration: "), "{}", reports[0]);
    assert!(!reports[1].contains("Init Duration"), "{}", reports[1]);
    let texts = texts(&emu, "echo");
    let init = texts
        .iter()
        .position(|t| t.starts_with("INIT_START"))
        .unwrap();
    let line1 = texts.iter().position(|t| t == "init line 1").unwrap();
    let start = texts
        .iter()
        .position(|t| t.starts_with("START RequestId: "))
        .unwrap();
    assert!(init < line1 && line1 < start, "{texts:?}");
    assert_eq!(
        texts.iter().filter(|t| t.starts_with("INIT_START")).count(),
        1
    );
    assert!(texts.contains(&format!(
        "END RequestId: {}",
        a["request_id"].as_str().unwrap()
    )));
}

#[tokio::test]
async fn report_line_has_every_field_in_order() {
    let emu = start(vec![function("echo", "").memory_mb(256)]).await;
    emu.invoke("echo", "{}").await.unwrap();
    let report = &reports(&emu, "echo")[0];
    let fields: Vec<&str> = report.split('\t').collect();
    assert!(fields[0].starts_with("REPORT RequestId: "), "{report}");
    assert!(
        fields[1].starts_with("Duration: ") && fields[1].ends_with(" ms"),
        "{report}"
    );
    assert!(fields[2].starts_with("Billed Duration: "), "{report}");
    assert_eq!(fields[3], "Memory Size: 256 MB");
    assert!(fields[4].starts_with("Max Memory Used: "), "{report}");
    assert!(fields[5].starts_with("Init Duration: "), "{report}");
    assert_eq!(fields.len(), 6);
    // Billed Duration includes Init for custom runtimes and rounds up.
    let num = |f: &str| -> f64 {
        f.split(": ")
            .nth(1)
            .unwrap()
            .trim_end_matches(" ms")
            .parse()
            .unwrap()
    };
    let billed = num(fields[2]);
    assert!(
        billed >= (num(fields[1]) + num(fields[5])).floor(),
        "{report}"
    );
}

#[tokio::test]
async fn max_memory_used_is_measured() {
    let emu = start(vec![function("mem", "").memory_mb(512)]).await;
    emu.invoke("mem", "{}").await.unwrap();
    emu.invoke("mem", r#"{"alloc_mb": 120}"#).await.unwrap();
    let reports = reports(&emu, "mem");
    let used = |r: &str| -> u64 { report_number(r, "Max Memory Used") as u64 };
    let small = used(&reports[0]);
    let big = used(&reports[1]);
    assert!(
        small > 1 && small < 100,
        "python at rest is not 512 MB: {}",
        reports[0]
    );
    assert!(
        (120..512).contains(&big),
        "peak after allocating 120 MB: {}",
        reports[1]
    );
}

#[tokio::test]
async fn timeout_resets_the_environment_and_next_runs_init_again() {
    // Two seconds: long enough for the quick first answer on a loaded machine.
    let emu = start(vec![function("slow", "").timeout(Duration::from_secs(2))]).await;
    let first = emu.invoke("slow", "{}").await.unwrap();
    let pid = first.json().unwrap()["pid"].as_i64().unwrap();
    let timed_out = emu.invoke("slow", r#"{"sleep": 30}"#).await.unwrap();
    assert_eq!(timed_out.status, 200);
    assert_eq!(timed_out.function_error.as_deref(), Some("Unhandled"));
    let doc = timed_out.json().unwrap();
    let id = timed_out.request_id.clone().unwrap();
    assert_eq!(doc["errorType"], "Sandbox.Timedout");
    assert_eq!(
        doc["errorMessage"],
        format!("RequestId: {id} Error: Task timed out after 2.00 seconds")
    );
    assert!(wait_gone(pid).await, "timed-out process is killed");
    let line = wait_for_line(&emu, "slow", |t| {
        t.contains("Task timed out after 2.00 seconds")
    })
    .await;
    assert!(line.contains(&id), "{line}");
    assert!(
        line.split(' ').next().unwrap().ends_with('Z'),
        "timestamp first: {line}"
    );

    // Init runs again inside the next invoke (a suppressed Init: no Init Duration), in a new
    // process of the same environment; `reset.rs` covers the rest.
    let after = emu.invoke("slow", "{}").await.unwrap();
    let a = after.json().unwrap();
    assert_ne!(a["pid"].as_i64().unwrap(), pid);
    assert_eq!(a["count"], 1);
    let reports = reports(&emu, "slow");
    assert_eq!(reports.len(), 3);
    assert!(!reports[1].contains("Init Duration"));
    assert!(
        !reports[2].contains("Init Duration"),
        "Init inside the invoke: {}",
        reports[2]
    );
}

#[tokio::test]
async fn crash_during_invoke_is_runtime_exit_error_then_init_again() {
    let emu = start(vec![function("crash", "")]).await;
    let r = emu.invoke("crash", r#"{"exit": 7}"#).await.unwrap();
    assert_eq!(r.function_error.as_deref(), Some("Unhandled"));
    let id = r.request_id.clone().unwrap();
    assert_eq!(r.json().unwrap()["errorType"], "Runtime.ExitError");
    assert_eq!(
        r.json().unwrap()["errorMessage"],
        format!("RequestId: {id} Error: Runtime exited with error: exit status 7")
    );
    let r = emu.invoke("crash", r#"{"kill": "SIGKILL"}"#).await.unwrap();
    let id = r.request_id.clone().unwrap();
    assert_eq!(
        r.json().unwrap()["errorMessage"],
        format!("RequestId: {id} Error: Runtime exited with error: signal: killed")
    );
    let ok = emu.invoke("crash", "{}").await.unwrap();
    assert_eq!(
        ok.json().unwrap()["count"],
        1,
        "Init ran again after a crash"
    );
    assert!(!reports(&emu, "crash")[2].contains("Init Duration"));
    assert!(texts(&emu, "crash")
        .iter()
        .any(|t| t == "Runtime.ExitError"));
}

#[tokio::test]
async fn function_error_keeps_the_environment_warm() {
    let emu = start(vec![function("err", "")]).await;
    let first = emu.invoke("err", "{}").await.unwrap().json().unwrap();
    let r = emu
        .invoke(
            "err",
            r#"{"error": {"type": "ValueError", "message": "bad value"}}"#,
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.function_error.as_deref(), Some("Unhandled"));
    let doc = r.json().unwrap();
    assert_eq!(doc["errorType"], "ValueError");
    assert_eq!(doc["errorMessage"], "bad value");
    assert_eq!(doc["stackTrace"][0], "here");
    let after = emu.invoke("err", "{}").await.unwrap().json().unwrap();
    assert_eq!(after["pid"], first["pid"]);
    assert_eq!(after["count"], 3);
    let reports = reports(&emu, "err");
    assert!(
        reports.iter().all(|r| !r.contains("Status")),
        "a function's own error is no failure of its environment: {reports:#?}"
    );
}

#[tokio::test]
async fn exit_during_init_is_runtime_exit_error() {
    let emu = start(vec![function("exits", "exit_now")]).await;
    let r = emu.invoke("exits", "{}").await.unwrap();
    let id = r.request_id.clone().unwrap();
    assert_eq!(r.function_error.as_deref(), Some("Unhandled"));
    let doc = r.json().unwrap();
    assert_eq!(doc["errorType"], "Runtime.ExitError");
    assert_eq!(
        doc["errorMessage"],
        format!("RequestId: {id} Error: Runtime exited with error: exit status 3")
    );
    assert!(texts(&emu, "exits").contains(&"exiting at once".to_owned()));
}

/// A code directory removed after the start: the error names it, not the program (which
/// exists; `chdir` into the directory is what failed).
#[tokio::test]
async fn a_code_directory_that_is_gone_is_named() {
    let dir = TempDir::new("gone-code");
    let code = dir.path("code");
    std::fs::create_dir_all(&code).unwrap();
    let emu = start(vec![FunctionConfig::new("gone")
        .command([PYTHON, "-u", &runtime_script()])
        .code_dir(&code)])
    .await;
    std::fs::remove_dir_all(&code).unwrap();
    let r = emu.invoke("gone", "{}").await.unwrap();
    let doc = r.json().unwrap();
    assert_eq!(doc["errorType"], "Runtime.InvalidEntrypoint", "{doc}");
    let message = doc["errorMessage"].as_str().unwrap();
    assert!(
        message.contains(&format!("the code directory {} is gone", code.display())),
        "{message}"
    );
}

#[tokio::test]
async fn missing_or_non_executable_command_is_invalid_entrypoint() {
    let dir = std::env::temp_dir().join(format!("firebox-test-noexec-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("bootstrap");
    std::fs::write(&script, "#!/bin/sh\necho hi\n").unwrap(); // not executable
    let emu = start(vec![
        FunctionConfig::new("missing").command(["/nonexistent/bootstrap"]),
        FunctionConfig::new("noexec").code_dir(&dir),
    ])
    .await;
    // Deployed as on Lambda, but the start said so, for a test to see.
    let warnings = emu.warnings();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(
        warnings[0].contains("missing") && warnings[0].contains("/nonexistent/bootstrap"),
        "{warnings:?}"
    );
    assert!(warnings[1].contains("noexec"), "{warnings:?}");
    let ok = start(vec![function("f", "")]).await;
    assert!(ok.warnings().is_empty(), "{:?}", ok.warnings());
    let r = emu.invoke("missing", "{}").await.unwrap();
    assert_eq!(r.function_error.as_deref(), Some("Unhandled"));
    let doc = r.json().unwrap();
    assert_eq!(doc["errorType"], "Runtime.InvalidEntrypoint");
    let message = doc["errorMessage"].as_str().unwrap();
    assert!(
        message.contains("fork/exec /nonexistent/bootstrap: no such file or directory"),
        "{message}"
    );
    // As on Lambda: the first Init fails, the one retried inside the invoke too, then the
    // invocation is logged with the failure's status.
    let invalid = "Status: error\tError Type: Runtime.InvalidEntrypoint";
    let texts = texts(&emu, "missing");
    let init_reports: Vec<_> = texts
        .iter()
        .filter(|t| t.starts_with("INIT_REPORT") && t.ends_with(invalid))
        .collect();
    assert_eq!(init_reports.len(), 2, "{texts:#?}");
    assert!(init_reports[0].contains("Phase: init\t"), "{texts:#?}");
    assert!(init_reports[1].contains("Phase: invoke\t"), "{texts:#?}");
    let start = texts.iter().position(|t| t.starts_with("START ")).unwrap();
    let error = texts.iter().position(|t| t == message).unwrap();
    assert!(
        start < error,
        "the error is part of the invocation: {texts:#?}"
    );
    assert!(reports(&emu, "missing")[0].ends_with(invalid), "{texts:#?}");
    let r = emu.invoke("noexec", "{}").await.unwrap();
    let doc = r.json().unwrap();
    assert_eq!(doc["errorType"], "Runtime.InvalidEntrypoint");
    assert!(
        doc["errorMessage"]
            .as_str()
            .unwrap()
            .contains("permission denied"),
        "{doc}"
    );
    // The emulator keeps serving.
    assert_eq!(emu.invoke("missing", "{}").await.unwrap().status, 200);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A `bootstrap` without a `#!` line is not run through `/bin/sh`: `exec` fails it, as on
/// Lambda.
#[tokio::test]
async fn a_bootstrap_without_an_interpreter_line_is_invalid_entrypoint() {
    let dir = TempDir::new("no-shebang");
    let script = dir.path("bootstrap");
    std::fs::write(&script, "echo started\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let emu = start(vec![FunctionConfig::new("plain").code_dir(&*dir)]).await;
    let r = emu.invoke("plain", "{}").await.unwrap();
    let doc = r.json().unwrap();
    assert_eq!(doc["errorType"], "Runtime.InvalidEntrypoint", "{doc}");
    let message = doc["errorMessage"].as_str().unwrap();
    assert!(message.contains("exec format error"), "{message}");
    assert!(!texts(&emu, "plain").iter().any(|t| t == "started"));
}

#[tokio::test]
async fn init_that_never_calls_next_times_out_after_retry() {
    // A shell that prints at once and never calls /next: each Init's line is logged long before
    // its limit, however loaded the machine is (a Python start-up can take longer than that).
    let emu = start(vec![FunctionConfig::new("stuck")
        .command(["/bin/sh", "-c", "echo never calling next; exec sleep 1000"])
        .init_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(2))])
    .await;
    let r = emu.invoke("stuck", "{}").await.unwrap();
    assert_eq!(r.function_error.as_deref(), Some("Unhandled"));
    assert_eq!(r.json().unwrap()["errorType"], "Sandbox.Timedout");
    let texts = texts(&emu, "stuck");
    assert!(
        texts
            .iter()
            .any(|t| t.contains("Phase: init\tStatus: timeout")),
        "{texts:?}"
    );
    assert!(
        texts
            .iter()
            .any(|t| t.contains("Phase: invoke\tStatus: timeout")),
        "{texts:?}"
    );
    assert_eq!(
        texts.iter().filter(|t| *t == "never calling next").count(),
        2,
        "init ran twice"
    );
    wait_until(
        "the stuck process to be killed",
        Duration::from_secs(30),
        || emu.live_processes() == 0,
    )
    .await;
}

#[tokio::test]
async fn slow_init_is_retried_inside_the_invoke_and_succeeds() {
    // The first Init blocks (a shell that creates the marker, then sleeps); the retry finds the
    // marker and starts the runtime. The shell reaches the marker within milliseconds, so the
    // outcome does not depend on how fast Python starts on a loaded machine.
    let dir = TempDir::new("slow-once");
    let marker = dir.path("marker");
    let script = format!(
        "if [ -e '{m}' ]; then exec {PYTHON} -u '{r}'; else : > '{m}'; echo slow init; exec sleep 1000; fi",
        m = marker.display(),
        r = runtime_script()
    );
    let emu = start(vec![FunctionConfig::new("slowinit")
        .command(["/bin/sh", "-c", &script])
        .init_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(20))])
    .await;
    let r = emu.invoke("slowinit", "{}").await.unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.function_error, None, "{}", r.text());
    assert_eq!(r.json().unwrap()["count"], 1);
    let texts = texts(&emu, "slowinit");
    assert!(texts.iter().any(|t| t == "slow init"), "{texts:?}");
    assert!(texts
        .iter()
        .any(|t| t.contains("Phase: init\tStatus: timeout")));
    let report = texts.iter().find(|t| t.starts_with("REPORT")).unwrap();
    assert!(
        !report.contains("Init Duration"),
        "a suppressed init is part of the invoke: {report}"
    );
}

#[tokio::test]
async fn idle_environments_are_reclaimed() {
    let emu = start(vec![
        function("idle", "").idle_timeout(Duration::from_millis(300))
    ])
    .await;
    let pid = emu.invoke("idle", "{}").await.unwrap().json().unwrap()["pid"]
        .as_i64()
        .unwrap();
    assert!(wait_gone(pid).await, "idle environment shut down");
    let again = emu.invoke("idle", "{}").await.unwrap().json().unwrap();
    assert_ne!(again["pid"].as_i64().unwrap(), pid);
    assert_eq!(again["count"], 1);
}

#[tokio::test]
async fn environment_variables_follow_the_contract() {
    let emu = start(vec![function("env", "")
        .handler("app.handler")
        .memory_mb(256)
        .region("eu-west-1")
        .env("GREETING", "hi")])
    .await;
    let r = emu.invoke("env", "{}").await.unwrap().json().unwrap();
    let env = r["env"].as_object().unwrap();
    let get = |k: &str| {
        env.get(k)
            .and_then(|v| v.as_str())
            .unwrap_or_else(|| panic!("{k} missing: {env:?}"))
            .to_owned()
    };
    let api = get("AWS_LAMBDA_RUNTIME_API");
    assert!(api.starts_with("127.0.0.1:") && !api.contains('/'), "{api}");
    assert_eq!(get("_HANDLER"), "app.handler");
    assert_eq!(get("AWS_REGION"), "eu-west-1");
    assert_eq!(get("AWS_DEFAULT_REGION"), "eu-west-1");
    assert_eq!(get("AWS_LAMBDA_FUNCTION_NAME"), "env");
    assert_eq!(get("AWS_LAMBDA_FUNCTION_VERSION"), "$LATEST");
    assert_eq!(get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"), "256");
    assert_eq!(get("AWS_LAMBDA_LOG_GROUP_NAME"), "/aws/lambda/env");
    let stream = get("AWS_LAMBDA_LOG_STREAM_NAME");
    assert!(
        stream.contains("/[$LATEST]") && stream.len() == 10 + 1 + 9 + 32,
        "{stream}"
    );
    assert_eq!(get("AWS_LAMBDA_INITIALIZATION_TYPE"), "on-demand");
    assert_eq!(get("AWS_ACCESS_KEY"), get("AWS_ACCESS_KEY_ID"));
    for k in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "PATH",
        "LANG",
        "LD_LIBRARY_PATH",
        "LAMBDA_RUNTIME_DIR",
    ] {
        assert!(!get(k).is_empty(), "{k}");
    }
    assert_eq!(get("TZ"), ":UTC");
    assert_eq!(get("AWS_XRAY_CONTEXT_MISSING"), "LOG_ERROR");
    assert_eq!(get("AWS_XRAY_DAEMON_ADDRESS"), "127.0.0.1:2000");
    assert_eq!(get("_AWS_XRAY_DAEMON_ADDRESS"), "127.0.0.1");
    assert_eq!(get("_AWS_XRAY_DAEMON_PORT"), "2000");
    assert_eq!(get("GREETING"), "hi");
    let task_root = get("LAMBDA_TASK_ROOT");
    assert_eq!(r["cwd"].as_str().unwrap(), task_root);
    let tmp = get("TMPDIR");
    assert!(std::path::Path::new(&tmp).is_dir());
    assert_eq!(get("HOME"), tmp);
    // Nothing of the emulator's own environment leaks in (except through PATH).
    assert!(!env.contains_key("CARGO_MANIFEST_DIR"), "clean environment");
    drop(emu);
    for _ in 0..200 {
        if !std::path::Path::new(&tmp).exists() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("private TMPDIR {tmp} was not removed");
}

/// `HOME` and `TMPDIR` are not Lambda's reserved names: a function's own values win (they
/// were silently replaced by the private directory). A `code_dir` written with a trailing
/// slash gives `LAMBDA_TASK_ROOT` without one.
#[tokio::test]
async fn a_function_may_set_home_and_tmpdir() {
    let code = std::env::temp_dir().join(format!("firebox-task-root-{}", std::process::id()));
    std::fs::create_dir_all(&code).unwrap();
    let emu = start(vec![function("own", "")
        .code_dir(format!("{}/", code.display()))
        .env("HOME", "/home/custom")
        .env("TMPDIR", code.display().to_string())])
    .await;
    let r = emu.invoke("own", "{}").await.unwrap().json().unwrap();
    assert_eq!(r["env"]["HOME"], "/home/custom");
    assert_eq!(r["env"]["TMPDIR"], code.display().to_string());
    assert_eq!(r["env"]["LAMBDA_TASK_ROOT"], code.display().to_string());
    assert!(
        !r["env"]["LD_LIBRARY_PATH"].as_str().unwrap().contains("//"),
        "{}",
        r["env"]["LD_LIBRARY_PATH"]
    );
    drop(emu);
    let _ = std::fs::remove_dir_all(&code);
}

/// A signal the emulator's process ignores (as a shell makes SIGQUIT for a job started with
/// `&`) is not ignored by the functions it starts: Lambda starts runtimes with default actions.
#[tokio::test]
async fn functions_start_with_default_signal_actions() {
    // SAFETY: `signal(2)` has no memory-safety preconditions; ignoring SIGQUIT in this test
    // process changes nothing for the other tests.
    unsafe { libc::signal(libc::SIGQUIT, libc::SIG_IGN) };
    let script = format!(
        "grep SigIgn /proc/self/status; exec {PYTHON} -u {}",
        runtime_script()
    );
    let emu = start(vec![FunctionConfig::new("signals")
        .command(["sh", "-c", &script])
        .timeout(Duration::from_secs(3))])
    .await;
    assert_eq!(emu.invoke("signals", "{}").await.unwrap().status, 200);
    let line = wait_for_line(&emu, "signals", |t| t.starts_with("SigIgn:")).await;
    let mask = u64::from_str_radix(line.trim_start_matches("SigIgn:").trim(), 16).unwrap();
    assert_eq!(
        mask & (1 << (libc::SIGQUIT - 1)),
        0,
        "SIGQUIT still ignored: {line}"
    );
}

#[tokio::test]
async fn dropping_the_emulator_kills_every_process_including_children() {
    let emu = start(vec![function("tree", "")]).await;
    let r = emu
        .invoke("tree", r#"{"spawn_child": true}"#)
        .await
        .unwrap()
        .json()
        .unwrap();
    let pid = r["pid"].as_i64().unwrap();
    let child = r["child"].as_i64().unwrap();
    assert!(alive(pid) && alive(child));
    drop(emu);
    assert!(wait_gone(pid).await, "runtime killed");
    assert!(
        wait_gone(child).await,
        "its child killed too (whole process group)"
    );
}

#[tokio::test]
async fn shutdown_is_clean() {
    let emu = start(vec![function("a", ""), function("b", "")]).await;
    let pa = emu.invoke("a", "{}").await.unwrap().json().unwrap()["pid"]
        .as_i64()
        .unwrap();
    let pb = emu.invoke("b", "{}").await.unwrap().json().unwrap()["pid"]
        .as_i64()
        .unwrap();
    assert_eq!(emu.live_processes(), 2);
    emu.shutdown().await;
    assert!(wait_gone(pa).await && wait_gone(pb).await);
}

#[tokio::test]
async fn processes_die_when_a_test_panics() {
    let pid = std::sync::Arc::new(std::sync::atomic::AtomicI64::new(0));
    let seen = pid.clone();
    let result = tokio::spawn(async move {
        let emu = start(vec![function("p", "")]).await;
        let r = emu.invoke("p", "{}").await.unwrap().json().unwrap();
        seen.store(
            r["pid"].as_i64().unwrap(),
            std::sync::atomic::Ordering::SeqCst,
        );
        panic!("test failure while the emulator runs");
    })
    .await;
    assert!(result.is_err());
    let pid = pid.load(std::sync::atomic::Ordering::SeqCst);
    assert!(pid > 0);
    assert!(wait_gone(pid).await, "no orphan after a panic");
}

#[tokio::test]
async fn emulator_struct_is_usable_from_builder_directly() {
    // The builder validates functions built in code with file `<code>` in messages.
    let err = Emulator::builder()
        .function(
            FunctionConfig::new("bad")
                .command(["/bin/true"])
                .memory_mb(1),
        )
        .start()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("<code>") && err.contains("bad") && err.contains("memory_mb"),
        "{err}"
    );
    let err = Emulator::builder()
        .function(FunctionConfig::new("twin").command(["/bin/true"]))
        .function(FunctionConfig::new("twin").command(["/bin/true"]))
        .start()
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("twin") && err.contains("twice"), "{err}");
}

/// A function whose bootstrap daemonises a helper (`setsid`, then orphaned) before it starts
/// the runtime, as a bootstrap that starts a sidecar does; the helper writes its pid to `pids`.
fn daemonising(name: &str, pids: &std::path::Path) -> FunctionConfig {
    let script = format!(
        "setsid sh -c 'sleep 1001 & echo $! > {p}' & exec {PYTHON} -u '{r}'",
        p = pids.display(),
        r = runtime_script()
    );
    FunctionConfig::new(name)
        .command(["/bin/sh", "-c", script.as_str()])
        .timeout(Duration::from_secs(3))
}

/// The pid the daemonised helper wrote, once it has (bounded wait).
async fn daemon_pid(pids: &std::path::Path) -> i64 {
    let mut pid = None;
    wait_until("the helper's pid", Duration::from_secs(30), || {
        pid = std::fs::read_to_string(pids)
            .ok()
            .and_then(|t| t.trim().parse::<i64>().ok());
        pid.is_some()
    })
    .await;
    let pid = pid.unwrap_or_default();
    assert!(alive(pid), "the helper runs");
    pid
}

#[tokio::test]
async fn a_daemon_started_in_init_dies_with_the_environment_without_cgroups() {
    // Without cgroups only the process group would find it, and it left the group.
    let dir = TempDir::new("daemon-nocg");
    let pids = dir.path("pid");
    let emu = Emulator::builder()
        .cgroups(false)
        .function(daemonising("d", &pids))
        .start()
        .await
        .unwrap();
    let r = emu.invoke("d", "{}").await.unwrap();
    assert_eq!(r.function_error, None, "{}", r.text());
    let first = daemon_pid(&pids).await;
    // A crash resets the environment: the helper of the killed Init goes with it.
    std::fs::remove_file(&pids).unwrap();
    let crashed = emu.invoke("d", r#"{"exit": 2}"#).await.unwrap();
    assert_eq!(crashed.function_error.as_deref(), Some("Unhandled"));
    assert!(wait_gone(first).await, "the helper outlived the reset");
    // The next invoke runs Init again, with a new helper; shutting down kills it.
    let r = emu.invoke("d", "{}").await.unwrap();
    assert_eq!(r.function_error, None, "{}", r.text());
    let second = daemon_pid(&pids).await;
    emu.shutdown().await;
    assert!(wait_gone(second).await, "the helper outlived the emulator");
}

#[tokio::test]
async fn a_daemon_started_in_init_dies_with_the_environment() {
    // With cgroups (where the machine has them), a helper orphaned before the move into the
    // cgroups is outside them; dropping the emulator must still kill it.
    let dir = TempDir::new("daemon-cg");
    let pids = dir.path("pid");
    let emu = start(vec![daemonising("d", &pids)]).await;
    let r = emu.invoke("d", "{}").await.unwrap();
    assert_eq!(r.function_error, None, "{}", r.text());
    let pid = daemon_pid(&pids).await;
    drop(emu);
    assert!(wait_gone(pid).await, "the helper outlived the emulator");
}

#[tokio::test]
async fn serve_cleans_up_on_sighup_and_removes_what_dead_emulators_left() {
    let dir = TempDir::new("sighup");
    let tmp = dir.path("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    // A directory an emulator killed with SIGKILL left (its pid is gone), and one of a live
    // process (this test's) that must stay.
    let mut gone = std::process::Command::new("true").spawn().unwrap();
    let dead_pid = gone.id();
    gone.wait().unwrap();
    let stale = tmp.join(format!("firebox-{dead_pid}-f-0"));
    let stale_store = tmp.join(format!("firebox-{dead_pid}-packages-1a2b"));
    let live = tmp.join(format!("firebox-{}-f-0", std::process::id()));
    std::fs::create_dir_all(stale.join("sub")).unwrap();
    std::fs::create_dir_all(stale_store.join("f1")).unwrap();
    std::fs::create_dir_all(&live).unwrap();
    let config = format!(
        "[functions.f]\ncommand = [\"{PYTHON}\", \"-u\", \"{}\"]\n",
        runtime_script()
    );
    let mut server = serve::Serve::start_with(&dir, &config, |command| {
        command
            .env("TMPDIR", &tmp)
            .stdout(std::process::Stdio::null());
        // SIGHUP as a terminal leaves it: the tests themselves may run under `nohup`, whose
        // ignored SIGHUP `serve` would inherit and (rightly) leave alone.
        // SAFETY: `signal(2)` is async-signal-safe, as a `pre_exec` hook must be.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(command, || {
                libc::signal(libc::SIGHUP, libc::SIG_DFL);
                Ok(())
            });
        }
    });
    let endpoint = server.endpoint().to_owned();
    assert!(!stale.exists(), "the dead emulator's directory is removed");
    assert!(
        !stale_store.exists(),
        "the dead emulator's package store is removed"
    );
    assert!(live.exists(), "a live process's directory is kept");
    let r = send(
        &endpoint,
        "POST",
        "/2015-03-31/functions/f/invocations",
        &[],
        "{}",
    )
    .await;
    assert_eq!(r.status, 200);
    let pid = r.json()["pid"].as_i64().unwrap();
    // SAFETY: kill(2) has no memory-safety preconditions.
    unsafe { libc::kill(server.id() as i32, libc::SIGHUP) };
    let mut status = None;
    for _ in 0..3000 {
        status = server.try_wait().unwrap();
        if status.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    if !status.is_some_and(|s| s.success()) {
        // The test's own leftovers, before it fails.
        let _ = server.kill();
        // SAFETY: kill(2) has no memory-safety preconditions.
        unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    }
    assert!(
        status.is_some_and(|s| s.success()),
        "serve did not stop cleanly on SIGHUP within 30 s: {status:?}"
    );
    assert!(wait_gone(pid).await, "the environment outlived serve");
    let left: Vec<_> = std::fs::read_dir(&tmp)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .filter(|n| n.to_string_lossy() != live.file_name().unwrap().to_string_lossy())
        .collect();
    assert!(left.is_empty(), "left in TMPDIR: {left:?}");
}
