//! Layers over real HTTP, driven by boto3 (`boto3_layers.py`, which builds its `.zip` files
//! with `zipfile`): `PublishLayerVersion`, `GetLayerVersion`, `GetLayerVersionByArn`,
//! `ListLayers` and `ListLayerVersions` (filters, paging), `DeleteLayerVersion`, the layer
//! permission calls; a Python function run by `awslambdaric` that imports modules from the
//! layer versions it names, is given new ones, is published, and keeps running a version
//! deleted meanwhile; every refusal in AWS's shape. Then the configuration's layers: a `.zip`
//! unpacked at start and run like a directory (or refused at start, naming the file, the
//! function and the field), shown by the layer APIs; and a directory layer watched by
//! `reload`. Lambda's limit of a function's code and layers together is in `size`.

#[path = "../common/mod.rs"]
mod common;
mod configuration;
mod http;
mod size;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use common::*;
use firebox_emulator::Emulator;
use serde_json::{json, Value};

const ARN: &str = "arn:aws:lambda:us-east-1:123456789012:layer";

/// An emulator whose Python runtime is `awslambdaric` in the venv, with `api` (the test
/// runtime, run by a command).
async fn emulator() -> Emulator {
    let python = venv_python().display().to_string();
    Emulator::builder()
        .runtime_command(
            "python",
            [python.as_str(), "-m", "awslambdaric", "{handler}"],
        )
        .function(function("api", ""))
        .start()
        .await
        .expect("emulator starts")
}

