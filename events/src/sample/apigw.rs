//! API Gateway events: REST API proxy integration (payload format 1.0) and HTTP API
//! (payload format 2.0), rendered from an [`HttpSample`].

use serde_json::{json, Map, Value};

use super::common::{ACCOUNT_ID, REGION};
use super::http::private::Render;
#[cfg(feature = "apigw")]
use super::http::HttpSample;
use super::http::{self, HttpApi, HttpFormat, HttpParts, RestApi};
#[cfg(feature = "apigw")]
use super::SampleError;
use super::SampleKind;

impl HttpFormat for RestApi {
    const KIND: SampleKind = SampleKind::ApiGatewayV1;
}

impl Render for RestApi {
    fn render(p: &HttpParts) -> Value {
        let mut ids = p.meta.ids();
        let time = p.meta.time;
        let api_id = ids.lower_alnum(10);
        let host = format!("{api_id}.execute-api.{REGION}.amazonaws.com");
        let stage = p.stage.clone().unwrap_or_else(|| "prod".to_string());

        let mut headers = p.effective_headers(
            vec![
                ("Accept", "*/*".to_string()),
                ("Host", host.clone()),
                ("User-Agent", p.user_agent.clone()),
                ("X-Amzn-Trace-Id", ids.trace_id(time)),
                ("X-Forwarded-For", p.source_ip.clone()),
                ("X-Forwarded-Port", "443".to_string()),
                ("X-Forwarded-Proto", "https".to_string()),
            ],
            false,
        );
        if !p.cookies.is_empty() {
            headers.push(("Cookie".to_string(), p.cookies.join("; ")));
        }
        let headers = http::group(&headers, false);
        let query = http::group(&p.query, false);

        // A proxy resource unless the caller named the matched resource.
        let mut path_parameters = Vec::new();
        let resource = match &p.resource {
            Some(resource) => resource.clone(),
            None if p.path == "/" => "/".to_string(),
            None => {
                path_parameters.push((
                    "proxy".to_string(),
                    p.path.trim_start_matches('/').to_string(),
                ));
                "/{proxy+}".to_string()
            }
        };
        path_parameters.extend(p.path_parameters.iter().cloned());

        let (body, is_base64) = p.encoded_body();
        let (query_single, query_multi) = if query.is_empty() {
            (Value::Null, Value::Null)
        } else {
            (http::last_values(&query), http::all_values(&query))
        };
        json!({
            "resource": resource,
            "path": p.path,
            "httpMethod": p.method,
            "headers": http::last_values(&headers),
            "multiValueHeaders": http::all_values(&headers),
            "queryStringParameters": query_single,
            "multiValueQueryStringParameters": query_multi,
            "pathParameters": http::map_or_null(&path_parameters),
            "stageVariables": http::map_or_null(&p.stage_variables),
            "requestContext": {
                "accountId": ACCOUNT_ID,
                "apiId": api_id,
                "domainName": host,
                "domainPrefix": api_id,
                "extendedRequestId": ids.base64(11),
                "httpMethod": p.method,
                "identity": {
                    "accessKey": null,
                    "accountId": null,
                    "caller": null,
                    "cognitoAuthenticationProvider": null,
                    "cognitoAuthenticationType": null,
                    "cognitoIdentityId": null,
                    "cognitoIdentityPoolId": null,
                    "principalOrgId": null,
                    "sourceIp": p.source_ip,
                    "user": null,
                    "userAgent": p.user_agent,
                    "userArn": null
                },
                "path": format!("/{stage}{}", p.path),
                "protocol": "HTTP/1.1",
                "requestId": ids.uuid(),
                "requestTime": time.clf(),
                "requestTimeEpoch": time.millis(),
                "resourceId": ids.lower_alnum(6),
                "resourcePath": resource,
                "stage": stage
            },
            "body": body,
            "isBase64Encoded": is_base64
        })
    }
}

impl HttpFormat for HttpApi {
    const KIND: SampleKind = SampleKind::ApiGatewayV2;
}

