//! Statistics of a live child process: CPU time (all threads) and resident memory, read from
//! the kernel while the process sits blocked in `/next`.

use std::time::Duration;

use crate::BenchError;

/// CPU time consumed so far by every thread of process `pid` (user + system).
///
/// Uses the process's CPU-time clock (`clock_getcpuclockid`, nanosecond resolution); when the
/// kernel refuses it, falls back to `utime + stime` from `/proc/PID/stat` (clock-tick resolution,
/// usually 10 ms).
pub fn cpu_time(pid: u32) -> Result<Duration, BenchError> {
    cpu_clock(pid).or_else(|_| cpu_time_from_stat(pid))
}

fn cpu_clock(pid: u32) -> Result<Duration, BenchError> {
    let pid_t = libc::pid_t::try_from(pid).map_err(|_| BenchError::Proc {
        path: format!("cpu clock of {pid}"),
        reason: "pid out of range".into(),
    })?;
    let mut clock: libc::clockid_t = 0;
    // SAFETY: `clock` is a valid out-pointer for the duration of the call.
    let rc = unsafe { libc::clock_getcpuclockid(pid_t, &mut clock) };
    if rc != 0 {
        return Err(BenchError::Proc {
            path: format!("cpu clock of {pid}"),
            reason: std::io::Error::from_raw_os_error(rc).to_string(),
        });
    }
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid out-pointer for the duration of the call.
    let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
    if rc != 0 {
        return Err(BenchError::Proc {
            path: format!("cpu clock of {pid}"),
            reason: std::io::Error::last_os_error().to_string(),
        });
    }
    Ok(Duration::new(
        u64::try_from(ts.tv_sec).unwrap_or(0),
        u32::try_from(ts.tv_nsec).unwrap_or(0),
    ))
}

/// `utime + stime` of process `pid` from `/proc/PID/stat`.
pub fn cpu_time_from_stat(pid: u32) -> Result<Duration, BenchError> {
    let path = format!("/proc/{pid}/stat");
    let text = std::fs::read_to_string(&path).map_err(|e| BenchError::Proc {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    let ticks = parse_stat_cpu_ticks(&text).ok_or_else(|| BenchError::Proc {
        path: path.clone(),
        reason: "unexpected format".into(),
    })?;
    Ok(ticks_to_duration(ticks, clock_ticks_per_second()))
}

/// `utime + stime` (in clock ticks) from the text of `/proc/PID/stat`. The command name (field
/// 2) may contain spaces and parentheses, so fields are counted after its last `)`.
pub fn parse_stat_cpu_ticks(stat: &str) -> Option<u64> {
    let after = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // After the name come field 3 (state) onwards; utime is field 14, stime field 15.
    let utime: u64 = fields.get(14 - 3)?.parse().ok()?;
    let stime: u64 = fields.get(15 - 3)?.parse().ok()?;
    Some(utime + stime)
}

fn clock_ticks_per_second() -> u64 {
    // SAFETY: sysconf has no memory-safety preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    u64::try_from(hz).ok().filter(|&hz| hz > 0).unwrap_or(100)
}

fn ticks_to_duration(ticks: u64, hz: u64) -> Duration {
    Duration::from_nanos(ticks.saturating_mul(1_000_000_000) / hz.max(1))
}

/// A `kB` field (e.g. `VmRSS`, `VmHWM`) of `/proc/PID/status`, in KiB.
pub fn status_kib(pid: u32, field: &str) -> Result<u64, BenchError> {
    let path = format!("/proc/{pid}/status");
    let text = std::fs::read_to_string(&path).map_err(|e| BenchError::Proc {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    parse_status_kib(&text, field).ok_or_else(|| BenchError::Proc {
        path,
        reason: format!("no {field} line"),
    })
}

/// A `kB` field from the text of `/proc/PID/status`.
pub fn parse_status_kib(status: &str, field: &str) -> Option<u64> {
    status.lines().find_map(|line| {
        let rest = line.strip_prefix(field)?.strip_prefix(':')?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_awkward_command_names() {
        let stat = "1234 (my (odd) name) S 1 1234 1234 0 -1 4194560 300 0 0 0 \
                    17 5 0 0 20 0 1 0 12345 1000000 200 18446744073709551615";
        assert_eq!(parse_stat_cpu_ticks(stat), Some(22));
        assert_eq!(parse_stat_cpu_ticks("garbage"), None);
        assert_eq!(parse_stat_cpu_ticks("1 (x) S 1 2"), None);
    }

    #[test]
    fn parses_status_fields() {
        let status = "Name:\tbootstrap\nVmHWM:\t    4321 kB\nVmRSS:\t    1234 kB\n";
        assert_eq!(parse_status_kib(status, "VmRSS"), Some(1234));
        assert_eq!(parse_status_kib(status, "VmHWM"), Some(4321));
        assert_eq!(parse_status_kib(status, "VmSwap"), None);
    }

    #[test]
    fn converts_ticks() {
        assert_eq!(ticks_to_duration(250, 100), Duration::from_millis(2500));
    }

    #[test]
    fn reads_own_process() {
        let pid = std::process::id();
        // Burn a little CPU so the clock has something to show.
        let mut x = 0u64;
        for i in 0..2_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        assert_ne!(x, 1);
        assert!(cpu_time(pid).unwrap() > Duration::ZERO);
        assert!(cpu_time_from_stat(pid).is_ok());
        assert!(status_kib(pid, "VmRSS").unwrap() > 0);
        assert!(status_kib(pid, "NoSuchField").is_err());
        assert!(status_kib(u32::MAX, "VmRSS").is_err());
    }
}
