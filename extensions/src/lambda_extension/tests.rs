//! The conversions of the crate's records to `lambda_extension`'s, and its types' own serde
//! forms (the records as the APIs write them).

use serde_json::{json, Value};

use super::{
    logs::lambda_log, telemetry::lambda_telemetry, InitPhase, InitType, LambdaLog, LambdaLogRecord,
    LambdaTelemetry, LambdaTelemetryRecord, LogBuffering, Span, Status, Timestamp, TraceContext,
    TracingType,
};
use crate::{LogsEvent, TelemetryEvent};

const TIME: &str = "2026-11-21T15:05:37.995Z";

fn time() -> Timestamp {
    Timestamp::parse_from_rfc3339(TIME).unwrap()
}

fn logs(kind: &str, record: Value) -> Option<LambdaLog> {
    let event: LogsEvent =
        serde_json::from_value(json!({"time": TIME, "type": kind, "record": record})).unwrap();
    lambda_log(event)
}

fn telemetry<L: serde::de::DeserializeOwned>(
    kind: &str,
    record: Value,
) -> Option<LambdaTelemetryRecord<L>> {
    let event: TelemetryEvent =
        serde_json::from_value(json!({"time": TIME, "type": kind, "record": record})).unwrap();
    let converted = lambda_telemetry::<L>(event)?;
    assert_eq!(converted.time, time());
    Some(converted.record)
}

#[test]
fn logs_api_records_convert() {
    let log = logs("function", json!("hello\n")).unwrap();
    assert_eq!(log.time, time());
    assert_eq!(log.record, LambdaLogRecord::Function("hello\n".into()));
    let json_line = json!({"level": "INFO", "message": "hi"});
    assert_eq!(
        logs("function", json_line.clone()).unwrap().record,
        LambdaLogRecord::Function(json_line.to_string())
    );
    assert_eq!(
        logs("extension", json!("ext")).unwrap().record,
        LambdaLogRecord::Extension("ext".into())
    );
    assert_eq!(
        logs(
            "platform.start",
            json!({"requestId": "r", "version": "$LATEST"})
        )
        .unwrap()
        .record,
        LambdaLogRecord::PlatformStart {
            request_id: "r".into()
        }
    );
    assert_eq!(
        logs("platform.end", json!({"requestId": "r"}))
            .unwrap()
            .record,
        LambdaLogRecord::PlatformEnd {
            request_id: "r".into()
        }
    );
    let report = logs(
        "platform.report",
        json!({"requestId": "r", "metrics": {"durationMs": 1.5, "billedDurationMs": 2,
            "memorySizeMB": 128, "maxMemoryUsedMB": 30, "initDurationMs": 80.25}}),
    )
    .unwrap();
    let LambdaLogRecord::PlatformReport {
        request_id,
        metrics,
    } = report.record
    else {
        panic!("{report:?}")
    };
    assert_eq!(request_id, "r");
    assert_eq!(
        (
            metrics.duration_ms,
            metrics.billed_duration_ms,
            metrics.memory_size_mb,
            metrics.max_memory_used_mb,
            metrics.init_duration_ms
        ),
        (1.5, 2, 128, 30, Some(80.25))
    );
    assert_eq!(
        logs("platform.fault", json!("RequestId: r Process exited"))
            .unwrap()
            .record,
        LambdaLogRecord::PlatformFault("RequestId: r Process exited".into())
    );
    assert_eq!(
        logs(
            "platform.extension",
            json!({"name": "x", "state": "Ready", "events": ["INVOKE"]})
        )
        .unwrap()
        .record,
        LambdaLogRecord::PlatformExtension {
            name: "x".into(),
            state: "Ready".into(),
            events: vec!["INVOKE".into()]
        }
    );
    assert_eq!(
        logs(
            "platform.logsSubscription",
            json!({"name": "x", "state": "Subscribed", "types": ["platform"]})
        )
        .unwrap()
        .record,
        LambdaLogRecord::PlatformLogsSubscription {
            name: "x".into(),
            state: "Subscribed".into(),
            types: vec!["platform".into()]
        }
    );
    assert_eq!(
        logs(
            "platform.logsDropped",
            json!({"reason": "full", "droppedRecords": 3, "droppedBytes": 300})
        )
        .unwrap()
        .record,
        LambdaLogRecord::PlatformLogsDropped {
            reason: "full".into(),
            dropped_records: 3,
            dropped_bytes: 300
        }
    );
    assert_eq!(
        logs(
            "platform.runtimeDone",
            json!({"requestId": "r", "status": "timeout"})
        )
        .unwrap()
        .record,
        LambdaLogRecord::PlatformRuntimeDone {
            request_id: "r".into(),
            status: "timeout".into()
        }
    );
    // lambda_extension has no variant for these: left out.
    assert_eq!(logs("platform.initStart", json!({})), None);
    assert_eq!(logs("platform.start", json!({"no": "id"})), None);
}

