//! Function URLs through a real HTTP client (hyper): routing by host name and by path
//! prefix, the payload format 2.0 event, response objects and bare values, binary bodies,
//! cookies, query strings, repeated headers, errors, CORS preflight, and `RESPONSE_STREAM`
//! responses that reach the client before the function finishes.

mod common;
mod streaming_support;

use common::*;
use firebox_emulator::url::{Cors, InvokeMode, UrlConfig};
use firebox_emulator::FunctionConfig;
use serde_json::{json, Value};
use streaming_support::*;

fn url_fn(name: &str, mode: InvokeMode) -> FunctionConfig {
    stream_fn(name, "url").url(UrlConfig {
        invoke_mode: mode,
        cors: Some(Cors {
            allow_origins: vec!["https://app.example".into()],
            allow_methods: vec!["GET".into(), "POST".into()],
            allow_headers: vec!["x-custom".into(), "content-type".into()],
            expose_headers: vec!["x-echo".into()],
            max_age: Some(300),
            allow_credentials: true,
        }),
        qualifier: None,
    })
}

fn echoed(body: &[u8]) -> Value {
    serde_json::from_slice(body).expect("echoed event")
}

#[tokio::test]
async fn the_event_carries_the_callers_trace_header_or_a_new_one() {
    let emu = start(vec![url_fn("web", InvokeMode::Buffered)]).await;
    let host = format!("web.lambda-url.localhost:{}", emu.addr().port());
    let sampled = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
    let headers = [("host", host.as_str()), ("x-amzn-trace-id", sampled)];
    let r = open(emu.endpoint(), "GET", "/", &headers, "").await;
    assert_eq!(r.status, 200);
    assert_eq!(
        echoed(&r.bytes().await)["headers"]["x-amzn-trace-id"],
        sampled
    );
    let r = open(emu.endpoint(), "GET", "/", &[("host", host.as_str())], "").await;
    let event = echoed(&r.bytes().await);
    let trace = event["headers"]["x-amzn-trace-id"].as_str().unwrap();
    assert!(
        trace.starts_with("Root=1-")
            && trace.ends_with(";Sampled=0")
            && trace.len() == sampled.len(),
        "{trace}"
    );
}

