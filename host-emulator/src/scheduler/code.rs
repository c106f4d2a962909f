//! Notices when a function's code changes on disk, so that new invocations start new
//! environments with the new code (what Lambda does after a code update) instead of going to
//! warm environments that still run the old one.
//!
//! What is watched (`CodePaths`): the program file (the first word of `command` once it is a
//! path; configuration files resolve a bare name such as `python3` on `PATH`, so that is the
//! interpreter's file) and, when `code_dir` was given (not derived from the program's path),
//! every file under it, down to [`MAX_DEPTH`] directories,
//! skipping `node_modules`, `__pycache__` and directories whose name starts with a dot, and
//! stopping after [`MAX_ENTRIES`] entries; and the same way, the directories of its layers
//! that are used where they are (not the unpacked `.zip` layers, which never change), up to
//! [`MAX_ENTRIES`] entries for all of them. Each poll folds every entry's path, size,
//! modification time and inode into one fingerprint.
//!
//! A change counts once the new fingerprint has been seen on two polls in a row
//! (`ChangeDetector`): while a build is still writing the binary, invocations keep going
//! to the warm environments.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::sync::mpsc;

use super::PoolMessage;
use crate::config::FunctionConfig;

/// How often the code is looked at.
pub const POLL_INTERVAL: Duration = Duration::from_millis(500);
/// Entries looked at under `code_dir`, at most.
pub const MAX_ENTRIES: usize = 10_000;
/// Directory levels looked into under `code_dir`, at most.
pub const MAX_DEPTH: usize = 8;
/// Directories never looked into: installed dependencies and caches that change on their own.
const SKIPPED_DIRS: &[&str] = &["node_modules", "__pycache__"];

/// The files whose change means new code for one function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CodePaths {
    program: Option<PathBuf>,
    code_dir: Option<PathBuf>,
    layers: Vec<PathBuf>,
}

impl CodePaths {
    /// What to watch for `config`; `None` when reloading is off or there is nothing to watch.
    pub fn of(config: &FunctionConfig) -> Option<Self> {
        if !config.reload {
            return None;
        }
        let program = config
            .command
            .first()
            .filter(|p| p.contains('/'))
            .map(PathBuf::from)
            .filter(|p| {
                // Already covered by the walk of `code_dir`.
                !(config.code_dir_given
                    && config
                        .code_dir
                        .as_ref()
                        .is_some_and(|dir| p.starts_with(dir)))
            });
        // A `code_dir` derived from the program's path (a build's output directory, or
        // `/usr/bin` for an interpreter) holds far more than the function: only a given one is
        // walked.
        let code_dir = config.code_dir.clone().filter(|_| config.code_dir_given);
        let layers = config
            .resolved_layers
            .iter()
            .filter_map(|l| l.watched_dir().map(Path::to_path_buf))
            .collect();
        let paths = CodePaths {
            program,
            code_dir,
            layers,
        };
        let watched = paths.program.is_some() || paths.code_dir.is_some();
        (watched || !paths.layers.is_empty()).then_some(paths)
    }

    /// One fingerprint of everything watched (blocking: it reads file metadata).
    pub fn fingerprint(&self) -> u64 {
        let mut hasher = DefaultHasher::new();
        if let Some(program) = &self.program {
            hash_entry(&mut hasher, program);
        }
        if let Some(dir) = &self.code_dir {
            let mut budget = MAX_ENTRIES;
            hash_dir(&mut hasher, dir, MAX_DEPTH, &mut budget);
        }
        let mut budget = MAX_ENTRIES;
        for layer in &self.layers {
            layer.hash(&mut hasher);
            hash_dir(&mut hasher, layer, MAX_DEPTH, &mut budget);
        }
        hasher.finish()
    }
}

/// Folds one path and its metadata (or its absence) into `hasher`.
fn hash_entry(hasher: &mut DefaultHasher, path: &Path) {
    path.hash(hasher);
    match std::fs::metadata(path) {
        Ok(m) => (m.len(), m.mtime(), m.mtime_nsec(), m.ino(), m.dev()).hash(hasher),
        Err(e) => e.kind().hash(hasher),
    }
}

