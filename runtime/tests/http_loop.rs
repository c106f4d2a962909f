//! An axum `Router` run by the HTTP adapter through the real runtime loop, against a loopback
//! Runtime API server: buffered answers in each event's format, bad events, handler errors,
//! and streamed HTTP responses (prelude, chunks as produced, error trailers).

#![cfg(feature = "http")]

mod support;

use std::convert::Infallible;

use axum::{
    body::Body as AxumBody,
    extract::{Path, Query},
    http::StatusCode,
    response::IntoResponse,
    routing::{get, post},
    Extension, Json, Router,
};
use base64::Engine;
use bytes::Bytes;
use firebox_events::sample;
use firebox_runtime::{
    http::{Adapter, RequestContext, StreamingAdapter},
    Context,
};
use serde_json::{json, Value};
use support::{run_until_exhausted as serve, Invocation, RuntimeApiServer};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

fn app() -> Router {
    Router::new()
        .route(
            "/hello/{name}",
            get(|Path(name): Path<String>| async move { format!("Hello, {name}!") }),
        )
        .route("/echo", post(|Json(v): Json<Value>| async move { Json(v) }))
        .route(
            "/query",
            get(|Query(q): Query<Vec<(String, String)>>| async move { Json(q) }),
        )
        .route(
            "/whoami",
            get(
                |Extension(ctx): Extension<Context>, Extension(rc): Extension<RequestContext>| async move {
                    let kind = match rc {
                        RequestContext::ApiGatewayV1(_) => "rest",
                        RequestContext::ApiGatewayV2(_) => "http-api",
                        RequestContext::Alb(_) => "alb",
                        RequestContext::FunctionUrl(_) => "url",
                        _ => "other",
                    };
                    format!("{} {kind}", ctx.request_id)
                },
            ),
        )
        .route(
            "/fail",
            get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "boom").into_response() }),
        )
}

#[tokio::test]
async fn axum_router_answers_each_format_through_the_loop() {
    let server = RuntimeApiServer::start(vec![
        Invocation::json("id-1", sample::apigw_v2().path("/hello/Ada%20L").to_json()),
        Invocation::json(
            "id-2",
            sample::function_url()
                .method("POST")
                .path("/echo")
                .json_body(&json!({"a": [1, 2]}))
                .to_json(),
        ),
        Invocation::json(
            "id-3",
            sample::alb()
                .multi_value_headers(true)
                .path("/query?k=1&k=2&s=a%20b")
                .to_json(),
        ),
        Invocation::json("id-4", sample::apigw_v1().path("/whoami").to_json()),
        Invocation::json("id-5", json!({"Records": []})),
        Invocation::json("id-6", sample::apigw_v2().path("/fail").to_json()),
        Invocation::json("id-7", sample::apigw_v2().path("/nowhere").to_json()),
    ])
    .await;
    // The REST sample's stage is `prod`; strip it so `/whoami` matches.
    serve(&server, Adapter::new(app()).strip_stage_prefix(true)).await;

    let results: Vec<_> = server
        .records()
        .into_iter()
        .filter(|r| r.method == "POST")
        .collect();
    assert_eq!(results.len(), 7);

    assert!(results[0].path.ends_with("/id-1/response"));
    let r = results[0].json();
    assert_eq!(r["statusCode"], 200);
    assert_eq!(r["body"], "Hello, Ada L!");
    assert_eq!(r["isBase64Encoded"], false);
    assert_eq!(r["headers"]["content-type"], "text/plain; charset=utf-8");

    let r = results[1].json();
    assert_eq!(r["statusCode"], 200);
    assert_eq!(
        serde_json::from_str::<Value>(r["body"].as_str().unwrap()).unwrap(),
        json!({"a": [1, 2]})
    );
    assert_eq!(r["headers"]["content-type"], "application/json");

    let r = results[2].json();
    assert_eq!(r["statusDescription"], "200 OK");
    assert_eq!(
        r["multiValueHeaders"]["content-type"],
        json!(["application/json"])
    );
    assert_eq!(
        serde_json::from_str::<Value>(r["body"].as_str().unwrap()).unwrap(),
        json!([["k", "1"], ["k", "2"], ["s", "a b"]])
    );

    let r = results[3].json();
    assert_eq!(r["body"], "id-4 rest");
    assert!(r.get("multiValueHeaders").is_some());

    // Not an HTTP event: a function error, and the loop goes on.
    assert!(results[4].path.ends_with("/id-5/error"));
    assert_eq!(
        results[4].header("lambda-runtime-function-error-type"),
        Some("Runtime.UnmarshalError")
    );
    let error = results[4].json();
    assert_eq!(error["errorType"], "Runtime.UnmarshalError");
    assert!(
        error["errorMessage"]
            .as_str()
            .unwrap()
            .contains("not an HTTP event"),
        "{error}"
    );

    // An HTTP error status is a successful invocation.
    assert!(results[5].path.ends_with("/id-6/response"));
    assert_eq!(results[5].json()["statusCode"], 500);
    assert_eq!(results[5].json()["body"], "boom");
    assert_eq!(results[6].json()["statusCode"], 404);
}

