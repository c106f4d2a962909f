//! Lambda's limit of a function's code and its layers together (262,144,000 bytes unzipped):
//! `CreateFunction`, `UpdateFunctionCode` (and its `DryRun`) and `UpdateFunctionConfiguration`
//! with `Layers` over it are refused with Lambda's message and change nothing, over raw HTTP,
//! through the library and with boto3; exactly at the limit is accepted. A configuration
//! over it is refused when it is loaded, naming the file, the function and the field.
//!
//! The layers and packages are files of zeros (`zeros_zip`): hundreds of megabytes unzipped,
//! under 1 MB zipped.

use firebox_emulator::{
    CombinedSizeError, Config, ControlError, DeployError, FunctionUpdate, SettingsError,
};
use sha2::Digest;

use super::common::archive::{b64, zeros_zip};
use super::*;

/// Lambda's limit of code and layers together, unzipped.
const LIMIT: u64 = 262_144_000;
const FUNCTIONS: &str = "/2015-03-31/functions";
const ROLE: &str = "arn:aws:iam::123456789012:role/firebox-test";

/// Lambda's refusal for `actual` bytes of code and layers.
fn over(actual: u64) -> String {
    format!(
        "Function code combined with layers exceeds the maximum allowed size of 262144000 \
         bytes. The actual size is {actual} bytes."
    )
}

