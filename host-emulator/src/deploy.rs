//! Deploying while the emulator runs, in memory until it stops: creating a function
//! (`CreateFunction`), giving `$LATEST` new code from a `.zip` (`UpdateFunctionCode`), and
//! deleting a function or one of its versions (`DeleteFunction`).
//!
//! Like a settings update (see [`crate::settings`]), new code never reaches a running
//! environment: `$LATEST` gets a new scheduler whose environments start from the new package,
//! and the old one retires its environments once their invocations are answered. A deleted
//! function or version is unreachable at once and its environments end the same way.

use std::sync::Arc;

use bytes::Bytes;

use crate::config::{ConfigError, FunctionConfig, LATEST};
use crate::functions::{retire, Functions};
use crate::package::{CodePackage, PackageError, PackageStore};
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
            "function `{}`: a function created while the emulator runs gets provisioned \
             concurrency with PutProvisionedConcurrencyConfig on a published version or alias",
            config.name
        )));
    }
    let destinations = config
        .event_invoke
        .iter()
        .flat_map(|e| [&e.on_success, &e.on_failure])
        .flatten();
    for to in destinations {
        let name = crate::arn::FunctionRef::parse(to).map(|r| r.name);
        if name.as_deref() == Some(config.name.as_str()) {
            return Err(invalid(format!(
                "function `{}`: a function cannot be its own destination",
                config.name
            )));
        }
        if functions.target(to).is_none() {
            return Err(invalid(format!(
                "function `{}`: the destination `{to}` is not a function, version or alias",
                config.name
            )));
        }
    }
    crate::tags::check(&config.tags)
        .map_err(|e| invalid(format!("function `{}`: {e}", config.name)))?;
    let reserved = config.reserved_concurrency.take();
    let function = functions
        .create(config)
        .map_err(|e| DeployError::Exists(e.0))?;
    if let Err(e) = function.capacity().set_reserved(reserved) {
        functions.delete(&function.latest().config.name);
        return Err(e.into());
    }
    crate::config::bootstrap_glibc::warn_in_background(vec![function.latest().config.clone()]);
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

/// `UpdateFunctionCode` with a `.zip`: checks the function and the revision, unpacks the
/// package off the runtime's threads and puts it under `$LATEST`; returns `$LATEST` then (the
/// same one for a `dry_run`, or for a package with the code it runs already, whose copy is
/// dropped).
pub(crate) async fn update_code(
    packages: &Arc<PackageStore>,
    function: &Function,
    zip: Bytes,
    revision_id: Option<&str>,
    dry_run: bool,
) -> Result<Arc<FunctionShared>, DeployError> {
    check_replaceable(function)?;
    let latest = function.latest();
    // Checked before the work of unpacking; checked again when the package is put in place.
    if revision_id.is_some_and(|r| r != latest.revision_id) {
        return Err(SettingsError::RevisionMismatch.into());
    }
    let package = unpack(packages, &latest.config.name, zip).await?;
    if dry_run {
        packages.discard(&package);
        // A dry run is refused as the update would be.
        crate::settings::check_code(&latest.config, &package).map_err(SettingsError::from)?;
        return Ok(latest);
    }
    let updated = function.update_code(package.clone(), revision_id);
    if !updated.as_ref().is_ok_and(|l| runs(l, &package)) {
        // Refused, or the same code as before: the new copy is not needed.
        packages.discard(&package);
    }
    let updated = updated?;
    crate::config::bootstrap_glibc::warn_in_background(vec![updated.config.clone()]);
    Ok(updated)
}

/// Unpacks `zip` for function `name`, off the runtime's threads.
pub(crate) async fn unpack(
    packages: &Arc<PackageStore>,
    name: &str,
    zip: Bytes,
) -> Result<Arc<CodePackage>, PackageError> {
    let store = packages.clone();
    let name = name.to_owned();
    crate::package::off_the_workers(move || store.unpack(&name, &zip)).await
}

/// Whether `version` runs `package` (not another one with the same contents).
fn runs(version: &FunctionShared, package: &Arc<CodePackage>) -> bool {
    version
        .config
        .package
        .as_ref()
        .is_some_and(|p| Arc::ptr_eq(p, package))
}

/// Deletes published version `version` of `function` (`DeleteFunction` with a qualifier),
/// with its asynchronous-invocation configuration and its resource-based policy: refused for
/// `$LATEST` and for a version an alias routes to.
pub(crate) fn delete_version(function: &Function, version: &str) -> Result<(), DeployError> {
    if version == LATEST {
        return Err(DeployError::LatestNotDeletable);
    }
    let removed = function
        .aliases
        .unless_routed_to(version, || function.remove_version(version))
        .map_err(|aliases| DeployError::VersionInUse { aliases })?
        .ok_or_else(|| DeployError::VersionNotFound(function.arn_of(version)))?;
    function.event_invoke.remove(version);
    function.provisioned.remove(function, version);
    function.policy.remove(version);
    function.stored.remove_version(version);
    retire(&removed);
    Ok(())
}
