//! Asynchronous-invocation configurations through the control plane
//! (`Put`/`Update`/`Get`/`Delete`/`ListFunctionEventInvokeConfigs`), seen through real
//! `Event` invocations of real processes: each qualifier runs under its own configuration, a
//! destination may be a version or an alias, a deleted alias takes its configuration along,
//! and every refusal is in AWS's shape with nothing changed.

mod common;

use std::time::Duration;

use common::*;
use firebox_emulator::{
    AliasConfig, Emulator, EventInvokeConfig, EventInvokeSettings, VersionConfig,
};
use serde_json::{json, Value};

const ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function";
const PATH: &str = "/2019-09-25/functions/orders/event-invoke-config";

/// `orders` (version 1, alias `live` on it; quick retry pauses and nothing else declared) and
/// the destinations `dlq` (version 1, alias `prod`) and `audit`, printing what they get.
async fn emulator() -> Emulator {
    start(vec![
        function("orders", "")
            .publish(1, VersionConfig::new())
            .alias("live", AliasConfig::new("1"))
            .event_invoke(EventInvokeConfig {
                retry_delays: [Duration::from_millis(50); 2],
                ..EventInvokeConfig::default()
            }),
        function("dlq", "print_events")
            .publish(1, VersionConfig::new())
            .alias("prod", AliasConfig::new("1")),
        function("audit", "print_events"),
    ])
    .await
}

/// Invokes `orders` (through `qualifier`, if any) as an `Event`; the request id.
async fn event(emu: &Emulator, qualifier: Option<&str>, payload: Value) -> String {
    invoke_event(emu, "orders", qualifier, payload).await
}

/// The records `destination` has received so far.
fn records(emu: &Emulator, destination: &str) -> Vec<Value> {
    texts(emu, destination)
        .iter()
        .filter_map(|l| l.strip_prefix("EVENT "))
        .map(|r| serde_json::from_str(r).expect("a JSON record"))
        .collect()
}

/// Waits for the record of request `id` at `destination`.
async fn record_of(emu: &Emulator, destination: &str, id: &str) -> Value {
    let mut found = None;
    wait_until(
        &format!("the record of {id} at {destination}"),
        Duration::from_secs(30),
        || {
            found = records(emu, destination)
                .into_iter()
                .find(|r| r["requestContext"]["requestId"] == id);
            found.is_some()
        },
    )
    .await;
    found.expect("found")
}

/// How many attempts of `id` started.
fn attempts(emu: &Emulator, id: &str) -> usize {
    texts(emu, "orders")
        .iter()
        .filter(|l| l.starts_with(&format!("START RequestId: {id} ")))
        .count()
}

/// Puts (`PUT`) or updates (`POST`) `MaximumRetryAttempts: 1` at `path`.
async fn one_retry(emu: &Emulator, method: &str, path: &str) -> Raw {
    call(emu, method, path, &json!({"MaximumRetryAttempts": 1})).await
}

fn failing() -> Value {
    json!({"error": {"type": "OrderError", "message": "no stock"}})
}

