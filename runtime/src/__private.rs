//! Support code for the `#[handler]` macro. Not a public API: it may change at any time.

use std::{cell::Cell, future::Future, marker::PhantomData, pin::Pin, sync::Arc};

pub use tokio;

use serde::de::DeserializeOwned;
use tower::Service;

use crate::{
    context::LambdaEvent, diagnostic::Diagnostic, response::IntoFunctionResponse, runtime,
};

/// The tokio runtime `#[handler]` uses by default: current-thread, or multi-thread when the
/// `multi-thread` feature is on.
pub fn default_runtime() -> tokio::runtime::Runtime {
    #[cfg(feature = "multi-thread")]
    {
        multi_thread_runtime()
    }
    #[cfg(not(feature = "multi-thread"))]
    {
        current_thread_runtime()
    }
}

/// A current-thread tokio runtime with I/O and timers.
pub fn current_thread_runtime() -> tokio::runtime::Runtime {
    finish(
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
    )
}

/// A multi-thread tokio runtime with I/O and timers (`#[handler(flavor = "multi_thread")]`).
#[cfg(feature = "multi-thread")]
pub fn multi_thread_runtime() -> tokio::runtime::Runtime {
    finish(
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build(),
    )
}

fn finish(built: std::io::Result<tokio::runtime::Runtime>) -> tokio::runtime::Runtime {
    match built {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("firebox-runtime: cannot start the tokio runtime: {error}");
            std::process::exit(1)
        }
    }
}

/// Runs the generated `main`'s future and exits: status 1 when the runtime stopped with an
/// error (it never stops otherwise).
pub fn main(
    runtime: tokio::runtime::Runtime,
    future: impl Future<Output = Result<(), crate::Error>>,
) -> ! {
    match runtime.block_on(future) {
        Ok(()) => std::process::exit(0),
        Err(error) => {
            eprintln!("firebox-runtime: {error}");
            std::process::exit(1)
        }
    }
}

/// Holds a handler's error while the macro picks its conversion into [`Diagnostic`]:
/// `Into<Diagnostic>` when the error has it, else its type name (for `std::error::Error` types).
pub struct ErrorProbe<E>(Cell<Option<E>>);

impl<E> ErrorProbe<E> {
    /// Wraps an error.
    pub fn new(error: E) -> Self {
        ErrorProbe(Cell::new(Some(error)))
    }
}

/// Preferred conversion: the error's own `Into<Diagnostic>`.
pub trait ViaInto {
    /// Converts the held error.
    fn take_diagnostic(&self) -> Diagnostic;
}

impl<E: Into<Diagnostic>> ViaInto for ErrorProbe<E> {
    fn take_diagnostic(&self) -> Diagnostic {
        match self.0.take() {
            Some(error) => error.into(),
            // The probe is built and converted once by the generated code.
            None => Diagnostic::new("Error", "error already reported"),
        }
    }
}

/// Fallback conversion for `std::error::Error` types: type name without module path.
pub trait ViaError {
    /// Converts the held error.
    fn take_diagnostic(&self) -> Diagnostic;
}

impl<E: std::error::Error> ViaError for &ErrorProbe<E> {
    fn take_diagnostic(&self) -> Diagnostic {
        match self.0.take() {
            Some(error) => Diagnostic::from_typed_error(&error),
            // The probe is built and converted once by the generated code.
            None => Diagnostic::new("Error", "error already reported"),
        }
    }
}

/// Compile-time check that a handler's success type can be posted.
pub fn assert_response<R: IntoFunctionResponse>() {}

/// Compile-time check that an event type can be deserialized.
pub fn assert_event<T: serde::de::DeserializeOwned>() {}

/// A runtime past configuration (and `init`, if any), waiting for its service.
pub struct Started(runtime::Started);

/// Reads the configuration from the environment and sets up logging.
pub async fn start() -> Result<Started, crate::Error> {
    Ok(Started(runtime::start(None).await?))
}

/// [`start`], then runs `init`; its error or panic is posted to `/runtime/init/error`.
pub async fn start_with_init<St, IE, InitFut>(
    init: impl FnOnce() -> InitFut,
) -> Result<(Started, Arc<St>), crate::Error>
where
    InitFut: Future<Output = Result<St, IE>>,
    IE: Into<Diagnostic>,
{
    let (started, state) = runtime::initialize(None, init, |state| state).await?;
    Ok((Started(started), state))
}

type Serving = Pin<Box<dyn Future<Output = Result<(), crate::Error>>>>;

/// A started runtime and the `#[handler]` service for events of type `A`. The method
/// [`ServeConcurrent::launch`] is picked when the service can be shared between invocation
/// loops (`Clone + Send`, `Send` future); else [`ServeOneAtATime::launch`].
pub struct Launch<S, A> {
    parts: Cell<Option<(Started, S)>>,
    event: PhantomData<fn(A)>,
}

impl<S, A> Launch<S, A> {
    /// Holds the parts until launch.
    pub fn new(started: Started, service: S) -> Self {
        Launch {
            parts: Cell::new(Some((started, service))),
            event: PhantomData,
        }
    }

    fn take(&self) -> Option<(Started, S)> {
        self.parts.take()
    }
}

fn launched_twice() -> Serving {
    Box::pin(async { Err("the runtime was launched twice".into()) })
}

/// Preferred: serves up to `AWS_LAMBDA_MAX_CONCURRENCY` invocations at once.
pub trait ServeConcurrent {
    /// Serves until the Runtime API stops the runtime.
    fn launch(&self) -> Serving;
}

impl<S, A> ServeConcurrent for Launch<S, A>
where
    S: Service<LambdaEvent<A>> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: Into<Diagnostic> + Send,
    S::Response: IntoFunctionResponse + Send + 'static,
    A: DeserializeOwned + Send + 'static,
{
    fn launch(&self) -> Serving {
        match self.take() {
            Some((started, service)) => {
                Box::pin(async move { Ok(runtime::serve_concurrent(started.0, service).await?) })
            }
            None => launched_twice(),
        }
    }
}

/// Fallback: one invocation at a time (Init fails if `AWS_LAMBDA_MAX_CONCURRENCY` is above 1).
pub trait ServeOneAtATime {
    /// Serves until the Runtime API stops the runtime.
    fn launch(&self) -> Serving;
}

impl<S, A> ServeOneAtATime for &Launch<S, A>
where
    S: Service<LambdaEvent<A>> + 'static,
    S::Error: Into<Diagnostic>,
    S::Response: IntoFunctionResponse,
    A: DeserializeOwned + 'static,
{
    fn launch(&self) -> Serving {
        match self.take() {
            Some((started, service)) => {
                Box::pin(async move { Ok(runtime::serve(started.0, service).await?) })
            }
            None => launched_twice(),
        }
    }
}
