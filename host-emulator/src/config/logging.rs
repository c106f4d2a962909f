//! [`LoggingConfig`]: a function's log format and log levels (Lambda's `LoggingConfig`, its
//! "advanced logging controls"), as in `[functions.NAME.logging]` and on
//! [`crate::FunctionConfig::logging`].
//!
//! With the `Text` format (the default) a function's log is what it always was: the output
//! lines as written and the platform lines `START`, `END`, `REPORT`... With `JSON`, the
//! platform lines become JSON records filtered by the system log level, the function's own lines
//! are filtered by the application log level, and the runtime is told both through
//! `AWS_LAMBDA_LOG_FORMAT` and `AWS_LAMBDA_LOG_LEVEL` (see `crate::logs::system`).

use std::fmt;

use serde::Deserialize;

/// The format of a function's log: Lambda's `LogFormat`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum LogFormat {
    /// Plain text lines (Lambda's default).
    #[default]
    Text,
    /// Structured JSON records, with log-level filtering.
    #[serde(rename = "JSON")]
    Json,
}

impl LogFormat {
    /// Lambda's spelling: `Text` or `JSON`.
    pub fn as_str(self) -> &'static str {
        match self {
            LogFormat::Text => "Text",
            LogFormat::Json => "JSON",
        }
    }
}

/// A log level, from the most detailed to the least. Application logs use all six; system
/// logs (the platform's records) only `DEBUG`, `INFO` and `WARN`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum LogLevel {
    /// The most detail.
    Trace,
    /// Detail for debugging.
    Debug,
    /// Normal operation (the default of both levels).
    Info,
    /// Possible problems.
    Warn,
    /// Problems that stop the code.
    Error,
    /// Failures that stop the application (the least detail).
    Fatal,
}

impl LogLevel {
    /// Lambda's spelling: `TRACE` ... `FATAL`.
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Trace => "TRACE",
            LogLevel::Debug => "DEBUG",
            LogLevel::Info => "INFO",
            LogLevel::Warn => "WARN",
            LogLevel::Error => "ERROR",
            LogLevel::Fatal => "FATAL",
        }
    }

    /// Reads the `"level"` of an application log record, in any case, with the names the
    /// managed runtimes' loggers use (`WARNING` and `CRITICAL` included); `None` for anything
    /// else (Lambda then counts the record as `INFO`).
    pub fn from_record(level: &str) -> Option<Self> {
        const NAMES: &[(&str, LogLevel)] = &[
            ("TRACE", LogLevel::Trace),
            ("DEBUG", LogLevel::Debug),
            ("INFO", LogLevel::Info),
            ("WARN", LogLevel::Warn),
            ("WARNING", LogLevel::Warn),
            ("ERROR", LogLevel::Error),
            ("FATAL", LogLevel::Fatal),
            ("CRITICAL", LogLevel::Fatal),
        ];
        NAMES
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(level))
            .map(|&(_, l)| l)
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A function's log format and levels.
///
/// Levels may be given only with [`LogFormat::Json`], as on Lambda; unset, both are `INFO`.
///
/// ```
/// use firebox_emulator::{FunctionConfig, LogFormat, LogLevel, LoggingConfig};
/// let f = FunctionConfig::new("orders").logging(LoggingConfig {
///     format: LogFormat::Json,
///     application_level: Some(LogLevel::Debug),
///     system_level: Some(LogLevel::Warn),
/// });
/// assert_eq!(f.logging.application_level(), LogLevel::Debug);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoggingConfig {
    /// `Text` (default) or `JSON`.
    #[serde(default)]
    pub format: LogFormat,
    /// The least severe level of the function's own records that is kept (JSON only).
    pub application_level: Option<LogLevel>,
    /// The least severe level of the platform's records that is kept: `DEBUG`, `INFO` or
    /// `WARN` (JSON only).
    pub system_level: Option<LogLevel>,
}

/// Lambda's `LoggingConfig` as an update gives it: a field left out keeps its value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoggingUpdate {
    /// The new format.
    pub format: Option<LogFormat>,
    /// The new application log level.
    pub application_level: Option<LogLevel>,
    /// The new system log level.
    pub system_level: Option<LogLevel>,
}

