//! Telemetry API conformance tests: the subscription call and the listener, against the in-test
//! harness server of `harness/` (NOT the emulator), which checks subscriptions as Lambda does
//! and pushes batches to the subscriber.

mod harness;

use std::time::Duration;

use firebox_extensions::{
    service_fn, BoxError, Buffering, Error, Event, EventType, Extension, ExtensionClient,
    RegisteredExtension, TelemetryEvent, TelemetryListener, TelemetryRecord, TelemetryStatus,
    TelemetryType,
};
use harness::{telemetry_record as record, Harness};
use http::Method;
use serde_json::json;
use tokio::sync::mpsc;

const REGISTER: &str = "/2020-01-01/extension/register";
const TELEMETRY: &str = "/2022-07-01/telemetry";
const NEXT: &str = "/2020-01-01/extension/event/next";

/// A handler that sends every batch to the test.
fn forwarder(
    to: mpsc::UnboundedSender<Vec<TelemetryEvent>>,
) -> impl tower::Service<
    Vec<TelemetryEvent>,
    Response = (),
    Error = BoxError,
    Future = std::future::Ready<Result<(), BoxError>>,
> + Clone {
    service_fn(move |batch| std::future::ready(to.send(batch).map_err(BoxError::from)))
}

/// The next batch the handler got (within 10 s).
async fn next_batch(
    from: &mut mpsc::UnboundedReceiver<Vec<TelemetryEvent>>,
) -> Vec<TelemetryEvent> {
    tokio::time::timeout(Duration::from_secs(10), from.recv())
        .await
        .expect("a batch within 10 s")
        .expect("the handler is alive")
}

/// An external extension `name`, registered against `harness` with telemetry of `types`.
async fn registered(
    harness: &Harness,
    name: &str,
    types: &[TelemetryType],
) -> (
    RegisteredExtension,
    mpsc::UnboundedReceiver<Vec<TelemetryEvent>>,
) {
    let (to, from) = mpsc::unbounded_channel();
    let extension = Extension::new()
        .name(name)
        .endpoint(harness.endpoint.clone())
        .telemetry(
            types,
            Buffering::new(1_000, 262_144, 25).unwrap(),
            forwarder(to),
        )
        .register()
        .await
        .unwrap();
    (extension, from)
}

#[tokio::test]
async fn subscribe_telemetry_speaks_the_wire_format() {
    let harness = Harness::start_with_prefix("/api").await;
    let mut client = ExtensionClient::new(harness.endpoint.clone()).unwrap();
    let id = client
        .register("ext", &[EventType::Invoke], false)
        .await
        .unwrap()
        .extension_id;
    let buffering = Buffering::default().with_timeout_ms(100).unwrap();
    client
        .subscribe_telemetry(
            &[TelemetryType::Platform, TelemetryType::Extension],
            buffering,
            "http://sandbox.localdomain:4243/telemetry",
        )
        .await
        .unwrap();
    assert_eq!(
        harness.the_subscription(TELEMETRY, &id),
        json!({
            "schemaVersion": "2022-12-13",
            "types": ["platform", "extension"],
            "buffering": {"maxItems": 10000, "maxBytes": 262144, "timeoutMs": 100},
            "destination": {"protocol": "HTTP", "URI": "http://sandbox.localdomain:4243/telemetry"}
        })
    );
    let subscription = &harness.subscriptions()[0];
    assert_eq!(subscription.extension_id, id);
    assert_eq!(
        (
            subscription.host.as_str(),
            subscription.port,
            subscription.path.as_str()
        ),
        ("127.0.0.1", 4243, "/telemetry")
    );
}

