//! An HTTP request as a function URL delivers it: payload format 2.0 (`rawPath`,
//! `rawQueryString`, cookies split out, lower-case headers with repeated values joined by
//! commas, decoded query parameters, `requestContext` with a fresh request id and time, the
//! body as text or base64), with the `x-forwarded-*` headers Lambda adds and its
//! `accountId`: `anonymous` for `AuthType` `NONE`, the caller's for `AWS_IAM` (with
//! `authorizer.iam`).

use base64::Engine;
use http::HeaderMap;
use serde_json::{json, Map, Value};

use crate::api::invoke::percent_decode_bytes;

/// What the event is built from.
pub(crate) struct RequestParts<'a> {
    pub method: &'a str,
    pub raw_path: &'a str,
    pub raw_query: &'a str,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
    pub source_ip: String,
    pub domain_name: String,
    pub caller: Caller<'a>,
    pub request_id: &'a str,
    pub now_ms: u64,
}

/// Who calls the URL, as its `AuthType` makes it known.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Caller<'a> {
    /// `NONE`: an anonymous caller (`accountId` `anonymous`).
    Anonymous,
    /// `AWS_IAM`: a signed caller of this account (`authorizer.iam`).
    Iam { account_id: &'a str },
}

/// Adds the headers Lambda's front end adds to a function URL request: `x-forwarded-for`
/// (the client's address after any the client sent), `x-forwarded-proto` and
/// `x-forwarded-port` (the scheme and port the client reached: plain HTTP here, where Lambda
/// has HTTPS on 443). Lambda's `x-amzn-tls-*` headers are not added: there is no TLS.
pub(crate) fn add_forwarded(headers: &mut HeaderMap, source_ip: &str) {
    let forwarded_for = match headers.get("x-forwarded-for").map(|v| v.to_str()) {
        Some(Ok(before)) if !before.trim().is_empty() => format!("{before}, {source_ip}"),
        _ => source_ip.to_owned(),
    };
    let port = headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.rsplit_once(':'))
        .map(|(_, port)| port)
        .filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        .unwrap_or("80")
        .to_owned();
    for (name, value) in [
        ("x-forwarded-for", forwarded_for),
        ("x-forwarded-proto", "http".to_owned()),
        ("x-forwarded-port", port),
    ] {
        if let Ok(value) = http::HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
}

/// The access key id of a SigV4 `Authorization` header
/// (`AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/lambda/aws4_request, ...`).
fn access_key(headers: &HeaderMap) -> Option<String> {
    let auth = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let credential = auth.split_once("Credential=")?.1;
    let key = credential.split('/').next()?.trim();
    (!key.is_empty()).then(|| key.to_owned())
}

/// Builds the payload format 2.0 event.
pub(crate) fn build(p: &RequestParts<'_>) -> Value {
    let mut headers = Map::new();
    let mut cookies: Vec<String> = Vec::new();
    for name in p.headers.keys() {
        let values: Vec<String> = p
            .headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect();
        if name == http::header::COOKIE {
            for v in &values {
                cookies.extend(
                    v.split(';')
                        .map(str::trim)
                        .filter(|c| !c.is_empty())
                        .map(str::to_owned),
                );
            }
            continue;
        }
        headers.insert(name.as_str().to_owned(), Value::String(values.join(",")));
    }
    let domain_prefix = p
        .domain_name
        .split('.')
        .next()
        .unwrap_or_default()
        .to_owned();
    let user_agent = p
        .headers
        .get(http::header::USER_AGENT)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default();
    let mut event = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": p.raw_path,
        "rawQueryString": p.raw_query,
        "headers": headers,
        "requestContext": {
            "accountId": match p.caller {
                Caller::Anonymous => "anonymous",
                Caller::Iam { account_id } => account_id,
            },
            "apiId": domain_prefix,
            "domainName": p.domain_name,
            "domainPrefix": domain_prefix,
            "http": {
                "method": p.method,
                "path": p.raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": p.source_ip,
                "userAgent": user_agent,
            },
            "requestId": p.request_id,
            "routeKey": "$default",
            "stage": "$default",
            "time": crate::ids::clf_time(p.now_ms),
            "timeEpoch": p.now_ms,
        },
        "isBase64Encoded": false,
    });
    if let Caller::Iam { account_id } = p.caller {
        let mut iam = json!({ "accountId": account_id });
        if let Some(key) = access_key(p.headers) {
            iam["accessKey"] = key.into();
        }
        event["requestContext"]["authorizer"] = json!({ "iam": iam });
    }
    if !cookies.is_empty() {
        event["cookies"] = json!(cookies);
    }
    if let Some(query) = query_parameters(p.raw_query) {
        event["queryStringParameters"] = Value::Object(query);
    }
    if !p.body.is_empty() {
        match text_body(p.headers, p.body) {
            Some(text) => event["body"] = Value::String(text.to_owned()),
            None => {
                event["body"] =
                    Value::String(base64::engine::general_purpose::STANDARD.encode(p.body));
                event["isBase64Encoded"] = Value::Bool(true);
            }
        }
    }
    event
}

