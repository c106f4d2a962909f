//! Response streaming against a real loopback Runtime API server: chunks sent as produced,
//! real error trailers, the HTTP prelude, bounded memory, and buffered/streamed mixes.

mod support;

use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::Duration,
};

use base64::Engine;
use bytes::Bytes;
use firebox_runtime::{
    service_fn,
    streaming::{channel, Body},
    Error, FunctionResponse, LambdaEvent, MetadataPrelude, StreamResponse,
};
use futures_util::stream;
use http::{HeaderMap, HeaderValue, StatusCode};
use serde_json::{json, Value};
use support::{run_until_exhausted as serve, Answers, Invocation, RuntimeApiServer};

#[derive(Debug, thiserror::Error)]
#[error("order {0} vanished")]
struct OrderVanished(u32);

#[tokio::test]
async fn chunks_reach_the_server_before_the_next_one_is_written() {
    let server = RuntimeApiServer::start(vec![Invocation::json("id-1", json!({}))]).await;
    let watcher = server.clone();
    serve(
        &server,
        service_fn(move |_: LambdaEvent<Value>| {
            let watcher = watcher.clone();
            async move {
                let (mut tx, rx) = channel();
                tokio::spawn(async move {
                    tx.send("chunk-1;").await.unwrap();
                    // Handshake: the server has chunk 1 before chunk 2 exists.
                    watcher.wait_received(8).await;
                    tx.send("chunk-2;").await.unwrap();
                    watcher.wait_received(16).await;
                    tx.send("chunk-3").await.unwrap();
                });
                Ok::<_, Error>(StreamResponse::from(rx))
            }
        }),
    )
    .await;
    let records = server.records();
    let post = &records[1];
    assert_eq!(post.path, server.path("invocation/id-1/response"));
    assert_eq!(
        post.chunks,
        vec![
            Bytes::from_static(b"chunk-1;"),
            Bytes::from_static(b"chunk-2;"),
            Bytes::from_static(b"chunk-3"),
        ]
    );
    assert_eq!(
        post.header("lambda-runtime-function-response-mode"),
        Some("streaming")
    );
    assert_eq!(post.header("transfer-encoding"), Some("chunked"));
    assert_eq!(
        post.header("content-type"),
        Some("application/octet-stream")
    );
    assert_eq!(
        post.header("trailer"),
        Some("Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body")
    );
    assert!(post.header("content-length").is_none());
    assert!(post.trailers.is_none(), "no trailers on success");
    assert_eq!(
        records[2].line(),
        format!("GET {}", server.path("invocation/next"))
    );
}

#[tokio::test]
async fn failure_midway_is_sent_as_real_trailers() {
    let server = RuntimeApiServer::start(vec![
        Invocation::json("id-1", json!({})),
        Invocation::json("id-2", json!({})),
    ])
    .await;
    serve(
        &server,
        service_fn(|event: LambdaEvent<Value>| async move {
            let failing = event.context.request_id == "id-1";
            let items: Vec<Result<&'static str, Error>> = if failing {
                vec![Ok("first "), Ok("second "), Err(Box::new(OrderVanished(7)))]
            } else {
                vec![Ok("all "), Ok("good")]
            };
            Ok::<_, Error>(StreamResponse::from(stream::iter(items)))
        }),
    )
    .await;
    let records = server.records();
    let failed = &records[1];
    assert_eq!(
        failed.body.as_ref(),
        b"first second ",
        "no error text in the body"
    );
    assert_eq!(
        failed.trailer("lambda-runtime-function-error-type"),
        Some("OrderVanished")
    );
    let document = base64::engine::general_purpose::STANDARD
        .decode(
            failed
                .trailer("lambda-runtime-function-error-body")
                .unwrap(),
        )
        .unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&document).unwrap(),
        json!({"errorType": "OrderVanished", "errorMessage": "order 7 vanished"})
    );
    // The runtime goes on: the next stream succeeds, without trailers.
    let ok = &records[3];
    assert_eq!(ok.path, server.path("invocation/id-2/response"));
    assert_eq!(ok.body.as_ref(), b"all good");
    assert!(ok.trailers.is_none());
}

#[tokio::test]
async fn writer_errors_and_panics_become_trailers() {
    let server = RuntimeApiServer::start(vec![
        Invocation::json("id-1", json!("abort")),
        Invocation::json("id-2", json!("panic")),
    ])
    .await;
    serve(
        &server,
        service_fn(|event: LambdaEvent<Value>| async move {
            let (mut tx, rx) = channel();
            let mode = event.payload.as_str().unwrap_or_default().to_owned();
            tokio::spawn(async move {
                tx.send("partial").await.unwrap();
                if mode == "abort" {
                    tx.send_error(OrderVanished(1));
                } else {
                    panic!("the writer task died");
                }
            });
            Ok::<_, Error>(StreamResponse::from(rx))
        }),
    )
    .await;
    let records = server.records();
    assert_eq!(records[1].body.as_ref(), b"partial");
    assert_eq!(
        records[1].trailer("lambda-runtime-function-error-type"),
        Some("OrderVanished")
    );
    assert_eq!(records[3].body.as_ref(), b"partial");
    assert_eq!(
        records[3].trailer("lambda-runtime-function-error-type"),
        Some("Panic")
    );
    let document = base64::engine::general_purpose::STANDARD
        .decode(
            records[3]
                .trailer("lambda-runtime-function-error-body")
                .unwrap(),
        )
        .unwrap();
    // The panic's own message, as a handler's panic gives it.
    let document: Value = serde_json::from_slice(&document).unwrap();
    assert_eq!(document["errorType"], "Panic", "{document}");
    assert_eq!(
        document["errorMessage"], "the writer task died",
        "{document}"
    );
}

