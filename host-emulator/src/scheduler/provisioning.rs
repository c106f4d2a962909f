//! A version's provisioned environments: how many it keeps (declared, or changed at run time by
//! `PutProvisionedConcurrencyConfig` and the rest through [`PoolMessage::Provision`]), starting
//! the missing ones, turning extra ones into on-demand environments, and the snapshot of the
//! pool's states that `/metrics` and `GetProvisionedConcurrencyConfig` read.
//!
//! [`PoolMessage::Provision`]: super::PoolMessage::Provision

use std::time::Instant;

use super::{Pool, Retire};
use crate::environment::{EnvCommand, EnvId, EnvKind};
use crate::metrics::PoolSnapshot;

impl Pool {
    /// Keeps `n` provisioned environments from now on. Beyond `n`, provisioned environments
    /// become on-demand ones: idle ones are stopped at once, those in Init or busy are
    /// reclaimed later like any on-demand environment.
    pub(super) fn provision(&mut self, n: u32) {
        if n == self.provisioned_target {
            return;
        }
        tracing::info!(function = %self.name(), version = self.shared.config.version(), "provisioned concurrency: {} -> {n} environments", self.provisioned_target);
        self.provisioned_target = n;
        self.provisioned_announced = false;
        if self.provisioned_live < n {
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
            if self.provisioned_live <= n {
                break;
            }
            let Some(entry) = self.envs.get_mut(&id) else {
                continue;
            };
            entry.kind = EnvKind::OnDemand;
            self.provisioned_live -= 1;
            if entry.ready && self.shared.idle.take_if_idle_since(id, slots, now) {
                entry.retiring = Some(Retire::Deprovisioned);
                let _ = entry.tx.send(EnvCommand::Shutdown);
            }
        }
        self.announce_provisioned();
    }

    pub(super) fn top_up_provisioned(&mut self) {
        self.provisioned_restart = None;
        if self.replaced {
            return;
        }
        while self.provisioned_live < self.provisioned_target {
            self.start_environment(
                None,
                EnvKind::Provisioned,
                "replacing a provisioned environment",
            );
        }
    }

    pub(super) fn announce_provisioned(&mut self) {
        let want = self.provisioned_target;
        if want == 0 || self.provisioned_announced {
            return;
        }
        let ready = self
            .envs
            .values()
            .filter(|e| e.kind == EnvKind::Provisioned && e.ready)
            .count();
        if ready as u32 >= want {
            self.provisioned_announced = true;
            tracing::info!(function = %self.shared.config.name, "provisioned concurrency ready: {ready} of {want} environments initialised");
        }
    }

    pub(super) fn snapshot(&self) -> PoolSnapshot {
        let mut s = PoolSnapshot {
            deferred_events: self.deferred.len() as u32,
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
