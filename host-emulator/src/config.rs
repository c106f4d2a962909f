//! Function definitions: the `firebox.toml` model, the same model as public types for tests, and
//! validation with messages that name the file, the function and the field.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

pub use crate::scheduler::limits::{AccountConfig, ScalingRate};

/// Default listen address of `firebox serve` (the port AWS SAM's local Lambda endpoint uses).
pub const DEFAULT_LISTEN: &str = "127.0.0.1:3001";
/// Default region of every function.
pub const DEFAULT_REGION: &str = "us-east-1";
/// Default account id of every function.
pub const DEFAULT_ACCOUNT_ID: &str = "123456789012";
/// Largest total size of a function's own environment variables (keys plus values), in bytes.
pub const MAX_ENVIRONMENT_BYTES: usize = 4096;

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
    /// A field has a value that is not allowed.
    #[error("{file}: function `{function}`: field `{field}`: {message}")]
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

/// One function: what to run and with which limits.
///
/// Built from `firebox.toml` or in code:
/// ```
/// use std::time::Duration;
/// use firebox_emulator::FunctionConfig;
/// let f = FunctionConfig::new("hello")
///     .command(["/usr/bin/env", "python3", "app.py"])
///     .timeout(Duration::from_secs(5))
///     .env("GREETING", "hi");
/// assert_eq!(f.name, "hello");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionConfig {
    /// The function's name (1 to 64 letters, digits, `-` or `_`).
    pub name: String,
    /// The program and its arguments. Empty means `code_dir/bootstrap`.
    pub command: Vec<String>,
    /// The working directory (`LAMBDA_TASK_ROOT`).
    pub code_dir: Option<PathBuf>,
    /// Becomes `_HANDLER`.
    pub handler: Option<String>,
    /// Memory size in MB, 128 to 10240.
    pub memory_mb: u32,
    /// Invocation timeout, 1 s to 900 s.
    pub timeout: Duration,
    /// The function's own environment variables.
    pub environment: BTreeMap<String, String>,
    /// Region in ARNs and `AWS_REGION`.
    pub region: String,
    /// Account id in ARNs.
    pub account_id: String,
    /// Reserved concurrency: set aside from the account and the function's cap (`None`: draws
    /// from the unreserved pool; `Some(0)`: every invoke is throttled).
    pub reserved_concurrency: Option<u32>,
    /// Environments initialised at start-up and kept ready (`provisioned-concurrency`).
    pub provisioned_concurrency: u32,
    /// Multi-concurrency (Lambda Managed Instances): invocations one environment may hold at
    /// once; sets `AWS_LAMBDA_MAX_CONCURRENCY`.
    pub max_concurrency: Option<u32>,
    /// Whether idle environments are frozen between invocations (default true).
    pub freeze: bool,
    /// Opt-in limit on how fast environments are added (`scaling_rate`).
    pub scaling_rate: Option<ScalingRate>,
    /// How long an idle environment is kept before it is shut down (default 10 minutes).
    pub idle_timeout: Duration,
    /// Longest on-demand Init phase before Init is retried inside the invoke (default 10 s).
    pub init_timeout: Duration,
    /// Largest streamed response in bytes (default 200 MiB).
    pub stream_max_bytes: u64,
    /// Lambda's bandwidth shape for streamed responses: 6 MiB at full speed, then about
    /// 2 MiB/s (default off).
    pub stream_bandwidth_shape: bool,
    /// The function URL, when the function has one.
    pub url: Option<crate::url::UrlConfig>,
}

