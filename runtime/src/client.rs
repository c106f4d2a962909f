//! The Runtime API client: HTTP/1.1 over one kept-alive TCP connection (reopened when it drops),
//! with the calls a runtime makes: `/next`, `/response` (buffered or streamed), `/error` and
//! `/init/error`.

use std::{
    convert::Infallible,
    pin::Pin,
    task::{Context as TaskContext, Poll},
};

use bytes::Bytes;
use http::{header, HeaderValue, Method, Request, Response, StatusCode, Uri};
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use hyper::{body::Incoming, client::conn::http1};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::{
    config::{RetryPolicy, RuntimeApiEndpoint},
    diagnostic::Diagnostic,
    streaming::ResponseStream,
};

const USER_AGENT: &str = concat!("firebox-runtime/", env!("CARGO_PKG_VERSION"));
const JSON: &str = "application/json";
/// The header naming a posted error's type (also a trailer of streamed responses).
pub(crate) const ERROR_TYPE: &str = "lambda-runtime-function-error-type";
/// The trailer carrying a failed stream's error document, in base64.
pub(crate) const ERROR_BODY: &str = "lambda-runtime-function-error-body";
/// The header that marks a streamed response.
pub(crate) const RESPONSE_MODE: &str = "lambda-runtime-function-response-mode";
/// The `Trailer` header of a streamed response.
const STREAM_TRAILERS: &str =
    "Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body";

/// A failed exchange with the Runtime API.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The Runtime API could not be reached (connection refused, reset, ...), even after retries.
    #[error(
        "cannot reach the Runtime API at {endpoint} after {attempts} attempt(s): {last_error}"
    )]
    Unreachable {
        /// The address tried.
        endpoint: String,
        /// How many attempts were made.
        attempts: u32,
        /// The last failure.
        last_error: String,
    },
    /// The connection failed after the request was sent.
    #[error("the Runtime API connection failed during {path}: {source}")]
    Http {
        /// The request path.
        path: String,
        /// The transport error.
        #[source]
        source: hyper::Error,
    },
    /// The Runtime API answered 5xx: a container error; the runtime must exit.
    #[error("the Runtime API answered {path} with {status} (container error): {body}")]
    ContainerError {
        /// The request path.
        path: String,
        /// The status received.
        status: StatusCode,
        /// The answer's body, as text.
        body: String,
    },
    /// The Runtime API answered `/next` with something other than 200.
    #[error("the Runtime API answered {path} with unexpected status {status}: {body}")]
    UnexpectedStatus {
        /// The request path.
        path: String,
        /// The status received.
        status: StatusCode,
        /// The answer's body, as text.
        body: String,
    },
    /// A request id cannot be used in a URL path.
    #[error("request id {0:?} cannot be used in a Runtime API path")]
    InvalidRequestId(String),
}

/// The Runtime API's verdict on a posted result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PostOutcome {
    /// 2xx: taken.
    Accepted,
    /// 4xx: refused (unknown id, wrong state, too large); the loop goes on.
    Rejected {
        /// The status received.
        status: StatusCode,
        /// The answer's body, as text.
        body: String,
    },
}

/// A request body: nothing, one buffered chunk, or a response stream.
pub(crate) enum RequestBody {
    /// Nothing.
    Empty,
    /// One chunk, sent once.
    Buffered(Option<Bytes>),
    /// A streamed response; polled by the connection task, inside the invocation's span.
    Streaming {
        /// The chunks.
        stream: ResponseStream,
        /// The invocation's span, entered while the stream is polled.
        span: tracing::Span,
        /// Set once the stream ended or failed.
        done: bool,
    },
}

