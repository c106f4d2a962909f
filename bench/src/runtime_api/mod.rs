//! A loopback Runtime API server (version 2018-06-01) that feeds a fixed number of events to
//! one runtime process and measures each invocation from the moment its event leaves `/next`
//! to the moment its `/response` (or `/error`) arrives.
//!
//! HTTP handlers only parse and forward; one coordinator task owns all the state (counters,
//! the invocation in flight, the histogram) and tells the harness, through [`Milestone`]s,
//! when the runtime sits idle in `/next` at a phase boundary (after Init, after warm-up, at
//! the end), pausing until the harness has read the process's statistics.

mod coordinator;

use coordinator::Coordinator;

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{header, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::stats::LatencyHistogram;
use crate::BenchError;

/// Largest response a runtime may post (Lambda's synchronous limit); larger ones get 413.
pub const MAX_RESPONSE_BYTES: usize = 6_291_556;

const NEXT_PATH: &str = "/2018-06-01/runtime/invocation/next";
const INVOCATION_PREFIX: &str = "/2018-06-01/runtime/invocation/";
const INIT_ERROR_PATH: &str = "/2018-06-01/runtime/init/error";

/// What the server feeds the runtime.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// The event body (sent with `Content-Type: application/json`).
    pub payload: Bytes,
    /// Invocations before the measured phase.
    pub warmup: u64,
    /// Measured invocations.
    pub invocations: u64,
    /// Value of `Lambda-Runtime-Invoked-Function-Arn`.
    pub function_arn: String,
    /// Deadline given with each event, from the moment it is sent.
    pub timeout: Duration,
    /// Count a response that is not the event (compared as JSON) as a mismatch.
    pub check_echo: bool,
}

/// A point where the runtime is idle in `/next`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// Its first `/next`: Init is over.
    Init,
    /// The warm-up invocations are answered.
    WarmedUp,
    /// Every invocation is answered; this `/next` is held and never answered.
    Done,
    /// It posted `/runtime/init/error` with this body.
    InitError(String),
}

/// Sent to the harness at each [`Phase`]; the server waits for `resume` (or its drop)
/// before sending the next event.
#[derive(Debug)]
pub struct Milestone {
    /// Which boundary.
    pub phase: Phase,
    /// When the request that marks it arrived.
    pub at: Instant,
    /// Resume the server.
    pub resume: oneshot::Sender<()>,
}

/// What the server saw, for the measured phase.
#[derive(Debug, Clone, Default)]
pub struct ApiStats {
    /// Latency from event sent to answer received, successful measured invocations only.
    pub latency: LatencyHistogram,
    /// Measured invocations answered through `/response` (and, when checked, echoing the event).
    pub ok: u64,
    /// Measured invocations answered through `/error`, by error type.
    pub function_errors: BTreeMap<String, u64>,
    /// Measured responses that did not echo the event (only with `check_echo`).
    pub mismatches: u64,
    /// Requests refused with 4xx (unknown id, unknown path, second answer, too large).
    pub refused: BTreeMap<String, u64>,
    /// From the first measured event sent to the last measured answer received.
    pub measured_wall: Duration,
}

/// A running fake Runtime API.
#[derive(Debug)]
pub struct RuntimeApiServer {
    addr: SocketAddr,
    requests: mpsc::Sender<ApiRequest>,
    milestones: mpsc::Receiver<Milestone>,
    accept: JoinHandle<()>,
    coordinator: JoinHandle<()>,
}

#[derive(Debug)]
enum NextReply {
    Event {
        id: String,
        deadline_ms: u128,
        trace_id: String,
        arn: HeaderValue,
        body: Bytes,
    },
}

#[derive(Debug)]
enum ApiRequest {
    Next {
        at: Instant,
        reply: oneshot::Sender<NextReply>,
    },
    Answer {
        at: Instant,
        id: String,
        kind: AnswerKind,
        reply: oneshot::Sender<(StatusCode, String)>,
    },
    InitError {
        at: Instant,
        body: String,
        /// Answered once the milestone is queued, so the harness learns of the init error
        /// before the runtime (having been answered) can exit.
        queued: oneshot::Sender<()>,
    },
    Refused(String),
    Finish(oneshot::Sender<ApiStats>),
}

#[derive(Debug)]
enum AnswerKind {
    Response(Bytes),
    TooLarge,
    Error(String),
}

impl RuntimeApiServer {
    /// Binds an ephemeral loopback port and starts serving.
    pub async fn start(config: ApiConfig) -> Result<Self, BenchError> {
        let arn = HeaderValue::from_str(&config.function_arn).map_err(|_| {
            BenchError::InvalidArgument(format!(
                "function ARN {:?} is not a valid header value",
                config.function_arn
            ))
        })?;
        let listener =
            TcpListener::bind("127.0.0.1:0")
                .await
                .map_err(|source| BenchError::Listen {
                    addr: "127.0.0.1:0".into(),
                    source,
                })?;
        let addr = listener.local_addr()?;
        let (req_tx, req_rx) = mpsc::channel(64);
        let (ms_tx, ms_rx) = mpsc::channel(4);
        let coordinator = tokio::spawn(Coordinator::new(config, arn, ms_tx).run(req_rx));
        let accept = tokio::spawn(accept_loop(listener, req_tx.clone()));
        Ok(Self {
            addr,
            requests: req_tx,
            milestones: ms_rx,
            accept,
            coordinator,
        })
    }

    /// `127.0.0.1:PORT`, the value for `AWS_LAMBDA_RUNTIME_API`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The next milestone; `None` once the server has stopped.
    pub async fn milestone(&mut self) -> Option<Milestone> {
        self.milestones.recv().await
    }

