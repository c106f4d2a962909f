//! cgroup v1 support for environments: a freezer cgroup (freeze and thaw every process of the
//! environment, wherever it moved in the process tree), a memory cgroup (the kernel enforces
//! `memory_mb`; its peak usage is `Max Memory Used`) and, with `cpu_by_memory`, a cpu cgroup
//! (a CFS quota in proportion to `memory_mb`). Used when `/sys/fs/cgroup/freezer` and
//! `/sys/fs/cgroup/memory` are mounted and writable; otherwise the caller falls back to the
//! process group (SIGSTOP/SIGCONT) and a `/proc` watcher. Each emulator gets its own parent
//! directory (`firebox-<pid>-<n>`) under its own cgroup, removed when it stops.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

const FREEZER_MOUNT: &str = "/sys/fs/cgroup/freezer";
const MEMORY_MOUNT: &str = "/sys/fs/cgroup/memory";
const CPU_MOUNT: &str = "/sys/fs/cgroup/cpu";

/// The CFS period of an environment's cpu cgroup, in microseconds (the kernel's default).
const CPU_PERIOD_US: u64 = 100_000;
/// The memory that buys one vCPU on Lambda, in MB.
const MB_PER_VCPU: u64 = 1769;
/// The smallest CFS quota the kernel accepts, in microseconds.
const MIN_CPU_QUOTA_US: u64 = 1000;

/// The CFS quota (per `CPU_PERIOD_US`) of an environment of `memory_mb`: Lambda's CPU share
/// for that memory, one vCPU per 1,769 MB.
pub fn cpu_quota_us(memory_mb: u32) -> u64 {
    (u64::from(memory_mb) * CPU_PERIOD_US / MB_PER_VCPU).max(MIN_CPU_QUOTA_US)
}

/// The emulator's parent cgroups, removed (when empty) on drop.
#[derive(Debug)]
pub struct CgroupRoots {
    freezer: PathBuf,
    memory: PathBuf,
    /// With `cpu_by_memory` (see [`CgroupRoots::add_cpu`]).
    cpu: Option<PathBuf>,
}

impl CgroupRoots {
    /// Creates the parent cgroups, or says why cgroups cannot be used here.
    pub fn create() -> Result<Self, String> {
        let own = own_cgroups()?;
        let path_of = |controller: &str| own_path(&own, controller);
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
        Ok(Self {
            freezer,
            memory,
            cpu: None,
        })
    }

    /// Adds the parent cpu cgroup, under which each environment gets a CFS quota, or says
    /// why it cannot.
    pub fn add_cpu(&mut self) -> Result<(), String> {
        let own_path = own_path(&own_cgroups()?, "cpu").ok_or("no cgroup v1 `cpu` controller")?;
        let parent = Path::new(CPU_MOUNT).join(own_path);
        if !parent.join("cpu.cfs_quota_us").exists() {
            return Err(format!("no CFS quota in {}", parent.display()));
        }
        sweep_stale(&parent);
        let leaf = self.freezer.file_name().unwrap_or_default();
        let dir = parent.join(leaf);
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        self.cpu = Some(dir);
        Ok(())
    }

    /// Whether environments get a cpu cgroup.
    pub fn has_cpu(&self) -> bool {
        self.cpu.is_some()
    }
}

/// This process's `/proc/self/cgroup`.
fn own_cgroups() -> Result<String, String> {
    std::fs::read_to_string("/proc/self/cgroup")
        .map_err(|e| format!("cannot read /proc/self/cgroup: {e}"))
}

/// This process's cgroup in the v1 hierarchy of `controller` (relative to its mount), from
/// the text of `/proc/self/cgroup`.
fn own_path(own: &str, controller: &str) -> Option<String> {
    own.lines().find_map(|l| {
        let mut parts = l.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        controllers
            .split(',')
            .any(|c| c == controller)
            .then(|| path.trim_start_matches('/').to_owned())
    })
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
            for root in [Some(&self.freezer), Some(&self.memory), self.cpu.as_ref()]
                .into_iter()
                .flatten()
            {
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
        let mut roots = vec![self.freezer.clone(), self.memory.clone()];
        roots.extend(self.cpu.clone());
        cleanup(&roots);
    }
}

