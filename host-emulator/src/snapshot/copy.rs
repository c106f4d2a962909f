//! The file work of a snapshot (blocking): measuring code on disk as Lambda measures an
//! unzipped package, and copying it with its modes, its symbolic links and a digest of
//! everything copied.
//!
//! What counts toward [`MAX_UNZIPPED_BYTES`] is what a `.zip` of the same files would hold
//! unzipped: each regular file's length (its apparent size: a sparse file counts in full, as
//! `zip` stores every byte of it) and each symbolic link's target text; directories count
//! nothing. Entries are looked at without following links, except the roots given (a code
//! directory, a program or an extension named through a link is copied as what it names).
//!
//! The digest is a SHA-256 over every entry in name order: its kind, its path under the root,
//! its mode, and its contents (a link's target). Two copies with the same digest hold the same
//! files; modification times do not count.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::SnapshotError;
use crate::package::{stays_inside, MAX_UNZIPPED_BYTES};

/// Lambda's unzipped size of the tree under directory `dir` (followed if it is a link). Stops
/// looking, with [`SnapshotError::TooLarge`], as soon as it is over the limit.
pub(super) fn measure_tree(dir: &Path) -> Result<u64, SnapshotError> {
    let meta = fs::metadata(dir).map_err(|e| SnapshotError::read(dir, &e))?;
    if !meta.is_dir() {
        return Err(SnapshotError::read(
            dir,
            &std::io::Error::other("not a directory"),
        ));
    }
    let mut total: u64 = 0;
    add_tree(dir, &mut total)?;
    Ok(total)
}

fn add_tree(dir: &Path, total: &mut u64) -> Result<(), SnapshotError> {
    for (path, meta) in entries(dir)? {
        if meta.is_dir() {
            add_tree(&path, total)?;
            continue;
        }
        let size = if meta.is_symlink() {
            link_target(&path)?.as_os_str().len() as u64
        } else if meta.is_file() {
            meta.len()
        } else {
            return Err(unsupported(&path, &meta));
        };
        *total = total.saturating_add(size);
        if *total > MAX_UNZIPPED_BYTES {
            return Err(SnapshotError::TooLarge);
        }
    }
    Ok(())
}

/// Lambda's unzipped size of one file (followed if it is a link).
pub(super) fn measure_file(path: &Path) -> Result<u64, SnapshotError> {
    let meta = fs::metadata(path).map_err(|e| SnapshotError::read(path, &e))?;
    if !meta.is_file() {
        return Err(unsupported(path, &meta));
    }
    Ok(meta.len())
}

/// Copies files into a snapshot, counting what it copies against Lambda's limit and folding it
/// into the digest.
pub(super) struct Copier {
    hasher: Sha256,
    /// Bytes copied so far (the measure above).
    copied: u64,
}

impl Copier {
    pub fn new() -> Self {
        Self {
            hasher: Sha256::new(),
            copied: 0,
        }
    }

    /// Bytes copied so far.
    pub fn copied(&self) -> u64 {
        self.copied
    }

    /// The digest of everything copied.
    pub fn digest(self) -> [u8; 32] {
        self.hasher.finalize().into()
    }

    /// Copies the tree under directory `source` (followed if it is a link) to `target`, which
    /// must not exist; `tag` names the tree in the digest.
    pub fn copy_tree(
        &mut self,
        tag: &str,
        source: &Path,
        target: &Path,
    ) -> Result<(), SnapshotError> {
        let meta = fs::metadata(source).map_err(|e| SnapshotError::read(source, &e))?;
        self.entry(b'd', Path::new(tag), meta.mode());
        self.copy_dir(source, target, Path::new(tag), meta.mode())
    }

    /// Copies one file (followed if it is a link) to `target`, which must not exist; `tag`
    /// names it in the digest.
    pub fn copy_file(
        &mut self,
        tag: &str,
        source: &Path,
        target: &Path,
    ) -> Result<(), SnapshotError> {
        self.copy_regular(source, target, Path::new(tag), true)
    }

    fn copy_dir(
        &mut self,
        source: &Path,
        target: &Path,
        relative: &Path,
        mode: u32,
    ) -> Result<(), SnapshotError> {
        // Owner-writable until its entries are in; its own mode last.
        fs::DirBuilder::new()
            .mode(0o700)
            .create(target)
            .map_err(|e| SnapshotError::write(target, &e))?;
        for (path, meta) in entries(source)? {
            let name = path.file_name().unwrap_or_default();
            let (to, relative) = (target.join(name), relative.join(name));
            if meta.is_dir() {
                self.entry(b'd', &relative, meta.mode());
                self.copy_dir(&path, &to, &relative, meta.mode())?;
            } else if meta.is_symlink() {
                self.copy_link(&path, &to, &relative)?;
            } else if meta.is_file() {
                self.copy_regular(&path, &to, &relative, false)?;
            } else {
                return Err(unsupported(&path, &meta));
            }
        }
        set_mode(target, mode)
    }

