//! Reading an HTTP event: [`LambdaRequest`] deserializes API Gateway REST (v1), HTTP API (v2),
//! ALB and function URL events in one pass into one shape, and says which [`EventFormat`] it saw.
//!
//! The payload is read once into a struct whose fields cover all four formats; the format is
//! then decided from which fields are present (never by trying each format's parser in turn):
//!
//! | present | format |
//! |---|---|
//! | `requestContext.elb` | ALB target group |
//! | `version: "2.0"` or `requestContext.http`, with `requestContext.domainName` containing `.lambda-url.` | function URL |
//! | `version: "2.0"` or `requestContext.http`, otherwise | API Gateway HTTP API (payload format 2.0) |
//! | `httpMethod` | API Gateway REST proxy (payload format 1.0, also HTTP API's 1.0) |
//!
//! Anything else is rejected with an error naming those fields, which the runtime reports as a
//! `Runtime.UnmarshalError`.

use std::collections::{BTreeMap, HashMap};

use ::http::{header::HeaderName, HeaderMap, HeaderValue, Method};
use aws_lambda_events::{
    alb::AlbTargetGroupRequestContext,
    apigw::{
        ApiGatewayProxyRequestContext, ApiGatewayRequestAuthorizer, ApiGatewayV2httpRequestContext,
    },
    lambda_function_urls::LambdaFunctionUrlRequestContext,
};
use base64::Engine;
use serde::{
    de::{DeserializeOwned, Error as _},
    Deserialize, Deserializer, Serialize,
};
use serde_json::Value;

use super::body::Body;

/// Which service sent an HTTP event; the response is written in the same format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventFormat {
    /// API Gateway REST API, Lambda proxy integration (payload format 1.0).
    ApiGatewayV1,
    /// API Gateway HTTP API (payload format 2.0).
    ApiGatewayV2,
    /// Application Load Balancer target group.
    Alb,
    /// Lambda function URL (payload format 2.0).
    FunctionUrl,
}

/// The request context of the event a request came from, as `aws_lambda_events` types it
/// (read it with [`RequestExt::request_context`](super::RequestExt::request_context)). It
/// serializes as the event's `requestContext`.
///
/// Unlike `lambda_http`, function URL events get their own variant (`lambda_http` reports them
/// as `ApiGatewayV2`), and there are no WebSocket or VPC Lattice variants (the adapter does not
/// accept those events).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
#[non_exhaustive]
pub enum RequestContext {
    /// API Gateway REST API.
    ApiGatewayV1(ApiGatewayProxyRequestContext),
    /// API Gateway HTTP API.
    ApiGatewayV2(ApiGatewayV2httpRequestContext),
    /// Application Load Balancer.
    Alb(AlbTargetGroupRequestContext),
    /// Lambda function URL.
    FunctionUrl(LambdaFunctionUrlRequestContext),
}

impl RequestContext {
    /// The API Gateway authorizer's output (REST and HTTP API), as `lambda_http`'s
    /// `RequestContext::authorizer`. `None` for ALB, and for function URLs, whose IAM caller is
    /// in the [`RequestContext::FunctionUrl`] context's own `authorizer` field.
    pub fn authorizer(&self) -> Option<&ApiGatewayRequestAuthorizer> {
        match self {
            RequestContext::ApiGatewayV1(context) => Some(&context.authorizer),
            RequestContext::ApiGatewayV2(context) => context.authorizer.as_ref(),
            RequestContext::Alb(_) | RequestContext::FunctionUrl(_) => None,
        }
    }
}

/// How the event carried its query string.
#[derive(Debug, Clone)]
pub(crate) enum Query {
    /// Payload format 2.0's `rawQueryString`, as the client encoded it.
    Raw(String),
    /// Decoded pairs (API Gateway REST).
    Decoded(Vec<(String, String)>),
    /// Pairs as the client encoded them (ALB passes them on untouched).
    Encoded(Vec<(String, String)>),
}

