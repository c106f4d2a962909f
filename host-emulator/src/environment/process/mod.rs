//! The function's processes: its runtime and its external extensions, spawned (see `spawn`:
//! `posix_spawn`, or `fork` and `exec` to enter a mount namespace) into one process
//! group of their own (see `group`) with a clean, explicit environment, their stdout and
//! stderr merged into one pipe. Extensions start first; the runtime joins the group once they
//! have registered (Lambda's `Extension init`, then `Runtime init`). The runtime also gets
//! the telemetry log descriptor (`_LAMBDA_TELEMETRY_LOG_FD`), a pipe of its own where AWS's
//! runtime clients write framed log records (see `crate::logs::frames`). Also freezing and thawing
//! (a cgroup freezer, or SIGSTOP/SIGCONT to the group) and memory measurement and enforcement
//! (a memory cgroup, or a watcher of the process tree's resident memory in `/proc`). The
//! process is moved into its cgroups after `exec`, off the cold path (see `joining`).

mod child;
mod measure;
mod mounts;
mod spawn;

use std::future::Future;
use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::path::Path;
use std::process::ExitStatus;
use std::sync::Arc;

use tokio::net::unix::pipe;

use child::ChildProcess;
use spawn::MemberCommand;

use super::cgroup::{CgroupRoots, EnvCgroup};
use super::group::{kill_group, GroupGuard};
pub use super::group::{sweep_stale_temp_dirs, ProcessRegistry, TempDir};
use super::joining::Joining;
use super::namespace::{Mode as MountMode, MountSupport, Mounts};
use super::peak::ReadAgain;
use super::variables::variables;
use crate::config::FunctionConfig;

/// How environments are frozen and their memory watched, decided once at start-up.
#[derive(Debug, Clone, Default)]
pub struct Isolation {
    cgroups: Option<Arc<CgroupRoots>>,
    why_not: String,
    /// Whether layers are mounted at `/opt` (none: not probed, as with `Default`).
    opt: Option<MountSupport>,
    /// Whether each environment gets a private `/tmp` (none: not asked for).
    tmp: Option<MountSupport>,
    /// Why CPU by memory was asked for and cannot be given, if so.
    cpu_why_not: Option<String>,
}

impl Isolation {
    /// Uses cgroup v1 freezer and memory controllers when `account.cgroups` and the machine
    /// allows it; otherwise the process group and `/proc`. Mounts layers at `/opt` when
    /// `account.layers_at_opt`, and a private `/tmp` when `account.private_tmp`, where the
    /// machine allows mount namespaces (see `MountSupport::detect`).
    pub fn detect(account: &crate::scheduler::limits::AccountConfig) -> Self {
        let opt = Some(MountSupport::detect(account.layers_at_opt));
        let tmp = account.private_tmp.then(MountSupport::detect_tmp);
        let (mut cgroups, why_not) = if !account.cgroups {
            (
                None,
                "cgroups turned off ([server] cgroups = false)".to_owned(),
            )
        } else {
            match CgroupRoots::create() {
                Ok(roots) => (Some(roots), String::new()),
                Err(why_not) => (None, why_not),
            }
        };
        let cpu_why_not = match (&mut cgroups, account.cpu_by_memory) {
            (_, false) => None,
            (Some(roots), true) => roots.add_cpu().err(),
            (None, true) => Some(format!("it needs cgroups: {why_not}")),
        };
        Self {
            cgroups: cgroups.map(Arc::new),
            why_not,
            opt,
            tmp,
            cpu_why_not,
        }
    }

    /// Whether environments get CPU in proportion to their memory.
    pub fn cpu_by_memory(&self) -> bool {
        self.cgroups.as_ref().is_some_and(|roots| roots.has_cpu())
    }

    /// Why the CPU by memory asked for cannot be given, if it cannot.
    pub fn cpu_by_memory_unavailable(&self) -> Option<&str> {
        self.cpu_why_not.as_deref()
    }

    /// How layers are mounted at `/opt`, when they are.
    pub(crate) fn opt_mode(&self) -> Option<MountMode> {
        self.opt.as_ref().and_then(MountSupport::mode)
    }

    /// How the private `/tmp` is mounted, when environments get one.
    pub(crate) fn tmp_mode(&self) -> Option<MountMode> {
        self.tmp.as_ref().and_then(MountSupport::mode)
    }

    /// Whether cgroups are used.
    pub fn uses_cgroups(&self) -> bool {
        self.cgroups.is_some()
    }

