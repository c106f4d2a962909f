//! A published version's own copy of code that lives on disk, so that, as on Lambda, a version
//! published at run time (`PublishVersion`) keeps running the code it was published with after
//! the files change.
//!
//! What is copied (`SnapshotPlan::of`), into a directory of its own in the emulator's store
//! (see [`crate::package`]):
//! - with a `code_dir`, the whole tree under it, as `task/`: files with their modes, links as
//!   links (with the same target), directories with their modes. The program runs from the
//!   copy when it is a path inside `code_dir`; a program found on `PATH`, a `[runtimes]`
//!   command's program, and a program elsewhere stay where they are (they are the runtime,
//!   not the code). Arguments of a `command` that are absolute paths inside `code_dir` name
//!   the copy; other arguments are left as they are.
//! - without one, the program alone, when it is a file path (not a name found on `PATH`),
//!   into `task/`, which becomes the working directory; its arguments are left as they are.
//! - the external extensions outside `code_dir`, into `extensions/` (Lambda's layers).
//!
//! An uploaded package is never copied: it never changes. A copy larger than Lambda's
//! unzipped limit is refused before anything is written (the `copy` module says what counts), and a
//! copy that fails leaves nothing behind. The copy is removed once no configuration holds it
//! (its version deleted and its environments ended), and with the store when the emulator
//! stops. Its digest tells whether the code changed since the last publish.

mod copy;

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use crate::config::FunctionConfig;
use crate::package::{PackageStore, MAX_UNZIPPED_BYTES};

/// Why the code could not be copied for a new version.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotError {
    /// Over Lambda's 250 MB unzipped (code and extensions together, as Lambda counts a
    /// function's code with its layers).
    #[error("Unzipped size must be smaller than {MAX_UNZIPPED_BYTES} bytes")]
    TooLarge,
    /// A file or directory of the code could not be read.
    #[error("could not copy the function's code to publish a version: cannot read `{}`: {message}", path.display())]
    Read {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// The copy could not be written (a full disk, ...).
    #[error("could not copy the function's code to publish a version: cannot write `{}`: {message}", path.display())]
    Write {
        /// The file or directory of the copy.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// An entry a `.zip` cannot hold: a named pipe, a socket or a device.
    #[error("cannot publish a version: `{}` is a {kind}, which a function's code cannot hold", path.display())]
    Unsupported {
        /// The entry.
        path: PathBuf,
        /// What it is.
        kind: &'static str,
    },
    /// The code directory holds the emulator's store: it cannot be copied into itself.
    #[error("cannot publish a version: the code directory `{}` holds the emulator's store `{}`", code_dir.display(), store.display())]
    HoldsStore {
        /// The code directory.
        code_dir: PathBuf,
        /// The store.
        store: PathBuf,
    },
}

impl SnapshotError {
    fn read(path: &Path, e: &std::io::Error) -> Self {
        Self::Read {
            path: path.to_path_buf(),
            message: e.to_string(),
        }
    }

    fn write(path: &Path, e: &std::io::Error) -> Self {
        Self::Write {
            path: path.to_path_buf(),
            message: e.to_string(),
        }
    }
}

/// The function's own code, as its configuration names it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Code {
    /// `code_dir`, copied whole.
    Dir(PathBuf),
    /// The program, copied alone (no `code_dir`).
    Program(PathBuf),
}

/// What a version published from a configuration copies.
#[derive(Debug, Clone)]
pub(crate) struct SnapshotPlan {
    code: Option<Code>,
    /// The external extensions outside `code_dir`.
    extensions: Vec<PathBuf>,
}

