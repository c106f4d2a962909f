//! The Firebox examples through the emulator: `streaming` with the streaming Invoke API,
//! `axum-http` behind a buffered function URL, `url-stream` behind a `RESPONSE_STREAM` URL.
//! The example binaries are built on demand into the current target directory.

mod common;
mod streaming_support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::*;
use firebox_emulator::url::{InvokeMode, UrlConfig};
use firebox_emulator::FunctionConfig;
use serde_json::{json, Value};
use streaming_support::*;

fn example(name: &str) -> FunctionConfig {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let target = std::env::var_os("FIREBOX_TARGET_DIR")
        .or_else(|| std::env::var_os("CARGO_TARGET_DIR"))
        .map(PathBuf::from)
        .unwrap_or_else(|| repo.join("target"));
    let bin = target.join("debug").join(name);
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    // Always (re)built: cargo does nothing when the binary is up to date.
    let status = Command::new(cargo)
        .args(["build", "-q", "-p", name, "--bin", name])
        .env("CARGO_TARGET_DIR", &target)
        .current_dir(&repo)
        .status()
        .expect("run cargo build");
    assert!(status.success(), "cannot build example {name}");
    FunctionConfig::new(name)
        .command([bin.display().to_string()])
        .timeout(Duration::from_secs(30))
}

#[tokio::test]
async fn streaming_example_large_failing_and_buffered() {
    let emu = start(vec![example("streaming")]).await;
    let e = emu.endpoint();
    let open = invoke_stream(e, "streaming", &[], r#"{"mode":"large","mib":8}"#).await;
    assert_eq!(open.status, 200);
    let (chunks, complete) = Events::new(open).rest().await;
    assert_eq!(complete.error_code, None);
    let all = concat(&chunks);
    assert_eq!(all.len(), 8 * 1024 * 1024);
    assert!(all.iter().enumerate().all(|(i, b)| *b == (i % 251) as u8));

    let open = invoke_stream(e, "streaming", &[], r#"{"mode":"fail_midway"}"#).await;
    let (chunks, complete) = Events::new(open).rest().await;
    assert_eq!(concat(&chunks), b"chunk 1\nchunk 2\nchunk 3\n");
    assert_eq!(complete.error_code.as_deref(), Some("StreamInterrupted"));
    assert_eq!(
        complete.error_details.as_deref(),
        Some("the stream failed after 3 chunks")
    );

    let open = invoke_stream(e, "streaming", &[], r#"{"mode":"buffered"}"#).await;
    let (chunks, complete) = Events::new(open).rest().await;
    assert_eq!(chunks.len(), 1);
    let body: Value = serde_json::from_slice(&chunks[0]).unwrap();
    assert_eq!(body, json!({"mode": "buffered", "streamed": false}));
    assert_eq!(complete.error_code, None);

    // The plain Invoke API buffers a small stream and refuses one over 6 MB.
    let r = emu
        .invoke("streaming", r#"{"mode":"large","mib":1}"#)
        .await
        .unwrap();
    assert_eq!(r.body.len(), 1024 * 1024);
    let r = emu
        .invoke("streaming", r#"{"mode":"large","mib":7}"#)
        .await
        .unwrap();
    assert_eq!(
        r.error_type().as_deref(),
        Some("Function.ResponseSizeTooLarge")
    );
}

#[tokio::test]
async fn axum_example_behind_a_function_url() {
    let emu = start(vec![example("axum-http").url(UrlConfig::default())]).await;
    let e = emu.endpoint();
    let host = format!("axum-http.lambda-url.localhost:{}", emu.addr().port());
    let h = host.as_str();
    let r = open(e, "GET", "/hello/firebox", &[("host", h)], "").await;
    assert_eq!(r.status, 200);
    assert_eq!(&r.bytes().await[..], b"Hello, firebox!");
    let r = open(
        e,
        "POST",
        "/echo",
        &[("host", h), ("content-type", "application/json")],
        r#"{"a":[1,2]}"#,
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        serde_json::from_slice::<Value>(&r.bytes().await).unwrap(),
        json!({"a": [1, 2]})
    );
    let r = open(
        e,
        "POST",
        "/echo",
        &[("host", h), ("content-type", "application/json")],
        "nope",
    )
    .await;
    assert_eq!(r.status, 400);
    let r = open(e, "GET", "/binary", &[("host", h)], "").await;
    assert_eq!(r.header("content-type"), Some("image/png"));
    let png = r.bytes().await;
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let r = open(e, "GET", "/cookies", &[("host", h)], "").await;
    let cookies: Vec<String> = r
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    assert!(
        cookies.iter().any(|c| c.starts_with("flavor=chocolate")),
        "{cookies:?}"
    );
    assert!(
        cookies.iter().any(|c| c.starts_with("session=abc123")),
        "{cookies:?}"
    );
    let r = open(
        e,
        "GET",
        "/lambda-url/axum-http/query?x=1&x=2&y=h%C3%A9",
        &[],
        "",
    )
    .await;
    assert_eq!(r.status, 200);
    let pairs: Value = serde_json::from_slice(&r.bytes().await).unwrap();
    assert_eq!(pairs, json!([["x", "1"], ["x", "2"], ["y", "hé"]]));
}

#[tokio::test]
async fn url_stream_example_sends_events_as_produced() {
    let emu = start(vec![example("url-stream").url(UrlConfig {
        invoke_mode: InvokeMode::ResponseStream,
        cors: None,
        qualifier: None,
    })])
    .await;
    let mut r = open(
        emu.endpoint(),
        "GET",
        "/lambda-url/url-stream/?count=3&delay_ms=50",
        &[],
        "",
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/event-stream"));
    let mut got = Vec::new();
    while let Some(data) = r.next_data().await {
        got.extend_from_slice(&data);
    }
    let text = String::from_utf8(got).unwrap();
    let events: Vec<&str> = text.split("\n\n").filter(|s| !s.is_empty()).collect();
    assert_eq!(events.len(), 3, "{text}");
    assert_eq!(events[0], r#"data: {"n":1,"of":3}"#);
    // A HEAD has the GET's headers: no length, as the stream has none (the adapter's own
    // `content-length: 0` for the empty HEAD body is not the URL's framing).
    let r = open(
        emu.endpoint(),
        "HEAD",
        "/lambda-url/url-stream/?count=1&delay_ms=0",
        &[],
        "",
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/event-stream"));
    assert_eq!(r.header("content-length"), None, "{:?}", r.headers);
    let r = open(
        emu.endpoint(),
        "GET",
        "/lambda-url/url-stream/?count=abc",
        &[],
        "",
    )
    .await;
    assert_eq!(r.status, 400);
}
