//! A function's log in the format its [`LoggingConfig`] chooses: the platform's own lines
//! ("system logs") rendered as text or as JSON records filtered by the system log level, and
//! the function's own lines filtered by the application log level.
//!
//! Under the `JSON` format each text line the platform would write becomes one record
//! `{"time": ..., "type": ..., "record": ...}`, the shape of the Telemetry API's events:
//!
//! | text line | JSON `type` | level |
//! |---|---|---|
//! | `INIT_START ...` | `platform.initStart` | INFO |
//! | `START RequestId: ...` | `platform.start` | INFO |
//! | `END RequestId: ...` | `platform.runtimeDone` | DEBUG |
//! | `REPORT RequestId: ...` | `platform.report` | INFO |
//! | `INIT_REPORT ...` (a failed or timed-out Init) | `platform.initReport` | INFO |
//! | `EXTENSION Name: ...` | `platform.extension` | INFO |
//! | errors and timeouts (`RequestId: ... Error: ...`, `Task timed out ...`) | `platform.fault` | WARN |
//!
//! A function's own line is kept when its level is at least the application log level: a
//! line that is a JSON object with a `"level"` (any case; `WARNING` and `CRITICAL` too) has
//! that level, any other line counts as `INFO`. Lines are never rewritten.

use std::borrow::Cow;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Value};

use super::{ms, Report};
use crate::config::{LogFormat, LogLevel, LoggingConfig};

/// One line the platform writes, in both formats.
#[derive(Debug)]
pub struct PlatformLine {
    /// Its level, for the JSON format's filter.
    pub level: LogLevel,
    /// Its JSON `type`.
    pub kind: &'static str,
    /// The line in the Text format.
    pub text: String,
    /// Its JSON `record`; `None`: the text itself (a string record).
    pub record: Option<Value>,
}

impl PlatformLine {
    /// A line with a structured record (build `record` only when [`LogPolicy::is_json`] on the
    /// invoke path).
    pub fn new(level: LogLevel, kind: &'static str, text: String, record: Option<Value>) -> Self {
        Self {
            level,
            kind,
            text,
            record,
        }
    }

    /// An error or a timeout: `platform.fault` at `WARN`, the text as its record.
    pub fn fault(text: String) -> Self {
        Self::new(LogLevel::Warn, "platform.fault", text, None)
    }

    /// `INIT_START`: Init begins, in `phase` (`init`, or `invoke` for an Init retried inside
    /// the first invocation), for the function `(name, version)`.
    pub fn init_start(init_type: &str, phase: &str, (name, version): (&str, &str)) -> Self {
        Self::new(
            LogLevel::Info,
            "platform.initStart",
            format!("INIT_START Runtime Version: {RUNTIME_VERSION} Runtime Version ARN: {RUNTIME_VERSION_ARN}"),
            Some(json!({
                "initializationType": init_type,
                "phase": phase,
                "functionName": name,
                "functionVersion": version,
                "runtimeVersion": RUNTIME_VERSION,
                "runtimeVersionArn": RUNTIME_VERSION_ARN,
            })),
        )
    }

    /// `INIT_REPORT`: how an Init ended (`status`: `success`, `error` or `timeout`).
    pub fn init_report(init: &InitOutcome<'_>, duration: Duration) -> Self {
        let mut text = format!(
            "INIT_REPORT Init Duration: {:.2} ms\tPhase: {}\tStatus: {}",
            ms(duration),
            init.phase,
            init.status
        );
        let mut record = json!({
            "initializationType": init.init_type,
            "phase": init.phase,
            "status": init.status,
            "metrics": {"durationMs": ms(duration)},
        });
        if let Some(error_type) = init.error_type {
            text.push_str("\tError Type: ");
            text.push_str(error_type);
            record["errorType"] = error_type.into();
        }
        Self::new(LogLevel::Info, "platform.initReport", text, Some(record))
    }

    /// `START`: an invocation begins; the record is built only when `record` is asked for.
    pub fn start(request_id: &str, version: &str, trace_id: &str, record: bool) -> Self {
        Self::new(
            LogLevel::Info,
            "platform.start",
            format!("START RequestId: {request_id} Version: {version}"),
            record.then(|| {
                json!({
                    "requestId": request_id,
                    "version": version,
                    "tracing": {"type": "X-Amzn-Trace-Id", "value": trace_id},
                })
            }),
        )
    }

    /// `END`: the runtime is done with an invocation (`platform.runtimeDone`).
    pub fn runtime_done(
        request_id: &str,
        outcome: Outcome<'_>,
        took: Duration,
        record: bool,
    ) -> Self {
        Self::new(
            LogLevel::Debug,
            "platform.runtimeDone",
            format!("END RequestId: {request_id}"),
            record.then(|| {
                let mut r = json!({
                    "requestId": request_id,
                    "status": outcome.status,
                    "metrics": {"durationMs": ms(took)},
                });
                if let Some(error_type) = outcome.error_type {
                    r["errorType"] = error_type.into();
                }
                r
            }),
        )
    }

    /// `REPORT`: an invocation's figures.
    pub fn report(report: &Report<'_>, outcome: Outcome<'_>, record: bool) -> Self {
        Self::new(
            LogLevel::Info,
            "platform.report",
            report.line(),
            record.then(|| report.record(outcome)),
        )
    }
}

/// How an invocation ended, as the Telemetry API and JSON logs say it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome<'a> {
    /// `success`, `error` (the function's own), `timeout` or `failure`.
    pub status: &'static str,
    /// The error type, when not a success.
    pub error_type: Option<&'a str>,
}

