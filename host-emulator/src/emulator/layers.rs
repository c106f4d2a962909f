//! The [`Emulator`]'s hold on published layer versions: `PublishLayerVersion` and
//! `DeleteLayerVersion` from code, as the control plane does them (see
//! [`crate::layer_versions`]).

use std::sync::Arc;

use bytes::Bytes;

use super::{ControlError, Emulator};
use crate::layer_versions::{LayerVersion, LayerVersionInfo};

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
