//! The third-party programs the tests run, installed by `scripts/setup-test-deps`: the Python
//! virtualenv (awslambdaric, boto3) and the Node fixture with `aws-lambda-ric`. A missing piece
//! is an error naming that script, never a skipped test.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::{repo_root, Error};

/// The virtualenv's `python`, checked once per process to import `awslambdaric` and `boto3`.
///
/// Looks at `FIREBOX_PYTHON`, then `FIREBOX_VENV/bin/python`, then `<repo>/.venv/bin/python`
/// (the variables `scripts/test` exports).
pub fn python() -> Result<PathBuf, Error> {
    static CHECKED: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    CHECKED
        .get_or_init(|| {
            let python = match std::env::var_os("FIREBOX_PYTHON") {
                Some(p) => PathBuf::from(p),
                None => venv_dir().join("bin").join("python"),
            };
            check_python(&python).map(|()| python)
        })
        .clone()
        .map_err(|detail| Error::MissingDependency {
            what: "the Python virtualenv with awslambdaric and boto3",
            detail,
        })
}

/// Checks that `python` exists and imports `awslambdaric` and `boto3`.
fn check_python(python: &Path) -> Result<(), String> {
    if !python.is_file() {
        return Err(format!("{} does not exist", python.display()));
    }
    let imports = Command::new(python)
        .args(["-c", "import awslambdaric, boto3"])
        .output()
        .map_err(|e| format!("cannot run {}: {e}", python.display()))?;
    if !imports.status.success() {
        return Err(format!(
            "{} cannot import awslambdaric and boto3: {}",
            python.display(),
            String::from_utf8_lossy(&imports.stderr).trim()
        ));
    }
    Ok(())
}

/// The virtualenv directory: `FIREBOX_VENV` or `<repo>/.venv`.
fn venv_dir() -> PathBuf {
    std::env::var_os("FIREBOX_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".venv"))
}

/// `fixtures/python`, the awslambdaric fixture's code directory.
pub fn python_fixture_dir() -> PathBuf {
    repo_root().join("fixtures").join("python")
}

/// The Node fixture directory (`FIREBOX_NODE_FIXTURES` or `<repo>/fixtures/node`), checked to
/// hold `node_modules/aws-lambda-ric` with its native addon.
pub fn node_fixture_dir() -> Result<PathBuf, Error> {
    let dir = std::env::var_os("FIREBOX_NODE_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("fixtures").join("node"));
    check_node_fixture(&dir)?;
    Ok(dir)
}

/// Checks that `dir` holds `aws-lambda-ric` with its entry point and built native addon.
fn check_node_fixture(dir: &Path) -> Result<(), Error> {
    let ric = node_ric_dir(dir);
    for needed in ["index.mjs", "rapid-client.node"] {
        if !ric.join(needed).is_file() {
            return Err(Error::MissingDependency {
                what: "the Node fixture's aws-lambda-ric",
                detail: format!("{} does not exist", ric.join(needed).display()),
            });
        }
    }
    Ok(())
}

/// `node_modules/aws-lambda-ric` under the Node fixture directory.
pub fn node_ric_dir(fixture_dir: &Path) -> PathBuf {
    fixture_dir.join("node_modules").join("aws-lambda-ric")
}

/// The `node` program on `PATH`.
pub fn node() -> Result<PathBuf, Error> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join("node"))
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| Error::MissingDependency {
            what: "node",
            detail: "no `node` on PATH".into(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_python_names_the_setup_script() {
        let missing = Path::new("/nonexistent/firebox-e2e/bin/python");
        let detail = check_python(missing).unwrap_err();
        assert!(
            detail.contains("/nonexistent/firebox-e2e/bin/python"),
            "{detail}"
        );
        let error = Error::MissingDependency {
            what: "the Python virtualenv with awslambdaric and boto3",
            detail,
        };
        assert!(
            error.to_string().contains("scripts/setup-test-deps"),
            "{error}"
        );
    }

    #[test]
    fn a_python_without_the_packages_is_refused() {
        // `/bin/sh -c "import ..."` fails like a python without awslambdaric would.
        let detail = check_python(Path::new("/bin/sh")).unwrap_err();
        assert!(detail.contains("cannot import awslambdaric"), "{detail}");
    }

    #[test]
    fn a_node_fixture_without_node_modules_names_the_setup_script() {
        let error = check_node_fixture(&repo_root().join("fixtures").join("python")).unwrap_err();
        let message = error.to_string();
        assert!(message.contains("aws-lambda-ric"), "{message}");
        assert!(message.contains("scripts/setup-test-deps"), "{message}");
    }
}
