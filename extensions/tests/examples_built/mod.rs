//! What the tests that run this crate's examples under the emulator share: the example's
//! binary, built on demand, and the emulator's Python test runtime.

use std::path::PathBuf;
use std::process::Command;

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
