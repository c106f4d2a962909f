//! A function's aliases at run time: those declared in the configuration, then changed by
//! the control plane (`CreateAlias`, `UpdateAlias`, `DeleteAlias`) or the library. Changes
//! live in memory until the emulator stops, as the versions they name are fixed.
//!
//! The aliases sit behind a `std` read-write lock: an invoke through an alias reads it once
//! to pick a version, a control-plane write replaces an entry. The lock is held only for a
//! map lookup or change, never across an `.await`, and nothing that can panic runs under it.
//! A change of an existing alias holds the provisioned concurrency configurations still
//! around it (taken first, as `provisioned` does): an alias that has one may not name
//! `$LATEST`, and its environments follow it.

use std::collections::BTreeMap;
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::config::AliasConfig;
use crate::config::{check_alias, check_description, AliasRuleError};
use crate::versions::Function;

pub use crate::config::MAX_DESCRIPTION;

/// An alias as the control plane shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Alias {
    /// The version it names and its routing.
    pub config: AliasConfig,
    /// Its description (empty unless set through the API).
    pub description: String,
    /// Changes with every update; `UpdateAlias` may require it to match.
    pub revision_id: String,
}

impl Alias {
    fn new(config: AliasConfig, description: String) -> Self {
        Self {
            config,
            description,
            revision_id: crate::ids::request_id(),
        }
    }
}

/// The fields an `UpdateAlias` changes; `None` keeps the alias's value.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AliasUpdate {
    /// The version the alias names.
    pub version: Option<String>,
    /// Its description.
    pub description: Option<String>,
    /// Its routing (`Some` of an empty map removes it).
    pub additional_version_weights: Option<BTreeMap<String, f64>>,
    /// When given, the update is refused unless the alias's revision id is this one.
    pub revision_id: Option<String>,
}

/// Why an alias cannot be created, changed or read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AliasError {
    /// `CreateAlias` of a name the function already has.
    #[error("Alias already exists: {arn}")]
    Exists {
        /// The alias's ARN.
        arn: String,
    },
    /// The function has no alias by that name.
    #[error("Cannot find alias arn: {arn}")]
    NotFound {
        /// The alias's ARN.
        arn: String,
    },
    /// The alias would name a version the function does not have.
    #[error("Function not found: {arn}")]
    UnknownVersion {
        /// The version's ARN.
        arn: String,
    },
    /// The alias breaks one of Lambda's rules.
    #[error("{0}")]
    Invalid(String),
    /// `UpdateAlias` with a revision id that is no longer the alias's.
    #[error(
        "The Revision Id provided does not match the latest Revision Id. Call the GetAlias \
         API to retrieve the latest Revision Id"
    )]
    RevisionMismatch,
    /// Pointing an alias that has a provisioned concurrency configuration at `$LATEST`
    /// (Firebox's text: Lambda's is not documented).
    #[error(
        "Alias {alias} has a Provisioned Concurrency Config and cannot point to $LATEST, an \
         unpublished function version. Delete the Provisioned Concurrency Config first."
    )]
    ProvisionedOnUnpublished {
        /// The alias's name.
        alias: String,
    },
}

/// A function's aliases, by name.
#[derive(Debug, Default)]
pub(crate) struct Aliases {
    by_name: RwLock<BTreeMap<String, Alias>>,
}

impl Aliases {
    /// The aliases declared in the configuration (already checked).
    pub fn new(declared: BTreeMap<String, AliasConfig>) -> Self {
        let by_name = declared
            .into_iter()
            .map(|(name, config)| (name, Alias::new(config, String::new())))
            .collect();
        Self {
            by_name: RwLock::new(by_name),
        }
    }

