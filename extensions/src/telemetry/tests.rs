//! Reading telemetry records: every typed kind, the lenient fallbacks, and malformed batches.

use serde_json::json;

use super::*;

/// A telemetry batch (the crate's reader, for the Telemetry API's events).
fn parse_batch(body: &[u8]) -> Result<Vec<TelemetryEvent>, String> {
    super::parse_batch(body)
}

fn one(kind: &str, record: Value) -> TelemetryRecord {
    let body = json!([{"time": "2026-11-21T15:05:37.995Z", "type": kind, "record": record}]);
    let mut batch = parse_batch(body.to_string().as_bytes()).unwrap();
    assert_eq!(batch.len(), 1);
    let event = batch.remove(0);
    assert_eq!(event.time, "2026-11-21T15:05:37.995Z");
    assert_eq!(event.kind(), kind);
    event.record
}

#[test]
fn init_records() {
    let record = one(
        "platform.initStart",
        json!({"initializationType": "on-demand", "phase": "init",
               "runtimeVersion": "firebox:provided.al2023",
               "runtimeVersionArn": "arn:aws:lambda:::runtime:firebox",
               "functionName": "f", "instanceMaxMemory": 3_000_000}),
    );
    assert_eq!(
        record,
        TelemetryRecord::PlatformInitStart(InitStartRecord {
            initialization_type: "on-demand".into(),
            phase: "init".into(),
            runtime: RuntimeInstance {
                function_name: "f".into(),
                instance_max_memory: Some(3_000_000),
                runtime_version: Some("firebox:provided.al2023".into()),
                runtime_version_arn: Some("arn:aws:lambda:::runtime:firebox".into()),
                ..RuntimeInstance::default()
            },
        })
    );
    let record = one(
        "platform.initRuntimeDone",
        json!({"initializationType": "on-demand", "phase": "init", "status": "success"}),
    );
    assert_eq!(
        record,
        TelemetryRecord::PlatformInitRuntimeDone(InitRuntimeDoneRecord {
            initialization_type: "on-demand".into(),
            phase: "init".into(),
            status: TelemetryStatus::Success,
            error_type: None,
            spans: Vec::new(),
        })
    );
    let record = one(
        "platform.initReport",
        json!({"initializationType": "provisioned-concurrency", "phase": "init",
               "status": "error", "errorType": "Runtime.ExitError",
               "metrics": {"durationMs": 125.25}}),
    );
    let TelemetryRecord::PlatformInitReport(report) = record else {
        panic!("{record:?}")
    };
    assert_eq!(report.initialization_type, "provisioned-concurrency");
    assert_eq!(report.status, TelemetryStatus::Error);
    assert_eq!(report.error_type.as_deref(), Some("Runtime.ExitError"));
    assert_eq!(report.metrics.duration_ms, 125.25);
}

