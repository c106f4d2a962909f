//! A streamed response on its way from a runtime's `/response` (response mode `streaming`) to
//! the caller: a bounded channel of chunks (so a slow caller slows the runtime down instead of
//! filling memory), the size limit and Lambda's optional bandwidth shape, and the HTTP body
//! type the public listener answers with (a whole body, an event stream, or raw chunks).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use base64::Engine;
use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::sync::{mpsc, oneshot};

use crate::eventstream::{self, InvokeComplete};
use crate::invocation::{error_type_of, Answer, Outcome};

/// Default largest streamed response (200 MiB).
pub const DEFAULT_MAX_STREAM_BYTES: u64 = 200 * 1024 * 1024;
/// With the bandwidth shape on, bytes sent at full speed before the rate limit starts.
pub const SHAPE_BURST_BYTES: u64 = 6 * 1024 * 1024;
/// With the bandwidth shape on, the rate after the burst (bytes per second).
pub const SHAPE_RATE_BYTES_PER_S: u64 = 2 * 1024 * 1024;
/// Chunks in flight between the runtime's connection and the caller's.
const CHANNEL_CHUNKS: usize = 16;

/// Limits of one streamed response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamLimits {
    /// Largest response; past it the stream fails with `Function.ResponseSizeTooLarge`.
    pub max_bytes: u64,
    /// Lambda's bandwidth shape: 6 MiB at full speed, then about 2 MiB/s.
    pub shaped: bool,
}

impl Default for StreamLimits {
    fn default() -> Self {
        Self {
            max_bytes: DEFAULT_MAX_STREAM_BYTES,
            shaped: false,
        }
    }
}

/// The start of a streamed response, as the caller receives it.
#[derive(Debug)]
pub struct StreamStart {
    /// The runtime's `Content-Type`.
    pub content_type: Option<String>,
    /// The chunks, in order; the channel closes when the runtime's body ends.
    pub chunks: mpsc::Receiver<Bytes>,
}

/// The runtime side of a streamed response.
#[derive(Debug)]
pub struct StreamSink {
    tx: mpsc::Sender<Bytes>,
    limits: StreamLimits,
    sent: u64,
    /// When the shaped (rate-limited) part began.
    shaped_since: Option<Instant>,
}

/// A bounded chunk channel.
pub(crate) fn channel(limits: StreamLimits) -> (StreamSink, mpsc::Receiver<Bytes>) {
    let (tx, rx) = mpsc::channel(CHANNEL_CHUNKS);
    let sink = StreamSink {
        tx,
        limits,
        sent: 0,
        shaped_since: None,
    };
    (sink, rx)
}

/// A chunk would take the response past its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("streamed response exceeds {limit} bytes")]
pub struct TooLarge {
    /// The limit.
    pub limit: u64,
}

impl StreamSink {
    /// A sink whose caller is already gone (the response is read and dropped).
    pub fn detached(limits: StreamLimits) -> Self {
        channel(limits).0
    }

    /// Bytes accepted so far.
    pub fn sent(&self) -> u64 {
        self.sent
    }

    /// Whether the caller still reads.
    pub fn connected(&self) -> bool {
        !self.tx.is_closed()
    }

    /// Forwards one chunk, waiting while the caller is slow (and, with the shape on, for the
    /// rate limit). A caller that went away is not an error: the chunk is counted and dropped.
    pub async fn send(&mut self, chunk: Bytes) -> Result<(), TooLarge> {
        let len = chunk.len() as u64;
        if self.sent + len > self.limits.max_bytes {
            return Err(TooLarge {
                limit: self.limits.max_bytes,
            });
        }
        self.sent += len;
        if chunk.is_empty() || self.tx.is_closed() {
            return Ok(());
        }
        if self.limits.shaped && self.sent > SHAPE_BURST_BYTES {
            let since = *self.shaped_since.get_or_insert_with(Instant::now);
            let shaped = self.sent - SHAPE_BURST_BYTES;
            let due =
                since + Duration::from_secs_f64(shaped as f64 / SHAPE_RATE_BYTES_PER_S as f64);
            tokio::time::sleep_until(due.into()).await;
        }
        let _ = self.tx.send(chunk).await;
        Ok(())
    }
}

