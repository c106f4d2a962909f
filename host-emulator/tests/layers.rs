//! Layers (`layers = [..]`, `FunctionConfig::layer`) seen by real runtimes: Python's
//! `awslambdaric` imports modules from a layer's `python` and `site-packages` directories and
//! runs a layer's program from `PATH`, Node's `aws-lambda-ric` requires a module from a
//! layer's `nodejs/node_modules`, a later layer wins over an earlier one, a layer's
//! `extensions` directory starts external extensions, `GetFunctionConfiguration` lists the
//! layers, `UpdateFunctionConfiguration` reorders or removes them, and bad layers are refused
//! naming the field. (Layers published through the control plane, and `.zip` layers of the
//! configuration: `layer_api.rs`.)

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::*;
use firebox_emulator::{Emulator, FunctionConfig};
use serde_json::{json, Value};

/// `aws-lambda-ric`'s entry point.
fn node_ric() -> PathBuf {
    node_fixtures().join("node_modules/aws-lambda-ric/index.mjs")
}

/// Writes `text` to `dir/relative`, making the directories on the way.
fn write(dir: &Path, relative: &str, text: &str) -> PathBuf {
    let path = dir.join(relative);
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
    std::fs::write(&path, text).expect("write");
    path
}

fn make_executable(path: &Path) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

/// `X.Y` of `python`.
fn python_version(python: &Path) -> String {
    let out = Command::new(python)
        .args([
            "-c",
            "import sys; print(f'{sys.version_info[0]}.{sys.version_info[1]}')",
        ])
        .output()
        .expect("run python");
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .trim()
        .to_owned()
}

/// Invokes and expects success; the answer.
async fn answer(emu: &Emulator, function: &str) -> Value {
    let r = emu.invoke(function, "{}".to_owned()).await.expect("invoke");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.function_error, None, "{}", r.text());
    r.json().expect("JSON")
}

