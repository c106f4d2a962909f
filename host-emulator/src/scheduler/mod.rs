//! The scheduler: one task per function owning its pool of execution environments. It admits
//! each invocation against the concurrency limits ([`capacity`]): the function's reserved
//! share, or the account's unreserved pool; a refused invocation is throttled at once (429),
//! except `Event` invocations, which are kept and retried. An admitted invocation goes to a
//! free slot of a ready environment (provisioned ones first, then the most recently used), or
//! to a new environment. The task also starts and keeps provisioned environments, applies the
//! opt-in scaling rate, and reclaims environments idle for too long (never busy or
//! provisioned ones). When the function's code changes on disk ([`code`]), it retires every
//! environment: idle ones at once, busy ones once their invocations are answered. When the
//! settings change (`UpdateFunctionConfiguration`), a new scheduler takes over `$LATEST`
//! (`Launcher`) and the old one retires its environments the same way, then ends once
//! nothing can reach it any more.
//!
//! The warm path skips the task: `submit` admits an invocation on the caller's task and hands
//! it straight to a free slot taken from `idle::IdleSlots`; only when no slot is free, or the
//! invocation is refused, does it go to the scheduler task.
//!
//! How many provisioned environments a version keeps, and how that changes at run time, is in
//! `provisioning`.
//! How a version's scheduler task is started, and the list of tasks a shutdown waits for, is
//! in `launch`.

pub mod capacity;
pub mod code;
pub(crate) mod idle;
mod launch;
pub mod limits;
mod provisioning;

pub(crate) use launch::{Launcher, PoolTasks};
pub(crate) use provisioning::Provision;

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinSet;

use crate::config::FunctionConfig;
use crate::environment::process::{Isolation, ProcessRegistry};
use crate::environment::{self, AbortOnDrop, EnvCommand, EnvId, EnvKind};
use crate::invocation::{Answer, Invocation};
use crate::logs::FunctionLog;
use crate::metrics::{FunctionMetrics, PoolSnapshot};
use capacity::{Capacity, RATE_LIMIT_EXCEEDED};
use idle::{IdleSlots, Slot};

pub use capacity::{CONCURRENT_LIMIT_EXCEEDED, RESERVED_LIMIT_EXCEEDED};

/// What one function's environments share: its configuration, its log stream, its counters,
/// its share of the concurrency, the process registry and the way back to its scheduler.
#[derive(Debug)]
pub(crate) struct FunctionShared {
    pub config: FunctionConfig,
    pub log: FunctionLog,
    pub registry: ProcessRegistry,
    pub pool: mpsc::UnboundedSender<PoolMessage>,
    pub metrics: Arc<FunctionMetrics>,
    pub capacity: Arc<Capacity>,
    /// This version's provisioned concurrency, which its invocations alone run on.
    pub provisioned: Arc<capacity::ProvisionedShare>,
    pub isolation: Isolation,
    /// The free slots of its ready environments.
    pub idle: IdleSlots,
    /// Whether throttled `Event` invocations wait in the scheduler (published by its task), so
    /// that an environment freeing a slot tells the scheduler to retry them.
    pub deferred_waiting: AtomicBool,
    /// Bumped by the scheduler each time the code changes: an environment started under an
    /// older generation offers no more slots and ends once its invocations are answered.
    pub code_generation: AtomicU64,
    /// `X-Amz-Executed-Version` of this version's answers, made once.
    pub executed_version: http::HeaderValue,
    /// This version's own counters (shared with the next `$LATEST` after an update).
    pub version_counters: Arc<crate::metrics::VersionCounters>,
    /// Lambda's `RevisionId` of these settings: a new one for each scheduler, as settings
    /// never change under one (an update starts a new scheduler).
    pub revision_id: String,
    /// When these settings were made, as Lambda writes `LastModified`
    /// (`2024-01-31T12:34:56.789+0000`).
    pub last_modified: String,
}

/// Hands a new invocation to its function. Admitted and with a free slot, it goes straight to
/// that environment; otherwise to the scheduler task, which places or throttles it. Fails only
/// when the scheduler is gone (the emulator is shutting down).
pub(crate) fn submit(shared: &FunctionShared, mut invocation: Invocation) -> Result<(), ()> {
    let message = match admit(shared) {
        Ok(permit) => {
            invocation.permit = Some(permit);
            match shared.idle.pop() {
                Some(slot) => match slot.tx.send(EnvCommand::Invoke(invocation)) {
                    Ok(()) => return Ok(()),
                    // That environment ended: the scheduler places the invocation elsewhere.
                    Err(mpsc::error::SendError(command)) => match command {
                        EnvCommand::Invoke(invocation) => PoolMessage::Admitted(invocation),
                        EnvCommand::Shutdown => return Ok(()), // an Invoke was sent
                    },
                },
                None => PoolMessage::Admitted(invocation),
            }
        }
        // Refused: the scheduler throttles it, or keeps it when it is an `Event`.
        Err(_) => PoolMessage::Invoke(invocation),
    };
    shared.pool.send(message).map_err(|_| ())
}

