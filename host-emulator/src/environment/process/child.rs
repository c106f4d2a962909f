//! One child process of the emulator, from its start until it is reaped: waited for through
//! a pidfd registered with the reactor (or, where the kernel has none, on SIGCHLD), killed and
//! reaped when dropped, so that no zombie is left behind.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;

use tokio::io::unix::AsyncFd;

/// A child process of the emulator, until it is reaped: killed (SIGKILL) and reaped when
/// dropped before it exited.
#[derive(Debug)]
pub(crate) struct ChildProcess {
    pid: u32,
    /// Readable once the process has exited; none where the kernel has no pidfds.
    pidfd: Option<AsyncFd<OwnedFd>>,
    /// Without a pidfd: woken by every SIGCHLD (made before the first check, so that none is
    /// missed).
    sigchld: Option<tokio::signal::unix::Signal>,
    status: Option<ExitStatus>,
}

impl ChildProcess {
    /// Takes charge of `pid`, a child of this process that nothing else waits for.
    pub(super) fn adopt(pid: u32) -> Self {
        Self {
            pid,
            pidfd: pidfd_open(pid).and_then(|fd| {
                // SAFETY: the `OwnedFd` is moved in: it stays open, and the same descriptor,
                // for as long as the `AsyncFd` lives.
                unsafe { AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE) }.ok()
            }),
            sigchld: None,
            status: None,
        }
    }

    /// The process id.
    pub(crate) fn id(&self) -> u32 {
        self.pid
    }

    /// Its status if it has exited (reaping it), without waiting.
    pub(crate) fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        if let Some(status) = self.status {
            return Ok(Some(status));
        }
        let status = reap_if_exited(self.pid)?;
        self.status = status;
        Ok(status)
    }

    /// Waits for it to exit and reaps it. Cancel-safe.
    pub(crate) async fn wait(&mut self) -> io::Result<ExitStatus> {
        if self.pidfd.is_none() && self.sigchld.is_none() {
            self.sigchld = Some(tokio::signal::unix::signal(
                tokio::signal::unix::SignalKind::child(),
            )?);
        }
        if let Some(status) = self.status {
            return Ok(status);
        }
        loop {
            if let Some(pidfd) = &self.pidfd {
                // The pidfd is readable once the process has exited (readiness the reactor
                // reports even when the exit came before this wait): `waitpid` is called only
                // then, not each time an environment's loop polls a new wait.
                let mut ready = pidfd.readable().await?;
                if let Some(status) = reap_if_exited(self.pid)? {
                    self.status = Some(status);
                    return Ok(status);
                }
                ready.clear_ready();
                continue;
            }
            if let Some(status) = self.try_wait()? {
                return Ok(status);
            }
            if let Some(sigchld) = &mut self.sigchld {
                if sigchld.recv().await.is_none() {
                    return Err(io::Error::other("the signal driver has shut down"));
                }
            }
        }
    }

    /// Sends SIGKILL, unless it has been reaped already.
    pub(crate) fn start_kill(&mut self) -> io::Result<()> {
        if self.status.is_some() {
            return Ok(());
        }
        // SAFETY: kill(2) has no memory-safety preconditions; the pid is our unreaped child.
        if unsafe { libc::kill(pid_t(self.pid), libc::SIGKILL) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

/// The status of our unreaped child `pid` if it has exited (reaping it), without waiting.
fn reap_if_exited(pid: u32) -> io::Result<Option<ExitStatus>> {
    let mut raw = 0;
    // SAFETY: waitpid(2) writes the status into `raw`, a valid `c_int`. The pid is our
    // unreaped child: it cannot have been reused.
    let reaped = unsafe { libc::waitpid(pid_t(pid), &mut raw, libc::WNOHANG) };
    match reaped {
        0 => Ok(None),
        r if r < 0 => Err(io::Error::last_os_error()),
        _ => Ok(Some(ExitStatus::from_raw(raw))),
    }
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        if self.status.is_some() {
            return;
        }
        let _ = self.start_kill();
        if !matches!(self.try_wait(), Ok(None)) {
            return;
        }
        // Still dying: reap it once it is gone, so that it leaves no zombie.
        let pid = self.pid;
        let pidfd = self.pidfd.take();
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(reap(pid, pidfd));
            }
            Err(_) => {
                std::thread::spawn(move || {
                    let mut raw = 0;
                    // SAFETY: as in `try_wait`, blocking until it exits.
                    unsafe { libc::waitpid(pid_t(pid), &mut raw, 0) };
                });
            }
        }
    }
}

/// Reaps `pid`, killed already, once it has exited (given up if the runtime shuts down
/// first: the process's exit then leaves the zombie to `init`).
async fn reap(pid: u32, pidfd: Option<AsyncFd<OwnedFd>>) {
    loop {
        let mut raw = 0;
        // SAFETY: as in `ChildProcess::try_wait`.
        if unsafe { libc::waitpid(pid_t(pid), &mut raw, libc::WNOHANG) } != 0 {
            return; // reaped, or not ours to wait for (an error)
        }
        match &pidfd {
            Some(fd) => match fd.readable().await {
                Ok(mut ready) => ready.clear_ready(),
                Err(_) => return,
            },
            None => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
        }
    }
}

/// `pidfd_open(2)`, close-on-exec; none where the kernel (or a seccomp filter) refuses it.
fn pidfd_open(pid: u32) -> Option<OwnedFd> {
    // SAFETY: pidfd_open(2) takes a pid and flags and returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid_t(pid), 0) };
    let fd = RawFd::try_from(fd).ok().filter(|fd| *fd >= 0)?;
    // SAFETY: `fd` is a new descriptor that nothing else owns (pidfds are close-on-exec).
    Some(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn pid_t(pid: u32) -> libc::pid_t {
    // Pids fit: the kernel's maximum is 2^22.
    libc::pid_t::try_from(pid).unwrap_or(libc::pid_t::MAX)
}

#[cfg(test)]
mod tests {
    use super::super::spawn::MemberCommand;
    use super::*;
    use std::path::PathBuf;

    fn start(program: &str, args: &[&str]) -> ChildProcess {
        let out = std::fs::File::create("/dev/null").unwrap().into();
        let vars = [("PATH".to_owned(), "/usr/bin:/bin".to_owned())];
        let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        MemberCommand {
            program,
            args: &args,
            env: &vars,
            cwd: None,
            output: &out,
            extra_fd: None,
            pgid: 0,
            mounts: None,
        }
        .spawn()
        .unwrap()
    }

    #[tokio::test]
    async fn a_child_is_waited_for_through_its_pidfd_or_sigchld() {
        for pidfd in [true, false] {
            let mut child = start("sh", &["-c", "sleep 0.2; exit 3"]);
            if !pidfd {
                child.pidfd = None; // as where the kernel has no pidfds
            }
            assert_eq!(child.try_wait().unwrap(), None, "still running");
            let status = child.wait().await.unwrap();
            assert_eq!(status.code(), Some(3), "pidfd: {pidfd}");
            // Reaped once; the status is kept, and a kill is a no-op now.
            assert_eq!(child.try_wait().unwrap(), Some(status));
            child.start_kill().unwrap();
        }
    }

    #[tokio::test]
    async fn a_dropped_child_is_killed_and_reaped() {
        let child = start("sleep", &["30"]);
        let pid = child.id();
        drop(child);
        // Gone entirely (no zombie left in the process table) within a few seconds.
        let proc_entry = PathBuf::from(format!("/proc/{pid}"));
        for _ in 0..300 {
            if !proc_entry.exists() {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("process {pid} was not reaped");
    }
}
