//! [`channel`]: a [`Sender`] for code that writes its response piece by piece, and the [`Body`]
//! stream the runtime reads from it.

use std::{
    pin::Pin,
    task::{Context as TaskContext, Poll},
};

use bytes::Bytes;
use futures_util::Stream;
use tokio::sync::{mpsc, oneshot};

/// A sent chunk could not be delivered: the response is over (the Runtime API connection ended,
/// or the [`Body`] was dropped).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the response stream is closed")]
pub struct SendError;

/// Creates a response stream: write with the [`Sender`], return the [`Body`] (as
/// `StreamResponse::from(body)`).
///
/// The channel holds one chunk: [`Sender::send_data`] waits until the runtime has taken the
/// previous one, and the runtime takes chunks only as fast as the Runtime API connection
/// accepts them, so a fast writer cannot fill memory.
///
/// Dropping the sender ends the response normally; [`Sender::send_error`] or
/// [`Sender::abort`] end it with a failure (sent as the error trailers), and so does a panic
/// while the sender is alive (the writing task's panic is reported as `Panic`).
///
/// ```no_run
/// use firebox_runtime::{streaming::{channel, Body, Response}, Error, LambdaEvent};
/// use serde_json::Value;
///
/// async fn handler(_: LambdaEvent<Value>) -> Result<Response<Body>, Error> {
///     let (mut tx, rx) = channel();
///     tokio::spawn(async move {
///         for line in ["one\n", "two\n"] {
///             if tx.send_data(line.into()).await.is_err() {
///                 return; // the caller is gone
///             }
///         }
///     });
///     Ok(Response::from(rx))
/// }
/// ```
pub fn channel() -> (Sender, Body) {
    Body::channel()
}

/// The writing half of [`channel`].
#[derive(Debug)]
pub struct Sender {
    data: Option<mpsc::Sender<Bytes>>,
    failure: Option<oneshot::Sender<crate::Error>>,
}

/// The reading half of [`channel`]: a `Stream` of chunks, for [`crate::StreamResponse`].
#[derive(Debug)]
pub struct Body {
    data: mpsc::Receiver<Bytes>,
    failure: Option<oneshot::Receiver<crate::Error>>,
}

impl Body {
    /// Creates a response stream; same as [`channel`].
    pub fn channel() -> (Sender, Body) {
        panic_message::remember_panics();
        let (data_tx, data_rx) = mpsc::channel(1);
        let (failure_tx, failure_rx) = oneshot::channel();
        (
            Sender {
                data: Some(data_tx),
                failure: Some(failure_tx),
            },
            Body {
                data: data_rx,
                failure: Some(failure_rx),
            },
        )
    }
}

impl Sender {
    /// Sends a chunk, waiting while the previous one has not been taken.
    pub async fn send_data(&mut self, chunk: Bytes) -> Result<(), SendError> {
        match &self.data {
            Some(data) => data.send(chunk).await.map_err(|_| SendError),
            None => Err(SendError),
        }
    }

    /// Sends anything that converts into bytes (`&'static str`, `String`, `Vec<u8>`, ...).
    pub async fn send(&mut self, chunk: impl Into<Bytes>) -> Result<(), SendError> {
        self.send_data(chunk.into()).await
    }

    /// Sends a chunk if the channel has room now; gives it back otherwise.
    pub fn try_send_data(&mut self, chunk: Bytes) -> Result<(), Bytes> {
        match &self.data {
            Some(data) => data.try_send(chunk).map_err(|e| match e {
                mpsc::error::TrySendError::Full(b) | mpsc::error::TrySendError::Closed(b) => b,
            }),
            None => Err(chunk),
        }
    }

    /// Ends the response with a failure, after the chunks already sent. The error becomes the
    /// `Lambda-Runtime-Function-Error-Type`/`-Body` trailers. Later sends fail.
    pub fn send_error(&mut self, error: impl Into<crate::Error>) {
        if let Some(failure) = self.failure.take() {
            // The body may be gone already; then nobody is left to tell.
            let _ = failure.send(error.into());
        }
        self.data = None;
    }

    /// Ends the response with a failure (`errorType` `BodyWriteAborted`).
    pub fn abort(mut self) {
        self.send_error(BodyWriteAborted);
    }

    /// Whether the reading side is gone (the response is over).
    pub fn is_closed(&self) -> bool {
        self.data.as_ref().is_none_or(|d| d.is_closed())
    }
}

/// The failure [`Sender::abort`] reports.
#[derive(Debug, thiserror::Error)]
#[error("the response writer aborted the stream")]
struct BodyWriteAborted;