#[tokio::test]
async fn host_and_path_routes_build_the_2_0_event() {
    let emu = start(vec![url_fn("web", InvokeMode::Buffered)]).await;
    let e = emu.endpoint();
    let port = emu.addr().port();
    let host = format!("web.lambda-url.localhost:{port}");
    let r = open(
        e,
        "POST",
        "/items/42?tag=a&tag=b&q=hello%20world",
        &[
            ("host", host.as_str()),
            ("x-multi", "one"),
            ("x-multi", "two"),
            ("cookie", "session=abc; theme=dark"),
            ("content-type", "application/json"),
            ("user-agent", "firebox-test"),
        ],
        r#"{"n":1}"#,
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("x-echo"), Some("1"));
    let cookies: Vec<_> = r
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    assert_eq!(cookies, vec!["a=1; Path=/", "b=2"]);
    let event = echoed(&r.bytes().await);
    assert_eq!(event["version"], "2.0");
    assert_eq!(event["routeKey"], "$default");
    assert_eq!(event["rawPath"], "/items/42");
    assert_eq!(event["rawQueryString"], "tag=a&tag=b&q=hello%20world");
    assert_eq!(
        event["queryStringParameters"],
        json!({"tag": "a,b", "q": "hello world"})
    );
    assert_eq!(event["cookies"], json!(["session=abc", "theme=dark"]));
    assert_eq!(event["headers"]["x-multi"], "one,two");
    assert!(event["headers"].get("cookie").is_none());
    assert_eq!(event["body"], r#"{"n":1}"#);
    assert_eq!(event["isBase64Encoded"], false);
    let ctx = &event["requestContext"];
    assert_eq!(ctx["http"]["method"], "POST");
    assert_eq!(ctx["http"]["path"], "/items/42");
    assert_eq!(ctx["http"]["sourceIp"], "127.0.0.1");
    assert_eq!(ctx["http"]["userAgent"], "firebox-test");
    assert_eq!(ctx["domainName"], "web.lambda-url.localhost");
    assert_eq!(ctx["domainPrefix"], "web");
    // AuthType NONE: Lambda names the caller `anonymous`.
    assert_eq!(ctx["accountId"], "anonymous");
    assert!(ctx.get("authorizer").is_none(), "{ctx}");
    // The headers Lambda's front end adds (plain HTTP on the emulator's port here).
    assert_eq!(event["headers"]["x-forwarded-for"], "127.0.0.1");
    assert_eq!(event["headers"]["x-forwarded-proto"], "http");
    assert_eq!(event["headers"]["x-forwarded-port"], port.to_string());
    assert!(ctx["timeEpoch"].as_u64().unwrap() > 1_600_000_000_000);
    assert!(ctx["time"].as_str().unwrap().ends_with(" +0000"));
    let first_id = ctx["requestId"].as_str().unwrap().to_owned();

    // The same function by path prefix: the prefix is not part of rawPath.
    let r = open(e, "GET", "/lambda-url/web/a/b", &[], "").await;
    assert_eq!(r.status, 200);
    let event = echoed(&r.bytes().await);
    assert_eq!(event["rawPath"], "/a/b");
    assert_eq!(event["rawQueryString"], "");
    assert!(event.get("queryStringParameters").is_none());
    assert!(event.get("body").is_none());
    assert_ne!(event["requestContext"]["requestId"], first_id.as_str());

    // A form (what `curl -d` and an HTML form send) and a body without a content type come
    // base64-encoded, as a function URL sends them; JSON and text as they are.
    for (content_type, base64) in [
        (Some("application/x-www-form-urlencoded"), true),
        (None, true),
        (Some("text/plain; charset=utf-8"), false),
        (Some("application/json"), false),
    ] {
        let headers: Vec<(&str, &str)> = content_type
            .map(|ct| ("content-type", ct))
            .into_iter()
            .collect();
        let r = open(e, "POST", "/lambda-url/web/form", &headers, "a=1&b=two").await;
        let event = echoed(&r.bytes().await);
        assert_eq!(
            event["isBase64Encoded"], base64,
            "{content_type:?}: {event}"
        );
        let body = if base64 { "YT0xJmI9dHdv" } else { "a=1&b=two" };
        assert_eq!(event["body"], body, "{content_type:?}");
    }
}

#[tokio::test]
async fn binary_bodies_both_ways_and_bare_values() {
    let emu = start(vec![url_fn("web", InvokeMode::Buffered)]).await;
    let e = emu.endpoint();
    let bytes: Vec<u8> = (0..=255u8).collect();
    let r = open(
        e,
        "PUT",
        "/lambda-url/web/upload",
        &[("content-type", "application/octet-stream")],
        bytes.clone(),
    )
    .await;
    let event = echoed(&r.bytes().await);
    assert_eq!(event["isBase64Encoded"], true);
    use base64::Engine;
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(event["body"].as_str().unwrap())
            .unwrap(),
        bytes
    );
    let r = open(e, "GET", "/lambda-url/web/binary", &[], "").await;
    assert_eq!(r.header("content-type"), Some("application/octet-stream"));
    assert_eq!(r.bytes().await.to_vec(), bytes);
    let r = open(e, "GET", "/lambda-url/web/bare", &[], "").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(echoed(&r.bytes().await), json!({"bare": [1, 2]}));
}

