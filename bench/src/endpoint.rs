//! Parsing of Invoke API endpoint URLs (`http://host:port[/prefix]`) into what a raw HTTP/1.1
//! client needs: where to connect, the `Host` header and the path of an invocation.

use http::uri::{PathAndQuery, Uri};

use crate::BenchError;

/// A plain-HTTP endpoint: address to connect to plus an optional path prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `host:port`, used both to connect and as the `Host` header.
    pub authority: String,
    /// Path prefix without a trailing slash (empty for none).
    pub prefix: String,
}

impl Endpoint {
    /// Parses `http://host:port`, `http://host:port/prefix` or a bare `host:port`.
    /// `https` is refused (the load generator speaks plain HTTP over loopback); a missing
    /// port means 80.
    pub fn parse(url: &str) -> Result<Self, BenchError> {
        let invalid = |reason: &str| BenchError::InvalidEndpoint {
            url: url.to_string(),
            reason: reason.to_string(),
        };
        let with_scheme = if url.contains("://") {
            url.to_string()
        } else {
            format!("http://{url}")
        };
        let uri: Uri = with_scheme.parse().map_err(|e| invalid(&format!("{e}")))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some(other) => {
                return Err(invalid(&format!(
                    "scheme {other:?} is not supported; use http://"
                )))
            }
            None => return Err(invalid("missing scheme")),
        }
        let authority = uri.authority().ok_or_else(|| invalid("missing host"))?;
        if authority.as_str().contains('@') {
            return Err(invalid("user information is not supported"));
        }
        if authority.host().is_empty() {
            return Err(invalid("missing host"));
        }
        if uri.query().is_some() {
            return Err(invalid("a query string is not allowed in the endpoint"));
        }
        let authority = match authority.port_u16() {
            Some(_) => authority.as_str().to_string(),
            None => format!("{}:80", authority.host()),
        };
        let prefix = uri.path().trim_end_matches('/').to_string();
        Ok(Self { authority, prefix })
    }

    /// The path of a synchronous invocation of `function` (a name, partial ARN or ARN),
    /// with `?Qualifier=` when given.
    pub fn invoke_path(
        &self,
        function: &str,
        qualifier: Option<&str>,
    ) -> Result<PathAndQuery, BenchError> {
        if function.is_empty() {
            return Err(BenchError::InvalidArgument(
                "the function name is empty".into(),
            ));
        }
        let mut path = format!(
            "{}/2015-03-31/functions/{}/invocations",
            self.prefix,
            encode_segment(function)
        );
        if let Some(q) = qualifier {
            path.push_str("?Qualifier=");
            path.push_str(&encode_segment(q));
        }
        path.parse().map_err(|e| {
            BenchError::InvalidArgument(format!("function {function:?} gives a bad path: {e}"))
        })
    }

    /// A path under this endpoint's prefix (for servers such as the echo floor that answer any path).
    pub fn path(&self, path: &str) -> Result<PathAndQuery, BenchError> {
        format!("{}{}", self.prefix, path)
            .parse()
            .map_err(|e| BenchError::InvalidArgument(format!("bad path {path:?}: {e}")))
    }
}

/// Percent-encodes everything outside the characters that Lambda names, ARNs and qualifiers use.
fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':' | b'$' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_prefixed_and_bare_forms() {
        let e = Endpoint::parse("http://127.0.0.1:3001").unwrap();
        assert_eq!(e.authority, "127.0.0.1:3001");
        assert_eq!(e.prefix, "");
        let e = Endpoint::parse("http://localhost:9000/api/").unwrap();
        assert_eq!(e.authority, "localhost:9000");
        assert_eq!(e.prefix, "/api");
        let e = Endpoint::parse("127.0.0.1:3001").unwrap();
        assert_eq!(e.authority, "127.0.0.1:3001");
        let e = Endpoint::parse("http://example").unwrap();
        assert_eq!(e.authority, "example:80");
    }

    #[test]
    fn refuses_https_garbage_and_queries() {
        for bad in [
            "https://127.0.0.1:3001",
            "http://",
            "http://a:1/?x=1",
            "::::",
            "http://u@h:1",
        ] {
            let err = Endpoint::parse(bad).unwrap_err();
            assert!(
                matches!(err, BenchError::InvalidEndpoint { .. }),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn builds_invoke_paths_for_names_arns_and_qualifiers() {
        let e = Endpoint::parse("http://127.0.0.1:3001/p").unwrap();
        assert_eq!(
            e.invoke_path("hello", None).unwrap().as_str(),
            "/p/2015-03-31/functions/hello/invocations"
        );
        assert_eq!(
            e.invoke_path("arn:aws:lambda:us-east-1:123456789012:function:hello", Some("$LATEST"))
                .unwrap()
                .as_str(),
            "/p/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:hello/invocations?Qualifier=$LATEST"
        );
        assert_eq!(
            e.invoke_path("a b/c", None).unwrap().as_str(),
            "/p/2015-03-31/functions/a%20b%2Fc/invocations"
        );
        assert!(e.invoke_path("", None).is_err());
    }
}
