//! Layers: directories laid out like a Lambda layer's `.zip`, which Lambda extracts under
//! `/opt` in the function's order. Firebox has no `/opt` of its own: each layer stays where it
//! is, and the paths Lambda's runtimes search under `/opt` point into the layers instead
//! ([`search_paths`]): `bin` on `PATH`, `lib` on `LD_LIBRARY_PATH`, `python` and
//! `python/lib/pythonX.Y/site-packages` on `PYTHONPATH`, `nodejs/node_modules` and
//! `nodejs/nodeNN/node_modules` on `NODE_PATH`. The executables of a layer's `extensions`
//! directory are started as external extensions, as Lambda starts `/opt/extensions/*`.
//!
//! A layer is a directory of the configuration, used where it is; a `.zip` of the
//! configuration, unpacked into the emulator's store when it starts
//! ([`crate::layer_versions::unpack_declared`]); or a version published through the control
//! plane ([`crate::layer_versions`]), unpacked when it was published.
//!
//! A later layer wins over an earlier one, as when its files overwrite theirs under `/opt`:
//! its directories come first in each search path, and its extension replaces an earlier
//! layer's of the same name.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::package::LayerPackage;

/// Lambda's most layers per function.
pub const MAX_LAYERS: usize = 5;

/// Entries counted when a layer's size is measured, at most (a size over more entries than
/// this is a lower bound).
const MAX_SIZE_ENTRIES: usize = 100_000;

/// One layer of a function, resolved when the function is validated (or its layers are
/// changed through the control plane).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Layer {
    /// Its directory (absolute): the configuration's directory, where its `.zip` was
    /// unpacked, or the `.zip` itself until then.
    pub dir: PathBuf,
    /// The name in its ARN: for a layer of the configuration, the directory's name (or the
    /// `.zip`'s, without `.zip`), with each character Lambda does not allow in a layer name
    /// (letters, digits, `-`, `_`) made a `-`.
    pub name: String,
    /// `CodeSize`: the bytes of a directory's files, or of the `.zip`.
    pub size: u64,
    /// What the layer counts toward Lambda's limit of a function's code and layers together
    /// (see [`crate::code_size`]), in bytes unzipped: a directory's files (its `size`); an
    /// unpacked `.zip`'s files and links; a `.zip` not yet unpacked, the sizes its entries
    /// declare.
    pub unzipped: u64,
    /// Where it comes from.
    pub source: LayerSource,
}

/// Where a layer's files come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LayerSource {
    /// A directory of the configuration, used where it is (version 1 of its name).
    Directory,
    /// A `.zip` of the configuration, not yet unpacked (between validation and the start of
    /// the emulator); `declared_in` names the configuration file.
    Zip { declared_in: String },
    /// A `.zip` of the configuration, unpacked (version 1 of its name).
    Unpacked(Arc<LayerPackage>),
    /// A version published through the control plane, with its ARN.
    Published {
        /// `LayerVersionArn`.
        arn: String,
        /// Its unpacked `.zip`.
        package: Arc<LayerPackage>,
    },
}

impl Layer {
    /// The layer's version ARN: a published version's own; for a layer of the configuration,
    /// version 1 of a layer of the function's account and region.
    pub fn arn(&self, region: &str, account_id: &str) -> String {
        match &self.source {
            LayerSource::Published { arn, .. } => arn.clone(),
            _ => format!("arn:aws:lambda:{region}:{account_id}:layer:{}:1", self.name),
        }
    }

    /// The directory of a layer of the configuration used where it is (what `reload`
    /// watches); unpacked layers never change.
    pub fn watched_dir(&self) -> Option<&Path> {
        matches!(self.source, LayerSource::Directory).then_some(self.dir.as_path())
    }

    /// Whether this is a `.zip` of the configuration not yet unpacked.
    pub fn is_pending(&self) -> bool {
        matches!(self.source, LayerSource::Zip { .. })
    }

    /// The layer after its `.zip` was unpacked into `package`.
    pub fn unpacked(&self, package: Arc<LayerPackage>) -> Self {
        Self {
            dir: package.dir.clone(),
            name: self.name.clone(),
            size: package.size,
            unzipped: package.unzipped,
            source: LayerSource::Unpacked(package),
        }
    }
}

