//! What an invoke sends: [`Payload`], made from text, bytes or a JSON value.

use bytes::Bytes;

/// The body of an invoke (the event): text, bytes or a JSON value, taken as they are.
///
/// ```
/// use firebox_emulator::Payload;
/// let name = String::from("Ada");
/// let from_string: Payload = format!(r#"{{"name":"{name}"}}"#).into();
/// let from_json: Payload = serde_json::json!({ "name": name }).into();
/// assert_eq!(from_string.as_bytes(), from_json.as_bytes());
/// // Any `&str` (copied), bytes, or a value of any `Serialize` type:
/// let borrowed: Payload = from_string_ref(&format!("{{}}")).into();
/// # fn from_string_ref(s: &str) -> &str { s }
/// let literal: Payload = b"{}".into();
/// assert_eq!(borrowed, literal);
/// #[derive(serde::Serialize)]
/// struct Order { id: u32 }
/// assert_eq!(Payload::json(&Order { id: 7 }).unwrap().as_bytes(), br#"{"id":7}"#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload(Bytes);

impl Payload {
    /// The bytes sent.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// `value` as JSON (an event type of `aws_lambda_events`, or a test's own struct).
    pub fn json<T: serde::Serialize + ?Sized>(value: &T) -> Result<Self, serde_json::Error> {
        serde_json::to_vec(value).map(|bytes| Payload(Bytes::from(bytes)))
    }
}

impl From<Bytes> for Payload {
    fn from(bytes: Bytes) -> Self {
        Payload(bytes)
    }
}

impl From<&str> for Payload {
    fn from(text: &str) -> Self {
        Payload(Bytes::copy_from_slice(text.as_bytes()))
    }
}

impl<const N: usize> From<&[u8; N]> for Payload {
    fn from(bytes: &[u8; N]) -> Self {
        Payload(Bytes::copy_from_slice(bytes))
    }
}

impl From<String> for Payload {
    fn from(text: String) -> Self {
        Payload(Bytes::from(text))
    }
}

impl From<&String> for Payload {
    fn from(text: &String) -> Self {
        Payload(Bytes::copy_from_slice(text.as_bytes()))
    }
}

impl From<Vec<u8>> for Payload {
    fn from(bytes: Vec<u8>) -> Self {
        Payload(Bytes::from(bytes))
    }
}

impl From<&[u8]> for Payload {
    fn from(bytes: &[u8]) -> Self {
        Payload(Bytes::copy_from_slice(bytes))
    }
}

impl From<serde_json::Value> for Payload {
    fn from(json: serde_json::Value) -> Self {
        Payload::from(&json)
    }
}

impl From<&serde_json::Value> for Payload {
    fn from(json: &serde_json::Value) -> Self {
        Payload(Bytes::from(json.to_string()))
    }
}

impl From<Payload> for Bytes {
    fn from(payload: Payload) -> Self {
        payload.0
    }
}
