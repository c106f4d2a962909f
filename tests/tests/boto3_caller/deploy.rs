//! boto3 deploys: `UpdateFunctionConfiguration` and `PublishVersion` with boto3's waiters, and
//! a Python function deployed from a `.zip` built in memory.

use super::*;

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
        // A role is stored and shown (no identity is assumed here); a malformed one is
        // refused, and so is a layer version the emulator does not have.
        let role = "arn:aws:iam::123456789012:role/other";
        assert_eq!(report["role"], role, "{report}");
        assert_eq!(report["role_read_back"], role, "{report}");
        assert_eq!(
            report["bad_role"]["code"], "ValidationException",
            "{report}"
        );
        assert_eq!(report["bad_role"]["status"], 400, "{report}");
        assert_exception(&report, "layers", "InvalidParameterValueException", 400);
        let message = report["layers"]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("layer:shared:1 does not exist"),
            "{message}"
        );
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
