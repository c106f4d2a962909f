//! A `nodejs*` managed runtime starts Node as Lambda's bootstrap does: with `--expose-gc`,
//! `--max-http-header-size 81920` and V8 heap limits derived from `memory_mb` (the old
//! generation's limit scales with it), whether the `[runtimes]` command names `node` or is
//! `aws-lambda-ric`'s script (`#!/usr/bin/env node`); the heap limits are left out when the
//! function's `NODE_OPTIONS` sets one; the experimental features Lambda turns off are off
//! (`require()` of an ES module on `nodejs20.x`) unless `NODE_OPTIONS` turns them on; an ES
//! module's bare imports are found in a layer's `nodejs/node_modules`, as on Lambda. A
//! function with a `command` of its own gets nothing. `AWS_LAMBDA_EXEC_WRAPPER` wraps a
//! managed runtime's start, not a custom runtime's.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{node_fixtures, TempDir};
use firebox_emulator::config::{lambda_flags, node_arguments, NodeFeatures};
use firebox_emulator::{Emulator, FunctionConfig};
use serde_json::Value;

/// `aws-lambda-ric`'s entry point (a script starting `#!/usr/bin/env node`).
fn node_ric() -> PathBuf {
    node_fixtures().join("node_modules/aws-lambda-ric/index.mjs")
}

/// A handler that describes how its Node was started.
fn code(dir: &TempDir) -> PathBuf {
    let code = dir.path("code");
    std::fs::create_dir_all(&code).expect("mkdir");
    std::fs::write(
        code.join("index.js"),
        "const v8 = require('v8');\n\
         const http = require('http');\n\
         exports.handler = async () => ({\n\
           execArgv: process.execArgv,\n\
           heapLimitMb: v8.getHeapStatistics().heap_size_limit / 1048576,\n\
           gc: typeof globalThis.gc,\n\
           maxHeaderSize: http.maxHeaderSize,\n\
         });\n",
    )
    .expect("write the handler");
    code
}

fn node_function(name: &str, runtime: &str, code: &Path, memory_mb: u32) -> FunctionConfig {
    FunctionConfig::new(name)
        .runtime(runtime)
        .code_dir(code)
        .handler("index.handler")
        .memory_mb(memory_mb)
        .timeout(Duration::from_secs(20))
}

async fn describe(emu: &Emulator, function: &str) -> Value {
    let r = emu.invoke(function, "{}").await.expect("invoke");
    assert_eq!(r.function_error, None, "{}", r.text());
    r.json().expect("JSON")
}

/// Lambda's arguments for Node on `runtime` for a function of `memory_mb`, as far as this
/// machine's `node` takes them.
fn lambda_arguments(runtime: &str, memory_mb: u32) -> Vec<String> {
    let mut args = node_arguments(memory_mb, None);
    args.extend(lambda_flags(runtime, None, NodeFeatures::of("node")));
    args
}

/// Invokes `function`, expecting a function error whose document contains `says`.
async fn fails_saying(emu: &Emulator, function: &str, says: &str) {
    let r = emu.invoke(function, "{}").await.expect("invoke");
    assert_eq!(
        r.function_error.as_deref(),
        Some("Unhandled"),
        "{}",
        r.text()
    );
    assert!(r.text().contains(says), "{}", r.text());
}

fn exec_argv(v: &Value) -> Vec<String> {
    v["execArgv"]
        .as_array()
        .unwrap_or_else(|| panic!("no execArgv in {v}"))
        .iter()
        .map(|a| a.as_str().expect("a string").to_owned())
        .collect()
}

