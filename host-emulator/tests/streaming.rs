//! Response streaming through the emulator with a Python test runtime that streams over raw
//! HTTP (chunked encoding, real trailers): the streaming Invoke API event by event, the plain
//! Invoke API buffering a stream, errors from trailers, Tail, limits, and callers that leave.

mod common;
mod streaming_support;

use base64::Engine;
use common::*;
use serde_json::json;
use streaming_support::*;

#[tokio::test]
async fn chunks_arrive_as_events_in_order_then_invoke_complete() {
    let emu = start(vec![stream_fn("s", "events")]).await;
    let open = invoke_stream(
        emu.endpoint(),
        "s",
        &[],
        &json!({"chunks": ["one ", "two ", "three"], "delay_ms": 20, "content_type": "text/plain"})
            .to_string(),
    )
    .await;
    assert_eq!(open.status, 200);
    assert_eq!(
        open.header("content-type"),
        Some("application/vnd.amazon.eventstream")
    );
    assert_eq!(open.header("x-amz-executed-version"), Some("$LATEST"));
    assert!(open.header("x-amzn-requestid").is_some());
    let (chunks, complete) = Events::new(open).rest().await;
    assert_eq!(concat(&chunks), b"one two three");
    assert_eq!(
        chunks.len(),
        3,
        "one event per chunk the runtime wrote: {chunks:?}"
    );
    assert_eq!(complete.error_code, None);
    assert_eq!(complete.error_details, None);
    assert_eq!(complete.log_result, None);
    let line = wait_for_line(&emu, "s", |t| t.starts_with("REPORT ")).await;
    assert!(line.contains("Duration:"), "{line}");
    wait_for_line(&emu, "s", |t| t == "STREAM 202").await;
}

#[tokio::test]
async fn first_chunk_reaches_the_caller_before_the_function_finishes() {
    let emu = start(vec![stream_fn("s", "events")]).await;
    let flag = flag_path("first-chunk");
    let event = json!({"chunks": ["early", "late"], "wait_file": flag.display().to_string()});
    let open = invoke_stream(emu.endpoint(), "s", &[], &event.to_string()).await;
    let mut events = Events::new(open);
    // The runtime blocks after its first chunk until the flag exists: the first event can
    // only arrive here if the emulator forwarded it while the function was still running.
    let first = events.next().await.expect("first event");
    assert_eq!(first.header(":event-type"), Some("PayloadChunk"));
    assert_eq!(&first.payload[..], b"early");
    assert!(
        !texts(&emu, "s").iter().any(|t| t.starts_with("REPORT ")),
        "the invocation must still be running"
    );
    std::fs::write(&flag, b"go").unwrap();
    let (chunks, complete) = events.rest().await;
    assert_eq!(concat(&chunks), b"late");
    assert_eq!(complete.error_code, None);
    let _ = std::fs::remove_file(flag);
}

