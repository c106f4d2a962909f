//! Deployments refused in AWS's shape, with nothing changed.

use super::common::*;
use super::*;

#[tokio::test]
async fn bad_deployments_are_refused_in_aws_shape_and_change_nothing() {
    let emu = emulator().await;
    let zip = package("v1");
    let good = |extra: Value| create_body("bad", &zip, "python3.12", extra);
    let without = |field: &str| {
        let mut body = good(json!({}));
        body.as_object_mut().unwrap().remove(field);
        body
    };
    let escaping = zip_of(&[("../escape.txt", b"x", 0o644)]);
    let cases: Vec<(Value, u16, &str, &str)> = vec![
        (
            without("FunctionName"),
            400,
            "ValidationException",
            "functionName",
        ),
        (
            good(json!({ "FunctionName": "no spaces" })),
            400,
            "ValidationException",
            "functionName",
        ),
        (without("Role"), 400, "ValidationException", "role"),
        (
            good(json!({ "Role": "admin" })),
            400,
            "ValidationException",
            "role",
        ),
        (without("Code"), 400, "ValidationException", "code"),
        (
            without("Runtime"),
            400,
            "InvalidParameterValueException",
            "Runtime and Handler",
        ),
        (
            without("Handler"),
            400,
            "InvalidParameterValueException",
            "Runtime and Handler",
        ),
        (
            good(json!({ "Runtime": "ruby3.3" })),
            400,
            "InvalidParameterValueException",
            "[runtimes]",
        ),
        (
            good(json!({ "Runtime": "Py 3" })),
            400,
            "InvalidParameterValueException",
            "Value Py 3 at 'runtime' failed to satisfy constraint",
        ),
        (
            good(json!({ "Runtime": "python3.99" })),
            400,
            "InvalidParameterValueException",
            "Member must satisfy enum value set: [nodejs18.x",
        ),
        (
            good(json!({ "Runtime": "python2.7" })),
            400,
            "InvalidParameterValueException",
            "The runtime parameter of python2.7 is no longer supported",
        ),
        (
            good(json!({ "MemorySize": 64 })),
            400,
            "InvalidParameterValueException",
            "MemorySize",
        ),
        (
            good(json!({ "Timeout": 901 })),
            400,
            "InvalidParameterValueException",
            "Timeout",
        ),
        (
            good(json!({ "Environment": { "Variables": { "AWS_REGION": "x" } } })),
            400,
            "InvalidParameterValueException",
            "AWS_REGION",
        ),
        (
            good(json!({ "Layers": ["arn:aws:lambda:us-east-1:123456789012:layer:x:1"] })),
            400,
            "InvalidParameterValueException",
            "does not exist",
        ),
        (
            good(json!({ "PackageType": "Image" })),
            400,
            "InvalidParameterValueException",
            "container images",
        ),
        (
            good(json!({ "Architectures": ["sparc"] })),
            400,
            "InvalidParameterValueException",
            "Architectures",
        ),
        (
            good(json!({ "Code": { "S3Bucket": "b", "S3Key": "k" } })),
            400,
            "InvalidParameterValueException",
            "`S3Bucket`",
        ),
        (
            good(json!({ "Code": {} })),
            400,
            "InvalidParameterValueException",
            "source for function code",
        ),
        (
            good(json!({ "Code": { "ZipFile": "not base64!" } })),
            400,
            "InvalidParameterValueException",
            "base64",
        ),
        (
            good(json!({ "Code": { "ZipFile": b64(b"PK not a zip") } })),
            400,
            "InvalidParameterValueException",
            "Could not unzip",
        ),
        (
            good(json!({ "Code": { "ZipFile": b64(&escaping) } })),
            400,
            "InvalidParameterValueException",
            "outside the package",
        ),
        (
            good(json!({ "FunctionName": "api" })),
            409,
            "ResourceConflictException",
            "Function already exist: api",
        ),
    ];
    for (body, status, code, says) in cases {
        let r = call(&emu, "POST", FUNCTIONS, &body).await;
        assert_error(&r, status, code, says);
    }
    let r = send(emu.endpoint(), "POST", FUNCTIONS, &[], "{ not json").await;
    assert_error(&r, 400, "InvalidRequestContentException", "json");
    // Over Lambda's request size for a .zip upload (50 MB in base64).
    let huge = format!(
        "{{\"FunctionName\":\"bad\",\"Code\":{{\"ZipFile\":\"{}\"}}}}",
        "A".repeat(70_000_000)
    );
    let r = send(emu.endpoint(), "POST", FUNCTIONS, &[], huge).await;
    assert_error(&r, 413, "RequestEntityTooLargeException", "CreateFunction");

    // UpdateFunctionCode: a function run by a command keeps it; bad packages are refused.
    let api_code = format!("{FUNCTIONS}/api/code");
    let r = call(&emu, "PUT", &api_code, &json!({ "ZipFile": b64(&zip) })).await;
    assert_error(
        &r,
        400,
        "InvalidParameterValueException",
        "runs a `command`",
    );
    let created = call(
        &emu,
        "POST",
        FUNCTIONS,
        &good(json!({ "FunctionName": "ok" })),
    )
    .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let revision = created.json()["RevisionId"].as_str().unwrap().to_owned();
    let ok_code = format!("{FUNCTIONS}/ok/code");
    for (body, status, code, says) in [
        (
            json!({}),
            400,
            "InvalidParameterValueException",
            "source for function code",
        ),
        (
            json!({ "ZipFile": b64(b"nope") }),
            400,
            "InvalidParameterValueException",
            "Could not unzip",
        ),
        (
            json!({ "S3Bucket": "b", "S3Key": "k" }),
            400,
            "InvalidParameterValueException",
            "`S3Bucket`",
        ),
        (
            json!({ "ImageUri": "x" }),
            400,
            "InvalidParameterValueException",
            "`ImageUri`",
        ),
        (
            json!({ "ZipFile": b64(&zip), "Architectures": ["arm64", "x86_64"] }),
            400,
            "InvalidParameterValueException",
            "Architectures",
        ),
    ] {
        let r = call(&emu, "PUT", &ok_code, &body).await;
        assert_error(&r, status, code, says);
    }
    let r = call(
        &emu,
        "PUT",
        &format!("{FUNCTIONS}/ok:1/code"),
        &json!({ "ZipFile": b64(&zip) }),
    )
    .await;
    assert_error(&r, 400, "InvalidParameterValueException", "unqualified");
    let r = call(
        &emu,
        "PUT",
        &format!("{FUNCTIONS}/nope/code"),
        &json!({ "ZipFile": b64(&zip) }),
    )
    .await;
    assert_error(&r, 404, "ResourceNotFoundException", "nope");

    // Nothing changed: two functions, `ok` at its first revision.
    let listed = call(&emu, "GET", FUNCTIONS, &Value::Null).await.json();
    assert_eq!(listed["Functions"].as_array().unwrap().len(), 2);
    let config = call(
        &emu,
        "GET",
        &format!("{FUNCTIONS}/ok/configuration"),
        &Value::Null,
    )
    .await;
    assert_eq!(config.json()["RevisionId"], revision.as_str());
    assert_eq!(emu.running_schedulers(), 2);
    assert_eq!(run(&emu, "ok", None).await.1, "v1");
    emu.shutdown().await;
}
