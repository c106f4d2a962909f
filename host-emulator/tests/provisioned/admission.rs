//! Which invocations run on provisioned concurrency: only those of the version (or alias) it
//! is configured on. `$LATEST` cannot take it, even when the unreserved pool is used up; a
//! reservation equal to the provisioned concurrency throttles `$LATEST` (Lambda's documented
//! effect) while the version's invocations run.

use super::common::provisioned::*;
use super::common::*;
use firebox_emulator::{Emulator, InvokeOptions, VersionConfig};
use serde_json::Value;

async fn invoke_sleeping(emu: &Emulator, qualifier: &str, seconds: f64) -> (u16, Value) {
    let options = InvokeOptions {
        qualifier: Some(qualifier.to_owned()),
        ..InvokeOptions::default()
    };
    let payload = serde_json::json!({ "sleep": seconds }).to_string();
    let r = emu
        .invoke_with("orders", payload, &options)
        .await
        .expect("invoke");
    (r.status.as_u16(), r.json().unwrap_or(Value::Null))
}

#[tokio::test]
async fn provisioned_concurrency_runs_its_versions_invocations_and_no_others() {
    // An account of 5: version 1's 2 provisioned leave an unreserved pool of 3.
    let emu = Emulator::builder()
        .account_concurrency(5)
        .unreserved_minimum(0)
        .function(function("orders", "").publish(1, VersionConfig::new()))
        .start()
        .await
        .expect("emulator starts");
    let emu = std::sync::Arc::new(emu);
    let r = put_on(&emu, "orders", "1", 2).await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    ready_on(&emu, "orders", "1").await;

    // Three `$LATEST` invocations fill the pool; a fourth is throttled...
    let busy: Vec<_> = (0..3)
        .map(|_| {
            let emu = emu.clone();
            tokio::spawn(async move { invoke_sleeping(&emu, "$LATEST", 1.5).await })
        })
        .collect();
    wait_metric(
        &emu,
        "firebox_concurrent_executions{function=\"orders\"}",
        3.0,
    )
    .await;
    let (status, body) = invoke_sleeping(&emu, "$LATEST", 0.0).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["Reason"], "ConcurrentInvocationLimitExceeded");
    // ...while version 1's run on its provisioned concurrency, which `$LATEST` could not take.
    let (a, b) = tokio::join!(
        invoke_sleeping(&emu, "1", 0.2),
        invoke_sleeping(&emu, "1", 0.2)
    );
    assert_eq!((a.0, b.0), (200, 200), "{a:?} {b:?}");
    assert_eq!(
        a.1["env"]["AWS_LAMBDA_INITIALIZATION_TYPE"],
        "provisioned-concurrency"
    );
    for task in busy {
        assert_eq!(task.await.expect("join").0, 200);
    }

    // A reservation equal to the provisioned concurrency: `$LATEST` is throttled, version 1
    // runs.
    let body = serde_json::json!({"ReservedConcurrentExecutions": 2});
    let r = call(
        &emu,
        "PUT",
        "/2017-10-31/functions/orders/concurrency",
        &body,
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let (status, body) = invoke_sleeping(&emu, "$LATEST", 0.0).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(
        body["Reason"],
        "ReservedFunctionConcurrentInvocationLimitExceeded"
    );
    let (a, b) = tokio::join!(
        invoke_sleeping(&emu, "1", 0.2),
        invoke_sleeping(&emu, "1", 0.2)
    );
    assert_eq!((a.0, b.0), (200, 200), "{a:?} {b:?}");
}