    /// A link stays a link, with the same target (which is not copied when it is outside).
    fn copy_link(
        &mut self,
        source: &Path,
        target: &Path,
        relative: &Path,
    ) -> Result<(), SnapshotError> {
        let to = link_target(source)?;
        self.count(to.as_os_str().len() as u64)?;
        self.entry(b'l', relative, 0);
        self.hasher.update(to.as_os_str().as_bytes());
        self.hasher.update([0]);
        if !stays_inside(relative, &to) {
            tracing::warn!(
                link = %source.display(),
                target = %to.display(),
                "the published version's copy keeps this symbolic link as it is: what it \
                 points at is outside the copied code and is not part of the version"
            );
        }
        std::os::unix::fs::symlink(&to, target).map_err(|e| SnapshotError::write(target, &e))
    }

    /// Copies a regular file's bytes and mode. `follow`: `source` may be a link to one.
    fn copy_regular(
        &mut self,
        source: &Path,
        target: &Path,
        relative: &Path,
        follow: bool,
    ) -> Result<(), SnapshotError> {
        // Non-blocking, so that a FIFO put in a file's place does not hang the copy (it is
        // refused below); not following links where the walk saw a file.
        let mut flags = libc::O_NONBLOCK;
        if !follow {
            flags |= libc::O_NOFOLLOW;
        }
        let mut from = OpenOptions::new()
            .read(true)
            .custom_flags(flags)
            .open(source)
            .map_err(|e| SnapshotError::read(source, &e))?;
        let meta = from
            .metadata()
            .map_err(|e| SnapshotError::read(source, &e))?;
        if !meta.is_file() {
            return Err(unsupported(source, &meta));
        }
        self.entry(b'f', relative, meta.mode());
        let mut to = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(target)
            .map_err(|e| SnapshotError::write(target, &e))?;
        let mut buffer = vec![0u8; 64 * 1024];
        let mut length: u64 = 0;
        loop {
            let n =
                read_some(&mut from, &mut buffer).map_err(|e| SnapshotError::read(source, &e))?;
            if n == 0 {
                break;
            }
            // A file that grew since it was measured still counts.
            self.count(n as u64)?;
            length += n as u64;
            let chunk = &buffer[..n];
            self.hasher.update(chunk);
            to.write_all(chunk)
                .map_err(|e| SnapshotError::write(target, &e))?;
        }
        self.hasher.update(length.to_le_bytes());
        set_mode(target, meta.mode())
    }

    /// Counts `bytes` more against Lambda's limit.
    fn count(&mut self, bytes: u64) -> Result<(), SnapshotError> {
        self.copied = self.copied.saturating_add(bytes);
        if self.copied > MAX_UNZIPPED_BYTES {
            return Err(SnapshotError::TooLarge);
        }
        Ok(())
    }

    /// Folds an entry's kind, path and mode into the digest.
    fn entry(&mut self, kind: u8, relative: &Path, mode: u32) {
        self.hasher.update([kind]);
        self.hasher.update(relative.as_os_str().as_bytes());
        self.hasher.update([0]);
        self.hasher.update((mode & 0o7777).to_le_bytes());
    }
}

