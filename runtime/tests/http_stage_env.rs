//! `AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH` is the default of every adapter and of
//! `request::from_str`, as in `lambda_http`, which honours it for every request it builds.
//!
//! This file has one test on purpose: it sets the variable for its whole process, which must
//! not leak into tests that expect the stage to be kept.

#![cfg(feature = "http")]

use std::convert::Infallible;

use firebox_events::sample;
use firebox_runtime::http::{
    request::from_str, Adapter, Body, LambdaRequest, Request, Response, StreamAdapter,
};
use firebox_runtime::{Context, LambdaEvent};
use tower::{service_fn, ServiceExt};

/// The path the service sees for a REST event on stage `prod`, through `adapter`.
async fn path_through<S>(adapter: S) -> String
where
    S: tower::Service<LambdaEvent<LambdaRequest>>,
    S::Error: std::fmt::Debug,
{
    path_of(adapter, sample::apigw_v1().path("/hello").to_json()).await
}

/// The path the service sees for `event`, through `adapter`.
async fn path_of<S>(adapter: S, event: serde_json::Value) -> String
where
    S: tower::Service<LambdaEvent<LambdaRequest>>,
    S::Error: std::fmt::Debug,
{
    let payload: LambdaRequest = serde_json::from_value(event).expect("an HTTP event");
    adapter
        .oneshot(LambdaEvent::new(payload, Context::default()))
        .await
        .expect("an answer");
    SEEN.with(|seen| seen.borrow_mut().take())
        .expect("the service was called")
}

thread_local! {
    static SEEN: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// A service that records the path it is asked for.
fn recorder() -> impl tower::Service<Request, Response = Response<Body>, Error = Infallible> {
    service_fn(|request: Request| {
        let path = request.uri().path().to_owned();
        SEEN.with(|seen| *seen.borrow_mut() = Some(path));
        std::future::ready(Ok(Response::new(Body::Empty)))
    })
}

#[tokio::test(flavor = "current_thread")]
async fn the_variable_leaves_each_events_path_as_it_comes() {
    let event = sample::apigw_v1().path("/hello").to_json().to_string();
    assert_eq!(from_str(&event).unwrap().uri().path(), "/prod/hello");
    assert_eq!(path_through(Adapter::from(recorder())).await, "/prod/hello");

    std::env::set_var("AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH", "1");
    assert_eq!(from_str(&event).unwrap().uri().path(), "/hello");
    assert_eq!(path_through(Adapter::from(recorder())).await, "/hello");
    assert_eq!(path_through(Adapter::new(recorder())).await, "/hello");
    assert_eq!(
        path_through(StreamAdapter::from(recorder())).await,
        "/hello"
    );
    // As in lambda_http, the variable only stops the stage being added: an HTTP API event's
    // own path keeps it.
    let v2 = sample::apigw_v2().stage("prod").path("/hello").to_json();
    assert_eq!(v2["rawPath"], "/prod/hello");
    assert_eq!(
        from_str(&v2.to_string()).unwrap().uri().path(),
        "/prod/hello"
    );
    assert_eq!(
        path_of(Adapter::from(recorder()), v2.clone()).await,
        "/prod/hello"
    );
    // An explicit choice wins over the variable: stripped from both, or included in both.
    assert_eq!(
        path_of(Adapter::from(recorder()).strip_stage_prefix(true), v2).await,
        "/hello"
    );
    assert_eq!(
        path_through(Adapter::from(recorder()).strip_stage_prefix(false)).await,
        "/prod/hello"
    );
}
