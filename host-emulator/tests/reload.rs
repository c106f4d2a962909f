//! Reloading on a code change, against real processes: when a function's code changes on disk,
//! its idle environments are stopped and new invocations start new ones with the new code; an
//! invocation in flight finishes on the old code first; `reload(false)` keeps the warm
//! environments; a provisioned concurrency configuration that failed on the old code starts
//! over.

mod common;

use std::time::Duration;

use common::*;
use firebox_emulator::{Emulator, FunctionConfig, ProvisionedStatus, VersionConfig};

/// A function running its own copy of the test runtime from its code directory.
fn copied(dir: &TempDir, name: &str) -> FunctionConfig {
    std::fs::copy(runtime_script(), dir.path("runtime.py")).expect("copy the runtime");
    FunctionConfig::new(name)
        .code_dir(&dir.0)
        .command([PYTHON, "-u", "runtime.py", "print_init"])
        .timeout(Duration::from_secs(30))
}

/// Edits the function's code the way an editor does: the same file, new contents.
fn edit(dir: &TempDir) {
    let path = dir.path("runtime.py");
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str("\n# edited\n");
    std::fs::write(&path, text).unwrap();
}

/// A counter of `/metrics` for one function.
async fn counter(emu: &Emulator, name: &str, function: &str) -> f64 {
    let series = format!("{name}{{function=\"{function}\"}}");
    let text = metrics(emu).await;
    metric(&text, &series).unwrap_or_else(|| panic!("no {series} in:\n{text}"))
}

/// Waits (bounded) until `want` code changes have been noticed.
async fn wait_code_changes(emu: &Emulator, function: &str, want: f64) {
    let series = format!("firebox_code_changes_total{{function=\"{function}\"}}");
    wait_metric(emu, &series, want).await;
}

/// Invokes and returns (pid, count) from the test runtime's answer.
async fn pid_and_count(emu: &Emulator, function: &str, event: &str) -> (i64, i64) {
    let r = emu.invoke(function, event.to_owned()).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.function_error, None, "{}", r.text());
    let v = r.json().unwrap();
    (v["pid"].as_i64().unwrap(), v["count"].as_i64().unwrap())
}

#[tokio::test]
async fn a_code_change_stops_idle_environments_and_the_next_invoke_runs_the_new_code() {
    let dir = TempDir::new("reload-idle");
    let emu = start(vec![copied(&dir, "f")]).await;
    let (old, _) = pid_and_count(&emu, "f", "{}").await;
    assert_eq!(
        pid_and_count(&emu, "f", "{}").await,
        (old, 2),
        "warm before the change"
    );

    edit(&dir);
    wait_code_changes(&emu, "f", 1.0).await;
    assert!(
        wait_gone(old).await,
        "the idle environment of the old code was stopped"
    );

    let (new, count) = pid_and_count(&emu, "f", "{}").await;
    assert_ne!(new, old);
    assert_eq!(count, 1, "a fresh process");
    let reports = reports(&emu, "f");
    assert_eq!(reports.len(), 3, "{reports:?}");
    assert!(
        reports[2].contains("\tInit Duration: "),
        "cold: {}",
        reports[2]
    );
    assert_eq!(
        texts(&emu, "f")
            .iter()
            .filter(|t| t.starts_with("INIT_START"))
            .count(),
        2
    );
    assert_eq!(
        counter(&emu, "firebox_environments_created_total", "f").await,
        2.0
    );
    assert_eq!(
        counter(&emu, "firebox_environments_destroyed_total", "f").await,
        1.0
    );
    assert_eq!(counter(&emu, "firebox_code_changes_total", "f").await, 1.0);
}

#[tokio::test]
async fn an_invocation_in_flight_finishes_on_the_old_code_and_is_its_last() {
    let dir = TempDir::new("reload-busy");
    let emu = std::sync::Arc::new(start(vec![copied(&dir, "f")]).await);
    let gate = Gate::new("reload-busy");
    let event = serde_json::json!({ "wait_for": gate.path() }).to_string();
    let held = {
        let emu = emu.clone();
        tokio::spawn(async move { pid_and_count(&emu, "f", &event).await })
    };
    wait_for_line(&emu, "f", |t| t.starts_with("START RequestId:")).await;

    edit(&dir);
    wait_code_changes(&emu, "f", 1.0).await;
    gate.open();
    let (old, count) = held.await.unwrap();
    assert_eq!(count, 1, "answered by the environment it started in");
    assert!(
        wait_gone(old).await,
        "the old environment ended after its invocation"
    );

    let (new, count) = pid_and_count(&emu, "f", "{}").await;
    assert_ne!(new, old);
    assert_eq!(count, 1, "not the warm environment of the old code");
    let reports = reports(&emu, "f");
    assert_eq!(reports.len(), 2, "{reports:?}");
    assert!(reports[1].contains("\tInit Duration: "), "{}", reports[1]);
}