impl RequestBody {
    /// The same body again, for a resend; `None` for a stream (already consumed).
    fn replay(&self) -> Option<RequestBody> {
        match self {
            RequestBody::Empty => Some(RequestBody::Empty),
            RequestBody::Buffered(chunk) => Some(RequestBody::Buffered(chunk.clone())),
            RequestBody::Streaming { .. } => None,
        }
    }
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.get_mut() {
            RequestBody::Empty => Poll::Ready(None),
            RequestBody::Buffered(chunk) => Poll::Ready(chunk.take().map(|b| Ok(Frame::data(b)))),
            RequestBody::Streaming { done: true, .. } => Poll::Ready(None),
            RequestBody::Streaming { stream, span, done } => {
                let _entered = span.enter();
                match stream.poll_chunk(cx) {
                    Poll::Pending => Poll::Pending,
                    Poll::Ready(Some(Ok(chunk))) => Poll::Ready(Some(Ok(Frame::data(chunk)))),
                    Poll::Ready(None) => {
                        *done = true;
                        Poll::Ready(None)
                    }
                    Poll::Ready(Some(Err(diagnostic))) => {
                        *done = true;
                        tracing::error!(
                            errorType = %diagnostic.error_type,
                            "the response stream failed: {}",
                            diagnostic.error_message
                        );
                        Poll::Ready(Some(Ok(Frame::trailers(error_trailers(&diagnostic)))))
                    }
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            RequestBody::Empty => true,
            RequestBody::Buffered(chunk) => chunk.is_none(),
            RequestBody::Streaming { done, .. } => *done,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            RequestBody::Empty => SizeHint::with_exact(0),
            RequestBody::Buffered(chunk) => {
                SizeHint::with_exact(chunk.as_ref().map_or(0, |b| b.len() as u64))
            }
            RequestBody::Streaming { .. } => SizeHint::default(),
        }
    }
}

/// The trailers that report a failed stream.
fn error_trailers(diagnostic: &Diagnostic) -> http::HeaderMap {
    use base64::Engine;
    let mut trailers = http::HeaderMap::new();
    trailers.insert(ERROR_TYPE, error_type(diagnostic));
    let encoded = base64::engine::general_purpose::STANDARD.encode(error_document(diagnostic));
    // Base64 text is always a valid header value.
    if let Ok(value) = HeaderValue::from_str(&encoded) {
        trailers.insert(ERROR_BODY, value);
    }
    trailers
}

/// Why one attempt at a request failed.
enum Failure {
    /// The request never left (no connection, or refused before writing): it can be sent again.
    NotSent(Box<Request<RequestBody>>, String),
    /// The request (or part of it) was sent, then the connection failed.
    Sent {
        error: hyper::Error,
        /// Whether the connection had carried earlier requests (it may have gone stale).
        reused: bool,
    },
}

/// A Runtime API client owning one connection. Each invocation loop owns its own client, so
/// several loops (multi-concurrency) never share a connection.
pub(crate) struct RuntimeApiClient {
    endpoint: RuntimeApiEndpoint,
    host: HeaderValue,
    next_uri: Uri,
    retry: RetryPolicy,
    sender: Option<http1::SendRequest<RequestBody>>,
}

impl RuntimeApiClient {
    /// A client for `endpoint`; it connects lazily, on the first call.
    pub(crate) fn new(endpoint: RuntimeApiEndpoint, retry: RetryPolicy) -> Result<Self, ApiError> {
        let invalid = || ApiError::Unreachable {
            endpoint: endpoint.to_string(),
            attempts: 0,
            last_error: "the address cannot be used in an HTTP request".to_owned(),
        };
        let host = HeaderValue::from_str(endpoint.authority()).map_err(|_| invalid())?;
        let next_uri = Uri::try_from(format!(
            "{}/2018-06-01/runtime/invocation/next",
            endpoint.prefix()
        ))
        .map_err(|_| invalid())?;
        Ok(RuntimeApiClient {
            endpoint,
            host,
            next_uri,
            retry,
            sender: None,
        })
    }

    /// The endpoint this client talks to.
    pub(crate) fn endpoint(&self) -> &RuntimeApiEndpoint {
        &self.endpoint
    }

    /// `GET /next`: waits for the next invocation; returns its headers and body.
    pub(crate) async fn next_invocation(
        &mut self,
    ) -> Result<(http::response::Parts, Bytes), ApiError> {
        let mut req = Request::new(RequestBody::Empty);
        *req.uri_mut() = self.next_uri.clone();
        self.common_headers(&mut req);
        let response = self.send(req).await?;
        let (parts, body) = response.into_parts();
        let body = read_body(body, self.next_uri.path()).await?;
        if parts.status == StatusCode::OK {
            return Ok((parts, body));
        }
        let path = self.next_uri.path().to_owned();
        let body = String::from_utf8_lossy(&body).into_owned();
        Err(if parts.status.is_server_error() {
            ApiError::ContainerError {
                path,
                status: parts.status,
                body,
            }
        } else {
            ApiError::UnexpectedStatus {
                path,
                status: parts.status,
                body,
            }
        })
    }

    /// `POST /invocation/{id}/response` with a buffered JSON body.
    pub(crate) async fn post_response(
        &mut self,
        request_id: &str,
        body: Bytes,
    ) -> Result<PostOutcome, ApiError> {
        let uri = self.invocation_uri(request_id, "response")?;
        self.post(uri, body, None).await
    }

