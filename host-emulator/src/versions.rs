//! A function at run time: the scheduler of `$LATEST` and of each published version, and the
//! aliases an invoke's qualifier is resolved against. Each version has environments of its
//! own (as on Lambda, where an alias shares the environments of the version it names); all
//! share the function's concurrency, counters and log.
//!
//! `$LATEST` and the set of versions change through the control plane (see [`crate::settings`]):
//! an `UpdateFunctionConfiguration` puts a new `$LATEST` (a new scheduler) in place of the old
//! one, a `PublishVersion` adds one. A version's settings never change once its scheduler runs,
//! so whatever holds an `Arc<FunctionShared>` sees one consistent set of them.
//!
//! Both sit behind `std` read-write locks: an invoke reads one to clone an `Arc`, a write
//! replaces an entry. The locks are held only for that, never across an `.await`, and nothing
//! that can panic runs under them. No lock is taken while `latest` is held; `versions` may be
//! read while the aliases' lock is held (an alias resolved or checked), never the reverse; the
//! same holds for the URLs' lock (a URL made on an alias, or removed with it).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use crate::aliases::Aliases;
use crate::config::LATEST;
use crate::scheduler::{FunctionShared, Launcher};

/// One function's versions and aliases.
#[derive(Debug)]
pub(crate) struct Function {
    /// `$LATEST`.
    latest: RwLock<Arc<FunctionShared>>,
    /// The published versions, by number.
    versions: RwLock<BTreeMap<String, Arc<FunctionShared>>>,
    /// The aliases, by name.
    pub aliases: Aliases,
    /// Starts the scheduler of a new `$LATEST` or a new version.
    pub(crate) launcher: Launcher,
    /// Held through each change of `$LATEST` or of the versions, so that the changes of one
    /// function happen one after the other; holds what the last `PublishVersion` published.
    pub(crate) writes: Mutex<Option<LastPublished>>,
    /// The highest version number ever given: a deleted version's number is not reused.
    highest: AtomicU64,
    /// Set (under `writes`) when the function is deleted: no change is made after it.
    pub(crate) deleted: AtomicBool,
    /// The function's URLs, one per qualifier that has one.
    pub(crate) urls: crate::url::Urls,
    /// Their request rate (10 × the reserved concurrency per second).
    pub(crate) url_rate: crate::url::UrlRate,
    /// The asynchronous-invocation configuration of each qualifier that has one.
    pub(crate) event_invoke: crate::event_invoke::EventInvokeConfigs,
    /// The function's tags.
    pub(crate) tags: crate::tags::Tags,
    /// The provisioned concurrency configuration of each version or alias that has one.
    pub(crate) provisioned: crate::provisioned::ProvisionedConfigs,
    /// The resource-based policy of each qualifier that has one.
    pub(crate) policy: crate::policy::Policies,
    /// The settings that are stored and shown only (runtime management, recursive loops).
    pub(crate) stored: crate::stored_settings::StoredSettings,
}

/// A qualifier the function does not have, with its ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum UnknownQualifier {
    /// A version number that is not published.
    Version(String),
    /// A name that is not one of its aliases.
    Alias(String),
}

/// What `PublishVersion` last published, to publish no new version while `$LATEST` is the
/// same (Lambda's rule).
#[derive(Debug, Clone)]
pub(crate) struct LastPublished {
    /// The version.
    pub version: String,
    /// The revision of `$LATEST`'s settings it was made from.
    pub revision_id: String,
    /// `$LATEST`'s code then.
    pub code: PublishedCode,
}

/// What tells whether `$LATEST`'s code changed since a publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PublishedCode {
    /// The digest of the copy of its code on disk the version runs (see [`crate::snapshot`]):
    /// the same files, with the same modes, have the same digest, whenever they were written.
    Copied([u8; 32]),
    /// Nothing was copied (an uploaded package, which a code update replaces with a new
    /// `$LATEST`, or a program found on `PATH`): `$LATEST`'s code generation, which the
    /// scheduler bumps when the files it watches change.
    Generation(u64),
}