#[tokio::test]
async fn refused_subscriptions() {
    let harness = Harness::start().await;
    // Through the client: an unknown identifier is a 403 error document.
    let mut stranger =
        ExtensionClient::with_extension_id(harness.endpoint.clone(), "nobody").unwrap();
    let error = stranger
        .subscribe_telemetry(
            &[TelemetryType::Platform],
            Buffering::default(),
            "http://sandbox.localdomain:1/t",
        )
        .await
        .unwrap_err();
    let api = error.api_error().expect("an API error");
    assert_eq!((api.status.as_u16(), api.path.as_str()), (403, TELEMETRY));
    assert_eq!(
        api.error_type.as_deref(),
        Some("Extension.UnknownExtensionIdentifier")
    );
    // A bad destination is refused before anything is sent.
    let error = stranger
        .subscribe_telemetry(&[], Buffering::default(), "https://example.com/")
        .await
        .unwrap_err();
    assert!(matches!(error, Error::InvalidDestination { .. }), "{error}");
    assert_eq!(harness.requests_to(TELEMETRY).len(), 1);

    // What the harness (like Lambda) refuses, sent raw.
    let mut client = ExtensionClient::new(harness.endpoint.clone()).unwrap();
    let id = client
        .register("ext", &[], false)
        .await
        .unwrap()
        .extension_id;
    let good = json!({"schemaVersion": "2022-12-13", "types": ["platform"],
        "destination": {"protocol": "HTTP", "URI": "http://sandbox.localdomain:9/t"}});
    assert_eq!(
        harness.put_telemetry(Some(&id), good.clone()).await,
        (200, json!("OK"))
    );
    let (status, doc) = harness.put_telemetry(None, good.clone()).await;
    assert_eq!(
        (status, doc["errorType"].as_str()),
        (403, Some("Extension.MissingExtensionIdentifier"))
    );
    for (field, value) in [
        ("schemaVersion", json!("1999-01-01")),
        ("types", json!(["metrics"])),
        ("buffering", json!({"maxItems": 999})),
        ("buffering", json!({"maxBytes": 2_000_000})),
        ("buffering", json!({"timeoutMs": 24})),
        (
            "destination",
            json!({"protocol": "TCP", "URI": "http://x:1"}),
        ),
        (
            "destination",
            json!({"protocol": "HTTP", "URI": "https://x:1"}),
        ),
    ] {
        let mut bad = good.clone();
        bad[field] = value.clone();
        let (status, doc) = harness.put_telemetry(Some(&id), bad).await;
        assert_eq!(
            (status, doc["errorType"].as_str()),
            (400, Some("ValidationError")),
            "{field}: {value}"
        );
    }
    assert_eq!(harness.subscriptions().len(), 1);
}

#[tokio::test]
async fn register_listens_then_subscribes_before_the_first_next() {
    let harness = Harness::start().await;
    let (extension, mut batches) =
        registered(&harness, "reporter", &[TelemetryType::Platform]).await;
    let listener = extension.telemetry_listener().expect("a listener");
    let subscription = &harness.subscriptions()[0];
    assert_eq!(subscription.port, listener.port());
    assert_eq!(subscription.uri, listener.destination_uri());
    assert_eq!(subscription.types, ["platform"]);
    assert_eq!(
        (
            subscription.max_items,
            subscription.max_bytes,
            subscription.timeout_ms
        ),
        (1_000, 262_144, 25)
    );
    let paths: Vec<String> = harness.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, [REGISTER, TELEMETRY]);

    // Batches come while the extension runs, before and between its events.
    let running =
        tokio::spawn(extension.run(service_fn(|_: Event| async { Ok::<(), BoxError>(()) })));
    let status = harness
        .push_batch(json!([
            record("platform.initStart", json!({"initializationType": "on-demand", "phase": "init"})),
            record("platform.report", json!({"requestId": "r-1", "status": "success",
                "metrics": {"durationMs": 1.5, "billedDurationMs": 2, "memorySizeMB": 128, "maxMemoryUsedMB": 20}})),
            record("function", json!("a line")),
            record("platform.logsDropped", json!({"droppedRecords": 1})),
        ]))
        .await;
    assert_eq!(status, 200);
    let batch = next_batch(&mut batches).await;
    let kinds: Vec<&str> = batch.iter().map(TelemetryEvent::kind).collect();
    assert_eq!(
        kinds,
        [
            "platform.initStart",
            "platform.report",
            "function",
            "platform.logsDropped"
        ]
    );
    assert_eq!(batch[0].time, harness::TELEMETRY_TIME);
    let TelemetryRecord::PlatformReport(report) = &batch[1].record else {
        panic!("{batch:?}")
    };
    assert_eq!(report.status, Some(TelemetryStatus::Success));
    assert_eq!(report.metrics.billed_duration_ms, 2);
    let TelemetryRecord::PlatformLogsDropped(dropped) = &batch[3].record else {
        panic!("{batch:?}")
    };
    assert_eq!((dropped.dropped_records, dropped.dropped_bytes), (1, 0));

    harness.shutdown("spindown");
    running.await.unwrap().unwrap();
    assert_eq!(harness.requests_to(NEXT).len(), 1);
}

