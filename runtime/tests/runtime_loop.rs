//! The runtime loop, in process, against a real loopback Runtime API server.

mod support;

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex,
    },
};

use firebox_runtime::{
    run_with_init, service_fn, Context, Diagnostic, Error, LambdaEvent, Runtime,
};
use http::StatusCode;
use serde::Deserialize;
use serde_json::{json, Value};
use support::{config, Answers, Invocation, RuntimeApiServer};

async fn echo(event: LambdaEvent<Value>) -> Result<Value, Error> {
    Ok(json!({ "echo": event.payload, "requestId": event.context.request_id }))
}

/// Runs `service` against `server` until the server ends it; returns the runtime's error text.
async fn serve<S, A, R>(server: &RuntimeApiServer, service: S, extra: &[(&str, &str)]) -> String
where
    S: tower::Service<LambdaEvent<A>, Response = R>,
    S::Error: Into<Diagnostic>,
    A: serde::de::DeserializeOwned,
    R: firebox_runtime::IntoFunctionResponse,
{
    let result = Runtime::new(service)
        .with_config(config(&server.api(), extra))
        .run()
        .await;
    result
        .expect_err("the runtime only stops with an error")
        .to_string()
}

#[derive(Debug, thiserror::Error)]
#[error("order {0} not found")]
struct OrderNotFound(String);

#[tokio::test]
async fn success_posts_responses_in_order_on_one_connection() {
    let server = RuntimeApiServer::start(vec![
        Invocation::json("id-1", json!({"n": 1})),
        Invocation::json("id-2", json!({"n": 2})),
    ])
    .await;
    let stop = serve(&server, service_fn(echo), &[]).await;
    assert!(stop.contains("500"), "{stop}");
    let next = format!("GET {}", server.path("invocation/next"));
    assert_eq!(
        server.lines(),
        vec![
            next.clone(),
            format!("POST {}", server.path("invocation/id-1/response")),
            next.clone(),
            format!("POST {}", server.path("invocation/id-2/response")),
            next,
        ]
    );
    let records = server.records();
    assert_eq!(
        records[1].json(),
        json!({"echo": {"n": 1}, "requestId": "id-1"})
    );
    assert_eq!(
        records[3].json(),
        json!({"echo": {"n": 2}, "requestId": "id-2"})
    );
    assert_eq!(records[1].header("content-type"), Some("application/json"));
    assert!(records[1].header("host").unwrap().starts_with("127.0.0.1:"));
    assert!(
        records.iter().all(|r| r.connection == 0),
        "one kept-alive connection"
    );
    assert_eq!(server.connections(), 1);
}

#[tokio::test]
async fn typed_error_is_posted_with_its_type_name() {
    let server = RuntimeApiServer::start(vec![Invocation::json("id-1", json!({}))]).await;
    serve(
        &server,
        service_fn(|_: LambdaEvent<Value>| async {
            Err::<Value, Error>(Box::new(OrderNotFound("42".into())))
        }),
        &[],
    )
    .await;
    let post = &server.records()[1];
    assert_eq!(post.path, server.path("invocation/id-1/error"));
    assert_eq!(
        post.header("lambda-runtime-function-error-type"),
        Some("OrderNotFound")
    );
    assert_eq!(post.header("content-type"), Some("application/json"));
    assert_eq!(
        post.json(),
        json!({"errorType": "OrderNotFound", "errorMessage": "order 42 not found"})
    );
}

#[tokio::test]
async fn custom_diagnostic_conversion_wins() {
    struct Refused;
    impl From<Refused> for Diagnostic {
        fn from(_: Refused) -> Self {
            Diagnostic::new("Custom.Refused", "nope")
        }
    }
    let server = RuntimeApiServer::start(vec![Invocation::json("id-1", json!({}))]).await;
    serve(
        &server,
        service_fn(|_: LambdaEvent<Value>| async { Err::<Value, Refused>(Refused) }),
        &[],
    )
    .await;
    assert_eq!(
        server.records()[1].json(),
        json!({"errorType": "Custom.Refused", "errorMessage": "nope"})
    );
}

#[tokio::test]
async fn panic_is_reported_and_the_next_invocation_is_served() {
    let server = RuntimeApiServer::start(vec![
        Invocation::json("id-1", json!({"panic": true})),
        Invocation::json("id-2", json!({"panic": false})),
    ])
    .await;
    serve(
        &server,
        service_fn(|event: LambdaEvent<Value>| async move {
            if event.payload["panic"] == json!(true) {
                panic!("boom at {}", event.context.request_id);
            }
            Ok::<_, Error>(json!("fine"))
        }),
        &[],
    )
    .await;
    let records = server.records();
    assert_eq!(records[1].path, server.path("invocation/id-1/error"));
    assert_eq!(
        records[1].json(),
        json!({"errorType": "Panic", "errorMessage": "boom at id-1"})
    );
    assert_eq!(records[3].path, server.path("invocation/id-2/response"));
    assert_eq!(records[3].json(), json!("fine"));
}

