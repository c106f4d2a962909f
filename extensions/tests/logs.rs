//! Logs API conformance tests (`PUT /2020-08-15/logs`): the subscription call and the
//! listener, over HTTP and TCP, against the in-test harness of `harness/` (NOT the emulator).

mod harness;

use std::time::Duration;

use firebox_extensions::{
    service_fn, BoxError, Buffering, Error, EventType, Extension, ExtensionClient, LogsEvent,
    LogsRecord, Protocol, RegisteredExtension, TelemetryEvent, TelemetryStatus, TelemetryType,
};
use harness::{telemetry_record as record, Api, Harness};
use http::Method;
use serde_json::{json, Value};
use tokio::{io::AsyncWriteExt, sync::mpsc};

const REGISTER: &str = "/2020-01-01/extension/register";
const LOGS: &str = "/2020-08-15/logs";

type Batches = mpsc::UnboundedReceiver<Vec<LogsEvent>>;

/// An external extension registered against `harness`, subscribed to the Logs API's
/// `platform` and `function` records over `protocol`; its handler sends every batch to the
/// test.
async fn registered(harness: &Harness, protocol: Protocol) -> (RegisteredExtension, Batches) {
    let (to, from) = mpsc::unbounded_channel();
    let extension = Extension::new()
        .name("log-ext")
        .endpoint(harness.endpoint.clone())
        .logs(
            &[TelemetryType::Platform, TelemetryType::Function],
            Buffering::new(1_000, 262_144, 25).unwrap(),
            service_fn(move |batch| std::future::ready(to.send(batch).map_err(BoxError::from))),
        )
        .telemetry_protocol(protocol)
        .register()
        .await
        .unwrap();
    (extension, from)
}

/// The next batch the handler got (within 10 s).
async fn next_batch(from: &mut Batches) -> Vec<LogsEvent> {
    tokio::time::timeout(Duration::from_secs(10), from.recv())
        .await
        .expect("a batch within 10 s")
        .expect("the handler is alive")
}

/// A Logs API batch of one invocation, in the record shapes AWS documents (no `status` in
/// `platform.report`, `platform.fault` as text), and one record of a type yet unknown.
fn invocation() -> Vec<Value> {
    vec![
        record(
            "platform.start",
            json!({"requestId": "r-7", "version": "$LATEST"}),
        ),
        record("function", json!("hello from r-7")),
        record(
            "platform.fault",
            json!("RequestId: r-7 Process exited before completing request"),
        ),
        record(
            "platform.runtimeDone",
            json!({"requestId": "r-7", "status": "failure"}),
        ),
        record("platform.end", json!({"requestId": "r-7"})),
        record(
            "platform.report",
            json!({"requestId": "r-7", "metrics": {"durationMs": 10.5, "billedDurationMs": 11,
                "memorySizeMB": 128, "maxMemoryUsedMB": 33}}),
        ),
        record("platform.somethingNew", json!({"x": 1})),
    ]
}

/// Asserts that `batch` is [`invocation`], typed.
fn assert_invocation(batch: &[LogsEvent]) {
    let kinds: Vec<&str> = batch.iter().map(LogsEvent::kind).collect();
    assert_eq!(
        kinds,
        [
            "platform.start",
            "function",
            "platform.fault",
            "platform.runtimeDone",
            "platform.end",
            "platform.report",
            "platform.somethingNew"
        ]
    );
    assert!(matches!(&batch[0].record, LogsRecord::PlatformStart(s) if s.request_id == "r-7"));
    assert_eq!(batch[1].record.log_line(), Some("hello from r-7"));
    assert!(
        matches!(&batch[2].record, LogsRecord::PlatformFault(text) if text.starts_with("RequestId: r-7"))
    );
    assert!(
        matches!(&batch[3].record, LogsRecord::PlatformRuntimeDone(d) if d.status == TelemetryStatus::Failure)
    );
    assert!(matches!(&batch[4].record, LogsRecord::PlatformEnd(e) if e.request_id == "r-7"));
    let LogsRecord::PlatformReport(report) = &batch[5].record else {
        panic!("{batch:?}")
    };
    assert_eq!(
        (
            report.request_id.as_str(),
            report.status.as_ref(),
            report.metrics.billed_duration_ms
        ),
        ("r-7", None, 11)
    );
    assert!(
        matches!(&batch[6].record, LogsRecord::Other { kind, .. } if kind == "platform.somethingNew")
    );
    assert_eq!(batch[0].time, harness::TELEMETRY_TIME);
}

