//! The builder's checks before anything is sent, its defaults, and what it can be sent across.

use super::*;

fn unreachable() -> Endpoint {
    // Port 1 on loopback: nothing is sent in these tests, the checks come first.
    Endpoint::parse("127.0.0.1:1").unwrap()
}

#[tokio::test]
async fn internal_extensions_cannot_subscribe_to_shutdown() {
    let error = Extension::internal()
        .name("inner")
        .events(&[EventType::Invoke, EventType::Shutdown])
        .endpoint(unreachable())
        .register()
        .await
        .unwrap_err();
    assert!(matches!(error, Error::ShutdownForInternal), "{error}");
    assert!(error.to_string().contains("Extension.InvalidEventType"));
}

#[tokio::test]
async fn internal_extensions_need_a_name() {
    let error = Extension::internal()
        .endpoint(unreachable())
        .register()
        .await
        .unwrap_err();
    assert!(matches!(error, Error::InvalidName { .. }), "{error}");
}

#[test]
fn defaults() {
    let external = Extension::new();
    assert_eq!(external.kind, ExtensionKind::External);
    assert_eq!(external.events, [EventType::Invoke, EventType::Shutdown]);
    let internal = Extension::internal();
    assert_eq!(internal.kind, ExtensionKind::Internal);
    assert_eq!(internal.events, [EventType::Invoke]);
    assert!(internal.telemetry.is_none() && internal.logs.is_none());
    assert_eq!(internal.telemetry_address.to_string(), "0.0.0.0:0");
    assert_eq!(internal.telemetry_protocol, Protocol::Http);
    assert_eq!(
        Extension::new()
            .telemetry_protocol(Protocol::Tcp)
            .telemetry_protocol,
        Protocol::Tcp
    );
    assert_eq!(
        Extension::new()
            .telemetry_port(4243)
            .telemetry_address
            .to_string(),
        "0.0.0.0:4243"
    );
}

#[tokio::test]
async fn a_busy_telemetry_port_fails_before_registering() {
    let taken = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let error = Extension::new()
        .name("x")
        .endpoint(unreachable())
        .telemetry(
            &[TelemetryType::Platform],
            Buffering::default(),
            tower::service_fn(|_: Vec<TelemetryEvent>| async { Ok::<(), BoxError>(()) }),
        )
        .telemetry_port(port)
        .register()
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Bind { .. }), "{error}");
}

/// Compile-time check: an extension with telemetry is still `Clone`, `Send` and `Sync`,
/// and registers in a spawned task.
#[allow(dead_code)]
fn telemetry_keeps_the_builder_shareable(extension: Extension) {
    fn shareable<T: Clone + Send + Sync>(_: T) {}
    fn send<T: Send>(_: T) {}
    send(extension.clone().register());
    shareable(extension);
}

/// Compile-time check: a registered extension can run in a spawned task.
#[allow(dead_code)]
fn run_is_send(extension: RegisteredExtension) {
    fn send<T: Send>(_: T) {}
    send(extension.run(tower::service_fn(|_: Event| async {
        Ok::<(), BoxError>(())
    })));
}

#[tokio::test]
async fn telemetry_and_logs_together_are_refused_before_anything_is_sent() {
    // A listener that records whether anything connected: the checks come first.
    let api = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    api.set_nonblocking(true).unwrap();
    let endpoint = Endpoint::parse(&api.local_addr().unwrap().to_string()).unwrap();
    let registering = Extension::new()
        .name("both")
        .endpoint(endpoint)
        .telemetry(
            &[TelemetryType::Platform],
            Buffering::default(),
            tower::service_fn(|_: Vec<TelemetryEvent>| async { Ok::<(), BoxError>(()) }),
        )
        .logs(
            &[TelemetryType::Platform],
            Buffering::default(),
            tower::service_fn(|_: Vec<LogsEvent>| async { Ok::<(), BoxError>(()) }),
        )
        .register();
    // Nothing answers at `endpoint`: without the check, registering would wait for ever.
    let error = tokio::time::timeout(std::time::Duration::from_secs(5), registering)
        .await
        .expect("refused at once, before anything is sent")
        .unwrap_err();
    assert!(matches!(error, Error::TelemetryAndLogs), "{error}");
    assert!(
        api.accept().is_err(),
        "nothing may reach the Extensions API"
    );
}

#[tokio::test]
async fn a_busy_logs_port_fails_before_registering() {
    let taken = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let error = Extension::new()
        .name("x")
        .endpoint(unreachable())
        .logs(
            &[TelemetryType::Platform],
            Buffering::default(),
            tower::service_fn(|_: Vec<LogsEvent>| async { Ok::<(), BoxError>(()) }),
        )
        .telemetry_protocol(Protocol::Tcp)
        .telemetry_port(port)
        .register()
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Bind { .. }), "{error}");
}