#[tokio::test]
async fn panic_while_building_the_future_is_caught() {
    #[derive(Clone)]
    struct PanicsInCall;
    impl tower::Service<LambdaEvent<Value>> for PanicsInCall {
        type Response = Value;
        type Error = Error;
        type Future = std::future::Ready<Result<Value, Error>>;
        fn poll_ready(
            &mut self,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Result<(), Error>> {
            std::task::Poll::Ready(Ok(()))
        }
        fn call(&mut self, _: LambdaEvent<Value>) -> Self::Future {
            panic!("synchronous panic")
        }
    }
    let server = RuntimeApiServer::start(vec![Invocation::json("id-1", json!({}))]).await;
    serve(&server, PanicsInCall, &[]).await;
    assert_eq!(
        server.records()[1].json(),
        json!({"errorType": "Panic", "errorMessage": "synchronous panic"})
    );
}

#[derive(Deserialize, Debug)]
#[allow(dead_code)]
struct Order {
    items: Vec<Item>,
}
#[derive(Deserialize, Debug)]
#[allow(dead_code)]
struct Item {
    qty: u32,
}

#[tokio::test]
async fn unmarshal_error_names_the_path_and_skips_the_handler() {
    let server = RuntimeApiServer::start(vec![
        Invocation::json("id-1", json!({"items": [{"qty": 1}, {"qty": "two"}]})),
        Invocation::new("id-2", "not json at all"),
    ])
    .await;
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    serve(
        &server,
        service_fn(move |_: LambdaEvent<Order>| {
            seen.fetch_add(1, Ordering::SeqCst);
            async { Ok::<_, Error>(json!("called")) }
        }),
        &[],
    )
    .await;
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "the handler is never called"
    );
    let records = server.records();
    let first = records[1].json();
    assert_eq!(records[1].path, server.path("invocation/id-1/error"));
    assert_eq!(first["errorType"], "Runtime.UnmarshalError");
    assert!(
        first["errorMessage"]
            .as_str()
            .unwrap()
            .contains("`items[1].qty`"),
        "{first}"
    );
    assert_eq!(
        records[1].header("lambda-runtime-function-error-type"),
        Some("Runtime.UnmarshalError")
    );
    assert_eq!(records[3].json()["errorType"], "Runtime.UnmarshalError");
}

#[tokio::test]
async fn marshal_error_is_reported() {
    let server = RuntimeApiServer::start(vec![Invocation::json("id-1", json!({}))]).await;
    serve(
        &server,
        service_fn(|_: LambdaEvent<Value>| async {
            let mut map = HashMap::new();
            map.insert((1u8, 2u8), 3u8);
            Ok::<_, Error>(map)
        }),
        &[],
    )
    .await;
    let post = &server.records()[1];
    assert_eq!(post.path, server.path("invocation/id-1/error"));
    assert_eq!(post.json()["errorType"], "Runtime.MarshalError");
}

#[tokio::test]
async fn missing_or_malformed_required_headers() {
    let server = RuntimeApiServer::start(vec![
        Invocation::json("ignored", json!({})).without("lambda-runtime-aws-request-id"),
        Invocation::json("id-2", json!({})).without("lambda-runtime-deadline-ms"),
        Invocation::json("id-3", json!({})).with("lambda-runtime-deadline-ms", "tomorrow"),
        Invocation::json("id-4", json!({})),
    ])
    .await;
    serve(&server, service_fn(echo), &[]).await;
    let next = format!("GET {}", server.path("invocation/next"));
    assert_eq!(
        server.lines(),
        vec![
            next.clone(),
            // No request id: nothing can be posted; the runtime polls again.
            next.clone(),
            format!("POST {}", server.path("invocation/id-2/error")),
            next.clone(),
            format!("POST {}", server.path("invocation/id-3/error")),
            next.clone(),
            format!("POST {}", server.path("invocation/id-4/response")),
            next,
        ]
    );
    let records = server.records();
    let missing = records[2].json();
    assert_eq!(missing["errorType"], "Runtime.InvalidInvocation");
    assert!(missing["errorMessage"]
        .as_str()
        .unwrap()
        .contains("lambda-runtime-deadline-ms"));
    assert_eq!(records[4].json()["errorType"], "Runtime.InvalidInvocation");
}

