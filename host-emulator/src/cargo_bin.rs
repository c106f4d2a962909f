//! The binaries of a workspace's packages, for the integration tests that run them.
//!
//! Cargo names a binary to the integration tests of its own package
//! (`env!("CARGO_BIN_EXE_<name>")`) and builds it before they run. A test in another package
//! (one package per function, and the tests beside them) gets neither: [`cargo_bin`] builds
//! the binary into the running test's target directory and profile, and gives its path.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

/// Why [`cargo_bin`] has no path to give.
#[derive(Debug, thiserror::Error)]
pub enum CargoBinError {
    /// The running executable is not where Cargo puts tests (`<target>/<profile>/deps/`).
    #[error("cannot find the cargo target directory from the test executable {exe}: {why}")]
    TargetDir {
        /// The running executable.
        exe: PathBuf,
        /// What was wrong with its path.
        why: String,
    },
    /// `cargo build` could not be run, or failed.
    #[error("`{command}` failed: {why}")]
    Build {
        /// The command line.
        command: String,
        /// Its exit status and stderr, or why it did not start.
        why: String,
    },
    /// The build succeeded but the binary is not where Cargo puts it.
    #[error("{path} does not exist after `cargo build -p {package} --bin {bin}`")]
    Missing {
        /// Where it was expected.
        path: PathBuf,
        /// Its package.
        package: String,
        /// Its name.
        bin: String,
    },
}

/// The path of the binary `bin` of the workspace package `package`, built first
/// (`cargo build -p PACKAGE --bin BIN`, with the Cargo that runs the test) into the target
/// directory and profile of the running test, so that it is never stale. Each binary is built
/// once per test process; tests of one process that ask at the same time wait for one build.
/// Call it from an integration test run by `cargo test` (or `cargo nextest`), outside of an
/// async context or in `spawn_blocking` (it waits for Cargo).
///
/// ```no_run
/// use firebox_emulator::{cargo_bin, Emulator, FunctionConfig};
///
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let orders = tokio::task::spawn_blocking(|| cargo_bin("orders-fn", "orders")).await??;
/// let emu = Emulator::builder()
///     .function(FunctionConfig::new("orders").command([orders.display().to_string()]))
///     .start()
///     .await?;
/// # Ok(()) }
/// ```
pub fn cargo_bin(package: &str, bin: &str) -> Result<PathBuf, CargoBinError> {
    static BUILT: OnceLock<Mutex<HashMap<(String, String), PathBuf>>> = OnceLock::new();
    // Held while Cargo runs, so that two tests of one process never build at once.
    let mut built = BUILT
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let key = (package.to_owned(), bin.to_owned());
    if let Some(path) = built.get(&key) {
        return Ok(path.clone());
    }
    let profile = profile_dir()?;
    build(package, bin, &profile)?;
    let path = profile.join(bin);
    if !path.is_file() {
        return Err(CargoBinError::Missing {
            path,
            package: package.to_owned(),
            bin: bin.to_owned(),
        });
    }
    built.insert(key, path.clone());
    Ok(path)
}

/// The profile directory of the running test (`<target>/debug` for `cargo test`), from the
/// test executable's own path, `<target>/<profile>/deps/<test>-<hash>`.
fn profile_dir() -> Result<PathBuf, CargoBinError> {
    let exe = std::env::current_exe().map_err(|e| CargoBinError::TargetDir {
        exe: PathBuf::new(),
        why: e.to_string(),
    })?;
    let not_a_test = |why: &str| CargoBinError::TargetDir {
        exe: exe.clone(),
        why: why.to_owned(),
    };
    let deps = exe
        .parent()
        .ok_or_else(|| not_a_test("it has no parent directory"))?;
    if deps.file_name() != Some(OsStr::new("deps")) {
        return Err(not_a_test("it is not inside a `deps` directory"));
    }
    let profile = deps
        .parent()
        .ok_or_else(|| not_a_test("`deps` has no parent directory"))?;
    Ok(profile.to_path_buf())
}

/// Runs `cargo build -p PACKAGE --bin BIN` into the target directory that holds `profile`.
fn build(package: &str, bin: &str, profile: &Path) -> Result<(), CargoBinError> {
    let target = profile.parent().ok_or_else(|| CargoBinError::TargetDir {
        exe: profile.to_path_buf(),
        why: "the profile directory has no parent".into(),
    })?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(&cargo);
    command.args(["build", "--quiet", "-p", package, "--bin", bin]);
    match profile.file_name().and_then(|n| n.to_str()) {
        Some("debug") | None => {}
        Some("release") => {
            command.arg("--release");
        }
        Some(other) => {
            command.args(["--profile", other]);
        }
    }
    command.env("CARGO_TARGET_DIR", target);
    // In the test's package, and so in its workspace (Cargo runs tests there).
    if let Some(dir) = std::env::var_os("CARGO_MANIFEST_DIR") {
        command.current_dir(dir);
    }
    let line = format!(
        "CARGO_TARGET_DIR={} {cargo} build -p {package} --bin {bin}",
        target.display()
    );
    let output = command.output().map_err(|e| CargoBinError::Build {
        command: line.clone(),
        why: e.to_string(),
    })?;
    if output.status.success() {
        return Ok(());
    }
    Err(CargoBinError::Build {
        command: line,
        why: format!(
            "{}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_profile_directory_is_the_parent_of_deps() {
        // Unit tests run from `<target>/<profile>/deps/firebox_emulator-<hash>`.
        let profile = profile_dir().unwrap();
        assert!(profile.join("deps").is_dir(), "{}", profile.display());
    }

    #[test]
    fn a_package_that_is_not_there_is_a_build_error_naming_the_command() {
        let err = cargo_bin("no-such-package-here", "nothing").unwrap_err();
        match &err {
            CargoBinError::Build { command, why } => {
                assert!(command.contains("-p no-such-package-here"), "{err}");
                assert!(why.contains("no-such-package-here"), "{err}");
            }
            other => panic!("not a build error: {other}"),
        }
    }
}
