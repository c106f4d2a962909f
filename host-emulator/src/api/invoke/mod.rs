//! The public listener: the Invoke API (2015-03-31), the streaming Invoke API (2021-11-15,
//! in `streaming`) and function URLs (routed to [`crate::url`]). It parses requests, hands
//! invocations to the function's scheduler and answers exactly as Lambda does, mapping every
//! failure to AWS's error shape.

mod control;
mod request;
mod streaming;

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use bytes::{Bytes, BytesMut};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use hyper::body::Incoming;

use crate::api::RequestBody;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

pub(crate) use request::percent_decode_bytes;
use request::{prepare, read_payload, InvocationType};

use super::MAX_RESPONSE_BYTES;
pub(crate) use crate::functions::Functions;
use crate::invocation::{error_document, Answer, Invocation, Outcome, Reply};
use crate::scheduler::FunctionShared;
use crate::stream::{ResponseBody, DEFAULT_MAX_STREAM_BYTES};

/// Longest base64 `X-Amz-Client-Context`.
pub const MAX_CLIENT_CONTEXT_BYTES: usize = 3583;
/// Non-standard header carrying a Cognito identity (JSON) to `Lambda-Runtime-Cognito-Identity`.
pub const COGNITO_IDENTITY_HEADER: &str = "x-firebox-cognito-identity";

/// Serves the public listener until `stop` fires, then drains: the listener closes, idle
/// connections close, and each busy one closes once its request in flight is answered (an
/// invoke waiting for its function included). Returns when the last connection has closed;
/// aborting the task closes every connection at once.
pub(crate) async fn serve(
    listener: TcpListener,
    functions: Arc<Functions>,
    mut stop: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    // Tells every connection to finish its request in flight and close.
    let (drain, draining) = watch::channel(false);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        // Out of file descriptors and the like: wait a little, keep serving.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let peer = stream.peer_addr().ok();
                let _ = stream.set_nodelay(true);
                let functions = functions.clone();
                connections.spawn(connection(stream, functions, peer, draining.clone()));
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            changed = stop.changed() => {
                if changed.is_err() || *stop.borrow() {
                    break;
                }
            }
        }
    }
    drop(listener);
    let _ = drain.send(true);
    while connections.join_next().await.is_some() {}
}

