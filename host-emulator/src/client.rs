//! A small Invoke API client over plain HTTP, used by [`crate::Emulator::invoke`] and by
//! `firebox invoke`, with `InvokeWithResponseStream` read as the chunks arrive (`stream`). It
//! speaks to any Invoke API endpoint (`http://host:port`).

use base64::Engine;
use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

mod payload;
mod stream;

pub use payload::Payload;
pub use stream::{invoke_stream, Chunk, InvokeStream, StreamComplete, Streamed};

/// How to invoke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InvocationType {
    /// Synchronous (200).
    #[default]
    RequestResponse,
    /// Asynchronous (202).
    Event,
    /// Only check the request (204).
    DryRun,
}

impl InvocationType {
    /// The `X-Amz-Invocation-Type` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RequestResponse => "RequestResponse",
            Self::Event => "Event",
            Self::DryRun => "DryRun",
        }
    }
}

/// Options of one invoke.
#[derive(Debug, Clone, Default)]
pub struct InvokeOptions {
    /// `X-Amz-Invocation-Type`.
    pub invocation_type: InvocationType,
    /// `X-Amz-Log-Type: Tail`.
    pub log_tail: bool,
    /// `?Qualifier=`.
    pub qualifier: Option<String>,
    /// Client context JSON (sent base64-encoded as `X-Amz-Client-Context`).
    pub client_context: Option<String>,
    /// `X-Amz-Tenant-Id`.
    pub tenant_id: Option<String>,
    /// `X-Amzn-Trace-Id`: an X-Ray trace header to run the invocation in
    /// (`Root=1-...;Parent=...;Sampled=1`; see "Tracing" in the README).
    pub trace_header: Option<String>,
}

/// The answer to an invoke.
#[derive(Debug, Clone)]
pub struct InvokeResponse {
    /// HTTP status.
    pub status: StatusCode,
    /// All response headers.
    pub headers: HeaderMap,
    /// The body: the function's response, its error document, or a service error.
    pub body: Bytes,
    /// `X-Amz-Function-Error` (`Unhandled` on a function error).
    pub function_error: Option<String>,
    /// `X-Amz-Log-Result`, decoded.
    pub log_tail: Option<String>,
    /// `X-Amzn-RequestId`.
    pub request_id: Option<String>,
    /// `X-Amz-Executed-Version`.
    pub executed_version: Option<String>,
    /// `x-amzn-ErrorType` of a service error (`ResourceNotFoundException`...).
    pub error_code: Option<String>,
}

impl InvokeResponse {
    /// The body as JSON.
    pub fn json(&self) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }

    /// The body as a `T` (the function's response type, or an error document's).
    ///
    /// ```no_run
    /// # async fn doc(emu: firebox_emulator::Emulator) -> Result<(), Box<dyn std::error::Error>> {
    /// #[derive(serde::Deserialize)]
    /// struct Greeting { message: String }
    /// let r = emu.invoke("hello", r#"{"name":"Ada"}"#).await?;
    /// let greeting: Greeting = r.json_as()?;
    /// assert_eq!(greeting.message, "Hello, Ada!");
    /// # Ok(()) }
    /// ```
    pub fn json_as<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// `errorType` of a function error document.
    pub fn error_type(&self) -> Option<String> {
        crate::invocation::error_type_of(&self.body)
    }
}

