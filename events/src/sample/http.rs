//! The HTTP request builder shared by the four HTTP event formats (API Gateway REST v1 proxy,
//! API Gateway HTTP API v2, ALB target group, function URL): what the client sent, before a
//! format decides how Lambda sees it.

use std::marker::PhantomData;

use serde_json::{Map, Value};

use super::common::{self, meta_setters, Meta};
#[cfg(any(feature = "apigw", feature = "alb", feature = "lambda_function_urls"))]
use super::SampleError;
use super::SampleKind;

/// What the client sent: method, path, headers, query, cookies and body (opaque outside the
/// crate).
#[derive(Clone, Debug, PartialEq, Eq)]
#[doc(hidden)]
pub struct HttpParts {
    pub(crate) meta: Meta,
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) query: Vec<(String, String)>,
    pub(crate) cookies: Vec<String>,
    pub(crate) body: Option<Body>,
    pub(crate) source_ip: String,
    pub(crate) user_agent: String,
    // API Gateway only.
    pub(crate) resource: Option<String>,
    pub(crate) route_key: Option<String>,
    pub(crate) stage: Option<String>,
    pub(crate) path_parameters: Vec<(String, String)>,
    pub(crate) stage_variables: Vec<(String, String)>,
    // ALB only.
    pub(crate) multi_value: bool,
}

/// A request body as the client sent it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Body {
    Text(String),
    Binary(Vec<u8>),
}

impl Body {
    /// The body as it appears in the event and whether it is base64-encoded.
    pub(crate) fn encoded(&self) -> (String, bool) {
        match self {
            Body::Text(text) => (text.clone(), false),
            Body::Binary(bytes) => (common::base64(bytes), true),
        }
    }

    fn len(&self) -> usize {
        match self {
            Body::Text(text) => text.len(),
            Body::Binary(bytes) => bytes.len(),
        }
    }
}

/// One HTTP event format (sealed: the four formats below are all there is).
pub trait HttpFormat: private::Render {
    /// The sample kind this format produces.
    const KIND: SampleKind;
}

pub(crate) mod private {
    use super::{HttpParts, Value};

    /// How a format renders a request as its JSON event.
    pub trait Render {
        /// Renders the request as this format's event.
        fn render(parts: &HttpParts) -> Value;
    }
}

/// API Gateway REST API, Lambda proxy integration (payload format 1.0).
#[derive(Clone, Copy, Debug)]
pub enum RestApi {}
/// API Gateway HTTP API (payload format 2.0).
#[derive(Clone, Copy, Debug)]
pub enum HttpApi {}
/// Application Load Balancer target group with a Lambda target.
#[derive(Clone, Copy, Debug)]
pub enum AlbTarget {}
/// Lambda function URL (payload format 2.0, with `AuthType` `NONE`).
#[derive(Clone, Copy, Debug)]
pub enum FunctionUrl {}

/// Builder of an HTTP request event in format `F`; see [`super::apigw_v1`], [`super::apigw_v2`],
/// [`super::alb`] and [`super::function_url`].
///
/// Headers, query parameters and cookies are given once, as the client sent them; each format
/// then shows them the way its service does (case kept or lowered, repeated values joined with
/// commas or listed, cookies in a `cookie` header or a `cookies` array, query values decoded or
/// not).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpSample<F> {
    pub(crate) parts: HttpParts,
    format: PhantomData<F>,
}

impl<F: HttpFormat> HttpSample<F> {
    pub(crate) fn new() -> Self {
        HttpSample {
            parts: HttpParts {
                meta: Meta::new(F::KIND as u64),
                method: "GET".to_string(),
                path: "/".to_string(),
                headers: Vec::new(),
                query: Vec::new(),
                cookies: Vec::new(),
                body: None,
                source_ip: common::SOURCE_IP.to_string(),
                user_agent: common::USER_AGENT.to_string(),
                resource: None,
                route_key: None,
                stage: None,
                path_parameters: Vec::new(),
                stage_variables: Vec::new(),
                multi_value: false,
            },
            format: PhantomData,
        }
    }

    meta_setters!(parts.meta);

    /// Sets the HTTP method (default `GET`); it is upper-cased.
    pub fn method(mut self, method: impl Into<String>) -> Self {
        self.parts.method = method.into().to_ascii_uppercase();
        self
    }

