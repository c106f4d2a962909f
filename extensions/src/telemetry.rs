//! The records the Telemetry API sends a subscriber: [`TelemetryEvent`]s, each a timestamp and a
//! [`TelemetryRecord`] — typed for every `platform.*` record Lambda documents (`records`), raw
//! JSON for log lines and anything else. Read leniently: unknown types and fields, and known types whose
//! record does not fit, are kept as they came, never an error.

use std::fmt;

use serde::{de::DeserializeOwned, ser::SerializeMap, Deserialize, Serialize, Serializer};
use serde_json::Value;

mod records;

pub use records::{
    ExtensionRecord, InitReportMetrics, InitReportRecord, InitRuntimeDoneRecord, InitStartRecord,
    LogsDroppedRecord, ReportMetrics, ReportRecord, RestoreReportMetrics, RestoreReportRecord,
    RestoreRuntimeDoneRecord, RuntimeDoneMetrics, RuntimeDoneRecord, RuntimeInstance, Span,
    StartRecord, TelemetrySubscriptionRecord,
};

/// One record of a telemetry batch: `{"time": ..., "type": ..., "record": ...}`.
///
/// A batch (what the handler of [`Extension::telemetry`](crate::Extension::telemetry) gets) is
/// a `Vec<TelemetryEvent>`; it reads from the JSON array Lambda POSTs:
///
/// ```
/// use firebox_extensions::{TelemetryEvent, TelemetryRecord};
///
/// let batch: Vec<TelemetryEvent> = serde_json::from_str(r#"[
///     {"time": "2026-11-21T15:05:37.995Z", "type": "function", "record": "hello"},
///     {"time": "2026-11-21T15:05:38.001Z", "type": "platform.runtimeDone",
///      "record": {"requestId": "r-1", "status": "success", "metrics": {"durationMs": 2.5}}}
/// ]"#)?;
/// assert_eq!(batch[0].record.log_line(), Some("hello"));
/// let TelemetryRecord::PlatformRuntimeDone(done) = &batch[1].record else { panic!() };
/// assert_eq!((done.request_id.as_str(), done.status.as_str()), ("r-1", "success"));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(from = "RawEvent")]
pub struct TelemetryEvent {
    /// `time`: when the record was made, as sent (RFC 3339 with milliseconds, such as
    /// `2026-11-21T15:05:37.995Z`).
    pub time: String,
    /// The record, by its `type`.
    pub record: TelemetryRecord,
}

impl TelemetryEvent {
    /// The record's `type` (`platform.report`, `function`, ...).
    pub fn kind(&self) -> &str {
        self.record.kind()
    }
}

/// An event as it comes (from the Telemetry API or the Logs API), before its record is typed.
#[derive(Deserialize)]
pub(crate) struct RawEvent {
    #[serde(default)]
    pub(crate) time: String,
    #[serde(rename = "type")]
    pub(crate) kind: String,
    #[serde(default)]
    pub(crate) record: Value,
}

impl From<RawEvent> for TelemetryEvent {
    fn from(raw: RawEvent) -> Self {
        TelemetryEvent {
            time: raw.time,
            record: TelemetryRecord::new(raw.kind, raw.record),
        }
    }
}

impl Serialize for TelemetryEvent {
    /// The wire format: `{"time": ..., "type": ..., "record": ...}`.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serialize_event(serializer, &self.time, self.kind(), &self.record)
    }
}

/// An event as the APIs send it: `{"time": ..., "type": ..., "record": ...}` (shared by the
/// Telemetry API's events and the Logs API's).
pub(crate) fn serialize_event<S: Serializer, R: Serialize>(
    serializer: S,
    time: &str,
    kind: &str,
    record: &R,
) -> Result<S::Ok, S::Error> {
    let mut map = serializer.serialize_map(Some(3))?;
    map.serialize_entry("time", time)?;
    map.serialize_entry("type", kind)?;
    map.serialize_entry("record", record)?;
    map.end()
}

/// Serializes an [`Other`](TelemetryRecord::Other) record as the record alone (its `type` is
/// the event's).
pub(crate) fn serialize_other<S: Serializer>(
    _kind: &str,
    record: &Value,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    record.serialize(serializer)
}

