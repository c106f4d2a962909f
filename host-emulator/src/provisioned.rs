//! Provisioned concurrency configurations: how many environments each published version or
//! alias of a function keeps initialised (`PutProvisionedConcurrencyConfig`,
//! `GetProvisionedConcurrencyConfig`, `DeleteProvisionedConcurrencyConfig`,
//! `ListProvisionedConcurrencyConfigs`), and the library calls that do the same.
//!
//! A configuration belongs to a qualifier: a published version, or an alias, whose
//! environments are those of the version it names (split by weight between the two versions
//! of a routed alias). Each change works out, for every published version, how many
//! provisioned environments it keeps, and tells the version's scheduler
//! (`PoolMessage::Provision`); the scheduler starts them (`Status: IN_PROGRESS`) until all
//! are ready (`READY`). When their Init keeps failing, the scheduler gives up and the
//! configuration is `FAILED` (`StatusReason: FUNCTION_ERROR_INIT_FAILURE`) until it is put
//! again (or the code changes on disk). The function's total is checked against its reservation or the account's unreserved
//! pool first ([`Capacity::set_provisioned`]); nothing changes when it is refused. Versions
//! declared in `firebox.toml` with `provisioned_concurrency` start with a configuration.
//!
//! An alias that has a configuration cannot be pointed at `$LATEST` (`AliasChange`).
//!
//! The store sits behind a `std` mutex that is held for a whole change (checks, the
//! function's total, the schedulers told), so that changes of one function happen one after
//! the other. It is never held across an `.await`; the aliases' and versions' locks may be
//! taken while it is held, never the reverse.
//!
//! [`Capacity::set_provisioned`]: crate::scheduler::capacity::Capacity::set_provisioned

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::aliases::AliasError;
use crate::config::{is_version_number, AliasConfig, LATEST};
use crate::emulator::{ControlError, Emulator};
use crate::scheduler::capacity::ProvisioningError;
use crate::scheduler::{FunctionShared, PoolMessage, Provision};
use crate::versions::{Function, UnknownQualifier};

/// Lambda's `StatusReason` of a configuration whose environments could not be initialised.
pub const INIT_FAILURE_REASON: &str = "FUNCTION_ERROR_INIT_FAILURE";

/// Lambda's `Status` of a provisioned concurrency configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProvisionedStatus {
    /// Environments are still being started.
    InProgress,
    /// Every requested environment has finished its Init.
    Ready,
    /// The environments could not be initialised: their Init kept failing
    /// ([`INIT_FAILURE_REASON`]). None are started until the configuration is put again.
    Failed,
}

impl ProvisionedStatus {
    /// As Lambda writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InProgress => "IN_PROGRESS",
            Self::Ready => "READY",
            Self::Failed => "FAILED",
        }
    }
}

/// A provisioned concurrency configuration and how far it has come.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvisionedConcurrency {
    /// `RequestedProvisionedConcurrentExecutions`.
    pub requested: u32,
    /// `AllocatedProvisionedConcurrentExecutions`: environments started for it.
    pub allocated: u32,
    /// `AvailableProvisionedConcurrentExecutions`: environments that finished Init.
    pub available: u32,
    /// `Status`.
    pub status: ProvisionedStatus,
    /// `StatusReason`: why it is `FAILED` ([`INIT_FAILURE_REASON`]); `None` otherwise.
    pub status_reason: Option<String>,
    /// `LastModified` (`2024-01-31T12:34:56.789+0000`).
    pub last_modified: String,
}