/// Admits one more invocation of this version, or says why not (the throttle `Reason`).
fn admit(shared: &FunctionShared) -> Result<capacity::Permit, &'static str> {
    let permit = shared.capacity.admit(Some(&shared.provisioned))?;
    Ok(permit.for_version(&shared.version_counters))
}

/// What the scheduler of one function receives.
#[derive(Debug)]
pub(crate) enum PoolMessage {
    /// A new invocation the invoke path could not admit: admitted or throttled here.
    Invoke(Invocation),
    /// A new invocation already admitted (it carries its permit) that found no free slot.
    Admitted(Invocation),
    /// An admitted invocation an environment could not run (it ended first).
    Retry(Invocation),
    /// The environment finished Init; it has this many free slots beyond the invocations it
    /// already holds.
    Ready(EnvId, u32),
    /// An environment freed a slot (already in [`FunctionShared::idle`]) while throttled
    /// events were waiting.
    Idle,
    /// The environment ended, for this reason.
    Gone(EnvId, String),
    /// The states of the environments, for the metrics.
    Snapshot(oneshot::Sender<PoolSnapshot>),
    /// The function's code changed on disk.
    CodeChanged,
    /// Another scheduler runs these settings' successor: retire every environment, start no
    /// provisioned ones, and end once nothing can reach this scheduler.
    Replaced,
    /// The function was deleted (`DeleteFunction`): as [`PoolMessage::Replaced`], and its
    /// throttled events are dropped, never run (as are events throttled from now on).
    Deleted,
    /// The version's provisioned concurrency is now this many environments
    /// (`PutProvisionedConcurrencyConfig` and the rest): more are started, or the extra ones
    /// become on-demand environments (stopped at once when idle).
    Provision(Provision),
}

/// What the scheduler knows of one environment.
#[derive(Debug)]
struct Entry {
    tx: mpsc::UnboundedSender<EnvCommand>,
    kind: EnvKind,
    /// Init is over.
    ready: bool,
    /// Why it is on its way out, once it is.
    retiring: Option<Retire>,
    /// The code generation it was started under.
    generation: u64,
}

/// Why an environment is on its way out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Retire {
    /// Idle for longer than the idle timeout: asked to shut down.
    Reclaimed,
    /// Its code or settings changed while it was idle: asked to shut down.
    CodeChanged,
    /// Its code or settings changed while it was busy or in Init: it gets no more
    /// invocations and ends by itself once those it holds are answered.
    CodeChangedBusy,
    /// Its command channel was found closed: it is ending.
    Closed,
    /// A provisioned environment no longer needed (provisioned concurrency lowered) while
    /// idle: asked to shut down.
    Deprovisioned,
}

/// What makes a scheduler retire its environments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    /// The code changed on disk.
    Code,
    /// `UpdateFunctionConfiguration` replaced the settings.
    Settings,
    /// `DeleteFunction` removed the function.
    Deleted,
}

impl Change {
    /// Why environments are retired, as the log says it.
    fn why(self) -> &'static str {
        match self {
            Self::Code => "its code changed",
            Self::Settings => "its settings changed",
            Self::Deleted => "its function was deleted",
        }
    }
}

/// The "reason" a throttled `Event` is handed back with when its version's settings were
/// replaced before it could run (see [`PoolMessage::Replaced`]).
pub(crate) const SUPERSEDED: &str = "superseded";

struct Pool {
    shared: Arc<FunctionShared>,
    rx: mpsc::UnboundedReceiver<PoolMessage>,
    envs: HashMap<EnvId, Entry>,
    /// Throttled `Event` invocations, oldest first.
    deferred: VecDeque<Invocation>,
    /// When recent on-demand environments were created (for the scaling rate).
    created: VecDeque<Instant>,
    next_id: EnvId,
    tasks: JoinSet<()>,
    shutdown: watch::Receiver<bool>,
    tick: Duration,
    /// Its provisioned environments.
    provisioned: provisioning::Provisioned,
    /// The current code generation (mirrored in [`FunctionShared::code_generation`]).
    generation: u64,
    /// What retired the environments last: their code, or the settings' replacement.
    retired: Option<Change>,
    /// Another scheduler runs the settings' successor ([`PoolMessage::Replaced`]).
    replaced: bool,
    /// The function was deleted ([`PoolMessage::Deleted`]): events are dropped, not kept.
    deleted: bool,
    /// The task watching the code, if reloading is on.
    _code_watch: Option<AbortOnDrop>,
}

