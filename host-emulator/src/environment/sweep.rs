//! Finding every process of an environment, wherever it went, when the environment ends.
//!
//! The process group and the freezer cgroup miss a process that left the group (`setsid`,
//! `daemon(3)`) and was orphaned before its move into the cgroups (or at any time, without
//! cgroups): it is re-parented to init and is no descendant of anything the emulator knows.
//! Every process of an environment inherits `AWS_LAMBDA_RUNTIME_API=127.0.0.1:<port>`, whose
//! port is the environment's own Runtime API listener, bound for the environment's whole life
//! and therefore unique on the machine while it lives. At the environment's end (off the
//! invoke path, its listener still bound) the processes of the emulator's user are scanned for
//! that exact entry in `/proc/PID/environ` (the environment the process was executed with) and
//! SIGKILLed. A process that executed a new program with that variable removed is not found;
//! nothing else escapes.

use std::collections::HashSet;
use std::io::Read;
use std::net::SocketAddr;
use std::os::unix::fs::MetadataExt;

/// At most this many passes over `/proc`: a pass after the last kill finds nothing new
/// (a process killed while it forks does not complete the fork), so two are normally enough.
const PASSES: usize = 4;

/// The entry that marks the processes of the environment whose Runtime API is at `addr`.
pub(super) fn marker(addr: SocketAddr) -> Vec<u8> {
    format!("AWS_LAMBDA_RUNTIME_API={addr}").into_bytes()
}

/// SIGKILLs every process of this user (any, for root) whose environment holds one of
/// `markers` exactly, repeating the scan until a pass finds no new one; how many it killed.
/// Blocking (reads `/proc`): call it off the event loop, or where blocking is acceptable.
pub(super) fn kill_marked(markers: &[Vec<u8>]) -> usize {
    if markers.is_empty() {
        return 0;
    }
    // SAFETY: geteuid(2) and getpid(2) have no preconditions and cannot fail.
    let (uid, me) = unsafe { (libc::geteuid(), libc::getpid()) };
    let mut killed: HashSet<i32> = HashSet::new();
    let mut environ = Vec::with_capacity(8192);
    for _ in 0..PASSES {
        let Ok(entries) = std::fs::read_dir("/proc") else {
            break;
        };
        let mut found = false;
        for entry in entries.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<i32>().ok())
            else {
                continue;
            };
            if pid == me || pid <= 1 || killed.contains(&pid) {
                continue;
            }
            if uid != 0 && entry.metadata().map_or(true, |m| m.uid() != uid) {
                continue;
            }
            environ.clear();
            let read = std::fs::File::open(entry.path().join("environ"))
                .and_then(|mut f| f.read_to_end(&mut environ));
            if read.is_err()
                || !environ
                    .split(|&b| b == 0)
                    .any(|e| markers.iter().any(|m| m == e))
            {
                continue;
            }
            // SAFETY: kill(2) has no memory-safety preconditions.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            killed.insert(pid);
            found = true;
        }
        if !found {
            break;
        }
    }
    if !killed.is_empty() {
        tracing::debug!(
            count = killed.len(),
            "killed the processes left of an environment"
        );
    }
    killed.len()
}