impl FunctionConfig {
    /// A function with Lambda's defaults: 128 MB, 3 s, us-east-1.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            command: Vec::new(),
            code_dir: None,
            handler: None,
            memory_mb: 128,
            timeout: Duration::from_secs(3),
            environment: BTreeMap::new(),
            region: DEFAULT_REGION.to_owned(),
            account_id: DEFAULT_ACCOUNT_ID.to_owned(),
            reserved_concurrency: None,
            provisioned_concurrency: 0,
            max_concurrency: None,
            freeze: true,
            scaling_rate: None,
            idle_timeout: Duration::from_secs(600),
            init_timeout: Duration::from_secs(10),
            stream_max_bytes: crate::stream::DEFAULT_MAX_STREAM_BYTES,
            stream_bandwidth_shape: false,
            url: None,
        }
    }

    /// Sets the program and its arguments.
    pub fn command<I, S>(mut self, command: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.command = command.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the working directory.
    pub fn code_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.code_dir = Some(dir.into());
        self
    }

    /// Sets `_HANDLER`.
    pub fn handler(mut self, handler: impl Into<String>) -> Self {
        self.handler = Some(handler.into());
        self
    }

    /// Sets the memory size in MB.
    pub fn memory_mb(mut self, mb: u32) -> Self {
        self.memory_mb = mb;
        self
    }

    /// Sets the invocation timeout.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Adds one environment variable.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.environment.insert(key.into(), value.into());
        self
    }

    /// Sets the region.
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = region.into();
        self
    }

    /// Sets the account id.
    pub fn account_id(mut self, account: impl Into<String>) -> Self {
        self.account_id = account.into();
        self
    }

    /// Former per-function cap; now an alias of [`FunctionConfig::reserved_concurrency`].
    pub fn max_environments(self, n: usize) -> Self {
        self.reserved_concurrency(u32::try_from(n).unwrap_or(u32::MAX))
    }

    /// Sets the reserved concurrency (0 throttles every invoke).
    pub fn reserved_concurrency(mut self, n: u32) -> Self {
        self.reserved_concurrency = Some(n);
        self
    }

    /// Sets the provisioned concurrency.
    pub fn provisioned_concurrency(mut self, n: u32) -> Self {
        self.provisioned_concurrency = n;
        self
    }

    /// Sets multi-concurrency: up to `n` invocations per environment.
    pub fn max_concurrency(mut self, n: u32) -> Self {
        self.max_concurrency = Some(n);
        self
    }

    /// Turns freezing of idle environments on or off.
    pub fn freeze(mut self, freeze: bool) -> Self {
        self.freeze = freeze;
        self
    }

    /// Limits how fast environments are added.
    pub fn scaling_rate(mut self, rate: ScalingRate) -> Self {
        self.scaling_rate = Some(rate);
        self
    }

    /// Invocations one environment holds at once (1 unless multi-concurrency is on).
    pub fn slots(&self) -> u32 {
        self.max_concurrency.unwrap_or(1).max(1)
    }

    /// Sets how long an idle environment is kept.
    pub fn idle_timeout(mut self, idle: Duration) -> Self {
        self.idle_timeout = idle;
        self
    }

    /// Sets the on-demand Init limit.
    pub fn init_timeout(mut self, init: Duration) -> Self {
        self.init_timeout = init;
        self
    }

    /// Gives the function a URL.
    pub fn url(mut self, url: crate::url::UrlConfig) -> Self {
        self.url = Some(url);
        self
    }

    /// Sets the largest streamed response.
    pub fn stream_max_bytes(mut self, bytes: u64) -> Self {
        self.stream_max_bytes = bytes;
        self
    }

    /// Turns Lambda's streaming bandwidth shape on or off.
    pub fn stream_bandwidth_shape(mut self, on: bool) -> Self {
        self.stream_bandwidth_shape = on;
        self
    }

    /// The unqualified ARN of this function.
    pub fn arn(&self) -> String {
        format!(
            "arn:aws:lambda:{}:{}:function:{}",
            self.region, self.account_id, self.name
        )
    }

    /// Checks every field and resolves paths against `base` (the directory of the
    /// configuration file, or the current directory). `file` names the source in messages.
    pub fn validate(mut self, file: &str, base: &Path) -> Result<Self, ConfigError> {
        let field_error = |field: &str, message: String| ConfigError::Field {
            file: file.to_owned(),
            function: self.name.clone(),
            field: field.to_owned(),
            message,
        };
        if self.name.is_empty()
            || self.name.len() > 64
            || !self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(field_error(
                "name",
                "must be 1 to 64 letters, digits, `-` or `_`".into(),
            ));
        }
        if !(128..=10240).contains(&self.memory_mb) {
            return Err(field_error(
                "memory_mb",
                format!("must be between 128 and 10240 (got {})", self.memory_mb),
            ));
        }
        if self.timeout < Duration::from_secs(1) || self.timeout > Duration::from_secs(900) {
            return Err(field_error(
                "timeout_s",
                format!(
                    "must be between 1 and 900 seconds (got {})",
                    self.timeout.as_secs_f64()
                ),
            ));
        }
        if self.init_timeout.is_zero() {
            return Err(field_error("init_timeout_s", "must be positive".into()));
        }
        if self.stream_max_bytes == 0 {
            return Err(field_error("stream_max_bytes", "must be positive".into()));
        }
        if let Some(url) = &self.url {
            if let Err((field, message)) = url.check() {
                return Err(field_error(field, message));
            }
        }
        crate::scheduler::limits::check_function(&self, file, &AccountConfig::default())?;
        if self.region.is_empty()
            || !self
                .region
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Err(field_error(
                "region",
                format!("`{}` is not a region name", self.region),
            ));
        }
        if self.account_id.len() != 12 || !self.account_id.chars().all(|c| c.is_ascii_digit()) {
            return Err(field_error(
                "account_id",
                format!("`{}` is not a 12-digit account id", self.account_id),
            ));
        }
        let mut total = 0;
        for (key, value) in &self.environment {
            if RESERVED_VARIABLES.contains(&key.as_str()) {
                return Err(field_error(
                    "environment",
                    format!("`{key}` is reserved by Lambda and cannot be set"),
                ));
            }
            if key.is_empty()
                || key.starts_with(|c: char| c.is_ascii_digit())
                || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            {
                return Err(field_error(
                    "environment",
                    format!("`{key}` is not a valid variable name"),
                ));
            }
            if value.contains('\0') {
                return Err(field_error(
                    "environment",
                    format!("the value of `{key}` contains a NUL byte"),
                ));
            }
            total += key.len() + value.len();
        }
        if total > MAX_ENVIRONMENT_BYTES {
            return Err(field_error(
                "environment",
                format!(
                    "variables total {total} bytes, more than the {MAX_ENVIRONMENT_BYTES}-byte limit"
                ),
            ));
        }
        if let Some(dir) = &self.code_dir {
            let dir = base.join(dir);
            if !dir.is_dir() {
                return Err(field_error(
                    "code_dir",
                    format!("`{}` is not a directory", dir.display()),
                ));
            }
            self.code_dir = Some(dir);
        }
        match self.command.first() {
            None => match &self.code_dir {
                Some(dir) => self.command = vec![dir.join("bootstrap").display().to_string()],
                None => {
                    return Err(field_error(
                        "command",
                        "give `command`, `code_dir` (which holds `bootstrap`), or both".into(),
                    ))
                }
            },
            Some(program) if program.is_empty() => {
                return Err(field_error("command", "the program name is empty".into()))
            }
            Some(program) => {
                let resolved = resolve_program(program, base);
                self.command[0] = resolved.display().to_string();
            }
        }
        if self.code_dir.is_none() {
            let program = Path::new(&self.command[0]);
            let dir = match program.parent() {
                Some(parent) if program.is_absolute() && self.command[0].contains('/') => {
                    parent.to_path_buf()
                }
                _ => base.to_path_buf(),
            };
            self.code_dir = Some(dir);
        }
        Ok(self)
    }
}

