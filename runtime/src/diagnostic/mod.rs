//! [`Diagnostic`]: the `errorType` / `errorMessage` pair a function error is reported with, the
//! rules that give it a meaningful `errorType` by default, and [`IntoDiagnostic`] (as in
//! `lambda_runtime`) for error types this crate does not own.

use std::{any::Any, fmt};

#[cfg(any(feature = "anyhow", feature = "eyre", feature = "miette"))]
mod reports;

use serde::{Deserialize, Serialize};

/// A function error as Lambda reports it: `{"errorType": ..., "errorMessage": ...}`.
///
/// Same shape as `lambda_runtime::Diagnostic`. Handler errors become a `Diagnostic` through
/// `Into<Diagnostic>`; implement `From<YourError> for Diagnostic` to choose the `errorType`
/// yourself. Without such an impl, one rule names an error whether it is returned as its own
/// type (with `#[handler]`, or boxed as `Box<E>`) or boxed in [`crate::Error`]:
/// - the name its derived `Debug` output starts with: a struct's name (`OrderNotFound { .. }`
///   gives `OrderNotFound`), an enum variant's name (`OrderError::NotFound(7)` gives
///   `NotFound`). `std::io::Error` and errors built from strings give `Error`;
/// - when its `Debug` is not a type's (an `anyhow::Error` or `eyre::Report` boxed, whose `Debug`
///   is its message): for an error of a known type, that type's name without module path; for
///   a boxed one, its root cause's name, or `Error` when that one is not a type either;
/// - a `Diagnostic` boxed into an error (by a tower layer whose error is `BoxError`) is itself;
/// - with the features `anyhow`, `eyre` and `miette`, those crates' errors convert too (named
///   after their root cause; a `miette` diagnostic's `code()` when it has one);
/// - `errorMessage` is the error's `Display`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Diagnostic {
    /// The kind of error, e.g. `OrderNotFound` or `Runtime.UnmarshalError`.
    pub error_type: String,
    /// What went wrong, for people.
    pub error_message: String,
}

impl Diagnostic {
    /// A diagnostic with the given type and message.
    pub fn new(error_type: impl Into<String>, error_message: impl Into<String>) -> Self {
        Diagnostic {
            error_type: error_type.into(),
            error_message: error_message.into(),
        }
    }

    /// The diagnostic of a caught panic: `errorType` `Panic`, the panic message as `errorMessage`.
    pub fn from_panic(payload: &(dyn Any + Send)) -> Self {
        let message = if let Some(s) = payload.downcast_ref::<&'static str>() {
            (*s).to_owned()
        } else if let Some(s) = payload.downcast_ref::<String>() {
            s.clone()
        } else {
            "the handler panicked with a non-string payload".to_owned()
        };
        Diagnostic::new("Panic", message)
    }

    /// A diagnostic for any error value, named after its `Debug` output (see the type's docs).
    /// A boxed `Diagnostic` is returned as it is.
    pub fn from_dyn_error(error: &(dyn std::error::Error + 'static)) -> Self {
        if let Some(diagnostic) = error.downcast_ref::<Diagnostic>() {
            return diagnostic.clone();
        }
        Diagnostic::new(guess_error_type(error), error.to_string())
    }

    /// A diagnostic for an error of a known type: named after its `Debug` output as a boxed
    /// error is (so an enum error gets its variant's name either way), or after the type,
    /// without module path, when its `Debug` is not a type's.
    pub fn from_typed_error<E: std::error::Error>(error: &E) -> Self {
        let type_name = std::any::type_name::<E>();
        let error_type = if type_name == std::any::type_name::<std::io::Error>() {
            // Its `Debug` is `Os { .. }` or `Custom { .. }`, not its name.
            "Error".to_owned()
        } else {
            match type_name_of_debug(&format!("{error:?}")) {
                Some(name) => name.to_owned(),
                None => short_type_name(type_name),
            }
        };
        Diagnostic::new(error_type, error.to_string())
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.error_type, self.error_message)
    }
}

/// So that a `Diagnostic` can be boxed into [`crate::Error`] (by `?`, or by a tower layer whose
/// error is `BoxError`) and come out unchanged: see [`Diagnostic::from_dyn_error`].
impl std::error::Error for Diagnostic {}

