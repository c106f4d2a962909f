//! Freeze and thaw: between invocations every process of an environment is stopped, so a
//! background thread makes no progress; with `freeze = false` it does. Both the cgroup freezer
//! (when the machine allows it) and the SIGSTOP fallback are exercised.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::{frozen_gauge, wait_frozen_gauge, wait_until, PYTHON};
use firebox_emulator::{Emulator, FunctionConfig};

fn counter_function(name: &str) -> FunctionConfig {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/runtimes/concurrency.py");
    FunctionConfig::new(name)
        .command([PYTHON.to_owned(), "-u".into(), script.display().to_string()])
        .timeout(Duration::from_secs(2))
}

async fn emulator(f: FunctionConfig, cgroups: bool) -> Emulator {
    Emulator::builder()
        .cgroups(cgroups)
        .function(f)
        .start()
        .await
        .unwrap()
}

async fn counter_and_pid(emu: &Emulator, name: &str) -> (i64, i64) {
    let r = emu.invoke(name, "{}").await.unwrap();
    assert_eq!(r.function_error, None, "{}", r.text());
    let j = r.json().unwrap();
    (j["counter"].as_i64().unwrap(), j["pid"].as_i64().unwrap())
}

/// The state letter of a process (`T` when stopped).
fn process_state(pid: i64) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit(')').next()?.trim_start().chars().next()
}

/// How long the environment stays idle between the measured invocations: longer than the
/// 2 s timeout, which must not fire while it is frozen.
const IDLE: Duration = Duration::from_secs(3);

/// Runs the freeze scenario; returns how far the counter moved while the environment was idle
/// for [`IDLE`].
async fn progress_while_idle(freeze: bool, cgroups: bool) -> i64 {
    let name = "bg";
    let emu = emulator(counter_function(name).freeze(freeze), cgroups).await;
    let (first, pid) = counter_and_pid(&emu, name).await;
    if freeze {
        // The runtime is back in /next and frozen.
        wait_frozen_gauge(&emu, name, "1").await;
    }
    let (before, _) = counter_and_pid(&emu, name).await;
    if freeze {
        wait_frozen_gauge(&emu, name, "1").await;
        if !cgroups {
            wait_until(
                "the SIGSTOP to take effect",
                Duration::from_secs(30),
                || process_state(pid) == Some('T'),
            )
            .await;
        }
    } else {
        assert_eq!(frozen_gauge(&emu, name).await, "0");
    }
    tokio::time::sleep(IDLE).await;
    if !freeze {
        assert_eq!(frozen_gauge(&emu, name).await, "0");
    }
    let (after, pid_after) = counter_and_pid(&emu, name).await;
    assert_eq!(
        pid, pid_after,
        "same warm environment: a frozen one is not timed out"
    );
    assert!(before >= first);
    after - before
}

#[tokio::test]
async fn a_frozen_environment_makes_no_progress_between_invocations() {
    let moved = progress_while_idle(true, true).await;
    // 3 s idle at 100 ticks/s would be ~300; frozen, only the few ticks while it ran.
    assert!(
        moved < 50,
        "the background thread ran while idle: {moved} ticks"
    );
}

#[tokio::test]
async fn the_sigstop_fallback_freezes_too() {
    let moved = progress_while_idle(true, false).await;
    assert!(
        moved < 50,
        "the background thread ran while idle: {moved} ticks"
    );
}

#[tokio::test]
async fn with_freeze_off_background_threads_progress() {
    let moved = progress_while_idle(false, true).await;
    assert!(
        moved >= 60,
        "the background thread should run while idle: {moved} ticks"
    );
}

#[tokio::test]
async fn frozen_environments_are_killed_cleanly_at_shutdown() {
    let emu = emulator(counter_function("sd"), true).await;
    let (_, pid) = counter_and_pid(&emu, "sd").await;
    wait_frozen_gauge(&emu, "sd", "1").await;
    emu.shutdown().await;
    assert!(
        common::wait_gone(pid).await,
        "a frozen process is killed at shutdown"
    );
}
