//! `lambda_http`'s streaming idiom, ported by changing only the imports: a handler returns
//! `Response<streaming::Body>` from `streaming::channel()` to `run_with_streaming_response`,
//! and the channel's chunks are streamed after the prelude; a failure sent on the channel
//! ends the stream with the error trailers.

#![cfg(feature = "http")]

mod support;

use std::time::Duration;

use firebox_events::sample;
use firebox_runtime as lambda_runtime;
use firebox_runtime::http as lambda_http;
use lambda_http::{http::StatusCode, service_fn, Error, Request, RequestExt, Response};
use lambda_runtime::streaming::{channel, Body};
use serde_json::Value;
use support::{config, Invocation, RuntimeApiServer};

/// As `lambda_http`'s streaming example: two chunks, or a failure after the first when the
/// query asks for one.
async fn func(event: Request) -> Result<Response<Body>, Error> {
    let fail = event.query_string_parameters().first("fail").is_some();
    let (mut tx, rx) = channel();
    tokio::spawn(async move {
        tx.send_data("Hello\n".into()).await.unwrap();
        if fail {
            tx.send_error(std::io::Error::other("broke midway"));
            return;
        }
        tx.send_data("world\n".into()).await.unwrap();
    });
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "text/html")
        .body(rx)?)
}

#[tokio::test]
async fn a_channel_body_streams_through_run_with_streaming_response() {
    let event =
        |id: &str, path: &str| Invocation::json(id, sample::function_url().path(path).to_json());
    let server = RuntimeApiServer::start(vec![event("ok", "/"), event("bad", "/?fail=1")]).await;
    let runtime = lambda_http::streaming_runtime(service_fn(func));
    let stopped = tokio::time::timeout(
        Duration::from_secs(60),
        runtime.with_config(config(&server.api(), &[])).run(),
    )
    .await
    .expect("the runtime stops when the script is exhausted");
    assert!(stopped.is_err(), "the runtime only stops with an error");
    let posts: Vec<_> = server
        .records()
        .into_iter()
        .filter(|r| r.method == "POST")
        .collect();
    assert_eq!(posts.len(), 2, "{posts:?}");
    let nul = |body: &[u8]| {
        body.windows(8)
            .position(|w| w == [0; 8])
            .expect("the prelude")
    };
    let ok = &posts[0];
    let at = nul(&ok.body);
    let prelude: Value = serde_json::from_slice(&ok.body[..at]).unwrap();
    assert_eq!(prelude["statusCode"], 200);
    assert_eq!(prelude["headers"]["content-type"], "text/html");
    assert_eq!(&ok.body[at + 8..], b"Hello\nworld\n");
    assert!(ok.trailers.is_none(), "{:?}", ok.trailers);

    let bad = &posts[1];
    let at = nul(&bad.body);
    assert_eq!(&bad.body[at + 8..], b"Hello\n");
    let trailers = bad.trailers.as_ref().expect("the error trailers");
    assert!(
        trailers.contains_key("lambda-runtime-function-error-type"),
        "{trailers:?}"
    );
}
