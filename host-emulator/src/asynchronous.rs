//! Asynchronous (`Event`) invocations after the Invoke API accepted them, as on Lambda: a
//! supervisor task per event waits for each attempt's outcome, runs the event again after a
//! function error (up to `maximum_retry_attempts` times, pausing `retry_delays` between),
//! gives up once the event is older than `maximum_event_age`, and sends the invocation record
//! of a success or of a final failure to the configured destination function (as an `Event`
//! invocation of that function). Throttled events are kept by the scheduler, not here.

use std::sync::Arc;

use bytes::Bytes;
use serde_json::{json, Value};
use tokio::sync::oneshot;

use crate::invocation::{Answer, Invocation, Outcome};
use crate::scheduler::FunctionShared;

/// The functions an event's outcome may go to.
#[derive(Debug, Clone, Default)]
pub(crate) struct Destinations {
    /// `on_success`.
    pub on_success: Option<Arc<FunctionShared>>,
    /// `on_failure`.
    pub on_failure: Option<Arc<FunctionShared>>,
}

/// Submits an accepted `Event` invocation and supervises it until its last attempt.
/// `Err` when the function's scheduler is gone (the emulator is shutting down).
pub(crate) fn start(
    function: Arc<FunctionShared>,
    destinations: Destinations,
    invocation: Invocation,
    outcome: oneshot::Receiver<Outcome>,
) -> Result<(), ()> {
    let again = invocation.retry();
    crate::scheduler::submit(&function, invocation)?;
    tokio::spawn(supervise(function, destinations, again, outcome));
    Ok(())
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

async fn supervise(
    function: Arc<FunctionShared>,
    destinations: Destinations,
    // The next attempt, prepared (its request id, payload and acceptance time are the event's).
    mut next: (Invocation, oneshot::Receiver<Outcome>),
    mut outcome: oneshot::Receiver<Outcome>,
) {
    let config = &function.config.event_invoke;
    let name = &function.config.name;
    let mut attempts = 1u32;
    loop {
        let event = &next.0;
        let answer = match (&mut outcome).await {
            Ok(done) => done.answer,
            Err(_) => {
                // Dropped unanswered: too old while throttled, or the emulator is stopping.
                if event.accepted.elapsed() >= config.maximum_event_age {
                    give_up(
                        &function,
                        &destinations,
                        event,
                        attempts - 1,
                        Condition::EventAgeExceeded,
                        None,
                    );
                }
                return;
            }
        };
        match answer {
            Answer::Success(body) => {
                if let Some(to) = &destinations.on_success {
                    send_record(
                        to,
                        &function,
                        event,
                        attempts,
                        Condition::Success,
                        Some(&body),
                    );
                }
                return;
            }
            Answer::FunctionError(doc) => {
                if attempts > config.maximum_retry_attempts {
                    give_up(
                        &function,
                        &destinations,
                        event,
                        attempts,
                        Condition::RetriesExhausted,
                        Some(&doc),
                    );
                    return;
                }
                let pause = config.delay_before(attempts);
                if event.accepted.elapsed() + pause >= config.maximum_event_age {
                    give_up(
                        &function,
                        &destinations,
                        event,
                        attempts,
                        Condition::EventAgeExceeded,
                        Some(&doc),
                    );
                    return;
                }
                tracing::info!(function = %name, request_id = %event.request_id, attempt = attempts, ?pause, "event failed; retrying");
                tokio::time::sleep(pause).await;
                let following = next.0.retry();
                let (invocation, attempt_outcome) = std::mem::replace(&mut next, following);
                outcome = attempt_outcome;
                attempts += 1;
                function
                    .metrics
                    .event_retries
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if crate::scheduler::submit(&function, invocation).is_err() {
                    return;
                }
            }
            Answer::Throttled { .. } | Answer::ServiceError(_) => return,
        }
    }
}

/// The event failed for good: counted, logged, and sent to the on-failure destination.
fn give_up(
    function: &Arc<FunctionShared>,
    destinations: &Destinations,
    event: &Invocation,
    attempts: u32,
    condition: Condition,
    error: Option<&Bytes>,
) {
    function
        .metrics
        .events_failed
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    tracing::warn!(function = %function.config.name, request_id = %event.request_id, attempts, condition = condition.as_str(), "event failed for good");
    if let Some(to) = &destinations.on_failure {
        send_record(to, function, event, attempts, condition, error);
    }
}

/// Invokes destination `to` (as an `Event`) with Lambda's invocation record.
fn send_record(
    to: &Arc<FunctionShared>,
    from: &FunctionShared,
    event: &Invocation,
    attempts: u32,
    condition: Condition,
    response: Option<&Bytes>,
) {
    let record = invocation_record(from, event, attempts, condition, response);
    let (invocation, _outcome) = Invocation::event(
        crate::ids::request_id(),
        Bytes::from(record.to_string()),
        to.config.arn(),
    );
    if crate::scheduler::submit(to, invocation).is_err() {
        tracing::warn!(destination = %to.config.name, "destination not invoked: the emulator is stopping");
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
