//! Firebox: AWS Lambda on one machine (Invoke, Runtime and function URL APIs, real processes).
//!
//! The emulator starts functions as real processes behind the Lambda Invoke API and a Runtime
//! API per execution environment, with Lambda's cold/warm lifecycle, timeouts, crashes, log
//! lines and error documents. Use it from the `firebox` command or, in tests, as a library:
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use firebox_emulator::{Emulator, FunctionConfig};
//! let emu = Emulator::builder()
//!     .function(FunctionConfig::new("hello").command(["python3", "tests/runtimes/echo.py"]))
//!     .start()
//!     .await?;
//! let answer = emu.invoke("hello", "{}").await?;
//! println!("{} {}", answer.status, answer.text());
//! # Ok(()) }
//! ```

pub mod aliases;
pub mod api;
mod arn;
mod asynchronous;
mod cargo_bin;
pub mod cli;
pub mod client;
pub mod code_size;
pub mod config;
pub mod deploy;
pub mod deployment_package;
mod emulator;
pub mod environment;
pub mod event_invoke;
pub mod event_outcomes;
pub mod eventstream;
mod functions;
pub mod ids;
pub mod invocation;
pub mod layer_versions;
pub mod logs;
pub mod metrics;
pub mod package;
pub mod policy;
pub mod provisioned;
pub mod scheduler;
pub mod settings;
pub mod snapshot;
pub mod stored_settings;
pub mod stream;
pub mod tags;
pub mod trace;

/// Helpers shared by the unit tests.
#[cfg(test)]
pub(crate) mod testing {
    use std::path::PathBuf;

    /// A new empty directory `firebox-<tag>-<pid>-<random id>` under the system's temporary
    /// directory.
    pub fn temp_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "firebox-{tag}-{}-{}",
            std::process::id(),
            crate::ids::request_id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
pub mod url;
mod versions;

pub use aliases::{Alias, AliasError, AliasUpdate};
pub use cargo_bin::{cargo_bin, CargoBinError};
pub use client::{
    Chunk, ClientError, InvocationType, InvokeOptions, InvokeResponse, InvokeStream, Payload,
    StreamComplete, Streamed,
};
pub use code_size::CombinedSizeError;
pub use config::{
    AliasConfig, Config, ConfigError, EventInvokeConfig, FunctionConfig, LogFormat, LogLevel,
    LoggingConfig, VersionConfig,
};
pub use deploy::DeployError;
pub use emulator::{
    ControlError, Emulator, EmulatorBuilder, InvocationReport, LogWaitError, StartError,
    DEFAULT_SHUTDOWN_GRACE,
};
pub use event_invoke::{EventInvokeError, EventInvokeSettings};
pub use event_outcomes::{EventCondition, EventOutcome};
pub use layer_versions::{LayerError, LayerRefError, LayerVersion, LayerVersionInfo};
pub use logs::{LogLine, LogSource};
pub use policy::{Permission, PolicyError};
pub use provisioned::{ProvisionedConcurrency, ProvisionedError, ProvisionedStatus};
pub use scheduler::capacity::{ProvisioningError, ReservationError};
pub use settings::{FunctionUpdate, SettingsError};
pub use tags::TagError;
