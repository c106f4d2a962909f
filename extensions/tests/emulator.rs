//! The crate against the real thing: `examples/invoke-counter` and
//! `examples/telemetry-reporter`, built with this crate, run as external extensions of a
//! function under the Firebox emulator (real processes beside the test runtime, registering
//! through the emulator's Extensions API and subscribing through its Telemetry API), through
//! Init, two invocations and the Shutdown phase of an idle reclaim.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use firebox_emulator::{Emulator, FunctionConfig};

/// The example `name`'s binary, built with `cargo build --example` (fresh, never stale).
fn example(name: &str) -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "-q", "-p", "firebox-extensions", "--example", name])
        .status()
        .expect("cargo runs");
    assert!(status.success(), "cargo build --example {name} failed");
    // <target>/debug/deps/emulator-HASH -> <target>/debug/examples/<name>
    let exe = std::env::current_exe().expect("test executable path");
    let profile = exe
        .parent()
        .and_then(|d| d.parent())
        .expect("target/<profile>");
    profile.join("examples").join(name)
}

/// The emulator's own Python test runtime (standard library only).
fn runtime() -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../host-emulator/tests/runtimes/runtime.py")
        .display()
        .to_string()
}

fn texts(emu: &Emulator) -> Vec<String> {
    emu.logs("f").into_iter().map(|l| l.text).collect()
}

async fn wait_for(emu: &Emulator, line: &str) {
    wait_until(emu, &format!("no line {line:?}"), |lines| {
        lines.iter().any(|l| l == line)
    })
    .await;
}

/// Waits (bounded) until `done` holds for the function's log, and returns that log.
async fn wait_until(emu: &Emulator, what: &str, done: impl Fn(&[String]) -> bool) -> Vec<String> {
    for _ in 0..3000 {
        let lines = texts(emu);
        if done(&lines) {
            return lines;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{what}; log was:\n{}", texts(emu).join("\n"));
}

/// Invokes `f` twice, expecting successes; returns the request ids.
async fn invoke_twice(emu: &Emulator) -> Vec<String> {
    let mut ids = Vec::new();
    for _ in 0..2 {
        let r = emu.invoke("f", "{}".to_owned()).await.unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.function_error, None, "{}", r.text());
        ids.push(r.request_id.unwrap());
    }
    ids
}

#[tokio::test]
async fn invoke_counter_sees_every_invocation_and_the_shutdown() {
    let f = FunctionConfig::new("f")
        .command(["python3", "-u", &runtime()])
        .extension(example("invoke-counter"))
        .idle_timeout(Duration::from_secs(1));
    let emu = Emulator::builder().function(f).start().await.unwrap();
    let ids = invoke_twice(&emu).await;
    wait_for(
        &emu,
        "EXTENSION\tName: invoke-counter\tState: Ready\tEvents: [INVOKE,SHUTDOWN]",
    )
    .await;
    for id in &ids {
        wait_for(&emu, &format!("[invoke-counter] INVOKE {id}")).await;
    }
    // The idle reclaim after 1 s is a Shutdown phase: the extension hears why and exits. The
    // second invoke may have found the first environment still in its invoke phase (the
    // extension not yet back in next) and started another: each environment's extension
    // reports its own count, and together they saw both invocations.
    let mut reported = false;
    for _ in 0..3000 {
        let lines = texts(&emu);
        let environments = lines.iter().filter(|l| l.starts_with("INIT_START")).count();
        let counts: Vec<u32> = lines
            .iter()
            .filter_map(|l| l.strip_prefix("[invoke-counter] SHUTDOWN spindown after "))
            .filter_map(|rest| rest.strip_suffix(" invokes")?.parse().ok())
            .collect();
        if counts.len() == environments {
            assert_eq!(counts.iter().sum::<u32>(), 2, "{}", lines.join("\n"));
            reported = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        reported,
        "not every environment's extension reported its SHUTDOWN:\n{}",
        texts(&emu).join("\n")
    );
    for _ in 0..3000 {
        if emu.live_processes() == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the environment's processes are still alive");
}

#[tokio::test]
async fn telemetry_reporter_hears_init_every_report_and_the_shutdown() {
    // Not frozen between invocations: a frozen environment's extension cannot take a batch
    // until the next thaw.
    let f = FunctionConfig::new("f")
        .command(["python3", "-u", &runtime()])
        .extension(example("telemetry-reporter"))
        .freeze(false)
        .idle_timeout(Duration::from_secs(1));
    let emu = Emulator::builder().function(f).start().await.unwrap();
    let ids = invoke_twice(&emu).await;
    wait_for(&emu, "[telemetry-reporter] INIT_START on-demand").await;
    for id in &ids {
        let prefix = format!("[telemetry-reporter] REPORT {id} success billed=");
        let lines = wait_until(&emu, &format!("no REPORT line for {id}"), |lines| {
            lines.iter().any(|l| l.starts_with(&prefix))
        })
        .await;
        let line = lines.iter().find(|l| l.starts_with(&prefix)).unwrap();
        let billed = line[prefix.len()..].strip_suffix("ms");
        assert!(
            billed.is_some_and(|ms| ms.parse::<u64>().is_ok()),
            "{line:?}"
        );
    }
    // The second invoke may have found the first environment still in its invoke phase and
    // started another: every environment's extension hears its Init, and its spindown.
    let lines = wait_until(
        &emu,
        "not every environment's extension shut down",
        |lines| {
            let environments = lines
                .iter()
                .filter(|l| l.starts_with("INIT_START Runtime Version"))
                .count();
            let shutdowns = lines
                .iter()
                .filter(|l| *l == "[telemetry-reporter] SHUTDOWN spindown")
                .count();
            environments > 0 && shutdowns == environments
        },
    )
    .await;
    let environments = lines
        .iter()
        .filter(|l| l.starts_with("INIT_START Runtime Version"))
        .count();
    let init_starts = lines
        .iter()
        .filter(|l| *l == "[telemetry-reporter] INIT_START on-demand")
        .count();
    assert_eq!(init_starts, environments, "{}", lines.join("\n"));
    let reports = lines
        .iter()
        .filter(|l| l.starts_with("[telemetry-reporter] REPORT "))
        .count();
    assert_eq!(
        reports,
        2,
        "one REPORT per invocation:\n{}",
        lines.join("\n")
    );
    for _ in 0..3000 {
        if emu.live_processes() == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the environment's processes are still alive");
}
