//! The layer versions published through the control plane (`PublishLayerVersion`), in the
//! emulator's region and account, as `GetLayerVersion`, `ListLayers`, `ListLayerVersions`,
//! `DeleteLayerVersion` and the layer permission calls see and change them; and the layers a
//! function names by ARN (`CreateFunction`, `UpdateFunctionConfiguration`), resolved here.
//!
//! Each layer name has its versions, numbered from 1 and never reused (a deleted version's
//! number is not given again), each with its `.zip` unpacked into the package store when it
//! was published, and each with its resource-based policy (stored and shown, not enforced).
//! A function that uses a version holds its unpacked files: deleting the version takes it
//! out of the lists, and the function keeps running it, as Lambda's functions keep their copy.
//!
//! The layers of the configuration are there too, each as version 1 of its name (see
//! `declared`), so that every layer ARN a function shows can be read back and named by
//! other functions; versions published under such a name count from 2.
//!
//! The map sits behind a `std` mutex, held only to read or change it; the policies' lock is
//! taken under it (never the reverse), and no other lock is.

mod declared;
mod info;
mod names;
mod refs;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bytes::Bytes;

pub(crate) use declared::unpack_declared;
pub use info::LayerVersionInfo;
pub(crate) use info::{check_architecture, check_runtime};
pub(crate) use names::{layer_ref, version_arn, version_number, LayerRef, VERSION_ARN_PATTERN};
pub use refs::LayerRefError;

use crate::config::layers::{Layer, LayerSource};
use crate::config::FunctionConfig;
use crate::package::{off_the_workers, LayerPackage, PackageError, PackageStore};
use crate::policy::{Permission, Policies, Policy, PolicyError, Statement};

/// One published layer version.
#[derive(Debug)]
pub struct LayerVersion {
    /// The layer's name.
    pub name: String,
    /// Its number.
    pub version: u64,
    /// `LayerArn`.
    pub layer_arn: String,
    /// `CreatedDate` (`2024-01-31T12:34:56.789+0000`).
    pub created_date: String,
    /// What the publisher said about it.
    pub info: LayerVersionInfo,
    /// The layer as functions that name it get it: its unpacked `.zip`, or a directory of
    /// the configuration.
    pub(crate) layer: Layer,
}

impl LayerVersion {
    /// `LayerVersionArn`.
    pub fn arn(&self) -> String {
        format!("{}:{}", self.layer_arn, self.version)
    }

    /// `Content.CodeSha256`: the base64 SHA-256 of the `.zip` (a directory of the
    /// configuration has none).
    pub fn code_sha256(&self) -> Option<&str> {
        match &self.layer.source {
            LayerSource::Unpacked(package) | LayerSource::Published { package, .. } => {
                Some(&package.sha256)
            }
            LayerSource::Directory | LayerSource::Zip { .. } => None,
        }
    }

    /// `Content.CodeSize`: the `.zip`'s size in bytes (a directory's: its files').
    pub fn code_size(&self) -> u64 {
        self.layer.size
    }

    /// Whether the version matches the lists' filters (each, when given, must be among the
    /// version's compatible ones).
    pub fn matches(&self, runtime: Option<&str>, architecture: Option<&str>) -> bool {
        let has = |list: &[String], wanted: Option<&str>| {
            wanted.is_none_or(|w| list.iter().any(|x| x == w))
        };
        has(&self.info.compatible_runtimes, runtime)
            && has(&self.info.compatible_architectures, architecture)
    }
}

