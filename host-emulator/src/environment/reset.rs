//! How an environment's processes end, as on Lambda: the Shutdown phase (idle reclaim, a code
//! change, the emulator stopping) and the reset after a failure, which behaves like it. The
//! subscriptions get what they hold; the extensions registered for `SHUTDOWN` get the event
//! with its reason (`spindown`, or `timeout` or `failure` for a reset); the runtime gets
//! SIGTERM; and the processes have the phase's limit (2,000 ms with an external extension,
//! 500 ms with internal ones only) to exit or call `/next` again, before the whole process
//! group is killed. Without extensions there is no Shutdown phase: the processes are killed at
//! once.
//!
//! A reset ends the environment, but for an Init that timed out: that one is retried inside
//! the invocation, in fresh processes of the same environment (see `ending`).

use std::time::{Instant, SystemTime};

use super::Environment;
use crate::api::runtime::RuntimeRequest;

impl Environment {
    /// Ends the environment's processes: the Shutdown phase with `reason` (when extensions
    /// are registered), then SIGKILL to whatever is left of the process group.
    pub(super) async fn reset(&mut self, reason: &'static str) {
        self.shutdown_phase(reason).await;
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

    /// The Shutdown phase, when extensions are registered: `SHUTDOWN` (with `reason`) to those
    /// that asked for it, SIGTERM to the runtime, then up to the phase's limit for the runtime
    /// to exit and each extension to exit or call `/next` again (the caller kills what is
    /// left). Extensions may still call `/next` meanwhile (they get their queued events); any
    /// other call gets 500.
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
        // What the subscriptions hold (a failed Init's records among it) reaches them before
        // any extension learns that the environment ends, within the phase's limit.
        self.telemetry.flush(limit).await;
        let sent = self.extensions.shutdown(reason, deadline_ms);
        tracing::debug!(function = %self.shared.config.name, env = self.id, reason, sent, "shutdown phase");
        if let Some(process) = &self.process {
            process.signal_runtime(libc::SIGTERM);
        }
        let sleep = tokio::time::sleep_until(deadline.into());
        tokio::pin!(sleep);
        let mut buf = vec![0u8; 64 * 1024];
        while let Some(process) = self.process.as_mut() {
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
                ready = pipes.function.readable(), if self.function_output.open => {
                    if ready.is_ok() {
                        self.drain_output(&mut buf);
                    }
                }
                ready = super::output::readable(pipes.extension), if self.extension_output.open => {
                    if ready.is_ok() {
                        self.drain_output(&mut buf);
                    }
                }
                Some(request) = self.requests.recv() => {
                    if let RuntimeRequest::ExtensionNext { id, reply } = request {
                        self.extensions.next(&id, reply);
                    }
                    // Any other call is dropped: its caller gets 500, "exit now".
                }
                () = &mut sleep => break,
            }
        }
        self.drain_output(&mut buf);
        self.flush_output();
    }
}
