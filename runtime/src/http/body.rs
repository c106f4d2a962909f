//! [`Body`]: the body of a request built from an HTTP event (and usable in responses), shaped
//! like `lambda_http::Body`.

use std::{
    convert::Infallible,
    ops::Deref,
    pin::Pin,
    task::{Context, Poll},
};

use bytes::Bytes;
use http_body::{Frame, SizeHint};

/// A request or response body: nothing, text, or bytes.
///
/// Requests get [`Body::Binary`] when the event's body was base64-encoded, [`Body::Text`] when
/// it was plain text, and [`Body::Empty`] when there was none (or it was empty). It implements
/// [`http_body::Body`], so frameworks such as axum accept it, and derefs to `[u8]`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub enum Body {
    /// No body.
    #[default]
    Empty,
    /// A text body.
    Text(String),
    /// A binary body.
    Binary(Vec<u8>),
}

impl Body {
    /// The body's bytes (empty for [`Body::Empty`]).
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Body::Empty => &[],
            Body::Text(text) => text.as_bytes(),
            Body::Binary(bytes) => bytes,
        }
    }

    /// Whether the body has no bytes.
    pub fn is_empty(&self) -> bool {
        self.as_bytes().is_empty()
    }

    fn into_bytes(self) -> Bytes {
        match self {
            Body::Empty => Bytes::new(),
            Body::Text(text) => Bytes::from(text),
            Body::Binary(bytes) => Bytes::from(bytes),
        }
    }
}

impl Deref for Body {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl AsRef<[u8]> for Body {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl From<()> for Body {
    fn from(_: ()) -> Self {
        Body::Empty
    }
}

impl From<String> for Body {
    fn from(text: String) -> Self {
        Body::Text(text)
    }
}

impl From<&str> for Body {
    fn from(text: &str) -> Self {
        Body::Text(text.to_owned())
    }
}

impl From<Vec<u8>> for Body {
    fn from(bytes: Vec<u8>) -> Self {
        Body::Binary(bytes)
    }
}

impl From<&[u8]> for Body {
    fn from(bytes: &[u8]) -> Self {
        Body::Binary(bytes.to_vec())
    }
}

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let body = std::mem::take(self.get_mut());
        if body.is_empty() {
            Poll::Ready(None)
        } else {
            Poll::Ready(Some(Ok(Frame::data(body.into_bytes()))))
        }
    }

    fn is_end_stream(&self) -> bool {
        self.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.as_bytes().len() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body::Body as _;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn yields_its_bytes_once() {
        for (body, bytes) in [
            (Body::Empty, &b""[..]),
            (Body::from("héllo"), "héllo".as_bytes()),
            (Body::from(vec![0u8, 255]), &[0u8, 255][..]),
        ] {
            assert_eq!(body.size_hint().exact(), Some(bytes.len() as u64));
            assert_eq!(&*body, bytes);
            let collected = body.collect().await.unwrap().to_bytes();
            assert_eq!(&collected[..], bytes);
        }
    }
}
