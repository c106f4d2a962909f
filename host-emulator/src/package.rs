//! Function code uploaded as a `.zip` (`CreateFunction`, `UpdateFunctionCode`): each upload is
//! unpacked into a directory of its own under the emulator's package store, with Lambda's size
//! limits, and described by its `CodeSha256` and `CodeSize`.
//!
//! A package is never changed once unpacked: `$LATEST` runs a new directory after each code
//! update, and a version published from it keeps running the directory it was published with.
//! The same store holds the copies of code on disk that versions published at run time run
//! ([`crate::snapshot`]). The store, with every package and copy in it, is removed when the
//! emulator stops.

use std::fs;
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use base64::Engine;
use sha2::{Digest, Sha256};

/// Lambda's largest `.zip` uploaded in the request (50 MB).
pub const MAX_ZIPPED_BYTES: usize = 50 * 1024 * 1024;
/// Lambda's largest unzipped package (250 MB).
pub const MAX_UNZIPPED_BYTES: u64 = 262_144_000;

/// One unpacked upload.
#[derive(Debug, PartialEq, Eq)]
pub struct CodePackage {
    /// The directory it was unpacked into (the function's `LAMBDA_TASK_ROOT`).
    pub dir: PathBuf,
    /// `CodeSha256`: the base64 SHA-256 of the `.zip`.
    pub sha256: String,
    /// `CodeSize`: the `.zip`'s size in bytes.
    pub size: u64,
    /// The unzipped size in bytes, as Lambda counts it against its limits: each file's
    /// length and each symbolic link's target text, as unpacked.
    pub unzipped: u64,
    /// The `.zip` itself, kept beside the directory (`DIR.zip`) for `GetFunction`'s
    /// `Code.Location`; `None` when it could not be written.
    pub zip: Option<PathBuf>,
}

impl CodePackage {
    /// The file name of the kept `.zip` in its store (what `/firebox/code/NAME` serves).
    pub fn zip_name(&self) -> Option<&str> {
        self.zip.as_deref()?.file_name()?.to_str()
    }
}

/// Why an upload could not be unpacked.
#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    /// Not a `.zip` this emulator can read.
    #[error(
        "Could not unzip uploaded file. Please check your file, then try to upload again. ({0})"
    )]
    NotAZip(String),
    /// An entry's path leaves the package directory (`../x`, `/etc/x`).
    #[error("Could not unzip uploaded file: the entry `{0}` would be written outside the package")]
    Escapes(String),
    /// Over Lambda's 250 MB unzipped.
    #[error("Unzipped size must be smaller than {MAX_UNZIPPED_BYTES} bytes")]
    TooLarge,
    /// The `.zip` could not be read (a layer's `.zip` named in the configuration).
    #[error("could not read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The package directory could not be written.
    #[error("could not write the package to {dir}: {source}")]
    Write {
        /// The directory.
        dir: PathBuf,
        /// Why.
        source: io::Error,
    },
}

/// The directory the packages of one emulator are unpacked into, and its versions' copies of
/// code on disk are made in; removed when dropped.
#[derive(Debug)]
pub struct PackageStore {
    root: PathBuf,
    next: AtomicU64,
}

impl PackageStore {
    /// A store in a new directory under the system's temporary directory (made on first use).
    pub fn new() -> Self {
        // `firebox-<pid>-...`: swept at a later start if this process dies without removing
        // it (see `sweep_stale_temp_dirs`).
        let root = std::env::temp_dir().join(format!(
            "firebox-{}-packages-{}",
            std::process::id(),
            crate::ids::request_id()
        ));
        Self {
            root,
            next: AtomicU64::new(1),
        }
    }

    /// Unpacks `zip` for `function` into a directory of its own, checking Lambda's limits.
    /// Nothing is left behind on an error.
    pub fn unpack(&self, function: &str, zip: &[u8]) -> Result<Arc<CodePackage>, PackageError> {
        self.unpack_as(function, "", zip).map(Arc::new)
    }

