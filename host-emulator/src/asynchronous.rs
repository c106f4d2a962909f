//! Asynchronous (`Event`) invocations after the Invoke API accepted them, as on Lambda: a
//! supervisor task per event waits for each attempt's outcome, runs the event again after a
//! function error (up to `maximum_retry_attempts` times, pausing `retry_delays` between),
//! gives up once the event is older than `maximum_event_age`, and sends the invocation record
//! of a success or of a final failure to the configured destination (a function, version or
//! alias of the emulator, invoked as an `Event` under its own configuration). The
//! configuration is the one of the qualifier the event was invoked with, read when it was
//! accepted (see [`crate::event_invoke`]). Each attempt is a new invoke of the qualifier, as
//! on Lambda: a retry runs the version it names then (an `UpdateFunctionCode` or
//! `UpdateFunctionConfiguration` of `$LATEST`, an alias repointed, in the meantime apply; a
//! deleted version runs nothing more). Throttled events are kept by the version's scheduler,
//! not here; when that version's settings are replaced meanwhile, they come back here and go
//! to the qualifier's version of the moment. Once the function is deleted, its events are
//! dropped: no retry runs and no record is sent (the function's asynchronous configuration
//! went with it).

use std::sync::{Arc, Weak};

use bytes::Bytes;
use serde_json::{json, Value};
use tokio::sync::{oneshot, watch};

use crate::config::EventInvokeConfig;
use crate::event_outcomes::{EventCondition, EventOutcome};
use crate::functions::{EventTarget, Functions};
use crate::invocation::{Answer, Invocation, Outcome};
use crate::scheduler::FunctionShared;
use crate::versions::Function;

/// The longest chain of destination records: the next record is not sent. Lambda stops a
/// recursive loop after about 16 invocations.
pub(crate) const MAX_CHAIN: u32 = 16;

/// Submits an accepted `Event` invocation of `target` to `version` (the version its
/// qualifier picked) and supervises it until its last attempt, under the target's
/// configuration. `Err` when the version's scheduler is gone (the emulator is shutting
/// down). Destinations are looked up in `functions` when a record is sent.
pub(crate) fn start(
    functions: Weak<Functions>,
    target: &EventTarget,
    version: Arc<FunctionShared>,
    mut invocation: Invocation,
    outcome: oneshot::Receiver<Outcome>,
) -> Result<(), ()> {
    let config = target.function.event_invoke.effective(&target.qualifier);
    invocation.max_event_age = config.maximum_event_age;
    let again = invocation.retry();
    crate::scheduler::submit(&version, invocation)?;
    let shutdown = functions.upgrade().map(|f| f.deployment.shutdown.clone());
    let supervisor = Supervisor {
        functions,
        owner: Arc::downgrade(&target.function),
        qualifier: target.qualifier.clone(),
        function: version,
        config,
        shutdown,
    };
    tokio::spawn(supervisor.run(again, outcome));
    Ok(())
}

/// What one event's supervision needs.
struct Supervisor {
    /// Where destinations are looked up (weak: a sleeping retry keeps no function alive).
    functions: Weak<Functions>,
    /// The function the event was sent to (weak: a deleted one is dropped with its last
    /// holder), to drop its retries once it is deleted.
    owner: Weak<Function>,
    /// The qualifier it was invoked with (`$LATEST`, a version or an alias).
    qualifier: String,
    /// The version that runs (or last ran) the event: the qualifier's at that attempt.
    function: Arc<FunctionShared>,
    /// The configuration it runs under.
    config: EventInvokeConfig,
    /// The emulator's shutdown signal (none when the emulator was already gone): a retry
    /// pause ends with it, the event lost and named.
    shutdown: Option<watch::Receiver<bool>>,
}

/// Why an event's supervision ended with a record for a destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Condition {
    Success,
    RetriesExhausted,
    EventAgeExceeded,
}

impl Condition {
    fn as_str(self) -> &'static str {
        match self {
            Condition::Success => "Success",
            Condition::RetriesExhausted => "RetriesExhausted",
            Condition::EventAgeExceeded => "EventAgeExceeded",
        }
    }
}

impl Supervisor {
    /// Supervises the event to its end, then keeps how it ended (for
    /// [`Emulator::event_outcome`](crate::Emulator::event_outcome)).
    async fn run(
        mut self,
        next: (Invocation, oneshot::Receiver<Outcome>),
        outcome: oneshot::Receiver<Outcome>,
    ) {
        let request_id = next.0.request_id.clone();
        let (condition, attempts) = self.attempts(next, outcome).await;
        if let Some(functions) = self.functions.upgrade() {
            functions.deployment.event_outcomes.record(EventOutcome {
                function: self.function.config.name.clone(),
                request_id,
                condition,
                attempts,
            });
        }
    }