/// Publishes a layer `name` of one file of `len` zeros; its version's ARN.
async fn publish_zeros(emu: &Emulator, name: &str, len: u64) -> String {
    let zip = zeros_zip(&format!("data/{name}"), len);
    let body = json!({"Content": {"ZipFile": b64(&zip)}});
    let r = call(
        emu,
        "POST",
        &format!("/2018-10-31/layers/{name}/versions"),
        &body,
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.json()["LayerVersionArn"]
        .as_str()
        .expect("LayerVersionArn")
        .to_owned()
}

/// `GetFunction`'s `Configuration` of `name` (404 asserted elsewhere).
async fn configuration(emu: &Emulator, name: &str) -> Value {
    let r = call(emu, "GET", &format!("{FUNCTIONS}/{name}"), &Value::Null).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.json()["Configuration"].clone()
}

/// The layer ARNs a configuration shows.
fn layer_arns(configuration: &Value) -> Vec<String> {
    configuration["Layers"]
        .as_array()
        .map(|l| {
            l.iter()
                .filter_map(|l| l["Arn"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn code_and_layers_over_lambdas_limit_are_refused_with_nothing_changed() {
    let emu = emulator().await;
    let a = publish_zeros(&emu, "half-a", 140_000_000).await;
    let b = publish_zeros(&emu, "half-b", 140_000_000).await;
    // With `a` and a package of 1,000 bytes, exactly the limit.
    let rest = publish_zeros(&emu, "rest", LIMIT - 140_000_000 - 1000).await;
    let package = zeros_zip("bootstrap", 1000);
    let create = |name: &str, layers: &[&str]| {
        json!({
            "FunctionName": name,
            "Role": ROLE,
            "Runtime": "provided.al2023",
            "Code": {"ZipFile": b64(&package)},
            "Layers": layers,
        })
    };

    // Two layers of 140 MB: nothing is created.
    let r = call(&emu, "POST", FUNCTIONS, &create("over", &[&a, &b])).await;
    assert_error(
        &r,
        400,
        "InvalidParameterValueException",
        &over(280_001_000),
    );
    let r = call(&emu, "GET", &format!("{FUNCTIONS}/over"), &Value::Null).await;
    assert_error(&r, 404, "ResourceNotFoundException", "Function not found");

    // Exactly at the limit: created.
    let r = call(&emu, "POST", FUNCTIONS, &create("edge", &[&a, &rest])).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let before = configuration(&emu, "edge").await;
    assert_eq!(layer_arns(&before), [a.clone(), rest.clone()]);
    assert_eq!(before["CodeSha256"], b64(&sha2::Sha256::digest(&package)));

    // One byte more of code: refused, as a dry run too, and through the library.
    let bigger = zeros_zip("bootstrap", 1001);
    let update_code = format!("{FUNCTIONS}/edge/code");
    for dry_run in [false, true] {
        let body = json!({"ZipFile": b64(&bigger), "DryRun": dry_run});
        let r = call(&emu, "PUT", &update_code, &body).await;
        assert_error(&r, 400, "InvalidParameterValueException", &over(LIMIT + 1));
    }
    match emu.update_function_code("edge", bigger.clone()).await {
        Err(ControlError::Deploy(DeployError::Settings(SettingsError::CodeAndLayers(e)))) => {
            assert_eq!(
                e,
                CombinedSizeError {
                    actual: LIMIT + 1,
                    code: 1001,
                    layers: LIMIT - 1000,
                    whole: true,
                }
            );
        }
        other => panic!("not refused for its size: {other:?}"),
    }

    // Layers that, with the code, are over: refused, over HTTP and through the library.
    let body = json!({"Layers": [&a, &b]});
    let update_configuration = format!("{FUNCTIONS}/edge/configuration");
    let r = call(&emu, "PUT", &update_configuration, &body).await;
    assert_error(
        &r,
        400,
        "InvalidParameterValueException",
        &over(280_001_000),
    );
    let update = FunctionUpdate {
        layers: Some(vec![b.clone(), rest.clone(), a.clone()]),
        ..FunctionUpdate::default()
    };
    match emu.update_function_configuration("edge", update) {
        Err(ControlError::Settings(SettingsError::CodeAndLayers(e))) => {
            assert_eq!(e.actual, 1000 + 2 * 140_000_000 + (LIMIT - 140_001_000));
        }
        other => panic!("not refused for its size: {other:?}"),
    }

    // None of it changed the function.
    let after = configuration(&emu, "edge").await;
    assert_eq!(after["CodeSha256"], before["CodeSha256"], "{after}");
    assert_eq!(after["RevisionId"], before["RevisionId"], "{after}");
    assert_eq!(layer_arns(&after), [a.clone(), rest.clone()]);

    // With one layer fewer, the bigger code fits: the check is against the layers of now.
    let r = call(&emu, "PUT", &update_configuration, &json!({"Layers": [&a]})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = call(&emu, "PUT", &update_code, &json!({"ZipFile": b64(&bigger)})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.json()["CodeSha256"], b64(&sha2::Sha256::digest(&bigger)));
}

#[tokio::test]
async fn boto3_gets_lambdas_refusal_of_code_and_layers_over_the_limit() {
    let emu = emulator().await;
    let r = boto3(&emu, "size", &[]).await;
    let says = "Function code combined with layers exceeds the maximum allowed size of \
                262144000 bytes. The actual size is";
    for key in ["create_both", "update_both", "update_code"] {
        raised(&r, key, "InvalidParameterValueException", 400, says);
    }
    // The sizes: two layers of 140 MB with a package of a few bytes; then a 130 MB package.
    let size_of = |key: &str| {
        let message = r[key]["message"].as_str().unwrap_or_default();
        message
            .rsplit("The actual size is ")
            .next()
            .and_then(|s| s.strip_suffix(" bytes."))
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or_else(|| panic!("{key}: no size in {message}"))
    };
    let small = r["small_package_bytes"]
        .as_u64()
        .expect("small_package_bytes");
    assert_eq!(size_of("create_both"), 280_000_000 + small);
    assert_eq!(size_of("update_both"), 280_000_000 + small);
    assert_eq!(size_of("update_code"), 270_000_000);
    raised(
        &r,
        "both_created",
        "ResourceNotFoundException",
        404,
        "Function not found",
    );
    // The function kept its one layer and its code.
    assert_eq!(
        r["layers_after"],
        json!([r["layer_a"].clone()]),
        "{}",
        r["layers_after"]
    );
    assert_eq!(r["sha_after"], r["sha_before"]);
    assert_eq!(r["revision_after"], r["revision_before"]);
}

/// Writes a sparse file of `len` bytes at `path` (counted in full, written in no time).
fn sparse(path: &std::path::Path, len: u64) {
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
    std::fs::File::create(path)
        .and_then(|f| f.set_len(len))
        .expect("sparse file");
}

#[tokio::test]
async fn a_configuration_over_the_limit_is_refused_naming_the_file_the_function_and_the_field() {
    let dir = TempDir::new("layer-size");
    sparse(&dir.path("code/big.bin"), 140_000_000);
    sparse(&dir.path("layers/dir-a/big.bin"), 140_000_000);
    sparse(&dir.path("layers/dir-b/big.bin"), 140_000_000);
    std::fs::write(dir.path("deps.zip"), zeros_zip("big.bin", 140_000_000)).expect("zip");
    let toml = dir.path("firebox.toml");
    let load = |text: &str| {
        std::fs::write(&toml, text).expect("firebox.toml");
        Config::load(&toml)
    };
    let refused = |text: &str, function: &str, field: &str, says: &[&str]| {
        let message = match load(text) {
            Ok(_) => panic!("accepted: {text}"),
            Err(e) => e.to_string(),
        };
        let file = toml.display().to_string();
        let function = format!("function `{function}`");
        let field = format!("field `{field}`");
        for part in [file.as_str(), &function, &field]
            .into_iter()
            .chain(says.iter().copied())
        {
            assert!(message.contains(part), "{part}: {message}");
        }
    };

    // A code directory and a `.zip` layer (counted by what its entries declare).
    refused(
        "[functions.f]\ncommand = [\"/bin/true\"]\ncode_dir = \"code\"\n\
         layers = [\"deps.zip\"]\n",
        "f",
        "layers",
        &[
            "`code_dir`",
            "(140000000 bytes), layers 140000000 bytes",
            &over(280_000_000),
        ],
    );
    // A code directory and a directory layer.
    refused(
        "[functions.g]\ncommand = [\"/bin/true\"]\ncode_dir = \"code\"\n\
         layers = [\"layers/dir-a\"]\n",
        "g",
        "layers",
        &[&over(280_000_000)],
    );
    // A bare command counts its layers only: one fits, two do not.
    let one = "[functions.h]\ncommand = [\"/bin/true\"]\nlayers = [\"layers/dir-a\"]\n";
    assert!(load(one).is_ok(), "one layer of 140 MB fits");
    refused(
        "[functions.h]\ncommand = [\"/bin/true\"]\n\
         layers = [\"layers/dir-a\", \"layers/dir-b\"]\n",
        "h",
        "layers",
        &["no code counted", &over(280_000_000)],
    );
    // A declared version is checked as well, with its own code directory.
    refused(
        "[functions.v]\ncommand = [\"/bin/true\"]\nlayers = [\"layers/dir-a\"]\n\
         [functions.v.versions.1]\ncode_dir = \"code\"\n",
        "v",
        "versions.1.layers",
        &[&over(280_000_000)],
    );
    // So is a function defined in code, when the emulator starts.
    let message = match Emulator::builder()
        .function(
            firebox_emulator::FunctionConfig::new("in-code")
                .command(["/bin/true"])
                .code_dir(dir.path("code"))
                .layer(dir.path("layers/dir-b")),
        )
        .start()
        .await
    {
        Ok(_) => panic!("started over the limit"),
        Err(e) => e.to_string(),
    };
    assert!(
        message.contains("function `in-code`") && message.contains(&over(280_000_000)),
        "{message}"
    );
}
