//! The Runtime API (2018-06-01) of one environment, on its own loopback listener. Each request
//! becomes a message to the environment's task, which decides the answer.

use std::convert::Infallible;
use std::time::Instant;

use crate::environment::errors::Refusal;
use base64::Engine;
use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;

use super::extensions::{ExtensionAnswer, ExtensionErrorKind, Subscriptions};
use super::{read_body, BodyError, RequestBody, MAX_RESPONSE_BYTES};
use crate::environment::{errors, NextAnswer, NextEvent};
use crate::invocation::error_document;
use crate::stream::StreamSink;

const PREFIX: &str = "/2018-06-01/runtime/";
const ERROR_TYPE_HEADER: &str = "lambda-runtime-function-error-type";
const ERROR_BODY_TRAILER: &str = "lambda-runtime-function-error-body";
const RESPONSE_MODE_HEADER: &str = "lambda-runtime-function-response-mode";

/// A Runtime API call, as the environment's task receives it.
#[derive(Debug)]
pub enum RuntimeRequest {
    /// `GET /invocation/next`.
    Next {
        /// Where the event goes.
        reply: oneshot::Sender<NextAnswer>,
    },
    /// `POST /invocation/{id}/response`.
    Response {
        /// The id in the path.
        request_id: String,
        /// The response.
        body: Bytes,
        /// When the request's head arrived (the runtime began to send the response).
        received: Instant,
        /// The answer to the runtime.
        reply: oneshot::Sender<RuntimeAnswer>,
    },
    /// `POST /invocation/{id}/response` with a body over the limit.
    ResponseTooLarge {
        /// The id in the path.
        request_id: String,
        /// Bytes seen.
        size: usize,
        /// When the request's head arrived.
        received: Instant,
        /// The answer to the runtime.
        reply: oneshot::Sender<RuntimeAnswer>,
    },
    /// `POST /invocation/{id}/error`.
    Error {
        /// The id in the path.
        request_id: String,
        /// `Lambda-Runtime-Function-Error-Type`.
        error_type: Option<String>,
        /// The error document, when readable.
        body: Option<Bytes>,
        /// The answer to the runtime.
        reply: oneshot::Sender<RuntimeAnswer>,
    },
    /// `POST /invocation/{id}/response` in response mode `streaming`: the body follows.
    StreamStart {
        /// The id in the path.
        request_id: String,
        /// The runtime's `Content-Type`.
        content_type: Option<String>,
        /// Where the chunks go, or why the stream is refused.
        reply: oneshot::Sender<StreamAnswer>,
    },
    /// The streamed body of `request_id` ended.
    StreamEnd {
        /// The id in the path.
        request_id: String,
        /// How it ended.
        end: StreamEnd,
        /// The answer to the runtime.
        reply: oneshot::Sender<RuntimeAnswer>,
    },
    /// `POST /2020-01-01/extension/register`.
    ExtensionRegister {
        /// `Lambda-Extension-Name`.
        name: String,
        /// The events it registers for.
        events: Subscriptions,
        /// Whether it asked for `accountId` (`Lambda-Extension-Accept-Feature`).
        account_id: bool,
        /// The answer to the extension.
        reply: oneshot::Sender<ExtensionAnswer>,
    },
    /// `GET /2020-01-01/extension/event/next`.
    ExtensionNext {
        /// `Lambda-Extension-Identifier`.
        id: String,
        /// Where the event goes.
        reply: oneshot::Sender<ExtensionAnswer>,
    },
    /// `POST /2020-01-01/extension/init/error` or `exit/error`.
    ExtensionError {
        /// `Lambda-Extension-Identifier`.
        id: String,
        /// Which of the two.
        kind: ExtensionErrorKind,
        /// `Lambda-Extension-Function-Error-Type`.
        error_type: String,
        /// The error document, when readable.
        body: Option<Bytes>,
        /// The answer to the extension.
        reply: oneshot::Sender<ExtensionAnswer>,
    },
    /// `PUT /2022-07-01/telemetry`.
    TelemetrySubscribe {
        /// `Lambda-Extension-Identifier`.
        id: String,
        /// What to send where.
        subscription: crate::environment::telemetry::TelemetrySubscription,
        /// The answer to the extension.
        reply: oneshot::Sender<ExtensionAnswer>,
    },
    /// `POST /init/error`.
    InitError {
        /// `Lambda-Runtime-Function-Error-Type`.
        error_type: Option<String>,
        /// The error document, when readable.
        body: Option<Bytes>,
        /// The answer to the runtime.
        reply: oneshot::Sender<RuntimeAnswer>,
    },
}