#[tokio::test]
async fn trailers_become_the_error_of_invoke_complete_and_tail_comes_with_it() {
    let emu = start(vec![stream_fn("s", "events")]).await;
    let event = json!({
        "print": "about to fail",
        "chunks": ["partial"],
        "fail": {"type": "StreamBroke", "message": "disk on fire"}
    });
    let open = invoke_stream(
        emu.endpoint(),
        "s",
        &[("x-amz-log-type", "Tail")],
        &event.to_string(),
    )
    .await;
    assert_eq!(open.status, 200);
    let (chunks, complete) = Events::new(open).rest().await;
    assert_eq!(concat(&chunks), b"partial");
    assert_eq!(complete.error_code.as_deref(), Some("StreamBroke"));
    assert_eq!(complete.error_details.as_deref(), Some("disk on fire"));
    let log = base64::engine::general_purpose::STANDARD
        .decode(complete.log_result.expect("LogResult with Tail"))
        .unwrap();
    let log = String::from_utf8(log).unwrap();
    assert!(log.contains("about to fail"), "{log}");
    assert!(log.contains("REPORT RequestId:"), "{log}");
    // The environment stays warm after a failed stream.
    let r = emu
        .invoke("s", r#"{"buffered": {"again": true}}"#)
        .await
        .unwrap();
    assert_eq!(r.json().unwrap(), json!({"again": true}));
    let starts = texts(&emu, "s")
        .iter()
        .filter(|t| t.starts_with("INIT_START"))
        .count();
    assert_eq!(starts, 1);
}

#[tokio::test]
async fn runtime_done_spans_cover_the_whole_stream_and_count_its_bytes() {
    // Under the JSON log format at DEBUG, `platform.runtimeDone` records are in the log.
    let logging = firebox_emulator::LoggingConfig {
        system_level: Some(firebox_emulator::LogLevel::Debug),
        ..firebox_emulator::LoggingConfig::json()
    };
    let emu = start(vec![stream_fn("s", "events").logging(logging)]).await;
    let streamed = json!({"chunks": ["one", "two"], "delay_ms": 200});
    let failing = json!({"chunks": ["partial"], "fail": {"type": "StreamBroke", "message": "no"}});
    for event in [streamed, failing] {
        let open = invoke_stream(emu.endpoint(), "s", &[], &event.to_string()).await;
        Events::new(open).rest().await;
    }
    let done: Vec<serde_json::Value> = texts(&emu, "s")
        .iter()
        .filter_map(|t| serde_json::from_str::<serde_json::Value>(t).ok())
        .filter(|r| r["type"] == "platform.runtimeDone")
        .map(|r| r["record"].clone())
        .collect();
    assert_eq!(done.len(), 2, "{done:#?}");
    // Both streams count their bytes and have both spans; the sending of the first lasted
    // over its 200 ms pause between chunks.
    for (record, bytes) in [(&done[0], 6), (&done[1], 7)] {
        assert_eq!(record["metrics"]["producedBytes"], bytes, "{record}");
        let names: Vec<&str> = record["spans"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["responseLatency", "responseDuration"], "{record}");
    }
    let sending = done[0]["spans"][1]["durationMs"].as_f64().unwrap();
    assert!(sending >= 200.0, "{}", done[0]);
    // The trailer's `StreamBroke`, as the platform names a type not of the `Runtime.Xyz` form.
    assert_eq!(
        (done[1]["status"].as_str(), done[1]["errorType"].as_str()),
        (Some("error"), Some("Runtime.Unknown"))
    );
}

#[tokio::test]
async fn trailers_are_read_even_when_not_announced() {
    let emu = start(vec![stream_fn("s", "events")]).await;
    let event = json!({"chunks": ["x"], "no_trailer_decl": true, "fail": {"type": "Quiet", "message": "m"}});
    let open = invoke_stream(emu.endpoint(), "s", &[], &event.to_string()).await;
    let (_, complete) = Events::new(open).rest().await;
    assert_eq!(complete.error_code.as_deref(), Some("Quiet"));
}

#[tokio::test]
async fn buffered_function_answers_in_one_chunk_and_errors_in_invoke_complete() {
    let emu = start(vec![function("plain", "")]).await;
    let open = invoke_stream(emu.endpoint(), "plain", &[], r#"{"k": "v"}"#).await;
    assert_eq!(open.status, 200);
    let (chunks, complete) = Events::new(open).rest().await;
    assert_eq!(chunks.len(), 1);
    let body: serde_json::Value = serde_json::from_slice(&chunks[0]).unwrap();
    assert_eq!(body["event"], json!({"k": "v"}));
    assert_eq!(complete.error_code, None);

    let event = json!({"error": {"type": "Nope", "message": "bad"}});
    let open = invoke_stream(
        emu.endpoint(),
        "plain",
        &[("x-amz-log-type", "Tail")],
        &event.to_string(),
    )
    .await;
    let (chunks, complete) = Events::new(open).rest().await;
    assert!(chunks.is_empty());
    assert_eq!(complete.error_code.as_deref(), Some("Nope"));
    assert_eq!(complete.error_details.as_deref(), Some("bad"));
    assert!(complete.log_result.is_some());
}

#[tokio::test]
async fn service_errors_are_answered_before_any_event() {
    let emu = start(vec![stream_fn("s", "events")]).await;
    let e = emu.endpoint();
    let r = invoke_stream(e, "missing", &[], "{}").await;
    assert_eq!(r.status, 404);
    assert_eq!(
        r.header("x-amzn-errortype"),
        Some("ResourceNotFoundException")
    );
    let body: serde_json::Value = serde_json::from_slice(&r.bytes().await).unwrap();
    assert!(body["message"]
        .as_str()
        .unwrap()
        .contains(":function:missing"));
    let r = invoke_stream(e, "s", &[], "{not json").await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.header("x-amzn-errortype"),
        Some("InvalidRequestContentException")
    );
    let r = invoke_stream(e, "s", &[("x-amz-invocation-type", "Event")], "{}").await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.header("x-amzn-errortype"),
        Some("InvalidParameterValueException")
    );
    let r = invoke_stream(e, "s", &[("x-amz-invocation-type", "DryRun")], "{}").await;
    assert_eq!(r.status, 204);
    let r = open(
        e,
        "GET",
        "/2021-11-15/functions/s/response-streaming-invocations",
        &[],
        "",
    )
    .await;
    // Lambda matches an operation by method and path: GET there is no operation.
    assert_eq!(r.status, 404);
    assert_eq!(
        r.header("x-amzn-errortype"),
        Some("UnknownOperationException")
    );
    let big = format!("\"{}\"", "x".repeat(6 * 1024 * 1024 + 10));
    let r = invoke_stream(e, "s", &[], &big).await;
    assert_eq!(r.status, 413);
    assert_eq!(
        r.header("x-amzn-errortype"),
        Some("RequestTooLargeException")
    );
    assert!(texts(&emu, "s").is_empty(), "nothing ran");
}