/// The body as text when its content type is textual and it is UTF-8. A body without a
/// content type is sent as base64, as a function URL does.
fn text_body<'a>(headers: &HeaderMap, body: &'a [u8]) -> Option<&'a str> {
    let textual = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(is_text_type);
    if !textual || headers.contains_key(http::header::CONTENT_ENCODING) {
        return None;
    }
    std::str::from_utf8(body).ok()
}

/// Whether a content type is text (sent as-is rather than base64). A form
/// (`application/x-www-form-urlencoded`, what `curl -d` and an HTML form send) is not: a
/// function URL sends it base64-encoded.
pub(crate) fn is_text_type(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence.starts_with("text/")
        || essence.ends_with("/json")
        || essence.ends_with("+json")
        || essence.ends_with("/xml")
        || essence.ends_with("+xml")
        || matches!(
            essence.as_str(),
            "application/javascript" | "application/graphql" | "application/yaml"
        )
}

/// Decoded query parameters, repeated ones joined by commas; `None` when there are none.
fn query_parameters(raw: &str) -> Option<Map<String, Value>> {
    let mut out: Map<String, Value> = Map::new();
    for pair in raw.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let decode = |s: &str| {
            let s = s.replace('+', " ");
            percent_decode_bytes(&s)
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or(s)
        };
        let (k, v) = (decode(k), decode(v));
        match out.get_mut(&k) {
            Some(Value::String(existing)) => {
                existing.push(',');
                existing.push_str(&v);
            }
            _ => {
                out.insert(k, Value::String(v));
            }
        }
    }
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_and_cookies_and_headers() {
        let mut headers = HeaderMap::new();
        headers.append("x-multi", "a".parse().unwrap());
        headers.append("x-multi", "b".parse().unwrap());
        headers.append("cookie", "s=1; t=2".parse().unwrap());
        headers.append("content-type", "application/octet-stream".parse().unwrap());
        let event = build(&RequestParts {
            method: "POST",
            raw_path: "/a%20b",
            raw_query: "x=1&x=2&y=h%C3%A9+llo&flag",
            headers: &headers,
            body: &[0, 159, 146, 150],
            source_ip: "127.0.0.1".into(),
            domain_name: "fn.lambda-url.localhost".into(),
            caller: Caller::Anonymous,
            request_id: "rid",
            now_ms: 1_583_348_638_390,
        });
        assert_eq!(event["headers"]["x-multi"], "a,b");
        assert!(event["headers"].get("cookie").is_none());
        assert_eq!(event["cookies"], json!(["s=1", "t=2"]));
        assert_eq!(event["queryStringParameters"]["x"], "1,2");
        assert_eq!(event["queryStringParameters"]["y"], "hé llo");
        assert_eq!(event["queryStringParameters"]["flag"], "");
        assert_eq!(event["rawPath"], "/a%20b");
        assert_eq!(event["isBase64Encoded"], true);
        assert_eq!(event["body"], "AJ+Slg==");
        assert_eq!(
            event["requestContext"]["time"],
            "04/Mar/2020:19:03:58 +0000"
        );
        assert_eq!(event["requestContext"]["domainPrefix"], "fn");
        assert_eq!(event["requestContext"]["accountId"], "anonymous");
        assert!(event["requestContext"].get("authorizer").is_none());
    }

    #[test]
    fn forwarded_headers_and_an_iam_caller() {
        let mut headers = HeaderMap::new();
        headers.insert("host", "127.0.0.1:9001".parse().unwrap());
        headers.insert("x-forwarded-for", "10.0.0.1".parse().unwrap());
        headers.insert("x-forwarded-proto", "https".parse().unwrap());
        headers.insert(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/us-east-1/lambda/aws4_request, \
             SignedHeaders=host, Signature=abc"
                .parse()
                .unwrap(),
        );
        add_forwarded(&mut headers, "127.0.0.1");
        assert_eq!(headers["x-forwarded-for"], "10.0.0.1, 127.0.0.1");
        assert_eq!(headers["x-forwarded-proto"], "http");
        assert_eq!(headers["x-forwarded-port"], "9001");
        let event = build(&RequestParts {
            method: "GET",
            raw_path: "/",
            raw_query: "",
            headers: &headers,
            body: &[],
            source_ip: "127.0.0.1".into(),
            domain_name: "fn.lambda-url.localhost".into(),
            caller: Caller::Iam {
                account_id: "123456789012",
            },
            request_id: "rid",
            now_ms: 0,
        });
        let context = &event["requestContext"];
        assert_eq!(context["accountId"], "123456789012");
        assert_eq!(context["authorizer"]["iam"]["accountId"], "123456789012");
        assert_eq!(context["authorizer"]["iam"]["accessKey"], "AKIDEXAMPLE");
    }

    #[test]
    fn text_types() {
        assert!(is_text_type("application/json; charset=utf-8"));
        assert!(is_text_type("text/html"));
        assert!(is_text_type("application/vnd.api+json"));
        assert!(!is_text_type("image/png"));
        assert!(!is_text_type("application/octet-stream"));
        assert!(!is_text_type("application/x-www-form-urlencoded"));
    }
}
