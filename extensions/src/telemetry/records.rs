//! The typed `platform.*` records of the Telemetry API (schema `2022-12-13`), with the fields
//! of AWS's schema reference: the Init (`platform.initStart`, `.initRuntimeDone`,
//! `.initReport`), invocation (`platform.start`, `.runtimeDone`, `.report`) and SnapStart
//! restore (`platform.restoreStart`, `.restoreRuntimeDone`, `.restoreReport`) records,
//! `platform.extension`, `platform.telemetrySubscription` and `platform.logsDropped`, and the
//! objects they share (metrics, [`Span`]s, the trace context, the [`RuntimeInstance`] an Init or
//! a restore starts). A field AWS marks as optional
//! is an `Option` (or an empty `Vec`); a required one that AWS's own examples leave out is
//! read as empty rather than refused. Unknown fields are ignored.

use serde::{Deserialize, Deserializer, Serialize};

use super::TelemetryStatus;
use crate::Tracing;

/// `platform.initStart`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct InitStartRecord {
    /// `initializationType`: `on-demand`, `provisioned-concurrency`, `snap-start`, ...
    pub initialization_type: String,
    /// `phase`: `init` (or `invoke`, for an Init suppressed and redone during an invocation).
    pub phase: String,
    /// `functionName`, `functionVersion`, `instanceId`, `instanceMaxMemory`,
    /// `runtimeVersion`, `runtimeVersionArn`.
    #[serde(flatten)]
    pub runtime: RuntimeInstance,
}

/// What an Init or a restore starts: the fields `platform.initStart` and
/// `platform.restoreStart` share (the whole of `platform.restoreStart`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RuntimeInstance {
    /// `functionName` (empty when not sent).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub function_name: String,
    /// `functionVersion` (empty when not sent).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub function_version: String,
    /// `instanceId`, when Lambda sends it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    /// `instanceMaxMemory`, when Lambda sends it (a number, or a string of one: AWS's schema
    /// has both).
    #[serde(
        deserialize_with = "optional_whole_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub instance_max_memory: Option<u64>,
    /// `runtimeVersion`, when Lambda sends it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runtime_version: Option<String>,
    /// `runtimeVersionArn`, when Lambda sends it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runtime_version_arn: Option<String>,
}

/// `platform.initRuntimeDone`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InitRuntimeDoneRecord {
    /// `initializationType`.
    #[serde(default)]
    pub initialization_type: String,
    /// `phase`.
    #[serde(default)]
    pub phase: String,
    /// `status`.
    pub status: TelemetryStatus,
    /// `errorType`, when Init failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_type: Option<String>,
    /// `spans`, when Lambda sends some.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub spans: Vec<Span>,
}

/// `platform.initReport`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InitReportRecord {
    /// `initializationType`.
    #[serde(default)]
    pub initialization_type: String,
    /// `phase`.
    #[serde(default)]
    pub phase: String,
    /// `status`.
    pub status: TelemetryStatus,
    /// `errorType`, when Init failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_type: Option<String>,
    /// `metrics`.
    #[serde(default)]
    pub metrics: InitReportMetrics,
    /// `spans`, when Lambda sends some.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub spans: Vec<Span>,
}

/// The `metrics` of `platform.initReport`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct InitReportMetrics {
    /// `durationMs`: how long Init took.
    pub duration_ms: f64,
}

/// `platform.start`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StartRecord {
    /// `requestId`: the invocation's request id.
    pub request_id: String,
    /// `version`: the function version invoked (`$LATEST`, ...), when sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// `tracing`: the invocation's trace context, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracing: Option<Tracing>,
}

/// `platform.runtimeDone`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuntimeDoneRecord {
    /// `requestId`.
    pub request_id: String,
    /// `status`: `success`, `error`, `timeout` or `failure`.
    pub status: TelemetryStatus,
    /// `errorType`, when the invocation failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_type: Option<String>,
    /// `metrics`, when sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<RuntimeDoneMetrics>,
    /// `spans` (`responseLatency`, `responseDuration`, `runtimeOverhead`), when Lambda sends
    /// some.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub spans: Vec<Span>,
    /// `tracing`: the invocation's trace context, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracing: Option<Tracing>,
}

/// The `metrics` of `platform.runtimeDone`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RuntimeDoneMetrics {
    /// `durationMs`: how long the runtime took to answer.
    pub duration_ms: f64,
    /// `producedBytes`: the size of the answer, when sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub produced_bytes: Option<u64>,
}

/// `platform.report`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportRecord {
    /// `requestId`.
    pub request_id: String,
    /// `status`: `success`, `error`, `timeout` or `failure`. AWS's schema requires it, but
    /// its own example of this record leaves it out: `None` then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<TelemetryStatus>,
    /// `errorType`, when the invocation failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_type: Option<String>,
    /// `metrics`.
    #[serde(default)]
    pub metrics: ReportMetrics,
    /// `spans` (`extensionOverhead`, ...), when Lambda sends some.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub spans: Vec<Span>,
    /// `tracing`: the invocation's trace context, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracing: Option<Tracing>,
}