/// How a streamed body is framed for the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// `InvokeWithResponseStream`: `PayloadChunk` events, then `InvokeComplete`.
    EventStream,
    /// Function URLs: the bytes as they come; a failed stream aborts the connection.
    Raw,
}

/// The body of an answer on the public listener.
#[derive(Debug)]
pub enum ResponseBody {
    /// A whole body (taken when sent).
    Full(Option<Bytes>),
    /// A body that follows a streamed response as it arrives.
    Stream(Streamed),
}

/// A body fed by a response stream.
#[derive(Debug)]
pub struct Streamed {
    head: Option<Bytes>,
    chunks: Option<mpsc::Receiver<Bytes>>,
    outcome: Option<oneshot::Receiver<Outcome>>,
    framing: Framing,
}

/// A streamed body ended in an error; the connection is aborted so the client sees a
/// truncated response rather than a complete one.
#[derive(Debug, thiserror::Error)]
#[error("the function's response stream failed: {0}")]
pub struct StreamFailed(pub String);

impl ResponseBody {
    /// A whole body.
    pub fn full(bytes: impl Into<Bytes>) -> Self {
        Self::Full(Some(bytes.into()))
    }

    /// An empty body.
    pub fn empty() -> Self {
        Self::Full(None)
    }

    /// A body that sends `head` (if not empty), then every chunk, then (for event streams)
    /// the `InvokeComplete` event built from `outcome`.
    pub fn stream(
        head: Option<Bytes>,
        chunks: mpsc::Receiver<Bytes>,
        outcome: oneshot::Receiver<Outcome>,
        framing: Framing,
    ) -> Self {
        Self::Stream(Streamed {
            head: head.filter(|h| !h.is_empty()),
            chunks: Some(chunks),
            outcome: Some(outcome),
            framing,
        })
    }
}