    /// Sets the request path (default `/`). A `?query` part is split off and added as query
    /// parameters (percent-decoded).
    pub fn path(mut self, path: impl Into<String>) -> Self {
        let path = path.into();
        match path.split_once('?') {
            Some((path, query)) => {
                self.parts.path = path.to_string();
                self.parts.query.extend(common::parse_query(query));
            }
            None => self.parts.path = path,
        }
        if !self.parts.path.starts_with('/') {
            self.parts.path.insert(0, '/');
        }
        self
    }

    /// Adds a request header. Giving the same name twice sends the header twice; a name that
    /// matches one of the sample's default headers (`Accept`, `Host`, `User-Agent`...) replaces it.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.parts.headers.push((name.into(), value.into()));
        self
    }

    /// Adds a query-string parameter (decoded form); repeat a name for several values.
    pub fn query(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.parts.query.push((name.into(), value.into()));
        self
    }

    /// Adds a cookie, as `name=value`.
    pub fn cookie(mut self, cookie: impl Into<String>) -> Self {
        self.parts.cookies.push(cookie.into());
        self
    }

    /// Sets a text body (sent as is, `isBase64Encoded` false).
    pub fn body(mut self, body: impl Into<String>) -> Self {
        self.parts.body = Some(Body::Text(body.into()));
        self
    }

    /// Sets a JSON body and a `Content-Type: application/json` header.
    pub fn json_body(self, body: &Value) -> Self {
        self.header("Content-Type", "application/json")
            .body(body.to_string())
    }

    /// Sets a binary body: the event carries it base64-encoded with `isBase64Encoded` true.
    pub fn binary_body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.parts.body = Some(Body::Binary(body.into()));
        self
    }

    /// Sets the client's IP address (default `198.51.100.24`).
    pub fn source_ip(mut self, ip: impl Into<String>) -> Self {
        self.parts.source_ip = ip.into();
        self
    }

    /// Sets the client's `User-Agent` (default `curl/8.5.0`).
    pub fn user_agent(mut self, agent: impl Into<String>) -> Self {
        self.parts.user_agent = agent.into();
        self
    }

    /// The event as AWS sends it to the function.
    pub fn to_json(&self) -> Value {
        F::render(&self.parts)
    }

    /// Checks what `serde_json` alone would accept but AWS never sends: a method or header name
    /// that is not an HTTP token, a header value with control characters.
    #[cfg(any(feature = "apigw", feature = "alb", feature = "lambda_function_urls"))]
    pub(crate) fn validate(&self) -> Result<(), SampleError> {
        let invalid = |message: String| SampleError::Invalid {
            kind: F::KIND,
            message,
        };
        if !is_token(&self.parts.method) {
            return Err(invalid(format!(
                "method `{}` is not an HTTP token",
                self.parts.method
            )));
        }
        for (name, value) in &self.parts.headers {
            if !is_token(name) {
                return Err(invalid(format!(
                    "header name `{name}` is not an HTTP token"
                )));
            }
            if value.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f) {
                return Err(invalid(format!(
                    "header `{name}` has a control character in its value"
                )));
            }
        }
        Ok(())
    }
}

impl<F: HttpFormat> Default for HttpSample<F> {
    fn default() -> Self {
        Self::new()
    }
}

/// Setters that only API Gateway formats have.
macro_rules! api_gateway_setters {
    ($format:ty) => {
        impl HttpSample<$format> {
            /// Sets the deployment stage (REST default `prod`, HTTP API default `$default`).
            pub fn stage(mut self, stage: impl Into<String>) -> Self {
                self.parts.stage = Some(stage.into());
                self
            }

            /// Adds a path parameter, as the matched route's `{name}` would give it.
            pub fn path_parameter(
                mut self,
                name: impl Into<String>,
                value: impl Into<String>,
            ) -> Self {
                self.parts.path_parameters.push((name.into(), value.into()));
                self
            }

            /// Adds a stage variable.
            pub fn stage_variable(
                mut self,
                name: impl Into<String>,
                value: impl Into<String>,
            ) -> Self {
                self.parts.stage_variables.push((name.into(), value.into()));
                self
            }
        }
    };
}
api_gateway_setters!(RestApi);
api_gateway_setters!(HttpApi);

