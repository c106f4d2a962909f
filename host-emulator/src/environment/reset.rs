//! How an environment's processes end, as on Lambda: the Shutdown phase (idle reclaim, a code
//! change, the emulator stopping) and the reset after a failure, which behaves like it. The
//! subscriptions get what they hold; the extensions registered for `SHUTDOWN` get the event
//! with its reason (`spindown`, or `timeout` or `failure` for a reset); the runtime gets
//! SIGTERM; and the processes have the phase's limit (2,000 ms with an external extension,
//! 500 ms with internal ones only) to exit or call `/next` again, before the whole process
//! group is killed. Without extensions there is no Shutdown phase: the processes are killed at
//! once.
//!
//! After a reset the environment itself stays, as on Lambda: its `TMPDIR`, its log stream and
//! its Runtime API listener are kept, its slot is offered again, and the next invocation it
//! gets runs Init in fresh processes inside its invoke (a *suppressed* Init): no `INIT_START`
//! line, no `Init Duration` in its `REPORT`, its `Duration` counts the Init, and the Init runs
//! under the function's timeout, not the 10-second Init limit. A function whose Init takes
//! longer than its timeout therefore fails every invocation after its first failure, as it
//! does on Lambda. A first Init that fails or times out is retried the same way, at once,
//! inside the invoke of the invocation that waits for it (see `ending`).
//!
//! Kept to on-demand environments with one invocation at a time. Provisioned environments
//! end and are replaced ahead of traffic; multi-concurrency environments end, and their next
//! invocations start new ones.

use std::sync::atomic::Ordering;
use std::time::{Instant, SystemTime};

use tokio::sync::watch;

use super::{End, EnvCommand, EnvKind, Environment, NextAnswer, Phase};
use crate::api::runtime::{RuntimeAnswer, RuntimeRequest};
use crate::logs::Tail;

/// The share of the Shutdown phase's limit that the wait for the subscriptions' records may
/// take before `SHUTDOWN` goes out (a quarter: 500 ms of 2,000 ms).
const SHUTDOWN_FLUSH_SHARE: u32 = 4;

impl Environment {
    /// Ends the environment's processes: the Shutdown phase with `reason` (when extensions
    /// are registered), then SIGKILL to whatever is left of the process group.
    pub(super) async fn reset(&mut self, reason: &'static str) {
        // An invoke phase the extensions had not ended is over: its REPORT says how.
        self.write_reports(match reason {
            "timeout" => Some(("timeout", "Sandbox.Timedout")),
            "failure" => Some(("failure", "Runtime.Unknown")),
            _ => None,
        });
        self.await_exit_grace().await;
        self.shutdown_phase(reason).await;
        // What the processes wrote and nothing read yet, unfinished last line included: an
        // environment reclaimed, retired or shut down is killed without exiting by itself.
        let mut buf = vec![0u8; 64 * 1024];
        self.drain_final_output(&mut buf);
        self.flush_output();
        if let Some(process) = self.process.take() {
            if process.is_frozen() {
                self.shared
                    .metrics
                    .frozen
                    .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
            }
            process.kill().await;
        }
        // Calls of the killed processes not handled yet: there is nobody left to answer
        // (dropping them answers 500). Processes started after this make their own calls.
        while self.requests.try_recv().is_ok() {}
    }

