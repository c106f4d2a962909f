//! Code written for `lambda_http` 1.x, ported by changing only the import to
//! `use firebox_runtime::http as lambda_http;`: the handlers below use its idioms (awaited
//! `into_response()`, `Result<impl IntoResponse, Error>`, a client borrowed from the enclosing
//! function, `lambda_http::{http, tower, tracing, lambda_runtime, Service}`, `StreamAdapter::from`,
//! form payloads, `(StatusCode, _)` answers, `request::from_str`) and run through the real
//! runtime loop against a loopback Runtime API server.

#![cfg(feature = "http")]

mod support;

use std::{convert::Infallible, time::Duration};

use firebox_events::sample;
use firebox_runtime::http as lambda_http;
use lambda_http::{
    http::{Method, StatusCode},
    service_fn, Body, Error, IntoResponse, PayloadError, Request, RequestExt, RequestPayloadExt,
    Response,
};
use serde::Deserialize;
use serde_json::{json, Value};
use support::{config, Invocation, Recorded, RuntimeApiServer};

/// The trace id every scripted invocation carries (`Lambda-Runtime-Trace-Id`).
const INVOCATION_TRACE: &str =
    "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";

/// Runs `runtime` against `server` until the script is exhausted (the server then answers
/// 500 and the runtime stops with that error).
async fn serve<S, A, R>(server: &RuntimeApiServer, runtime: lambda_http::lambda_runtime::Runtime<S>)
where
    S: lambda_http::Service<lambda_http::LambdaEvent<A>, Response = R>,
    S::Error: Into<lambda_http::Diagnostic>,
    A: serde::de::DeserializeOwned,
    R: firebox_runtime::IntoFunctionResponse,
{
    let stopped = tokio::time::timeout(
        Duration::from_secs(60),
        runtime.with_config(config(&server.api(), &[])).run(),
    )
    .await
    .expect("the runtime stops when the script is exhausted");
    assert!(stopped.is_err(), "the runtime only stops with an error");
}

/// Type-checks that an entry point takes the service it was given: the future is built and
/// dropped, never started.
fn accepted<F: std::future::Future>(future: F) {
    drop(future);
}

/// The results the runtime posted, in order.
fn posts(server: &RuntimeApiServer) -> Vec<Recorded> {
    server
        .records()
        .into_iter()
        .filter(|r| r.method == "POST")
        .collect()
}

/// An HTTP API event for `path`, as invocation `id-<path>`.
fn http_api(path: &str) -> Invocation {
    let id = format!("id-{}", path.trim_start_matches('/'));
    Invocation::json(&id, sample::apigw_v2().path(path).to_json())
}

// ---- Handlers as written for lambda_http -------------------------------------------------

/// examples/http-query-parameters.
async fn greet(event: Request) -> Result<impl IntoResponse, Error> {
    Ok(
        match event
            .query_string_parameters_ref()
            .and_then(|params| params.first("first_name"))
        {
            Some(first_name) => format!("Hello, {first_name}!").into_response().await,
            None => Response::builder()
                .status(400)
                .body("Empty first name".into())
                .expect("failed to render response"),
        },
    )
}

#[derive(Deserialize, Debug)]
struct Order {
    item: String,
    qty: u32,
}