/// Strips module paths from a type name: `my_fn::errors::OrderNotFound` gives `OrderNotFound`,
/// `alloc::vec::Vec<my_fn::Item>` gives `Vec<Item>`.
pub fn short_type_name(full: &str) -> String {
    let mut out = String::with_capacity(full.len());
    let mut segment_start = 0;
    let bytes = full.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b':' && bytes.get(i + 1) == Some(&b':') {
            // Drop the path segment written so far.
            out.truncate(segment_start);
            i += 2;
            continue;
        }
        let c = bytes[i];
        if !(c.is_ascii_alphanumeric() || c == b'_') {
            out.push(c as char);
            segment_start = out.len();
        } else {
            out.push(c as char);
        }
        i += 1;
    }
    out
}

/// The concrete type name of a type-erased error, read from its `Debug` output; for an error
/// whose `Debug` is not a type's (a boxed `anyhow::Error`: its message), its root cause's.
fn guess_error_type(error: &(dyn std::error::Error + 'static)) -> String {
    if let Some(name) = type_name_from_debug(error) {
        return name;
    }
    match root_cause(error) {
        Some(root) => type_name_from_debug(root).unwrap_or_else(|| "Error".to_owned()),
        None => "Error".to_owned(),
    }
}

/// The last error of `error`'s `source()` chain, when there is one beyond `error` itself.
pub(crate) fn root_cause<'a>(
    error: &'a (dyn std::error::Error + 'static),
) -> Option<&'a (dyn std::error::Error + 'static)> {
    // A chain is short; the bound only guards against a `source()` that loops.
    let mut root = error.source()?;
    for _ in 0..64 {
        match root.source() {
            Some(next) => root = next,
            None => break,
        }
    }
    Some(root)
}

/// The type name a derived `Debug` starts with: an identifier starting with an upper-case
/// letter, alone (a unit struct or variant), before `(` (a tuple) or before ` {` (a struct).
/// `std::io::Error` is `Error` (its `Debug` is `Os { .. }` or `Custom { .. }`, not its name).
pub(crate) fn type_name_from_debug(error: &(dyn std::error::Error + 'static)) -> Option<String> {
    if error.is::<std::io::Error>() {
        return Some("Error".to_owned());
    }
    if let Some(diagnostic) = error.downcast_ref::<Diagnostic>() {
        return Some(diagnostic.error_type.clone());
    }
    type_name_of_debug(&format!("{error:?}")).map(str::to_owned)
}

/// [`type_name_from_debug`] of a `Debug` output already written.
pub(crate) fn type_name_of_debug(debug: &str) -> Option<&str> {
    let ident_len = debug
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(debug.len());
    let (ident, rest) = debug.split_at(ident_len);
    let type_shaped = ident.starts_with(|c: char| c.is_ascii_uppercase())
        && (rest.is_empty() || rest.starts_with('(') || rest.starts_with(" {"));
    type_shaped.then_some(ident)
}

impl From<Box<dyn std::error::Error + Send + Sync>> for Diagnostic {
    fn from(error: Box<dyn std::error::Error + Send + Sync>) -> Self {
        Diagnostic::from_dyn_error(&*error)
    }
}

impl From<Box<dyn std::error::Error>> for Diagnostic {
    fn from(error: Box<dyn std::error::Error>) -> Self {
        Diagnostic::from_dyn_error(&*error)
    }
}

impl<T: std::error::Error> From<Box<T>> for Diagnostic {
    fn from(error: Box<T>) -> Self {
        Diagnostic::from_typed_error(&*error)
    }
}

impl From<String> for Diagnostic {
    fn from(message: String) -> Self {
        Diagnostic::new("Error", message)
    }
}

impl From<&'static str> for Diagnostic {
    fn from(message: &'static str) -> Self {
        Diagnostic::new("Error", message)
    }
}

impl From<std::io::Error> for Diagnostic {
    fn from(error: std::io::Error) -> Self {
        Diagnostic::from_typed_error(&error)
    }
}

impl From<std::convert::Infallible> for Diagnostic {
    fn from(never: std::convert::Infallible) -> Self {
        match never {}
    }
}

