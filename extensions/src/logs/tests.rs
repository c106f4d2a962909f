//! Reading Logs API records: every typed kind, in the shapes AWS documents and in those the
//! emulator sends, the lenient fallbacks, and the wire format.

use serde_json::json;

use super::*;
use crate::telemetry::parse_batch;

fn one(kind: &str, record: Value) -> LogsRecord {
    let body = json!([{"time": "2020-08-20T12:31:32.123Z", "type": kind, "record": record}]);
    let mut batch: Vec<LogsEvent> = parse_batch(body.to_string().as_bytes()).unwrap();
    assert_eq!(batch.len(), 1);
    let event = batch.remove(0);
    assert_eq!(event.time, "2020-08-20T12:31:32.123Z");
    assert_eq!(event.kind(), kind);
    event.record
}

#[test]
fn invocation_records_as_aws_documents_them() {
    let LogsRecord::PlatformStart(start) = one("platform.start", json!({"requestId": "r-1"}))
    else {
        panic!("not a start")
    };
    assert_eq!((start.request_id.as_str(), start.version), ("r-1", None));
    assert_eq!(
        one("platform.end", json!({"requestId": "r-1"})),
        LogsRecord::PlatformEnd(EndRecord {
            request_id: "r-1".into()
        })
    );
    let record = one(
        "platform.report",
        json!({"requestId": "r-1", "metrics": {"durationMs": 1.23, "billedDurationMs": 2,
            "memorySizeMB": 128, "maxMemoryUsedMB": 40, "initDurationMs": 80.5}}),
    );
    let LogsRecord::PlatformReport(report) = &record else {
        panic!("{record:?}")
    };
    assert_eq!(record.request_id(), Some("r-1"));
    assert_eq!(report.status, None);
    assert_eq!(
        (
            report.metrics.duration_ms,
            report.metrics.billed_duration_ms,
            report.metrics.memory_size_mb,
            report.metrics.max_memory_used_mb,
            report.metrics.init_duration_ms
        ),
        (1.23, 2, 128, 40, Some(80.5))
    );
    let record = one(
        "platform.runtimeDone",
        json!({"requestId": "r-1", "status": "timeout"}),
    );
    let LogsRecord::PlatformRuntimeDone(done) = &record else {
        panic!("{record:?}")
    };
    assert_eq!(done.status, TelemetryStatus::Timeout);
    assert_eq!(record.request_id(), Some("r-1"));
}

#[test]
fn invocation_records_as_the_emulator_sends_them() {
    // The emulator sends the Telemetry API's records to Logs API subscribers too.
    let record = one(
        "platform.start",
        json!({"requestId": "r-2", "version": "$LATEST",
               "tracing": {"type": "X-Amzn-Trace-Id", "value": "Root=1-2-3"}}),
    );
    let LogsRecord::PlatformStart(start) = record else {
        panic!("{record:?}")
    };
    assert_eq!(start.version.as_deref(), Some("$LATEST"));
    let record = one(
        "platform.report",
        json!({"requestId": "r-2", "status": "error", "errorType": "Handled",
               "metrics": {"durationMs": 3.0, "billedDurationMs": 3, "memorySizeMB": 128,
                           "maxMemoryUsedMB": 20}}),
    );
    let LogsRecord::PlatformReport(report) = record else {
        panic!("{record:?}")
    };
    assert_eq!(report.status, Some(TelemetryStatus::Error));
    assert_eq!(report.error_type.as_deref(), Some("Handled"));
    let record = one(
        "platform.runtimeDone",
        json!({"requestId": "r-2", "status": "success", "metrics": {"durationMs": 2.5}}),
    );
    let LogsRecord::PlatformRuntimeDone(done) = record else {
        panic!("{record:?}")
    };
    assert_eq!(done.metrics.map(|m| m.duration_ms), Some(2.5));
}

#[test]
fn extension_subscription_drop_and_fault_records() {
    assert_eq!(
        one(
            "platform.extension",
            json!({"name": "log-reporter", "state": "Ready", "events": ["INVOKE", "SHUTDOWN"]})
        ),
        LogsRecord::PlatformExtension(ExtensionRecord {
            name: "log-reporter".into(),
            state: "Ready".into(),
            events: vec!["INVOKE".into(), "SHUTDOWN".into()],
            error_type: None,
        })
    );
    assert_eq!(
        one(
            "platform.logsSubscription",
            json!({"name": "log-reporter", "state": "Subscribed", "types": ["platform"]})
        ),
        LogsRecord::PlatformLogsSubscription(TelemetrySubscriptionRecord {
            name: "log-reporter".into(),
            state: "Subscribed".into(),
            types: vec!["platform".into()],
        })
    );
    assert_eq!(
        one(
            "platform.logsDropped",
            json!({"reason": "behind", "droppedRecords": 3, "droppedBytes": 120})
        ),
        LogsRecord::PlatformLogsDropped(LogsDroppedRecord {
            reason: "behind".into(),
            dropped_records: 3,
            dropped_bytes: 120,
        })
    );
    let fault = "RequestId: r-3 Process exited before completing request";
    assert_eq!(
        one("platform.fault", json!(fault)),
        LogsRecord::PlatformFault(fault.into())
    );
}

#[test]
fn log_lines_unknown_types_and_misfits_are_kept() {
    let line = one("function", json!("hello\n"));
    assert_eq!(line.log_line(), Some("hello\n"));
    let object = one("extension", json!({"message": "hi", "level": "INFO"}));
    assert_eq!(object.log_line(), None);
    assert!(matches!(object, LogsRecord::Extension(Value::Object(_))));
    for (kind, record) in [
        (
            "platform.initStart",
            json!({"initializationType": "on-demand"}),
        ),
        ("platform.start", json!({"version": "$LATEST"})),
        ("platform.end", json!("r-1")),
        ("platform.report", json!({"metrics": {}})),
        ("platform.fault", json!({"text": "odd"})),
        ("platform.logsDropped", json!({"droppedRecords": "many"})),
    ] {
        let read = one(kind, record.clone());
        assert_eq!(
            read,
            LogsRecord::Other {
                kind: kind.into(),
                record
            },
            "{kind}"
        );
        assert_eq!(read.request_id(), None);
    }
}

#[test]
fn events_serialize_as_the_wire_format() {
    let wire = json!([
        {"time": "t1", "type": "platform.start", "record": {"requestId": "r"}},
        {"time": "t2", "type": "platform.end", "record": {"requestId": "r"}},
        {"time": "t3", "type": "platform.report", "record": {"requestId": "r",
            "metrics": {"durationMs": 1.5, "billedDurationMs": 2, "memorySizeMB": 128,
                        "maxMemoryUsedMB": 20}}},
        {"time": "t4", "type": "platform.fault", "record": "broken"},
        {"time": "t5", "type": "platform.logsDropped",
         "record": {"reason": "r", "droppedRecords": 1, "droppedBytes": 2}},
        {"time": "t6", "type": "function", "record": "line"},
        {"time": "t7", "type": "platform.new", "record": {"x": 1}},
    ]);
    let batch: Vec<LogsEvent> = parse_batch(wire.to_string().as_bytes()).unwrap();
    assert_eq!(serde_json::to_value(&batch).unwrap(), wire);
}
