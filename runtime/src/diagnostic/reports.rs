//! [`Diagnostic`]s of the error-report crates `anyhow`, `eyre` and `miette` (features of the
//! same names, as in `lambda_runtime`), so a handler can return `anyhow::Result<T>` as it is.
//!
//! A report is named after its root cause (the error it was made from, under any `context`),
//! by the same `Debug` rule as a boxed error, or `Error` for a report made from a message; a
//! `miette` diagnostic with a `code()` is named after that code. The message is the report's
//! alternate `Display` (`{:#}`), which for `anyhow` and `eyre` includes the causes:
//! `reading config.toml: No such file or directory (os error 2)`.

#[cfg(any(feature = "anyhow", feature = "eyre"))]
use super::type_name_from_debug;
use super::{Diagnostic, IntoDiagnostic};

/// The `errorType` of a report whose root cause is `root`.
#[cfg(any(feature = "anyhow", feature = "eyre"))]
fn root_type(root: &(dyn std::error::Error + 'static)) -> String {
    type_name_from_debug(root).unwrap_or_else(|| "Error".to_owned())
}

#[cfg(feature = "anyhow")]
impl From<anyhow::Error> for Diagnostic {
    fn from(error: anyhow::Error) -> Self {
        Diagnostic::new(root_type(error.root_cause()), format!("{error:#}"))
    }
}

#[cfg(feature = "anyhow")]
impl IntoDiagnostic for anyhow::Error {
    fn into_diagnostic(self) -> Diagnostic {
        self.into()
    }
}

#[cfg(feature = "eyre")]
impl From<eyre::Report> for Diagnostic {
    fn from(error: eyre::Report) -> Self {
        Diagnostic::new(root_type(error.root_cause()), format!("{error:#}"))
    }
}

#[cfg(feature = "eyre")]
impl IntoDiagnostic for eyre::Report {
    fn into_diagnostic(self) -> Diagnostic {
        self.into()
    }
}

#[cfg(feature = "miette")]
impl From<miette::Report> for Diagnostic {
    fn from(error: miette::Report) -> Self {
        let root = error.root_cause();
        let error_type = match error.code() {
            Some(code) => code.to_string(),
            // What `miette!("...")` builds: a message, not a type of the user's.
            None if root.is::<miette::MietteDiagnostic>() => "Error".to_owned(),
            None => miette_wrapped_type(root),
        };
        Diagnostic::new(error_type, format!("{error:#}"))
    }
}

/// `miette`'s `IntoDiagnostic` and `Report::from_err` wrap a plain error in a private
/// `DiagnosticError(inner)`: the name is the inner error's.
#[cfg(feature = "miette")]
fn miette_wrapped_type(root: &(dyn std::error::Error + 'static)) -> String {
    let debug = format!("{root:?}");
    let inner = debug
        .strip_prefix("DiagnosticError(")
        .and_then(|rest| rest.strip_suffix(')'))
        .unwrap_or(&debug);
    // The wrapped error cannot be downcast; `std::io::Error`'s `Debug` shapes are known.
    let io_error = ["Os {", "Custom {", "Kind("]
        .iter()
        .any(|shape| inner.starts_with(shape));
    match super::type_name_of_debug(inner) {
        Some(name) if !io_error => name.to_owned(),
        _ => "Error".to_owned(),
    }
}

#[cfg(feature = "miette")]
impl IntoDiagnostic for miette::Report {
    fn into_diagnostic(self) -> Diagnostic {
        self.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct OrderNotFound;
    impl std::fmt::Display for OrderNotFound {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("no such order")
        }
    }
    impl std::error::Error for OrderNotFound {}

    #[cfg(feature = "anyhow")]
    #[test]
    fn anyhow_errors_are_named_after_their_root_cause() {
        use anyhow::Context as _;
        let message = anyhow::anyhow!("This is an error message");
        assert_eq!(
            Diagnostic::from(message),
            Diagnostic::new("Error", "This is an error message")
        );
        let one_word = anyhow::anyhow!("Timeout");
        assert_eq!(Diagnostic::from(one_word).error_type, "Error");
        let typed = Err::<(), _>(OrderNotFound).context("Reading order 7 failed");
        assert_eq!(
            typed.unwrap_err().into_diagnostic(),
            Diagnostic::new("OrderNotFound", "Reading order 7 failed: no such order")
        );
        let io = Err::<(), _>(std::io::Error::other("disk gone")).context("Reading the config");
        assert_eq!(
            Diagnostic::from(io.unwrap_err()),
            Diagnostic::new("Error", "Reading the config: disk gone")
        );
    }

    #[cfg(feature = "anyhow")]
    #[tokio::test]
    async fn an_anyhow_result_handler_is_a_handler() {
        // Compiles only if `anyhow::Error: Into<Diagnostic>`, as `run` requires.
        fn assert_handler<F, Fut>(_: F)
        where
            F: Fn(crate::LambdaEvent<()>) -> Fut,
            Fut: std::future::Future<Output = anyhow::Result<()>>,
            anyhow::Error: Into<Diagnostic>,
        {
        }
        assert_handler(|_event| async { anyhow::bail!("nope") });
    }

    #[cfg(feature = "eyre")]
    #[test]
    fn eyre_reports_are_named_after_their_root_cause() {
        use eyre::WrapErr as _;
        assert_eq!(
            Diagnostic::from(eyre::eyre!("This is an error message from Eyre")),
            Diagnostic::new("Error", "This is an error message from Eyre")
        );
        let typed = Err::<(), _>(OrderNotFound).wrap_err("Reading order 7 failed");
        assert_eq!(
            typed.unwrap_err().into_diagnostic(),
            Diagnostic::new("OrderNotFound", "Reading order 7 failed: no such order")
        );
    }

    #[cfg(feature = "miette")]
    #[test]
    fn miette_reports_are_named_after_their_code() {
        let plain = miette::miette!("This is an error message from Miette");
        assert_eq!(
            Diagnostic::from(plain).error_type,
            "Error",
            "no code, a message: Error"
        );
        let coded = miette::miette!(code = "orders::not_found", "order 7 is not there");
        assert_eq!(
            coded.into_diagnostic(),
            Diagnostic::new("orders::not_found", "order 7 is not there")
        );
        let typed = miette::Report::msg("wrapped").wrap_err("outer");
        assert_eq!(Diagnostic::from(typed).error_type, "Error");
        let from_error = miette::Report::from_err(OrderNotFound);
        assert_eq!(Diagnostic::from(from_error).error_type, "OrderNotFound");
        // miette's own `IntoDiagnostic`, the usual way a std error becomes a report.
        let io =
            miette::IntoDiagnostic::into_diagnostic(Err::<(), _>(std::io::Error::other("gone")));
        assert_eq!(
            Diagnostic::from(io.unwrap_err()),
            Diagnostic::new("Error", "gone"),
            "an I/O error's Debug is `Custom {{ .. }}`, its name `Error`"
        );
    }
}
