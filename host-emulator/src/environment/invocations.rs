//! The invocations an environment holds: those assigned and not yet delivered, those delivered
//! and not yet answered (each with its own deadline and log tail), and the runtime's `/next`
//! calls waiting for an event. An environment holds at most `slots` invocations: one, or
//! `max_concurrency` under multi-concurrency (Lambda Managed Instances), where the runtime keeps
//! up to N `/next` calls open and answers in any order. Also when the environment is idle
//! enough to be frozen: no invocation in flight and every slot waiting in `/next`.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::oneshot;

use super::errors::{unknown_request, Refusal};
use super::{Environment, NextAnswer, NextEvent, Phase, FREEZE_GRACE};
use crate::api::runtime::RuntimeAnswer;
use crate::invocation::{Answer, Invocation};
use crate::logs::system::{PlatformLine, ResponseSent};
use crate::logs::Tail;
use crate::scheduler::idle::Slot;
use crate::scheduler::PoolMessage;

/// How many answered request ids are remembered, to tell "answered twice" from "unknown".
const ANSWERED_MEMORY: usize = 64;

/// An invocation delivered to the runtime and not yet answered.
pub(super) struct Active {
    pub invocation: Invocation,
    /// Its request id, for its log lines.
    pub id: std::sync::Arc<str>,
    /// When its clock started (delivery, or the start of an Init retried inside it).
    pub started: Instant,
    /// The Init phase it waited for (cold starts of on-demand environments).
    pub init: Option<Duration>,
    /// When it times out.
    pub deadline: Instant,
    /// Its log tail, when its caller asked for one.
    pub tail: Option<Tail>,
    /// When the runtime began to stream its response, while it streams.
    pub streaming_since: Option<Instant>,
    /// How the runtime sent its response, once it has (for `platform.runtimeDone`).
    pub response: Option<ResponseSent>,
}

/// The invocations of one environment and the runtime's waiting `/next` calls.
#[derive(Default)]
pub(super) struct Held {
    /// Assigned, not yet delivered (oldest first).
    pub pending: VecDeque<Invocation>,
    /// `/next` calls waiting for an event (oldest first).
    pub parked: VecDeque<oneshot::Sender<NextAnswer>>,
    /// Delivered, not yet answered.
    pub active: Vec<Active>,
    /// Recently answered request ids.
    answered: VecDeque<String>,
}

impl Held {
    /// Remembers that `request_id` was answered.
    pub fn answered(&mut self, request_id: String) {
        if self.answered.len() == ANSWERED_MEMORY {
            self.answered.pop_front();
        }
        self.answered.push_back(request_id);
    }

    /// The 400 document for an answer to `request_id`, which is not in flight.
    pub fn not_in_flight(&self, request_id: &str) -> Refusal {
        unknown_request(request_id, self.answered.iter().any(|a| a == request_id))
    }

    /// The invocation in flight with this id.
    pub fn active_mut(&mut self, request_id: &str) -> Option<&mut Active> {
        self.active
            .iter_mut()
            .find(|a| a.invocation.request_id == request_id)
    }

    /// Removes the invocation in flight with this id.
    pub fn remove_active(&mut self, request_id: &str) -> Option<Active> {
        let i = self
            .active
            .iter()
            .position(|a| a.invocation.request_id == request_id)?;
        Some(self.active.remove(i))
    }
}

impl Environment {
    /// The scheduler assigned an invocation.
    pub(super) fn on_invoke(&mut self, invocation: Invocation) {
        let held = self.held.pending.len() + self.held.active.len();
        if held >= self.slots as usize {
            // The scheduler raced with a state change: give the invocation back.
            let _ = self.shared.pool.send(PoolMessage::Retry(invocation));
            return;
        }
        self.held.pending.push_back(invocation);
        self.deliver();
    }

    /// Hands pending invocations to waiting `/next` calls, oldest first.
    pub(super) fn deliver(&mut self) {
        if !matches!(self.phase, Phase::Ready) {
            return;
        }
        while !self.held.pending.is_empty() {
            let Some(parked) = self.held.parked.pop_front() else {
                return;
            };
            if parked.is_closed() {
                // That `/next` connection went away while it waited.
                continue;
            }
            let Some(invocation) = self.held.pending.pop_front() else {
                return; // checked non-empty just above
            };
            let now = Instant::now();
            let (started, deadline) = self
                .retried_init
                .unwrap_or((now, now + self.shared.config.timeout));
            let remaining = deadline.saturating_duration_since(now);
            let deadline_ms = crate::ids::millis_of(SystemTime::now() + remaining);
            let was_frozen = self.thaw();
            if self.runtime_is_dying(was_frozen) {
                // Killed while idle: the event was never handed over. Keep it pending; the
                // exit is handled next, and `finish` hands pending invocations back to the
                // scheduler, which gives them to another environment.
                self.held.pending.push_front(invocation);
                self.held.parked.push_front(parked);
                return;
            }
            let event = NextEvent::new(&invocation, deadline_ms);
            self.extensions.invoke(&event);
            if parked.send(NextAnswer::Event(event)).is_err() {
                // That `/next` connection went away; try the next one.
                self.held.pending.push_front(invocation);
                continue;
            }
            // Init retried inside the invoke is part of its duration, not an Init Duration.
            let init = match self.retried_init.take() {
                Some(_) => None,
                None => self.cold_init.take(),
            };
            let active = self.begin(invocation, (started, deadline), init);
            self.held.active.push(active);
            self.reset_deadline();
        }
    }

