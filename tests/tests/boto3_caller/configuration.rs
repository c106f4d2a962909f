//! boto3 configures a function, each group on an emulator of its own: asynchronous
//! invocation per qualifier, provisioned concurrency, resource-based policies, function URLs,
//! and the settings stored with no effect here (code signing, runtime management, recursion).

use super::*;

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
    // An alias that has a configuration stays off `$LATEST`.
    assert_exception(
        &report,
        "alias_to_latest",
        "InvalidParameterValueException",
        400,
    );
    assert_eq!(report["alias_after"], "1", "{report}");
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

#[test]
fn boto3_reads_and_writes_the_settings_stored_with_no_effect() -> TestResult {
    let emu = emulator_of_its_own()?;
    let report = block_on(boto3(&emu, "stored-settings"))??;
    let arn = "arn:aws:lambda:us-east-1:123456789012:function:hello";
    let runtime = "arn:aws:lambda:us-east-1::runtime:8eeff65f6809a3ce81507fe733fe09b835899b99481ba22fd75b5a7338290ec1";

    assert_eq!(
        report["code_signing"],
        json!({"CodeSigningConfigArn": "", "FunctionName": "hello"}),
        "{report}"
    );
    assert_eq!(report["code_signing_deleted_status"], 204);
    assert_exception(
        &report,
        "attach_code_signing",
        "CodeSigningConfigNotFoundException",
        404,
    );

    let manual = json!({"FunctionArn": format!("{arn}:1"), "UpdateRuntimeOn": "Manual",
        "RuntimeVersionArn": runtime});
    assert_eq!(report["put_manual"], manual, "{report}");
    assert_eq!(report["version_1"], manual);
    // `$LATEST` keeps the default; boto3 leaves out the null runtime version.
    assert_eq!(
        report["latest"],
        json!({"FunctionArn": arn, "UpdateRuntimeOn": "Auto"})
    );
    assert_exception(
        &report,
        "manual_without_runtime",
        "InvalidParameterValueException",
        400,
    );
    assert_exception(
        &report,
        "on_an_alias",
        "InvalidParameterValueException",
        400,
    );
    assert_exception(&report, "unknown_version", "ResourceNotFoundException", 404);

    assert_eq!(
        report["recursion_before"],
        json!({"RecursiveLoop": "Terminate"})
    );
    assert_eq!(report["recursion_put"], json!({"RecursiveLoop": "Allow"}));
    assert_eq!(report["recursion_after"], json!({"RecursiveLoop": "Allow"}));
    assert_eq!(
        report["recursion_other_function"],
        json!({"RecursiveLoop": "Terminate"})
    );
    // Lambda's model has no ValidationException class: boto3 raises its generic ClientError.
    let unknown = &report["recursion_unknown_setting"];
    assert_eq!(unknown["code"], "ValidationException", "{unknown}");
    assert_eq!(unknown["status"], 400, "{unknown}");
    assert!(
        unknown["message"]
            .as_str()
            .is_some_and(|m| m.contains("[Allow, Terminate]")),
        "{unknown}"
    );
    Ok(())
}
