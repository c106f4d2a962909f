//! boto3 as the caller: the AWS SDK for Python decides whether the emulator's Invoke API is
//! right. `tests/python/boto3_invoke.py` makes the calls and prints what boto3 returned or
//! raised; these tests assert on it: exception classes for service errors, `FunctionError`,
//! `LogResult`, `ExecutedVersion`, and the status codes of `Event` and `DryRun`; invokes
//! through versions and aliases, the read side of the control plane (with a paginator and
//! a waiter), the writes it does (aliases, reserved concurrency, settings), and a scripted
//! deployment of a Python function from a `.zip` (`CreateFunction`, `UpdateFunctionCode`,
//! `DeleteFunction`), asynchronous-invocation configurations, provisioned concurrency,
//! resource-based policies (`AddPermission`, `GetPolicy`, `RemovePermission`), and function
//! URLs on `$LATEST` and on an alias.
//!
//! The tests, by what they call: here the invokes, the errors and the read side; `deploy`
//! (settings, versions and a scripted `.zip` deployment); `configuration` (asynchronous
//! invocation, provisioned concurrency, resource-based policies and function URLs, each on an
//! emulator of its own).
//!
//! Needs the virtualenv from `scripts/setup-test-deps`.

use std::process::Stdio;
use std::time::Duration;

use firebox_emulator::{AliasConfig, Emulator, FunctionConfig, VersionConfig};
use firebox_tests::bins::{ERRORS, HELLO};
use firebox_tests::functions::{control_plane_functions, workspace_function};
use firebox_tests::logs::wait_for;
use firebox_tests::shared::{block_on, SharedEmulator, TestResult};
use firebox_tests::{deps, repo_root, Error};
use serde_json::{json, Value};

mod configuration;
mod deploy;

static EMU: SharedEmulator = SharedEmulator::new(functions);
/// An emulator of its own for the tests that change aliases, reserved concurrency, settings
/// and versions, so that the other tests never see those changes.
static CHANGED: SharedEmulator = SharedEmulator::new(control_plane_functions);

fn functions() -> Result<Vec<FunctionConfig>, Error> {
    Ok(vec![
        workspace_function("hello", HELLO)?
            .publish(1, VersionConfig::new().memory_mb(256))
            .alias("live", AliasConfig::new("1")),
        workspace_function("errors", ERRORS)?,
    ])
}

/// Runs the boto3 script's `group` against the emulator and returns its JSON report.
async fn boto3(
    emu: &Emulator,
    group: &str,
) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
    let python = deps::python()?;
    let script = repo_root()
        .join("tests")
        .join("python")
        .join("boto3_invoke.py");
    let mut command = tokio::process::Command::new(python);
    command
        .arg(&script)
        .arg(emu.endpoint())
        .arg(group)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    // Dummy credentials and region only: nothing from the developer's AWS configuration.
    for name in [
        "AWS_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_LAMBDA",
    ] {
        command.env_remove(name);
    }
    command
        .env("AWS_ACCESS_KEY_ID", "AKIDFIREBOXE2E")
        .env("AWS_SECRET_ACCESS_KEY", "firebox-e2e-secret")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true");
    let output = tokio::time::timeout(Duration::from_secs(120), command.output())
        .await
        .map_err(|_| format!("{} {group} did not finish within 120 s", script.display()))??;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        return Err(format!("boto3 script {group} failed ({}):\n{stderr}", output.status).into());
    }
    serde_json::from_str(stdout.trim())
        .map_err(|e| format!("boto3 script printed no JSON ({e}):\n{stdout}\n{stderr}").into())
}

fn assert_exception(report: &Value, case: &str, class: &str, status: u64) {
    let observed = &report[case];
    assert_eq!(observed["exception"], class, "{case}: {observed}");
    assert_eq!(observed["is_modeled_class"], true, "{case}: {observed}");
    assert_eq!(observed["status"], status, "{case}: {observed}");
    let message = observed["message"].as_str().unwrap_or_default();
    assert!(!message.is_empty(), "{case}: no message in {observed}");
}

