//! The function process's environment variables (contract section 2): built from scratch,
//! never inherited from the emulator, so that a function sees what it would see on Lambda plus
//! its own variables. The function's variables may override `PATH`, `LANG`, `TZ`,
//! `LD_LIBRARY_PATH`, `PYTHONPATH`, `NODE_PATH`, `HOME` and `TMPDIR`, never the ones Lambda
//! reserves. The
//! function's layers are put where Lambda's search paths name `/opt`.

use super::process::Launch;
use crate::config::{layers, LAMBDA_PATH};

/// Where the function's X-Ray SDK sends segments (`AWS_XRAY_DAEMON_ADDRESS`): the X-Ray
/// daemon's default address on this machine (Lambda's is `169.254.79.129:2000`).
const XRAY_DAEMON_HOST: &str = "127.0.0.1";
const XRAY_DAEMON_PORT: u16 = 2000;

/// The complete environment of the function process (contract section 2).
pub fn variables(launch: &Launch<'_>) -> Vec<(String, String)> {
    let c = launch.config;
    let task_root = c
        .code_dir
        .as_deref()
        .map(|d| {
            let dir = d.display().to_string();
            // `fn/` as configured: `LAMBDA_TASK_ROOT=.../fn`, as Lambda's `/var/task`.
            match dir.trim_end_matches('/') {
                "" => dir,
                trimmed => trimmed.to_owned(),
            }
        })
        .unwrap_or_default();
    let tmp = launch.tmp.display().to_string();
    let layers = layers::search_paths(&c.resolved_layers, c.runtime.as_deref());
    let host_path = std::env::var("PATH").unwrap_or_default();
    let mut path = with_layers(LAMBDA_PATH, "/opt/bin", &layers.bin);
    if !host_path.is_empty() {
        path = format!("{path}:{host_path}");
    }
    let mut vars: Vec<(String, String)> = vec![
        // Lambda sets neither; the emulator points both at the environment's private
        // directory, and a function may set its own.
        ("HOME".into(), tmp.clone()),
        ("TMPDIR".into(), tmp),
        ("PATH".into(), path),
        ("LANG".into(), "en_US.UTF-8".into()),
        ("TZ".into(), ":UTC".into()),
        // Lambda's X-Ray settings: the SDKs log a missing trace context rather than throw, and
        // send segments to the daemon's address, here the X-Ray daemon's own default on this
        // machine (nothing needs to listen: segments are UDP datagrams).
        ("AWS_XRAY_CONTEXT_MISSING".into(), "LOG_ERROR".into()),
        (
            "AWS_XRAY_DAEMON_ADDRESS".into(),
            format!("{XRAY_DAEMON_HOST}:{XRAY_DAEMON_PORT}"),
        ),
        ("_AWS_XRAY_DAEMON_ADDRESS".into(), XRAY_DAEMON_HOST.into()),
        ("_AWS_XRAY_DAEMON_PORT".into(), XRAY_DAEMON_PORT.to_string()),
        (
            "LD_LIBRARY_PATH".into(),
            with_layers(
                &format!("/lib64:/usr/lib64:{task_root}:{task_root}/lib:/opt/lib"),
                "/opt/lib",
                &layers.lib,
            ),
        ),
    ];
    // Lambda's runtimes search `/opt/python` and `/opt/nodejs/node_modules` themselves; here
    // the layers' directories are named (only when a layer has them). A `nodejs*` runtime
    // always has `NODE_PATH`, as on Lambda: the layers' directories, then the code.
    if !layers.python.is_empty() {
        vars.push(("PYTHONPATH".into(), join(&layers.python)));
    }
    let nodejs = c.runtime.as_deref().map(crate::config::runtime_family) == Some("nodejs");
    if !layers.node.is_empty() || nodejs {
        let node_path: Vec<String> = layers
            .node
            .iter()
            .map(|d| d.display().to_string())
            .chain((!task_root.is_empty()).then(|| task_root.clone()))
            .collect();
        if !node_path.is_empty() {
            vars.push(("NODE_PATH".into(), node_path.join(":")));
        }
    }
    // The function's own variables may override the ones above, never the ones below.
    vars.extend(c.environment.iter().map(|(k, v)| (k.clone(), v.clone())));
    vars.extend([
        (
            "AWS_LAMBDA_RUNTIME_API".into(),
            launch.runtime_api.to_string(),
        ),
        ("_HANDLER".into(), c.handler.clone().unwrap_or_default()),
        ("AWS_REGION".into(), c.region.clone()),
        ("AWS_DEFAULT_REGION".into(), c.region.clone()),
        ("AWS_LAMBDA_FUNCTION_NAME".into(), c.name.clone()),
        ("AWS_LAMBDA_FUNCTION_VERSION".into(), c.version().to_owned()),
        (
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE".into(),
            c.memory_mb.to_string(),
        ),
        (
            "AWS_LAMBDA_LOG_GROUP_NAME".into(),
            format!("/aws/lambda/{}", c.name),
        ),
        (
            "AWS_LAMBDA_LOG_STREAM_NAME".into(),
            launch.log_stream.into(),
        ),
        (
            "AWS_LAMBDA_INITIALIZATION_TYPE".into(),
            launch.init_type.into(),
        ),
        // Lambda sets both names of the access key id.
        ("AWS_ACCESS_KEY".into(), "AKIAFIREBOXEMULATOR0".into()),
        ("AWS_ACCESS_KEY_ID".into(), "AKIAFIREBOXEMULATOR0".into()),
        (
            "AWS_SECRET_ACCESS_KEY".into(),
            "firebox/emulator/secret/access/key/000000".into(),
        ),
        (
            "AWS_SESSION_TOKEN".into(),
            "firebox-emulator-session-token".into(),
        ),
        ("LAMBDA_TASK_ROOT".into(), task_root.clone()),
        ("LAMBDA_RUNTIME_DIR".into(), task_root),
    ]);
    // Lambda's advanced logging controls: the runtime learns the format and the application
    // log level from these (set only for the JSON format, the one that has levels).
    if c.logging.format == crate::config::LogFormat::Json {
        vars.push(("AWS_LAMBDA_LOG_FORMAT".into(), "JSON".into()));
        vars.push((
            "AWS_LAMBDA_LOG_LEVEL".into(),
            c.logging.application_level().as_str().into(),
        ));
    }
    if let Some(n) = c.max_concurrency {
        vars.push(("AWS_LAMBDA_MAX_CONCURRENCY".into(), n.to_string()));
    }
    // A managed runtime names itself, as on Lambda (`AWS_Lambda_python3.12`); the OS-only
    // runtimes do not.
    if let Some(runtime) = c
        .runtime
        .as_deref()
        .filter(|r| crate::config::runtime_family(r) != "provided")
    {
        vars.push(("AWS_EXECUTION_ENV".into(), format!("AWS_Lambda_{runtime}")));
    }
    vars
}

