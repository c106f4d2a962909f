//! Function definitions: the `firebox.toml` model ([`FunctionConfig`], also built in code by
//! tests), its loading from TOML (`file`), and validation with messages that name the file,
//! the function and the field (`validate`).

pub(crate) mod bootstrap_glibc;
pub mod event_invoke;
mod file;
mod function;
pub(crate) mod interpreter;
mod lambda_runtimes;
pub(crate) mod layers;
pub mod logging;
mod node_client;
mod node_start;
mod raw_function;
mod runtimes;
mod urls;
mod validate;
mod versions;

use std::net::SocketAddr;
use std::path::PathBuf;

pub use crate::scheduler::limits::{AccountConfig, ScalingRate};
pub use event_invoke::EventInvokeConfig;
pub use function::FunctionConfig;
pub use lambda_runtimes::check_lambda_runtime;
pub use logging::{LogFormat, LogLevel, LoggingConfig, LoggingUpdate};
pub use node_start::{lambda_flags, node_arguments, NodeFeatures};
pub(crate) use runtimes::{check_name as check_runtime_name, runtime_command, Launch};
pub use runtimes::{family as runtime_family, Runtimes, HANDLER_PLACEHOLDER};
pub(crate) use validate::check_description;
pub use validate::{check_destinations, MAX_DESCRIPTION};
pub(crate) use versions::{check_alias, is_version_number, AliasRuleError};
pub use versions::{AliasConfig, VersionConfig, LATEST};
/// Default listen address of `firebox serve` (the port AWS SAM's local Lambda endpoint uses).
pub const DEFAULT_LISTEN: &str = "127.0.0.1:3001";
/// Lambda's `PATH` for custom runtimes, which a function's `PATH` begins with (the emulator's
/// own follows, so that interpreters installed elsewhere, by pyenv or nvm, are still found).
pub(crate) const LAMBDA_PATH: &str = "/usr/local/bin:/usr/bin/:/bin:/opt/bin";
/// Default region of every function.
pub const DEFAULT_REGION: &str = "us-east-1";
/// Default account id of every function.
pub const DEFAULT_ACCOUNT_ID: &str = "123456789012";
/// Largest total size of a function's own environment variables (keys plus values), in bytes.
pub const MAX_ENVIRONMENT_BYTES: usize = 4096;
/// Most extensions one function may have (external and internal together).
pub const MAX_EXTENSIONS: usize = 10;

/// The name an external extension registers under: its file name.
pub fn extension_name(path: &std::path::Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Variables set by Lambda itself, which a function's configuration may not override.
pub const RESERVED_VARIABLES: &[&str] = &[
    "_HANDLER",
    "_X_AMZN_TRACE_ID",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API",
    "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
];

/// A configuration that could not be loaded or is not valid.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{file}: cannot read: {source}")]
    Read {
        /// The file.
        file: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML, or a section has the wrong shape.
    #[error("{file}: {message}")]
    Syntax {
        /// The file.
        file: String,
        /// The parser's message.
        message: String,
    },
    /// A field has a value that is not allowed. For a function built in code (`file`
    /// `<code>`), the message names the [`FunctionConfig`] builder method that sets the field
    /// too: ``<code>: function `a`: `.timeout()` (field `timeout_s`): ...``.
    #[error(
        "{file}: function `{function}`: {}: {message}",
        validate::field_label(file, field)
    )]
    Field {
        /// The file (`<code>` for functions built in code).
        file: String,
        /// The function.
        function: String,
        /// The field.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// A function section could not be read (unknown field, wrong type).
    #[error("{file}: function `{function}`: {message}")]
    Function {
        /// The file.
        file: String,
        /// The function.
        function: String,
        /// The parser's message, which names the field.
        message: String,
    },
    /// The configuration as a whole is not usable.
    #[error("{file}: {message}")]
    Invalid {
        /// The file.
        file: String,
        /// What is wrong.
        message: String,
    },
}

/// Parses configuration text as a `firebox.toml` in `/tmp` (the unit tests' helper).
#[cfg(test)]
pub(crate) fn parse_test_config(text: &str) -> Result<Config, ConfigError> {
    Config::parse(text, "firebox.toml", std::path::Path::new("/tmp"))
}

/// The whole configuration: server settings and functions.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// Where the Invoke API listens (`None`: the caller decides).
    pub listen: Option<SocketAddr>,
    /// The functions, validated.
    pub functions: Vec<FunctionConfig>,
    /// Account-level concurrency settings (`[server]`).
    pub account: AccountConfig,
    /// The commands of Lambda's managed runtimes (`[runtimes]`).
    pub runtimes: Runtimes,
    /// How long a shutdown lets the requests in flight finish (`[server] shutdown_grace_s`;
    /// `None`: [`crate::DEFAULT_SHUTDOWN_GRACE`]).
    pub shutdown_grace: Option<std::time::Duration>,
}
