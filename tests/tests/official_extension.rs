//! The emulator's Extensions API against AWS's own client: an external extension built with the
//! official crates.io `lambda-extension` (`fixtures/official-rs`), beside a function built with
//! the official `lambda_runtime`, both real processes. It registers under its file name, gets an
//! `INVOKE` event per invocation with the invoked ARN, and a `SHUTDOWN` (`spindown`) when the
//! idle environment is reclaimed; the environment's processes are then gone. With its
//! telemetry processor on, the crate's typed parser accepts the Telemetry API records the
//! emulator sends (a batch it cannot parse would be refused whole), and its logs processor
//! those of the older Logs API.

use std::time::Duration;

use firebox_emulator::Emulator;
use firebox_tests::bins::{workspace_bin, OFFICIAL_ECHO, OFFICIAL_EXTENSION};
use firebox_tests::functions::workspace_function;
use firebox_tests::logs::{all_processes_gone, expect_line, line_containing};
use firebox_tests::shared::TestResult;

#[tokio::test]
async fn the_official_lambda_extension_crate_runs_through_init_invoke_and_shutdown() -> TestResult {
    let f = workspace_function("echo", OFFICIAL_ECHO)?
        .extension(workspace_bin(OFFICIAL_EXTENSION)?)
        .idle_timeout(Duration::from_secs(1));
    let emu = Emulator::builder().function(f).start().await?;
    let mut ids = Vec::new();
    for n in 0..2 {
        let r = emu.invoke("echo", format!("{{\"n\":{n}}}")).await?;
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.function_error, None, "{}", r.text());
        ids.push(r.request_id.clone().expect("a request id"));
    }
    line_containing(
        &emu,
        "echo",
        "EXTENSION\tName: official-extension\tState: Ready\tEvents: [INVOKE,SHUTDOWN]",
    )
    .await?;
    for id in &ids {
        let invoke = format!(
            "[official-extension] INVOKE {id} arn:aws:lambda:us-east-1:123456789012:function:echo"
        );
        expect_line(&emu, "echo", &invoke).await;
    }
    expect_line(&emu, "echo", "[official-extension] SHUTDOWN spindown").await;
    all_processes_gone(&emu).await?;
    Ok(())
}

/// A free TCP port for the extension's listener. Taken below the kernel's ephemeral range
/// (`ip_local_port_range` starts at 32768), so that no listener bound to port 0 meanwhile
/// (the emulators of the other tests) can take it before the extension binds it.
fn free_port() -> u16 {
    static NEXT: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(0);
    // Spread by process, so that two test processes at once start far apart.
    let start = (std::process::id().wrapping_mul(7_919) % 10_000) as u16;
    for _ in 0..10_000 {
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let port = 20_000 + (start + n) % 10_000;
        if std::net::TcpListener::bind(("0.0.0.0", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port between 20000 and 30000");
}

#[tokio::test]
async fn the_official_crates_telemetry_processor_parses_every_record_the_emulator_sends(
) -> TestResult {
    // Not frozen between invocations, so that batches arrive without waiting for a thaw.
    let f = workspace_function("echo", OFFICIAL_ECHO)?
        .extension(workspace_bin(OFFICIAL_EXTENSION)?)
        .env("OFFICIAL_TELEMETRY_PORT", free_port().to_string())
        .freeze(false);
    let emu = Emulator::builder().function(f).start().await?;
    let r = emu.invoke("echo", "{\"n\":1}".to_owned()).await?;
    assert_eq!(r.status, 200, "{}", r.text());
    let id = r.request_id.clone().expect("a request id");
    // Init's record reached the crate's typed processor (sent before the subscription, kept
    // for it), and so did the invocation's report, with its status and memory size.
    line_containing(
        &emu,
        "echo",
        "[official-extension] TELEMETRY initStart OnDemand",
    )
    .await?;
    line_containing(
        &emu,
        "echo",
        &format!("[official-extension] TELEMETRY report {id} Success memory=128MB"),
    )
    .await?;
    // The runtime's response: its size and the two spans of its sending, parsed by the crate.
    line_containing(
        &emu,
        "echo",
        &format!(
            "[official-extension] TELEMETRY runtimeDone {id} Success bytes=Some({}) spans=responseLatency,responseDuration",
            r.body.len()
        ),
    )
    .await?;
    Ok(())
}

#[tokio::test]
async fn the_official_crates_logs_processor_gets_the_logs_api_records() -> TestResult {
    let f = workspace_function("echo", OFFICIAL_ECHO)?
        .extension(workspace_bin(OFFICIAL_EXTENSION)?)
        .env("OFFICIAL_LOGS_PORT", free_port().to_string())
        .freeze(false);
    let emu = Emulator::builder().function(f).start().await?;
    let r = emu.invoke("echo", "{\"n\":1}".to_owned()).await?;
    assert_eq!(r.status, 200, "{}", r.text());
    let id = r.request_id.clone().expect("a request id");
    // Only the Logs API's own record types reach it (a Telemetry-only type such as
    // platform.initStart would make its parser refuse the whole batch).
    for line in [
        format!("[official-extension] LOGS start {id}"),
        format!("[official-extension] LOGS end {id}"),
        format!("[official-extension] LOGS report {id} memory=128MB"),
    ] {
        expect_line(&emu, "echo", &line).await;
    }
    Ok(())
}