/// Makes a program path absolute: paths with a `/` are relative to `base`; bare names are
/// looked up on the emulator's own `PATH` (the function's `PATH` is Lambda's, not ours).
fn resolve_program(program: &str, base: &Path) -> PathBuf {
    if program.contains('/') {
        return base.join(program);
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(program);
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    PathBuf::from(program)
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
}

impl Config {
    /// Reads and validates a `firebox.toml` file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            file: path.to_path_buf(),
            source,
        })?;
        let base = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let base = std::fs::canonicalize(&base).unwrap_or(base);
        Self::parse(&text, &path.display().to_string(), &base)
    }

    /// Parses and validates configuration text; `file` names it in messages, `base` resolves
    /// relative paths.
    pub fn parse(text: &str, file: &str, base: &Path) -> Result<Self, ConfigError> {
        let syntax = |message: String| ConfigError::Syntax {
            file: file.to_owned(),
            message,
        };
        let doc: RawFile = toml::from_str(text).map_err(|e| syntax(e.to_string()))?;
        let server = doc.server.unwrap_or_default();
        let mut account = AccountConfig::default();
        if let Some(n) = server.account_concurrency {
            account.concurrency = n;
        }
        if let Some(n) = server.unreserved_minimum {
            account.unreserved_minimum = n;
        }
        if let Some(c) = server.cgroups {
            account.cgroups = c;
        }
        let listen = match server.listen {
            Some(text) => Some(text.parse().map_err(|e| ConfigError::Invalid {
                file: file.to_owned(),
                message: format!("[server] field `listen`: `{text}` is not an address: {e}"),
            })?),
            None => None,
        };
        let defaults: RawFunction = match doc.defaults {
            Some(table) => toml::Value::Table(table)
                .try_into()
                .map_err(|e: toml::de::Error| syntax(format!("[defaults]: {}", e.message())))?,
            None => RawFunction::default(),
        };
        let mut functions = Vec::new();
        for (name, value) in doc.functions.unwrap_or_default() {
            let raw: RawFunction =
                value
                    .try_into()
                    .map_err(|e: toml::de::Error| ConfigError::Function {
                        file: file.to_owned(),
                        function: name.clone(),
                        message: e.message().to_owned(),
                    })?;
            let function = raw
                .or(&defaults)
                .into_config(&name, file)?
                .validate(file, base)?;
            functions.push(function);
        }
        if functions.is_empty() {
            return Err(ConfigError::Invalid {
                file: file.to_owned(),
                message: "no functions defined (add a [functions.NAME] section)".into(),
            });
        }
        crate::scheduler::limits::check_account(&functions, file, &account)?;
        Ok(Self {
            listen,
            functions,
            account,
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    server: Option<RawServer>,
    defaults: Option<toml::Table>,
    functions: Option<toml::Table>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    listen: Option<String>,
    account_concurrency: Option<u32>,
    unreserved_minimum: Option<u32>,
    cgroups: Option<bool>,
}

/// `scaling_rate = "aws"` or `{ environments = N, window_s = S }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum RawScalingRate {
    Named(String),
    Custom { environments: u32, window_s: f64 },
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFunction {
    command: Option<Vec<String>>,
    code_dir: Option<PathBuf>,
    handler: Option<String>,
    memory_mb: Option<u32>,
    timeout_s: Option<f64>,
    environment: Option<BTreeMap<String, String>>,
    region: Option<String>,
    account_id: Option<String>,
    max_environments: Option<u32>,
    reserved_concurrency: Option<u32>,
    provisioned_concurrency: Option<u32>,
    max_concurrency: Option<u32>,
    freeze: Option<bool>,
    scaling_rate: Option<RawScalingRate>,
    idle_timeout_s: Option<f64>,
    init_timeout_s: Option<f64>,
    stream_max_bytes: Option<u64>,
    stream_bandwidth_shape: Option<bool>,
    url: Option<crate::url::UrlConfig>,
}

impl RawFunction {
    fn or(self, defaults: &RawFunction) -> RawFunction {
        let d = defaults.clone();
        RawFunction {
            command: self.command.or(d.command),
            code_dir: self.code_dir.or(d.code_dir),
            handler: self.handler.or(d.handler),
            memory_mb: self.memory_mb.or(d.memory_mb),
            timeout_s: self.timeout_s.or(d.timeout_s),
            environment: match (d.environment, self.environment) {
                (Some(mut base), Some(own)) => {
                    base.extend(own);
                    Some(base)
                }
                (base, own) => own.or(base),
            },
            region: self.region.or(d.region),
            account_id: self.account_id.or(d.account_id),
            max_environments: self.max_environments.or(d.max_environments),
            reserved_concurrency: self.reserved_concurrency.or(d.reserved_concurrency),
            provisioned_concurrency: self.provisioned_concurrency.or(d.provisioned_concurrency),
            max_concurrency: self.max_concurrency.or(d.max_concurrency),
            freeze: self.freeze.or(d.freeze),
            scaling_rate: self.scaling_rate.or(d.scaling_rate),
            idle_timeout_s: self.idle_timeout_s.or(d.idle_timeout_s),
            init_timeout_s: self.init_timeout_s.or(d.init_timeout_s),
            stream_max_bytes: self.stream_max_bytes.or(d.stream_max_bytes),
            stream_bandwidth_shape: self.stream_bandwidth_shape.or(d.stream_bandwidth_shape),
            url: self.url.or(d.url),
        }
    }

    fn into_config(self, name: &str, file: &str) -> Result<FunctionConfig, ConfigError> {
        let seconds = |field: &str, value: f64| {
            if (0.0..=86_400.0).contains(&value) {
                Ok(Duration::from_secs_f64(value))
            } else {
                Err(ConfigError::Field {
                    file: file.to_owned(),
                    function: name.to_owned(),
                    field: field.to_owned(),
                    message: format!("`{value}` is not a number of seconds"),
                })
            }
        };
        let mut f = FunctionConfig::new(name);
        if let Some(command) = self.command {
            f.command = command;
        }
        f.code_dir = self.code_dir;
        f.handler = self.handler;
        if let Some(mb) = self.memory_mb {
            f.memory_mb = mb;
        }
        if let Some(t) = self.timeout_s {
            f.timeout = seconds("timeout_s", t)?;
        }
        if let Some(env) = self.environment {
            f.environment = env;
        }
        if let Some(r) = self.region {
            f.region = r;
        }
        if let Some(a) = self.account_id {
            f.account_id = a;
        }
        let field = |field: &str, message: String| ConfigError::Field {
            file: file.to_owned(),
            function: name.to_owned(),
            field: field.to_owned(),
            message,
        };
        match (self.max_environments, self.reserved_concurrency) {
            (Some(_), Some(_)) => {
                return Err(field(
                    "max_environments",
                    "is the old name of `reserved_concurrency`; give only one of them".into(),
                ))
            }
            (Some(n), None) | (None, Some(n)) => f.reserved_concurrency = Some(n),
            (None, None) => {}
        }
        if let Some(n) = self.provisioned_concurrency {
            f.provisioned_concurrency = n;
        }
        f.max_concurrency = self.max_concurrency;
        if let Some(freeze) = self.freeze {
            f.freeze = freeze;
        }
        f.scaling_rate = match self.scaling_rate {
            None => None,
            Some(RawScalingRate::Named(n)) if n == "aws" => Some(ScalingRate::AWS),
            Some(RawScalingRate::Named(n)) => {
                return Err(field(
                    "scaling_rate",
                    format!(
                        "`{n}` is not a rate: use \"aws\" or {{ environments = N, window_s = S }}"
                    ),
                ))
            }
            Some(RawScalingRate::Custom {
                environments,
                window_s,
            }) => Some(ScalingRate {
                environments,
                window: seconds("scaling_rate", window_s)?,
            }),
        };
        if let Some(t) = self.idle_timeout_s {
            f.idle_timeout = seconds("idle_timeout_s", t)?;
        }
        if let Some(t) = self.init_timeout_s {
            f.init_timeout = seconds("init_timeout_s", t)?;
        }
        if let Some(n) = self.stream_max_bytes {
            f.stream_max_bytes = n;
        }
        if let Some(on) = self.stream_bandwidth_shape {
            f.stream_bandwidth_shape = on;
        }
        f.url = self.url;
        Ok(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, "firebox.toml", Path::new("/tmp"))
    }

    #[test]
    fn full_function_with_defaults() {
        let config = parse(
            r#"
            [defaults]
            region = "eu-west-1"
            memory_mb = 256
            environment = { A = "1" }

            [functions.hello]
            command = ["/bin/true", "x"]
            handler = "app.handler"
            timeout_s = 5
            environment = { B = "2" }
            "#,
        )
        .unwrap();
        let f = &config.functions[0];
        assert_eq!(f.name, "hello");
        assert_eq!(f.region, "eu-west-1");
        assert_eq!(f.memory_mb, 256);
        assert_eq!(f.timeout, Duration::from_secs(5));
        assert_eq!(f.environment.len(), 2);
        assert_eq!(f.command, vec!["/bin/true", "x"]);
        assert_eq!(f.code_dir.as_deref(), Some(Path::new("/bin")));
        assert_eq!(
            f.arn(),
            "arn:aws:lambda:eu-west-1:123456789012:function:hello"
        );
    }

    #[test]
    fn code_dir_alone_runs_bootstrap() {
        let config = parse("[functions.f]\ncode_dir = \".\"\n").unwrap();
        assert_eq!(config.functions[0].command, vec!["/tmp/./bootstrap"]);
    }

    #[test]
    fn bad_field_names_file_function_and_field() {
        let err = parse("[functions.hello]\ncommand = [\"/bin/true\"]\nmemory_mb = 64\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("firebox.toml"), "{err}");
        assert!(err.contains("hello"), "{err}");
        assert!(err.contains("memory_mb"), "{err}");
    }

    #[test]
    fn unknown_field_is_named() {
        let err = parse("[functions.hello]\ncommand = [\"/bin/true\"]\nmemroy_mb = 64\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("hello") && err.contains("memroy_mb"), "{err}");
    }

    #[test]
    fn reserved_and_oversized_environment_refused() {
        let err = parse(
            "[functions.f]\ncommand = [\"/bin/true\"]\nenvironment = { AWS_REGION = \"x\" }\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("AWS_REGION") && err.contains("reserved"),
            "{err}"
        );
        let big = "x".repeat(5000);
        let err = parse(&format!(
            "[functions.f]\ncommand = [\"/bin/true\"]\nenvironment = {{ BIG = \"{big}\" }}\n"
        ))
        .unwrap_err()
        .to_string();
        assert!(err.contains("environment") && err.contains("4096"), "{err}");
    }

    #[test]
    fn limits_and_missing_command() {
        for (text, field) in [
            ("timeout_s = 0\ncommand = [\"/bin/true\"]", "timeout_s"),
            ("timeout_s = 901\ncommand = [\"/bin/true\"]", "timeout_s"),
            ("memory_mb = 10241\ncommand = [\"/bin/true\"]", "memory_mb"),
            ("handler = \"x\"", "command"),
            (
                "command = [\"/bin/true\"]\ncode_dir = \"/nonexistent/dir\"",
                "code_dir",
            ),
            (
                "command = [\"/bin/true\"]\naccount_id = \"12\"",
                "account_id",
            ),
            (
                "command = [\"/bin/true\"]\nmax_concurrency = 0",
                "max_concurrency",
            ),
            (
                "command = [\"/bin/true\"]\nreserved_concurrency = 2\nprovisioned_concurrency = 3",
                "provisioned_concurrency",
            ),
            (
                "command = [\"/bin/true\"]\nscaling_rate = \"fast\"",
                "scaling_rate",
            ),
            (
                "command = [\"/bin/true\"]\nmax_environments = 2\nreserved_concurrency = 2",
                "max_environments",
            ),
        ] {
            let err = parse(&format!("[functions.f]\n{text}\n"))
                .unwrap_err()
                .to_string();
            assert!(err.contains(field), "{text}: {err}");
        }
    }

    #[test]
    fn no_functions_and_bad_syntax() {
        assert!(parse("").unwrap_err().to_string().contains("no functions"));
        assert!(parse("[functions.f\n")
            .unwrap_err()
            .to_string()
            .starts_with("firebox.toml"));
        let err = parse("[server]\nlisten = \"nope\"\n[functions.f]\ncommand=[\"/bin/true\"]\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("listen"), "{err}");
    }
}
