//! Building with cargo: `cargo metadata` for the target directory, then `cargo build` with
//! `--message-format json-render-diagnostics`, whose `compiler-artifact` messages name every
//! executable built. Cargo's progress and the compiler's diagnostics go to our stderr as usual.

use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde::Deserialize;

use super::{PackageError, PackageOptions};

/// One binary cargo built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct BuiltBinary {
    /// Its target name (`[[bin]] name`).
    pub name: String,
    /// Where cargo wrote it.
    pub path: PathBuf,
}

#[derive(Deserialize)]
struct Metadata {
    target_directory: PathBuf,
}

#[derive(Deserialize)]
struct Message {
    reason: String,
    #[serde(default)]
    target: Option<Target>,
    #[serde(default)]
    executable: Option<PathBuf>,
}

#[derive(Deserialize)]
struct Target {
    name: String,
    kind: Vec<String>,
}

/// The cargo to run: `$CARGO` (set when `firebox` itself runs under cargo), else `cargo`.
fn cargo() -> OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"))
}

/// The workspace's target directory (`cargo metadata`).
pub(super) fn target_directory(options: &PackageOptions) -> Result<PathBuf, PackageError> {
    let mut command = Command::new(cargo());
    command.args(["metadata", "--no-deps", "--format-version", "1"]);
    if let Some(manifest) = &options.manifest_path {
        command.arg("--manifest-path").arg(manifest);
    }
    let output = command
        .stderr(Stdio::inherit())
        .output()
        .map_err(PackageError::Cargo)?;
    if !output.status.success() {
        return Err(PackageError::CargoFailed(output.status));
    }
    let metadata: Metadata = serde_json::from_slice(&output.stdout)
        .map_err(|e| PackageError::CargoOutput(format!("cargo metadata: {e}")))?;
    Ok(metadata.target_directory)
}

/// The `cargo build` arguments for `options`.
pub(super) fn build_args(options: &PackageOptions) -> Vec<OsString> {
    let mut args: Vec<OsString> = vec![
        "build".into(),
        "--message-format".into(),
        "json-render-diagnostics".into(),
        "--profile".into(),
        options.profile.clone().into(),
    ];
    if let Some(manifest) = &options.manifest_path {
        args.push("--manifest-path".into());
        args.push(manifest.clone().into());
    }
    for package in &options.packages {
        args.push("--package".into());
        args.push(package.into());
    }
    for bin in &options.bins {
        args.push("--bin".into());
        args.push(bin.into());
    }
    if !options.features.is_empty() {
        args.push("--features".into());
        args.push(options.features.join(",").into());
    }
    if options.no_default_features {
        args.push("--no-default-features".into());
    }
    if let Some(target) = &options.target {
        args.push("--target".into());
        args.push(target.into());
    }
    for (on, flag) in [
        (options.workspace, "--workspace"),
        (options.all_features, "--all-features"),
        (options.locked, "--locked"),
        (options.frozen, "--frozen"),
        (options.offline, "--offline"),
        (options.quiet, "--quiet"),
    ] {
        if on {
            args.push(flag.into());
        }
    }
    if let Some(jobs) = options.jobs {
        args.push("--jobs".into());
        args.push(jobs.to_string().into());
    }
    args
}

/// Runs `cargo build` and returns the binaries it built, in its order.
pub(super) fn build(options: &PackageOptions) -> Result<Vec<BuiltBinary>, PackageError> {
    let mut child = Command::new(cargo())
        .args(build_args(options))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(PackageError::Cargo)?;
    let Some(stdout) = child.stdout.take() else {
        // `Stdio::piped()` above always gives a handle; this only avoids an `expect`.
        return Err(PackageError::CargoOutput("no stdout from cargo".into()));
    };
    let mut binaries = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.map_err(PackageError::Cargo)?;
        binaries.extend(binary_of(&line));
    }
    let status = child.wait().map_err(PackageError::Cargo)?;
    if !status.success() {
        return Err(PackageError::CargoFailed(status));
    }
    Ok(binaries)
}

/// The binary a `compiler-artifact` message of a `bin` target names, if that is what `line` is.
fn binary_of(line: &str) -> Option<BuiltBinary> {
    let message: Message = serde_json::from_str(line).ok()?;
    let target = message.target?;
    if message.reason != "compiler-artifact" || !target.kind.iter().any(|k| k == "bin") {
        return None;
    }
    Some(BuiltBinary {
        name: target.name,
        path: message.executable?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_executables_of_bin_targets_are_taken() {
        let bin = r#"{"reason":"compiler-artifact","target":{"kind":["bin"],"name":"hello"},"executable":"/t/release/hello","fresh":true}"#;
        assert_eq!(
            binary_of(bin),
            Some(BuiltBinary {
                name: "hello".into(),
                path: "/t/release/hello".into()
            })
        );
        let lib = r#"{"reason":"compiler-artifact","target":{"kind":["lib"],"name":"serde"},"executable":null}"#;
        assert_eq!(binary_of(lib), None);
        let build_script = r#"{"reason":"compiler-artifact","target":{"kind":["custom-build"],"name":"build-script-build"},"executable":null}"#;
        assert_eq!(binary_of(build_script), None);
        assert_eq!(
            binary_of(r#"{"reason":"build-finished","success":true}"#),
            None
        );
        assert_eq!(binary_of("not json"), None);
    }

    #[test]
    fn flags_reach_cargo_build() {
        let options = PackageOptions {
            packages: vec!["hello".into()],
            bins: vec!["a".into(), "b".into()],
            features: vec!["x".into(), "y".into()],
            target: Some("aarch64-unknown-linux-gnu".into()),
            no_default_features: true,
            locked: true,
            jobs: Some(2),
            ..PackageOptions::default()
        };
        let args: Vec<String> = build_args(&options)
            .into_iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            args.join(" "),
            "build --message-format json-render-diagnostics --profile release --package hello \
             --bin a --bin b --features x,y --no-default-features --target aarch64-unknown-linux-gnu \
             --locked --jobs 2"
        );
    }
}
