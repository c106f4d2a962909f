//! Response streaming: [`StreamResponse`] (a stream of byte chunks, optionally preceded by an
//! HTTP [`MetadataPrelude`] for function URLs), and [`channel`], a writer for code that produces
//! its output imperatively.
//!
//! Names and shapes follow `lambda_runtime` 1.5 (`lambda_runtime::streaming::{channel, Body,
//! Response}`, `StreamResponse`, `MetadataPrelude`), so its streaming functions compile with only
//! the crate name changed.
//!
//! On the wire, a streamed response is posted to `/response` with
//! `Lambda-Runtime-Function-Response-Mode: streaming` and chunked encoding, chunk by chunk as the
//! stream yields them (the connection's flow control holds the stream back, so memory stays
//! bounded). A stream that fails midway ends with real HTTP trailers,
//! `Lambda-Runtime-Function-Error-Type` and `Lambda-Runtime-Function-Error-Body` (the base64 of
//! the error document).

mod channel;
mod prelude;

use std::{
    panic::AssertUnwindSafe,
    pin::Pin,
    task::{Context as TaskContext, Poll},
};

use bytes::Bytes;
use futures_util::Stream;
use http::HeaderValue;

pub use channel::{channel, Body, SendError, Sender};
pub use prelude::MetadataPrelude;

use crate::diagnostic::Diagnostic;

/// `Response`, as `lambda_runtime::streaming::Response` names [`StreamResponse`].
pub type Response<S> = StreamResponse<S>;

/// The content type of a streamed response that starts with a [`MetadataPrelude`].
pub const HTTP_INTEGRATION_RESPONSE: &str = "application/vnd.awslambda.http-integration-response";
/// The content type of a streamed response without a prelude.
pub const OCTET_STREAM: &str = "application/octet-stream";
/// The 8 NUL bytes that end the metadata prelude.
pub const PRELUDE_DELIMITER: [u8; 8] = [0; 8];

/// A streamed response: the chunks of `stream`, sent as they are produced.
///
/// `stream` is any `Stream<Item = Result<D, E>>` with `D: Into<Bytes>` and `E: Into<Error>`
/// (for example [`Body`] from [`channel`], a `tokio_stream` adapter, or an `async_stream`).
/// When `metadata_prelude` differs from [`MetadataPrelude::default()`] (status 200, no headers,
/// no cookies), the response is an HTTP streaming response for a function URL: the prelude's
/// JSON, 8 NUL bytes, then the stream, with the content type
/// `application/vnd.awslambda.http-integration-response`. Otherwise the stream's bytes are posted
/// as they are, as `application/octet-stream`.
///
/// ```no_run
/// use firebox_runtime::{service_fn, Error, LambdaEvent, StreamResponse};
/// use futures_util::stream;
/// use serde_json::Value;
///
/// async fn handler(_: LambdaEvent<Value>) -> Result<StreamResponse<impl futures_util::Stream<Item = Result<&'static str, Error>>>, Error> {
///     Ok(StreamResponse::from(stream::iter([Ok("hello "), Ok("world")])))
/// }
/// ```
#[derive(Debug)]
pub struct StreamResponse<S> {
    /// The HTTP status, headers and cookies for a function URL (see the type's docs).
    pub metadata_prelude: MetadataPrelude,
    /// The body's chunks.
    pub stream: S,
}

impl<S> StreamResponse<S> {
    /// A streamed response without a prelude.
    pub fn new(stream: S) -> Self {
        StreamResponse {
            metadata_prelude: MetadataPrelude::default(),
            stream,
        }
    }

    /// An HTTP streaming response for a function URL: `prelude`, then the stream.
    pub fn with_prelude(metadata_prelude: MetadataPrelude, stream: S) -> Self {
        StreamResponse {
            metadata_prelude,
            stream,
        }
    }
}

impl<S, D, E> From<S> for StreamResponse<S>
where
    S: Stream<Item = Result<D, E>>,
    D: Into<Bytes>,
    E: Into<crate::Error>,
{
    fn from(stream: S) -> Self {
        StreamResponse::new(stream)
    }
}

type ErasedStream = Pin<Box<dyn Stream<Item = Result<Bytes, Diagnostic>> + Send>>;

/// A streamed response ready to post: its content type, the prelude bytes (if any) and the
/// chunks. Built by [`crate::IntoFunctionResponse`] from a [`StreamResponse`].
pub struct ResponseStream {
    content_type: HeaderValue,
    head: Option<Bytes>,
    stream: ErasedStream,
}

impl std::fmt::Debug for ResponseStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseStream")
            .field("content_type", &self.content_type)
            .field("head", &self.head)
            .finish_non_exhaustive()
    }
}

