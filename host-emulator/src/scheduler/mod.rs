//! The scheduler: one task per function owning its pool of environments. It hands each
//! invocation to exactly one environment — an idle warm one if there is one (the most recently
//! used), else a new one when [`Capacity`] allows, else the invocation waits (up to the function
//! timeout) for an environment to come free. It also reclaims environments idle for too long.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use crate::config::FunctionConfig;
use crate::environment::process::ProcessRegistry;
use crate::environment::{self, EnvCommand, EnvId};
use crate::invocation::{Answer, Invocation};
use crate::logs::FunctionLog;

/// `Reason` of a throttle when no environment came free in time.
pub const CONCURRENT_LIMIT_EXCEEDED: &str = "ConcurrentInvocationLimitExceeded";

/// What one function's environments share: its configuration, its log stream, the process
/// registry and the way back to its scheduler.
#[derive(Debug)]
pub(crate) struct FunctionShared {
    pub config: FunctionConfig,
    pub log: FunctionLog,
    pub registry: ProcessRegistry,
    pub pool: mpsc::UnboundedSender<PoolMessage>,
}

/// What the scheduler of one function receives.
#[derive(Debug)]
pub(crate) enum PoolMessage {
    /// A new invocation from the Invoke API.
    Invoke(Invocation),
    /// An invocation an environment could not run (it ended first): it goes first in line.
    Retry(Invocation),
    /// The environment waits in `/next`.
    Idle(EnvId),
    /// The environment ended.
    Gone(EnvId),
}

/// The decision about starting another environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Start one.
    Start,
    /// Wait for an environment to come free.
    Wait,
    /// Refuse the invocation at once with this `Reason` (429).
    Throttle(&'static str),
}

/// The limit on environments. For now a per-function cap (`max_environments`); the full
/// concurrency model (account, reserved, provisioned) replaces this one type.
#[derive(Debug, Clone)]
pub struct Capacity {
    max_environments: usize,
}

impl Capacity {
    /// A cap of `max_environments` environments alive at once.
    pub fn new(max_environments: usize) -> Self {
        Self { max_environments }
    }

    /// Whether a function with `live` environments (all busy) may start another.
    pub fn admit(&self, live: usize) -> Admission {
        if live < self.max_environments {
            Admission::Start
        } else {
            Admission::Wait
        }
    }
}

/// Starts the scheduler task of one function.
pub(crate) fn start(
    config: FunctionConfig,
    log: FunctionLog,
    registry: ProcessRegistry,
    shutdown: watch::Receiver<bool>,
) -> (Arc<FunctionShared>, tokio::task::JoinHandle<()>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let capacity = Capacity::new(config.max_environments);
    let shared = Arc::new(FunctionShared {
        config,
        log,
        registry,
        pool: tx,
    });
    let pool = Pool {
        shared: shared.clone(),
        rx,
        capacity,
        envs: HashMap::new(),
        idle: VecDeque::new(),
        waiting: VecDeque::new(),
        next_id: 0,
        tasks: JoinSet::new(),
        shutdown,
    };
    (shared, tokio::spawn(pool.run()))
}

struct Pool {
    shared: Arc<FunctionShared>,
    rx: mpsc::UnboundedReceiver<PoolMessage>,
    capacity: Capacity,
    /// Every live environment.
    envs: HashMap<EnvId, mpsc::UnboundedSender<EnvCommand>>,
    /// Idle environments, oldest first, with the time they became idle.
    idle: VecDeque<(EnvId, Instant)>,
    /// Invocations waiting for an environment, oldest first.
    waiting: VecDeque<Invocation>,
    next_id: EnvId,
    tasks: JoinSet<()>,
    shutdown: watch::Receiver<bool>,
}

impl Pool {
    async fn run(mut self) {
        loop {
            let wake = self.next_wake();
            tokio::select! {
                message = self.rx.recv() => match message {
                    Some(message) => self.on_message(message),
                    None => break,
                },
                () = sleep_until(wake), if wake.is_some() => self.on_timer(),
                Some(_) = self.tasks.join_next(), if !self.tasks.is_empty() => {}
                changed = self.shutdown.changed() => {
                    if changed.is_err() || *self.shutdown.borrow() {
                        break;
                    }
                }
            }
        }
        self.stop().await;
    }

    /// Shuts every environment down and fails whatever did not run.
    async fn stop(mut self) {
        for tx in self.envs.values() {
            let _ = tx.send(EnvCommand::Shutdown);
        }
        while self.tasks.join_next().await.is_some() {}
        self.rx.close();
        while let Ok(message) = self.rx.try_recv() {
            if let PoolMessage::Invoke(i) | PoolMessage::Retry(i) = message {
                self.waiting.push_back(i);
            }
        }
        for invocation in self.waiting.drain(..) {
            invocation.finish(
                Answer::ServiceError("the emulator is shutting down".into()),
                None,
            );
        }
    }