#[tokio::test]
async fn awslambdaric_imports_from_layers_and_the_later_layer_wins() {
    let python = venv_python();
    let version = python_version(&python);
    let dir = TempDir::new("layers-py");
    // Layer `base`: a module, a program on PATH, and a library directory.
    let base = dir.path("base");
    let base_files = [
        ("python/greeting.py", "def text():\n    return 'base'\n"),
        ("python/only_base.py", "WHO = 'base'\n"),
        ("bin/layer-tool", "#!/bin/sh\necho tool-from-base\n"),
        ("lib/.keep", ""),
    ];
    for (file, text) in base_files {
        write(&base, file, text);
    }
    make_executable(&base.join("bin/layer-tool"));
    // Layer `deps.v2` (later): the same module, winning, and a package in site-packages.
    let deps = dir.path("deps.v2");
    let shout = format!("python/lib/python{version}/site-packages/shout/__init__.py");
    let deps_files = [
        ("python/greeting.py", "def text():\n    return 'deps'\n"),
        (
            shout.as_str(),
            "def shout(s):\n    return s.upper() + '!'\n",
        ),
    ];
    for (file, text) in deps_files {
        write(&deps, file, text);
    }
    let size = |files: &[(&str, &str)]| files.iter().map(|(_, t)| t.len()).sum::<usize>();
    let code = dir.path("code");
    write(
        &code,
        "app.py",
        "import os, subprocess\n\
         import greeting, only_base, shout\n\
         def handler(event, context):\n\
         \x20   tool = subprocess.run(['layer-tool'], capture_output=True, text=True).stdout.strip()\n\
         \x20   return {'greeting': greeting.text(), 'only_base': only_base.WHO,\n\
         \x20           'shout': shout.shout('hi'), 'tool': tool,\n\
         \x20           'PATH': os.environ['PATH'], 'LD_LIBRARY_PATH': os.environ['LD_LIBRARY_PATH'],\n\
         \x20           'PYTHONPATH': os.environ.get('PYTHONPATH'), 'NODE_PATH': os.environ.get('NODE_PATH')}\n",
    );
    let function = |name: &str| {
        FunctionConfig::new(name)
            .command([
                python.display().to_string(),
                "-m".into(),
                "awslambdaric".into(),
                "app.handler".into(),
            ])
            .code_dir(&code)
            .handler("app.handler")
            .timeout(Duration::from_secs(20))
            .layer(&base)
            .layer(&deps)
    };
    let emu = start(vec![
        function("py"),
        // The function's own PYTHONPATH replaces the layers' (as on Lambda, where it is not
        // reserved): `shout` is not found.
        function("own-path").env("PYTHONPATH", base.join("python").display().to_string()),
    ])
    .await;

    let v = answer(&emu, "py").await;
    assert_eq!(v["greeting"], "deps", "the later layer wins: {v}");
    assert_eq!(v["only_base"], "base", "{v}");
    assert_eq!(v["shout"], "HI!", "{v}");
    assert_eq!(v["tool"], "tool-from-base", "{v}");
    let site = deps.join(format!("python/lib/python{version}/site-packages"));
    assert_eq!(
        v["PYTHONPATH"],
        format!(
            "{}:{}:{}",
            site.display(),
            deps.join("python").display(),
            base.join("python").display()
        )
    );
    let path = v["PATH"].as_str().expect("PATH");
    assert!(
        path.starts_with(&format!(
            "/usr/local/bin:/usr/bin/:/bin:{}:/opt/bin",
            base.join("bin").display()
        )),
        "{path}"
    );
    let ld = v["LD_LIBRARY_PATH"].as_str().expect("LD_LIBRARY_PATH");
    assert!(
        ld.ends_with(&format!("{}:/opt/lib", base.join("lib").display())),
        "{ld}"
    );
    assert_eq!(v["NODE_PATH"], Value::Null, "no layer has nodejs: {v}");

    let r = emu
        .invoke("own-path", "{}".to_owned())
        .await
        .expect("invoke");
    assert_eq!(
        r.function_error.as_deref(),
        Some("Unhandled"),
        "{}",
        r.text()
    );
    let doc = r.json().expect("JSON");
    assert_eq!(doc["errorType"], "Runtime.ImportModuleError", "{doc}");
    assert!(
        doc["errorMessage"].as_str().unwrap_or("").contains("shout"),
        "{doc}"
    );

    // GetFunctionConfiguration lists the layers in order, with their sizes.
    let r = call(
        &emu,
        "GET",
        "/2015-03-31/functions/py/configuration",
        &json!(null),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let shown: Value = serde_json::from_slice(&r.body).expect("JSON");
    let arn = "arn:aws:lambda:us-east-1:123456789012:layer";
    assert_eq!(
        shown["Layers"],
        json!([
            { "Arn": format!("{arn}:base:1"), "CodeSize": size(&base_files) },
            { "Arn": format!("{arn}:deps-v2:1"), "CodeSize": size(&deps_files) },
        ])
    );

    // `UpdateFunctionConfiguration` takes `Layers` unchanged (as deploy tools send it).
    let path = "/2015-03-31/functions/py/configuration";
    let (base_arn, deps_arn) = (format!("{arn}:base:1"), format!("{arn}:deps-v2:1"));
    let same = json!({"Layers": [base_arn, deps_arn], "Description": "same layers"});
    let r = call(&emu, "PUT", path, &same).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let shown: Value = serde_json::from_slice(&r.body).expect("JSON");
    assert_eq!(shown["Description"], "same layers");
    assert_eq!(shown["Layers"].as_array().map(Vec::len), Some(2));
    assert_eq!(answer(&emu, "py").await["greeting"], "deps");

    // An unknown layer version is refused, with nothing changed.
    let unknown = json!({"Layers": [base_arn, format!("{arn}:nope:1")], "Description": "x"});
    let r = call(&emu, "PUT", path, &unknown).await;
    assert_error(
        &r,
        400,
        "InvalidParameterValueException",
        "nope:1 does not exist",
    );
    let r = call(&emu, "GET", path, &json!(null)).await;
    let shown: Value = serde_json::from_slice(&r.body).expect("JSON");
    assert_eq!(shown["Description"], "same layers", "nothing changed");

    // The configuration's layers in another order: the new environment has `base` last, and
    // its module wins.
    let swapped = json!({"Layers": [deps_arn, base_arn]});
    let r = call(&emu, "PUT", path, &swapped).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let shown: Value = serde_json::from_slice(&r.body).expect("JSON");
    assert_eq!(shown["Layers"][0]["Arn"], deps_arn);
    assert_eq!(answer(&emu, "py").await["greeting"], "base");

    // No layers: the modules they held are gone.
    let r = call(&emu, "PUT", path, &json!({"Layers": []})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.json().get("Layers"), None, "{:?}", r.body);
    let r = emu.invoke("py", "{}".to_owned()).await.expect("invoke");
    let doc = r.json().expect("JSON");
    assert_eq!(doc["errorType"], "Runtime.ImportModuleError", "{doc}");
}

#[tokio::test]
async fn aws_lambda_ric_requires_a_module_from_a_layer() {
    let ric = node_ric();
    let dir = TempDir::new("layers-node");
    let layer = dir.path("node-deps");
    write(
        &layer,
        "nodejs/node_modules/greeting/index.js",
        "exports.text = () => 'from the layer';\n",
    );
    let code = dir.path("code");
    write(
        &code,
        "index.js",
        "const greeting = require('greeting');\n\
         exports.handler = async () => ({ greeting: greeting.text(), nodePath: process.env.NODE_PATH });\n",
    );
    let emu = start(vec![FunctionConfig::new("node")
        .command(["node".to_owned(), ric.display().to_string()])
        .code_dir(&code)
        .handler("index.handler")
        .timeout(Duration::from_secs(20))
        .layer(&layer)])
    .await;
    let v = answer(&emu, "node").await;
    assert_eq!(v["greeting"], "from the layer", "{v}");
    assert_eq!(
        v["nodePath"],
        format!(
            "{}:{}",
            layer.join("nodejs/node_modules").display(),
            code.display()
        )
    );
}

#[tokio::test]
async fn a_layer_extension_runs_beside_the_function() {
    let dir = TempDir::new("layers-ext");
    let layer = dir.path("monitoring");
    std::fs::create_dir_all(layer.join("extensions")).expect("mkdir");
    std::os::unix::fs::symlink(runtime("extension.py"), layer.join("extensions/layer-ext"))
        .expect("symlink the extension");
    let emu = start(vec![function("f", "")
        .layer(&layer)
        .env("EXT_MODE", "normal")])
    .await;
    let r = emu.invoke("f", "{}".to_owned()).await.expect("invoke");
    assert_eq!(r.status, 200, "{}", r.text());
    let id = r.request_id.clone().expect("a request id");
    wait_for_line(&emu, "f", |l| l.contains("[layer-ext]") && l.contains(&id)).await;

    // A published version runs the layer's extension too (copied with the version's code).
    let r = call(&emu, "POST", "/2015-03-31/functions/f/versions", &json!({})).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let options = firebox_emulator::InvokeOptions {
        qualifier: Some("1".into()),
        ..Default::default()
    };
    let r = emu
        .invoke_with("f", "{}", &options)
        .await
        .expect("invoke version 1");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.executed_version.as_deref(), Some("1"));
    let id = r.request_id.clone().expect("a request id");
    wait_for_line(&emu, "f", |l| l.contains("[layer-ext]") && l.contains(&id)).await;
}

