//! Measuring a function's processes: the peak memory that `REPORT` shows (`Max Memory Used`),
//! and whether the environment is over its memory limit (the memory cgroup's verdict, or the
//! resident memory of the process tree sampled from `/proc`).

use super::super::cgroup::EnvCgroup;
use super::super::peak::{self, ReadAgain};
use super::{Process, Runtime};

/// The files of an environment's memory cgroup read while it runs, kept open (see
/// [`peak`]): `memory.max_usage_in_bytes` for every REPORT, `memory.oom_control` for every
/// check of the limit.
#[derive(Debug)]
pub(super) struct CgroupFiles {
    peak: Option<ReadAgain>,
    oom_control: Option<ReadAgain>,
}

impl CgroupFiles {
    /// Opens the files of `cg` (none without cgroups); one that cannot be opened is opened
    /// anew on each read.
    pub(super) fn open(cg: Option<&EnvCgroup>) -> Self {
        Self {
            peak: cg.and_then(|cg| ReadAgain::open(&cg.peak_path(), 32).ok()),
            oom_control: cg.and_then(|cg| ReadAgain::open(&cg.oom_control_path(), 256).ok()),
        }
    }
}

impl Process {
    /// Whether the memory its processes held when they were moved into the memory cgroup is
    /// already over `limit_bytes`; before the move has completed (and without cgroups),
    /// whether the resident memory of its living processes is over (sampled, so
    /// approximate). The caller also compares the peak (`Max Memory Used`) with the limit.
    ///
    /// The kernel's OOM kills are not counted here: one fails the environment only when it
    /// killed the runtime (see [`Self::note_oom_kills`] and [`Self::runtime_oom_killed`]).
    pub fn over_memory(&mut self, limit_bytes: u64) -> bool {
        match self.moved_bytes() {
            Some(outside) if self.guard.cgroup.is_some() => outside >= limit_bytes,
            _ => self.members_rss_bytes() > limit_bytes,
        }
    }

    /// The memory cgroup's count of OOM kills (0 without one).
    fn oom_kills(&mut self) -> u64 {
        let Some(cg) = &self.guard.cgroup else {
            return 0;
        };
        match self.cgroup_files.oom_control.as_mut() {
            Some(file) => file.read().map_or(0, peak::oom_kills),
            None => cg.oom_kills(),
        }
    }

    /// Takes note of OOM kills the runtime survived: when the kernel killed a process of the
    /// cgroup (a child of the runtime, an extension) and the runtime is still alive, the kill
    /// is counted as seen and the function goes on, as on Lambda, where the OOM killer picks
    /// a victim inside the sandbox and only the runtime's death fails the invocation. Returns
    /// how many kills were newly seen.
    ///
    /// A kill is left unseen while the runtime is dead or a zombie (killed, not yet reaped),
    /// so that [`Self::runtime_oom_killed`] still finds it when its exit is handled.
    pub fn note_oom_kills(&mut self) -> u64 {
        let kills = self.oom_kills();
        if kills <= self.oom_kills_seen || !self.runtime.as_ref().is_some_and(|r| alive(r.pid)) {
            return 0;
        }
        let new = kills - self.oom_kills_seen;
        self.oom_kills_seen = kills;
        new
    }

    /// Whether the kernel's OOM killer struck since the last kill the runtime survived: asked
    /// when the runtime died of SIGKILL, to tell running out of memory from other kills.
    pub fn runtime_oom_killed(&mut self) -> bool {
        self.oom_kills() > self.oom_kills_seen
    }

    /// The pids of the living members: the runtime, then the extensions.
    fn member_pids(&self) -> impl Iterator<Item = u32> + '_ {
        let extensions = self.extensions.iter().filter(|e| !e.exited).map(|e| e.pid);
        self.runtime.iter().map(|r| r.pid).chain(extensions)
    }

    /// Resident memory of every member and its descendants now, in bytes.
    fn members_rss_bytes(&self) -> u64 {
        self.member_pids().map(tree_rss_bytes).sum()
    }

    /// Peak resident memory of the process and its living descendants, in bytes.
    ///
    /// The main process's own high-water mark (`VmHWM`) is read every time (a `pread` of its
    /// status file, kept open); descendants are looked up at most every
    /// `CHILD_SCAN_INTERVAL`, so that the invoke hot path stays cheap while a process tree
    /// is still measured.
    pub fn peak_memory(&mut self) -> u64 {
        let own = match &mut self.runtime {
            Some(Runtime {
                status: Some(status),
                ..
            }) => status
                .read()
                .map_or(0, |s| peak::status_field_bytes(s, b"VmHWM:")),
            Some(runtime) => read_hwm_kb(runtime.pid) * 1024,
            None => 0,
        };
        if let Some(cg) = &self.guard.cgroup {
            // A cgroup's peak counts only the pages charged to it: shared-library pages that
            // were already in the page cache stay charged to whoever read them first, so a small
            // process can peak below its own resident set. Report the larger of the two.
            let charged = match &mut self.cgroup_files.peak {
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
            // The runtime's descendants, and the extensions with theirs.
            let mut stack: Vec<u32> = self
                .runtime
                .iter()
                .flat_map(|r| children_of(r.pid))
                .collect();
            stack.extend(self.extensions.iter().filter(|e| !e.exited).map(|e| e.pid));
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

/// Whether process `pid` is alive and stays so: it exists, is not a zombie (`/proc/PID/stat`'s
/// state), is not exiting, and has no SIGKILL pending.
fn alive(pid: u32) -> bool {
    let Ok(stat) = std::fs::read(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // The fields after the command name, which is in parentheses and may hold any byte:
    // the state, then ppid, pgrp, session, tty, tpgid, and the flags.
    let Some(end) = stat.iter().rposition(|&b| b == b')') else {
        return false;
    };
    let fields: Vec<&[u8]> = stat[end + 1..]
        .split(|b| b.is_ascii_whitespace())
        .filter(|f| !f.is_empty())
        .collect();
    if matches!(fields.first(), None | Some([b'Z' | b'X' | b'x', ..])) {
        return false;
    }
    // Exiting already (PF_EXITING), or not yet but killed (SIGKILL pending): the OOM killer
    // signals its victim before it dies, and a kill seen in between is not one it survived.
    const PF_EXITING: u64 = 0x4;
    let flags = fields
        .get(6)
        .and_then(|f| std::str::from_utf8(f).ok())
        .and_then(|f| f.parse::<u64>().ok())
        .unwrap_or(0);
    flags & PF_EXITING == 0 && !sigkill_pending(pid)
}

/// Whether SIGKILL is pending for `pid` (to its thread group or to its main thread).
fn sigkill_pending(pid: u32) -> bool {
    const SIGKILL_BIT: u64 = 1 << (libc::SIGKILL - 1);
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return true; // gone meanwhile
    };
    status
        .lines()
        .filter_map(|l| {
            l.strip_prefix("ShdPnd:")
                .or_else(|| l.strip_prefix("SigPnd:"))
        })
        .filter_map(|mask| u64::from_str_radix(mask.trim(), 16).ok())
        .any(|mask| mask & SIGKILL_BIT != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alive_means_running_not_a_zombie_nor_killed() {
        assert!(alive(std::process::id()));
        // A child that has exited and is not reaped yet: a zombie.
        let mut child = std::process::Command::new("true")
            .spawn()
            .expect("true runs");
        let pid = child.id();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while alive(pid) && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert!(!alive(pid), "a zombie is not alive");
        let _ = child.wait();
        assert!(!alive(pid), "a reaped process is not alive");
        assert!(!sigkill_pending(std::process::id()));
    }
}