/// The environment's answer to a posted result.
#[derive(Debug)]
pub enum RuntimeAnswer {
    /// 202.
    Accepted,
    /// Refused; nothing changed.
    Refused(Refusal),
    /// 413: the response was too large (the invoke failed).
    TooLarge,
}

/// The environment's answer to the start of a streamed response.
#[derive(Debug)]
pub enum StreamAnswer {
    /// Forward the body here.
    Accepted(StreamSink),
    /// Refused; nothing changed.
    Refused(Refusal),
}

/// How a streamed response body ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamEnd {
    /// The whole body arrived and no error trailer came.
    Complete {
        /// Bytes streamed.
        size: u64,
    },
    /// The runtime reported an error in the trailers.
    Failed {
        /// Bytes streamed before the error.
        size: u64,
        /// `Lambda-Runtime-Function-Error-Type`.
        error_type: Option<String>,
        /// `Lambda-Runtime-Function-Error-Body`, decoded from base64 (raw when not base64).
        body: Option<Bytes>,
    },
    /// The body passed the stream size limit.
    TooLarge {
        /// The limit in bytes.
        limit: u64,
    },
}

/// Serves the Runtime API on `listener` until the task is aborted (which closes every
/// connection with it).
pub async fn serve(listener: TcpListener, requests: mpsc::UnboundedSender<RuntimeRequest>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                let requests = requests.clone();
                connections.spawn(async move {
                    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                        let requests = requests.clone();
                        let req = req.map(RequestBody::new);
                        async move { Ok::<_, Infallible>(handle(req, &requests).await) }
                    });
                    // Header names as Lambda's server writes them (`Lambda-Runtime-Aws-Request-Id`),
                    // for clients that look them up case-sensitively.
                    let _ = hyper::server::conn::http1::Builder::new()
                        .keep_alive(true)
                        .title_case_headers(true)
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// The Runtime API's health check.
const PING_PATH: &str = "/2018-06-01/ping";

async fn handle(
    req: Request<RequestBody>,
    requests: &mpsc::UnboundedSender<RuntimeRequest>,
) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_owned();
    let Some(route) = path.strip_prefix(PREFIX) else {
        if let Some(route) = path.strip_prefix(super::extensions::PREFIX) {
            return super::extensions::handle(req, route, requests).await;
        }
        use crate::environment::telemetry::TelemetryApi;
        if path == super::telemetry::PATH {
            return super::telemetry::handle(req, TelemetryApi::Telemetry, requests).await;
        }
        if path == super::telemetry::LOGS_PATH {
            return super::telemetry::handle(req, TelemetryApi::Logs, requests).await;
        }
        // Lambda's Runtime API keeps `GET /2018-06-01/ping` (answered `pong`) for clients
        // that still check it.
        if path == PING_PATH {
            return match *req.method() {
                Method::GET => {
                    let mut pong = Response::new(Full::new(Bytes::from_static(b"pong")));
                    pong.headers_mut().insert(
                        http::header::CONTENT_TYPE,
                        http::HeaderValue::from_static("text/plain; charset=utf-8"),
                    );
                    pong
                }
                _ => not_allowed(&path, "GET"),
            };
        }
        return not_found(&path);
    };
    let segments: Vec<&str> = route.split('/').collect();
    match (req.method(), segments.as_slice()) {
        (&Method::GET, ["invocation", "next"]) => next(requests).await,
        (&Method::POST, ["invocation", id, "response"]) if !id.is_empty() && is_streaming(&req) => {
            let request_id = (*id).to_owned();
            stream_response(req, request_id, requests).await
        }
        (&Method::POST, ["invocation", id, "response"]) if !id.is_empty() => {
            let request_id = (*id).to_owned();
            let received = Instant::now();
            let (reply, answer) = oneshot::channel();
            let request = match read_body(req.into_body(), MAX_RESPONSE_BYTES).await {
                Ok(body) => RuntimeRequest::Response {
                    request_id,
                    body,
                    received,
                    reply,
                },
                Err(BodyError::TooLarge { size }) => RuntimeRequest::ResponseTooLarge {
                    request_id,
                    size,
                    received,
                    reply,
                },
                Err(BodyError::Read(e)) => {
                    return error(
                        StatusCode::BAD_REQUEST,
                        "InvalidRequest",
                        &format!("cannot read the response body: {e}"),
                    )
                }
            };
            post(requests, request, answer).await
        }
        (&Method::POST, ["invocation", id, "error"]) if !id.is_empty() => {
            let request_id = (*id).to_owned();
            let received = Instant::now();
            let error_type = header(&req, ERROR_TYPE_HEADER);
            let with_cause = header(&req, "content-type")
                .is_some_and(|t| t.eq_ignore_ascii_case(errors::ERROR_WITH_CAUSE));
            let (reply, answer) = oneshot::channel();
            let request = match read_body(req.into_body(), MAX_RESPONSE_BYTES).await {
                // An error document over the response limit is refused as a response is.
                Err(BodyError::TooLarge { size }) => RuntimeRequest::ResponseTooLarge {
                    request_id,
                    size,
                    received,
                    reply,
                },
                Ok(body) if with_cause => RuntimeRequest::Error {
                    request_id,
                    body: Some(errors::without_cause(error_type.as_deref(), &body)),
                    error_type,
                    reply,
                },
                body => RuntimeRequest::Error {
                    request_id,
                    error_type,
                    body: body.ok().filter(|b| !b.is_empty()),
                    reply,
                },
            };
            post(requests, request, answer).await
        }
        (&Method::POST, ["init", "error"]) => {
            let error_type = header(&req, ERROR_TYPE_HEADER);
            let body = read_body(req.into_body(), MAX_RESPONSE_BYTES)
                .await
                .ok()
                .filter(|b| !b.is_empty());
            let (reply, answer) = oneshot::channel();
            let request = RuntimeRequest::InitError {
                error_type,
                body,
                reply,
            };
            post(requests, request, answer).await
        }
        // A route of the API with another method (chi, Lambda's router, answers 405).
        (_, ["invocation", "next"]) => not_allowed(&path, "GET"),
        (_, ["invocation", id, "response" | "error"]) if !id.is_empty() => {
            not_allowed(&path, "POST")
        }
        (_, ["init", "error"]) => not_allowed(&path, "POST"),
        _ => not_found(&path),
    }
}

