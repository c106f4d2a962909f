//! A private `/tmp`: which entries of the machine's `/tmp` an environment keeps at their
//! paths (read-only), where its own directory is bound again so that its `TMPDIR` path names
//! it inside, and the mount points, made before `fork` (see the parent module for the
//! mounts themselves).

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::locked_flags;

/// An environment's private directory bound at `/tmp`, and what stays at its path.
#[derive(Debug, Clone)]
pub struct TmpMount {
    /// The directory.
    pub(super) dir: CString,
    /// The entries of the machine's `/tmp` kept at their paths, read-only.
    pub(super) keep: Vec<Kept>,
    /// Where the directory is bound again inside itself, so that its own path (the
    /// environment's `TMPDIR`) names it inside too; `None` when it is not under `/tmp`.
    pub(super) own_path: Option<CString>,
}

/// An entry of the machine's `/tmp` kept at its path in a private `/tmp`.
#[derive(Debug, Clone)]
pub(super) struct Kept {
    /// The entry.
    pub(super) what: CString,
    /// Its mount point in the private directory.
    pub(super) at: CString,
    /// The flags of its mount a read-only remount keeps (see [`locked_flags`]).
    pub(super) flags: libc::c_ulong,
}

/// Why a private `/tmp` cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum TmpMountError {
    /// A path the environment needs is the machine's `/tmp` itself.
    #[error("{0} is the machine's /tmp itself, which cannot be kept")]
    NeedsTmp(PathBuf),
    /// A mount point could not be made, or a path cannot be passed to the kernel.
    #[error("{0}")]
    Io(#[from] io::Error),
}

impl TmpMount {
    /// `dir` at `/tmp`, keeping at its path (read-only) each of `needed` (absolute paths,
    /// followed through symbolic links too; others and those that do not exist are left out)
    /// that lies under the machine's `/tmp`: the first component under `/tmp` of each, bound
    /// at a mount point of the same name in `dir`. `dir`'s own path names it inside too, with
    /// nothing else of the directories above it. Creates the mount points in `dir`.
    pub fn prepare(
        dir: &Path,
        needed: impl IntoIterator<Item = PathBuf>,
    ) -> Result<Self, TmpMountError> {
        let tmp = Path::new("/tmp");
        let mut entries: Vec<PathBuf> = Vec::new();
        for path in needed {
            let canonical = std::fs::canonicalize(&path).ok();
            for path in std::iter::once(path).chain(canonical) {
                let Ok(rest) = path.strip_prefix(tmp) else {
                    continue;
                };
                match rest.components().next() {
                    Some(std::path::Component::Normal(first)) => {
                        let entry = tmp.join(first);
                        if !entries.contains(&entry) {
                            entries.push(entry);
                        }
                    }
                    None => return Err(TmpMountError::NeedsTmp(path)),
                    Some(_) => {}
                }
            }
        }
        let c = |p: &Path| CString::new(p.as_os_str().as_bytes()).map_err(io::Error::other);
        let mut keep = Vec::with_capacity(entries.len());
        for entry in &entries {
            // Followed, as the bind follows it.
            let Ok(meta) = std::fs::metadata(entry) else {
                continue;
            };
            let Some(name) = entry.file_name() else {
                continue;
            };
            let at = dir.join(name);
            if meta.is_dir() {
                match std::fs::create_dir(&at) {
                    Err(e) if e.kind() != io::ErrorKind::AlreadyExists => return Err(e.into()),
                    _ => {}
                }
            } else if !at.exists() {
                std::fs::File::create(&at)?;
            }
            keep.push(Kept {
                what: c(entry)?,
                at: c(&at)?,
                flags: locked_flags(entry),
            });
        }
        // The directory's own path: inside a kept entry, its mount point is the directory
        // itself, seen through that entry's bind; otherwise a chain of empty directories in
        // it, so that the directories above it (other environments') stay out of view.
        let own_path = match dir.strip_prefix(tmp) {
            Ok(rest) if !rest.as_os_str().is_empty() => {
                let inside = entries.iter().any(|e| dir.starts_with(e) && e != dir);
                if !inside {
                    std::fs::create_dir_all(dir.join(rest))?;
                }
                Some(c(&dir.join(rest))?)
            }
            _ => None,
        };
        Ok(Self {
            dir: c(dir)?,
            keep,
            own_path,
        })
    }

    /// The machine's entries kept at their paths.
    #[cfg(test)]
    fn kept(&self) -> Vec<&str> {
        self.keep
            .iter()
            .map(|k| k.what.to_str().unwrap_or_default())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::tempfile_dir;
    use super::*;

    #[test]
    fn a_private_tmp_keeps_the_first_entry_under_tmp_of_each_needed_path() {
        let base = tempfile_dir().expect("a directory");
        // The paths below are only under `/tmp` when the system's temporary directory is.
        if !base.starts_with("/tmp") {
            let _ = std::fs::remove_dir_all(&base);
            return;
        }
        let name = |p: &Path| p.file_name().unwrap().to_str().unwrap().to_owned();
        let private = base.join("private");
        std::fs::create_dir(&private).unwrap();
        let code = base.join("code");
        std::fs::create_dir(&code).unwrap();
        // Reached through a link outside /tmp (when one can be made there): kept by where
        // it leads, another entry under /tmp.
        let target = tempfile_dir().unwrap();
        let link = Path::new("/var/tmp").join(format!(
            "firebox-link-{}-{}",
            std::process::id(),
            crate::ids::request_id()
        ));
        let linked = std::os::unix::fs::symlink(&target, &link).is_ok();
        let mut needed = vec![
            code.join("bootstrap"),
            PathBuf::from("/usr/bin"),
            PathBuf::from("/tmp/firebox-no-such-entry/bin"),
            PathBuf::from("relative/path"),
        ];
        if linked {
            needed.push(link.clone());
        }
        let tmp = TmpMount::prepare(&private, needed).unwrap();
        let _ = std::fs::remove_file(&link);
        let _ = std::fs::remove_dir_all(&target);
        // The test's directory under /tmp (and the link's target), made mount points in the
        // private directory; the private directory's own path is inside the first, so it is
        // bound there.
        let mut expected = vec![base.to_str().unwrap()];
        if linked {
            expected.push(target.to_str().unwrap());
        }
        assert_eq!(tmp.kept(), expected);
        assert!(private.join(name(&base)).is_dir());
        assert_eq!(
            tmp.own_path.as_ref().unwrap().to_str().unwrap(),
            private
                .join(base.strip_prefix("/tmp").unwrap())
                .join("private")
                .to_str()
                .unwrap()
        );
        // Needing nothing there: its own path is a chain of empty directories in it.
        let alone = base.join("alone");
        std::fs::create_dir(&alone).unwrap();
        let tmp = TmpMount::prepare(&alone, [PathBuf::from("/usr/bin")]).unwrap();
        assert!(tmp.kept().is_empty());
        let own = alone.join(alone.strip_prefix("/tmp").unwrap());
        assert!(own.is_dir(), "{own:?}");
        assert!(matches!(
            TmpMount::prepare(&private, [PathBuf::from("/tmp")]),
            Err(TmpMountError::NeedsTmp(_))
        ));
        let _ = std::fs::remove_dir_all(&base);
    }
}
