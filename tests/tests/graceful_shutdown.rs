//! Graceful shutdown, with Firebox's `spawn_graceful_shutdown_handler` (`examples/graceful-shutdown`)
//! and with the official `lambda_runtime`'s (`fixtures/official-rs`), both real processes.
//!
//! Each registers an internal extension that subscribes to no events; because an extension is
//! registered, the emulator's Shutdown phase sends the runtime `SIGTERM` when the idle
//! environment is reclaimed, and the hook runs before the process exits. Registering after
//! Init is refused with Lambda's `Extension.RegistrationClosed`, which Firebox's SDK returns as
//! an error rather than a panic.

use std::time::Duration;

use firebox_emulator::Emulator;
use firebox_tests::bins::{GRACEFUL_SHUTDOWN, OFFICIAL_GRACEFUL};
use firebox_tests::functions::workspace_function;
use firebox_tests::logs::{all_processes_gone, expect_line, lines};
use firebox_tests::shared::TestResult;
use serde_json::{json, Value};

#[tokio::test]
async fn the_sdks_hook_runs_on_sigterm_when_the_idle_environment_is_reclaimed() -> TestResult {
    let f = workspace_function("flush", GRACEFUL_SHUTDOWN)?.idle_timeout(Duration::from_secs(1));
    let emu = Emulator::builder().function(f).start().await?;
    for n in 1..=2 {
        let r = emu.invoke("flush", "{}").await?;
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.function_error, None, "{}", r.text());
        assert_eq!(
            serde_json::from_slice::<Value>(&r.body)?,
            json!({ "buffered": n })
        );
    }
    expect_line(
        &emu,
        "flush",
        "EXTENSION\tName: firebox-graceful-shutdown\tState: Ready\tEvents: []",
    )
    .await;
    expect_line(&emu, "flush", "[runtime] SIGTERM received").await;
    expect_line(
        &emu,
        "flush",
        "graceful-shutdown: flushed 2 buffered invocation(s)",
    )
    .await;
    expect_line(&emu, "flush", "[runtime] Graceful shutdown completed").await;
    all_processes_gone(&emu).await?;
    Ok(())
}

#[tokio::test]
async fn registering_after_init_is_refused_and_reported_not_a_panic() -> TestResult {
    let f = workspace_function("late", GRACEFUL_SHUTDOWN)?;
    let emu = Emulator::builder().function(f).start().await?;
    let r = emu.invoke("late", r#"{"registerAgain": true}"#).await?;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.function_error, None, "{}", r.text());
    let body: Value = serde_json::from_slice(&r.body)?;
    let error = body["registerAgain"].as_str().unwrap_or_default();
    assert!(
        error.contains("403") && error.contains("Extension.RegistrationClosed"),
        "{body}"
    );
    // The runtime goes on serving in the same environment.
    let r = emu.invoke("late", "{}").await?;
    assert_eq!(
        serde_json::from_slice::<Value>(&r.body)?,
        json!({ "buffered": 1 })
    );
    assert_eq!(
        lines(&emu, "late")
            .iter()
            .filter(|l| l.starts_with("INIT_START"))
            .count(),
        1
    );
    Ok(())
}

#[tokio::test]
async fn the_official_crates_hook_runs_on_sigterm_at_shutdown() -> TestResult {
    let f = workspace_function("official", OFFICIAL_GRACEFUL)?.idle_timeout(Duration::from_secs(1));
    let emu = Emulator::builder().function(f).start().await?;
    let r = emu.invoke("official", r#"{"n": 1}"#).await?;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(serde_json::from_slice::<Value>(&r.body)?, json!({ "n": 1 }));
    expect_line(
        &emu,
        "official",
        "EXTENSION\tName: _lambda-rust-runtime-no-op-graceful-shutdown-helper\tState: Ready\tEvents: []",
    )
    .await;
    expect_line(&emu, "official", "[runtime] SIGTERM received").await;
    expect_line(
        &emu,
        "official",
        "official-graceful-fn: hook ran after 1 invocation(s)",
    )
    .await;
    all_processes_gone(&emu).await?;
    Ok(())
}
