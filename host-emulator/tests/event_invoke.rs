//! Asynchronous (`Event`) invocations against real processes: retries after a function error
//! (same request id, up to `maximum_retry_attempts`, with the configured pauses), a retry that
//! succeeds, the maximum event age, and the invocation records sent to the `on_success` and
//! `on_failure` destination functions; each attempt runs the function's settings of its
//! moment; bad settings are refused when the emulator starts.

mod common;

use std::time::Duration;

use common::*;
use firebox_emulator::{Emulator, EventCondition, EventInvokeConfig, FunctionConfig};
use serde_json::{json, Value};

/// Retries after 50 ms pauses, failures to `dlq`, successes to `audit`.
fn quick(retries: u32) -> EventInvokeConfig {
    EventInvokeConfig {
        maximum_retry_attempts: retries,
        retry_delays: [Duration::from_millis(50); 2],
        on_success: Some("audit".into()),
        on_failure: Some("dlq".into()),
        ..EventInvokeConfig::default()
    }
}

/// `orders` with `event_invoke`, and the destinations `dlq` and `audit` printing what they get.
async fn emulator(event_invoke: EventInvokeConfig) -> Emulator {
    start(vec![
        function("orders", "").event_invoke(event_invoke),
        function("dlq", "print_events"),
        function("audit", "print_events"),
    ])
    .await
}

/// Invokes `orders` as an `Event`; returns the request id of the 202.
async fn event(emu: &Emulator, payload: Value) -> String {
    invoke_event(emu, "orders", None, payload).await
}

/// The invocation record a destination function received.
async fn record(emu: &Emulator, destination: &str) -> Value {
    let line = wait_for_line(emu, destination, |l| l.starts_with("EVENT ")).await;
    serde_json::from_str(&line["EVENT ".len()..]).expect("a JSON record")
}