/// Why a provisioned concurrency configuration cannot be read or changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProvisionedError {
    /// Fewer than 1 environment asked for.
    #[error(
        "1 validation error detected: Value '{0}' at 'provisionedConcurrentExecutions' failed \
         to satisfy constraint: Member must have value greater than or equal to 1"
    )]
    TooFew(i64),
    /// `PutProvisionedConcurrencyConfig` on `$LATEST` or an alias of it.
    #[error("Provisioned Concurrency Configs cannot be applied to unpublished function versions.")]
    Unpublished,
    /// Reading or deleting the configuration of `$LATEST`.
    #[error("The function resource provided must be an alias or a published version.")]
    NotVersionOrAlias,
    /// No such published version.
    #[error("Function not found: {arn}")]
    VersionNotFound {
        /// The version's ARN.
        arn: String,
    },
    /// No such alias.
    #[error("Cannot find alias arn: {arn}")]
    AliasNotFound {
        /// The alias's ARN.
        arn: String,
    },
    /// The qualifier has no configuration.
    #[error("No Provisioned Concurrency Config found for this function")]
    NotFound,
    /// An alias whose version has a configuration of its own.
    #[error(
        "Alias can't be used for Provisioned Concurrency configuration on an already \
         Provisioned version"
    )]
    VersionAlreadyProvisioned,
    /// A version named by an alias that has a configuration.
    #[error("Version is pointed by a Provisioned Concurrency alias")]
    AliasAlreadyProvisioned,
    /// The function's reservation or the account's pool leaves no room for it.
    #[error(transparent)]
    Concurrency(#[from] ProvisioningError),
}

/// One qualifier's configuration as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stored {
    requested: u32,
    last_modified: String,
}

/// The configurations of one function, by qualifier.
#[derive(Debug)]
pub(crate) struct ProvisionedConfigs {
    /// `$LATEST`'s provisioned concurrency from the configuration file (Firebox's own: Lambda
    /// has none there); fixed, and part of the function's total.
    latest: u32,
    by_qualifier: Mutex<BTreeMap<String, Stored>>,
}

impl ProvisionedConfigs {
    /// The configurations a function starts with: those of its declared versions.
    pub fn declared<'a>(
        latest: u32,
        versions: impl IntoIterator<Item = &'a FunctionShared>,
    ) -> Self {
        let now = crate::ids::lambda_timestamp();
        let by_qualifier = versions
            .into_iter()
            .filter(|v| v.config.provisioned_concurrency > 0)
            .map(|v| {
                let stored = Stored {
                    requested: v.config.provisioned_concurrency,
                    last_modified: now.clone(),
                };
                (v.config.version().to_owned(), stored)
            })
            .collect();
        Self {
            latest,
            by_qualifier: Mutex::new(by_qualifier),
        }
    }

    // A poisoned lock still guards a whole map: nothing that can panic runs under it.
    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, Stored>> {
        self.by_qualifier
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Removes `qualifier`'s configuration (its version or alias was deleted) and gives its
    /// environments back.
    pub fn remove(&self, function: &Function, qualifier: &str) {
        let mut configs = self.lock();
        if configs.remove(qualifier).is_some() {
            // A decrease always fits.
            let _ = function.capacity().set_provisioned(self.total(&configs));
        }
        self.apply(function, &configs, &[]);
    }

    /// Holds the configurations still while an alias changes.
    pub fn alias_change(&self) -> AliasChange<'_> {
        AliasChange {
            store: self,
            configs: self.lock(),
        }
    }

    fn total(&self, configs: &BTreeMap<String, Stored>) -> u32 {
        configs
            .values()
            .map(|s| s.requested)
            .fold(self.latest, u32::saturating_add)
    }

    /// Tells each published version's scheduler how many environments it keeps now; those in
    /// `start_over` have a new configuration, which makes a failed allocation start over.
    fn apply(
        &self,
        function: &Function,
        configs: &BTreeMap<String, Stored>,
        start_over: &[String],
    ) {
        let targets = targets(function, configs);
        for version in function.all().iter().skip(1) {
            let name = version.config.version();
            let environments = targets.get(name).copied().unwrap_or(0);
            // Its invocations run on that many at once before they spill over.
            version.provisioned.set_limit(environments);
            let provision = Provision {
                environments,
                start_over: start_over.iter().any(|v| v == name),
            };
            // Gone only when the emulator is shutting down.
            let _ = version.pool.send(PoolMessage::Provision(provision));
        }
    }
}

