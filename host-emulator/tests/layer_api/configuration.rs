//! The configuration's layers: a `.zip` named in `firebox.toml` is unpacked when the emulator
//! starts and run like a directory (its modes kept), shown with its `.zip`'s size and
//! `CodeSha256`, and named by ARN from a function created later; a broken `.zip` stops the
//! start; a directory layer is watched by `reload`.

use firebox_emulator::{Config, FunctionConfig};
use sha2::Digest;

use super::common::archive::{b64, zip_of};
use super::*;

/// Writes `text` to `path`, making its directory.
fn write(path: &std::path::Path, text: &[u8]) {
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

const APP: &str = "import subprocess\n\
import zipped, common\n\
def handler(event, context):\n\
\x20   tool = subprocess.run(['zip-tool'], capture_output=True, text=True).stdout.strip()\n\
\x20   return {'zipped': zipped.VALUE, 'common': common.VALUE, 'tool': tool}\n";

#[tokio::test]
async fn a_zip_layer_of_the_configuration_runs_like_a_directory() {
    let dir = TempDir::new("layer-zip");
    let python = venv_python().display().to_string();
    let zip = zip_of(&[
        ("python/zipped.py", "VALUE = 'from the zip'\n", 0o644),
        ("bin/zip-tool", "#!/bin/sh\necho tool-from-zip\n", 0o755),
    ]);
    write(&dir.path("build/deps.zip"), &zip);
    write(
        &dir.path("layers/common/python/common.py"),
        b"VALUE = 'from the directory'\n",
    );
    write(&dir.path("code/app.py"), APP.as_bytes());
    let toml = format!(
        "[runtimes]\npython = [{python:?}, \"-m\", \"awslambdaric\", \"{{handler}}\"]\n\
         [functions.py]\nruntime = \"python3.12\"\ncode_dir = \"code\"\n\
         handler = \"app.handler\"\ntimeout_s = 20\n\
         layers = [\"build/deps.zip\", \"layers/common\"]\n"
    );
    write(&dir.path("firebox.toml"), toml.as_bytes());
    let config = Config::load(&dir.path("firebox.toml")).expect("the configuration");
    let emu = Emulator::from_config(config, None)
        .await
        .expect("emulator starts");

    let r = emu.invoke("py", "{}").await.expect("invoke");
    assert_eq!(r.function_error, None, "{}", r.text());
    let v = r.json().expect("JSON");
    assert_eq!(v["zipped"], "from the zip", "{v}");
    assert_eq!(v["common"], "from the directory", "{v}");
    assert_eq!(v["tool"], "tool-from-zip", "the zip's modes are kept: {v}");

    let r = call(
        &emu,
        "GET",
        "/2015-03-31/functions/py/configuration",
        &Value::Null,
    )
    .await;
    let layers = &r.json()["Layers"];
    assert_eq!(layers[0]["Arn"], format!("{ARN}:deps:1"), "{layers}");
    assert_eq!(
        layers[0]["CodeSize"],
        zip.len(),
        "the .zip's size: {layers}"
    );
    assert_eq!(layers[1]["Arn"], format!("{ARN}:common:1"), "{layers}");

    // The layer APIs show them as version 1 of their names.
    let r = call(
        &emu,
        "GET",
        "/2018-10-31/layers/deps/versions/1",
        &Value::Null,
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let content = &r.json()["Content"];
    assert_eq!(content["CodeSha256"], b64(&sha2::Sha256::digest(&zip)));
    assert_eq!(content["CodeSize"], zip.len());
    let r = call(
        &emu,
        "GET",
        "/2018-10-31/layers/common/versions/1",
        &Value::Null,
    )
    .await;
    assert_eq!(r.json()["Content"].get("CodeSha256"), None, "a directory");
    let r = call(&emu, "GET", "/2018-10-31/layers", &Value::Null).await;
    let listed = r.json();
    let names: Vec<&str> = listed["Layers"]
        .as_array()
        .expect("Layers")
        .iter()
        .filter_map(|l| l["LayerName"].as_str())
        .collect();
    assert_eq!(names, ["common", "deps"]);
    // A version published under the name is the next one.
    let other = zip_of(&[("python/zipped.py", "VALUE = 'published'\n", 0o644)]);
    let body = json!({"Content": {"ZipFile": b64(&other)}});
    let r = call(&emu, "POST", "/2018-10-31/layers/deps/versions", &body).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.json()["Version"], 2);

    // A function created later names the configuration's layers by their ARNs.
    let code = zip_of(&[("app.py", APP, 0o644)]);
    let create = json!({
        "FunctionName": "later",
        "Role": "arn:aws:iam::123456789012:role/firebox-test",
        "Runtime": "python3.12",
        "Handler": "app.handler",
        "Timeout": 20,
        "Code": {"ZipFile": b64(&code)},
        "Layers": [format!("{ARN}:deps:1"), format!("{ARN}:common:1")],
    });
    let r = call(&emu, "POST", "/2015-03-31/functions", &create).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let r = emu.invoke("later", "{}").await.expect("invoke");
    assert_eq!(r.function_error, None, "{}", r.text());
    let v = r.json().expect("JSON");
    assert_eq!(
        (v["zipped"].as_str(), v["tool"].as_str()),
        (Some("from the zip"), Some("tool-from-zip")),
        "{v}"
    );
}

#[tokio::test]
async fn a_broken_zip_layer_stops_the_start_naming_the_file_the_function_and_the_field() {
    let dir = TempDir::new("layer-zip-bad");
    write(&dir.path("broken.zip"), b"this is not a zip");
    write(
        &dir.path("firebox.toml"),
        b"[functions.f]\ncommand = [\"/bin/true\"]\nlayers = [\"broken.zip\"]\n",
    );
    let config = Config::load(&dir.path("firebox.toml")).expect("valid until unpacked");
    let message = match Emulator::from_config(config, None).await {
        Ok(_) => panic!("started with a broken .zip layer"),
        Err(e) => e.to_string(),
    };
    let toml = dir.path("firebox.toml").display().to_string();
    for part in [
        toml.as_str(),
        "function `f`",
        "field `layers`",
        "broken.zip",
        "Could not unzip",
    ] {
        assert!(message.contains(part), "{part}: {message}");
    }

    // From code too; and a missing `.zip` is refused at validation.
    let broken = dir.path("broken.zip");
    let message = match start_result(function("g", "").layer(&broken)).await {
        Ok(_) => panic!("started with a broken .zip layer"),
        Err(e) => e,
    };
    assert!(
        message.contains("function `g`") && message.contains("Could not unzip"),
        "{message}"
    );
    let message = match start_result(function("h", "").layer(dir.path("missing.zip"))).await {
        Ok(_) => panic!("started with a missing .zip layer"),
        Err(e) => e,
    };
    assert!(
        message.contains("is not a directory or a .zip file"),
        "{message}"
    );
}

/// Starts an emulator with `f`; the error's text when it does not start.
async fn start_result(f: FunctionConfig) -> Result<Emulator, String> {
    Emulator::builder()
        .function(f)
        .start()
        .await
        .map_err(|e| e.to_string())
}

#[tokio::test]
async fn a_change_in_a_directory_layer_starts_new_environments() {
    let layer = TempDir::new("layer-reload");
    write(&layer.path("python/mod.py"), b"VALUE = 1\n");
    let emu = start(vec![function("f", "").layer(&layer.0)]).await;
    let pid = |r: &firebox_emulator::InvokeResponse| {
        let v = r.json().expect("JSON");
        v["pid"].as_i64().expect("pid")
    };
    let first = pid(&emu.invoke("f", "{}").await.expect("invoke"));
    assert_eq!(
        pid(&emu.invoke("f", "{}").await.expect("invoke")),
        first,
        "warm"
    );
    write(&layer.path("python/mod.py"), b"VALUE = 22\n");
    wait_metric(&emu, "firebox_code_changes_total{function=\"f\"}", 1.0).await;
    let after = pid(&emu.invoke("f", "{}").await.expect("invoke"));
    assert_ne!(after, first, "a new environment after the layer changed");
}