/// A telemetry record, by its `type`.
///
/// Every type of AWS's schema reference (`2022-12-13`) is typed. Lambda may add types: those
/// come as [`Other`](Self::Other), as does a record of a typed kind whose fields do not fit (a
/// wrong type, a missing `requestId` or `status`). Fields Lambda adds are ignored.
///
/// Serialized, it is the record alone, as in an event's `record` (the type is the event's).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
#[non_exhaustive]
pub enum TelemetryRecord {
    /// `platform.initStart`: Init began.
    PlatformInitStart(InitStartRecord),
    /// `platform.initRuntimeDone`: the runtime finished Init (or failed it).
    PlatformInitRuntimeDone(InitRuntimeDoneRecord),
    /// `platform.initReport`: Init's outcome and duration.
    PlatformInitReport(InitReportRecord),
    /// `platform.start`: an invocation started.
    PlatformStart(StartRecord),
    /// `platform.runtimeDone`: the runtime answered an invocation (or failed it).
    PlatformRuntimeDone(RuntimeDoneRecord),
    /// `platform.report`: an invocation's outcome, duration, billing and memory.
    PlatformReport(ReportRecord),
    /// `platform.restoreStart`: a SnapStart environment's restore began.
    PlatformRestoreStart(RuntimeInstance),
    /// `platform.restoreRuntimeDone`: the runtime finished its restore (or failed it).
    PlatformRestoreRuntimeDone(RestoreRuntimeDoneRecord),
    /// `platform.restoreReport`: a restore's outcome and duration.
    PlatformRestoreReport(RestoreReportRecord),
    /// `platform.extension`: an extension's registration, when Init ends.
    PlatformExtension(ExtensionRecord),
    /// `platform.telemetrySubscription`: an extension subscribed to telemetry.
    PlatformTelemetrySubscription(TelemetrySubscriptionRecord),
    /// `platform.logsDropped`: records Lambda dropped instead of delivering them to this
    /// subscriber (it fell behind, or could not be reached), with how many and why.
    PlatformLogsDropped(LogsDroppedRecord),
    /// `function`: a line of the function's output — a string, or a JSON object with Lambda's
    /// JSON log format.
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

impl TelemetryRecord {
    /// Reads `record` as a record of type `kind` (leniently: see [`TelemetryRecord`]).
    pub fn new(kind: impl Into<String>, record: Value) -> Self {
        let kind = kind.into();
        let other = |kind, record| Self::Other { kind, record };
        match kind.as_str() {
            "platform.initStart" => typed(kind, record, Self::PlatformInitStart, other),
            "platform.initRuntimeDone" => typed(kind, record, Self::PlatformInitRuntimeDone, other),
            "platform.initReport" => typed(kind, record, Self::PlatformInitReport, other),
            "platform.start" => typed(kind, record, Self::PlatformStart, other),
            "platform.runtimeDone" => typed(kind, record, Self::PlatformRuntimeDone, other),
            "platform.report" => typed(kind, record, Self::PlatformReport, other),
            "platform.restoreStart" => typed(kind, record, Self::PlatformRestoreStart, other),
            "platform.restoreRuntimeDone" => {
                typed(kind, record, Self::PlatformRestoreRuntimeDone, other)
            }
            "platform.restoreReport" => typed(kind, record, Self::PlatformRestoreReport, other),
            "platform.extension" => typed(kind, record, Self::PlatformExtension, other),
            "platform.telemetrySubscription" => {
                typed(kind, record, Self::PlatformTelemetrySubscription, other)
            }
            "platform.logsDropped" => typed(kind, record, Self::PlatformLogsDropped, other),
            "function" => Self::Function(record),
            "extension" => Self::Extension(record),
            _ => Self::Other { kind, record },
        }
    }

    /// The record's `type`, as on the wire.
    pub fn kind(&self) -> &str {
        match self {
            Self::PlatformInitStart(_) => "platform.initStart",
            Self::PlatformInitRuntimeDone(_) => "platform.initRuntimeDone",
            Self::PlatformInitReport(_) => "platform.initReport",
            Self::PlatformStart(_) => "platform.start",
            Self::PlatformRuntimeDone(_) => "platform.runtimeDone",
            Self::PlatformReport(_) => "platform.report",
            Self::PlatformRestoreStart(_) => "platform.restoreStart",
            Self::PlatformRestoreRuntimeDone(_) => "platform.restoreRuntimeDone",
            Self::PlatformRestoreReport(_) => "platform.restoreReport",
            Self::PlatformExtension(_) => "platform.extension",
            Self::PlatformTelemetrySubscription(_) => "platform.telemetrySubscription",
            Self::PlatformLogsDropped(_) => "platform.logsDropped",
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
}

/// `record` as a `T`, wrapped by `variant`; as it came (wrapped by `other`) if it does not fit.
pub(crate) fn typed<T: DeserializeOwned, R>(
    kind: String,
    record: Value,
    variant: fn(T) -> R,
    other: fn(String, Value) -> R,
) -> R {
    match T::deserialize(&record) {
        Ok(fields) => variant(fields),
        Err(error) => {
            tracing::debug!(%kind, %error, "a telemetry record does not fit its type; kept as it came");
            other(kind, record)
        }
    }
}

/// The outcome in `platform.initRuntimeDone`, `initReport`, `runtimeDone` and `report`.
///
/// ```
/// use firebox_extensions::TelemetryStatus;
///
/// assert_eq!(TelemetryStatus::from("timeout"), TelemetryStatus::Timeout);
/// assert_eq!(TelemetryStatus::from("odd").as_str(), "odd");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum TelemetryStatus {
    /// `success`.
    Success,
    /// `error`: the function returned an error.
    Error,
    /// `timeout`: the invocation (or Init) timed out.
    Timeout,
    /// `failure`: the runtime or an extension failed (crashed, ran out of memory, ...).
    Failure,
    /// Any other status, as sent.
    Other(String),
}

impl TelemetryStatus {
    /// The status as Lambda spells it.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Success => "success",
            Self::Error => "error",
            Self::Timeout => "timeout",
            Self::Failure => "failure",
            Self::Other(other) => other,
        }
    }
}

impl From<&str> for TelemetryStatus {
    fn from(status: &str) -> Self {
        match status {
            "success" => Self::Success,
            "error" => Self::Error,
            "timeout" => Self::Timeout,
            "failure" => Self::Failure,
            other => Self::Other(other.to_owned()),
        }
    }
}

impl From<String> for TelemetryStatus {
    fn from(status: String) -> Self {
        match Self::from(status.as_str()) {
            Self::Other(_) => Self::Other(status),
            known => known,
        }
    }
}

impl From<TelemetryStatus> for String {
    fn from(status: TelemetryStatus) -> Self {
        match status {
            TelemetryStatus::Other(other) => other,
            known => known.as_str().to_owned(),
        }
    }
}

impl fmt::Display for TelemetryStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Reads a batch (a JSON array of records), naming the offending element and field when it is
/// not one.
pub(crate) fn parse_batch<E: DeserializeOwned>(body: &[u8]) -> Result<Vec<E>, String> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let batch = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| e.to_string())?;
    deserializer.end().map_err(|e| e.to_string())?;
    Ok(batch)
}

#[cfg(test)]
mod documented;
#[cfg(test)]
mod tests;