#[test]
fn a_bad_time_leaves_the_record_out() {
    let event: LogsEvent =
        serde_json::from_value(json!({"time": "yesterday", "type": "function", "record": "x"}))
            .unwrap();
    assert_eq!(lambda_log(event), None);
    let event: TelemetryEvent =
        serde_json::from_value(json!({"time": "yesterday", "type": "function", "record": "x"}))
            .unwrap();
    assert_eq!(lambda_telemetry::<String>(event), None);
}

fn trace() -> Value {
    json!({"type": "X-Amzn-Trace-Id", "value": "Root=1-abc", "spanId": "s-1"})
}

fn trace_context() -> Option<TraceContext> {
    Some(TraceContext {
        span_id: Some("s-1".into()),
        r#type: TracingType::AmznTraceId,
        value: "Root=1-abc".into(),
    })
}

#[test]
fn telemetry_api_init_records_convert() {
    assert_eq!(
        telemetry::<String>(
            "platform.initStart",
            json!({"initializationType": "on-demand", "phase": "init",
                "runtimeVersion": "python:3.12", "functionName": "f"})
        ),
        Some(LambdaTelemetryRecord::PlatformInitStart {
            initialization_type: InitType::OnDemand,
            phase: InitPhase::Init,
            runtime_version: Some("python:3.12".into()),
            runtime_version_arn: None,
        })
    );
    let span = json!({"name": "x", "start": TIME, "durationMs": 4.5});
    assert_eq!(
        telemetry::<String>(
            "platform.initRuntimeDone",
            json!({"initializationType": "provisioned-concurrency", "status": "failure",
                "errorType": "Runtime.ExitError", "spans": [span]})
        ),
        Some(LambdaTelemetryRecord::PlatformInitRuntimeDone {
            initialization_type: InitType::ProvisionedConcurrency,
            phase: None,
            status: Status::Failure,
            error_type: Some("Runtime.ExitError".into()),
            spans: vec![Span {
                duration_ms: 4.5,
                name: "x".into(),
                start: time()
            }],
        })
    );
    let Some(LambdaTelemetryRecord::PlatformInitReport {
        initialization_type,
        phase,
        metrics,
        spans,
    }) = telemetry::<String>(
        "platform.initReport",
        json!({"initializationType": "snap-start", "phase": "invoke", "status": "success",
            "metrics": {"durationMs": 12.5}}),
    )
    else {
        panic!("no initReport")
    };
    assert_eq!(
        (initialization_type, phase, metrics.duration_ms, spans.len()),
        (InitType::SnapStart, InitPhase::Invoke, 12.5, 0)
    );
    // Values lambda_extension's enums do not have: left out.
    assert_eq!(
        telemetry::<String>(
            "platform.initStart",
            json!({"initializationType": "lambda-managed-instances", "phase": "init"})
        ),
        None
    );
}

