//! How an environment ends badly, and what its invocations get: the process exited
//! (`Runtime.ExitError`), an invocation timed out (`Sandbox.Timedout`), the environment ran out
//! of memory (`Runtime.OutOfMemory`), or Init failed or timed out. A crash, a timeout or
//! running out of memory ends every invocation in flight, as on Lambda Managed Instances;
//! undelivered ones go back to the scheduler. The processes end through `reset` (Lambda's
//! reset: a Shutdown phase with reason `timeout` or `failure`), after which the environment
//! either runs Init again inside the invoke of the invocation waiting for it, or waits for the
//! next invocation to do so, or ends (see `reset`).
//!
//! A failed Init is reported once per attempt (`INIT_REPORT`). As on Lambda, the first Init of
//! an on-demand environment that fails (an error, a crash, a timeout) is not the end of the
//! invocation waiting for it: Init runs again inside its invoke, under the function's timeout,
//! and only when that one fails too does the invocation fail, logged `START`, the error,
//! `END` and `REPORT ... Status: error`.

use std::time::{Duration, Instant};

use super::errors::{exit_reason, timeout_document};
use super::invocations::Active;
use super::process::SpawnError;
use super::{End, Environment, Phase};
use crate::invocation::{error_document, Answer};
use crate::logs::system::PlatformLine;

impl Environment {
    /// The main process exited.
    pub(super) fn on_exit(&mut self, status: std::io::Result<std::process::ExitStatus>) {
        self.flush_output();
        self.shutdown_reason = "failure";
        let killed = status.as_ref().is_ok_and(|s| {
            use std::os::unix::process::ExitStatusExt;
            s.signal() == Some(libc::SIGKILL)
        });
        let reason = match status {
            Ok(status) => exit_reason(status),
            Err(e) => Some(format!("wait failed: {e}")),
        };
        let oom_killed = killed
            && self
                .process
                .as_mut()
                .is_some_and(|p| p.runtime_oom_killed());
        if self.memory_exceeded || oom_killed || self.over_memory() {
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
                self.fail_init(since.elapsed(), "Runtime.ExitError", describe);
            }
            Phase::Ready if self.held.active.is_empty() => {
                tracing::info!(function = %self.shared.config.name, env = self.id, ?reason, "runtime exited between invocations");
                // Or while extensions still worked on the invocation it had answered.
                self.write_reports(Some(("failure", "Runtime.ExitError")));
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
            Phase::Initializing { since, retried } => {
                // Init took longer than allowed: Lambda resets the environment (as a Shutdown
                // phase: the subscribers get this Init's records, its extensions get SHUTDOWN
                // `timeout` and time to exit); a first Init starts again inside the invoke, in
                // fresh processes, under the function timeout.
                self.hint_unregistered();
                self.shutdown_reason = "timeout";
                let took = if retried { timeout } else { since.elapsed() };
                self.end_reason = if retried {
                    "Init inside the invoke timed out".into()
                } else {
                    "Init timed out".into()
                };
                self.init_failed(took, "timeout", None, |id| {
                    let line = timed_out_line(id, took);
                    (vec![line], timeout_document(id, took))
                });
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
        // Lambda's REPORT of an invocation that ran out of memory shows all of it used.
        self.peak_memory = self.peak_memory.max(self.memory_limit());
        self.shutdown_reason = "failure";
        self.end_reason = format!(
            "out of memory (memory_mb = {})",
            self.shared.config.memory_mb
        );
        let describe =
            |id: &str| format!("RequestId: {id} Error: Runtime exited with error: signal: killed");
        match self.phase {
            Phase::Initializing { since, .. } => {
                self.fail_init(since.elapsed(), "Runtime.OutOfMemory", describe);
            }
            Phase::Ready => self.fail_all("Runtime.OutOfMemory", describe),
            Phase::Reset => {}
        }
    }

    /// An Init failed with `error_type` after `took`, described by `describe` (the platform's
    /// error line for a request id): see [`Self::init_failed`].
    pub(super) fn fail_init(
        &mut self,
        took: Duration,
        error_type: &str,
        describe: impl Fn(&str) -> String,
    ) {
        self.init_failed(took, "error", Some(error_type), |id| {
            let message = describe(id);
            let doc = error_document(error_type, &message);
            (vec![message, error_type.to_owned()], doc)
        });
    }

    /// An Init failed (`status` `error`, with `error_type`) or timed out (`timeout`) after
    /// `took`: logs `INIT_REPORT` and sends its records. When it was the first Init of an
    /// environment that is kept after failures and an invocation waits for it, that is all:
    /// the environment is reset and runs Init again inside that invocation's invoke (see
    /// `reset`). Otherwise the invocation waiting, if any, fails with what `outcome` gives for
    /// its request id: the platform's lines about the failure and the error document.
    pub(super) fn init_failed(
        &mut self,
        took: Duration,
        status: &str,
        error_type: Option<&str>,
        outcome: impl FnOnce(&str) -> (Vec<String>, bytes::Bytes),
    ) {
        self.init_report(took, status, error_type);
        if self.retries_init() {
            return;
        }
        if let Some(id) = self.first_pending_id() {
            let (lines, doc) = outcome(&id);
            self.fail_pending(lines, doc);
        }
    }

    /// The processes of an Init could not be started (`e`): Init fails with
    /// `Runtime.InvalidEntrypoint`.
    pub(super) fn cannot_spawn(&mut self, e: &SpawnError) {
        self.end_reason = format!("cannot start its processes: {e}");
        self.shutdown_reason = "failure";
        self.fail_init(Duration::ZERO, "Runtime.InvalidEntrypoint", |id| {
            format!("RequestId: {id} Error: {e}")
        });
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
