//! `firebox_extensions::lambda_extension` against the in-test protocol harness of `harness/`
//! (NOT the emulator): what goes over the wire when code written for `lambda_extension` runs,
//! and what its processors get — the registration (name, events, `accountId`), the
//! subscriptions (types, buffering, destination, and the default port's fallback), the
//! conversion of delivered batches, the events a processor gets, the exit error a failing
//! processor reports, and the settings refused before anything is sent.
//!
//! `lambda_extension` reads the API's address from `AWS_LAMBDA_RUNTIME_API` only: one test
//! sets it for each harness in turn, so that no other test of this binary races it.

mod harness;

use std::time::Duration;

use firebox_extensions::lambda_extension::{
    self, service_fn, Error, Extension, ExtensionError, LambdaEvent, LambdaLog, LambdaLogRecord,
    LambdaTelemetry, LambdaTelemetryRecord, LogBuffering, NextEvent, SharedService, Status,
    TracingType,
};
use harness::{telemetry_record as record, Harness, ACCOUNT_ID, FUNCTION_NAME};
use serde_json::{json, Value};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

const REGISTER: &str = "/2020-01-01/extension/register";
const TELEMETRY: &str = "/2022-07-01/telemetry";
const LOGS: &str = "/2020-08-15/logs";
const EXIT_ERROR: &str = "/2020-01-01/extension/exit/error";

/// Points `AWS_LAMBDA_RUNTIME_API` at a new harness.
async fn start_harness() -> Harness {
    let harness = Harness::start().await;
    std::env::set_var("AWS_LAMBDA_RUNTIME_API", &harness.address);
    harness
}

/// A processor factory sending every batch to the test.
fn forwarding<T: Send + Sync + 'static>(
    to: UnboundedSender<Vec<T>>,
) -> SharedService<
    impl tower::Service<Vec<T>, Response = (), Error = Error, Future = impl Send> + Clone,
> {
    SharedService::new(service_fn(move |batch: Vec<T>| {
        let to = to.clone();
        async move { to.send(batch).map_err(|_| Error::from("the test is gone")) }
    }))
}

async fn next<T>(from: &mut UnboundedReceiver<T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), from.recv())
        .await
        .expect("within 10 s")
        .expect("the sender lives")
}

#[tokio::test]
async fn code_written_for_lambda_extension_speaks_the_protocol() {
    telemetry_processor_subscribes_and_gets_converted_batches().await;
    logs_processor_falls_back_from_a_taken_default_port().await;
    the_events_processor_gets_every_event_and_its_failure_is_reported().await;
    a_shutdown_processed_ends_run().await;
    settings_lambda_would_refuse_fail_before_anything_is_sent().await;
}