/// The invoke could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The endpoint is not `http://host:port[/]`.
    #[error("invalid endpoint `{0}`: expected http://HOST:PORT")]
    Endpoint(String),
    /// Connecting failed.
    #[error("cannot connect to {endpoint}: {source}")]
    Connect {
        /// The endpoint.
        endpoint: String,
        /// Why.
        source: std::io::Error,
    },
    /// The HTTP exchange failed.
    #[error("HTTP error: {0}")]
    Http(#[from] hyper::Error),
    /// The request could not be built (bad function name or header).
    #[error("invalid request: {0}")]
    Request(String),
    /// A streaming invoke was answered with something other than an event stream: a service
    /// error (404, 429...), or 204 to a `DryRun`. [`InvokeStream`]'s `status`, `error_code`
    /// and `body` hold the answer.
    #[error("the answer is not an event stream: {status} {}: {body}", error_code.as_deref().unwrap_or("-"))]
    NotAStream {
        /// The HTTP status.
        status: StatusCode,
        /// `x-amzn-ErrorType`, for a service error.
        error_code: Option<String>,
        /// The body, as text.
        body: String,
    },
    /// The event stream is not valid (framing, CRC).
    #[error("invalid event stream: {0}")]
    EventStream(#[from] crate::eventstream::DecodeError),
    /// The event stream broke the protocol of `InvokeWithResponseStream`: it ended before
    /// `InvokeComplete`, or carried another event or message.
    #[error("event stream: {0}")]
    StreamProtocol(String),
}

/// Invokes `function` at `endpoint` (`http://host:port`).
pub async fn invoke(
    endpoint: &str,
    function: &str,
    payload: Bytes,
    options: &InvokeOptions,
) -> Result<InvokeResponse, ClientError> {
    let path = format!(
        "/2015-03-31/functions/{}/invocations",
        encode_path(function)
    );
    let sent = send(endpoint, path, payload, options).await?;
    let body = sent.body.collect().await;
    sent.driver.abort();
    let body = body?.to_bytes();
    let parts = sent.head;
    let log_tail = header(&parts.headers, "x-amz-log-result").and_then(|t| decode_log(&t));
    Ok(InvokeResponse {
        status: parts.status,
        function_error: header(&parts.headers, "x-amz-function-error"),
        log_tail,
        request_id: header(&parts.headers, "x-amzn-requestid"),
        executed_version: header(&parts.headers, "x-amz-executed-version"),
        error_code: header(&parts.headers, "x-amzn-errortype"),
        headers: parts.headers,
        body,
    })
}

/// An answer whose head has arrived, its body still to read.
pub(crate) struct Sent {
    /// Status and headers.
    pub head: http::response::Parts,
    /// The body, read as it arrives.
    pub body: Incoming,
    /// The task driving the connection: abort it once done with the body.
    pub driver: JoinHandle<Result<(), hyper::Error>>,
}

/// Posts `payload` to `path` (with `options`' query and headers) at `endpoint` over a
/// connection of its own, and returns as soon as the answer's head has arrived.
pub(crate) async fn send(
    endpoint: &str,
    mut path: String,
    payload: Bytes,
    options: &InvokeOptions,
) -> Result<Sent, ClientError> {
    let authority = endpoint
        .strip_prefix("http://")
        .map(|a| a.trim_end_matches('/'))
        .filter(|a| !a.is_empty() && !a.contains('/'))
        .ok_or_else(|| ClientError::Endpoint(endpoint.to_owned()))?;
    let stream = TcpStream::connect(authority)
        .await
        .map_err(|source| ClientError::Connect {
            endpoint: endpoint.to_owned(),
            source,
        })?;
    let _ = stream.set_nodelay(true);
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    let driver = tokio::spawn(connection);

    if let Some(q) = &options.qualifier {
        path.push_str("?Qualifier=");
        path.push_str(&encode_path(q));
    }
    let mut builder = Request::post(path)
        .header(http::header::HOST, authority)
        .header(http::header::CONTENT_TYPE, "application/json")
        .header("x-amz-invocation-type", options.invocation_type.as_str());
    if options.log_tail {
        builder = builder.header("x-amz-log-type", "Tail");
    }
    if let Some(c) = &options.client_context {
        builder = builder.header(
            "x-amz-client-context",
            base64::engine::general_purpose::STANDARD.encode(c),
        );
    }
    if let Some(t) = &options.tenant_id {
        builder = builder.header("x-amz-tenant-id", t);
    }
    if let Some(t) = &options.trace_header {
        builder = builder.header("x-amzn-trace-id", t);
    }
    let request = builder
        .body(Full::new(payload))
        .map_err(|e| ClientError::Request(e.to_string()))?;
    let response = match sender.send_request(request).await {
        Ok(r) => r,
        Err(e) => {
            driver.abort();
            return Err(e.into());
        }
    };
    let (head, body) = response.into_parts();
    Ok(Sent { head, body, driver })
}

/// A header's value, when it is text.
pub(crate) fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// A log tail as Lambda sends it (base64), decoded; `None` when it is not base64.
pub(crate) fn decode_log(base64: &str) -> Option<String> {
    base64::engine::general_purpose::STANDARD
        .decode(base64)
        .ok()
        .map(|b| String::from_utf8_lossy(&b).into_owned())
}

/// Percent-encodes everything but unreserved characters.
fn encode_path(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