/// What the layers add to the function's search paths, each list with the last layer's
/// directories first. Only directories that exist are listed.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct SearchPaths {
    /// `bin` directories, for `PATH` (where Lambda has `/opt/bin`).
    pub bin: Vec<PathBuf>,
    /// `lib` directories, for `LD_LIBRARY_PATH` (where Lambda has `/opt/lib`).
    pub lib: Vec<PathBuf>,
    /// `python/lib/pythonX.Y/site-packages`, then `python`, for `PYTHONPATH`.
    pub python: Vec<PathBuf>,
    /// `nodejs/nodeNN/node_modules`, then `nodejs/node_modules`, for `NODE_PATH`.
    pub node: Vec<PathBuf>,
}

/// The search paths of `layers` for a function of `runtime` (`python3.12` keeps only
/// `python3.12`'s `site-packages`, `nodejs20.x` only `node20`'s modules; without a managed
/// runtime, every version's are kept). Reads the layers' directories.
pub(crate) fn search_paths(layers: &[Layer], runtime: Option<&str>) -> SearchPaths {
    let mut paths = SearchPaths::default();
    let python_version = runtime.and_then(|r| r.strip_prefix("python"));
    let node_major = runtime
        .and_then(|r| r.strip_prefix("nodejs"))
        .map(|r| r.trim_end_matches(".x"));
    let mut python_dirs = Vec::new();
    let mut node_dirs = Vec::new();
    for layer in layers.iter().rev() {
        push_dir(&mut paths.bin, layer.dir.join("bin"));
        push_dir(&mut paths.lib, layer.dir.join("lib"));
        let python = layer.dir.join("python");
        for (name, dir) in subdirs(&python.join("lib")) {
            let wanted = match python_version {
                Some(v) => name == format!("python{v}"),
                None => name.starts_with("python"),
            };
            if wanted {
                push_dir(&mut paths.python, dir.join("site-packages"));
            }
        }
        push_dir(&mut python_dirs, python);
        let nodejs = layer.dir.join("nodejs");
        for (name, dir) in subdirs(&nodejs) {
            let wanted = match node_major {
                Some(major) => name == format!("node{major}"),
                None => name.len() > 4 && name[4..].bytes().all(|b| b.is_ascii_digit()),
            };
            if name.starts_with("node") && wanted {
                push_dir(&mut paths.node, dir.join("node_modules"));
            }
        }
        push_dir(&mut node_dirs, nodejs.join("node_modules"));
    }
    paths.python.extend(python_dirs);
    paths.node.extend(node_dirs);
    paths
}

/// Checks the configuration's `layers` (at most [`MAX_LAYERS`] directories or `.zip` files,
/// their names distinct once made ARN names), makes their paths absolute against `base`, and
/// resolves them; a `.zip` stays pending, declared in `file`, until the emulator starts.
/// Errors are the message for the field `layers`.
pub(crate) fn resolve(
    layers: &mut [PathBuf],
    base: &Path,
    file: &str,
) -> Result<Vec<Layer>, String> {
    check_count(layers.len())?;
    let mut resolved: Vec<Layer> = Vec::with_capacity(layers.len());
    for path in layers.iter_mut() {
        *path = base.join(&*path);
        let is_zip = path.extension().is_some_and(|e| e == "zip");
        let layer = if is_zip && path.is_file() {
            Layer {
                name: arn_name(path.file_stem()),
                size: std::fs::metadata(&*path).map_or(0, |m| m.len()),
                unzipped: crate::package::declared_size(path).unwrap_or(0),
                dir: path.clone(),
                source: LayerSource::Zip {
                    declared_in: file.to_owned(),
                },
            }
        } else if path.is_dir() {
            let size = size_of(path);
            Layer {
                name: arn_name(path.file_name()),
                size,
                unzipped: size,
                dir: path.clone(),
                source: LayerSource::Directory,
            }
        } else {
            return Err(format!(
                "`{}` is not a directory or a .zip file (a layer is a directory laid out as \
                 under /opt, or a layer's .zip)",
                path.display()
            ));
        };
        if let Some(other) = resolved.iter().find(|l| l.name == layer.name) {
            return Err(format!(
                "`{}` and `{}` are both layer `{}`: a function has each layer once",
                other.dir.display(),
                path.display(),
                layer.name
            ));
        }
        resolved.push(layer);
    }
    Ok(resolved)
}

