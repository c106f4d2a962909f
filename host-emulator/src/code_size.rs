//! Lambda's limit of a function's code and its layers together: unzipped, the deployment
//! package plus every layer the function names must hold at most [`MAX_UNZIPPED_BYTES`]
//! (262,144,000 bytes). `CreateFunction`, `UpdateFunctionCode` (its `DryRun` too) and
//! `UpdateFunctionConfiguration` with `Layers` that would go over it are refused with
//! Lambda's message ([`CombinedSizeError`]) before anything changes; a function of the
//! configuration (or one created from code) over it is refused when it is validated.
//!
//! What counts, in bytes unzipped, each measured once:
//! - an uploaded package: its files and links, counted as it is unpacked
//!   ([`crate::package::CodePackage::unzipped`]);
//! - a layer (`Layer::unzipped`): a published version's or a configuration `.zip`'s files
//!   and links, counted when it was unpacked (before that, for a `.zip` of the configuration,
//!   the sizes its entries declare, read from its central directory); a directory layer's
//!   files, measured when the configuration is validated, as its `CodeSize` is;
//! - code on disk (a `code_dir` given): its files' lengths and its links' target text,
//!   measured at the check itself (`tree_size`), without following links, over at most
//!   100,000 entries, and no further than the limit needs (past either, the size is a
//!   lower bound, and a refusal says "at least");
//! - a function run by a `command` without `code_dir`: nothing of its own. Its program may be
//!   an interpreter or a tool of the machine rather than its code, so only its layers count.
//!
//! A function without layers is not checked here: its code alone is held to the same limit
//! where it is unpacked (a package) or copied (a version published from code on disk, see
//! [`crate::snapshot`]).

use std::path::Path;

use crate::config::layers::Layer;
use crate::config::FunctionConfig;
use crate::package::MAX_UNZIPPED_BYTES;

/// Entries looked at when code on disk is measured, at most.
pub(crate) const MAX_ENTRIES: usize = 100_000;

/// A size in bytes, and whether it is the whole size (`false`: a lower bound, the measure
/// having stopped early).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Measured {
    /// The bytes counted.
    pub bytes: u64,
    /// Whether every byte was counted.
    pub whole: bool,
}

impl Measured {
    /// A size known exactly.
    pub fn exact(bytes: u64) -> Self {
        Self { bytes, whole: true }
    }
}

/// A function's code and layers together over Lambda's limit, with Lambda's message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "Function code combined with layers exceeds the maximum allowed size of \
     {MAX_UNZIPPED_BYTES} bytes. The actual size is {}{actual} bytes.",
    if *.whole { "" } else { "at least " }
)]
pub struct CombinedSizeError {
    /// The code's and the layers' bytes together.
    pub actual: u64,
    /// The code's bytes (0 for a function run by a `command` without `code_dir`).
    pub code: u64,
    /// The layers' bytes.
    pub layers: u64,
    /// Whether `actual` is the whole size (`false`: code on disk measured only until it was
    /// over, so `actual` is a lower bound).
    pub whole: bool,
}

impl CombinedSizeError {
    /// The refusal as a configuration's `layers` field error says it: what was counted, for
    /// a function whose own code is `code_dir` (`None`: a `command` without one).
    pub(crate) fn in_configuration(&self, code_dir: Option<&Path>) -> String {
        let at_least = if self.whole { "" } else { "at least " };
        let code = match code_dir {
            Some(dir) => format!(
                "`code_dir` `{}` ({at_least}{} bytes)",
                dir.display(),
                self.code
            ),
            None => "no code counted (a `command` without `code_dir`)".to_owned(),
        };
        format!(
            "the code and the layers together are over Lambda's limit of {MAX_UNZIPPED_BYTES} \
             bytes unzipped: {code}, layers {} bytes; {self}",
            self.layers
        )
    }
}

/// The layers' bytes together.
pub(crate) fn layers_size(layers: &[Layer]) -> u64 {
    layers
        .iter()
        .fold(0, |total, l| total.saturating_add(l.unzipped))
}

/// Checks `code` with `layers` against the limit; their size together.
pub(crate) fn check(code: Measured, layers: &[Layer]) -> Result<u64, CombinedSizeError> {
    check_sizes(code, layers_size(layers))
}

/// Checks `code` with `layers` bytes of layers against the limit (at it is fine, one byte
/// over is not); their size together.
fn check_sizes(code: Measured, layers: u64) -> Result<u64, CombinedSizeError> {
    let actual = code.bytes.saturating_add(layers);
    if actual > MAX_UNZIPPED_BYTES {
        return Err(CombinedSizeError {
            actual,
            code: code.bytes,
            layers,
            whole: code.whole,
        });
    }
    Ok(actual)
}

/// Checks a function (or version) with its resolved layers: nothing to check without layers.
/// Code on disk is measured now (see the module's documentation).
pub(crate) fn check_function(config: &FunctionConfig) -> Result<(), CombinedSizeError> {
    if config.resolved_layers.is_empty() {
        return Ok(());
    }
    let layers = layers_size(&config.resolved_layers);
    let code = code_size(config, MAX_UNZIPPED_BYTES.saturating_sub(layers));
    check_sizes(code, layers).map(|_| ())
}

/// The code `config` runs, as it counts toward the limit, measured no further than
/// `stop_over` bytes when it is on disk.
fn code_size(config: &FunctionConfig, stop_over: u64) -> Measured {
    if let Some(package) = &config.package {
        return Measured::exact(package.unzipped);
    }
    if let Some(snapshot) = &config.snapshot {
        return Measured::exact(snapshot.code_bytes);
    }
    match &config.code_dir {
        Some(dir) if config.code_dir_given => tree_size(dir, stop_over),
        _ => Measured::exact(0),
    }
}