    /// One line for the `serve` log: which mechanisms are used, and why.
    pub fn describe(&self) -> String {
        let mut line = if self.cgroups.is_some() {
            "freeze: cgroup v1 freezer; memory: cgroup v1 memory limit (enforced by the kernel)"
                .to_owned()
        } else {
            format!(
                "freeze: SIGSTOP/SIGCONT to the process group; memory: /proc RSS watcher of the process tree, approximate ({})",
                self.why_not
            )
        };
        if self.cpu_by_memory() {
            line.push_str(
                "; CPU: in proportion to memory (cgroup v1 cpu quota, one vCPU per 1,769 MB)",
            );
        }
        if let Some(opt) = &self.opt {
            line.push_str("; ");
            line.push_str(&opt.describe());
        }
        line.push_str(match &self.tmp {
            None => {
                "; /tmp: the machine's, shared by every environment ([server] private_tmp = false)"
            }
            Some(MountSupport::Mounted(_)) => "; /tmp: private per environment",
            Some(MountSupport::Unavailable(_)) => {
                "; /tmp: the machine's, shared by every environment (private_tmp is not available here)"
            }
        });
        line
    }

    /// Why the private `/tmp` asked for is not available, if it is not.
    pub fn private_tmp_unavailable(&self) -> Option<&str> {
        match &self.tmp {
            Some(MountSupport::Unavailable(why)) => Some(why),
            _ => None,
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
    /// The runtime: `None` while external extensions register, before it is spawned.
    runtime: Option<Runtime>,
    /// The external extensions, in the order they were started.
    extensions: Vec<ExtensionChild>,
    /// stdout and stderr of the runtime, merged as Lambda merges them.
    pub output: pipe::Receiver,
    /// The pipe's write end, kept until the runtime (the last member) is spawned.
    writer: Option<OwnedFd>,
    /// The read end of the runtime's telemetry log descriptor, once the runtime is started.
    pub log_frames: Option<pipe::Receiver>,
    /// stdout and stderr of the external extensions (their lines are `extension` records),
    /// when there are any.
    pub extension_output: Option<pipe::Receiver>,
    guard: GroupGuard,
    children_scanned: Option<std::time::Instant>,
    children_peak: u64,
    /// The memory cgroup's files, kept open.
    cgroup_files: measure::CgroupFiles,
    /// The memory cgroup's OOM kills that the runtime survived (see `note_oom_kills`).
    oom_kills_seen: u64,
    /// The moves of the members into the cgroups (empty without cgroups).
    joining: Vec<Joining>,
    /// How the processes were frozen, while they are.
    frozen: Option<FrozenBy>,
    /// The layers' mount at `/opt` and the private `/tmp`, entered by each member before
    /// `exec`.
    mounts: Option<Arc<Mounts>>,
}

/// The read ends of an environment's output pipes.
#[derive(Debug, Clone, Copy)]
pub struct OutputPipes<'a> {
    /// The runtime's.
    pub function: &'a pipe::Receiver,
    /// The external extensions', if there are any.
    pub extension: Option<&'a pipe::Receiver>,
    /// The runtime's telemetry log descriptor, once the runtime is started.
    pub frames: Option<&'a pipe::Receiver>,
}

/// The variable naming the runtime's telemetry log descriptor, as on Lambda.
pub const TELEMETRY_LOG_FD_VARIABLE: &str = "_LAMBDA_TELEMETRY_LOG_FD";

/// The descriptor number the runtime finds its telemetry log pipe at.
const TELEMETRY_LOG_FD: i32 = 3;

/// The runtime process.
#[derive(Debug)]
struct Runtime {
    child: ChildProcess,
    pid: u32,
    /// `/proc/PID/status`, kept open for `VmHWM` (none if it could not be opened).
    status: Option<ReadAgain>,
}

/// One external extension's process.
#[derive(Debug)]
struct ExtensionChild {
    /// Its file name (the name it must register with).
    name: String,
    child: ChildProcess,
    pid: u32,
    exited: bool,
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
    /// Starts the function's runtime alone (a function without external extensions).
    pub fn spawn(launch: &Launch<'_>) -> Result<Self, SpawnError> {
        let mut process = Self::prepare(launch)?;
        process.spawn_runtime(launch)?;
        Ok(process)
    }

    /// Starts the function's external extensions (`launch.config.extensions`), each with no
    /// arguments; the runtime follows with [`Process::spawn_runtime`] once they registered.
    pub fn spawn_extensions(launch: &Launch<'_>) -> Result<Self, SpawnError> {
        let mut process = Self::prepare(launch)?;
        let (writer, output) = pipe::pipe().map_err(SpawnError::Setup)?;
        // Dropped at the end of this function: from then on only the extensions hold it, so
        // that the pipe reports end of file once they are all gone.
        let writer: OwnedFd = writer.into_blocking_fd().map_err(SpawnError::Setup)?;
        process.extension_output = Some(output);
        let env = super::variables::extension_variables(launch);
        for path in &launch.config.extensions {
            let program = path.display().to_string();
            let (child, pid) = process.spawn_member(&program, &[], &env, None, &writer, launch)?;
            let name = super::super::config::extension_name(path);
            process.extensions.push(ExtensionChild {
                name,
                child,
                pid,
                exited: false,
            });
        }
        Ok(process)
    }

