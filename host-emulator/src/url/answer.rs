//! An invocation's reply as a function URL's HTTP response: a buffered answer mapped as a
//! response object, a streamed one sent on as it arrives (after its prelude, when it has one)
//! or collected first for a `BUFFERED` URL. A failed invocation becomes the URL's own error
//! answer. An answer the URL cannot map is a 502, and the reason goes on the function's log
//! stream as a platform error line (Lambda logs nothing then; the emulator says why).

use bytes::{Bytes, BytesMut};
use http::{HeaderValue, Response, StatusCode};
use tokio::sync::{mpsc, oneshot};

use super::config::InvokeMode;
use super::response::{
    message, split_prelude, with_head, Head, MappingError, HTTP_INTEGRATION_CONTENT_TYPE,
};
use crate::api::invoke::buffer_stream;
use crate::invocation::{Answer, Outcome, Reply};
use crate::logs::system::PlatformLine;
use crate::logs::FunctionLog;
use crate::stream::{Framing, ResponseBody, StreamStart};

/// Answers one request of a function URL.
pub(super) struct Answering<'a> {
    /// The log stream of the version that ran.
    pub log: &'a FunctionLog,
    /// The invocation's request id.
    pub request_id: &'a str,
    /// The request is a `HEAD`: a response object's own `Content-Length` is kept when its
    /// body is empty (a web framework answers `HEAD` so, with the length a `GET` would get).
    pub head_request: bool,
}

impl Answering<'_> {
    /// The response to `reply`, in the URL's `mode`.
    pub(super) async fn reply(&self, reply: Reply, mode: InvokeMode) -> Response<ResponseBody> {
        match reply {
            Reply::Complete(outcome) => self.buffered(outcome),
            Reply::Streaming { start, outcome } => match mode {
                InvokeMode::ResponseStream => self.streamed(start, outcome).await,
                InvokeMode::Buffered => {
                    let integration = is_integration(&start);
                    let content_type = start.content_type.clone();
                    let log = (self.log, self.request_id);
                    match buffer_stream(start.chunks, outcome, log).await {
                        Ok(outcome) => self.buffered_stream(outcome, integration, content_type),
                        Err(_) => {
                            message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
                        }
                    }
                }
            },
        }
    }

    /// The 502 for an answer the URL cannot map, with the reason on the function's log.
    fn unmappable(&self, reason: &MappingError) -> Response<ResponseBody> {
        self.log.platform_line(PlatformLine::fault(format!(
            "RequestId: {} Error: Function URL answered 502 Bad Gateway: {reason}",
            self.request_id
        )));
        message(StatusCode::BAD_GATEWAY, "Internal Server Error")
    }

    /// A buffered answer mapped to an HTTP response.
    fn buffered(&self, outcome: Outcome) -> Response<ResponseBody> {
        let Answer::Success(body) = &outcome.answer else {
            return failure(&outcome.answer);
        };
        match super::response::buffered(body) {
            Ok((head, bytes)) => {
                // Not for a 204 or 304, which carry no `Content-Length` of a body.
                let bodiless = matches!(head.status.as_u16(), 204 | 304);
                let declared = (self.head_request && bytes.is_empty() && !bodiless)
                    .then(|| super::response::declared_length(body))
                    .flatten();
                let mut response = with_head(head, ResponseBody::full(bytes));
                if let Some(length) = declared {
                    response
                        .headers_mut()
                        .insert(http::header::CONTENT_LENGTH, length);
                }
                response
            }
            Err(e) => self.unmappable(&e),
        }
    }

    /// A streamed answer, collected for a `BUFFERED` URL.
    fn buffered_stream(
        &self,
        outcome: Outcome,
        integration: bool,
        content_type: Option<String>,
    ) -> Response<ResponseBody> {
        let Answer::Success(body) = outcome.answer else {
            return failure(&outcome.answer);
        };
        if integration {
            return match split_prelude(&body) {
                Ok(Some((head, at))) => with_head(head, ResponseBody::full(body.slice(at..))),
                Ok(None) => self.unmappable(&MappingError::PreludeUnfinished),
                Err(e) => self.unmappable(&e),
            };
        }
        with_head(plain_head(content_type), ResponseBody::full(body))
    }

    /// A `RESPONSE_STREAM` answer: waits for the prelude (when there is one; else for the
    /// first byte), then streams the rest with chunked encoding as it arrives.
    async fn streamed(
        &self,
        start: StreamStart,
        outcome: oneshot::Receiver<Outcome>,
    ) -> Response<ResponseBody> {
        if !is_integration(&start) {
            // The response starts with the stream's first byte: a stream that fails before
            // writing any (a handler that throws at once) is an error response, not an
            // empty 200 cut off.
            let mut chunks = start.chunks;
            let head = plain_head(start.content_type);
            return match chunks.recv().await {
                Some(first) => with_head(
                    head,
                    ResponseBody::stream(Some(first), chunks, outcome, Framing::Raw),
                ),
                None => match outcome.await {
                    Ok(Outcome {
                        answer: Answer::Success(_),
                        ..
                    }) => with_head(head, ResponseBody::empty()),
                    Ok(outcome) => failure(&outcome.answer),
                    Err(_) => message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error"),
                },
            };
        }
        let mut chunks: mpsc::Receiver<Bytes> = start.chunks;
        let mut buf = BytesMut::new();
        while let Some(chunk) = chunks.recv().await {
            buf.extend_from_slice(&chunk);
            match split_prelude(&buf) {
                Ok(None) => continue,
                Ok(Some((head, at))) => {
                    let rest = buf.split_off(at).freeze();
                    return with_head(
                        head,
                        ResponseBody::stream(Some(rest), chunks, outcome, Framing::Raw),
                    );
                }
                Err(e) => return self.unmappable(&e),
            }
        }
        // The stream ended before its prelude did.
        match outcome.await {
            Ok(Outcome {
                answer: Answer::Success(_),
                ..
            }) if buf.is_empty() => with_head(plain_head(None), ResponseBody::empty()),
            Ok(Outcome {
                answer: Answer::Success(_),
                ..
            }) => self.unmappable(&MappingError::PreludeUnfinished),
            Ok(outcome) => failure(&outcome.answer),
            Err(_) => message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error"),
        }
    }
}

/// Whether a stream has the HTTP integration content type (a prelude first).
fn is_integration(start: &StreamStart) -> bool {
    start.content_type.as_deref().is_some_and(|ct| {
        ct.split(';')
            .next()
            .is_some_and(|e| e.trim().eq_ignore_ascii_case(HTTP_INTEGRATION_CONTENT_TYPE))
    })
}

/// The URL's answer to an outcome that is not a success (the environment has logged why).
fn failure(answer: &Answer) -> Response<ResponseBody> {
    match answer {
        Answer::Throttled { .. } => message(StatusCode::TOO_MANY_REQUESTS, "Rate Exceeded."),
        Answer::ServiceError(_) => {
            message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
        }
        _ => message(StatusCode::BAD_GATEWAY, "Internal Server Error"),
    }
}

/// 200 with the runtime's content type.
fn plain_head(content_type: Option<String>) -> Head {
    let content_type = content_type
        .and_then(|ct| HeaderValue::from_str(&ct).ok())
        .unwrap_or_else(|| HeaderValue::from_static("application/octet-stream"));
    Head {
        status: StatusCode::OK,
        headers: vec![(http::header::CONTENT_TYPE, content_type)],
        cookies: Vec::new(),
    }
}
