//! Moving a new function process into its environment's cgroups off the cold path. The
//! process is spawned outside them and a blocking thread moves it (and anything it forked
//! meanwhile, see [`Mover::move_tree`]) while the runtime initialises. Until the move is known
//! to be complete the environment uses what it uses without cgroups: SIGSTOP/SIGCONT to the
//! process group to freeze, and the `/proc` resident-memory watcher for the limit.

use tokio::sync::oneshot::{self, error::TryRecvError};

use super::cgroup::{Moved, Mover};

/// Where the move of an environment's processes into its cgroups stands.
#[derive(Debug)]
pub enum Joining {
    /// The blocking thread is still moving them.
    Pending(oneshot::Receiver<std::io::Result<Moved>>),
    /// They are in; children they fork from now on are born inside.
    Joined(Moved),
    /// The move failed (the process exited first, or the kernel refused it): the process
    /// group and `/proc` stay in use for this environment.
    Failed,
}

impl Joining {
    /// Starts moving `pid` on a blocking thread (needs a Tokio runtime).
    pub fn start(mover: Mover, pid: u32) -> Self {
        let (tx, rx) = oneshot::channel();
        tokio::task::spawn_blocking(move || {
            // The receiver is gone only when the environment already ended.
            let _ = tx.send(mover.move_tree(pid));
        });
        Self::Pending(rx)
    }

    /// The completed move, if it has completed (polls, never waits).
    pub fn joined(&mut self) -> Option<Moved> {
        if let Self::Pending(rx) = self {
            *self = match rx.try_recv() {
                Ok(Ok(moved)) => Self::Joined(moved),
                Ok(Err(e)) if e.raw_os_error() == Some(libc::ESRCH) => {
                    tracing::debug!("function process exited before it was moved into its cgroups");
                    Self::Failed
                }
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "cannot move a function process into its cgroups; freezing with SIGSTOP and watching memory in /proc instead");
                    Self::Failed
                }
                Err(TryRecvError::Empty) => return None,
                Err(TryRecvError::Closed) => {
                    tracing::warn!("the cgroup move was cancelled; freezing with SIGSTOP and watching memory in /proc instead");
                    Self::Failed
                }
            };
        }
        match self {
            Self::Joined(moved) => Some(*moved),
            _ => None,
        }
    }
}