/// Serves one connection of the public listener until the client closes it, or, once `drain`
/// fires, until its request in flight (if any) is answered.
async fn connection(
    stream: tokio::net::TcpStream,
    functions: Arc<Functions>,
    peer: Option<std::net::SocketAddr>,
    mut drain: watch::Receiver<bool>,
) {
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let functions = functions.clone();
        let req = req.map(RequestBody::new);
        async move { Ok::<_, Infallible>(handle(req, &functions, peer).await) }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .keep_alive(true)
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(30));
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    let mut draining = false;
    let result = loop {
        tokio::select! {
            // The connection first: it is what every wake-up is for, but the one at a drain.
            biased;
            result = conn.as_mut() => break result,
            // The sender goes away only with the server task, which then drains too.
            _ = drain.changed(), if !draining => {
                draining = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    };
    if let Err(e) = result {
        tracing::debug!(error = %e, "invoke connection ended with an error");
    }
}

async fn handle(
    req: Request<RequestBody>,
    functions: &Arc<Functions>,
    peer: Option<std::net::SocketAddr>,
) -> Response<ResponseBody> {
    if let Some(target) = crate::url::route(&req) {
        return crate::url::handle(req, target, functions, peer).await;
    }
    let request_id = crate::ids::request_id();
    let path = req.uri().path().to_owned();
    let segments: Vec<&str> = path.split('/').collect();
    let result = match segments.as_slice() {
        ["", "2015-03-31", "functions", name, "invocations"] if !name.is_empty() => {
            let name = (*name).to_owned();
            match check_post(&req, &path) {
                Ok(()) => invoke(req, &name, functions, &request_id).await,
                Err(e) => Err(e),
            }
        }
        ["", "2021-11-15", "functions", name, "response-streaming-invocations"]
            if !name.is_empty() =>
        {
            let name = (*name).to_owned();
            match check_post(&req, &path) {
                Ok(()) => streaming::invoke(req, &name, functions, &request_id).await,
                Err(e) => Err(e),
            }
        }
        // The deprecated `InvokeAsync`: an `Event` invocation answered `{"Status":202}`.
        ["", "2014-11-13", "functions", name, "invoke-async"]
        | ["", "2014-11-13", "functions", name, "invoke-async", ""]
            if !name.is_empty() =>
        {
            let name = (*name).to_owned();
            match check_post(&req, &path) {
                Ok(()) => invoke_async(req, &name, functions, &request_id).await,
                Err(e) => Err(e),
            }
        }
        ["", "metrics"] if req.method() == Method::GET => {
            return crate::metrics::response(functions).await;
        }
        // The `.zip` of an uploaded package, where `GetFunction`'s `Code.Location` points.
        ["", "firebox", "code", name] if req.method() == Method::GET => {
            return code_download(functions, name).await;
        }
        _ => match control::Operation::route(&segments) {
            Some(operation) => control::answer(req, operation, functions).await.map(|a| {
                let body = a.body.map(|b| Bytes::from(b.to_string()));
                answer(a.status, body.unwrap_or_default(), &request_id)
            }),
            None => Err(ServiceError::new(
                StatusCode::NOT_FOUND,
                "UnknownOperationException",
                format!("Unknown operation: {} {path}", req.method()),
            )),
        },
    };
    result.unwrap_or_else(|e| e.into_response(&request_id))
}

/// `GET /firebox/code/NAME.zip`: a kept package `.zip` (200 `application/zip`), or 404.
async fn code_download(functions: &Functions, name: &str) -> Response<ResponseBody> {
    let zip = match functions.deployment.packages.kept_zip(name) {
        Some(path) => tokio::fs::read(path).await.ok(),
        None => None,
    };
    let (status, content_type, body) = match zip {
        Some(bytes) => (StatusCode::OK, "application/zip", Bytes::from(bytes)),
        None => (
            StatusCode::NOT_FOUND,
            "application/json",
            Bytes::from_static(br#"{"Message":"No such package"}"#),
        ),
    };
    let mut response = Response::new(ResponseBody::full(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(content_type),
    );
    response
}

/// The invoke paths take only `POST`; another method names no operation, which Lambda (a
/// REST-JSON service routing on method and path together) answers 404
/// `UnknownOperationException`, as every other unrouted request here.
fn check_post(req: &Request<RequestBody>, path: &str) -> Result<(), ServiceError> {
    if req.method() == Method::POST {
        return Ok(());
    }
    Err(ServiceError::new(
        StatusCode::NOT_FOUND,
        "UnknownOperationException",
        format!("Unknown operation: {} {path}", req.method()),
    ))
}

/// A service error in AWS's shape.
#[derive(Debug)]
pub(crate) struct ServiceError {
    status: StatusCode,
    code: &'static str,
    message: String,
    reason: Option<&'static str>,
}

impl ServiceError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            reason: None,
        }
    }

    fn into_response(self, request_id: &str) -> Response<ResponseBody> {
        let kind = if self.status.is_server_error() {
            "Service"
        } else {
            "User"
        };
        let mut response_retry_after = false;
        let mut body = serde_json::json!({ "Type": kind, "message": self.message });
        if let Some(reason) = self.reason {
            body["Reason"] = reason.into();
            // botocore's model: `retryAfterSeconds` travels in this header.
            response_retry_after = true;
        }
        let mut response = Response::new(ResponseBody::full(body.to_string()));
        *response.status_mut() = self.status;
        let h = response.headers_mut();
        h.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        h.insert("x-amzn-errortype", HeaderValue::from_static(self.code));
        if response_retry_after {
            h.insert("retry-after", HeaderValue::from_static("1"));
        }
        if let Ok(v) = HeaderValue::from_str(request_id) {
            h.insert("x-amzn-requestid", v);
        }
        response
    }
}

