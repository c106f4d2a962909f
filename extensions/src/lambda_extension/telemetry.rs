//! The Telemetry API's records in `lambda_extension`'s shape ([`LambdaTelemetry`],
//! [`LambdaTelemetryRecord`] and the types its variants hold), made from the crate's
//! [`TelemetryEvent`](crate::TelemetryEvent)s.
//!
//! The metrics ([`ReportMetrics`], [`RuntimeDoneMetrics`], [`InitReportMetrics`]) are the
//! crate's own types: their fields are `lambda_extension`'s.

use serde::{de::DeserializeOwned, Deserialize, Serialize};
use serde_json::Value;

use super::Timestamp;
use crate::{
    InitReportMetrics, ReportMetrics, RuntimeDoneMetrics, TelemetryEvent, TelemetryRecord,
    TelemetryStatus,
};

/// One record of a Telemetry API batch: what a telemetry processor gets a `Vec` of. `L` is the
/// type `function` and `extension` records are read as: `String` unless
/// [`Extension::with_telemetry_record_type`](super::Extension::with_telemetry_record_type)
/// says otherwise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LambdaTelemetry<L = String> {
    /// When the record was made.
    pub time: Timestamp,
    /// The record, by its type.
    #[serde(flatten)]
    pub record: LambdaTelemetryRecord<L>,
}

/// A Telemetry API record, by its `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "record", rename_all = "lowercase")]
pub enum LambdaTelemetryRecord<L = String> {
    /// `function`: a line the function wrote (see [`LambdaTelemetry`] for its type).
    Function(L),
    /// `extension`: a line an extension wrote.
    Extension(L),
    /// `platform.initStart`: Init began.
    #[serde(rename = "platform.initStart", rename_all = "camelCase")]
    PlatformInitStart {
        /// On demand, provisioned concurrency or SnapStart.
        initialization_type: InitType,
        /// The phase Init runs in.
        phase: InitPhase,
        /// The runtime's version, when Lambda sends it.
        #[serde(skip_serializing_if = "Option::is_none")]
        runtime_version: Option<String>,
        /// The runtime version's ARN, when Lambda sends it.
        #[serde(skip_serializing_if = "Option::is_none")]
        runtime_version_arn: Option<String>,
    },
    /// `platform.initRuntimeDone`: the runtime finished Init (or failed it).
    #[serde(rename = "platform.initRuntimeDone", rename_all = "camelCase")]
    PlatformInitRuntimeDone {
        /// On demand, provisioned concurrency or SnapStart.
        initialization_type: InitType,
        /// The phase Init ran in, when sent.
        #[serde(skip_serializing_if = "Option::is_none")]
        phase: Option<InitPhase>,
        /// Init's outcome.
        status: Status,
        /// What failed, when Init did not succeed.
        #[serde(skip_serializing_if = "Option::is_none")]
        error_type: Option<String>,
        /// The spans of Init.
        #[serde(default)]
        spans: Vec<Span>,
    },
    /// `platform.initReport`: Init's duration.
    #[serde(rename = "platform.initReport", rename_all = "camelCase")]
    PlatformInitReport {
        /// On demand, provisioned concurrency or SnapStart.
        initialization_type: InitType,
        /// The phase Init ran in.
        phase: InitPhase,
        /// Init's metrics.
        metrics: InitReportMetrics,
        /// The spans of Init.
        #[serde(default)]
        spans: Vec<Span>,
    },
    /// `platform.start`: an invocation started.
    #[serde(rename = "platform.start", rename_all = "camelCase")]
    PlatformStart {
        /// The invocation's request id.
        request_id: String,
        /// The function version invoked, when sent.
        #[serde(skip_serializing_if = "Option::is_none")]
        version: Option<String>,
        /// The invocation's trace context, when there is one.
        #[serde(skip_serializing_if = "Option::is_none")]
        tracing: Option<TraceContext>,
    },
    /// `platform.runtimeDone`: the runtime answered an invocation (or failed it).
    #[serde(rename = "platform.runtimeDone", rename_all = "camelCase")]
    PlatformRuntimeDone {
        /// The invocation's request id.
        request_id: String,
        /// The invocation's outcome.
        status: Status,
        /// What failed, when the invocation did not succeed.
        #[serde(skip_serializing_if = "Option::is_none")]
        error_type: Option<String>,
        /// The runtime's metrics, when sent.
        #[serde(skip_serializing_if = "Option::is_none")]
        metrics: Option<RuntimeDoneMetrics>,
        /// The spans of the response (`responseLatency`, `responseDuration`, ...).
        #[serde(default)]
        spans: Vec<Span>,
        /// The invocation's trace context, when there is one.
        #[serde(skip_serializing_if = "Option::is_none")]
        tracing: Option<TraceContext>,
    },
    /// `platform.report`: an invocation's outcome, duration, billing and memory.
    #[serde(rename = "platform.report", rename_all = "camelCase")]
    PlatformReport {
        /// The invocation's request id.
        request_id: String,
        /// The invocation's outcome.
        status: Status,
        /// What failed, when the invocation did not succeed.
        #[serde(skip_serializing_if = "Option::is_none")]
        error_type: Option<String>,
        /// Its metrics.
        metrics: ReportMetrics,
        /// The invocation's spans.
        #[serde(default)]
        spans: Vec<Span>,
        /// The invocation's trace context, when there is one.
        #[serde(skip_serializing_if = "Option::is_none")]
        tracing: Option<TraceContext>,
    },
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
    /// `platform.telemetrySubscription`: an extension subscribed to the Telemetry API.
    #[serde(rename = "platform.telemetrySubscription", rename_all = "camelCase")]
    PlatformTelemetrySubscription {
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
}

/// How an execution environment was initialized.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InitType {
    /// `on-demand`: for an invocation.
    OnDemand,
    /// `provisioned-concurrency`: ahead of invocations.
    ProvisionedConcurrency,
    /// `snap-start`: from a SnapStart snapshot.
    SnapStart,
}

