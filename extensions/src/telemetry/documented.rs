//! Every record type of AWS's Telemetry API schema reference (`2022-12-13`), read from the
//! example AWS gives for it, into its typed variant with every documented field. Two of AWS's
//! examples are not valid JSON as printed (`platform.initRuntimeDone` misses a comma,
//! `platform.report` has a trailing one): they are given here with that fixed, and nothing else
//! changed.

use serde_json::{json, Value};

use super::*;
use crate::Tracing;

/// The record of the one event in `example` (AWS's `{"time", "type", "record"}`), typed.
fn read(example: Value) -> TelemetryRecord {
    let kind = example["type"].as_str().unwrap().to_owned();
    let mut batch: Vec<TelemetryEvent> =
        parse_batch(json!([example]).to_string().as_bytes()).unwrap();
    let event = batch.remove(0);
    assert_eq!(event.kind(), kind);
    assert!(event.time.starts_with("2022-10-12T00:"), "{}", event.time);
    assert!(
        !matches!(event.record, TelemetryRecord::Other { .. }),
        "{kind} is not typed: {:?}",
        event.record
    );
    event.record
}

fn span(name: &str, start: &str, duration_ms: f64) -> Span {
    Span {
        name: name.into(),
        start: start.into(),
        duration_ms,
    }
}

/// The trace context of AWS's `platform.start` and `platform.runtimeDone` examples.
fn trace_context() -> Tracing {
    Tracing {
        kind: "X-Amzn-Trace-Id".into(),
        value: "Root=1-62e900b2-710d76f009d6e7785905449a;Parent=0efbd19962d95b05;Sampled=1".into(),
        span_id: Some("54565fb41ac79632".into()),
    }
}

/// The function, instance and runtime of AWS's `platform.initStart` and
/// `platform.restoreStart` examples.
fn documented_instance() -> RuntimeInstance {
    RuntimeInstance {
        function_name: "myFunction".into(),
        function_version: "$LATEST".into(),
        instance_id: Some("82561ce0-53dd-47d1-90e0-c8f5e063e62e".into()),
        instance_max_memory: Some(256),
        runtime_version: Some("nodejs-14.v3".into()),
        runtime_version_arn: Some("arn".into()),
    }
}

#[test]
fn init_records() {
    let record = read(json!({
        "time": "2022-10-12T00:00:15.064Z",
        "type": "platform.initStart",
        "record": {
            "initializationType": "on-demand",
            "phase": "init",
            "runtimeVersion": "nodejs-14.v3",
            "runtimeVersionArn": "arn",
            "functionName": "myFunction",
            "functionVersion": "$LATEST",
            "instanceId": "82561ce0-53dd-47d1-90e0-c8f5e063e62e",
            "instanceMaxMemory": 256
        }
    }));
    assert_eq!(
        record,
        TelemetryRecord::PlatformInitStart(InitStartRecord {
            initialization_type: "on-demand".into(),
            phase: "init".into(),
            runtime: documented_instance(),
        })
    );

    let record = read(json!({
        "time": "2022-10-12T00:01:15.000Z",
        "type": "platform.initRuntimeDone",
        "record": {
            "initializationType": "on-demand",
            "status": "success",
            "spans": [
                {"name": "someTimeSpan", "start": "2022-06-02T12:02:33.913Z", "durationMs": 70.5}
            ]
        }
    }));
    assert_eq!(
        record,
        TelemetryRecord::PlatformInitRuntimeDone(InitRuntimeDoneRecord {
            initialization_type: "on-demand".into(),
            phase: String::new(),
            status: TelemetryStatus::Success,
            error_type: None,
            spans: vec![span("someTimeSpan", "2022-06-02T12:02:33.913Z", 70.5)],
        })
    );

    let record = read(json!({
        "time": "2022-10-12T00:01:15.000Z",
        "type": "platform.initReport",
        "record": {
            "initializationType": "on-demand",
            "status": "success",
            "phase": "init",
            "metrics": {"durationMs": 125.33},
            "spans": [
                {"name": "someTimeSpan", "start": "2022-06-02T12:02:33.913Z", "durationMs": 90.1}
            ]
        }
    }));
    assert_eq!(
        record,
        TelemetryRecord::PlatformInitReport(InitReportRecord {
            initialization_type: "on-demand".into(),
            phase: "init".into(),
            status: TelemetryStatus::Success,
            error_type: None,
            metrics: InitReportMetrics {
                duration_ms: 125.33
            },
            spans: vec![span("someTimeSpan", "2022-06-02T12:02:33.913Z", 90.1)],
        })
    );
}

