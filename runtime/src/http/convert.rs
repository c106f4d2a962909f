//! Turning a [`LambdaRequest`] into an [`http::Request<Body>`](::http::Request): the URI (stage
//! prefix, path and query encoding), headers (including the invocation's `X-Amzn-Trace-Id`), body
//! and extensions.
//!
//! The URI is absolute when the event names a host (`https://host/path?query`, the scheme from
//! `X-Forwarded-Proto`), so frameworks see the URL the client used.
//!
//! **Stage prefix.** API Gateway REST events give `path` without the stage (`/hello`) while the
//! client asked for `/prod/hello`; HTTP API events give `rawPath` with it (`/prod/hello`) unless
//! the stage is `$default`. By default, as in `lambda_http`, the URI path includes the stage
//! for both (`/prod/hello`), i.e. the path the client requested on the `execute-api` endpoint.
//! When the environment variable `AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH` is set, the stage is
//! not added, as in `lambda_http`: each event's path is used as it comes (`/hello` for REST,
//! `/prod/hello` for an HTTP API). With
//! [`Adapter::strip_stage_prefix`](super::Adapter::strip_stage_prefix)`(true)` it is left out
//! for both (`/hello`), which suits custom domains and routes written without it. ALB and
//! function URL events have no stage.

use std::collections::HashMap;

use ::http::{
    header::{HeaderName, HOST},
    HeaderMap, HeaderValue, Request, Uri,
};
use aws_lambda_events::query_map::QueryMap;

use super::{
    body::Body,
    event::{LambdaRequest, Query},
    ext::extensions::{PathParameters, QueryStringParameters, RawHttpPath, StageVariables},
    uri::{self, Part},
};
use crate::{Context, Diagnostic, UNMARSHAL_ERROR};

/// The request header that carries the X-Ray trace header.
const TRACE_HEADER: HeaderName = HeaderName::from_static("x-amzn-trace-id");

/// What the adapter does with the API Gateway stage in the path.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Options {
    pub(crate) stage: StagePath,
}

/// The stage in request paths.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum StagePath {
    /// Present for both kinds of event (`lambda_http`'s default).
    #[default]
    Included,
    /// Each event's path as it comes (`lambda_http` with
    /// `AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH`): REST's without it, HTTP API's with it.
    AsGiven,
    /// Left out for both ([`Adapter::strip_stage_prefix`](super::Adapter::strip_stage_prefix)).
    Stripped,
}

impl Options {
    /// The default options (adapters, the `request` module): the events' own paths when
    /// `AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH` is set (to anything), as in `lambda_http`.
    pub(crate) fn from_env() -> Self {
        let stage = if std::env::var_os(super::IGNORE_STAGE_IN_PATH).is_some() {
            StagePath::AsGiven
        } else {
            StagePath::Included
        };
        Options { stage }
    }
}

/// Sets `X-Amzn-Trace-Id` to the invocation's trace header (`Lambda-Runtime-Trace-Id`),
/// replacing the one the event carried, as `lambda_http` does, so middleware that propagates
/// it continues the function's X-Ray segment. Left alone when the invocation has no trace id
/// (or one that is not a valid header value).
fn set_trace_header(headers: &mut HeaderMap, context: &Context) {
    let value = context
        .xray_trace_id
        .as_deref()
        .and_then(|id| HeaderValue::from_str(id).ok());
    if let Some(value) = value {
        headers.insert(TRACE_HEADER, value);
    }
}

/// The path the request URI gets, before encoding.
fn staged_path(path: &str, stage: Option<&str>, mode: StagePath) -> String {
    let stage = match stage {
        Some(stage) if !stage.is_empty() && stage != "$default" => stage,
        _ => return path.to_owned(),
    };
    let strip = match mode {
        StagePath::AsGiven => return path.to_owned(),
        StagePath::Included => false,
        StagePath::Stripped => true,
    };
    let prefix = format!("/{stage}");
    let rest = path
        .strip_prefix(&prefix)
        .filter(|rest| rest.is_empty() || rest.starts_with('/'));
    match (rest, strip) {
        (Some(""), true) => "/".to_owned(),
        (Some(rest), true) => rest.to_owned(),
        (None, true) | (Some(_), false) => path.to_owned(),
        (None, false) => format!("{prefix}{path}"),
    }
}

/// The encoded query string and the decoded parameters.
fn query_parts(query: Query) -> (String, Vec<(String, String)>) {
    match query {
        Query::Raw(raw) => {
            let pairs = uri::parse_query(&raw);
            (uri::encode(&raw, Part::Query), pairs)
        }
        Query::Decoded(pairs) => {
            let encoded = pairs
                .iter()
                .map(|(k, v)| {
                    format!(
                        "{}={}",
                        uri::encode(k, Part::QueryComponent),
                        uri::encode(v, Part::QueryComponent)
                    )
                })
                .collect::<Vec<_>>()
                .join("&");
            (encoded, pairs)
        }
        Query::Encoded(pairs) => {
            let encoded = pairs
                .iter()
                .map(|(k, v)| {
                    format!(
                        "{}={}",
                        uri::encode(k, Part::Query).replace('&', "%26"),
                        uri::encode(v, Part::Query).replace('&', "%26")
                    )
                })
                .collect::<Vec<_>>()
                .join("&");
            let decoded = pairs
                .into_iter()
                .map(|(k, v)| {
                    (
                        uri::decode_query_component(&k),
                        uri::decode_query_component(&v),
                    )
                })
                .collect();
            (encoded, decoded)
        }
    }
}

