//! Application Load Balancer target-group events and Lambda function URL events, rendered from
//! an [`HttpSample`].

use serde_json::{json, Map, Value};

use super::apigw::payload_v2_base;
use super::common::{self, ACCOUNT_ID, REGION};
use super::http::private::Render;
#[cfg(any(feature = "alb", feature = "lambda_function_urls"))]
use super::http::HttpSample;
use super::http::{self, AlbTarget, FunctionUrl, HttpFormat, HttpParts};
#[cfg(any(feature = "alb", feature = "lambda_function_urls"))]
use super::SampleError;
use super::SampleKind;

impl HttpFormat for AlbTarget {
    const KIND: SampleKind = SampleKind::Alb;
}

impl Render for AlbTarget {
    fn render(p: &HttpParts) -> Value {
        let mut ids = p.meta.ids();
        let time = p.meta.time;
        let host = format!("my-alb-{}.{REGION}.elb.amazonaws.com", ids.digits(10));
        let mut headers = p.effective_headers(
            vec![
                ("accept", "*/*".to_string()),
                ("host", host),
                ("user-agent", p.user_agent.clone()),
                ("x-amzn-trace-id", ids.trace_id(time)),
                ("x-forwarded-for", p.source_ip.clone()),
                ("x-forwarded-port", "443".to_string()),
                ("x-forwarded-proto", "https".to_string()),
            ],
            true,
        );
        if !p.cookies.is_empty() {
            headers.push(("cookie".to_string(), p.cookies.join("; ")));
        }
        let headers = http::group(&headers, true);
        // The load balancer passes query parameters on as the client encoded them.
        let query: Vec<(String, String)> = p
            .query
            .iter()
            .map(|(k, v)| (common::percent_encode(k), common::percent_encode(v)))
            .collect();
        let query = http::group(&query, false);

        let mut event = Map::new();
        event.insert(
            "requestContext".to_string(),
            json!({
                "elb": {
                    "targetGroupArn": format!(
                        "arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT_ID}:targetgroup/my-function-tg/{}",
                        ids.hex(16)
                    )
                }
            }),
        );
        event.insert("httpMethod".to_string(), json!(p.method));
        event.insert("path".to_string(), json!(p.path));
        // Without multi-value headers the load balancer keeps the last of repeated values.
        if p.multi_value {
            event.insert(
                "multiValueQueryStringParameters".to_string(),
                http::all_values(&query),
            );
            event.insert("multiValueHeaders".to_string(), http::all_values(&headers));
        } else {
            event.insert(
                "queryStringParameters".to_string(),
                http::last_values(&query),
            );
            event.insert("headers".to_string(), http::last_values(&headers));
        }
        let (body, is_base64) = p.encoded_body();
        event.insert("body".to_string(), json!(body.unwrap_or_default()));
        event.insert("isBase64Encoded".to_string(), json!(is_base64));
        Value::Object(event)
    }
}

impl HttpFormat for FunctionUrl {
    const KIND: SampleKind = SampleKind::FunctionUrl;
}

impl Render for FunctionUrl {
    fn render(p: &HttpParts) -> Value {
        let mut ids = p.meta.ids();
        let time = p.meta.time;
        let url_id = ids.lower_alnum(32);
        let host = format!("{url_id}.lambda-url.{REGION}.on.aws");
        let headers = p.effective_headers(
            vec![
                ("accept", "*/*".to_string()),
                ("host", host.clone()),
                ("user-agent", p.user_agent.clone()),
                (
                    "x-amzn-tls-cipher-suite",
                    "TLS_AES_128_GCM_SHA256".to_string(),
                ),
                ("x-amzn-tls-version", "TLSv1.3".to_string()),
                ("x-amzn-trace-id", ids.trace_id(time)),
                ("x-forwarded-for", p.source_ip.clone()),
                ("x-forwarded-port", "443".to_string()),
                ("x-forwarded-proto", "https".to_string()),
            ],
            true,
        );
        let mut event = payload_v2_base(p, &p.path, "$default", &headers);
        event.insert(
            "requestContext".to_string(),
            json!({
                // AuthType NONE: the caller is anonymous.
                "accountId": "anonymous",
                "apiId": url_id,
                "domainName": host,
                "domainPrefix": url_id,
                "http": {
                    "method": p.method,
                    "path": p.path,
                    "protocol": "HTTP/1.1",
                    "sourceIp": p.source_ip,
                    "userAgent": p.user_agent
                },
                "requestId": ids.uuid(),
                "routeKey": "$default",
                "stage": "$default",
                "time": time.clf(),
                "timeEpoch": time.millis()
            }),
        );
        Value::Object(event)
    }
}

#[cfg(feature = "alb")]
impl HttpSample<AlbTarget> {
    /// The event as [`crate::alb::AlbTargetGroupRequest`].
    pub fn build(&self) -> Result<crate::alb::AlbTargetGroupRequest, SampleError> {
        self.validate()?;
        super::typed(AlbTarget::KIND, self.to_json())
    }
}

#[cfg(feature = "lambda_function_urls")]
impl HttpSample<FunctionUrl> {
    /// The event as [`crate::lambda_function_urls::LambdaFunctionUrlRequest`].
    pub fn build(
        &self,
    ) -> Result<crate::lambda_function_urls::LambdaFunctionUrlRequest, SampleError> {
        self.validate()?;
        super::typed(FunctionUrl::KIND, self.to_json())
    }
}