#[tokio::test]
async fn a_program_replaced_by_a_build_is_picked_up() {
    // The program lives outside the code directory, and a build replaces it by renaming a new
    // file over it (same contents here: the new file is what counts).
    let bin = TempDir::new("reload-bin");
    let code = TempDir::new("reload-bin-code");
    let script = format!(
        "#!/bin/sh\nexec {PYTHON} -u {} print_init\n",
        runtime_script()
    );
    let write_program = |name: &str| {
        use std::os::unix::fs::PermissionsExt;
        let path = bin.path(name);
        std::fs::write(&path, &script).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    };
    let program = write_program("bootstrap");
    let f = FunctionConfig::new("f")
        .command([program.display().to_string()])
        .code_dir(&code.0)
        .timeout(Duration::from_secs(30));
    let emu = start(vec![f]).await;
    let (old, _) = pid_and_count(&emu, "f", "{}").await;

    std::fs::rename(write_program("bootstrap.new"), &program).unwrap();
    wait_code_changes(&emu, "f", 1.0).await;
    let (new, count) = pid_and_count(&emu, "f", "{}").await;
    assert_ne!(new, old);
    assert_eq!(count, 1);
}

#[tokio::test]
async fn with_reload_off_a_code_change_keeps_the_warm_environment() {
    let dir = TempDir::new("reload-off");
    let emu = start(vec![copied(&dir, "f").reload(false)]).await;
    let (old, _) = pid_and_count(&emu, "f", "{}").await;
    edit(&dir);
    // Longer than a change takes to be noticed when reloading is on (two polls, 1 s).
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(pid_and_count(&emu, "f", "{}").await, (old, 2));
    assert_eq!(counter(&emu, "firebox_code_changes_total", "f").await, 0.0);
}

#[tokio::test]
async fn a_failed_provisioned_configuration_starts_over_when_the_code_changes() {
    let dir = TempDir::new("reload-provisioned");
    let script = dir.path("runtime.py");
    let working = std::fs::read_to_string(runtime_script()).unwrap();
    let choice = r#"mode = sys.argv[1] if len(sys.argv) > 1 else """#;
    assert!(
        working.contains(choice),
        "the runtime picks its Init mode so"
    );
    std::fs::write(&script, working.replace(choice, r#"mode = "init_error""#)).unwrap();
    let f = FunctionConfig::new("f")
        .code_dir(&dir.0)
        .command([PYTHON, "-u", "runtime.py"])
        .publish(1, VersionConfig::new().provisioned_concurrency(1));
    let emu = start(vec![f]).await;
    let status = || async { emu.provisioned_concurrency_config("f", "1").await.unwrap() };

    wait_until_status(&status, ProvisionedStatus::Failed).await;
    let failed = status().await;
    assert_eq!(
        failed.status_reason.as_deref(),
        Some("FUNCTION_ERROR_INIT_FAILURE")
    );
    assert_eq!(
        counter(&emu, "firebox_environments_created_total", "f").await,
        3.0
    );

    std::fs::write(&script, working).unwrap();
    // Noticed by `$LATEST`'s scheduler and version 1's, each counting it.
    wait_code_changes(&emu, "f", 2.0).await;
    wait_until_status(&status, ProvisionedStatus::Ready).await;
    let ready = status().await;
    assert_eq!((ready.available, ready.status_reason), (1, None));
}

/// Waits (bounded) until the configuration `status` reads is `want`.
async fn wait_until_status<F, Fut>(status: &F, want: ProvisionedStatus)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = firebox_emulator::ProvisionedConcurrency>,
{
    // Up to 30 s: a bound for broken runs only.
    for _ in 0..600 {
        if status().await.status == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "the configuration never became {want:?}: {:?}",
        status().await
    );
}
