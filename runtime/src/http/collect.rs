//! Reading a whole [`http_body::Body`] into memory, one poll at a time, for the futures that
//! need the complete bytes (the adapter's buffered response, [`IntoResponse::into_response`]).
//!
//! [`IntoResponse::into_response`]: super::IntoResponse::into_response

use std::{
    pin::Pin,
    task::{ready, Context, Poll},
};

use bytes::{BufMut, BytesMut};

/// Reads `body`'s data frames into `bytes` until the body ends; trailers are dropped. Returns
/// the body's error if it fails (the bytes read so far stay in `bytes`).
pub(crate) fn poll_collect<B: http_body::Body>(
    mut body: Pin<&mut B>,
    bytes: &mut BytesMut,
    cx: &mut Context<'_>,
) -> Poll<Result<(), B::Error>> {
    while let Some(frame) = ready!(body.as_mut().poll_frame(cx)) {
        if let Ok(data) = frame?.into_data() {
            bytes.put(data);
        }
    }
    Poll::Ready(Ok(()))
}