    /// Gives a runtime that reported its own failure (`/init/error`) the moment it was granted
    /// to exit by itself, reading what it writes meanwhile (so that it never blocks on a full
    /// pipe) and answering its calls (see [`Self::during_exit_grace`]).
    async fn await_exit_grace(&mut self) {
        let grace = std::mem::take(&mut self.exit_grace);
        if grace.is_zero() {
            return;
        }
        let sleep = tokio::time::sleep(grace);
        tokio::pin!(sleep);
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let open = self.open_pipes();
            let Some(process) = self.process.as_mut() else {
                break;
            };
            let (exit, _, pipes) = process.watch();
            tokio::select! {
                _ = exit => break,
                ready = super::output::any_readable(pipes, open) => {
                    if ready.is_ok() {
                        self.drain_output(&mut buf);
                    }
                }
                Some(request) = self.requests.recv() => {
                    self.during_exit_grace(request, &mut buf).await;
                }
                () = &mut sleep => break,
            }
        }
        self.drain_final_output(&mut buf);
        self.flush_output();
    }

    /// A call made while a runtime that posted `/init/error` is given time to exit: Init has
    /// failed, so `/next` and a second `/init/error` are refused (403); an answer for an
    /// invocation gets what it gets in Init (none is in flight: 400); an extension's `/next`
    /// waits for its `SHUTDOWN`; any other call is dropped (500), as in the Shutdown phase.
    async fn during_exit_grace(&mut self, request: RuntimeRequest, buf: &mut [u8]) {
        let failed = |what: &str| {
            super::errors::Refusal::invalid_state(&format!(
                "{what} is not allowed after init/error: Init failed and the runtime is expected to exit"
            ))
        };
        match request {
            RuntimeRequest::Next { reply } => {
                let _ = reply.send(NextAnswer::Refused(failed("next")));
            }
            RuntimeRequest::InitError { reply, .. } => {
                let _ = reply.send(RuntimeAnswer::Refused(failed("init/error")));
            }
            RuntimeRequest::ExtensionNext { id, reply } => {
                self.extensions.next(&id, reply);
            }
            request @ (RuntimeRequest::Response { .. }
            | RuntimeRequest::ResponseTooLarge { .. }
            | RuntimeRequest::Error { .. }
            | RuntimeRequest::StreamStart { .. }
            | RuntimeRequest::StreamEnd { .. }) => {
                // Nothing is in flight during Init: these are refused and change nothing.
                let _ = self.on_request(request, buf).await;
            }
            _ => {}
        }
    }

    /// Whether the environment is kept after its processes failed: an on-demand environment
    /// with one slot whose code has not changed since it started, past its first Init or with
    /// an invocation waiting for that Init (which then runs again inside its invoke).
    pub(super) fn survives_failure(&self) -> bool {
        let first_init = matches!(self.phase, Phase::Initializing { retried: false, .. });
        self.kind == EnvKind::OnDemand
            && self.slots == 1
            && (!first_init || !self.held.pending.is_empty())
            && !self.retire_when_idle
            && self.generation == self.shared.code_generation.load(Ordering::Acquire)
    }

    /// Whether a failed Init runs again inside the invoke of the invocation waiting for it:
    /// the first Init of an environment kept after failures.
    pub(super) fn retries_init(&self) -> bool {
        matches!(self.phase, Phase::Initializing { retried: false, .. }) && self.survives_failure()
    }

    /// Lambda's reset after a failure, for an environment that stays: ends its processes (a
    /// Shutdown phase with the failure's reason) and waits for the invocation inside which Init
    /// runs again: the one already waiting when the first Init failed, or the next one (the
    /// failed invocation offered the slot again). Returns once that Init has started, or how
    /// the environment ends.
    pub(super) async fn reset_after_failure(
        &mut self,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<(), End> {
        self.reset(self.shutdown_reason).await;
        tracing::info!(function = %self.shared.config.name, env = self.id, "environment reset: {}; the next invocation runs Init again inside its invoke", self.end_reason);
        self.phase = Phase::Reset;
        self.held.parked.clear();
        // An invocation whose invoke phase the extensions had not ended yet still holds the
        // slot and its concurrency: both are free now (the concurrency first).
        let owed = std::mem::take(&mut self.extensions).owed;
        if !owed.is_empty() {
            drop(owed);
            self.release_slot();
        }
        self.freeze_at = None;
        self.set_deadline(None);
        self.retried_init = None;
        self.cold_init = None;
        // The tail of an invocation that waited for a failed first Init keeps its lines.
        let init_tail = self.init_tail.take();
        self.peak_memory = 0;
        self.memory_exceeded = false;
        self.end_reason.clear();
        self.shutdown_reason = "spindown";
        // Its one slot was offered again when the failed invocation was answered (or is still
        // listed, when the runtime died between invocations), unless an invocation already
        // waits here; the next one to arrive runs the Init.
        if self.retire_when_idle && self.held.pending.is_empty() {
            self.end_reason = "its code changed".into();
            return Err(End::Shutdown);
        }
        while self.held.pending.is_empty() {
            tokio::select! {
                command = self.commands.recv() => match command {
                    Some(EnvCommand::Invoke(invocation)) => self.held.pending.push_back(invocation),
                    Some(EnvCommand::Shutdown) | None => return Err(End::Shutdown),
                },
                // No process is left to call; a stray call gets 500 (its reply is dropped).
                Some(_) = self.requests.recv() => {}
                changed = shutdown.changed() => {
                    if changed.is_err() || *shutdown.borrow() {
                        return Err(End::Shutdown);
                    }
                }
            }
        }
        let first = &self.held.pending[0];
        self.init_tail = match init_tail {
            Some((id, tail)) if id == first.request_id => Some((id, tail)),
            _ => first
                .tail
                .then(|| (first.request_id.clone(), Tail::default())),
        };
        self.init_inside_invoke()
    }

    /// Starts Init again in fresh processes, inside the invoke of the invocation waiting for
    /// it, under the function's timeout: after a reset, or when the first Init failed. The
    /// new Init is announced to the telemetry subscribers (there are none yet: the killed
    /// extensions' subscriptions went with them), not written to the log, as on Lambda.
    /// Processes that cannot be started fail that invocation and end the environment.
    pub(super) fn init_inside_invoke(&mut self) -> Result<(), End> {
        self.shared
            .metrics
            .suppressed_inits
            .fetch_add(1, Ordering::Relaxed);
        self.held.parked.clear();
        self.telemetry.restart_init();
        let start = self.init_start("invoke");
        self.telemetry.platform_line(&start);
        let now = Instant::now();
        self.phase = Phase::Initializing {
            since: now,
            retried: true,
        };
        if let Err(e) = self.spawn_members() {
            self.cannot_spawn(&e);
            return Err(End::Broken);
        }
        self.set_deadline(Some(now + self.shared.config.timeout));
        Ok(())
    }

    /// The Shutdown phase, when extensions are registered: `SHUTDOWN` (with `reason`) to those
    /// that asked for it, SIGTERM to the runtime, then up to the phase's limit for the runtime
    /// to exit and each extension to exit or call `/next` again (the caller kills what is
    /// left). Extensions may still call `/next` meanwhile (they get their queued events); the
    /// runtime's `/next` waits unanswered until its process ends; any other call gets 500.
    async fn shutdown_phase(&mut self, reason: &'static str) {
        let Some(limit) = self.extensions.shutdown_limit() else {
            return;
        };
        if self.process.is_none() {
            return;
        }
        self.thaw();
        let deadline = Instant::now() + limit;
        let deadline_ms = crate::ids::millis_of(SystemTime::now() + limit);
        // What the subscriptions hold (a failed Init's records among it) is sent before any
        // extension learns that the environment ends. The wait for it is bounded to a share of
        // the phase, so that a slow subscriber cannot keep SHUTDOWN from going out with most
        // of the phase left to act on it; the deliveries go on meanwhile.
        self.telemetry.flush(limit / SHUTDOWN_FLUSH_SHARE).await;
        let sent = self.extensions.shutdown(reason, deadline_ms);
        tracing::debug!(function = %self.shared.config.name, env = self.id, reason, sent, "shutdown phase");
        if let Some(process) = &self.process {
            process.signal_runtime(libc::SIGTERM);
        }
        let sleep = tokio::time::sleep_until(deadline.into());
        tokio::pin!(sleep);
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let open = self.open_pipes();
            let Some(process) = self.process.as_mut() else {
                break;
            };
            let runtime_done = process.has_exited();
            let extensions_alive = process.extensions_alive();
            // An extension that called `/next` again after its SHUTDOWN event is done, as
            // with any phase; the phase ends once the runtime has exited too.
            if runtime_done && (!extensions_alive || self.extensions.all_idle()) {
                break;
            }
            let (exit, extension_exit, pipes) = process.watch();
            tokio::select! {
                _ = exit, if !runtime_done => {}
                _ = extension_exit, if extensions_alive => {}
                ready = super::output::any_readable(pipes, open) => {
                    if ready.is_ok() {
                        self.drain_output(&mut buf);
                    }
                }
                Some(request) = self.requests.recv() => match request {
                    RuntimeRequest::ExtensionNext { id, reply } => {
                        self.extensions.next(&id, reply);
                    }
                    // The runtime's `/next` waits, unanswered, as on Lambda: a runtime whose
                    // SIGTERM hook is still running must not be told to exit (its loop would
                    // end `main` and cut the hook short). It is dropped with the processes.
                    RuntimeRequest::Next { reply } => self.held.parked.push_back(reply),
                    // Any other call is dropped: its caller gets 500, "exit now".
                    _ => {}
                },
                () = &mut sleep => break,
            }
        }
        self.drain_final_output(&mut buf);
        self.flush_output();
    }
}