    /// Unpacks `zip` into a new directory `{owner}-{kind}{n}` of the store.
    fn unpack_as(&self, owner: &str, kind: &str, zip: &[u8]) -> Result<CodePackage, PackageError> {
        let dir = self.new_dir(owner, kind);
        let unpacked = unpack_into(zip, &dir);
        if unpacked.is_err() {
            let _ = fs::remove_dir_all(&dir);
        }
        let unzipped = unpacked?;
        let sha256 = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(zip));
        // Kept for downloads (`GetFunction`'s `Code.Location`); the package runs without it.
        let zip_path = PathBuf::from(format!("{}.zip", dir.display()));
        let kept = fs::write(&zip_path, zip).is_ok().then_some(zip_path);
        Ok(CodePackage {
            dir,
            sha256,
            size: zip.len() as u64,
            unzipped,
            zip: kept,
        })
    }

    /// Unpacks the `.zip` of layer `name` (published, or named in the configuration) into a
    /// directory of its own, with the limits of a function's package; the directory goes when
    /// the last holder of the answer drops it.
    pub(crate) fn unpack_layer(
        &self,
        name: &str,
        zip: &[u8],
    ) -> Result<Arc<LayerPackage>, PackageError> {
        self.unpack_as(name, "layer", zip)
            .map(|p| Arc::new(LayerPackage(p)))
    }
}

impl Drop for CodePackage {
    /// The package is removed when the last holder lets go: `$LATEST` after new code or a
    /// delete, a published version when it is deleted, and the environments that ran it once
    /// they have ended. So an emulator that takes many uploads (a CI job deploying all day)
    /// keeps only the packages something can still run. Only a directory of a package store
    /// (`firebox-<pid>-packages-*/...`) is ever removed.
    fn drop(&mut self) {
        let in_store = self
            .dir
            .parent()
            .and_then(Path::file_name)
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("firebox-") && n.contains("-packages-"));
        if in_store {
            crate::snapshot::remove_tree(&self.dir);
            if let Some(zip) = &self.zip {
                let _ = fs::remove_file(zip);
            }
        }
    }
}

/// A layer's unpacked `.zip`. The functions that use the layer hold it (a layer version
/// deleted meanwhile keeps working for them, as on Lambda, where a function keeps its copy);
/// its directory is removed when the last of them lets go (see `CodePackage`'s `Drop`).
#[derive(Debug, PartialEq, Eq)]
pub struct LayerPackage(CodePackage);

impl std::ops::Deref for LayerPackage {
    type Target = CodePackage;

    fn deref(&self) -> &CodePackage {
        &self.0
    }
}

/// Runs `unpack` (which reads and writes files) off the async workers.
pub(crate) async fn off_the_workers<T: Send + 'static>(
    unpack: impl FnOnce() -> Result<T, PackageError> + Send + 'static,
) -> Result<T, PackageError> {
    match tokio::task::spawn_blocking(unpack).await {
        Ok(unpacked) => unpacked,
        // Cancelled only when the runtime stops; a panic is a bug, reported as a failed write.
        Err(e) => Err(PackageError::Write {
            dir: PathBuf::from("<package store>"),
            source: io::Error::other(e.to_string()),
        }),
    }
}

impl PackageStore {
    /// The store's directory (which may not exist yet).
    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    /// A path for a new directory of `function`'s in the store, never given before
    /// (`{function}-{kind}{n}`); nothing is made.
    pub(crate) fn new_dir(&self, function: &str, kind: &str) -> PathBuf {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        self.root.join(format!("{function}-{kind}{n}"))
    }

    /// Removes a package no function runs (an upload refused after it was unpacked, or a
    /// dry run's).
    pub fn discard(&self, package: &CodePackage) {
        if package.dir.starts_with(&self.root) {
            let _ = fs::remove_dir_all(&package.dir);
            if let Some(zip) = &package.zip {
                let _ = fs::remove_file(zip);
            }
        }
    }