#[tokio::test]
async fn nodejs_runtimes_start_node_with_lambdas_arguments_for_their_memory() {
    let dir = TempDir::new("node-args");
    let code = code(&dir);
    let ric = node_ric().display().to_string();
    let emu = Emulator::builder()
        // The family's command names node; nodejs22.x's is the script itself.
        .runtime_command("nodejs", ["node".to_owned(), ric.clone()])
        .runtime_command("nodejs22.x", [ric.clone()])
        .function(node_function("small", "nodejs20.x", &code, 128))
        .function(node_function("large", "nodejs20.x", &code, 1024))
        .function(node_function("script", "nodejs22.x", &code, 256))
        .function(
            node_function("own", "nodejs20.x", &code, 128)
                .env("NODE_OPTIONS", "--max-old-space-size=300"),
        )
        .function(
            FunctionConfig::new("custom")
                .command(["node".to_owned(), ric])
                .code_dir(&code)
                .handler("index.handler")
                .timeout(Duration::from_secs(20)),
        )
        .start()
        .await
        .expect("start");

    let small = describe(&emu, "small").await;
    assert_eq!(
        exec_argv(&small)[..5],
        [
            "--expose-gc",
            "--max-http-header-size",
            "81920",
            "--max-semi-space-size=6",
            "--max-old-space-size=116"
        ],
        "{small}"
    );
    assert_eq!(exec_argv(&small), lambda_arguments("nodejs20.x", 128));
    assert_eq!(small["gc"], "function", "{small}");
    assert_eq!(small["maxHeaderSize"], 81920, "{small}");
    let large = describe(&emu, "large").await;
    assert_eq!(
        exec_argv(&large),
        lambda_arguments("nodejs20.x", 1024),
        "{large}"
    );
    let (small_heap, large_heap) = (
        small["heapLimitMb"].as_f64().expect("a number"),
        large["heapLimitMb"].as_f64().expect("a number"),
    );
    // V8's limit: the old generation's plus the young generation's.
    assert!((116.0..200.0).contains(&small_heap), "{small}");
    assert!(
        large_heap >= 922.0 && large_heap > small_heap * 5.0,
        "{large}"
    );

    let script = describe(&emu, "script").await;
    assert_eq!(
        exec_argv(&script),
        lambda_arguments("nodejs22.x", 256),
        "{script}"
    );

    // NODE_OPTIONS sets a heap limit: both are the user's (V8's default for the other).
    let own = describe(&emu, "own").await;
    let mut expected = vec!["--expose-gc", "--max-http-header-size", "81920"];
    let flags = lambda_flags("nodejs20.x", None, NodeFeatures::of("node"));
    expected.extend(flags.iter().map(String::as_str));
    assert_eq!(exec_argv(&own), expected, "{own}");
    let own_heap = own["heapLimitMb"].as_f64().expect("a number");
    assert!(own_heap >= 300.0, "{own}");

    let custom = describe(&emu, "custom").await;
    assert_eq!(exec_argv(&custom), Vec::<String>::new(), "{custom}");
}

/// `AWS_LAMBDA_EXEC_WRAPPER` names a script that starts the managed runtime, given its command
/// as arguments (Node with Lambda's arguments still in it); a function that brings its own
/// `command` (a custom runtime) ignores the variable, as on Lambda. The managed runtime has
/// `NODE_PATH` (the code directory), the custom one none.
#[tokio::test]
async fn an_exec_wrapper_starts_a_managed_runtime_and_a_custom_one_ignores_it() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("node-wrapper");
    let code = code(&dir);
    std::fs::write(
        code.join("index.js"),
        "exports.handler = async () => ({\n\
           wrapped: process.env.WRAPPED_BY ?? null,\n\
           execArgv: process.execArgv,\n\
           nodePath: process.env.NODE_PATH ?? null,\n\
         });\n",
    )
    .expect("write the handler");
    let wrapper = dir.path("wrapper.sh");
    std::fs::write(
        &wrapper,
        "#!/bin/sh\nexport WRAPPED_BY=\"$(basename \"$0\") $#\"\nexec \"$@\"\n",
    )
    .expect("write the wrapper");
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let ric = node_ric().display().to_string();
    let wrapper = wrapper.display().to_string();
    let emu = Emulator::builder()
        .runtime_command("nodejs", ["node".to_owned(), ric.clone()])
        .function(
            node_function("wrapped", "nodejs20.x", &code, 128)
                .env("AWS_LAMBDA_EXEC_WRAPPER", &wrapper),
        )
        .function(
            FunctionConfig::new("custom")
                .command(["node".to_owned(), ric])
                .code_dir(&code)
                .handler("index.handler")
                .env("AWS_LAMBDA_EXEC_WRAPPER", &wrapper)
                .timeout(Duration::from_secs(20)),
        )
        .start()
        .await
        .expect("emulator starts");
    let wrapped = describe(&emu, "wrapped").await;
    // node, Lambda's arguments and the client's script.
    let lambda = lambda_arguments("nodejs20.x", 128);
    let count = format!("wrapper.sh {}", lambda.len() + 2);
    assert_eq!(wrapped["wrapped"], count.as_str(), "{wrapped}");
    assert_eq!(exec_argv(&wrapped), lambda, "{wrapped}");
    // A `nodejs*` runtime has `NODE_PATH` without layers too, as on Lambda: the code.
    assert_eq!(wrapped["nodePath"], code.display().to_string(), "{wrapped}");
    let custom = describe(&emu, "custom").await;
    assert_eq!(custom["wrapped"], Value::Null, "{custom}");
    assert_eq!(custom["nodePath"], Value::Null, "{custom}");
}