#[tokio::test]
async fn each_qualifier_runs_its_events_under_its_own_configuration() {
    let emu = emulator().await;

    // The declared table is the configuration of $LATEST and of the declared version and
    // alias, with Lambda's defaults written out.
    let r = call(&emu, "GET", PATH, &Value::Null).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let got = r.json();
    assert_eq!(got["FunctionArn"], format!("{ARN}:orders:$LATEST"));
    assert_eq!(got["MaximumRetryAttempts"], 2);
    assert_eq!(got["MaximumEventAgeInSeconds"], 21600);
    assert_eq!(
        got["DestinationConfig"],
        json!({"OnSuccess": {}, "OnFailure": {}})
    );
    assert!(got["LastModified"].as_f64().unwrap() > 1.7e9, "{got}");

    // Put on the alias: no retries, failures to an alias of `dlq`.
    let put = json!({
        "MaximumRetryAttempts": 0,
        "DestinationConfig": {"OnFailure": {"Destination": format!("{ARN}:dlq:prod")}},
    });
    let r = call(&emu, "PUT", &format!("{PATH}?Qualifier=live"), &put).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let live = r.json();
    assert_eq!(live["FunctionArn"], format!("{ARN}:orders:live"));
    assert_eq!(live["MaximumRetryAttempts"], 0);
    assert!(
        live.get("MaximumEventAgeInSeconds").is_none(),
        "left out: {live}"
    );
    assert_eq!(
        live["DestinationConfig"],
        json!({"OnSuccess": {}, "OnFailure": {"Destination": format!("{ARN}:dlq:prod")}})
    );
    // The qualified name says the same as `?Qualifier=`.
    let r = call(
        &emu,
        "GET",
        "/2019-09-25/functions/orders:live/event-invoke-config",
        &Value::Null,
    )
    .await;
    assert_eq!(r.json()["MaximumRetryAttempts"], 0);

    // Through the alias: one attempt, and the record reaches version 1 of `dlq` (its alias).
    let through_alias = event(&emu, Some("live"), failing()).await;
    let r = record_of(&emu, "dlq", &through_alias).await;
    assert_eq!(r["requestContext"]["condition"], "RetriesExhausted");
    assert_eq!(r["requestContext"]["approximateInvokeCount"], 1);
    assert_eq!(attempts(&emu, &through_alias), 1);
    assert!(
        texts(&emu, "dlq")
            .iter()
            .any(|l| l.starts_with("START RequestId: ") && l.ends_with("Version: 1")),
        "the alias `prod` runs version 1: {:?}",
        texts(&emu, "dlq")
    );

    // Unqualified: $LATEST's configuration (2 retries, no destination).
    let unqualified = event(&emu, None, failing()).await;
    wait_until("three attempts", Duration::from_secs(30), || {
        attempts(&emu, &unqualified) == 3
    })
    .await;
    wait_metric(
        &emu,
        "firebox_events_failed_total{function=\"orders\"}",
        2.0,
    )
    .await;
    assert!(
        !records(&emu, "dlq")
            .iter()
            .any(|r| r["requestContext"]["requestId"] == unqualified.as_str()),
        "$LATEST has no destination"
    );

    // Update merges: successes of $LATEST now go to `audit`, retries stay at 2.
    let update =
        json!({"DestinationConfig": {"OnSuccess": {"Destination": format!("{ARN}:audit")}}});
    let r = call(&emu, "POST", PATH, &update).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.json()["MaximumRetryAttempts"], 2);
    assert_eq!(
        r.json()["DestinationConfig"]["OnSuccess"]["Destination"],
        format!("{ARN}:audit")
    );
    let ok = event(&emu, None, json!({"n": 1})).await;
    let r = record_of(&emu, "audit", &ok).await;
    assert_eq!(r["requestContext"]["condition"], "Success");
    assert_eq!(
        r["requestContext"]["functionArn"],
        format!("{ARN}:orders:$LATEST")
    );

    // The list, paged.
    let list = |query: &'static str| {
        let emu = &emu;
        async move {
            call(emu, "GET", &format!("{PATH}/list{query}"), &Value::Null)
                .await
                .json()
        }
    };
    let all = list("").await;
    let arns: Vec<&str> = all["FunctionEventInvokeConfigs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["FunctionArn"].as_str().unwrap())
        .collect();
    assert_eq!(
        arns,
        [
            format!("{ARN}:orders:$LATEST"),
            format!("{ARN}:orders:1"),
            format!("{ARN}:orders:live"),
        ]
    );
    let first = list("?MaxItems=1").await;
    assert_eq!(
        first["FunctionEventInvokeConfigs"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert!(first["NextMarker"].is_string(), "{first}");

    // Delete: gone, and a second delete is 404; the alias's events get the defaults again.
    let live = format!("{PATH}?Qualifier=live");
    let r = call(&emu, "DELETE", &live, &Value::Null).await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    let r = call(&emu, "GET", &live, &Value::Null).await;
    assert_error(
        &r,
        404,
        "ResourceNotFoundException",
        &format!("The function {ARN}:orders:live doesn't have an EventInvokeConfig"),
    );
    let r = call(&emu, "DELETE", &live, &Value::Null).await;
    assert_error(&r, 404, "ResourceNotFoundException", "doesn't have");

    // A configuration goes with its alias: a new alias by that name starts without one.
    let beta = json!({"Name": "beta", "FunctionVersion": "1"});
    let aliases = "/2015-03-31/functions/orders/aliases";
    assert_eq!(call(&emu, "POST", aliases, &beta).await.status, 201);
    let r = one_retry(&emu, "PUT", &format!("{PATH}?Qualifier=beta")).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = call(&emu, "DELETE", &format!("{aliases}/beta"), &Value::Null).await;
    assert_eq!(r.status, 204);
    assert_eq!(call(&emu, "POST", aliases, &beta).await.status, 201);
    let r = call(&emu, "GET", &format!("{PATH}?Qualifier=beta"), &Value::Null).await;
    assert_error(&r, 404, "ResourceNotFoundException", "doesn't have");

    // The library sees and changes the same configurations.
    assert_eq!(
        emu.event_invoke_config("orders", None)
            .unwrap()
            .unwrap()
            .on_success
            .as_deref(),
        Some(format!("{ARN}:audit").as_str())
    );
    emu.delete_event_invoke_config("orders", None).unwrap();
    assert_eq!(emu.event_invoke_config("orders", None).unwrap(), None);
    let settings = EventInvokeSettings {
        maximum_event_age: Some(Duration::from_secs(60)),
        ..EventInvokeSettings::default()
    };
    let put = emu
        .put_event_invoke_config("orders", Some("1"), settings.clone(), true)
        .unwrap();
    assert_eq!(put, settings);
}

#[tokio::test]
async fn bad_configurations_are_refused_in_aws_shape_and_change_nothing() {
    let emu = emulator().await;
    let before = call(&emu, "GET", &format!("{PATH}/list"), &Value::Null)
        .await
        .json();
    let put = |body: Value| {
        let emu = &emu;
        async move { call(emu, "PUT", PATH, &body).await }
    };
    let dlq = |to: &str| json!({"DestinationConfig": {"OnFailure": {"Destination": to}}});

    assert_error(
        &put(json!({})).await,
        400,
        "InvalidParameterValueException",
        "You must specify at least one of error handling or destination setting.",
    );
    for (body, says) in [
        (json!({"MaximumRetryAttempts": 3}), "'maximumRetryAttempts'"),
        (
            json!({"MaximumRetryAttempts": -1}),
            "greater than or equal to 0",
        ),
        (
            json!({"MaximumEventAgeInSeconds": 59}),
            "greater than or equal to 60",
        ),
        (
            json!({"MaximumEventAgeInSeconds": 21601}),
            "less than or equal to 21600",
        ),
        (dlq("dlq"), "Member must be an ARN"),
    ] {
        assert_error(&put(body).await, 400, "ValidationException", says);
    }
    for (to, says) in [
        (
            "arn:aws:sqs:us-east-1:123456789012:queue".to_owned(),
            "only",
        ),
        (format!("{ARN}:ghost"), "is invalid"),
        (format!("{ARN}:dlq:nope"), "is invalid"),
        (
            "arn:aws:lambda:eu-west-1:123456789012:function:dlq".to_owned(),
            "is invalid",
        ),
        (
            format!("{ARN}:orders"),
            "You can't specify the function as a destination for itself.",
        ),
    ] {
        assert_error(
            &put(dlq(&to)).await,
            400,
            "InvalidParameterValueException",
            says,
        );
    }
    // Not JSON, or a field Lambda does not have.
    let r = call(&emu, "PUT", PATH, &json!({"Retries": 1})).await;
    assert_error(&r, 400, "InvalidRequestContentException", "Retries");
    // Unknown function, qualifier, configuration; a method no operation uses.
    let r = one_retry(
        &emu,
        "PUT",
        "/2019-09-25/functions/ghost/event-invoke-config",
    )
    .await;
    assert_error(&r, 404, "ResourceNotFoundException", "ghost");
    let r = one_retry(&emu, "PUT", &format!("{PATH}?Qualifier=nope")).await;
    assert_error(
        &r,
        404,
        "ResourceNotFoundException",
        "The function doesn't exist.",
    );
    let r = one_retry(
        &emu,
        "POST",
        "/2019-09-25/functions/dlq/event-invoke-config",
    )
    .await;
    assert_error(
        &r,
        404,
        "ResourceNotFoundException",
        "doesn't have an EventInvokeConfig",
    );
    let r = call(&emu, "PATCH", PATH, &json!({})).await;
    assert_error(&r, 404, "UnknownOperationException", "PATCH");
    let r = call(
        &emu,
        "GET",
        &format!("{PATH}/list?MaxItems=0"),
        &Value::Null,
    )
    .await;
    assert_error(&r, 400, "InvalidParameterValueException", "MaxItems");

    let after = call(&emu, "GET", &format!("{PATH}/list"), &Value::Null)
        .await
        .json();
    assert_eq!(before, after, "a refusal changes nothing");
    // And the library refuses alike, with a typed error.
    let e = emu
        .put_event_invoke_config("orders", None, EventInvokeSettings::default(), true)
        .unwrap_err();
    assert!(
        matches!(
            e,
            firebox_emulator::ControlError::EventInvoke(firebox_emulator::EventInvokeError::Empty)
        ),
        "{e}"
    );
}

#[tokio::test]
async fn a_loop_of_destinations_is_stopped_after_sixteen_records() {
    // `a` sends its successes to `b` and `b` to `a`: without a stop this would never end.
    let emu = start(vec![
        function("a", "ack_events"),
        function("b", "ack_events"),
    ])
    .await;
    for (from, to) in [("a", "b"), ("b", "a")] {
        let body =
            json!({"DestinationConfig": {"OnSuccess": {"Destination": format!("{ARN}:{to}")}}});
        let path = format!("/2019-09-25/functions/{from}/event-invoke-config");
        assert_eq!(call(&emu, "PUT", &path, &body).await.status, 200);
    }
    invoke_event(&emu, "a", None, json!({"n": 1})).await;
    // The event and 16 records (the 16th record's success is not forwarded).
    wait_metric(
        &emu,
        "firebox_recursive_loops_stopped_total{function=\"a\"}",
        1.0,
    )
    .await;
    let runs = |f: &str| {
        texts(&emu, f)
            .iter()
            .filter(|l| l.starts_with("START RequestId: "))
            .count()
    };
    assert_eq!((runs("a"), runs("b")), (9, 8));
    // Nothing more arrives later.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!((runs("a"), runs("b")), (9, 8));
    let text = metrics(&emu).await;
    assert_eq!(
        metric(
            &text,
            "firebox_recursive_loops_stopped_total{function=\"b\"}"
        ),
        Some(0.0)
    );
}
