//! `#[handler]` forms that the examples do not use compile: `Arc<S>` state, explicit flavors,
//! typed errors with and without a `Diagnostic` conversion, a `Result` alias. (The generated
//! `main`s run in the example-process tests and `handler_loops.rs`.)

#![allow(dead_code)]

use firebox_runtime::Diagnostic;

mod arc_state {
    use std::sync::Arc;

    use firebox_runtime::{handler, Context, Error};

    pub struct State(pub u32);

    async fn build() -> Result<State, std::io::Error> {
        Ok(State(1))
    }

    #[handler(init = build, flavor = "current_thread")]
    async fn with_arc(
        _event: serde_json::Value,
        _ctx: Context,
        state: Arc<State>,
    ) -> Result<u32, Error> {
        Ok(state.0)
    }
}

mod typed_errors {
    use firebox_runtime::{handler, Context, Diagnostic};

    #[derive(Debug)]
    pub struct Chosen;

    impl From<Chosen> for Diagnostic {
        fn from(_: Chosen) -> Self {
            Diagnostic::new("Chosen", "chosen by the user")
        }
    }

    #[handler]
    async fn chooses(_event: (), _ctx: Context) -> Result<(), Chosen> {
        Err(Chosen)
    }
}

/// A `Result` alias with one argument, as `anyhow::Result<T>`.
mod result_alias {
    use firebox_runtime::{handler, Context, Error};

    type Result<T, E = Error> = std::result::Result<T, E>;

    #[handler]
    async fn aliased(event: String, _ctx: Context) -> Result<String> {
        Ok(event)
    }
}

#[cfg(feature = "multi-thread")]
mod multi_thread {
    use firebox_runtime::{handler, Context, Error};

    #[handler(flavor = "multi_thread")]
    async fn threaded(event: String, _ctx: Context) -> Result<String, Error> {
        Ok(event)
    }
}

#[test]
#[allow(clippy::needless_borrow)] // the borrow is what picks the conversion
fn error_probe_prefers_the_users_conversion() {
    use firebox_runtime::__private::{ErrorProbe, ViaError as _, ViaInto as _};

    let probe = ErrorProbe::new(typed_errors::Chosen);
    assert_eq!(
        (&probe).take_diagnostic(),
        Diagnostic::new("Chosen", "chosen by the user")
    );

    #[derive(Debug, thiserror::Error)]
    #[error("stock is empty")]
    struct OutOfStock;
    let probe = ErrorProbe::new(OutOfStock);
    assert_eq!(
        (&probe).take_diagnostic(),
        Diagnostic::new("OutOfStock", "stock is empty")
    );
}

#[test]
#[allow(clippy::needless_borrow)] // the borrow is what picks the conversion
fn a_typed_error_is_named_as_the_same_error_boxed() {
    // Both, as the macro imports them.
    #[allow(unused_imports)]
    use firebox_runtime::__private::{ErrorProbe, ViaError as _, ViaInto as _};

    #[derive(Debug, thiserror::Error)]
    enum OrderError {
        #[error("order {0} not found")]
        NotFound(u32),
    }
    // `Result<_, OrderError>` returned as it is, and `Err(OrderError::NotFound(7))?` in a
    // handler returning `Result<_, Error>`.
    let probe = ErrorProbe::new(OrderError::NotFound(7));
    let typed = (&probe).take_diagnostic();
    let boxed: firebox_runtime::Error = Box::new(OrderError::NotFound(7));
    assert_eq!(typed, Diagnostic::from(boxed));
    assert_eq!(typed, Diagnostic::new("NotFound", "order 7 not found"));
}