/// 400 `InvalidRequestContentException` for a request body that could not be read.
fn unreadable(e: impl std::fmt::Display) -> ServiceError {
    ServiceError::new(
        StatusCode::BAD_REQUEST,
        "InvalidRequestContentException",
        format!("Could not read the request body: {e}"),
    )
}

fn bad_parameter(message: impl Into<String>) -> ServiceError {
    ServiceError::new(
        StatusCode::BAD_REQUEST,
        "InvalidParameterValueException",
        message,
    )
}

fn throttled(reason: &'static str) -> ServiceError {
    ServiceError {
        status: StatusCode::TOO_MANY_REQUESTS,
        code: "TooManyRequestsException",
        message: "Rate Exceeded.".into(),
        reason: Some(reason),
    }
}

fn shutting_down() -> ServiceError {
    ServiceError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "ServiceException",
        "The emulator is shutting down.",
    )
}

/// Hands an accepted `Event` invocation to its function's queue (`asynchronous`).
fn start_event(
    prepared: request::Prepared,
    payload: Bytes,
    functions: &Arc<Functions>,
    request_id: &str,
) -> Result<(), ServiceError> {
    let function = prepared.function.clone();
    let target = prepared.event_target();
    let (mut invocation, outcome) =
        Invocation::event(request_id.to_owned(), payload, prepared.arn.clone());
    prepared.fill(&mut invocation);
    let functions = Arc::downgrade(functions);
    crate::asynchronous::start(functions, &target, function, invocation, outcome)
        .map_err(|()| shutting_down())
}

/// `InvokeAsync` (deprecated, still served by Lambda): the body is the event, run as an
/// `Event` invocation under the same limits and errors; answered 202 `{"Status":202}`.
async fn invoke_async(
    req: Request<RequestBody>,
    raw_name: &str,
    functions: &Arc<Functions>,
    request_id: &str,
) -> Result<Response<ResponseBody>, ServiceError> {
    let mut prepared = prepare(&req, raw_name, functions)?;
    // Whatever the headers say: `InvokeAsync` has no invocation type and no log tail.
    prepared.invocation_type = InvocationType::Event;
    prepared.tail = false;
    let payload = read_payload(req, InvocationType::Event).await?;
    start_event(prepared, payload, functions, request_id)?;
    Ok(answer(
        StatusCode::ACCEPTED,
        Bytes::from_static(br#"{"Status":202}"#),
        request_id,
    ))
}

/// `Invoke`: a buffered answer (a streamed response is buffered up to the 6 MB limit).
async fn invoke(
    req: Request<RequestBody>,
    raw_name: &str,
    functions: &Arc<Functions>,
    request_id: &str,
) -> Result<Response<ResponseBody>, ServiceError> {
    let prepared = prepare(&req, raw_name, functions)?;
    let invocation_type = prepared.invocation_type;
    if invocation_type == InvocationType::DryRun {
        return Ok(answer(StatusCode::NO_CONTENT, Bytes::new(), request_id));
    }
    let payload = read_payload(req, invocation_type).await?;
    if invocation_type == InvocationType::Event {
        start_event(prepared, payload, functions, request_id)?;
        return Ok(answer(StatusCode::ACCEPTED, Bytes::new(), request_id));
    }
    let function = prepared.function.clone();
    let outcome = match run_sync(prepared, payload, request_id).await? {
        Reply::Complete(outcome) => outcome,
        Reply::Streaming { start, outcome } => {
            buffer_stream(start.chunks, outcome, (&function.log, request_id)).await?
        }
    };
    let response = match outcome.answer {
        Answer::Success(body) => answer(StatusCode::OK, body, request_id),
        Answer::FunctionError(doc) => function_error(doc, request_id),
        Answer::Throttled { reason } => return Err(throttled(reason)),
        Answer::ServiceError(message) => {
            return Err(ServiceError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "ServiceException",
                message,
            ))
        }
    };
    let mut response = executed(response, &function);
    if let Some(tail) = outcome.log_tail {
        let encoded = base64::engine::general_purpose::STANDARD.encode(tail.as_bytes());
        if let Ok(v) = HeaderValue::from_str(&encoded) {
            response.headers_mut().insert("x-amz-log-result", v);
        }
    }
    Ok(response)
}

