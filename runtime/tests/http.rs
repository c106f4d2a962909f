//! The HTTP adapter against recorded and generated events of all four formats: request
//! conversion, response round-trips, format detection and bad events.

#![cfg(feature = "http")]

use std::{
    collections::HashMap,
    convert::Infallible,
    sync::{Arc, Mutex},
};

use base64::Engine;
use firebox_events::sample;
use firebox_runtime::http::{
    Adapter, Body, EventFormat, LambdaRequest, Request, RequestContext, RequestExt,
    RequestPayloadExt, Response,
};
use firebox_runtime::{Context, LambdaEvent};
use serde_json::{json, Value};
use tower::{service_fn, Service, ServiceExt};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Runs `event` through an [`Adapter`] whose service records the request it gets and answers
/// `respond()`; returns that request and the JSON the runtime would post.
async fn exchange_with(
    event: Value,
    strip_stage: bool,
    respond: fn() -> Response<Body>,
) -> (Request, Value) {
    let seen: Arc<Mutex<Option<Request>>> = Arc::default();
    let slot = seen.clone();
    let service = service_fn(move |request: Request| {
        *slot.lock().unwrap() = Some(request);
        async move { Ok::<_, Infallible>(respond()) }
    });
    let payload: LambdaRequest = serde_json::from_value(event).expect("an HTTP event");
    let mut context = Context::default();
    context.request_id = "req-1".into();
    let response = Adapter::new(service)
        .strip_stage_prefix(strip_stage)
        .oneshot(LambdaEvent::new(payload, context))
        .await
        .expect("a response");
    let request = seen.lock().unwrap().take().expect("the service was called");
    (request, serde_json::to_value(response).unwrap())
}

fn ok() -> Response<Body> {
    Response::new(Body::from("ok"))
}

async fn exchange(event: Value) -> (Request, Value) {
    exchange_with(event, false, ok).await
}