impl HttpSample<RestApi> {
    /// Sets the matched resource, e.g. `/orders/{id}`. Without it the sample uses a greedy
    /// `/{proxy+}` resource and a `proxy` path parameter, as a proxy resource would.
    pub fn resource(mut self, resource: impl Into<String>) -> Self {
        self.parts.resource = Some(resource.into());
        self
    }
}

impl HttpSample<HttpApi> {
    /// Sets the matched route key, e.g. `GET /orders/{id}` (default `$default`).
    pub fn route_key(mut self, route_key: impl Into<String>) -> Self {
        self.parts.route_key = Some(route_key.into());
        self
    }
}

impl HttpSample<AlbTarget> {
    /// Renders headers and query parameters as `multiValueHeaders` and
    /// `multiValueQueryStringParameters`, as a target group with
    /// `lambda.multi_value_headers.enabled` does (default: single-value maps).
    pub fn multi_value_headers(mut self, enabled: bool) -> Self {
        self.parts.multi_value = enabled;
        self
    }
}

/// RFC 9110 token: the characters allowed in methods and header names.
#[cfg(any(feature = "apigw", feature = "alb", feature = "lambda_function_urls"))]
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

impl HttpParts {
    /// The headers the service passes on: `defaults` (which the client's own headers of the same
    /// name replace), then the client's headers, then `content-length` when there is a body and
    /// `with_content_length` is set.
    pub(crate) fn effective_headers(
        &self,
        defaults: Vec<(&str, String)>,
        with_content_length: bool,
    ) -> Vec<(String, String)> {
        let given = |name: &str| {
            self.headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case(name))
        };
        let mut headers: Vec<(String, String)> = defaults
            .into_iter()
            .filter(|(name, _)| !given(name))
            .map(|(name, value)| (name.to_string(), value))
            .collect();
        headers.extend(self.headers.iter().cloned());
        if let Some(body) = &self.body {
            if with_content_length && !given("content-length") {
                headers.push(("content-length".to_string(), body.len().to_string()));
            }
        }
        headers
    }

    /// The body as the event shows it, and whether it is base64-encoded.
    pub(crate) fn encoded_body(&self) -> (Option<String>, bool) {
        match &self.body {
            Some(body) => {
                let (text, b64) = body.encoded();
                (Some(text), b64)
            }
            None => (None, false),
        }
    }
}

/// Groups `pairs` by name (compared case-insensitively), in order of first appearance; the
/// group's name is the first spelling seen, lower-cased when `lowercase` is set.
pub(crate) fn group(pairs: &[(String, String)], lowercase: bool) -> Vec<(String, Vec<String>)> {
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for (name, value) in pairs {
        match groups
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            Some((_, values)) => values.push(value.clone()),
            None => {
                let name = if lowercase {
                    name.to_ascii_lowercase()
                } else {
                    name.clone()
                };
                groups.push((name, vec![value.clone()]));
            }
        }
    }
    groups
}

/// `{name: last value}`.
pub(crate) fn last_values(groups: &[(String, Vec<String>)]) -> Value {
    let map: Map<String, Value> = groups
        .iter()
        .map(|(name, values)| {
            let last = values.last().cloned().unwrap_or_default();
            (name.clone(), Value::String(last))
        })
        .collect();
    Value::Object(map)
}

/// `{name: [values]}`.
pub(crate) fn all_values(groups: &[(String, Vec<String>)]) -> Value {
    let map: Map<String, Value> = groups
        .iter()
        .map(|(name, values)| (name.clone(), Value::from(values.clone())))
        .collect();
    Value::Object(map)
}

/// `{name: "v1,v2"}`, as payload format 2.0 joins repeated headers and query parameters.
pub(crate) fn joined_values(groups: &[(String, Vec<String>)]) -> Value {
    let map: Map<String, Value> = groups
        .iter()
        .map(|(name, values)| (name.clone(), Value::String(values.join(","))))
        .collect();
    Value::Object(map)
}

/// `{name: value}` from pairs (later pairs win), or JSON `null` when there are none.
pub(crate) fn map_or_null(pairs: &[(String, String)]) -> Value {
    if pairs.is_empty() {
        return Value::Null;
    }
    let map: Map<String, Value> = pairs
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    Value::Object(map)
}
