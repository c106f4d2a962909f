//! What the tests that run this crate's examples under the emulator share: the example's
//! binary, built on demand, the emulator's Python test runtime, and bounded waits on the log
//! of the function `f` and on its processes.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use firebox_emulator::Emulator;

/// The example `name`'s binary, built with `cargo build --example` (fresh, never stale).
pub fn example(name: &str) -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "-q", "-p", "firebox-extensions", "--example", name])
        .status()
        .expect("cargo runs");
    assert!(status.success(), "cargo build --example {name} failed");
    // <target>/debug/deps/TEST-HASH -> <target>/debug/examples/<name>
    let exe = std::env::current_exe().expect("test executable path");
    let profile = exe
        .parent()
        .and_then(|d| d.parent())
        .expect("target/<profile>");
    profile.join("examples").join(name)
}

/// The emulator's own Python test runtime (standard library only).
pub fn runtime() -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../host-emulator/tests/runtimes/runtime.py")
        .display()
        .to_string()
}

/// The text of every line of `f`'s log.
pub fn texts(emu: &Emulator) -> Vec<String> {
    emu.logs("f").into_iter().map(|l| l.text).collect()
}

/// Waits (bounded) until `done` holds for the function's log, and returns that log.
pub async fn wait_until(
    emu: &Emulator,
    what: &str,
    done: impl Fn(&[String]) -> bool,
) -> Vec<String> {
    for _ in 0..3000 {
        let lines = texts(emu);
        if done(&lines) {
            return lines;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{what}; log was:\n{}", texts(emu).join("\n"));
}

/// Waits for a line equal to `line`; the log.
pub async fn wait_for(emu: &Emulator, line: &str) -> Vec<String> {
    wait_until(emu, &format!("no line {line:?}"), |lines| {
        lines.iter().any(|l| l == line)
    })
    .await
}

/// Waits until every process of the environments is gone.
pub async fn wait_for_the_end(emu: &Emulator) {
    for _ in 0..3000 {
        if emu.live_processes() == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!(
        "the environment's processes are still alive; log:\n{}",
        texts(emu).join("\n")
    );
}
