//! How each accepted `Event` invocation ended, kept for tests: the supervisor of an event
//! (`asynchronous`) records its outcome once it is final — a success, a failure for good
//! (its retries exhausted, or too old), or dropped unrun (its function or version deleted, the
//! emulator stopping) — and [`Emulator::event_outcome`](crate::Emulator::event_outcome) waits
//! for it. The last [`KEPT`] outcomes are kept; Lambda has no such API (its records go to the
//! destinations, which the emulator sends too).

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};

use tokio::sync::watch;

/// How many outcomes are kept (the oldest go first).
pub const KEPT: usize = 10_000;

/// How an `Event` invocation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventCondition {
    /// An attempt succeeded (the `Success` of an `on_success` record).
    Success,
    /// Every attempt failed (`RetriesExhausted`, as the `on_failure` record says).
    RetriesExhausted,
    /// It grew older than its maximum age, waiting for a retry or throttled
    /// (`EventAgeExceeded`).
    EventAgeExceeded,
    /// It was dropped unfinished: its function or version was deleted, or the emulator stopped
    /// (the warning on the emulator's log says which).
    Dropped,
}

/// The final outcome of one `Event` invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventOutcome {
    /// The function it was sent to.
    pub function: String,
    /// Its request id (the 202's `X-Amzn-RequestId`, the same for every attempt).
    pub request_id: String,
    /// How it ended.
    pub condition: EventCondition,
    /// How many of its attempts ran to an answer.
    pub attempts: u32,
}

/// The outcomes kept, and a counter bumped at each new one (for waiters).
#[derive(Debug)]
pub(crate) struct EventOutcomes {
    kept: Mutex<VecDeque<EventOutcome>>,
    recorded: watch::Sender<u64>,
}

impl Default for EventOutcomes {
    fn default() -> Self {
        Self {
            kept: Mutex::new(VecDeque::new()),
            recorded: watch::channel(0).0,
        }
    }
}

impl EventOutcomes {
    /// Keeps `outcome` and wakes the waiters.
    pub fn record(&self, outcome: EventOutcome) {
        {
            // Poisoned only by a panic inside a deque operation; the deque is whole.
            let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
            if kept.len() == KEPT {
                kept.pop_front();
            }
            kept.push_back(outcome);
        }
        self.recorded.send_modify(|n| *n += 1);
    }

    /// The outcome of `function`'s event `request_id`, if it has ended.
    pub fn find(&self, function: &str, request_id: &str) -> Option<EventOutcome> {
        let kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        kept.iter()
            .rev()
            .find(|o| o.request_id == request_id && o.function == function)
            .cloned()
    }

    /// A receiver that changes at each new outcome.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.recorded.subscribe()
    }
}