    // A poisoned lock still guards a whole map: nothing that can panic runs while it is held.
    fn read(&self) -> RwLockReadGuard<'_, BTreeMap<String, Alias>> {
        self.by_name.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, BTreeMap<String, Alias>> {
        self.by_name.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Calls `f` with the version alias `name` picks for one invocation (by its weights,
    /// given a uniform draw in [0, 1)), if the alias exists.
    pub fn pick<R>(&self, name: &str, draw: f64, f: impl FnOnce(&str) -> R) -> Option<R> {
        let by_name = self.read();
        by_name.get(name).map(|a| f(a.config.pick(draw)))
    }

    /// The alias called `name`.
    pub fn get(&self, name: &str) -> Option<Alias> {
        let by_name = self.read();
        by_name.get(name).cloned()
    }

    /// Runs `f` while alias `name` exists and cannot be changed or deleted; `None` (without
    /// running `f`) when there is no such alias.
    pub fn while_present<R>(&self, name: &str, f: impl FnOnce() -> R) -> Option<R> {
        let by_name = self.read();
        by_name.contains_key(name).then(f)
    }

    /// Runs `f` while no alias can change, unless an alias routes to `version`: then returns
    /// those aliases' names. (`f` may read or write the function's versions: the versions' lock
    /// may be taken while this one is held.)
    pub fn unless_routed_to<R>(
        &self,
        version: &str,
        f: impl FnOnce() -> R,
    ) -> Result<R, Vec<String>> {
        let by_name = self.write();
        let routed: Vec<String> = by_name
            .iter()
            .filter(|(_, a)| {
                a.config.version == version
                    || a.config.additional_version_weights.contains_key(version)
            })
            .map(|(n, _)| n.clone())
            .collect();
        if routed.is_empty() {
            Ok(f())
        } else {
            Err(routed)
        }
    }

    /// Every alias, by name.
    pub fn all(&self) -> Vec<(String, Alias)> {
        let by_name = self.read();
        by_name
            .iter()
            .map(|(n, a)| (n.clone(), a.clone()))
            .collect()
    }
}

impl Function {
    /// Adds alias `name` (`CreateAlias`).
    pub fn create_alias(
        &self,
        name: &str,
        config: AliasConfig,
        description: String,
    ) -> Result<Alias, AliasError> {
        self.check(name, &config, &description)?;
        let mut by_name = self.aliases.write();
        if by_name.contains_key(name) {
            return Err(AliasError::Exists {
                arn: self.arn_of(name),
            });
        }
        let alias = Alias::new(config, description);
        by_name.insert(name.to_owned(), alias.clone());
        Ok(alias)
    }

    /// Changes alias `name` (`UpdateAlias`): the fields `update` gives, checked as a whole.
    pub fn update_alias(&self, name: &str, update: AliasUpdate) -> Result<Alias, AliasError> {
        let provisioned = self.provisioned.alias_change();
        let mut by_name = self.aliases.write();
        let current = by_name.get(name).ok_or_else(|| AliasError::NotFound {
            arn: self.arn_of(name),
        })?;
        if update
            .revision_id
            .as_ref()
            .is_some_and(|r| *r != current.revision_id)
        {
            return Err(AliasError::RevisionMismatch);
        }
        let mut config = current.config.clone();
        if let Some(version) = update.version {
            config.version = version;
        }
        if let Some(weights) = update.additional_version_weights {
            config.additional_version_weights = weights;
        }
        let description = update
            .description
            .unwrap_or_else(|| current.description.clone());
        self.check(name, &config, &description)?;
        provisioned.check(name, &config)?;
        let alias = Alias::new(config, description);
        let before = by_name.insert(name.to_owned(), alias.clone());
        drop(by_name);
        // Its provisioned concurrency follows it to the version it names now.
        provisioned.apply(self, name, before.as_ref().map(|a| &a.config));
        Ok(alias)
    }

    /// Creates alias `name`, or points it at `config`'s version and routing (keeping its
    /// description), in one step.
    pub fn put_alias(&self, name: &str, config: AliasConfig) -> Result<Alias, AliasError> {
        let provisioned = self.provisioned.alias_change();
        let mut by_name = self.aliases.write();
        let description = by_name
            .get(name)
            .map(|a| a.description.clone())
            .unwrap_or_default();
        self.check(name, &config, &description)?;
        provisioned.check(name, &config)?;
        let alias = Alias::new(config, description);
        let before = by_name.insert(name.to_owned(), alias.clone());
        drop(by_name);
        provisioned.apply(self, name, before.as_ref().map(|a| &a.config));
        Ok(alias)
    }

    /// Removes alias `name` (`DeleteAlias`), with its asynchronous-invocation and provisioned
    /// concurrency configurations and its resource-based policy; whether it existed.
    pub fn delete_alias(&self, name: &str) -> bool {
        let existed = {
            let mut by_name = self.aliases.write();
            self.event_invoke.remove(name);
            self.policy.remove(name);
            self.urls.remove(name); // and its function URL, if it has one
            by_name.remove(name).is_some()
        };
        // After the aliases' lock is released: this store takes it (see `provisioned`).
        self.provisioned.remove(self, name);
        existed
    }

    /// The ARN of alias (or version) `qualifier` of this function.
    pub fn arn_of(&self, qualifier: &str) -> String {
        self.latest().config.qualified_arn(qualifier)
    }

    fn check(&self, name: &str, config: &AliasConfig, description: &str) -> Result<(), AliasError> {
        check_description(description)
            .map_err(|(_, message)| AliasError::Invalid(format!("the description {message}")))?;
        let published = |v: &str| self.is_published(v);
        check_alias(&self.latest().config.name, name, config, published).map_err(|e| match e {
            AliasRuleError::UnknownVersion { version, .. } => AliasError::UnknownVersion {
                arn: self.arn_of(&version),
            },
            AliasRuleError::Invalid(message) => AliasError::Invalid(message),
        })
    }
}
