//! Start-up configuration: the function's [`Config`] (as `lambda_runtime` exposes it) and the
//! runtime's own [`RuntimeConfig`], both read once from the process environment or from an
//! explicit variable lookup.

use std::{fmt, sync::Arc, time::Duration};

use serde::{Deserialize, Serialize};

/// The function's configuration, read from Lambda's reserved environment variables.
///
/// Same fields as `lambda_runtime::Config`, plus `region` and `initialization_type`. Absent
/// variables leave a field empty (or zero); nothing here panics.
#[derive(Debug, Default, Clone, Eq, PartialEq, Serialize, Deserialize)]
pub struct Config {
    /// `AWS_LAMBDA_FUNCTION_NAME`.
    pub function_name: String,
    /// `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`, in MB.
    pub memory: i32,
    /// `AWS_LAMBDA_FUNCTION_VERSION`.
    pub version: String,
    /// `AWS_LAMBDA_LOG_STREAM_NAME`.
    pub log_stream: String,
    /// `AWS_LAMBDA_LOG_GROUP_NAME`.
    pub log_group: String,
    /// `AWS_REGION` (falling back to `AWS_DEFAULT_REGION`).
    pub region: String,
    /// `AWS_LAMBDA_INITIALIZATION_TYPE` (`on-demand`, `provisioned-concurrency`, ...).
    pub initialization_type: String,
}

/// The shared, read-only function configuration carried by every [`crate::Context`].
pub type RefConfig = Arc<Config>;

impl Config {
    /// Reads the configuration from the process environment. Absent or malformed values are
    /// left empty or zero; use [`RuntimeConfig::from_env`] to have malformed values reported.
    pub fn from_env() -> Self {
        let env = |name: &str| std::env::var(name).ok();
        Self::from_lookup(env).unwrap_or_else(|_| {
            // Only a malformed memory size fails; read everything else without it.
            let without_memory = |name: &str| {
                (name != "AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
                    .then(|| env(name))
                    .flatten()
            };
            Self::from_lookup(without_memory).unwrap_or_default()
        })
    }

    /// Reads the configuration through `lookup` (a variable name to its value).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let memory = match lookup("AWS_LAMBDA_FUNCTION_MEMORY_SIZE") {
            None => 0,
            Some(raw) => raw
                .trim()
                .parse::<i32>()
                .map_err(|_| ConfigError::InvalidMemorySize(raw))?,
        };
        Ok(Config {
            function_name: lookup("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_default(),
            memory,
            version: lookup("AWS_LAMBDA_FUNCTION_VERSION").unwrap_or_default(),
            log_stream: lookup("AWS_LAMBDA_LOG_STREAM_NAME").unwrap_or_default(),
            log_group: lookup("AWS_LAMBDA_LOG_GROUP_NAME").unwrap_or_default(),
            region: lookup("AWS_REGION")
                .or_else(|| lookup("AWS_DEFAULT_REGION"))
                .unwrap_or_default(),
            initialization_type: lookup("AWS_LAMBDA_INITIALIZATION_TYPE").unwrap_or_default(),
        })
    }
}

/// A start-up configuration problem. Reported through `/runtime/init/error` when the Runtime API
/// address is known, else printed before the process exits.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// `AWS_LAMBDA_RUNTIME_API` is not set.
    #[error("AWS_LAMBDA_RUNTIME_API is not set; this program is a Lambda bootstrap and must be started by Lambda or a Runtime API server")]
    MissingRuntimeApi,
    /// `AWS_LAMBDA_RUNTIME_API` is not `host:port`, `http://host:port` or `http://host:port/prefix`.
    #[error("AWS_LAMBDA_RUNTIME_API is {0:?}; expected host:port, http://host:port or http://host:port/prefix")]
    InvalidRuntimeApi(String),
    /// `AWS_LAMBDA_FUNCTION_MEMORY_SIZE` is not an integer.
    #[error("AWS_LAMBDA_FUNCTION_MEMORY_SIZE is {0:?}; expected a whole number of MB")]
    InvalidMemorySize(String),
    /// `AWS_LAMBDA_LOG_FORMAT` is neither `Text` nor `JSON`.
    #[error("AWS_LAMBDA_LOG_FORMAT is {0:?}; expected Text or JSON")]
    InvalidLogFormat(String),
    /// `AWS_LAMBDA_MAX_CONCURRENCY` is not a whole number of at least 1.
    #[error("AWS_LAMBDA_MAX_CONCURRENCY is {0:?}; expected a whole number of at least 1")]
    InvalidMaxConcurrency(String),
}