/// Hands an invocation to its function's scheduler.
fn submit(function: &FunctionShared, invocation: Invocation) -> Result<(), ServiceError> {
    crate::scheduler::submit(function, invocation).map_err(|()| shutting_down())
}

/// Runs a synchronous invocation of the prepared request and waits for its answer (or the
/// start of its streamed response).
async fn run_sync(
    prepared: request::Prepared,
    payload: Bytes,
    request_id: &str,
) -> Result<Reply, ServiceError> {
    let function = prepared.function.clone();
    let (mut invocation, waiting) =
        Invocation::sync(request_id.to_owned(), payload, prepared.arn.clone());
    prepared.fill(&mut invocation);
    submit(&function, invocation)?;
    waiting.wait().await.map_err(|_| shutting_down())
}

/// Collects a streamed response for a buffered caller. Past [`MAX_RESPONSE_BYTES`] the
/// chunks are no longer kept, only counted, and the invoke fails with
/// `Function.ResponseSizeTooLarge` naming the response's real size, as Lambda's does. The
/// counting reads to the end of the stream (which the function's own stream limit and timeout
/// end) but at most [`DEFAULT_MAX_STREAM_BYTES`]; past that the stream is let go (drained and
/// dropped by the runtime side) and the size reported is what was counted. Waits for the
/// stream's outcome either way (an error from the trailers wins over the bytes; the log tail
/// comes with it).
pub(crate) async fn buffer_stream(
    mut chunks: mpsc::Receiver<Bytes>,
    outcome: tokio::sync::oneshot::Receiver<Outcome>,
    (log, request_id): (&crate::logs::FunctionLog, &str),
) -> Result<Outcome, ServiceError> {
    let mut body = BytesMut::new();
    // Bytes past the limit, counted and dropped.
    let mut size = 0u64;
    while let Some(chunk) = chunks.recv().await {
        size += chunk.len() as u64;
        if size <= MAX_RESPONSE_BYTES as u64 {
            body.extend_from_slice(&chunk);
        } else {
            // Kept bytes are let go at once; only the count goes on.
            body = BytesMut::new();
            if size >= DEFAULT_MAX_STREAM_BYTES {
                break;
            }
        }
    }
    drop(chunks);
    let mut outcome = outcome.await.map_err(|_| shutting_down())?;
    match &outcome.answer {
        Answer::Success(_) if size > MAX_RESPONSE_BYTES as u64 => {
            // The environment saw a stream within its own limit; the log says why it failed.
            log.platform_line(crate::logs::system::PlatformLine::fault(format!(
                "RequestId: {request_id} Error: Response payload size exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes)."
            )));
            outcome.answer = Answer::FunctionError(error_document(
                "Function.ResponseSizeTooLarge",
                &format!(
                    "Response payload size ({size} bytes) exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes)."
                ),
            ));
        }
        Answer::Success(_) => outcome.answer = Answer::Success(body.freeze()),
        _ => {}
    }
    Ok(outcome)
}

fn function_error(doc: Bytes, request_id: &str) -> Response<ResponseBody> {
    let mut r = answer(StatusCode::OK, doc, request_id);
    r.headers_mut().insert(
        "x-amz-function-error",
        HeaderValue::from_static("Unhandled"),
    );
    r
}

fn answer(status: StatusCode, body: Bytes, request_id: &str) -> Response<ResponseBody> {
    let mut response = Response::new(ResponseBody::full(body));
    *response.status_mut() = status;
    let h = response.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert("x-amzn-requestid", v);
    }
    response
}

/// Adds `X-Amz-Executed-Version`: the version that ran (through an alias, the one it picked).
fn executed(
    mut response: Response<ResponseBody>,
    function: &FunctionShared,
) -> Response<ResponseBody> {
    response
        .headers_mut()
        .insert("x-amz-executed-version", function.executed_version.clone());
    response
}
