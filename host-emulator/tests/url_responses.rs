//! What a function URL sends on of the function's answer, read off the wire: the framing is
//! the URL's own (the function's `content-length` and hop-by-hop headers are dropped), the
//! configured CORS headers replace the function's, a `HEAD` says what the `GET` would, a
//! prelude without a content type is `application/octet-stream`, and an answer the URL cannot
//! map is a 502 whose reason is on the function's log stream.

mod common;
mod streaming_support;

use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use firebox_emulator::url::{Cors, InvokeMode, UrlConfig};
use firebox_emulator::{FunctionConfig, LogSource};
use serde_json::json;
use streaming_support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A function of the streaming test runtime with a URL in `mode`, with or without CORS.
fn url_fn(name: &str, mode: InvokeMode, cors: bool) -> FunctionConfig {
    stream_fn(name, "url").url(UrlConfig {
        invoke_mode: mode,
        cors: cors.then(|| Cors {
            allow_origins: vec!["https://app.example".into()],
            allow_methods: vec!["GET".into(), "POST".into()],
            allow_headers: vec!["content-type".into()],
            expose_headers: vec!["x-echo".into()],
            max_age: Some(300),
            allow_credentials: true,
        }),
        qualifier: None,
    })
}

/// An answer as it came over the wire.
struct Wire {
    status: u16,
    /// The header lines in order, names in lower case.
    headers: Vec<(String, String)>,
    /// The body, decoded from chunked encoding when it was chunked.
    body: Vec<u8>,
}

impl Wire {
    /// Every value of header `name`.
    fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The value of header `name`, which must not be repeated.
    fn one(&self, name: &str) -> Option<&str> {
        let all = self.all(name);
        assert!(all.len() <= 1, "`{name}` repeated: {:?}", self.headers);
        all.first().copied()
    }

    /// The names of the `access-control-*` headers.
    fn cors_names(&self) -> Vec<&str> {
        self.headers
            .iter()
            .map(|(n, _)| n.as_str())
            .filter(|n| n.starts_with("access-control-"))
            .collect()
    }
}

