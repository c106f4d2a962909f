//! The free slots of a function's ready environments, shared by its scheduler task, its
//! environments and the invoke path. A free slot is an entry here and nowhere else: an
//! environment adds one when it finishes an invocation, the scheduler adds them when an
//! environment becomes ready, and whoever takes an entry owns that slot. The invoke path takes
//! one directly for an admitted invocation (no hop through the scheduler task); the scheduler
//! takes them when it places invocations and removes every entry of an environment it reclaims
//! or loses, atomically, so a reclaimed environment can never be handed an invocation.
//!
//! The lock is held only for a few vector operations, never across an await.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use tokio::sync::mpsc;

use crate::environment::{EnvCommand, EnvId, EnvKind};

/// One free slot of a ready environment.
#[derive(Debug)]
pub(crate) struct Slot {
    /// The environment.
    pub id: EnvId,
    /// Its command channel.
    pub tx: mpsc::UnboundedSender<EnvCommand>,
    /// When the slot became free.
    pub since: Instant,
}

#[derive(Debug, Default)]
struct Stacks {
    /// Slots of provisioned environments; last is the most recent.
    provisioned: Vec<Slot>,
    /// Slots of on-demand environments; last is the most recent.
    on_demand: Vec<Slot>,
}

/// The free slots of one function (see the module documentation).
#[derive(Debug, Default)]
pub(crate) struct IdleSlots {
    stacks: Mutex<Stacks>,
}

impl IdleSlots {
    fn lock(&self) -> MutexGuard<'_, Stacks> {
        // No code panics while holding the lock (vector pushes, pops and retains only), so a
        // poisoned lock still guards consistent data.
        self.stacks.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a free slot of an environment of this kind.
    pub fn push(&self, kind: EnvKind, slot: Slot) {
        let mut stacks = self.lock();
        match kind {
            EnvKind::Provisioned => stacks.provisioned.push(slot),
            EnvKind::OnDemand => stacks.on_demand.push(slot),
        }
    }

    /// Takes a free slot: provisioned environments first, then the most recently used.
    pub fn pop(&self) -> Option<Slot> {
        let mut stacks = self.lock();
        stacks.provisioned.pop().or_else(|| stacks.on_demand.pop())
    }

    /// Whether no slot is free.
    pub fn is_empty(&self) -> bool {
        let stacks = self.lock();
        stacks.provisioned.is_empty() && stacks.on_demand.is_empty()
    }

    /// Removes every free slot of environment `id` (it is retiring or gone).
    pub fn remove_env(&self, id: EnvId) {
        let mut stacks = self.lock();
        stacks.provisioned.retain(|s| s.id != id);
        stacks.on_demand.retain(|s| s.id != id);
    }

    /// Removes the free slots of environment `id` if all its `slots` are free and the last
    /// became free at or before `cutoff`; returns whether it did. Once this returns true,
    /// nobody can hand the environment an invocation through these slots.
    pub fn take_if_idle_since(&self, id: EnvId, slots: u32, cutoff: Instant) -> bool {
        let mut stacks = self.lock();
        let mut count = 0;
        let mut latest = None;
        for s in stacks.on_demand.iter().chain(&stacks.provisioned) {
            if s.id == id {
                count += 1;
                latest = latest.max(Some(s.since));
            }
        }
        if count < slots || latest.is_none_or(|l| l > cutoff) {
            return false;
        }
        stacks.provisioned.retain(|s| s.id != id);
        stacks.on_demand.retain(|s| s.id != id);
        true
    }

    /// How many free slots each environment that has any has.
    pub fn counts(&self) -> HashMap<EnvId, u32> {
        let stacks = self.lock();
        let mut counts: HashMap<EnvId, u32> = HashMap::new();
        for s in stacks.provisioned.iter().chain(&stacks.on_demand) {
            *counts.entry(s.id).or_default() += 1;
        }
        counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn slot(id: EnvId, since: Instant) -> (Slot, mpsc::UnboundedReceiver<EnvCommand>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Slot { id, tx, since }, rx)
    }

    #[test]
    fn provisioned_first_then_most_recent() {
        let idle = IdleSlots::default();
        let now = Instant::now();
        let (a, _ra) = slot(1, now);
        let (b, _rb) = slot(2, now);
        let (p, _rp) = slot(3, now);
        idle.push(EnvKind::OnDemand, a);
        idle.push(EnvKind::OnDemand, b);
        idle.push(EnvKind::Provisioned, p);
        let order: Vec<EnvId> = std::iter::from_fn(|| idle.pop()).map(|s| s.id).collect();
        assert_eq!(order, vec![3, 2, 1]);
        assert!(idle.is_empty());
    }

    #[test]
    fn reclaim_needs_every_slot_free_and_old_enough() {
        let idle = IdleSlots::default();
        let now = Instant::now();
        let later = now + Duration::from_secs(5);
        let (a, _ra) = slot(7, now);
        idle.push(EnvKind::OnDemand, a);
        // Two slots, one free: busy, not reclaimed.
        assert!(!idle.take_if_idle_since(7, 2, later));
        let (b, _rb) = slot(7, later);
        idle.push(EnvKind::OnDemand, b);
        // Both free, but the last became free after the cutoff.
        assert!(!idle.take_if_idle_since(7, 2, now));
        assert_eq!(idle.counts()[&7], 2);
        assert!(idle.take_if_idle_since(7, 2, later));
        assert!(idle.pop().is_none());
    }

    #[test]
    fn remove_env_drops_only_its_slots() {
        let idle = IdleSlots::default();
        let now = Instant::now();
        let (a, _ra) = slot(1, now);
        let (b, _rb) = slot(2, now);
        idle.push(EnvKind::OnDemand, a);
        idle.push(EnvKind::Provisioned, b);
        idle.remove_env(2);
        assert_eq!(idle.pop().map(|s| s.id), Some(1));
        assert!(idle.pop().is_none());
    }
}