/// The `InvokeComplete` of an outcome: error code and details from a function error, the log
/// tail base64-encoded.
pub fn invoke_complete(outcome: &Outcome) -> InvokeComplete {
    let mut complete = InvokeComplete {
        log_result: outcome
            .log_tail
            .as_ref()
            .map(|t| base64::engine::general_purpose::STANDARD.encode(t.as_bytes())),
        ..Default::default()
    };
    match &outcome.answer {
        Answer::Success(_) => {}
        Answer::FunctionError(doc) => {
            complete.error_code = Some(error_type_of(doc).unwrap_or_else(|| "Unhandled".into()));
            let message = serde_json::from_slice::<serde_json::Value>(doc)
                .ok()
                .and_then(|v| v.get("errorMessage")?.as_str().map(str::to_owned));
            complete.error_details =
                Some(message.unwrap_or_else(|| String::from_utf8_lossy(doc).into_owned()));
        }
        Answer::Throttled { reason } => {
            complete.error_code = Some("TooManyRequestsException".into());
            complete.error_details = Some((*reason).into());
        }
        Answer::ServiceError(message) => {
            complete.error_code = Some("ServiceException".into());
            complete.error_details = Some(message.clone());
        }
    }
    complete
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = StreamFailed;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, StreamFailed>>> {
        let s = match self.get_mut() {
            ResponseBody::Full(bytes) => {
                return Poll::Ready(
                    bytes
                        .take()
                        .filter(|b| !b.is_empty())
                        .map(|b| Ok(Frame::data(b))),
                )
            }
            ResponseBody::Stream(s) => s,
        };
        if let Some(head) = s.head.take() {
            return Poll::Ready(Some(Ok(Frame::data(head))));
        }
        if let Some(chunks) = &mut s.chunks {
            loop {
                match chunks.poll_recv(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Some(chunk)) if chunk.is_empty() => continue,
                    Poll::Ready(Some(chunk)) => {
                        let data = match s.framing {
                            Framing::EventStream => eventstream::payload_chunk(&chunk),
                            Framing::Raw => chunk,
                        };
                        return Poll::Ready(Some(Ok(Frame::data(data))));
                    }
                    Poll::Ready(None) => {
                        s.chunks = None;
                        break;
                    }
                }
            }
        }
        let Some(outcome) = &mut s.outcome else {
            return Poll::Ready(None);
        };
        let outcome = match Pin::new(outcome).poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(result) => result.unwrap_or_else(|_| Outcome {
                answer: Answer::ServiceError("The emulator is shutting down.".into()),
                log_tail: None,
            }),
        };
        s.outcome = None;
        match s.framing {
            Framing::EventStream => Poll::Ready(Some(Ok(Frame::data(
                eventstream::invoke_complete(&invoke_complete(&outcome)),
            )))),
            Framing::Raw => match outcome.answer {
                Answer::Success(_) => Poll::Ready(None),
                other => {
                    let complete = invoke_complete(&Outcome {
                        answer: other,
                        log_tail: None,
                    });
                    Poll::Ready(Some(Err(StreamFailed(
                        complete.error_code.unwrap_or_default(),
                    ))))
                }
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ResponseBody::Full(b) => b.as_ref().is_none_or(Bytes::is_empty),
            ResponseBody::Stream(_) => false,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ResponseBody::Full(b) => SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64)),
            ResponseBody::Stream(_) => SizeHint::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn event_stream_body_frames_chunks_then_complete() {
        let (mut sink, chunks) = channel(StreamLimits::default());
        let (tx, outcome) = oneshot::channel();
        let body = ResponseBody::stream(None, chunks, outcome, Framing::EventStream);
        let writer = tokio::spawn(async move {
            sink.send(Bytes::from_static(b"one")).await.unwrap();
            sink.send(Bytes::new()).await.unwrap();
            sink.send(Bytes::from_static(b"two")).await.unwrap();
            drop(sink);
            tx.send(Outcome {
                answer: Answer::FunctionError(crate::invocation::error_document("E", "m")),
                log_tail: Some("log".into()),
            })
            .unwrap();
        });
        let bytes = body.collect().await.unwrap().to_bytes();
        writer.await.unwrap();
        let mut d = eventstream::Decoder::new();
        d.feed(&bytes);
        let mut payloads = Vec::new();
        while let Some(m) = d.next_message().unwrap() {
            payloads.push((m.header(":event-type").unwrap().to_owned(), m.payload));
        }
        assert_eq!(payloads.len(), 3);
        assert_eq!(&payloads[0].1[..], b"one");
        assert_eq!(&payloads[1].1[..], b"two");
        assert_eq!(payloads[2].0, "InvokeComplete");
        let complete: InvokeComplete = serde_json::from_slice(&payloads[2].1).unwrap();
        assert_eq!(complete.error_code.as_deref(), Some("E"));
        assert_eq!(complete.error_details.as_deref(), Some("m"));
        assert_eq!(complete.log_result.as_deref(), Some("bG9n"));
    }

    #[tokio::test]
    async fn limit_and_detached_caller() {
        let mut sink = StreamSink::detached(StreamLimits {
            max_bytes: 5,
            shaped: false,
        });
        assert!(!sink.connected());
        sink.send(Bytes::from_static(b"abc")).await.unwrap();
        assert_eq!(
            sink.send(Bytes::from_static(b"def")).await,
            Err(TooLarge { limit: 5 })
        );
        assert_eq!(sink.sent(), 3);
    }

    #[tokio::test]
    async fn raw_body_fails_on_function_error() {
        let (mut sink, chunks) = channel(StreamLimits::default());
        let (tx, outcome) = oneshot::channel();
        let mut body = ResponseBody::stream(
            Some(Bytes::from_static(b"head")),
            chunks,
            outcome,
            Framing::Raw,
        );
        sink.send(Bytes::from_static(b"x")).await.unwrap();
        drop(sink);
        tx.send(Outcome {
            answer: Answer::FunctionError(crate::invocation::error_document("Boom", "m")),
            log_tail: None,
        })
        .unwrap();
        let f = body.frame().await.unwrap().unwrap();
        assert_eq!(f.into_data().unwrap(), "head");
        let f = body.frame().await.unwrap().unwrap();
        assert_eq!(f.into_data().unwrap(), "x");
        let err = body.frame().await.unwrap().unwrap_err();
        assert_eq!(err.0, "Boom");
    }
}
