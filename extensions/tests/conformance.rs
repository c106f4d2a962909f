//! Protocol-conformance tests: the client against the in-test harness server of `harness/`
//! (NOT the emulator), which implements exactly the Extensions API wire protocol.

mod harness;

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use firebox_extensions::{
    service_fn, BoxError, Endpoint, Error, Event, EventType, Extension, ExtensionClient,
    ShutdownReason, HANDLER_ERROR_TYPE,
};
use harness::{Harness, ACCOUNT_ID, FUNCTION_NAME, MAX_EXTENSIONS};
use serde_json::json;

const REGISTER: &str = "/2020-01-01/extension/register";
const NEXT: &str = "/2020-01-01/extension/event/next";
const INIT_ERROR: &str = "/2020-01-01/extension/init/error";
const EXIT_ERROR: &str = "/2020-01-01/extension/exit/error";
const BOTH: &[EventType] = &[EventType::Invoke, EventType::Shutdown];

/// Events a handler saw, shared with the test.
type Seen = Arc<Mutex<Vec<Event>>>;

fn recorder(seen: &Seen) -> impl Fn(Event) -> std::future::Ready<Result<(), BoxError>> + Clone {
    let seen = seen.clone();
    move |event| {
        seen.lock().unwrap().push(event);
        std::future::ready(Ok(()))
    }
}

#[tokio::test]
async fn register_speaks_the_wire_format() {
    let harness = Harness::start().await;
    let mut client = ExtensionClient::new(harness.endpoint.clone()).unwrap();
    let registration = client.register("my-ext", BOTH, false).await.unwrap();

    assert_eq!(registration.function_name, FUNCTION_NAME);
    assert_eq!(registration.function_version, "$LATEST");
    assert_eq!(registration.handler, "bootstrap");
    assert_eq!(registration.account_id, None);
    assert_eq!(
        client.extension_id(),
        Some(registration.extension_id.as_str())
    );

    let sent = harness.requests_to(REGISTER);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].header("lambda-extension-name"), Some("my-ext"));
    assert_eq!(sent[0].header("lambda-extension-accept-feature"), None);
    assert_eq!(sent[0].header("content-type"), Some("application/json"));
    assert_eq!(sent[0].json(), json!({"events": ["INVOKE", "SHUTDOWN"]}));
    assert_eq!(harness.registered()[0].id, registration.extension_id);
}

#[tokio::test]
async fn account_id_is_answered_when_asked_for() {
    let harness = Harness::start().await;
    let mut client = ExtensionClient::new(harness.endpoint.clone()).unwrap();
    let registration = client.register("a", &[], true).await.unwrap();
    assert_eq!(registration.account_id.as_deref(), Some(ACCOUNT_ID));
    let sent = &harness.requests_to(REGISTER)[0];
    assert_eq!(
        sent.header("lambda-extension-accept-feature"),
        Some("accountId")
    );
    assert_eq!(sent.json(), json!({"events": []}));
}

#[tokio::test]
async fn a_path_prefix_is_kept() {
    let harness = Harness::start_with_prefix("/lambda-api").await;
    let mut client = ExtensionClient::new(harness.endpoint.clone()).unwrap();
    client
        .register("p", &[EventType::Invoke], false)
        .await
        .unwrap();
    harness.invoke("req-p");
    let next = client.next_event().await.unwrap();
    assert!(matches!(next.event, Event::Invoke(ref i) if i.request_id == "req-p"));
    assert_eq!(harness.requests()[0].path, format!("/lambda-api{REGISTER}"));
}

