//! A configuration's life: environments ready before the invokes and given back, an alias's
//! configuration following the alias, refusals in AWS's shape, and versions declared with one.

use super::common::provisioned::*;
use super::common::*;
use super::*;
use firebox_emulator::{AliasConfig, ProvisionedStatus, VersionConfig};
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn a_version_gets_environments_ready_before_its_invokes_and_gives_them_back() {
    let emu = emulator(vec![]).await;
    assert_eq!(unreserved(&emu).await, 110);
    assert_error(
        &get(&emu, "1").await,
        404,
        "ProvisionedConcurrencyConfigNotFoundException",
        "No Provisioned Concurrency Config found for this function",
    );

    let r = put(&emu, "1", 2).await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    let body = r.json();
    assert_eq!(body["RequestedProvisionedConcurrentExecutions"], 2);
    assert!(
        body["Status"] == "IN_PROGRESS" || body["Status"] == "READY",
        "{body}"
    );
    assert!(body["LastModified"].as_str().unwrap().ends_with("+0000"));
    assert_eq!(unreserved(&emu).await, 108, "set aside from the pool");

    let shown = ready(&emu, "1").await;
    assert_eq!(shown["AvailableProvisionedConcurrentExecutions"], 2);
    assert_eq!(shown["AllocatedProvisionedConcurrentExecutions"], 2);
    assert_eq!(shown["LastModified"], body["LastModified"]);
    let m = metrics(&emu).await;
    assert_eq!(created(&m), Some(2.0));
    assert_eq!(
        metric(
            &m,
            "firebox_provisioned_concurrency{function=\"orders\",state=\"configured\"}"
        ),
        Some(2.0)
    );

    // Invokes of version 1 (and of `live`, on 1) run in those environments: no cold start.
    for qualifier in ["1", "live", "1"] {
        let answer = invoke(&emu, qualifier).await;
        assert_eq!(answer["env"]["V"], "1");
        assert_eq!(
            answer["env"]["AWS_LAMBDA_INITIALIZATION_TYPE"],
            "provisioned-concurrency"
        );
    }
    assert!(
        reports(&emu, "orders")
            .iter()
            .all(|r| !r.contains("Init Duration")),
        "{:?}",
        reports(&emu, "orders")
    );
    assert_eq!(created(&metrics(&emu).await), Some(2.0));
    // Version 2 has none: its first invoke is a cold start.
    let answer = invoke(&emu, "2").await;
    assert_eq!(answer["env"]["AWS_LAMBDA_INITIALIZATION_TYPE"], "on-demand");
    assert_eq!(created(&metrics(&emu).await), Some(3.0));

    // A second configuration, then the list with qualified ARNs.
    assert_eq!(put(&emu, "2", 1).await.status, 202);
    ready(&emu, "2").await;
    let list = call(&emu, "GET", &format!("{PATH}?List=ALL"), &Value::Null).await;
    assert_eq!(list.status, 200, "{:?}", list.body);
    let arns: Vec<String> = list.json()["ProvisionedConcurrencyConfigs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["FunctionArn"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(arns, [format!("{ARN}:orders:1"), format!("{ARN}:orders:2")]);
    let paged = call(
        &emu,
        "GET",
        &format!("{PATH}?List=ALL&MaxItems=1"),
        &Value::Null,
    )
    .await
    .json();
    assert_eq!(
        paged["ProvisionedConcurrencyConfigs"][0]["FunctionArn"],
        arns[0]
    );
    assert!(paged["NextMarker"].is_string(), "{paged}");
    assert_eq!(unreserved(&emu).await, 107);

    // Lowering stops an idle provisioned environment.
    let before = destroyed(&metrics(&emu).await).unwrap_or(0.0);
    assert_eq!(put(&emu, "1", 1).await.status, 202);
    wait_metric(
        &emu,
        "firebox_environments_destroyed_total{function=\"orders\"}",
        before + 1.0,
    )
    .await;
    let shown = ready(&emu, "1").await;
    assert_eq!(shown["RequestedProvisionedConcurrentExecutions"], 1);
    assert_eq!(shown["AllocatedProvisionedConcurrentExecutions"], 1);
    assert_eq!(unreserved(&emu).await, 108);

    // Deleting gives the rest back; deleting again is not an error (as on Lambda).
    let r = call(&emu, "DELETE", &format!("{PATH}?Qualifier=1"), &Value::Null).await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    assert_error(
        &get(&emu, "1").await,
        404,
        "ProvisionedConcurrencyConfigNotFoundException",
        "No Provisioned Concurrency Config found",
    );
    let r = call(&emu, "DELETE", &format!("{PATH}?Qualifier=1"), &Value::Null).await;
    assert_eq!(r.status, 204);
    assert_eq!(unreserved(&emu).await, 109);
    wait_metric(
        &emu,
        "firebox_environments_destroyed_total{function=\"orders\"}",
        before + 2.0,
    )
    .await;

    // Deleting version 2 takes its configuration along.
    let r = call(
        &emu,
        "DELETE",
        "/2015-03-31/functions/orders?Qualifier=2",
        &Value::Null,
    )
    .await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    let list = call(&emu, "GET", &format!("{PATH}?List=ALL"), &Value::Null).await;
    assert_eq!(list.json()["ProvisionedConcurrencyConfigs"], json!([]));
    assert_eq!(unreserved(&emu).await, 110);
}

#[tokio::test]
async fn an_alias_configuration_follows_the_alias_and_conflicts_with_its_version() {
    let emu = emulator(vec![]).await;
    // Through the name as well as `?Qualifier=`.
    let r = call(
        &emu,
        "PUT",
        "/2019-09-30/functions/orders:live/provisioned-concurrency",
        &json!({"ProvisionedConcurrentExecutions": 1}),
    )
    .await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    ready(&emu, "live").await;
    assert_eq!(
        invoke(&emu, "1").await["env"]["AWS_LAMBDA_INITIALIZATION_TYPE"],
        "provisioned-concurrency"
    );

    // The version under a provisioned alias, and an alias over a provisioned version: 409.
    assert_error(
        &put(&emu, "1", 1).await,
        409,
        "ResourceConflictException",
        "Version is pointed by a Provisioned Concurrency alias",
    );
    assert_eq!(put(&emu, "2", 1).await.status, 202);
    ready(&emu, "2").await;
    call(
        &emu,
        "POST",
        "/2015-03-31/functions/orders/aliases",
        &json!({"Name": "canary", "FunctionVersion": "2"}),
    )
    .await;
    assert_error(
        &put(&emu, "canary", 1).await,
        409,
        "ResourceConflictException",
        "Alias can't be used for Provisioned Concurrency configuration on an already \
         Provisioned version",
    );
    let before = destroyed(&metrics(&emu).await).unwrap_or(0.0);
    let r = call(&emu, "DELETE", &format!("{PATH}?Qualifier=2"), &Value::Null).await;
    assert_eq!(r.status, 204);

    // `live` moves to version 2: its environment moves with it.
    let r = call(
        &emu,
        "PUT",
        "/2015-03-31/functions/orders/aliases/live",
        &json!({"FunctionVersion": "2"}),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let shown = ready(&emu, "live").await;
    assert_eq!(shown["AvailableProvisionedConcurrentExecutions"], 1);
    wait_metric(
        &emu,
        "firebox_environments_destroyed_total{function=\"orders\"}",
        before + 2.0, // version 2's own, deleted above, and version 1's, no longer needed
    )
    .await;
    let answer = invoke(&emu, "live").await;
    assert_eq!(answer["env"]["V"], "2");
    assert_eq!(
        answer["env"]["AWS_LAMBDA_INITIALIZATION_TYPE"],
        "provisioned-concurrency"
    );

    // Deleting the alias deletes its configuration.
    let r = call(
        &emu,
        "DELETE",
        "/2015-03-31/functions/orders/aliases/live",
        &Value::Null,
    )
    .await;
    assert_eq!(r.status, 204);
    assert_error(
        &get(&emu, "live").await,
        404,
        "ResourceNotFoundException",
        &format!("Cannot find alias arn: {ARN}:orders:live"),
    );
    assert_eq!(unreserved(&emu).await, 110);
}

#[tokio::test]
async fn refusals_are_in_aws_shape_and_change_nothing() {
    let reserved = function("capped", "")
        .reserved_concurrency(2)
        .publish(1, VersionConfig::new());
    let emu = emulator(vec![reserved]).await;
    assert_error(
        &put(&emu, "$LATEST", 1).await,
        400,
        "InvalidParameterValueException",
        "Provisioned Concurrency Configs cannot be applied to unpublished function versions.",
    );
    call(
        &emu,
        "POST",
        "/2015-03-31/functions/orders/aliases",
        &json!({"Name": "head", "FunctionVersion": "$LATEST"}),
    )
    .await;
    assert_error(
        &put(&emu, "head", 1).await,
        400,
        "InvalidParameterValueException",
        "unpublished function versions",
    );
    for method in ["GET", "DELETE"] {
        let r = call(
            &emu,
            method,
            &format!("{PATH}?Qualifier=$LATEST"),
            &Value::Null,
        )
        .await;
        assert_error(
            &r,
            400,
            "InvalidParameterValueException",
            "The function resource provided must be an alias or a published version.",
        );
    }
    assert_error(
        &put(&emu, "1", 0).await,
        400,
        "ValidationException",
        "Value '0' at 'provisionedConcurrentExecutions' failed to satisfy constraint",
    );
    assert_error(
        &put(&emu, "9", 1).await,
        404,
        "ResourceNotFoundException",
        &format!("Function not found: {ARN}:orders:9"),
    );
    assert_error(
        &put(&emu, "nope", 1).await,
        404,
        "ResourceNotFoundException",
        &format!("Cannot find alias arn: {ARN}:orders:nope"),
    );
    let r = call(
        &emu,
        "PUT",
        PATH,
        &json!({"ProvisionedConcurrentExecutions": 1}),
    )
    .await;
    assert_error(&r, 400, "ValidationException", "at 'qualifier'");
    let r = call(
        &emu,
        "PUT",
        "/2019-09-30/functions/ghost/provisioned-concurrency?Qualifier=1",
        &json!({"ProvisionedConcurrentExecutions": 1}),
    )
    .await;
    assert_error(&r, 404, "ResourceNotFoundException", "ghost");
    let r = send(
        emu.endpoint(),
        "PUT",
        &format!("{PATH}?Qualifier=1"),
        &[],
        "{not json",
    )
    .await;
    assert_eq!(r.status, 400, "{:?}", r.body);

    // The account's pool: 110 - 11 would leave 99, below the minimum of 100.
    assert_error(
        &put(&emu, "1", 11).await,
        400,
        "InvalidParameterValueException",
        "Specified ConcurrentExecutions for function decreases account's \
         UnreservedConcurrentExecution below its minimum value of [100].",
    );
    // The function's reservation: 3 > 2.
    let r = call(
        &emu,
        "PUT",
        "/2019-09-30/functions/capped/provisioned-concurrency?Qualifier=1",
        &json!({"ProvisionedConcurrentExecutions": 3}),
    )
    .await;
    assert_error(
        &r,
        400,
        "InvalidParameterValueException",
        "Requested Provisioned Concurrency should not be greater than the \
         reservedConcurrentExecution for function",
    );

    // Nothing changed: no configuration, no environment, the pool as it was (110 less the
    // reservation of 2).
    let list = call(&emu, "GET", &format!("{PATH}?List=ALL"), &Value::Null).await;
    assert_eq!(list.json()["ProvisionedConcurrencyConfigs"], json!([]));
    assert_eq!(unreserved(&emu).await, 108);
    assert_eq!(created(&metrics(&emu).await), Some(0.0));

    // Within the reservation it fits, and the reservation may not then go below it.
    let r = call(
        &emu,
        "PUT",
        "/2019-09-30/functions/capped/provisioned-concurrency?Qualifier=1",
        &json!({"ProvisionedConcurrentExecutions": 2}),
    )
    .await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    let r = call(
        &emu,
        "PUT",
        "/2017-10-31/functions/capped/concurrency",
        &json!({"ReservedConcurrentExecutions": 1}),
    )
    .await;
    assert_eq!(r.status.as_u16(), 400, "{:?}", r.body);
    assert_eq!(unreserved(&emu).await, 108);
}

#[tokio::test]
async fn declared_versions_start_configured_and_the_library_changes_them() {
    let emu = start(vec![function("orders", "")
        .publish(1, VersionConfig::new().provisioned_concurrency(1))
        .alias("live", AliasConfig::new("1"))])
    .await;
    let shown = ready(&emu, "1").await;
    assert_eq!(shown["RequestedProvisionedConcurrentExecutions"], 1);

    emu.put_provisioned_concurrency_config("orders", "1", 2)
        .unwrap();
    let mut status = emu
        .provisioned_concurrency_config("orders", "1")
        .await
        .unwrap();
    for _ in 0..1200 {
        if status.status == ProvisionedStatus::Ready {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        status = emu
            .provisioned_concurrency_config("orders", "1")
            .await
            .unwrap();
    }
    assert_eq!((status.requested, status.available), (2, 2));
    assert!(matches!(
        emu.put_provisioned_concurrency_config("orders", "live", 1),
        Err(firebox_emulator::ControlError::Provisioned(
            firebox_emulator::ProvisionedError::VersionAlreadyProvisioned
        ))
    ));
    emu.delete_provisioned_concurrency_config("orders", "1")
        .unwrap();
    assert!(matches!(
        emu.provisioned_concurrency_config("orders", "1").await,
        Err(firebox_emulator::ControlError::Provisioned(
            firebox_emulator::ProvisionedError::NotFound
        ))
    ));
    wait_metric(
        &emu,
        "firebox_environments_destroyed_total{function=\"orders\"}",
        2.0,
    )
    .await;
}

/// Shutting down ends the provisioned environments without starting new ones. The
/// environments and their scheduler see the same signal; one that ended first was replaced
/// (a third `INIT_START` in `serve`'s output). A race, so a few rounds, on as many threads
/// as `serve` has.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutting_down_starts_no_replacement() {
    for round in 0..8 {
        let emu = Emulator::builder()
            .function(function("warm", "").provisioned_concurrency(2))
            .start()
            .await
            .expect("emulator starts");
        let mut lines = emu.logs_from_start();
        wait_metric(
            &emu,
            "firebox_environments{function=\"warm\",state=\"idle\"}",
            2.0,
        )
        .await;
        emu.shutdown().await;
        let mut inits = 0;
        while let Ok(line) = lines.try_recv() {
            inits += usize::from(line.text.starts_with("INIT_START"));
        }
        assert_eq!(inits, 2, "round {round}");
    }
}
