//! Multi-concurrency (Lambda Managed Instances, `max_concurrency = N`): one environment holds
//! up to N invocations at once. The runtime keeps up to N `/next` calls open; events go to
//! them in arrival order and answers may come back in any order. A timeout, a crash or running
//! out of memory ends the environment and every invocation in it.

use std::collections::VecDeque;
use std::time::{Instant, SystemTime};

use tokio::sync::oneshot;

use super::errors::{timeout_document, unknown_request};
use super::{Active, End, EnvKind, Environment, NextAnswer, NextEvent, State};
use crate::api::runtime::RuntimeAnswer;
use crate::invocation::{error_document, Answer, Invocation};
use crate::scheduler::PoolMessage;

/// The invocations of a multi-concurrent environment.
#[derive(Default)]
pub(super) struct Multi {
    /// Delivered and not answered, with their deadlines.
    active: Vec<(Active, Instant)>,
    /// `/next` calls waiting for an event.
    parked: VecDeque<oneshot::Sender<NextAnswer>>,
    /// Assigned, not yet delivered.
    pending: VecDeque<Invocation>,
}

impl Multi {
    /// Takes the undelivered invocations (to hand back to the scheduler).
    pub(super) fn take_pending(&mut self) -> Vec<Invocation> {
        self.pending.drain(..).collect()
    }
}

impl Environment {
    pub(super) fn multi_on_invoke(&mut self, invocation: Invocation) {
        self.multi.pending.push_back(invocation);
        self.multi_deliver();
    }

    pub(super) fn multi_on_next(&mut self, reply: oneshot::Sender<NextAnswer>) {
        if let State::Initializing { since, suppressed } = self.state {
            self.shared.metrics.init_duration.observe(since.elapsed());
            if !suppressed && self.kind == EnvKind::OnDemand {
                self.cold_init = Some(since.elapsed());
            }
            self.set_deadline(None);
            self.state = State::Idle;
            if let Some(first) = self.pending.take() {
                self.multi.pending.push_back(first);
            }
            self.tail = None;
            self.reported_idle = true;
            let held = self.multi.pending.len() as u32;
            let _ = self
                .shared
                .pool
                .send(PoolMessage::Ready(self.id, self.slots.saturating_sub(held)));
        }
        let open = self.multi.active.len() + self.multi.parked.len();
        if open >= self.slots as usize {
            let doc = error_document(
                "InvalidStateTransition",
                &format!(
                    "{} invocations are in progress or waiting, the most AWS_LAMBDA_MAX_CONCURRENCY={} allows",
                    open, self.slots
                ),
            );
            let _ = reply.send(NextAnswer::Refused(doc));
            return;
        }
        self.multi.parked.push_back(reply);
        self.multi_deliver();
    }

    /// Hands waiting invocations to waiting `/next` calls.
    fn multi_deliver(&mut self) {
        while !self.multi.pending.is_empty() {
            let Some(parked) = self.multi.parked.pop_front() else {
                return;
            };
            let Some(invocation) = self.multi.pending.pop_front() else {
                return;
            };
            let now = Instant::now();
            let deadline = now + self.shared.config.timeout;
            let event = NextEvent {
                request_id: invocation.request_id.clone(),
                payload: invocation.payload.clone(),
                deadline_ms: crate::ids::millis_of(SystemTime::now() + self.shared.config.timeout),
                invoked_arn: invocation.invoked_arn.clone(),
                trace_id: invocation.trace_id.clone(),
                client_context: invocation.client_context.clone(),
                cognito_identity: invocation.cognito_identity.clone(),
                tenant_id: invocation.tenant_id.clone(),
            };
            if parked.send(NextAnswer::Event(event)).is_err() {
                // That `/next` connection went away; try the next one.
                self.multi.pending.push_front(invocation);
                continue;
            }
            self.platform(format!(
                "START RequestId: {} Version: $LATEST",
                invocation.request_id
            ));
            let init = self.cold_init.take();
            self.multi.active.push((
                Active {
                    invocation,
                    started: now,
                    init,
                },
                deadline,
            ));
            self.multi_reset_deadline();
        }
    }

