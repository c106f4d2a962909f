//! Reading an environment's peak memory on the invoke hot path: the runtime's
//! `/proc/PID/status` and its memory cgroup's `memory.max_usage_in_bytes` (and
//! `memory.oom_control`, for the limit) are opened once, kept open, and read again from offset 0
//! (`pread`) for every REPORT and check of the limit, into a buffer that is reused.
//! That skips the path lookup, the open and the close of every read, and allocates nothing.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// A small kernel-generated file, kept open and read whole again on demand.
#[derive(Debug)]
pub struct ReadAgain {
    file: File,
    /// Grows when the content does not fit.
    buf: Vec<u8>,
}

impl ReadAgain {
    /// Opens `path` for reading again and again; `capacity` is the usual size of its content.
    pub fn open(path: &Path, capacity: usize) -> std::io::Result<Self> {
        Ok(Self {
            file: File::open(path)?,
            buf: vec![0; capacity.max(64)],
        })
    }

    /// The whole content now, or `None` when it cannot be read (the process or cgroup is
    /// gone).
    ///
    /// Usually one `pread`: these files are generated whole on each read from offset 0
    /// (`seq_file`), so a read that leaves room in the buffer has returned everything; only a
    /// read that fills the buffer is followed by another, into a bigger one.
    pub fn read(&mut self) -> Option<&[u8]> {
        let mut filled = 0;
        loop {
            if filled == self.buf.len() {
                self.buf.resize(self.buf.len() * 2, 0);
            }
            let room = self.buf.len() - filled;
            match self.file.read_at(&mut self.buf[filled..], filled as u64) {
                Ok(n) if n < room => return Some(&self.buf[..filled + n]),
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return None,
            }
        }
    }
}

/// The value in kB of a `/proc/PID/status` field (`VmHWM:`, `VmRSS:`...), in bytes; 0 when
/// absent.
pub fn status_field_bytes(status: &[u8], field: &[u8]) -> u64 {
    status
        .split(|&b| b == b'\n')
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| std::str::from_utf8(rest).ok())
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kb| kb.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// The `oom_kill` count of a cgroup v1 `memory.oom_control` file; 0 when absent.
pub fn oom_kills(oom_control: &[u8]) -> u64 {
    oom_control
        .split(|&b| b == b'\n')
        .find_map(|line| line.strip_prefix(b"oom_kill "))
        .map_or(0, number)
}

/// A decimal number on its own (as cgroup files hold them); 0 when unreadable.
pub fn number(content: &[u8]) -> u64 {
    std::str::from_utf8(content)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_its_own_status_again_and_again() {
        let mut status = ReadAgain::open(Path::new("/proc/self/status"), 16).unwrap();
        let content = status.read().unwrap();
        let first = status_field_bytes(content, b"VmHWM:");
        let rss = status_field_bytes(content, b"VmRSS:");
        assert!(first > 0);
        // Grows the high-water mark by touching 8 MiB more than it is above the resident set
        // now (other tests of this process may have freed what made the mark).
        let big = vec![1u8; (first.saturating_sub(rss) + (8 << 20)) as usize];
        std::hint::black_box(&big);
        let second = status_field_bytes(status.read().unwrap(), b"VmHWM:");
        assert!(second >= first + (4 << 20), "{first} -> {second}");
        let content = status.read().unwrap();
        assert!(content.starts_with(b"Name:"));
        assert!(content.ends_with(b"\n"));
    }

    #[test]
    fn parses_fields_and_numbers() {
        let status = b"Name:\tx\nVmPeak:\t  100 kB\nVmHWM:\t    2048 kB\nVmRSS:\t 12 kB\n";
        assert_eq!(status_field_bytes(status, b"VmHWM:"), 2048 * 1024);
        assert_eq!(status_field_bytes(status, b"VmRSS:"), 12 * 1024);
        assert_eq!(status_field_bytes(status, b"VmSwap:"), 0);
        assert_eq!(number(b"12345\n"), 12345);
        assert_eq!(number(b"x"), 0);
        let oom = b"oom_kill_disable 0\nunder_oom 0\noom_kill 2\n";
        assert_eq!(oom_kills(oom), 2);
        assert_eq!(oom_kills(b"oom_kill_disable 0\nunder_oom 0\n"), 0);
    }
}
