//! The HTTP surfaces: the public Invoke API and each environment's Runtime, Extensions and
//! Telemetry APIs, plus the body-reading and connection helpers they share.

mod body;
pub mod extensions;
pub mod invoke;
pub mod runtime;
pub mod telemetry;

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;

pub use body::RequestBody;

/// Largest synchronous invoke request body (6 MB).
pub const MAX_SYNC_REQUEST_BYTES: usize = 6_291_456;
/// Largest asynchronous (`Event`) invoke request body.
pub const MAX_EVENT_REQUEST_BYTES: usize = 1_048_576;
/// Largest function response accepted from a runtime.
pub const MAX_RESPONSE_BYTES: usize = 6_291_556;

/// Why a body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// Larger than allowed; `size` is how much was seen (at least the limit plus one).
    #[error("body of {size} bytes or more exceeds the limit")]
    TooLarge {
        /// Bytes seen.
        size: usize,
    },
    /// The connection failed while reading.
    #[error("cannot read body: {0}")]
    Read(#[from] hyper::Error),
}

/// Reads a whole body of at most `limit` bytes. An oversized body is drained (up to a bound) so
/// that the client can read the error answer instead of seeing a reset connection.
pub async fn read_body<B>(mut body: B, limit: usize) -> Result<Bytes, BodyError>
where
    B: http_body::Body<Data = Bytes, Error = hyper::Error> + Unpin,
{
    let mut buf = BytesMut::new();
    let mut size = 0usize;
    let mut first: Option<Bytes> = None;
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame?.into_data() else {
            continue; // trailers
        };
        size += data.len();
        if size > limit {
            while size <= body::DRAIN_LIMIT {
                match body.frame().await {
                    Some(Ok(f)) => size += f.data_ref().map_or(0, Bytes::len),
                    _ => break,
                }
            }
            return Err(BodyError::TooLarge { size });
        }
        // Most bodies arrive in one frame: keep it without copying.
        match first.take() {
            None if buf.is_empty() => first = Some(data),
            Some(f) => {
                buf.extend_from_slice(&f);
                buf.extend_from_slice(&data);
            }
            None => buf.extend_from_slice(&data),
        }
    }
    Ok(first.unwrap_or_else(|| buf.freeze()))
}
