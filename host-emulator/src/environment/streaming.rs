//! How an environment handles a streamed response: the start (the request id must name an
//! invocation in flight; its caller is handed the stream) and the end (END and REPORT are
//! logged, the outcome — an error from the trailers, or a size overrun — goes to the caller).
//! Under multi-concurrency each invocation in flight may stream its own response.

use std::time::Instant;

use bytes::Bytes;
use tokio::sync::oneshot;

use super::errors::{error_body, Refusal};
use super::Environment;
use crate::api::runtime::{RuntimeAnswer, StreamAnswer, StreamEnd};
use crate::invocation::{error_document, Answer};
use crate::logs::system::{PlatformLine, ResponseSent};
use crate::stream::StreamLimits;

impl Environment {
    /// The runtime starts streaming the response of `request_id`.
    pub(super) fn on_stream_start(
        &mut self,
        request_id: &str,
        content_type: Option<String>,
        reply: oneshot::Sender<StreamAnswer>,
    ) {
        let limits = StreamLimits {
            max_bytes: self.shared.config.stream_max_bytes,
            shaped: self.shared.config.stream_bandwidth_shape,
        };
        let answer = match self.held.active_mut(request_id) {
            Some(active) if active.invocation.streaming => {
                StreamAnswer::Refused(Refusal::invalid_state(&format!(
                    "the response of invocation {request_id} is already streaming"
                )))
            }
            Some(active) => {
                active.streaming_since = Some(Instant::now());
                StreamAnswer::Accepted(active.invocation.start_stream(content_type, limits))
            }
            None => StreamAnswer::Refused(self.held.not_in_flight(request_id)),
        };
        // A runtime whose connection went away meanwhile streams nothing: the process exit or
        // the timeout ends the invocation.
        let _ = reply.send(answer);
    }

    /// The streamed body of `request_id` ended.
    pub(super) fn on_stream_end(
        &mut self,
        request_id: &str,
        end: StreamEnd,
        reply: oneshot::Sender<RuntimeAnswer>,
        buf: &mut [u8],
    ) {
        let streaming = self
            .held
            .active_mut(request_id)
            .is_some_and(|a| a.invocation.streaming);
        let active = if streaming {
            self.held.remove_active(request_id)
        } else {
            None
        };
        let Some(mut active) = active else {
            let refusal = self.held.not_in_flight(request_id);
            let _ = reply.send(RuntimeAnswer::Refused(refusal));
            return;
        };
        self.reset_deadline();
        let bytes = match &end {
            StreamEnd::Complete { size } | StreamEnd::Failed { size, .. } => *size,
            StreamEnd::TooLarge { limit } => *limit,
        };
        active.response = active.streaming_since.map(|started| ResponseSent {
            started,
            finished: Instant::now(),
            bytes,
        });
        let (answer, runtime_answer) = match end {
            StreamEnd::Complete { .. } => (Answer::Success(Bytes::new()), RuntimeAnswer::Accepted),
            StreamEnd::Failed {
                error_type, body, ..
            } => (
                Answer::FunctionError(error_body(error_type.as_deref(), body)),
                RuntimeAnswer::Accepted,
            ),
            StreamEnd::TooLarge { limit } => {
                self.note(&mut active, PlatformLine::fault(format!(
                    "RequestId: {request_id} Error: Response payload size exceeded maximum allowed payload size ({limit} bytes)."
                )));
                let doc = error_document(
                    "Function.ResponseSizeTooLarge",
                    &format!("Response payload size exceeded maximum allowed payload size ({limit} bytes)."),
                );
                (Answer::FunctionError(doc), RuntimeAnswer::TooLarge)
            }
        };
        let _ = reply.send(runtime_answer);
        self.drain_answered_output(buf);
        self.complete(active, answer, true);
    }
}