impl Function {
    /// A function running `latest` and the `versions` declared in its configuration.
    pub fn new(
        latest: Arc<FunctionShared>,
        versions: BTreeMap<String, Arc<FunctionShared>>,
        aliases: Aliases,
        launcher: Launcher,
        event_invoke: crate::event_invoke::EventInvokeConfigs,
    ) -> Self {
        let highest = versions
            .keys()
            .filter_map(|v| v.parse::<u64>().ok())
            .max()
            .unwrap_or(0);
        let urls = crate::url::Urls::new(latest.config.declared_urls());
        let tags = crate::tags::Tags::new(latest.config.tags.clone());
        let provisioned = crate::provisioned::ProvisionedConfigs::declared(
            latest.config.provisioned_concurrency,
            versions.values().map(|v| &**v),
        );
        Self {
            urls,
            url_rate: crate::url::UrlRate::default(),
            latest: RwLock::new(latest),
            versions: RwLock::new(versions),
            aliases,
            launcher,
            writes: Mutex::new(None),
            highest: AtomicU64::new(highest),
            deleted: AtomicBool::new(false),
            event_invoke,
            tags,
            provisioned,
            policy: crate::policy::Policies::default(),
            stored: crate::stored_settings::StoredSettings::default(),
        }
    }

    /// The version an invocation with this qualifier runs (a version number, an alias, or
    /// `$LATEST`; none means `$LATEST`). An alias that routes to two versions picks one at
    /// random by their weights, per invocation, as Lambda does.
    pub fn resolve(&self, qualifier: Option<&str>) -> Option<Arc<FunctionShared>> {
        let qualifier = qualifier.unwrap_or(LATEST);
        if let Some(version) = self.version(qualifier) {
            return Some(version);
        }
        self.aliases
            .pick(qualifier, fastrand::f64(), |version| self.version(version))
            .flatten()
    }

    /// The function's concurrency and counters, shared by all its versions.
    pub fn capacity(&self) -> &Arc<crate::scheduler::capacity::Capacity> {
        &self.launcher.capacity
    }

    /// `$LATEST` now.
    pub fn latest(&self) -> Arc<FunctionShared> {
        self.latest
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// `$LATEST` or a published version, by its name (not an alias).
    pub fn version(&self, version: &str) -> Option<Arc<FunctionShared>> {
        if version == LATEST {
            Some(self.latest())
        } else {
            self.versions
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .get(version)
                .cloned()
        }
    }

    /// Checks that `qualifier` is `$LATEST`, a published version or an alias of the function.
    pub fn check_qualifier(&self, qualifier: &str) -> Result<(), UnknownQualifier> {
        if qualifier == LATEST {
            Ok(())
        } else if crate::config::is_version_number(qualifier) {
            match self.is_published(qualifier) {
                true => Ok(()),
                false => Err(UnknownQualifier::Version(self.arn_of(qualifier))),
            }
        } else if self.aliases.get(qualifier).is_some() {
            Ok(())
        } else {
            Err(UnknownQualifier::Alias(self.arn_of(qualifier)))
        }
    }

    /// Whether `version` is a published version's number.
    pub fn is_published(&self, version: &str) -> bool {
        self.versions
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .contains_key(version)
    }

    /// `$LATEST`, then every published version in order.
    pub fn all(&self) -> Vec<Arc<FunctionShared>> {
        let latest = self.latest();
        let versions = self.versions.read().unwrap_or_else(PoisonError::into_inner);
        let mut all = Vec::with_capacity(versions.len() + 1);
        all.push(latest);
        // Numbers as text: order them as numbers.
        let mut published: Vec<&Arc<FunctionShared>> = versions.values().collect();
        published.sort_by_key(|v| v.config.version().parse::<u64>().unwrap_or(u64::MAX));
        all.extend(published.into_iter().cloned());
        all
    }

    /// Puts `latest` in place of `$LATEST`; returns the one it replaces.
    pub(crate) fn replace_latest(&self, latest: Arc<FunctionShared>) -> Arc<FunctionShared> {
        let mut current = self.latest.write().unwrap_or_else(PoisonError::into_inner);
        std::mem::replace(&mut *current, latest)
    }

    /// Adds a published version.
    pub(crate) fn add_version(&self, version: Arc<FunctionShared>) {
        if let Ok(n) = version.config.version().parse::<u64>() {
            self.highest.fetch_max(n, Ordering::AcqRel);
        }
        let mut versions = self
            .versions
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        versions.insert(version.config.version().to_owned(), version);
    }

    /// Removes a published version; the removed one, if there was one.
    pub(crate) fn remove_version(&self, version: &str) -> Option<Arc<FunctionShared>> {
        let mut versions = self
            .versions
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        versions.remove(version)
    }

    /// The highest version number published so far, deleted ones included (0 when none).
    pub(crate) fn highest_version(&self) -> u64 {
        self.highest.load(Ordering::Acquire)
    }
}