/// An HTTP event of any of the four formats, validated and ready to become an
/// [`http::Request`](::http::Request). Used as the event type of [`Adapter`](super::Adapter).
#[derive(Debug, Clone)]
pub struct LambdaRequest {
    pub(crate) format: EventFormat,
    pub(crate) method: Method,
    /// The path as the event gave it (`path` or `rawPath`).
    pub(crate) path: String,
    /// The API Gateway stage, when the event has one.
    pub(crate) stage: Option<String>,
    pub(crate) query: Query,
    pub(crate) headers: HeaderMap,
    /// Whether the event used `multiValueHeaders` (then so does the response).
    pub(crate) multi_value_headers: bool,
    pub(crate) body: Body,
    pub(crate) path_parameters: HashMap<String, String>,
    pub(crate) stage_variables: HashMap<String, String>,
    pub(crate) context: RequestContext,
}

impl LambdaRequest {
    /// The format the event was recognised as.
    pub fn format(&self) -> EventFormat {
        self.format
    }

    /// Whether the event carried `multiValueHeaders` (API Gateway REST, or an ALB target group
    /// with multi-value headers on); the response then uses them too.
    pub fn uses_multi_value_headers(&self) -> bool {
        self.multi_value_headers
    }
}

/// A map whose values may be `null` (AWS sends `null` for absent maps and sometimes values).
type NullableMap<V> = Option<BTreeMap<String, Option<V>>>;

/// Every top-level field of the four formats.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawEvent {
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    http_method: Option<String>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    raw_path: Option<String>,
    #[serde(default)]
    raw_query_string: Option<String>,
    #[serde(default)]
    cookies: Option<Vec<String>>,
    #[serde(default)]
    headers: NullableMap<String>,
    #[serde(default)]
    multi_value_headers: NullableMap<Vec<Option<String>>>,
    #[serde(default)]
    query_string_parameters: NullableMap<String>,
    #[serde(default)]
    multi_value_query_string_parameters: NullableMap<Vec<Option<String>>>,
    #[serde(default)]
    path_parameters: NullableMap<String>,
    #[serde(default)]
    stage_variables: NullableMap<String>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    is_base64_encoded: Option<bool>,
    #[serde(default)]
    request_context: Option<Value>,
}

impl<'de> Deserialize<'de> for LambdaRequest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        RawEvent::deserialize(deserializer)?
            .into_request()
            .map_err(D::Error::custom)
    }
}

/// Why an event is not a usable HTTP event.
#[derive(Debug, thiserror::Error)]
pub(crate) enum EventError {
    #[error(
        "not an HTTP event: expected `httpMethod` (API Gateway REST, ALB), `version` \"2.0\" or \
         `requestContext.http` (HTTP API, function URL), or `requestContext.elb` (ALB)"
    )]
    NotHttp,
    #[error("API Gateway WebSocket events are not supported by the HTTP adapter")]
    WebSocket,
    #[error("`requestContext` is not a valid {format} request context: {error}")]
    Context {
        format: &'static str,
        error: serde_json::Error,
    },
    #[error("`{field}` is not a valid HTTP method: {value:?}")]
    Method { field: &'static str, value: String },
    #[error("header name {0:?} is not valid")]
    HeaderName(String),
    #[error("the value of header {0:?} is not valid")]
    HeaderValue(String),
    #[error("`isBase64Encoded` is true but `body` is not valid base64: {0}")]
    Base64(base64::DecodeError),
}

/// The typed request context; an absent or `null` one is the type's default.
fn typed<T: DeserializeOwned + Default>(
    value: Value,
    format: &'static str,
) -> Result<T, EventError> {
    if value.is_null() {
        return Ok(T::default());
    }
    serde_json::from_value(value).map_err(|error| EventError::Context { format, error })
}

fn parse_method(field: &'static str, value: &str) -> Result<Method, EventError> {
    Method::from_bytes(value.as_bytes()).map_err(|_| EventError::Method {
        field,
        value: value.to_owned(),
    })
}

fn flatten<V>(map: NullableMap<V>) -> impl Iterator<Item = (String, V)> {
    map.into_iter()
        .flatten()
        .filter_map(|(key, value)| value.map(|v| (key, v)))
}