/// One environment's freezer and memory cgroups, and its cpu cgroup with `cpu_by_memory`.
#[derive(Debug)]
pub struct EnvCgroup {
    freezer: PathBuf,
    memory: PathBuf,
    cpu: Option<PathBuf>,
    limit_bytes: u64,
}

impl EnvCgroup {
    /// Creates the cgroups of a new environment of `memory_mb`: its memory limit, and its
    /// CPU share where the roots have a cpu cgroup.
    pub fn create(roots: &CgroupRoots, memory_mb: u32) -> io::Result<Self> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let name = format!("env-{}", COUNTER.fetch_add(1, Ordering::Relaxed));
        let freezer = roots.freezer.join(&name);
        let memory = roots.memory.join(&name);
        let cpu = roots.cpu.as_ref().map(|root| root.join(&name));
        std::fs::create_dir(&freezer)?;
        if let Err(e) = std::fs::create_dir(&memory) {
            let _ = std::fs::remove_dir(&freezer);
            return Err(e);
        }
        if let Some(dir) = &cpu {
            if let Err(e) = std::fs::create_dir(dir) {
                let _ = std::fs::remove_dir(&freezer);
                let _ = std::fs::remove_dir(&memory);
                return Err(e);
            }
        }
        let cg = Self {
            freezer,
            memory,
            cpu,
            limit_bytes: u64::from(memory_mb) * 1024 * 1024,
        };
        if let Err(e) = cg.set_limits(memory_mb) {
            // Still empty: nothing is left behind.
            for dir in [Some(&cg.freezer), Some(&cg.memory), cg.cpu.as_ref()]
                .into_iter()
                .flatten()
            {
                let _ = std::fs::remove_dir(dir);
            }
            return Err(e);
        }
        Ok(cg)
    }

    /// The memory limit, and the CPU share when there is a cpu cgroup.
    fn set_limits(&self, memory_mb: u32) -> io::Result<()> {
        if let Some(dir) = &self.cpu {
            std::fs::write(dir.join("cpu.cfs_period_us"), CPU_PERIOD_US.to_string())?;
            std::fs::write(
                dir.join("cpu.cfs_quota_us"),
                cpu_quota_us(memory_mb).to_string(),
            )?;
        }
        let limit = self.limit_bytes.to_string();
        std::fs::write(self.memory.join("memory.limit_in_bytes"), &limit)?;
        // Without swap accounting this file is absent; the plain limit is enough then.
        let _ = std::fs::write(self.memory.join("memory.memsw.limit_in_bytes"), &limit);
        Ok(())
    }

    /// What a blocking thread needs to move the environment's processes into its cgroups.
    pub fn mover(&self) -> Mover {
        let mut procs = vec![
            self.freezer.join("cgroup.procs"),
            self.memory.join("cgroup.procs"),
        ];
        procs.extend(self.cpu.as_ref().map(|dir| dir.join("cgroup.procs")));
        Mover {
            procs,
            limit_path: self.memory.join("memory.limit_in_bytes"),
            limit_bytes: self.limit_bytes,
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

    /// The file that says how many processes the kernel killed for lack of memory in this
    /// cgroup (`oom_kill N`).
    pub fn oom_control_path(&self) -> PathBuf {
        self.memory.join("memory.oom_control")
    }

    /// Processes the kernel killed for lack of memory in this cgroup so far.
    pub fn oom_kills(&self) -> u64 {
        std::fs::read(self.oom_control_path()).map_or(0, |s| super::peak::oom_kills(&s))
    }

    /// Removes both cgroups (after their processes are gone; retried briefly while the
    /// kernel finishes tearing them down).
    pub async fn remove(&self) {
        for _ in 0..50 {
            let f = remove_if_present(&self.freezer);
            let m = remove_if_present(&self.memory);
            let c = self.cpu.as_deref().is_none_or(remove_if_present);
            if f && m && c {
                return;
            }
            kill_dir(&self.freezer);
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        tracing::warn!(freezer = %self.freezer.display(), memory = %self.memory.display(), "cgroup not removed");
    }
}

/// Moves a running process, and the processes it forked before the move, into an
/// environment's cgroups. Runs on a blocking thread while the process initialises: on cgroup
/// v1 the first move of a burst waits for an RCU grace period (11–15 ms measured), which
/// would otherwise sit on the cold start.
#[derive(Debug, Clone)]
pub struct Mover {
    procs: Vec<PathBuf>,
    limit_path: PathBuf,
    limit_bytes: u64,
}

/// What [`Mover::move_tree`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Moved {
    /// Processes written into the cgroups (the main process and its descendants).
    pub processes: usize,
    /// Anonymous memory the processes held when they were moved, in bytes. It stays charged
    /// outside the memory cgroup (cgroup v1 does not move charges on this kernel), so the
    /// cgroup's limit is lowered by it.
    pub outside_bytes: u64,
}

/// Most processes of one environment moved (the same cap as the `/proc` walks).
const MAX_MOVED: usize = 256;

impl Mover {
    /// Moves `pid`, then its descendants until a walk of the tree finds no new one (children
    /// forked after their parent moved are born inside), then lowers the memory limit by the
    /// anonymous memory charged outside. Blocking. Fails when the main process cannot be moved
    /// (`ESRCH`: it is gone) or the limit cannot be lowered.
    pub fn move_tree(&self, pid: u32) -> io::Result<Moved> {
        self.move_one(pid)?;
        let mut moved = vec![pid];
        loop {
            let mut found = Vec::new();
            let mut stack = all_children_of(pid);
            while let Some(p) = stack.pop() {
                if moved.len() + found.len() >= MAX_MOVED {
                    break;
                }
                if !moved.contains(&p) && !found.contains(&p) {
                    found.push(p);
                }
                stack.extend(all_children_of(p));
            }
            if found.is_empty() {
                break;
            }
            for p in found {
                match self.move_one(p) {
                    // It exited meanwhile.
                    Err(e) if e.raw_os_error() == Some(libc::ESRCH) => {}
                    other => other?,
                }
                moved.push(p);
            }
            if moved.len() >= MAX_MOVED {
                break;
            }
        }
        let outside_bytes: u64 = moved.iter().map(|&p| anon_bytes(p)).sum();
        if outside_bytes > 0 {
            let lowered = self.limit_bytes.saturating_sub(outside_bytes).max(1);
            std::fs::write(&self.limit_path, lowered.to_string())?;
        }
        Ok(Moved {
            processes: moved.len(),
            outside_bytes,
        })
    }

    fn move_one(&self, pid: u32) -> io::Result<()> {
        for path in &self.procs {
            std::fs::write(path, pid.to_string())?;
        }
        Ok(())
    }
}

/// Children of every thread of a process (`/proc/PID/task/TID/children`).
fn all_children_of(pid: u32) -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("children")).ok())
        .flat_map(|c| {
            c.split_whitespace()
                .filter_map(|p| p.parse::<u32>().ok())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// `RssAnon` + `RssShmem` of a process, in bytes (0 if it is gone).
fn anon_bytes(pid: u32) -> u64 {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return 0;
    };
    status
        .lines()
        .filter_map(|l| {
            l.strip_prefix("RssAnon:")
                .or_else(|| l.strip_prefix("RssShmem:"))
        })
        .filter_map(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .sum::<u64>()
        * 1024
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

#[cfg(test)]
mod tests {
    use super::*;

    fn procs_of(dir: &Path) -> Vec<u32> {
        std::fs::read_to_string(dir.join("cgroup.procs"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    }

    /// A shell that forked a child before the move: both end up in both cgroups, and the
    /// memory limit is lowered by what stayed charged outside. Needs writable cgroup v1
    /// (as the emulator's cgroup tests do); says so instead of passing when they are absent.
    /// The cgroup v1 roots, or `None` on a host without writable cgroup v1 freezer and memory
    /// controllers (cgroup v2-only hosts, where the emulator uses its fallbacks, which the
    /// integration tests cover). `.ci/run` sets `FIREBOX_REQUIRE_CGROUPS=1`: there the
    /// controllers must be present and these tests must run.
    fn roots_where_available() -> Option<CgroupRoots> {
        match CgroupRoots::create() {
            Ok(roots) => Some(roots),
            Err(e) if std::env::var_os("FIREBOX_REQUIRE_CGROUPS").is_none() => {
                eprintln!("no writable cgroup v1 controllers on this host ({e}); not tested here");
                None
            }
            Err(e) => panic!("FIREBOX_REQUIRE_CGROUPS is set, but: {e}"),
        }
    }

    #[test]
    fn the_cpu_quota_is_lambdas_share_for_the_memory() {
        assert_eq!(cpu_quota_us(1769), 100_000, "one vCPU");
        assert_eq!(cpu_quota_us(128), 7_235);
        assert_eq!(cpu_quota_us(3538), 200_000);
        assert_eq!(cpu_quota_us(10_240), 578_858);
        assert_eq!(cpu_quota_us(1), MIN_CPU_QUOTA_US, "the kernel's minimum");
    }

    #[test]
    fn with_a_cpu_root_an_environment_gets_its_quota_and_its_processes_move_there() {
        let Some(mut roots) = roots_where_available() else {
            return;
        };
        if let Err(e) = roots.add_cpu() {
            assert!(
                std::env::var_os("FIREBOX_REQUIRE_CGROUPS").is_none(),
                "FIREBOX_REQUIRE_CGROUPS is set, but: {e}"
            );
            eprintln!("no writable cgroup v1 cpu controller here ({e}); not tested here");
            return;
        }
        let cg = EnvCgroup::create(&roots, 256).expect("environment cgroups");
        let cpu = cg.cpu.clone().expect("a cpu cgroup");
        assert_eq!(
            read_u64(&cpu.join("cpu.cfs_quota_us")),
            Some(cpu_quota_us(256))
        );
        assert_eq!(
            read_u64(&cpu.join("cpu.cfs_period_us")),
            Some(CPU_PERIOD_US)
        );
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .expect("sleep runs");
        cg.mover().move_tree(child.id()).expect("moved");
        assert_eq!(procs_of(&cpu), [child.id()]);
        let _ = child.kill();
        let _ = child.wait();
        drop(cg);
        drop(roots);
    }

    #[test]
    fn a_process_and_the_child_it_forked_before_the_move_are_moved() {
        let Some(roots) = roots_where_available() else {
            return;
        };
        let limit = 64 * 1024 * 1024;
        let cg = EnvCgroup::create(&roots, 64).expect("environment cgroups");
        let mut child = std::process::Command::new("sh")
            .args(["-c", "sleep 30 & wait"])
            .spawn()
            .expect("sh runs");
        let pid = child.id();
        // Wait (bounded) for the forked `sleep` to exist.
        let mut forked = Vec::new();
        for _ in 0..500 {
            forked = all_children_of(pid);
            if !forked.is_empty() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(forked.len(), 1, "sh forked its sleep");
        assert!(!procs_of(&cg.freezer).contains(&pid), "spawned outside");

        let moved = cg.mover().move_tree(pid).expect("moved");

        assert_eq!(moved.processes, 2);
        for dir in [&cg.freezer, &cg.memory] {
            let procs = procs_of(dir);
            assert!(
                procs.contains(&pid) && procs.contains(&forked[0]),
                "{procs:?} in {dir:?}"
            );
        }
        assert!(
            moved.outside_bytes > 0,
            "sh and sleep hold anonymous memory"
        );
        let lowered = read_u64(&cg.memory.join("memory.limit_in_bytes")).expect("limit");
        assert!(lowered < limit, "limit {lowered} lowered from {limit}");
        // The freezer now reaches both; killing the cgroup ends both.
        kill_dir(&cg.freezer);
        let _ = child.wait();
        let mut left = procs_of(&cg.freezer);
        for _ in 0..200 {
            if left.is_empty() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
            left = procs_of(&cg.freezer);
        }
        assert!(left.is_empty(), "still in the freezer cgroup: {left:?}");
    }

    #[test]
    fn moving_a_process_that_is_gone_fails_with_esrch() {
        let Some(roots) = roots_where_available() else {
            return;
        };
        let cg = EnvCgroup::create(&roots, 64 * 1024 * 1024).expect("environment cgroups");
        let mut child = std::process::Command::new("true")
            .spawn()
            .expect("true runs");
        let pid = child.id();
        let _ = child.wait();
        let err = cg.mover().move_tree(pid).expect_err("gone");
        assert_eq!(err.raw_os_error(), Some(libc::ESRCH));
    }
}