#[test]
fn invocation_records() {
    let record = one(
        "platform.start",
        json!({"requestId": "r-1", "version": "$LATEST",
               "tracing": {"spanId": "s", "type": "X-Amzn-Trace-Id", "value": "Root=1-abc"}}),
    );
    let TelemetryRecord::PlatformStart(start) = record else {
        panic!("{record:?}")
    };
    assert_eq!(start.request_id, "r-1");
    assert_eq!(start.version.as_deref(), Some("$LATEST"));
    let tracing = start.tracing.unwrap();
    assert_eq!(
        (tracing.kind.as_str(), tracing.value.as_str()),
        ("X-Amzn-Trace-Id", "Root=1-abc")
    );

    for status in ["success", "error", "timeout", "failure"] {
        let record = one(
            "platform.runtimeDone",
            json!({"requestId": "r-1", "status": status,
                   "metrics": {"durationMs": 3.5, "producedBytes": 12}, "spans": []}),
        );
        let TelemetryRecord::PlatformRuntimeDone(done) = record else {
            panic!("{record:?}")
        };
        assert_eq!(done.status.as_str(), status);
        let metrics = done.metrics.unwrap();
        assert_eq!(metrics.duration_ms, 3.5);
        assert_eq!(metrics.produced_bytes, Some(12));
    }

    let record = one(
        "platform.report",
        json!({"requestId": "r-1", "status": "success",
               "metrics": {"durationMs": 1.23, "billedDurationMs": 14, "memorySizeMB": 128,
                           "maxMemoryUsedMB": 15, "initDurationMs": 12.34}}),
    );
    assert_eq!(
        record,
        TelemetryRecord::PlatformReport(ReportRecord {
            request_id: "r-1".into(),
            status: Some(TelemetryStatus::Success),
            error_type: None,
            metrics: ReportMetrics {
                duration_ms: 1.23,
                billed_duration_ms: 14,
                memory_size_mb: 128,
                max_memory_used_mb: 15,
                init_duration_ms: Some(12.34),
                restore_duration_ms: None,
            },
            spans: Vec::new(),
            tracing: None,
        })
    );
    // A warm start has no initDurationMs; whole numbers may come as floats.
    let record = one(
        "platform.report",
        json!({"requestId": "r-2", "status": "timeout", "errorType": "Sandbox.Timedout",
               "metrics": {"durationMs": 3000.0, "billedDurationMs": 3000.0,
                           "memorySizeMB": 128, "maxMemoryUsedMB": 20}}),
    );
    let TelemetryRecord::PlatformReport(report) = record else {
        panic!("{record:?}")
    };
    assert_eq!(report.status, Some(TelemetryStatus::Timeout));
    assert_eq!(report.metrics.billed_duration_ms, 3000);
    assert_eq!(report.metrics.init_duration_ms, None);
}

#[test]
fn extension_and_subscription_records() {
    let record = one(
        "platform.extension",
        json!({"name": "telemetry-reporter", "state": "Ready", "events": ["INVOKE", "SHUTDOWN"]}),
    );
    assert_eq!(
        record,
        TelemetryRecord::PlatformExtension(ExtensionRecord {
            name: "telemetry-reporter".into(),
            state: "Ready".into(),
            events: vec!["INVOKE".into(), "SHUTDOWN".into()],
            error_type: None,
        })
    );
    let record = one(
        "platform.telemetrySubscription",
        json!({"name": "telemetry-reporter", "state": "Subscribed", "types": ["platform"]}),
    );
    assert_eq!(
        record,
        TelemetryRecord::PlatformTelemetrySubscription(TelemetrySubscriptionRecord {
            name: "telemetry-reporter".into(),
            state: "Subscribed".into(),
            types: vec!["platform".into()],
        })
    );
}

#[test]
fn log_lines_are_any_json() {
    let record = one("function", json!("hello world"));
    assert_eq!(record, TelemetryRecord::Function(json!("hello world")));
    assert_eq!(record.log_line(), Some("hello world"));
    let structured = json!({"level": "INFO", "message": "hi", "requestId": "r-1"});
    let record = one("function", structured.clone());
    assert_eq!(record, TelemetryRecord::Function(structured));
    assert_eq!(record.log_line(), None);
    let record = one("extension", json!("[ext] ready"));
    assert_eq!(record, TelemetryRecord::Extension(json!("[ext] ready")));
    assert_eq!(record.log_line(), Some("[ext] ready"));
}

#[test]
fn logs_dropped_is_typed() {
    assert_eq!(
        one(
            "platform.logsDropped",
            json!({"reason": "buffer full", "droppedRecords": 3, "droppedBytes": 100.0}),
        ),
        TelemetryRecord::PlatformLogsDropped(LogsDroppedRecord {
            reason: "buffer full".into(),
            dropped_records: 3,
            dropped_bytes: 100,
        })
    );
}

#[test]
fn unknown_types_are_kept_as_they_came() {
    for (kind, record) in [
        ("platform.somethingNew", json!({"runtimeVersion": "x"})),
        ("something.new", json!([1, 2, 3])),
    ] {
        assert_eq!(
            one(kind, record.clone()),
            TelemetryRecord::Other {
                kind: kind.into(),
                record
            }
        );
    }
}

