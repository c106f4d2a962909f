//! The records the Logs API (`PUT /2020-08-15/logs`, schema `2021-03-18`) sends a subscriber:
//! [`LogsEvent`]s, each a timestamp and a [`LogsRecord`] — typed for the `platform.*` records
//! that API documents, raw JSON for log lines and anything else. Read leniently, like the
//! Telemetry API's records: unknown types and fields, and known types whose record does not
//! fit, are kept as they came, never an error.

use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;

use crate::{
    telemetry::{typed, RawEvent},
    ExtensionRecord, LogsDroppedRecord, ReportMetrics, RuntimeDoneRecord, StartRecord,
    TelemetryStatus, TelemetrySubscriptionRecord, Tracing,
};

/// One record of a Logs API batch: `{"time": ..., "type": ..., "record": ...}`.
///
/// A batch (what the handler of [`Extension::logs`](crate::Extension::logs) gets) is a
/// `Vec<LogsEvent>`:
///
/// ```
/// use firebox_extensions::{LogsEvent, LogsRecord};
///
/// let batch: Vec<LogsEvent> = serde_json::from_str(r#"[
///     {"time": "2026-11-21T15:05:37.995Z", "type": "platform.end",
///      "record": {"requestId": "r-1"}},
///     {"time": "2026-11-21T15:05:37.996Z", "type": "platform.fault",
///      "record": "RequestId: r-1 Process exited before completing request"}
/// ]"#)?;
/// assert!(matches!(&batch[0].record, LogsRecord::PlatformEnd(end) if end.request_id == "r-1"));
/// assert_eq!(batch[1].kind(), "platform.fault");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(from = "RawEvent")]
pub struct LogsEvent {
    /// `time`: when the record was made, as sent (RFC 3339 with milliseconds).
    pub time: String,
    /// The record, by its `type`.
    pub record: LogsRecord,
}

impl LogsEvent {
    /// The record's `type` (`platform.report`, `function`, ...).
    pub fn kind(&self) -> &str {
        self.record.kind()
    }
}

impl From<RawEvent> for LogsEvent {
    fn from(raw: RawEvent) -> Self {
        LogsEvent {
            time: raw.time,
            record: LogsRecord::new(raw.kind, raw.record),
        }
    }
}

impl Serialize for LogsEvent {
    /// The wire format: `{"time": ..., "type": ..., "record": ...}`.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        crate::telemetry::serialize_event(serializer, &self.time, self.kind(), &self.record)
    }
}

/// A Logs API record, by its `type`.
///
/// The Logs API has no Init records (`platform.initStart`, ...: those are the Telemetry API's).
/// Records of the types typed here whose fields do not fit (a missing `requestId`, a
/// `platform.fault` that is not a string), and types not listed, come as
/// [`Other`](Self::Other).
///
/// Serialized, it is the record alone, as in an event's `record` (the type is the event's).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
#[non_exhaustive]
pub enum LogsRecord {
    /// `platform.start`: an invocation started.
    PlatformStart(StartRecord),
    /// `platform.end`: the runtime answered an invocation.
    PlatformEnd(EndRecord),
    /// `platform.report`: an invocation's duration, billing and memory.
    PlatformReport(LogsReportRecord),
    /// `platform.runtimeDone`: the runtime finished an invocation, with its `status`.
    PlatformRuntimeDone(RuntimeDoneRecord),
    /// `platform.extension`: an extension's registration, when Init ends.
    PlatformExtension(ExtensionRecord),
    /// `platform.logsSubscription`: an extension subscribed to the Logs API (`name`, `state`,
    /// `types`: the fields of the Telemetry API's `platform.telemetrySubscription`).
    PlatformLogsSubscription(TelemetrySubscriptionRecord),
    /// `platform.logsDropped`: records Lambda could not deliver to this subscriber.
    PlatformLogsDropped(LogsDroppedRecord),
    /// `platform.fault`: a runtime or environment error, as text (`RequestId: ... Process
    /// exited before completing request`).
    PlatformFault(String),
    /// `function`: a line of the function's output — a string, or a JSON object under
    /// Lambda's JSON log format.
    Function(Value),
    /// `extension`: a line of an extension's output — a string, or a JSON object.
    Extension(Value),
    /// Any other type, or a typed one whose record does not fit, as it came.
    #[serde(serialize_with = "crate::telemetry::serialize_other")]
    Other {
        /// The record's `type`.
        kind: String,
        /// The record.
        record: Value,
    },
}