#[test]
fn telemetry_api_invocation_records_convert() {
    assert_eq!(
        telemetry::<String>(
            "platform.start",
            json!({"requestId": "r", "version": "$LATEST", "tracing": trace()})
        ),
        Some(LambdaTelemetryRecord::PlatformStart {
            request_id: "r".into(),
            version: Some("$LATEST".into()),
            tracing: trace_context(),
        })
    );
    let Some(LambdaTelemetryRecord::PlatformRuntimeDone {
        request_id,
        status,
        error_type,
        metrics,
        spans,
        tracing,
    }) = telemetry::<String>(
        "platform.runtimeDone",
        json!({"requestId": "r", "status": "error", "errorType": "Boom",
            "metrics": {"durationMs": 3.0, "producedBytes": 12},
            "spans": [{"name": "responseLatency", "start": TIME, "durationMs": 1.0}]}),
    )
    else {
        panic!("no runtimeDone")
    };
    assert_eq!(
        (request_id.as_str(), status, error_type.as_deref(), tracing),
        ("r", Status::Error, Some("Boom"), None)
    );
    let metrics = metrics.unwrap();
    assert_eq!(
        (metrics.duration_ms, metrics.produced_bytes),
        (3.0, Some(12))
    );
    assert_eq!(spans[0].name, "responseLatency");
    let Some(LambdaTelemetryRecord::PlatformReport {
        request_id,
        status,
        metrics,
        tracing,
        ..
    }) = telemetry::<String>(
        "platform.report",
        json!({"requestId": "r", "status": "timeout", "tracing": trace(),
            "metrics": {"durationMs": 3.0, "billedDurationMs": 3, "memorySizeMB": 128,
                "maxMemoryUsedMB": 20, "restoreDurationMs": 5.0}}),
    )
    else {
        panic!("no report")
    };
    assert_eq!(
        (request_id.as_str(), status, tracing),
        ("r", Status::Timeout, trace_context())
    );
    assert_eq!(
        (
            metrics.billed_duration_ms,
            metrics.memory_size_mb,
            metrics.restore_duration_ms
        ),
        (3, 128, Some(5.0))
    );
    // A report without a status, an unknown status or trace type: left out.
    for (kind, record) in [
        ("platform.report", json!({"requestId": "r", "metrics": {}})),
        (
            "platform.runtimeDone",
            json!({"requestId": "r", "status": "odd"}),
        ),
        (
            "platform.start",
            json!({"requestId": "r", "tracing": {"type": "W3C", "value": "v"}}),
        ),
        (
            "platform.runtimeDone",
            json!({"requestId": "r", "status": "success",
                "spans": [{"name": "x", "start": "soon", "durationMs": 1.0}]}),
        ),
        ("platform.restoreStart", json!({})),
        ("platform.somethingNew", json!({})),
    ] {
        assert_eq!(telemetry::<String>(kind, record.clone()), None, "{record}");
    }
}

#[test]
fn telemetry_api_other_records_convert() {
    assert_eq!(
        telemetry::<String>(
            "platform.extension",
            json!({"name": "x", "state": "Ready", "events": ["SHUTDOWN"]})
        ),
        Some(LambdaTelemetryRecord::PlatformExtension {
            name: "x".into(),
            state: "Ready".into(),
            events: vec!["SHUTDOWN".into()]
        })
    );
    assert_eq!(
        telemetry::<String>(
            "platform.telemetrySubscription",
            json!({"name": "x", "state": "Subscribed", "types": ["function"]})
        ),
        Some(LambdaTelemetryRecord::PlatformTelemetrySubscription {
            name: "x".into(),
            state: "Subscribed".into(),
            types: vec!["function".into()]
        })
    );
    assert_eq!(
        telemetry::<String>(
            "platform.logsDropped",
            json!({"reason": "r", "droppedRecords": 1, "droppedBytes": 2})
        ),
        Some(LambdaTelemetryRecord::PlatformLogsDropped {
            reason: "r".into(),
            dropped_records: 1,
            dropped_bytes: 2
        })
    );
}