impl Render for HttpApi {
    fn render(p: &HttpParts) -> Value {
        let mut ids = p.meta.ids();
        let time = p.meta.time;
        let api_id = ids.lower_alnum(10);
        let host = format!("{api_id}.execute-api.{REGION}.amazonaws.com");
        let stage = p.stage.clone().unwrap_or_else(|| "$default".to_string());
        // A named stage is part of the path on the execute-api endpoint.
        let raw_path = if stage == "$default" {
            p.path.clone()
        } else {
            format!("/{stage}{}", p.path)
        };
        let route_key = p
            .route_key
            .clone()
            .unwrap_or_else(|| "$default".to_string());
        let headers = p.effective_headers(
            vec![
                ("accept", "*/*".to_string()),
                ("host", host.clone()),
                ("user-agent", p.user_agent.clone()),
                ("x-amzn-trace-id", ids.trace_id(time)),
                ("x-forwarded-for", p.source_ip.clone()),
                ("x-forwarded-port", "443".to_string()),
                ("x-forwarded-proto", "https".to_string()),
            ],
            true,
        );

        let mut event = payload_v2_base(p, &raw_path, &route_key, &headers);
        let context = json!({
            "accountId": ACCOUNT_ID,
            "apiId": api_id,
            "domainName": host,
            "domainPrefix": api_id,
            "http": {
                "method": p.method,
                "path": raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": p.source_ip,
                "userAgent": p.user_agent
            },
            "requestId": ids.base64(11),
            "routeKey": route_key,
            "stage": stage,
            "time": time.clf(),
            "timeEpoch": time.millis()
        });
        event.insert("requestContext".to_string(), context);
        if !p.path_parameters.is_empty() {
            event.insert(
                "pathParameters".to_string(),
                http::map_or_null(&p.path_parameters),
            );
        }
        if !p.stage_variables.is_empty() {
            event.insert(
                "stageVariables".to_string(),
                http::map_or_null(&p.stage_variables),
            );
        }
        Value::Object(event)
    }
}

/// The top-level fields payload format 2.0 shares between HTTP APIs and function URLs; absent
/// parts (cookies, query, body) are left out, not `null`.
pub(crate) fn payload_v2_base(
    p: &HttpParts,
    raw_path: &str,
    route_key: &str,
    headers: &[(String, String)],
) -> Map<String, Value> {
    let mut event = Map::new();
    event.insert("version".to_string(), json!("2.0"));
    event.insert("routeKey".to_string(), json!(route_key));
    event.insert("rawPath".to_string(), json!(raw_path));
    event.insert(
        "rawQueryString".to_string(),
        json!(super::common::raw_query_string(&p.query)),
    );
    if !p.cookies.is_empty() {
        event.insert("cookies".to_string(), json!(p.cookies));
    }
    event.insert(
        "headers".to_string(),
        http::joined_values(&http::group(headers, true)),
    );
    if !p.query.is_empty() {
        event.insert(
            "queryStringParameters".to_string(),
            http::joined_values(&http::group(&p.query, false)),
        );
    }
    let (body, is_base64) = p.encoded_body();
    if let Some(body) = body {
        event.insert("body".to_string(), json!(body));
    }
    event.insert("isBase64Encoded".to_string(), json!(is_base64));
    event
}

#[cfg(feature = "apigw")]
impl HttpSample<RestApi> {
    /// The event as [`crate::apigw::ApiGatewayProxyRequest`].
    pub fn build(&self) -> Result<crate::apigw::ApiGatewayProxyRequest, SampleError> {
        self.validate()?;
        super::typed(RestApi::KIND, self.to_json())
    }
}

#[cfg(feature = "apigw")]
impl HttpSample<HttpApi> {
    /// The event as [`crate::apigw::ApiGatewayV2httpRequest`].
    pub fn build(&self) -> Result<crate::apigw::ApiGatewayV2httpRequest, SampleError> {
        self.validate()?;
        super::typed(HttpApi::KIND, self.to_json())
    }
}
