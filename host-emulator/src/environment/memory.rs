//! Memory enforcement: while an environment initialises or runs invocations its memory is
//! checked against `memory_mb` (the memory cgroup's OOM kills, or the sampled resident memory
//! of the process tree); past the limit the environment ends with `Runtime.OutOfMemory` and
//! the next invoke is a cold start.

use super::{End, Environment, State};
use crate::invocation::{error_document, Answer};

impl Environment {
    /// The configured memory, in bytes.
    pub(super) fn memory_limit(&self) -> u64 {
        u64::from(self.shared.config.memory_mb) * 1024 * 1024
    }

    /// Whether the memory is watched now (Init or an invocation in progress).
    pub(super) fn watching_memory(&self) -> bool {
        self.process.is_some()
            && (matches!(self.state, State::Busy(_) | State::Initializing { .. })
                || self.multi_busy())
    }

    /// Ends the environment if it is past its memory limit.
    pub(super) async fn check_memory(&mut self, buf: &mut [u8]) -> Result<(), End> {
        let limit = self.memory_limit();
        let over = self.process.as_mut().is_some_and(|p| p.over_memory(limit));
        if !over {
            return Ok(());
        }
        self.drain_output(buf);
        // Measured before the kill, for the REPORT line.
        self.memory();
        if let Some(process) = self.process.take() {
            process.kill().await;
        }
        self.out_of_memory_answers();
        Err(End::Failed)
    }

    /// Answers whatever the environment held with `Runtime.OutOfMemory`.
    pub(super) fn out_of_memory_answers(&mut self) {
        self.end_reason = format!(
            "out of memory (memory_mb = {})",
            self.shared.config.memory_mb
        );
        let message =
            |id: &str| format!("RequestId: {id} Error: Runtime exited with error: signal: killed");
        match std::mem::replace(&mut self.state, State::Settling) {
            State::Busy(active) => {
                let text = message(&active.invocation.request_id);
                self.platform(text.clone());
                self.platform("Runtime.OutOfMemory".into());
                let doc = error_document("Runtime.OutOfMemory", &text);
                self.complete(active, Answer::FunctionError(doc), false);
            }
            State::Initializing { since, .. } => {
                if let Some(id) = self.pending.as_ref().map(|i| i.request_id.clone()) {
                    self.platform(format!(
                        "INIT_REPORT Init Duration: {:.2} ms\tPhase: init\tStatus: error\tError Type: Runtime.OutOfMemory",
                        since.elapsed().as_secs_f64() * 1000.0
                    ));
                    let text = message(&id);
                    self.platform(text.clone());
                    self.platform("Runtime.OutOfMemory".into());
                    self.fail_pending(error_document("Runtime.OutOfMemory", &text));
                }
            }
            State::Idle | State::Settling => {}
        }
        self.multi_fail_all(|id| error_document("Runtime.OutOfMemory", &message(id)));
    }
}
