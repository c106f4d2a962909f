//! Function definitions for every fixture the tests run, as the fixtures' own documentation
//! gives them: command line, code directory, handler and environment.

use std::path::Path;
use std::time::Duration;

use firebox_emulator::{FunctionConfig, VersionConfig};

use crate::bins::{self, Binary};
use crate::{deps, Error};

/// The timeout the tests give a function unless they test timeouts: long enough for a cold
/// start of Python or Node on a busy machine.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20);

/// A function `name` that runs a workspace binary (built on first use).
pub fn workspace_function(name: &str, binary: Binary) -> Result<FunctionConfig, Error> {
    Ok(binary_function(name, &bins::workspace_bin(binary)?))
}

/// The functions the control-plane write tests change, on an emulator of their own so that
/// other tests never see the changes: `hello` (versions 1 and 2, for aliases and reserved
/// concurrency) and `settings` (for `UpdateFunctionConfiguration` and `PublishVersion`).
pub fn control_plane_functions() -> Result<Vec<FunctionConfig>, Error> {
    Ok(vec![
        workspace_function("hello", bins::HELLO)?
            .publish(1, VersionConfig::new())
            .publish(2, VersionConfig::new()),
        workspace_function("settings", bins::HELLO)?,
    ])
}

/// A function `name` that runs the executable at `path` (e.g. `env!("CARGO_BIN_EXE_...")`).
pub fn binary_function(name: &str, path: &Path) -> FunctionConfig {
    FunctionConfig::new(name)
        .command([path.display().to_string()])
        .timeout(DEFAULT_TIMEOUT)
}

/// A Python function run by `awslambdaric` from `fixtures/python`, e.g. `handler = "app.context"`:
/// `python -m awslambdaric app.context` with the code directory as working directory.
pub fn python_function(name: &str, handler: &str) -> Result<FunctionConfig, Error> {
    let python = deps::python()?;
    Ok(FunctionConfig::new(name)
        .command([
            python.display().to_string(),
            "-m".into(),
            "awslambdaric".into(),
            handler.into(),
        ])
        .code_dir(deps::python_fixture_dir())
        .handler(handler)
        .timeout(DEFAULT_TIMEOUT))
}

/// A Node function run by `aws-lambda-ric` from the Node fixture, e.g. `handler = "index.context"`:
/// `node node_modules/aws-lambda-ric/index.mjs` with `_HANDLER` and `LAMBDA_TASK_ROOT` (the code
/// directory).
pub fn node_function(name: &str, handler: &str) -> Result<FunctionConfig, Error> {
    let node = deps::node()?;
    let dir = deps::node_fixture_dir()?;
    let entry = deps::node_ric_dir(&dir).join("index.mjs");
    Ok(FunctionConfig::new(name)
        .command([node.display().to_string(), entry.display().to_string()])
        .code_dir(dir)
        .handler(handler)
        .timeout(DEFAULT_TIMEOUT))
}
