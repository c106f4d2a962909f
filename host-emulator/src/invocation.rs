//! One invocation as it travels from the Invoke API through the scheduler to an environment,
//! and the answer that travels back.

use std::time::Instant;

use bytes::Bytes;
use tokio::sync::oneshot;

use crate::stream::{StreamLimits, StreamSink, StreamStart};

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
    /// Its hold on the function's concurrency, from admission until it is answered.
    pub(crate) permit: Option<crate::scheduler::capacity::Permit>,
    /// Where a streamed response is announced (synchronous callers only).
    stream: Option<oneshot::Sender<StreamStart>>,
    /// Whether the runtime is streaming its response now.
    pub streaming: bool,
    /// Whether it is an asynchronous (`Event`) invocation.
    event: bool,
    /// How old an `Event` may grow while throttled before it is dropped: its configuration's
    /// `MaximumEventAgeInSeconds`.
    pub(crate) max_event_age: std::time::Duration,
    /// How many destination records led to this event (0: the caller sent it), to stop a
    /// loop of destinations as Lambda's recursive loop detection does.
    pub(crate) chain: u32,
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
            trace_id: crate::trace::new_header(),
            client_context: None,
            cognito_identity: None,
            tenant_id: None,
            tail: false,
            accepted: Instant::now(),
            reply,
            permit: None,
            stream: None,
            streaming: false,
            event: false,
            max_event_age: crate::config::event_invoke::MAX_EVENT_AGE,
            chain: 0,
        }
    }

    /// An asynchronous (`Event`) invocation, and where its outcome arrives (for retries and
    /// destinations; nobody else waits for it).
    pub fn event(
        request_id: String,
        payload: Bytes,
        invoked_arn: String,
    ) -> (Self, oneshot::Receiver<Outcome>) {
        let (reply, outcome) = oneshot::channel();
        let mut invocation = Self::new(request_id, payload, invoked_arn, Some(reply));
        invocation.event = true;
        (invocation, outcome)
    }

    /// The same event again, for a retry: same request id, payload, ARN, trace and context,
    /// and the same acceptance time (its age counts from the first attempt).
    pub fn retry(&self) -> (Self, oneshot::Receiver<Outcome>) {
        let (mut again, outcome) = Self::event(
            self.request_id.clone(),
            self.payload.clone(),
            self.invoked_arn.clone(),
        );
        again.trace_id = self.trace_id.clone();
        again.client_context = self.client_context.clone();
        again.cognito_identity = self.cognito_identity.clone();
        again.tenant_id = self.tenant_id.clone();
        again.accepted = self.accepted;
        again.max_event_age = self.max_event_age;
        again.chain = self.chain;
        (again, outcome)
    }

    /// A synchronous invocation whose caller accepts a buffered or a streamed response, and
    /// the handle the caller waits on.
    pub fn sync(request_id: String, payload: Bytes, invoked_arn: String) -> (Self, Waiting) {
        let (reply, outcome) = oneshot::channel();
        let (stream_tx, stream) = oneshot::channel();
        let mut invocation = Self::new(request_id, payload, invoked_arn, Some(reply));
        invocation.stream = Some(stream_tx);
        (invocation, Waiting { outcome, stream })
    }

    /// The runtime started streaming its response: announces the stream to the caller (if
    /// there is one still listening) and returns the sender of its chunks. The final
    /// [`Outcome`] still comes through [`Invocation::finish`] when the stream ends.
    pub fn start_stream(
        &mut self,
        content_type: Option<String>,
        limits: StreamLimits,
    ) -> StreamSink {
        self.streaming = true;
        let (sink, chunks) = crate::stream::channel(limits);
        if let Some(tx) = self.stream.take() {
            let _ = tx.send(StreamStart {
                content_type,
                chunks,
            });
        }
        sink
    }

    /// Whether this is an asynchronous (`Event`) invocation (no caller waits for the answer).
    pub fn is_event(&self) -> bool {
        self.event || self.reply.is_none()
    }

    /// Answers the caller. A caller that went away is not an error: the invocation still ran.
    pub fn finish(mut self, answer: Answer, log_tail: Option<String>) {
        // Released before the caller hears back, so that its next invoke finds the room.
        if let Some(permit) = self.permit.take() {
            permit.record(&answer);
        }
        self.reply(answer, log_tail);
    }

    /// Answers the caller but keeps the invocation's hold on the function's concurrency (its
    /// environment stays busy after the answer: extensions still work on it). Dropping the
    /// returned permit releases it.
    pub fn finish_holding_permit(
        mut self,
        answer: Answer,
        log_tail: Option<String>,
    ) -> Option<crate::scheduler::capacity::Permit> {
        let permit = self.permit.take();
        if let Some(permit) = &permit {
            permit.record(&answer);
        }
        self.reply(answer, log_tail);
        permit
    }

    fn reply(mut self, answer: Answer, log_tail: Option<String>) {
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

/// The error type the platform's own records give an error the runtime reported
/// (`INIT_REPORT`'s and `REPORT`'s `Error Type`, the `errorType` of `platform.*` records), as
/// Lambda's Runtime API server reads it: `Runtime.Xyz` and `Function.Xyz` (a capital, then
/// letters only) as they are, any other `Function.` type as `Function.Unknown`, anything else
/// (`RuntimeError`, `OrderError`, none) as `Runtime.Unknown`. The platform's own types
/// (`Sandbox.`, `Extension.`) are kept. The caller still gets the runtime's document as it
/// was posted.
///
/// ```
/// use firebox_emulator::invocation::platform_error_type;
/// assert_eq!(platform_error_type(Some("Runtime.ImportModuleError")), "Runtime.ImportModuleError");
/// assert_eq!(platform_error_type(Some("RuntimeError")), "Runtime.Unknown");
/// assert_eq!(platform_error_type(Some("Function.bad type")), "Function.Unknown");
/// ```
pub fn platform_error_type(error_type: Option<&str>) -> &str {
    let Some(error_type) = error_type else {
        return "Runtime.Unknown";
    };
    let well_formed = |prefix: &str| {
        error_type.strip_prefix(prefix).is_some_and(|rest| {
            let mut chars = rest.chars();
            chars.next().is_some_and(|c| c.is_ascii_uppercase())
                && rest.len() >= 2
                && chars.all(|c| c.is_ascii_alphabetic())
        })
    };
    if well_formed("Runtime.")
        || well_formed("Function.")
        || error_type.starts_with("Sandbox.")
        || error_type.starts_with("Extension.")
    {
        error_type
    } else if error_type.starts_with("Function.") {
        "Function.Unknown"
    } else {
        "Runtime.Unknown"
    }
}

/// What a synchronous caller waits on: the outcome, or first the start of a stream.
#[derive(Debug)]
pub struct Waiting {
    outcome: oneshot::Receiver<Outcome>,
    stream: oneshot::Receiver<StreamStart>,
}

/// How a synchronous invocation answered.
#[derive(Debug)]
pub enum Reply {
    /// A buffered answer (or an error before any byte was streamed).
    Complete(Outcome),
    /// The runtime streams its response; `outcome` comes when the stream has ended.
    Streaming {
        /// The stream.
        start: StreamStart,
        /// The final outcome (error from the trailers, log tail).
        outcome: oneshot::Receiver<Outcome>,
    },
}

impl Waiting {
    /// Waits for the answer; `Err` when the invocation was dropped (emulator shutting down).
    pub async fn wait(mut self) -> Result<Reply, oneshot::error::RecvError> {
        tokio::select! {
            biased;
            start = &mut self.stream => match start {
                Ok(start) => Ok(Reply::Streaming { start, outcome: self.outcome }),
                Err(_) => self.outcome.await.map(Reply::Complete),
            },
            outcome = &mut self.outcome => outcome.map(Reply::Complete),
        }
    }
}