    /// Starts an invocation's invoke phase, its clock running since `started`: its tail (the
    /// one that holds the Init lines, when it waited for Init), and `START`.
    fn begin(
        &mut self,
        invocation: Invocation,
        (started, deadline): (Instant, Instant),
        init: Option<Duration>,
    ) -> Active {
        let tail = match self.init_tail.take() {
            Some((id, tail)) if id == invocation.request_id => Some(tail),
            other => {
                self.init_tail = other;
                invocation.tail.then(Tail::default)
            }
        };
        let mut active = Active {
            id: std::sync::Arc::from(invocation.request_id.as_str()),
            invocation,
            started,
            init,
            deadline,
            tail,
            streaming_since: None,
            response: None,
        };
        let start = PlatformLine::start(
            &active.invocation.request_id,
            self.shared.config.version(),
            &active.invocation.trace_id,
            self.records_wanted(),
        );
        self.telemetry.platform_line(&start);
        self.note(&mut active, start);
        active
    }

    /// Arms the timer for the earliest deadline of the invocations in flight.
    pub(super) fn reset_deadline(&mut self) {
        let extensions = match &self.extensions.owed_deadline {
            Some((_, deadline)) if !self.extensions.owed.is_empty() => Some(*deadline),
            _ => None,
        };
        let earliest = self
            .held
            .active
            .iter()
            .map(|a| a.deadline)
            .chain(extensions)
            .min();
        self.set_deadline(earliest);
    }

    /// Takes the invocation in flight named `request_id` for a buffered answer; otherwise
    /// refuses it (403 or 400, see `api::runtime::refused`) and changes nothing.
    pub(super) fn take_active(
        &mut self,
        request_id: &str,
        reply: oneshot::Sender<RuntimeAnswer>,
    ) -> Option<(Active, oneshot::Sender<RuntimeAnswer>)> {
        let refusal = match self.held.active_mut(request_id) {
            Some(active) if active.invocation.streaming => Refusal::invalid_state(&format!(
                "the response of invocation {request_id} is streaming; finish the stream instead"
            )),
            Some(_) => {
                let active = self.held.remove_active(request_id)?;
                self.reset_deadline();
                return Some((active, reply));
            }
            None => self.held.not_in_flight(request_id),
        };
        let _ = reply.send(RuntimeAnswer::Refused(refusal));
        None
    }

    /// Ends an invocation with `answer`, logging END and REPORT. When the environment survives
    /// (`keep`), its slot is offered as free *before* the caller gets the answer, so that the
    /// caller's next invoke finds it warm; the scheduler is told only when throttled events
    /// wait for room. So is the slot of a failed invocation (`!keep`) whose environment is to
    /// be reset and kept: the caller's next invoke then runs Init again here rather than in a
    /// new environment (it waits in the command channel until the reset is over).
    ///
    /// An invocation answered with a peak past the memory limit (as its REPORT would show
    /// it) is not answered here: it is held again, and fails with `Runtime.OutOfMemory` at
    /// the next turn of the environment's loop (see `memory`).
    pub(super) fn complete(&mut self, mut active: Active, answer: Answer, keep: bool) {
        let max_memory_bytes = self.memory();
        if keep && self.peak_over_limit(max_memory_bytes) {
            self.held.active.push(active);
            return;
        }
        let report = self.runtime_done(&mut active, &answer);
        self.held.answered(active.invocation.request_id.clone());
        if keep && !self.extensions.all_idle() {
            // The invoke phase lasts until every extension calls `/next` again: the slot and
            // the function's concurrency stay taken until then, and its REPORT waits for its
            // end (the caller's tail has the lines up to the answer).
            self.extensions.owed_deadline =
                Some((active.invocation.request_id.clone(), active.deadline));
            self.extensions.owed_since.get_or_insert_with(Instant::now);
            let tail = active.tail.take().map(Tail::finish);
            let permit = active.invocation.finish_holding_permit(answer, tail);
            self.extensions.owed.push(permit);
            self.extensions.reports.push(report);
            self.reset_deadline();
            return;
        }
        self.report(report, !keep, max_memory_bytes, Some(&mut active));
        let tail = active.tail.take().map(Tail::finish);
        if keep || self.survives_failure() {
            self.release_slot();
        }
        active.invocation.finish(answer, tail);
    }