#[test]
fn boto3_raises_the_service_exception_classes() -> TestResult {
    EMU.run(|emu| async move {
        let report = boto3(&emu, "service-errors").await?;
        assert_exception(
            &report,
            "unknown_function",
            "ResourceNotFoundException",
            404,
        );
        let message = report["unknown_function"]["message"]
            .as_str()
            .unwrap_or_default();
        assert!(message.contains("no-such-function"), "{message}");
        assert_exception(
            &report,
            "unknown_qualifier",
            "ResourceNotFoundException",
            404,
        );
        assert_exception(
            &report,
            "invalid_json",
            "InvalidRequestContentException",
            400,
        );
        assert_exception(&report, "too_large_sync", "RequestTooLargeException", 413);
        assert_exception(&report, "too_large_event", "RequestTooLargeException", 413);
        Ok(())
    })
}

#[test]
fn boto3_sees_results_errors_logs_and_invocation_types() -> TestResult {
    EMU.run(|emu| async move {
        let report = boto3(&emu, "invokes").await?;

        let success = &report["success"];
        assert_eq!(success["status"], 200, "{success}");
        assert_eq!(success["function_error"], Value::Null, "{success}");
        assert_eq!(success["executed_version"], "$LATEST", "{success}");
        let payload: Value = serde_json::from_str(success["payload"].as_str().unwrap_or_default())?;
        assert_eq!(payload, json!({"message": "Hello, boto3!"}));

        let failed = &report["function_error"];
        assert_eq!(failed["status"], 200, "{failed}");
        assert_eq!(failed["function_error"], "Unhandled", "{failed}");
        let doc: Value = serde_json::from_str(failed["payload"].as_str().unwrap_or_default())?;
        assert_eq!(doc["errorType"], "OrderNotFound", "{doc}");
        assert_eq!(doc["errorMessage"], "order 7 not found", "{doc}");

        let tail = &report["log_tail"];
        assert_eq!(tail["status"], 200, "{tail}");
        let id = tail["request_id"].as_str().unwrap_or_default();
        assert!(!id.is_empty(), "{tail}");
        let log = tail["log"].as_str().unwrap_or_default();
        for line in [
            format!("START RequestId: {id} Version: $LATEST"),
            format!("END RequestId: {id}"),
            format!("REPORT RequestId: {id}"),
        ] {
            assert!(log.contains(&line), "{line:?} not in LogResult:\n{log}");
        }
        // Only this request's lines: no other request id appears in its tail.
        let other = success["request_id"].as_str().unwrap_or_default();
        assert!(
            !log.contains(other),
            "another request's lines in the tail:\n{log}"
        );

        let event = &report["event"];
        assert_eq!(event["status"], 202, "{event}");
        assert_eq!(event["payload"], "", "{event}");
        // The Event invocation runs in the background: its REPORT line shows up.
        let event_id = event["request_id"].as_str().unwrap_or_default().to_owned();
        firebox_tests::logs::report(&emu, "hello", &event_id).await?;

        let dry = &report["dry_run"];
        assert_eq!(dry["status"], 204, "{dry}");
        assert_eq!(dry["payload"], "", "{dry}");
        Ok(())
    })
}

#[test]
fn boto3_invokes_versions_and_aliases_and_reads_the_control_plane() -> TestResult {
    EMU.run(|emu| async move {
        let report = boto3(&emu, "versions").await?;
        let arn = "arn:aws:lambda:us-east-1:123456789012:function:hello";

        let via_alias = &report["via_alias"];
        assert_eq!(via_alias["status"], 200, "{via_alias}");
        assert_eq!(via_alias["executed_version"], "1", "{via_alias}");
        let payload: Value =
            serde_json::from_str(via_alias["payload"].as_str().unwrap_or_default())?;
        assert_eq!(payload, json!({"message": "Hello, alias!"}));
        assert_eq!(report["via_version"]["executed_version"], "1");

        let function = &report["function"];
        assert_eq!(function["FunctionArn"], arn, "{function}");
        assert_eq!(function["Version"], "$LATEST", "{function}");
        assert_eq!(function["MemorySize"], 128, "{function}");
        assert_eq!(function["State"], "Active", "{function}");
        let live = &report["live_configuration"];
        assert_eq!(live["Version"], "1", "{live}");
        assert_eq!(live["MemorySize"], 256, "{live}");
        assert_eq!(live["FunctionArn"], format!("{arn}:1"), "{live}");

        assert_eq!(report["versions"], json!(["$LATEST", "1"]));
        assert_eq!(report["aliases"], json!([["live", "1"]]));
        assert_eq!(report["alias"]["AliasArn"], format!("{arn}:live"));
        // Two functions, one per page of the paginator.
        assert_eq!(report["listed"], json!(["errors", "hello"]));
        assert_eq!(report["pages"], 2);
        assert_eq!(report["waiter"], "active");
        assert_eq!(report["account"]["ConcurrentExecutions"], 1000);

        assert_exception(&report, "missing_alias", "ResourceNotFoundException", 404);
        assert_exception(&report, "missing_version", "ResourceNotFoundException", 404);
        // CreateFunction with a package that is not a .zip.
        assert_exception(
            &report,
            "create_function",
            "InvalidParameterValueException",
            400,
        );
        let message = report["create_function"]["message"]
            .as_str()
            .unwrap_or_default();
        assert!(message.contains("Could not unzip"), "{message}");
        Ok(())
    })
}

