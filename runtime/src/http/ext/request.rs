//! [`RequestPayloadExt`]: a request's body deserialized according to its `Content-Type` (JSON or
//! `application/x-www-form-urlencoded`), and the errors it reports, with the names and shapes of
//! `lambda_http::ext::request`.

use ::http::header::CONTENT_TYPE;
use serde::de::DeserializeOwned;

/// Why [`RequestPayloadExt::payload`] could not read the body.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PayloadError {
    /// An `application/json` (or `*+json`) body is not valid JSON for the requested type.
    #[error("failed to parse payload from application/json: {0}")]
    Json(#[source] serde_json::Error),
    /// An `application/x-www-form-urlencoded` body does not fit the requested type.
    #[error("failed to parse payload from application/x-www-form-urlencoded: {0}")]
    WwwFormUrlEncoded(#[source] serde::de::value::Error),
}

/// Why [`RequestPayloadExt::json`] could not read the body.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JsonPayloadError {
    /// The body is not valid JSON for the requested type.
    #[error("failed to parse the JSON payload: {0}")]
    Parsing(#[source] serde_json::Error),
}

/// Why [`RequestPayloadExt::form_url_encoded`] could not read the body.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FormUrlEncodedPayloadError {
    /// The body is not a form encoding of the requested type.
    #[error("failed to parse the x-www-form-urlencoded payload: {0}")]
    Parsing(#[source] serde::de::value::Error),
}

impl From<JsonPayloadError> for PayloadError {
    fn from(error: JsonPayloadError) -> Self {
        match error {
            JsonPayloadError::Parsing(e) => PayloadError::Json(e),
        }
    }
}

impl From<FormUrlEncodedPayloadError> for PayloadError {
    fn from(error: FormUrlEncodedPayloadError) -> Self {
        match error {
            FormUrlEncodedPayloadError::Parsing(e) => PayloadError::WwwFormUrlEncoded(e),
        }
    }
}

/// Deserializes a request's body, as `lambda_http::RequestPayloadExt` does.
///
/// ```
/// use firebox_runtime::http::{http, Body, PayloadError, RequestPayloadExt};
/// use serde::Deserialize;
///
/// #[derive(Deserialize, Debug, PartialEq)]
/// struct Order { item: String, qty: u32 }
///
/// let form = http::Request::builder()
///     .header("content-type", "application/x-www-form-urlencoded")
///     .body(Body::from("item=tea&qty=2"))
///     .unwrap();
/// assert_eq!(form.payload::<Order>().unwrap(), Some(Order { item: "tea".into(), qty: 2 }));
///
/// let bad = http::Request::builder()
///     .header("content-type", "application/x-www-form-urlencoded")
///     .body(Body::from("item=tea&qty=many"))
///     .unwrap();
/// assert!(matches!(bad.payload::<Order>(), Err(PayloadError::WwwFormUrlEncoded(_))));
/// ```
pub trait RequestPayloadExt {
    /// The body as `D`, read according to the `Content-Type`:
    /// - `application/x-www-form-urlencoded`: as a form (`serde_urlencoded`);
    /// - `application/json`, and (unlike `lambda_http`) any `*+json` type such as
    ///   `application/vnd.api+json`: as JSON.
    ///
    /// `Ok(None)` when there is no body, no `Content-Type` or another content type.
    fn payload<D: DeserializeOwned>(&self) -> Result<Option<D>, PayloadError>;

    /// The body as JSON `D`, whatever the `Content-Type`; `Ok(None)` when there is no body.
    fn json<D: DeserializeOwned>(&self) -> Result<Option<D>, JsonPayloadError>;

    /// The body as an `application/x-www-form-urlencoded` encoding of `D`, whatever the
    /// `Content-Type`; `Ok(None)` when there is no body.
    fn form_url_encoded<D: DeserializeOwned>(
        &self,
    ) -> Result<Option<D>, FormUrlEncodedPayloadError>;
}

/// The kinds of body [`RequestPayloadExt::payload`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PayloadKind {
    Json,
    Form,
}

/// Which kind of payload a `Content-Type` value announces, if any (case-insensitive, parameters
/// such as `charset` ignored).
fn payload_kind(content_type: &str) -> Option<PayloadKind> {
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if mime == "application/x-www-form-urlencoded" {
        Some(PayloadKind::Form)
    } else if mime == "application/json" || (mime.contains('/') && mime.ends_with("+json")) {
        Some(PayloadKind::Json)
    } else {
        None
    }
}

impl<B: AsRef<[u8]>> RequestPayloadExt for ::http::Request<B> {
    fn payload<D: DeserializeOwned>(&self) -> Result<Option<D>, PayloadError> {
        let kind = self
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(payload_kind);
        match kind {
            Some(PayloadKind::Json) => Ok(self.json()?),
            Some(PayloadKind::Form) => Ok(self.form_url_encoded()?),
            None => Ok(None),
        }
    }

    fn json<D: DeserializeOwned>(&self) -> Result<Option<D>, JsonPayloadError> {
        let body = self.body().as_ref();
        if body.is_empty() {
            return Ok(None);
        }
        serde_json::from_slice(body)
            .map(Some)
            .map_err(JsonPayloadError::Parsing)
    }

    fn form_url_encoded<D: DeserializeOwned>(
        &self,
    ) -> Result<Option<D>, FormUrlEncodedPayloadError> {
        let body = self.body().as_ref();
        if body.is_empty() {
            return Ok(None);
        }
        serde_urlencoded::from_bytes(body)
            .map(Some)
            .map_err(FormUrlEncodedPayloadError::Parsing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_are_recognised() {
        for (value, kind) in [
            ("application/json", Some(PayloadKind::Json)),
            ("Application/JSON; charset=utf-8", Some(PayloadKind::Json)),
            ("application/vnd.api+json", Some(PayloadKind::Json)),
            ("application/x-www-form-urlencoded", Some(PayloadKind::Form)),
            (
                "application/x-www-form-urlencoded;charset=UTF-8",
                Some(PayloadKind::Form),
            ),
            ("multipart/form-data; boundary=x", None),
            ("text/plain", None),
            ("+json", None),
            ("", None),
        ] {
            assert_eq!(payload_kind(value), kind, "{value}");
        }
    }
}