    /// A slot's invoke phase is over: it is offered again, or the environment retires once
    /// idle when its code changed.
    pub(super) fn release_slot(&mut self) {
        if self.generation == self.shared.code_generation.load(Ordering::Acquire) {
            self.offer_slot();
        } else {
            self.retire_when_idle = true;
        }
    }

    /// Offers one free slot: to the invoke path and the scheduler through the function's
    /// free slots, and to the scheduler's waiting events.
    fn offer_slot(&mut self) {
        // No sender left means the scheduler is gone: nothing can be handed to us any more.
        if let Some(tx) = self.me.upgrade() {
            let slot = Slot {
                id: self.id,
                tx,
                since: Instant::now(),
            };
            self.shared.idle.push(self.kind, slot);
        }
        if self.shared.deferred_waiting.load(Ordering::Acquire) {
            let _ = self.shared.pool.send(PoolMessage::Idle);
        }
    }

    /// Fails the invocation that waited for Init (Init failed) as Lambda logs it: `START`,
    /// the platform's `lines` about the failure, `END` and `REPORT` (with the failure's
    /// status), then the answer `doc`, with its tail. Its clock ran from the start of an Init
    /// inside its invoke. Its slot is offered first when the environment is to be reset and
    /// kept (see [`Self::complete`]).
    pub(super) fn fail_pending(&mut self, lines: Vec<String>, doc: bytes::Bytes) {
        let Some(invocation) = self.held.pending.pop_front() else {
            return;
        };
        let started = match self.phase {
            Phase::Initializing {
                since,
                retried: true,
            } => since,
            _ => Instant::now(),
        };
        let deadline = started + self.shared.config.timeout;
        let mut active = self.begin(invocation, (started, deadline), None);
        for line in lines {
            self.note(&mut active, PlatformLine::fault(line));
        }
        self.complete(active, Answer::FunctionError(doc), false);
    }

    /// The request id of the invocation waiting for Init, if any.
    pub(super) fn first_pending_id(&self) -> Option<String> {
        self.held.pending.front().map(|i| i.request_id.clone())
    }

    /// Whether every slot is idle: nothing in flight or pending, and the runtime waits in
    /// `/next` on every slot.
    fn all_slots_idle(&self) -> bool {
        matches!(self.phase, Phase::Ready)
            && self.held.active.is_empty()
            && self.held.pending.is_empty()
            && self.held.parked.len() >= self.slots as usize
            && self.extensions.all_idle()
    }

    /// Schedules a freeze [`FREEZE_GRACE`] from now when every slot is idle (`freeze` on).
    /// An event that arrives before then finds the environment running, as on Lambda when an
    /// event is already waiting for the runtime's `/next`; under steady load environments are
    /// therefore not frozen and thawed between back-to-back invocations.
    pub(super) fn freeze_if_idle(&mut self) {
        if !self.shared.config.freeze || !self.all_slots_idle() {
            return;
        }
        let at = Instant::now() + FREEZE_GRACE;
        self.freeze_at = Some(at);
        self.freeze_timer.as_mut().reset(at.into());
    }

    /// Freezes the processes if every slot is still idle (the scheduled freeze is due).
    pub(super) fn freeze_now_if_idle(&mut self) {
        if !self.shared.config.freeze || !self.all_slots_idle() {
            return;
        }
        if let Some(process) = &mut self.process {
            if !process.is_frozen() && process.freeze() {
                self.shared
                    .metrics
                    .frozen
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
    }

    /// Lets the processes run again before an event is delivered. Returns whether they were
    /// frozen.
    pub(super) fn thaw(&mut self) -> bool {
        if let Some(process) = &mut self.process {
            if process.thaw() {
                self.shared
                    .metrics
                    .frozen
                    .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
                return true;
            }
        }
        false
    }

    /// Whether the runtime process has exited or is about to (a SIGKILL that arrived while it
    /// was frozen only takes effect once it is thawed). One `waitpid(WNOHANG)`; the `/proc`
    /// read for a pending kill happens only right after a thaw, never on the warm path.
    fn runtime_is_dying(&mut self, was_frozen: bool) -> bool {
        let Some(process) = &mut self.process else {
            return true;
        };
        process.has_exited() || (was_frozen && process.kill_pending())
    }
}
