//! How an environment answers its runtime's Runtime API calls: `/next`, `/response`, `/error`
//! and `/init/error`, each checked against the current state (a wrong call gets 400 and
//! changes nothing).

use tokio::sync::oneshot;

use super::errors::{error_body, unknown_request};
use super::{Active, End, EnvKind, Environment, NextAnswer, State, INIT_ERROR_EXIT_GRACE};
use crate::api::runtime::{RuntimeAnswer, RuntimeRequest};
use crate::invocation::{error_document, error_type_of, Answer};

impl Environment {
    pub(super) async fn on_request(
        &mut self,
        request: RuntimeRequest,
        buf: &mut [u8],
    ) -> Result<(), End> {
        match request {
            RuntimeRequest::Next { reply } => {
                if self.slots > 1 {
                    self.multi_on_next(reply);
                    return Ok(());
                }
                if let State::Busy(active) = &self.state {
                    let doc = error_document(
                        "InvalidStateTransition",
                        &format!(
                            "invocation {} is in progress: post its response or error before calling next",
                            active.invocation.request_id
                        ),
                    );
                    let _ = reply.send(NextAnswer::Refused(doc));
                    return Ok(());
                }
                self.parked = Some(reply);
                if let State::Initializing { since, suppressed } = self.state {
                    self.shared.metrics.init_duration.observe(since.elapsed());
                    // Provisioned environments report no Init Duration: Init was not part
                    // of any invocation.
                    if !suppressed && self.kind == EnvKind::OnDemand {
                        self.cold_init = Some(since.elapsed());
                    }
                    self.report_ready();
                    if self.pending.is_some() {
                        self.try_deliver();
                        return Ok(());
                    }
                    self.set_deadline(None);
                    self.state = State::Settling;
                }
                if self.pending.is_some() {
                    self.try_deliver();
                } else {
                    self.state = State::Idle;
                    self.freeze();
                }
                Ok(())
            }
            RuntimeRequest::Response {
                request_id,
                body,
                reply,
            } => {
                let Some((active, reply)) = self.take_active(&request_id, reply) else {
                    return Ok(());
                };
                let _ = reply.send(RuntimeAnswer::Accepted);
                self.drain_output(buf);
                self.complete(active, Answer::Success(body), true);
                Ok(())
            }
            RuntimeRequest::ResponseTooLarge {
                request_id,
                size,
                reply,
            } => {
                let Some((active, reply)) = self.take_active(&request_id, reply) else {
                    return Ok(());
                };
                let _ = reply.send(RuntimeAnswer::TooLarge);
                self.drain_output(buf);
                let doc = error_document(
                    "Function.ResponseSizeTooLarge",
                    &format!(
                        "Response payload size ({size} bytes) exceeded maximum allowed payload size ({} bytes).",
                        crate::api::MAX_RESPONSE_BYTES
                    ),
                );
                self.platform(format!(
                    "RequestId: {request_id} Error: Response payload size exceeded maximum allowed payload size ({} bytes).",
                    crate::api::MAX_RESPONSE_BYTES
                ));
                self.complete(active, Answer::FunctionError(doc), true);
                Ok(())
            }
            RuntimeRequest::Error {
                request_id,
                error_type,
                body,
                reply,
            } => {
                let Some((active, reply)) = self.take_active(&request_id, reply) else {
                    return Ok(());
                };
                let _ = reply.send(RuntimeAnswer::Accepted);
                self.drain_output(buf);
                let doc = error_body(error_type.as_deref(), body);
                self.complete(active, Answer::FunctionError(doc), true);
                Ok(())
            }
            RuntimeRequest::StreamStart {
                request_id,
                content_type,
                reply,
            } => {
                self.on_stream_start(&request_id, content_type, reply);
                Ok(())
            }
            RuntimeRequest::StreamEnd {
                request_id,
                end,
                reply,
            } => {
                self.on_stream_end(&request_id, end, reply, buf);
                Ok(())
            }
            RuntimeRequest::InitError {
                error_type,
                body,
                reply,
            } => {
                let State::Initializing { since, .. } = self.state else {
                    let _ = reply.send(RuntimeAnswer::BadRequest(error_document(
                        "InvalidStateTransition",
                        "init/error is only allowed before the first call to next",
                    )));
                    return Ok(());
                };
                let _ = reply.send(RuntimeAnswer::Accepted);
                self.drain_output(buf);
                let doc = error_body(error_type.as_deref(), body);
                let kind = error_type_of(&doc).unwrap_or_else(|| "Runtime.Unknown".into());
                self.platform(format!(
                    "INIT_REPORT Init Duration: {:.2} ms\tPhase: init\tStatus: error\tError Type: {kind}",
                    since.elapsed().as_secs_f64() * 1000.0
                ));
                self.fail_pending(doc);
                self.end_reason = format!("Init failed ({kind})");
                // The runtime exits by itself after reporting; give it a moment to do so.
                self.exit_grace = INIT_ERROR_EXIT_GRACE;
                Err(End::Failed)
            }
        }
    }

    /// Takes the invocation in progress if `request_id` names it; otherwise answers 400 and
    /// changes nothing.
    fn take_active(
        &mut self,
        request_id: &str,
        reply: oneshot::Sender<RuntimeAnswer>,
    ) -> Option<(Active, oneshot::Sender<RuntimeAnswer>)> {
        if self.slots > 1 {
            return self.multi_take_active(request_id, reply);
        }
        match &self.state {
            State::Busy(active) if active.invocation.streaming => {
                let _ = reply.send(RuntimeAnswer::BadRequest(error_document(
                    "InvalidStateTransition",
                    &format!(
                        "the response of invocation {} is streaming; finish the stream instead",
                        active.invocation.request_id
                    ),
                )));
                None
            }
            State::Busy(active) if active.invocation.request_id == request_id => {
                match std::mem::replace(&mut self.state, State::Settling) {
                    State::Busy(active) => {
                        self.set_deadline(None);
                        Some((active, reply))
                    }
                    _ => unreachable!("state was matched as Busy just above"),
                }
            }
            _ => {
                let answered = self.last_answered.as_deref() == Some(request_id);
                let _ = reply.send(RuntimeAnswer::BadRequest(unknown_request(
                    request_id, answered,
                )));
                None
            }
        }
    }
}