/// Folds the entries of `dir` into `hasher`, sorted by name so that the order the directory
/// lists them in does not matter, and descends into its subdirectories.
fn hash_dir(hasher: &mut DefaultHasher, dir: &Path, depth: usize, budget: &mut usize) {
    let Ok(read) = std::fs::read_dir(dir) else {
        dir.hash(hasher);
        return;
    };
    let mut entries: Vec<(PathBuf, bool)> = read
        .filter_map(Result::ok)
        .map(|e| (e.path(), e.file_type().is_ok_and(|t| t.is_dir())))
        .collect();
    entries.sort();
    for (path, is_dir) in entries {
        if *budget == 0 {
            return;
        }
        *budget -= 1;
        if is_dir {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if depth > 0 && !name.starts_with('.') && !SKIPPED_DIRS.contains(&name) {
                path.hash(hasher);
                hash_dir(hasher, &path, depth - 1, budget);
            }
        } else {
            hash_entry(hasher, &path);
        }
    }
}

/// Decides, poll after poll, when the code has changed: a new fingerprint must be seen twice
/// in a row, so that a file still being written does not count.
#[derive(Debug)]
pub(crate) struct ChangeDetector {
    current: u64,
    candidate: Option<u64>,
}

impl ChangeDetector {
    /// Starts from the code as it is now.
    pub fn new(current: u64) -> Self {
        ChangeDetector {
            current,
            candidate: None,
        }
    }

    /// Takes one poll's fingerprint; true when the code has changed and settled.
    pub fn observe(&mut self, fingerprint: u64) -> bool {
        if fingerprint == self.current {
            self.candidate = None;
            false
        } else if self.candidate == Some(fingerprint) {
            self.current = fingerprint;
            self.candidate = None;
            true
        } else {
            self.candidate = Some(fingerprint);
            false
        }
    }
}