impl ResponseStream {
    /// Erases a [`StreamResponse`]. Fails only when the prelude cannot be serialized.
    pub(crate) fn new<S, D, E>(response: StreamResponse<S>) -> Result<Self, Diagnostic>
    where
        S: Stream<Item = Result<D, E>> + Send + 'static,
        D: Into<Bytes>,
        E: Into<crate::Error>,
    {
        use futures_util::StreamExt;
        let StreamResponse {
            metadata_prelude,
            stream,
        } = response;
        let (content_type, head) = if metadata_prelude.is_default() {
            (HeaderValue::from_static(OCTET_STREAM), None)
        } else {
            let mut head = metadata_prelude.to_json()?;
            head.extend_from_slice(&PRELUDE_DELIMITER);
            (
                HeaderValue::from_static(HTTP_INTEGRATION_RESPONSE),
                Some(Bytes::from(head)),
            )
        };
        let stream = stream.map(|item| match item {
            Ok(data) => Ok(data.into()),
            Err(error) => Err(Diagnostic::from(error.into())),
        });
        Ok(ResponseStream {
            content_type,
            head,
            stream: Box::pin(stream),
        })
    }

    /// The `Content-Type` to post with.
    pub(crate) fn content_type(&self) -> &HeaderValue {
        &self.content_type
    }

    /// The next piece to send: the prelude first, then the stream's chunks (empty chunks
    /// skipped), `Some(Err)` when the stream fails or panics, `None` at the end.
    pub(crate) fn poll_chunk(
        &mut self,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Bytes, Diagnostic>>> {
        if let Some(head) = self.head.take() {
            return Poll::Ready(Some(Ok(head)));
        }
        loop {
            let stream = self.stream.as_mut();
            let polled = std::panic::catch_unwind(AssertUnwindSafe(|| stream.poll_next(cx)));
            return match polled {
                Ok(Poll::Ready(Some(Ok(chunk)))) if chunk.is_empty() => continue,
                Ok(polled) => polled,
                Err(panic) => {
                    let diagnostic = Diagnostic::from_panic(&*panic);
                    tracing::error!(panic = %diagnostic.error_message, "the response stream panicked");
                    Poll::Ready(Some(Err(diagnostic)))
                }
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::stream;
    use std::future::poll_fn;

    async fn drain(mut s: ResponseStream) -> Vec<Result<Bytes, Diagnostic>> {
        let mut out = Vec::new();
        while let Some(item) = poll_fn(|cx| s.poll_chunk(cx)).await {
            let failed = item.is_err();
            out.push(item);
            if failed {
                break;
            }
        }
        out
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a bare current-thread runtime builds")
            .block_on(f)
    }

    #[test]
    fn raw_stream_has_no_prelude_and_skips_empty_chunks() {
        let s = ResponseStream::new(StreamResponse::from(stream::iter([
            Ok::<_, crate::Error>("a"),
            Ok(""),
            Ok("b"),
        ])))
        .unwrap();
        assert_eq!(s.content_type(), OCTET_STREAM);
        let items = block_on(drain(s));
        assert_eq!(
            items,
            vec![Ok(Bytes::from_static(b"a")), Ok(Bytes::from_static(b"b"))]
        );
    }

    #[test]
    fn prelude_comes_first_with_the_delimiter() {
        let prelude = MetadataPrelude {
            status_code: http::StatusCode::CREATED,
            ..Default::default()
        };
        let s = ResponseStream::new(StreamResponse::with_prelude(
            prelude,
            stream::iter([Ok::<_, crate::Error>("body")]),
        ))
        .unwrap();
        assert_eq!(s.content_type(), HTTP_INTEGRATION_RESPONSE);
        let items = block_on(drain(s));
        let mut head = br#"{"statusCode":201,"headers":{},"cookies":[]}"#.to_vec();
        head.extend_from_slice(&[0; 8]);
        assert_eq!(
            items,
            vec![Ok(Bytes::from(head)), Ok(Bytes::from_static(b"body"))]
        );
    }

    #[test]
    fn errors_and_panics_become_diagnostics() {
        #[derive(Debug, thiserror::Error)]
        #[error("disk gone")]
        struct DiskGone;
        let s = ResponseStream::new(StreamResponse::from(stream::iter([
            Ok::<&str, crate::Error>("a"),
            Err(Box::new(DiskGone) as crate::Error),
        ])))
        .unwrap();
        let items = block_on(drain(s));
        assert_eq!(items[1], Err(Diagnostic::new("DiskGone", "disk gone")));

        let panicking = stream::poll_fn(|_| -> Poll<Option<Result<Bytes, crate::Error>>> {
            panic!("stream blew up")
        });
        let s = ResponseStream::new(StreamResponse::from(panicking)).unwrap();
        let items = block_on(drain(s));
        assert_eq!(items, vec![Err(Diagnostic::new("Panic", "stream blew up"))]);
    }
}
