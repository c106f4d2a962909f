//! How an environment answers its runtime's Runtime API calls: `/next`, `/response`, `/error`
//! and `/init/error` (streamed responses are in [`super::streaming`]), each checked against the
//! current state: a wrong call gets 400 and changes nothing.

use std::time::Instant;

use tokio::sync::oneshot;

use super::errors::{error_body, Refusal};
use super::invocations::Active;
use super::{End, EnvKind, Environment, NextAnswer, Phase, INIT_ERROR_EXIT_GRACE};
use crate::api::runtime::{RuntimeAnswer, RuntimeRequest};
use crate::invocation::{error_document, error_type_of, platform_error_type, Answer};
use crate::logs::system::{InitOutcome, PlatformLine, ResponseSent};
use crate::scheduler::PoolMessage;

/// The most `/next` calls (in flight or waiting) an environment holds under
/// multi-concurrency, whatever its slots: a runtime may poll from more threads than it has
/// slots, but not without bound.
pub(super) const MAX_WAITING_NEXT: usize = 1024;

impl Environment {
    pub(super) async fn on_request(
        &mut self,
        request: RuntimeRequest,
        buf: &mut [u8],
    ) -> Result<(), End> {
        match request {
            RuntimeRequest::Next { reply } => self.on_next(reply),
            RuntimeRequest::Response {
                request_id,
                body,
                received,
                reply,
            } => {
                let sent = sent_since(received, body.len());
                self.settle(&request_id, reply, buf, Some(sent), |_, _| {
                    (RuntimeAnswer::Accepted, Answer::Success(body))
                })
            }
            RuntimeRequest::ResponseTooLarge {
                request_id,
                size,
                received,
                reply,
            } => {
                let sent = sent_since(received, size);
                self.settle(&request_id, reply, buf, Some(sent), |env, active| {
                    env.response_too_large(active, &request_id, size)
                })
            }
            RuntimeRequest::Error {
                request_id,
                error_type,
                body,
                reply,
            } => self.settle(&request_id, reply, buf, None, |_, _| {
                let doc = error_body(error_type.as_deref(), body);
                (RuntimeAnswer::Accepted, Answer::FunctionError(doc))
            }),
            RuntimeRequest::StreamStart {
                request_id,
                content_type,
                reply,
            } => self.on_stream_start(&request_id, content_type, reply),
            RuntimeRequest::StreamEnd {
                request_id,
                end,
                reply,
            } => self.on_stream_end(&request_id, end, reply, buf),
            RuntimeRequest::InitError {
                error_type,
                body,
                reply,
            } => return self.on_init_error(error_type, body, reply, buf),
            extension => return self.on_extension_request(extension),
        }
        Ok(())
    }

    /// `/next`: parks the call until an event is there (ending Init on the first call).
    /// Without multi-concurrency it is refused while an invocation is in flight or another
    /// call waits. Under multi-concurrency more calls than slots may wait (AWS's Node client
    /// polls from more worker threads than it has slots): the scheduler never hands the
    /// environment more invocations than slots, so the extra calls wait for a slot to free;
    /// beyond [`MAX_WAITING_NEXT`] they are refused.
    ///
    /// An invocation whose response is streaming does not hold its slot against `/next`: a
    /// runtime may end its stream and call `/next` at once, without waiting for the answer to
    /// the stream (Node's `aws-lambda-ric` after a failed stream), and that call can arrive
    /// before the end of the stream does. It waits like any other; the slot's next event
    /// comes only once the stream has ended.
    fn on_next(&mut self, reply: oneshot::Sender<NextAnswer>) {
        // A parked call whose connection the runtime closed (a client timeout, a dropped
        // keep-alive) no longer waits: it must not count, nor get an event.
        self.held.parked.retain(|p| !p.is_closed());
        let answering = self
            .held
            .active
            .iter()
            .filter(|a| a.streaming_since.is_none());
        let open = answering.count() + self.held.parked.len();
        let limit = match self.shared.config.max_concurrency {
            Some(_) => MAX_WAITING_NEXT.max(self.slots as usize),
            None => self.slots as usize,
        };
        if open >= limit {
            let message = match self.held.active.first() {
                Some(active) if self.slots == 1 => format!(
                    "invocation {} is in progress: post its response or error before calling next",
                    active.invocation.request_id
                ),
                _ if self.shared.config.max_concurrency.is_some() => format!(
                    "{open} calls to next are in progress or waiting, the most the emulator holds (AWS_LAMBDA_MAX_CONCURRENCY={})",
                    self.slots
                ),
                _ => "a call to next is already waiting: a runtime without AWS_LAMBDA_MAX_CONCURRENCY handles one invocation at a time".to_owned(),
            };
            let _ = reply.send(NextAnswer::Refused(Refusal::invalid_state(&message)));
            return;
        }
        self.held.parked.push_back(reply);
        self.maybe_init_done();
        self.deliver();
        self.freeze_if_idle();
    }