    /// The kept `.zip` named `name` (a file name the store gave, as [`CodePackage::zip_name`]
    /// says), if it is there; nothing else of the store, or outside it, is ever named.
    pub fn kept_zip(&self, name: &str) -> Option<PathBuf> {
        let plain = !name.is_empty()
            && name.ends_with(".zip")
            && !name.starts_with('.')
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        let path = self.root.join(name);
        (plain && path.is_file()).then_some(path)
    }
}

impl Default for PackageStore {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for PackageStore {
    fn drop(&mut self) {
        // Best effort: a process still running from a package may hold files open; the
        // directory is in the system's temporary directory either way.
        let _ = fs::remove_dir_all(&self.root);
    }
}

/// The unzipped size the entries of the `.zip` file at `path` declare (read from its central
/// directory, without unzipping anything): what a `.zip` layer of the configuration counts
/// toward the limit of a function's code and layers before it is unpacked. `None` when it
/// cannot be read as a `.zip` (unpacking it at the start says why).
pub(crate) fn declared_size(path: &Path) -> Option<u64> {
    let file = fs::File::open(path).ok()?;
    let mut archive = zip::ZipArchive::new(io::BufReader::new(file)).ok()?;
    declared(&mut archive).ok()
}

/// The sum of the sizes the entries of `archive` declare.
fn declared<R: Read + io::Seek>(archive: &mut zip::ZipArchive<R>) -> Result<u64, PackageError> {
    let mut declared: u64 = 0;
    for i in 0..archive.len() {
        let entry = archive
            .by_index_raw(i)
            .map_err(|e| PackageError::NotAZip(e.to_string()))?;
        declared = declared.saturating_add(entry.size());
    }
    Ok(declared)
}

/// Unpacks `zip` into `dir`; the unzipped size (files' bytes written, links' target text).
fn unpack_into(zip: &[u8], dir: &Path) -> Result<u64, PackageError> {
    let write = |source: io::Error| PackageError::Write {
        dir: dir.to_path_buf(),
        source,
    };
    let mut archive = zip::ZipArchive::new(io::Cursor::new(zip))
        .map_err(|e| PackageError::NotAZip(e.to_string()))?;
    // The sizes the entries declare, first: a package over the limit is refused before any
    // byte is written. The copy below holds each entry to its declared size as well.
    if declared(&mut archive)? > MAX_UNZIPPED_BYTES {
        return Err(PackageError::TooLarge);
    }
    fs::create_dir_all(dir).map_err(write)?;
    let mut written: u64 = 0;
    let mut links: u64 = 0;
    for i in 0..archive.len() {
        let mut entry = archive
            .by_index(i)
            .map_err(|e| PackageError::NotAZip(e.to_string()))?;
        let name = entry.name().to_owned();
        let relative = entry
            .enclosed_name()
            .ok_or_else(|| PackageError::Escapes(name.clone()))?;
        let path = dir.join(&relative);
        if entry.is_dir() {
            fs::create_dir_all(&path).map_err(write)?;
            continue;
        }
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(write)?;
        }
        if entry.is_symlink() {
            let mut target = String::new();
            entry
                .read_to_string(&mut target)
                .map_err(|e| PackageError::NotAZip(e.to_string()))?;
            if !stays_inside(&relative, Path::new(&target)) {
                return Err(PackageError::Escapes(name));
            }
            std::os::unix::fs::symlink(&target, &path).map_err(write)?;
            links = links.saturating_add(target.len() as u64);
            continue;
        }
        let mut file = fs::File::create(&path).map_err(write)?;
        let limit = entry
            .size()
            .min(MAX_UNZIPPED_BYTES - written.min(MAX_UNZIPPED_BYTES));
        let copied =
            io::copy(&mut (&mut entry).take(limit + 1), &mut file).map_err(|e| match e.kind() {
                io::ErrorKind::InvalidData => PackageError::NotAZip(e.to_string()),
                _ => write(e),
            })?;
        written += copied;
        if copied > limit || written > MAX_UNZIPPED_BYTES {
            return Err(PackageError::TooLarge);
        }
        // Modes as the archive gives them (an executable `bootstrap` stays executable);
        // archives made without Unix modes get 0644, as unzip gives them.
        let mode = entry.unix_mode().map_or(0o644, |m| m & 0o7777);
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&path, fs::Permissions::from_mode(mode | 0o400)).map_err(write)?;
    }
    Ok(written.saturating_add(links))
}