/// Whether `/response` is in response mode `streaming`.
fn is_streaming(req: &Request<RequestBody>) -> bool {
    header(req, RESPONSE_MODE_HEADER).is_some_and(|m| m.eq_ignore_ascii_case("streaming"))
}

/// Forwards a streamed `/response` body to the caller as it arrives, then reports how it
/// ended (trailers included) to the environment.
async fn stream_response(
    req: Request<RequestBody>,
    request_id: String,
    requests: &mpsc::UnboundedSender<RuntimeRequest>,
) -> Response<Full<Bytes>> {
    let content_type = header(&req, "content-type");
    let (reply, answer) = oneshot::channel();
    let start = RuntimeRequest::StreamStart {
        request_id: request_id.clone(),
        content_type,
        reply,
    };
    if requests.send(start).is_err() {
        return gone();
    }
    let mut sink = match answer.await {
        Ok(StreamAnswer::Accepted(sink)) => sink,
        Ok(StreamAnswer::Refused(refusal)) => return refused(refusal),
        Err(_) => return gone(),
    };
    let mut body = req.into_body();
    let mut trailers = None;
    let mut end = None;
    while let Some(frame) = body.frame().await {
        let frame = match frame {
            Ok(frame) => frame,
            Err(e) => {
                // The runtime's connection broke: the process exit (or the timeout) decides
                // how the invocation ends.
                tracing::debug!(error = %e, %request_id, "streamed response broke off");
                return error(
                    StatusCode::BAD_REQUEST,
                    "InvalidRequest",
                    &format!("cannot read the streamed response: {e}"),
                );
            }
        };
        match frame.into_data() {
            Ok(data) => {
                if let Err(e) = sink.send(data).await {
                    end = Some(StreamEnd::TooLarge { limit: e.limit });
                    break;
                }
            }
            Err(frame) => trailers = frame.into_trailers().ok(),
        }
    }
    let end = end.unwrap_or_else(|| stream_end(trailers.as_ref(), sink.sent()));
    // Closing the chunk channel ends the caller's stream before the outcome follows.
    drop(sink);
    let (reply, answer) = oneshot::channel();
    let request = RuntimeRequest::StreamEnd {
        request_id,
        end,
        reply,
    };
    post(requests, request, answer).await
}