impl SnapshotPlan {
    /// What to copy for a version of `config` (`$LATEST`); `None` when nothing of it is on disk
    /// to copy (an uploaded package without extensions, or a program found on `PATH` without
    /// `code_dir` or extensions).
    pub fn of(config: &FunctionConfig) -> Option<Self> {
        let code = if config.package.is_some() {
            None
        } else if config.code_dir_given {
            config.code_dir.clone().map(Code::Dir)
        } else {
            config
                .command
                .first()
                .filter(|_| {
                    config.launch == crate::config::Launch::Command && !config.program_from_path
                })
                .map(PathBuf::from)
                .filter(|p| p.is_absolute())
                .map(Code::Program)
        };
        let extensions = config
            .extensions
            .iter()
            .filter(|e| !matches!(&code, Some(Code::Dir(dir)) if inside(e, dir).is_some()))
            .cloned()
            .collect::<Vec<_>>();
        (code.is_some() || !extensions.is_empty()).then_some(Self { code, extensions })
    }

    /// Copies the code into a new directory of `store` for `function`, off the runtime's
    /// threads. Nothing is left in the store on an error.
    pub async fn take(
        self,
        store: &Arc<PackageStore>,
        function: &str,
    ) -> Result<Snapshot, SnapshotError> {
        let dir = store.new_dir(function, "version-");
        let root = store.root().to_path_buf();
        let cleanup = dir.clone();
        match tokio::task::spawn_blocking(move || self.take_blocking(&root, dir)).await {
            Ok(taken) => taken,
            // Cancelled only when the runtime stops; a panic is a bug, reported as a failed
            // write (and whatever it wrote is removed).
            Err(e) => {
                let _ = std::fs::remove_dir_all(&cleanup);
                Err(SnapshotError::Write {
                    path: cleanup,
                    message: e.to_string(),
                })
            }
        }
    }

    fn take_blocking(self, root: &Path, dir: PathBuf) -> Result<Snapshot, SnapshotError> {
        if let Some(Code::Dir(code_dir)) = &self.code {
            if root.starts_with(code_dir) {
                return Err(SnapshotError::HoldsStore {
                    code_dir: code_dir.clone(),
                    store: root.to_path_buf(),
                });
            }
        }
        // Measured first: too large, and nothing is written.
        let mut total: u64 = 0;
        match &self.code {
            Some(Code::Dir(code_dir)) => total = copy::measure_tree(code_dir)?,
            Some(Code::Program(program)) => total = copy::measure_file(program)?,
            None => {}
        }
        for extension in &self.extensions {
            total = total.saturating_add(copy::measure_file(extension)?);
        }
        if total > MAX_UNZIPPED_BYTES {
            return Err(SnapshotError::TooLarge);
        }
        std::fs::create_dir_all(root).map_err(|e| SnapshotError::write(root, &e))?;
        std::fs::create_dir(&dir).map_err(|e| SnapshotError::write(&dir, &e))?;
        // From here on, an error drops the snapshot, which removes the directory.
        let mut snapshot = Snapshot {
            dir,
            code: self.code,
            extensions: Vec::new(),
            code_bytes: 0,
            digest: [0; 32],
        };
        let mut copier = copy::Copier::new();
        let task = snapshot.task_dir();
        match &snapshot.code {
            Some(Code::Dir(code_dir)) => copier.copy_tree("task", code_dir, &task)?,
            Some(Code::Program(program)) => {
                std::fs::create_dir(&task).map_err(|e| SnapshotError::write(&task, &e))?;
                let name = file_name(program);
                copier.copy_file(&format!("task/{name}"), program, &task.join(&name))?;
            }
            None => {}
        }
        snapshot.code_bytes = copier.copied();
        if !self.extensions.is_empty() {
            let extensions = snapshot.dir.join("extensions");
            std::fs::create_dir(&extensions).map_err(|e| SnapshotError::write(&extensions, &e))?;
            for source in self.extensions {
                // Extensions have file names of their own (checked with the configuration).
                let name = file_name(&source);
                let copied = extensions.join(&name);
                copier.copy_file(&format!("extensions/{name}"), &source, &copied)?;
                snapshot.extensions.push((source, copied));
            }
        }
        snapshot.digest = copier.digest();
        Ok(snapshot)
    }
}

