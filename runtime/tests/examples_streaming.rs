//! The `streaming` example as a real process: streamed, failed and buffered answers from one
//! `#[handler]` function, and its invocations served side by side under
//! `AWS_LAMBDA_MAX_CONCURRENCY`.

mod support;

use base64::Engine;
use serde_json::{json, Value};
use support::{run_example, Answers, Invocation, RuntimeApiServer};

#[tokio::test]
async fn streamed_failed_and_buffered_answers() {
    let server = RuntimeApiServer::start(vec![
        Invocation::json("id-1", json!({"mode": "large", "mib": 1})),
        Invocation::json("id-2", json!({"mode": "fail_midway"})),
        Invocation::json("id-3", json!({"mode": "buffered"})),
        Invocation::json("id-4", json!({"mode": "sideways"})),
    ])
    .await;
    let done = run_example("streaming", &server.api(), &[]).await;
    assert_eq!(done.code, Some(1), "stderr: {}", done.stderr);
    let records = server.records();

    let large = &records[1];
    assert_eq!(large.path, server.path("invocation/id-1/response"));
    assert_eq!(
        large.header("lambda-runtime-function-response-mode"),
        Some("streaming")
    );
    assert_eq!(large.body_len, 1 << 20);
    assert!(large.chunks.len() > 1, "sent in chunks");
    assert!(large
        .body
        .iter()
        .enumerate()
        .all(|(i, b)| *b == (i % 251) as u8));
    assert!(large.trailers.is_none());

    let failed = &records[3];
    assert_eq!(failed.body.as_ref(), b"chunk 1\nchunk 2\nchunk 3\n");
    assert_eq!(
        failed.trailer("lambda-runtime-function-error-type"),
        Some("StreamInterrupted")
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
        json!({"errorType": "StreamInterrupted", "errorMessage": "the stream failed after 3 chunks"})
    );

    let buffered = &records[5];
    assert_eq!(
        buffered.json(),
        json!({"mode": "buffered", "streamed": false})
    );
    assert!(buffered
        .header("lambda-runtime-function-response-mode")
        .is_none());

    assert_eq!(records[7].path, server.path("invocation/id-4/error"));
    assert_eq!(records[7].json()["errorType"], "Runtime.UnmarshalError");
}

#[tokio::test]
async fn handler_macro_serves_invocations_side_by_side() {
    // The server answers no /next until two are outstanding: a runtime serving one
    // invocation at a time would wait forever (and `run_example` would time out).
    let server = RuntimeApiServer::start_with(
        vec![
            Invocation::json("id-1", json!({"mode": "fail_midway"})),
            Invocation::json("id-2", json!({"mode": "buffered"})),
        ],
        Answers {
            hold_next: 2,
            ..Answers::default()
        },
        "",
    )
    .await;
    let done = run_example(
        "streaming",
        &server.api(),
        &[("AWS_LAMBDA_MAX_CONCURRENCY", "2")],
    )
    .await;
    assert_eq!(done.code, Some(1), "stderr: {}", done.stderr);
    let records = server.records();
    let mut posts: Vec<_> = records
        .iter()
        .filter(|r| r.method == "POST")
        .map(|r| r.path.clone())
        .collect();
    posts.sort();
    assert_eq!(
        posts,
        vec![
            server.path("invocation/id-1/response"),
            server.path("invocation/id-2/response"),
        ]
    );
    assert!(server.connections() >= 2);
}