/// Converts an error into a [`Diagnostic`] by method call, as `lambda_runtime::IntoDiagnostic`
/// does: implement it for an error type of another crate (where `From<TheirError> for
/// Diagnostic` is not allowed), then `.map_err(IntoDiagnostic::into_diagnostic)` in the handler.
///
/// Implemented for every type that converts with `From` here (boxed errors, strings,
/// `std::io::Error`, and with the features `anyhow`, `eyre` and `miette`, their error types),
/// with the same `errorType` rules.
///
/// ```
/// use firebox_runtime::{Diagnostic, IntoDiagnostic, LambdaEvent};
///
/// struct Rejected(&'static str); // imagine it comes from another crate
///
/// impl IntoDiagnostic for Rejected {
///     fn into_diagnostic(self) -> Diagnostic {
///         Diagnostic::new("Rejected", self.0)
///     }
/// }
///
/// async fn handler(_event: LambdaEvent<()>) -> Result<(), Diagnostic> {
///     Err(Rejected("over the limit").into_diagnostic())
/// }
/// ```
pub trait IntoDiagnostic {
    /// The diagnostic this error is reported with.
    fn into_diagnostic(self) -> Diagnostic;
}

impl IntoDiagnostic for Diagnostic {
    fn into_diagnostic(self) -> Diagnostic {
        self
    }
}

impl IntoDiagnostic for Box<dyn std::error::Error + Send + Sync> {
    fn into_diagnostic(self) -> Diagnostic {
        self.into()
    }
}

impl IntoDiagnostic for Box<dyn std::error::Error> {
    fn into_diagnostic(self) -> Diagnostic {
        self.into()
    }
}

impl<T: std::error::Error> IntoDiagnostic for Box<T> {
    fn into_diagnostic(self) -> Diagnostic {
        self.into()
    }
}

impl IntoDiagnostic for String {
    fn into_diagnostic(self) -> Diagnostic {
        self.into()
    }
}

impl IntoDiagnostic for &'static str {
    fn into_diagnostic(self) -> Diagnostic {
        self.into()
    }
}

impl IntoDiagnostic for std::io::Error {
    fn into_diagnostic(self) -> Diagnostic {
        self.into()
    }
}

impl IntoDiagnostic for std::convert::Infallible {
    fn into_diagnostic(self) -> Diagnostic {
        match self {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct OrderNotFound {
        #[allow(dead_code)]
        id: u32,
    }
    impl fmt::Display for OrderNotFound {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("no such order")
        }
    }
    impl std::error::Error for OrderNotFound {}

    #[derive(Debug)]
    enum PaymentError {
        Declined(#[allow(dead_code)] String),
    }
    impl fmt::Display for PaymentError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("declined")
        }
    }
    impl std::error::Error for PaymentError {}

    #[test]
    fn boxed_errors_are_named_after_their_type() {
        let e: crate::Error = Box::new(OrderNotFound { id: 7 });
        assert_eq!(
            Diagnostic::from(e),
            Diagnostic::new("OrderNotFound", "no such order")
        );
        let e: crate::Error = Box::new(PaymentError::Declined("x".into()));
        assert_eq!(Diagnostic::from(e).error_type, "Declined");
        let e: crate::Error = "plain words".into();
        assert_eq!(Diagnostic::from(e), Diagnostic::new("Error", "plain words"));
        let e: crate::Error = std::io::Error::other("disk").into();
        assert_eq!(Diagnostic::from(e), Diagnostic::new("Error", "disk"));
        let e: crate::Error = serde_json::from_str::<u8>("x").unwrap_err().into();
        assert_eq!(Diagnostic::from(e).error_type, "Error");
    }

