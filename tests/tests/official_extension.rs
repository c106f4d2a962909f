//! The emulator's Extensions API against AWS's own client: an external extension built with the
//! official crates.io `lambda-extension` (`fixtures/official-rs`), beside a function built with
//! the official `lambda_runtime`, both real processes. It registers under its file name, gets an
//! `INVOKE` event per invocation with the invoked ARN, and a `SHUTDOWN` (`spindown`) when the
//! idle environment is reclaimed; the environment's processes are then gone.

use std::time::Duration;

use firebox_emulator::Emulator;
use firebox_tests::bins::{workspace_bin, OFFICIAL_ECHO, OFFICIAL_EXTENSION};
use firebox_tests::functions::workspace_function;
use firebox_tests::shared::TestResult;

fn texts(emu: &Emulator) -> Vec<String> {
    emu.logs("echo").into_iter().map(|l| l.text).collect()
}

/// Waits (bounded, for broken runs only) for a log line equal to `line`.
async fn wait_for(emu: &Emulator, line: &str) {
    for _ in 0..3000 {
        if texts(emu).iter().any(|l| l == line) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("no line {line:?}; log was:\n{}", texts(emu).join("\n"));
}

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
    wait_for(
        &emu,
        "EXTENSION\tName: official-extension\tState: Ready\tEvents: [INVOKE,SHUTDOWN]",
    )
    .await;
    for id in &ids {
        wait_for(
            &emu,
            &format!(
                "[official-extension] INVOKE {id} arn:aws:lambda:us-east-1:123456789012:function:echo"
            ),
        )
        .await;
    }
    wait_for(&emu, "[official-extension] SHUTDOWN spindown").await;
    for _ in 0..3000 {
        if emu.live_processes() == 0 {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the environment's processes are still alive");
}
