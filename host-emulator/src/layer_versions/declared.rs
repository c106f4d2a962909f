//! The layers of the configuration. Its `.zip` layers (`layers = ["build/deps.zip"]`):
//! validation leaves them pending, and the emulator unpacks each file once into its package
//! store when it starts, off the async workers, with the limits of a function's package. From
//! then on a function runs the unpacked directory as it runs a directory layer. A `.zip` that
//! cannot be unpacked stops the start, naming the configuration file, the function and
//! `layers`.
//!
//! Then every layer of the configuration (in the emulator's region and account) becomes
//! version 1 of its name among the layer versions, as its ARN says, so that the layer APIs
//! show it and other functions can name it. Two different directories of one name (in two
//! functions) are both version 1 of that name: neither is listed, each function keeps its own.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use super::{LayerVersion, LayerVersionInfo, LayerVersions};
use crate::config::layers::{Layer, LayerSource};
use crate::config::{ConfigError, FunctionConfig};
use crate::package::{off_the_workers, LayerPackage, PackageError, PackageStore};

impl LayerVersions {
    /// Makes each layer of `functions` (and of their declared versions) in the emulator's
    /// region and account version 1 of its name; published versions of the name count from 2.
    pub(super) fn declare(&self, functions: &[FunctionConfig]) {
        let mut by_name: BTreeMap<&str, Option<&Layer>> = BTreeMap::new();
        let here = functions
            .iter()
            .flat_map(|f| std::iter::once(f).chain(f.published.iter()))
            .filter(|f| f.region == self.region && f.account_id == self.account);
        for layer in here.flat_map(|f| f.resolved_layers.iter()) {
            by_name
                .entry(&layer.name)
                .and_modify(|seen| {
                    if seen.is_some_and(|s| s.dir != layer.dir) {
                        // Two layers of one name: neither is the one its ARN names.
                        *seen = None;
                    }
                })
                .or_insert(Some(layer));
        }
        let created_date = crate::ids::lambda_timestamp();
        let mut layers = self.lock();
        for (name, layer) in by_name {
            let entry = layers.entry(name.to_owned()).or_default();
            entry.last = 1;
            let Some(layer) = layer else {
                continue;
            };
            let version = LayerVersion {
                name: name.to_owned(),
                version: 1,
                layer_arn: self.layer_arn(name),
                created_date: created_date.clone(),
                info: LayerVersionInfo {
                    description: "a layer of the firebox configuration".to_owned(),
                    ..LayerVersionInfo::default()
                },
                layer: layer.clone(),
            };
            entry.versions.insert(1, Arc::new(version));
        }
    }
}

/// Unpacks the pending `.zip` layers of `functions` and of their declared versions into
/// `store` (each file once, shared by every function that names it).
pub(crate) async fn unpack_declared(
    functions: &mut [FunctionConfig],
    store: &Arc<PackageStore>,
) -> Result<(), ConfigError> {
    let mut unpacked = HashMap::new();
    for function in functions.iter_mut() {
        unpack_function(function, store, &mut unpacked).await?;
        for version in &mut function.published {
            unpack_function(version, store, &mut unpacked).await?;
        }
    }
    Ok(())
}

/// Unpacks the pending `.zip` layers of one function (or version) and gives it the layers
/// with their extensions.
async fn unpack_function(
    function: &mut FunctionConfig,
    store: &Arc<PackageStore>,
    unpacked: &mut HashMap<PathBuf, Arc<LayerPackage>>,
) -> Result<(), ConfigError> {
    let mut layers: Vec<Layer> = function.resolved_layers.clone();
    let mut file = None;
    for layer in &mut layers {
        let LayerSource::Zip { declared_in } = &layer.source else {
            continue;
        };
        let field_error = |message: String| ConfigError::Field {
            file: declared_in.clone(),
            function: function.name.clone(),
            field: "layers".to_owned(),
            message,
        };
        let package = match unpacked.get(&layer.dir) {
            Some(package) => package.clone(),
            None => {
                let (path, name, store) = (layer.dir.clone(), layer.name.clone(), store.clone());
                let package = off_the_workers(move || {
                    let zip = std::fs::read(&path).map_err(|source| PackageError::Read {
                        path: path.clone(),
                        source,
                    })?;
                    store.unpack_layer(&name, &zip)
                })
                .await
                .map_err(|e| field_error(format!("`{}`: {e}", layer.dir.display())))?;
                unpacked.insert(layer.dir.clone(), package.clone());
                package
            }
        };
        file = Some(declared_in.clone());
        *layer = layer.unpacked(package);
    }
    let Some(file) = file else {
        return Ok(());
    };
    function
        .set_layers(layers)
        .map_err(|(field, message)| ConfigError::Field {
            file,
            function: function.name.clone(),
            field: field.to_owned(),
            message,
        })
}
