//! The `.zip` layers of the configuration (`layers = ["build/deps.zip"]`): validation leaves
//! them pending, and the emulator unpacks each file once into its package store when it
//! starts, off the async workers, with the limits of a function's package. From then on a
//! function runs the unpacked directory as it runs a directory layer. A `.zip` that cannot be
//! unpacked stops the start, naming the configuration file, the function and `layers`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use crate::config::layers::{Layer, LayerSource};
use crate::config::{ConfigError, FunctionConfig};
use crate::package::{off_the_workers, LayerPackage, PackageError, PackageStore};

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
