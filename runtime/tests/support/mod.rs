//! A real Runtime API server on loopback for the tests: serves scripted `/next` answers and
//! records every request the runtime sends (method, path, headers, body, order, connection),
//! reading bodies frame by frame so streamed responses show their chunks and trailers as they
//! arrive.

#![allow(dead_code)]

use std::{
    collections::VecDeque,
    net::SocketAddr,
    path::PathBuf,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex, OnceLock,
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::{body::Incoming, server::conn::http1, service::service_fn};
use hyper_util::rt::TokioIo;
use tokio::{
    net::TcpListener,
    sync::{watch, Barrier},
};

/// Bodies longer than this are counted, not kept.
const KEEP_BODY: u64 = 1 << 20;

/// One request the runtime sent.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// The body's data frames as they arrived (empty past `KEEP_BODY` bytes).
    pub chunks: Vec<Bytes>,
    /// The body's length (also past `KEEP_BODY`).
    pub body_len: u64,
    /// The trailers, if the body had any.
    pub trailers: Option<HeaderMap>,
    /// Which TCP connection carried it (0, 1, ...).
    pub connection: usize,
}

impl Recorded {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("recorded body is JSON")
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    pub fn trailer(&self, name: &str) -> Option<&str> {
        self.trailers
            .as_ref()?
            .get(name)
            .and_then(|v| v.to_str().ok())
    }
    /// `METHOD path`, for order assertions.
    pub fn line(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// A scripted `/next` answer.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub status: StatusCode,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

impl Invocation {
    /// A well-formed invocation with all required headers and a trace id.
    pub fn new(request_id: &str, body: impl Into<Bytes>) -> Self {
        let deadline = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64
            + 60_000;
        Invocation {
            status: StatusCode::OK,
            headers: vec![
                ("content-type".into(), "application/json".into()),
                ("lambda-runtime-aws-request-id".into(), request_id.into()),
                ("lambda-runtime-deadline-ms".into(), deadline.to_string()),
                (
                    "lambda-runtime-invoked-function-arn".into(),
                    "arn:aws:lambda:us-east-1:123456789012:function:test".into(),
                ),
                (
                    "lambda-runtime-trace-id".into(),
                    "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
                        .into(),
                ),
            ],
            body: body.into(),
        }
    }
    pub fn json(request_id: &str, value: serde_json::Value) -> Self {
        Self::new(request_id, serde_json::to_vec(&value).unwrap())
    }
    pub fn without(mut self, header: &str) -> Self {
        self.headers.retain(|(k, _)| k != header);
        self
    }
    pub fn with(mut self, header: &str, value: &str) -> Self {
        self.headers.retain(|(k, _)| k != header);
        self.headers.push((header.into(), value.into()));
        self
    }
}

/// How the server answers posts.
#[derive(Debug, Clone)]
pub struct Answers {
    /// Status for the nth `/response` post (0-based); default 202.
    pub response_status: Vec<(usize, StatusCode)>,
    /// Status for `/next` once the script is exhausted (default 500, which ends the runtime).
    pub when_exhausted: StatusCode,
    /// Hold the first N `/next` calls until N are outstanding at once (0: answer at once).
    pub hold_next: usize,
    /// Close the connection instead of answering the first `/response` post.
    pub drop_first_response: bool,
    /// Stop reading a body for a while once it has delivered this many bytes (lets a runtime
    /// that buffers race ahead of the reader).
    pub pause_reading_after: Option<(u64, Duration)>,
}

impl Default for Answers {
    fn default() -> Self {
        Answers {
            response_status: Vec::new(),
            when_exhausted: StatusCode::INTERNAL_SERVER_ERROR,
            hold_next: 0,
            drop_first_response: false,
            pause_reading_after: None,
        }
    }
}

/// The server closed a connection on purpose.
#[derive(Debug)]
struct DroppedOnPurpose;
impl std::fmt::Display for DroppedOnPurpose {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by the test server")
    }
}
impl std::error::Error for DroppedOnPurpose {}

struct State {
    script: VecDeque<Invocation>,
    records: Vec<Recorded>,
    responses_seen: usize,
    answers: Answers,
    connections: usize,
    next_held: usize,
    next_barrier: Option<Arc<Barrier>>,
    dropped_response: bool,
}

/// The test server.
#[derive(Clone)]
pub struct RuntimeApiServer {
    pub addr: SocketAddr,
    prefix: String,
    state: Arc<Mutex<State>>,
    /// Body bytes received so far, over all requests.
    received: Arc<AtomicU64>,
    received_tx: Arc<watch::Sender<u64>>,
    /// Results (`/response` and `/error` posts) answered so far.
    posted_tx: Arc<watch::Sender<usize>>,
}

impl RuntimeApiServer {
    pub async fn start(script: Vec<Invocation>) -> Self {
        Self::start_with(script, Answers::default(), "").await
    }