fn query_map(pairs: Vec<(String, String)>) -> QueryMap {
    let mut map: HashMap<String, Vec<String>> = HashMap::new();
    for (key, value) in pairs {
        map.entry(key).or_default().push(value);
    }
    QueryMap::from(map)
}

/// `scheme://host` when the headers name a usable host.
fn origin(headers: &HeaderMap) -> Option<String> {
    let host = headers.get(HOST)?.to_str().ok()?;
    host.parse::<::http::uri::Authority>().ok()?;
    let scheme = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .filter(|s| matches!(*s, "http" | "https"))
        .unwrap_or("https");
    Some(format!("{scheme}://{host}"))
}

impl LambdaRequest {
    /// Builds the `http::Request` a service sees, with the extensions [`RequestExt`] reads.
    /// With the invocation's `lambda_context`, the request also gets it as an extension and
    /// its trace id as `X-Amzn-Trace-Id`.
    ///
    /// [`RequestExt`]: super::RequestExt
    pub(crate) fn into_http(
        self,
        options: Options,
        lambda_context: Option<Context>,
    ) -> Result<Request<Body>, Diagnostic> {
        let path = staged_path(&self.path, self.stage.as_deref(), options.stage);
        let mut target = uri::encode(&path, Part::Path);
        if !target.starts_with('/') {
            target.insert(0, '/');
        }
        let (query, pairs) = query_parts(self.query);
        if !query.is_empty() {
            target.push('?');
            target.push_str(&query);
        }
        let uri = match origin(&self.headers) {
            Some(origin) => format!("{origin}{target}").parse::<Uri>(),
            None => target.parse::<Uri>(),
        }
        .map_err(|e| {
            Diagnostic::new(
                UNMARSHAL_ERROR,
                format!("the event's path and query do not form a valid URI ({target}): {e}"),
            )
        })?;

        let mut request = Request::new(self.body);
        *request.method_mut() = self.method;
        *request.uri_mut() = uri;
        *request.headers_mut() = self.headers;
        if let Some(context) = &lambda_context {
            set_trace_header(request.headers_mut(), context);
        }
        let extensions = request.extensions_mut();
        extensions.insert(RawHttpPath(self.path));
        extensions.insert(QueryStringParameters(query_map(pairs)));
        extensions.insert(PathParameters(QueryMap::from(self.path_parameters)));
        extensions.insert(StageVariables(QueryMap::from(self.stage_variables)));
        extensions.insert(self.context);
        if let Some(context) = lambda_context {
            extensions.insert(context);
        }
        Ok(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stage_prefix_is_added_or_stripped() {
        let cases = [
            // path, stage, strip, expected
            ("/hello", Some("prod"), false, "/prod/hello"),
            ("/prod/hello", Some("prod"), false, "/prod/hello"),
            ("/hello", Some("prod"), true, "/hello"),
            ("/prod/hello", Some("prod"), true, "/hello"),
            ("/prod", Some("prod"), true, "/"),
            ("/production/x", Some("prod"), true, "/production/x"),
            ("/production/x", Some("prod"), false, "/prod/production/x"),
            ("/hello", Some("$default"), false, "/hello"),
            ("/hello", None, false, "/hello"),
        ];
        for (path, stage, strip, expected) in cases {
            let mode = if strip {
                StagePath::Stripped
            } else {
                StagePath::Included
            };
            assert_eq!(
                staged_path(path, stage, mode),
                expected,
                "{path} {stage:?} {strip}"
            );
        }
        // lambda_http's with the variable: each event's own path.
        for path in ["/hello", "/prod/hello"] {
            assert_eq!(staged_path(path, Some("prod"), StagePath::AsGiven), path);
        }
    }

    #[test]
    fn the_trace_header_comes_from_the_invocation() {
        let mut headers = HeaderMap::new();
        headers.insert(TRACE_HEADER, HeaderValue::from_static("Root=caller"));
        let mut context = Context::default();
        set_trace_header(&mut headers, &context);
        assert_eq!(headers[TRACE_HEADER], "Root=caller");
        context.xray_trace_id = Some("bad\nvalue".into());
        set_trace_header(&mut headers, &context);
        assert_eq!(headers[TRACE_HEADER], "Root=caller");
        context.xray_trace_id = Some("Root=1-abc;Parent=def;Sampled=1".into());
        set_trace_header(&mut headers, &context);
        assert_eq!(
            headers.get_all(TRACE_HEADER).iter().collect::<Vec<_>>(),
            ["Root=1-abc;Parent=def;Sampled=1"]
        );
    }

    #[test]
    fn alb_query_values_stay_encoded_in_the_uri_and_decoded_in_the_map() {
        let (query, pairs) = query_parts(Query::Encoded(vec![
            ("q".into(), "a%20b".into()),
            ("q".into(), "c d".into()),
        ]));
        assert_eq!(query, "q=a%20b&q=c%20d");
        assert_eq!(
            pairs,
            vec![("q".into(), "a b".into()), ("q".into(), "c d".into())]
        );
    }
}
