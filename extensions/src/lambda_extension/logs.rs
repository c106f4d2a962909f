//! The Logs API's records in `lambda_extension`'s shape ([`LambdaLog`], [`LambdaLogRecord`]),
//! made from the crate's [`LogsEvent`](crate::LogsEvent)s, and [`LogBuffering`], the batching
//! of a Logs or Telemetry API subscription (checked as the crate's [`Buffering`](crate::Buffering)).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Error, Timestamp};
use crate::{LogsEvent, LogsRecord};

/// One record of a Logs API batch: what a logs processor gets a `Vec` of.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LambdaLog {
    /// When the record was made.
    pub time: Timestamp,
    /// The record, by its type.
    #[serde(flatten)]
    pub record: LambdaLogRecord,
}

/// A Logs API record, by its `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "record", rename_all = "lowercase")]
pub enum LambdaLogRecord {
    /// `function`: a line the function wrote. Under Lambda's JSON log format, where the record
    /// is a JSON object, it is that object's JSON text.
    Function(String),
    /// `extension`: a line an extension wrote (a JSON object's JSON text, as for `Function`).
    Extension(String),
    /// `platform.start`: an invocation started.
    #[serde(rename = "platform.start", rename_all = "camelCase")]
    PlatformStart {
        /// The invocation's request id.
        request_id: String,
    },
    /// `platform.end`: the runtime answered an invocation.
    #[serde(rename = "platform.end", rename_all = "camelCase")]
    PlatformEnd {
        /// The invocation's request id.
        request_id: String,
    },
    /// `platform.report`: an invocation's duration, billing and memory.
    #[serde(rename = "platform.report", rename_all = "camelCase")]
    PlatformReport {
        /// The invocation's request id.
        request_id: String,
        /// Its metrics.
        metrics: LogPlatformReportMetrics,
    },
    /// `platform.fault`: a runtime or environment error, as text.
    #[serde(rename = "platform.fault")]
    PlatformFault(String),
    /// `platform.extension`: an extension's registration, when Init ends.
    #[serde(rename = "platform.extension", rename_all = "camelCase")]
    PlatformExtension {
        /// The extension's name.
        name: String,
        /// Its state (`Ready`, ...).
        state: String,
        /// The events it subscribed to.
        events: Vec<String>,
    },
    /// `platform.logsSubscription`: an extension subscribed to the Logs API.
    #[serde(rename = "platform.logsSubscription", rename_all = "camelCase")]
    PlatformLogsSubscription {
        /// The extension's name.
        name: String,
        /// The subscription's state (`Subscribed`).
        state: String,
        /// The record types subscribed to.
        types: Vec<String>,
    },
    /// `platform.logsDropped`: records Lambda dropped instead of delivering them to this
    /// subscriber.
    #[serde(rename = "platform.logsDropped", rename_all = "camelCase")]
    PlatformLogsDropped {
        /// Why.
        reason: String,
        /// How many records.
        dropped_records: u64,
        /// How many bytes.
        dropped_bytes: u64,
    },
    /// `platform.runtimeDone`: the runtime finished an invocation.
    #[serde(rename = "platform.runtimeDone", rename_all = "camelCase")]
    PlatformRuntimeDone {
        /// The invocation's request id.
        request_id: String,
        /// Its outcome: `success`, `error`, `timeout` or `failure`.
        status: String,
    },
}

/// The metrics of a Logs API `platform.report`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogPlatformReportMetrics {
    /// How long the invocation took, in milliseconds.
    pub duration_ms: f64,
    /// The duration billed, in milliseconds.
    pub billed_duration_ms: u64,
    /// The function's memory size, in MB.
    #[serde(rename = "memorySizeMB")]
    pub memory_size_mb: u64,
    /// The most memory the environment used, in MB.
    #[serde(rename = "maxMemoryUsedMB")]
    pub max_memory_used_mb: u64,
    /// How long Init took, on an environment's first invocation.
    #[serde(default)]
    pub init_duration_ms: Option<f64>,
}

/// How Lambda batches the records of a Logs or Telemetry API subscription: a batch is sent when
/// `max_items` records or `max_bytes` bytes have gathered, or `timeout_ms` after its first
/// record. Lambda's limits are checked when the extension registers.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogBuffering {
    /// The longest a batch waits, in milliseconds: 25 to 30,000 (default 1,000).
    pub timeout_ms: usize,
    /// The most bytes in a batch: 262,144 to 1,048,576 (default 262,144).
    pub max_bytes: usize,
    /// The most records in a batch: 1,000 to 10,000 (default 10,000).
    pub max_items: usize,
}