/// One answer per path, each an `IntoResponse` idiom.
async fn answers(req: Request) -> Result<Response<Body>, Error> {
    let last = req.uri().path().rsplit('/').next().unwrap_or_default();
    Ok(match last {
        "str" => "plain str".into_response().await,
        "string" => String::from("a string").into_response().await,
        "slice" => (&b"slice bytes"[..]).into_response().await,
        "bytes" => vec![0u8, 159, 146, 150].into_response().await,
        "json" => json!({"ok": true}).into_response().await,
        "created" => {
            (StatusCode::CREATED, "created".to_string())
                .into_response()
                .await
        }
        "accepted" => (StatusCode::ACCEPTED, "accepted").into_response().await,
        "teapot" => {
            (StatusCode::IM_A_TEAPOT, json!({"short": "stout"}))
                .into_response()
                .await
        }
        "partial" => {
            (StatusCode::PARTIAL_CONTENT, vec![255u8, 0])
                .into_response()
                .await
        }
        "order" => match req.payload::<Order>() {
            Ok(Some(order)) => {
                json!({"item": order.item, "qty": order.qty})
                    .into_response()
                    .await
            }
            Ok(None) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "no payload")
                    .into_response()
                    .await
            }
            Err(PayloadError::WwwFormUrlEncoded(e)) => {
                (StatusCode::BAD_REQUEST, format!("bad form: {e}"))
                    .into_response()
                    .await
            }
            Err(PayloadError::Json(e)) => {
                (StatusCode::BAD_REQUEST, format!("bad json: {e}"))
                    .into_response()
                    .await
            }
            Err(e) => return Err(e.into()),
        },
        "trace" => {
            json!({
                "header": req.headers().get_all("x-amzn-trace-id").iter()
                    .map(|v| v.to_str().unwrap_or_default().to_owned()).collect::<Vec<_>>(),
                "context": req.lambda_context().xray_trace_id,
            })
            .into_response()
            .await
        }
        _ => return Err("no such answer".into()),
    })
}

// ---- Tests -------------------------------------------------------------------------------

#[tokio::test]
async fn awaited_into_response_and_impl_into_response_handlers_run() {
    // `run` takes both handlers as they are (the future is built, not started).
    accepted(lambda_http::run(service_fn(greet)));
    accepted(lambda_http::run(service_fn(answers)));
    accepted(lambda_http::run(service_fn(|_request| async {
        Result::<&str, Infallible>::Ok("hello")
    })));

    let server = RuntimeApiServer::start(vec![
        Invocation::json("q", sample::apigw_v2().query("first_name", "Ada").to_json()),
        Invocation::json("no-q", sample::apigw_v1().to_json()),
    ])
    .await;
    serve(&server, lambda_http::runtime(service_fn(greet))).await;
    let posts = posts(&server);
    assert_eq!(posts.len(), 2);
    let hello = posts[0].json();
    assert_eq!(hello["statusCode"], 200);
    assert_eq!(hello["body"], "Hello, Ada!");
    // As with lambda_http, a String answer has no content type.
    assert!(hello["headers"].get("content-type").is_none(), "{hello}");
    let missing = posts[1].json();
    assert_eq!(missing["statusCode"], 400);
    assert_eq!(missing["body"], "Empty first name");
}