#[tokio::test]
async fn registration_errors_carry_the_error_document() {
    let harness = Harness::start().await;
    harness.mark_internal("inner");

    // An internal extension asking for SHUTDOWN, through the low-level client: the server says no.
    let mut client = ExtensionClient::new(harness.endpoint.clone()).unwrap();
    let error = client.register("inner", BOTH, false).await.unwrap_err();
    let api = error.api_error().expect("an API error");
    assert_eq!(api.status, 403);
    assert_eq!(
        api.error_type.as_deref(),
        Some("Extension.InvalidEventType")
    );
    assert_eq!(api.path, REGISTER);
    assert!(error
        .to_string()
        .contains("internal extensions cannot register for SHUTDOWN"));
    assert_eq!(client.extension_id(), None);

    // Through the builder, the request is not even sent.
    let before = harness.requests().len();
    let error = Extension::internal()
        .name("inner")
        .events(BOTH)
        .endpoint(harness.endpoint.clone())
        .register()
        .await
        .unwrap_err();
    assert!(matches!(error, Error::ShutdownForInternal));
    assert_eq!(harness.requests().len(), before);

    // The same name twice.
    client.register("twice", &[], false).await.unwrap();
    let mut other = ExtensionClient::new(harness.endpoint.clone()).unwrap();
    let error = other.register("twice", &[], false).await.unwrap_err();
    assert_eq!(
        error.api_error_type(),
        Some("Extension.InvalidExtensionName")
    );

    // Too many.
    for n in harness.registered().len()..MAX_EXTENSIONS {
        let mut c = ExtensionClient::new(harness.endpoint.clone()).unwrap();
        c.register(&format!("ext-{n}"), &[], false).await.unwrap();
    }
    let error = other
        .register("one-too-many", &[], false)
        .await
        .unwrap_err();
    assert_eq!(error.api_error_type(), Some("Extension.TooManyExtensions"));

    // Registration closed.
    harness.close_registration();
    let error = other.register("late", &[], false).await.unwrap_err();
    assert_eq!(error.api_error_type(), Some("Extension.RegistrationClosed"));
    assert_eq!(error.api_error().map(|a| a.status.as_u16()), Some(403));
}

#[tokio::test]
async fn next_event_delivers_invoke_and_shutdown() {
    let harness = Harness::start().await;
    let mut client = ExtensionClient::new(harness.endpoint.clone()).unwrap();
    let registration = client.register("ext", BOTH, false).await.unwrap();
    harness.invoke("req-1");
    harness.shutdown("timeout");

    let next = client.next_event().await.unwrap();
    assert_eq!(next.event_id.as_deref(), Some("event-1"));
    let Event::Invoke(invoke) = next.event else {
        panic!("{next:?}")
    };
    assert_eq!(invoke.request_id, "req-1");
    assert_eq!(invoke.deadline_ms, 4_102_444_800_000);
    assert!(invoke
        .invoked_function_arn
        .ends_with(":function:harness-function"));
    assert_eq!(invoke.tracing.unwrap().kind, "X-Amzn-Trace-Id");

    let next = client.next_event().await.unwrap();
    let Event::Shutdown(shutdown) = next.event else {
        panic!("{next:?}")
    };
    assert_eq!(shutdown.shutdown_reason, ShutdownReason::Timeout);

    let sent = harness.requests_to(NEXT);
    assert_eq!(sent.len(), 2);
    assert_eq!(
        sent[0].header("lambda-extension-identifier"),
        Some(registration.extension_id.as_str())
    );
}

#[tokio::test]
async fn unknown_identifiers_and_concurrent_next_are_refused() {
    let harness = Harness::start().await;
    let mut stranger =
        ExtensionClient::with_extension_id(harness.endpoint.clone(), "nobody").unwrap();
    let error = stranger.next_event().await.unwrap_err();
    assert_eq!(
        error.api_error_type(),
        Some("Extension.UnknownExtensionIdentifier")
    );
    let error = stranger.exit_error("Extension.Bad", "m").await.unwrap_err();
    assert_eq!(error.api_error().map(|a| a.status.as_u16()), Some(403));

    let mut client = ExtensionClient::new(harness.endpoint.clone()).unwrap();
    let id = client
        .register("ext", &[EventType::Invoke], false)
        .await
        .unwrap()
        .extension_id;
    let first = tokio::spawn(async move { client.next_event().await });
    harness
        .wait_until("the first next is waiting", |h| h.waiting() == 1)
        .await;

    let mut twin = ExtensionClient::with_extension_id(harness.endpoint.clone(), id).unwrap();
    let error = twin.next_event().await.unwrap_err();
    assert_eq!(
        error.api_error_type(),
        Some("Extension.InvalidExtensionState")
    );

    harness.invoke("req-1");
    let next = first.await.unwrap().unwrap();
    assert!(matches!(next.event, Event::Invoke(ref i) if i.request_id == "req-1"));
}