/// The `metrics` of `platform.report` (Lambda Managed Instances send `durationMs` only: the
/// others are then 0).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ReportMetrics {
    /// `durationMs`: how long the invocation took.
    #[serde(rename = "durationMs")]
    pub duration_ms: f64,
    /// `billedDurationMs`: the duration billed.
    #[serde(rename = "billedDurationMs", deserialize_with = "whole_number")]
    pub billed_duration_ms: u64,
    /// `memorySizeMB`: the function's memory size.
    #[serde(rename = "memorySizeMB", deserialize_with = "whole_number")]
    pub memory_size_mb: u64,
    /// `maxMemoryUsedMB`: the most memory the environment used.
    #[serde(rename = "maxMemoryUsedMB", deserialize_with = "whole_number")]
    pub max_memory_used_mb: u64,
    /// `initDurationMs`: how long Init took, on the first invocation of an environment.
    #[serde(rename = "initDurationMs", skip_serializing_if = "Option::is_none")]
    pub init_duration_ms: Option<f64>,
    /// `restoreDurationMs`: how long a SnapStart restore took, on the first invocation of a
    /// restored environment.
    #[serde(rename = "restoreDurationMs", skip_serializing_if = "Option::is_none")]
    pub restore_duration_ms: Option<f64>,
}

/// `platform.restoreRuntimeDone`: the runtime finished its restore hooks (or failed them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RestoreRuntimeDoneRecord {
    /// `status`.
    pub status: TelemetryStatus,
    /// `errorType`, when the restore failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_type: Option<String>,
    /// `spans`, when Lambda sends some.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub spans: Vec<Span>,
}

/// `platform.restoreReport`: a restore's outcome and duration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RestoreReportRecord {
    /// `status`.
    pub status: TelemetryStatus,
    /// `errorType`, when the restore failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_type: Option<String>,
    /// `metrics`, when sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<RestoreReportMetrics>,
    /// `spans`, when Lambda sends some.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub spans: Vec<Span>,
}

/// The `metrics` of `platform.restoreReport`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RestoreReportMetrics {
    /// `durationMs`: how long the restore took.
    pub duration_ms: f64,
}

/// A span of a phase (OpenTelemetry's notion): `platform.runtimeDone` has `responseLatency`,
/// `responseDuration` and `runtimeOverhead`, for instance.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Span {
    /// `name`.
    pub name: String,
    /// `start`: when it began, as sent (RFC 3339 with milliseconds).
    pub start: String,
    /// `durationMs`.
    pub duration_ms: f64,
}

/// `platform.extension`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ExtensionRecord {
    /// `name`: the extension's name.
    pub name: String,
    /// `state`: `Ready`, ...
    pub state: String,
    /// `events`: the events it subscribed to (`INVOKE`, `SHUTDOWN`).
    pub events: Vec<String>,
    /// `errorType`, when the extension failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_type: Option<String>,
}

/// `platform.telemetrySubscription` (and the Logs API's `platform.logsSubscription`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TelemetrySubscriptionRecord {
    /// `name`: the extension's name.
    pub name: String,
    /// `state`: `Subscribed`, ...
    pub state: String,
    /// `types`: the record types it subscribed to (`platform`, `function`, `extension`).
    pub types: Vec<String>,
}

/// `platform.logsDropped` (Telemetry and Logs APIs): records Lambda could not deliver to this
/// subscriber, or keep for it while it fell behind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LogsDroppedRecord {
    /// `reason`: why the records were dropped.
    pub reason: String,
    /// `droppedRecords`: how many.
    #[serde(deserialize_with = "whole_number")]
    pub dropped_records: u64,
    /// `droppedBytes`: how many bytes.
    #[serde(deserialize_with = "whole_number")]
    pub dropped_bytes: u64,
}

/// A non-negative number as a whole one: Lambda sends integers, `12.0` is read as `12` too.
fn whole_number<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    whole(f64::deserialize(deserializer)?).map_err(serde::de::Error::custom)
}

/// A whole number given as a number or as a string of one (AWS's schema has both for
/// `instanceMaxMemory`); `null` is `None`.
fn optional_whole_number<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum NumberOrText {
        Number(f64),
        Text(String),
    }
    let number = match Option::<NumberOrText>::deserialize(deserializer)? {
        None => return Ok(None),
        Some(NumberOrText::Number(number)) => number,
        Some(NumberOrText::Text(text)) => text.trim().parse::<f64>().map_err(|_| {
            serde::de::Error::custom(format!("expected a whole number, found {text:?}"))
        })?,
    };
    whole(number).map(Some).map_err(serde::de::Error::custom)
}

/// `number`, when it is finite and not negative, rounded to a whole one.
fn whole(number: f64) -> Result<u64, String> {
    if number.is_finite() && number >= 0.0 {
        // Finite and non-negative: `as` saturates at u64::MAX, far above any real metric.
        Ok(number.round() as u64)
    } else {
        Err(format!("expected a non-negative number, found {number}"))
    }
}
