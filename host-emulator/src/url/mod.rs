//! Function URLs on the emulator's public listener, one per qualifier (`$LATEST` and each
//! alias). A request is routed to one by host name or by path prefix:
//!
//! - `http://NAME.lambda-url.localhost:PORT/any/path` and `http://127.0.0.1:PORT/lambda-url/NAME/any/path`
//!   reach the function's unqualified URL (`$LATEST`'s); a function whose only URL is on an
//!   alias answers with that one there too;
//! - `http://ALIAS.NAME.lambda-url.localhost:PORT/any/path` and
//!   `http://127.0.0.1:PORT/lambda-url/NAME:ALIAS/any/path` (`:` also as `%3A`) reach the URL
//!   of alias `ALIAS`; `/lambda-url/NAME:$LATEST/` is `$LATEST`'s.
//!
//! The path prefix is removed from `rawPath`. Each request becomes a payload format 2.0 event
//! (`event`); the answer becomes an HTTP response (`answer`, mapped by `response`), streamed
//! as it arrives in `RESPONSE_STREAM` mode; CORS is answered from the configuration (`cors`).

mod answer;
mod config;
mod cors;
mod event;
mod rate;
mod response;
mod state;

use std::net::SocketAddr;

use crate::api::RequestBody;
use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode};

pub use config::{Cors, InvokeMode, UrlConfig};
pub(crate) use rate::UrlRate;
pub use rate::REQUESTS_PER_SECOND_PER_RESERVED;
pub use response::{HTTP_INTEGRATION_CONTENT_TYPE, MAX_PRELUDE_BYTES};
pub(crate) use state::Urls;
pub use state::{AuthType, FunctionUrl, UrlError, UrlUpdate};

use crate::api::invoke::Functions;
use crate::api::{read_body, BodyError, MAX_SYNC_REQUEST_BYTES};
use crate::config::LATEST;
use crate::invocation::Invocation;
use crate::stream::ResponseBody;
use response::message;

/// Host names ending in this are function URLs: `NAME.lambda-url.localhost` (the unqualified
/// URL) and `ALIAS.NAME.lambda-url.localhost` (an alias's).
pub const HOST_SUFFIX: &str = ".lambda-url.localhost";
/// Paths starting with this are function URLs: `/lambda-url/NAME/...` (the unqualified URL)
/// and `/lambda-url/NAME:ALIAS/...` (an alias's).
pub const PATH_PREFIX: &str = "/lambda-url/";

/// The path of a function's URL for `qualifier` (none, or `$LATEST`: the unqualified URL),
/// after `http://HOST:PORT`: `/lambda-url/NAME/` or `/lambda-url/NAME:ALIAS/`.
pub fn url_path(function: &str, qualifier: Option<&str>) -> String {
    match qualifier {
        None | Some(LATEST) => format!("{PATH_PREFIX}{function}/"),
        Some(alias) => format!("{PATH_PREFIX}{function}:{alias}/"),
    }
}

/// A request addressed to a function URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UrlTarget {
    name: String,
    /// The qualifier the address names; `None`: the function's own address.
    qualifier: Option<String>,
    raw_path: String,
    domain: String,
}

/// Whether `req` is addressed to a function URL, and to which.
pub(crate) fn route<B>(req: &Request<B>) -> Option<UrlTarget> {
    let host = req
        .headers()
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| req.uri().host())
        .unwrap_or_default();
    let host = host
        .rsplit_once(':')
        .map_or(host, |(h, _)| h)
        .to_ascii_lowercase();
    let path = req.uri().path();
    if let Some(labels) = host.strip_suffix(HOST_SUFFIX) {
        // `NAME` or `ALIAS.NAME`: an alias label first, as a host name cannot hold `:`.
        let (qualifier, name) = match labels.split_once('.') {
            None => (None, labels),
            Some((alias, name)) => (Some(alias), name),
        };
        let valid = |label: &str| !label.is_empty() && !label.contains('.');
        if valid(name) && qualifier.is_none_or(valid) {
            return Some(UrlTarget {
                name: name.to_owned(),
                qualifier: qualifier.map(str::to_owned),
                raw_path: path.to_owned(),
                domain: host.clone(),
            });
        }
        return None;
    }
    let rest = path.strip_prefix(PATH_PREFIX)?;
    let (segment, tail) = rest.split_once('/').unwrap_or((rest, ""));
    let (name, qualifier) = split_qualifier(segment);
    if name.is_empty() {
        return None;
    }
    let domain = match qualifier {
        None | Some(LATEST) => format!("{name}{HOST_SUFFIX}"),
        Some(alias) => format!("{alias}.{name}{HOST_SUFFIX}"),
    };
    Some(UrlTarget {
        name: name.to_owned(),
        qualifier: qualifier.map(str::to_owned),
        raw_path: format!("/{tail}"),
        domain,
    })
}