/// The bytes under directory `dir` (followed if it is a link) as a `.zip` of it would hold
/// them unzipped: each regular file's length and each link's target text; links are not
/// followed. Stops once over `stop_over` bytes or after [`MAX_ENTRIES`] entries (then not
/// whole). Entries that cannot be read are left out.
pub(crate) fn tree_size(dir: &Path, stop_over: u64) -> Measured {
    let mut total: u64 = 0;
    let mut budget = MAX_ENTRIES;
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(read) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in read.filter_map(Result::ok) {
            if budget == 0 || total > stop_over {
                return Measured {
                    bytes: total,
                    whole: false,
                };
            }
            budget -= 1;
            let size = match entry.file_type() {
                Ok(t) if t.is_dir() => {
                    pending.push(entry.path());
                    0
                }
                Ok(t) if t.is_file() => entry.metadata().map_or(0, |m| m.len()),
                Ok(t) if t.is_symlink() => std::fs::read_link(entry.path())
                    .map_or(0, |target| target.as_os_str().len() as u64),
                _ => 0,
            };
            total = total.saturating_add(size);
        }
    }
    Measured::exact(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::layers::LayerSource;
    use std::path::PathBuf;

    fn layer(name: &str, unzipped: u64) -> Layer {
        Layer {
            dir: PathBuf::from("/nonexistent").join(name),
            name: name.to_owned(),
            size: unzipped,
            unzipped,
            source: LayerSource::Directory,
        }
    }

    fn tempdir(name: &str) -> PathBuf {
        crate::testing::temp_dir(&format!("code-size-{name}"))
    }

    #[test]
    fn the_limit_itself_is_allowed_and_one_byte_more_is_not() {
        let layers = [layer("a", 140_000_000), layer("b", 122_143_000)];
        assert_eq!(layers_size(&layers), 262_143_000);
        assert_eq!(
            check(Measured::exact(1000), &layers),
            Ok(MAX_UNZIPPED_BYTES)
        );
        let e = check(Measured::exact(1001), &layers).unwrap_err();
        assert_eq!(
            e,
            CombinedSizeError {
                actual: MAX_UNZIPPED_BYTES + 1,
                code: 1001,
                layers: 262_143_000,
                whole: true,
            }
        );
        assert_eq!(
            e.to_string(),
            "Function code combined with layers exceeds the maximum allowed size of 262144000 \
             bytes. The actual size is 262144001 bytes."
        );
        // No layers and no code: nothing over.
        assert_eq!(check(Measured::exact(0), &[]), Ok(0));
        // Sizes that would overflow are over, not wrapped around.
        let huge = [layer("a", u64::MAX), layer("b", 2)];
        assert!(check(Measured::exact(1), &huge).is_err());
        // A lower bound says so.
        let partial = Measured {
            bytes: MAX_UNZIPPED_BYTES,
            whole: false,
        };
        let e = check(partial, &[layer("a", 5)]).unwrap_err();
        assert!(
            e.to_string()
                .ends_with("The actual size is at least 262144005 bytes."),
            "{e}"
        );
    }

    #[test]
    fn code_on_disk_counts_files_and_link_text_and_stops_once_over() {
        let dir = tempdir("tree");
        std::fs::create_dir_all(dir.join("sub/deeper")).unwrap();
        // A sparse file counts in full, as a `.zip` would hold every byte of it.
        let sparse = std::fs::File::create(dir.join("sub/sparse")).unwrap();
        sparse.set_len(1_000_000).unwrap();
        std::fs::write(dir.join("sub/deeper/five"), b"12345").unwrap();
        std::os::unix::fs::symlink("sub/deeper/five", dir.join("link")).unwrap();
        let whole = tree_size(&dir, u64::MAX);
        assert_eq!(whole, Measured::exact(1_000_000 + 5 + 15));
        // Stopped once over: a lower bound over the bound given.
        let part = tree_size(&dir, 10);
        assert!(!part.whole && part.bytes > 10, "{part:?}");
        assert_eq!(
            tree_size(&dir.join("missing"), u64::MAX),
            Measured::exact(0)
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_function_counts_its_code_dir_but_not_a_bare_command() {
        let dir = tempdir("function");
        std::fs::File::create(dir.join("big"))
            .unwrap()
            .set_len(200_000_000)
            .unwrap();
        let mut config = FunctionConfig::new("f").command(["/bin/true"]);
        config.code_dir = Some(dir.clone());
        // Without layers nothing is checked, however large the code.
        config.code_dir_given = true;
        assert_eq!(check_function(&config), Ok(()));
        config.resolved_layers = vec![layer("deps", 100_000_000)];
        let e = check_function(&config).unwrap_err();
        assert_eq!(
            (e.code, e.layers, e.whole),
            (200_000_000, 100_000_000, true)
        );
        let said = e.in_configuration(Some(&dir));
        assert!(
            said.contains("(200000000 bytes), layers 100000000 bytes")
                && said.contains("The actual size is 300000000 bytes."),
            "{said}"
        );
        // A code directory derived from the program's path is not the function's code.
        config.code_dir_given = false;
        assert_eq!(check_function(&config), Ok(()));
        config.resolved_layers.push(layer("more", 162_144_001));
        let e = check_function(&config).unwrap_err();
        assert_eq!((e.code, e.actual), (0, 262_144_001));
        assert!(e
            .in_configuration(None)
            .contains("a `command` without `code_dir`"));
        let _ = std::fs::remove_dir_all(dir);
    }
}
