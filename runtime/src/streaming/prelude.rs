//! [`MetadataPrelude`]: the status code, headers and cookies that open an HTTP streaming
//! response for a function URL, and its JSON form.

use http::{header::SET_COOKIE, HeaderMap, StatusCode};
use serde::ser::{Serialize, SerializeMap, SerializeStruct, Serializer};

use crate::{diagnostic::Diagnostic, response::MARSHAL_ERROR};

/// The HTTP head of a streamed function URL response, sent before the body as
/// `{"statusCode":..,"headers":{..},"cookies":[..]}` followed by 8 NUL bytes.
///
/// Repeated headers are joined with `, `; `Set-Cookie` headers are sent in `cookies` (after the
/// ones already there), because a joined `Set-Cookie` header cannot be split again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataPrelude {
    /// The HTTP status code.
    pub status_code: StatusCode,
    /// The HTTP headers.
    pub headers: HeaderMap,
    /// The cookies to set, each a `Set-Cookie` value.
    pub cookies: Vec<String>,
}

impl Default for MetadataPrelude {
    /// Status 200, no headers, no cookies: a response with this prelude is posted without one.
    fn default() -> Self {
        MetadataPrelude {
            status_code: StatusCode::OK,
            headers: HeaderMap::new(),
            cookies: Vec::new(),
        }
    }
}

impl MetadataPrelude {
    /// Whether this is the default prelude (status 200, no headers, no cookies).
    pub fn is_default(&self) -> bool {
        self.status_code == StatusCode::OK && self.headers.is_empty() && self.cookies.is_empty()
    }

    /// The prelude's JSON (without the NUL delimiter).
    pub fn to_json(&self) -> Result<Vec<u8>, Diagnostic> {
        serde_json::to_vec(self).map_err(|e| {
            Diagnostic::new(
                MARSHAL_ERROR,
                format!("the metadata prelude cannot be serialized: {e}"),
            )
        })
    }
}

struct Headers<'a>(&'a HeaderMap);

impl Serialize for Headers<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let names = self.0.keys().filter(|name| **name != SET_COOKIE);
        let mut map = serializer.serialize_map(None)?;
        for name in names {
            let joined = self
                .0
                .get_all(name)
                .iter()
                .map(|v| String::from_utf8_lossy(v.as_bytes()))
                .collect::<Vec<_>>()
                .join(", ");
            map.serialize_entry(name.as_str(), &joined)?;
        }
        map.end()
    }
}

impl Serialize for MetadataPrelude {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let cookies: Vec<String> = self
            .cookies
            .iter()
            .cloned()
            .chain(
                self.headers
                    .get_all(SET_COOKIE)
                    .iter()
                    .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()),
            )
            .collect();
        let mut s = serializer.serialize_struct("MetadataPrelude", 3)?;
        s.serialize_field("statusCode", &self.status_code.as_u16())?;
        s.serialize_field("headers", &Headers(&self.headers))?;
        s.serialize_field("cookies", &cookies)?;
        s.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;
    use serde_json::json;

    #[test]
    fn json_shape() {
        let mut headers = HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_static("text/html"));
        headers.append("x-multi", HeaderValue::from_static("a"));
        headers.append("x-multi", HeaderValue::from_static("b"));
        headers.append(SET_COOKIE, HeaderValue::from_static("c=3; Path=/"));
        let prelude = MetadataPrelude {
            status_code: StatusCode::NOT_FOUND,
            headers,
            cookies: vec!["a=1".into()],
        };
        let value: serde_json::Value = serde_json::from_slice(&prelude.to_json().unwrap()).unwrap();
        assert_eq!(
            value,
            json!({
                "statusCode": 404,
                "headers": {"content-type": "text/html", "x-multi": "a, b"},
                "cookies": ["a=1", "c=3; Path=/"],
            })
        );
        assert!(!prelude.is_default());
        assert!(MetadataPrelude::default().is_default());
    }
}