fn append_header(headers: &mut HeaderMap, name: &str, value: &str) -> Result<(), EventError> {
    let header = HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| EventError::HeaderName(name.to_owned()))?;
    let value =
        HeaderValue::from_str(value).map_err(|_| EventError::HeaderValue(name.to_owned()))?;
    headers.append(header, value);
    Ok(())
}

impl RawEvent {
    fn format(&self) -> Result<EventFormat, EventError> {
        let context = self.request_context.as_ref().and_then(Value::as_object);
        let has = |key: &str| context.is_some_and(|c| c.contains_key(key));
        if has("elb") {
            return Ok(EventFormat::Alb);
        }
        if self.version.as_deref() == Some("2.0") || has("http") {
            let domain = context
                .and_then(|c| c.get("domainName"))
                .and_then(Value::as_str)
                .unwrap_or_default();
            return Ok(if domain.contains(".lambda-url.") {
                EventFormat::FunctionUrl
            } else {
                EventFormat::ApiGatewayV2
            });
        }
        if self.http_method.is_some() {
            return Ok(EventFormat::ApiGatewayV1);
        }
        if has("connectionId") || has("eventType") {
            return Err(EventError::WebSocket);
        }
        Err(EventError::NotHttp)
    }

    fn into_request(mut self) -> Result<LambdaRequest, EventError> {
        let format = self.format()?;
        let context = self.request_context.take().unwrap_or(Value::Null);
        let (context, stage) = match format {
            EventFormat::ApiGatewayV1 => {
                let c: ApiGatewayProxyRequestContext = typed(context, "API Gateway REST")?;
                let stage = c.stage.clone();
                (RequestContext::ApiGatewayV1(c), stage)
            }
            EventFormat::ApiGatewayV2 => {
                let c: ApiGatewayV2httpRequestContext = typed(context, "API Gateway HTTP API")?;
                let stage = c.stage.clone();
                (RequestContext::ApiGatewayV2(c), stage)
            }
            EventFormat::Alb => (RequestContext::Alb(typed(context, "ALB")?), None),
            EventFormat::FunctionUrl => (
                RequestContext::FunctionUrl(typed(context, "function URL")?),
                None,
            ),
        };

        let method = match (&context, self.http_method.as_deref()) {
            (RequestContext::ApiGatewayV2(c), _) => c.http.method.clone(),
            (RequestContext::FunctionUrl(c), _) => {
                let method = c.http.method.as_deref().unwrap_or("GET");
                parse_method("requestContext.http.method", method)?
            }
            (_, Some(method)) => parse_method("httpMethod", method)?,
            (_, None) => Method::GET,
        };

        let path = match format {
            EventFormat::ApiGatewayV2 | EventFormat::FunctionUrl => self.raw_path.take(),
            EventFormat::ApiGatewayV1 | EventFormat::Alb => self.path.take(),
        };
        let path = match path {
            Some(path) if !path.is_empty() => path,
            _ => "/".to_owned(),
        };

        let (headers, multi_value_headers) = self.headers()?;
        let query = self.query(format);
        let body = match self.body.take() {
            None => Body::Empty,
            Some(body) if body.is_empty() => Body::Empty,
            Some(body) if self.is_base64_encoded.unwrap_or(false) => Body::Binary(
                base64::engine::general_purpose::STANDARD
                    .decode(body)
                    .map_err(EventError::Base64)?,
            ),
            Some(body) => Body::Text(body),
        };

        Ok(LambdaRequest {
            format,
            method,
            path,
            stage,
            query,
            headers,
            multi_value_headers,
            body,
            path_parameters: flatten(self.path_parameters.take()).collect(),
            stage_variables: flatten(self.stage_variables.take()).collect(),
            context,
        })
    }