/// Reads what is there, retrying a read interrupted by a signal.
fn read_some(file: &mut File, buffer: &mut [u8]) -> std::io::Result<usize> {
    loop {
        match file.read(buffer) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// The entries of `dir` with their metadata (links not followed), in name order.
fn entries(dir: &Path) -> Result<Vec<(PathBuf, fs::Metadata)>, SnapshotError> {
    let read = fs::read_dir(dir).map_err(|e| SnapshotError::read(dir, &e))?;
    let mut entries = Vec::new();
    for entry in read {
        let entry = entry.map_err(|e| SnapshotError::read(dir, &e))?;
        let path = entry.path();
        let meta = fs::symlink_metadata(&path).map_err(|e| SnapshotError::read(&path, &e))?;
        entries.push((path, meta));
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(entries)
}

fn link_target(path: &Path) -> Result<PathBuf, SnapshotError> {
    fs::read_link(path).map_err(|e| SnapshotError::read(path, &e))
}

fn set_mode(path: &Path, mode: u32) -> Result<(), SnapshotError> {
    fs::set_permissions(path, fs::Permissions::from_mode(mode & 0o7777))
        .map_err(|e| SnapshotError::write(path, &e))
}

/// The error for an entry that is neither a file, a directory nor a link.
fn unsupported(path: &Path, meta: &fs::Metadata) -> SnapshotError {
    let t = meta.file_type();
    let kind = if t.is_fifo() {
        "named pipe"
    } else if t.is_socket() {
        "socket"
    } else if t.is_char_device() || t.is_block_device() {
        "device"
    } else if t.is_dir() {
        "directory"
    } else {
        "special file"
    };
    SnapshotError::Unsupported {
        path: path.to_path_buf(),
        kind,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tempdir(name: &str) -> PathBuf {
        crate::testing::temp_dir(&format!("snapshot-copy-{name}"))
    }

    fn copy(source: &Path, target: &Path) -> [u8; 32] {
        let mut c = Copier::new();
        c.copy_tree("task", source, target).unwrap();
        c.digest()
    }

    #[test]
    fn modes_links_and_nested_files_are_copied_and_the_digest_follows_contents_only() {
        let src = tempdir("src");
        fs::create_dir_all(src.join("lib/deep")).unwrap();
        fs::write(src.join("bootstrap"), "#!/bin/sh\n").unwrap();
        fs::set_permissions(src.join("bootstrap"), fs::Permissions::from_mode(0o755)).unwrap();
        fs::write(src.join("lib/deep/data.txt"), "one").unwrap();
        fs::set_permissions(src.join("lib/deep"), fs::Permissions::from_mode(0o555)).unwrap();
        std::os::unix::fs::symlink("lib/deep/data.txt", src.join("link")).unwrap();
        let out = tempdir("out");
        let first = copy(&src, &out.join("a"));
        let a = out.join("a");
        assert_eq!(
            fs::metadata(a.join("bootstrap")).unwrap().mode() & 0o777,
            0o755
        );
        assert_eq!(
            fs::metadata(a.join("lib/deep")).unwrap().mode() & 0o777,
            0o555
        );
        assert_eq!(
            fs::read_link(a.join("link")).unwrap(),
            Path::new("lib/deep/data.txt")
        );
        assert_eq!(fs::read_to_string(a.join("link")).unwrap(), "one");
        assert_eq!(measure_tree(&src).unwrap(), 10 + 3 + 17);

        // A touch changes nothing; new contents or a new mode do.
        let f = File::options()
            .write(true)
            .open(src.join("bootstrap"))
            .unwrap();
        f.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(60))
            .unwrap();
        assert_eq!(copy(&src, &out.join("b")), first);
        fs::set_permissions(src.join("bootstrap"), fs::Permissions::from_mode(0o700)).unwrap();
        let moded = copy(&src, &out.join("c"));
        assert_ne!(moded, first);
        fs::set_permissions(src.join("lib/deep"), fs::Permissions::from_mode(0o755)).unwrap();
        fs::write(src.join("lib/deep/data.txt"), "two").unwrap();
        fs::set_permissions(src.join("lib/deep"), fs::Permissions::from_mode(0o555)).unwrap();
        assert_ne!(copy(&src, &out.join("d")), moded);

        for dir in [&src, &out] {
            for d in [
                "lib/deep",
                "a/lib/deep",
                "b/lib/deep",
                "c/lib/deep",
                "d/lib/deep",
            ] {
                let _ = fs::set_permissions(dir.join(d), fs::Permissions::from_mode(0o755));
            }
            fs::remove_dir_all(dir).unwrap();
        }
    }

    #[test]
    fn a_named_pipe_is_refused_by_name() {
        let src = tempdir("fifo");
        fs::write(src.join("a.txt"), "a").unwrap();
        let fifo = src.join("pipe");
        let c = std::ffi::CString::new(fifo.as_os_str().as_bytes()).unwrap();
        // SAFETY: `c` is a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
        let e = measure_tree(&src).unwrap_err();
        assert_eq!(
            e,
            SnapshotError::Unsupported {
                path: fifo.clone(),
                kind: "named pipe"
            }
        );
        let out = tempdir("fifo-out");
        let e = Copier::new()
            .copy_tree("task", &src, &out.join("t"))
            .unwrap_err();
        assert!(e.to_string().contains(&fifo.display().to_string()), "{e}");
        fs::remove_dir_all(&src).unwrap();
        fs::remove_dir_all(&out).unwrap();
    }

    #[test]
    fn a_sparse_file_counts_its_apparent_size() {
        let src = tempdir("sparse");
        let f = File::create(src.join("big")).unwrap();
        f.set_len(MAX_UNZIPPED_BYTES).unwrap();
        assert_eq!(
            measure_tree(&src).unwrap(),
            MAX_UNZIPPED_BYTES,
            "at the limit"
        );
        f.set_len(MAX_UNZIPPED_BYTES + 1).unwrap();
        assert_eq!(measure_tree(&src).unwrap_err(), SnapshotError::TooLarge);
        assert_eq!(
            measure_file(&src.join("big")).unwrap(),
            MAX_UNZIPPED_BYTES + 1
        );
        fs::remove_dir_all(&src).unwrap();
    }
}