#[tokio::test]
async fn subscribe_logs_speaks_the_wire_format() {
    let harness = Harness::start_with_prefix("/api").await;
    let mut client = ExtensionClient::new(harness.endpoint.clone()).unwrap();
    let id = client
        .register("ext", &[EventType::Invoke], false)
        .await
        .unwrap()
        .extension_id;
    let buffering = Buffering::default().with_max_items(1_000).unwrap();
    client
        .subscribe_logs(
            &[TelemetryType::Function, TelemetryType::Platform],
            buffering,
            "http://sandbox.localdomain:4243/logs",
        )
        .await
        .unwrap();
    assert_eq!(
        harness.the_subscription(LOGS, &id),
        json!({
            "schemaVersion": "2021-03-18",
            "types": ["function", "platform"],
            "buffering": {"maxItems": 1000, "maxBytes": 262144, "timeoutMs": 1000},
            "destination": {"protocol": "HTTP", "URI": "http://sandbox.localdomain:4243/logs"}
        })
    );
    let subscription = &harness.subscriptions()[0];
    assert_eq!(subscription.api, Api::Logs);
    assert_eq!(
        (subscription.extension_id.as_str(), subscription.port),
        (id.as_str(), 4243)
    );

    // TCP, the protocol following the scheme.
    client
        .subscribe_logs(
            &[TelemetryType::Extension],
            Buffering::default(),
            "tcp://sandbox.localdomain:4244",
        )
        .await
        .unwrap();
    assert_eq!(
        harness.requests_to(LOGS)[1].json()["destination"],
        json!({"protocol": "TCP", "URI": "tcp://sandbox.localdomain:4244"})
    );
    assert_eq!(harness.subscriptions()[1].protocol, "TCP");
}

#[tokio::test]
async fn refused_logs_subscriptions() {
    let harness = Harness::start().await;
    let mut stranger =
        ExtensionClient::with_extension_id(harness.endpoint.clone(), "nobody").unwrap();
    let error = stranger
        .subscribe_logs(
            &[TelemetryType::Platform],
            Buffering::default(),
            "tcp://sandbox.localdomain:9",
        )
        .await
        .unwrap_err();
    let api = error.api_error().expect("an API error");
    assert_eq!((api.status.as_u16(), api.path.as_str()), (403, LOGS));
    assert_eq!(
        api.error_type.as_deref(),
        Some("Extension.UnknownExtensionIdentifier")
    );
    // Bad destinations are refused before anything is sent.
    for bad in [
        "tcp://sandbox.localdomain",
        "tcp://sandbox.localdomain:9/logs",
    ] {
        let error = stranger
            .subscribe_logs(&[], Buffering::default(), bad)
            .await
            .unwrap_err();
        assert!(matches!(error, Error::InvalidDestination { .. }), "{error}");
    }
    assert_eq!(harness.requests_to(LOGS).len(), 1);

    // The harness, like Lambda, checks the Logs API's own schema versions.
    let mut client = ExtensionClient::new(harness.endpoint.clone()).unwrap();
    let id = client
        .register("ext", &[], false)
        .await
        .unwrap()
        .extension_id;
    let good = json!({"schemaVersion": "2021-03-18", "types": ["platform"],
        "destination": {"protocol": "TCP", "URI": "tcp://sandbox.localdomain:9"}});
    assert_eq!(
        harness.put_logs(Some(&id), good.clone()).await,
        (200, json!("OK"))
    );
    let mut telemetry_schema = good.clone();
    telemetry_schema["schemaVersion"] = json!("2022-12-13");
    let (status, doc) = harness.put_logs(Some(&id), telemetry_schema).await;
    assert_eq!(
        (status, doc["errorType"].as_str()),
        (400, Some("ValidationError"))
    );
}

