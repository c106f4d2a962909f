//! A `nodejs*` managed runtime starts Node as Lambda's bootstrap does: with `--expose-gc`,
//! `--max-http-header-size 81920` and V8 heap limits derived from `memory_mb` (the old
//! generation's limit scales with it), whether the `[runtimes]` command names `node` or is
//! `aws-lambda-ric`'s script (`#!/usr/bin/env node`); the heap limits are left out when the
//! function's `NODE_OPTIONS` sets one. A function with a `command` of its own gets nothing.
//! `AWS_LAMBDA_EXEC_WRAPPER` wraps a managed runtime's start, not a custom runtime's.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{node_fixtures, TempDir};
use firebox_emulator::config::node_arguments;
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
        exec_argv(&small),
        [
            "--expose-gc",
            "--max-http-header-size",
            "81920",
            "--max-semi-space-size=6",
            "--max-old-space-size=116"
        ],
        "{small}"
    );
    assert_eq!(small["gc"], "function", "{small}");
    assert_eq!(small["maxHeaderSize"], 81920, "{small}");
    let large = describe(&emu, "large").await;
    assert_eq!(exec_argv(&large), node_arguments(1024, None), "{large}");
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
    assert_eq!(exec_argv(&script), node_arguments(256, None), "{script}");

    // NODE_OPTIONS sets a heap limit: both are the user's (V8's default for the other).
    let own = describe(&emu, "own").await;
    assert_eq!(
        exec_argv(&own),
        ["--expose-gc", "--max-http-header-size", "81920"],
        "{own}"
    );
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
    // node, Lambda's five arguments and the client's script: seven arguments.
    assert_eq!(wrapped["wrapped"], "wrapper.sh 7", "{wrapped}");
    assert_eq!(exec_argv(&wrapped), node_arguments(128, None), "{wrapped}");
    // A `nodejs*` runtime has `NODE_PATH` without layers too, as on Lambda: the code.
    assert_eq!(wrapped["nodePath"], code.display().to_string(), "{wrapped}");
    let custom = describe(&emu, "custom").await;
    assert_eq!(custom["wrapped"], Value::Null, "{custom}");
    assert_eq!(custom["nodePath"], Value::Null, "{custom}");
}
