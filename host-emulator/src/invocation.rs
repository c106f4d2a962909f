//! One invocation as it travels from the Invoke API through the scheduler to an environment,
//! and the answer that travels back.

use std::time::Instant;

use bytes::Bytes;
use tokio::sync::oneshot;

/// An accepted invocation.
#[derive(Debug)]
pub struct Invocation {
    /// The request id (also `Lambda-Runtime-Aws-Request-Id`).
    pub request_id: String,
    /// The event.
    pub payload: Bytes,
    /// The ARN as the caller named the function.
    pub invoked_arn: String,
    /// The X-Ray trace header.
    pub trace_id: String,
    /// Decoded client context JSON, when the caller sent one.
    pub client_context: Option<String>,
    /// Cognito identity JSON, when the caller sent one.
    pub cognito_identity: Option<String>,
    /// Tenant id, for tenant-isolated invokes.
    pub tenant_id: Option<String>,
    /// Whether the caller wants the log tail.
    pub tail: bool,
    /// When the Invoke API accepted it.
    pub accepted: Instant,
    reply: Option<oneshot::Sender<Outcome>>,
}

/// How an invocation ended, as the caller sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// The function's response.
    Success(Bytes),
    /// A function error: the error document (answered 200 with `X-Amz-Function-Error`).
    FunctionError(Bytes),
    /// No environment could take it in time (answered 429 `TooManyRequestsException`).
    Throttled {
        /// The `Reason` field.
        reason: &'static str,
    },
    /// The emulator could not run it (answered 500 `ServiceException`).
    ServiceError(String),
}

/// The answer plus the invocation's log tail (when asked for).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// How it ended.
    pub answer: Answer,
    /// The last 4 KB of its log, when the caller asked for the tail.
    pub log_tail: Option<String>,
}

impl Invocation {
    /// A new invocation; `reply` is `None` for asynchronous (`Event`) invokes.
    pub fn new(
        request_id: String,
        payload: Bytes,
        invoked_arn: String,
        reply: Option<oneshot::Sender<Outcome>>,
    ) -> Self {
        Self {
            request_id,
            payload,
            invoked_arn,
            trace_id: crate::ids::trace_id(),
            client_context: None,
            cognito_identity: None,
            tenant_id: None,
            tail: false,
            accepted: Instant::now(),
            reply,
        }
    }

    /// Answers the caller. A caller that went away is not an error: the invocation still ran.
    pub fn finish(mut self, answer: Answer, log_tail: Option<String>) {
        if let Some(reply) = self.reply.take() {
            let _ = reply.send(Outcome { answer, log_tail });
        } else if let Answer::Throttled { .. } | Answer::ServiceError(_) = answer {
            tracing::warn!(request_id = %self.request_id, ?answer, "asynchronous invocation not run");
        }
    }
}

/// A standard error document `{"errorMessage","errorType"}`.
pub fn error_document(error_type: &str, message: &str) -> Bytes {
    Bytes::from(serde_json::json!({ "errorMessage": message, "errorType": error_type }).to_string())
}

/// The `errorType` of an error document, if it has one.
pub fn error_type_of(document: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(document).ok()?;
    value.get("errorType")?.as_str().map(str::to_owned)
}