#[tokio::test]
async fn http_prelude_bytes_are_exact() {
    let server = RuntimeApiServer::start(vec![Invocation::json("id-1", json!({}))]).await;
    serve(
        &server,
        service_fn(|_: LambdaEvent<Value>| async {
            let mut headers = HeaderMap::new();
            headers.insert(
                "content-type",
                HeaderValue::from_static("text/event-stream"),
            );
            let prelude = MetadataPrelude {
                status_code: StatusCode::CREATED,
                headers,
                cookies: vec!["session=abc; Secure".into()],
            };
            let body = stream::iter([Ok::<_, Error>("data: one\n\n"), Ok("data: two\n\n")]);
            Ok::<_, Error>(StreamResponse {
                metadata_prelude: prelude,
                stream: body,
            })
        }),
    )
    .await;
    let post = &server.records()[1];
    assert_eq!(
        post.header("content-type"),
        Some("application/vnd.awslambda.http-integration-response")
    );
    let mut expected = br#"{"statusCode":201,"headers":{"content-type":"text/event-stream"},"cookies":["session=abc; Secure"]}"#.to_vec();
    expected.extend_from_slice(&[0u8; 8]);
    expected.extend_from_slice(b"data: one\n\ndata: two\n\n");
    assert_eq!(post.body.as_ref(), expected.as_slice());
}

#[tokio::test]
async fn one_function_buffers_some_answers_and_streams_others() {
    let server = RuntimeApiServer::start(vec![
        Invocation::json("id-1", json!({"stream": false})),
        Invocation::json("id-2", json!({"stream": true})),
    ])
    .await;
    serve(
        &server,
        service_fn(|event: LambdaEvent<Value>| async move {
            if event.payload["stream"] == json!(true) {
                let (mut tx, rx) = channel();
                tokio::spawn(async move {
                    let _ = tx.send("streamed").await;
                });
                Ok::<FunctionResponse<Value, Body>, Error>(FunctionResponse::StreamingResponse(
                    StreamResponse::from(rx),
                ))
            } else {
                Ok(FunctionResponse::BufferedResponse(
                    json!({"buffered": true}),
                ))
            }
        }),
    )
    .await;
    let records = server.records();
    let buffered = &records[1];
    assert_eq!(buffered.json(), json!({"buffered": true}));
    assert_eq!(buffered.header("content-type"), Some("application/json"));
    assert!(buffered
        .header("lambda-runtime-function-response-mode")
        .is_none());
    let streamed = &records[3];
    assert_eq!(streamed.body.as_ref(), b"streamed");
    assert_eq!(
        streamed.header("lambda-runtime-function-response-mode"),
        Some("streaming")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_64_mib_stream_is_sent_with_bounded_memory() {
    const TOTAL: u64 = 64 << 20;
    const CHUNK: usize = 64 << 10;
    // What the runtime may hold between producing and the server reading: hyper's write
    // buffer and the loopback socket buffers. A runtime that buffers the stream races past it
    // while the server pauses.
    const BOUND: u64 = 16 << 20;
    let server = RuntimeApiServer::start_with(
        vec![Invocation::json("id-1", json!({}))],
        Answers {
            pause_reading_after: Some((4 << 20, Duration::from_millis(300))),
            ..Answers::default()
        },
        "",
    )
    .await;
    let received = server.received_counter();
    let max_lag = Arc::new(AtomicU64::new(0));
    let lag = max_lag.clone();
    serve(
        &server,
        service_fn(move |_: LambdaEvent<Value>| {
            let received = received.clone();
            let lag = lag.clone();
            async move {
                // A generator: each chunk exists only once asked for.
                let chunks = stream::unfold(0u64, move |produced| {
                    let received = received.clone();
                    let lag = lag.clone();
                    async move {
                        if produced >= TOTAL {
                            return None;
                        }
                        let behind = produced.saturating_sub(received.load(Ordering::SeqCst));
                        lag.fetch_max(behind, Ordering::SeqCst);
                        let fill = (produced / CHUNK as u64 % 251) as u8;
                        let chunk = Bytes::from(vec![fill; CHUNK]);
                        Some((Ok::<_, Error>(chunk), produced + CHUNK as u64))
                    }
                });
                Ok::<_, Error>(StreamResponse::from(chunks))
            }
        }),
    )
    .await;
    let records = server.records();
    assert_eq!(records[1].body_len, TOTAL);
    assert!(records[1].trailers.is_none());
    let max_lag = max_lag.load(Ordering::SeqCst);
    assert!(
        max_lag < BOUND,
        "the producer ran {max_lag} bytes ahead of the reader"
    );
}

#[tokio::test]
async fn streamed_answer_refused_by_the_api_is_logged_and_the_loop_goes_on() {
    let server = RuntimeApiServer::start_with(
        vec![
            Invocation::json("id-1", json!({})),
            Invocation::json("id-2", json!({})),
        ],
        Answers {
            response_status: vec![(0, StatusCode::PAYLOAD_TOO_LARGE)],
            ..Answers::default()
        },
        "",
    )
    .await;
    let stop = serve(
        &server,
        service_fn(|_: LambdaEvent<Value>| async {
            Ok::<_, Error>(StreamResponse::from(stream::iter([Ok::<_, Error>("x")])))
        }),
    )
    .await;
    assert!(stop.contains("/invocation/next"), "{stop}");
    assert_eq!(
        server.lines()[3],
        format!("POST {}", server.path("invocation/id-2/response"))
    );
}
