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
//! Or with a `service_fn`, written as for `lambda_http`: this module has `lambda_http`'s names
//! (`run`, `service_fn`, `Request`, `IntoResponse`, `RequestExt`, `http`, `tower`, `tracing`,
//! `lambda_runtime`...), so such code compiles with the import changed to
//! `use firebox_runtime::http as lambda_http;`:
//!
//! ```no_run
//! use firebox_runtime::http as lambda_http;
//! use lambda_http::{run, service_fn, Error, IntoResponse, Request, RequestExt};
//!
//! async fn handler(request: Request) -> Result<impl IntoResponse, Error> {
//!     let who = request
//!         .query_string_parameters_ref()
//!         .and_then(|params| params.first("name"))
//!         .unwrap_or("world");
//!     Ok(format!("Hello, {who}!").into_response().await)
//! }
//!
//! # async fn doc() -> Result<(), Error> {
//! run(service_fn(handler)).await
//! # }
//! ```
//!
//! How events are recognised is described in [`LambdaRequest`]'s module (one pass over the
//! payload, keyed on `requestContext.elb`, `version`/`requestContext.http` and `httpMethod`);
//! how requests and their URI are built, including the API Gateway stage prefix, in
//! [`Adapter`]; how responses are written in [`LambdaResponse`].

mod adapter;
mod body;
mod collect;
mod convert;
mod event;
pub mod ext;
mod lambda_response;
pub mod request;
mod response;
mod streaming;
mod uri;

pub use self::adapter::{Adapter, AdapterFuture};
pub use self::body::Body;
pub use self::event::{EventFormat, LambdaRequest, RequestContext};
pub use self::ext::{
    FormUrlEncodedPayloadError, JsonPayloadError, PayloadError, RequestExt, RequestPayloadExt,
};
pub use self::lambda_response::LambdaResponse;
pub use self::response::{IntoResponse, ResponseFuture};
pub use self::streaming::{
    run_with_streaming_response, run_with_streaming_response_concurrent, streaming_runtime,
    streaming_runtime_concurrent, StreamAdapter, StreamingAdapter, StreamingFuture,
};
/// The runtime crate itself, under the name `lambda_http` re-exports it with
/// (`lambda_http::lambda_runtime::Runtime`).
pub use crate as lambda_runtime;
pub use crate::{service_fn, tower, tracing, Context, Diagnostic, Error, LambdaEvent, Service};
pub use ::http::{self, Response, StatusCode};
pub use aws_lambda_events;

use crate::Runtime;

/// The request type services receive: an `http::Request` with a [`Body`].
pub type Request = ::http::Request<Body>;

/// The environment variable (from `lambda_http`) that makes the adapters strip the stage prefix
/// (read when an adapter is made; see [`Adapter::strip_stage_prefix`]).
pub const IGNORE_STAGE_IN_PATH: &str = "AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH";

/// Runs `service` as a Lambda function that answers HTTP events, until the Runtime API fails.
///
/// `service` is any tower service taking [`Request`] and answering something that is
/// [`IntoResponse`] (any `http::Response<B>`, a `String`, `serde_json::Value`, a
/// `(StatusCode, _)` pair, an `impl IntoResponse`...): an axum `Router`, a [`service_fn`], a
/// tower stack. Its errors become function errors. Events of another kind fail with
/// `Runtime.UnmarshalError`. As with [`crate::run`], the service and its future need not be
/// `Send` or `'static`, so a closure may borrow from `main`.
///
/// When the environment variable `AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH` is set (to anything),
/// the API Gateway stage is stripped from request paths; see [`Adapter::strip_stage_prefix`].
/// With `AWS_LAMBDA_MAX_CONCURRENCY` above 1, Init fails with `Runtime.InvalidEnvironment`
/// (`lambda_http` logs a warning and serves one at a time): use [`run_concurrent`].
pub async fn run<S, R>(service: S) -> Result<(), Error>
where
    S: Service<Request, Response = R>,
    S::Error: Into<Diagnostic>,
    R: IntoResponse,
{
    runtime(service).run().await
}

/// [`run`] for a shareable service: with `AWS_LAMBDA_MAX_CONCURRENCY=N` above 1 (Lambda
/// Managed Instances), serves N invocations at once, each loop with its own clone of
/// `service`, as [`crate::run_concurrent`]; without it, one at a time.
///
/// `lambda_http` has it behind its `concurrency-tokio` feature; here it is always available.
pub async fn run_concurrent<S, R>(service: S) -> Result<(), Error>
where
    S: Service<Request, Response = R> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: Into<Diagnostic> + Send,
    R: IntoResponse,
{
    runtime_concurrent(service).run_concurrent().await
}

/// The [`Runtime`] [`run`] runs, not yet started: add layers or a configuration, then call
/// [`Runtime::run`] (or [`Runtime::run_concurrent`]). As `lambda_http::runtime`.
pub fn runtime<S>(service: S) -> Runtime<Adapter<S>> {
    Runtime::new(Adapter::new(service))
}

/// [`runtime`] for a shareable service, to start with [`Runtime::run_concurrent`]
/// (`lambda_http::runtime_concurrent`). The same runtime as [`runtime`]; the bounds only check
/// early that the service can be shared.
pub fn runtime_concurrent<S>(service: S) -> Runtime<Adapter<S>>
where
    S: Service<Request> + Clone + Send + 'static,
    S::Future: Send,
{
    runtime(service)
}