/// Refuses more than Lambda's [`MAX_LAYERS`].
pub(crate) fn check_count(n: usize) -> Result<(), String> {
    if n > MAX_LAYERS {
        return Err(format!(
            "{n} layers, more than Lambda's limit of {MAX_LAYERS}"
        ));
    }
    Ok(())
}

/// The executables of the layers' `extensions` directories, a later layer's replacing an
/// earlier one's of the same name (a `.zip` not yet unpacked has none yet). A file there that
/// is not executable is refused: Lambda starts every one.
pub(crate) fn extensions(layers: &[Layer]) -> Result<Vec<PathBuf>, String> {
    let mut found: BTreeMap<String, PathBuf> = BTreeMap::new();
    for layer in layers.iter().filter(|l| !l.is_pending()) {
        for (file, exe) in subfiles(&layer.dir.join("extensions")) {
            if !is_executable(&exe) {
                return Err(format!(
                    "`{}` is not executable: Lambda starts every file of a layer's `extensions` directory",
                    exe.display()
                ));
            }
            found.insert(file, exe);
        }
    }
    Ok(found.into_values().collect())
}

/// The layer name of a directory or `.zip` file's name for its ARN (1 to 140 characters).
fn arn_name(file_name: Option<&std::ffi::OsStr>) -> String {
    let raw = file_name
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut name: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .take(140)
        .collect();
    if name.is_empty() {
        name.push_str("layer");
    }
    name
}

/// Pushes `dir` when it is a directory.
fn push_dir(list: &mut Vec<PathBuf>, dir: PathBuf) {
    if dir.is_dir() {
        list.push(dir);
    }
}

/// The subdirectories of `dir` by name, sorted (none when it cannot be read).
fn subdirs(dir: &Path) -> Vec<(String, PathBuf)> {
    entries(dir, |p| p.is_dir())
}

/// The files (or links to files) in `dir` by name, sorted.
fn subfiles(dir: &Path) -> Vec<(String, PathBuf)> {
    entries(dir, |p| p.is_file())
}

fn entries(dir: &Path, keep: impl Fn(&Path) -> bool) -> Vec<(String, PathBuf)> {
    let Ok(read) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<(String, PathBuf)> = read
        .filter_map(Result::ok)
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .filter(|(_, p)| keep(p))
        .collect();
    found.sort();
    found
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
}

