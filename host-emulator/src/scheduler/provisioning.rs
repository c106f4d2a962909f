//! A version's provisioned environments: how many it keeps (declared, or changed at run time by
//! `PutProvisionedConcurrencyConfig` and the rest through [`PoolMessage::Provision`]), starting
//! the missing ones, turning extra ones into on-demand environments, giving up when their Init
//! keeps failing, and the snapshot of the pool's states that `/metrics` and
//! `GetProvisionedConcurrencyConfig` read.
//!
//! A provisioned environment whose Init fails is started again a second later. Once
//! [`INIT_ATTEMPTS`] Inits of provisioned environments have failed in a row (none finishing in
//! between), the allocation has failed: no more provisioned environments start, and the
//! snapshot says so (Lambda's `Status: FAILED`). It starts over only when told to
//! ([`Provision::start_over`]: a new configuration) or when the code changes on disk.
//!
//! [`PoolMessage::Provision`]: super::PoolMessage::Provision

use std::time::{Duration, Instant};

use super::{Pool, Retire};
use crate::environment::{EnvCommand, EnvId, EnvKind};
use crate::metrics::PoolSnapshot;

/// How long before a provisioned environment whose Init failed is started again.
const RESTART_DELAY: Duration = Duration::from_secs(1);

/// How many Inits of provisioned environments may fail in a row before the allocation fails.
pub const INIT_ATTEMPTS: u32 = 3;

/// What a version's scheduler is told to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Provision {
    /// How many provisioned environments.
    pub environments: u32,
    /// Whether this is a new configuration for the version (a put, or an alias that has one
    /// moved onto it), which makes a failed allocation start over.
    pub start_over: bool,
}

/// What a version's scheduler knows of its provisioned environments.
#[derive(Debug)]
pub(super) struct Provisioned {
    /// How many it keeps.
    target: u32,
    /// How many it has (started, in Init or ready).
    live: u32,
    /// When to start the missing ones again, after an Init failed.
    restart: Option<Instant>,
    /// Whether the "ready" line was logged for the current target.
    announced: bool,
    /// Inits that failed since the last one that finished.
    failed_inits: u32,
    /// The allocation failed: no more are started until it starts over.
    failed: bool,
}

impl Provisioned {
    /// A version that keeps `target` environments, none started yet.
    pub(super) fn new(target: u32) -> Self {
        Self {
            target,
            live: 0,
            restart: None,
            announced: false,
            failed_inits: 0,
            failed: false,
        }
    }

    /// One more started.
    pub(super) fn started(&mut self) {
        self.live += 1;
    }

    /// Forgets a failed allocation (and the failures counted towards one).
    fn start_over(&mut self) {
        self.failed = false;
        self.failed_inits = 0;
        self.announced = false;
    }
}

impl Pool {
    /// Keeps `p.environments` provisioned environments from now on. Beyond them, provisioned
    /// environments become on-demand ones: idle ones are stopped at once, those in Init or busy
    /// are reclaimed later like any on-demand environment. A failed allocation starts over
    /// when `p.start_over` is set or nothing is kept any more; otherwise it stays failed.
    pub(super) fn provision(&mut self, p: Provision) {
        let n = p.environments;
        if p.start_over || n == 0 {
            if self.provisioned.failed {
                tracing::info!(function = %self.name(), version = self.shared.config.version(), "provisioned concurrency: starting over after the failed allocation");
            }
            self.provisioned.start_over();
        }
        if n == self.provisioned.target {
            if p.start_over {
                self.top_up_provisioned();
            }
            return;
        }
        tracing::info!(function = %self.name(), version = self.shared.config.version(), "provisioned concurrency: {} -> {n} environments", self.provisioned.target);
        self.provisioned.target = n;
        self.provisioned.announced = false;
        if self.provisioned.live < n {
            self.top_up_provisioned();
            return;
        }
        let slots = self.shared.config.slots();
        let now = Instant::now();
        // Idle ones go first, then those in Init, then busy ones.
        let free = self.shared.idle.counts();
        let mut extra: Vec<(u8, EnvId)> = self
            .envs
            .iter()
            .filter(|(_, e)| e.kind == EnvKind::Provisioned && e.retiring.is_none())
            .map(|(id, e)| {
                let rank = match (e.ready, free.get(id)) {
                    (true, Some(&free)) if free == slots => 0,
                    (false, _) => 1,
                    _ => 2,
                };
                (rank, *id)
            })
            .collect();
        extra.sort_unstable();
        for (_, id) in extra {
            if self.provisioned.live <= n {
                break;
            }
            let Some(entry) = self.envs.get_mut(&id) else {
                continue;
            };
            entry.kind = EnvKind::OnDemand;
            self.provisioned.live -= 1;
            if entry.ready && self.shared.idle.take_if_idle_since(id, slots, now) {
                entry.retiring = Some(Retire::Deprovisioned);
                let _ = entry.tx.send(EnvCommand::Shutdown);
            }
        }
        self.announce_provisioned();
    }