/// Polls `paths` every `interval` and tells the scheduler when the code has changed. Ends
/// when the scheduler is gone.
pub(crate) async fn watch(
    paths: CodePaths,
    pool: mpsc::UnboundedSender<PoolMessage>,
    interval: Duration,
) {
    let fingerprint = |paths: &CodePaths| {
        let paths = paths.clone();
        tokio::task::spawn_blocking(move || paths.fingerprint())
    };
    let Ok(initial) = fingerprint(&paths).await else {
        return;
    };
    let mut detector = ChangeDetector::new(initial);
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await; // the first tick is immediate
    loop {
        tick.tick().await;
        if pool.is_closed() {
            return;
        }
        let Ok(now) = fingerprint(&paths).await else {
            return;
        };
        if detector.observe(now) && pool.send(PoolMessage::CodeChanged).is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tempdir(name: &str) -> PathBuf {
        crate::testing::temp_dir(&format!("code-{name}"))
    }

    fn write(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn dir_paths(dir: &Path) -> CodePaths {
        CodePaths::of(&FunctionConfig::new("f").code_dir(dir).command(["python3"])).unwrap()
    }

    #[test]
    fn a_nested_file_change_changes_the_fingerprint_and_nothing_else_does() {
        let dir = tempdir("nested");
        write(&dir.join("app.py"), "v1");
        write(&dir.join("pkg/mod.py"), "v1");
        let paths = dir_paths(&dir);
        let before = paths.fingerprint();
        assert_eq!(paths.fingerprint(), before, "stable while nothing changes");
        write(&dir.join("pkg/mod.py"), "v22");
        assert_ne!(paths.fingerprint(), before);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_new_or_removed_file_counts_as_a_change() {
        let dir = tempdir("added");
        write(&dir.join("app.py"), "v1");
        let paths = dir_paths(&dir);
        let before = paths.fingerprint();
        write(&dir.join("extra.py"), "x");
        let added = paths.fingerprint();
        assert_ne!(added, before);
        std::fs::remove_file(dir.join("extra.py")).unwrap();
        assert_eq!(paths.fingerprint(), before);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn dependencies_caches_and_dot_directories_are_not_looked_into() {
        let dir = tempdir("skipped");
        write(&dir.join("index.mjs"), "v1");
        write(&dir.join("node_modules/dep/index.js"), "v1");
        write(&dir.join("__pycache__/app.pyc"), "v1");
        write(&dir.join(".git/HEAD"), "v1");
        let paths = dir_paths(&dir);
        let before = paths.fingerprint();
        write(&dir.join("node_modules/dep/index.js"), "v2 longer");
        write(&dir.join("__pycache__/app.pyc"), "v2 longer");
        write(&dir.join(".git/HEAD"), "v2 longer");
        assert_eq!(paths.fingerprint(), before);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_program_replaced_by_rename_changes_the_fingerprint() {
        let dir = tempdir("program");
        let cwd = tempdir("program-cwd");
        let program = dir.join("bin/bootstrap");
        write(&program, "v1");
        let config = FunctionConfig::new("f")
            .command([program.display().to_string()])
            .code_dir(&cwd);
        let paths = CodePaths::of(&config).unwrap();
        assert_eq!(paths.program.as_deref(), Some(program.as_path()));
        let before = paths.fingerprint();
        // Same size, and possibly the same mtime: the new inode still tells.
        write(&dir.join("bin/new"), "v2");
        std::fs::rename(dir.join("bin/new"), &program).unwrap();
        assert_ne!(paths.fingerprint(), before);
        std::fs::remove_dir_all(&dir).unwrap();
        std::fs::remove_dir_all(&cwd).unwrap();
    }

    #[test]
    fn nothing_is_watched_when_reload_is_off_or_nothing_is_a_path() {
        let off = FunctionConfig::new("f")
            .command(["/bin/true"])
            .reload(false);
        assert_eq!(CodePaths::of(&off), None);
        let on_path = FunctionConfig::new("f").command(["python3", "app.py"]);
        assert_eq!(CodePaths::of(&on_path), None);
    }

    #[test]
    fn a_code_dir_derived_from_the_program_is_not_walked() {
        let dir = tempdir("derived");
        let program = dir.join("hello");
        write(&program, "v1");
        let mut config = FunctionConfig::new("f").command([program.display().to_string()]);
        config.code_dir = Some(dir.clone()); // what validation derives when none is given
        let paths = CodePaths::of(&config).unwrap();
        assert_eq!(paths.code_dir, None);
        assert_eq!(paths.program.as_deref(), Some(program.as_path()));
        let before = paths.fingerprint();
        write(&dir.join("other-build-output"), "x");
        assert_eq!(paths.fingerprint(), before, "only the program counts");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_directories_of_layers_are_watched() {
        let dir = tempdir("layer");
        write(&dir.join("python/mod.py"), "v1");
        let mut config = FunctionConfig::new("f").command(["/bin/true"]).layer(&dir);
        config = config.validate("<test>", Path::new("/")).unwrap();
        let paths = CodePaths::of(&config).unwrap();
        assert_eq!(paths.layers, std::slice::from_ref(&dir));
        let before = paths.fingerprint();
        write(&dir.join("python/mod.py"), "v2 longer");
        assert_ne!(paths.fingerprint(), before);
        let off = config.clone().reload(false);
        assert_eq!(CodePaths::of(&off), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_walk_stops_at_the_entry_budget() {
        let dir = tempdir("budget");
        for i in 0..5 {
            write(&dir.join(format!("f{i}")), "x");
        }
        let mut budget = 3;
        let mut hasher = DefaultHasher::new();
        hash_dir(&mut hasher, &dir, MAX_DEPTH, &mut budget);
        assert_eq!(budget, 0);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_change_counts_once_it_has_settled() {
        let mut d = ChangeDetector::new(1);
        assert!(!d.observe(1));
        assert!(
            !d.observe(2),
            "first sight of new code: maybe still being written"
        );
        assert!(!d.observe(3), "still changing");
        assert!(d.observe(3), "settled");
        assert!(!d.observe(3), "counted once");
        assert!(!d.observe(4));
        assert!(!d.observe(3), "back to the current code: no change");
        assert!(!d.observe(3));
    }
}