#[test]
fn boto3_changes_aliases_and_reserved_concurrency() -> TestResult {
    CHANGED.run(|emu| async move {
        let report = boto3(&emu, "control-writes").await?;
        let arn = "arn:aws:lambda:us-east-1:123456789012:function:hello";

        let created = &report["created"];
        assert_eq!(report["created_status"], 201, "{report}");
        assert_eq!(created["AliasArn"], format!("{arn}:beta"), "{created}");
        assert_eq!(created["FunctionVersion"], "2", "{created}");
        assert_eq!(created["Description"], "next", "{created}");
        assert_eq!(report["via_created"]["executed_version"], "2");

        let updated = &report["updated"];
        assert_eq!(updated["FunctionVersion"], "1", "{updated}");
        assert_eq!(
            updated["RoutingConfig"]["AdditionalVersionWeights"]["2"], 1.0,
            "{updated}"
        );
        assert_ne!(updated["RevisionId"], created["RevisionId"]);
        // Every invocation routed to version 2.
        assert_eq!(report["via_routed"]["executed_version"], "2");

        assert_exception(
            &report,
            "stale_revision",
            "PreconditionFailedException",
            412,
        );
        assert_exception(&report, "conflict", "ResourceConflictException", 409);
        assert_exception(&report, "unknown_version", "ResourceNotFoundException", 404);
        assert_eq!(report["deleted_status"], 204);
        assert_exception(&report, "after_delete", "ResourceNotFoundException", 404);

        assert_eq!(report["reserved"]["ReservedConcurrentExecutions"], 0);
        assert_exception(&report, "throttled", "TooManyRequestsException", 429);
        assert_eq!(report["while_reserved"]["ReservedConcurrentExecutions"], 0);
        assert_exception(&report, "too_much", "InvalidParameterValueException", 400);
        let message = report["too_much"]["message"].as_str().unwrap_or_default();
        assert!(message.contains("minimum value of [100]"), "{message}");
        assert_eq!(report["removed_status"], 204);
        assert_eq!(report["after_removal"]["status"], 200);
        assert_eq!(report["after_removal_concurrency"], json!({}));
        Ok(())
    })
}

/// boto3's `invoke_async` (the deprecated `InvokeAsync`): 202 with `Status: 202`, and the
/// event runs in the background as an `Event` invocation.
#[test]
fn boto3_invoke_async_runs_an_event() -> TestResult {
    EMU.run(|emu| async move {
        let script = r#"
import json, sys, boto3
c = boto3.client("lambda", endpoint_url=sys.argv[1])
r = c.invoke_async(FunctionName="hello", InvokeArgs=b'{"name": "async"}')
print(json.dumps({"status": r["Status"], "http": r["ResponseMetadata"]["HTTPStatusCode"],
                  "request_id": r["ResponseMetadata"]["RequestId"]}))
"#;
        let output = tokio::process::Command::new(deps::python()?)
            .args(["-c", script, emu.endpoint()])
            .env("AWS_ACCESS_KEY_ID", "AKIDFIREBOXE2E")
            .env("AWS_SECRET_ACCESS_KEY", "firebox-e2e-secret")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_ENDPOINT_URL")
            .env_remove("AWS_ENDPOINT_URL_LAMBDA")
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output()
            .await?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let report: Value = serde_json::from_str(stdout.trim())?;
        assert_eq!(report["status"], 202, "{report}");
        assert_eq!(report["http"], 202, "{report}");
        let id = report["request_id"].as_str().unwrap_or_default().to_owned();
        assert!(!id.is_empty(), "{report}");
        firebox_tests::logs::report(&emu, "hello", &id).await?;
        Ok(())
    })
}