/// A version's copy of its code: its directory in the store, removed when dropped.
#[derive(Debug)]
pub struct Snapshot {
    dir: PathBuf,
    /// What was copied.
    code: Option<Code>,
    /// Each extension copied, and its copy.
    extensions: Vec<(PathBuf, PathBuf)>,
    /// The bytes of code copied (Lambda's unzipped size of it; extensions not included).
    pub(crate) code_bytes: u64,
    /// The digest of everything copied.
    pub(crate) digest: [u8; 32],
}

impl PartialEq for Snapshot {
    fn eq(&self, other: &Self) -> bool {
        self.dir == other.dir
    }
}

impl Drop for Snapshot {
    fn drop(&mut self) {
        remove_tree(&self.dir);
    }
}

impl Snapshot {
    /// The copy of the code: the version's working directory (`LAMBDA_TASK_ROOT`).
    fn task_dir(&self) -> PathBuf {
        self.dir.join("task")
    }

    /// Makes `config` (`$LATEST`'s, becoming a version's) run this copy: its working
    /// directory, its program and arguments when they are in the copy, and its extensions.
    /// Nothing is watched any more: the copy never changes.
    pub(crate) fn apply(self: Arc<Self>, config: &mut FunctionConfig) {
        let task = self.task_dir();
        match &self.code {
            Some(Code::Dir(code_dir)) => {
                let launch = config.launch.clone();
                let from_path = config.program_from_path;
                for (i, arg) in config.command.iter_mut().enumerate() {
                    // A runtime's command is the runtime's, program and arguments.
                    let moves = match launch {
                        crate::config::Launch::Runtime(_) => false,
                        crate::config::Launch::Bootstrap => i == 0,
                        crate::config::Launch::Command => i > 0 || !from_path,
                    };
                    if let Some(relative) =
                        moves.then(|| inside(Path::new(arg), code_dir)).flatten()
                    {
                        *arg = task.join(relative).display().to_string();
                    }
                }
                config.code_dir = Some(task.clone());
            }
            Some(Code::Program(program)) => {
                if let Some(first) = config.command.first_mut() {
                    *first = task.join(file_name(program)).display().to_string();
                }
                config.code_dir = Some(task.clone());
            }
            None => {}
        }
        for extension in &mut config.extensions {
            if let Some((_, copied)) = self.extensions.iter().find(|(s, _)| s == extension) {
                *extension = copied.clone();
            } else if let Some(Code::Dir(code_dir)) = &self.code {
                if let Some(relative) = inside(extension, code_dir) {
                    *extension = task.join(relative);
                }
            }
        }
        config.reload = false;
        config.snapshot = Some(self);
    }
}

/// Removes a snapshot's directory, modes that forbid it (a read-only directory copied as it
/// was) notwithstanding. Best effort: a directory already gone (the store removed first) is
/// fine.
pub(crate) fn remove_tree(dir: &Path) {
    if std::fs::remove_dir_all(dir).is_ok() || !dir.exists() {
        return;
    }
    make_writable(dir);
    let _ = std::fs::remove_dir_all(dir);
}

fn make_writable(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    if let Ok(read) = std::fs::read_dir(dir) {
        for entry in read.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                make_writable(&entry.path());
            }
        }
    }
}

/// `path`'s file name, as text.
fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "program".to_owned())
}

/// `path` relative to `dir` when it is an absolute path inside it (compared as written, with
/// `.` and `..` worked out).
fn inside(path: &Path, dir: &Path) -> Option<PathBuf> {
    if !path.is_absolute() {
        return None;
    }
    let (path, dir) = (normalize(path), normalize(dir));
    path.strip_prefix(&dir)
        .ok()
        .filter(|r| !r.as_os_str().is_empty())
        .map(Path::to_path_buf)
}

/// `path` with `.` dropped and `..` taking off the component before it, without looking at
/// the disk.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

#[cfg(test)]
mod tests;
