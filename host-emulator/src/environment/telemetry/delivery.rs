//! The delivery of one subscription: a buffer that the environment fills as records are made
//! ([`Delivery`]), and a task that owns the subscription's sender (`sending`) and sends the
//! buffer's batches, one at a time. The buffer is handed over as a batch when `maxItems`
//! records or `maxBytes` bytes are there, or `timeoutMs` after its first record, or when the
//! environment asks for a flush. While a batch is handed over or being sent, the buffer keeps
//! filling, and its memory is bounded as on Lambda: a record made while the buffer is full is
//! dropped, counted, and announced by a `platform.logsDropped` record at the head of the next
//! batch that gets through. Whether a record is dropped is decided when it is made, against
//! the state of the delivery at that moment.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::{oneshot, Notify};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::sending::{Dropped, Sender};
use super::TelemetrySubscription;

/// The environment's end of a subscription's delivery. Dropping it lets the task send what is
/// left, then end.
#[derive(Debug)]
pub(super) struct Delivery {
    shared: Arc<Shared>,
}

/// What the environment and the task share.
#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    /// Wakes the task: a batch is handed over, the buffer got its first record, a flush was
    /// asked for, or the environment let go.
    wake: Notify,
}

#[derive(Debug)]
struct State {
    max_items: usize,
    max_bytes: usize,
    timeout: Duration,
    /// The records gathered for the next batch, serialized.
    records: Vec<String>,
    bytes: usize,
    /// When the buffer is due (`timeoutMs` after its first record).
    due_at: Option<Instant>,
    /// Flushes answered once the buffer's records are delivered (or given up).
    flushes: Vec<oneshot::Sender<()>>,
    /// Records made while the buffer was full and a batch was handed over.
    overflowed: Dropped,
    /// A batch handed over that the task has not taken yet.
    handed: Option<Batch>,
    /// Whether a batch is handed over or being sent.
    sending: bool,
    /// Flushes answered once the batch handed over or being sent is through.
    after_sending: Vec<oneshot::Sender<()>>,
    /// The environment let go.
    closed: bool,
}

/// A batch, the drops it announces and the flushes waiting on it.
#[derive(Debug)]
struct Batch {
    records: Vec<String>,
    overflowed: Dropped,
    flushes: Vec<oneshot::Sender<()>>,
}

impl State {
    fn is_full(&self) -> bool {
        self.records.len() >= self.max_items || self.bytes >= self.max_bytes
    }

    /// Hands the buffer over as a batch.
    fn hand_over(&mut self) -> Batch {
        self.sending = true;
        self.bytes = 0;
        self.due_at = None;
        Batch {
            records: std::mem::take(&mut self.records),
            overflowed: std::mem::take(&mut self.overflowed),
            flushes: std::mem::take(&mut self.flushes),
        }
    }

    /// Whether the buffer is to go now, when no batch is out: it is full, its time is up, a
    /// flush asked for it, or the environment let go.
    fn is_due(&self, now: Instant) -> bool {
        !self.records.is_empty()
            && (self.is_full()
                || self.closed
                || !self.flushes.is_empty()
                || self.due_at.is_some_and(|at| at <= now))
    }
}

impl Delivery {
    /// Starts the delivery of subscription `to`: its task, and the buffer the environment
    /// fills. The task ends after the `Delivery` is dropped and what it left is sent.
    pub fn start(to: TelemetrySubscription) -> (Self, JoinHandle<()>) {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                max_items: to.max_items,
                max_bytes: to.max_bytes,
                timeout: to.timeout,
                records: Vec::new(),
                bytes: 0,
                due_at: None,
                flushes: Vec::new(),
                overflowed: Dropped::default(),
                handed: None,
                sending: false,
                after_sending: Vec::new(),
                closed: false,
            }),
            wake: Notify::new(),
        });
        let task = tokio::spawn(run(Sender::new(&to), shared.clone()));
        (Self { shared }, task)
    }

    /// A record (`{"time", "type", "record"}`, serialized) for the next batch; dropped and
    /// counted when the buffer is full while a batch is out.
    pub fn record(&self, record: &str) {
        let mut state = self.shared.lock();
        if state.is_full() {
            if state.sending {
                state.overflowed.add(record.len());
                return;
            }
            // Full and nothing out: the task has not taken the buffer yet. Hand it over here,
            // so that the bound does not depend on when the task runs.
            let batch = state.hand_over();
            state.handed = Some(batch);
            self.shared.wake.notify_one();
        }
        if state.records.is_empty() {
            state.due_at = Some(Instant::now() + state.timeout);
            self.shared.wake.notify_one();
        }
        state.bytes += record.len();
        state.records.push(record.to_owned());
        if state.is_full() && !state.sending {
            let batch = state.hand_over();
            state.handed = Some(batch);
            self.shared.wake.notify_one();
        }
    }

    /// Has the buffer sent now; `done` is answered once everything made before is delivered
    /// or given up.
    pub fn flush(&self, done: oneshot::Sender<()>) {
        let mut state = self.shared.lock();
        if !state.records.is_empty() {
            state.flushes.push(done);
            self.shared.wake.notify_one();
        } else if state.sending {
            state.after_sending.push(done);
        } else {
            // The environment may have stopped waiting (its limit passed).
            let _ = done.send(());
        }
    }
}

impl Drop for Delivery {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.wake.notify_one();
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while the lock is held leaves nothing half-done that matters here (counts
        // and queued records): carry on with the state as it is.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// What the task does next.
enum Next {
    Send(Batch),
    Wait(Option<Instant>),
    End,
}

/// Sends the batches of `shared` with `sender`, one at a time, until the environment let go
/// and everything is sent.
async fn run(mut sender: Sender, shared: Arc<Shared>) {
    loop {
        let next = {
            let mut state = shared.lock();
            if let Some(batch) = state.handed.take() {
                Next::Send(batch)
            } else if !state.sending && state.is_due(Instant::now()) {
                Next::Send(state.hand_over())
            } else if state.closed && !state.sending && state.records.is_empty() {
                Next::End
            } else {
                Next::Wait(state.due_at)
            }
        };
        match next {
            Next::Send(batch) => {
                sender.deliver(batch.records, batch.overflowed).await;
                let after = {
                    let mut state = shared.lock();
                    state.sending = false;
                    std::mem::take(&mut state.after_sending)
                };
                for done in batch.flushes.into_iter().chain(after) {
                    let _ = done.send(());
                }
            }
            Next::Wait(due_at) => {
                let due = async {
                    match due_at {
                        Some(at) => tokio::time::sleep_until(at).await,
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    () = shared.wake.notified() => {}
                    () = due => {}
                }
            }
            Next::End => return,
        }
    }
}

#[cfg(test)]
mod tests;