/// Runs group `group` of `boto3_layers.py` (with `args`) against `emu`; its JSON report. The
/// script gives boto3 dummy credentials, whatever this machine's AWS configuration says.
async fn boto3(emu: &Emulator, group: &str, args: &[&str]) -> Value {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/layer_api/boto3_layers.py");
    let mut command = tokio::process::Command::new(venv_python());
    command
        .arg(script)
        .arg(emu.endpoint())
        .arg(group)
        .args(args)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    // A bound for broken runs only.
    let out = tokio::time::timeout(Duration::from_secs(180), command.output())
        .await
        .expect("boto3 finishes")
        .expect("run python");
    assert!(
        out.status.success(),
        "boto3 {group} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "boto3 {group} printed no report ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// Asserts that boto3 raised Lambda's `code` (its modeled class when Lambda models it) with
/// `status`, saying `says`.
fn raised(report: &Value, key: &str, code: &str, status: u16, says: &str) {
    let r = &report[key];
    assert_eq!(r["code"], code, "{key}: {r}");
    assert_eq!(r["status"], status, "{key}: {r}");
    if code != "ValidationException" {
        assert_eq!(r["is_modeled_class"], true, "{key}: {r}");
    }
    let message = r["message"].as_str().unwrap_or_default();
    assert!(message.contains(says), "{key}: {message}");
}

/// Asserts that boto3 raised nothing and saw `status`.
fn answered(report: &Value, key: &str, status: u16) {
    assert_eq!(
        report[key],
        json!({"exception": null, "status": status}),
        "{key}"
    );
}

#[tokio::test]
async fn boto3_publishes_gets_lists_and_deletes_layer_versions() {
    let emu = emulator().await;
    let r = boto3(&emu, "lifecycle", &[]).await;

    let v1 = &r["v1"];
    assert_eq!(v1["Version"], 1, "{v1}");
    assert_eq!(v1["LayerArn"], format!("{ARN}:deps"));
    assert_eq!(v1["LayerVersionArn"], format!("{ARN}:deps:1"));
    assert_eq!(v1["Content"]["CodeSha256"], r["sha_one"], "{v1}");
    assert_eq!(v1["Content"]["CodeSize"], r["size_one"], "{v1}");
    assert_eq!(
        v1["Content"].get("Location"),
        None,
        "no download here: {v1}"
    );
    assert_eq!(v1["Description"], "");
    let created = v1["CreatedDate"].as_str().expect("CreatedDate");
    assert!(
        created.len() == 28 && created.ends_with("+0000") && created.contains('T'),
        "{created}"
    );
    assert_eq!(v1.get("CompatibleRuntimes"), None, "none given: {v1}");
    let v2 = &r["v2"];
    assert_eq!(v2["Version"], 2);
    assert_eq!(v2["Description"], "second");
    assert_eq!(
        v2["CompatibleRuntimes"],
        json!(["python3.12", "python3.13"])
    );
    assert_eq!(v2["CompatibleArchitectures"], json!(["x86_64"]));
    assert_eq!(v2["LicenseInfo"], "MIT");
    assert_eq!(r["tools"]["LayerVersionArn"], format!("{ARN}:tools:1"));

    // Read back, by name and version or by ARN.
    assert_eq!(r["get_v1"], r["v1"]);
    assert_eq!(r["by_arn"], r["v2"]);

    // The newest version of each layer, by name; filtered, the newest that matches.
    let names = |list: &Value| -> Vec<String> {
        list["Layers"]
            .as_array()
            .expect("Layers")
            .iter()
            .map(|l| {
                format!(
                    "{}:{}",
                    l["LayerName"].as_str().unwrap_or_default(),
                    l["LatestMatchingVersion"]["Version"]
                )
            })
            .collect()
    };
    assert_eq!(names(&r["list"]), ["deps:2", "tools:1"]);
    let deps = &r["list"]["Layers"][0];
    assert_eq!(deps["LayerArn"], format!("{ARN}:deps"));
    let latest = &deps["LatestMatchingVersion"];
    assert_eq!(latest["LayerVersionArn"], format!("{ARN}:deps:2"));
    assert_eq!(latest["LicenseInfo"], "MIT");
    assert_eq!(
        latest.get("Content"),
        None,
        "a list item has no content: {latest}"
    );
    assert_eq!(names(&r["list_python"]), ["deps:2"]);
    assert_eq!(names(&r["list_arm"]), ["tools:1"]);
    assert_eq!(names(&r["list_none"]), Vec::<String>::new());

    let versions = |list: &Value| -> Vec<u64> {
        list["LayerVersions"]
            .as_array()
            .expect("LayerVersions")
            .iter()
            .map(|v| v["Version"].as_u64().expect("Version"))
            .collect()
    };
    assert_eq!(versions(&r["versions"]), [2, 1], "newest first");
    assert_eq!(versions(&r["versions_python"]), [2]);
    assert_eq!(versions(&r["versions_unknown"]), Vec::<u64>::new());

    // Paging.
    assert_eq!(r["page_1"], json!(["deps"]));
    assert_eq!(r["page_2"], json!(["tools"]));
    assert_eq!(r["page_2_next"], Value::Null, "the last page");
    assert_eq!(r["paginated_versions"], json!([[2], [1]]));

    // Deleting: 204 whether or not the version exists; the number is never given again.
    answered(&r, "delete", 204);
    answered(&r, "delete_again", 204);
    answered(&r, "delete_never", 204);
    raised(
        &r,
        "get_deleted",
        "ResourceNotFoundException",
        404,
        "does not exist",
    );
    assert_eq!(r["after_delete"], json!([2]));
    assert_eq!(r["v3"], 3);
    assert_eq!(
        r["all_deleted"],
        json!(["tools"]),
        "a layer without versions"
    );
    assert_eq!(r["v4"], 4, "numbers go on after every version was deleted");
}

#[tokio::test]
async fn a_python_function_runs_the_published_layers_it_names() {
    let emu = emulator().await;
    let r = boto3(&emu, "function", &[]).await;
    let (one, two) = (r["one"].as_str().unwrap(), r["two"].as_str().unwrap());
    assert_eq!(one, format!("{ARN}:greetings:1"));

    let layers = &r["created_layers"];
    assert_eq!(layers.as_array().map(Vec::len), Some(1), "{layers}");
    assert_eq!(layers[0]["Arn"], one);
    assert!(layers[0]["CodeSize"].as_u64().unwrap_or(0) > 0, "{layers}");
    let first = &r["first"];
    assert_eq!(first["function_error"], Value::Null, "{first}");
    assert_eq!(first["payload"]["greeting"], "from layer v1", "{first}");
    assert_eq!(first["payload"]["extra"], Value::Null);

    // New layers: the next invoke runs in a new environment that has them.
    let arns = |list: &Value| -> Vec<String> {
        list.as_array()
            .expect("Layers")
            .iter()
            .map(|l| l["Arn"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    let expected = [two.to_owned(), format!("{ARN}:extras:1")];
    assert_eq!(arns(&r["updated_layers"]), expected);
    assert_eq!(arns(&r["configuration_layers"]), expected);
    assert_eq!(arns(&r["get_function_layers"]), expected);
    let second = &r["second"]["payload"];
    assert_eq!(second["greeting"], "from layer v2", "{second}");
    assert_eq!(second["extra"], "extra", "{second}");

    // A published version keeps its layers.
    assert_eq!(r["published_version"], "1");
    assert_eq!(arns(&r["published_layers"]), expected);
    assert_eq!(
        r["latest_back_to_one"]["payload"]["greeting"],
        "from layer v1"
    );
    let kept = &r["version_keeps_two"];
    assert_eq!(kept["version"], "1", "{kept}");
    assert_eq!(kept["payload"]["greeting"], "from layer v2", "{kept}");

    // A version deleted while the function uses it keeps working for it.
    let after = &r["after_delete"];
    assert_eq!(after["function_error"], Value::Null, "{after}");
    assert_eq!(after["payload"]["greeting"], "from layer v1", "{after}");
    raised(
        &r,
        "create_with_deleted",
        "InvalidParameterValueException",
        400,
        &format!("Layer version {one} does not exist."),
    );

    // Without layers, the module is gone.
    let none = &r["no_layers"];
    assert_eq!(none["function_error"], "Unhandled", "{none}");
    assert_eq!(
        none["payload"]["errorType"], "Runtime.ImportModuleError",
        "{none}"
    );
    assert_eq!(r["no_layers_configuration"], false);
}

#[tokio::test]
async fn boto3_gets_aws_errors_for_bad_layer_requests() {
    let emu = emulator().await;
    let r = boto3(&emu, "refusals", &["api"]).await;
    let not_found = "The resource you requested does not exist.";
    for key in [
        "get_unknown_layer",
        "get_unknown_version",
        "by_arn_unknown",
        "by_arn_other_account",
    ] {
        raised(&r, key, "ResourceNotFoundException", 404, not_found);
    }
    raised(
        &r,
        "by_arn_malformed",
        "ValidationException",
        400,
        "at 'arn' failed to satisfy constraint",
    );
    raised(
        &r,
        "bad_name",
        "ValidationException",
        400,
        "Value 'bad name' at 'layerName' failed to satisfy constraint: Member must satisfy \
         regular expression pattern",
    );
    raised(
        &r,
        "long_name",
        "ValidationException",
        400,
        "Member must have length less than or equal to 140",
    );
    raised(
        &r,
        "other_account_name",
        "InvalidParameterValueException",
        400,
        "firebox holds the layers of account 123456789012 in region us-east-1",
    );
    raised(
        &r,
        "bad_zip",
        "InvalidParameterValueException",
        400,
        "Could not unzip uploaded file",
    );
    raised(
        &r,
        "escaping_zip",
        "InvalidParameterValueException",
        400,
        "outside the package",
    );
    raised(
        &r,
        "s3",
        "InvalidParameterValueException",
        400,
        "not reachable here",
    );
    raised(
        &r,
        "bad_runtime",
        "ValidationException",
        400,
        "'compatibleRuntimes'",
    );
    raised(
        &r,
        "bad_architecture",
        "ValidationException",
        400,
        "Member must satisfy enum value set: [x86_64, arm64]",
    );
    raised(
        &r,
        "long_description",
        "ValidationException",
        400,
        "'description'",
    );
    raised(
        &r,
        "list_bad_runtime",
        "ValidationException",
        400,
        "'compatibleRuntime'",
    );
    raised(
        &r,
        "list_bad_marker",
        "InvalidParameterValueException",
        400,
        "Marker",
    );
    assert_eq!(r["next_version"], 2, "no refusal published anything");

    // Layers a function cannot have.
    raised(
        &r,
        "six_layers",
        "InvalidParameterValueException",
        400,
        "Cannot reference more than 5 layers.",
    );
    raised(
        &r,
        "malformed_arn",
        "ValidationException",
        400,
        "at 'layers' failed to satisfy constraint",
    );
    raised(
        &r,
        "unknown_arn",
        "InvalidParameterValueException",
        400,
        &format!("Layer version {ARN}:fine:9 does not exist."),
    );
    raised(
        &r,
        "other_region",
        "InvalidParameterValueException",
        400,
        "Layers are not in the same region as the function",
    );
    raised(
        &r,
        "other_account",
        "InvalidParameterValueException",
        400,
        "firebox holds the layers of account 123456789012",
    );
    raised(
        &r,
        "two_versions",
        "InvalidParameterValueException",
        400,
        "Two different versions of the same layer",
    );
    assert_eq!(r["configuration_unchanged"], Value::Null, "nothing changed");
    raised(
        &r,
        "create_six",
        "InvalidParameterValueException",
        400,
        "Cannot reference more than 5 layers.",
    );
    raised(
        &r,
        "six_created",
        "ResourceNotFoundException",
        404,
        "Function not found",
    );
}

#[tokio::test]
async fn boto3_keeps_and_shows_layer_version_permissions() {
    let emu = emulator().await;
    let r = boto3(&emu, "permissions", &[]).await;
    assert_eq!(
        r["added_statement"],
        json!({
            "Sid": "xaccount",
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::210987654321:root"},
            "Action": "lambda:GetLayerVersion",
            "Resource": format!("{ARN}:shared:1"),
        })
    );
    let policy = &r["policy"];
    assert_eq!(policy["Version"], "2012-10-17");
    let statements = policy["Statement"].as_array().expect("Statement");
    assert_eq!(statements.len(), 2, "{policy}");
    assert_eq!(statements[0]["Sid"], "xaccount");
    assert_eq!(statements[1]["Principal"], "*");
    assert_eq!(
        statements[1]["Condition"],
        json!({"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}})
    );
    assert_eq!(r["policy_revision"], r["org_revision"]);
    assert_ne!(r["added_revision"], r["org_revision"], "a new revision");
    raised(
        &r,
        "duplicate",
        "ResourceConflictException",
        409,
        "The statement id (org) provided already exists",
    );
    raised(
        &r,
        "bad_action",
        "ValidationException",
        400,
        "2 validation errors detected",
    );
    raised(
        &r,
        "stale_add",
        "PreconditionFailedException",
        412,
        "Revision Id",
    );
    raised(
        &r,
        "missing_version",
        "ResourceNotFoundException",
        404,
        "does not exist",
    );
    raised(
        &r,
        "stale_remove",
        "PreconditionFailedException",
        412,
        "Revision Id",
    );
    raised(
        &r,
        "remove_unknown",
        "ResourceNotFoundException",
        404,
        "Statement nope is not found",
    );
    raised(
        &r,
        "no_policy",
        "ResourceNotFoundException",
        404,
        "The resource you requested does not exist.",
    );
    raised(
        &r,
        "policy_of_missing",
        "ResourceNotFoundException",
        404,
        "does not exist",
    );
}
