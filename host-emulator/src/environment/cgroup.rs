//! cgroup v1 support for environments: a freezer cgroup (freeze and thaw every process of the
//! environment, wherever it moved in the process tree) and a memory cgroup (the kernel enforces
//! `memory_mb`; its peak usage is `Max Memory Used`). Used when `/sys/fs/cgroup/freezer` and
//! `/sys/fs/cgroup/memory` are mounted and writable; otherwise the caller falls back to the
//! process group (SIGSTOP/SIGCONT) and a `/proc` watcher. Each emulator gets its own parent
//! directory (`firebox-<pid>-<n>`) under its own cgroup, removed when it stops.

use std::ffi::CString;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

const FREEZER_MOUNT: &str = "/sys/fs/cgroup/freezer";
const MEMORY_MOUNT: &str = "/sys/fs/cgroup/memory";

/// The emulator's parent cgroups, removed (when empty) on drop.
#[derive(Debug)]
pub struct CgroupRoots {
    freezer: PathBuf,
    memory: PathBuf,
}

impl CgroupRoots {
    /// Creates the parent cgroups, or says why cgroups cannot be used here.
    pub fn create() -> Result<Self, String> {
        let own = std::fs::read_to_string("/proc/self/cgroup")
            .map_err(|e| format!("cannot read /proc/self/cgroup: {e}"))?;
        let path_of = |controller: &str| {
            own.lines().find_map(|l| {
                let mut parts = l.splitn(3, ':');
                let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
                controllers
                    .split(',')
                    .any(|c| c == controller)
                    .then(|| path.trim_start_matches('/').to_owned())
            })
        };
        // One parent per emulator, even with several emulators in one process (tests).
        static EMULATORS: AtomicU64 = AtomicU64::new(0);
        let leaf = format!(
            "firebox-{}-{}",
            std::process::id(),
            EMULATORS.fetch_add(1, Ordering::Relaxed)
        );
        let mut made = Vec::new();
        for (controller, mount) in [("freezer", FREEZER_MOUNT), ("memory", MEMORY_MOUNT)] {
            let Some(own_path) = path_of(controller) else {
                cleanup(&made);
                return Err(format!("no cgroup v1 `{controller}` controller"));
            };
            let parent = Path::new(mount).join(own_path);
            sweep_stale(&parent);
            let dir = parent.join(&leaf);
            if let Err(e) = std::fs::create_dir_all(&dir) {
                cleanup(&made);
                return Err(format!("cannot create {}: {e}", dir.display()));
            }
            made.push(dir);
        }
        let memory = made.pop().unwrap_or_default();
        let freezer = made.pop().unwrap_or_default();
        Ok(Self { freezer, memory })
    }
}

/// Removes the cgroups of emulators that died without cleaning up (killed with SIGKILL):
/// `firebox-<pid>[-<n>]` directories whose process no longer exists.
fn sweep_stale(parent: &Path) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix("firebox-")) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        let dir = entry.path();
        if let Ok(children) = std::fs::read_dir(&dir) {
            for child in children.flatten().map(|c| c.path()).filter(|p| p.is_dir()) {
                kill_dir(&child);
                let _ = std::fs::remove_dir(&child);
            }
        }
        let _ = std::fs::remove_dir(&dir);
    }
}

fn cleanup(dirs: &[PathBuf]) {
    for d in dirs {
        let _ = std::fs::remove_dir(d);
    }
}

