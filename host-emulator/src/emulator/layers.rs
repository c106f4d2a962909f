//! The [`Emulator`]'s hold on layer versions: made when it starts (the configuration's `.zip`
//! layers unpacked, every layer of the configuration a version), and `PublishLayerVersion`
//! and `DeleteLayerVersion` from code, as the control plane does them (see
//! [`crate::layer_versions`]).

use std::sync::Arc;

use bytes::Bytes;

use super::{ControlError, Emulator};
use crate::config::{ConfigError, FunctionConfig};
use crate::deploy::DeployError;
use crate::layer_versions::{LayerVersion, LayerVersionInfo, LayerVersions};
use crate::package::PackageStore;

impl Emulator {
    /// Publishes a `.zip` as the next version of layer `name`, as `PublishLayerVersion` does
    /// (unpacked off the async workers, with a function package's limits); the version, whose
    /// [`LayerVersion::arn`] functions name in `Layers` (`CreateFunction`,
    /// [`crate::FunctionUpdate::layers`]).
    ///
    /// ```no_run
    /// # async fn demo(emu: firebox_emulator::Emulator) -> Result<(), Box<dyn std::error::Error>> {
    /// use firebox_emulator::{FunctionUpdate, LayerVersionInfo};
    /// let v = emu
    ///     .publish_layer_version("deps", std::fs::read("deps.zip")?, LayerVersionInfo::default())
    ///     .await?;
    /// emu.update_function_configuration("orders", FunctionUpdate {
    ///     layers: Some(vec![v.arn()]),
    ///     ..FunctionUpdate::default()
    /// })?;
    /// # Ok(()) }
    /// ```
    pub async fn publish_layer_version(
        &self,
        name: &str,
        zip: impl Into<Bytes>,
        info: LayerVersionInfo,
    ) -> Result<Arc<LayerVersion>, ControlError> {
        let deployment = &self.functions.deployment;
        let version = deployment
            .layers
            .publish_zip(&deployment.packages, name, info, zip.into())
            .await?;
        Ok(version)
    }

    /// Deletes version `version` of layer `name`, as `DeleteLayerVersion` does; whether it
    /// existed. Functions that use it keep running it.
    pub fn delete_layer_version(&self, name: &str, version: u64) -> bool {
        self.functions.deployment.layers.delete(name, version)
    }
}

/// Refuses a function created while the emulator runs ([`Emulator::create_function`]) with a
/// `.zip` layer: those are unpacked when the emulator starts.
pub(super) fn refuse_pending_zips(config: &FunctionConfig) -> Result<(), DeployError> {
    let Some(zip) = config.resolved_layers.iter().find(|l| l.is_pending()) else {
        return Ok(());
    };
    Err(DeployError::Invalid(ConfigError::Field {
        file: "<code>".into(),
        function: config.name.clone(),
        field: "layers".into(),
        message: format!(
            "`{}`: a .zip layer is unpacked when the emulator starts; for a function created \
             later, publish it (`publish_layer_version`) and name its ARN, or give its \
             unzipped directory",
            zip.dir.display()
        ),
    }))
}

/// The emulator's package store, with the configuration's `.zip` layers unpacked into it, and
/// its layer versions in `region` of `account`, the configuration's layers among them.
pub(super) async fn declared(
    functions: &mut [FunctionConfig],
    region: &str,
    account: &str,
) -> Result<(Arc<PackageStore>, Arc<LayerVersions>), ConfigError> {
    let packages = Arc::new(PackageStore::new());
    crate::layer_versions::unpack_declared(functions, &packages).await?;
    let layers = Arc::new(LayerVersions::new(region, account, functions));
    Ok((packages, layers))
}