    /// `multiValueHeaders` when present (plus any single-value header they lack), else
    /// `headers`; payload format 2.0's `cookies` become one `cookie` header.
    fn headers(&mut self) -> Result<(HeaderMap, bool), EventError> {
        let mut headers = HeaderMap::new();
        let multi = self.multi_value_headers.take();
        let multi_value = multi.is_some();
        for (name, values) in flatten(multi) {
            for value in values.into_iter().flatten() {
                append_header(&mut headers, &name, &value)?;
            }
        }
        for (name, value) in flatten(self.headers.take()) {
            let known = HeaderName::from_bytes(name.as_bytes())
                .map(|n| headers.contains_key(n))
                .unwrap_or(false);
            if !(multi_value && known) {
                append_header(&mut headers, &name, &value)?;
            }
        }
        if let Some(cookies) = self.cookies.take().filter(|c| !c.is_empty()) {
            append_header(&mut headers, "cookie", &cookies.join("; "))?;
        }
        Ok((headers, multi_value))
    }

    fn query(&mut self, format: EventFormat) -> Query {
        if let Some(raw) = self.raw_query_string.take() {
            if matches!(format, EventFormat::ApiGatewayV2 | EventFormat::FunctionUrl) {
                return Query::Raw(raw);
            }
        }
        let multi = self.multi_value_query_string_parameters.take();
        let pairs: Vec<(String, String)> = if multi.is_some() {
            flatten(multi)
                .flat_map(|(key, values)| {
                    values
                        .into_iter()
                        .flatten()
                        .map(move |value| (key.clone(), value))
                })
                .collect()
        } else {
            flatten(self.query_string_parameters.take()).collect()
        };
        match format {
            EventFormat::Alb => Query::Encoded(pairs),
            // A 2.0 event without `rawQueryString` only has decoded parameters.
            _ => Query::Decoded(pairs),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(event: Value) -> Result<LambdaRequest, serde_json::Error> {
        serde_json::from_value(event)
    }

    #[test]
    fn detects_each_format_from_its_fields() {
        let v1 = json!({"httpMethod": "GET", "path": "/", "requestContext": {"httpMethod": "GET"}});
        assert_eq!(parse(v1).unwrap().format(), EventFormat::ApiGatewayV1);
        let v2 = json!({"version": "2.0", "rawPath": "/", "requestContext": {"http": {"method": "PUT"}}});
        let v2 = parse(v2).unwrap();
        assert_eq!(
            (v2.format(), v2.method),
            (EventFormat::ApiGatewayV2, Method::PUT)
        );
        let url = json!({"version": "2.0", "requestContext": {"domainName": "abc.lambda-url.us-east-1.on.aws", "timeEpoch": 0, "http": {"method": "POST"}}});
        assert_eq!(parse(url).unwrap().format(), EventFormat::FunctionUrl);
        let alb = json!({"httpMethod": "GET", "path": "/", "requestContext": {"elb": {"targetGroupArn": "arn"}}});
        assert_eq!(parse(alb).unwrap().format(), EventFormat::Alb);
    }

    #[test]
    fn rejects_what_is_not_an_http_event() {
        for event in [json!({}), json!({"Records": []}), json!({"path": "/"})] {
            let error = parse(event).unwrap_err().to_string();
            assert!(error.contains("not an HTTP event"), "{error}");
        }
        let ws = json!({"requestContext": {"connectionId": "x", "eventType": "CONNECT"}});
        assert!(parse(ws).unwrap_err().to_string().contains("WebSocket"));
        assert!(parse(json!([1, 2])).is_err());
        let bad_method = json!({"httpMethod": "GE T", "requestContext": {"elb": {}}});
        assert!(parse(bad_method)
            .unwrap_err()
            .to_string()
            .contains("httpMethod"));
        let bad_header =
            json!({"httpMethod": "GET", "headers": {"a b": "1"}, "requestContext": {"elb": {}}});
        assert!(parse(bad_header)
            .unwrap_err()
            .to_string()
            .contains("\"a b\""));
        let bad_b64 = json!({"httpMethod": "GET", "body": "!!", "isBase64Encoded": true, "requestContext": {"elb": {}}});
        assert!(parse(bad_b64).unwrap_err().to_string().contains("base64"));
        let bad_context = json!({"httpMethod": "GET", "requestContext": {"httpMethod": 7}});
        let error = parse(bad_context).unwrap_err().to_string();
        assert!(
            error.contains("API Gateway REST request context"),
            "{error}"
        );
    }
}
