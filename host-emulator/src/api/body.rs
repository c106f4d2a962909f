//! The body of a request to one of the emulator's listeners (the Invoke API's, and each
//! environment's Runtime API): hyper's `Incoming`, read to its end even when the answer did
//! not need it.
//!
//! Many answers are decided before the request body has arrived: an unknown function or
//! qualifier, a malformed header, a throttle. hyper cannot reuse a connection whose request
//! body was left unread (it cannot tell where the next request starts), so it closes it after
//! the answer, without a `Connection: close`, and a keep-alive client such as boto3 that sends
//! its next request on that connection sees it closed. AWS keeps the connection. So a
//! [`RequestBody`] dropped before its end is read to its end by a task of its own, bounded in
//! bytes ([`DRAIN_LIMIT`]) and time ([`DRAIN_TIME`]); past either bound the connection closes
//! as before.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use hyper::body::Incoming;

/// Most bytes read from a body nobody wanted; a larger one closes the connection.
pub const DRAIN_LIMIT: usize = 64 * 1024 * 1024;
/// Longest a body nobody wanted is waited for; a slower one closes the connection.
pub const DRAIN_TIME: Duration = Duration::from_secs(30);

/// A request body that is drained when dropped unread (see the module's documentation).
///
/// The runtimes' answers are decided the same way (a `register` without a name, a call for an
/// unknown path): a runtime or extension client reuses its connection just like boto3.
#[derive(Debug)]
pub struct RequestBody {
    /// Always `Some` until dropped.
    inner: Option<Incoming>,
}

impl RequestBody {
    /// Wraps the body hyper gave a request.
    pub fn new(inner: Incoming) -> Self {
        Self { inner: Some(inner) }
    }
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        match self.inner.as_mut() {
            Some(inner) => Pin::new(inner).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.inner
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), Body::size_hint)
    }
}

impl Drop for RequestBody {
    fn drop(&mut self) {
        let Some(inner) = self.inner.take() else {
            return;
        };
        if inner.is_end_stream() {
            return;
        }
        // Without a runtime (the listener's runtime is shutting down) the body is dropped and
        // the connection closes, which is what happens to it then anyway.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(drain(inner));
        }
    }
}

/// Reads `body` to its end, within [`DRAIN_LIMIT`] and [`DRAIN_TIME`].
async fn drain(mut body: Incoming) {
    let read = async {
        let mut size = 0usize;
        while let Some(Ok(frame)) = body.frame().await {
            size += frame.data_ref().map_or(0, Bytes::len);
            if size > DRAIN_LIMIT {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(DRAIN_TIME, read).await;
}
