//! [`Body`]: the body of a request built from an HTTP event (and usable in responses), shaped
//! like `lambda_http::Body`.

use std::{
    borrow::Cow,
    convert::Infallible,
    fmt,
    ops::Deref,
    pin::Pin,
    task::{Context, Poll},
};

use base64::{display::Base64Display, engine::general_purpose::STANDARD};
use bytes::Bytes;
use http_body::{Frame, SizeHint};
use serde::{
    de::{self, Deserializer, Visitor},
    Deserialize, Serialize, Serializer,
};

/// A request or response body: nothing, text, or bytes.
///
/// Requests get [`Body::Binary`] when the event's body was base64-encoded, [`Body::Text`] when
/// it was plain text, and [`Body::Empty`] when there was none (or it was empty). It implements
/// [`http_body::Body`], so frameworks such as axum accept it, and derefs to `[u8]`.
///
/// As with `lambda_http::Body`, text types (`String`, `&str`, `Cow<'static, str>`) convert to
/// [`Body::Text`], byte types (`Vec<u8>`, `&[u8]`, `Cow<'static, [u8]>`) to [`Body::Binary`] and
/// `()` to [`Body::Empty`]. It serializes as the event field would carry it: text as a string,
/// binary as a base64 string, empty as `null`; a string deserializes to [`Body::Text`] and
/// `null` to [`Body::Empty`].
///
/// ```
/// use firebox_runtime::http::Body;
///
/// assert_eq!(Body::from("hi"), Body::Text("hi".into()));
/// assert_eq!(Body::from(&b"hi"[..]), Body::Binary(b"hi".to_vec()));
/// assert_eq!(serde_json::to_string(&Body::from(vec![0u8, 255])).unwrap(), r#""AP8=""#);
/// ```
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

impl From<Cow<'static, str>> for Body {
    fn from(text: Cow<'static, str>) -> Self {
        Body::Text(text.into_owned())
    }
}

impl From<Cow<'static, [u8]>> for Body {
    fn from(bytes: Cow<'static, [u8]>) -> Self {
        Body::Binary(bytes.into_owned())
    }
}

impl Serialize for Body {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Body::Empty => serializer.serialize_none(),
            Body::Text(text) => serializer.serialize_str(text),
            Body::Binary(bytes) => serializer.collect_str(&Base64Display::new(bytes, &STANDARD)),
        }
    }
}

/// Reads a [`Body`] from a string or `null`.
struct BodyVisitor;

impl<'de> Visitor<'de> for BodyVisitor {
    type Value = Body;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a string or null")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Body, E> {
        Ok(Body::from(text))
    }

    fn visit_string<E: de::Error>(self, text: String) -> Result<Body, E> {
        Ok(Body::Text(text))
    }

    fn visit_none<E: de::Error>(self) -> Result<Body, E> {
        Ok(Body::Empty)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Body, E> {
        Ok(Body::Empty)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Body, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Deserialize<'de> for Body {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_option(BodyVisitor)
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

    #[test]
    fn converts_like_lambda_http() {
        assert_eq!(Body::from(Cow::Borrowed("a")), Body::Text("a".into()));
        assert_eq!(
            Body::from(Cow::<'static, str>::Owned("b".into())),
            Body::Text("b".into())
        );
        assert_eq!(
            Body::from(Cow::Borrowed(&b"c"[..])),
            Body::Binary(b"c".to_vec())
        );
        assert_eq!(Body::from(()), Body::Empty);
    }

    #[test]
    fn serde_round_trip() {
        for (body, json) in [
            (Body::Empty, "null"),
            (Body::from("héllo"), r#""héllo""#),
            (Body::from(vec![0u8, 255]), r#""AP8=""#),
        ] {
            assert_eq!(serde_json::to_string(&body).unwrap(), json);
        }
        assert_eq!(
            serde_json::from_str::<Body>(r#""x""#).unwrap(),
            Body::Text("x".into())
        );
        assert_eq!(serde_json::from_str::<Body>("null").unwrap(), Body::Empty);
        assert!(serde_json::from_str::<Body>("1").is_err());
    }
}