#[tokio::test]
async fn plain_invoke_buffers_a_stream_and_fails_past_6_mb() {
    let emu = start(vec![stream_fn("s", "events")]).await;
    let r = emu
        .invoke("s", json!({"chunks": ["a", "b", "c"]}).to_string())
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "abc");
    assert!(r.function_error.is_none());

    let r = emu
        .invoke(
            "s",
            json!({"chunks": ["a"], "fail": {"type": "Mid", "message": "m"}}).to_string(),
        )
        .await
        .unwrap();
    assert_eq!(r.function_error.as_deref(), Some("Unhandled"));
    assert_eq!(r.error_type().as_deref(), Some("Mid"));

    // 7 MiB streamed: more than a buffered answer may hold.
    let r = emu
        .invoke("s", json!({"repeat": [112, 65536]}).to_string())
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.function_error.as_deref(), Some("Unhandled"));
    assert_eq!(
        r.error_type().as_deref(),
        Some("Function.ResponseSizeTooLarge")
    );
    // The environment saw a stream within its limit: the caller's side says why in the log.
    let id = r.request_id.clone().unwrap();
    let want = format!("RequestId: {id} Error: Response payload size exceeded maximum allowed payload size (6291556 bytes).");
    wait_for_line(&emu, "s", |t| t == want).await;
    // The runtime's stream was drained, not stalled: the environment serves the next invoke.
    wait_for_line(&emu, "s", |t| t == "STREAM 202").await;
    let r = emu.invoke("s", r#"{"buffered": 1}"#).await.unwrap();
    assert_eq!(r.text(), "1");
}

#[tokio::test]
async fn large_streams_pass_whole_and_the_limit_is_enforced() {
    let emu = start(vec![
        stream_fn("s", "events"),
        stream_fn("small", "events").stream_max_bytes(100_000),
    ])
    .await;
    // 20 MiB in 64 KiB chunks, every byte checked.
    let open = invoke_stream(
        emu.endpoint(),
        "s",
        &[],
        &json!({"repeat": [320, 65536]}).to_string(),
    )
    .await;
    let (chunks, complete) = Events::new(open).rest().await;
    assert_eq!(complete.error_code, None);
    let all = concat(&chunks);
    assert_eq!(all.len(), 320 * 65536);
    assert!(all
        .chunks(65536)
        .all(|c| c.iter().enumerate().all(|(i, b)| *b == (i % 251) as u8)));

    let open = invoke_stream(
        emu.endpoint(),
        "small",
        &[],
        &json!({"repeat": [4, 65536]}).to_string(),
    )
    .await;
    let (chunks, complete) = Events::new(open).rest().await;
    assert!(concat(&chunks).len() <= 100_000);
    assert_eq!(
        complete.error_code.as_deref(),
        Some("Function.ResponseSizeTooLarge")
    );
    wait_for_line(&emu, "small", |t| t == "STREAM 413").await;
}