/// An ES module's bare import is found in a layer's `nodejs/node_modules` (Lambda's Node
/// runtimes search `NODE_PATH` for ES modules too; Node itself does only for `require()`),
/// and an import found nowhere still fails with Node's own error. On `nodejs20.x`,
/// `require()` of an ES module fails as on Lambda, unless `NODE_OPTIONS` turns it on.
#[tokio::test]
async fn es_modules_find_layer_packages_and_require_of_esm_is_off_as_on_lambda() {
    let dir = TempDir::new("node-esm");
    let layer = dir.path("layer");
    let package = layer.join("nodejs/node_modules/greeter");
    std::fs::create_dir_all(&package).expect("mkdir");
    std::fs::write(
        package.join("package.json"),
        r#"{"name": "greeter", "version": "1.0.0", "main": "index.js", "exports": {".": "./index.js"}}"#,
    )
    .expect("write package.json");
    std::fs::write(
        package.join("index.js"),
        "exports.greet = (n) => `hello ${n} from the layer`;\n",
    )
    .expect("write the package");
    let code = dir.path("code");
    std::fs::create_dir_all(&code).expect("mkdir");
    std::fs::write(
        code.join("index.mjs"),
        "import greeter from 'greeter';\n\
         export const handler = async (e) => ({ said: greeter.greet(e.name) });\n",
    )
    .expect("write the ES module");
    std::fs::write(
        code.join("missing.mjs"),
        "import nope from 'no-such-package';\nexport const handler = async () => nope;\n",
    )
    .expect("write the other ES module");
    std::fs::write(
        code.join("hidden.mjs"),
        "import h from 'greeter/hidden.js';\nexport const handler = async () => h;\n",
    )
    .expect("write the third ES module");
    std::fs::write(code.join("lib.mjs"), "export const x = 42;\n").expect("write lib.mjs");
    std::fs::write(
        code.join("cjs.js"),
        "exports.handler = async () => ({ x: require('./lib.mjs').x });\n",
    )
    .expect("write the CommonJS handler");
    let ric = node_ric().display().to_string();
    let function = |name: &str, handler: &str| {
        node_function(name, "nodejs20.x", &code, 256)
            .handler(handler)
            .layer(&layer)
    };
    let emu = Emulator::builder()
        .runtime_command("nodejs", ["node".to_owned(), ric])
        .function(function("esm", "index.handler"))
        .function(function("missing", "missing.handler"))
        .function(function("hidden", "hidden.handler"))
        .function(function("require-esm", "cjs.handler"))
        .function(
            function("require-esm-on", "cjs.handler")
                .env("NODE_OPTIONS", "--experimental-require-module"),
        )
        .start()
        .await
        .expect("start");

    let r = emu
        .invoke("esm", r#"{"name": "Ada"}"#)
        .await
        .expect("invoke");
    assert_eq!(r.function_error, None, "{}", r.text());
    assert_eq!(r.json().unwrap()["said"], "hello Ada from the layer");

    fails_saying(&emu, "missing", "Cannot find package 'no-such-package'").await;
    // Found in the layer, but not importable as asked: the package's own error, as Node gives
    // it, not "cannot find package".
    fails_saying(&emu, "hidden", "ERR_PACKAGE_PATH_NOT_EXPORTED").await;

    assert!(
        NodeFeatures::of("node").no_require_module,
        "the tests need a Node that takes --no-experimental-require-module (20.17 or later)"
    );
    fails_saying(&emu, "require-esm", "ERR_REQUIRE_ESM").await;
    let r = emu.invoke("require-esm-on", "{}").await.expect("invoke");
    assert_eq!(r.function_error, None, "{}", r.text());
    assert_eq!(r.json().unwrap()["x"], 42);
}
