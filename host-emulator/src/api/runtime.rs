//! The Runtime API (2018-06-01) of one environment, on its own loopback listener. Each request
//! becomes a message to the environment's task, which decides the answer.

use std::convert::Infallible;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;

use super::{read_body, BodyError, MAX_RESPONSE_BYTES};
use crate::environment::{NextAnswer, NextEvent};
use crate::invocation::error_document;

const PREFIX: &str = "/2018-06-01/runtime/";
const ERROR_TYPE_HEADER: &str = "lambda-runtime-function-error-type";

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
        /// The answer to the runtime.
        reply: oneshot::Sender<RuntimeAnswer>,
    },
    /// `POST /invocation/{id}/response` with a body over the limit.
    ResponseTooLarge {
        /// The id in the path.
        request_id: String,
        /// Bytes seen.
        size: usize,
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
    /// 400 with this error document; nothing changed.
    BadRequest(Bytes),
    /// 413: the response was too large (the invoke failed).
    TooLarge,
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
                    let service = hyper::service::service_fn(move |req| {
                        let requests = requests.clone();
                        async move { Ok::<_, Infallible>(handle(req, &requests).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .keep_alive(true)
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn handle(
    req: Request<Incoming>,
    requests: &mpsc::UnboundedSender<RuntimeRequest>,
) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_owned();
    let Some(route) = path.strip_prefix(PREFIX) else {
        return not_found(&path);
    };
    let segments: Vec<&str> = route.split('/').collect();
    match (req.method(), segments.as_slice()) {
        (&Method::GET, ["invocation", "next"]) => next(requests).await,
        (&Method::POST, ["invocation", id, "response"]) if !id.is_empty() => {
            let request_id = (*id).to_owned();
            let (reply, answer) = oneshot::channel();
            let request = match read_body(req.into_body(), MAX_RESPONSE_BYTES).await {
                Ok(body) => RuntimeRequest::Response {
                    request_id,
                    body,
                    reply,
                },
                Err(BodyError::TooLarge { size }) => RuntimeRequest::ResponseTooLarge {
                    request_id,
                    size,
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
            let error_type = header(&req, ERROR_TYPE_HEADER);
            let body = read_body(req.into_body(), MAX_RESPONSE_BYTES)
                .await
                .ok()
                .filter(|b| !b.is_empty());
            let (reply, answer) = oneshot::channel();
            let request = RuntimeRequest::Error {
                request_id,
                error_type,
                body,
                reply,
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
        _ => not_found(&path),
    }
}

fn header(req: &Request<Incoming>, name: &str) -> Option<String> {
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
        Ok(NextAnswer::Refused(doc)) => json(StatusCode::BAD_REQUEST, doc),
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
        Ok(RuntimeAnswer::BadRequest(doc)) => json(StatusCode::BAD_REQUEST, doc),
        Ok(RuntimeAnswer::TooLarge) => error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLarge",
            &format!("Exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes)."),
        ),
        Err(_) => gone(),
    }
}

fn json(status: StatusCode, body: Bytes) -> Response<Full<Bytes>> {
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

fn not_found(path: &str) -> Response<Full<Bytes>> {
    error(
        StatusCode::NOT_FOUND,
        "InvalidRequest",
        &format!("no Runtime API route for {path}"),
    )
}

fn gone() -> Response<Full<Bytes>> {
    error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Runtime.ContainerError",
        "the execution environment is shutting down; the runtime should exit",
    )
}
