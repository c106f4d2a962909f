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
        let prefix = format!("REPORT RequestId: {event_id}");
        wait_for(
            format!("{prefix} in hello's log"),
            Duration::from_secs(10),
            || {
                emu.logs("hello")
                    .into_iter()
                    .find(|l| l.text.starts_with(&prefix))
            },
        )
        .await?;

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

/// The `REPORT` line of a described invoke's log tail.
fn report_line(described: &Value) -> String {
    described["log"]
        .as_str()
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("REPORT"))
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn boto3_updates_settings_and_publishes_versions_with_its_waiters() -> TestResult {
    CHANGED.run(|emu| async move {
        let report = boto3(&emu, "settings").await?;
        let updated = &report["updated"];
        assert_eq!(updated["MemorySize"], 384, "{updated}");
        assert_eq!(updated["Timeout"], 11, "{updated}");
        assert_eq!(updated["Description"], "deploy", "{updated}");
        assert_eq!(updated["Environment"]["Variables"]["STAGE"], "prod");
        assert_eq!(updated["LastUpdateStatus"], "Successful");
        assert_ne!(updated["RevisionId"], report["before_revision"]);
        let line = report_line(&report["after_update"]);
        assert!(line.contains("Memory Size: 384 MB"), "{line}");

        let published = &report["published"];
        assert_eq!(report["published_status"], 201);
        assert_eq!(published["Version"], "1", "{published}");
        assert_eq!(published["Description"], "v1", "{published}");
        assert_eq!(published["State"], "Active", "{published}");
        assert_eq!(report["alias_version"], "1");
        // The alias runs version 1 with the settings it was published with; `$LATEST` has
        // changed since.
        assert_eq!(report["via_alias"]["executed_version"], "1");
        let line = report_line(&report["via_alias"]);
        assert!(line.contains("Memory Size: 384 MB"), "{line}");
        let line = report_line(&report["latest"]);
        assert!(line.contains("Memory Size: 128 MB"), "{line}");

        assert_exception(&report, "too_small", "InvalidParameterValueException", 400);
        assert_exception(&report, "stale", "PreconditionFailedException", 412);
        assert_exception(&report, "role", "InvalidParameterValueException", 400);
        let message = report["role"]["message"].as_str().unwrap_or_default();
        assert!(message.contains("Role"), "{message}");
        assert_eq!(report["versions"], json!(["$LATEST", "1"]));
        Ok(())
    })
}

/// Starts an emulator of its own with `hello` (run by a command) that runs the `python`
/// runtime family with the virtualenv's `awslambdaric`, for the functions boto3 creates.
fn deploy_emulator() -> Result<Emulator, Box<dyn std::error::Error + Send + Sync>> {
    let python = deps::python()?.display().to_string();
    let hello = workspace_function("hello", HELLO)?;
    let emulator = block_on(
        Emulator::builder()
            .runtime_command(
                "python",
                [python.as_str(), "-m", "awslambdaric", "{handler}"],
            )
            .function(hello)
            .start(),
    )??;
    Ok(emulator)
}

/// The JSON document a described invoke's payload holds.
fn payload(described: &Value) -> Value {
    serde_json::from_str(described["payload"].as_str().unwrap_or_default()).unwrap_or_else(|e| {
        panic!("the payload is not JSON ({e}): {described}");
    })
}

