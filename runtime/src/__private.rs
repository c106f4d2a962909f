//! Support code for the `#[handler]` macro. Not a public API: it may change at any time.

use std::{cell::Cell, future::Future};

pub use tokio;

use crate::{diagnostic::Diagnostic, response::IntoFunctionResponse};

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