/// The phase an Init ran in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InitPhase {
    /// `init`: the Init phase.
    Init,
    /// `invoke`: during an invocation (an Init that was suppressed, then redone).
    Invoke,
}

/// The outcome of an Init or an invocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// `success`.
    Success,
    /// `error`: the function returned an error.
    Error,
    /// `failure`: the runtime or an extension failed.
    Failure,
    /// `timeout`.
    Timeout,
}

/// A span of a phase (`responseLatency`, `responseDuration`, ...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Span {
    /// How long it lasted, in milliseconds.
    pub duration_ms: f64,
    /// Its name.
    pub name: String,
    /// When it began.
    pub start: Timestamp,
}

/// The trace context of an invocation's records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TraceContext {
    /// The span, when sent.
    pub span_id: Option<String>,
    /// The kind of trace.
    pub r#type: TracingType,
    /// The trace header's value (`Root=...;Parent=...;Sampled=...`).
    pub value: String,
}

/// The kind of a trace context.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TracingType {
    /// `X-Amzn-Trace-Id`: AWS X-Ray.
    #[serde(rename = "X-Amzn-Trace-Id")]
    AmznTraceId,
}

/// `event` as `lambda_extension` reads it, its log lines read as `L`; `None` when it could not
/// (see [`telemetry_record`]).
pub(super) fn lambda_telemetry<L: DeserializeOwned>(
    event: TelemetryEvent,
) -> Option<LambdaTelemetry<L>> {
    let kind = event.kind().to_owned();
    let converted = Timestamp::parse_from_rfc3339(&event.time)
        .ok()
        .and_then(|time| {
            let record = telemetry_record(event.record)?;
            Some(LambdaTelemetry { time, record })
        });
    if converted.is_none() {
        ::tracing::debug!(%kind, "a telemetry record lambda_extension could not read; left out");
    }
    converted
}

