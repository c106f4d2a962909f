//! Workspace binaries the tests start (the SDK examples, the official-runtime fixture): found in
//! the target directory of the running test and built there with `cargo build` the first time a
//! test process asks for them, so they are never stale (`firebox_emulator::cargo_bin`, whose
//! own tests cover the build and its errors).

use std::path::PathBuf;

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

/// The path of `binary`, built (or brought up to date) in the running test's target directory
/// and profile the first time this process asks for it (see [`firebox_emulator::cargo_bin`]).
pub fn workspace_bin(binary: Binary) -> Result<PathBuf, Error> {
    Ok(firebox_emulator::cargo_bin(binary.package, binary.bin)?)
}
