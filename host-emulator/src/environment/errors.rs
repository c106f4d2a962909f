//! The error documents and log wording of an environment's failures: unknown or repeated
//! answers, timeouts, errors posted by the runtime, and exit statuses as Lambda words them.

use std::time::Duration;

use bytes::Bytes;

use crate::invocation::error_document;
#[cfg(test)]
use crate::invocation::error_type_of;

/// A Runtime API call the environment refuses, with its error document; nothing changed.
/// Lambda's Runtime API answers a call the runtime's state does not allow with `403
/// InvalidStateTransition`, and an answer to a request id that names no invocation in progress
/// with `400 InvalidRequestID`.
#[derive(Debug)]
pub enum Refusal {
    /// `InvalidStateTransition` (403): `/next` with an invocation open, a second answer,
    /// `init/error` after Init.
    InvalidState(Bytes),
    /// `InvalidRequestID` (400).
    UnknownRequest(Bytes),
}

impl Refusal {
    /// An `InvalidStateTransition` refusal saying `message`.
    pub(crate) fn invalid_state(message: &str) -> Self {
        Self::InvalidState(error_document("InvalidStateTransition", message))
    }

    /// The HTTP status of the refusal.
    pub fn status(&self) -> http::StatusCode {
        match self {
            Self::InvalidState(_) => http::StatusCode::FORBIDDEN,
            Self::UnknownRequest(_) => http::StatusCode::BAD_REQUEST,
        }
    }

    /// The error document.
    pub fn into_document(self) -> Bytes {
        match self {
            Self::InvalidState(doc) | Self::UnknownRequest(doc) => doc,
        }
    }
}

/// The refusal of a runtime answer to a request id that is not the invocation in progress.
pub(crate) fn unknown_request(request_id: &str, answered: bool) -> Refusal {
    if answered {
        Refusal::invalid_state(&format!("invocation {request_id} was already answered"))
    } else {
        Refusal::UnknownRequest(error_document(
            "InvalidRequestID",
            &format!("invalid request id {request_id}: no such invocation in progress"),
        ))
    }
}

pub(crate) fn timeout_document(id: &str, timeout: Duration) -> Bytes {
    error_document(
        "Sandbox.Timedout",
        &format!(
            "RequestId: {id} Error: Task timed out after {:.2} seconds",
            timeout.as_secs_f64()
        ),
    )
}

/// The content type of an `/error` body that carries the error's X-Ray cause
/// (`errorCause`) next to the error document.
pub(crate) const ERROR_WITH_CAUSE: &str = "application/vnd.aws.lambda.error.cause+json";

/// The fields of an `application/vnd.aws.lambda.error.cause+json` body the caller gets.
#[derive(serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct WithoutCause {
    #[serde(default)]
    error_message: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    error_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    stack_trace: Option<Vec<String>>,
}

/// The error document of an `/error` posted as [`ERROR_WITH_CAUSE`], as Lambda's Runtime API
/// server makes it: `errorMessage`, `errorType` and `stackTrace` only (the cause is for
/// X-Ray, which the emulator has not), the type from the header when the body has none; a
/// body that is not such a document becomes the message `Invalid error body`.
pub(crate) fn without_cause(header_type: Option<&str>, body: &[u8]) -> Bytes {
    match serde_json::from_slice::<WithoutCause>(body) {
        Ok(doc) => error_body(header_type, serde_json::to_vec(&doc).ok().map(Bytes::from)),
        Err(_) => error_document(
            header_type.unwrap_or("Runtime.Unknown"),
            "Invalid error body",
        ),
    }
}

/// The error document of `/error` or `/init/error`: the body when it is a JSON object (with
/// `errorType` from the header when the body lacks it), otherwise built from the header.
pub(crate) fn error_body(header_type: Option<&str>, body: Option<Bytes>) -> Bytes {
    let parsed = body
        .as_deref()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(b).ok());
    match parsed {
        Some(serde_json::Value::Object(mut doc)) => {
            if !doc.contains_key("errorType") {
                if let Some(t) = header_type {
                    doc.insert("errorType".into(), t.into());
                    return Bytes::from(serde_json::Value::Object(doc).to_string());
                }
            }
            body.unwrap_or_default()
        }
        _ => {
            let message = body
                .as_deref()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default();
            error_document(header_type.unwrap_or("Runtime.Unknown"), &message)
        }
    }
}

/// `exit status N` or `signal: NAME`, as Lambda words it; `None` for a clean exit.
pub(crate) fn exit_reason(status: std::process::ExitStatus) -> Option<String> {
    use std::os::unix::process::ExitStatusExt;
    if let Some(code) = status.code() {
        return (code != 0).then(|| format!("exit status {code}"));
    }
    let signal = status.signal().unwrap_or(0);
    let name = match signal {
        libc::SIGKILL => "killed".to_owned(),
        libc::SIGSEGV => "segmentation fault".to_owned(),
        libc::SIGABRT => "aborted".to_owned(),
        libc::SIGTERM => "terminated".to_owned(),
        libc::SIGBUS => "bus error".to_owned(),
        libc::SIGILL => "illegal instruction".to_owned(),
        libc::SIGFPE => "floating point exception".to_owned(),
        libc::SIGINT => "interrupt".to_owned(),
        libc::SIGHUP => "hangup".to_owned(),
        libc::SIGPIPE => "broken pipe".to_owned(),
        n => format!("signal {n}"),
    };
    Some(format!("signal: {name}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies() {
        let doc = error_body(Some("X"), None);
        assert_eq!(error_type_of(&doc).as_deref(), Some("X"));
        let doc = error_body(None, Some(Bytes::from_static(b"not json")));
        assert_eq!(error_type_of(&doc).as_deref(), Some("Runtime.Unknown"));
        let doc = error_body(
            Some("H"),
            Some(Bytes::from_static(b"{\"errorMessage\":\"m\"}")),
        );
        assert_eq!(error_type_of(&doc).as_deref(), Some("H"));
        let doc = error_body(
            Some("H"),
            Some(Bytes::from_static(
                b"{\"errorType\":\"B\",\"errorMessage\":\"m\"}",
            )),
        );
        assert_eq!(error_type_of(&doc).as_deref(), Some("B"));
    }

    #[test]
    fn exit_reasons() {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(exit_reason(std::process::ExitStatus::from_raw(0)), None);
        assert_eq!(
            exit_reason(std::process::ExitStatus::from_raw(1 << 8)).as_deref(),
            Some("exit status 1")
        );
        assert_eq!(
            exit_reason(std::process::ExitStatus::from_raw(9)).as_deref(),
            Some("signal: killed")
        );
    }
}
