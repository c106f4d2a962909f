//! Helpers shared by the emulator's integration tests: the Python test runtime, functions
//! built around it, raw HTTP requests (read whole, or left open while the body streams) and log
//! inspection.
#![allow(dead_code)]

pub mod archive;
pub mod provisioned;
pub mod serve;

use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use firebox_emulator::{Emulator, FunctionConfig, LogLine};
use http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// The Python interpreter (looked up on PATH by the emulator).
pub const PYTHON: &str = "python3";

/// Path of a file under `tests/runtimes`.
pub fn runtime(file: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/runtimes")
        .join(file)
        .display()
        .to_string()
}

/// The repository's root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Function `name` run by Python's real `awslambdaric` (the venv's), handler `app.handler`
/// in `code`, with a 10-second timeout.
pub fn awslambdaric(name: &str, code: &Path) -> FunctionConfig {
    FunctionConfig::new(name)
        .command(vec![
            venv_python().display().to_string(),
            "-m".into(),
            "awslambdaric".into(),
            "app.handler".into(),
        ])
        .code_dir(code)
        .timeout(Duration::from_secs(10))
}

/// The venv's Python (`FIREBOX_PYTHON`, else `.venv/bin/python`), with `awslambdaric` and
/// `boto3` (made by `scripts/setup-test-deps`).
pub fn venv_python() -> PathBuf {
    let python = std::env::var_os("FIREBOX_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join(".venv/bin/python"));
    assert!(
        python.exists(),
        "{} is missing: run scripts/setup-test-deps (it installs awslambdaric and boto3)",
        python.display()
    );
    python
}

/// The Node fixtures' directory (`FIREBOX_NODE_FIXTURES`, else `fixtures/node`), with
/// `aws-lambda-ric` installed (by `scripts/setup-test-deps`).
pub fn node_fixtures() -> PathBuf {
    let dir = std::env::var_os("FIREBOX_NODE_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("fixtures/node"));
    assert!(
        dir.join("node_modules/aws-lambda-ric/index.mjs").exists(),
        "{} has no aws-lambda-ric: run scripts/setup-test-deps first",
        dir.display()
    );
    dir
}

/// Path of the test runtime script.
pub fn runtime_script() -> String {
    runtime("runtime.py")
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

/// Invokes `function` (through `qualifier`, if any) as an `Event`; the request id of the 202.
pub async fn invoke_event(
    emu: &Emulator,
    function: &str,
    qualifier: Option<&str>,
    payload: serde_json::Value,
) -> String {
    let options = firebox_emulator::InvokeOptions {
        invocation_type: firebox_emulator::InvocationType::Event,
        qualifier: qualifier.map(str::to_owned),
        ..firebox_emulator::InvokeOptions::default()
    };
    let r = emu
        .invoke_with(function, payload.to_string(), &options)
        .await
        .expect("invoke");
    assert_eq!(r.status, 202, "{}", r.text());
    r.request_id.expect("a request id")
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

/// Sends one request with hyper over a fresh connection and reads the whole answer.
pub async fn send(
    endpoint: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> Raw {
    let Open {
        status,
        headers,
        body,
    } = open(endpoint, method, path, headers, body).await;
    Raw {
        status,
        headers,
        body: body.collect().await.expect("body").to_bytes(),
    }
}

/// A response whose body is still being received.
pub struct Open {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Incoming,
}

impl Open {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The rest of the body.
    pub async fn bytes(self) -> Bytes {
        self.body.collect().await.expect("body").to_bytes()
    }

    /// The next data frame, `None` at the end.
    pub async fn next_data(&mut self) -> Option<Bytes> {
        while let Some(frame) = self.body.frame().await {
            if let Ok(data) = frame.expect("frame").into_data() {
                return Some(data);
            }
        }
        None
    }
}

/// Sends a control-plane request with a JSON body (none for `Value::Null`) and reads the answer.
pub async fn call(emu: &Emulator, method: &str, path: &str, body: &serde_json::Value) -> Raw {
    let body = if body.is_null() {
        String::new()
    } else {
        body.to_string()
    };
    send(emu.endpoint(), method, path, &[], body).await
}

/// Asserts a service error: its status, its AWS error code, and a message saying `says`.
pub fn assert_error(r: &Raw, status: u16, code: &str, says: &str) {
    assert_eq!(r.status.as_u16(), status, "{:?}", r.body);
    assert_eq!(r.error_code(), Some(code), "{:?}", r.body);
    let message = r.json()["message"].as_str().unwrap_or_default().to_owned();
    assert!(message.contains(says), "{message}");
}

/// Sends a request and returns as soon as the response head arrives.
pub async fn open(
    endpoint: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> Open {
    let authority = endpoint.trim_start_matches("http://");
    let host = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("host"))
        .map_or(authority.to_owned(), |(_, v)| (*v).to_owned());
    let stream = TcpStream::connect(authority).await.expect("connect");
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header("host", host);
    for (k, v) in headers
        .iter()
        .filter(|(k, _)| !k.eq_ignore_ascii_case("host"))
    {
        req = req.header(*k, *v);
    }
    let response = sender
        .send_request(req.body(Full::new(body.into())).expect("request"))
        .await
        .expect("response");
    let (parts, body) = response.into_parts();
    Open {
        status: parts.status,
        headers: parts.headers,
        body,
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

/// The number of a `REPORT` line's field (`Duration`, `Max Memory Used`, ...), without its
/// unit; `report` may hold other lines too (a log tail).
pub fn report_number(report: &str, field: &str) -> f64 {
    let prefix = format!("{field}: ");
    report
        .split(['\t', '\n'])
        .find_map(|f| f.trim().strip_prefix(prefix.as_str()))
        .and_then(|v| v.split(' ').next()?.parse().ok())
        .unwrap_or_else(|| panic!("no {field} in {report}"))
}

/// Waits (up to 60 s, a bound for broken runs only) until a log line satisfies `pred`,
/// returning it.
pub async fn wait_for_line(emu: &Emulator, function: &str, pred: impl Fn(&str) -> bool) -> String {
    for _ in 0..6000 {
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

/// Waits (up to 30 s, a bound for broken runs only) for a process to disappear.
pub async fn wait_gone(pid: i64) -> bool {
    for _ in 0..3000 {
        if !alive(pid) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

/// Waits (polling every 10 ms, at most `limit`) until `condition` holds; panics naming `what`
/// otherwise. The bound is generous on purpose: it only matters when something is broken.
pub async fn wait_until(what: &str, limit: Duration, mut condition: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + limit;
    while !condition() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The most invocations that were running at the same moment, and how many started, from the
/// `start <t>` / `end <t>` lines the functions appended to the record at `path`.
pub fn max_overlap(path: &Path) -> (usize, usize) {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut events: Vec<(f64, i32)> = text
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let kind = f.next()?;
            let t: f64 = f.next()?.parse().ok()?;
            Some((t, if kind == "start" { 1 } else { -1 }))
        })
        .collect();
    let starts = events.iter().filter(|e| e.1 == 1).count();
    // Ends sort before starts at the same instant.
    events.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let (mut now, mut max) = (0i32, 0i32);
    for (_, d) in events {
        now += d;
        max = max.max(now);
    }
    (max as usize, starts)
}

/// The `/metrics` text (checked to be served as text).
pub async fn metrics(emu: &Emulator) -> String {
    let r = send(emu.endpoint(), "GET", "/metrics", &[], "").await;
    assert_eq!(r.status, 200);
    assert!(r
        .header("content-type")
        .is_some_and(|c| c.starts_with("text/plain")));
    String::from_utf8(r.body.to_vec()).expect("metrics are text")
}

/// The value of one series (`name{labels}`), if present.
pub fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// Waits (bounded) until a series reads `want`.
pub async fn wait_metric(emu: &Emulator, series: &str, want: f64) {
    let mut last = String::new();
    // Up to 60 s: a bound for broken runs only.
    for _ in 0..1200 {
        last = metrics(emu).await;
        if metric(&last, series) == Some(want) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{series} never reached {want}; metrics:\n{last}");
}

/// The `firebox_environments{function="NAME",state="frozen"}` gauge as `/metrics` shows it
/// (empty when the series is absent).
pub async fn frozen_gauge(emu: &Emulator, name: &str) -> String {
    let text = metrics(emu).await;
    let series = format!("firebox_environments{{function=\"{name}\",state=\"frozen\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(series.as_str()).map(str::to_owned))
        .unwrap_or_default()
}

/// Waits (bounded) until the frozen gauge reads `want`.
pub async fn wait_frozen_gauge(emu: &Emulator, name: &str, want: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let now = frozen_gauge(emu, name).await;
        if now == want {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "frozen gauge stayed {now:?}, wanted {want}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A fresh empty directory under the system temp dir, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("firebox-test-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        Self(dir)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl std::ops::Deref for TempDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for TempDir {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A handshake between a test and its functions: each invocation that carries
/// `{"barrier": barrier.spec()}` goes on only once `count` invocations have reached it, so
/// invocations that must overlap do overlap, however loaded the machine is.
pub struct Barrier {
    dir: TempDir,
    count: usize,
}

impl Barrier {
    pub fn new(tag: &str, count: usize) -> Self {
        Self {
            dir: TempDir::new(&format!("barrier-{tag}")),
            count,
        }
    }

    /// The event field's value: `{"dir", "count"}`.
    pub fn spec(&self) -> serde_json::Value {
        serde_json::json!({ "dir": self.dir.0, "count": self.count })
    }

    /// How many invocations have reached the barrier.
    pub fn arrived(&self) -> usize {
        std::fs::read_dir(&self.dir.0).map_or(0, |d| d.count())
    }
}

/// A file the functions wait for (`{"wait_for": gate.path()}`) until the test opens it.
pub struct Gate {
    dir: TempDir,
}

impl Gate {
    pub fn new(tag: &str) -> Self {
        Self {
            dir: TempDir::new(&format!("gate-{tag}")),
        }
    }

    pub fn path(&self) -> PathBuf {
        self.dir.path("open")
    }

    /// Lets every waiting invocation go on.
    pub fn open(&self) {
        std::fs::write(self.path(), b"").expect("gate file");
    }
}

/// A port for a `firebox serve` a test starts. `bind(127.0.0.1:0)` then dropping it races: the
/// kernel may hand the same port to another test's `bind(0)` (a Runtime API listener, another
/// test's server) before the server binds it, and the test then talks to a stranger. So the
/// ports come from below the kernel's ephemeral range (32768 up, which `bind(0)` draws from),
/// each handed out once by this test binary, from an offset of its process id (test binaries
/// run one at a time), and free when chosen.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    const FIRST: u32 = 20_000;
    const COUNT: u32 = 12_000;
    static NEXT: AtomicU32 = AtomicU32::new(0);
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        assert!(n < COUNT, "no free port left in {FIRST}..{}", FIRST + COUNT);
        let port = FIRST + (std::process::id() + n) % COUNT;
        // Below 32,768: the cast cannot truncate.
        let port = port as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}