/// The bytes of the regular files under `dir` (links are not followed), over at most
/// [`MAX_SIZE_ENTRIES`] entries.
fn size_of(dir: &Path) -> u64 {
    let mut total = 0;
    let mut budget = MAX_SIZE_ENTRIES;
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(read) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in read.filter_map(Result::ok) {
            if budget == 0 {
                return total;
            }
            budget -= 1;
            match entry.file_type() {
                Ok(t) if t.is_dir() => pending.push(entry.path()),
                Ok(t) if t.is_file() => total += entry.metadata().map_or(0, |m| m.len()),
                _ => {}
            }
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(files: &[&str]) -> PathBuf {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let root = std::env::temp_dir().join(format!("firebox-layers-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        for f in files {
            let path = root.join(f);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            if !f.ends_with('/') {
                std::fs::write(&path, "x").unwrap();
            }
        }
        root
    }

    fn layer(dir: PathBuf) -> Layer {
        Layer {
            name: arn_name(dir.file_name()),
            size: size_of(&dir),
            unzipped: size_of(&dir),
            dir,
            source: LayerSource::Directory,
        }
    }

    #[test]
    fn the_last_layer_comes_first_in_each_search_path() {
        let root = tree(&[
            "a/bin/tool",
            "a/python/lib/python3.11/site-packages/x.py",
            "a/python/lib/python3.12/site-packages/x.py",
            "a/python/a.py",
            "b/lib/libb.so",
            "b/python/b.py",
            "b/nodejs/node_modules/m/index.js",
            "b/nodejs/node20/node_modules/m/index.js",
            "b/nodejs/node22/node_modules/m/index.js",
            "b/nodejs/nodeish/node_modules/m/index.js",
        ]);
        let layers = [layer(root.join("a")), layer(root.join("b"))];
        let all = search_paths(&layers, None);
        assert_eq!(all.bin, vec![root.join("a/bin")]);
        assert_eq!(all.lib, vec![root.join("b/lib")]);
        assert_eq!(
            all.python,
            vec![
                root.join("a/python/lib/python3.11/site-packages"),
                root.join("a/python/lib/python3.12/site-packages"),
                root.join("b/python"),
                root.join("a/python"),
            ]
        );
        assert_eq!(
            all.node,
            vec![
                root.join("b/nodejs/node20/node_modules"),
                root.join("b/nodejs/node22/node_modules"),
                root.join("b/nodejs/node_modules"),
            ]
        );
        let py = search_paths(&layers, Some("python3.12"));
        assert_eq!(
            py.python[0],
            root.join("a/python/lib/python3.12/site-packages")
        );
        assert_eq!(py.python.len(), 3);
        let node = search_paths(&layers, Some("nodejs22.x"));
        assert_eq!(
            node.node,
            vec![
                root.join("b/nodejs/node22/node_modules"),
                root.join("b/nodejs/node_modules"),
            ]
        );
        let _ = std::fs::remove_dir_all(root);
    }

    #[test]
    fn resolve_checks_the_layers_and_finds_their_extensions() {
        use std::os::unix::fs::PermissionsExt;
        let root = tree(&[
            "one/extensions/ext",
            "two.v2/extensions/ext",
            "two.v2/f",
            "deps.zip",
        ]);
        for d in ["one", "two.v2"] {
            let ext = root.join(d).join("extensions/ext");
            std::fs::set_permissions(&ext, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let mut paths = vec![
            PathBuf::from("one"),
            PathBuf::from("two.v2"),
            PathBuf::from("deps.zip"),
        ];
        let layers = resolve(&mut paths, &root, "firebox.toml").unwrap();
        assert_eq!(paths[0], root.join("one"));
        assert_eq!(layers[1].name, "two-v2");
        assert_eq!(layers[1].size, 2);
        assert_eq!(
            layers[1].arn("eu-west-1", "123456789012"),
            "arn:aws:lambda:eu-west-1:123456789012:layer:two-v2:1"
        );
        assert_eq!(layers[1].watched_dir(), Some(root.join("two.v2").as_path()));
        // A `.zip` is named without `.zip`, and waits to be unpacked.
        assert_eq!(layers[2].name, "deps");
        assert!(layers[2].is_pending() && layers[2].watched_dir().is_none());
        // The later layer's `ext` replaces the earlier one's; the pending `.zip` has none yet.
        assert_eq!(
            extensions(&layers).unwrap(),
            vec![root.join("two.v2/extensions/ext")]
        );

        let mut six = vec![PathBuf::from("one"); 6];
        assert!(resolve(&mut six, &root, "f")
            .unwrap_err()
            .contains("limit of 5"));
        let mut missing = vec![PathBuf::from("nope")];
        assert!(resolve(&mut missing, &root, "f")
            .unwrap_err()
            .contains("is not a directory or a .zip file"));
        let mut twice = vec![PathBuf::from("one"), root.join("one")];
        assert!(resolve(&mut twice, &root, "f")
            .unwrap_err()
            .contains("are both layer `one`"));
        std::fs::set_permissions(
            root.join("one/extensions/ext"),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        let mut plain = vec![PathBuf::from("one")];
        let plain = resolve(&mut plain, &root, "f").unwrap();
        assert!(extensions(&plain)
            .unwrap_err()
            .contains("is not executable"));
        let _ = std::fs::remove_dir_all(root);
    }

    #[test]
    fn the_configuration_file_names_layers_relative_to_itself() {
        let root = tree(&["shared/python/", "own/bin/"]);
        let text = "[defaults]\nlayers = [\"shared\"]\n\
                    [functions.a]\ncommand = [\"/bin/true\"]\n\
                    [functions.b]\ncommand = [\"/bin/true\"]\nlayers = [\"own\", \"shared\"]\n";
        let config = crate::config::Config::parse(text, "firebox.toml", &root).unwrap();
        let layers = |name: &str| {
            let f = config.functions.iter().find(|f| f.name == name).unwrap();
            (f.layers.clone(), f.resolved_layers.len())
        };
        assert_eq!(layers("a"), (vec![root.join("shared")], 1));
        assert_eq!(
            layers("b"),
            (vec![root.join("own"), root.join("shared")], 2)
        );
        let err = crate::config::Config::parse(
            "[functions.c]\ncommand = [\"/bin/true\"]\nlayers = [\"nope\"]\n",
            "firebox.toml",
            &root,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("firebox.toml") && err.contains("`c`") && err.contains("layers"),
            "{err}"
        );
        let _ = std::fs::remove_dir_all(root);
    }
}