#[tokio::test]
async fn run_hands_every_event_to_the_handler_until_shutdown() {
    let harness = Harness::start().await;
    let seen = Seen::default();
    let extension = Extension::new()
        .name("counter")
        .events(BOTH)
        .endpoint(harness.endpoint.clone())
        .run(service_fn(recorder(&seen)));
    let running = tokio::spawn(extension);
    harness
        .wait_until("the extension registered", |h| h.registered().len() == 1)
        .await;
    harness.invoke("req-1");
    harness.invoke("req-2");
    harness.shutdown("spindown");

    running.await.unwrap().unwrap();
    let seen = seen.lock().unwrap();
    let kinds: Vec<String> = seen
        .iter()
        .map(|event| match event {
            Event::Invoke(invoke) => invoke.request_id.clone(),
            Event::Shutdown(shutdown) => shutdown.shutdown_reason.to_string(),
        })
        .collect();
    assert_eq!(kinds, ["req-1", "req-2", "spindown"]);
    assert_eq!(harness.requests_to(NEXT).len(), 3, "no next after SHUTDOWN");
}

#[tokio::test]
async fn the_extension_is_busy_until_its_handler_returns() {
    let harness = Harness::start().await;
    let (release, released) = tokio::sync::oneshot::channel::<()>();
    let released = Arc::new(tokio::sync::Mutex::new(Some(released)));
    let extension = Extension::new()
        .name("slow")
        .events(&[EventType::Invoke])
        .endpoint(harness.endpoint.clone())
        .register()
        .await
        .unwrap();
    let running = tokio::spawn(extension.run(service_fn(move |_event: Event| {
        let released = released.clone();
        async move {
            if let Some(released) = released.lock().await.take() {
                let _ = released.await;
            }
            Ok::<(), BoxError>(())
        }
    })));
    harness
        .wait_until("waiting for the first event", |h| h.waiting() == 1)
        .await;
    harness.invoke("req-1");
    harness
        .wait_until("the handler has the event", |h| h.waiting() == 0)
        .await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(
        harness.waiting(),
        0,
        "next is not called while the handler runs"
    );
    release.send(()).unwrap();
    harness
        .wait_until("next is called again", |h| h.waiting() == 1)
        .await;
    running.abort();
}

#[tokio::test]
async fn a_handler_error_on_invoke_is_posted_to_exit_error() {
    let harness = Harness::start().await;
    let outcome = tokio::spawn(
        Extension::new()
            .name("failing")
            .endpoint(harness.endpoint.clone())
            .run(service_fn(|_event: Event| async {
                Err::<(), BoxError>("the collector is unreachable".into())
            })),
    );
    harness
        .wait_until("the extension registered", |h| h.registered().len() == 1)
        .await;
    harness.invoke("req-1");
    let error = outcome.await.unwrap().unwrap_err();
    assert!(matches!(error, Error::Handler(_)), "{error}");
    assert!(error.to_string().contains("the collector is unreachable"));

    let posted = harness.requests_to(EXIT_ERROR);
    assert_eq!(posted.len(), 1);
    assert_eq!(
        posted[0].header("lambda-extension-function-error-type"),
        Some(HANDLER_ERROR_TYPE)
    );
    assert_eq!(
        posted[0].header("lambda-extension-identifier"),
        Some(harness.registered()[0].id.as_str())
    );
    assert_eq!(
        posted[0].json(),
        json!({"errorMessage": "the collector is unreachable", "errorType": HANDLER_ERROR_TYPE, "stackTrace": []})
    );
}

#[tokio::test]
async fn a_handler_error_on_shutdown_still_ends_well() {
    let harness = Harness::start().await;
    let outcome = tokio::spawn(
        Extension::new()
            .name("messy")
            .endpoint(harness.endpoint.clone())
            .run(service_fn(|event: Event| async move {
                match event {
                    Event::Shutdown(_) => Err::<(), BoxError>("flush failed".into()),
                    Event::Invoke(_) => Ok(()),
                }
            })),
    );
    harness
        .wait_until("the extension registered", |h| h.registered().len() == 1)
        .await;
    harness.shutdown("failure");
    outcome.await.unwrap().unwrap();
    assert!(harness.requests_to(EXIT_ERROR).is_empty());
}

