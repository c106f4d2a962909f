//! Helpers shared by the emulator's integration tests: the Python test runtime, functions
//! built around it, raw HTTP requests and log inspection.
#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use firebox_emulator::{Emulator, FunctionConfig, LogLine};
use http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// The Python interpreter (looked up on PATH by the emulator).
pub const PYTHON: &str = "python3";

/// Path of the test runtime script.
pub fn runtime_script() -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/runtimes/runtime.py")
        .display()
        .to_string()
}

/// A function running the test runtime with an Init mode ("" for normal).
pub fn function(name: &str, mode: &str) -> FunctionConfig {
    let mut command = vec![PYTHON.to_owned(), "-u".to_owned(), runtime_script()];
    if !mode.is_empty() {
        command.push(mode.to_owned());
    }
    FunctionConfig::new(name)
        .command(command)
        .timeout(Duration::from_secs(3))
}

/// Starts an emulator with these functions.
pub async fn start(functions: Vec<FunctionConfig>) -> Emulator {
    let mut builder = Emulator::builder();
    for f in functions {
        builder = builder.function(f);
    }
    builder.start().await.expect("emulator starts")
}

/// A raw HTTP/1.1 answer.
#[derive(Debug)]
pub struct Raw {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Raw {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The AWS error code of a service error.
    pub fn error_code(&self) -> Option<&str> {
        self.header("x-amzn-errortype")
    }
}

/// Sends one request with hyper over a fresh connection.
pub async fn send(
    endpoint: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> Raw {
    let authority = endpoint.trim_start_matches("http://");
    let stream = TcpStream::connect(authority).await.expect("connect");
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header("host", authority);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let response = sender
        .send_request(req.body(Full::new(body.into())).expect("request"))
        .await
        .expect("response");
    let (parts, body) = response.into_parts();
    Raw {
        status: parts.status,
        headers: parts.headers,
        body: body.collect().await.expect("body").to_bytes(),
    }
}

/// POSTs to the invoke path of `function`.
pub async fn invoke_raw(
    endpoint: &str,
    function: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> Raw {
    send(
        endpoint,
        "POST",
        &format!("/2015-03-31/functions/{function}/invocations"),
        headers,
        body,
    )
    .await
}

/// The function's log lines' texts.
pub fn texts(emu: &Emulator, function: &str) -> Vec<String> {
    emu.logs(function)
        .into_iter()
        .map(|l: LogLine| l.text)
        .collect()
}

/// The REPORT lines of a function.
pub fn reports(emu: &Emulator, function: &str) -> Vec<String> {
    texts(emu, function)
        .into_iter()
        .filter(|t| t.starts_with("REPORT "))
        .collect()
}

/// Waits (up to 10 s) until a log line satisfies `pred`, returning it.
pub async fn wait_for_line(emu: &Emulator, function: &str, pred: impl Fn(&str) -> bool) -> String {
    for _ in 0..1000 {
        if let Some(line) = texts(emu, function).into_iter().find(|t| pred(t)) {
            return line;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!(
        "no matching log line; log was:\n{}",
        texts(emu, function).join("\n")
    );
}

/// Whether a process exists.
pub fn alive(pid: i64) -> bool {
    // A zombie still has a /proc entry; look at its state.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

/// Waits (up to 5 s) for a process to disappear.
pub async fn wait_gone(pid: i64) -> bool {
    for _ in 0..500 {
        if !alive(pid) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}