/// How an Init ended, for `INIT_REPORT`.
#[derive(Debug, Clone, Copy)]
pub struct InitOutcome<'a> {
    /// `on-demand` or `provisioned-concurrency`.
    pub init_type: &'a str,
    /// `init`, or `invoke` for an Init retried inside the first invocation.
    pub phase: &'a str,
    /// `success`, `error` or `timeout`.
    pub status: &'a str,
    /// The error type of a failed Init.
    pub error_type: Option<&'a str>,
}

/// The runtime version the platform lines name.
pub const RUNTIME_VERSION: &str = "firebox:provided.al2023";
/// Its ARN.
pub const RUNTIME_VERSION_ARN: &str = "arn:aws:lambda:::runtime:firebox";

/// How one function's lines are written and filtered.
#[derive(Debug, Clone, Copy)]
pub struct LogPolicy {
    json: bool,
    application: LogLevel,
    system: LogLevel,
}

impl LogPolicy {
    /// The policy of `config`.
    pub fn new(config: &LoggingConfig) -> Self {
        Self {
            json: config.format == LogFormat::Json,
            application: config.application_level(),
            system: config.system_level(),
        }
    }

    /// Whether lines are JSON records.
    pub fn is_json(&self) -> bool {
        self.json
    }

    /// The text to write for `line`, or `None` when the system log level filters it out.
    pub fn render(&self, line: PlatformLine) -> Option<String> {
        if !self.json {
            return Some(line.text);
        }
        if line.level < self.system {
            return None;
        }
        let record = line.record.unwrap_or(Value::String(line.text));
        // Written by hand to keep Lambda's order of the keys (a `Value` sorts them).
        Some(format!(
            r#"{{"time":"{}","type":"{}","record":{record}}}"#,
            now(),
            line.kind
        ))
    }

    /// Whether a line of the function's own output is kept.
    pub fn keeps(&self, line: &str) -> bool {
        if !self.json || self.application == LogLevel::Trace {
            return true;
        }
        record_level(line).unwrap_or(LogLevel::Info) >= self.application
    }
}

impl Default for LogPolicy {
    fn default() -> Self {
        Self::new(&LoggingConfig::default())
    }
}

/// The `"level"` of a line that is a JSON object, if it names one.
fn record_level(line: &str) -> Option<LogLevel> {
    #[derive(Deserialize)]
    struct Record<'a> {
        #[serde(borrow)]
        level: Option<Cow<'a, str>>,
    }
    let line = line.trim();
    if !line.starts_with('{') {
        return None;
    }
    let record: Record<'_> = serde_json::from_str(line).ok()?;
    LogLevel::from_record(&record.level?)
}

/// The current time as Lambda writes it in records.
pub(crate) fn now() -> String {
    crate::ids::rfc3339_millis(crate::ids::unix_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(application: LogLevel, system: LogLevel) -> LogPolicy {
        LogPolicy::new(&LoggingConfig {
            format: LogFormat::Json,
            application_level: Some(application),
            system_level: Some(system),
        })
    }

    #[test]
    fn text_format_keeps_everything_as_written() {
        let text = LogPolicy::default();
        let line = PlatformLine::new(LogLevel::Debug, "platform.runtimeDone", "END".into(), None);
        assert_eq!(text.render(line).as_deref(), Some("END"));
        assert!(text.keeps(r#"{"level":"debug"}"#));
    }

    #[test]
    fn json_records_have_time_type_and_record_and_are_filtered_by_system_level() {
        let p = policy(LogLevel::Info, LogLevel::Info);
        let start = PlatformLine::new(
            LogLevel::Info,
            "platform.start",
            "START RequestId: r Version: $LATEST".into(),
            Some(json!({"requestId": "r", "version": "$LATEST"})),
        );
        let rendered = p.render(start).unwrap();
        assert!(rendered.starts_with(r#"{"time":""#), "{rendered}");
        let v: Value = serde_json::from_str(&rendered).unwrap();
        assert_eq!(v["type"], "platform.start");
        assert_eq!(v["record"]["requestId"], "r");
        assert!(v["time"].as_str().unwrap().ends_with('Z'), "{v}");
        let end = PlatformLine::new(LogLevel::Debug, "platform.runtimeDone", "END".into(), None);
        assert_eq!(p.render(end), None, "runtimeDone is DEBUG");
        let fault = PlatformLine::fault("RequestId: r Error: Runtime exited".into());
        let v: Value = serde_json::from_str(&p.render(fault).unwrap()).unwrap();
        assert_eq!(v["type"], "platform.fault");
        assert_eq!(v["record"], "RequestId: r Error: Runtime exited");
        let warn_only = policy(LogLevel::Info, LogLevel::Warn);
        let report = PlatformLine::new(LogLevel::Info, "platform.report", "REPORT".into(), None);
        assert_eq!(warn_only.render(report), None);
    }

    #[test]
    fn function_lines_are_filtered_by_their_level_and_plain_lines_count_as_info() {
        let warn = policy(LogLevel::Warn, LogLevel::Info);
        assert!(!warn.keeps("plain text"));
        assert!(!warn.keeps(r#"{"level":"INFO","message":"m"}"#));
        assert!(warn.keeps(r#"{"level":"warning","message":"m"}"#));
        assert!(warn.keeps(r#"  {"timestamp":"t","level":"ERROR"}"#));
        assert!(
            !warn.keeps(r#"{"level":"loud"}"#),
            "an unknown level is INFO"
        );
        assert!(
            !warn.keeps(r#"{"level": 5}"#),
            "a level that is not a string is INFO"
        );
        assert!(!warn.keeps("{not json"));
        let debug = policy(LogLevel::Debug, LogLevel::Info);
        assert!(debug.keeps("plain text"));
        assert!(debug.keeps(r#"{"level":"DEBUG"}"#));
        assert!(!debug.keeps(r#"{"level":"TRACE"}"#));
    }
}
