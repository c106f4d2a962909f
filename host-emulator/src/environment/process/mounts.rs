//! Which mounts an environment's processes get in their namespace: its layers at `/opt`
//! (when they are mounted there) and its private directory at `/tmp` (with `private_tmp`),
//! keeping at their paths what it needs from the machine's `/tmp`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::super::namespace::{Mounts, TmpMount};
use super::super::variables::variables;
use super::Launch;

/// The mounts of the environment's processes (the layers at `/opt`, the private `/tmp`),
/// when they get any.
pub(super) fn for_launch(launch: &Launch<'_>) -> Option<Arc<Mounts>> {
    let config = launch.config;
    let opt_mode = launch.isolation.opt_mode();
    let tmp_mode = launch.isolation.tmp_mode();
    let mode = opt_mode.or(tmp_mode)?;
    let layers: Vec<&Path> = match opt_mode {
        Some(_) => config
            .resolved_layers
            .iter()
            .map(|l| l.dir.as_path())
            .collect(),
        None => Vec::new(),
    };
    let tmp = tmp_mode.and_then(|_| match TmpMount::prepare(launch.tmp, needed_paths(launch)) {
        Ok(tmp) => Some(tmp),
        Err(e) => {
            tracing::warn!(function = %config.name, "this environment's /tmp is the machine's: {e}");
            None
        }
    });
    let mounts = Mounts::new(mode, &layers, tmp.clone()).or_else(|e| {
        tracing::warn!(function = %config.name, "layers not mounted at /opt: {e}");
        // The private `/tmp` alone, then.
        Mounts::new(mode, &[], tmp)
    });
    mounts.ok().flatten().map(Arc::new)
}

/// The paths an environment's processes need at their own paths, which a private `/tmp`
/// must keep: the code, the layers, the programs and files its commands name, and the
/// directories of its search paths (but `/tmp` itself there, which then names the private
/// `/tmp`, as it would on Lambda).
fn needed_paths(launch: &Launch<'_>) -> Vec<PathBuf> {
    let config = launch.config;
    let mut paths: Vec<PathBuf> = config.code_dir.iter().cloned().collect();
    paths.extend(config.resolved_layers.iter().map(|l| l.dir.clone()));
    paths.extend(config.extensions.iter().cloned());
    paths.extend(
        crate::config::runtime_command(config)
            .iter()
            .map(PathBuf::from),
    );
    for (name, value) in variables(launch) {
        if matches!(
            name.as_str(),
            "PATH" | "LD_LIBRARY_PATH" | "PYTHONPATH" | "NODE_PATH"
        ) {
            paths.extend(
                value
                    .split(':')
                    .filter(|dir| dir.trim_end_matches('/') != "/tmp")
                    .map(PathBuf::from),
            );
        }
    }
    paths.retain(|p| p.is_absolute());
    paths
}