impl LoggingConfig {
    /// `self` with `update` over it. Switching to `Text` drops the levels (they apply to JSON
    /// only) unless the update gives them.
    pub fn merged(&self, update: LoggingUpdate) -> Self {
        let mut logging = *self;
        if let Some(format) = update.format {
            logging.format = format;
            if format == LogFormat::Text {
                logging.application_level = None;
                logging.system_level = None;
            }
        }
        if update.application_level.is_some() {
            logging.application_level = update.application_level;
        }
        if update.system_level.is_some() {
            logging.system_level = update.system_level;
        }
        logging
    }

    /// The JSON format with both levels at `INFO`.
    pub fn json() -> Self {
        Self {
            format: LogFormat::Json,
            ..Self::default()
        }
    }

    /// The application log level in effect (`INFO` unless set).
    pub fn application_level(&self) -> LogLevel {
        self.application_level.unwrap_or(LogLevel::Info)
    }

    /// The system log level in effect (`INFO` unless set).
    pub fn system_level(&self) -> LogLevel {
        self.system_level.unwrap_or(LogLevel::Info)
    }

    /// Checks Lambda's rules; the error names the field.
    pub(crate) fn check(&self) -> Result<(), (&'static str, String)> {
        if self.format == LogFormat::Text {
            for (field, level) in [
                ("logging.application_level", self.application_level),
                ("logging.system_level", self.system_level),
            ] {
                if let Some(level) = level {
                    return Err((
                        field,
                        format!(
                            "`{level}` needs `format = \"JSON\"`: Lambda filters by level only JSON logs"
                        ),
                    ));
                }
            }
        }
        if let Some(level) = self.system_level {
            if !matches!(level, LogLevel::Debug | LogLevel::Info | LogLevel::Warn) {
                return Err((
                    "logging.system_level",
                    format!("`{level}` is not a system log level: use DEBUG, INFO or WARN"),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_update_keeps_what_it_leaves_out_and_text_drops_the_levels() {
        let json = LoggingConfig {
            application_level: Some(LogLevel::Debug),
            ..LoggingConfig::json()
        };
        let system = json.merged(LoggingUpdate {
            system_level: Some(LogLevel::Warn),
            ..LoggingUpdate::default()
        });
        assert_eq!(system.format, LogFormat::Json);
        assert_eq!(system.application_level, Some(LogLevel::Debug));
        assert_eq!(system.system_level, Some(LogLevel::Warn));
        let text = system.merged(LoggingUpdate {
            format: Some(LogFormat::Text),
            ..LoggingUpdate::default()
        });
        assert_eq!(text, LoggingConfig::default());
        assert_eq!(text.merged(LoggingUpdate::default()), text);
    }

    #[test]
    fn record_levels_are_read_in_any_case_with_the_runtimes_names() {
        assert_eq!(LogLevel::from_record("debug"), Some(LogLevel::Debug));
        assert_eq!(LogLevel::from_record("Warning"), Some(LogLevel::Warn));
        assert_eq!(LogLevel::from_record("CRITICAL"), Some(LogLevel::Fatal));
        assert_eq!(LogLevel::from_record("verbose"), None);
        assert!(LogLevel::Trace < LogLevel::Info && LogLevel::Info < LogLevel::Fatal);
    }

    #[test]
    fn levels_need_json_and_system_levels_are_three() {
        let text_with_level = LoggingConfig {
            application_level: Some(LogLevel::Debug),
            ..LoggingConfig::default()
        };
        let (field, message) = text_with_level.check().unwrap_err();
        assert_eq!(field, "logging.application_level");
        assert!(message.contains("JSON"), "{message}");
        let fatal_system = LoggingConfig {
            system_level: Some(LogLevel::Fatal),
            ..LoggingConfig::json()
        };
        assert_eq!(fatal_system.check().unwrap_err().0, "logging.system_level");
        let fine = LoggingConfig {
            application_level: Some(LogLevel::Trace),
            system_level: Some(LogLevel::Warn),
            ..LoggingConfig::json()
        };
        assert_eq!(fine.check(), Ok(()));
        assert_eq!(LoggingConfig::json().system_level(), LogLevel::Info);
    }
}