/// Where the Runtime API lives: an authority (`host:port`) and an optional path prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeApiEndpoint {
    host: String,
    port: u16,
    authority: String,
    prefix: String,
}

impl RuntimeApiEndpoint {
    /// Parses `host:port`, `http://host:port` or `http://host:port/prefix` (a trailing `/` is
    /// ignored). `https` is refused: the Runtime API is plain HTTP on the local machine.
    pub fn parse(raw: &str) -> Result<Self, ConfigError> {
        let invalid = || ConfigError::InvalidRuntimeApi(raw.to_owned());
        let trimmed = raw.trim();
        let rest = match trimmed.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => rest,
            Some(_) => return Err(invalid()),
            None => trimmed,
        };
        let (authority, prefix) = match rest.find('/') {
            Some(at) => (&rest[..at], rest[at..].trim_end_matches('/')),
            None => (rest, ""),
        };
        let (host, port) = authority.rsplit_once(':').ok_or_else(invalid)?;
        let port: u16 = port.parse().map_err(|_| invalid())?;
        let bare_host = host.trim_start_matches('[').trim_end_matches(']');
        if bare_host.is_empty()
            || bare_host.contains(|c: char| c.is_whitespace() || c == '@' || c == '?' || c == '#')
            || prefix.contains(|c: char| c.is_whitespace() || c == '?' || c == '#')
        {
            return Err(invalid());
        }
        Ok(RuntimeApiEndpoint {
            host: bare_host.to_owned(),
            port,
            authority: authority.to_owned(),
            prefix: prefix.to_owned(),
        })
    }

    /// The host name or address, without brackets.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The TCP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `host:port`, as sent in the `Host` header.
    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// The path prefix (empty, or starting with `/` and without a trailing `/`).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }
}

impl fmt::Display for RuntimeApiEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "http://{}{}", self.authority, self.prefix)
    }
}

/// The log record format chosen by `AWS_LAMBDA_LOG_FORMAT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Human-readable lines (the default).
    #[default]
    Text,
    /// One JSON object per record: `timestamp`, `level`, `message`, `requestId`, ...
    Json,
}

/// How often and how patiently the runtime retries a Runtime API it cannot reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Connection attempts before giving up (at least 1).
    pub attempts: u32,
    /// Pause after the first failed attempt; it doubles after each further failure.
    pub initial_backoff: Duration,
    /// The longest pause between attempts.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 6,
            initial_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_millis(800),
        }
    }
}

/// Everything the runtime reads once at start-up.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// The Runtime API address from `AWS_LAMBDA_RUNTIME_API`.
    pub endpoint: RuntimeApiEndpoint,
    /// The function's configuration, shared with every [`crate::Context`].
    pub function: RefConfig,
    /// `AWS_LAMBDA_LOG_FORMAT`.
    pub log_format: LogFormat,
    /// The log filter: `AWS_LAMBDA_LOG_LEVEL`, else `RUST_LOG`, else `INFO`.
    pub log_filter: String,
    /// `AWS_LAMBDA_MAX_CONCURRENCY`, when set: how many invocations `run_concurrent` serves at
    /// once (`run` refuses more than 1).
    pub max_concurrency: Option<u32>,
    /// Retry behaviour when the Runtime API cannot be reached.
    pub retry: RetryPolicy,
}