#[tokio::test]
async fn optional_headers_absent_and_present() {
    let server = RuntimeApiServer::start(vec![
        Invocation::json("id-1", json!({}))
            .without("lambda-runtime-trace-id")
            .without("lambda-runtime-invoked-function-arn"),
        Invocation::json("id-2", json!({}))
            .with(
                "lambda-runtime-client-context",
                r#"{"client":{"appTitle":"app"},"custom":{"k":"v"},"environment":{}}"#,
            )
            .with(
                "lambda-runtime-cognito-identity",
                r#"{"identityId":"me","identityPoolId":"pool"}"#,
            )
            .with("lambda-runtime-aws-tenant-id", "tenant-7"),
    ])
    .await;
    let contexts: Arc<Mutex<Vec<Context>>> = Arc::default();
    let keep = contexts.clone();
    serve(
        &server,
        service_fn(move |event: LambdaEvent<Value>| {
            keep.lock().unwrap().push(event.context);
            async { Ok::<_, Error>(()) }
        }),
        &[],
    )
    .await;
    let contexts = contexts.lock().unwrap();
    assert_eq!(contexts[0].xray_trace_id, None);
    assert_eq!(contexts[0].invoked_function_arn, "");
    assert_eq!(contexts[0].client_context, None);
    assert_eq!(contexts[0].identity, None);
    assert_eq!(contexts[0].tenant_id, None);
    assert_eq!(contexts[0].env_config.function_name, "test");
    assert_eq!(contexts[0].env_config.memory, 128);
    assert!(contexts[0].remaining_time() > std::time::Duration::from_secs(30));
    assert!(contexts[1]
        .xray_trace_id
        .as_deref()
        .unwrap()
        .starts_with("Root=1-"));
    assert_eq!(
        contexts[1]
            .client_context
            .as_ref()
            .unwrap()
            .client
            .app_title,
        "app"
    );
    assert_eq!(contexts[1].identity.as_ref().unwrap().identity_id, "me");
    assert_eq!(contexts[1].tenant_id.as_deref(), Some("tenant-7"));
    assert_eq!(
        contexts[1].invoked_function_arn,
        "arn:aws:lambda:us-east-1:123456789012:function:test"
    );
    // `()` serializes to `null`.
    assert_eq!(server.records()[1].body.as_ref(), b"null");
}

#[tokio::test]
async fn rejected_response_is_logged_and_the_loop_goes_on() {
    let server = RuntimeApiServer::start_with(
        vec![
            Invocation::json("id-1", json!(1)),
            Invocation::json("id-2", json!(2)),
        ],
        Answers {
            response_status: vec![(0, StatusCode::BAD_REQUEST)],
            ..Answers::default()
        },
        "",
    )
    .await;
    let stop = serve(&server, service_fn(echo), &[]).await;
    assert!(
        stop.contains("/invocation/next"),
        "stopped by /next, not by the 400: {stop}"
    );
    assert_eq!(
        server.lines()[3],
        format!("POST {}", server.path("invocation/id-2/response"))
    );
    assert_eq!(server.records().len(), 5);
}

#[tokio::test]
async fn container_error_on_response_ends_the_runtime() {
    let server = RuntimeApiServer::start_with(
        vec![
            Invocation::json("id-1", json!(1)),
            Invocation::json("id-2", json!(2)),
        ],
        Answers {
            response_status: vec![(0, StatusCode::INTERNAL_SERVER_ERROR)],
            ..Answers::default()
        },
        "",
    )
    .await;
    let stop = serve(&server, service_fn(echo), &[]).await;
    assert!(
        stop.contains("500") && stop.contains("id-1/response"),
        "{stop}"
    );
    assert_eq!(
        server.records().len(),
        2,
        "no /next after a container error"
    );
}

#[tokio::test]
async fn unreachable_runtime_api_is_retried_then_reported() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let result = Runtime::new(service_fn(echo))
        .with_config(config(&format!("127.0.0.1:{port}"), &[]))
        .run()
        .await;
    let stop = result.unwrap_err().to_string();
    assert!(
        stop.contains("cannot reach the Runtime API") && stop.contains("after 3 attempt(s)"),
        "{stop}"
    );
}

#[tokio::test]
async fn http_scheme_and_path_prefix_are_accepted() {
    let server = RuntimeApiServer::start_with(
        vec![Invocation::json("id-1", json!("x"))],
        Answers::default(),
        "/prefix",
    )
    .await;
    let result = Runtime::new(service_fn(echo))
        .with_config(config(&format!("http://{}/prefix/", server.api()), &[]))
        .run()
        .await;
    assert!(result.is_err());
    assert_eq!(
        server.lines(),
        vec![
            "GET /prefix/2018-06-01/runtime/invocation/next",
            "POST /prefix/2018-06-01/runtime/invocation/id-1/response",
            "GET /prefix/2018-06-01/runtime/invocation/next",
        ]
    );
    // Plain `http://host:port` too.
    let server = RuntimeApiServer::start(vec![Invocation::json("id-1", json!("x"))]).await;
    let result = Runtime::new(service_fn(echo))
        .with_config(config(&format!("http://{}", server.api()), &[]))
        .run()
        .await;
    assert!(result.is_err());
    assert_eq!(
        server.records()[1].path,
        "/2018-06-01/runtime/invocation/id-1/response"
    );
}

