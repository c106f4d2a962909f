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
use std::time::{Duration, Instant, SystemTime};

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
    /// the first invocation), for the function `(name, version)` of `runtime`.
    pub fn init_start(
        init_type: &str,
        phase: &str,
        (name, version): (&str, &str),
        runtime: &RuntimeVersion,
    ) -> Self {
        Self::new(
            LogLevel::Info,
            "platform.initStart",
            format!(
                "INIT_START Runtime Version: {}\tRuntime Version ARN: {}",
                runtime.version, runtime.arn
            ),
            Some(json!({
                "initializationType": init_type,
                "phase": phase,
                "functionName": name,
                "functionVersion": version,
                "runtimeVersion": runtime.version,
                "runtimeVersionArn": runtime.arn,
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

    /// `START`: an invocation begins, run with the X-Ray header `trace`; the record is built
    /// only when `record` is asked for (its `tracing` only when the trace is sampled).
    pub fn start(request_id: &str, version: &str, trace: &str, record: bool) -> Self {
        Self::new(
            LogLevel::Info,
            "platform.start",
            format!("START RequestId: {request_id} Version: {version}"),
            record.then(|| {
                let mut r = json!({"requestId": request_id, "version": version});
                if let Some(tracing) = crate::trace::context(trace) {
                    r["tracing"] = tracing;
                }
                r
            }),
        )
    }

    /// `END`: the runtime is done with an invocation (`platform.runtimeDone`).
    pub fn runtime_done(done: &RuntimeDone<'_>, record: bool) -> Self {
        Self::new(
            LogLevel::Debug,
            "platform.runtimeDone",
            format!("END RequestId: {}", done.request_id),
            record.then(|| done.record()),
        )
    }

    /// `REPORT`: an invocation's figures, run with the X-Ray header `trace`.
    pub fn report(report: &Report<'_>, outcome: Outcome<'_>, trace: &str, record: bool) -> Self {
        Self::new(
            LogLevel::Info,
            "platform.report",
            report.line(),
            record.then(|| {
                let mut r = report.record(outcome);
                if let Some(tracing) = crate::trace::context(trace) {
                    r["tracing"] = tracing;
                }
                r
            }),
        )
    }
}

/// What `platform.runtimeDone` says of an invocation.
#[derive(Debug, Clone, Copy)]
pub struct RuntimeDone<'a> {
    /// The invocation.
    pub request_id: &'a str,
    /// How it ended.
    pub outcome: Outcome<'a>,
    /// When its invoke phase began (the event's delivery, or the start of an Init retried
    /// inside it).
    pub started: Instant,
    /// How long it ran.
    pub took: Duration,
    /// How the runtime sent its response, when it called `/response`.
    pub response: Option<ResponseSent>,
    /// The X-Ray header it ran with.
    pub trace: &'a str,
}

/// How a runtime sent an invocation's response through `/response` (buffered or streamed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseSent {
    /// When the runtime began to send it (its request's head arrived).
    pub started: Instant,
    /// When the emulator had all of it.
    pub finished: Instant,
    /// Its size in bytes (as much as arrived, for a response over the limit).
    pub bytes: u64,
}

impl RuntimeDone<'_> {
    /// The record: `metrics` (`durationMs`, and `producedBytes`: 0 unless the runtime called
    /// `/response`), the `spans` of a response (`responseLatency`: from the invoke's start
    /// until the runtime began to send it; `responseDuration`: the sending), `errorType`, and
    /// `tracing` for a sampled trace, as Lambda fills them.
    fn record(&self) -> Value {
        let produced = self.response.map_or(0, |r| r.bytes);
        let mut r = json!({
            "requestId": self.request_id,
            "status": self.outcome.status,
            "metrics": {"durationMs": ms(self.took), "producedBytes": produced},
            "spans": [],
        });
        if let Some(response) = self.response {
            let at = Clock::now();
            r["spans"] = json!([
                span(
                    "responseLatency",
                    at.wall(self.started),
                    response.started.saturating_duration_since(self.started),
                ),
                span(
                    "responseDuration",
                    at.wall(response.started),
                    response
                        .finished
                        .saturating_duration_since(response.started),
                ),
            ]);
        }
        if let Some(error_type) = self.outcome.error_type {
            r["errorType"] = error_type.into();
        }
        if let Some(tracing) = crate::trace::context(self.trace) {
            r["tracing"] = tracing;
        }
        r
    }
}

/// A span of a Telemetry API record: `{"name", "start", "durationMs"}`.
fn span(name: &str, start: String, duration: Duration) -> Value {
    json!({"name": name, "start": start, "durationMs": ms(duration)})
}

/// One reading of both clocks, to place monotonic instants in wall-clock time.
struct Clock {
    instant: Instant,
    wall: SystemTime,
}

impl Clock {
    fn now() -> Self {
        Self {
            instant: Instant::now(),
            wall: SystemTime::now(),
        }
    }

    /// `at` as Lambda writes a record's times (`2024-01-31T12:34:56.789Z`).
    fn wall(&self, at: Instant) -> String {
        let wall = match at.checked_duration_since(self.instant) {
            Some(later) => self.wall + later,
            None => self.wall - self.instant.saturating_duration_since(at),
        };
        crate::ids::rfc3339_millis(crate::ids::millis_of(wall))
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

/// The runtime version `INIT_START` names, in Lambda's shape: `python:3.12.firebox` for a
/// function of runtime `python3.12` (Lambda: `python:3.12.v38`), `provided:al2023.firebox`
/// for a custom runtime (a `command`), and an ARN of the function's region
/// (`arn:aws:lambda:us-east-1::runtime:firebox-python3.12`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeVersion {
    /// `python:3.12.firebox`.
    pub version: String,
    /// `arn:aws:lambda:REGION::runtime:firebox-python3.12`.
    pub arn: String,
}

impl RuntimeVersion {
    /// The version of the Lambda runtime `runtime` (`python3.12`, `nodejs20.x`; `None` for a
    /// custom runtime, `provided.al2023`), in `region`.
    pub fn new(runtime: Option<&str>, region: &str) -> Self {
        let id = runtime.unwrap_or("provided.al2023");
        let (family, number) = match id.find(|c: char| c.is_ascii_digit() || c == '.') {
            Some(at) => id.split_at(at),
            None => (id, ""),
        };
        let number = number.trim_start_matches('.').trim_end_matches(".x");
        let version = if number.is_empty() {
            format!("{family}.firebox")
        } else {
            format!("{family}:{number}.firebox")
        };
        Self {
            version,
            arn: format!("arn:aws:lambda:{region}::runtime:firebox-{id}"),
        }
    }
}

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

/// The `"level"` of a line that is a JSON object, if it names one and has a valid RFC 3339
/// `"timestamp"`: Lambda gives a record without one the level INFO ("If you don't supply a
/// valid timestamp, Lambda will assign the log the level INFO").
fn record_level(line: &str) -> Option<LogLevel> {
    #[derive(Deserialize)]
    struct Record<'a> {
        #[serde(borrow)]
        level: Option<Cow<'a, str>>,
        #[serde(borrow)]
        timestamp: Option<Cow<'a, str>>,
    }
    let line = line.trim();
    if !line.starts_with('{') {
        return None;
    }
    let record: Record<'_> = serde_json::from_str(line).ok()?;
    if !super::timestamp::is_rfc3339(&record.timestamp?) {
        return None;
    }
    LogLevel::from_record(&record.level?)
}

/// The current time as Lambda writes it in records.
pub(crate) fn now() -> String {
    crate::ids::rfc3339_millis(crate::ids::unix_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_without_a_valid_timestamp_is_info() {
        let policy = LogPolicy::new(&LoggingConfig {
            application_level: Some(LogLevel::Warn),
            ..LoggingConfig::json()
        });
        let at = |ts: &str| format!(r#"{{"timestamp":"{ts}","level":"DEBUG","message":"m"}}"#);
        assert!(
            !policy.keeps(&at("2026-11-22T10:00:00.123Z")),
            "a DEBUG record"
        );
        assert!(!policy.keeps(&at("2026-11-22t10:00:00+01:00")));
        // Without a valid timestamp it is INFO, which WARN filters out too...
        assert!(!policy.keeps(r#"{"level":"DEBUG","message":"m"}"#));
        // ... and which INFO keeps, where the DEBUG record would be dropped.
        let info = LogPolicy::new(&LoggingConfig {
            application_level: Some(LogLevel::Info),
            ..LoggingConfig::json()
        });
        assert!(!info.keeps(&at("2026-11-22T10:00:00Z")));
        for bad in [
            "yesterday",
            "2026-11-22 10:00:00Z",
            "2026-13-22T10:00:00Z",
            "2026-11-22T10:00:00",
            "2026-11-22T10:00:00.Z",
            "2026-11-22T10:00:00+1:00",
        ] {
            assert!(info.keeps(&at(bad)), "{bad}: no valid timestamp, so INFO");
        }
        assert!(info.keeps(r#"{"level":"DEBUG","message":"no timestamp"}"#));
    }

    #[test]
    fn init_start_is_lambda_s_line_with_the_function_s_runtime() {
        let custom = RuntimeVersion::new(None, "eu-west-1");
        assert_eq!(custom.version, "provided:al2023.firebox");
        assert_eq!(
            custom.arn,
            "arn:aws:lambda:eu-west-1::runtime:firebox-provided.al2023"
        );
        assert_eq!(
            RuntimeVersion::new(Some("python3.12"), "us-east-1").version,
            "python:3.12.firebox"
        );
        assert_eq!(
            RuntimeVersion::new(Some("nodejs20.x"), "us-east-1").version,
            "nodejs:20.firebox"
        );
        let line = PlatformLine::init_start("on-demand", "init", ("f", "$LATEST"), &custom);
        let text = LogPolicy::default().render(line).unwrap_or_default();
        assert_eq!(
            text,
            "INIT_START Runtime Version: provided:al2023.firebox\tRuntime Version ARN: arn:aws:lambda:eu-west-1::runtime:firebox-provided.al2023"
        );
    }

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
        const TS: &str = r#""timestamp":"2026-11-22T10:00:00Z""#;
        assert!(!warn.keeps(&format!(r#"{{{TS},"level":"INFO","message":"m"}}"#)));
        assert!(warn.keeps(&format!(r#"{{{TS},"level":"warning","message":"m"}}"#)));
        assert!(warn.keeps(&format!(r#"  {{{TS},"level":"ERROR"}}"#)));
        assert!(
            !warn.keeps(&format!(r#"{{{TS},"level":"loud"}}"#)),
            "an unknown level is INFO"
        );
        assert!(
            !warn.keeps(&format!(r#"{{{TS},"level": 5}}"#)),
            "a level that is not a string is INFO"
        );
        assert!(!warn.keeps("{not json"));
        let debug = policy(LogLevel::Debug, LogLevel::Info);
        assert!(debug.keeps("plain text"));
        assert!(debug.keeps(&format!(r#"{{{TS},"level":"DEBUG"}}"#)));
        assert!(!debug.keeps(&format!(r#"{{{TS},"level":"TRACE"}}"#)));
    }

    const SAMPLED: &str =
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
    const NOT_SAMPLED: &str =
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0";

    /// Milliseconds into the day of a record's `2024-01-31T12:34:56.789Z`.
    fn millis(at: &Value) -> i64 {
        let at = at.as_str().unwrap();
        assert_eq!((at.len(), &at[10..11], &at[23..]), (24, "T", "Z"), "{at}");
        let field = |range: std::ops::Range<usize>| at[range].parse::<i64>().unwrap();
        ((field(11..13) * 60 + field(14..16)) * 60 + field(17..19)) * 1000 + field(20..23)
    }

    #[test]
    fn runtime_done_has_the_responses_spans_and_size() {
        let started = Instant::now();
        let response = ResponseSent {
            started: started + Duration::from_millis(40),
            finished: started + Duration::from_millis(45),
            bytes: 16,
        };
        let done = RuntimeDone {
            request_id: "r",
            outcome: Outcome {
                status: "success",
                error_type: None,
            },
            started,
            took: Duration::from_micros(45_500),
            response: Some(response),
            trace: NOT_SAMPLED,
        };
        let record = PlatformLine::runtime_done(&done, true).record.unwrap();
        assert_eq!(
            record["metrics"],
            json!({"durationMs": 45.5, "producedBytes": 16})
        );
        let spans = record["spans"].as_array().unwrap();
        let names: Vec<&str> = spans.iter().map(|s| s["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["responseLatency", "responseDuration"]);
        assert_eq!(spans[0]["durationMs"], 40.0);
        assert_eq!(spans[1]["durationMs"], 5.0);
        // The second span starts where the first ends (within a millisecond of rounding).
        // (Modulo a day: the test may run across midnight.)
        let gap = (millis(&spans[1]["start"]) - millis(&spans[0]["start"])).rem_euclid(86_400_000);
        assert!((39..=41).contains(&gap), "{record}");
        assert_eq!(record.get("tracing"), None, "not sampled: {record}");
        assert_eq!(record.get("errorType"), None);
        assert_eq!(
            PlatformLine::runtime_done(&done, false).text,
            "END RequestId: r"
        );
    }

    #[test]
    fn runtime_done_of_an_error_has_no_spans_and_no_bytes() {
        let done = RuntimeDone {
            request_id: "r",
            outcome: Outcome {
                status: "error",
                error_type: Some("Flaky"),
            },
            started: Instant::now(),
            took: Duration::from_millis(3),
            response: None,
            trace: SAMPLED,
        };
        let record = PlatformLine::runtime_done(&done, true).record.unwrap();
        assert_eq!(record["metrics"]["producedBytes"], 0);
        assert_eq!(record["spans"], json!([]));
        assert_eq!(record["errorType"], "Flaky");
        assert_eq!(record["tracing"]["spanId"], "53995c3f42cd8ad8");
        assert_eq!(record["tracing"]["value"], SAMPLED);
    }

    #[test]
    fn start_and_report_carry_the_trace_only_when_sampled() {
        for (trace, traced) in [(SAMPLED, true), (NOT_SAMPLED, false)] {
            let start = PlatformLine::start("r", "$LATEST", trace, true)
                .record
                .unwrap();
            assert_eq!(start.get("tracing").is_some(), traced, "{start}");
            let report = Report {
                request_id: "r",
                duration: Duration::from_millis(2),
                memory_mb: 128,
                max_memory_bytes: 1 << 20,
                init: None,
                failure: None,
            };
            let outcome = Outcome {
                status: "success",
                error_type: None,
            };
            let record = PlatformLine::report(&report, outcome, trace, true)
                .record
                .unwrap();
            assert_eq!(record.get("tracing").is_some(), traced, "{record}");
        }
        assert_eq!(
            PlatformLine::start("r", "$LATEST", SAMPLED, false).record,
            None
        );
    }
}
