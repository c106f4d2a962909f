//! The errors of the compatibility layer: [`Error`], any error boxed (as `lambda_extension`'s),
//! and [`ExtensionError`], what this layer itself refuses (an unknown event or record type).

/// The error type of extensions and their processors: any error, boxed (the crate's
/// [`BoxError`](crate::BoxError)). The crate's own [`Error`](crate::Error)s (a refused
/// registration, an unreachable API, ...) come boxed in it; downcast to read them.
pub type Error = crate::BoxError;

/// An error described by its message alone: a setting the Extensions, Logs or Telemetry APIs
/// would refuse, caught before anything is sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ExtensionError {
    message: String,
}

impl ExtensionError {
    /// An error with this message, boxed as an [`Error`] (that `downcast_ref` reads back).
    pub(crate) fn boxed(message: impl Into<String>) -> Error {
        Box::new(ExtensionError {
            message: message.into(),
        })
    }
}
