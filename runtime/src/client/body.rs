//! What the runtime sends as request bodies: nothing (`/next`), one buffered chunk (results and
//! errors) or a response stream (with error trailers if it fails), plus the error document and
//! error-type header every error post carries.

use std::{
    convert::Infallible,
    pin::Pin,
    task::{Context as TaskContext, Poll},
};

use bytes::Bytes;
use http::HeaderValue;
use http_body::{Body, Frame, SizeHint};

use super::{ERROR_BODY, ERROR_TYPE};
use crate::{diagnostic::Diagnostic, streaming::ResponseStream};

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
    pub(super) fn replay(&self) -> Option<RequestBody> {
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

/// The standard error document: `{"errorType": ..., "errorMessage": ...}`.
pub(crate) fn error_document(diagnostic: &Diagnostic) -> Bytes {
    // Serializing two strings into JSON cannot fail.
    serde_json::to_vec(diagnostic)
        .map(Bytes::from)
        .unwrap_or_else(|_| Bytes::from_static(br#"{"errorType":"Unknown","errorMessage":""}"#))
}

/// The error type as a header value (characters a header cannot carry are replaced).
pub(crate) fn error_type(diagnostic: &Diagnostic) -> HeaderValue {
    HeaderValue::from_str(&diagnostic.error_type).unwrap_or_else(|_| {
        let cleaned: String = diagnostic
            .error_type
            .chars()
            .map(|c| if c.is_ascii_graphic() { c } else { '_' })
            .collect();
        HeaderValue::from_str(&cleaned).unwrap_or(HeaderValue::from_static("Unknown"))
    })
}