impl LogsRecord {
    /// Reads `record` as a record of type `kind` (leniently: see [`LogsRecord`]).
    pub fn new(kind: impl Into<String>, record: Value) -> Self {
        let kind = kind.into();
        let other = |kind, record| Self::Other { kind, record };
        match kind.as_str() {
            "platform.start" => typed(kind, record, Self::PlatformStart, other),
            "platform.end" => typed(kind, record, Self::PlatformEnd, other),
            "platform.report" => typed(kind, record, Self::PlatformReport, other),
            "platform.runtimeDone" => typed(kind, record, Self::PlatformRuntimeDone, other),
            "platform.extension" => typed(kind, record, Self::PlatformExtension, other),
            "platform.logsSubscription" => {
                typed(kind, record, Self::PlatformLogsSubscription, other)
            }
            "platform.logsDropped" => typed(kind, record, Self::PlatformLogsDropped, other),
            "platform.fault" => match record {
                Value::String(text) => Self::PlatformFault(text),
                record => Self::Other { kind, record },
            },
            "function" => Self::Function(record),
            "extension" => Self::Extension(record),
            _ => Self::Other { kind, record },
        }
    }

    /// The record's `type`, as on the wire.
    pub fn kind(&self) -> &str {
        match self {
            Self::PlatformStart(_) => "platform.start",
            Self::PlatformEnd(_) => "platform.end",
            Self::PlatformReport(_) => "platform.report",
            Self::PlatformRuntimeDone(_) => "platform.runtimeDone",
            Self::PlatformExtension(_) => "platform.extension",
            Self::PlatformLogsSubscription(_) => "platform.logsSubscription",
            Self::PlatformLogsDropped(_) => "platform.logsDropped",
            Self::PlatformFault(_) => "platform.fault",
            Self::Function(_) => "function",
            Self::Extension(_) => "extension",
            Self::Other { kind, .. } => kind,
        }
    }

    /// The text of a `function` or `extension` record that is a string (Lambda's text log
    /// format); `None` for anything else.
    pub fn log_line(&self) -> Option<&str> {
        match self {
            Self::Function(Value::String(line)) | Self::Extension(Value::String(line)) => {
                Some(line)
            }
            _ => None,
        }
    }

    /// The request id of an invocation's record (`platform.start`, `.end`, `.report`,
    /// `.runtimeDone`); `None` for anything else.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Self::PlatformStart(r) => Some(&r.request_id),
            Self::PlatformEnd(r) => Some(&r.request_id),
            Self::PlatformReport(r) => Some(&r.request_id),
            Self::PlatformRuntimeDone(r) => Some(&r.request_id),
            _ => None,
        }
    }
}

/// `platform.end`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndRecord {
    /// `requestId`: the invocation's request id.
    pub request_id: String,
}

/// The Logs API's `platform.report`: like the Telemetry API's, but its documented record has no
/// `status` (the emulator, which sends the Telemetry API's record, includes it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogsReportRecord {
    /// `requestId`.
    pub request_id: String,
    /// `metrics`: `durationMs`, `billedDurationMs`, `memorySizeMB`, `maxMemoryUsedMB`, and
    /// `initDurationMs` on an environment's first invocation.
    #[serde(default)]
    pub metrics: ReportMetrics,
    /// `status`, when sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<TelemetryStatus>,
    /// `errorType`, when sent and the invocation failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_type: Option<String>,
    /// `tracing`: the invocation's X-Ray trace header, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracing: Option<Tracing>,
}

#[cfg(test)]
mod tests;