#[tokio::test]
async fn bad_layers_are_refused_naming_the_field() {
    let dir = TempDir::new("layers-bad");
    let refused = |f: FunctionConfig| async move {
        match Emulator::builder().function(f).start().await {
            Ok(_) => panic!("started with a bad layer"),
            Err(e) => e.to_string(),
        }
    };
    let message = refused(function("f", "").layer(dir.path("missing"))).await;
    assert!(
        message.contains("field `layers`") && message.contains("is not a directory"),
        "{message}"
    );

    for n in 0..6 {
        std::fs::create_dir_all(dir.path(&format!("l{n}"))).expect("mkdir");
    }
    let mut six = function("f", "");
    for n in 0..6 {
        six = six.layer(dir.path(&format!("l{n}")));
    }
    let message = refused(six).await;
    assert!(message.contains("Lambda's limit of 5"), "{message}");

    std::fs::create_dir_all(dir.path("a/same")).expect("mkdir");
    std::fs::create_dir_all(dir.path("b/same")).expect("mkdir");
    let message = refused(
        function("f", "")
            .layer(dir.path("a/same"))
            .layer(dir.path("b/same")),
    )
    .await;
    assert!(message.contains("are both layer `same`"), "{message}");

    let plain = write(&dir.path("plain"), "extensions/not-exec", "#!/bin/sh\n");
    let message = refused(function("f", "").layer(dir.path("plain"))).await;
    assert!(
        message.contains(&format!("`{}` is not executable", plain.display())),
        "{message}"
    );

    // A layer's extension may not share its name with one of the function's own.
    let ext_layer = dir.path("ext-layer");
    std::fs::create_dir_all(ext_layer.join("extensions")).expect("mkdir");
    std::os::unix::fs::symlink(runtime("extension.py"), ext_layer.join("extensions/dup"))
        .expect("symlink");
    std::os::unix::fs::symlink(runtime("extension.py"), dir.path("dup")).expect("symlink");
    let message = refused(
        function("f", "")
            .extension(dir.path("dup"))
            .layer(&ext_layer),
    )
    .await;
    assert!(
        message.contains("two extensions are named `dup`"),
        "{message}"
    );
}