    fn next_wake(&self) -> Option<Instant> {
        let waiting = self
            .waiting
            .front()
            .map(|i| i.accepted + self.shared.config.timeout);
        let idle = self
            .idle
            .front()
            .map(|(_, since)| *since + self.shared.config.idle_timeout);
        match (waiting, idle) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn on_message(&mut self, message: PoolMessage) {
        match message {
            PoolMessage::Invoke(invocation) => self.dispatch(invocation, false),
            PoolMessage::Retry(invocation) => self.dispatch(invocation, true),
            PoolMessage::Idle(id) => {
                if !self.envs.contains_key(&id) {
                    return;
                }
                if let Some(invocation) = self.waiting.pop_front() {
                    if let Err(invocation) = self.send(id, invocation) {
                        self.waiting.push_front(invocation);
                    }
                } else {
                    self.idle.push_back((id, Instant::now()));
                }
            }
            PoolMessage::Gone(id) => {
                self.envs.remove(&id);
                self.idle.retain(|(i, _)| *i != id);
                while !self.waiting.is_empty() {
                    match self.capacity.admit(self.envs.len()) {
                        Admission::Start => {
                            if let Some(invocation) = self.waiting.pop_front() {
                                self.start_environment(invocation);
                            }
                        }
                        Admission::Wait | Admission::Throttle(_) => break,
                    }
                }
            }
        }
    }

    fn on_timer(&mut self) {
        let now = Instant::now();
        let timeout = self.shared.config.timeout;
        while self
            .waiting
            .front()
            .is_some_and(|i| i.accepted + timeout <= now)
        {
            if let Some(invocation) = self.waiting.pop_front() {
                tracing::warn!(function = %self.shared.config.name, request_id = %invocation.request_id, "no environment came free within the timeout");
                invocation.finish(
                    Answer::Throttled {
                        reason: CONCURRENT_LIMIT_EXCEEDED,
                    },
                    None,
                );
            }
        }
        let idle_timeout = self.shared.config.idle_timeout;
        while self
            .idle
            .front()
            .is_some_and(|(_, since)| *since + idle_timeout <= now)
        {
            if let Some((id, _)) = self.idle.pop_front() {
                tracing::debug!(function = %self.shared.config.name, env = id, "reclaiming idle environment");
                if let Some(tx) = self.envs.get(&id) {
                    let _ = tx.send(EnvCommand::Shutdown);
                }
            }
        }
    }

    /// Gives `invocation` to an idle environment, a new one, or the waiting line.
    fn dispatch(&mut self, mut invocation: Invocation, first_in_line: bool) {
        while let Some((id, _)) = self.idle.pop_back() {
            match self.send(id, invocation) {
                Ok(()) => return,
                Err(back) => invocation = back,
            }
        }
        match self.capacity.admit(self.envs.len()) {
            Admission::Start => self.start_environment(invocation),
            Admission::Wait if first_in_line => self.waiting.push_front(invocation),
            Admission::Wait => self.waiting.push_back(invocation),
            Admission::Throttle(reason) => invocation.finish(Answer::Throttled { reason }, None),
        }
    }

    /// Sends to an environment; gives the invocation back if that environment is gone.
    // The "error" is the invocation itself, handed back to be placed elsewhere, not an error
    // value that travels up a call stack.
    #[allow(clippy::result_large_err)]
    fn send(&mut self, id: EnvId, invocation: Invocation) -> Result<(), Invocation> {
        let Some(tx) = self.envs.get(&id) else {
            return Err(invocation);
        };
        match tx.send(EnvCommand::Invoke(invocation)) {
            Ok(()) => Ok(()),
            Err(mpsc::error::SendError(command)) => {
                self.envs.remove(&id);
                match command {
                    EnvCommand::Invoke(invocation) => Err(invocation),
                    EnvCommand::Shutdown => unreachable!("an Invoke command was sent"),
                }
            }
        }
    }

    fn start_environment(&mut self, invocation: Invocation) {
        let id = self.next_id;
        self.next_id += 1;
        let (tx, rx) = mpsc::unbounded_channel();
        self.envs.insert(id, tx);
        self.tasks.spawn(environment::run(
            id,
            self.shared.clone(),
            invocation,
            rx,
            self.shutdown.clone(),
        ));
    }
}

async fn sleep_until(at: Option<Instant>) {
    if let Some(at) = at {
        tokio::time::sleep_until(at.into()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capacity_caps_environments() {
        let c = Capacity::new(2);
        assert_eq!(c.admit(0), Admission::Start);
        assert_eq!(c.admit(1), Admission::Start);
        assert_eq!(c.admit(2), Admission::Wait);
    }
}