/// How the stream ended, from its trailers.
fn stream_end(trailers: Option<&http::HeaderMap>, size: u64) -> StreamEnd {
    let get = |name: &str| {
        trailers
            .and_then(|t| t.get(name))
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let error_type = get(ERROR_TYPE_HEADER).map(str::to_owned);
    let body = get(ERROR_BODY_TRAILER).map(|b| {
        base64::engine::general_purpose::STANDARD
            .decode(b)
            .map(Bytes::from)
            .unwrap_or_else(|_| Bytes::copy_from_slice(b.as_bytes()))
    });
    if error_type.is_none() && body.is_none() {
        StreamEnd::Complete { size }
    } else {
        StreamEnd::Failed {
            size,
            error_type,
            body,
        }
    }
}

/// A header's value, trimmed; `None` when missing, empty or not text.
pub(super) fn header(req: &Request<RequestBody>, name: &str) -> Option<String> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

async fn next(requests: &mpsc::UnboundedSender<RuntimeRequest>) -> Response<Full<Bytes>> {
    let (reply, answer) = oneshot::channel();
    if requests.send(RuntimeRequest::Next { reply }).is_err() {
        return gone();
    }
    match answer.await {
        Ok(NextAnswer::Event(event)) => event_response(event),
        Ok(NextAnswer::Refused(refusal)) => refused(refusal),
        Err(_) => gone(),
    }
}

fn event_response(event: NextEvent) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(event.payload));
    let h = response.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let mut put = |name: &'static str, value: &str| {
        if let Ok(v) = HeaderValue::from_bytes(value.as_bytes()) {
            h.insert(name, v);
        }
    };
    put("lambda-runtime-aws-request-id", &event.request_id);
    put("lambda-runtime-deadline-ms", &event.deadline_ms.to_string());
    put("lambda-runtime-invoked-function-arn", &event.invoked_arn);
    put("lambda-runtime-trace-id", &event.trace_id);
    if let Some(c) = &event.client_context {
        put("lambda-runtime-client-context", c);
    }
    if let Some(c) = &event.cognito_identity {
        put("lambda-runtime-cognito-identity", c);
    }
    if let Some(t) = &event.tenant_id {
        put("lambda-runtime-aws-tenant-id", t);
    }
    response
}

async fn post(
    requests: &mpsc::UnboundedSender<RuntimeRequest>,
    request: RuntimeRequest,
    answer: oneshot::Receiver<RuntimeAnswer>,
) -> Response<Full<Bytes>> {
    if requests.send(request).is_err() {
        return gone();
    }
    match answer.await {
        Ok(RuntimeAnswer::Accepted) => json(
            StatusCode::ACCEPTED,
            Bytes::from_static(b"{\"status\":\"OK\"}"),
        ),
        Ok(RuntimeAnswer::Refused(refusal)) => refused(refusal),
        Ok(RuntimeAnswer::TooLarge) => error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLarge",
            &format!("Exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes)."),
        ),
        Err(_) => gone(),
    }
}

/// A JSON answer.
pub(super) fn json(status: StatusCode, body: Bytes) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn error(status: StatusCode, error_type: &str, message: &str) -> Response<Full<Bytes>> {
    json(status, error_document(error_type, message))
}

/// 405 for a route of the Runtime API (or the Extensions API) called with a method it does not
/// take.
pub(super) fn not_allowed(path: &str, allowed: &'static str) -> Response<Full<Bytes>> {
    let mut response = error(
        StatusCode::METHOD_NOT_ALLOWED,
        "InvalidRequest",
        &format!("{path} takes {allowed} only"),
    );
    response
        .headers_mut()
        .insert(http::header::ALLOW, http::HeaderValue::from_static(allowed));
    response
}

fn not_found(path: &str) -> Response<Full<Bytes>> {
    error(
        StatusCode::NOT_FOUND,
        "InvalidRequest",
        &format!("no Runtime API route for {path}"),
    )
}

/// 500 `Runtime.ContainerError`: the environment is going away; the caller should exit.
pub(super) fn gone() -> Response<Full<Bytes>> {
    error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Runtime.ContainerError",
        "the execution environment is shutting down; the runtime should exit",
    )
}

/// A refused call, with the status Lambda's Runtime API gives it (see [`Refusal`]).
fn refused(refusal: Refusal) -> Response<Full<Bytes>> {
    json(refusal.status(), refusal.into_document())
}