/// The failure reported when a task panics while holding the [`Sender`] (`errorType`
/// `Panic`, as a handler's panic): the panic's message, when it could be read.
#[derive(Debug, thiserror::Error)]
#[error("{}", .0.as_deref().unwrap_or("the task writing the response stream panicked"))]
struct Panic(Option<String>);

impl Drop for Sender {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.send_error(Panic(panic_message::take()));
        }
    }
}

/// The message of the panic a thread is unwinding from, for a [`Sender`] dropped by it: a
/// panic hook (installed with the first channel, in front of the one already there, which
/// still runs) keeps each thread's last panic message.
mod panic_message {
    use std::cell::RefCell;
    use std::sync::Once;

    thread_local! {
        static LAST: RefCell<Option<String>> = const { RefCell::new(None) };
    }

    /// Installs the hook, once per process.
    pub(super) fn remember_panics() {
        static INSTALL: Once = Once::new();
        INSTALL.call_once(|| {
            let previous = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                let payload = info.payload();
                let message = payload
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| payload.downcast_ref::<String>().cloned());
                // A panic in a thread whose local is gone (at its exit) keeps nothing.
                let _ = LAST.try_with(|last| *last.borrow_mut() = message);
                previous(info);
            }));
        });
    }

    /// The message of this thread's last panic, taken.
    pub(super) fn take() -> Option<String> {
        LAST.try_with(|last| last.borrow_mut().take())
            .ok()
            .flatten()
    }
}

impl Stream for Body {
    type Item = Result<Bytes, crate::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        match self.data.poll_recv(cx) {
            Poll::Ready(Some(chunk)) => Poll::Ready(Some(Ok(chunk))),
            Poll::Pending => Poll::Pending,
            // Every sender is gone. The failure, if any, was sent before the data sender was
            // dropped, so it is visible now.
            Poll::Ready(None) => match self.failure.take().map(|mut f| f.try_recv()) {
                Some(Ok(error)) => Poll::Ready(Some(Err(error))),
                _ => Poll::Ready(None),
            },
        }
    }
}

/// An HTTP body too, as `lambda_runtime`'s is: an HTTP function streaming its answer
/// (`run_with_streaming_response`) may return `Response<Body>` from a [`channel`], each chunk
/// one data frame, a failure sent with [`Sender::send_error`] the body's error (the error
/// trailers).
impl http_body::Body for Body {
    type Data = Bytes;
    type Error = crate::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, crate::Error>>> {
        self.poll_next(cx)
            .map(|chunk| chunk.map(|chunk| chunk.map(http_body::Frame::data)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a bare current-thread runtime builds")
            .block_on(f)
    }

    #[test]
    fn chunks_then_normal_end() {
        block_on(async {
            let (mut tx, mut rx) = channel();
            let writer = async move {
                tx.send("a").await.unwrap();
                tx.send_data(Bytes::from_static(b"b")).await.unwrap();
            };
            let reader = async {
                let mut got = Vec::new();
                while let Some(item) = rx.next().await {
                    got.push(item.unwrap());
                }
                got
            };
            let ((), got) = tokio::join!(writer, reader);
            assert_eq!(
                got,
                vec![Bytes::from_static(b"a"), Bytes::from_static(b"b")]
            );
        });
    }

    #[test]
    fn error_follows_the_sent_chunks_and_later_sends_fail() {
        block_on(async {
            let (mut tx, mut rx) = channel();
            tx.send("a").await.unwrap();
            tx.send_error("broken");
            assert_eq!(tx.send("late").await, Err(SendError));
            assert_eq!(rx.next().await.unwrap().unwrap(), "a");
            assert_eq!(rx.next().await.unwrap().unwrap_err().to_string(), "broken");
            assert!(rx.next().await.is_none());
        });
    }

    #[test]
    fn panic_while_writing_is_a_failure() {
        block_on(async {
            let (tx, mut rx) = channel();
            let joined = std::thread::spawn(move || {
                let _tx = tx;
                panic!("writer died");
            })
            .join();
            assert!(joined.is_err());
            let error = rx.next().await.unwrap().unwrap_err();
            // The panic's own message (kept by the hook the channel installed).
            assert_eq!(error.to_string(), "writer died");
        });
    }

    #[test]
    fn closed_body_fails_sends() {
        block_on(async {
            let (mut tx, rx) = channel();
            drop(rx);
            assert!(tx.is_closed());
            assert_eq!(tx.send("x").await, Err(SendError));
            assert!(tx.try_send_data(Bytes::from_static(b"y")).is_err());
        });
    }
}