#[tokio::test]
async fn streamed_http_responses_carry_the_prelude_then_the_body() {
    let stream_app = Router::new()
        .route(
            "/events",
            get(|| async {
                let chunks = futures_util::stream::iter(
                    ["data: 1\n\n", "data: 2\n\n"].map(|s| Ok::<_, Infallible>(Bytes::from(s))),
                );
                (
                    [("content-type", "text/event-stream"), ("set-cookie", "s=1")],
                    AxumBody::from_stream(chunks),
                )
            }),
        )
        .route(
            "/broken",
            get(|| async {
                #[derive(Debug, thiserror::Error)]
                #[error("feed lost")]
                struct FeedLost;
                let chunks = futures_util::stream::iter(vec![
                    Ok(Bytes::from_static(b"data: 1\n\n")),
                    Err(FeedLost),
                ]);
                AxumBody::from_stream(chunks)
            }),
        );
    let server = RuntimeApiServer::start(vec![
        Invocation::json("id-1", sample::function_url().path("/events").to_json()),
        Invocation::json("id-2", sample::function_url().path("/broken").to_json()),
        Invocation::json("id-3", json!({"not": "http"})),
    ])
    .await;
    serve(&server, StreamingAdapter::new(stream_app)).await;

    let results: Vec<_> = server
        .records()
        .into_iter()
        .filter(|r| r.method == "POST")
        .collect();
    assert_eq!(results.len(), 3);

    let ok = &results[0];
    assert!(ok.path.ends_with("/id-1/response"));
    assert_eq!(
        ok.header("lambda-runtime-function-response-mode"),
        Some("streaming")
    );
    assert_eq!(
        ok.header("content-type"),
        Some("application/vnd.awslambda.http-integration-response")
    );
    let nul = ok
        .body
        .windows(8)
        .position(|w| w == [0; 8])
        .expect("the delimiter");
    let prelude: Value = serde_json::from_slice(&ok.body[..nul]).unwrap();
    assert_eq!(prelude["statusCode"], 200);
    assert_eq!(prelude["headers"]["content-type"], "text/event-stream");
    assert_eq!(prelude["cookies"], json!(["s=1"]));
    assert_eq!(&ok.body[nul + 8..], b"data: 1\n\ndata: 2\n\n");
    assert!(
        ok.chunks.len() >= 3,
        "prelude and events as separate chunks: {:?}",
        ok.chunks
    );
    assert!(ok.trailer("lambda-runtime-function-error-type").is_none());

    let broken = &results[1];
    assert!(broken.path.ends_with("/id-2/response"));
    // axum wraps body errors in its own `axum::Error`, whose type name is `Error`.
    assert_eq!(
        broken.trailer("lambda-runtime-function-error-type"),
        Some("Error")
    );
    // 200 with no headers and no cookies is the default prelude, which is left out.
    assert_eq!(
        broken.header("content-type"),
        Some("application/octet-stream")
    );
    assert_eq!(&broken.body[..], b"data: 1\n\n");
    let body = B64
        .decode(
            broken
                .trailer("lambda-runtime-function-error-body")
                .unwrap(),
        )
        .unwrap();
    let error: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(error["errorMessage"], "feed lost");

    assert!(results[2].path.ends_with("/id-3/error"));
    assert_eq!(results[2].json()["errorType"], "Runtime.UnmarshalError");
}

#[tokio::test]
async fn streamed_bytes_reach_the_server_while_the_body_is_still_being_produced() {
    use futures_util::StreamExt;
    use std::sync::{Arc, Mutex};

    // The body's last event waits for `release`, which is only sent once the server has
    // received the prelude and the first event: a runtime that buffered would never get there.
    let (release_tx, release_rx) = tokio::sync::oneshot::channel::<()>();
    let release = Arc::new(Mutex::new(Some(release_rx)));
    let app = Router::new().route(
        "/sse",
        get(move || {
            let release = release.lock().unwrap().take();
            async move {
                let first = futures_util::stream::once(async {
                    Ok::<_, Infallible>(Bytes::from_static(b"data: first\n\n"))
                });
                let last = futures_util::stream::once(async move {
                    if let Some(release) = release {
                        let _ = release.await;
                    }
                    Ok(Bytes::from_static(b"data: last\n\n"))
                });
                (
                    [("content-type", "text/event-stream")],
                    AxumBody::from_stream(first.chain(last)),
                )
            }
        }),
    );
    let server = RuntimeApiServer::start(vec![Invocation::json(
        "id-1",
        sample::function_url().path("/sse").to_json(),
    )])
    .await;
    let prelude =
        br#"{"statusCode":200,"headers":{"content-type":"text/event-stream"},"cookies":[]}"#;
    let before_release = (prelude.len() + 8 + b"data: first\n\n".len()) as u64;
    let watcher = server.clone();
    tokio::spawn(async move {
        watcher.wait_received(before_release).await;
        let _ = release_tx.send(());
    });
    serve(&server, StreamingAdapter::new(app)).await;

    let posted = server
        .records()
        .into_iter()
        .find(|r| r.method == "POST")
        .expect("a response");
    let mut expected = prelude.to_vec();
    expected.extend_from_slice(&[0; 8]);
    expected.extend_from_slice(b"data: first\n\ndata: last\n\n");
    assert_eq!(&posted.body[..], &expected[..]);
}