/// Whether a symbolic link at `link` (relative to the package root) pointing at `target`
/// resolves inside the package.
pub(crate) fn stays_inside(link: &Path, target: &Path) -> bool {
    if target.is_absolute() {
        return false;
    }
    let mut depth: i64 = link.components().count() as i64 - 1;
    for component in target.components() {
        match component {
            Component::ParentDir => depth -= 1,
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => return false,
        }
        if depth < 0 {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;

    fn zip_of(entries: &[(&str, &[u8], u32)]) -> Vec<u8> {
        let mut out = zip::ZipWriter::new(io::Cursor::new(Vec::new()));
        for (name, data, mode) in entries {
            let options = zip::write::SimpleFileOptions::default().unix_permissions(*mode);
            out.start_file(*name, options).unwrap();
            out.write_all(data).unwrap();
        }
        out.finish().unwrap().into_inner()
    }

    #[test]
    fn unpacks_files_with_their_modes_and_describes_the_zip() {
        let store = PackageStore::new();
        let zip = zip_of(&[
            ("bootstrap", b"#!/bin/sh\n", 0o755),
            ("lib/app.py", b"x = 1\n", 0o644),
        ]);
        let package = store.unpack("f", &zip).unwrap();
        let mode = fs::metadata(package.dir.join("bootstrap"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o755);
        assert_eq!(
            fs::read_to_string(package.dir.join("lib/app.py")).unwrap(),
            "x = 1\n"
        );
        assert_eq!(package.size, zip.len() as u64);
        assert_eq!(package.unzipped, 10 + 6, "the files' bytes, unzipped");
        let on_disk = store.root.join("declared.zip");
        fs::write(&on_disk, &zip).unwrap();
        assert_eq!(declared_size(&on_disk), Some(16));
        fs::write(&on_disk, b"not a zip").unwrap();
        assert_eq!(declared_size(&on_disk), None);
        let expected = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&zip));
        assert_eq!(package.sha256, expected);
        // A second upload gets a directory of its own.
        let second = store.unpack("f", &zip).unwrap();
        assert_ne!(second.dir, package.dir);
        let root = store.root.clone();
        drop(store);
        assert!(!root.exists(), "the store is removed when dropped");
    }

    #[test]
    fn refuses_what_is_not_a_zip_and_entries_that_escape() {
        let store = PackageStore::new();
        let e = store.unpack("f", b"not a zip").unwrap_err();
        assert!(matches!(e, PackageError::NotAZip(_)), "{e}");
        assert!(e.to_string().starts_with("Could not unzip uploaded file"));
        let e = store
            .unpack("f", &zip_of(&[("../evil", b"x", 0o644)]))
            .unwrap_err();
        assert!(matches!(e, PackageError::Escapes(_)), "{e}");
        assert!(!store.root.join("evil").exists());
    }

    #[test]
    fn links_must_stay_inside_the_package() {
        assert!(stays_inside(Path::new("a/link"), Path::new("../b")));
        assert!(stays_inside(Path::new("link"), Path::new("lib/x")));
        assert!(!stays_inside(Path::new("link"), Path::new("../x")));
        assert!(!stays_inside(Path::new("a/link"), Path::new("../../x")));
        assert!(!stays_inside(Path::new("link"), Path::new("/etc/passwd")));
    }
}