#[test]
fn boto3_deploys_a_python_function_from_a_zip() -> TestResult {
    let emu = deploy_emulator()?;
    let report = block_on(boto3(&emu, "deploy"))??;
    let arn = "arn:aws:lambda:us-east-1:123456789012:function:deployed";
    let role = "arn:aws:iam::123456789012:role/firebox-deploy";
    // Tags from create_function, tag_resource (a new key and a changed one), untag_resource.
    assert_eq!(
        report["tagged"],
        json!({"team": "billing", "stage": "dev"}),
        "{report}"
    );
    assert_eq!(report["tags_shown"], json!({"team": "billing"}), "{report}");

    // CreateFunction with Publish: answered with version 1's configuration.
    let created = &report["created"];
    assert_eq!(report["created_status"], 201, "{report}");
    assert_eq!(created["FunctionName"], "deployed", "{created}");
    assert_eq!(created["FunctionArn"], format!("{arn}:1"), "{created}");
    assert_eq!(created["Version"], "1", "{created}");
    assert_eq!(created["Runtime"], "python3.12", "{created}");
    assert_eq!(created["Handler"], "app.handler", "{created}");
    assert_eq!(created["Role"], role, "{created}");
    assert_eq!(created["Description"], "deployed by boto3", "{created}");
    assert_eq!(created["Timeout"], 20, "{created}");
    assert_eq!(created["MemorySize"], 256, "{created}");
    assert_eq!(created["Environment"]["Variables"]["STAGE"], "test");
    assert_eq!(created["State"], "Active", "{created}");
    assert_eq!(created["LastUpdateStatus"], "Successful", "{created}");
    assert_eq!(created["PackageType"], "Zip", "{created}");
    // CodeSha256 and CodeSize are those of the package boto3 sent, computed in Python.
    assert_eq!(created["CodeSha256"], report["v1_sha256"], "{created}");
    assert_eq!(created["CodeSize"], report["v1_size"], "{created}");
    let latest = &report["latest_after_create"];
    assert_eq!(latest["Version"], "$LATEST", "{latest}");
    assert_eq!(latest["FunctionArn"], arn, "{latest}");
    assert_eq!(latest["CodeSha256"], report["v1_sha256"], "{latest}");

    // The package runs on the managed runtime, with its execution environment name.
    let first = &report["first"];
    assert_eq!(first["status"], 200, "{first}");
    assert_eq!(first["function_error"], Value::Null, "{first}");
    assert_eq!(first["executed_version"], "$LATEST", "{first}");
    assert_eq!(
        payload(first),
        json!({"version": "v1", "env": "AWS_Lambda_python3.12", "function_version": "$LATEST"})
    );

    // UpdateFunctionCode: $LATEST runs the new code; version 1 keeps the code it was
    // published with.
    let updated = &report["updated"];
    assert_eq!(report["updated_status"], 200, "{report}");
    assert_eq!(updated["Version"], "$LATEST", "{updated}");
    assert_eq!(updated["CodeSha256"], report["v2_sha256"], "{updated}");
    assert_eq!(updated["CodeSize"], report["v2_size"], "{updated}");
    assert_ne!(report["v1_sha256"], report["v2_sha256"]);
    assert_ne!(updated["RevisionId"], latest["RevisionId"], "{updated}");
    assert_eq!(updated["MemorySize"], 256, "{updated}");
    let after_update = &report["after_update"];
    assert_eq!(
        after_update["executed_version"], "$LATEST",
        "{after_update}"
    );
    assert_eq!(payload(after_update)["version"], "v2", "{after_update}");
    let version_1 = &report["version_1"];
    assert_eq!(version_1["executed_version"], "1", "{version_1}");
    assert_eq!(
        payload(version_1),
        json!({"version": "v1", "env": "AWS_Lambda_python3.12", "function_version": "1"})
    );
    let configuration = &report["version_1_configuration"];
    assert_eq!(
        configuration["CodeSha256"], report["v1_sha256"],
        "{configuration}"
    );
    assert_exception(&report, "stale_code", "PreconditionFailedException", 412);

    // PublishVersion of the new code, behind an alias.
    let published = &report["published"];
    assert_eq!(published["Version"], "2", "{published}");
    assert_eq!(published["CodeSha256"], report["v2_sha256"], "{published}");
    assert_eq!(report["alias"]["FunctionVersion"], "2");
    let via_alias = &report["via_alias"];
    assert_eq!(via_alias["executed_version"], "2", "{via_alias}");
    assert_eq!(payload(via_alias)["version"], "v2", "{via_alias}");

    // DeleteFunction with a qualifier.
    assert_exception(&report, "version_in_use", "ResourceConflictException", 409);
    let message = report["version_in_use"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(message.contains("[live]"), "{message}");
    assert_exception(
        &report,
        "latest_not_deletable",
        "InvalidParameterValueException",
        400,
    );
    assert_eq!(report["deleted_version_status"], 204);
    assert_exception(
        &report,
        "after_version_delete",
        "ResourceNotFoundException",
        404,
    );
    assert_eq!(report["versions_after_delete"], json!(["$LATEST", "2"]));
    let after = &report["via_alias_after_delete"];
    assert_eq!(after["executed_version"], "2", "{after}");
    assert_eq!(payload(after)["version"], "v2", "{after}");

    // Refusals, with boto3's modeled exception classes.
    assert_exception(&report, "already_exists", "ResourceConflictException", 409);
    let message = report["already_exists"]["message"]
        .as_str()
        .unwrap_or_default();
    assert_eq!(message, "Function already exist: deployed");
    assert_exception(&report, "not_a_zip", "InvalidParameterValueException", 400);
    let message = report["not_a_zip"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("Could not unzip"), "{message}");
    assert_eq!(report["not_a_zip_listed"], false, "{report}");
    assert_exception(
        &report,
        "command_function",
        "InvalidParameterValueException",
        400,
    );

    // DeleteFunction: gone from GetFunction, Invoke and ListFunctions.
    assert_eq!(report["listed_before_delete"], json!(["deployed", "hello"]));
    assert_eq!(report["deleted_status"], 204);
    assert_exception(&report, "after_delete", "ResourceNotFoundException", 404);
    assert_exception(
        &report,
        "invoke_after_delete",
        "ResourceNotFoundException",
        404,
    );
    assert_eq!(report["listed_after_delete"], json!(["hello"]));
    Ok(())
}

/// `errors` and `hello` (version 1, alias `live`), on an emulator of their own (each call
/// starts one).
fn emulator_of_its_own() -> Result<Emulator, Box<dyn std::error::Error + Send + Sync>> {
    let emulator = block_on(
        Emulator::builder()
            .function(workspace_function("errors", ERRORS)?)
            .function(
                workspace_function("hello", HELLO)?
                    .publish(1, VersionConfig::new())
                    .alias("live", AliasConfig::new("1")),
            )
            .start(),
    )??;
    Ok(emulator)
}

#[test]
fn boto3_configures_asynchronous_invocation_per_qualifier() -> TestResult {
    let emu = emulator_of_its_own()?;
    let report = block_on(boto3(&emu, "event-invoke"))??;
    let arn = "arn:aws:lambda:us-east-1:123456789012:function";

    let put = &report["put"];
    assert_eq!(put["FunctionArn"], format!("{arn}:errors:$LATEST"), "{put}");
    assert_eq!(put["MaximumRetryAttempts"], 0, "{put}");
    assert!(put.get("MaximumEventAgeInSeconds").is_none(), "{put}");
    assert_eq!(
        put["DestinationConfig"],
        json!({"OnSuccess": {}, "OnFailure": {"Destination": format!("{arn}:hello:live")}}),
        "{put}"
    );
    // boto3 parsed the timestamp.
    assert_eq!(put["LastModified"], "datetime", "{put}");
    assert_eq!(report["got"], *put);
    let updated = &report["updated"];
    assert_eq!(updated["MaximumEventAgeInSeconds"], 120, "{updated}");
    assert_eq!(updated["MaximumRetryAttempts"], 0, "{updated}");
    assert_eq!(updated["DestinationConfig"], put["DestinationConfig"]);

    // The failing Event ran once (no retries) and its record reached version 1 of `hello`
    // through the alias.
    assert_eq!(report["event_status"], 202);
    block_on(wait_for(
        "the failure record at hello:live",
        Duration::from_secs(30),
        || {
            firebox_tests::logs::lines(&emu, "hello")
                .iter()
                .any(|l| l.starts_with("START RequestId: ") && l.ends_with("Version: 1"))
                .then_some(())
        },
    ))??;
    assert_eq!(
        firebox_tests::logs::count_starting(&emu, "errors", "START RequestId: "),
        1
    );

    let on_alias = &report["on_alias"];
    assert_eq!(on_alias["FunctionArn"], format!("{arn}:hello:live"));
    assert_eq!(on_alias["MaximumRetryAttempts"], 1);
    assert_eq!(report["listed"], json!([on_alias]));

    let code = |case: &str| {
        let observed = &report[case];
        (observed["code"].clone(), observed["status"].clone())
    };
    assert_eq!(
        code("too_many_retries"),
        (json!("ValidationException"), json!(400))
    );
    assert_exception(&report, "itself", "InvalidParameterValueException", 400);
    assert_exception(&report, "a_queue", "InvalidParameterValueException", 400);
    assert_exception(
        &report,
        "nothing_given",
        "InvalidParameterValueException",
        400,
    );
    assert_exception(
        &report,
        "update_without_config",
        "ResourceNotFoundException",
        404,
    );
    assert_exception(&report, "unknown_alias", "ResourceNotFoundException", 404);
    assert_eq!(report["deleted_status"], 204);
    assert_exception(&report, "after_delete", "ResourceNotFoundException", 404);
    Ok(())
}

#[test]
fn boto3_provisions_concurrency_on_an_alias() -> TestResult {
    let emu = emulator_of_its_own()?;
    let report = block_on(boto3(&emu, "provisioned"))??;
    let arn = "arn:aws:lambda:us-east-1:123456789012:function";

    assert_eq!(report["put_status"], 202, "{report}");
    assert_eq!(report["put"]["RequestedProvisionedConcurrentExecutions"], 2);
    let got = &report["got"];
    assert_eq!(
        *got,
        json!({
            "RequestedProvisionedConcurrentExecutions": 2,
            "AllocatedProvisionedConcurrentExecutions": 2,
            "AvailableProvisionedConcurrentExecutions": 2,
            "Status": "READY",
        }),
        "{report}"
    );
    assert!(report["last_modified"]
        .as_str()
        .is_some_and(|t| t.ends_with("+0000")));
    // The invoke ran in a provisioned environment: no Init in its REPORT.
    assert_eq!(report["report_in_tail"], true, "{report}");
    assert_eq!(report["init_in_tail"], false, "{report}");
    assert_eq!(report["answer"]["message"], "Hello, Ada!", "{report}");
    let mut listed = got.clone();
    listed["FunctionArn"] = format!("{arn}:hello:live").into();
    assert_eq!(report["listed"], json!([listed]));
    assert_eq!(report["paged"], json!([format!("{arn}:hello:live")]));

    assert_exception(&report, "latest", "InvalidParameterValueException", 400);
    assert_exception(
        &report,
        "version_under_alias",
        "ResourceConflictException",
        409,
    );
    assert_exception(
        &report,
        "beyond_the_pool",
        "InvalidParameterValueException",
        400,
    );
    assert_exception(&report, "unknown_version", "ResourceNotFoundException", 404);
    assert_eq!(report["deleted_status"], 204);
    assert_exception(
        &report,
        "after_delete",
        "ProvisionedConcurrencyConfigNotFoundException",
        404,
    );
    Ok(())
}

#[test]
fn boto3_adds_reads_and_removes_permissions_per_qualifier() -> TestResult {
    let emu = emulator_of_its_own()?;
    let report = block_on(boto3(&emu, "policy"))??;
    let arn = "arn:aws:lambda:us-east-1:123456789012:function:hello";

    assert_eq!(report["s3_status"], 201);
    let s3 = &report["s3"];
    assert_eq!(
        *s3,
        json!({
            "Sid": "s3-invoke",
            "Effect": "Allow",
            "Principal": {"Service": "s3.amazonaws.com"},
            "Action": "lambda:InvokeFunction",
            "Resource": arn,
            "Condition": {
                "ArnLike": {"AWS:SourceArn": "arn:aws:s3:::uploads"},
                "StringEquals": {"AWS:SourceAccount": "123456789012"},
            },
        })
    );
    let url = &report["url"];
    assert_eq!(url["Principal"], "*", "{url}");
    assert_eq!(
        url["Condition"],
        json!({"StringEquals": {"lambda:FunctionUrlAuthType": "NONE"}})
    );
    let policy = &report["policy"];
    assert_eq!(policy["Version"], "2012-10-17", "{policy}");
    assert_eq!(policy["Id"], "default", "{policy}");
    assert_eq!(policy["Statement"], json!([s3, url]), "in the order added");
    assert!(report["revision"].as_str().is_some_and(|r| r.len() == 36));

    // The alias has a policy of its own, on its ARN, with the same statement id.
    let on_alias = &report["on_alias"];
    assert_eq!(on_alias["Resource"], format!("{arn}:live"));
    assert_eq!(
        on_alias["Principal"],
        json!({"Service": "apigateway.amazonaws.com"})
    );
    assert_eq!(report["alias_policy"]["Statement"], json!([on_alias]));

    // The refusals, each a modeled exception where Lambda models it, changed nothing.
    assert_exception(&report, "duplicate", "ResourceConflictException", 409);
    assert_exception(&report, "stale_add", "PreconditionFailedException", 412);
    assert_exception(&report, "stale_remove", "PreconditionFailedException", 412);
    assert_exception(
        &report,
        "unknown_statement",
        "ResourceNotFoundException",
        404,
    );
    assert_exception(
        &report,
        "bad_principal",
        "InvalidParameterValueException",
        400,
    );
    assert_exception(&report, "latest", "InvalidParameterValueException", 400);
    assert_exception(&report, "unknown_alias", "ResourceNotFoundException", 404);
    assert_eq!(report["bad_action"]["code"], "ValidationException");
    assert_eq!(report["bad_action"]["status"], 400);
    assert_eq!(report["unchanged"], json!([policy, report["revision"]]));

    // Removed with the policy's revision: one statement left, a new revision; then none.
    assert_eq!(report["removed_status"], 204);
    assert_eq!(report["after_remove"][0]["Statement"], json!([url]));
    assert_ne!(report["after_remove"][1], report["revision"]);
    assert_exception(&report, "no_policy", "ResourceNotFoundException", 404);

    // Not enforced: boto3's signed invoke runs whatever the policy says.
    let invoked = &report["not_enforced"];
    assert_eq!(invoked["status"], 200, "{invoked}");
    assert_eq!(invoked["function_error"], Value::Null, "{invoked}");
    assert_eq!(invoked["executed_version"], "1", "{invoked}");
    Ok(())
}

#[test]
fn boto3_makes_one_function_url_per_qualifier() -> TestResult {
    let emu = emulator_of_its_own()?;
    let report = block_on(boto3(&emu, "function-urls"))??;
    let arn = "arn:aws:lambda:us-east-1:123456789012:function:hello";
    let base = format!("{}/lambda-url/hello", emu.endpoint());
    let latest = json!({"FunctionUrl": format!("{base}/"), "FunctionArn": arn,
        "AuthType": "NONE", "InvokeMode": "BUFFERED"});
    let mut live = json!({"FunctionUrl": format!("{base}:live/"), "FunctionArn": format!("{arn}:live"),
        "AuthType": "NONE", "InvokeMode": "BUFFERED"});
    live["Cors"] = json!({"AllowCredentials": false, "AllowHeaders": [], "AllowMethods": [],
        "AllowOrigins": ["https://live.example"], "ExposeHeaders": []});
    assert_eq!(report["latest"], latest);
    assert_eq!(report["live"], live);
    assert_exception(&report, "second_live", "ResourceConflictException", 409);
    assert_eq!(report["listed"], json!([latest, live]));
    assert_eq!(report["paged"], json!([arn, format!("{arn}:live")]));
    // Each shown URL answers (the function's answer to the URL event).
    let greeting = json!({"status": 200, "body": {"message": "Hello, world!"}});
    assert_eq!(report["fetched_latest"], greeting);
    assert_eq!(report["fetched_live"], greeting);
    live["AuthType"] = "AWS_IAM".into();
    assert_eq!(report["updated_live"], live);
    assert_eq!(report["got_live"], live);
    assert_eq!(report["got_latest"], latest, "changing one left the other");
    assert_exception(&report, "after_delete", "ResourceNotFoundException", 404);
    assert_eq!(report["fetched_after_delete"]["status"], 404);
    assert_eq!(report["after_alias_delete"], json!([arn]));
    assert_eq!(report["latest_fetched_at_the_end"], greeting);
    Ok(())
}