/// Why a layer version could not be published, read or shared.
#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    /// Fields that break Lambda's lengths or patterns, each as Lambda says it.
    #[error("{} validation error{} detected: {}", .0.len(), if .0.len() == 1 { "" } else { "s" }, .0.join("; "))]
    Invalid(Vec<String>),
    /// The layer or version does not exist (here).
    #[error("The resource you requested does not exist.")]
    NotFound,
    /// A layer of another region or account: nothing outside the emulator is reachable.
    #[error(
        "firebox holds the layers of account {account} in region {region}; `{named}` is not \
         one of them (nothing else is reachable here)"
    )]
    Elsewhere {
        /// The layer as named.
        named: String,
        /// The emulator's region.
        region: String,
        /// The emulator's account.
        account: String,
    },
    /// The `.zip` could not be unpacked.
    #[error(transparent)]
    Package(#[from] PackageError),
    /// The version's policy could not be read or changed.
    #[error(transparent)]
    Policy(#[from] PolicyError),
}

/// The versions of one layer name.
#[derive(Debug, Default)]
struct Entry {
    /// The highest number given so far (0: none).
    last: u64,
    /// The versions not deleted, by number.
    versions: BTreeMap<u64, Arc<LayerVersion>>,
    /// Each version's policy, by its number as text.
    policies: Policies,
}

/// Every layer published in the emulator's region and account.
#[derive(Debug)]
pub struct LayerVersions {
    region: String,
    account: String,
    layers: Mutex<BTreeMap<String, Entry>>,
}

impl LayerVersions {
    /// The layers of `functions` (validated, their `.zip` layers unpacked) in `region` of
    /// `account`, each as version 1 of its name; none published yet.
    pub(crate) fn new(region: &str, account: &str, functions: &[FunctionConfig]) -> Self {
        let versions = Self {
            region: region.to_owned(),
            account: account.to_owned(),
            layers: Mutex::new(BTreeMap::new()),
        };
        versions.declare(functions);
        versions
    }

    /// The region layers are published in.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The account layers are published in.
    pub fn account(&self) -> &str {
        &self.account
    }

    /// The name of the layer `named` names, when it is one of this emulator's (a bare name,
    /// or an ARN of its region and account).
    pub(crate) fn local_name(&self, named: &LayerRef, raw: &str) -> Result<String, LayerError> {
        let elsewhere = named.region.as_ref().is_some_and(|r| *r != self.region)
            || named.account.as_ref().is_some_and(|a| *a != self.account);
        if elsewhere {
            return Err(LayerError::Elsewhere {
                named: raw.to_owned(),
                region: self.region.clone(),
                account: self.account.clone(),
            });
        }
        Ok(named.name.clone())
    }

    /// `PublishLayerVersion`: checks the name (or the ARN of a layer of this emulator) and
    /// `info`, unpacks `zip` into `packages` off the async workers, and publishes it as the
    /// layer's next version. Nothing is published on an error.
    pub(crate) async fn publish_zip(
        &self,
        packages: &Arc<PackageStore>,
        raw_name: &str,
        info: LayerVersionInfo,
        zip: Bytes,
    ) -> Result<Arc<LayerVersion>, LayerError> {
        let name = self.local_name(&layer_ref(raw_name)?, raw_name)?;
        let violations = info.check();
        if !violations.is_empty() {
            return Err(LayerError::Invalid(violations));
        }
        let store = packages.clone();
        let dir_name = name.clone();
        let package = off_the_workers(move || store.unpack_layer(&dir_name, &zip)).await?;
        Ok(self.publish(&name, info, package))
    }

    /// Publishes `package` as the next version of layer `name`; the version.
    pub(crate) fn publish(
        &self,
        name: &str,
        info: LayerVersionInfo,
        package: Arc<LayerPackage>,
    ) -> Arc<LayerVersion> {
        let mut layers = self.lock();
        let entry = layers.entry(name.to_owned()).or_default();
        entry.last += 1;
        let layer_arn = self.layer_arn(name);
        let version_arn = format!("{layer_arn}:{}", entry.last);
        let version = Arc::new(LayerVersion {
            name: name.to_owned(),
            version: entry.last,
            layer_arn,
            created_date: crate::ids::lambda_timestamp(),
            info,
            layer: Layer {
                dir: package.dir.clone(),
                name: name.to_owned(),
                size: package.size,
                unzipped: package.unzipped,
                source: LayerSource::Published {
                    arn: version_arn,
                    package,
                },
            },
        });
        entry.versions.insert(version.version, version.clone());
        version
    }

    /// `LayerArn` of layer `name`.
    fn layer_arn(&self, name: &str) -> String {
        format!(
            "arn:aws:lambda:{}:{}:layer:{name}",
            self.region, self.account
        )
    }

    /// Version `version` of layer `name`.
    pub fn get(&self, name: &str, version: u64) -> Option<Arc<LayerVersion>> {
        self.lock()
            .get(name)
            .and_then(|l| l.versions.get(&version))
            .cloned()
    }

    /// The versions of layer `name` that match the filters, newest first.
    pub fn versions(
        &self,
        name: &str,
        runtime: Option<&str>,
        architecture: Option<&str>,
    ) -> Vec<Arc<LayerVersion>> {
        self.lock().get(name).map_or_else(Vec::new, |l| {
            l.versions
                .values()
                .rev()
                .filter(|v| v.matches(runtime, architecture))
                .cloned()
                .collect()
        })
    }

    /// The newest version of each layer that matches the filters, by layer name (layers with
    /// none are left out).
    pub fn latest(
        &self,
        runtime: Option<&str>,
        architecture: Option<&str>,
    ) -> Vec<Arc<LayerVersion>> {
        self.lock()
            .values()
            .filter_map(|l| {
                l.versions
                    .values()
                    .rev()
                    .find(|v| v.matches(runtime, architecture))
                    .cloned()
            })
            .collect()
    }

    /// The bytes of every version's `.zip` (a directory's files), for the account's
    /// `TotalCodeSize`.
    pub fn total_code_size(&self) -> u64 {
        self.lock()
            .values()
            .flat_map(|l| l.versions.values())
            .map(|v| v.code_size())
            .sum()
    }

    /// Deletes version `version` of layer `name` with its policy; whether it existed. Its
    /// number is not given again, and functions that use it keep their copy.
    pub fn delete(&self, name: &str, version: u64) -> bool {
        let mut layers = self.lock();
        let Some(layer) = layers.get_mut(name) else {
            return false;
        };
        layer.policies.remove(&version.to_string());
        layer.versions.remove(&version).is_some()
    }

    /// `AddLayerVersionPermission`: adds the statement `permission` makes to the policy of
    /// version `version` of layer `name`; the statement and the policy's new revision.
    pub(crate) fn add_permission(
        &self,
        name: &str,
        version: u64,
        permission: &Permission,
    ) -> Result<(Statement, String), LayerError> {
        let layers = self.lock();
        let (found, layer) = Self::found(&layers, name, version)?;
        let statement = crate::policy::layer_statement(permission, found.arn())?;
        let key = version.to_string();
        layer
            .policies
            .add(&key, statement.clone(), permission.revision_id.as_deref())?;
        let revision = layer
            .policies
            .get(&key)
            .map(|p| p.revision_id)
            .unwrap_or_default();
        Ok((statement, revision))
    }

    /// `GetLayerVersionPolicy` of version `version` of layer `name`.
    pub(crate) fn policy(&self, name: &str, version: u64) -> Result<Policy, LayerError> {
        let layers = self.lock();
        let (_, layer) = Self::found(&layers, name, version)?;
        let policy = layer.policies.get(&version.to_string());
        Ok(policy.ok_or(PolicyError::NoPolicy)?)
    }

    /// `RemoveLayerVersionPermission`: removes statement `sid` from the policy of version
    /// `version` of layer `name`, unless `revision_id` is given and not the policy's.
    pub(crate) fn remove_permission(
        &self,
        name: &str,
        version: u64,
        sid: &str,
        revision_id: Option<&str>,
    ) -> Result<(), LayerError> {
        crate::policy::check_removal(sid)?;
        let layers = self.lock();
        let (_, layer) = Self::found(&layers, name, version)?;
        layer
            .policies
            .remove_statement(&version.to_string(), sid, revision_id)?;
        Ok(())
    }

    /// Version `version` of layer `name` and its layer, from the locked map.
    fn found<'a>(
        layers: &'a BTreeMap<String, Entry>,
        name: &str,
        version: u64,
    ) -> Result<(&'a Arc<LayerVersion>, &'a Entry), LayerError> {
        let layer = layers.get(name).ok_or(LayerError::NotFound)?;
        let found = layer.versions.get(&version).ok_or(LayerError::NotFound)?;
        Ok((found, layer))
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, Entry>> {
        // Poisoned only by a panic inside a map operation; the map is whole.
        self.layers.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests;
