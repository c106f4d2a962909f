//! What boto3 cannot send (bad base64, a missing `Content`, a version that is not a number,
//! a layer named by its percent-encoded ARN), checked over raw HTTP in AWS's shape; and the
//! library's calls.

use firebox_emulator::{
    ControlError, FunctionUpdate, LayerRefError, LayerVersionInfo, SettingsError,
};

use super::common::archive::{b64, zip_of};
use super::*;

const LAYERS: &str = "/2018-10-31/layers";

/// A `.zip` of `python/NAME.py` holding `VALUE = value`.
fn layer_zip(name: &str, value: &str) -> Vec<u8> {
    zip_of(&[(
        format!("python/{name}.py").as_str(),
        format!("VALUE = {value:?}\n"),
        0o644,
    )])
}

#[tokio::test]
async fn raw_layer_requests_get_aws_shapes() {
    let emu = emulator().await;
    let publish = format!("{LAYERS}/deps/versions");
    let r = call(
        &emu,
        "POST",
        &publish,
        &json!({"Content": {"ZipFile": "%%%"}}),
    )
    .await;
    assert_error(
        &r,
        400,
        "InvalidParameterValueException",
        "not valid base64",
    );
    let r = call(
        &emu,
        "POST",
        &publish,
        &json!({"Description": "no content"}),
    )
    .await;
    assert_error(
        &r,
        400,
        "ValidationException",
        "Value null at 'content' failed to satisfy constraint",
    );
    let r = call(&emu, "POST", &publish, &json!({"Content": {}})).await;
    assert_error(
        &r,
        400,
        "InvalidParameterValueException",
        "Please provide a source for layer code.",
    );
    let r = send(emu.endpoint(), "POST", &publish, &[], "{not json").await;
    assert_error(&r, 400, "InvalidRequestContentException", "json");

    let zip = layer_zip("greeting", "raw");
    let r = call(
        &emu,
        "POST",
        &publish,
        &json!({"Content": {"ZipFile": b64(&zip)}}),
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.json()["Version"], 1);

    // A layer named by its ARN, percent-encoded as SDKs send it.
    let by_arn = format!(
        "{LAYERS}/{}/versions/1",
        format!("{ARN}:deps").replace(':', "%3A")
    );
    let r = call(&emu, "GET", &by_arn, &Value::Null).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.json()["Content"]["CodeSize"], zip.len());

    let r = call(
        &emu,
        "GET",
        &format!("{LAYERS}/deps/versions/one"),
        &Value::Null,
    )
    .await;
    assert_error(&r, 400, "ValidationException", "'versionNumber'");
    let r = call(
        &emu,
        "GET",
        &format!("{LAYERS}?find=LayerVersion"),
        &Value::Null,
    )
    .await;
    assert_error(&r, 400, "ValidationException", "Value null at 'arn'");
    let r = call(&emu, "GET", &format!("{LAYERS}?MaxItems=0"), &Value::Null).await;
    assert_error(&r, 400, "InvalidParameterValueException", "MaxItems");
    let r = call(&emu, "PUT", &publish, &json!({})).await;
    assert_error(&r, 404, "UnknownOperationException", "PUT");
    let r = call(&emu, "GET", &format!("{LAYERS}/deps"), &Value::Null).await;
    assert_error(
        &r,
        404,
        "UnknownOperationException",
        "/2018-10-31/layers/deps",
    );
    // A foreign layer cannot be changed here.
    let foreign = format!(
        "{LAYERS}/{}/versions/1",
        "arn:aws:lambda:eu-west-1:123456789012:layer:deps".replace(':', "%3A")
    );
    let r = call(&emu, "DELETE", &foreign, &Value::Null).await;
    assert_error(
        &r,
        400,
        "InvalidParameterValueException",
        "firebox holds the layers of account 123456789012 in region us-east-1",
    );
    let r = call(&emu, "GET", &foreign, &Value::Null).await;
    assert_error(&r, 404, "ResourceNotFoundException", "does not exist");
}

#[tokio::test]
async fn the_library_publishes_layers_and_functions_name_them() {
    let emu = emulator().await;
    let account = "/2016-08-19/account-settings/";
    let used = |r: Raw| r.json()["AccountUsage"]["TotalCodeSize"].as_u64();
    let before = used(call(&emu, "GET", account, &Value::Null).await).expect("a size");
    let version = emu
        .publish_layer_version(
            "deps",
            layer_zip("greeting", "lib"),
            LayerVersionInfo {
                description: "from code".into(),
                ..LayerVersionInfo::default()
            },
        )
        .await
        .expect("publish");
    assert_eq!(version.arn(), format!("{ARN}:deps:1"));
    assert!(version.code_sha256().is_some());
    let after = used(call(&emu, "GET", account, &Value::Null).await);
    assert_eq!(after, Some(before + version.code_size()), "layers count");
    emu.update_function_configuration(
        "api",
        FunctionUpdate {
            layers: Some(vec![version.arn()]),
            ..FunctionUpdate::default()
        },
    )
    .expect("update");
    let r = call(
        &emu,
        "GET",
        "/2015-03-31/functions/api/configuration",
        &Value::Null,
    )
    .await;
    assert_eq!(r.json()["Layers"][0]["Arn"], version.arn());
    // The function runs with the layer on its PYTHONPATH.
    let answer = emu.invoke("api", "{}").await.expect("invoke");
    let env = &answer.json().expect("JSON")["env"];
    let python_path = env["PYTHONPATH"].as_str().unwrap_or_default();
    assert!(python_path.ends_with("/python"), "{env}");

    assert!(emu.delete_layer_version("deps", 1));
    assert!(!emu.delete_layer_version("deps", 1));
    let refused = emu.update_function_configuration(
        "other",
        FunctionUpdate {
            layers: Some(vec![]),
            ..FunctionUpdate::default()
        },
    );
    assert!(matches!(refused, Err(ControlError::FunctionNotFound(_))));
    let refused = emu.update_function_configuration(
        "api",
        FunctionUpdate {
            layers: Some(vec![format!("{ARN}:deps:2")]),
            ..FunctionUpdate::default()
        },
    );
    assert!(
        matches!(
            &refused,
            Err(ControlError::Settings(SettingsError::Layers(LayerRefError::NotFound(arn))))
                if *arn == format!("{ARN}:deps:2")
        ),
        "{refused:?}"
    );
    let bad = emu
        .publish_layer_version("bad name", layer_zip("x", "x"), LayerVersionInfo::default())
        .await;
    assert!(matches!(bad, Err(ControlError::Layer(_))), "{bad:?}");
}
