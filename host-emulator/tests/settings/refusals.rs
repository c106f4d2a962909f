//! Refused updates and settings stored with no effect: every refusal in AWS's shape, with
//! nothing changed by it.

use super::common::*;
use super::*;

#[tokio::test]
async fn bad_updates_get_aws_errors_and_change_nothing() {
    let emu = emulator().await;
    let (warm, _) = run(&emu, None, json!({})).await;
    let before = call(&emu, "GET", CONFIGURATION, &Value::Null).await.json();
    let big = "x".repeat(4096);
    for (body, says) in [
        (json!({"MemorySize": 64}), "MemorySize"),
        (json!({"MemorySize": 10241}), "MemorySize"),
        (json!({"Timeout": 0}), "Timeout"),
        (json!({"Timeout": 901}), "Timeout"),
        (
            json!({"Environment": {"Variables": {"AWS_REGION": "x"}}}),
            "reserved",
        ),
        (
            json!({"Environment": {"Variables": {"1BAD": "x"}}}),
            "not a valid variable name",
        ),
        (json!({"Environment": {"Variables": {"BIG": big}}}), "4096"),
        (json!({"Handler": "has space"}), "Handler"),
        (json!({"Description": "d".repeat(257)}), "Description"),
        (json!({"Runtime": "python3.13"}), "Runtime"),
        (
            json!({"Layers": ["arn:aws:lambda:us-east-1:123456789012:layer:x:1"]}),
            "does not exist",
        ),
        (
            json!({"LoggingConfig": {"ApplicationLogLevel": "DEBUG"}}),
            "ApplicationLogLevel",
        ),
        (
            json!({"LoggingConfig": {"LogFormat": "JSON", "SystemLogLevel": "ERROR"}}),
            "SystemLogLevel",
        ),
        (
            json!({"LoggingConfig": {"LogGroup": "/my/group"}}),
            "LogGroup",
        ),
    ] {
        let r = call(&emu, "PUT", CONFIGURATION, &body).await;
        assert_error(&r, 400, "InvalidParameterValueException", says);
    }
    let r = call(
        &emu,
        "PUT",
        CONFIGURATION,
        &json!({"MemorySize": 256, "RevisionId": "not-the-revision"}),
    )
    .await;
    assert_error(&r, 412, "PreconditionFailedException", "Revision Id");
    let r = send(emu.endpoint(), "PUT", CONFIGURATION, &[], "{not json").await;
    assert_error(&r, 400, "InvalidRequestContentException", "json");
    let r = call(&emu, "PUT", CONFIGURATION, &json!({"MemorySize": "big"})).await;
    assert_error(&r, 400, "InvalidRequestContentException", "json");
    let r = call(
        &emu,
        "PUT",
        "/2015-03-31/functions/api:1/configuration",
        &json!({"MemorySize": 256}),
    )
    .await;
    assert_error(&r, 400, "InvalidParameterValueException", "unqualified");
    let r = call(
        &emu,
        "PUT",
        "/2015-03-31/functions/nope/configuration",
        &json!({"MemorySize": 256}),
    )
    .await;
    assert_error(&r, 404, "ResourceNotFoundException", "nope");

    // Nothing changed: the same revision, and the same warm environment.
    let after = call(&emu, "GET", CONFIGURATION, &Value::Null).await.json();
    assert_eq!(after, before);
    let (again, tail) = run(&emu, None, json!({})).await;
    assert_eq!(again["pid"], warm["pid"]);
    assert!(!tail.contains("Init Duration"), "{tail}");

    // Through the library: typed errors, naming the field.
    let err = emu
        .update_function_configuration(
            "api",
            FunctionUpdate {
                memory_mb: Some(64),
                ..FunctionUpdate::default()
            },
        )
        .unwrap_err();
    match err {
        ControlError::Settings(SettingsError::Invalid { field, .. }) => {
            assert_eq!(field, "memory_mb")
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        emu.update_function_configuration(
            "api",
            FunctionUpdate {
                revision_id: Some("stale".into()),
                ..FunctionUpdate::default()
            },
        ),
        Err(ControlError::Settings(SettingsError::RevisionMismatch))
    ));
    assert!(matches!(
        emu.publish_version("nope", None).await,
        Err(ControlError::FunctionNotFound(_))
    ));
    emu.shutdown().await;
}