fn header_values(request: &Request, name: &str) -> Vec<String> {
    request
        .headers()
        .get_all(name)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/../events/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn format_of(event: Value) -> EventFormat {
    serde_json::from_value::<LambdaRequest>(event)
        .unwrap()
        .format()
}

#[test]
fn detects_the_format_of_every_sample_and_fixture() {
    assert_eq!(
        format_of(sample::apigw_v1().to_json()),
        EventFormat::ApiGatewayV1
    );
    assert_eq!(
        format_of(sample::apigw_v2().to_json()),
        EventFormat::ApiGatewayV2
    );
    assert_eq!(format_of(sample::alb().to_json()), EventFormat::Alb);
    assert_eq!(
        format_of(sample::alb().multi_value_headers(true).to_json()),
        EventFormat::Alb
    );
    assert_eq!(
        format_of(sample::function_url().to_json()),
        EventFormat::FunctionUrl
    );
    assert_eq!(
        format_of(fixture("apigw-v1-proxy.json")),
        EventFormat::ApiGatewayV1
    );
    assert_eq!(
        format_of(fixture("apigw-v2-http.json")),
        EventFormat::ApiGatewayV2
    );
    assert_eq!(format_of(fixture("alb.json")), EventFormat::Alb);
    assert_eq!(format_of(fixture("alb-multi-value.json")), EventFormat::Alb);
    assert_eq!(
        format_of(fixture("function-url.json")),
        EventFormat::FunctionUrl
    );
}

#[test]
fn other_events_are_rejected_with_a_clear_error() {
    for name in [
        "sqs.json",
        "s3.json",
        "sns.json",
        "eventbridge-scheduled.json",
    ] {
        let error = serde_json::from_value::<LambdaRequest>(fixture(name))
            .unwrap_err()
            .to_string();
        assert!(error.contains("not an HTTP event"), "{name}: {error}");
        assert!(error.contains("httpMethod"), "{name}: {error}");
    }
    for bad in [json!(null), json!("GET /"), json!(42)] {
        assert!(serde_json::from_value::<LambdaRequest>(bad).is_err());
    }
}

#[tokio::test]
async fn rest_api_request() {
    let event = sample::apigw_v1()
        .method("post")
        .path("/orders/a%20b/items")
        .query("tag", "x y")
        .query("tag", "a&b")
        .query("q", "1")
        .header("X-Multi", "one")
        .header("X-Multi", "two")
        .cookie("session=abc")
        .cookie("theme=dark")
        .json_body(&json!({"n": 1}))
        .path_parameter("id", "a b")
        .stage_variable("env", "test")
        .to_json();
    let (request, _) = exchange(event.clone()).await;

    assert_eq!(request.method(), "POST");
    let uri = request.uri();
    assert_eq!(uri.scheme_str(), Some("https"));
    assert!(uri
        .host()
        .unwrap()
        .ends_with(".execute-api.us-east-1.amazonaws.com"));
    // The REST event's path lacks the stage; by default the URI has it, as the client sent it.
    assert_eq!(uri.path(), "/prod/orders/a%20b/items");
    assert_eq!(request.raw_http_path(), "/orders/a%20b/items");
    let query = uri.query().unwrap();
    assert!(query.contains("tag=x%20y&tag=a%26b"), "{query}");
    assert!(query.contains("q=1"), "{query}");
    let params = request.query_string_parameters();
    assert_eq!(params.all("tag").unwrap(), vec!["x y", "a&b"]);
    assert_eq!(params.first("q"), Some("1"));

    assert_eq!(header_values(&request, "x-multi"), vec!["one", "two"]);
    assert_eq!(
        header_values(&request, "cookie"),
        vec!["session=abc; theme=dark"]
    );
    assert_eq!(request.body(), &Body::Text(r#"{"n":1}"#.into()));
    assert_eq!(request.payload::<Value>().unwrap(), Some(json!({"n": 1})));

    assert_eq!(request.path_parameters().first("id"), Some("a b"));
    assert_eq!(request.stage_variables().first("env"), Some("test"));
    match request.request_context() {
        RequestContext::ApiGatewayV1(context) => {
            assert_eq!(context.stage.as_deref(), Some("prod"));
            assert_eq!(context.http_method, "POST");
        }
        other => panic!("wrong context: {other:?}"),
    }
    assert_eq!(request.lambda_context().request_id, "req-1");

    // With the option, the stage is left out.
    let (request, _) = exchange_with(event, true, ok).await;
    assert_eq!(request.uri().path(), "/orders/a%20b/items");
}

#[tokio::test]
async fn http_api_request() {
    let event = sample::apigw_v2()
        .method("PUT")
        .stage("beta")
        .path("/files/a%2Fb%20c")
        .query("k", "1")
        .query("k", "2")
        .query("e", "=&+")
        .header("X-Multi", "one")
        .header("X-Multi", "two")
        .cookie("a=1")
        .cookie("b=2")
        .binary_body(vec![0u8, 159, 146, 150])
        .to_json();
    assert_eq!(event["rawPath"], "/beta/files/a%2Fb%20c");
    let (request, _) = exchange(event.clone()).await;

    assert_eq!(request.method(), "PUT");
    assert_eq!(request.uri().path(), "/beta/files/a%2Fb%20c");
    assert_eq!(request.uri().query(), Some("k=1&k=2&e=%3D%26%2B"));
    let params = request.query_string_parameters();
    assert_eq!(params.all("k").unwrap(), vec!["1", "2"]);
    assert_eq!(params.first("e"), Some("=&+"));
    // Payload format 2.0 joins repeated headers; cookies come back as one header.
    assert_eq!(header_values(&request, "x-multi"), vec!["one,two"]);
    assert_eq!(header_values(&request, "cookie"), vec!["a=1; b=2"]);
    assert_eq!(request.body(), &Body::Binary(vec![0, 159, 146, 150]));
    assert!(matches!(
        request.request_context(),
        RequestContext::ApiGatewayV2(c) if c.stage.as_deref() == Some("beta")
    ));

    let (request, _) = exchange_with(event, true, ok).await;
    assert_eq!(request.uri().path(), "/files/a%2Fb%20c");
    assert_eq!(request.raw_http_path(), "/beta/files/a%2Fb%20c");
}

#[tokio::test]
async fn alb_request_single_and_multi_value() {
    let base = sample::alb()
        .method("DELETE")
        .path("/items/7")
        .query("q", "a b")
        .query("q", "c&d")
        .header("X-Multi", "one")
        .header("X-Multi", "two")
        .cookie("s=1");

    let (request, _) = exchange(base.clone().multi_value_headers(true).to_json()).await;
    assert_eq!(request.method(), "DELETE");
    assert_eq!(request.uri().path(), "/items/7");
    // ALB passes query values on as the client encoded them.
    assert_eq!(request.uri().query(), Some("q=a%20b&q=c%26d"));
    assert_eq!(
        request.query_string_parameters().all("q").unwrap(),
        vec!["a b", "c&d"]
    );
    assert_eq!(header_values(&request, "x-multi"), vec!["one", "two"]);
    assert_eq!(header_values(&request, "cookie"), vec!["s=1"]);
    assert!(matches!(request.request_context(), RequestContext::Alb(_)));
    assert!(request.path_parameters_ref().is_none());

    // Without multi-value headers, the load balancer keeps the last value.
    let (request, _) = exchange(base.to_json()).await;
    assert_eq!(header_values(&request, "x-multi"), vec!["two"]);
    assert_eq!(
        request.query_string_parameters().all("q").unwrap(),
        vec!["c&d"]
    );
    assert_eq!(request.body(), &Body::Empty);
}

#[tokio::test]
async fn function_url_request() {
    let event = sample::function_url()
        .method("POST")
        .path("/submit/ü")
        .query("x", "1")
        .cookie("c=3")
        .body("plain text")
        .to_json();
    let (request, _) = exchange(event).await;
    assert_eq!(request.method(), "POST");
    assert_eq!(request.uri().path(), "/submit/%C3%BC");
    assert!(request
        .uri()
        .host()
        .unwrap()
        .ends_with(".lambda-url.us-east-1.on.aws"));
    assert_eq!(request.query_string_parameters().first("x"), Some("1"));
    assert_eq!(header_values(&request, "cookie"), vec!["c=3"]);
    assert_eq!(request.body(), &Body::Text("plain text".into()));
    assert!(matches!(
        request.request_context(),
        RequestContext::FunctionUrl(_)
    ));
}

#[tokio::test]
async fn fixtures_convert() {
    let (request, _) = exchange(fixture("alb-multi-value.json")).await;
    assert_eq!(
        header_values(&request, "cookie"),
        vec!["name1=value1", "name2=value2"]
    );
    assert_eq!(
        request.query_string_parameters().all("myKey").unwrap(),
        vec!["val1", "val2"]
    );
    let (request, _) = exchange(fixture("function-url.json")).await;
    assert_eq!(request.method(), "POST");
    assert_eq!(
        request.uri().query(),
        Some("parameter1=value1&parameter1=value2&parameter2=value")
    );
    assert_eq!(header_values(&request, "cookie"), vec!["cookie1; cookie2"]);
    let (request, _) = exchange(fixture("apigw-v1-proxy.json")).await;
    // The fixture's stage is `$default`: nothing is prefixed.
    assert_eq!(request.uri().path(), "/my/path");
    assert_eq!(header_values(&request, "header2"), vec!["value1", "value2"]);
}

fn rich_response() -> Response<Body> {
    Response::builder()
        .status(201)
        .header("content-type", "text/plain; charset=utf-8")
        .header("x-multi", "one")
        .header("x-multi", "two")
        .header("set-cookie", "a=1; Path=/")
        .header("set-cookie", "b=2; HttpOnly")
        .body(Body::from("créé"))
        .unwrap()
}

fn png_response() -> Response<Body> {
    Response::builder()
        .header("content-type", "image/png")
        .body(Body::from(vec![0x89, b'P', b'N', b'G', 0, 0xff]))
        .unwrap()
}

fn gzip_response() -> Response<Body> {
    Response::builder()
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .body(Body::from("{}"))
        .unwrap()
}

#[tokio::test]
async fn responses_in_payload_format_2() {
    for event in [
        sample::apigw_v2().to_json(),
        sample::function_url().to_json(),
    ] {
        let (_, response) = exchange_with(event.clone(), false, rich_response).await;
        assert_eq!(
            response,
            json!({
                "statusCode": 201,
                "headers": {"content-type": "text/plain; charset=utf-8", "x-multi": "one,two"},
                "cookies": ["a=1; Path=/", "b=2; HttpOnly"],
                "body": "créé",
                "isBase64Encoded": false
            })
        );
        let (_, response) = exchange_with(event, false, png_response).await;
        assert_eq!(response["isBase64Encoded"], true);
        assert_eq!(
            B64.decode(response["body"].as_str().unwrap()).unwrap(),
            vec![0x89, b'P', b'N', b'G', 0, 0xff]
        );
        assert!(response.get("cookies").is_none());
    }
}

#[tokio::test]
async fn responses_for_rest_api_and_alb() {
    let expected_multi = json!({
        "content-type": ["text/plain; charset=utf-8"],
        "set-cookie": ["a=1; Path=/", "b=2; HttpOnly"],
        "x-multi": ["one", "two"]
    });
    let (_, response) = exchange_with(sample::apigw_v1().to_json(), false, rich_response).await;
    assert_eq!(
        response,
        json!({
            "statusCode": 201,
            "multiValueHeaders": expected_multi,
            "body": "créé",
            "isBase64Encoded": false
        })
    );

    let event = sample::alb().multi_value_headers(true).to_json();
    let (_, response) = exchange_with(event, false, rich_response).await;
    assert_eq!(response["statusDescription"], "201 Created");
    assert_eq!(response["multiValueHeaders"], expected_multi);
    assert!(response.get("headers").is_none());

    // A target group without multi-value headers only accepts `headers`.
    let (_, response) = exchange_with(sample::alb().to_json(), false, rich_response).await;
    assert!(response.get("multiValueHeaders").is_none());
    assert_eq!(response["headers"]["x-multi"], "one, two");
    assert_eq!(response["headers"]["set-cookie"], "b=2; HttpOnly");

    let (_, response) = exchange_with(sample::alb().to_json(), false, gzip_response).await;
    assert_eq!(response["isBase64Encoded"], true);
    assert_eq!(response["body"], B64.encode("{}"));
    assert_eq!(response["statusCode"], 200);
    assert_eq!(response["statusDescription"], "200 OK");
}

#[tokio::test]
async fn service_errors_and_body_errors_become_function_errors() {
    let failing = service_fn(|_: Request| async { Err::<Response<Body>, _>("no database") });
    let payload: LambdaRequest = serde_json::from_value(sample::apigw_v2().to_json()).unwrap();
    let error = Adapter::new(failing)
        .oneshot(LambdaEvent::new(payload, Context::default()))
        .await
        .unwrap_err();
    assert_eq!(error.error_type, "Error");
    assert_eq!(error.error_message, "no database");

    #[derive(Debug, thiserror::Error)]
    #[error("the body broke")]
    struct BodyBroke;
    let broken = service_fn(|_: Request| async {
        let stream = futures_util::stream::iter(vec![
            Ok(http_body::Frame::data(bytes::Bytes::from_static(b"part"))),
            Err(BodyBroke),
        ]);
        Ok::<_, Infallible>(Response::new(http_body_util::StreamBody::new(stream)))
    });
    let payload: LambdaRequest = serde_json::from_value(sample::alb().to_json()).unwrap();
    let error = Adapter::new(broken)
        .oneshot(LambdaEvent::new(payload, Context::default()))
        .await
        .unwrap_err();
    assert_eq!(error.error_type, "BodyBroke");
    assert_eq!(error.error_message, "the body broke");
}

#[tokio::test]
async fn string_and_json_answers_like_lambda_http() {
    let payload: LambdaRequest = serde_json::from_value(sample::apigw_v2().to_json()).unwrap();
    let mut service = Adapter::new(service_fn(|_: Request| async {
        Ok::<_, Infallible>(json!({"a": 1}))
    }));
    let response = service
        .ready()
        .await
        .unwrap()
        .call(LambdaEvent::new(payload, Context::default()))
        .await
        .unwrap();
    assert_eq!(
        serde_json::to_value(response).unwrap(),
        json!({"statusCode": 200, "headers": {"content-type": "application/json"}, "body": "{\"a\":1}", "isBase64Encoded": false})
    );
}

#[test]
fn extensions_can_be_set_for_tests() {
    let request = Request::default()
        .with_query_string_parameters(HashMap::from([("a".to_string(), "1".to_string())]))
        .with_raw_http_path("/x");
    assert_eq!(request.query_string_parameters().first("a"), Some("1"));
    assert_eq!(request.raw_http_path(), "/x");
    assert!(request.lambda_context_ref().is_none());
    assert!(request.request_context_ref().is_none());
    assert!(request.stage_variables_ref().is_none());
}
