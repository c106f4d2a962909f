//! Deploying while the emulator runs, in memory until it stops: creating a function
//! (`CreateFunction`), giving `$LATEST` new code from a `.zip` (`UpdateFunctionCode`), and
//! deleting a function or one of its versions (`DeleteFunction`).
//!
//! Like a settings update (see [`crate::settings`]), new code never reaches a running
//! environment: `$LATEST` gets a new scheduler whose environments start from the new package,
//! and the old one retires its environments once their invocations are answered. A deleted
//! function or version is unreachable at once and its environments end the same way.

use std::sync::Arc;

use crate::config::{ConfigError, FunctionConfig, LATEST};
use crate::functions::{retire, Functions};
use crate::package::PackageError;
use crate::scheduler::capacity::ReservationError;
use crate::scheduler::FunctionShared;
use crate::settings::SettingsError;
use crate::versions::Function;

/// Why a function could not be created, given new code, or deleted.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// The definition is not valid.
    #[error(transparent)]
    Invalid(#[from] ConfigError),
    /// A function by that name exists already.
    #[error("Function already exist: {0}")]
    Exists(String),
    /// The package could not be unpacked.
    #[error(transparent)]
    Package(#[from] PackageError),
    /// The function runs a command given in its configuration, not a code directory that a
    /// package could replace.
    #[error(
        "function `{0}` runs a `command` from its configuration; UpdateFunctionCode replaces \
         the code of functions defined by a `runtime` (or a `code_dir` with a `bootstrap`)"
    )]
    NotFromPackage(String),
    /// `$LATEST` is deleted only with the function.
    #[error("$LATEST version cannot be deleted without deleting the function.")]
    LatestNotDeletable,
    /// The function has no such version.
    #[error("Function not found: {0}")]
    VersionNotFound(String),
    /// Aliases route to the version.
    #[error("Unable to delete version because the following aliases reference it: [{}]", .aliases.join(", "))]
    VersionInUse {
        /// The aliases.
        aliases: Vec<String>,
    },
    /// The revision id given is not `$LATEST`'s.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// The reservation does not fit the account.
    #[error(transparent)]
    Reservation(#[from] ReservationError),
}

/// Starts a new function from a validated `config` (its runtime applied), whose destinations
/// must exist. Its reserved concurrency is taken from the account's unreserved pool.
pub(crate) fn create(
    functions: &Functions,
    mut config: FunctionConfig,
) -> Result<Arc<Function>, DeployError> {
    let invalid = |message: String| {
        DeployError::Invalid(ConfigError::Invalid {
            file: "<CreateFunction>".into(),
            message,
        })
    };
    if config.provisioned_total() > 0 {
        return Err(invalid(format!(
            "function `{}`: provisioned concurrency is declared in firebox.toml, not on a \
             function created while the emulator runs",
            config.name
        )));
    }
    for to in [
        &config.event_invoke.on_success,
        &config.event_invoke.on_failure,
    ]
    .into_iter()
    .flatten()
    {
        if *to != config.name && functions.get(to).is_none() {
            return Err(invalid(format!(
                "function `{}`: the destination `{to}` is not a function",
                config.name
            )));
        }
    }
    let reserved = config.reserved_concurrency.take();
    let function = functions
        .create(config)
        .map_err(|e| DeployError::Exists(e.0))?;
    if let Err(e) = function.capacity().set_reserved(reserved) {
        functions.delete(&function.latest().config.name);
        return Err(e.into());
    }
    Ok(function)
}

/// Checks that `function`'s code can be replaced by a package (`UpdateFunctionCode`).
pub(crate) fn check_replaceable(function: &Function) -> Result<(), DeployError> {
    let latest = function.latest();
    if latest.config.launch.runs_package() {
        Ok(())
    } else {
        Err(DeployError::NotFromPackage(latest.config.name.clone()))
    }
}

/// `UpdateFunctionCode` with a `.zip`: unpacks it (blocking file work: call it where blocking
/// is allowed) and puts it under `$LATEST`; returns the new `$LATEST`.
pub(crate) fn update_code(
    functions: &Functions,
    function: &Function,
    zip: &[u8],
    revision_id: Option<&str>,
) -> Result<Arc<FunctionShared>, DeployError> {
    check_replaceable(function)?;
    let name = function.latest().config.name.clone();
    let package = functions.deployment.packages.unpack(&name, zip)?;
    let latest = function.update_code(package.clone(), revision_id);
    if !latest.as_ref().is_ok_and(|l| runs(l, &package)) {
        functions.deployment.packages.discard(&package);
    }
    Ok(latest?)
}

/// Whether `version` runs `package` (not another one with the same contents).
pub(crate) fn runs(version: &FunctionShared, package: &Arc<crate::package::CodePackage>) -> bool {
    version
        .config
        .package
        .as_ref()
        .is_some_and(|p| Arc::ptr_eq(p, package))
}

/// Deletes published version `version` of `function` (`DeleteFunction` with a qualifier):
/// refused for `$LATEST` and for a version an alias routes to.
pub(crate) fn delete_version(function: &Function, version: &str) -> Result<(), DeployError> {
    if version == LATEST {
        return Err(DeployError::LatestNotDeletable);
    }
    let removed = function
        .aliases
        .unless_routed_to(version, || function.remove_version(version))
        .map_err(|aliases| DeployError::VersionInUse { aliases })?
        .ok_or_else(|| DeployError::VersionNotFound(function.arn_of(version)))?;
    retire(&removed);
    Ok(())
}
