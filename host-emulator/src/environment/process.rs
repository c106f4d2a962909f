//! The function's process: spawned in its own process group with a clean, explicit
//! environment, its stdout and stderr merged into one pipe, a private temporary directory, and
//! guards that kill the whole group however the environment ends. Also freezing and thawing
//! (a cgroup freezer, or SIGSTOP/SIGCONT to the group) and memory measurement and enforcement
//! (a memory cgroup, or a watcher of the process tree's resident memory in `/proc`). The
//! process is moved into its cgroups after `exec`, off the cold path (see `joining`).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::net::unix::pipe;
use tokio::process::{Child, Command};

use super::cgroup::{self, CgroupRoots, EnvCgroup};
use super::joining::Joining;
use super::peak::{self, ReadAgain};
use super::variables::variables;
use crate::config::FunctionConfig;

/// How environments are frozen and their memory watched, decided once at start-up.
#[derive(Debug, Clone, Default)]
pub struct Isolation {
    cgroups: Option<Arc<CgroupRoots>>,
    why_not: String,
}

impl Isolation {
    /// Uses cgroup v1 freezer and memory controllers when `want_cgroups` and the machine
    /// allows it; otherwise the process group and `/proc`.
    pub fn detect(want_cgroups: bool) -> Self {
        if !want_cgroups {
            return Self {
                cgroups: None,
                why_not: "cgroups turned off ([server] cgroups = false)".into(),
            };
        }
        match CgroupRoots::create() {
            Ok(roots) => Self {
                cgroups: Some(Arc::new(roots)),
                why_not: String::new(),
            },
            Err(why_not) => Self {
                cgroups: None,
                why_not,
            },
        }
    }

    /// Whether cgroups are used.
    pub fn uses_cgroups(&self) -> bool {
        self.cgroups.is_some()
    }

    /// One line for the `serve` log: which mechanism is used, and why.
    pub fn describe(&self) -> String {
        if self.cgroups.is_some() {
            "freeze: cgroup v1 freezer; memory: cgroup v1 memory limit (enforced by the kernel)"
                .into()
        } else {
            format!(
                "freeze: SIGSTOP/SIGCONT to the process group; memory: /proc RSS watcher of the process tree, approximate ({})",
                self.why_not
            )
        }
    }
}

/// The process could not be started.
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    /// The private temporary directory or the output pipe could not be made.
    #[error("cannot prepare the environment: {0}")]
    Setup(std::io::Error),
    /// The program could not be executed (Lambda's `Runtime.InvalidEntrypoint`).
    #[error("fork/exec {program}: {reason}")]
    Exec {
        /// The program.
        program: String,
        /// `no such file or directory`, `permission denied`, ...
        reason: String,
    },
}

/// Every process group the emulator started and has not yet killed, so that dropping the
/// emulator can kill them all synchronously (no orphans, even when a test panics).
#[derive(Debug, Clone, Default)]
pub struct ProcessRegistry {
    /// Process group id, and the freezer cgroup when there is one (thawed when killed).
    groups: Arc<Mutex<HashMap<i32, Option<PathBuf>>>>,
}

impl ProcessRegistry {
    fn add(&self, pgid: i32, freezer: Option<PathBuf>) {
        self.groups
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(pgid, freezer);
    }

