//! Init failures: a version whose Init keeps failing makes its configuration `FAILED` until the
//! next put, and an alias that has a configuration may not point to `$LATEST`.

use super::common::provisioned::*;
use super::common::*;
use super::*;
use firebox_emulator::{AliasConfig, Emulator, FunctionConfig, VersionConfig};
use serde_json::{json, Value};

/// `broken`: version 1's Init fails (the runtime posts `/init/error`, then exits), version 2's
/// works; alias `live` names version 1.
fn broken() -> FunctionConfig {
    let failing = [
        PYTHON.to_owned(),
        "-u".to_owned(),
        runtime_script(),
        "init_error".to_owned(),
    ];
    function("broken", "")
        .publish(1, VersionConfig::new().command(failing))
        .publish(2, VersionConfig::new())
        .alias("live", AliasConfig::new("1"))
}

/// Waits until `broken:qualifier`'s configuration is no longer `IN_PROGRESS`; its last answer.
async fn settled(emu: &Emulator, qualifier: &str) -> Value {
    settled_on(emu, "broken", qualifier).await
}

/// Environments `broken` has started, of any kind.
async fn broken_created(emu: &Emulator) -> Option<f64> {
    let m = metrics(emu).await;
    metric(
        &m,
        "firebox_environments_created_total{function=\"broken\"}",
    )
}

#[tokio::test]
async fn init_failures_make_a_configuration_failed_until_a_new_put() {
    let emu = emulator(vec![broken()]).await;
    let r = put_on(&emu, "broken", "1", 1).await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    assert_eq!(r.json()["Status"], "IN_PROGRESS");
    assert!(r.json().get("StatusReason").is_none(), "{:?}", r.body);

    // Three Inits in a row fail (a second apart), then the configuration has failed.
    let shown = settled(&emu, "1").await;
    assert_eq!(shown["Status"], "FAILED", "{shown}");
    assert_eq!(shown["StatusReason"], "FUNCTION_ERROR_INIT_FAILURE");
    assert_eq!(shown["RequestedProvisionedConcurrentExecutions"], 1);
    assert_eq!(shown["AllocatedProvisionedConcurrentExecutions"], 0);
    assert_eq!(shown["AvailableProvisionedConcurrentExecutions"], 0);
    assert_eq!(broken_created(&emu).await, Some(3.0));
    // No more attempts: none start in the next 2.5 s (one a second before the change).
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(broken_created(&emu).await, Some(3.0));
    let list = call(
        &emu,
        "GET",
        "/2019-09-30/functions/broken/provisioned-concurrency?List=ALL",
        &Value::Null,
    )
    .await
    .json();
    let item = &list["ProvisionedConcurrencyConfigs"][0];
    assert_eq!(item["FunctionArn"], format!("{ARN}:broken:1"));
    assert_eq!(item["Status"], "FAILED");
    assert_eq!(item["StatusReason"], "FUNCTION_ERROR_INIT_FAILURE");
    // The configuration still holds its share of the pool.
    assert_eq!(unreserved(&emu).await, 109);

    // An invoke of the version runs cold, as before, and gets its own Init error.
    let r = invoke_on(&emu, "broken", "1").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.function_error.as_deref(), Some("Unhandled"));
    assert_eq!(r.json().unwrap()["errorType"], "MyInitError");
    assert_eq!(broken_created(&emu).await, Some(4.0));

    // A version whose Init works is READY, and its invokes run in its environment.
    assert_eq!(put_on(&emu, "broken", "2", 1).await.status, 202);
    let shown = ready_on(&emu, "broken", "2").await;
    assert!(shown.get("StatusReason").is_none(), "{shown}");
    let r = invoke_on(&emu, "broken", "2").await;
    assert_eq!(
        r.json().unwrap()["env"]["AWS_LAMBDA_INITIALIZATION_TYPE"],
        "provisioned-concurrency"
    );
    assert_eq!(settled(&emu, "1").await["Status"], "FAILED");

    // A new put on version 1 starts over: IN_PROGRESS, three more attempts, FAILED again.
    let r = put_on(&emu, "broken", "1", 1).await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    assert_eq!(r.json()["Status"], "IN_PROGRESS");
    assert_eq!(settled(&emu, "1").await["Status"], "FAILED");
    assert_eq!(broken_created(&emu).await, Some(8.0));
}

#[tokio::test]
async fn an_alias_fails_with_its_version_and_may_not_point_to_latest() {
    let emu = emulator(vec![broken()]).await;
    assert_eq!(put_on(&emu, "broken", "live", 2).await.status, 202);
    let shown = settled(&emu, "live").await;
    assert_eq!(shown["Status"], "FAILED", "{shown}");
    assert_eq!(shown["StatusReason"], "FUNCTION_ERROR_INIT_FAILURE");

    // Repointing it to `$LATEST` is refused, through the API and the library, changing nothing.
    let alias = "/2015-03-31/functions/broken/aliases/live";
    let before = call(&emu, "GET", alias, &Value::Null).await.json();
    let r = call(&emu, "PUT", alias, &json!({"FunctionVersion": "$LATEST"})).await;
    assert_error(
        &r,
        400,
        "InvalidParameterValueException",
        "Alias live has a Provisioned Concurrency Config and cannot point to $LATEST",
    );
    assert!(matches!(
        emu.set_alias("broken", "live", AliasConfig::new("$LATEST")),
        Err(firebox_emulator::ControlError::Alias(
            firebox_emulator::AliasError::ProvisionedOnUnpublished { .. }
        ))
    ));
    let after = call(&emu, "GET", alias, &Value::Null).await.json();
    assert_eq!(after["FunctionVersion"], "1");
    assert_eq!(after["RevisionId"], before["RevisionId"]);
    assert_eq!(
        settled(&emu, "live").await["RequestedProvisionedConcurrentExecutions"],
        2
    );
    // An alias without a configuration still may.
    let r = call(
        &emu,
        "POST",
        "/2015-03-31/functions/broken/aliases",
        &json!({"Name": "head", "FunctionVersion": "1"}),
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let head = "/2015-03-31/functions/broken/aliases/head";
    let r = call(&emu, "PUT", head, &json!({"FunctionVersion": "$LATEST"})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);

    // Moved to version 2, whose Init works, the configuration starts over there.
    let r = call(&emu, "PUT", alias, &json!({"FunctionVersion": "2"})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let shown = ready_on(&emu, "broken", "live").await;
    assert_eq!(shown["AvailableProvisionedConcurrentExecutions"], 2);
    assert!(shown.get("StatusReason").is_none(), "{shown}");
}
