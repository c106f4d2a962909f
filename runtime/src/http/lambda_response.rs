//! [`LambdaResponse`]: the JSON the event's service expects back (API Gateway REST and HTTP API,
//! ALB, function URLs), including when a body goes out base64-encoded.

use std::collections::BTreeMap;

use ::http::{
    header::{CONTENT_ENCODING, CONTENT_TYPE, SET_COOKIE},
    HeaderMap, StatusCode,
};
use base64::Engine;
use serde::Serialize;

use super::event::EventFormat;
use crate::{Diagnostic, MARSHAL_ERROR};

/// A response in the format of the event it answers (posted to `/response` as JSON):
/// - API Gateway REST: `statusCode`, `multiValueHeaders` (or `headers` when the event had no
///   `multiValueHeaders`), `body`, `isBase64Encoded`;
/// - ALB: the same plus `statusDescription` (`"200 OK"`); `multiValueHeaders` only when the
///   event used them, as the target group then requires;
/// - HTTP API and function URLs: `statusCode`, `headers` (repeated values joined with `,`),
///   `cookies` (every `Set-Cookie`), `body`, `isBase64Encoded`.
///
/// Bodies are base64-encoded when the response has a `Content-Encoding` (other than
/// `identity`), when its `Content-Type` is not textual (`text/*`, JSON, XML, JavaScript, form,
/// YAML, GraphQL...), or when the bytes are not UTF-8.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LambdaResponse {
    status_code: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    status_description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    headers: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    multi_value_headers: Option<BTreeMap<String, Vec<String>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cookies: Option<Vec<String>>,
    body: String,
    is_base64_encoded: bool,
}

/// Whether a content type's body is text.
fn is_text_type(content_type: &str) -> bool {
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let Some((kind, subtype)) = mime.split_once('/') else {
        return false;
    };
    kind == "text"
        || subtype.ends_with("+json")
        || subtype.ends_with("+xml")
        || (kind == "application"
            && matches!(
                subtype,
                "json"
                    | "xml"
                    | "javascript"
                    | "ecmascript"
                    | "x-www-form-urlencoded"
                    | "graphql"
                    | "yaml"
                    | "x-yaml"
                    | "x-ndjson"
                    | "ndjson"
            ))
}

/// Whether the body goes out base64-encoded (see [`LambdaResponse`]).
pub(crate) fn is_binary(headers: &HeaderMap, body: &[u8]) -> bool {
    let encoded = headers
        .get(CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| !v.trim().eq_ignore_ascii_case("identity"));
    let non_text_type = headers
        .get(CONTENT_TYPE)
        .is_some_and(|v| v.to_str().map_or(true, |t| !is_text_type(t)));
    encoded || non_text_type || std::str::from_utf8(body).is_err()
}

/// Header values as strings; a value that is not visible ASCII/UTF-8 is a marshal error.
fn header_values(headers: &HeaderMap) -> Result<BTreeMap<String, Vec<String>>, Diagnostic> {
    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in headers {
        let value = std::str::from_utf8(value.as_bytes()).map_err(|_| {
            Diagnostic::new(
                MARSHAL_ERROR,
                format!("response header {name} has a value that is not UTF-8"),
            )
        })?;
        map.entry(name.as_str().to_owned())
            .or_default()
            .push(value.to_owned());
    }
    Ok(map)
}

impl LambdaResponse {
    /// The response to an event of `format`.
    pub(crate) fn new(
        format: EventFormat,
        multi_value_headers: bool,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Self, Diagnostic> {
        let is_base64_encoded = is_binary(headers, body);
        let body = if is_base64_encoded {
            base64::engine::general_purpose::STANDARD.encode(body)
        } else {
            // `is_binary` is false only for UTF-8 bodies.
            String::from_utf8_lossy(body).into_owned()
        };
        let mut values = header_values(headers)?;
        let mut response = LambdaResponse {
            status_code: status.as_u16(),
            status_description: None,
            headers: None,
            multi_value_headers: None,
            cookies: None,
            body,
            is_base64_encoded,
        };
        match format {
            EventFormat::ApiGatewayV2 | EventFormat::FunctionUrl => {
                response.cookies = values.remove(SET_COOKIE.as_str());
                response.headers = Some(join(values, ","));
            }
            EventFormat::ApiGatewayV1 | EventFormat::Alb => {
                if format == EventFormat::Alb {
                    response.status_description = Some(match status.canonical_reason() {
                        Some(reason) => format!("{} {reason}", status.as_u16()),
                        None => status.as_u16().to_string(),
                    });
                }
                if multi_value_headers {
                    response.multi_value_headers = Some(values);
                } else {
                    if values.get(SET_COOKIE.as_str()).is_some_and(|v| v.len() > 1) {
                        tracing::warn!(
                            "the event has no multiValueHeaders, so only the last of several \
                             Set-Cookie headers can be returned; enable multi-value headers"
                        );
                        if let Some(cookies) = values.get_mut(SET_COOKIE.as_str()) {
                            cookies.drain(..cookies.len() - 1);
                        }
                    }
                    response.headers = Some(join(values, ", "));
                }
            }
        }
        Ok(response)
    }

    /// The status code.
    pub fn status_code(&self) -> u16 {
        self.status_code
    }
}

fn join(values: BTreeMap<String, Vec<String>>, separator: &str) -> BTreeMap<String, String> {
    values
        .into_iter()
        .map(|(name, values)| (name, values.join(separator)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn binary_detection() {
        assert!(!is_binary(&headers(&[]), b"hi"));
        assert!(is_binary(&headers(&[]), &[0xff, 0xfe]));
        assert!(!is_binary(
            &headers(&[("content-type", "text/html; charset=utf-8")]),
            b"<p>"
        ));
        assert!(!is_binary(
            &headers(&[("content-type", "application/problem+json")]),
            b"{}"
        ));
        assert!(!is_binary(
            &headers(&[("content-type", "image/svg+xml")]),
            b"<svg/>"
        ));
        assert!(is_binary(
            &headers(&[("content-type", "image/png")]),
            b"PNG"
        ));
        assert!(is_binary(
            &headers(&[("content-type", "application/octet-stream")]),
            b"x"
        ));
        assert!(is_binary(
            &headers(&[("content-type", "text/plain"), ("content-encoding", "gzip")]),
            b"x"
        ));
        assert!(!is_binary(
            &headers(&[
                ("content-type", "text/plain"),
                ("content-encoding", "identity")
            ]),
            b"x"
        ));
        assert!(is_binary(
            &headers(&[("content-type", "text/plain")]),
            &[0xc3]
        ));
    }

    #[test]
    fn alb_status_description() {
        let r = LambdaResponse::new(
            EventFormat::Alb,
            false,
            StatusCode::IM_A_TEAPOT,
            &headers(&[]),
            b"",
        )
        .unwrap();
        assert_eq!(r.status_description.as_deref(), Some("418 I'm a teapot"));
        let r = LambdaResponse::new(
            EventFormat::Alb,
            false,
            StatusCode::from_u16(599).unwrap(),
            &headers(&[]),
            b"",
        )
        .unwrap();
        assert_eq!(r.status_description.as_deref(), Some("599"));
    }

    #[test]
    fn non_utf8_header_values_are_marshal_errors() {
        let mut map = HeaderMap::new();
        map.insert("x-bin", HeaderValue::from_bytes(&[0xff]).unwrap());
        let err = LambdaResponse::new(EventFormat::ApiGatewayV2, false, StatusCode::OK, &map, b"")
            .unwrap_err();
        assert_eq!(err.error_type, MARSHAL_ERROR);
    }
}
