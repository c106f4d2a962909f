//! The process group of one environment and its guards: the emulator-wide registry of living
//! groups (so that dropping the emulator kills them all, even when a test panics), the guard
//! that kills a group however its environment ends, and the environment's private temporary
//! directory. Processes that left the group and the cgroups are found by `sweep`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::cgroup::{self, EnvCgroup};
use super::sweep;

/// Every process group the emulator started and has not yet killed, so that dropping the
/// emulator can kill them all synchronously (no orphans, even when a test panics).
#[derive(Debug, Clone, Default)]
pub struct ProcessRegistry {
    /// Process group id, the freezer cgroup when there is one (thawed when killed), and the
    /// environment's marker (see `sweep`).
    groups: Arc<Groups>,
}

/// A registered group: its freezer cgroup, if any, and its environment's marker.
type Registered = (Option<PathBuf>, Vec<u8>);

impl ProcessRegistry {
    pub(super) fn add(&self, guard: &GroupGuard) {
        let freezer = guard.cgroup.as_ref().map(|c| c.freezer_dir().to_path_buf());
        self.groups
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(guard.pgid, (freezer, guard.marker.clone()));
    }

    fn remove(&self, pgid: i32) {
        self.groups
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&pgid);
    }

    /// Sends SIGKILL to every registered process group, and to the processes that left
    /// them (one scan of `/proc` for all; see `sweep`).
    pub fn kill_all(&self) {
        let groups: Vec<(i32, Registered)> = self
            .groups
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain()
            .collect();
        let mut markers = Vec::with_capacity(groups.len());
        for (pgid, (freezer, marker)) in groups {
            kill_group(pgid, libc::SIGKILL);
            if let Some(dir) = freezer {
                cgroup::kill_dir(&dir);
            }
            markers.push(marker);
        }
        sweep::kill_marked(&markers);
    }

    /// Makes sure this registry's processes end when this process exits normally, though the
    /// emulator is never dropped (one in a `static`, shared by a test binary's tests: statics
    /// are not dropped, and frozen processes would otherwise outlive the binary, unkillable
    /// until thawed). A hook run at exit (`atexit`) kills the groups of every registry still
    /// alive; a dropped emulator's registry is empty by then.
    pub fn kill_at_exit(&self) {
        let mut live = AT_EXIT.lock().unwrap_or_else(|p| p.into_inner());
        live.retain(|w| w.strong_count() > 0);
        live.push(Arc::downgrade(&self.groups));
        static INSTALL: std::sync::Once = std::sync::Once::new();
        INSTALL.call_once(|| {
            // SAFETY: `kill_registries_at_exit` is an `extern "C"` function with no arguments,
            // which never unwinds (it only locks, signals and writes cgroup files).
            unsafe {
                libc::atexit(kill_registries_at_exit);
            }
        });
    }

    /// How many process groups are alive.
    pub fn len(&self) -> usize {
        self.groups.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Whether no process group is alive.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The registries [`ProcessRegistry::kill_at_exit`] watches.
type Groups = Mutex<HashMap<i32, Registered>>;
static AT_EXIT: Mutex<Vec<std::sync::Weak<Groups>>> = Mutex::new(Vec::new());

/// Run by `exit`: kills what the registries still alive hold.
extern "C" fn kill_registries_at_exit() {
    let live = AT_EXIT.lock().unwrap_or_else(|p| p.into_inner());
    for groups in live.iter().filter_map(std::sync::Weak::upgrade) {
        ProcessRegistry { groups }.kill_all();
    }
}

/// Sends `signal` to a process group; whether it was delivered.
pub(super) fn kill_group(pgid: i32, signal: i32) -> bool {
    if pgid > 1 {
        // SAFETY: kill(2) has no memory-safety preconditions; a negative pid names the group.
        unsafe { libc::kill(-pgid, signal) == 0 }
    } else {
        false
    }
}

/// Kills the process group when dropped.
#[derive(Debug)]
pub(super) struct GroupGuard {
    /// The group's id: the pid of its first member (0 until one is spawned).
    pub pgid: i32,
    /// Where the group is registered.
    pub registry: ProcessRegistry,
    /// The environment's cgroups, when used.
    pub cgroup: Option<EnvCgroup>,
    /// The environment variable entry every process of the environment inherits (see
    /// `sweep`).
    pub marker: Vec<u8>,
    /// Whether the processes that left the group were already looked for and killed.
    pub swept: bool,
}

impl GroupGuard {
    /// SIGKILL to the group (and the cgroup's processes); the group stays registered.
    pub fn kill(&self) {
        kill_group(self.pgid, libc::SIGKILL);
        if let Some(cg) = &self.cgroup {
            // Also reaches processes that left the group; thawing lets frozen ones die.
            cgroup::kill_dir(cg.freezer_dir());
        }
        // A stopped process dies of SIGKILL, but continue the group anyway (it may have been
        // stopped with SIGSTOP before its move into the cgroups completed).
        kill_group(self.pgid, libc::SIGCONT);
    }

    /// Kills the environment's processes that left the group and its cgroups (daemons), on
    /// a blocking thread: once the group is dead, nothing of the environment is left.
    pub async fn sweep(&mut self) {
        if self.swept || self.pgid == 0 {
            return;
        }
        self.swept = true;
        let marker = self.marker.clone();
        let scan = tokio::task::spawn_blocking(move || sweep::kill_marked(&[marker]));
        if scan.await.is_err() {
            // The blocking pool is gone (the runtime shuts down): scan here.
            sweep::kill_marked(std::slice::from_ref(&self.marker));
        }
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        self.kill();
        if !self.swept && self.pgid != 0 {
            sweep::kill_marked(std::slice::from_ref(&self.marker));
        }
        self.registry.remove(self.pgid);
    }
}

/// Removes what emulators that died without cleaning up (killed with SIGKILL, or a test
/// process that exited with an emulator in a `static`) left in the system's temporary
/// directory: the `firebox-<pid>-...` directories (environments' private directories, package
/// stores, probes) that belong to this user and whose emulator's process no longer exists.
/// Blocking; runs once per process, at the first emulator's start.
pub fn sweep_stale_temp_dirs() {
    static SWEPT: std::sync::Once = std::sync::Once::new();
    SWEPT.call_once(sweep_now);
}

fn sweep_now() {
    use std::os::unix::fs::MetadataExt;
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    // SAFETY: geteuid(2) has no preconditions and cannot fail.
    let uid = unsafe { libc::geteuid() };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("firebox-"))
            .and_then(|rest| rest.split('-').next())
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == std::process::id() || Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        // Not a symbolic link, and ours.
        let ours = entry
            .path()
            .symlink_metadata()
            .is_ok_and(|m| m.is_dir() && m.uid() == uid);
        if ours {
            tracing::debug!(dir = %entry.path().display(), "removing the temporary directory of an emulator that is gone");
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// A private temporary directory, removed when dropped.
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Creates a fresh directory for one environment.
    pub fn create(function: &str) -> std::io::Result<Self> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("firebox-{}-{function}-{n}", std::process::id()));
        std::fs::create_dir_all(&path)?;
        Ok(Self { path })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        // Best effort: a function may have left files we cannot remove (permissions).
        let _ = std::fs::remove_dir_all(&self.path);
    }
}