#[test]
fn invocation_records() {
    let record = read(json!({
        "time": "2022-10-12T00:00:15.064Z",
        "type": "platform.start",
        "record": {
            "requestId": "6d68ca91-49c9-448d-89b8-7ca3e6dc66aa",
            "version": "$LATEST",
            "tracing": {
                "spanId": "54565fb41ac79632",
                "type": "X-Amzn-Trace-Id",
                "value": "Root=1-62e900b2-710d76f009d6e7785905449a;Parent=0efbd19962d95b05;Sampled=1"
            }
        }
    }));
    assert_eq!(
        record,
        TelemetryRecord::PlatformStart(StartRecord {
            request_id: "6d68ca91-49c9-448d-89b8-7ca3e6dc66aa".into(),
            version: Some("$LATEST".into()),
            tracing: Some(trace_context()),
        })
    );

    let record = read(json!({
        "time": "2022-10-12T00:01:15.000Z",
        "type": "platform.runtimeDone",
        "record": {
            "requestId": "6d68ca91-49c9-448d-89b8-7ca3e6dc66aa",
            "status": "success",
            "tracing": {
                "spanId": "54565fb41ac79632",
                "type": "X-Amzn-Trace-Id",
                "value": "Root=1-62e900b2-710d76f009d6e7785905449a;Parent=0efbd19962d95b05;Sampled=1"
            },
            "spans": [
                {"name": "someTimeSpan", "start": "2022-08-02T12:01:23:521Z", "durationMs": 80.0}
            ],
            "metrics": {"durationMs": 140.0, "producedBytes": 16}
        }
    }));
    assert_eq!(
        record,
        TelemetryRecord::PlatformRuntimeDone(RuntimeDoneRecord {
            request_id: "6d68ca91-49c9-448d-89b8-7ca3e6dc66aa".into(),
            status: TelemetryStatus::Success,
            error_type: None,
            metrics: Some(RuntimeDoneMetrics {
                duration_ms: 140.0,
                produced_bytes: Some(16),
            }),
            spans: vec![span("someTimeSpan", "2022-08-02T12:01:23:521Z", 80.0)],
            tracing: Some(trace_context()),
        })
    );

    // AWS's example leaves out `status`, which its schema requires.
    let record = read(json!({
        "time": "2022-10-12T00:01:15.000Z",
        "type": "platform.report",
        "record": {
            "metrics": {
                "billedDurationMs": 694,
                "durationMs": 693.92,
                "initDurationMs": 397.68,
                "maxMemoryUsedMB": 84,
                "memorySizeMB": 128
            },
            "requestId": "6d68ca91-49c9-448d-89b8-7ca3e6dc66aa"
        }
    }));
    assert_eq!(
        record,
        TelemetryRecord::PlatformReport(ReportRecord {
            request_id: "6d68ca91-49c9-448d-89b8-7ca3e6dc66aa".into(),
            status: None,
            error_type: None,
            metrics: ReportMetrics {
                duration_ms: 693.92,
                billed_duration_ms: 694,
                memory_size_mb: 128,
                max_memory_used_mb: 84,
                init_duration_ms: Some(397.68),
                restore_duration_ms: None,
            },
            spans: Vec::new(),
            tracing: None,
        })
    );
}

#[test]
fn restore_records() {
    let record = read(json!({
        "time": "2022-10-12T00:00:15.064Z",
        "type": "platform.restoreStart",
        "record": {
            "runtimeVersion": "nodejs-14.v3",
            "runtimeVersionArn": "arn",
            "functionName": "myFunction",
            "functionVersion": "$LATEST",
            "instanceId": "82561ce0-53dd-47d1-90e0-c8f5e063e62e",
            "instanceMaxMemory": 256
        }
    }));
    assert_eq!(
        record,
        TelemetryRecord::PlatformRestoreStart(documented_instance())
    );
    // The schema calls `instanceMaxMemory` a string here: a string of a number is read too.
    let TelemetryRecord::PlatformRestoreStart(start) = read(json!({
        "time": "2022-10-12T00:00:15.064Z",
        "type": "platform.restoreStart",
        "record": {"functionName": "f", "functionVersion": "1", "instanceMaxMemory": "512"}
    })) else {
        panic!("not a restoreStart")
    };
    assert_eq!(start.instance_max_memory, Some(512));

    let record = read(json!({
        "time": "2022-10-12T00:00:15.064Z",
        "type": "platform.restoreRuntimeDone",
        "record": {
            "status": "success",
            "spans": [
                {"name": "someTimeSpan", "start": "2022-08-02T12:01:23:521Z", "durationMs": 80.0}
            ]
        }
    }));
    assert_eq!(
        record,
        TelemetryRecord::PlatformRestoreRuntimeDone(RestoreRuntimeDoneRecord {
            status: TelemetryStatus::Success,
            error_type: None,
            spans: vec![span("someTimeSpan", "2022-08-02T12:01:23:521Z", 80.0)],
        })
    );

    let record = read(json!({
        "time": "2022-10-12T00:00:15.064Z",
        "type": "platform.restoreReport",
        "record": {
            "status": "success",
            "metrics": {"durationMs": 15.19},
            "spans": [
                {"name": "someTimeSpan", "start": "2022-08-02T12:01:23:521Z", "durationMs": 30.0}
            ]
        }
    }));
    assert_eq!(
        record,
        TelemetryRecord::PlatformRestoreReport(RestoreReportRecord {
            status: TelemetryStatus::Success,
            error_type: None,
            metrics: Some(RestoreReportMetrics { duration_ms: 15.19 }),
            spans: vec![span("someTimeSpan", "2022-08-02T12:01:23:521Z", 30.0)],
        })
    );
}