    /// An error whose `Debug` is its message, as `anyhow::Error`'s and `eyre::Report`'s are.
    struct Opaque {
        message: &'static str,
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    }
    impl fmt::Debug for Opaque {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.message)
        }
    }
    impl fmt::Display for Opaque {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.message)
        }
    }
    impl std::error::Error for Opaque {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.source.as_deref().map(|e| e as _)
        }
    }

    #[test]
    fn a_message_is_not_a_type_name() {
        // The first word of a sentence used to pass for a type name ("This").
        let e: crate::Error = Box::new(Opaque {
            message: "This is an error message",
            source: None,
        });
        assert_eq!(
            Diagnostic::from(e),
            Diagnostic::new("Error", "This is an error message")
        );
        // Named after the root cause when that one is a type.
        let e: crate::Error = Box::new(Opaque {
            message: "Reading the order failed",
            source: Some(Box::new(Opaque {
                message: "Looking it up failed",
                source: Some(Box::new(OrderNotFound { id: 3 })),
            })),
        });
        assert_eq!(
            Diagnostic::from(e),
            Diagnostic::new("OrderNotFound", "Reading the order failed")
        );
        // ... and `Error` when the root cause is not a type either, or is an I/O error.
        for root in [
            Box::new(Opaque {
                message: "no such file",
                source: None,
            }) as crate::Error,
            Box::new(std::io::Error::other("disk")),
        ] {
            let e: crate::Error = Box::new(Opaque {
                message: "Reading the config failed",
                source: Some(root),
            });
            assert_eq!(Diagnostic::from(e).error_type, "Error");
        }
        // Derived `Debug` shapes: unit, tuple and struct.
        assert_eq!(type_name_from_debug(&Unit).as_deref(), Some("Unit"));
        assert_eq!(type_name_from_debug(&Tuple(1)).as_deref(), Some("Tuple"));
        assert_eq!(
            type_name_from_debug(&OrderNotFound { id: 1 }).as_deref(),
            Some("OrderNotFound")
        );
    }

    #[derive(Debug)]
    struct Unit;
    #[derive(Debug)]
    struct Tuple(#[allow(dead_code)] u8);
    impl fmt::Display for Unit {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("unit")
        }
    }
    impl fmt::Display for Tuple {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("tuple")
        }
    }
    impl std::error::Error for Unit {}
    impl std::error::Error for Tuple {}

    #[test]
    fn typed_and_boxed_errors_get_the_same_name() {
        let declined = || PaymentError::Declined("card".into());
        let boxed: crate::Error = Box::new(declined());
        let from_boxed = Diagnostic::from(boxed);
        assert_eq!(from_boxed, Diagnostic::new("Declined", "declined"));
        assert_eq!(Diagnostic::from_typed_error(&declined()), from_boxed);
        assert_eq!(Diagnostic::from(Box::new(declined())), from_boxed);
        // A `Debug` that is not a type's: the type's name when it is known.
        let opaque = Opaque {
            message: "a message",
            source: None,
        };
        assert_eq!(Diagnostic::from_typed_error(&opaque).error_type, "Opaque");
        assert_eq!(
            Diagnostic::from_typed_error(&std::io::Error::other("disk")),
            Diagnostic::new("Error", "disk")
        );
    }

    #[test]
    fn a_boxed_diagnostic_comes_out_unchanged() {
        let chosen = Diagnostic::new("Kv.NotFound", "no key k");
        let boxed: crate::Error = Box::new(chosen.clone());
        assert_eq!(Diagnostic::from(boxed), chosen);
        // As the root cause of another error, it gives its type.
        let wrapped: crate::Error = Box::new(Opaque {
            message: "Lookup failed",
            source: Some(Box::new(chosen.clone())),
        });
        assert_eq!(
            Diagnostic::from(wrapped),
            Diagnostic::new("Kv.NotFound", "Lookup failed")
        );
    }

    #[test]
    fn typed_errors_use_the_type_name() {
        assert_eq!(
            Diagnostic::from_typed_error(&OrderNotFound { id: 1 }).error_type,
            "OrderNotFound"
        );
        assert_eq!(
            Diagnostic::from(Box::new(OrderNotFound { id: 1 })).error_type,
            "OrderNotFound"
        );
        assert_eq!(Diagnostic::from("m"), Diagnostic::new("Error", "m"));
        assert_eq!(
            Diagnostic::from(String::from("m")),
            Diagnostic::new("Error", "m")
        );
    }

    #[test]
    fn short_names() {
        assert_eq!(
            short_type_name("my_fn::errors::OrderNotFound"),
            "OrderNotFound"
        );
        assert_eq!(short_type_name("OrderNotFound"), "OrderNotFound");
        assert_eq!(short_type_name("alloc::vec::Vec<my_fn::Item>"), "Vec<Item>");
        assert_eq!(
            short_type_name("core::result::Result<a::B, c::d::E>"),
            "Result<B, E>"
        );
    }

    #[test]
    fn panics_are_named_panic() {
        let p: Box<dyn Any + Send> = Box::new("boom");
        assert_eq!(
            Diagnostic::from_panic(&*p),
            Diagnostic::new("Panic", "boom")
        );
        let p: Box<dyn Any + Send> = Box::new(format!("boom {}", 2));
        assert_eq!(Diagnostic::from_panic(&*p).error_message, "boom 2");
        let p: Box<dyn Any + Send> = Box::new(3u8);
        assert_eq!(Diagnostic::from_panic(&*p).error_type, "Panic");
    }

    #[test]
    fn serializes_in_lambda_shape() {
        let json = serde_json::to_value(Diagnostic::new("T", "m")).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"errorType": "T", "errorMessage": "m"})
        );
    }
}