impl Pool {
    async fn run(mut self) {
        self.top_up_provisioned();
        let mut tick = tokio::time::interval(self.tick);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                message = self.rx.recv() => match message {
                    Some(message) => self.on_message(message),
                    None => break,
                },
                _ = tick.tick() => self.on_tick(),
                Some(_) = self.tasks.join_next(), if !self.tasks.is_empty() => {}
                changed = self.shutdown.changed() => {
                    if changed.is_err() || *self.shutdown.borrow() {
                        break;
                    }
                }
            }
            self.shared
                .deferred_waiting
                .store(!self.deferred.is_empty(), Ordering::Release);
            if self.finished() {
                tracing::debug!(function = %self.name(), version = self.shared.config.version(), revision = %self.shared.revision_id, "replaced settings: scheduler ended");
                break;
            }
        }
        self.stop().await;
    }

    /// A replaced scheduler ends when it has no environment and nothing to place, and nothing
    /// holds its settings any more (no invoke, event or environment can reach it).
    fn finished(&self) -> bool {
        self.replaced
            && self.envs.is_empty()
            && self.deferred.is_empty()
            && Arc::strong_count(&self.shared) == 1
    }

    /// Shuts every environment down and fails whatever did not run.
    async fn stop(mut self) {
        for entry in self.envs.values() {
            let _ = entry.tx.send(EnvCommand::Shutdown);
        }
        while self.tasks.join_next().await.is_some() {}
        self.rx.close();
        let mut left: Vec<Invocation> = self.deferred.drain(..).collect();
        while let Ok(message) = self.rx.try_recv() {
            if let PoolMessage::Invoke(i) | PoolMessage::Admitted(i) | PoolMessage::Retry(i) =
                message
            {
                left.push(i);
            }
        }
        for invocation in left {
            invocation.finish(
                Answer::ServiceError("The emulator is shutting down.".into()),
                None,
            );
        }
    }

    fn name(&self) -> &str {
        &self.shared.config.name
    }

    fn on_message(&mut self, message: PoolMessage) {
        match message {
            PoolMessage::Invoke(invocation) => self.admit(invocation),
            PoolMessage::Admitted(invocation) => self.place(invocation, false),
            PoolMessage::Retry(invocation) => self.place(invocation, true),
            PoolMessage::Ready(id, free) => {
                let Some(entry) = self.envs.get_mut(&id) else {
                    return;
                };
                entry.ready = true;
                let kind = entry.kind;
                if entry.generation != self.generation {
                    // Started before the code changed. With nothing to run, it ends now;
                    // otherwise once the invocation it holds is answered.
                    if free == self.shared.config.slots() {
                        entry.retiring = Some(Retire::CodeChanged);
                        let _ = entry.tx.send(EnvCommand::Shutdown);
                    }
                    return;
                }
                let now = Instant::now();
                for _ in 0..free {
                    let tx = entry.tx.clone();
                    self.shared.idle.push(kind, Slot { id, tx, since: now });
                }
                if kind == EnvKind::Provisioned {
                    self.provisioned_ready(id);
                }
                self.retry_deferred();
            }
            PoolMessage::Idle => self.retry_deferred(),
            PoolMessage::Gone(id, reason) => self.on_gone(id, reason),
            PoolMessage::Snapshot(reply) => {
                let _ = reply.send(self.snapshot());
            }
            PoolMessage::CodeChanged => {
                self.shared
                    .metrics
                    .code_changes
                    .fetch_add(1, Ordering::Relaxed);
                self.retire_all(Change::Code);
                self.provisioned_code_changed();
            }
            PoolMessage::Replaced => {
                self.replaced = true;
                // Throttled events go back to their supervisors, which send them to the
                // version their qualifier names now (see `asynchronous`).
                for event in std::mem::take(&mut self.deferred) {
                    event.finish(Answer::Throttled { reason: SUPERSEDED }, None);
                }
                self.retire_all(Change::Settings);
            }
            PoolMessage::Deleted => {
                self.replaced = true;
                self.deleted = true;
                for event in std::mem::take(&mut self.deferred) {
                    self.drop_deleted(event);
                }
                self.retire_all(Change::Deleted);
            }
            PoolMessage::Provision(n) => self.provision(n),
        }
    }

    /// Retires every environment of the old code or settings: idle ones now; busy ones and
    /// those in Init get no more invocations and end once theirs are answered. New
    /// invocations start new environments (here after a code change; at the successor after
    /// a settings change), and provisioned ones are replaced as they end.
    fn retire_all(&mut self, change: Change) {
        self.retired = Some(change);
        self.generation += 1;
        self.shared
            .code_generation
            .store(self.generation, Ordering::Release);
        let slots = self.shared.config.slots();
        let now = Instant::now();
        let (mut stopped, mut finishing) = (0, 0);
        for (id, entry) in &mut self.envs {
            if entry.retiring.is_some() {
                continue;
            }
            if entry.ready && self.shared.idle.take_if_idle_since(*id, slots, now) {
                entry.retiring = Some(Retire::CodeChanged);
                let _ = entry.tx.send(EnvCommand::Shutdown);
                stopped += 1;
            } else {
                self.shared.idle.remove_env(*id);
                entry.retiring = Some(Retire::CodeChangedBusy);
                finishing += 1;
            }
        }
        if change == Change::Deleted {
            tracing::info!(function = %self.shared.config.name, version = self.shared.config.version(), "function deleted: its environments end ({stopped} idle environments stopped, {finishing} ending after their invocations)");
        } else {
            tracing::info!(function = %self.shared.config.name, version = self.shared.config.version(), "{}: new invocations start new environments ({stopped} idle environments stopped, {finishing} ending after their invocations)", change.why());
        }
    }

    fn on_gone(&mut self, id: EnvId, reason: String) {
        let Some(entry) = self.envs.remove(&id) else {
            return;
        };
        self.shared.idle.remove_env(id);
        self.shared
            .metrics
            .environments_destroyed
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        match entry.retiring {
            Some(Retire::Reclaimed) => {
                tracing::info!(function = %self.shared.config.name, env = id, "environment reclaimed: idle for more than {:?}", self.shared.config.idle_timeout);
            }
            Some(Retire::CodeChanged | Retire::CodeChangedBusy) => {
                let why = self.retired.map_or("its code changed", Change::why);
                tracing::info!(function = %self.shared.config.name, env = id, kind = entry.kind.as_str(), "environment retired: {why}");
            }
            Some(Retire::Deprovisioned) => {
                tracing::info!(function = %self.shared.config.name, env = id, "environment stopped: provisioned concurrency lowered");
            }
            Some(Retire::Closed) | None => {
                tracing::info!(function = %self.shared.config.name, env = id, kind = entry.kind.as_str(), "environment destroyed: {reason}");
            }
        }
        if entry.kind == EnvKind::Provisioned {
            self.provisioned_gone(id, entry.ready, entry.retiring);
        }
    }

    fn on_tick(&mut self) {
        let now = Instant::now();
        self.restart_provisioned_if_due(now);
        // A replaced scheduler keeps no idle environment: one started for an invoke that
        // reached it after the replacement is reclaimed at the next tick.
        let idle_timeout = if self.replaced {
            Duration::ZERO
        } else {
            self.shared.config.idle_timeout
        };
        if let Some(cutoff) = now.checked_sub(idle_timeout) {
            let slots = self.shared.config.slots();
            for (id, entry) in &mut self.envs {
                // Taking its free slots (all of them, idle long enough) is what makes it
                // retire: from then on nobody can hand it an invocation.
                if entry.kind == EnvKind::OnDemand
                    && entry.ready
                    && entry.retiring.is_none()
                    && self.shared.idle.take_if_idle_since(*id, slots, cutoff)
                {
                    // In a replaced scheduler it is retired (by the update or the
                    // deletion), not reclaimed for being idle.
                    entry.retiring = Some(if self.replaced {
                        Retire::CodeChanged
                    } else {
                        Retire::Reclaimed
                    });
                    tracing::debug!(function = %self.shared.config.name, env = id, "reclaiming idle environment");
                    let _ = entry.tx.send(EnvCommand::Shutdown);
                }
            }
        }
        let name = &self.shared.config.name;
        // Each event has its own maximum age (its qualifier's configuration), so any of them
        // may be due, not only the oldest.
        self.deferred.retain(|i| {
            let keep = i.accepted + i.max_event_age > now;
            if !keep {
                // Dropped unanswered: its supervisor (`asynchronous`) sees the event's age and
                // sends it to the on-failure destination, if any.
                tracing::warn!(function = %name, request_id = %i.request_id, "throttled event dropped: older than the maximum event age");
            }
            keep
        });
        self.retry_deferred();
    }

    /// Admits a new invocation or throttles it.
    fn admit(&mut self, mut invocation: Invocation) {
        match admit(&self.shared) {
            Ok(permit) => {
                invocation.permit = Some(permit);
                self.place(invocation, false);
            }
            Err(reason) => self.throttle(invocation, reason),
        }
    }

    /// A refused invocation: 429 for callers, kept for later for `Event` invocations.
    fn throttle(&mut self, mut invocation: Invocation, reason: &'static str) {
        self.shared.metrics.record_throttle(reason);
        invocation.permit = None;
        if invocation.is_event() && self.deleted {
            self.drop_deleted(invocation);
        } else if invocation.is_event() {
            tracing::debug!(function = %self.shared.config.name, request_id = %invocation.request_id, reason, "event throttled; kept for a retry");
            self.deferred.push_back(invocation);
        } else {
            invocation.finish(Answer::Throttled { reason }, None);
        }
    }

    /// Drops an event of a deleted function unrun. Its supervisor (`asynchronous`) sends no
    /// record: the function's asynchronous configuration went with it.
    fn drop_deleted(&self, event: Invocation) {
        tracing::warn!(function = %self.shared.config.name, request_id = %event.request_id, "event dropped: its function was deleted");
        drop(event);
    }

    /// Retries throttled events while there is room.
    fn retry_deferred(&mut self) {
        while !self.deferred.is_empty() {
            let Ok(permit) = admit(&self.shared) else {
                return;
            };
            let Some(mut invocation) = self.deferred.pop_front() else {
                return;
            };
            invocation.permit = Some(permit);
            if !self.has_free_slot() && !self.scaling_allows() {
                invocation.permit = None;
                self.deferred.push_front(invocation);
                return;
            }
            self.place(invocation, false);
        }
    }

    fn has_free_slot(&self) -> bool {
        !self.shared.idle.is_empty()
    }

    /// Gives an admitted invocation to a free slot or a new environment.
    fn place(&mut self, mut invocation: Invocation, retried: bool) {
        while let Some(slot) = self.shared.idle.pop() {
            match self.send(slot.id, invocation) {
                Ok(()) => return,
                Err(back) => invocation = back,
            }
        }
        if !retried && !self.scaling_allows() {
            self.throttle(invocation, RATE_LIMIT_EXCEEDED);
            return;
        }
        let reason = if self.envs.is_empty() {
            "no environment yet"
        } else {
            "no free environment"
        };
        self.start_environment(Some(invocation), EnvKind::OnDemand, reason);
    }

    /// Whether the scaling rate allows one more environment now (and counts it if so).
    fn scaling_allows(&mut self) -> bool {
        let Some(rate) = self.shared.config.scaling_rate else {
            return true;
        };
        let now = Instant::now();
        while self
            .created
            .front()
            .is_some_and(|t| *t + rate.window <= now)
        {
            self.created.pop_front();
        }
        self.created.len() < rate.environments as usize
    }

    /// Sends to an environment; gives the invocation back if that environment is gone.
    // The "error" is the invocation itself, handed back to be placed elsewhere.
    #[allow(clippy::result_large_err)]
    fn send(&mut self, id: EnvId, invocation: Invocation) -> Result<(), Invocation> {
        let Some(entry) = self.envs.get(&id) else {
            return Err(invocation);
        };
        match entry.tx.send(EnvCommand::Invoke(invocation)) {
            Ok(()) => Ok(()),
            Err(mpsc::error::SendError(command)) => {
                if let Some(entry) = self.envs.get_mut(&id) {
                    entry.retiring = Some(Retire::Closed);
                }
                self.shared.idle.remove_env(id);
                match command {
                    EnvCommand::Invoke(invocation) => Err(invocation),
                    EnvCommand::Shutdown => unreachable!("an Invoke command was sent"),
                }
            }
        }
    }

    fn start_environment(&mut self, invocation: Option<Invocation>, kind: EnvKind, reason: &str) {
        let id = self.next_id;
        self.next_id += 1;
        let (tx, rx) = mpsc::unbounded_channel();
        let weak = tx.downgrade();
        if kind == EnvKind::Provisioned {
            self.provisioned.started();
        } else {
            self.created.push_back(Instant::now());
        }
        self.envs.insert(
            id,
            Entry {
                tx,
                kind,
                ready: false,
                retiring: None,
                generation: self.generation,
            },
        );
        self.shared
            .metrics
            .environments_created
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tracing::info!(function = %self.name(), env = id, kind = kind.as_str(), "environment created: {reason}");
        self.tasks.spawn(environment::run(
            id,
            self.shared.clone(),
            invocation,
            (kind, self.generation),
            (weak, rx),
            self.shutdown.clone(),
        ));
    }
}