#[tokio::test]
async fn init_errors_are_posted() {
    let harness = Harness::start().await;
    let extension = Extension::new()
        .name("misconfigured")
        .accept_account_id(true)
        .endpoint(harness.endpoint.clone())
        .register()
        .await
        .unwrap();
    assert_eq!(extension.name(), "misconfigured");
    assert_eq!(
        extension.registration().account_id.as_deref(),
        Some(ACCOUNT_ID)
    );
    extension
        .init_error("Extension.ConfigError", "COLLECTOR_URL is not set")
        .await
        .unwrap();
    let posted = harness.requests_to(INIT_ERROR);
    assert_eq!(posted.len(), 1);
    assert_eq!(
        posted[0].header("lambda-extension-function-error-type"),
        Some("Extension.ConfigError")
    );
    assert_eq!(posted[0].json()["errorMessage"], "COLLECTOR_URL is not set");
}

#[tokio::test]
async fn a_server_error_on_next_ends_the_run() {
    let harness = Harness::start().await;
    harness.answer_next_with(
        500,
        r#"{"errorMessage":"environment is shutting down","errorType":"Extension.Shutdown"}"#,
    );
    let error = Extension::new()
        .name("ext")
        .endpoint(harness.endpoint.clone())
        .run(service_fn(|_event: Event| async { Ok::<(), BoxError>(()) }))
        .await
        .unwrap_err();
    let api = error.api_error().expect("an API error");
    assert!(api.is_server_error());
    assert_eq!(api.error_message, "environment is shutting down");
}

#[tokio::test]
async fn a_malformed_event_names_the_bad_field() {
    let harness = Harness::start().await;
    let mut client = ExtensionClient::new(harness.endpoint.clone()).unwrap();
    client.register("ext", BOTH, false).await.unwrap();
    harness.send_raw(json!({"eventType": "INVOKE", "requestId": "r", "deadlineMs": "soon"}));
    let error = client.next_event().await.unwrap_err();
    let Error::InvalidBody {
        what,
        message,
        body,
        ..
    } = &error
    else {
        panic!("{error}")
    };
    assert_eq!(*what, "event");
    assert!(message.starts_with("deadlineMs"), "{message}");
    assert!(body.contains("soon"));

    // Lenient otherwise: unknown fields and reasons pass.
    harness.send_raw(
        json!({"eventType": "SHUTDOWN", "shutdownReason": "eviction", "deadlineMs": 1, "new": {}}),
    );
    let next = client.next_event().await.unwrap();
    assert!(
        matches!(next.event, Event::Shutdown(ref s) if s.shutdown_reason.as_str() == "eviction")
    );
}

#[tokio::test]
async fn an_internal_extension_registers_before_it_runs() {
    let harness = Harness::start().await;
    harness.mark_internal("in-process");
    let extension = Extension::internal()
        .name("in-process")
        .endpoint(harness.endpoint.clone())
        .register()
        .await
        .unwrap();
    // Registered, and no event asked for yet: the runtime may now start.
    assert_eq!(harness.registered()[0].events, ["INVOKE"]);
    assert!(harness.requests_to(NEXT).is_empty());

    let seen = Seen::default();
    let running = tokio::spawn(extension.run(service_fn(recorder(&seen))));
    harness.invoke("req-1");
    harness
        .wait_until("the handler saw the event", |_| {
            !seen.lock().unwrap().is_empty()
        })
        .await;
    running.abort();
}

#[tokio::test]
async fn an_address_from_the_environment_lookup() {
    let harness = Harness::start().await;
    let address = harness.address.clone();
    let endpoint =
        Endpoint::from_lookup(|name| (name == "AWS_LAMBDA_RUNTIME_API").then(|| address.clone()))
            .unwrap();
    let mut client = ExtensionClient::new(endpoint).unwrap();
    client.register("env", &[], false).await.unwrap();
}