#[tokio::test]
async fn bandwidth_shape_still_delivers_every_byte() {
    let emu = start(vec![stream_fn("s", "events").stream_bandwidth_shape(true)]).await;
    // 6 MiB + 256 KiB: the tail goes through the rate limit.
    let open = invoke_stream(
        emu.endpoint(),
        "s",
        &[],
        &json!({"repeat": [100, 65536]}).to_string(),
    )
    .await;
    let (chunks, complete) = Events::new(open).rest().await;
    assert_eq!(complete.error_code, None);
    assert_eq!(concat(&chunks).len(), 100 * 65536);
}

#[tokio::test]
async fn a_caller_that_leaves_does_not_stall_the_environment() {
    let emu = start(vec![stream_fn("s", "events")]).await;
    let flag = flag_path("leave");
    // 64 MiB: far more than any buffer between the runtime and the caller.
    let event = json!({"chunks": ["start"], "repeat": [1024, 65536], "wait_file": flag.display().to_string()});
    let open = invoke_stream(emu.endpoint(), "s", &[], &event.to_string()).await;
    let mut events = Events::new(open);
    assert_eq!(&events.next().await.unwrap().payload[..], b"start");
    drop(events); // the caller goes away mid-stream
    std::fs::write(&flag, b"go").unwrap();
    // The invocation completes and is logged; the runtime was answered 202.
    wait_for_line(&emu, "s", |t| t == "STREAM 202").await;
    wait_for_line(&emu, "s", |t| t.starts_with("REPORT ")).await;
    let r = emu
        .invoke("s", r#"{"buffered": "still here"}"#)
        .await
        .unwrap();
    assert_eq!(r.json().unwrap(), json!("still here"));
    let _ = std::fs::remove_file(flag);
}

#[tokio::test]
async fn a_timeout_mid_stream_ends_the_stream_with_sandbox_timedout() {
    let emu = start(vec![
        stream_fn("s", "events").timeout(std::time::Duration::from_secs(1))
    ])
    .await;
    let flag = flag_path("never-created");
    let event = json!({"chunks": ["a", "b"], "wait_file": flag.display().to_string()});
    let open = invoke_stream(emu.endpoint(), "s", &[], &event.to_string()).await;
    let (chunks, complete) = Events::new(open).rest().await;
    assert_eq!(concat(&chunks), b"a");
    assert_eq!(complete.error_code.as_deref(), Some("Sandbox.Timedout"));
}

/// Node's aws-lambda-ric ends a failed stream and calls `/next` without waiting for the answer
/// to its stream: that `/next` may arrive before the end of the stream. It waits for the next
/// event; it used to be refused (400), and the runtime exited.
#[tokio::test]
async fn a_next_that_arrives_before_the_end_of_the_stream_waits_for_the_next_event() {
    let emu = start(vec![stream_fn("s", "events")]).await;
    for (i, event) in [
        json!({"chunks": ["a", "b"], "next_before_end": true}),
        json!({"chunks": ["c"], "next_before_end": true,
               "fail": {"type": "Late", "message": "after the next"}}),
        json!({"chunks": ["d"]}),
    ]
    .iter()
    .enumerate()
    {
        let open = invoke_stream(emu.endpoint(), "s", &[], &event.to_string()).await;
        assert_eq!(open.status, 200);
        let (chunks, complete) = Events::new(open).rest().await;
        let want: &[u8] = [&b"ab"[..], b"c", b"d"][i];
        assert_eq!(concat(&chunks), want, "invocation {i}");
        let error = (i == 1).then(|| "Late".to_owned());
        assert_eq!(complete.error_code, error, "invocation {i}");
    }
    let texts = texts(&emu, "s");
    assert!(
        !texts.iter().any(|l| l.starts_with("next failed")),
        "{texts:#?}"
    );
    assert_eq!(reports(&emu, "s").len(), 3, "{texts:#?}");
}