/// The invocation record a destination received, waiting up to `limit` (a bound for broken
/// runs only).
async fn record_within(emu: &Emulator, destination: &str, limit: Duration) -> Value {
    let deadline = std::time::Instant::now() + limit;
    while std::time::Instant::now() < deadline {
        if let Some(line) = texts(emu, destination)
            .into_iter()
            .find(|l| l.starts_with("EVENT "))
        {
            return serde_json::from_str(&line["EVENT ".len()..]).expect("a JSON record");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no record reached {destination} within {limit:?}");
}

fn starts(emu: &Emulator, function: &str, id: &str) -> usize {
    texts(emu, function)
        .iter()
        .filter(|l| **l == format!("START RequestId: {id} Version: $LATEST"))
        .count()
}

#[tokio::test]
async fn a_failing_event_is_tried_three_times_then_its_record_goes_to_on_failure() {
    let emu = emulator(quick(2)).await;
    let payload = json!({"error": {"type": "OrderError", "message": "no stock"}, "order": 7});
    let id = event(&emu, payload.clone()).await;
    let r = record(&emu, "dlq").await;
    // Three attempts under the same request id, as Lambda retries.
    assert_eq!(
        starts(&emu, "orders", &id),
        3,
        "{}",
        texts(&emu, "orders").join("\n")
    );
    assert_eq!(r["version"], "1.0");
    assert!(r["timestamp"].as_str().unwrap().ends_with('Z'));
    let context = &r["requestContext"];
    assert_eq!(context["requestId"], id.as_str());
    assert_eq!(
        context["functionArn"],
        "arn:aws:lambda:us-east-1:123456789012:function:orders:$LATEST"
    );
    assert_eq!(context["condition"], "RetriesExhausted");
    assert_eq!(context["approximateInvokeCount"], 3);
    assert_eq!(r["requestPayload"], payload);
    assert_eq!(
        r["responseContext"],
        json!({"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"})
    );
    assert_eq!(r["responsePayload"]["errorType"], "OrderError");
    assert_eq!(r["responsePayload"]["errorMessage"], "no stock");
    let text = metrics(&emu).await;
    assert_eq!(
        metric(&text, "firebox_event_retries_total{function=\"orders\"}"),
        Some(2.0)
    );
    assert_eq!(
        metric(&text, "firebox_events_failed_total{function=\"orders\"}"),
        Some(1.0)
    );
    // Nothing went to the success destination.
    assert!(!texts(&emu, "audit").iter().any(|l| l.starts_with("EVENT ")));
}

#[tokio::test]
async fn with_no_retries_a_failure_goes_to_on_failure_at_once() {
    let emu = emulator(quick(0)).await;
    let id = event(&emu, json!({"error": {"type": "E", "message": "m"}})).await;
    let r = record(&emu, "dlq").await;
    assert_eq!(r["requestContext"]["approximateInvokeCount"], 1);
    assert_eq!(starts(&emu, "orders", &id), 1);
}

#[tokio::test]
async fn a_retry_that_succeeds_sends_the_success_record() {
    let emu = emulator(quick(2)).await;
    let id = event(&emu, json!({"fail_times": 1, "n": 1})).await;
    let r = record(&emu, "audit").await;
    assert_eq!(r["requestContext"]["condition"], "Success");
    assert_eq!(r["requestContext"]["approximateInvokeCount"], 2);
    assert_eq!(r["requestContext"]["requestId"], id.as_str());
    assert_eq!(
        r["responseContext"],
        json!({"statusCode": 200, "executedVersion": "$LATEST"})
    );
    // The function's own response (the test runtime describes the event it got).
    assert_eq!(
        r["responsePayload"]["event"],
        json!({"fail_times": 1, "n": 1})
    );
    assert_eq!(starts(&emu, "orders", &id), 2);
    assert!(!texts(&emu, "dlq").iter().any(|l| l.starts_with("EVENT ")));
}

#[tokio::test]
async fn an_event_that_would_outlive_its_maximum_age_waiting_for_a_retry_is_dropped() {
    // A pause longer than the event may live: no retry, and an EventAgeExceeded record once
    // the event is that old (not before: it stays queued until then, as on Lambda).
    let emu = emulator(EventInvokeConfig {
        maximum_event_age: Duration::from_secs(60),
        retry_delays: [Duration::from_secs(3600); 2],
        ..quick(2)
    })
    .await;
    let accepted = std::time::Instant::now();
    let id = event(&emu, json!({"error": {"type": "E", "message": "m"}})).await;
    let r = record_within(&emu, "dlq", Duration::from_secs(180)).await;
    assert!(accepted.elapsed() >= Duration::from_secs(59), "{r}");
    assert_eq!(r["requestContext"]["condition"], "EventAgeExceeded");
    assert_eq!(r["requestContext"]["approximateInvokeCount"], 1);
    assert_eq!(starts(&emu, "orders", &id), 1);
}

#[tokio::test]
async fn bad_event_invoke_settings_are_refused_at_start() {
    let start = |f: FunctionConfig| async move {
        Emulator::builder()
            .function(f)
            .start()
            .await
            .expect_err("refused")
            .to_string()
    };
    let f = || function("orders", "");
    let unknown = start(f().event_invoke(EventInvokeConfig {
        on_failure: Some("nowhere".into()),
        ..EventInvokeConfig::default()
    }))
    .await;
    assert!(
        unknown.contains("event_invoke.on_failure") && unknown.contains("nowhere"),
        "{unknown}"
    );
    let retries = start(f().event_invoke(EventInvokeConfig {
        maximum_retry_attempts: 3,
        ..EventInvokeConfig::default()
    }))
    .await;
    assert!(retries.contains("maximum_retry_attempts"), "{retries}");
    let age = start(f().event_invoke(EventInvokeConfig {
        maximum_event_age: Duration::from_secs(30),
        ..EventInvokeConfig::default()
    }))
    .await;
    assert!(age.contains("maximum_event_age_s"), "{age}");
}

#[tokio::test]
async fn a_throttled_event_older_than_its_maximum_age_goes_to_on_failure_unrun() {
    // Reserved concurrency 0: every invocation is throttled, so the event waits in the queue
    // until it is older than the shortest maximum age Lambda allows (60 s), then is dropped.
    let emu = start(vec![
        function("orders", "")
            .reserved_concurrency(0)
            .event_invoke(EventInvokeConfig {
                maximum_event_age: Duration::from_secs(60),
                ..quick(2)
            }),
        function("dlq", "print_events"),
        function("audit", "print_events"),
    ])
    .await;
    let id = event(&emu, json!({"n": 1})).await;
    let r = record_within(&emu, "dlq", Duration::from_secs(180)).await;
    assert_eq!(r["requestContext"]["requestId"], id.as_str());
    assert_eq!(r["requestContext"]["condition"], "EventAgeExceeded");
    assert_eq!(r["requestContext"]["approximateInvokeCount"], 0);
    assert_eq!(r["requestPayload"], json!({"n": 1}));
    assert!(r.get("responseContext").is_none(), "it never ran: {r}");
    assert_eq!(starts(&emu, "orders", &id), 0);
}

#[tokio::test]
async fn a_deleted_functions_throttled_events_and_pending_retries_never_run() {
    // `held` throttles everything (reserved 0): its events wait in the queue. `orders` fails
    // its first attempt and would retry after 400 ms. Both are deleted meanwhile.
    let slow_retries = EventInvokeConfig {
        retry_delays: [Duration::from_millis(400); 2],
        ..quick(2)
    };
    let emu = start(vec![
        function("orders", "").event_invoke(slow_retries.clone()),
        function("held", "")
            .reserved_concurrency(0)
            .event_invoke(slow_retries),
        function("dlq", "print_events"),
        function("audit", "print_events"),
    ])
    .await;
    let mut queued = Vec::new();
    for n in 0..3 {
        queued.push(invoke_event(&emu, "held", None, json!({ "n": n })).await);
    }
    let failing = event(&emu, json!({"fail_times": 5})).await;
    wait_for_line(&emu, "orders", |l| {
        l.starts_with(&format!("END RequestId: {failing}"))
    })
    .await;

    for name in ["held", "orders"] {
        let r = call(
            &emu,
            "DELETE",
            &format!("/2015-03-31/functions/{name}"),
            &Value::Null,
        )
        .await;
        assert_eq!(r.status, 204, "{:?}", r.body);
    }
    // Without the fix the queued events start at once (the reservation is given back) and the
    // retry 400 ms later; both well within this wait (nothing can be awaited for "never").
    tokio::time::sleep(Duration::from_secs(2)).await;
    for id in &queued {
        assert_eq!(starts(&emu, "held", id), 0, "{:?}", texts(&emu, "held"));
    }
    assert_eq!(
        starts(&emu, "orders", &failing),
        1,
        "{:?}",
        texts(&emu, "orders")
    );
    // Dropped with the function: no record goes to its (deleted) destinations.
    assert!(
        !texts(&emu, "dlq").iter().any(|l| l.starts_with("EVENT ")),
        "{:?}",
        texts(&emu, "dlq")
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn a_retry_and_a_throttled_event_run_the_settings_of_their_moment() {
    // `orders` fails while FIXED is unset; its retry comes 600 ms later. `held` throttles
    // everything (reserved 0) until its reservation is removed.
    let emu = start(vec![
        function("orders", "").event_invoke(EventInvokeConfig {
            retry_delays: [Duration::from_millis(600); 2],
            ..quick(2)
        }),
        function("held", "")
            .reserved_concurrency(0)
            .event_invoke(quick(0)),
        function("dlq", "print_events"),
        function("audit", "print_events"),
    ])
    .await;
    let fixed = json!({"Environment": {"Variables": {"FIXED": "1"}}});
    // A fix deployed while the retry waits: the retry runs it, as on Lambda (each attempt is
    // a new invoke of the qualifier).
    let id = event(&emu, json!({"fail_unless_env": "FIXED"})).await;
    wait_for_line(&emu, "orders", |l| {
        l.starts_with(&format!("END RequestId: {id}"))
    })
    .await;
    let r = call(
        &emu,
        "PUT",
        "/2015-03-31/functions/orders/configuration",
        &fixed,
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = record(&emu, "audit").await;
    assert_eq!(r["requestContext"]["requestId"], id.as_str());
    assert_eq!(r["requestContext"]["condition"], "Success");
    assert_eq!(r["requestContext"]["approximateInvokeCount"], 2);
    assert_eq!(r["responsePayload"]["env"]["FIXED"], "1", "{r}");

    // A throttled event runs with the settings of when it runs, not of when it was accepted.
    let queued = invoke_event(&emu, "held", None, json!({"fail_unless_env": "FIXED"})).await;
    let r = call(
        &emu,
        "PUT",
        "/2015-03-31/functions/held/configuration",
        &fixed,
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = call(
        &emu,
        "DELETE",
        "/2017-10-31/functions/held/concurrency",
        &Value::Null,
    )
    .await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    let line = wait_for_line(&emu, "audit", |l| l.contains(&queued)).await;
    let r: Value = serde_json::from_str(&line["EVENT ".len()..]).expect("a JSON record");
    assert_eq!(r["requestContext"]["condition"], "Success", "{r}");
    assert_eq!(r["requestContext"]["approximateInvokeCount"], 1);
    assert!(
        !texts(&emu, "dlq").iter().any(|l| l.starts_with("EVENT ")),
        "{:?}",
        texts(&emu, "dlq")
    );
}

#[tokio::test]
async fn a_test_can_wait_for_an_events_final_outcome() {
    let emu = emulator(quick(1)).await;
    let ok = event(&emu, json!({"n": 1})).await;
    let failing = event(&emu, json!({"error": {"type": "E", "message": "m"}})).await;
    let outcome = emu
        .event_outcome("orders", &ok, Duration::from_secs(30))
        .await
        .expect("an outcome");
    assert_eq!(
        (outcome.condition, outcome.attempts),
        (EventCondition::Success, 1)
    );
    // Tried twice (one retry), then failed for good.
    let outcome = emu
        .event_outcome("orders", &failing, Duration::from_secs(30))
        .await
        .expect("an outcome");
    assert_eq!(outcome.function, "orders");
    assert_eq!(
        (outcome.condition, outcome.attempts),
        (EventCondition::RetriesExhausted, 2)
    );
    // An event that never was: the wait ends, saying what it waited for.
    let err = emu
        .event_outcome("orders", "no-such-event", Duration::from_millis(100))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("final outcome of event no-such-event"),
        "{err}"
    );
    assert!(emu
        .event_outcome("ghost", &ok, Duration::from_millis(100))
        .await
        .is_err());
}