impl Default for LogBuffering {
    /// Lambda's defaults: 1,000 ms, 262,144 bytes, 10,000 records.
    fn default() -> Self {
        let buffering = crate::Buffering::default();
        LogBuffering {
            timeout_ms: widen(buffering.timeout_ms()),
            max_bytes: widen(buffering.max_bytes()),
            max_items: widen(buffering.max_items()),
        }
    }
}

impl LogBuffering {
    /// The crate's [`Buffering`](crate::Buffering), or the crate's
    /// [`Error::InvalidBuffering`](crate::Error::InvalidBuffering) (boxed) for a value outside
    /// Lambda's limits.
    pub(crate) fn to_buffering(self) -> Result<crate::Buffering, Error> {
        let narrow = |value: usize| u32::try_from(value).unwrap_or(u32::MAX);
        let buffering = crate::Buffering::new(
            narrow(self.max_items),
            narrow(self.max_bytes),
            narrow(self.timeout_ms),
        )?;
        Ok(buffering)
    }
}

/// A `u32` as a `usize` (saturating on 16-bit targets, where none of Lambda's values fit).
fn widen(value: u32) -> usize {
    usize::try_from(value).unwrap_or(usize::MAX)
}

/// The text of a `function` or `extension` record: a string as it is, anything else (a JSON
/// object, under the JSON log format) as its JSON text.
pub(super) fn log_text(record: Value) -> String {
    match record {
        Value::String(line) => line,
        other => other.to_string(),
    }
}

/// `event` as `lambda_extension` reads it; `None` when it could not (a record type it does not
/// know, or a time that is not RFC 3339).
pub(super) fn lambda_log(event: LogsEvent) -> Option<LambdaLog> {
    let Ok(time) = Timestamp::parse_from_rfc3339(&event.time) else {
        ::tracing::debug!(time = %event.time, "a Logs API record's time is not RFC 3339; left out");
        return None;
    };
    let record = match event.record {
        LogsRecord::Function(record) => LambdaLogRecord::Function(log_text(record)),
        LogsRecord::Extension(record) => LambdaLogRecord::Extension(log_text(record)),
        LogsRecord::PlatformStart(start) => LambdaLogRecord::PlatformStart {
            request_id: start.request_id,
        },
        LogsRecord::PlatformEnd(end) => LambdaLogRecord::PlatformEnd {
            request_id: end.request_id,
        },
        LogsRecord::PlatformReport(report) => LambdaLogRecord::PlatformReport {
            request_id: report.request_id,
            metrics: LogPlatformReportMetrics {
                duration_ms: report.metrics.duration_ms,
                billed_duration_ms: report.metrics.billed_duration_ms,
                memory_size_mb: report.metrics.memory_size_mb,
                max_memory_used_mb: report.metrics.max_memory_used_mb,
                init_duration_ms: report.metrics.init_duration_ms,
            },
        },
        LogsRecord::PlatformFault(text) => LambdaLogRecord::PlatformFault(text),
        LogsRecord::PlatformExtension(extension) => LambdaLogRecord::PlatformExtension {
            name: extension.name,
            state: extension.state,
            events: extension.events,
        },
        LogsRecord::PlatformLogsSubscription(subscription) => {
            LambdaLogRecord::PlatformLogsSubscription {
                name: subscription.name,
                state: subscription.state,
                types: subscription.types,
            }
        }
        LogsRecord::PlatformLogsDropped(dropped) => LambdaLogRecord::PlatformLogsDropped {
            reason: dropped.reason,
            dropped_records: dropped.dropped_records,
            dropped_bytes: dropped.dropped_bytes,
        },
        LogsRecord::PlatformRuntimeDone(done) => LambdaLogRecord::PlatformRuntimeDone {
            request_id: done.request_id,
            status: done.status.into(),
        },
        LogsRecord::Other { kind, .. } => {
            ::tracing::debug!(%kind, "a Logs API record lambda_extension has no variant for; left out");
            return None;
        }
    };
    Some(LambdaLog { time, record })
}