/// Sends one request on a new keep-alive connection and reads its answer to the end its own
/// framing gives (a length, chunked encoding, or the end of the connection when it has
/// neither). A framing that promises more than is sent never ends: the read times out.
async fn exchange(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Wire {
    let read = read_answer(addr, method, path, headers, body);
    tokio::time::timeout(Duration::from_secs(15), read)
        .await
        .unwrap_or_else(|_| panic!("{method} {path}: the answer never ended"))
}

async fn read_answer(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Wire {
    let mut socket = TcpStream::connect(addr).await.expect("connect");
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    let mut bytes = request.into_bytes();
    bytes.extend_from_slice(body);
    socket.write_all(&bytes).await.expect("send");

    let mut buf = Vec::new();
    let head_end = loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        assert!(
            more(&mut socket, &mut buf).await,
            "{method} {path}: the connection closed before the head"
        );
    };
    let head = String::from_utf8(buf[..head_end].to_vec()).expect("head is text");
    let mut rest = buf.split_off(head_end + 4);
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut wire = Wire {
        status,
        headers,
        body: Vec::new(),
    };
    let chunked = wire.all("transfer-encoding");
    let lengths = wire.all("content-length");
    assert!(
        chunked.is_empty() || lengths.is_empty(),
        "{method} {path}: both a length and chunked encoding: {:?}",
        wire.headers
    );
    if method == "HEAD" || status == 204 || status == 304 {
        return wire;
    }
    if !chunked.is_empty() {
        assert_eq!(chunked, ["chunked"], "{method} {path}");
        wire.body = dechunk(&mut socket, &mut rest).await;
    } else if let [length] = lengths[..] {
        let length: usize = length.parse().expect("a length");
        while rest.len() < length {
            assert!(
                more(&mut socket, &mut rest).await,
                "{method} {path}: the connection closed after {} of {length} bytes",
                rest.len()
            );
        }
        assert_eq!(rest.len(), length, "{method} {path}: bytes past the length");
        wire.body = rest;
    } else {
        assert!(lengths.is_empty(), "{method} {path}: {:?}", wire.headers);
        while more(&mut socket, &mut rest).await {}
        wire.body = rest;
    }
    wire
}

/// Reads more bytes into `buf`; false at the end of the connection.
async fn more(socket: &mut TcpStream, buf: &mut Vec<u8>) -> bool {
    let mut chunk = [0u8; 16 * 1024];
    let n = socket.read(&mut chunk).await.unwrap_or(0);
    buf.extend_from_slice(&chunk[..n]);
    n > 0
}

/// Decodes a chunked body (`buf` holds what arrived after the head), through its last chunk
/// and trailer section.
async fn dechunk(socket: &mut TcpStream, buf: &mut Vec<u8>) -> Vec<u8> {
    let mut body = Vec::new();
    loop {
        let line_end = loop {
            if let Some(at) = buf.windows(2).position(|w| w == b"\r\n") {
                break at;
            }
            assert!(more(socket, buf).await, "closed inside a chunk size");
        };
        let size_text = String::from_utf8_lossy(&buf[..line_end]).to_string();
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .unwrap_or_else(|_| panic!("bad chunk size {size_text:?}"));
        buf.drain(..line_end + 2);
        if size == 0 {
            // Trailers (none expected), then the empty line.
            while !buf.windows(2).any(|w| w == b"\r\n") {
                assert!(more(socket, buf).await, "closed before the end of the body");
            }
            return body;
        }
        while buf.len() < size + 2 {
            assert!(more(socket, buf).await, "closed inside a chunk");
        }
        body.extend_from_slice(&buf[..size]);
        assert_eq!(&buf[size..size + 2], b"\r\n", "chunk not followed by CRLF");
        buf.drain(..size + 2);
    }
}

/// A stream body: the prelude, the 8 NUL bytes, then `body`.
fn with_prelude(prelude: &serde_json::Value, body: &str) -> Vec<u8> {
    let mut wire = prelude.to_string().into_bytes();
    wire.extend_from_slice(&[0; 8]);
    wire.extend_from_slice(body.as_bytes());
    wire
}

const BINARY: (&str, &str) = ("content-type", "application/octet-stream");

/// Request headers.
type Headers<'a> = &'a [(&'a str, &'a str)];

#[tokio::test]
async fn the_url_frames_the_body_whatever_framing_headers_the_function_sets() {
    let emu = start(vec![
        url_fn("buf", InvokeMode::Buffered, false),
        url_fn("live", InvokeMode::ResponseStream, false),
    ])
    .await;
    let addr = emu.addr();
    let framings = [
        json!({"content-length": "100"}),
        json!({"content-length": "2"}),
        json!({"transfer-encoding": "chunked", "content-length": "2"}),
        json!({"transfer-encoding": "identity", "connection": "close"}),
        json!({"Connection": "keep-alive, X-Hop", "keep-alive": "timeout=5", "x-hop": "1",
               "upgrade": "h2c", "te": "trailers", "trailer": "x-t", "proxy-connection": "close"}),
    ];
    for headers in &framings {
        let mut headers = headers.clone();
        headers["x-kept"] = "yes".into();

        let object = json!({"statusCode": 201, "headers": headers, "body": "BODY"});
        let r = exchange(
            addr,
            "POST",
            "/lambda-url/buf/respond",
            &[],
            object.to_string().as_bytes(),
        )
        .await;
        assert_eq!((r.status, &r.body[..]), (201, &b"BODY"[..]), "{headers}");
        assert_eq!(r.one("content-length"), Some("4"), "{headers}");
        assert_eq!(r.one("x-kept"), Some("yes"), "{headers}");
        for hop in [
            "connection",
            "keep-alive",
            "x-hop",
            "upgrade",
            "te",
            "trailer",
            "proxy-connection",
        ] {
            assert_eq!(r.one(hop), None, "{hop} of {headers}: {:?}", r.headers);
        }

        let prelude = json!({"statusCode": 202, "headers": headers});
        let stream = with_prelude(&prelude, "BODY");
        let r = exchange(
            addr,
            "POST",
            "/lambda-url/live/stream-body",
            &[BINARY],
            &stream,
        )
        .await;
        assert_eq!((r.status, &r.body[..]), (202, &b"BODY"[..]), "{headers}");
        assert_eq!(r.all("transfer-encoding"), ["chunked"], "{headers}");
        assert_eq!(r.one("x-kept"), Some("yes"), "{headers}");
        for hop in [
            "connection",
            "keep-alive",
            "x-hop",
            "upgrade",
            "te",
            "trailer",
        ] {
            assert_eq!(r.one(hop), None, "{hop} of {headers}: {:?}", r.headers);
        }
    }
}

#[tokio::test]
async fn configured_cors_replaces_the_functions_cors_headers_on_every_response() {
    let emu = start(vec![
        url_fn("buf", InvokeMode::Buffered, true),
        url_fn("live", InvokeMode::ResponseStream, true),
        url_fn("open", InvokeMode::Buffered, false),
    ])
    .await;
    let addr = emu.addr();
    let theirs = json!({
        "access-control-allow-origin": "*",
        "access-control-allow-credentials": "true",
        "access-control-expose-headers": "x-secret",
        "Access-Control-Max-Age": "9",
        "x-secret": "s",
    });
    let object = json!({"statusCode": 200, "headers": theirs, "body": "x"}).to_string();
    let stream = with_prelude(&json!({"statusCode": 200, "headers": theirs}), "x");
    let calls: [(&str, &[u8], Headers); 2] = [
        ("/lambda-url/buf/respond", object.as_bytes(), &[]),
        ("/lambda-url/live/stream-body", &stream, &[BINARY]),
    ];
    for (path, body, extra) in calls {
        // A disallowed origin and a request without one get no CORS headers at all.
        for origin in [Some("https://evil.example"), None] {
            let mut headers = extra.to_vec();
            headers.extend(origin.map(|o| ("origin", o)));
            let r = exchange(addr, "POST", path, &headers, body).await;
            assert_eq!((r.status, &r.body[..]), (200, &b"x"[..]), "{path}");
            assert!(
                r.cors_names().is_empty(),
                "{path} {origin:?}: {:?}",
                r.headers
            );
            assert_eq!(r.one("x-secret"), Some("s"));
        }
        // An allowed origin gets the configured values, not the function's.
        let mut headers = extra.to_vec();
        headers.push(("origin", "https://app.example"));
        let r = exchange(addr, "POST", path, &headers, body).await;
        assert_eq!(
            r.one("access-control-allow-origin"),
            Some("https://app.example"),
            "{path}"
        );
        assert_eq!(r.one("access-control-expose-headers"), Some("x-echo"));
        assert_eq!(r.one("access-control-allow-credentials"), Some("true"));
        assert_eq!(r.one("access-control-max-age"), None, "{path}");
        assert_eq!(r.one("vary"), Some("Origin"));
    }
    // Without CORS configured, the function's headers are its own business.
    let headers = [("origin", "https://evil.example")];
    let r = exchange(
        addr,
        "POST",
        "/lambda-url/open/respond",
        &headers,
        object.as_bytes(),
    )
    .await;
    assert_eq!(r.one("access-control-allow-origin"), Some("*"));
    assert_eq!(r.one("access-control-max-age"), Some("9"));
}

#[tokio::test]
async fn an_answer_the_url_cannot_map_is_a_502_with_the_reason_in_the_log() {
    let emu = start(vec![
        url_fn("buf", InvokeMode::Buffered, false),
        url_fn("live", InvokeMode::ResponseStream, false),
    ])
    .await;
    let addr = emu.addr();
    let cases: [(&str, &str, Vec<u8>, &str); 8] = [
        (
            "buf",
            "/respond",
            br#"{"statusCode":200,"body":{"a":1}}"#.to_vec(),
            "`body` must be a string",
        ),
        (
            "buf",
            "/respond",
            br#"{"statusCode":200,"body":"%%","isBase64Encoded":true}"#.to_vec(),
            "`body` must be base64, as `isBase64Encoded` is true",
        ),
        (
            "buf",
            "/respond",
            br#"{"statusCode":200,"headers":{"x-a":["1","2"]}}"#.to_vec(),
            "header `x-a`: the value must be a string, a number or a boolean",
        ),
        (
            "buf",
            "/respond",
            b"this is not json".to_vec(),
            "the response is not JSON",
        ),
        (
            "live",
            "/stream-body",
            with_prelude(&json!({"statusCode": 600}), "x"),
            "`statusCode` must be a number, or a string of one, from 200 to 599",
        ),
        (
            "live",
            "/stream-body",
            b"nope\0\0\0\0\0\0\0\0x".to_vec(),
            "the prelude is not JSON",
        ),
        (
            "live",
            "/stream-body",
            br#"{"statusCode":200}"#.to_vec(),
            "the stream ended inside the prelude (no 8 NUL bytes)",
        ),
        (
            "buf",
            "/stream-body",
            with_prelude(&json!([1]), "x"),
            "the prelude is not a JSON object",
        ),
    ];
    for (function, path, body, reason) in cases {
        let path = format!("/lambda-url/{function}{path}");
        let r = exchange(addr, "POST", &path, &[BINARY], &body).await;
        assert_eq!(r.status, 502, "{path} {reason}");
        assert_eq!(r.body, br#"{"Message":"Internal Server Error"}"#);
        let id = r.one("x-amzn-requestid").expect("request id").to_owned();
        let want =
            format!("RequestId: {id} Error: Function URL answered 502 Bad Gateway: {reason}");
        wait_for_line(&emu, function, |t| t == want).await;
        let line = emu.logs(function).into_iter().find(|l| l.text == want);
        assert_eq!(line.map(|l| l.source), Some(LogSource::Platform));
    }
}

#[tokio::test]
async fn a_head_says_what_the_get_would_and_a_prelude_defaults_to_octet_stream() {
    let emu = start(vec![
        url_fn("buf", InvokeMode::Buffered, false),
        url_fn("live", InvokeMode::ResponseStream, false),
    ])
    .await;
    let addr = emu.addr();
    // A streamed answer has no length: neither has the HEAD.
    let get = exchange(addr, "GET", "/lambda-url/live/stream-plain", &[], b"").await;
    assert_eq!(get.body, b"plain stream");
    assert_eq!(get.one("content-length"), None);
    let head = exchange(addr, "HEAD", "/lambda-url/live/stream-plain", &[], b"").await;
    assert_eq!(head.status, 200);
    assert_eq!(head.one("content-type"), Some("text/plain"));
    assert_eq!(head.one("content-length"), None, "{:?}", head.headers);
    // A buffered one has, and the HEAD says it.
    let head = exchange(addr, "HEAD", "/lambda-url/buf/binary", &[], b"").await;
    assert_eq!(head.one("content-length"), Some("256"));
    // A web framework answers a HEAD with an empty body and the length of the GET's: that
    // length is kept (for a HEAD only: a GET's length is the body's).
    let head = exchange(addr, "HEAD", "/lambda-url/buf/head-like", &[], b"").await;
    assert_eq!(head.one("content-length"), Some("82"), "{:?}", head.headers);
    let get = exchange(addr, "GET", "/lambda-url/buf/head-like", &[], b"").await;
    assert_eq!(get.one("content-length"), Some("0"), "{:?}", get.headers);
    // A 204 has no body to give the length of.
    let head = exchange(addr, "HEAD", "/lambda-url/buf/head-like-204", &[], b"").await;
    assert_eq!(head.status, 204);
    assert_eq!(head.one("content-length"), None, "{:?}", head.headers);

    // A prelude without a content type, streamed or collected.
    for function in ["live", "buf"] {
        let stream = with_prelude(&json!({"statusCode": 404}), "gone");
        let path = format!("/lambda-url/{function}/stream-body");
        let r = exchange(addr, "POST", &path, &[BINARY], &stream).await;
        assert_eq!((r.status, &r.body[..]), (404, &b"gone"[..]), "{function}");
        assert_eq!(r.one("content-type"), Some("application/octet-stream"));
    }
    // One with a content type keeps it.
    let prelude = json!({"statusCode": 200, "headers": {"Content-Type": "text/csv"}});
    let stream = with_prelude(&prelude, "a,b");
    let r = exchange(
        addr,
        "POST",
        "/lambda-url/live/stream-body",
        &[BINARY],
        &stream,
    )
    .await;
    assert_eq!(r.one("content-type"), Some("text/csv"));
}