/// `Role` is stored and shown; code signing, runtime management and the recursive loop
/// setting are stored and shown per function or version, with every refusal in AWS's shape
/// and nothing changed by it.
#[tokio::test]
async fn settings_stored_with_no_effect_are_kept_shown_and_checked() {
    let emu = emulator().await;
    let role = "arn:aws:iam::123456789012:role/deployer";
    let r = call(&emu, "PUT", CONFIGURATION, &json!({"Role": role})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.json()["Role"], role);
    let got = call(&emu, "GET", CONFIGURATION, &Value::Null).await.json();
    assert_eq!(got["Role"], role, "{got}");
    let r = call(&emu, "PUT", CONFIGURATION, &json!({"Role": "deployer"})).await;
    assert_error(&r, 400, "ValidationException", "at 'role'");
    let got = call(&emu, "GET", CONFIGURATION, &Value::Null).await.json();
    assert_eq!(got["Role"], role, "a refused role changed nothing");

    // Code signing: none to show, none to attach.
    let signing = "/2020-06-30/functions/api/code-signing-config";
    let r = call(&emu, "GET", signing, &Value::Null).await;
    assert_eq!(
        r.json(),
        json!({"CodeSigningConfigArn": "", "FunctionName": "api"})
    );
    let r = call(&emu, "DELETE", signing, &Value::Null).await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    let csc = "arn:aws:lambda:us-east-1:123456789012:code-signing-config:csc-0123456789abcdef0";
    let r = call(&emu, "PUT", signing, &json!({"CodeSigningConfigArn": csc})).await;
    assert_error(&r, 404, "CodeSigningConfigNotFoundException", csc);
    let r = call(&emu, "PUT", signing, &json!({})).await;
    assert_error(&r, 400, "ValidationException", "codeSigningConfigArn");
    let r = call(
        &emu,
        "GET",
        "/2020-06-30/functions/api:1/code-signing-config",
        &Value::Null,
    )
    .await;
    assert_error(&r, 400, "InvalidParameterValueException", "unqualified");
    let r = call(
        &emu,
        "GET",
        "/2020-06-30/functions/nope/code-signing-config",
        &Value::Null,
    )
    .await;
    assert_error(&r, 404, "ResourceNotFoundException", "nope");

    // Runtime management, per version.
    let management = |q: &str| format!("/2021-07-20/functions/api/runtime-management-config{q}");
    let runtime = "arn:aws:lambda:us-east-1::runtime:abc123";
    let r = call(
        &emu,
        "PUT",
        &management("?Qualifier=2"),
        &json!({"UpdateRuntimeOn": "Manual", "RuntimeVersionArn": runtime}),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let manual = json!({"FunctionArn": format!("{ARN}:2"), "UpdateRuntimeOn": "Manual",
        "RuntimeVersionArn": runtime});
    assert_eq!(r.json(), manual);
    let got = call(&emu, "GET", &management("?Qualifier=2"), &Value::Null).await;
    assert_eq!(got.json(), manual);
    let auto = json!({"FunctionArn": ARN, "UpdateRuntimeOn": "Auto", "RuntimeVersionArn": null});
    for q in ["", "?Qualifier=%24LATEST"] {
        let got = call(&emu, "GET", &management(q), &Value::Null).await;
        assert_eq!(got.json(), auto, "{q}");
    }
    let r = call(
        &emu,
        "PUT",
        &management(""),
        &json!({"UpdateRuntimeOn": "FunctionUpdate"}),
    )
    .await;
    assert_eq!(
        r.json()["UpdateRuntimeOn"],
        "FunctionUpdate",
        "{:?}",
        r.body
    );
    for (query, body, status, code, says) in [
        (
            "",
            json!({"UpdateRuntimeOn": "Manual"}),
            400,
            "InvalidParameterValueException",
            "RuntimeVersionArn is required",
        ),
        (
            "",
            json!({"UpdateRuntimeOn": "Auto", "RuntimeVersionArn": runtime}),
            400,
            "InvalidParameterValueException",
            "only when UpdateRuntimeOn is Manual",
        ),
        (
            "",
            json!({"UpdateRuntimeOn": "Manual", "RuntimeVersionArn": "arn:aws:lambda:us-east-1:123456789012:function:x"}),
            400,
            "ValidationException",
            "runtimeVersionArn",
        ),
        (
            "",
            json!({"UpdateRuntimeOn": "Sometimes"}),
            400,
            "ValidationException",
            "[Auto, Manual, FunctionUpdate]",
        ),
        ("", json!({}), 400, "ValidationException", "updateRuntimeOn"),
        (
            "",
            json!({"UpdateRuntimeOn": "Auto", "Extra": 1}),
            400,
            "InvalidRequestContentException",
            "Extra",
        ),
        (
            "?Qualifier=9",
            json!({"UpdateRuntimeOn": "Auto"}),
            404,
            "ResourceNotFoundException",
            ":api:9",
        ),
        (
            "?Qualifier=live",
            json!({"UpdateRuntimeOn": "Auto"}),
            400,
            "InvalidParameterValueException",
            "alias `live`",
        ),
    ] {
        let r = call(&emu, "PUT", &management(query), &body).await;
        assert_error(&r, status, code, says);
    }
    let got = call(&emu, "GET", &management(""), &Value::Null).await;
    assert_eq!(
        got.json()["UpdateRuntimeOn"],
        "FunctionUpdate",
        "the refusals changed nothing"
    );
    // A deleted version takes its configuration along; a new version 2 is never made again
    // (numbers are not reused), so the configuration is gone with the number.
    let r = call(
        &emu,
        "DELETE",
        "/2015-03-31/functions/api?Qualifier=2",
        &Value::Null,
    )
    .await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    let r = call(&emu, "GET", &management("?Qualifier=2"), &Value::Null).await;
    assert_error(&r, 404, "ResourceNotFoundException", ":api:2");

    // The recursive loop setting, per function.
    let recursion = "/2024-08-31/functions/api/recursion-config";
    let r = call(&emu, "GET", recursion, &Value::Null).await;
    assert_eq!(r.json(), json!({"RecursiveLoop": "Terminate"}));
    let r = call(&emu, "PUT", recursion, &json!({"RecursiveLoop": "Allow"})).await;
    assert_eq!(r.json(), json!({"RecursiveLoop": "Allow"}));
    let r = call(&emu, "PUT", recursion, &json!({"RecursiveLoop": "Never"})).await;
    assert_error(&r, 400, "ValidationException", "[Allow, Terminate]");
    let r = call(
        &emu,
        "PUT",
        "/2024-08-31/functions/api:1/recursion-config",
        &json!({"RecursiveLoop": "Terminate"}),
    )
    .await;
    assert_error(&r, 400, "InvalidParameterValueException", "unqualified");
    let r = call(&emu, "GET", recursion, &Value::Null).await;
    assert_eq!(
        r.json(),
        json!({"RecursiveLoop": "Allow"}),
        "refusals changed nothing"
    );
    let r = call(&emu, "DELETE", recursion, &Value::Null).await;
    assert_error(&r, 404, "UnknownOperationException", "recursion-config");
}

/// A deploy script sends the whole configuration back: the function's own `Runtime` and the
/// defaults `GetFunction` shows (or empty settings) are taken with the changes beside them;
/// a real change of what Firebox cannot apply is refused, naming the field.
#[tokio::test]
async fn unchanged_runtime_and_default_settings_are_taken_with_an_update() {
    // Configuration only: the function never runs.
    let code = TempDir::new("settings-runtime");
    let emu = Emulator::builder()
        .runtime_command("python", [PYTHON, "-u", "{handler}"])
        .function(
            firebox_emulator::FunctionConfig::new("rt")
                .runtime("python3.12")
                .handler("app.handler")
                .code_dir(&code.0),
        )
        .start()
        .await
        .expect("emulator starts");
    let path = "/2015-03-31/functions/rt/configuration";
    let whole = json!({
        "Runtime": "python3.12",
        "MemorySize": 256,
        "Timeout": 5,
        "EphemeralStorage": {"Size": 512},
        "TracingConfig": {"Mode": "PassThrough"},
        "VpcConfig": {"SubnetIds": [], "SecurityGroupIds": []},
        "DeadLetterConfig": {},
        "KMSKeyArn": "",
        "SnapStart": {"ApplyOn": "None"},
        "ImageConfig": {},
        "FileSystemConfigs": [],
    });
    let r = call(&emu, "PUT", path, &whole).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let shown = r.json();
    assert_eq!(shown["MemorySize"], 256);
    assert_eq!(shown["Timeout"], 5);
    assert_eq!(shown["Runtime"], "python3.12");

    for (body, says) in [
        (
            json!({"Runtime": "python3.13", "Timeout": 7}),
            "delete the function",
        ),
        (
            json!({"TracingConfig": {"Mode": "Active"}}),
            "TracingConfig",
        ),
        (
            json!({"EphemeralStorage": {"Size": 1024}}),
            "EphemeralStorage",
        ),
        (
            json!({"KMSKeyArn": "arn:aws:kms:us-east-1:123456789012:key/k"}),
            "KMSKeyArn",
        ),
    ] {
        let r = call(&emu, "PUT", path, &body).await;
        assert_error(&r, 400, "InvalidParameterValueException", says);
    }
    // The refused updates changed nothing.
    let after = call(&emu, "GET", path, &Value::Null).await.json();
    assert_eq!(
        (after["Timeout"].clone(), after["MemorySize"].clone()),
        (json!(5), json!(256))
    );
}
