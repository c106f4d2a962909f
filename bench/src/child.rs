//! Helper processes the benchmarks start (the echo floor, `firebox serve`): spawned with
//! their stdout read line by line, their stderr passed through, and killed when dropped.

use std::path::Path;
use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

use crate::BenchError;

/// The lines a helper writes to its stdout.
pub(crate) type StdoutLines = Lines<BufReader<ChildStdout>>;

/// Spawns `command` (whose program is `path`, for the error) and hands back its stdout lines.
/// `what` names the helper in the error when its stdout cannot be taken.
pub(crate) fn spawn_with_stdout(
    command: &mut Command,
    path: &Path,
    what: &str,
) -> Result<(Child, StdoutLines), BenchError> {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| BenchError::Spawn {
            path: path.to_path_buf(),
            source,
        })?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| BenchError::Helper(format!("{what} stdout not captured")))?;
    Ok((child, BufReader::new(stdout).lines()))
}
