//! A function's answer as a function URL gives it: a response object
//! (`statusCode`, `headers`, `cookies`, `body`, `isBase64Encoded`) or any other JSON value (a
//! 200 `application/json` body); for streamed HTTP responses, the JSON prelude before the
//! 8 NUL bytes; and the URL's own error answers.

use base64::Engine;
use bytes::Bytes;
use http::{HeaderName, HeaderValue, Response, StatusCode};
use serde_json::Value;

use crate::stream::ResponseBody;

/// The content type of a streamed HTTP response with a prelude.
pub const HTTP_INTEGRATION_CONTENT_TYPE: &str =
    "application/vnd.awslambda.http-integration-response";
/// Separates the prelude from the body.
pub const PRELUDE_SEPARATOR: [u8; 8] = [0; 8];
/// Largest prelude accepted before the separator.
pub const MAX_PRELUDE_BYTES: usize = 64 * 1024;

/// Status, headers and cookies of an HTTP response (the prelude, or a response object).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Head {
    pub status: StatusCode,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub cookies: Vec<HeaderValue>,
}

impl Head {
    /// Sets `Content-Type` to `value` unless the function set one.
    fn default_content_type(&mut self, value: &'static str) {
        let set = self
            .headers
            .iter()
            .any(|(n, _)| n == http::header::CONTENT_TYPE);
        if !set {
            self.headers
                .push((http::header::CONTENT_TYPE, HeaderValue::from_static(value)));
        }
    }
}

/// Why an answer cannot be turned into an HTTP response (the URL answers 502 and logs this).
#[derive(Debug, thiserror::Error)]
pub(crate) enum MappingError {
    /// The buffered answer is not JSON at all.
    #[error("the response is not JSON")]
    NotJson,
    /// The prelude before the 8 NUL bytes is not JSON.
    #[error("the prelude is not JSON")]
    PreludeNotJson,
    /// The prelude is JSON, but not an object.
    #[error("the prelude is not a JSON object")]
    PreludeNotObject,
    /// No separator within [`MAX_PRELUDE_BYTES`].
    #[error("no end of the prelude (8 NUL bytes) in its first {MAX_PRELUDE_BYTES} bytes")]
    PreludeTooLong,
    /// The stream ended before the separator.
    #[error("the stream ended inside the prelude (no 8 NUL bytes)")]
    PreludeUnfinished,
    /// A field has the wrong type or value.
    #[error("`{field}` must be {expected}")]
    Field {
        field: &'static str,
        expected: &'static str,
    },
    /// A header that no HTTP response can carry.
    #[error("header `{name}`: {problem}")]
    Header { name: String, problem: &'static str },
}

impl MappingError {
    fn field(field: &'static str, expected: &'static str) -> Self {
        Self::Field { field, expected }
    }