    /// Runs the event's attempts: how it ended, and how many attempts ended.
    async fn attempts(
        &mut self,
        // The next attempt, prepared (its request id, payload and acceptance time are the
        // event's).
        mut next: (Invocation, oneshot::Receiver<Outcome>),
        mut outcome: oneshot::Receiver<Outcome>,
    ) -> (EventCondition, u32) {
        let config = self.config.clone();
        let config = &config;
        let mut attempts = 1u32;
        loop {
            let function = self.function.clone();
            let event = &next.0;
            let answer = match (&mut outcome).await {
                Ok(done) => done.answer,
                Err(_) => {
                    // Dropped unanswered: too old while throttled, its function deleted (no
                    // record then: the destinations went with it), or the emulator is stopping.
                    if self.deleted() {
                        return (EventCondition::Dropped, attempts - 1);
                    }
                    if event.accepted.elapsed() >= config.maximum_event_age {
                        self.give_up(event, attempts - 1, Condition::EventAgeExceeded, None);
                        return (EventCondition::EventAgeExceeded, attempts - 1);
                    }
                    // Its attempt `attempts` was queued or running (cut off when the shutdown
                    // grace ran out): `attempts - 1` had ended.
                    tracing::warn!(function = %function.config.name, request_id = %event.request_id, attempts = attempts - 1, "event lost: The emulator is shutting down (its attempt {attempts} was queued, or running past the shutdown grace).");
                    return (EventCondition::Dropped, attempts - 1);
                }
            };
            match answer {
                Answer::Success(body) => {
                    if let Some(to) = &config.on_success {
                        self.send_record(to, event, attempts, Condition::Success, Some(&body));
                    }
                    return (EventCondition::Success, attempts);
                }
                Answer::FunctionError(doc) => {
                    if attempts > config.maximum_retry_attempts {
                        let condition = Condition::RetriesExhausted;
                        self.give_up(event, attempts, condition, Some(&doc));
                        return (EventCondition::RetriesExhausted, attempts);
                    }
                    let pause = config.delay_before(attempts);
                    let age = event.accepted.elapsed();
                    if age + pause >= config.maximum_event_age {
                        // Its next attempt would come too late: it stays queued until it is
                        // that old, as on Lambda, then fails for good.
                        let left = config.maximum_event_age.saturating_sub(age);
                        if self.pause(left).await {
                            tracing::warn!(function = %function.config.name, request_id = %event.request_id, attempts, "event lost: The emulator is shutting down (it was waiting in the queue).");
                            return (EventCondition::Dropped, attempts);
                        }
                        if self.deleted() {
                            return (EventCondition::Dropped, attempts);
                        }
                        let condition = Condition::EventAgeExceeded;
                        self.give_up(event, attempts, condition, Some(&doc));
                        return (EventCondition::EventAgeExceeded, attempts);
                    }
                    if self.deleted() {
                        tracing::warn!(function = %function.config.name, request_id = %event.request_id, attempts, "event failed; not retried: its function was deleted");
                        return (EventCondition::Dropped, attempts);
                    }
                    tracing::info!(function = %function.config.name, request_id = %event.request_id, attempt = attempts, ?pause, "event failed; retrying");
                    if self.pause(pause).await {
                        tracing::warn!(function = %function.config.name, request_id = %event.request_id, attempts, "event lost: The emulator is shutting down (it was pausing before a retry).");
                        return (EventCondition::Dropped, attempts);
                    }
                    if self.deleted() {
                        tracing::warn!(function = %function.config.name, request_id = %event.request_id, attempts, "event retry dropped: its function was deleted");
                        return (EventCondition::Dropped, attempts);
                    }
                    function
                        .metrics
                        .event_retries
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if !self.resubmit(&mut next, &mut outcome, attempts) {
                        return (EventCondition::Dropped, attempts);
                    }
                    attempts += 1;
                }
                // Its version's settings were replaced while it was throttled there: it goes
                // to the qualifier's version of now (not an attempt: it never ran).
                Answer::Throttled { reason } if reason == crate::scheduler::SUPERSEDED => {
                    if self.deleted() || !self.resubmit(&mut next, &mut outcome, attempts - 1) {
                        return (EventCondition::Dropped, attempts - 1);
                    }
                }
                // The queue is in memory: say which events a stop loses.
                Answer::ServiceError(message) => {
                    tracing::warn!(function = %function.config.name, request_id = %event.request_id, attempts = attempts - 1, "event lost: {message}");
                    return (EventCondition::Dropped, attempts - 1);
                }
                Answer::Throttled { reason } => {
                    tracing::warn!(function = %function.config.name, request_id = %event.request_id, attempts = attempts - 1, "event lost: throttled ({reason})");
                    return (EventCondition::Dropped, attempts - 1);
                }
            }
        }
    }

