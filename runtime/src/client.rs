//! The Runtime API client: HTTP/1.1 over one kept-alive TCP connection (reopened when it drops),
//! with the four calls a runtime makes: `/next`, `/response`, `/error` and `/init/error`.

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
};

const USER_AGENT: &str = concat!("firebox-runtime/", env!("CARGO_PKG_VERSION"));
const JSON: &str = "application/json";
/// The header naming a posted error's type.
pub(crate) const ERROR_TYPE: &str = "lambda-runtime-function-error-type";

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

/// A request body. Only buffered bodies exist today; a streamed response body (response
/// streaming, with trailers) is the variant to add here.
pub(crate) enum RequestBody {
    /// Nothing.
    Empty,
    /// One chunk, sent once.
    Buffered(Option<Bytes>),
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.get_mut() {
            RequestBody::Empty => Poll::Ready(None),
            RequestBody::Buffered(chunk) => Poll::Ready(chunk.take().map(|b| Ok(Frame::data(b)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            RequestBody::Empty => true,
            RequestBody::Buffered(chunk) => chunk.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            RequestBody::Empty => SizeHint::with_exact(0),
            RequestBody::Buffered(chunk) => {
                SizeHint::with_exact(chunk.as_ref().map_or(0, |b| b.len() as u64))
            }
        }
    }
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
        let uri = self.next_uri.clone();
        let response = self
            .send(|host| {
                let mut req = Request::new(RequestBody::Empty);
                *req.uri_mut() = uri.clone();
                req.headers_mut().insert(header::HOST, host.clone());
                req.headers_mut()
                    .insert(header::USER_AGENT, HeaderValue::from_static(USER_AGENT));
                req
            })
            .await?;
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

    async fn post(
        &mut self,
        uri: Uri,
        body: Bytes,
        error_type: Option<HeaderValue>,
    ) -> Result<PostOutcome, ApiError> {
        let path = uri.path().to_owned();
        let response = self
            .send(|host| {
                let mut req = Request::new(RequestBody::Buffered(Some(body.clone())));
                *req.method_mut() = Method::POST;
                *req.uri_mut() = uri.clone();
                let headers = req.headers_mut();
                headers.insert(header::HOST, host.clone());
                headers.insert(header::USER_AGENT, HeaderValue::from_static(USER_AGENT));
                headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON));
                if let Some(error_type) = &error_type {
                    headers.insert(ERROR_TYPE, error_type.clone());
                }
                req
            })
            .await?;
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

    /// Sends a request on the kept-alive connection, (re)connecting as needed. Connection
    /// failures, and requests that never left, are retried by the retry policy; a failure
    /// after a request was sent is retried only for `/next` (which has no side effect).
    async fn send(
        &mut self,
        build: impl Fn(&HeaderValue) -> Request<RequestBody>,
    ) -> Result<Response<Incoming>, ApiError> {
        let attempts = self.retry.attempts.max(1);
        let mut backoff = self.retry.initial_backoff;
        let mut last_error = String::new();
        for attempt in 1..=attempts {
            if attempt > 1 {
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(self.retry.max_backoff);
            }
            let host = self.host.clone();
            let sender = match self.connection().await {
                Ok(sender) => sender,
                Err(e) => {
                    tracing::debug!(attempt, error = %e, "cannot connect to the Runtime API");
                    last_error = e;
                    continue;
                }
            };
            let request = build(&host);
            let idempotent = request.method() == Method::GET;
            let path = request.uri().path().to_owned();
            match sender.try_send_request(request).await {
                Ok(response) => return Ok(response),
                Err(mut e) => {
                    self.sender = None;
                    let unsent = e.take_message().is_some();
                    let error = e.into_error();
                    if unsent || idempotent {
                        tracing::debug!(attempt, %error, "Runtime API request failed; retrying");
                        last_error = error.to_string();
                        continue;
                    }
                    return Err(ApiError::Http {
                        path,
                        source: error,
                    });
                }
            }
        }
        Err(ApiError::Unreachable {
            endpoint: self.endpoint.to_string(),
            attempts,
            last_error,
        })
    }

    /// The open connection, or a new one.
    async fn connection(&mut self) -> Result<&mut http1::SendRequest<RequestBody>, String> {
        if self.sender.as_ref().is_some_and(|s| s.is_closed()) {
            self.sender = None;
        }
        let sender = match self.sender.take() {
            Some(sender) => sender,
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
                sender
            }
        };
        let mut sender = sender;
        if let Err(e) = sender.ready().await {
            return Err(e.to_string());
        }
        Ok(self.sender.insert(sender))
    }
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
