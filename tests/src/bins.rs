//! Workspace binaries the tests start (the SDK examples, the official-runtime fixture): found in
//! the target directory of the running test and built there with `cargo build` the first time a
//! test process asks for them, so they are never stale.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

use crate::Error;

/// A binary of a workspace package.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Binary {
    /// The package (`cargo build -p`).
    pub package: &'static str,
    /// The binary's name (`--bin`).
    pub bin: &'static str,
}

impl Binary {
    /// The binary of the same name as its package (`cargo build -p NAME --bin NAME`).
    pub const fn named(name: &'static str) -> Binary {
        Binary {
            package: name,
            bin: name,
        }
    }
}

/// `examples/hello`.
pub const HELLO: Binary = Binary::named("hello");
/// `examples/init-state`.
pub const INIT_STATE: Binary = Binary::named("init-state");
/// `examples/sqs-batch`.
pub const SQS_BATCH: Binary = Binary::named("sqs-batch");
/// `examples/errors`.
pub const ERRORS: Binary = Binary::named("errors");
/// `examples/streaming`: streamed and buffered answers from one function.
pub const STREAMING: Binary = Binary::named("streaming");
/// `examples/graceful-shutdown`: a hook that runs when the environment shuts down.
pub const GRACEFUL_SHUTDOWN: Binary = Binary::named("graceful-shutdown");
/// `examples/tower`.
pub const TOWER: Binary = Binary {
    package: "tower-example",
    bin: "tower",
};
/// `fixtures/official-rs`: an echo function built with the official `lambda_runtime` 1.5.
pub const OFFICIAL_ECHO: Binary = Binary {
    package: "official-fixture",
    bin: "official-echo-fn",
};

/// `fixtures/ported-rs`: an SQS function written for `lambda_runtime` and `aws_lambda_events`,
/// ported by renaming the dependencies (built alone: no other crate's features help it).
pub const PORTED_SQS: Binary = Binary {
    package: "ported-fixture",
    bin: "ported-sqs-fn",
};

/// `fixtures/ported-rs`: an HTTP function written for `lambda_http`, ported by one import line.
pub const PORTED_HTTP: Binary = Binary {
    package: "ported-fixture",
    bin: "ported-http-fn",
};

/// `fixtures/official-rs`: an echo built with the official `lambda_runtime` whose
/// `spawn_graceful_shutdown_handler` hook prints a line at shutdown.
pub const OFFICIAL_GRACEFUL: Binary = Binary {
    package: "official-fixture",
    bin: "official-graceful-fn",
};

/// `bench/raw-echo`: an echo on blocking sockets that pipelines `/next` behind `/response`.
pub const RAW_ECHO_PIPELINED: Binary = Binary {
    package: "raw-echo",
    bin: "raw-echo-pipelined",
};

/// `fixtures/official-rs`: an external extension built with the official `lambda-extension`.
pub const OFFICIAL_EXTENSION: Binary = Binary {
    package: "official-fixture",
    bin: "official-extension",
};

/// The cargo profile directory of the running test (`<target>/debug` for `cargo test`), derived
/// from the test executable's own path, `<target>/<profile>/deps/<test>-<hash>`.
pub fn profile_dir() -> Result<PathBuf, Error> {
    let exe = std::env::current_exe().map_err(|e| Error::TargetDir {
        exe: PathBuf::new(),
        why: e.to_string(),
    })?;
    let deps = exe.parent().ok_or_else(|| Error::TargetDir {
        exe: exe.clone(),
        why: "it has no parent directory".into(),
    })?;
    if deps.file_name() != Some(OsStr::new("deps")) {
        return Err(Error::TargetDir {
            exe,
            why: "it is not inside a `deps` directory".into(),
        });
    }
    let profile = deps.parent().ok_or_else(|| Error::TargetDir {
        exe: exe.clone(),
        why: "`deps` has no parent directory".into(),
    })?;
    Ok(profile.to_path_buf())
}

/// The path of `binary`, built (or brought up to date) in the running test's target directory
/// and profile the first time this process asks for it.
pub fn workspace_bin(binary: Binary) -> Result<PathBuf, Error> {
    static BUILT: OnceLock<Mutex<HashMap<Binary, PathBuf>>> = OnceLock::new();
    let built = BUILT.get_or_init(Default::default);
    // Held while cargo runs, so two tests of one process never build at once.
    let mut built = built
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(path) = built.get(&binary) {
        return Ok(path.clone());
    }
    let profile = profile_dir()?;
    build(binary, &profile)?;
    let path = profile.join(binary.bin);
    if !path.is_file() {
        return Err(Error::MissingBinary {
            path,
            package: binary.package.into(),
            bin: binary.bin.into(),
        });
    }
    built.insert(binary, path.clone());
    Ok(path)
}

/// Runs `cargo build -p PACKAGE --bin BIN` into the target directory that holds `profile`.
fn build(binary: Binary, profile: &Path) -> Result<(), Error> {
    let target = profile.parent().ok_or_else(|| Error::TargetDir {
        exe: profile.to_path_buf(),
        why: "the profile directory has no parent".into(),
    })?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut command = Command::new(&cargo);
    command.args([
        "build",
        "--quiet",
        "-p",
        binary.package,
        "--bin",
        binary.bin,
    ]);
    match profile.file_name().and_then(|n| n.to_str()) {
        Some("debug") | None => {}
        Some("release") => {
            command.arg("--release");
        }
        Some(other) => {
            command.args(["--profile", other]);
        }
    }
    command
        .env("CARGO_TARGET_DIR", target)
        .current_dir(crate::repo_root());
    let line = format!(
        "CARGO_TARGET_DIR={} {cargo} build -p {} --bin {}",
        target.display(),
        binary.package,
        binary.bin
    );
    let output = command.output().map_err(|e| Error::Build {
        command: line.clone(),
        why: e.to_string(),
    })?;
    if output.status.success() {
        Ok(())
    } else {
        Err(Error::Build {
            command: line,
            why: format!(
                "{}\n{}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_profile_directory_is_the_parent_of_deps() {
        // Unit tests run from `<target>/<profile>/deps/firebox_tests-<hash>`.
        let profile = profile_dir().unwrap();
        assert!(profile.join("deps").is_dir(), "{}", profile.display());
    }

    #[test]
    fn a_failed_build_names_the_command() {
        let profile = profile_dir().unwrap();
        let missing = Binary {
            package: "no-such-package-in-this-workspace",
            bin: "nothing",
        };
        let error = build(missing, &profile).unwrap_err().to_string();
        assert!(
            error.contains("cargo build -p no-such-package-in-this-workspace --bin nothing"),
            "{error}"
        );
        // Cargo's own explanation comes along.
        assert!(error.contains("did not match any packages"), "{error}");
    }
}
