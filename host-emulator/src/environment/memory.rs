//! Memory enforcement: while an environment initialises or runs invocations its memory is
//! checked against `memory_mb`; past the limit the environment ends with `Runtime.OutOfMemory`
//! (see [`super::ending`]) and the next invoke is a cold start.
//!
//! Past the limit means: the memory cgroup's OOM killer killed the runtime (one that kills a
//! child or an extension leaves the runtime to go on, as on Lambda; see `on_exit`), or without
//! cgroups the sampled resident memory of the process tree is over, or the peak that `REPORT`
//! shows as `Max Memory Used` is over. The second covers what the cgroup does not charge: file-backed
//! pages (the interpreter's binary and libraries) already in the page cache are charged to
//! whoever read them first, yet they are in the runtime's resident set (`VmHWM`). Lambda
//! limits the whole sandbox, so a `Max Memory Used` above `Memory Size` never succeeds there.
//! The peak is compared where it is read anyway: at each check of the limit, and when an
//! invocation is answered (its REPORT), so that an invocation that went past the limit between
//! checks fails too.

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

    /// Whether the environment is past its memory limit (see the module's documentation):
    /// measures its peak anew.
    pub(super) fn over_memory(&mut self) -> bool {
        let limit = self.memory_limit();
        let killed = self.process.as_mut().is_some_and(|p| p.over_memory(limit));
        killed || self.memory() > limit
    }

    /// Whether a peak of `peak_bytes` (as `Max Memory Used` shows it) is past the limit:
    /// the environment then runs out of memory at the next turn of its loop (see
    /// [`Self::check_memory`]).
    pub(super) fn peak_over_limit(&mut self, peak_bytes: u64) -> bool {
        self.memory_exceeded |= peak_bytes > self.memory_limit();
        self.memory_exceeded
    }

    /// Ends the environment if it is past its memory limit.
    pub(super) async fn check_memory(&mut self, buf: &mut [u8]) -> Result<(), End> {
        let survived = self.process.as_mut().map_or(0, |p| p.note_oom_kills());
        if survived > 0 {
            tracing::info!(
                function = %self.shared.config.name,
                env = self.id,
                "the kernel's OOM killer ended {survived} process(es) of the environment other than the runtime (memory_mb = {}); the runtime goes on",
                self.shared.config.memory_mb
            );
        }
        if !self.memory_exceeded && !self.over_memory() {
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