    /// Ends Init when the runtime waits in `/next` and every extension in its own (the
    /// `Runtime init` and `Extension init` phases are both over). Returns whether it did.
    pub(super) fn maybe_init_done(&mut self) -> bool {
        let Phase::Initializing { since, retried } = self.phase else {
            return false;
        };
        if self.held.parked.is_empty() || !self.extensions.all_idle() {
            return false;
        }
        for line in self.extensions.ready_lines() {
            self.telemetry.platform_line(&line);
            self.platform(line);
        }
        self.init_done(since, retried);
        true
    }

    /// Init is over (first `/next`): records its duration and tells the scheduler how many
    /// more invocations this environment can take, beyond those it already holds.
    fn init_done(&mut self, since: Instant, retried: bool) {
        let took = since.elapsed();
        self.shared.metrics.init_duration.observe(took);
        // The processes' peak so far (the runtime's `VmHWM` among it), while they are alive:
        // an invocation that crashes reports at least this (once the runtime is gone only the
        // cgroup's peak can be read, and it misses what was charged before the move).
        self.memory();
        let outcome = InitOutcome {
            init_type: self.init_type(),
            phase: if retried { "invoke" } else { "init" },
            status: "success",
            error_type: None,
        };
        // Lambda writes no INIT_REPORT line for an Init that succeeded: telemetry only.
        self.telemetry
            .init_ended(&outcome, &PlatformLine::init_report(&outcome, took));
        self.telemetry.init_done();
        if retried {
            let deadline = self
                .deadline
                .unwrap_or_else(|| Instant::now() + self.shared.config.timeout);
            self.retried_init = Some((since, deadline));
        } else if self.kind == EnvKind::OnDemand {
            // Provisioned environments report no Init Duration: Init was not part of any
            // invocation.
            self.cold_init = Some(took);
        }
        self.phase = Phase::Ready;
        self.set_deadline(None);
        let held = u32::try_from(self.held.pending.len()).unwrap_or(u32::MAX);
        let _ = self
            .shared
            .pool
            .send(PoolMessage::Ready(self.id, self.slots.saturating_sub(held)));
    }

    /// A buffered answer (`/response`, sent as `response` says, or `/error`) for
    /// `request_id`: `decide` gives the runtime's answer and the caller's; the environment
    /// stays.
    fn settle(
        &mut self,
        request_id: &str,
        reply: oneshot::Sender<RuntimeAnswer>,
        buf: &mut [u8],
        response: Option<ResponseSent>,
        decide: impl FnOnce(&mut Self, &mut Active) -> (RuntimeAnswer, Answer),
    ) {
        let Some((mut active, reply)) = self.take_active(request_id, reply) else {
            return;
        };
        active.response = response;
        let (runtime_answer, answer) = decide(self, &mut active);
        let _ = reply.send(runtime_answer);
        self.drain_answered_output(buf);
        self.complete(active, answer, true);
    }

    /// A `/response` over the limit: the platform's error line, and
    /// `Function.ResponseSizeTooLarge` for the caller.
    fn response_too_large(
        &mut self,
        active: &mut Active,
        request_id: &str,
        size: usize,
    ) -> (RuntimeAnswer, Answer) {
        let limit = crate::api::MAX_RESPONSE_BYTES;
        let line = format!(
            "RequestId: {request_id} Error: Response payload size exceeded maximum allowed payload size ({limit} bytes)."
        );
        self.note(active, PlatformLine::fault(line));
        let message = format!(
            "Response payload size ({size} bytes) exceeded maximum allowed payload size ({limit} bytes)."
        );
        let doc = error_document("Function.ResponseSizeTooLarge", &message);
        (RuntimeAnswer::TooLarge, Answer::FunctionError(doc))
    }

    /// `/init/error`: Init failed (see `ending`).
    fn on_init_error(
        &mut self,
        error_type: Option<String>,
        body: Option<bytes::Bytes>,
        reply: oneshot::Sender<RuntimeAnswer>,
        buf: &mut [u8],
    ) -> Result<(), End> {
        let Phase::Initializing { since, .. } = self.phase else {
            let _ = reply.send(RuntimeAnswer::Refused(Refusal::invalid_state(
                "init/error is only allowed before the first call to next",
            )));
            return Ok(());
        };
        let _ = reply.send(RuntimeAnswer::Accepted);
        self.drain_final_output(buf);
        let doc = error_body(error_type.as_deref(), body);
        let kind = platform_error_type(error_type_of(&doc).as_deref()).to_owned();
        self.end_reason = format!("Init failed ({kind})");
        self.shutdown_reason = "failure";
        // The runtime exits by itself after reporting; give it a moment to do so.
        self.exit_grace = INIT_ERROR_EXIT_GRACE;
        // The runtime wrote its error itself: the platform adds no line about it.
        self.init_failed(since.elapsed(), "error", Some(&kind), |_| (Vec::new(), doc));
        Err(End::Failed)
    }
}

/// A buffered response of `bytes` whose request's head arrived at `received`, all read now.
fn sent_since(received: Instant, bytes: usize) -> ResponseSent {
    ResponseSent {
        started: received,
        finished: Instant::now(),
        bytes: u64::try_from(bytes).unwrap_or(u64::MAX),
    }
}
