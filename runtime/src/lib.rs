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

mod client;
mod config;
mod context;
mod diagnostic;
mod invocation;
mod logging;
mod response;
mod runtime;

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
pub use diagnostic::{short_type_name, Diagnostic};
pub use firebox_macros::handler;
pub use invocation::{INVALID_INVOCATION, UNMARSHAL_ERROR};
pub use response::{FunctionResponse, IntoFunctionResponse, MARSHAL_ERROR};
pub use runtime::{run_with_init, Runtime, RuntimeError, INVALID_ENVIRONMENT};
pub use tower::{self, service_fn, Service};

/// The error type handlers usually return: any error, boxed.
pub type Error = Box<dyn std::error::Error + Send + Sync + 'static>;

/// `tracing`, re-exported, plus the runtime's subscriber set-up (as `lambda_runtime::tracing`).
pub mod tracing {
    pub use crate::logging::{init_default_subscriber, init_subscriber};
    pub use ::tracing::*;
}

/// Starts the runtime with `handler` and serves invocations until the Runtime API fails or
/// asks the runtime to exit; then returns the error (so `main` exits non-zero).
///
/// `handler` is any tower service taking [`LambdaEvent<T>`] (usually [`service_fn`] over an
/// `async fn`); its response must be `Serialize` and its error convert into [`Diagnostic`].
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
