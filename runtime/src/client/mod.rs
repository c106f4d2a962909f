//! The Runtime API client: HTTP/1.1 over one kept-alive TCP connection (reopened when it drops),
//! with the calls a runtime makes: `/next`, `/response` (buffered or streamed), `/error` and
//! `/init/error`.

mod body;

use bytes::Bytes;
use http::{header, HeaderValue, Method, Request, Response, StatusCode, Uri};
use http_body_util::BodyExt;
use hyper::{body::Incoming, client::conn::http1};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

pub(crate) use body::RequestBody;
use body::{error_document, error_type};

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

    /// Any other call on this client's connection (the Extensions API shares the address):
    /// `method` on `path` (after the endpoint's prefix) with `headers` and an optional JSON
    /// `body`. Returns the answer's head and body, whatever its status.
    #[cfg_attr(not(all(unix, feature = "graceful-shutdown")), allow(dead_code))]
    pub(crate) async fn call(
        &mut self,
        method: Method,
        path: &str,
        headers: &[(&'static str, HeaderValue)],
        body: Option<Bytes>,
    ) -> Result<(http::response::Parts, Bytes), ApiError> {
        let uri = Uri::try_from(format!("{}{path}", self.endpoint.prefix())).map_err(|_| {
            ApiError::Unreachable {
                endpoint: self.endpoint.to_string(),
                attempts: 0,
                last_error: format!("{path} cannot be used in an HTTP request"),
            }
        })?;
        let json = body.is_some();
        let mut req = Request::new(match body {
            Some(body) => RequestBody::Buffered(Some(body)),
            None => RequestBody::Empty,
        });
        *req.method_mut() = method;
        *req.uri_mut() = uri;
        self.common_headers(&mut req);
        let all = req.headers_mut();
        if json {
            all.insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON));
        }
        for (name, value) in headers {
            all.insert(*name, value.clone());
        }
        let response = self.send(req).await?;
        let (parts, body) = response.into_parts();
        let body = read_body(body, path).await?;
        Ok((parts, body))
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

/// Reads a whole answer body. A body in one frame (the usual case) is kept as it is, without a
/// copy.
async fn read_body(mut body: Incoming, path: &str) -> Result<Bytes, ApiError> {
    let mut first: Option<Bytes> = None;
    let mut joined: Vec<u8> = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|source| ApiError::Http {
            path: path.to_owned(),
            source,
        })?;
        // Trailers carry nothing the runtime reads.
        let Ok(data) = frame.into_data() else {
            continue;
        };
        match &first {
            None => first = Some(data),
            Some(head) => {
                if joined.is_empty() {
                    joined.extend_from_slice(head);
                }
                joined.extend_from_slice(&data);
            }
        }
    }
    Ok(if joined.is_empty() {
        first.unwrap_or_default()
    } else {
        Bytes::from(joined)
    })
}

#[cfg(test)]
mod tests {
    use tokio::{
        io::{AsyncReadExt, AsyncWriteExt},
        net::TcpListener,
    };

    use super::*;

    /// Accepts one connection, reads one request head and writes `answer` in `pieces` writes.
    async fn answer_once(listener: TcpListener, pieces: Vec<&'static [u8]>) {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            stream.read_exact(&mut byte).await.unwrap();
            head.push(byte[0]);
        }
        assert!(head.starts_with(b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\n"));
        for piece in pieces {
            stream.write_all(piece).await.unwrap();
            stream.flush().await.unwrap();
        }
    }

    async fn next_with(pieces: Vec<&'static [u8]>) -> Result<(StatusCode, Bytes), ApiError> {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint =
            RuntimeApiEndpoint::parse(&listener.local_addr().unwrap().to_string()).unwrap();
        let server = tokio::spawn(answer_once(listener, pieces));
        let mut client = RuntimeApiClient::new(endpoint, RetryPolicy::default()).unwrap();
        let result = client.next_invocation().await;
        server.await.unwrap();
        result.map(|(parts, body)| (parts.status, body))
    }

    #[tokio::test]
    async fn a_body_in_several_frames_is_joined() {
        let (status, body) = next_with(vec![
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n",
            b"5\r\n{\"a\":\r\n",
            b"3\r\n12}\r\n",
            b"0\r\n\r\n",
        ])
        .await
        .unwrap();
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, Bytes::from_static(br#"{"a":12}"#));
    }

    #[tokio::test]
    async fn a_body_in_one_frame_and_an_empty_body() {
        let (_, body) = next_with(vec![b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nnull"])
            .await
            .unwrap();
        assert_eq!(body, Bytes::from_static(b"null"));
        let (_, body) = next_with(vec![b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"])
            .await
            .unwrap();
        assert!(body.is_empty());
    }

    #[tokio::test]
    async fn a_body_cut_short_is_an_http_error() {
        let error = next_with(vec![b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nnul"])
            .await
            .unwrap_err();
        assert!(
            matches!(&error, ApiError::Http { path, .. } if path == "/2018-06-01/runtime/invocation/next"),
            "{error}"
        );
    }
}
