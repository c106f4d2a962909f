//! The crate's [`Error`]: what failed, with the Extensions (or Telemetry, or Logs) API's own
//! `errorType` and `errorMessage` ([`ApiError`]) when it answered with an error document.

use std::{fmt, net::SocketAddr};

use http::{Method, StatusCode};
use serde::Deserialize;

/// Any error, boxed: what handlers usually return.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The longest excerpt of an answer body kept in an error.
const MAX_EXCERPT: usize = 1024;

/// Something that went wrong while registering, subscribing to telemetry, waiting for events or
/// reporting an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `AWS_LAMBDA_RUNTIME_API` is not set (and no [`crate::Endpoint`] was given).
    #[error("AWS_LAMBDA_RUNTIME_API is not set; an extension must be started by Lambda (or an emulator), or be given the Extensions API address")]
    MissingAddress,
    /// The Extensions API address is not `host:port`, `http://host:port` or
    /// `http://host:port/prefix`.
    #[error("the Extensions API address {0:?} is not host:port, http://host:port or http://host:port/prefix")]
    InvalidAddress(String),
    /// The extension name cannot be registered.
    #[error("cannot register the extension name {name:?}: {reason}")]
    InvalidName {
        /// The name given (empty when none could be found).
        name: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// A value cannot be sent in a request header (not visible ASCII, or empty).
    #[error("{value:?} cannot be sent as the {header} header")]
    InvalidHeader {
        /// The header.
        header: &'static str,
        /// The value refused.
        value: String,
    },
    /// An internal extension asked for `SHUTDOWN` events, which only external extensions get
    /// (Lambda would answer `403 Extension.InvalidEventType`).
    #[error("internal extensions cannot subscribe to SHUTDOWN events (Lambda answers 403 Extension.InvalidEventType); subscribe to INVOKE only, or make this an external extension")]
    ShutdownForInternal,
    /// A call that needs the extension identifier was made before [`register`](crate::ExtensionClient::register).
    #[error("the extension is not registered yet: register it before asking for events or reporting errors")]
    NotRegistered,
    /// The Extensions API could not be reached, even after retries.
    #[error("cannot reach the Extensions API at {endpoint} after {attempts} attempt(s): {source}")]
    Connect {
        /// The address tried.
        endpoint: String,
        /// How many connection attempts were made.
        attempts: u32,
        /// The last failure.
        #[source]
        source: std::io::Error,
    },
    /// The HTTP exchange failed (the connection broke, or the answer was not HTTP/1.1).
    #[error("the Extensions API connection failed during {path}: {source}")]
    Http {
        /// The request path.
        path: String,
        /// The transport error.
        #[source]
        source: hyper::Error,
    },
    /// The Extensions API answered with an error status.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// A successful answer lacks a header it must carry.
    #[error("the Extensions API answered {path} without the {header} header")]
    MissingHeader {
        /// The request path.
        path: String,
        /// The missing header.
        header: &'static str,
    },
    /// A successful answer's body is not what the protocol describes.
    #[error("cannot read the {what} answered by {path}: {message}; body: {body}")]
    InvalidBody {
        /// The request path.
        path: String,
        /// What the body should have held (`event`, `registration`).
        what: &'static str,
        /// What is wrong, with the JSON path of the offending field when there is one.
        message: String,
        /// The body (or its first KiB), as text.
        body: String,
    },
    /// The extension's handler failed.
    #[error("the extension's handler failed: {0}")]
    Handler(#[source] BoxError),
    /// A telemetry buffering value is outside Lambda's limits (Lambda would answer
    /// `400 ValidationError`).
    #[error("buffering.{field} {value} is outside Lambda's limits, {min} to {max}")]
    InvalidBuffering {
        /// The field: `maxItems`, `maxBytes` or `timeoutMs`.
        field: &'static str,
        /// The value refused.
        value: u32,
        /// The smallest value allowed.
        min: u32,
        /// The largest value allowed.
        max: u32,
    },
    /// A telemetry destination is neither an `http://host[:port][/path]` address nor a
    /// `tcp://host:port` one (Lambda would answer `400 ValidationError`).
    #[error("cannot subscribe telemetry to {uri:?}: {reason}")]
    InvalidDestination {
        /// The destination given.
        uri: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// The extension asked for both a Telemetry API and a Logs API subscription: Lambda refuses
    /// the second one (an extension subscribes through one of the two APIs).
    #[error("an extension subscribes to the Telemetry API or to the Logs API, not both (Lambda refuses the second subscription); drop .telemetry(..) or .logs(..)")]
    TelemetryAndLogs,
    /// The telemetry listener cannot listen on its address.
    #[error("cannot listen for telemetry on {address}: {source}")]
    Bind {
        /// The address asked for.
        address: SocketAddr,
        /// Why binding failed.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// The Extensions API's error answer, when this error is one.
    pub fn api_error(&self) -> Option<&ApiError> {
        match self {
            Error::Api(api) => Some(api),
            _ => None,
        }
    }

    /// The `errorType` the Extensions API answered with (for example
    /// `Extension.RegistrationClosed`), when this error is such an answer and it named one.
    pub fn api_error_type(&self) -> Option<&str> {
        self.api_error().and_then(|api| api.error_type.as_deref())
    }

    pub(crate) fn invalid_body(
        path: &str,
        what: &'static str,
        message: impl fmt::Display,
        body: &[u8],
    ) -> Self {
        Error::InvalidBody {
            path: path.to_owned(),
            what,
            message: message.to_string(),
            body: excerpt(body),
        }
    }
}

/// An error answer from the Extensions API: its status and the error document it carried.
///
/// Lambda answers `403` when a request is refused (a bad name, closed registration, an
/// unknown identifier, ...), `400` for a malformed request, and `500` when the execution
/// environment is going away: in every case the extension should stop (and exit, for an
/// external extension).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the Extensions API answered {method} {path} with {status}: {}", describe(.error_type.as_deref(), .error_message))]
pub struct ApiError {
    /// The request method.
    pub method: Method,
    /// The request path.
    pub path: String,
    /// The status received.
    pub status: StatusCode,
    /// The document's `errorType` (`Extension.InvalidExtensionName`,
    /// `Extension.RegistrationClosed`, `Extension.InvalidEventType`,
    /// `Extension.TooManyExtensions`, `Extension.InvalidExtensionState`,
    /// `InvalidRequestFormat`, the Telemetry API's `ValidationError`, ...), when the body was
    /// an error document that named one.
    pub error_type: Option<String>,
    /// The document's `errorMessage`; the body as text when it was not an error document.
    pub error_message: String,
}

impl ApiError {
    /// Reads the error document in `body` (leniently: any body is accepted).
    pub(crate) fn from_answer(method: Method, path: &str, status: StatusCode, body: &[u8]) -> Self {
        #[derive(Deserialize)]
        struct ErrorDocument {
            #[serde(rename = "errorType")]
            error_type: Option<String>,
            #[serde(rename = "errorMessage")]
            error_message: Option<String>,
        }
        let (error_type, error_message) = match serde_json::from_slice::<ErrorDocument>(body) {
            Ok(doc) if doc.error_type.is_some() || doc.error_message.is_some() => {
                (doc.error_type, doc.error_message.unwrap_or_default())
            }
            _ => (None, excerpt(body)),
        };
        ApiError {
            method,
            path: path.to_owned(),
            status,
            error_type,
            error_message,
        }
    }

    /// Whether the status is a 5xx: the execution environment is going away.
    pub fn is_server_error(&self) -> bool {
        self.status.is_server_error()
    }
}

/// `errorType: errorMessage`, or whichever of the two there is.
fn describe(error_type: Option<&str>, error_message: &str) -> String {
    match (error_type, error_message.is_empty()) {
        (Some(error_type), false) => format!("{error_type}: {error_message}"),
        (Some(error_type), true) => error_type.to_owned(),
        (None, false) => error_message.to_owned(),
        (None, true) => "(no error document)".to_owned(),
    }
}

/// `body` as text, cut to its first KiB.
fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    if text.len() <= MAX_EXCERPT {
        return text.into_owned();
    }
    let mut end = MAX_EXCERPT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}... ({} bytes)", &text[..end], body.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str) -> ApiError {
        ApiError::from_answer(
            Method::POST,
            "/2020-01-01/extension/register",
            StatusCode::from_u16(status).unwrap(),
            body.as_bytes(),
        )
    }

    #[test]
    fn error_documents_are_read() {
        let api = answer(
            403,
            r#"{"errorMessage":"registration is closed","errorType":"Extension.RegistrationClosed","extra":1}"#,
        );
        assert_eq!(
            api.error_type.as_deref(),
            Some("Extension.RegistrationClosed")
        );
        assert_eq!(api.error_message, "registration is closed");
        assert!(!api.is_server_error());
        assert_eq!(
            api.to_string(),
            "the Extensions API answered POST /2020-01-01/extension/register with 403 Forbidden: \
             Extension.RegistrationClosed: registration is closed"
        );
        let error = Error::from(api);
        assert_eq!(error.api_error_type(), Some("Extension.RegistrationClosed"));
    }

    #[test]
    fn other_bodies_are_kept_as_text() {
        let api = answer(500, "environment is shutting down");
        assert_eq!(api.error_type, None);
        assert_eq!(api.error_message, "environment is shutting down");
        assert!(api.is_server_error());

        let api = answer(403, r#"{"errorType":"Extension.InvalidExtensionState"}"#);
        assert_eq!(
            api.error_type.as_deref(),
            Some("Extension.InvalidExtensionState")
        );
        assert!(api
            .to_string()
            .ends_with(": Extension.InvalidExtensionState"));

        let api = answer(400, "");
        assert!(api
            .to_string()
            .ends_with("400 Bad Request: (no error document)"));

        let api = answer(403, r#"{"unrelated":true}"#);
        assert_eq!(api.error_message, r#"{"unrelated":true}"#);
    }

    #[test]
    fn long_bodies_are_cut() {
        let long = "é".repeat(2000);
        let text = excerpt(long.as_bytes());
        assert!(text.len() < 1100, "{}", text.len());
        assert!(text.ends_with("... (4000 bytes)"));
    }
}