    /// Stops serving and returns the statistics.
    pub async fn finish(mut self) -> ApiStats {
        let (tx, rx) = oneshot::channel();
        let stats = if self.requests.send(ApiRequest::Finish(tx)).await.is_ok() {
            rx.await.unwrap_or_default()
        } else {
            ApiStats::default()
        };
        self.accept.abort();
        // The coordinator returned after answering `Finish`; awaiting it only reaps the task.
        let _ = (&mut self.coordinator).await;
        stats
    }
}

impl Drop for RuntimeApiServer {
    fn drop(&mut self) {
        self.accept.abort();
        self.coordinator.abort();
    }
}

async fn accept_loop(listener: TcpListener, requests: mpsc::Sender<ApiRequest>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let requests = requests.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| handle(req, requests.clone()));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn json_response(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// An error document as the Runtime API sends them.
fn error_doc(error_type: &str, message: &str) -> String {
    serde_json::json!({ "errorType": error_type, "errorMessage": message }).to_string()
}

async fn handle(
    req: Request<Incoming>,
    requests: mpsc::Sender<ApiRequest>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let at = Instant::now();
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    let unavailable = || {
        json_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            error_doc("ServiceUnavailable", "the benchmark is shutting down"),
        )
    };

    if path == NEXT_PATH {
        if method != Method::GET {
            return Ok(refuse(&requests, StatusCode::METHOD_NOT_ALLOWED, &method, &path).await);
        }
        let (tx, rx) = oneshot::channel();
        if requests
            .send(ApiRequest::Next { at, reply: tx })
            .await
            .is_err()
        {
            return Ok(unavailable());
        }
        return Ok(match rx.await {
            Ok(NextReply::Event {
                id,
                deadline_ms,
                trace_id,
                arn,
                body,
            }) => next_response(id, deadline_ms, trace_id, arn, body),
            Err(_) => unavailable(),
        });
    }

    if path == INIT_ERROR_PATH {
        if method != Method::POST {
            return Ok(refuse(&requests, StatusCode::METHOD_NOT_ALLOWED, &method, &path).await);
        }
        let body = match Limited::new(req.into_body(), MAX_RESPONSE_BYTES)
            .collect()
            .await
        {
            Ok(b) => String::from_utf8_lossy(&b.to_bytes()).into_owned(),
            Err(e) => format!("(unreadable init error body: {e})"),
        };
        let (tx, rx) = oneshot::channel();
        if requests
            .send(ApiRequest::InitError {
                at,
                body,
                queued: tx,
            })
            .await
            .is_ok()
        {
            let _ = rx.await;
        }
        return Ok(json_response(
            StatusCode::ACCEPTED,
            r#"{"status":"OK"}"#.into(),
        ));
    }

    let answer = path
        .strip_prefix(INVOCATION_PREFIX)
        .and_then(|rest| rest.split_once('/'))
        .filter(|(id, what)| !id.is_empty() && (*what == "response" || *what == "error"));
    let Some((id, what)) = answer else {
        return Ok(refuse(&requests, StatusCode::NOT_FOUND, &method, &path).await);
    };
    if method != Method::POST {
        return Ok(refuse(&requests, StatusCode::METHOD_NOT_ALLOWED, &method, &path).await);
    }
    let (id, is_error) = (id.to_string(), what == "error");
    let header_type = req
        .headers()
        .get("lambda-runtime-function-error-type")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let body = Limited::new(req.into_body(), MAX_RESPONSE_BYTES)
        .collect()
        .await
        .map(|b| b.to_bytes());
    let kind = match (is_error, body) {
        (false, Ok(body)) => AnswerKind::Response(body),
        (false, Err(_)) => AnswerKind::TooLarge,
        (true, body) => {
            let from_body = body.ok().and_then(|b| {
                serde_json::from_slice::<serde_json::Value>(&b)
                    .ok()?
                    .get("errorType")?
                    .as_str()
                    .map(str::to_string)
            });
            AnswerKind::Error(
                header_type
                    .or(from_body)
                    .unwrap_or_else(|| "Unknown".to_string()),
            )
        }
    };
    let (tx, rx) = oneshot::channel();
    if requests
        .send(ApiRequest::Answer {
            at,
            id,
            kind,
            reply: tx,
        })
        .await
        .is_err()
    {
        return Ok(unavailable());
    }
    Ok(match rx.await {
        Ok((status, body)) => json_response(status, body),
        Err(_) => unavailable(),
    })
}

async fn refuse(
    requests: &mpsc::Sender<ApiRequest>,
    status: StatusCode,
    method: &Method,
    path: &str,
) -> Response<Full<Bytes>> {
    let what = format!("{} {method} {path}", status.as_u16());
    let _ = requests.send(ApiRequest::Refused(what)).await;
    let error_type = if status == StatusCode::NOT_FOUND {
        "InvalidPath"
    } else {
        "MethodNotAllowed"
    };
    json_response(
        status,
        error_doc(error_type, &format!("no route for {method} {path}")),
    )
}

fn next_response(
    id: String,
    deadline_ms: u128,
    trace_id: String,
    arn: HeaderValue,
    body: Bytes,
) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(body));
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert("lambda-runtime-invoked-function-arn", arn);
    // Request ids are UUIDs, deadlines digits and trace ids hex: always valid header values.
    for (name, value) in [
        ("lambda-runtime-aws-request-id", id),
        ("lambda-runtime-deadline-ms", deadline_ms.to_string()),
        ("lambda-runtime-trace-id", trace_id),
    ] {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(name, v);
        }
    }
    resp
}