#[test]
fn log_lines_read_as_the_record_type() {
    let object = json!({"level": "INFO", "message": "hi"});
    assert_eq!(
        telemetry::<String>("function", json!("text")),
        Some(LambdaTelemetryRecord::Function("text".into()))
    );
    assert_eq!(
        telemetry::<String>("function", object.clone()),
        Some(LambdaTelemetryRecord::Function(object.to_string()))
    );
    assert_eq!(
        telemetry::<Value>("extension", object.clone()),
        Some(LambdaTelemetryRecord::Extension(object.clone()))
    );
    assert_eq!(
        telemetry::<Value>("function", json!("text")),
        Some(LambdaTelemetryRecord::Function(json!("text")))
    );
    #[derive(Debug, PartialEq, serde::Deserialize)]
    struct Line {
        message: String,
    }
    assert_eq!(
        telemetry::<Line>("function", object),
        Some(LambdaTelemetryRecord::Function(Line {
            message: "hi".into()
        }))
    );
    assert_eq!(telemetry::<Line>("function", json!("plain text")), None);
}

#[test]
fn the_types_read_the_apis_wire_format() {
    let batch: Vec<LambdaLog> = serde_json::from_value(json!([
        {"time": TIME, "type": "function", "record": "hello"},
        {"time": TIME, "type": "platform.start", "record": {"requestId": "r"}},
    ]))
    .unwrap();
    assert_eq!(batch[0].record, LambdaLogRecord::Function("hello".into()));
    assert_eq!(
        serde_json::to_value(&batch[1]).unwrap(),
        json!({"time": TIME, "type": "platform.start", "record": {"requestId": "r"}})
    );
    let event: LambdaTelemetry = serde_json::from_value(json!(
        {"time": TIME, "type": "platform.initStart",
         "record": {"initializationType": "on-demand", "phase": "init"}}
    ))
    .unwrap();
    assert_eq!(
        event.record,
        LambdaTelemetryRecord::PlatformInitStart {
            initialization_type: InitType::OnDemand,
            phase: InitPhase::Init,
            runtime_version: None,
            runtime_version_arn: None
        }
    );
    assert_eq!(
        serde_json::to_value(&event).unwrap(),
        json!({"time": TIME, "type": "platform.initStart",
               "record": {"initializationType": "on-demand", "phase": "init"}})
    );
}

#[test]
fn log_buffering_is_checked_as_lambda_checks_it() {
    let default = LogBuffering::default();
    assert_eq!(
        (default.timeout_ms, default.max_bytes, default.max_items),
        (1_000, 262_144, 10_000)
    );
    assert_eq!(default.to_buffering().unwrap(), crate::Buffering::default());
    let fast = LogBuffering {
        timeout_ms: 25,
        ..LogBuffering::default()
    };
    assert_eq!(fast.to_buffering().unwrap().timeout_ms(), 25);
    for bad in [
        LogBuffering {
            timeout_ms: 10,
            ..default
        },
        LogBuffering {
            max_items: 100,
            ..default
        },
        LogBuffering {
            max_bytes: usize::MAX,
            ..default
        },
    ] {
        let error = bad.to_buffering().unwrap_err();
        assert!(
            matches!(
                error.downcast_ref::<crate::Error>(),
                Some(crate::Error::InvalidBuffering { .. })
            ),
            "{error}"
        );
    }
    assert_eq!(
        serde_json::to_value(default).unwrap(),
        json!({"timeoutMs": 1000, "maxBytes": 262144, "maxItems": 10000})
    );
}

/// A helper generic over the events processor, written with `lambda_extension::run`'s own
/// bounds, compiles against this module's `run` (it is never called: compiling is the check).
#[allow(dead_code)]
async fn generic_over_the_processor<E>(processor: E) -> Result<(), super::Error>
where
    E: super::Service<super::LambdaEvent>,
    E::Future: std::future::Future<Output = Result<(), E::Error>>,
    E::Error: Into<Box<dyn std::error::Error + Send + Sync>> + std::fmt::Display + std::fmt::Debug,
{
    super::run(processor).await
}

#[test]
fn timestamps_give_nanoseconds_as_chrono_does() {
    let time = Timestamp::from_timestamp_millis(1_700_000_000_123).unwrap();
    assert_eq!(time.timestamp_nanos_opt(), Some(1_700_000_000_123_000_000));
    let far = Timestamp::from_timestamp(300 * 365 * 86_400, 0).unwrap();
    assert_eq!(far.timestamp_nanos_opt(), None);
}
