//! Changes to a function's settings and versions while the emulator runs, in memory until it
//! stops: `UpdateFunctionConfiguration` ([`FunctionUpdate`]) and `PublishVersion`.
//!
//! Settings never change under a running scheduler. An update starts a new scheduler with the
//! new settings and puts it in place of `$LATEST`; the old one retires its environments (idle
//! ones at once, busy ones once their invocations are answered) and ends. So, as on Lambda,
//! every invocation that starts after the update returns runs in an environment started with
//! the new settings, and none is lost or cut short by it. A publish starts a scheduler for
//! the new version with `$LATEST`'s settings of the moment, running a copy of its code on
//! disk ([`crate::snapshot`]). New layers are resolved into `$LATEST`'s settings like any
//! other setting (see [`crate::layer_versions`]).

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, MutexGuard, PoisonError};
use std::time::Duration;

use crate::code_size::{CombinedSizeError, Measured};
use crate::config::{check_description, FunctionConfig, LoggingConfig, LoggingUpdate};
use crate::layer_versions::LayerRefError;
use crate::package::CodePackage;
use crate::scheduler::FunctionShared;
use crate::snapshot::{Snapshot, SnapshotError, SnapshotPlan};
use crate::versions::{Function, LastPublished, PublishedCode};

/// The settings an `UpdateFunctionConfiguration` changes; a field left `None` keeps its value.
///
/// ```
/// use std::time::Duration;
/// use firebox_emulator::FunctionUpdate;
/// let update = FunctionUpdate {
///     timeout: Some(Duration::from_secs(10)),
///     environment: Some([("STAGE".to_owned(), "beta".to_owned())].into()),
///     ..FunctionUpdate::default()
/// };
/// assert!(update.memory_mb.is_none());
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FunctionUpdate {
    /// `Description`.
    pub description: Option<String>,
    /// `_HANDLER`.
    pub handler: Option<String>,
    /// Memory size in MB (128 to 10240).
    pub memory_mb: Option<u32>,
    /// Invocation timeout (1 s to 900 s).
    pub timeout: Option<Duration>,
    /// The function's variables: all of them, replacing the current ones (as Lambda's
    /// `Environment.Variables` does).
    pub environment: Option<BTreeMap<String, String>>,
    /// Log format and levels.
    pub logging: Option<LoggingConfig>,
    /// The execution role's ARN (`Role`): stored and shown; no identity is assumed here.
    pub role: Option<String>,
    /// `Layers`: layer version ARNs, in order, replacing the function's layers. An ARN the
    /// function has already keeps its layer (a layer of the configuration, or a version
    /// deleted since); any other must be a version published in this emulator.
    pub layers: Option<Vec<String>>,
    /// When given, the update is refused unless `$LATEST`'s revision id is this one.
    pub revision_id: Option<String>,
}