async fn telemetry_processor_subscribes_and_gets_converted_batches() {
    let harness = start_harness().await;
    let (batches, mut received) = unbounded_channel::<Vec<LambdaTelemetry>>();
    let extension = Extension::new()
        .with_extension_name("telemetry-conformance")
        .with_telemetry_types(&["platform", "function"])
        .with_telemetry_buffering(LogBuffering {
            timeout_ms: 100,
            max_bytes: 262_144,
            max_items: 1_000,
        })
        .with_telemetry_port_number(0)
        .with_telemetry_processor(forwarding(batches))
        .register()
        .await
        .unwrap();

    // Registered under its name, for INVOKE and SHUTDOWN, asking for the account id.
    let registered = harness.registered();
    assert_eq!(registered.len(), 1);
    assert_eq!(registered[0].name, "telemetry-conformance");
    assert_eq!(registered[0].events, ["INVOKE", "SHUTDOWN"]);
    let register = &harness.requests_to(REGISTER)[0];
    assert_eq!(
        register.header("lambda-extension-accept-feature"),
        Some("accountId")
    );
    assert_eq!(extension.extension_id, registered[0].id);
    assert_eq!(extension.account_id.as_deref(), Some(ACCOUNT_ID));
    assert_eq!(
        (
            extension.function_name.as_str(),
            extension.function_version.as_str(),
            extension.handler.as_str()
        ),
        (FUNCTION_NAME, "$LATEST", "bootstrap")
    );

    // Subscribed during Init, as asked.
    let subscription = harness.the_subscription(TELEMETRY, &extension.extension_id);
    assert_eq!(subscription["types"], json!(["platform", "function"]));
    assert_eq!(
        subscription["buffering"],
        json!({"maxItems": 1000, "maxBytes": 262144, "timeoutMs": 100})
    );
    assert_eq!(subscription["destination"]["protocol"], "HTTP");
    let uri = subscription["destination"]["URI"].as_str().unwrap();
    assert!(uri.starts_with("http://sandbox.localdomain:"), "{uri}");
    assert_ne!(harness.subscriptions()[0].port, 0);

    // A batch, converted: a record lambda_extension has no variant for is left out.
    let status = harness
        .push_batch(json!([
            record("function", json!("hello")),
            record("function", json!({"message": "structured"})),
            record(
                "platform.start",
                json!({"requestId": "r-1", "version": "$LATEST",
                    "tracing": {"type": "X-Amzn-Trace-Id", "value": "Root=1-abc"}})
            ),
            record("platform.restoreStart", json!({"runtimeVersion": "x"})),
            record(
                "platform.report",
                json!({"requestId": "r-1", "status": "success", "metrics": {"durationMs": 2.5,
                    "billedDurationMs": 3, "memorySizeMB": 128, "maxMemoryUsedMB": 20}})
            ),
        ]))
        .await;
    assert_eq!(status, 200);
    let batch = next(&mut received).await;
    let records: Vec<_> = batch.into_iter().map(|event| event.record).collect();
    assert_eq!(records.len(), 4, "{records:?}");
    assert_eq!(records[0], LambdaTelemetryRecord::Function("hello".into()));
    assert_eq!(
        records[1],
        LambdaTelemetryRecord::Function(r#"{"message":"structured"}"#.into())
    );
    let LambdaTelemetryRecord::PlatformStart {
        request_id,
        version,
        tracing,
    } = &records[2]
    else {
        panic!("{records:?}")
    };
    assert_eq!(
        (request_id.as_str(), version.as_deref()),
        ("r-1", Some("$LATEST"))
    );
    assert_eq!(
        tracing.as_ref().map(|t| (&t.r#type, t.value.as_str())),
        Some((&TracingType::AmznTraceId, "Root=1-abc"))
    );
    let LambdaTelemetryRecord::PlatformReport {
        status, metrics, ..
    } = &records[3]
    else {
        panic!("{records:?}")
    };
    assert_eq!(
        (status, metrics.billed_duration_ms, metrics.memory_size_mb),
        (&Status::Success, 3, 128)
    );

    // Run until SHUTDOWN, which ends it.
    let running = tokio::spawn(extension.run());
    harness.shutdown("spindown");
    let outcome = tokio::time::timeout(Duration::from_secs(10), running)
        .await
        .expect("run ends after SHUTDOWN")
        .unwrap();
    assert!(outcome.is_ok(), "{outcome:?}");
}

async fn logs_processor_falls_back_from_a_taken_default_port() {
    let harness = start_harness().await;
    // Hold the default port (if nothing else does already): the listener takes another.
    let _taken =
        std::net::TcpListener::bind(("0.0.0.0", lambda_extension::DEFAULT_LOG_PORT_NUMBER));
    let (batches, mut received) = unbounded_channel::<Vec<LambdaLog>>();
    let extension = Extension::new()
        .with_extension_name("logs-conformance")
        .with_logs_processor(forwarding(batches))
        .register()
        .await
        .unwrap();
    let subscription = harness.the_subscription(LOGS, &extension.extension_id);
    assert_eq!(subscription["types"], json!(["platform", "function"]));
    assert_eq!(
        subscription["buffering"],
        json!({"maxItems": 10000, "maxBytes": 262144, "timeoutMs": 1000})
    );
    let port = harness.subscriptions()[0].port;
    assert_ne!(port, lambda_extension::DEFAULT_LOG_PORT_NUMBER);
    assert_ne!(port, 0);
    let status = harness
        .push_batch(json!([
            record("platform.start", json!({"requestId": "r-2"})),
            record("platform.end", json!({"requestId": "r-2"})),
            record("function", json!("line\n")),
        ]))
        .await;
    assert_eq!(status, 200);
    let records: Vec<LambdaLogRecord> = next(&mut received)
        .await
        .into_iter()
        .map(|log| log.record)
        .collect();
    assert_eq!(
        records,
        [
            LambdaLogRecord::PlatformStart {
                request_id: "r-2".into()
            },
            LambdaLogRecord::PlatformEnd {
                request_id: "r-2".into()
            },
            LambdaLogRecord::Function("line\n".into()),
        ]
    );
}

async fn the_events_processor_gets_every_event_and_its_failure_is_reported() {
    let harness = start_harness().await;
    let (events, mut received) = unbounded_channel::<LambdaEvent>();
    let processor = service_fn(move |event: LambdaEvent| {
        let events = events.clone();
        async move {
            if let NextEvent::Invoke(invoke) = &event.next {
                if invoke.request_id == "fail" {
                    return Err(Error::from("the processor refuses r-fail"));
                }
            }
            events
                .send(event)
                .map_err(|_| Error::from("the test is gone"))
        }
    });
    let extension = Extension::new()
        .with_extension_name("events-conformance")
        .with_events(&["INVOKE"])
        .with_events_processor(processor)
        .register()
        .await
        .unwrap();
    assert_eq!(harness.registered()[0].events, ["INVOKE"]);
    let id = extension.extension_id.clone();
    assert!(!id.is_empty());
    let running = tokio::spawn(extension.run());

    harness.invoke("r-1");
    let event = next(&mut received).await;
    let NextEvent::Invoke(invoke) = event.next else {
        panic!("{:?}", event.next)
    };
    assert_eq!(invoke.request_id, "r-1");
    assert_eq!(
        invoke.invoked_function_arn,
        format!("arn:aws:lambda:us-east-1:{ACCOUNT_ID}:function:{FUNCTION_NAME}")
    );
    assert_eq!(invoke.deadline_ms, 4_102_444_800_000);
    assert_eq!(invoke.tracing.r#type, "X-Amzn-Trace-Id");

    // The failure is reported, then returned as it is.
    harness.invoke("fail");
    let outcome = tokio::time::timeout(Duration::from_secs(10), running)
        .await
        .expect("run ends when the processor fails")
        .unwrap();
    let error = outcome.unwrap_err();
    assert_eq!(error.to_string(), "the processor refuses r-fail");
    let reports = harness.requests_to(EXIT_ERROR);
    assert_eq!(reports.len(), 1);
    assert_eq!(
        reports[0].header("lambda-extension-identifier"),
        Some(id.as_str())
    );
    assert_eq!(
        reports[0].header("lambda-extension-function-error-type"),
        Some("Extension.HandlerError")
    );
    assert_eq!(
        reports[0].json()["errorMessage"],
        Value::from("the processor refuses r-fail")
    );
}

async fn a_shutdown_processed_ends_run() {
    // `lambda_extension::run`: registered under the executable's name, for both events.
    let harness = start_harness().await;
    let (events, mut received) = unbounded_channel::<String>();
    let running = tokio::spawn(lambda_extension::run(service_fn(
        move |event: LambdaEvent| {
            let events = events.clone();
            async move {
                if let NextEvent::Shutdown(shutdown) = event.next {
                    events.send(shutdown.shutdown_reason).ok();
                }
                Ok::<(), Error>(())
            }
        },
    )));
    harness
        .wait_until("the extension waits for an event", |h| h.waiting() == 1)
        .await;
    let registered = harness.registered();
    assert_eq!(
        Some(registered[0].name.clone()),
        firebox_extensions::executable_name()
    );
    assert_eq!(registered[0].events, ["INVOKE", "SHUTDOWN"]);
    harness.shutdown("timeout");
    assert_eq!(next(&mut received).await, "timeout");
    let outcome = tokio::time::timeout(Duration::from_secs(10), running)
        .await
        .expect("run ends after SHUTDOWN")
        .unwrap();
    assert!(outcome.is_ok(), "{outcome:?}");
    assert!(harness.requests_to(EXIT_ERROR).is_empty());

    // A processor failing on SHUTDOWN: reported, and returned.
    let harness = start_harness().await;
    let running = tokio::spawn(
        Extension::new()
            .with_extension_name("shutdown-conformance")
            .with_events(&["SHUTDOWN"])
            .with_events_processor(service_fn(|_: LambdaEvent| async {
                Err::<(), Error>("cannot clean up".into())
            }))
            .run(),
    );
    harness
        .wait_until("the extension waits for an event", |h| h.waiting() == 1)
        .await;
    harness.shutdown("spindown");
    let outcome = tokio::time::timeout(Duration::from_secs(10), running)
        .await
        .expect("run ends")
        .unwrap();
    assert_eq!(outcome.unwrap_err().to_string(), "cannot clean up");
    assert_eq!(harness.requests_to(EXIT_ERROR).len(), 1);
}

async fn settings_lambda_would_refuse_fail_before_anything_is_sent() {
    let harness = start_harness().await;
    let processor = || {
        SharedService::new(service_fn(|_: Vec<LambdaLog>| async {
            Ok::<(), Error>(())
        }))
    };
    let telemetry = || {
        SharedService::new(service_fn(|_: Vec<LambdaTelemetry>| async {
            Ok::<(), Error>(())
        }))
    };

    let error = Extension::new()
        .with_events(&["INVOKE", "RESTORE"])
        .register()
        .await
        .unwrap_err();
    assert!(error.downcast_ref::<ExtensionError>().is_some(), "{error}");
    assert!(error.to_string().contains("RESTORE"), "{error}");

    let error = Extension::new()
        .with_log_types(&["platform", "metrics"])
        .with_logs_processor(processor())
        .register()
        .await
        .unwrap_err();
    assert!(error.to_string().contains("metrics"), "{error}");

    let error = Extension::new()
        .with_telemetry_buffering(LogBuffering {
            timeout_ms: 5,
            ..LogBuffering::default()
        })
        .with_telemetry_processor(telemetry())
        .register()
        .await
        .unwrap_err();
    assert!(
        matches!(
            error.downcast_ref::<firebox_extensions::Error>(),
            Some(firebox_extensions::Error::InvalidBuffering { .. })
        ),
        "{error}"
    );

    let error = Extension::new()
        .with_logs_processor(processor())
        .with_telemetry_processor(telemetry())
        .register()
        .await
        .unwrap_err();
    assert!(
        matches!(
            error.downcast_ref::<firebox_extensions::Error>(),
            Some(firebox_extensions::Error::TelemetryAndLogs)
        ),
        "{error}"
    );
    assert!(harness.requests().is_empty(), "{:?}", harness.requests());
}
