//! Support code for the `#[handler]` macro. Not a public API: it may change at any time.

use std::{
    cell::Cell,
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context as TaskContext, Poll},
};

pub use tokio;

use serde::de::DeserializeOwned;
use tower::Service;

use crate::{
    context::LambdaEvent,
    diagnostic::Diagnostic,
    invocation::{self, Codec},
    response::{IntoFunctionResponse, ResponseBody},
    runtime::{self, SingleLoop},
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

/// `multi_thread_runtime()` for `#[handler(flavor = "multi_thread")]`, or without the
/// `multi-thread` feature a compile error that names it.
#[cfg(feature = "multi-thread")]
#[doc(hidden)]
#[macro_export]
macro_rules! __multi_thread_runtime {
    () => {
        $crate::__private::multi_thread_runtime()
    };
}

/// `multi_thread_runtime()` for `#[handler(flavor = "multi_thread")]`, or without the
/// `multi-thread` feature a compile error that names it.
#[cfg(not(feature = "multi-thread"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __multi_thread_runtime {
    () => {
        ::core::compile_error!(
            "#[handler(flavor = \"multi_thread\")] needs the `multi-thread` feature of \
             firebox-runtime: `firebox-runtime = { ..., features = [\"multi-thread\"] }`"
        )
    };
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
/// `Into<Diagnostic>` when the error has it, else [`Diagnostic::from_typed_error`] (for
/// `std::error::Error` types).
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

/// Fallback conversion for `std::error::Error` types: [`Diagnostic::from_typed_error`], named as
/// the same error boxed would be.
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

/// How the handler's event type is read: asked for with the type written in the handler's
/// signature, so a type that is not `DeserializeOwned` is reported there, once.
pub struct EventType<A>(fn(&[u8]) -> Result<A, Diagnostic>);

/// The [`EventType`] of `A`.
pub fn event_type<A: DeserializeOwned>() -> EventType<A> {
    EventType(invocation::deserialize::<A>)
}

/// How the handler's success value is posted: asked for with the type written in the handler's
/// signature, so a type that cannot be posted is reported there, once.
pub struct ResponseType<R>(fn(R) -> Result<ResponseBody, Diagnostic>);

/// The [`ResponseType`] of `R`.
pub fn response_type<R: IntoFunctionResponse>() -> ResponseType<R> {
    ResponseType(R::into_function_response)
}

/// The success type of a handler's `Result<R, E>` (or of an alias of it, such as
/// `anyhow::Result<R>`), named without knowing how the signature spells it.
#[diagnostic::on_unimplemented(
    message = "a #[handler] function must return `Result<R, E>`, not `{Self}`",
    label = "not a `Result`"
)]
pub trait HandlerResult {
    /// `R`.
    type Ok;
}

impl<R, E> HandlerResult for Result<R, E> {
    type Ok = R;
}

/// The output of a `#[handler(init = ...)]` function: a `Result` of the state.
#[diagnostic::on_unimplemented(
    message = "an `init` function must return `Result<S, E>` (the state, or why Init failed), not `{Self}`",
    label = "`init` returns `{Self}`"
)]
pub trait InitResult {
    /// `S`.
    type State;
    /// `E`.
    type Error;
    /// The result.
    fn into_result(self) -> Result<Self::State, Self::Error>;
}

impl<S, E> InitResult for Result<S, E> {
    type State = S;
    type Error = E;
    fn into_result(self) -> Result<S, E> {
        self
    }
}

/// `init`'s output, taken as a `Result` (see [`InitResult`]).
pub fn init_result<T: InitResult>(output: T) -> Result<T::State, T::Error> {
    output.into_result()
}

/// The `#[handler]` service: calls `call`, a function the macro writes (not a closure), with the
/// event and the `init` state (`()` without `init`).
///
/// Whether a handler can be served by several loops is decided when the generated `main` is
/// type-checked, by whether this service and its future are `Send`. For that answer to be
/// definite, neither may be a closure or an async block of `main`'s body: the compiler only
/// learns what those capture and hold after it has finished with `main`, so their `Send` check
/// would be an error rather than a reason to fall back to one loop.
pub struct HandlerService<F, St> {
    call: F,
    state: Arc<St>,
}

impl<F, St> HandlerService<F, St> {
    /// The service of `call` over `state`.
    pub fn new(call: F, state: Arc<St>) -> Self {
        HandlerService { call, state }
    }
}

impl<F: Clone, St> Clone for HandlerService<F, St> {
    fn clone(&self) -> Self {
        HandlerService {
            call: self.call.clone(),
            state: Arc::clone(&self.state),
        }
    }
}

impl<F, St, A, Fut, R> Service<LambdaEvent<A>> for HandlerService<F, St>
where
    F: Fn(LambdaEvent<A>, Arc<St>) -> Fut,
    Fut: Future<Output = Result<R, Diagnostic>>,
{
    type Response = R;
    type Error = Diagnostic;
    type Future = Fut;

    fn poll_ready(&mut self, _cx: &mut TaskContext<'_>) -> Poll<Result<(), Diagnostic>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, event: LambdaEvent<A>) -> Fut {
        (self.call)(event, Arc::clone(&self.state))
    }
}

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

/// A started runtime and the `#[handler]` service for events of type `A` and responses of type
/// `R`. The method [`ServeConcurrent::launch`] is picked when the service can be shared between
/// invocation loops (`Clone + Send`, `Send` future); else [`ServeOneAtATime::launch`]. Neither
/// asks anything of `A` and `R` beyond `Send` for the first: their codec was checked when
/// [`event_type`] and [`response_type`] were called, so a wrong type gives that one error, not
/// also "no method `launch`".
pub struct Launch<S, A, R> {
    parts: Cell<Option<Parts<S, A, R>>>,
}

/// What [`Launch`] holds until launch.
type Parts<S, A, R> = (Started, S, Codec<A, R>);

impl<S, A, R> Launch<S, A, R> {
    /// Holds the parts until launch.
    pub fn new(
        started: Started,
        service: S,
        event: EventType<A>,
        response: ResponseType<R>,
    ) -> Self {
        Launch {
            parts: Cell::new(Some((
                started,
                service,
                Codec::from_parts(event.0, response.0),
            ))),
        }
    }

    fn take(&self) -> Option<Parts<S, A, R>> {
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

impl<S, A, R> ServeConcurrent for Launch<S, A, R>
where
    S: Service<LambdaEvent<A>, Response = R> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: Into<Diagnostic> + Send,
    A: Send + 'static,
    R: Send + 'static,
{
    fn launch(&self) -> Serving {
        match self.take() {
            Some((started, service, codec)) => {
                Box::pin(
                    async move { Ok(runtime::serve_concurrent(started.0, service, codec).await?) },
                )
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

impl<S, A, R> ServeOneAtATime for &Launch<S, A, R>
where
    S: Service<LambdaEvent<A>, Response = R> + 'static,
    S::Error: Into<Diagnostic>,
    A: 'static,
    R: 'static,
{
    fn launch(&self) -> Serving {
        match self.take() {
            Some((started, service, codec)) => Box::pin(async move {
                Ok(runtime::serve(started.0, service, codec, SingleLoop::Handler).await?)
            }),
            None => launched_twice(),
        }
    }
}
