//! The HTTP adapter (feature `http`): API Gateway REST (v1) and HTTP API (v2), ALB and function
//! URL events become [`http::Request`]s for any tower service, and its
//! `http::Response` goes back in the event's own format. An axum `Router` runs as a Lambda
//! function with no glue:
//!
//! ```no_run
//! use axum::{extract::Path, routing::get, Router};
//!
//! #[tokio::main(flavor = "current_thread")]
//! async fn main() -> Result<(), firebox_runtime::Error> {
//!     let app = Router::new().route(
//!         "/hello/{name}",
//!         get(|Path(name): Path<String>| async move { format!("Hello, {name}!") }),
//!     );
//!     firebox_runtime::http::run(app).await
//! }
//! ```
//!
//! Or with a `service_fn`, as with `lambda_http`:
//!
//! ```no_run
//! use firebox_runtime::http::{run, service_fn, Body, Error, Request, RequestExt, Response};
//!
//! async fn handler(request: Request) -> Result<Response<Body>, Error> {
//!     let who = request.query_string_parameters().first("name").unwrap_or("world").to_owned();
//!     Ok(Response::new(Body::from(format!("Hello, {who}!"))))
//! }
//!
//! # async fn doc() -> Result<(), Error> {
//! run(service_fn(handler)).await
//! # }
//! ```
//!
//! How events are recognised is described in [`LambdaRequest`]'s module (one pass over the
//! payload, keyed on `requestContext.elb`, `version`/`requestContext.http` and `httpMethod`);
//! how the URI is built, including the API Gateway stage prefix, in [`Adapter`]; how responses
//! are written in [`LambdaResponse`].

mod body;
mod event;
mod ext;
mod request;
mod response;
mod streaming;
mod uri;

use std::{
    future::Future,
    pin::Pin,
    task::{Context as TaskContext, Poll},
};

use http_body_util::BodyExt;
use tower::Service;

pub use self::body::Body;
pub use self::event::{EventFormat, LambdaRequest, RequestContext};
pub use self::ext::{PayloadError, RequestExt, RequestPayloadExt};
pub use self::response::{IntoResponse, LambdaResponse};
pub use self::streaming::{run_with_streaming_response, StreamingAdapter, StreamingFuture};
pub use crate::{service_fn, Context, Diagnostic, Error, LambdaEvent};
pub use ::http::{Response, StatusCode};
pub use aws_lambda_events;

use self::request::Options;

/// The request type services receive: an `http::Request` with a [`Body`].
pub type Request = ::http::Request<Body>;

/// The environment variable (from `lambda_http`) that makes [`run`] strip the stage prefix.
pub const IGNORE_STAGE_IN_PATH: &str = "AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH";

/// Runs `service` as a Lambda function that answers HTTP events, until the Runtime API fails.
///
/// `service` is any tower service taking [`Request`] and answering something that is
/// [`IntoResponse`] (any `http::Response<B>` with `B: http_body::Body`): an axum `Router`, a
/// [`service_fn`], a tower stack. Its errors become function errors. Events of another kind
/// fail with `Runtime.UnmarshalError`.
///
/// When the environment variable `AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH` is set (to anything),
/// the API Gateway stage is stripped from request paths; see [`Adapter::strip_stage_prefix`].
pub async fn run<S, R>(service: S) -> Result<(), Error>
where
    S: Service<Request, Response = R>,
    S::Error: Into<Diagnostic>,
    S::Future: 'static,
    R: IntoResponse,
    R::Body: 'static,
    <R::Body as http_body::Body>::Error: Into<Error>,
{
    let strip = std::env::var_os(IGNORE_STAGE_IN_PATH).is_some();
    crate::run(Adapter::new(service).strip_stage_prefix(strip)).await
}

/// A tower service that turns an HTTP service into a Lambda handler: it takes
/// [`LambdaEvent<LambdaRequest>`] and answers [`LambdaResponse`]. [`run`] uses it; use it
/// directly to add runtime layers or options:
///
/// ```no_run
/// # use firebox_runtime::{http::{Adapter, Request, Body, Response}, Runtime, Error, service_fn};
/// # async fn doc() -> Result<(), Error> {
/// let app = service_fn(|_req: Request| async { Ok::<_, Error>(Response::new(Body::from("hi"))) });
/// Runtime::new(Adapter::new(app).strip_stage_prefix(true)).run().await
/// # }
/// ```
///
/// **The request URI.** It is absolute when the event names a host (`https://host/path?query`,
/// the scheme from `X-Forwarded-Proto`). Paths that arrive decoded are percent-encoded, while
/// `%XX` escapes that are already there are kept (so `/a%2Fb` stays one segment). Query strings
/// come from `rawQueryString` (HTTP API, function URLs), from the decoded
/// `multiValueQueryStringParameters`/`queryStringParameters` (REST), or from the ALB's
/// parameters, which it passes on as the client encoded them.
///
/// **The stage prefix.** API Gateway REST events give `path` without the stage (`/hello`),
/// while the client asked for `/prod/hello`; HTTP API events give `rawPath` with it
/// (`/prod/hello`) unless the stage is `$default`. By default, as in `lambda_http`, the URI
/// path includes the stage in both cases (`/prod/hello`): it is the path the client requested on
/// the `execute-api` endpoint. With `strip_stage_prefix(true)` the stage is left out in both
/// cases (`/hello`), which suits routes written without it and custom domains. ALB and function
/// URL events have no stage. [`RequestExt::raw_http_path`] always gives the event's own path.
#[derive(Debug, Clone)]
pub struct Adapter<S> {
    service: S,
    options: Options,
}

impl<S> Adapter<S> {
    /// An adapter for `service`, keeping the stage prefix in paths.
    pub fn new(service: S) -> Self {
        Adapter {
            service,
            options: Options::default(),
        }
    }

    /// Whether to remove the API Gateway stage from request paths (default `false`).
    pub fn strip_stage_prefix(mut self, strip: bool) -> Self {
        self.options.strip_stage_prefix = strip;
        self
    }
}

/// The future of one adapted invocation.
pub type AdapterFuture = Pin<Box<dyn Future<Output = Result<LambdaResponse, Diagnostic>>>>;

impl<S, R> Service<LambdaEvent<LambdaRequest>> for Adapter<S>
where
    S: Service<Request, Response = R>,
    S::Error: Into<Diagnostic>,
    S::Future: 'static,
    R: IntoResponse,
    R::Body: 'static,
    <R::Body as http_body::Body>::Error: Into<Error>,
{
    type Response = LambdaResponse;
    type Error = Diagnostic;
    type Future = AdapterFuture;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Diagnostic>> {
        self.service.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, event: LambdaEvent<LambdaRequest>) -> AdapterFuture {
        let LambdaEvent { payload, context } = event;
        let format = payload.format();
        let multi_value = payload.uses_multi_value_headers();
        let request = match payload.into_http(self.options, context) {
            Ok(request) => request,
            Err(diagnostic) => return Box::pin(std::future::ready(Err(diagnostic))),
        };
        let future = self.service.call(request);
        Box::pin(async move {
            let response = future.await.map_err(Into::into)?.into_response();
            let (parts, body) = response.into_parts();
            let body = body
                .collect()
                .await
                .map_err(|e| Diagnostic::from(e.into()))?
                .to_bytes();
            LambdaResponse::new(format, multi_value, parts.status, &parts.headers, &body)
        })
    }
}
