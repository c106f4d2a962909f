//! How an environment ends badly, and what its invocations get: the process exited
//! (`Runtime.ExitError`), an invocation timed out (`Sandbox.Timedout`), the environment ran out
//! of memory (`Runtime.OutOfMemory`), or Init failed or timed out (a first Init that timed out
//! is retried inside the invoke). A crash, a timeout or running out of memory ends every
//! invocation in flight, as on Lambda Managed Instances; undelivered ones go back to the
//! scheduler. The processes end through `reset` (Lambda's reset: a Shutdown phase with reason
//! `timeout` or `failure`), after which the environment either waits for the invocation that
//! runs Init again or ends (see `reset`).

use std::time::{Duration, Instant};

use super::errors::{exit_reason, timeout_document};
use super::invocations::Active;
use super::{End, Environment, Phase};
use crate::invocation::{error_document, Answer};
use crate::logs::system::PlatformLine;

impl Environment {
    /// The main process exited.
    pub(super) fn on_exit(&mut self, status: std::io::Result<std::process::ExitStatus>) {
        self.flush_output();
        self.shutdown_reason = "failure";
        let reason = match status {
            Ok(status) => exit_reason(status),
            Err(e) => Some(format!("wait failed: {e}")),
        };
        let limit = self.memory_limit();
        if self.process.as_mut().is_some_and(|p| p.over_memory(limit)) {
            self.out_of_memory();
            return;
        }
        self.end_reason = format!(
            "runtime exited ({})",
            reason.as_deref().unwrap_or("exit status 0")
        );
        let describe = |id: &str| match &reason {
            Some(r) => format!("RequestId: {id} Error: Runtime exited with error: {r}"),
            None => format!("RequestId: {id} Error: Runtime exited without providing a reason"),
        };
        match self.phase {
            Phase::Initializing { since, .. } => {
                self.fail_init(since, "Runtime.ExitError", describe);
            }
            Phase::Ready if self.held.active.is_empty() => {
                tracing::info!(function = %self.shared.config.name, env = self.id, ?reason, "runtime exited between invocations");
            }
            Phase::Ready => self.fail_all("Runtime.ExitError", describe),
            Phase::Reset => {}
        }
        // The process is reaped; its group is killed in `finish`.
    }

    /// A deadline passed: Init's limit, or an invocation's timeout.
    pub(super) async fn on_deadline(&mut self) -> Result<(), End> {
        let timeout = self.shared.config.timeout;
        match self.phase {
            Phase::Initializing {
                since,
                retried: false,
            } => {
                // Init took longer than allowed: Lambda resets the environment (as a Shutdown
                // phase: the subscribers get this Init's records, its extensions get SHUTDOWN
                // `timeout` and time to exit) and starts Init again inside the invoke, in
                // fresh processes, under the function timeout.
                self.init_report(since.elapsed(), "timeout", None);
                self.hint_unregistered();
                self.reset("timeout").await;
                self.init_inside_invoke()
            }
            Phase::Initializing { retried: true, .. } => {
                self.hint_unregistered();
                self.shutdown_reason = "timeout";
                let id = self.first_pending_id().unwrap_or_default();
                self.init_report(timeout, "timeout", None);
                self.platform(PlatformLine::fault(timed_out_line(&id, timeout)));
                self.fail_pending(timeout_document(&id, timeout));
                self.end_reason = "Init inside the invoke timed out".into();
                Err(End::Failed)
            }
            Phase::Reset => Ok(()),
            Phase::Ready => {
                let now = Instant::now();
                if let Some(end) = self.extensions_timed_out(now) {
                    return Err(end);
                }
                if !self.held.active.iter().any(|a| a.deadline <= now) {
                    self.reset_deadline();
                    return Ok(());
                }
                self.end_reason = "invocation timed out".into();
                self.shutdown_reason = "timeout";
                for mut active in std::mem::take(&mut self.held.active) {
                    let id = active.invocation.request_id.clone();
                    let doc = if active.deadline <= now {
                        self.note(
                            &mut active,
                            PlatformLine::fault(timed_out_line(&id, timeout)),
                        );
                        timeout_document(&id, timeout)
                    } else {
                        let message = format!(
                            "RequestId: {id} Error: Runtime exited with error: signal: killed (another invocation in the environment timed out)"
                        );
                        self.note(&mut active, PlatformLine::fault(message.clone()));
                        error_document("Runtime.ExitError", &message)
                    };
                    self.complete(active, Answer::FunctionError(doc), false);
                }
                Err(End::Failed)
            }
        }
    }

    /// Answers whatever the environment held with `Runtime.OutOfMemory`.
    pub(super) fn out_of_memory(&mut self) {
        self.shutdown_reason = "failure";
        self.end_reason = format!(
            "out of memory (memory_mb = {})",
            self.shared.config.memory_mb
        );
        let describe =
            |id: &str| format!("RequestId: {id} Error: Runtime exited with error: signal: killed");
        match self.phase {
            Phase::Initializing { since, .. } => {
                self.fail_init(since, "Runtime.OutOfMemory", describe);
            }
            Phase::Ready => self.fail_all("Runtime.OutOfMemory", describe),
            Phase::Reset => {}
        }
    }

    /// Logs `INIT_REPORT` (and sends its records) for an Init that failed with `error_type`, and
    /// fails the invocation waiting for it, if any.
    pub(super) fn fail_init(
        &mut self,
        since: Instant,
        error_type: &str,
        describe: impl Fn(&str) -> String,
    ) {
        self.init_report(since.elapsed(), "error", Some(error_type));
        let Some(id) = self.first_pending_id() else {
            return;
        };
        let message = describe(&id);
        self.platform(PlatformLine::fault(message.clone()));
        self.platform(PlatformLine::fault(error_type.to_owned()));
        self.fail_pending(error_document(error_type, &message));
    }

    /// Fails every invocation in flight with `error_type`; the environment does not survive.
    pub(super) fn fail_all(&mut self, error_type: &str, describe: impl Fn(&str) -> String) {
        for active in std::mem::take(&mut self.held.active) {
            self.fail_active(active, error_type, &describe);
        }
    }

    fn fail_active(
        &mut self,
        mut active: Active,
        error_type: &str,
        describe: impl Fn(&str) -> String,
    ) {
        let message = describe(&active.invocation.request_id);
        self.note(&mut active, PlatformLine::fault(message.clone()));
        self.note(&mut active, PlatformLine::fault(error_type.to_owned()));
        let doc = error_document(error_type, &message);
        self.complete(active, Answer::FunctionError(doc), false);
    }
}

/// `TIMESTAMP ID Task timed out after N.NN seconds`.
fn timed_out_line(id: &str, timeout: Duration) -> String {
    format!(
        "{} {id} Task timed out after {:.2} seconds",
        crate::ids::rfc3339_millis(crate::ids::unix_millis()),
        timeout.as_secs_f64()
    )
}