    /// Sends the event's prepared attempt `next` to the version its qualifier names now,
    /// preparing the one after it; `false` when there is none (the version was deleted) or
    /// the emulator is stopping: the event is lost (logged). `attempts`: how many ran.
    fn resubmit(
        &mut self,
        next: &mut (Invocation, oneshot::Receiver<Outcome>),
        outcome: &mut oneshot::Receiver<Outcome>,
        attempts: u32,
    ) -> bool {
        let request_id = next.0.request_id.clone();
        let Some(version) = self
            .owner
            .upgrade()
            .and_then(|f| f.resolve(Some(&self.qualifier)))
        else {
            tracing::warn!(function = %self.function.config.name, qualifier = %self.qualifier, %request_id, attempts, "event dropped: its qualifier names no version any more");
            return false;
        };
        self.function = version;
        let following = next.0.retry();
        let (invocation, attempt_outcome) = std::mem::replace(next, following);
        *outcome = attempt_outcome;
        if crate::scheduler::submit(&self.function, invocation).is_err() {
            tracing::warn!(function = %self.function.config.name, %request_id, attempts, "event lost: The emulator is shutting down.");
            return false;
        }
        true
    }

    /// Waits `duration`, or less if the emulator begins to shut down: then `true`.
    async fn pause(&self, duration: std::time::Duration) -> bool {
        tokio::select! {
            () = tokio::time::sleep(duration) => false,
            () = self.shutting_down() => true,
        }
    }

    /// Resolves once the emulator is shutting down (never, without its signal).
    async fn shutting_down(&self) {
        match self.shutdown.clone() {
            Some(mut rx) => {
                // An error: the emulator is gone, which is a shutdown too.
                let _ = rx.wait_for(|stopping| *stopping).await;
            }
            None => std::future::pending().await,
        }
    }

    /// Whether the event's function was deleted (`DeleteFunction`): its events run no more.
    fn deleted(&self) -> bool {
        self.owner
            .upgrade()
            .is_none_or(|f| f.deleted.load(std::sync::atomic::Ordering::Acquire))
    }

    /// The event failed for good: counted, logged, and sent to the on-failure destination.
    fn give_up(
        &self,
        event: &Invocation,
        attempts: u32,
        condition: Condition,
        error: Option<&Bytes>,
    ) {
        let function = &self.function;
        function
            .metrics
            .events_failed
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tracing::warn!(function = %function.config.name, request_id = %event.request_id, attempts, condition = condition.as_str(), "event failed for good");
        if let Some(to) = &self.config.on_failure {
            self.send_record(to, event, attempts, condition, error);
        }
    }

    /// Invokes destination `to` (as an `Event`, under its own configuration) with Lambda's
    /// invocation record; a destination that no longer exists gets nothing (logged).
    fn send_record(
        &self,
        to: &str,
        event: &Invocation,
        attempts: u32,
        condition: Condition,
        response: Option<&Bytes>,
    ) {
        let Some(functions) = self.functions.upgrade() else {
            return; // The emulator is gone.
        };
        let resolved = functions.target(to).and_then(|target| {
            let version = target.function.resolve(Some(&target.qualifier))?;
            Some((target, version))
        });
        let Some((target, version)) = resolved else {
            tracing::warn!(function = %self.function.config.name, destination = %to, "destination not invoked: no such function, version or alias");
            return;
        };
        if event.chain >= MAX_CHAIN {
            self.function
                .metrics
                .recursive_loops
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            tracing::warn!(function = %self.function.config.name, destination = %to, chain = event.chain, "destination not invoked: a recursive loop of destinations was stopped");
            return;
        }
        let record = invocation_record(&self.function, event, attempts, condition, response);
        let (mut invocation, outcome) = Invocation::event(
            crate::ids::request_id(),
            Bytes::from(record.to_string()),
            target.arn.clone(),
        );
        invocation.chain = event.chain + 1;
        if start(
            self.functions.clone(),
            &target,
            version,
            invocation,
            outcome,
        )
        .is_err()
        {
            tracing::warn!(destination = %to, "destination not invoked: the emulator is stopping");
        }
    }
}

/// A JSON value of `bytes`, or the text when it is not JSON.
fn json_or_text(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()))
}

/// Lambda's record for a destination: `version`, `timestamp`, `requestContext`,
/// `requestPayload`, and, when the function answered, `responseContext` and `responsePayload`.
fn invocation_record(
    from: &FunctionShared,
    event: &Invocation,
    attempts: u32,
    condition: Condition,
    response: Option<&Bytes>,
) -> Value {
    let mut record = json!({
        "version": "1.0",
        "timestamp": crate::ids::rfc3339_millis(crate::ids::unix_millis()),
        "requestContext": {
            "requestId": event.request_id,
            "functionArn": from.config.qualified_arn(from.config.version()),
            "condition": condition.as_str(),
            "approximateInvokeCount": attempts,
        },
        "requestPayload": json_or_text(&event.payload),
    });
    if let Some(body) = response {
        let mut context = json!({"statusCode": 200, "executedVersion": from.config.version()});
        // Any answer other than a success was the function's error.
        if condition != Condition::Success {
            context["functionError"] = "Unhandled".into();
        }
        record["responseContext"] = context;
        record["responsePayload"] = json_or_text(body);
    }
    record
}
