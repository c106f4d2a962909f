//! The Firebox Lambda runtime: a Runtime API client and handler surface for `bootstrap`
//! binaries that run unchanged on AWS Lambda (`provided.al2023`) and under any Runtime API
//! server.
//!
//! The API mirrors `lambda_runtime` 1.x: code written for it compiles against this crate with
//! only the crate name changed.
//!
//! ```no_run
//! use firebox_runtime::{run, service_fn, Error, LambdaEvent};
//! use serde_json::{json, Value};
//!
//! async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
//!     Ok(json!({ "echo": event.payload, "requestId": event.context.request_id }))
//! }
//!
//! #[tokio::main(flavor = "current_thread")]
//! async fn main() -> Result<(), Error> {
//!     run(service_fn(handler)).await
//! }
//! ```
//!
//! Or with the attribute macro, which also writes `main`:
//!
//! ```no_run
//! use firebox_runtime::{handler, Context, Error};
//! use serde_json::{json, Value};
//!
//! #[handler]
//! async fn hello(event: Value, ctx: Context) -> Result<Value, Error> {
//!     Ok(json!({ "got": event, "requestId": ctx.request_id }))
//! }
//! ```
//!
//! # Cargo features
//!
//! | feature | what it adds |
//! |---|---|
//! | `macros` (default) | `#[handler]` |
//! | `tokio-compat` (default) | tokio's `rt-multi-thread`, `macros` and `io-util`, which `lambda_runtime` turns on and ported functions rely on |
//! | `multi-thread` | a multi-thread tokio runtime for `#[handler]` |
//! | `http` | the HTTP adapter, module `http` (`run` for `http::Request` handlers, API Gateway, ALB and function URL events) |
//! | `graceful-shutdown` | `spawn_graceful_shutdown_handler`: a hook that runs on `SIGTERM` |
//! | `anyhow`, `eyre`, `miette` | `From` and `IntoDiagnostic` for those crates' errors |
//! | `tracing`, `concurrency-tokio` | accepted for `lambda_runtime` manifests; they change nothing |

#![cfg_attr(docsrs, feature(doc_cfg))]
mod client;
mod config;
mod context;
pub mod diagnostic;
mod invocation;
mod logging;
mod response;
mod runtime;
#[cfg(all(unix, feature = "graceful-shutdown"))]
mod shutdown;
pub mod streaming;

#[doc(hidden)]
pub mod __private;

#[cfg(feature = "http")]
pub mod http;

use std::future::Future;

pub use client::ApiError;
pub use config::{
    Config, ConfigError, ConfigLoadError, LogFormat, RefConfig, RetryPolicy, RuntimeApiEndpoint,
    RuntimeConfig,
};
pub use context::{
    ClientApplication, ClientContext, CognitoIdentity, Context, ContextError, LambdaEvent,
};
pub use diagnostic::{short_type_name, Diagnostic, IntoDiagnostic};
#[cfg(feature = "macros")]
pub use firebox_macros::handler;
pub use invocation::{INVALID_INVOCATION, UNMARSHAL_ERROR};
pub use response::{FunctionResponse, IntoFunctionResponse, ResponseBody, MARSHAL_ERROR};
pub use runtime::{
    run_with_init, run_with_init_concurrent, Runtime, RuntimeError, INVALID_ENVIRONMENT,
};
#[cfg(all(unix, feature = "graceful-shutdown"))]
pub use shutdown::{
    spawn_graceful_shutdown_handler, GracefulShutdownError, GRACEFUL_SHUTDOWN_EXTENSION,
};
pub use streaming::{MetadataPrelude, StreamResponse};
pub use tower::{self, service_fn, Service};

/// The error type handlers usually return: any error, boxed.
pub type Error = Box<dyn std::error::Error + Send + Sync + 'static>;

/// `tracing`, re-exported, plus the runtime's subscriber set-up (as `lambda_runtime::tracing`).
pub mod tracing {
    pub use crate::logging::{
        init_default_subscriber, init_default_subscriber_with_writer, init_subscriber, MakeWriter,
    };
    pub use ::tracing::*;
}

/// Starts the runtime with `handler` and serves invocations, one at a time, until the Runtime
/// API fails or asks the runtime to exit; then returns the error (so `main` exits non-zero).
///
/// `handler` is any tower service taking [`LambdaEvent<T>`] (usually [`service_fn`] over an
/// `async fn`); its response is `Serialize`, a [`StreamResponse`] or a [`FunctionResponse`]
/// (see [`IntoFunctionResponse`]), and its error converts into [`Diagnostic`]. The handler need
/// not be `Send` or `Clone`.
///
/// With `AWS_LAMBDA_MAX_CONCURRENCY` above 1, Init fails with `Runtime.InvalidEnvironment`:
/// use [`run_concurrent`].
pub async fn run<A, F, R>(handler: F) -> Result<(), Error>
where
    F: Service<LambdaEvent<A>, Response = R>,
    F::Future: Future<Output = Result<R, F::Error>>,
    F::Error: Into<Diagnostic>,
    A: serde::de::DeserializeOwned,
    R: IntoFunctionResponse,
{
    Runtime::new(handler).run().await
}

/// Starts the runtime with a shareable `handler`: with `AWS_LAMBDA_MAX_CONCURRENCY=N` above 1
/// (Lambda Managed Instances), N invocations are served at once in this process, each loop with
/// its own Runtime API connection and clone of `handler`; without it, this is [`run`].
///
/// Each invocation keeps its own [`Context`] and tracing span; an error or panic in one is
/// reported for that invocation only.
///
/// ```no_run
/// use firebox_runtime::{run_concurrent, service_fn, Error, LambdaEvent};
/// use serde_json::Value;
///
/// #[tokio::main]
/// async fn main() -> Result<(), Error> {
///     run_concurrent(service_fn(|event: LambdaEvent<Value>| async move {
///         Ok::<_, Error>(event.payload)
///     }))
///     .await
/// }
/// ```
pub async fn run_concurrent<A, F, R>(handler: F) -> Result<(), Error>
where
    F: Service<LambdaEvent<A>, Response = R> + Clone + Send + 'static,
    F::Future: Future<Output = Result<R, F::Error>> + Send,
    F::Error: Into<Diagnostic> + Send,
    A: serde::de::DeserializeOwned + Send + 'static,
    R: IntoFunctionResponse + Send + 'static,
{
    Runtime::new(handler).run_concurrent().await
}