/// The configurations held still while an alias changes (`UpdateAlias`, or the library's
/// `put_alias`), so that no put slips in between the alias's check and its change. Taken
/// before the aliases' lock, as everywhere.
pub(crate) struct AliasChange<'a> {
    store: &'a ProvisionedConfigs,
    configs: MutexGuard<'a, BTreeMap<String, Stored>>,
}

impl AliasChange<'_> {
    /// Refuses to point alias `name` at `$LATEST` while it has a configuration.
    pub fn check(&self, name: &str, config: &AliasConfig) -> Result<(), AliasError> {
        if config.version == LATEST && self.configs.contains_key(name) {
            return Err(AliasError::ProvisionedOnUnpublished {
                alias: name.to_owned(),
            });
        }
        Ok(())
    }

    /// Tells the schedulers after alias `name` changed from `before`: its configuration, if
    /// it has one, follows it, and starts over on the versions it reaches now but did not
    /// before.
    pub fn apply(self, function: &Function, name: &str, before: Option<&AliasConfig>) {
        let mut start_over = Vec::new();
        if self.configs.contains_key(name) {
            if let Some(alias) = function.aliases.get(name) {
                let earlier = before.map(versions_of).unwrap_or_default();
                start_over = versions_of(&alias.config);
                start_over.retain(|v| !earlier.contains(v));
            }
        }
        self.store.apply(function, &self.configs, &start_over);
    }
}

/// The versions an alias reaches: the one it names and the one it routes to, if any.
fn versions_of(alias: &AliasConfig) -> Vec<String> {
    std::iter::once(alias.version.clone())
        .chain(alias.additional_version_weights.keys().cloned())
        .collect()
}

/// The versions `qualifier` (a version or an alias of `function`) reaches.
fn versions_reached(function: &Function, qualifier: &str) -> Vec<String> {
    if is_version_number(qualifier) {
        vec![qualifier.to_owned()]
    } else {
        function
            .aliases
            .get(qualifier)
            .map_or_else(Vec::new, |a| versions_of(&a.config))
    }
}

/// How many provisioned environments each version keeps for these configurations: a
/// version's own, plus each alias's, split between a routed alias's two versions by weight.
fn targets(function: &Function, configs: &BTreeMap<String, Stored>) -> BTreeMap<String, u32> {
    let mut targets: BTreeMap<String, u32> = BTreeMap::new();
    let mut add = |version: &str, n: u32| {
        if version != LATEST && n > 0 {
            *targets.entry(version.to_owned()).or_default() += n;
        }
    };
    for (qualifier, stored) in configs {
        if is_version_number(qualifier) {
            add(qualifier, stored.requested);
        } else if let Some(alias) = function.aliases.get(qualifier) {
            let n = stored.requested;
            let routed: u32 = alias
                .config
                .additional_version_weights
                .iter()
                .map(|(version, weight)| {
                    // A weight is in [0, 1]: the share is at most `n`.
                    let share = (f64::from(n) * weight).round() as u32;
                    add(version, share);
                    share
                })
                .sum();
            add(&alias.config.version, n.saturating_sub(routed));
        }
    }
    targets
}

/// Checks that `qualifier` is a published version or an alias of `function` (`$LATEST` is
/// refused before this).
fn check_qualifier(function: &Function, qualifier: &str) -> Result<(), ProvisionedError> {
    function.check_qualifier(qualifier).map_err(|e| match e {
        UnknownQualifier::Version(arn) => ProvisionedError::VersionNotFound { arn },
        UnknownQualifier::Alias(arn) => ProvisionedError::AliasNotFound { arn },
    })
}