#[tokio::test]
async fn logs_over_http_reach_the_handler_typed() {
    let harness = Harness::start().await;
    let (extension, mut batches) = registered(&harness, Protocol::Http).await;
    let listener = extension.telemetry_listener().expect("a listener");
    assert_eq!(listener.protocol(), Protocol::Http);
    let subscription = &harness.subscriptions()[0];
    assert_eq!(subscription.api, Api::Logs);
    assert_eq!(subscription.types, ["platform", "function"]);
    assert_eq!(
        (
            subscription.protocol.as_str(),
            subscription.uri.clone(),
            subscription.path.as_str()
        ),
        (
            "HTTP",
            format!("http://sandbox.localdomain:{}/logs", listener.port()),
            "/logs"
        )
    );
    let paths: Vec<String> = harness.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, [REGISTER, LOGS]);

    assert_eq!(harness.push_batch(Value::Array(invocation())).await, 200);
    assert_invocation(&next_batch(&mut batches).await);
    // Lambda may deliver Logs API batches with PUT as well.
    let status = harness
        .push(
            Method::PUT,
            json!([record("platform.end", json!({"requestId": "r-8"}))]).to_string(),
        )
        .await
        .unwrap();
    assert_eq!(status, 200);
    let batch = next_batch(&mut batches).await;
    assert_eq!(batch[0].record.request_id(), Some("r-8"));
    assert_eq!(harness.push(Method::POST, "not json").await.unwrap(), 400);
    assert_eq!(harness.push(Method::GET, "").await.unwrap(), 405);
    assert!(batches.try_recv().is_err(), "nothing else was handed over");
}

#[tokio::test]
async fn logs_over_tcp_reach_the_handler_typed() {
    let harness = Harness::start().await;
    let (extension, mut batches) = registered(&harness, Protocol::Tcp).await;
    let listener = extension.telemetry_listener().expect("a listener");
    let subscription = &harness.subscriptions()[0];
    assert_eq!(
        (
            subscription.api,
            subscription.protocol.as_str(),
            subscription.uri.clone()
        ),
        (
            Api::Logs,
            "TCP",
            format!("tcp://sandbox.localdomain:{}", listener.port())
        )
    );
    let mut tcp = harness.connect_tcp().await.unwrap();
    let lines: String = invocation().iter().map(|r| format!("{r}\n")).collect();
    tcp.write_all(lines.as_bytes()).await.unwrap();
    assert_invocation(&next_batch(&mut batches).await);
    // A malformed line among them is skipped.
    tcp.write_all(b"oops\n").await.unwrap();
    let end = record("platform.end", json!({"requestId": "r-9"}));
    tcp.write_all(format!("{end}\n").as_bytes()).await.unwrap();
    let batch = next_batch(&mut batches).await;
    assert_eq!(batch.len(), 1);
    assert_eq!(batch[0].record.request_id(), Some("r-9"));
}

#[tokio::test]
async fn telemetry_and_logs_together_are_refused_before_anything_is_sent() {
    let harness = Harness::start().await;
    let error = Extension::new()
        .name("both")
        .endpoint(harness.endpoint.clone())
        .telemetry(
            &[TelemetryType::Platform],
            Buffering::default(),
            service_fn(|_: Vec<TelemetryEvent>| async { Ok::<(), BoxError>(()) }),
        )
        .logs(
            &[TelemetryType::Platform],
            Buffering::default(),
            service_fn(|_: Vec<LogsEvent>| async { Ok::<(), BoxError>(()) }),
        )
        .register()
        .await
        .unwrap_err();
    assert!(matches!(error, Error::TelemetryAndLogs), "{error}");
    assert!(
        error.to_string().contains("not both"),
        "the message says why: {error}"
    );
    assert!(harness.requests().is_empty(), "nothing was sent");
    assert!(harness.registered().is_empty());
}