/// Why settings could not be changed or a version published.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SettingsError {
    /// A setting is out of Lambda's range or form.
    #[error("{field}: {message}")]
    Invalid {
        /// The setting, as `firebox.toml` names it.
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// The revision id given is no longer `$LATEST`'s.
    #[error(
        "The Revision Id provided does not match the latest Revision Id. Call the \
         GetFunction/GetFunctionConfiguration API to retrieve the latest Revision Id"
    )]
    RevisionMismatch,
    /// The function was deleted before the change could be made.
    #[error("Function not found: {arn}")]
    FunctionDeleted {
        /// The function's ARN.
        arn: String,
    },
    /// The code on disk could not be copied for the new version.
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    /// The layers named cannot be the function's.
    #[error(transparent)]
    Layers(#[from] LayerRefError),
    /// The code and the layers together would be over Lambda's unzipped limit.
    #[error(transparent)]
    CodeAndLayers(#[from] CombinedSizeError),
}

/// What a `PublishVersion` did.
#[derive(Debug)]
pub(crate) struct Publication {
    /// The version (new, or the last one when `$LATEST` did not change since).
    pub version: Arc<FunctionShared>,
    /// Whether the version is new.
    pub created: bool,
}

impl Function {
    /// `UpdateFunctionConfiguration`: `$LATEST` with `update` applied, checked as a whole,
    /// replaces the current one; returns the new `$LATEST`. Nothing changes on an error.
    pub fn update_configuration(
        &self,
        update: FunctionUpdate,
    ) -> Result<Arc<FunctionShared>, SettingsError> {
        self.update_configuration_merging(update, None)
    }

    /// [`Self::update_configuration`], with `logging` (Lambda's partial `LoggingConfig`) put
    /// over the logging `$LATEST` has under the writes lock, so that two updates never merge
    /// against the same base.
    pub(crate) fn update_configuration_merging(
        &self,
        update: FunctionUpdate,
        logging: Option<LoggingUpdate>,
    ) -> Result<Arc<FunctionShared>, SettingsError> {
        let _writes = self.lock_live()?;
        let current = self.latest();
        check_revision(&current, update.revision_id.as_deref())?;
        let mut config = current.config.clone();
        if let Some(description) = update.description {
            config.description = description;
        }
        if let Some(handler) = update.handler {
            config.handler = Some(handler);
            // A managed runtime's command names the handler.
            config.derive_command();
        }
        if let Some(mb) = update.memory_mb {
            config.memory_mb = mb;
        }
        if let Some(timeout) = update.timeout {
            config.timeout = timeout;
        }
        if let Some(environment) = update.environment {
            config.environment = environment;
        }
        if let Some(logging) = update.logging {
            config.logging = logging;
        }
        if let Some(role) = update.role {
            config.role = Some(role);
        }
        if let Some(arns) = &update.layers {
            let layers = self.launcher.layers.for_function(
                arns,
                &config.resolved_layers,
                &config.region,
                &config.account_id,
            )?;
            config.set_layers(layers).map_err(invalid)?;
            // With the code `$LATEST` runs (code on disk measured now).
            crate::code_size::check_function(&config)?;
        }
        if let Some(patch) = logging {
            config.logging = config.logging.merged(patch);
        }
        config.check_settings().map_err(invalid)?;
        Ok(self.start_latest(&current, config))
    }

    /// `UpdateFunctionCode`: `$LATEST` runs `package` from now on, with the same settings;
    /// returns the new `$LATEST`. Only for a function launched from its code directory (see
    /// `Launch::runs_package`, checked by the caller). A package with the `CodeSha256` that
    /// `$LATEST` runs already changes nothing (no new environments, and a publish after it
    /// returns the last version): `$LATEST` is returned as it is, and the caller drops the
    /// new package. A package that with `$LATEST`'s layers is over Lambda's limit of code and
    /// layers together is refused.
    pub(crate) fn update_code(
        &self,
        package: Arc<CodePackage>,
        revision_id: Option<&str>,
    ) -> Result<Arc<FunctionShared>, SettingsError> {
        let _writes = self.lock_live()?;
        let current = self.latest();
        check_revision(&current, revision_id)?;
        check_code(&current.config, &package)?;
        if current
            .config
            .package
            .as_ref()
            .is_some_and(|p| p.sha256 == package.sha256)
        {
            return Ok(current);
        }
        let mut config = current.config.clone();
        config.code_dir = Some(package.dir.clone());
        config.code_dir_given = true;
        // An unpacked package never changes: nothing to watch.
        config.reload = false;
        config.package = Some(package);
        config.derive_command();
        Ok(self.start_latest(&current, config))
    }

    /// Starts a scheduler for `config` and puts it in place of `$LATEST` (`current`), which
    /// retires. Called with the writes lock held.
    fn start_latest(
        &self,
        current: &FunctionShared,
        config: FunctionConfig,
    ) -> Arc<FunctionShared> {
        let log = current.log.with_logging(&config.logging);
        let latest = self.launcher.start(config, log);
        let old = self.replace_latest(latest.clone());
        crate::functions::retire(&old);
        latest
    }

    /// `PublishVersion`: `$LATEST`'s settings of the moment as the next version number, with
    /// its own `description`, running a copy of `$LATEST`'s code on disk (see
    /// [`crate::snapshot`]). While `$LATEST` (its settings and its code) has not changed since
    /// the last publish, that version is returned instead, as Lambda does.
    ///
    /// The code is copied first, off the runtime's threads and without the writes lock: the
    /// copy's digest is what tells whether the files changed (an unneeded copy is removed). A
    /// publish that overlaps a change of `$LATEST` publishes `$LATEST` as it was when the
    /// publish began; with a `revision_id`, it is refused unless `$LATEST` is still that one.
    pub(crate) async fn publish_version(
        &self,
        description: Option<String>,
        revision_id: Option<&str>,
    ) -> Result<Publication, SettingsError> {
        if let Some(description) = &description {
            check_description(description).map_err(invalid)?;
        }
        let latest = {
            let _writes = self.lock_live()?;
            let latest = self.latest();
            check_revision(&latest, revision_id)?;
            latest
        };
        let snapshot = match SnapshotPlan::of(&latest.config) {
            Some(plan) => Some(plan.take(&self.launcher.store, &latest.config.name).await?),
            None => None,
        };
        self.publish_from(&latest, snapshot, description, revision_id)
    }

    /// Publishes `latest` running `snapshot` (its code copied), unless nothing changed since
    /// the last publish; under the writes lock.
    fn publish_from(
        &self,
        latest: &FunctionShared,
        snapshot: Option<Snapshot>,
        description: Option<String>,
        revision_id: Option<&str>,
    ) -> Result<Publication, SettingsError> {
        let mut writes = self.lock_live()?;
        check_revision(&self.latest(), revision_id)?;
        let code = match &snapshot {
            Some(copied) => PublishedCode::Copied(copied.digest),
            None => PublishedCode::Generation(latest.code_generation.load(Ordering::Acquire)),
        };
        let unchanged = writes
            .as_ref()
            .filter(|last| last.revision_id == latest.revision_id && last.code == code);
        if let Some(version) = unchanged.and_then(|last| self.version(&last.version)) {
            // The copy, if one was made, is dropped, and with it its directory.
            return Ok(Publication {
                version,
                created: false,
            });
        }
        let mut config = latest.config.clone();
        config.version = (self.highest_version() + 1).to_string();
        // Provisioned concurrency is configured per version, never copied.
        config.provisioned_concurrency = 0;
        config.versions.clear();
        if let Some(description) = description {
            config.description = description;
        }
        if let Some(copied) = snapshot {
            Arc::new(copied).apply(&mut config);
        }
        config.check_settings().map_err(invalid)?;
        let version = self.launcher.start(config, latest.log.clone());
        self.add_version(version.clone());
        *writes = Some(LastPublished {
            version: version.config.version().to_owned(),
            revision_id: latest.revision_id.clone(),
            code,
        });
        Ok(Publication {
            version,
            created: true,
        })
    }

    pub(crate) fn lock_writes(&self) -> MutexGuard<'_, Option<LastPublished>> {
        // A poisoned lock still holds a whole value: nothing that can panic runs under it.
        self.writes.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The writes lock of a function that has not been deleted (a delete marks it under the
    /// same lock, so no change starts a scheduler for a deleted function).
    fn lock_live(&self) -> Result<MutexGuard<'_, Option<LastPublished>>, SettingsError> {
        let writes = self.lock_writes();
        if self.deleted.load(Ordering::Acquire) {
            return Err(SettingsError::FunctionDeleted {
                arn: self.latest().config.arn(),
            });
        }
        Ok(writes)
    }
}

fn check_revision(latest: &FunctionShared, revision_id: Option<&str>) -> Result<(), SettingsError> {
    match revision_id {
        Some(r) if r != latest.revision_id => Err(SettingsError::RevisionMismatch),
        _ => Ok(()),
    }
}

/// Checks that `package`, in place of `config`'s code, fits with its layers under Lambda's
/// limit of code and layers together.
pub(crate) fn check_code(
    config: &FunctionConfig,
    package: &CodePackage,
) -> Result<(), CombinedSizeError> {
    let code = Measured::exact(package.unzipped);
    crate::code_size::check(code, &config.resolved_layers).map(|_| ())
}

fn invalid((field, message): (&'static str, String)) -> SettingsError {
    SettingsError::Invalid {
        field: field.to_owned(),
        message,
    }
}