    /// The output pipe and the cgroup, before any member is spawned.
    fn prepare(launch: &Launch<'_>) -> Result<Self, SpawnError> {
        let config = launch.config;
        let (writer, output) = pipe::pipe().map_err(SpawnError::Setup)?;
        let writer: OwnedFd = writer.into_blocking_fd().map_err(SpawnError::Setup)?;
        let cgroup = match &launch.isolation.cgroups {
            Some(roots) => {
                Some(EnvCgroup::create(roots, config.memory_mb).map_err(SpawnError::Setup)?)
            }
            None => None,
        };
        let cgroup_files = measure::CgroupFiles::open(cgroup.as_ref());
        let mounts = mounts::for_launch(launch);
        Ok(Self {
            runtime: None,
            extensions: Vec::new(),
            output,
            writer: Some(writer),
            log_frames: None,
            extension_output: None,
            guard: GroupGuard {
                pgid: 0,
                registry: launch.registry.clone(),
                cgroup,
                marker: super::sweep::marker(launch.runtime_api),
                swept: false,
            },
            children_scanned: None,
            children_peak: 0,
            cgroup_files,
            oom_kills_seen: 0,
            joining: Vec::new(),
            frozen: None,
            mounts,
        })
    }

    /// Starts the runtime (the function's command) in the environment's process group.
    pub fn spawn_runtime(&mut self, launch: &Launch<'_>) -> Result<(), SpawnError> {
        // With Lambda's Node arguments for a `nodejs` runtime.
        let argv = crate::config::runtime_command(launch.config);
        let mut env = variables(launch);
        env.push((
            TELEMETRY_LOG_FD_VARIABLE.into(),
            TELEMETRY_LOG_FD.to_string(),
        ));
        let writer = self.writer.take().ok_or_else(|| {
            SpawnError::Setup(std::io::Error::other("the runtime was already started"))
        })?;
        let (frames_writer, frames) = pipe::pipe().map_err(SpawnError::Setup)?;
        let frames_writer: OwnedFd = frames_writer
            .into_blocking_fd()
            .map_err(SpawnError::Setup)?;
        let (child, pid) = self.spawn_member(
            &argv[0],
            &argv[1..],
            &env,
            Some((&frames_writer, TELEMETRY_LOG_FD)),
            &writer,
            launch,
        )?;
        // The child has its copy: the pipe reports end of file once it and its children are
        // gone.
        drop(frames_writer);
        self.log_frames = Some(frames);
        // The runtime is the last member: from here only it holds the write end (dropped
        // here), so that the pipe reports end of file once it and its children are gone.
        // Kept open for every REPORT; if it cannot be opened, each read opens it anew.
        let status = ReadAgain::open(Path::new(&format!("/proc/{pid}/status")), 2048).ok();
        self.runtime = Some(Runtime { child, pid, status });
        Ok(())
    }

    /// Spawns one member into the group (creating the group with the first member), its
    /// output into `writer`, and starts its move into the cgroups.
    fn spawn_member(
        &mut self,
        program: &str,
        args: &[String],
        env: &[(String, String)],
        extra_fd: Option<(&OwnedFd, i32)>,
        writer: &OwnedFd,
        launch: &Launch<'_>,
    ) -> Result<(ChildProcess, u32), SpawnError> {
        let command = MemberCommand {
            program,
            args,
            env,
            cwd: launch.config.code_dir.as_deref(),
            output: writer,
            extra_fd,
            pgid: self.guard.pgid,
            mounts: self.mounts.as_ref(),
        };
        let child = command.spawn().map_err(|e| match &launch.config.code_dir {
            // The `chdir` failed, not the program: say so (std reports either as the
            // program's error). A program named by a path that is not there is what is
            // missing (its directory is the default code directory).
            Some(dir) if !dir.is_dir() && !missing_program(program) => SpawnError::Exec {
                program: program.to_owned(),
                reason: format!(
                    "the code directory {} is gone ({})",
                    dir.display(),
                    exec_reason(&e)
                ),
            },
            _ => SpawnError::Exec {
                program: program.to_owned(),
                reason: exec_reason(&e),
            },
        })?;
        let pid = child.id();
        if self.guard.pgid == 0 {
            self.guard.pgid = pid as i32;
            launch.registry.add(&self.guard);
        }
        // Not waited for: the member initialises while a blocking thread moves it.
        if let Some(cg) = &self.guard.cgroup {
            self.joining.push(Joining::start(cg.mover(), pid));
        }
        Ok((child, pid))
    }

    /// Whether the runtime has been started.
    pub fn runtime_started(&self) -> bool {
        self.runtime.is_some()
    }