#[test]
fn typed_records_that_do_not_fit_are_kept_as_they_came() {
    for (kind, record) in [
        ("platform.report", json!({"status": "success"})),
        ("platform.report", json!({"requestId": "r", "status": 3})),
        (
            "platform.report",
            json!({"requestId": "r", "status": "success", "metrics": {"billedDurationMs": -1}}),
        ),
        ("platform.start", json!("not an object")),
        ("platform.initReport", json!({"phase": "init"})),
        ("platform.logsDropped", json!({"droppedRecords": -1})),
        (
            "platform.restoreStart",
            json!({"instanceMaxMemory": "lots"}),
        ),
        (
            "platform.restoreReport",
            json!({"metrics": {"durationMs": 1.0}}),
        ),
    ] {
        assert_eq!(
            one(kind, record.clone()),
            TelemetryRecord::Other {
                kind: kind.into(),
                record
            }
        );
    }
    // Unknown statuses are kept.
    let record = one(
        "platform.runtimeDone",
        json!({"requestId": "r", "status": "snapshotted"}),
    );
    let TelemetryRecord::PlatformRuntimeDone(done) = record else {
        panic!("{record:?}")
    };
    assert_eq!(done.status, TelemetryStatus::Other("snapshotted".into()));
    assert_eq!(done.metrics, None);
}

#[test]
fn missing_time_and_record_are_tolerated() {
    let batch = parse_batch(br#"[{"type": "platform.somethingNew"}]"#).unwrap();
    assert_eq!(batch[0].time, "");
    assert_eq!(
        batch[0].record,
        TelemetryRecord::Other {
            kind: "platform.somethingNew".into(),
            record: Value::Null
        }
    );
    assert!(parse_batch(b"[]").unwrap().is_empty());
}

#[test]
fn bad_batches_name_the_offending_element() {
    for (bad, says) in [
        (r#"{"type": "function"}"#, "expected a sequence"),
        (r#"[{"time": "t", "record": "x"}]"#, "type"),
        (r#"[{"type": "function"}, {"type": 5}]"#, "[1].type"),
        (r#"[{"type": "function", "time": 17}]"#, "[0].time"),
        ("[1]", "[0]"),
        ("not json", "expected"),
        (r#"[] []"#, "trailing"),
    ] {
        let error = parse_batch(bad.as_bytes()).unwrap_err();
        assert!(error.contains(says), "{bad}: {error}");
    }
}

#[test]
fn events_serialize_as_the_wire_format() {
    let wire = json!([
        {"time": "t1", "type": "platform.initStart",
         "record": {"initializationType": "on-demand", "phase": "init"}},
        {"time": "t2", "type": "platform.start", "record": {"requestId": "r"}},
        {"time": "t3", "type": "platform.report",
         "record": {"requestId": "r", "status": "success",
                    "metrics": {"durationMs": 1.5, "billedDurationMs": 2,
                                "memorySizeMB": 128, "maxMemoryUsedMB": 20}}},
        {"time": "t4", "type": "platform.runtimeDone",
         "record": {"requestId": "r", "status": "error", "errorType": "E",
                    "metrics": {"durationMs": 1.0}}},
        {"time": "t5", "type": "function", "record": "line"},
        {"time": "t6", "type": "platform.logsDropped",
         "record": {"reason": "r", "droppedRecords": 1, "droppedBytes": 10}},
        {"time": "t7", "type": "platform.restoreReport",
         "record": {"status": "success", "metrics": {"durationMs": 15.19}}},
        {"time": "t8", "type": "platform.somethingNew", "record": {"droppedRecords": 1}},
    ]);
    let batch = parse_batch(wire.to_string().as_bytes()).unwrap();
    assert_eq!(serde_json::to_value(&batch).unwrap(), wire);
}

#[test]
fn statuses() {
    for (raw, status) in [
        ("success", TelemetryStatus::Success),
        ("error", TelemetryStatus::Error),
        ("timeout", TelemetryStatus::Timeout),
        ("failure", TelemetryStatus::Failure),
        ("other", TelemetryStatus::Other("other".into())),
    ] {
        assert_eq!(TelemetryStatus::from(raw), status);
        assert_eq!(TelemetryStatus::from(raw.to_owned()), status);
        assert_eq!(status.to_string(), raw);
        assert_eq!(String::from(status), raw);
    }
}