#[tokio::test]
async fn bad_batches_are_refused_and_the_listener_goes_on() {
    let harness = Harness::start().await;
    let (extension, mut batches) = registered(&harness, "ext", &[TelemetryType::Function]).await;
    for bad in [
        "not json",
        r#"{"type": "function"}"#,
        r#"[{"record": 1}]"#,
        "[1]",
    ] {
        let status = harness.push(Method::POST, bad).await.unwrap();
        assert_eq!(status, 400, "{bad}");
    }
    assert_eq!(harness.push(Method::GET, "").await.unwrap(), 405);
    // An empty batch is fine, and not handed over.
    assert_eq!(harness.push_batch(json!([])).await, 200);
    for n in 0..3 {
        let status = harness
            .push_batch(json!([record("function", json!(format!("line {n}")))]))
            .await;
        assert_eq!(status, 200);
    }
    for n in 0..3 {
        let batch = next_batch(&mut batches).await;
        assert_eq!(batch.len(), 1);
        assert_eq!(
            batch[0].record.log_line(),
            Some(format!("line {n}").as_str())
        );
    }
    assert!(batches.try_recv().is_err(), "nothing else was handed over");
    drop(extension);
}

#[tokio::test]
async fn a_failing_telemetry_handler_is_logged_not_fatal() {
    let harness = Harness::start().await;
    let (to, mut batches) = mpsc::unbounded_channel();
    let extension = Extension::new()
        .name("flaky")
        .endpoint(harness.endpoint.clone())
        .telemetry(
            &[TelemetryType::Platform],
            Buffering::default(),
            service_fn(move |batch: Vec<TelemetryEvent>| {
                let failed = batch[0].kind() == "platform.fail";
                let _ = to.send(batch);
                std::future::ready(if failed {
                    Err::<(), BoxError>("the collector is unreachable".into())
                } else {
                    Ok(())
                })
            }),
        )
        .register()
        .await
        .unwrap();
    assert_eq!(
        harness
            .push_batch(json!([record("platform.fail", json!({}))]))
            .await,
        200
    );
    assert_eq!(
        harness
            .push_batch(json!([record("platform.next", json!({}))]))
            .await,
        200
    );
    assert_eq!(next_batch(&mut batches).await[0].kind(), "platform.fail");
    assert_eq!(next_batch(&mut batches).await[0].kind(), "platform.next");
    assert!(harness
        .requests_to("/2020-01-01/extension/exit/error")
        .is_empty());
    drop(extension);
}

#[tokio::test]
async fn a_batch_is_answered_once_the_handler_is_done_with_it() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let harness = Harness::start().await;
    let handled = Arc::new(AtomicBool::new(false));
    let seen = handled.clone();
    let extension = Extension::new()
        .name("slow")
        .endpoint(harness.endpoint.clone())
        .telemetry(
            &[TelemetryType::Platform],
            Buffering::default(),
            service_fn(move |_batch: Vec<TelemetryEvent>| {
                let seen = seen.clone();
                async move {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    seen.store(true, Ordering::SeqCst);
                    Ok::<(), BoxError>(())
                }
            }),
        )
        .register()
        .await
        .unwrap();
    // The platform's delivery ends when the handler is done: a batch delivered at shutdown
    // has been handled before the process is stopped.
    let status = harness
        .push_batch(json!([record("platform.start", json!({"requestId": "r"}))]))
        .await;
    assert_eq!(status, 200);
    assert!(
        handled.load(Ordering::SeqCst),
        "answered before the handler was done"
    );
    drop(extension);
}

#[tokio::test]
async fn the_listener_stops_with_the_extension() {
    let harness = Harness::start().await;
    let (extension, _batches) = registered(&harness, "ext", &[TelemetryType::Platform]).await;
    let running =
        tokio::spawn(extension.run(service_fn(|_: Event| async { Ok::<(), BoxError>(()) })));
    assert_eq!(harness.push_batch(json!([])).await, 200);
    harness.shutdown("spindown");
    running.await.unwrap().unwrap();
    for _ in 0..500 {
        if harness.push(Method::POST, "[]").await.is_err() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the telemetry listener still answers after the extension ended");
}

#[tokio::test]
async fn a_listener_of_its_own_with_the_low_level_client() {
    let harness = Harness::start().await;
    let (to, mut batches) = mpsc::unbounded_channel();
    let listener = TelemetryListener::bind("127.0.0.1:0".parse().unwrap(), forwarder(to))
        .await
        .unwrap();
    assert!(listener.local_addr().ip().is_loopback());
    let mut client = ExtensionClient::new(harness.endpoint.clone()).unwrap();
    client.register("low", &[], false).await.unwrap();
    client
        .subscribe_telemetry(
            &[TelemetryType::Platform],
            Buffering::default(),
            &format!("http://127.0.0.1:{}/t", listener.port()),
        )
        .await
        .unwrap();
    let status = harness
        .push_batch(json!([record(
            "platform.start",
            json!({"requestId": "r-9"})
        )]))
        .await;
    assert_eq!(status, 200);
    let batch = next_batch(&mut batches).await;
    assert!(matches!(&batch[0].record, TelemetryRecord::PlatformStart(s) if s.request_id == "r-9"));
}