    fn header(name: &str, problem: &'static str) -> Self {
        // The name as the function wrote it, cut short: it goes into a log line.
        let name = name.chars().take(64).collect();
        Self::Header { name, problem }
    }
}

/// Headers a function's response or prelude cannot set: the framing of the response the URL
/// sends (`content-length`: hyper writes the length of the body it sends, or chunked encoding)
/// and the hop-by-hop headers of RFC 9110 §7.6.1, which describe one connection, not the
/// response. Any header the function's `connection` header names is dropped too.
const NOT_FORWARDED: [&str; 8] = [
    "connection",
    "content-length",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// `headers` without those a URL does not forward (see [`NOT_FORWARDED`]).
fn forwarded(headers: Vec<(HeaderName, HeaderValue)>) -> Vec<(HeaderName, HeaderValue)> {
    let named: Vec<String> = headers
        .iter()
        .filter(|(n, _)| n == http::header::CONNECTION)
        .filter_map(|(_, v)| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().to_ascii_lowercase())
        .filter(|t| !t.is_empty())
        .collect();
    headers
        .into_iter()
        .filter(|(n, _)| {
            !NOT_FORWARDED.contains(&n.as_str()) && !named.iter().any(|t| t == n.as_str())
        })
        .collect()
}

/// Reads `statusCode`, `headers` and `cookies` from a response object or a prelude.
pub(crate) fn head(object: &serde_json::Map<String, Value>) -> Result<Head, MappingError> {
    let status = match object.get("statusCode") {
        None => StatusCode::OK,
        Some(v) => v
            .as_u64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            // A final HTTP status: 200 to 599 (1xx are interim and cannot end an exchange;
            // 600 and up are not HTTP statuses, though `StatusCode` takes them to 999).
            .filter(|n| (200..=599).contains(n))
            .and_then(|n| u16::try_from(n).ok())
            .and_then(|n| StatusCode::from_u16(n).ok())
            .ok_or(MappingError::field(
                "statusCode",
                "a number, or a string of one, from 200 to 599",
            ))?,
    };
    let mut headers = Vec::new();
    if let Some(h) = object.get("headers").filter(|h| !h.is_null()) {
        let h = h
            .as_object()
            .ok_or(MappingError::field("headers", "an object"))?;
        for (name, value) in h {
            let text = match value {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                _ => {
                    return Err(MappingError::header(
                        name,
                        "the value must be a string, a number or a boolean",
                    ))
                }
            };
            let header = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| MappingError::header(name, "not a valid header name"))?;
            let value = HeaderValue::from_str(&text).map_err(|_| {
                MappingError::header(name, "the value has a character no header can carry")
            })?;
            // One value per name: `Content-Type` and `content-type` in one object are one
            // header (the later key, in the object's order as read, wins).
            match headers.iter_mut().find(|(n, _)| *n == header) {
                Some(slot) => slot.1 = value,
                None => headers.push((header, value)),
            }
        }
    }
    let headers = forwarded(headers);
    let mut cookies = Vec::new();
    if let Some(c) = object.get("cookies").filter(|c| !c.is_null()) {
        const COOKIES: &str = "an array of strings that can be header values";
        for cookie in c
            .as_array()
            .ok_or(MappingError::field("cookies", COOKIES))?
        {
            let cookie = cookie
                .as_str()
                .and_then(|s| HeaderValue::from_str(s).ok())
                .ok_or(MappingError::field("cookies", COOKIES))?;
            cookies.push(cookie);
        }
    }
    Ok(Head {
        status,
        headers,
        cookies,
    })
}

/// Maps a buffered answer to status, headers and body.
pub(crate) fn buffered(body: &[u8]) -> Result<(Head, Bytes), MappingError> {
    let value: Value = serde_json::from_slice(body).map_err(|_| MappingError::NotJson)?;
    match value {
        Value::Object(object) if object.contains_key("statusCode") => {
            let mut head = head(&object)?;
            let base64 = match object.get("isBase64Encoded") {
                None | Some(Value::Null) => false,
                Some(Value::Bool(b)) => *b,
                Some(_) => return Err(MappingError::field("isBase64Encoded", "a boolean")),
            };
            let text = match object.get("body") {
                None | Some(Value::Null) => "",
                Some(Value::String(s)) => s.as_str(),
                Some(_) => return Err(MappingError::field("body", "a string")),
            };
            let bytes = if base64 {
                Bytes::from(
                    base64::engine::general_purpose::STANDARD
                        .decode(text)
                        .map_err(|_| {
                            MappingError::field("body", "base64, as `isBase64Encoded` is true")
                        })?,
                )
            } else {
                Bytes::copy_from_slice(text.as_bytes())
            };
            head.default_content_type("application/json");
            Ok((head, bytes))
        }
        _ => Ok((
            Head {
                status: StatusCode::OK,
                headers: vec![(
                    http::header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                )],
                cookies: Vec::new(),
            },
            Bytes::copy_from_slice(body),
        )),
    }
}

/// The `Content-Length` the response object in `body` declares (a number, or a string of
/// one), for a `HEAD` whose body it leaves out; `None` for anything else.
pub(crate) fn declared_length(body: &[u8]) -> Option<HeaderValue> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let (_, length) = value
        .get("headers")?
        .as_object()?
        .iter()
        .rfind(|(name, _)| name.eq_ignore_ascii_case("content-length"))?;
    let length = match length {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }?;
    Some(HeaderValue::from(length))
}