    /// `POST /invocation/{id}/response` in streaming mode: chunked, as `stream` produces its
    /// chunks, with error trailers if it fails. `span` is entered while the stream is polled.
    pub(crate) async fn post_streaming_response(
        &mut self,
        request_id: &str,
        stream: ResponseStream,
        span: tracing::Span,
    ) -> Result<PostOutcome, ApiError> {
        let uri = self.invocation_uri(request_id, "response")?;
        let content_type = stream.content_type().clone();
        let mut req = Request::new(RequestBody::Streaming {
            stream,
            span,
            done: false,
        });
        *req.method_mut() = Method::POST;
        *req.uri_mut() = uri;
        self.common_headers(&mut req);
        let headers = req.headers_mut();
        headers.insert(header::CONTENT_TYPE, content_type);
        headers.insert(RESPONSE_MODE, HeaderValue::from_static("streaming"));
        headers.insert(
            header::TRANSFER_ENCODING,
            HeaderValue::from_static("chunked"),
        );
        headers.insert(header::TRAILER, HeaderValue::from_static(STREAM_TRAILERS));
        self.exchange(req).await
    }

    /// `POST /invocation/{id}/error` with the error document.
    pub(crate) async fn post_error(
        &mut self,
        request_id: &str,
        diagnostic: &Diagnostic,
    ) -> Result<PostOutcome, ApiError> {
        let uri = self.invocation_uri(request_id, "error")?;
        self.post(
            uri,
            error_document(diagnostic),
            Some(error_type(diagnostic)),
        )
        .await
    }

    /// `POST /init/error` with the error document.
    pub(crate) async fn post_init_error(
        &mut self,
        diagnostic: &Diagnostic,
    ) -> Result<PostOutcome, ApiError> {
        let uri = Uri::try_from(format!(
            "{}/2018-06-01/runtime/init/error",
            self.endpoint.prefix()
        ))
        .map_err(|_| ApiError::InvalidRequestId(String::new()))?;
        self.post(
            uri,
            error_document(diagnostic),
            Some(error_type(diagnostic)),
        )
        .await
    }

    fn invocation_uri(&self, request_id: &str, what: &str) -> Result<Uri, ApiError> {
        let safe = !request_id.is_empty()
            && request_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.~:".contains(&b));
        if !safe {
            return Err(ApiError::InvalidRequestId(request_id.to_owned()));
        }
        Uri::try_from(format!(
            "{}/2018-06-01/runtime/invocation/{request_id}/{what}",
            self.endpoint.prefix()
        ))
        .map_err(|_| ApiError::InvalidRequestId(request_id.to_owned()))
    }

    fn common_headers(&self, req: &mut Request<RequestBody>) {
        let headers = req.headers_mut();
        headers.insert(header::HOST, self.host.clone());
        headers.insert(header::USER_AGENT, HeaderValue::from_static(USER_AGENT));
    }