/// `list`, which ends with `/opt`'s directory `opt_dir`, with the layers' `dirs` inserted
/// before it (where Lambda would find their files).
fn with_layers(list: &str, opt_dir: &str, dirs: &[std::path::PathBuf]) -> String {
    match list.strip_suffix(opt_dir) {
        Some(head) if !dirs.is_empty() => format!("{head}{}:{opt_dir}", join(dirs)),
        _ => list.to_owned(),
    }
}

/// Directories joined with `:`.
fn join(dirs: &[std::path::PathBuf]) -> String {
    let parts: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    parts.join(":")
}

/// Variables that belong to the runtime process alone: an extension sees every other one.
const RUNTIME_ONLY: &[&str] = &[
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_XRAY_CONTEXT_MISSING",
    "AWS_XRAY_DAEMON_ADDRESS",
    "LAMBDA_RUNTIME_DIR",
    "LAMBDA_TASK_ROOT",
    "_AWS_XRAY_DAEMON_ADDRESS",
    "_AWS_XRAY_DAEMON_PORT",
    "_HANDLER",
];

/// The environment of an external extension: the function's, without the variables
/// specific to the runtime process (as on Lambda).
pub fn extension_variables(launch: &Launch<'_>) -> Vec<(String, String)> {
    let mut vars = variables(launch);
    vars.retain(|(k, _)| !RUNTIME_ONLY.contains(&k.as_str()));
    vars
}