/// Puts `requested` provisioned environments on `qualifier` (a published version or an
/// alias) of `function`, replacing its configuration, if any.
pub(crate) fn put(
    function: &Function,
    qualifier: &str,
    requested: i64,
) -> Result<(), ProvisionedError> {
    let requested = u32::try_from(requested)
        .ok()
        .filter(|n| *n >= 1)
        .ok_or(ProvisionedError::TooFew(requested))?;
    if qualifier == LATEST {
        return Err(ProvisionedError::Unpublished);
    }
    let mut configs = function.provisioned.lock();
    check_qualifier(function, qualifier)?;
    if is_version_number(qualifier) {
        let by_alias =
            function.aliases.all().into_iter().any(|(name, alias)| {
                alias.config.version == qualifier && configs.contains_key(&name)
            });
        if by_alias {
            return Err(ProvisionedError::AliasAlreadyProvisioned);
        }
    } else if let Some(alias) = function.aliases.get(qualifier) {
        if alias.config.version == LATEST {
            return Err(ProvisionedError::Unpublished);
        }
        if configs.contains_key(&alias.config.version) {
            return Err(ProvisionedError::VersionAlreadyProvisioned);
        }
    }
    let previous = configs.get(qualifier).map_or(0, |s| s.requested);
    let total = function.provisioned.total(&configs) - previous + requested;
    function.capacity().set_provisioned(total)?;
    configs.insert(
        qualifier.to_owned(),
        Stored {
            requested,
            last_modified: crate::ids::lambda_timestamp(),
        },
    );
    let start_over = versions_reached(function, qualifier);
    function.provisioned.apply(function, &configs, &start_over);
    Ok(())
}

/// Removes `qualifier`'s configuration (`DeleteProvisionedConcurrencyConfig`): its extra
/// environments become on-demand ones. Removing none is not an error, as on Lambda.
pub(crate) fn delete(function: &Function, qualifier: &str) -> Result<(), ProvisionedError> {
    if qualifier == LATEST {
        return Err(ProvisionedError::NotVersionOrAlias);
    }
    check_qualifier(function, qualifier)?;
    function.provisioned.remove(function, qualifier);
    Ok(())
}

/// `qualifier`'s configuration and how far it has come.
pub(crate) async fn get(
    function: &Function,
    qualifier: &str,
) -> Result<ProvisionedConcurrency, ProvisionedError> {
    if qualifier == LATEST {
        return Err(ProvisionedError::NotVersionOrAlias);
    }
    check_qualifier(function, qualifier)?;
    let stored = function
        .provisioned
        .lock()
        .get(qualifier)
        .cloned()
        .ok_or(ProvisionedError::NotFound)?;
    Ok(progress(function, qualifier, stored).await)
}

/// Every configuration of `function` with how far it has come, by qualifier.
pub(crate) async fn all(function: &Function) -> Vec<(String, ProvisionedConcurrency)> {
    let configs: Vec<(String, Stored)> = function
        .provisioned
        .lock()
        .iter()
        .map(|(q, s)| (q.clone(), s.clone()))
        .collect();
    let mut all = Vec::with_capacity(configs.len());
    for (qualifier, stored) in configs {
        let shown = progress(function, &qualifier, stored).await;
        all.push((qualifier, shown));
    }
    all
}

/// How far `qualifier`'s configuration has come: the provisioned environments of the
/// version(s) it reaches, as their schedulers count them, up to what it asked for.
/// It is `FAILED` when the scheduler of a version it reaches gave up.
async fn progress(function: &Function, qualifier: &str, stored: Stored) -> ProvisionedConcurrency {
    let (mut allocated, mut available, mut failed) = (0, 0, false);
    for version in versions_reached(function, qualifier) {
        let Some(shared) = function.version(&version) else {
            continue;
        };
        if let Some(snapshot) = crate::metrics::snapshot(&shared).await {
            allocated += snapshot.provisioned_allocated;
            available += snapshot.provisioned_ready;
            failed |= snapshot.provisioned_failed;
        }
    }
    let (allocated, available) = (
        allocated.min(stored.requested),
        available.min(stored.requested),
    );
    let status = if failed {
        ProvisionedStatus::Failed
    } else if available >= stored.requested {
        ProvisionedStatus::Ready
    } else {
        ProvisionedStatus::InProgress
    };
    ProvisionedConcurrency {
        requested: stored.requested,
        allocated,
        available,
        status,
        status_reason: failed.then(|| INIT_FAILURE_REASON.to_owned()),
        last_modified: stored.last_modified,
    }
}