    pub async fn start_with(script: Vec<Invocation>, answers: Answers, prefix: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let next_barrier =
            (answers.hold_next > 0).then(|| Arc::new(Barrier::new(answers.hold_next)));
        let server = RuntimeApiServer {
            addr,
            prefix: prefix.to_owned(),
            state: Arc::new(Mutex::new(State {
                script: script.into(),
                records: Vec::new(),
                responses_seen: 0,
                answers,
                connections: 0,
                next_held: 0,
                next_barrier,
                dropped_response: false,
            })),
            received: Arc::default(),
            received_tx: Arc::new(watch::channel(0).0),
            posted_tx: Arc::new(watch::channel(0).0),
        };
        let accept = server.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let connection = {
                    let mut state = accept.state.lock().unwrap();
                    state.connections += 1;
                    state.connections - 1
                };
                let handler = accept.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| {
                        let handler = handler.clone();
                        async move { handler.handle(req, connection).await }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        server
    }

    /// `host:port`, as Lambda sets `AWS_LAMBDA_RUNTIME_API`.
    pub fn api(&self) -> String {
        self.addr.to_string()
    }

    pub fn records(&self) -> Vec<Recorded> {
        self.state.lock().unwrap().records.clone()
    }

    /// Asserts that the runtime stopped in Init: `result` is its init failure, and the only
    /// request it sent was `POST /init/error` (no `/next`). Returns that request.
    pub fn assert_init_failed<T: std::fmt::Debug, E: std::fmt::Display>(
        &self,
        result: Result<T, E>,
    ) -> Recorded {
        let error = result.expect_err("the runtime should fail its Init");
        assert!(
            error.to_string().contains("initialization failed"),
            "{error}"
        );
        let records = self.records();
        assert_eq!(records.len(), 1, "no /next after a failed init");
        assert_eq!(
            records[0].line(),
            format!("POST {}", self.path("init/error"))
        );
        records
            .into_iter()
            .next()
            .expect("one record, checked above")
    }

    pub fn lines(&self) -> Vec<String> {
        self.records().iter().map(Recorded::line).collect()
    }

    pub fn connections(&self) -> usize {
        self.state.lock().unwrap().connections
    }

    /// Body bytes received so far (all requests), readable from anywhere.
    pub fn received_counter(&self) -> Arc<AtomicU64> {
        self.received.clone()
    }

    /// Waits until at least `n` body bytes have been received.
    pub async fn wait_received(&self, n: u64) {
        let mut rx = self.received_tx.subscribe();
        let waited = tokio::time::timeout(Duration::from_secs(20), rx.wait_for(|got| *got >= n));
        assert!(
            matches!(waited.await, Ok(Ok(_))),
            "the server never received {n} body bytes (the runtime is buffering?)"
        );
    }

    /// Waits until at least `n` results have been posted.
    pub async fn wait_posted(&self, n: usize) {
        let mut rx = self.posted_tx.subscribe();
        let waited = tokio::time::timeout(Duration::from_secs(20), rx.wait_for(|got| *got >= n));
        assert!(
            matches!(waited.await, Ok(Ok(_))),
            "the server never saw {n} results"
        );
    }

    /// The path of a Runtime API call under this server's prefix.
    pub fn path(&self, rest: &str) -> String {
        format!("{}/2018-06-01/runtime/{rest}", self.prefix)
    }

    async fn read_body(&self, mut body: Incoming) -> (Bytes, Vec<Bytes>, u64, Option<HeaderMap>) {
        let pause = self.state.lock().unwrap().answers.pause_reading_after;
        let mut paused = false;
        let mut kept = Vec::new();
        let mut len = 0u64;
        let mut trailers = None;
        while let Some(frame) = body.frame().await {
            let Ok(frame) = frame else { break };
            match frame.into_data() {
                Ok(data) => {
                    len += data.len() as u64;
                    let total = self.received.fetch_add(data.len() as u64, Ordering::SeqCst)
                        + data.len() as u64;
                    self.received_tx.send_replace(total);
                    if len <= KEEP_BODY {
                        kept.push(data);
                    } else {
                        kept.clear();
                    }
                    if let Some((after, pause_for)) = pause {
                        if !paused && len >= after {
                            paused = true;
                            tokio::time::sleep(pause_for).await;
                        }
                    }
                }
                Err(frame) => {
                    if let Ok(t) = frame.into_trailers() {
                        trailers = Some(t);
                    }
                }
            }
        }
        let body = kept.concat().into();
        (body, kept, len, trailers)
    }

    async fn handle(
        &self,
        req: Request<Incoming>,
        connection: usize,
    ) -> Result<Response<Full<Bytes>>, DroppedOnPurpose> {
        let (parts, body) = req.into_parts();
        let (body, chunks, body_len, trailers) = self.read_body(body).await;
        let path = parts.uri.path().to_owned();
        let rest = path
            .strip_prefix(&self.prefix)
            .and_then(|p| p.strip_prefix("/2018-06-01/runtime/"))
            .map(str::to_owned);
        let is_next =
            rest.as_deref() == Some("invocation/next") && parts.method == http::Method::GET;
        let barrier = {
            let mut state = self.state.lock().unwrap();
            state.records.push(Recorded {
                method: parts.method.to_string(),
                path: path.clone(),
                headers: parts.headers.clone(),
                body,
                chunks,
                body_len,
                trailers,
                connection,
            });
            if is_next && state.next_held < state.answers.hold_next {
                state.next_held += 1;
                state.next_barrier.clone()
            } else {
                None
            }
        };
        if let Some(barrier) = barrier {
            barrier.wait().await;
        }
        let answer = self.answer(&parts.method, rest.as_deref(), is_next);
        if matches!(answer, Err(DroppedOnPurpose)) {
            return answer;
        }
        if let Some(rest) = rest.as_deref() {
            if rest.starts_with("invocation/")
                && (rest.ends_with("/response") || rest.ends_with("/error"))
            {
                self.posted_tx.send_modify(|n| *n += 1);
            }
        }
        answer
    }

    fn answer(
        &self,
        method: &http::Method,
        rest: Option<&str>,
        is_next: bool,
    ) -> Result<Response<Full<Bytes>>, DroppedOnPurpose> {
        let mut state = self.state.lock().unwrap();
        let Some(rest) = rest else {
            return Ok(answer(StatusCode::NOT_FOUND, r#"{"errorType":"NotFound"}"#));
        };
        if is_next {
            return Ok(match state.script.pop_front() {
                Some(inv) => {
                    let mut builder = Response::builder().status(inv.status);
                    for (k, v) in &inv.headers {
                        builder = builder.header(k, v);
                    }
                    builder.body(Full::new(inv.body)).unwrap()
                }
                None => answer(
                    state.answers.when_exhausted,
                    r#"{"errorMessage":"script exhausted","errorType":"ContainerError"}"#,
                ),
            });
        }
        if method != http::Method::POST {
            return Ok(answer(StatusCode::METHOD_NOT_ALLOWED, "{}"));
        }
        if rest == "init/error" || (rest.starts_with("invocation/") && rest.ends_with("/error")) {
            return Ok(answer(StatusCode::ACCEPTED, r#"{"status":"OK"}"#));
        }
        if rest.starts_with("invocation/") && rest.ends_with("/response") {
            if state.answers.drop_first_response && !state.dropped_response {
                state.dropped_response = true;
                return Err(DroppedOnPurpose);
            }
            let n = state.responses_seen;
            state.responses_seen += 1;
            let status = state
                .answers
                .response_status
                .iter()
                .find(|(i, _)| *i == n)
                .map(|(_, s)| *s)
                .unwrap_or(StatusCode::ACCEPTED);
            let body = if status == StatusCode::ACCEPTED {
                r#"{"status":"OK"}"#
            } else {
                r#"{"errorMessage":"refused by the test","errorType":"InvalidStateTransition"}"#
            };
            return Ok(answer(status, body));
        }
        Ok(answer(StatusCode::NOT_FOUND, r#"{"errorType":"NotFound"}"#))
    }
}

fn answer(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .unwrap()
}

/// Environment variables for a runtime talking to `api`.
pub fn lambda_env(api: &str) -> Vec<(String, String)> {
    vec![
        ("AWS_LAMBDA_RUNTIME_API".into(), api.into()),
        ("AWS_LAMBDA_FUNCTION_NAME".into(), "test".into()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE".into(), "128".into()),
        ("AWS_LAMBDA_FUNCTION_VERSION".into(), "$LATEST".into()),
        ("AWS_REGION".into(), "us-east-1".into()),
    ]
}

/// A runtime configuration for `api`, built without touching the process environment.
pub fn config(api: &str, extra: &[(&str, &str)]) -> firebox_runtime::RuntimeConfig {
    let mut vars = lambda_env(api);
    vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let mut config = firebox_runtime::RuntimeConfig::from_lookup(|name| {
        vars.iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    })
    .expect("valid test configuration");
    config.retry = firebox_runtime::RetryPolicy {
        attempts: 3,
        initial_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(20),
    };
    config
}

/// Runs `service` on a [`firebox_runtime::Runtime`] against `server` until the server ends
/// it (500 once its script is exhausted); returns the runtime's error text. Fails the test if
/// the runtime takes over a minute or stops without an error.
pub async fn run_until_exhausted<S, A, R>(server: &RuntimeApiServer, service: S) -> String
where
    S: tower::Service<firebox_runtime::LambdaEvent<A>, Response = R>,
    S::Error: Into<firebox_runtime::Diagnostic>,
    A: serde::de::DeserializeOwned,
    R: firebox_runtime::IntoFunctionResponse,
{
    let result = tokio::time::timeout(
        Duration::from_secs(60),
        firebox_runtime::Runtime::new(service)
            .with_config(config(&server.api(), &[]))
            .run(),
    )
    .await
    .expect("the runtime stops when the script is exhausted");
    result
        .expect_err("the runtime only stops with an error")
        .to_string()
}

/// The path of an example binary, built on first use (same target directory and profile as
/// the tests).
pub fn example_bin(name: &str) -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    let dir = BUILT.get_or_init(|| {
        let exe = std::env::current_exe().unwrap();
        // <target>/debug/deps/<test binary>
        let profile_dir = exe.parent().unwrap().parent().unwrap().to_path_buf();
        let target_dir = profile_dir.parent().unwrap().to_path_buf();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = std::process::Command::new(cargo)
            .args([
                "build",
                "--quiet",
                "-p",
                "hello",
                "-p",
                "init-state",
                "-p",
                "sqs-batch",
                "-p",
                "errors",
                "-p",
                "tower-example",
                "-p",
                "streaming",
            ])
            .env("CARGO_TARGET_DIR", &target_dir)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building the examples failed");
        profile_dir
    });
    dir.join(name)
}

/// A finished example process.
pub struct Finished {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Runs an example binary against `api` until it exits (the server ends it with a 500 once the
/// script is exhausted), with the given extra environment.
pub async fn run_example(name: &str, api: &str, extra: &[(&str, &str)]) -> Finished {
    let bin = example_bin(name);
    let mut command = tokio::process::Command::new(bin);
    command.env_clear();
    command.env("PATH", std::env::var("PATH").unwrap_or_default());
    for (k, v) in lambda_env(api) {
        command.env(k, v);
    }
    for (k, v) in extra {
        command.env(k, v);
    }
    let output = tokio::time::timeout(Duration::from_secs(60), command.output())
        .await
        .expect("the example exits")
        .expect("the example starts");
    Finished {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}