#[test]
fn extension_subscription_and_dropped_records() {
    let record = read(json!({
        "time": "2022-10-12T00:02:15.000Z",
        "type": "platform.extension",
        "record": {
            "events": ["INVOKE", "SHUTDOWN"],
            "name": "my-telemetry-extension",
            "state": "Ready"
        }
    }));
    assert_eq!(
        record,
        TelemetryRecord::PlatformExtension(ExtensionRecord {
            name: "my-telemetry-extension".into(),
            state: "Ready".into(),
            events: vec!["INVOKE".into(), "SHUTDOWN".into()],
            error_type: None,
        })
    );

    let record = read(json!({
        "time": "2022-10-12T00:02:35.000Z",
        "type": "platform.telemetrySubscription",
        "record": {
            "name": "my-telemetry-extension",
            "state": "Subscribed",
            "types": ["platform", "function"]
        }
    }));
    assert_eq!(
        record,
        TelemetryRecord::PlatformTelemetrySubscription(TelemetrySubscriptionRecord {
            name: "my-telemetry-extension".into(),
            state: "Subscribed".into(),
            types: vec!["platform".into(), "function".into()],
        })
    );

    let reason =
        "Some logs were dropped because the downstream consumer is slower than the logs production rate";
    let record = read(json!({
        "time": "2022-10-12T00:02:35.000Z",
        "type": "platform.logsDropped",
        "record": {"droppedBytes": 12345, "droppedRecords": 123, "reason": reason}
    }));
    assert_eq!(
        record,
        TelemetryRecord::PlatformLogsDropped(LogsDroppedRecord {
            reason: reason.into(),
            dropped_records: 123,
            dropped_bytes: 12345,
        })
    );
}

#[test]
fn log_lines_in_text_and_json_formats() {
    let text = read(json!({
        "time": "2022-10-12T00:03:50.000Z",
        "type": "function",
        "record": "[INFO] Hello world, I am a function!"
    }));
    assert_eq!(
        text.log_line(),
        Some("[INFO] Hello world, I am a function!")
    );
    let structured = json!({
        "timestamp": "2022-10-12T00:03:50.000Z",
        "level": "INFO",
        "requestId": "79b4f56e-95b1-4643-9700-2807f4e68189",
        "message": "Hello world, I am a function!"
    });
    let record = read(json!({
        "time": "2022-10-12T00:03:50.000Z", "type": "function", "record": structured.clone()
    }));
    assert_eq!(record, TelemetryRecord::Function(structured.clone()));

    let text = read(json!({
        "time": "2022-10-12T00:03:50.000Z",
        "type": "extension",
        "record": "[INFO] Hello world, I am an extension!"
    }));
    assert_eq!(
        text,
        TelemetryRecord::Extension(json!("[INFO] Hello world, I am an extension!"))
    );
    let record = read(json!({
        "time": "2022-10-12T00:03:50.000Z", "type": "extension", "record": structured.clone()
    }));
    assert_eq!(record, TelemetryRecord::Extension(structured));
}

#[test]
fn failed_phases_carry_their_error_type() {
    for (kind, record) in [
        (
            "platform.initRuntimeDone",
            json!({"initializationType": "on-demand", "phase": "init", "status": "error",
                   "errorType": "Runtime.ExitError"}),
        ),
        (
            "platform.initReport",
            json!({"initializationType": "on-demand", "phase": "invoke", "status": "timeout",
                   "metrics": {"durationMs": 3000.0}}),
        ),
        (
            "platform.runtimeDone",
            json!({"requestId": "r", "status": "failure", "errorType": "Runtime.OutOfMemory"}),
        ),
        (
            "platform.report",
            json!({"requestId": "r", "status": "timeout", "errorType": "Sandbox.Timedout",
                   "metrics": {"durationMs": 3000.0, "billedDurationMs": 3000,
                               "memorySizeMB": 128, "maxMemoryUsedMB": 40}}),
        ),
        (
            "platform.restoreRuntimeDone",
            json!({"status": "error", "errorType": "Runtime.RestoreError"}),
        ),
        (
            "platform.restoreReport",
            json!({"status": "failure", "errorType": "Runtime.RestoreError"}),
        ),
    ] {
        let event = json!({"time": "2022-10-12T00:00:00.000Z", "type": kind, "record": record});
        let (status, error_type) = match read(event) {
            TelemetryRecord::PlatformInitRuntimeDone(r) => (r.status, r.error_type),
            TelemetryRecord::PlatformInitReport(r) => (r.status, r.error_type),
            TelemetryRecord::PlatformRuntimeDone(r) => (r.status, r.error_type),
            TelemetryRecord::PlatformReport(r) => (r.status.unwrap(), r.error_type),
            TelemetryRecord::PlatformRestoreRuntimeDone(r) => (r.status, r.error_type),
            TelemetryRecord::PlatformRestoreReport(r) => (r.status, r.error_type),
            other => panic!("{other:?}"),
        };
        assert_eq!(status.as_str(), record["status"], "{kind}");
        assert_eq!(
            error_type.as_deref(),
            record["errorType"].as_str(),
            "{kind}"
        );
    }
}