impl Emulator {
    /// Keeps `n` environments of version or alias `qualifier` of `function` initialised, as
    /// `PutProvisionedConcurrencyConfig` does: they start at once, with
    /// `AWS_LAMBDA_INITIALIZATION_TYPE=provisioned-concurrency`. Refused for `$LATEST`, when
    /// the function's reservation or the account's unreserved pool has no room, and when the
    /// alias's version (or an alias naming the version) has a configuration already. A put
    /// starts a failed configuration (`ProvisionedStatus::Failed`) over.
    ///
    /// ```no_run
    /// # async fn demo(emu: firebox_emulator::Emulator) -> Result<(), Box<dyn std::error::Error>> {
    /// use firebox_emulator::ProvisionedStatus;
    /// emu.put_provisioned_concurrency_config("orders", "live", 2)?;
    /// // READY, or FAILED (with `status_reason`) when the version's Init keeps failing.
    /// while emu.provisioned_concurrency_config("orders", "live").await?.status
    ///     == ProvisionedStatus::InProgress
    /// {
    ///     tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    /// }
    /// # Ok(()) }
    /// ```
    pub fn put_provisioned_concurrency_config(
        &self,
        function: &str,
        qualifier: &str,
        n: u32,
    ) -> Result<(), ControlError> {
        let f = self.function(function)?;
        put(&f, qualifier, i64::from(n))?;
        Ok(())
    }

    /// The provisioned concurrency configuration of `qualifier` of `function` and how far it
    /// has come, as `GetProvisionedConcurrencyConfig` shows it: `Failed`, with
    /// [`INIT_FAILURE_REASON`], once the Init of its environments failed three times in a row.
    pub async fn provisioned_concurrency_config(
        &self,
        function: &str,
        qualifier: &str,
    ) -> Result<ProvisionedConcurrency, ControlError> {
        let f = self.function(function)?;
        Ok(get(&f, qualifier).await?)
    }

    /// Removes the provisioned concurrency configuration of `qualifier` of `function`, as
    /// `DeleteProvisionedConcurrencyConfig` does: the extra environments become on-demand
    /// ones (idle ones stop at once).
    pub fn delete_provisioned_concurrency_config(
        &self,
        function: &str,
        qualifier: &str,
    ) -> Result<(), ControlError> {
        let f = self.function(function)?;
        delete(&f, qualifier)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_read_as_lambda_writes_them() {
        assert_eq!(
            ProvisionedError::TooFew(0).to_string(),
            "1 validation error detected: Value '0' at 'provisionedConcurrentExecutions' failed \
             to satisfy constraint: Member must have value greater than or equal to 1"
        );
        assert_eq!(
            ProvisionedError::Concurrency(ProvisioningError::BelowUnreservedMinimum {
                minimum: 100
            })
            .to_string(),
            "Specified ConcurrentExecutions for function decreases account's \
             UnreservedConcurrentExecution below its minimum value of [100]."
        );
    }

    #[test]
    fn a_failed_configuration_reads_as_lambda_writes_it() {
        assert_eq!(ProvisionedStatus::Failed.as_str(), "FAILED");
        assert_eq!(INIT_FAILURE_REASON, "FUNCTION_ERROR_INIT_FAILURE");
        let refused = AliasError::ProvisionedOnUnpublished {
            alias: "live".into(),
        };
        assert!(refused.to_string().starts_with(
            "Alias live has a Provisioned Concurrency Config and cannot point to $LATEST"
        ));
    }
}