    /// Whether the processes are frozen now.
    pub fn is_frozen(&self) -> bool {
        self.frozen.is_some()
    }

    /// Whether every process of the environment is known to be in its cgroups (the move
    /// started at spawn has completed). Always false without cgroups.
    pub fn in_cgroups(&mut self) -> bool {
        self.moved_bytes().is_some()
    }

    /// When every member's move into the cgroups has completed: the memory they held
    /// outside the cgroups before the move, together.
    fn moved_bytes(&mut self) -> Option<u64> {
        if self.joining.is_empty() {
            return None;
        }
        let mut outside = 0;
        for joining in &mut self.joining {
            outside += joining.joined()?.outside_bytes;
        }
        Some(outside)
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

    /// Whether the runtime has exited (its status is kept for the pending `wait`); true when
    /// it was never started.
    pub fn has_exited(&mut self) -> bool {
        match &mut self.runtime {
            Some(runtime) => matches!(runtime.child.try_wait(), Ok(Some(_))),
            None => true,
        }
    }

    /// Whether a SIGKILL is pending for the runtime (sent while it was frozen).
    pub fn kill_pending(&self) -> bool {
        const SIGKILL_BIT: u64 = 1 << (libc::SIGKILL - 1);
        let Some(runtime) = &self.runtime else {
            return true;
        };
        let Ok(status) = std::fs::read_to_string(format!("/proc/{}/status", runtime.pid)) else {
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

    /// Removes the environment's cgroups in the background, once its processes are gone.
    fn release(&mut self) {
        if let Some(cg) = self.guard.cgroup.take() {
            tokio::spawn(async move { cg.remove().await });
        }
    }

    /// The runtime's process id (0 before it is started).
    pub fn pid(&self) -> u32 {
        self.runtime.as_ref().map_or(0, |r| r.pid)
    }

    /// Waits for the runtime to exit and for an extension to exit (both cancel-safe; the
    /// first never resolves before the runtime is started, the second never without living
    /// extensions); also gives the output pipes (the runtime's, and the extensions' if
    /// any), so that a caller can wait for all at once.
    pub fn watch(
        &mut self,
    ) -> (
        impl Future<Output = std::io::Result<ExitStatus>> + '_,
        impl Future<Output = (String, std::io::Result<ExitStatus>)> + '_,
        OutputPipes<'_>,
    ) {
        let runtime = self.runtime.as_mut().map(|r| &mut r.child);
        let extensions = &mut self.extensions;
        (
            async move {
                match runtime {
                    Some(child) => child.wait().await,
                    None => std::future::pending().await,
                }
            },
            std::future::poll_fn(move |cx| {
                for extension in extensions.iter_mut().filter(|e| !e.exited) {
                    let polled = {
                        let wait = std::pin::pin!(extension.child.wait());
                        wait.poll(cx)
                    };
                    if let std::task::Poll::Ready(status) = polled {
                        extension.exited = true;
                        return std::task::Poll::Ready((extension.name.clone(), status));
                    }
                }
                std::task::Poll::Pending
            }),
            OutputPipes {
                function: &self.output,
                extension: self.extension_output.as_ref(),
                frames: self.log_frames.as_ref(),
            },
        )
    }

    /// Whether any external extension is still running.
    pub fn extensions_alive(&self) -> bool {
        self.extensions.iter().any(|e| !e.exited)
    }

    /// Sends `signal` to the runtime alone.
    pub fn signal_runtime(&self, signal: i32) {
        if let Some(runtime) = &self.runtime {
            if let Ok(pid) = i32::try_from(runtime.pid) {
                // SAFETY: kill(2) has no memory-safety preconditions.
                unsafe { libc::kill(pid, signal) };
            }
        }
    }

    /// Kills the whole process group and reaps its members.
    pub async fn kill(mut self) {
        self.guard.kill();
        // Each member also directly: one that left the group (setsid) must not hang the wait.
        if let Some(runtime) = &mut self.runtime {
            let _ = runtime.child.start_kill();
            let _ = runtime.child.wait().await;
        }
        for extension in &mut self.extensions {
            let _ = extension.child.start_kill();
            let _ = extension.child.wait().await;
        }
        // Then the processes that left the group and the cgroups (daemons): see `sweep`.
        self.guard.sweep().await;
        self.release();
        // Dropping the guard unregisters the group (its second SIGKILL finds nothing or
        // stragglers that were still in the group).
        drop(self.guard);
    }
}

/// Whether `program` is a path (not a bare name looked up on `PATH`) to nothing.
fn missing_program(program: &str) -> bool {
    program.contains('/') && !Path::new(program).exists()
}

fn exec_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ if e.raw_os_error() == Some(libc::ENOEXEC) => "exec format error".into(),
        _ => e.to_string(),
    }
}
