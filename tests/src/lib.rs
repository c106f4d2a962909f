//! Shared support for Firebox's end-to-end tests: where the binaries and third-party runtimes
//! live, the function definitions of every fixture, one emulator shared by the tests of a file,
//! and bounded polling of the emulator's logs.
//!
//! Nothing here is skipped quietly: a missing virtualenv, Node fixture or binary is an
//! [`Error`] that says what to run (`scripts/setup-test-deps`, `cargo build ...`).

pub mod bins;
pub mod deps;
pub mod functions;
pub mod logs;
pub mod shared;

use std::path::PathBuf;

/// Why the test support could not provide what a test asked for.
#[derive(thiserror::Error)]
pub enum Error {
    /// A workspace binary could not be built or found.
    #[error(transparent)]
    Bin(#[from] firebox_emulator::CargoBinError),
    /// A third-party dependency of the tests is not installed.
    #[error("{what} not found ({detail}); run scripts/setup-test-deps (or scripts/test) first")]
    MissingDependency {
        /// What is missing.
        what: &'static str,
        /// Where it was looked for, or what went wrong.
        detail: String,
    },
    /// The tokio runtime the tests share could not be built.
    #[error("cannot build the tokio runtime: {0}")]
    Runtime(String),
    /// The emulator did not start.
    #[error("the emulator did not start: {0}")]
    Emulator(#[from] firebox_emulator::StartError),
    /// A condition the test waited for did not come true in time.
    #[error("timed out after {seconds} s waiting for {what}")]
    Timeout {
        /// What was awaited.
        what: String,
        /// How long.
        seconds: u64,
    },
}

/// Shows the message, not the variant: a test returning `Err` prints its error's `Debug`.
impl std::fmt::Debug for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

/// The repository's root directory (the parent of this crate's manifest directory).
pub fn repo_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    match manifest.parent() {
        Some(root) => root.to_path_buf(),
        // A manifest directory is always a subdirectory of something; keep it if not.
        None => manifest,
    }
}