#[tokio::test]
async fn errors_as_a_function_url_gives_them() {
    let emu = start(vec![
        url_fn("web", InvokeMode::Buffered),
        stream_fn("nourl", "url"),
    ])
    .await;
    let e = emu.endpoint();
    let r = open(e, "GET", "/lambda-url/web/fail", &[], "").await;
    assert_eq!(r.status, 502);
    let r = open(e, "GET", "/lambda-url/web/notjson", &[], "").await;
    assert_eq!(r.status, 502);
    let big = vec![b'x'; 6 * 1024 * 1024 + 1];
    let r = open(
        e,
        "POST",
        "/lambda-url/web/big",
        &[("content-type", "text/plain")],
        big,
    )
    .await;
    assert_eq!(r.status, 413);
    let r = open(e, "GET", "/lambda-url/nourl/", &[], "").await;
    assert_eq!(r.status, 404);
    let r = open(e, "GET", "/lambda-url/missing/", &[], "").await;
    assert_eq!(r.status, 404);
    // The function still serves after its errors.
    let r = open(e, "GET", "/lambda-url/web/ok", &[], "").await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn cors_preflight_is_answered_from_the_configuration() {
    let emu = start(vec![url_fn("web", InvokeMode::Buffered)]).await;
    let e = emu.endpoint();
    let r = open(
        e,
        "OPTIONS",
        "/lambda-url/web/x",
        &[
            ("origin", "https://app.example"),
            ("access-control-request-method", "POST"),
        ],
        "",
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    assert_eq!(r.header("access-control-allow-methods"), Some("GET,POST"));
    assert_eq!(
        r.header("access-control-allow-headers"),
        Some("x-custom,content-type")
    );
    assert_eq!(r.header("access-control-max-age"), Some("300"));
    assert_eq!(r.header("access-control-allow-credentials"), Some("true"));
    assert!(
        texts(&emu, "web").is_empty(),
        "a preflight does not invoke the function"
    );

    let r = open(
        e,
        "OPTIONS",
        "/lambda-url/web/x",
        &[
            ("origin", "https://evil.example"),
            ("access-control-request-method", "POST"),
        ],
        "",
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("access-control-allow-origin"), None);

    let r = open(
        e,
        "GET",
        "/lambda-url/web/x",
        &[("origin", "https://app.example")],
        "",
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    assert_eq!(r.header("access-control-expose-headers"), Some("x-echo"));
}

#[tokio::test]
async fn response_stream_arrives_before_the_function_finishes() {
    let emu = start(vec![url_fn("live", InvokeMode::ResponseStream)]).await;
    let flag = flag_path("url-stream");
    let path = format!("/lambda-url/live/stream?flag={}", flag.display());
    let mut r = open(emu.endpoint(), "GET", &path, &[], "").await;
    // The head comes from the prelude, while the function still waits for the flag.
    assert_eq!(r.status, 201);
    assert_eq!(r.header("content-type"), Some("text/event-stream"));
    assert_eq!(r.header("x-s"), Some("1"));
    assert_eq!(r.header("set-cookie"), Some("c=3; Path=/"));
    assert_eq!(r.header("transfer-encoding"), Some("chunked"));
    let mut got = Vec::new();
    while !got.ends_with(b"data: first\n\n") {
        got.extend_from_slice(&r.next_data().await.expect("first event"));
    }
    assert_eq!(got, b"data: first\n\n");
    assert!(!texts(&emu, "live").iter().any(|t| t.starts_with("REPORT ")));
    std::fs::write(&flag, b"go").unwrap();
    let rest = r.bytes().await;
    assert_eq!(&rest[..], b"data: second\n\n");
    let _ = std::fs::remove_file(flag);

    let r = open(
        emu.endpoint(),
        "GET",
        "/lambda-url/live/stream-plain",
        &[],
        "",
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/plain"));
    assert_eq!(&r.bytes().await[..], b"plain stream");

    // A buffered answer through a RESPONSE_STREAM URL is mapped as usual.
    let r = open(emu.endpoint(), "GET", "/lambda-url/live/binary", &[], "").await;
    assert_eq!(r.bytes().await.len(), 256);
}

#[tokio::test]
async fn a_stream_failing_midway_truncates_the_response() {
    let emu = start(vec![url_fn("live", InvokeMode::ResponseStream)]).await;
    let mut r = open(
        emu.endpoint(),
        "GET",
        "/lambda-url/live/stream-fail",
        &[],
        "",
    )
    .await;
    assert_eq!(r.status, 200);
    let mut got = Vec::new();
    let mut failed = false;
    while let Some(frame) = http_body_util::BodyExt::frame(&mut r.body).await {
        match frame {
            Ok(f) => got.extend_from_slice(&f.into_data().unwrap_or_default()),
            Err(_) => {
                failed = true;
                break;
            }
        }
    }
    assert_eq!(got, b"partial");
    assert!(failed, "the client must see an incomplete response");
}

/// A raw stream (no prelude) that fails before its first byte: the response had not started,
/// so the URL answers 502, as for any function error, not an empty reply.
#[tokio::test]
async fn a_stream_failing_before_its_first_byte_is_a_502() {
    let emu = start(vec![url_fn("live", InvokeMode::ResponseStream)]).await;
    let r = open(
        emu.endpoint(),
        "GET",
        "/lambda-url/live/stream-fail-early",
        &[],
        "",
    )
    .await;
    assert_eq!(r.status, 502);
    assert_eq!(
        &r.bytes().await[..],
        br#"{"Message":"Internal Server Error"}"#
    );
    // The environment stays warm: the next request is answered.
    let r = open(
        emu.endpoint(),
        "GET",
        "/lambda-url/live/stream-plain",
        &[],
        "",
    )
    .await;
    assert_eq!(&r.bytes().await[..], b"plain stream");
}

#[tokio::test]
async fn buffered_url_collects_a_streamed_http_response() {
    let emu = start(vec![url_fn("web", InvokeMode::Buffered)]).await;
    let flag = flag_path("buffered-url");
    std::fs::write(&flag, b"go").unwrap();
    let path = format!("/lambda-url/web/stream?flag={}", flag.display());
    let r = open(emu.endpoint(), "GET", &path, &[], "").await;
    assert_eq!(r.status, 201);
    assert_eq!(r.header("content-type"), Some("text/event-stream"));
    assert!(
        r.header("content-length").is_some(),
        "buffered: not chunked"
    );
    assert_eq!(&r.bytes().await[..], b"data: first\n\ndata: second\n\n");
    let _ = std::fs::remove_file(flag);
}

/// A function with reserved concurrency 1 takes at most 10 URL requests a second (Lambda's
/// 10 × reserved concurrency): a quick burst of 30 gets 429 `Rate Exceeded.` past about ten,
/// while a function without a reservation takes them all.
#[tokio::test]
async fn url_requests_beyond_ten_times_the_reserved_concurrency_per_second_get_429() {
    let emu = start(vec![
        url_fn("capped", InvokeMode::Buffered).reserved_concurrency(1),
        url_fn("free", InvokeMode::Buffered),
    ])
    .await;
    let mut statuses = Vec::new();
    let started = std::time::Instant::now();
    for _ in 0..30 {
        let r = send(emu.endpoint(), "GET", "/lambda-url/capped/bare", &[], "").await;
        if r.status == 429 {
            assert_eq!(&r.body[..], br#"{"Message":"Rate Exceeded."}"#);
        }
        statuses.push(r.status.as_u16());
    }
    let ok = statuses.iter().filter(|s| **s == 200).count();
    let throttled = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(ok + throttled, 30, "{statuses:?}");
    // Ten at once, plus what the bucket refilled (10 a second) while the burst lasted.
    let elapsed = started.elapsed().as_secs_f64();
    let most = 10 + (elapsed * 10.0).ceil() as usize + 1;
    assert!(
        ok >= 10 && ok <= most,
        "{ok} in {elapsed:.2} s: {statuses:?}"
    );
    if elapsed < 1.0 {
        assert!(throttled > 0, "{statuses:?}");
    }
    for _ in 0..30 {
        let r = send(emu.endpoint(), "GET", "/lambda-url/free/bare", &[], "").await;
        assert_eq!(r.status, 200);
    }
}