/// `record` as a [`LambdaTelemetryRecord`]; `None` for a record `lambda_extension` could not
/// read: a type it has no variant for (the SnapStart `platform.restore*` records, ...), a value
/// its enums do not have, a `platform.report` without a status, a span start or log line that
/// does not fit.
fn telemetry_record<L: DeserializeOwned>(
    record: TelemetryRecord,
) -> Option<LambdaTelemetryRecord<L>> {
    use LambdaTelemetryRecord as Out;
    use TelemetryRecord as In;
    Some(match record {
        In::Function(line) => Out::Function(log_line(line)?),
        In::Extension(line) => Out::Extension(log_line(line)?),
        In::PlatformInitStart(start) => Out::PlatformInitStart {
            initialization_type: init_type(&start.initialization_type)?,
            phase: init_phase(&start.phase)?,
            runtime_version: start.runtime.runtime_version,
            runtime_version_arn: start.runtime.runtime_version_arn,
        },
        In::PlatformInitRuntimeDone(done) => Out::PlatformInitRuntimeDone {
            initialization_type: init_type(&done.initialization_type)?,
            phase: match done.phase.as_str() {
                "" => None,
                phase => Some(init_phase(phase)?),
            },
            status: status(done.status)?,
            error_type: done.error_type,
            spans: spans(done.spans)?,
        },
        In::PlatformInitReport(report) => Out::PlatformInitReport {
            initialization_type: init_type(&report.initialization_type)?,
            phase: init_phase(&report.phase)?,
            metrics: report.metrics,
            spans: spans(report.spans)?,
        },
        In::PlatformStart(start) => Out::PlatformStart {
            request_id: start.request_id,
            version: start.version,
            tracing: trace_context(start.tracing)?,
        },
        In::PlatformRuntimeDone(done) => Out::PlatformRuntimeDone {
            request_id: done.request_id,
            status: status(done.status)?,
            error_type: done.error_type,
            metrics: done.metrics,
            spans: spans(done.spans)?,
            tracing: trace_context(done.tracing)?,
        },
        In::PlatformReport(report) => Out::PlatformReport {
            request_id: report.request_id,
            status: status(report.status?)?,
            error_type: report.error_type,
            metrics: report.metrics,
            spans: spans(report.spans)?,
            tracing: trace_context(report.tracing)?,
        },
        In::PlatformExtension(extension) => Out::PlatformExtension {
            name: extension.name,
            state: extension.state,
            events: extension.events,
        },
        In::PlatformTelemetrySubscription(subscription) => Out::PlatformTelemetrySubscription {
            name: subscription.name,
            state: subscription.state,
            types: subscription.types,
        },
        In::PlatformLogsDropped(dropped) => Out::PlatformLogsDropped {
            reason: dropped.reason,
            dropped_records: dropped.dropped_records,
            dropped_bytes: dropped.dropped_bytes,
        },
        In::PlatformRestoreStart(_)
        | In::PlatformRestoreRuntimeDone(_)
        | In::PlatformRestoreReport(_)
        | In::Other { .. } => return None,
    })
}

/// A `function` or `extension` record as an `L`: the record itself when it reads as one, else
/// (a JSON object, under the JSON log format, and `L` a `String`) its JSON text.
fn log_line<L: DeserializeOwned>(line: Value) -> Option<L> {
    match L::deserialize(&line) {
        Ok(read) => Some(read),
        Err(_) if !line.is_string() => L::deserialize(Value::String(line.to_string())).ok(),
        Err(_) => None,
    }
}

fn init_type(text: &str) -> Option<InitType> {
    match text {
        "on-demand" => Some(InitType::OnDemand),
        "provisioned-concurrency" => Some(InitType::ProvisionedConcurrency),
        "snap-start" => Some(InitType::SnapStart),
        _ => None,
    }
}

fn init_phase(text: &str) -> Option<InitPhase> {
    match text {
        "init" => Some(InitPhase::Init),
        "invoke" => Some(InitPhase::Invoke),
        _ => None,
    }
}

fn status(status: TelemetryStatus) -> Option<Status> {
    match status {
        TelemetryStatus::Success => Some(Status::Success),
        TelemetryStatus::Error => Some(Status::Error),
        TelemetryStatus::Failure => Some(Status::Failure),
        TelemetryStatus::Timeout => Some(Status::Timeout),
        TelemetryStatus::Other(_) => None,
    }
}

/// Every span, or `None` when one's start is not RFC 3339.
fn spans(spans: Vec<crate::Span>) -> Option<Vec<Span>> {
    spans
        .into_iter()
        .map(|span| {
            Some(Span {
                duration_ms: span.duration_ms,
                name: span.name,
                start: Timestamp::parse_from_rfc3339(&span.start).ok()?,
            })
        })
        .collect()
}

/// The trace context, if any (`Some(None)`); `None` when its type is not X-Ray's.
fn trace_context(tracing: Option<crate::Tracing>) -> Option<Option<TraceContext>> {
    let Some(tracing) = tracing else {
        return Some(None);
    };
    if tracing.kind != "X-Amzn-Trace-Id" {
        return None;
    }
    Some(Some(TraceContext {
        span_id: tracing.span_id,
        r#type: TracingType::AmznTraceId,
        value: tracing.value,
    }))
}