    fn multi_reset_deadline(&mut self) {
        let earliest = self.multi.active.iter().map(|(_, d)| *d).min();
        self.set_deadline(earliest);
        if earliest.is_none() {
            self.deadline = None;
        }
    }

    pub(super) fn multi_take_active(
        &mut self,
        request_id: &str,
        reply: oneshot::Sender<RuntimeAnswer>,
    ) -> Option<(Active, oneshot::Sender<RuntimeAnswer>)> {
        let Some(i) = self
            .multi
            .active
            .iter()
            .position(|(a, _)| a.invocation.request_id == request_id)
        else {
            let answered = self.last_answered.as_deref() == Some(request_id);
            let _ = reply.send(RuntimeAnswer::BadRequest(unknown_request(
                request_id, answered,
            )));
            return None;
        };
        let (active, _) = self.multi.active.swap_remove(i);
        self.multi_reset_deadline();
        Some((active, reply))
    }

    /// A deadline passed: the invocations past theirs time out, the others die with the
    /// environment.
    pub(super) fn multi_on_deadline(&mut self) -> Result<(), End> {
        let now = Instant::now();
        if !self.multi.active.iter().any(|(_, d)| *d <= now) {
            self.multi_reset_deadline();
            return Ok(());
        }
        let timeout = self.shared.config.timeout;
        self.end_reason = "invocation timed out".into();
        for (active, deadline) in std::mem::take(&mut self.multi.active) {
            let id = active.invocation.request_id.clone();
            let doc = if deadline <= now {
                self.timed_out(&id, timeout);
                timeout_document(&id, timeout)
            } else {
                let message = format!(
                    "RequestId: {id} Error: Runtime exited with error: signal: killed (another invocation in the environment timed out)"
                );
                self.platform(message.clone());
                error_document("Runtime.ExitError", &message)
            };
            self.complete(active, Answer::FunctionError(doc), false);
        }
        Err(End::Failed)
    }

    /// The process exited: every invocation in progress fails. Returns whether it handled
    /// the exit (false while Init is still running, which the single-invocation path
    /// handles).
    pub(super) fn multi_on_exit(&mut self, reason: &Option<String>) -> bool {
        if matches!(self.state, State::Initializing { .. }) {
            return false;
        }
        for (active, _) in std::mem::take(&mut self.multi.active) {
            let id = active.invocation.request_id.clone();
            let message = match reason {
                Some(r) => format!("RequestId: {id} Error: Runtime exited with error: {r}"),
                None => format!("RequestId: {id} Error: Runtime exited without providing a reason"),
            };
            self.platform(message.clone());
            self.platform("Runtime.ExitError".into());
            let doc = error_document("Runtime.ExitError", &message);
            self.complete(active, Answer::FunctionError(doc), false);
        }
        true
    }

    /// Fails every invocation in progress with `doc_for(request id)`.
    pub(super) fn multi_fail_all(&mut self, doc_for: impl Fn(&str) -> bytes::Bytes) {
        for (active, _) in std::mem::take(&mut self.multi.active) {
            let doc = doc_for(&active.invocation.request_id);
            self.complete(active, Answer::FunctionError(doc), false);
        }
    }

    /// The emulator shuts down: invocations in progress get a service error.
    pub(super) fn multi_shutdown(&mut self) {
        for (active, _) in std::mem::take(&mut self.multi.active) {
            active.invocation.finish(
                Answer::ServiceError("the emulator is shutting down".into()),
                None,
            );
        }
    }

    /// Whether any invocation is in progress under multi-concurrency.
    pub(super) fn multi_busy(&self) -> bool {
        !self.multi.active.is_empty()
    }
}