impl Drop for CgroupRoots {
    /// Removes what environments left behind (their processes were killed already), then
    /// the parents; waits at most about a second for the kernel to let go of them.
    fn drop(&mut self) {
        for _ in 0..20 {
            let mut left = false;
            for root in [&self.freezer, &self.memory] {
                let Ok(entries) = std::fs::read_dir(root) else {
                    continue;
                };
                for dir in entries.flatten().map(|e| e.path()).filter(|p| p.is_dir()) {
                    kill_dir(&dir);
                    left |= !remove_if_present(&dir);
                }
            }
            if !left {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        cleanup(&[self.freezer.clone(), self.memory.clone()]);
    }
}

/// One environment's freezer and memory cgroups.
#[derive(Debug)]
pub struct EnvCgroup {
    freezer: PathBuf,
    memory: PathBuf,
    /// `cgroup.procs` of both, prepared before `fork` for [`Joiner::join`].
    procs: [CString; 2],
}

impl EnvCgroup {
    /// Creates the cgroups of a new environment with a memory limit.
    pub fn create(roots: &CgroupRoots, limit_bytes: u64) -> io::Result<Self> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let name = format!("env-{}", COUNTER.fetch_add(1, Ordering::Relaxed));
        let freezer = roots.freezer.join(&name);
        let memory = roots.memory.join(&name);
        std::fs::create_dir(&freezer)?;
        if let Err(e) = std::fs::create_dir(&memory) {
            let _ = std::fs::remove_dir(&freezer);
            return Err(e);
        }
        let cg = Self {
            procs: [
                cstring(&freezer.join("cgroup.procs"))?,
                cstring(&memory.join("cgroup.procs"))?,
            ],
            freezer,
            memory,
        };
        std::fs::write(
            cg.memory.join("memory.limit_in_bytes"),
            limit_bytes.to_string(),
        )?;
        // Without swap accounting this file is absent; the plain limit is enough then.
        let _ = std::fs::write(
            cg.memory.join("memory.memsw.limit_in_bytes"),
            limit_bytes.to_string(),
        );
        Ok(cg)
    }

    /// What the child needs to join both cgroups between `fork` and `exec`.
    pub fn joiner(&self) -> Joiner {
        Joiner {
            procs: self.procs.clone(),
        }
    }

    /// The freezer directory (for the process registry).
    pub fn freezer_dir(&self) -> &Path {
        &self.freezer
    }

    /// Freezes every process of the environment.
    pub fn freeze(&self) -> io::Result<()> {
        std::fs::write(self.freezer.join("freezer.state"), "FROZEN")
    }

    /// Thaws every process of the environment.
    pub fn thaw(&self) -> io::Result<()> {
        thaw_dir(&self.freezer)
    }

    /// Peak memory use of the environment, in bytes.
    pub fn peak_bytes(&self) -> u64 {
        read_u64(&self.peak_path()).unwrap_or(0)
    }

    /// The file that holds the peak memory use of the environment.
    pub fn peak_path(&self) -> PathBuf {
        self.memory.join("memory.max_usage_in_bytes")
    }

    /// Processes the kernel killed for lack of memory in this cgroup so far.
    pub fn oom_kills(&self) -> u64 {
        std::fs::read_to_string(self.memory.join("memory.oom_control"))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("oom_kill "))
                    .and_then(|v| v.trim().parse().ok())
            })
            .unwrap_or(0)
    }

    /// Whether the memory limit was hit (allocations failed or processes were killed).
    pub fn hit_limit(&self) -> bool {
        self.oom_kills() > 0
    }

    /// Removes both cgroups (after their processes are gone; retried briefly while the
    /// kernel finishes tearing them down).
    pub async fn remove(&self) {
        for _ in 0..50 {
            let f = remove_if_present(&self.freezer);
            let m = remove_if_present(&self.memory);
            if f && m {
                return;
            }
            kill_dir(&self.freezer);
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        tracing::warn!(freezer = %self.freezer.display(), memory = %self.memory.display(), "cgroup not removed");
    }
}

/// The `cgroup.procs` files of an environment, prepared before `fork`.
#[derive(Debug)]
pub struct Joiner {
    procs: [CString; 2],
}

impl Joiner {
    /// Moves the calling process into both cgroups. Runs in the child between `fork` and
    /// `exec`, so it only makes raw system calls on data prepared beforehand.
    pub fn join(&self) -> io::Result<()> {
        for path in &self.procs {
            // SAFETY: `path` is a valid NUL-terminated string; open, write and close are
            // async-signal-safe; writing "0" moves the calling process.
            unsafe {
                let fd = libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
                if fd < 0 {
                    return Err(io::Error::last_os_error());
                }
                let n = libc::write(fd, b"0".as_ptr().cast(), 1);
                let err = io::Error::last_os_error();
                libc::close(fd);
                if n != 1 {
                    return Err(err);
                }
            }
        }
        Ok(())
    }
}

/// Kills every process of a freezer cgroup and thaws it, so the kills take effect.
pub fn kill_dir(freezer: &Path) {
    if let Ok(procs) = std::fs::read_to_string(freezer.join("cgroup.procs")) {
        for pid in procs.lines().filter_map(|p| p.trim().parse::<i32>().ok()) {
            // SAFETY: kill(2) has no memory-safety preconditions.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
    }
    let _ = thaw_dir(freezer);
}

fn thaw_dir(freezer: &Path) -> io::Result<()> {
    std::fs::write(freezer.join("freezer.state"), "THAWED")
}

fn remove_if_present(dir: &Path) -> bool {
    match std::fs::remove_dir(dir) {
        Ok(()) => true,
        Err(e) => e.kind() == io::ErrorKind::NotFound,
    }
}

fn read_u64(path: &Path) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

fn cstring(path: &Path) -> io::Result<CString> {
    use std::os::unix::ffi::OsStrExt;
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains NUL"))
}