#[tokio::test]
async fn failing_init_is_posted_to_init_error() {
    let server = RuntimeApiServer::start(vec![Invocation::json("id-1", json!({}))]).await;
    let result = run_with_init(
        Some(config(&server.api(), &[])),
        || async { Err::<(), Error>(Box::new(OrderNotFound("cfg".into()))) },
        |_state| service_fn(echo),
    )
    .await;
    let record = server.assert_init_failed(result);
    assert_eq!(
        record.header("lambda-runtime-function-error-type"),
        Some("OrderNotFound")
    );
    assert_eq!(
        record.json(),
        json!({"errorType": "OrderNotFound", "errorMessage": "order cfg not found"})
    );
}

#[tokio::test]
async fn panicking_init_is_posted_to_init_error() {
    let server = RuntimeApiServer::start(vec![]).await;
    let result = run_with_init(
        Some(config(&server.api(), &[])),
        || async {
            if true {
                panic!("no config");
            }
            Ok::<(), Error>(())
        },
        |_state| service_fn(echo),
    )
    .await;
    assert_eq!(
        server.assert_init_failed(result).json(),
        json!({"errorType": "Panic", "errorMessage": "no config"})
    );
}

#[tokio::test]
async fn init_state_is_shared_by_invocations() {
    let server = RuntimeApiServer::start(vec![
        Invocation::json("id-1", json!({})),
        Invocation::json("id-2", json!({})),
    ])
    .await;
    let inits = Arc::new(AtomicUsize::new(0));
    let counted = inits.clone();
    let _ = run_with_init(
        Some(config(&server.api(), &[])),
        || async move {
            counted.fetch_add(1, Ordering::SeqCst);
            Ok::<_, Error>(AtomicUsize::new(0))
        },
        |state: Arc<AtomicUsize>| {
            service_fn(move |_: LambdaEvent<Value>| {
                let n = state.fetch_add(1, Ordering::SeqCst) + 1;
                async move { Ok::<_, Error>(json!({ "invocations": n })) }
            })
        },
    )
    .await;
    assert_eq!(inits.load(Ordering::SeqCst), 1);
    let records = server.records();
    assert_eq!(records[1].json(), json!({"invocations": 1}));
    assert_eq!(records[3].json(), json!({"invocations": 2}));
}

#[tokio::test]
async fn tower_layers_wrap_the_handler() {
    let server = RuntimeApiServer::start(vec![Invocation::json("id-1", json!("slow"))]).await;
    let service = service_fn(|_: LambdaEvent<Value>| async {
        tokio::time::sleep(std::time::Duration::from_secs(30)).await;
        Ok::<_, Error>(json!("late"))
    });
    let result = Runtime::new(service)
        .layer(tower::timeout::TimeoutLayer::new(
            std::time::Duration::from_millis(10),
        ))
        .with_config(config(&server.api(), &[]))
        .run()
        .await;
    assert!(result.is_err());
    let post = &server.records()[1];
    assert_eq!(post.path, server.path("invocation/id-1/error"));
    assert_eq!(post.json()["errorType"], "Elapsed");
}

#[tokio::test]
async fn a_layer_that_boxes_errors_keeps_a_diagnostic_made_before_it() {
    use tower::{timeout::TimeoutLayer, Layer, ServiceExt};

    #[derive(Debug, thiserror::Error)]
    enum KvError {
        #[error("no key {0}")]
        NotFound(String),
    }
    impl From<KvError> for Diagnostic {
        fn from(error: KvError) -> Self {
            Diagnostic::new("Kv.NotFound", error.to_string())
        }
    }
    let lookup = || {
        service_fn(|_: LambdaEvent<Value>| async { Err::<Value, _>(KvError::NotFound("k".into())) })
    };
    let timeout = || TimeoutLayer::new(std::time::Duration::from_secs(30));

    // The timeout boxes the `KvError`: the `From` above no longer applies, the `Debug` rule does.
    let server = RuntimeApiServer::start(vec![Invocation::json("id-1", json!({}))]).await;
    serve(&server, timeout().layer(lookup()), &[]).await;
    assert_eq!(
        server.records()[1].json(),
        json!({"errorType": "NotFound", "errorMessage": "no key k"})
    );

    // Made a `Diagnostic` under the layer, the error comes out of the box unchanged.
    let server = RuntimeApiServer::start(vec![Invocation::json("id-1", json!({}))]).await;
    serve(
        &server,
        timeout().layer(lookup().map_err(Diagnostic::from)),
        &[],
    )
    .await;
    assert_eq!(
        server.records()[1].json(),
        json!({"errorType": "Kv.NotFound", "errorMessage": "no key k"})
    );
}