/// `NAME` or `NAME:QUALIFIER` (the `:` also percent-encoded, `$` of `$LATEST` too).
fn split_qualifier(segment: &str) -> (&str, Option<&str>) {
    let split = segment
        .split_once(':')
        .or_else(|| segment.split_once("%3A"))
        .or_else(|| segment.split_once("%3a"));
    match split {
        None => (segment, None),
        Some((name, q)) if q.eq_ignore_ascii_case("%24LATEST") => (name, Some(LATEST)),
        Some((name, q)) => (name, Some(q)),
    }
}

/// Serves one function URL request.
pub(crate) async fn handle(
    req: Request<RequestBody>,
    target: UrlTarget,
    functions: &Functions,
    peer: Option<SocketAddr>,
) -> Response<ResponseBody> {
    let request_id = crate::ids::request_id();
    let mut response = serve(req, &target, functions, peer, &request_id).await;
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-amzn-requestid", v);
    }
    response
}

async fn serve(
    req: Request<RequestBody>,
    target: &UrlTarget,
    functions: &Functions,
    peer: Option<SocketAddr>,
    request_id: &str,
) -> Response<ResponseBody> {
    // The URL invokes the version its qualifier picks now (`DeleteAlias` takes the alias's
    // URL with it, as on Lambda).
    let Some((owner, function, url, auth_type)) = functions.get(&target.name).and_then(|f| {
        let FunctionUrl {
            config, auth_type, ..
        } = match target.qualifier.as_deref() {
            None => f.urls.unqualified(),
            Some(q) => f.url(Some(q)),
        }?;
        let version = f.resolve(config.qualifier.as_deref())?;
        Some((f, version, config, auth_type))
    }) else {
        let named = match &target.qualifier {
            Some(q) => format!("{}:{q}", target.name),
            None => target.name.clone(),
        };
        return message(
            StatusCode::NOT_FOUND,
            &format!("No function URL for `{named}`"),
        );
    };
    if let Some(cors) = &url.cors {
        if cors::is_preflight(req.method(), req.headers()) {
            return cors::preflight(cors, req.headers());
        }
    }
    // Lambda's request rate for URLs: 10 × the reserved concurrency per second.
    if !owner
        .url_rate
        .admit(owner.capacity().reserved(), std::time::Instant::now())
    {
        return message(StatusCode::TOO_MANY_REQUESTS, "Rate Exceeded.");
    }
    let (mut parts, body) = req.into_parts();
    // The caller's trace, or a new one; the event's headers carry it, as on Lambda.
    let trace = crate::trace::of_request(&parts.headers).unwrap_or_else(crate::trace::new_header);
    if let Ok(value) = http::HeaderValue::from_str(&trace) {
        parts.headers.insert("x-amzn-trace-id", value);
    }
    let body = match read_body(body, MAX_SYNC_REQUEST_BYTES).await {
        Ok(body) => body,
        Err(BodyError::TooLarge { .. }) => {
            return message(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large")
        }
        Err(BodyError::Read(_)) => return message(StatusCode::BAD_REQUEST, "Bad Request"),
    };
    let source_ip = peer.map(|p| p.ip().to_string()).unwrap_or_default();
    event::add_forwarded(&mut parts.headers, &source_ip);
    let caller = match auth_type {
        // Anyone may call it: Lambda names no account.
        AuthType::None => event::Caller::Anonymous,
        // The signature is not checked; the caller is taken to be of the emulator's account.
        AuthType::AwsIam => event::Caller::Iam {
            account_id: &function.config.account_id,
        },
    };
    let event = event::build(&event::RequestParts {
        method: parts.method.as_str(),
        raw_path: &target.raw_path,
        raw_query: parts.uri.query().unwrap_or_default(),
        headers: &parts.headers,
        body: &body,
        source_ip,
        domain_name: target.domain.clone(),
        caller,
        request_id,
        now_ms: crate::ids::unix_millis(),
    });
    let payload = Bytes::from(event.to_string());
    if payload.len() > MAX_SYNC_REQUEST_BYTES {
        return message(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large");
    }
    let arn = match &url.qualifier {
        Some(q) => function.config.qualified_arn(q),
        None => function.config.arn(),
    };
    let (mut invocation, waiting) = Invocation::sync(request_id.to_owned(), payload, arn);
    invocation.trace_id = trace;
    if crate::scheduler::submit(&function, invocation).is_err() {
        return message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
    }
    let mut response = match waiting.wait().await {
        Err(_) => message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error"),
        Ok(reply) => {
            let answering = answer::Answering {
                log: &function.log,
                request_id,
                head_request: parts.method == http::Method::HEAD,
            };
            answering.reply(reply, url.invoke_mode).await
        }
    };
    if let Some(cors) = &url.cors {
        cors::decorate(cors, &parts.headers, response.headers_mut());
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(host: &str, path: &str) -> Request<()> {
        Request::get(path).header("host", host).body(()).unwrap()
    }

    #[test]
    fn routes() {
        let t = route(&req("hello.lambda-url.localhost:3001", "/a/b")).unwrap();
        assert_eq!((t.name.as_str(), t.raw_path.as_str()), ("hello", "/a/b"));
        assert_eq!(t.qualifier, None);
        assert_eq!(t.domain, "hello.lambda-url.localhost");
        let t = route(&req("127.0.0.1:3001", "/lambda-url/hello/a/b")).unwrap();
        assert_eq!((t.name.as_str(), t.raw_path.as_str()), ("hello", "/a/b"));
        assert_eq!(t.qualifier, None);
        assert_eq!(t.domain, "hello.lambda-url.localhost");
        let t = route(&req("127.0.0.1:3001", "/lambda-url/hello")).unwrap();
        assert_eq!(t.raw_path, "/");
        assert!(route(&req(
            "127.0.0.1:3001",
            "/2015-03-31/functions/x/invocations"
        ))
        .is_none());
        assert!(route(&req("127.0.0.1", "/lambda-url/")).is_none());
        assert!(route(&req("127.0.0.1", "/lambda-url/:live/")).is_none());
        for host in [
            "a.b.c.lambda-url.localhost",
            ".b.lambda-url.localhost",
            "a..lambda-url.localhost",
            "lambda-url.localhost",
        ] {
            assert!(route(&req(host, "/")).is_none(), "{host}");
        }
    }

    #[test]
    fn routes_to_an_alias_by_host_and_by_path() {
        let t = route(&req("Live.Hello.lambda-url.localhost:3001", "/a")).unwrap();
        assert_eq!(t.name, "hello");
        assert_eq!(t.qualifier.as_deref(), Some("live"));
        assert_eq!(
            (t.raw_path.as_str(), t.domain.as_str()),
            ("/a", "live.hello.lambda-url.localhost")
        );
        for path in [
            "/lambda-url/hello:live/a",
            "/lambda-url/hello%3Alive/a",
            "/lambda-url/hello%3alive/a",
        ] {
            let t = route(&req("127.0.0.1:3001", path)).unwrap();
            assert_eq!(t.name, "hello", "{path}");
            assert_eq!(t.qualifier.as_deref(), Some("live"), "{path}");
            assert_eq!(t.raw_path, "/a", "{path}");
            assert_eq!(t.domain, "live.hello.lambda-url.localhost", "{path}");
        }
        for path in ["/lambda-url/hello:$LATEST/", "/lambda-url/hello:%24LATEST/"] {
            let t = route(&req("127.0.0.1:3001", path)).unwrap();
            assert_eq!(t.qualifier.as_deref(), Some(LATEST), "{path}");
            assert_eq!(t.domain, "hello.lambda-url.localhost", "{path}");
        }
        assert_eq!(url_path("hello", None), "/lambda-url/hello/");
        assert_eq!(url_path("hello", Some(LATEST)), "/lambda-url/hello/");
        assert_eq!(url_path("hello", Some("live")), "/lambda-url/hello:live/");
    }
}