    /// Starts the missing provisioned environments, unless the allocation failed, another
    /// scheduler took over, or the emulator is shutting down (its environments end on the
    /// same signal: one that ended first is not replaced).
    pub(super) fn top_up_provisioned(&mut self) {
        self.provisioned.restart = None;
        if self.replaced || self.provisioned.failed || *self.shutdown.borrow() {
            return;
        }
        while self.provisioned.live < self.provisioned.target {
            self.start_environment(None, EnvKind::Provisioned, "provisioned concurrency");
        }
    }

    /// Starts the missing ones if a restart after a failed Init is due.
    pub(super) fn restart_provisioned_if_due(&mut self, now: Instant) {
        if self.provisioned.restart.is_some_and(|at| at <= now) {
            self.top_up_provisioned();
        }
    }

    /// A provisioned environment of the current code finished its Init: the failures counted
    /// so far were not in a row.
    pub(super) fn provisioned_ready(&mut self, id: EnvId) {
        tracing::debug!(function = %self.shared.config.name, env = id, "provisioned environment ready");
        self.provisioned.failed_inits = 0;
        self.announce_provisioned();
    }

    /// A provisioned environment ended: `ready` if it had finished its Init, `retiring` if it
    /// was on its way out. One that was ready is replaced at once; one whose Init failed a
    /// second later, or never once too many have failed in a row.
    pub(super) fn provisioned_gone(&mut self, id: EnvId, ready: bool, retiring: Option<Retire>) {
        self.provisioned.live -= 1;
        self.provisioned.announced = false;
        if ready {
            self.top_up_provisioned();
            return;
        }
        // Retired while in Init (its code changed): not a failure of the current code.
        if matches!(retiring, None | Some(Retire::Closed)) {
            self.provisioned.failed_inits += 1;
        }
        if self.provisioned.failed_inits >= INIT_ATTEMPTS && !self.provisioned.failed {
            self.provisioned.failed = true;
            self.provisioned.restart = None;
            tracing::warn!(function = %self.name(), version = self.shared.config.version(), env = id, "provisioned concurrency failed: {} Inits in a row failed (FUNCTION_ERROR_INIT_FAILURE); no more provisioned environments start until the configuration is put again or the code changes", self.provisioned.failed_inits);
        }
        if !self.provisioned.failed {
            self.provisioned.restart = Some(Instant::now() + RESTART_DELAY);
        }
    }

    /// The code changed on disk: a failed allocation starts over with the new code.
    pub(super) fn provisioned_code_changed(&mut self) {
        if self.provisioned.failed {
            tracing::info!(function = %self.name(), version = self.shared.config.version(), "provisioned concurrency: the code changed; starting over after the failed allocation");
        }
        self.provisioned.start_over();
        self.top_up_provisioned();
    }

    pub(super) fn announce_provisioned(&mut self) {
        let want = self.provisioned.target;
        if want == 0 || self.provisioned.announced {
            return;
        }
        let ready = self
            .envs
            .values()
            .filter(|e| e.kind == EnvKind::Provisioned && e.ready)
            .count();
        if ready as u32 >= want {
            self.provisioned.announced = true;
            tracing::info!(function = %self.shared.config.name, "provisioned concurrency ready: {ready} of {want} environments initialised");
        }
    }

    pub(super) fn snapshot(&self) -> PoolSnapshot {
        let mut s = PoolSnapshot {
            deferred_events: self.deferred.len() as u32,
            provisioned_failed: self.provisioned.failed,
            ..PoolSnapshot::default()
        };
        let free = self.shared.idle.counts();
        let slots = self.shared.config.slots();
        for (id, entry) in &self.envs {
            let free_slots = free.get(id).copied().unwrap_or(0);
            if !entry.ready {
                s.initializing += 1;
            } else if free_slots < slots
                && matches!(entry.retiring, None | Some(Retire::CodeChangedBusy))
            {
                s.busy += 1;
            } else {
                s.idle += 1;
            }
            if entry.kind == EnvKind::Provisioned {
                s.provisioned_allocated += 1;
                s.provisioned_ready += u32::from(entry.ready);
            }
        }
        s
    }
}
