//! Memory enforcement: while an environment initialises or runs invocations its memory is
//! checked against `memory_mb` (the memory cgroup's OOM kills, or the sampled resident memory
//! of the process tree); past the limit the environment ends with `Runtime.OutOfMemory` (see
//! [`super::ending`]) and the next invoke is a cold start.

use super::{End, Environment, Phase};

impl Environment {
    /// The configured memory, in bytes.
    pub(super) fn memory_limit(&self) -> u64 {
        u64::from(self.shared.config.memory_mb) * 1024 * 1024
    }

    /// Whether the memory is watched now (Init or an invocation in flight).
    pub(super) fn watching_memory(&self) -> bool {
        self.process.is_some()
            && (matches!(self.phase, Phase::Initializing { .. }) || !self.held.active.is_empty())
    }

    /// Ends the environment if it is past its memory limit.
    pub(super) async fn check_memory(&mut self, buf: &mut [u8]) -> Result<(), End> {
        let limit = self.memory_limit();
        let over = self.process.as_mut().is_some_and(|p| p.over_memory(limit));
        if !over {
            return Ok(());
        }
        self.drain_final_output(buf);
        // Measured before the kill, for the REPORT line.
        self.memory();
        if let Some(process) = self.process.take() {
            process.kill().await;
        }
        self.out_of_memory();
        Err(End::Failed)
    }
}
