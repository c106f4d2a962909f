//! The error type shared by every harness in this crate.

use std::path::PathBuf;

/// Everything that can stop a benchmark from producing a result.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// An endpoint URL that the load generator cannot use.
    #[error("invalid endpoint {url:?}: {reason}")]
    InvalidEndpoint {
        /// The URL as given.
        url: String,
        /// Why it was refused.
        reason: String,
    },
    /// A command-line or configuration value that makes no sense.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// Binding or accepting on a loopback listener failed.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address asked for.
        addr: String,
        /// The underlying failure.
        source: std::io::Error,
    },
    /// A benchmarked binary could not be started.
    #[error("cannot start {path}: {source}")]
    Spawn {
        /// The binary.
        path: PathBuf,
        /// The underlying failure.
        source: std::io::Error,
    },
    /// A benchmarked process exited when it should have been serving.
    #[error("{name} exited {when}: {status}{}", stderr_suffix(.stderr_tail))]
    ChildExited {
        /// The binary's label.
        name: String,
        /// During which phase.
        when: &'static str,
        /// Its exit status.
        status: String,
        /// The last lines it wrote to stderr.
        stderr_tail: String,
    },
    /// A benchmarked process did not reach a milestone in time.
    #[error("{name} timed out after {seconds:.1} s {when}{}", stderr_suffix(.stderr_tail))]
    Timeout {
        /// The binary's label.
        name: String,
        /// What it was expected to do.
        when: &'static str,
        /// The limit.
        seconds: f64,
        /// The last lines it wrote to stderr.
        stderr_tail: String,
    },
    /// The runtime under test reported an init error through `/runtime/init/error`.
    #[error("{name} reported an init error: {body}")]
    InitError {
        /// The binary's label.
        name: String,
        /// The error document it posted.
        body: String,
    },
    /// Reading `/proc` for a child's statistics failed.
    #[error("cannot read {path}: {reason}")]
    Proc {
        /// The file.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// A helper process (the floor echo server) misbehaved.
    #[error("helper process: {0}")]
    Helper(String),
    /// Any other I/O failure.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

fn stderr_suffix(tail: &str) -> String {
    if tail.trim().is_empty() {
        String::new()
    } else {
        format!("\n--- stderr (tail) ---\n{}", tail.trim_end())
    }
}