    fn remove(&self, pgid: i32) {
        self.groups
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&pgid);
    }

    /// Sends SIGKILL to every registered process group.
    pub fn kill_all(&self) {
        let groups: Vec<(i32, Option<PathBuf>)> = self
            .groups
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain()
            .collect();
        for (pgid, freezer) in groups {
            kill_group(pgid, libc::SIGKILL);
            if let Some(dir) = freezer {
                cgroup::kill_dir(&dir);
            }
        }
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

/// Sends `signal` to a process group; whether it was delivered.
fn kill_group(pgid: i32, signal: i32) -> bool {
    if pgid > 1 {
        // SAFETY: kill(2) has no memory-safety preconditions; a negative pid names the group.
        unsafe { libc::kill(-pgid, signal) == 0 }
    } else {
        false
    }
}

/// Kills the process group when dropped.
#[derive(Debug)]
struct GroupGuard {
    pgid: i32,
    registry: ProcessRegistry,
    cgroup: Option<EnvCgroup>,
}

impl GroupGuard {
    fn kill(&self) {
        kill_group(self.pgid, libc::SIGKILL);
        if let Some(cg) = &self.cgroup {
            // Also reaches processes that left the group; thawing lets frozen ones die.
            cgroup::kill_dir(cg.freezer_dir());
        }
        // A stopped process dies of SIGKILL, but continue the group anyway (it may have been
        // stopped with SIGSTOP before its move into the cgroups completed).
        kill_group(self.pgid, libc::SIGCONT);
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        self.kill();
        self.registry.remove(self.pgid);
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

/// What a process needs to know about its environment.
#[derive(Debug)]
pub struct Launch<'a> {
    /// The function.
    pub config: &'a FunctionConfig,
    /// This environment's Runtime API listener.
    pub runtime_api: SocketAddr,
    /// `AWS_LAMBDA_LOG_STREAM_NAME`.
    pub log_stream: &'a str,
    /// `TMPDIR` and `HOME`.
    pub tmp: &'a Path,
    /// Where to register the process group.
    pub registry: &'a ProcessRegistry,
    /// `AWS_LAMBDA_INITIALIZATION_TYPE`.
    pub init_type: &'a str,
    /// cgroups or the process group.
    pub isolation: &'a Isolation,
}

/// A running function process and the read end of its output pipe.
#[derive(Debug)]
pub struct Process {
    child: Child,
    pid: u32,
    /// stdout and stderr, merged as Lambda merges them.
    pub output: pipe::Receiver,
    guard: GroupGuard,
    children_scanned: Option<std::time::Instant>,
    children_peak: u64,
    /// `/proc/PID/status`, kept open for `VmHWM` (none if it could not be opened).
    status: Option<ReadAgain>,
    /// The memory cgroup's `memory.max_usage_in_bytes`, kept open.
    cgroup_peak: Option<ReadAgain>,
    /// The move into the cgroups (none without cgroups).
    joining: Option<Joining>,
    /// How the processes were frozen, while they are.
    frozen: Option<FrozenBy>,
}

/// How an environment's processes were frozen (so that they are thawed the same way).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FrozenBy {
    /// `freezer.state` of the freezer cgroup.
    Cgroup,
    /// SIGSTOP to the process group (no cgroups, or the move into them not complete yet).
    Signal,
}

impl Process {
    /// Starts the function's command.
    pub fn spawn(launch: &Launch<'_>) -> Result<Self, SpawnError> {
        let config = launch.config;
        let (writer, output) = pipe::pipe().map_err(SpawnError::Setup)?;
        let stdout: OwnedFd = writer.into_blocking_fd().map_err(SpawnError::Setup)?;
        let stderr = stdout.try_clone().map_err(SpawnError::Setup)?;
        let program = &config.command[0];
        let mut command = Command::new(program);
        command
            .args(&config.command[1..])
            .env_clear()
            .envs(variables(launch))
            .stdin(Stdio::null())
            .stdout(Stdio::from(stdout))
            .stderr(Stdio::from(stderr))
            .process_group(0)
            .kill_on_drop(true);
        if let Some(dir) = &config.code_dir {
            command.current_dir(dir);
        }
        let cgroup = match &launch.isolation.cgroups {
            Some(roots) => Some(
                EnvCgroup::create(roots, u64::from(config.memory_mb) * 1024 * 1024)
                    .map_err(SpawnError::Setup)?,
            ),
            None => None,
        };
        let child = command.spawn().map_err(|e| SpawnError::Exec {
            program: program.clone(),
            reason: exec_reason(&e),
        })?;
        let pid = child.id().ok_or_else(|| SpawnError::Exec {
            program: program.clone(),
            reason: "exited before it could be watched".into(),
        })?;
        let pgid = pid as i32;
        // Not waited for: the runtime initialises while a blocking thread moves it.
        let joining = cgroup.as_ref().map(|cg| Joining::start(cg.mover(), pid));
        launch
            .registry
            .add(pgid, cgroup.as_ref().map(|c| c.freezer_dir().to_path_buf()));
        // Kept open for every REPORT; if they cannot be opened, each read opens them anew.
        let status = ReadAgain::open(Path::new(&format!("/proc/{pid}/status")), 2048).ok();
        let cgroup_peak = cgroup
            .as_ref()
            .and_then(|cg| ReadAgain::open(&cg.peak_path(), 32).ok());
        Ok(Self {
            child,
            pid,
            output,
            guard: GroupGuard {
                pgid,
                registry: launch.registry.clone(),
                cgroup,
            },
            children_scanned: None,
            children_peak: 0,
            status,
            cgroup_peak,
            joining,
            frozen: None,
        })
    }

    /// Whether the processes are frozen now.
    pub fn is_frozen(&self) -> bool {
        self.frozen.is_some()
    }

    /// Whether every process of the environment is known to be in its cgroups (the move
    /// started at spawn has completed). Always false without cgroups.
    pub fn in_cgroups(&mut self) -> bool {
        self.joining.as_mut().and_then(Joining::joined).is_some()
    }

    /// Stops every process of the environment until [`Process::thaw`]. Returns whether it
    /// is now frozen.
    pub fn freeze(&mut self) -> bool {
        if self.frozen.is_some() {
            return true;
        }
        let in_cgroups = self.in_cgroups();
        self.frozen = match &self.guard.cgroup {
            Some(cg) if in_cgroups => cg.freeze().is_ok().then_some(FrozenBy::Cgroup),
            _ => kill_group(self.guard.pgid, libc::SIGSTOP).then_some(FrozenBy::Signal),
        };
        self.frozen.is_some()
    }

    /// Whether the main process has exited (its status is kept for the pending `wait`).
    pub fn has_exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// Whether a SIGKILL is pending for the main process (sent while it was frozen).
    pub fn kill_pending(&self) -> bool {
        const SIGKILL_BIT: u64 = 1 << (libc::SIGKILL - 1);
        let Ok(status) = std::fs::read_to_string(format!("/proc/{}/status", self.pid)) else {
            return true; // no /proc entry: the process is gone
        };
        status
            .lines()
            .filter_map(|l| {
                l.strip_prefix("SigPnd:")
                    .or_else(|| l.strip_prefix("ShdPnd:"))
            })
            .filter_map(|mask| u64::from_str_radix(mask.trim(), 16).ok())
            .any(|mask| mask & SIGKILL_BIT != 0)
    }

    /// Lets the processes run again. Returns whether it was frozen.
    pub fn thaw(&mut self) -> bool {
        let Some(by) = self.frozen.take() else {
            return false;
        };
        match (by, &self.guard.cgroup) {
            (FrozenBy::Cgroup, Some(cg)) => {
                if let Err(e) = cg.thaw() {
                    tracing::warn!(error = %e, "cannot thaw an environment; killing it");
                    self.guard.kill();
                }
            }
            _ => {
                kill_group(self.guard.pgid, libc::SIGCONT);
            }
        }
        true
    }

    /// Whether the environment went past its memory limit: the kernel killed a process of
    /// its memory cgroup, or the memory its processes held when they were moved in is already
    /// over the limit; before the move has completed (and without cgroups), whether the
    /// resident memory of its living processes is over `limit_bytes` (sampled, so
    /// approximate).
    pub fn over_memory(&mut self, limit_bytes: u64) -> bool {
        let moved = self.joining.as_mut().and_then(Joining::joined);
        match (&self.guard.cgroup, moved) {
            (Some(cg), Some(moved)) => cg.hit_limit() || moved.outside_bytes >= limit_bytes,
            (Some(cg), None) => cg.hit_limit() || tree_rss_bytes(self.pid) > limit_bytes,
            (None, _) => tree_rss_bytes(self.pid) > limit_bytes,
        }
    }

    /// Removes the environment's cgroups in the background, once its processes are gone.
    fn release(&mut self) {
        if let Some(cg) = self.guard.cgroup.take() {
            tokio::spawn(async move { cg.remove().await });
        }
    }

    /// The process id (also the process group id).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Waits for the main process to exit (cancel-safe); also gives the output pipe, so that a
    /// caller can wait for both at once.
    pub fn wait_and_output(
        &mut self,
    ) -> (
        impl std::future::Future<Output = std::io::Result<ExitStatus>> + '_,
        &pipe::Receiver,
    ) {
        (self.child.wait(), &self.output)
    }

    /// Kills the whole process group and reaps the main process.
    pub async fn kill(mut self) {
        self.guard.kill();
        let _ = self.child.wait().await;
        self.release();
        // Dropping the guard unregisters the group (its second SIGKILL finds nothing or
        // stragglers that were still in the group).
        drop(self.guard);
    }

    /// Peak resident memory of the process and its living descendants, in bytes.
    ///
    /// The main process's own high-water mark (`VmHWM`) is read every time (a `pread` of its
    /// status file, kept open); descendants are looked up at most every
    /// `CHILD_SCAN_INTERVAL`, so that the invoke hot path stays cheap while a process tree
    /// is still measured.
    pub fn peak_memory(&mut self) -> u64 {
        let own = match &mut self.status {
            Some(status) => status
                .read()
                .map_or(0, |s| peak::status_field_bytes(s, b"VmHWM:")),
            None => read_hwm_kb(self.pid) * 1024,
        };
        if let Some(cg) = &self.guard.cgroup {
            // A cgroup's peak counts only the pages charged to it: shared-library pages that
            // were already in the page cache stay charged to whoever read them first, so a small
            // process can peak below its own resident set. Report the larger of the two.
            let charged = match &mut self.cgroup_peak {
                Some(file) => file.read().map_or(0, peak::number),
                None => cg.peak_bytes(),
            };
            return charged.max(own);
        }
        let due = match self.children_scanned {
            None => true,
            Some(t) => t.elapsed() >= CHILD_SCAN_INTERVAL,
        };
        if due {
            self.children_scanned = Some(std::time::Instant::now());
            let mut total = 0;
            let mut stack = children_of(self.pid);
            let mut seen = 0;
            while let Some(pid) = stack.pop() {
                seen += 1;
                if seen > 256 {
                    break;
                }
                total += read_hwm_kb(pid) * 1024;
                stack.extend(children_of(pid));
            }
            self.children_peak = self.children_peak.max(total);
        }
        own + self.children_peak
    }
}

/// How often the descendants of a function process are measured.
const CHILD_SCAN_INTERVAL: std::time::Duration = std::time::Duration::from_millis(200);

fn children_of(pid: u32) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .map(|c| {
            c.split_whitespace()
                .filter_map(|c| c.parse::<u32>().ok())
                .collect()
        })
        .unwrap_or_default()
}

fn read_hwm_kb(pid: u32) -> u64 {
    read_status_kb(pid, "VmHWM:")
}

/// Resident memory of a process and its living descendants now, in bytes.
fn tree_rss_bytes(pid: u32) -> u64 {
    let mut total = 0;
    let mut stack = vec![pid];
    let mut seen = 0;
    while let Some(pid) = stack.pop() {
        seen += 1;
        if seen > 256 {
            break;
        }
        total += read_status_kb(pid, "VmRSS:") * 1024;
        stack.extend(children_of(pid));
    }
    total
}

fn read_status_kb(pid: u32, field: &str) -> u64 {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return 0;
    };
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn exec_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}
