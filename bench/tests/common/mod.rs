//! Helpers shared by the integration tests: building the official echo functions and writing
//! small script "runtimes" for the bad paths.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The target directory this test binary was built into (`<target>/<profile>/deps/<test>`).
fn target_profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary has a path");
    exe.parent()
        .and_then(Path::parent)
        .expect("test binaries live in <target>/<profile>/deps")
        .to_path_buf()
}

/// Builds the benchmark functions (`official-echo` with its two bins, `firebox-echo` and the
/// two `raw-echo` bins) once
/// per test binary, into the same target directory and profile, and returns the path of bin
/// `name`.
pub fn function_bin(name: &str) -> PathBuf {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let dir = BUILT
        .get_or_init(|| {
            let profile_dir = target_profile_dir();
            let target_dir = profile_dir
                .parent()
                .expect("profile dir has a parent")
                .to_path_buf();
            let mut cmd = Command::new(env!("CARGO"));
            cmd.args([
                "build",
                "--quiet",
                "-p",
                "official-echo",
                "-p",
                "firebox-echo",
                "-p",
                "raw-echo",
                "--bins",
            ])
            .env("CARGO_TARGET_DIR", &target_dir);
            if profile_dir.file_name().is_some_and(|n| n == "release") {
                cmd.arg("--release");
            }
            let out = cmd.output().map_err(|e| format!("cannot run cargo: {e}"))?;
            if !out.status.success() {
                return Err(format!(
                    "cargo build -p official-echo -p firebox-echo failed:\n{}",
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
            Ok(profile_dir)
        })
        .as_ref()
        .unwrap_or_else(|e| panic!("{e}"));
    let path = dir.join(name);
    assert!(path.exists(), "{} was not built", path.display());
    path
}

/// An executable shell script in a temporary directory of its own, removed when dropped.
pub struct Script {
    dir: PathBuf,
    path: PathBuf,
}

impl std::ops::Deref for Script {
    type Target = std::path::Path;

    fn deref(&self) -> &std::path::Path {
        &self.path
    }
}

impl Drop for Script {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Writes an executable shell script into a fresh temporary directory.
pub fn script(name: &str, body: &str) -> Script {
    let dir = std::env::temp_dir().join(format!(
        "firebox-bench-test-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).expect("create temp dir");
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("write script");
    let mut perms = std::fs::metadata(&path).expect("stat script").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&path, perms).expect("chmod script");
    Script { dir, path }
}