    async fn post(
        &mut self,
        uri: Uri,
        body: Bytes,
        error_type: Option<HeaderValue>,
    ) -> Result<PostOutcome, ApiError> {
        let mut req = Request::new(RequestBody::Buffered(Some(body)));
        *req.method_mut() = Method::POST;
        *req.uri_mut() = uri;
        self.common_headers(&mut req);
        let headers = req.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON));
        if let Some(error_type) = error_type {
            headers.insert(ERROR_TYPE, error_type);
        }
        self.exchange(req).await
    }

    /// Sends a post and classifies the answer.
    async fn exchange(&mut self, req: Request<RequestBody>) -> Result<PostOutcome, ApiError> {
        let path = req.uri().path().to_owned();
        let response = self.send(req).await?;
        let (parts, body) = response.into_parts();
        let body = read_body(body, &path).await?;
        let status = parts.status;
        if status.is_success() {
            Ok(PostOutcome::Accepted)
        } else if status.is_server_error() {
            Err(ApiError::ContainerError {
                path,
                status,
                body: String::from_utf8_lossy(&body).into_owned(),
            })
        } else {
            Ok(PostOutcome::Rejected {
                status,
                body: String::from_utf8_lossy(&body).into_owned(),
            })
        }
    }

    /// Sends a request on the kept-alive connection, (re)connecting as needed.
    ///
    /// Connection failures, and requests that never left, are retried by the retry policy. A
    /// failure after the request was sent is retried for `/next` (no side effect), and once,
    /// on a new connection, for a buffered post that failed on a reused connection (the server
    /// closed it while it sat idle); a streamed post cannot be sent again.
    async fn send(
        &mut self,
        request: Request<RequestBody>,
    ) -> Result<Response<Incoming>, ApiError> {
        let attempts = self.retry.attempts.max(1);
        let mut backoff = self.retry.initial_backoff;
        let mut last_error = String::new();
        let path = request.uri().path().to_owned();
        let idempotent = request.method() == Method::GET;
        let mut request = request;
        for attempt in 1..=attempts {
            if attempt > 1 {
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(self.retry.max_backoff);
            }
            let replay = replay(&request);
            match self.try_once(request).await {
                Ok(response) => return Ok(response),
                Err(Failure::NotSent(unsent, why)) => {
                    tracing::debug!(attempt, error = %why, "Runtime API request not sent; retrying");
                    request = *unsent;
                    last_error = why;
                }
                Err(Failure::Sent { error, reused }) => match replay {
                    Some(again) if idempotent => {
                        tracing::debug!(attempt, %error, "Runtime API request failed; retrying");
                        request = again;
                        last_error = error.to_string();
                    }
                    Some(again) if reused => {
                        tracing::debug!(%error, "the kept-alive connection failed; posting again on a new one");
                        return match self.try_once(again).await {
                            Ok(response) => Ok(response),
                            Err(Failure::Sent { error, .. }) => Err(ApiError::Http {
                                path,
                                source: error,
                            }),
                            Err(Failure::NotSent(_, why)) => Err(ApiError::Unreachable {
                                endpoint: self.endpoint.to_string(),
                                attempts: attempt + 1,
                                last_error: why,
                            }),
                        };
                    }
                    _ => {
                        return Err(ApiError::Http {
                            path,
                            source: error,
                        })
                    }
                },
            }
        }
        Err(ApiError::Unreachable {
            endpoint: self.endpoint.to_string(),
            attempts,
            last_error,
        })
    }

    /// One attempt: connect if needed, then send.
    async fn try_once(
        &mut self,
        request: Request<RequestBody>,
    ) -> Result<Response<Incoming>, Failure> {
        let (sender, reused) = match self.connection().await {
            Ok(connection) => connection,
            Err(why) => return Err(Failure::NotSent(Box::new(request), why)),
        };
        match sender.try_send_request(request).await {
            Ok(response) => Ok(response),
            Err(mut e) => {
                self.sender = None;
                match e.take_message() {
                    Some(unsent) => Err(Failure::NotSent(
                        Box::new(unsent),
                        e.into_error().to_string(),
                    )),
                    None => Err(Failure::Sent {
                        error: e.into_error(),
                        reused,
                    }),
                }
            }
        }
    }

    /// The open connection (and `true`), or a new one (and `false`).
    async fn connection(&mut self) -> Result<(&mut http1::SendRequest<RequestBody>, bool), String> {
        if self.sender.as_ref().is_some_and(|s| s.is_closed()) {
            self.sender = None;
        }
        let (mut sender, reused) = match self.sender.take() {
            Some(sender) => (sender, true),
            None => {
                let stream = TcpStream::connect((self.endpoint.host(), self.endpoint.port()))
                    .await
                    .map_err(|e| e.to_string())?;
                // Small request/response exchanges: do not wait to fill packets.
                let _ = stream.set_nodelay(true);
                let (sender, connection) = http1::handshake(TokioIo::new(stream))
                    .await
                    .map_err(|e| e.to_string())?;
                tokio::spawn(async move {
                    if let Err(error) = connection.await {
                        tracing::debug!(%error, "Runtime API connection closed");
                    }
                });
                (sender, false)
            }
        };
        if let Err(e) = sender.ready().await {
            return Err(e.to_string());
        }
        Ok((self.sender.insert(sender), reused))
    }
}

/// A copy of `request` to send again, when its body allows it.
fn replay(request: &Request<RequestBody>) -> Option<Request<RequestBody>> {
    let body = request.body().replay()?;
    let mut again = Request::new(body);
    *again.method_mut() = request.method().clone();
    *again.uri_mut() = request.uri().clone();
    *again.version_mut() = request.version();
    *again.headers_mut() = request.headers().clone();
    Some(again)
}

async fn read_body(body: Incoming, path: &str) -> Result<Bytes, ApiError> {
    body.collect()
        .await
        .map(|collected| collected.to_bytes())
        .map_err(|source| ApiError::Http {
            path: path.to_owned(),
            source,
        })
}

/// The standard error document: `{"errorType": ..., "errorMessage": ...}`.
fn error_document(diagnostic: &Diagnostic) -> Bytes {
    // Serializing two strings into JSON cannot fail.
    serde_json::to_vec(diagnostic)
        .map(Bytes::from)
        .unwrap_or_else(|_| Bytes::from_static(br#"{"errorType":"Unknown","errorMessage":""}"#))
}

/// The error type as a header value (characters a header cannot carry are replaced).
fn error_type(diagnostic: &Diagnostic) -> HeaderValue {
    HeaderValue::from_str(&diagnostic.error_type).unwrap_or_else(|_| {
        let cleaned: String = diagnostic
            .error_type
            .chars()
            .map(|c| if c.is_ascii_graphic() { c } else { '_' })
            .collect();
        HeaderValue::from_str(&cleaned).unwrap_or(HeaderValue::from_static("Unknown"))
    })
}