/// A configuration that failed to load, with the endpoint when it was readable (so the failure
/// can still be posted to `/runtime/init/error`).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{error}")]
pub struct ConfigLoadError {
    /// What went wrong.
    pub error: ConfigError,
    /// The Runtime API address, when `AWS_LAMBDA_RUNTIME_API` itself was valid.
    pub endpoint: Option<RuntimeApiEndpoint>,
}

impl RuntimeConfig {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigLoadError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup` (a variable name to its value), so tests and
    /// embedders can run the runtime without touching the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigLoadError> {
        let no_endpoint = |error| ConfigLoadError {
            error,
            endpoint: None,
        };
        let raw =
            lookup("AWS_LAMBDA_RUNTIME_API").ok_or(no_endpoint(ConfigError::MissingRuntimeApi))?;
        let endpoint = RuntimeApiEndpoint::parse(&raw).map_err(no_endpoint)?;
        let with_endpoint = |error| ConfigLoadError {
            error,
            endpoint: Some(endpoint.clone()),
        };
        let function = Config::from_lookup(&lookup).map_err(with_endpoint)?;
        let log_format = match lookup("AWS_LAMBDA_LOG_FORMAT") {
            None => LogFormat::Text,
            Some(v) if v.trim().is_empty() || v.trim().eq_ignore_ascii_case("text") => {
                LogFormat::Text
            }
            Some(v) if v.trim().eq_ignore_ascii_case("json") => LogFormat::Json,
            Some(v) => return Err(with_endpoint(ConfigError::InvalidLogFormat(v))),
        };
        let log_filter = lookup("AWS_LAMBDA_LOG_LEVEL")
            .filter(|v| !v.trim().is_empty())
            .map(|v| aws_level_to_filter(&v))
            .or_else(|| lookup("RUST_LOG").filter(|v| !v.trim().is_empty()))
            .unwrap_or_else(|| "info".to_owned());
        let max_concurrency = match lookup("AWS_LAMBDA_MAX_CONCURRENCY") {
            None => None,
            Some(v) if v.trim().is_empty() => None,
            Some(v) => match v.trim().parse::<u32>() {
                Ok(n) if n > 0 => Some(n),
                _ => return Err(with_endpoint(ConfigError::InvalidMaxConcurrency(v))),
            },
        };
        Ok(RuntimeConfig {
            endpoint,
            function: Arc::new(function),
            log_format,
            log_filter,
            max_concurrency,
            retry: RetryPolicy::default(),
        })
    }
}

/// Maps Lambda's log levels (`TRACE`, `DEBUG`, `INFO`, `WARN`, `ERROR`, `FATAL`) to a filter.
fn aws_level_to_filter(level: &str) -> String {
    match level.trim().to_ascii_uppercase().as_str() {
        "TRACE" => "trace",
        "DEBUG" => "debug",
        "WARN" | "WARNING" => "warn",
        "ERROR" | "FATAL" => "error",
        _ => "info",
    }
    .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn endpoint_forms() {
        let plain = RuntimeApiEndpoint::parse("127.0.0.1:9001").unwrap();
        assert_eq!(
            (plain.host(), plain.port(), plain.prefix()),
            ("127.0.0.1", 9001, "")
        );
        let http = RuntimeApiEndpoint::parse("http://localhost:8080").unwrap();
        assert_eq!(
            (http.host(), http.port(), http.prefix()),
            ("localhost", 8080, "")
        );
        let prefixed = RuntimeApiEndpoint::parse("http://localhost:8080/api/v1/").unwrap();
        assert_eq!(prefixed.prefix(), "/api/v1");
        assert_eq!(prefixed.authority(), "localhost:8080");
        assert_eq!(prefixed.to_string(), "http://localhost:8080/api/v1");
        let v6 = RuntimeApiEndpoint::parse("[::1]:9001").unwrap();
        assert_eq!((v6.host(), v6.authority()), ("::1", "[::1]:9001"));
    }

    #[test]
    fn endpoint_rejects_garbage() {
        for bad in [
            "",
            "localhost",
            "localhost:",
            "localhost:http",
            ":9001",
            "https://localhost:9001",
            "localhost:99999",
            "http://user@host:1",
        ] {
            assert_eq!(
                RuntimeApiEndpoint::parse(bad),
                Err(ConfigError::InvalidRuntimeApi(bad.to_owned())),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn config_defaults_when_absent() {
        let c = RuntimeConfig::from_lookup(lookup(&[("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:1")]))
            .unwrap();
        assert_eq!(*c.function, Config::default());
        assert_eq!(c.log_format, LogFormat::Text);
        assert_eq!(c.log_filter, "info");
        assert_eq!(c.max_concurrency, None);
    }

    #[test]
    fn config_reads_everything() {
        let c = RuntimeConfig::from_lookup(lookup(&[
            ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:1"),
            ("AWS_LAMBDA_FUNCTION_NAME", "fn"),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256"),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
            ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/fn"),
            ("AWS_LAMBDA_LOG_STREAM_NAME", "2026/01/01/[$LATEST]abc"),
            ("AWS_DEFAULT_REGION", "eu-west-1"),
            ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand"),
            ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
            ("AWS_LAMBDA_LOG_LEVEL", "DEBUG"),
            ("RUST_LOG", "trace"),
            ("AWS_LAMBDA_MAX_CONCURRENCY", "4"),
        ]))
        .unwrap();
        assert_eq!(c.function.function_name, "fn");
        assert_eq!(c.function.memory, 256);
        assert_eq!(c.function.version, "$LATEST");
        assert_eq!(c.function.log_group, "/aws/lambda/fn");
        assert_eq!(c.function.log_stream, "2026/01/01/[$LATEST]abc");
        assert_eq!(c.function.region, "eu-west-1");
        assert_eq!(c.function.initialization_type, "on-demand");
        assert_eq!(c.log_format, LogFormat::Json);
        assert_eq!(
            c.log_filter, "debug",
            "AWS_LAMBDA_LOG_LEVEL wins over RUST_LOG"
        );
        assert_eq!(c.max_concurrency, Some(4));
    }

    #[test]
    fn rust_log_is_the_fallback() {
        let c = RuntimeConfig::from_lookup(lookup(&[
            ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:1"),
            ("RUST_LOG", "my_fn=debug,warn"),
        ]))
        .unwrap();
        assert_eq!(c.log_filter, "my_fn=debug,warn");
    }

    #[test]
    fn malformed_values_are_errors_with_endpoint() {
        let err = RuntimeConfig::from_lookup(lookup(&[
            ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:1"),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "lots"),
        ]))
        .unwrap_err();
        assert_eq!(err.error, ConfigError::InvalidMemorySize("lots".into()));
        assert_eq!(err.endpoint.unwrap().port(), 1);

        let err = RuntimeConfig::from_lookup(lookup(&[
            ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:1"),
            ("AWS_LAMBDA_LOG_FORMAT", "yaml"),
        ]))
        .unwrap_err();
        assert_eq!(err.error, ConfigError::InvalidLogFormat("yaml".into()));

        for bad in ["0", "four", "-2"] {
            let err = RuntimeConfig::from_lookup(lookup(&[
                ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:1"),
                ("AWS_LAMBDA_MAX_CONCURRENCY", bad),
            ]))
            .unwrap_err();
            assert_eq!(err.error, ConfigError::InvalidMaxConcurrency(bad.into()));
        }

        let err = RuntimeConfig::from_lookup(lookup(&[])).unwrap_err();
        assert_eq!(err.error, ConfigError::MissingRuntimeApi);
        assert!(err.endpoint.is_none());
    }
}