/// Where the prelude ends in `buf`: the prelude's head and the offset of the body, `Ok(None)`
/// when the separator has not arrived yet. A prelude without `content-type` gets
/// `application/octet-stream`, as a stream without a prelude does.
pub(crate) fn split_prelude(buf: &[u8]) -> Result<Option<(Head, usize)>, MappingError> {
    let Some(at) = buf
        .windows(PRELUDE_SEPARATOR.len())
        .position(|w| w == PRELUDE_SEPARATOR)
    else {
        if buf.len() > MAX_PRELUDE_BYTES {
            return Err(MappingError::PreludeTooLong);
        }
        return Ok(None);
    };
    let value: Value =
        serde_json::from_slice(&buf[..at]).map_err(|_| MappingError::PreludeNotJson)?;
    let object = value.as_object().ok_or(MappingError::PreludeNotObject)?;
    let mut head = head(object)?;
    head.default_content_type("application/octet-stream");
    Ok(Some((head, at + PRELUDE_SEPARATOR.len())))
}

/// A response with `head` and `body`.
pub(crate) fn with_head(head: Head, body: ResponseBody) -> Response<ResponseBody> {
    let mut response = Response::new(body);
    *response.status_mut() = head.status;
    let h = response.headers_mut();
    for (name, value) in head.headers {
        h.append(name, value);
    }
    for cookie in head.cookies {
        h.append(http::header::SET_COOKIE, cookie);
    }
    response
}

/// The URL's own answer: `{"Message": ...}` with `status`.
pub(crate) fn message(status: StatusCode, message: &str) -> Response<ResponseBody> {
    let body = serde_json::json!({ "Message": message }).to_string();
    let mut response = Response::new(ResponseBody::full(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_objects() {
        let (head, body) = buffered(
            br#"{"statusCode":201,"headers":{"x-a":"1"},"cookies":["a=1","b=2"],"body":"aGk=","isBase64Encoded":true}"#,
        )
        .unwrap();
        assert_eq!(head.status, 201);
        assert_eq!(head.cookies.len(), 2);
        assert_eq!(&body[..], b"hi");
        assert!(head.headers.iter().any(|(n, _)| n == "content-type"));
        let (head, body) = buffered(br#"{"hello":"world"}"#).unwrap();
        assert_eq!(head.status, 200);
        assert_eq!(&body[..], br#"{"hello":"world"}"#);
        let (_, body) = buffered(br#""text""#).unwrap();
        assert_eq!(&body[..], br#""text""#);
        assert!(buffered(b"not json").is_err());
        assert!(buffered(br#"{"statusCode":"abc"}"#).is_err());
        for bad in ["99", "100", "199", "600", "999", "\"600\""] {
            let object = format!(r#"{{"statusCode":{bad}}}"#);
            assert!(buffered(object.as_bytes()).is_err(), "{bad}");
        }
        assert_eq!(buffered(br#"{"statusCode":599}"#).unwrap().0.status, 599);
        assert!(buffered(br#"{"statusCode":200,"body":5}"#).is_err());
        // Two spellings of one header give one header.
        let (head, _) =
            buffered(br#"{"headers":{"Content-Type":"text/html","content-type":"text/plain"}}"#)
                .unwrap();
        let types: Vec<_> = head
            .headers
            .iter()
            .filter(|(n, _)| n == "content-type")
            .collect();
        assert_eq!(types.len(), 1, "{types:?}");
    }

    #[test]
    fn preludes() {
        let mut wire = br#"{"statusCode":202,"headers":{"content-type":"text/event-stream"},"cookies":["c=1"]}"#.to_vec();
        assert!(split_prelude(&wire).unwrap().is_none());
        wire.extend_from_slice(&[0; 8]);
        wire.extend_from_slice(b"data: 1\n\n");
        let (head, at) = split_prelude(&wire).unwrap().unwrap();
        assert_eq!(head.status, 202);
        assert_eq!(&wire[at..], b"data: 1\n\n");
        assert!(split_prelude(&[b'x'; MAX_PRELUDE_BYTES + 1]).is_err());
        assert!(split_prelude(b"nope\0\0\0\0\0\0\0\0").is_err());
    }
}