#[tokio::test]
async fn into_response_values_answer_as_with_lambda_http() {
    let paths = [
        "str", "string", "slice", "bytes", "json", "created", "accepted", "teapot", "partial",
    ];
    let server =
        RuntimeApiServer::start(paths.iter().map(|p| http_api(&format!("/{p}"))).collect()).await;
    serve(&server, lambda_http::runtime(service_fn(answers))).await;
    let posts = posts(&server);
    assert_eq!(posts.len(), paths.len());
    let json_type = json!({"content-type": "application/json"});
    let no_type = json!({});
    // (status, headers, body, isBase64Encoded)
    let expected = [
        (200, &no_type, json!("plain str"), false),
        (200, &no_type, json!("a string"), false),
        (200, &no_type, json!("slice bytes"), false),
        (200, &no_type, json!("AJ+Slg=="), true),
        (200, &json_type, json!(r#"{"ok":true}"#), false),
        (201, &no_type, json!("created"), false),
        (202, &no_type, json!("accepted"), false),
        (418, &json_type, json!(r#"{"short":"stout"}"#), false),
        (206, &no_type, json!("/wA="), true),
    ];
    for ((post, path), (status, headers, body, base64)) in posts.iter().zip(paths).zip(expected) {
        let r = post.json();
        assert_eq!(r["statusCode"], status, "{path}: {r}");
        assert_eq!(&r["headers"], headers, "{path}: {r}");
        assert_eq!(r["body"], body, "{path}: {r}");
        assert_eq!(r["isBase64Encoded"], base64, "{path}: {r}");
    }
}

struct SharedClient {
    name: &'static str,
}

impl SharedClient {
    fn response(&self, req_id: String, first_name: &str) -> String {
        format!("{req_id}: Client ({}) invoked by {first_name}.", self.name)
    }
}

#[tokio::test]
async fn a_client_borrowed_from_the_enclosing_function() {
    // examples/http-shared-resource: the closure captures `&shared_client`, not `'static`.
    let shared_client = SharedClient { name: "client-1" };
    let shared_client_ref = &shared_client;
    let handler_func_closure = move |event: Request| async move {
        Result::<Response<Body>, Error>::Ok(
            match event
                .query_string_parameters_ref()
                .and_then(|params| params.first("first_name"))
            {
                Some(first_name) => {
                    shared_client_ref
                        .response(
                            event
                                .lambda_context_ref()
                                .map(|ctx| ctx.request_id.clone())
                                .unwrap_or_default(),
                            first_name,
                        )
                        .into_response()
                        .await
                }
                None => Response::builder()
                    .status(400)
                    .body("Empty first name".into())
                    .expect("failed to render response"),
            },
        )
    };
    accepted(lambda_http::run(service_fn(handler_func_closure)));
    accepted(lambda_http::run_with_streaming_response(service_fn(
        handler_func_closure,
    )));

    let server = RuntimeApiServer::start(vec![Invocation::json(
        "id-1",
        sample::alb().query("first_name", "Grace").to_json(),
    )])
    .await;
    serve(
        &server,
        lambda_http::runtime(service_fn(handler_func_closure)),
    )
    .await;
    let r = posts(&server)[0].json();
    assert_eq!(r["body"], "id-1: Client (client-1) invoked by Grace.");
}

#[tokio::test]
async fn form_and_json_payloads() {
    let form = |body: &str| {
        sample::function_url()
            .method("POST")
            .path("/order")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .to_json()
    };
    let server = RuntimeApiServer::start(vec![
        Invocation::json("form", form("item=tea&qty=3")),
        Invocation::json("bad-form", form("item=tea&qty=lots")),
        Invocation::json(
            "json",
            sample::apigw_v2()
                .method("POST")
                .path("/order")
                .header("content-type", "application/vnd.api+json")
                .body(r#"{"item": "cake", "qty": 1}"#)
                .to_json(),
        ),
        Invocation::json(
            "bad-json",
            sample::apigw_v2()
                .method("POST")
                .path("/order")
                .json_body(&json!({"item": "cake"}))
                .to_json(),
        ),
        Invocation::json(
            "text",
            sample::apigw_v2()
                .method("POST")
                .path("/order")
                .header("content-type", "text/plain")
                .body("item=tea")
                .to_json(),
        ),
    ])
    .await;
    serve(&server, lambda_http::runtime(service_fn(answers))).await;
    let posts = posts(&server);
    let r: Vec<Value> = posts.iter().map(Recorded::json).collect();
    assert_eq!(r[0]["statusCode"], 200);
    assert_eq!(r[0]["body"], r#"{"item":"tea","qty":3}"#);
    assert_eq!(r[1]["statusCode"], 400);
    let message = r[1]["body"].as_str().unwrap();
    assert!(message.starts_with("bad form: "), "{message}");
    assert!(message.contains("invalid digit"), "{message}");
    // `+json` types are read as JSON (lambda_http only reads `application/json`).
    assert_eq!(r[2]["body"], r#"{"item":"cake","qty":1}"#);
    assert_eq!(r[3]["statusCode"], 400);
    let message = r[3]["body"].as_str().unwrap();
    assert!(
        message.starts_with("bad json: missing field `qty`"),
        "{message}"
    );
    assert_eq!(r[4]["statusCode"], 415);
}

#[test]
fn payload_errors_have_lambda_http_types() {
    use lambda_http::ext::request::{FormUrlEncodedPayloadError, JsonPayloadError};
    use std::collections::HashMap;

    let request = lambda_http::http::Request::builder()
        .header(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        )
        .body(Body::from("a=1&b=two%20words"))
        .unwrap();
    let form: HashMap<String, String> = request.form_url_encoded().unwrap().unwrap();
    assert_eq!(form["b"], "two words");
    let as_payload: Option<HashMap<String, String>> = request.payload().unwrap();
    assert_eq!(as_payload, Some(form));
    assert!(matches!(
        request.json::<Value>(),
        Err(JsonPayloadError::Parsing(_))
    ));
    assert!(matches!(
        request.form_url_encoded::<Vec<u8>>(),
        Err(FormUrlEncodedPayloadError::Parsing(_))
    ));
    let as_payload_error: PayloadError =
        FormUrlEncodedPayloadError::Parsing(serde::de::Error::custom("x")).into();
    assert!(matches!(
        as_payload_error,
        lambda_http::ext::PayloadError::WwwFormUrlEncoded(_)
    ));
    let empty = Request::default();
    assert!(empty.form_url_encoded::<Order>().unwrap().is_none());
    assert!(empty.json::<Order>().unwrap().is_none());
}

#[tokio::test]
async fn the_trace_header_is_the_invocation_s() {
    let with_header = sample::apigw_v2().path("/trace").to_json();
    let event_header = with_header["headers"]["x-amzn-trace-id"].clone();
    assert!(
        event_header.is_string(),
        "the sample carries its own trace header"
    );
    let mut without_header = sample::function_url().path("/trace").to_json();
    let headers = without_header["headers"].as_object_mut().unwrap();
    headers.retain(|name, _| !name.eq_ignore_ascii_case("x-amzn-trace-id"));
    let server = RuntimeApiServer::start(vec![
        Invocation::json("with", with_header.clone()),
        Invocation::json("without", without_header),
        Invocation::json("no-trace", with_header).without("lambda-runtime-trace-id"),
    ])
    .await;
    serve(&server, lambda_http::runtime(service_fn(answers))).await;
    let bodies: Vec<Value> = posts(&server)
        .iter()
        .map(|p| serde_json::from_str(p.json()["body"].as_str().unwrap()).unwrap())
        .collect();
    let expected = json!({"header": [INVOCATION_TRACE], "context": INVOCATION_TRACE});
    // The event's own header is replaced, not added to.
    assert_eq!(bodies[0], expected, "event header: {event_header}");
    assert_eq!(bodies[1], expected);
    // Without a trace id for the invocation, the event's header is left as it is.
    assert_eq!(
        bodies[2],
        json!({"header": [event_header], "context": null})
    );
}

#[tokio::test]
async fn re_exported_names_and_stream_adapter_from() {
    use lambda_http::{
        lambda_runtime::Runtime,
        tower::{ServiceBuilder, ServiceExt},
        tracing::{self, Level},
        StreamAdapter,
    };

    // The subscriber set-up exists under lambda_http's path (not installed here).
    let _init: fn() = tracing::init_default_subscriber;
    let _ = Level::INFO;
    let _ = lambda_http::aws_lambda_events::apigw::ApiGatewayProxyRequest::default();

    // http-cors / http-tower-trace shape: a ServiceBuilder stack over a handler.
    async fn handler(req: Request) -> Result<Response<String>, Error> {
        tracing::info!(method = %req.method(), "handling");
        let method_ok = req.method() == Method::GET;
        Ok(Response::new(format!("GET? {method_ok}")))
    }
    let stack = ServiceBuilder::new()
        .map_response(|mut response: Response<String>| {
            response
                .headers_mut()
                .insert("x-layer", "on".parse().unwrap());
            response
        })
        .service_fn(handler);

    // Adapter::from composes with runtime-side layers, as in lambda_http.
    let with_event_layer = ServiceBuilder::new()
        .map_request(|event: lambda_http::LambdaEvent<lambda_http::LambdaRequest>| event)
        .layer_fn(lambda_http::Adapter::from)
        .service(stack.clone());
    let server = RuntimeApiServer::start(vec![http_api("/layered")]).await;
    serve(&server, Runtime::new(with_event_layer.boxed())).await;
    let r = posts(&server)[0].json();
    assert_eq!(r["body"], "GET? true");
    assert_eq!(r["headers"]["x-layer"], "on");

    // http-axum-streaming: `Runtime::new(StreamAdapter::from(app))`.
    let server = RuntimeApiServer::start(vec![Invocation::json(
        "s-1",
        sample::function_url().path("/stream").to_json(),
    )])
    .await;
    serve(&server, Runtime::new(StreamAdapter::from(stack))).await;
    let post = &posts(&server)[0];
    assert_eq!(
        post.header("lambda-runtime-function-response-mode"),
        Some("streaming")
    );
    let nul = post
        .body
        .windows(8)
        .position(|w| w == [0; 8])
        .expect("the prelude");
    let prelude: Value = serde_json::from_slice(&post.body[..nul]).unwrap();
    assert_eq!(prelude["statusCode"], 200);
    assert_eq!(prelude["headers"]["x-layer"], "on");
    assert_eq!(&post.body[nul + 8..], b"GET? true");
}

#[tokio::test]
async fn streamed_requests_carry_the_trace_header_too() {
    let server = RuntimeApiServer::start(vec![Invocation::json(
        "s-1",
        sample::function_url()
            .path("/trace")
            .header(
                "x-amzn-trace-id",
                "Root=1-00000000-000000000000000000000000",
            )
            .to_json(),
    )])
    .await;
    serve(&server, lambda_http::streaming_runtime(service_fn(answers))).await;
    let post = &posts(&server)[0];
    let nul = post
        .body
        .windows(8)
        .position(|w| w == [0; 8])
        .expect("the prelude");
    let body: Value = serde_json::from_slice(&post.body[nul + 8..]).expect("the JSON body");
    assert_eq!(body["header"], json!([INVOCATION_TRACE]));
}

#[tokio::test]
async fn concurrent_entry_points_take_impl_into_response_handlers() {
    accepted(lambda_http::run_concurrent(service_fn(greet)));
    accepted(lambda_http::run_with_streaming_response_concurrent(
        service_fn(answers),
    ));

    let server = RuntimeApiServer::start(vec![
        Invocation::json("c-1", sample::apigw_v2().query("first_name", "A").to_json()),
        Invocation::json("c-2", sample::apigw_v2().query("first_name", "B").to_json()),
    ])
    .await;
    let stopped = tokio::time::timeout(
        Duration::from_secs(60),
        lambda_http::runtime_concurrent(service_fn(greet))
            .with_config(config(
                &server.api(),
                &[("AWS_LAMBDA_MAX_CONCURRENCY", "2")],
            ))
            .run_concurrent(),
    )
    .await
    .expect("the runtime stops when the script is exhausted");
    assert!(stopped.is_err());
    let mut bodies: Vec<String> = posts(&server)
        .iter()
        .map(|p| p.json()["body"].as_str().unwrap().to_owned())
        .collect();
    bodies.sort();
    assert_eq!(bodies, ["Hello, A!", "Hello, B!"]);
}

#[tokio::test]
async fn request_from_str_for_unit_tests() {
    use lambda_http::request::{from_reader, from_str, RequestContext};

    let event = sample::apigw_v1()
        .path("/greet")
        .query("first_name", "Lin")
        .to_json();
    let request = from_str(&event.to_string()).expect("an HTTP event");
    assert!(request.lambda_context_ref().is_none());
    assert!(matches!(
        request.request_context(),
        RequestContext::ApiGatewayV1(_)
    ));
    assert!(request.request_context().authorizer().is_some());
    let response = greet(request).await.unwrap().into_response().await;
    assert_eq!(response.body(), &Body::from("Hello, Lin!"));

    let request = from_reader(event.to_string().as_bytes()).expect("an HTTP event");
    assert_eq!(request.uri().path(), "/prod/greet");
    let error = from_str(r#"{"Records": []}"#).unwrap_err();
    assert!(error.to_string().contains("not an HTTP event"), "{error}");
}

#[test]
fn body_conversions_and_serde() {
    use std::borrow::Cow;

    assert_eq!(Body::from(Cow::Borrowed("x")), Body::Text("x".into()));
    assert_eq!(
        Body::from(Cow::Borrowed(&b"y"[..])),
        Body::Binary(b"y".to_vec())
    );
    assert_eq!(serde_json::to_value(Body::from("t")).unwrap(), json!("t"));
    assert_eq!(
        serde_json::to_value(Body::from(vec![255u8])).unwrap(),
        json!("/w==")
    );
    assert_eq!(serde_json::to_value(Body::Empty).unwrap(), Value::Null);
    assert_eq!(
        serde_json::from_value::<Body>(json!("t")).unwrap(),
        Body::Text("t".into())
    );
}
