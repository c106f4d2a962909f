//! Log streams: each function's captured output and platform lines (`START`, `END`, `REPORT`),
//! fanned out to subscribers without ever blocking a function, kept in a bounded history, and
//! the per-invocation 4 KB tail for `X-Amz-Log-Result`. `system` renders the platform's lines
//! in the function's log format and filters by log level.

pub mod frames;
pub mod system;
mod timestamp;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use tokio::sync::broadcast;

/// Bytes of an invocation's log returned in `X-Amz-Log-Result`.
pub const TAIL_BYTES: usize = 4096;
/// Lines of history kept per function for [`crate::Emulator::logs`].
pub const HISTORY_LINES: usize = 10_000;
/// Longest line kept as one; longer output is split.
pub const MAX_LINE_BYTES: usize = 256 * 1024;

/// Where a log line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogSource {
    /// The function's stdout or stderr.
    Function,
    /// The emulator, speaking as Lambda (`START`, `END`, `REPORT`, timeouts...).
    Platform,
    /// An external extension's stdout or stderr.
    Extension,
}

/// One line of a function's log stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// The function whose stream this line belongs to.
    pub function: Arc<str>,
    /// Who wrote it.
    pub source: LogSource,
    /// The text, without the line break.
    pub text: String,
    /// The invocation it belongs to, when the emulator can tell: the platform lines about one
    /// invocation (`START`, `END`, `REPORT`, its errors), and the output written while it was
    /// the only invocation in its environment (from its delivery to the end of its invoke
    /// phase). `None` for Init's lines and for output written between invocations or while
    /// several ran at once (multi-concurrency).
    pub request_id: Option<Arc<str>>,
}

/// One function's recent lines.
type History = Mutex<VecDeque<LogLine>>;

/// The log streams of every function: a broadcast for live readers plus a bounded history.
#[derive(Debug)]
pub struct LogHub {
    live: broadcast::Sender<LogLine>,
    // One entry per function: read for one push per line, written when a function is
    // created. Never held across an await.
    history: RwLock<HashMap<Arc<str>, History>>,
}

impl LogHub {
    /// A hub for these functions.
    pub fn new<'a>(functions: impl IntoIterator<Item = &'a str>) -> Self {
        let (live, _) = broadcast::channel(16 * 1024);
        let history = functions
            .into_iter()
            .map(|f| (Arc::from(f), Mutex::new(VecDeque::new())))
            .collect();
        Self {
            live,
            history: RwLock::new(history),
        }
    }

    /// Keeps a history for `function` from now on (a function created while the emulator
    /// runs); nothing changes for a function it already has.
    pub fn add(&self, function: &str) {
        // Poisoned only if a thread panicked inside a map operation; the map is intact.
        self.history
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(Arc::from(function))
            .or_default();
    }

    /// Publishes one line: never blocks; slow live readers lose lines, not the function.
    pub fn publish(&self, line: LogLine) {
        let histories = self.history.read().unwrap_or_else(PoisonError::into_inner);
        if let Some(history) = histories.get(&line.function) {
            // A poisoned lock only means another thread panicked mid-push; the deque is intact.
            let mut h = history.lock().unwrap_or_else(|p| p.into_inner());
            if h.len() == HISTORY_LINES {
                h.pop_front();
            }
            h.push_back(line.clone());
        }
        drop(histories);
        // No receivers is fine: nobody is reading live.
        let _ = self.live.send(line);
    }

    /// A live subscription to every function's lines from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<LogLine> {
        self.live.subscribe()
    }

    /// The recent lines of one function (at most [`HISTORY_LINES`]); empty for unknown names.
    pub fn history(&self, function: &str) -> Vec<LogLine> {
        let histories = self.history.read().unwrap_or_else(PoisonError::into_inner);
        histories
            .get(function)
            .map(|h| {
                h.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .iter()
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// One function's log stream, as an environment writes it.
#[derive(Debug, Clone)]
pub struct FunctionLog {
    hub: Arc<LogHub>,
    function: Arc<str>,
    policy: system::LogPolicy,
}

impl FunctionLog {
    /// The stream of `function` in `hub`, written as `logging` says.
    pub fn new(hub: Arc<LogHub>, function: &str, logging: &crate::config::LoggingConfig) -> Self {
        Self {
            hub,
            function: Arc::from(function),
            policy: system::LogPolicy::new(logging),
        }
    }

    /// The same stream, written as `logging` says (for a version with other log settings).
    pub fn with_logging(&self, logging: &crate::config::LoggingConfig) -> Self {
        Self {
            hub: self.hub.clone(),
            function: self.function.clone(),
            policy: system::LogPolicy::new(logging),
        }
    }

    /// How this stream's lines are written and filtered.
    pub fn policy(&self) -> &system::LogPolicy {
        &self.policy
    }

    /// Writes a line of the function's own output, written during invocation `request_id`.
    pub fn output(&self, text: String, request_id: Option<Arc<str>>) {
        self.write(LogSource::Function, text, request_id);
    }

    /// Writes a line of an external extension's output, written during invocation
    /// `request_id`.
    pub fn extension(&self, text: String, request_id: Option<Arc<str>>) {
        self.write(LogSource::Extension, text, request_id);
    }

    /// Writes a platform line, already rendered by [`FunctionLog::policy`].
    pub fn platform(&self, text: String) {
        self.write(LogSource::Platform, text, None);
    }

    /// Writes a platform line about invocation `request_id`, already rendered.
    pub fn platform_of(&self, text: String, request_id: Option<Arc<str>>) {
        self.write(LogSource::Platform, text, request_id);
    }

    /// Renders and writes a platform line (unless the system log level filters it out).
    pub fn platform_line(&self, line: system::PlatformLine) {
        if let Some(text) = self.policy.render(line) {
            self.platform(text);
        }
    }

    fn write(&self, source: LogSource, text: String, request_id: Option<Arc<str>>) {
        self.hub.publish(LogLine {
            function: self.function.clone(),
            source,
            text,
            request_id,
        });
    }
}

/// The lines of one invocation, trimmed to the last [`TAIL_BYTES`] bytes when finished.
#[derive(Debug, Default)]
pub struct Tail {
    text: String,
}

impl Tail {
    /// Adds a line.
    pub fn push(&mut self, line: &str) {
        self.text.push_str(line);
        self.text.push('\n');
        if self.text.len() > 4 * TAIL_BYTES {
            let cut = floor_char_boundary(&self.text, self.text.len() - TAIL_BYTES);
            self.text.drain(..cut);
        }
    }

    /// The last [`TAIL_BYTES`] bytes (cut at a character boundary).
    pub fn finish(self) -> String {
        let mut text = self.text;
        if text.len() > TAIL_BYTES {
            let mut cut = text.len() - TAIL_BYTES;
            while !text.is_char_boundary(cut) {
                cut += 1;
            }
            text.drain(..cut);
        }
        text
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Splits a byte stream into lines; a line longer than [`MAX_LINE_BYTES`] is cut into pieces
/// of at most that size, each ending on a UTF-8 character boundary.
#[derive(Debug, Default)]
pub struct LineSplitter {
    partial: Vec<u8>,
    /// The last piece was emitted because of its length and nothing came after it: a newline
    /// now ends that line, which is already out, and emits nothing.
    cut: bool,
}

impl LineSplitter {
    /// Feeds bytes, calling `emit` for each complete line.
    pub fn feed(&mut self, mut bytes: &[u8], mut emit: impl FnMut(String)) {
        while let Some(pos) = bytes.iter().position(|&b| b == b'\n') {
            if pos > 0 {
                self.cut = false;
            }
            self.partial.extend_from_slice(&bytes[..pos]);
            self.cut_long(&mut emit);
            if !(self.cut && self.partial.is_empty()) {
                emit(take_line(&mut self.partial));
            }
            self.cut = false;
            bytes = &bytes[pos + 1..];
        }
        if !bytes.is_empty() {
            self.cut = false;
        }
        self.partial.extend_from_slice(bytes);
        self.cut_long(&mut emit);
    }

    /// Emits pieces of [`MAX_LINE_BYTES`] (or less, to end on a character) while the line
    /// in progress is that long.
    fn cut_long(&mut self, emit: &mut impl FnMut(String)) {
        while self.partial.len() >= MAX_LINE_BYTES {
            let at = utf8_cut(&self.partial, MAX_LINE_BYTES);
            let rest = self.partial.split_off(at);
            emit(take_line(&mut self.partial));
            self.partial = rest;
            self.cut = self.partial.is_empty();
        }
    }

    /// Emits the unfinished last line, if any.
    pub fn flush(&mut self, emit: impl FnOnce(String)) {
        if !self.partial.is_empty() {
            emit(take_line(&mut self.partial));
        }
    }
}

/// Where to cut `bytes` at most `max` bytes in: before a UTF-8 character that would be split,
/// unless what precedes is not UTF-8 (then at `max`).
pub(super) fn utf8_cut(bytes: &[u8], max: usize) -> usize {
    let is_continuation = |b: u8| b & 0b1100_0000 == 0b1000_0000;
    let mut at = max;
    // A character is at most 4 bytes: at most 3 continuation bytes to step back over.
    while at > max.saturating_sub(3) && at < bytes.len() && is_continuation(bytes[at]) {
        at -= 1;
    }
    if at == 0 || (at < bytes.len() && is_continuation(bytes[at])) {
        max
    } else {
        at
    }
}

fn take_line(buf: &mut Vec<u8>) -> String {
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    let line = String::from_utf8_lossy(buf).into_owned();
    buf.clear();
    line
}

/// The figures of a `REPORT` line.
#[derive(Debug, Clone)]
pub struct Report<'a> {
    /// The invocation.
    pub request_id: &'a str,
    /// From the event's delivery to the answer.
    pub duration: Duration,
    /// Configured memory.
    pub memory_mb: u32,
    /// Measured peak resident memory of the environment's processes, in bytes.
    pub max_memory_bytes: u64,
    /// The Init phase, on cold starts.
    pub init: Option<Duration>,
    /// How an invocation whose environment failed ended, as the line's last fields say it.
    pub failure: Option<Failure<'a>>,
}

/// How an invocation ended when its environment failed (a timeout, a crash, running out of
/// memory, a failed Init inside its invoke): `REPORT` ends with `Status: timeout`, or with
/// `Status: error` and `Error Type: ...`, as Lambda writes it. A function's own error (posted
/// to `/error`) is not one: its `REPORT` has no status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure<'a> {
    /// It timed out.
    Timeout,
    /// The environment failed with this error type.
    Error(&'a str),
}

/// A duration in milliseconds, as records give it: to the microsecond, so that a record says
/// `0.751` rather than `0.7507790000000001`.
pub(crate) fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1_000_000.0).round() / 1000.0
}

impl Report<'_> {
    /// Billed milliseconds: the duration plus Init, rounded up, at least 1.
    fn billed_ms(&self) -> u64 {
        ((ms(self.duration) + self.init.map(ms).unwrap_or(0.0)).ceil() as u64).max(1)
    }

    /// `Max Memory Used` in MB, rounded up.
    fn used_mb(&self) -> u64 {
        self.max_memory_bytes.div_ceil(1024 * 1024)
    }

    /// The `REPORT` line, tab-separated: `Init Duration` after the figures, then the status
    /// of a failure.
    pub fn line(&self) -> String {
        let mut line = format!(
            "REPORT RequestId: {}\tDuration: {:.2} ms\tBilled Duration: {} ms\tMemory Size: {} MB\tMax Memory Used: {} MB",
            self.request_id,
            ms(self.duration),
            self.billed_ms(),
            self.memory_mb,
            self.used_mb()
        );
        if let Some(init) = self.init {
            line.push_str(&format!("\tInit Duration: {:.2} ms", ms(init)));
        }
        match self.failure {
            Some(Failure::Timeout) => line.push_str("\tStatus: timeout"),
            Some(Failure::Error(error_type)) => {
                line.push_str("\tStatus: error\tError Type: ");
                line.push_str(error_type);
            }
            None => {}
        }
        line
    }

    /// The `platform.report` record (Telemetry API and JSON logs), with how the invocation ended.
    pub fn record(&self, outcome: system::Outcome<'_>) -> serde_json::Value {
        let mut metrics = serde_json::json!({
            "durationMs": ms(self.duration),
            "billedDurationMs": self.billed_ms(),
            "memorySizeMB": self.memory_mb,
            "maxMemoryUsedMB": self.used_mb(),
        });
        if let Some(init) = self.init {
            metrics["initDurationMs"] = ms(init).into();
        }
        let mut record = serde_json::json!({
            "requestId": self.request_id,
            "status": outcome.status,
            "metrics": metrics,
        });
        if let Some(error_type) = outcome.error_type {
            record["errorType"] = error_type.into();
        }
        record
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_line_format() {
        let r = Report {
            request_id: "id",
            duration: Duration::from_micros(1234),
            memory_mb: 128,
            max_memory_bytes: 15 * 1024 * 1024 - 10,
            init: Some(Duration::from_micros(12_340)),
            failure: None,
        };
        assert_eq!(
            r.line(),
            "REPORT RequestId: id\tDuration: 1.23 ms\tBilled Duration: 14 ms\tMemory Size: 128 MB\tMax Memory Used: 15 MB\tInit Duration: 12.34 ms"
        );
        let warm = Report { init: None, ..r };
        assert!(warm.line().ends_with("Max Memory Used: 15 MB"));
        assert!(warm.line().contains("Billed Duration: 2 ms"));
        let timed_out = Report {
            failure: Some(Failure::Timeout),
            ..r.clone()
        };
        assert!(timed_out
            .line()
            .ends_with("\tInit Duration: 12.34 ms\tStatus: timeout"));
        let crashed = Report {
            failure: Some(Failure::Error("Runtime.ExitError")),
            init: None,
            ..r
        };
        assert!(crashed
            .line()
            .ends_with("Max Memory Used: 15 MB\tStatus: error\tError Type: Runtime.ExitError"));
    }

    fn split(chunks: &[&[u8]]) -> Vec<String> {
        let mut s = LineSplitter::default();
        let mut lines = Vec::new();
        for chunk in chunks {
            s.feed(chunk, |l| lines.push(l));
        }
        s.flush(|l| lines.push(l));
        lines
    }

    #[test]
    fn a_line_of_exactly_the_limit_is_one_line_however_it_arrives() {
        let line = vec![b'x'; MAX_LINE_BYTES];
        let whole = [line.as_slice(), b"\nnext\n"].concat();
        let want = vec!["x".repeat(MAX_LINE_BYTES), "next".to_owned()];
        assert_eq!(split(&[&whole]), want);
        assert_eq!(split(&[&line, b"\n", b"next\n"]), want);
        // Two pieces of a line of twice the limit, and no empty third.
        let double = [vec![b'y'; 2 * MAX_LINE_BYTES].as_slice(), b"\n"].concat();
        let lines = split(&[&double]);
        assert_eq!(
            lines.len(),
            2,
            "{:?}",
            lines.iter().map(String::len).collect::<Vec<_>>()
        );
        // An empty line of the runtime's own, after a cut line, is kept.
        assert_eq!(split(&[&line, b"\n\n"]).len(), 2);
    }

    #[test]
    fn a_long_line_is_cut_between_characters() {
        // "é" is 2 bytes: after an odd number of ASCII bytes, the limit falls inside one.
        let text = format!("x{}", "é".repeat(MAX_LINE_BYTES));
        let lines = split(&[text.as_bytes()]);
        assert!(
            lines.iter().all(|l| !l.contains('\u{FFFD}')),
            "a character was split"
        );
        assert_eq!(lines.concat(), text);
        assert!(lines.iter().all(|l| l.len() <= MAX_LINE_BYTES));
        // Bytes that are not UTF-8 are still cut at the limit.
        let junk = vec![0x80u8; MAX_LINE_BYTES + 5];
        let lines = split(&[&junk]);
        assert_eq!(lines.len(), 2);
    }

    #[test]
    fn splitter_and_tail() {
        let mut s = LineSplitter::default();
        let mut out = Vec::new();
        s.feed(b"a\r\nb", |l| out.push(l));
        s.feed(b"c\n\nd", |l| out.push(l));
        s.flush(|l| out.push(l));
        assert_eq!(out, ["a", "bc", "", "d"]);

        let mut big = Vec::new();
        s.feed(&vec![b'x'; MAX_LINE_BYTES + 5], |l| big.push(l.len()));
        s.flush(|l| big.push(l.len()));
        assert_eq!(big, [MAX_LINE_BYTES, 5]);

        let mut t = Tail::default();
        for i in 0..2000 {
            t.push(&format!("line {i}"));
        }
        let text = t.finish();
        assert!(text.len() <= TAIL_BYTES);
        assert!(text.ends_with("line 1999\n"));
    }

    #[test]
    fn hub_history_and_live() {
        let hub = Arc::new(LogHub::new(["f"]));
        let mut rx = hub.subscribe();
        let log = FunctionLog::new(hub.clone(), "f", &Default::default());
        log.output("hello".into(), None);
        assert_eq!(hub.history("f")[0].text, "hello");
        assert_eq!(rx.try_recv().unwrap().source, LogSource::Function);
        assert!(hub.history("other").is_empty());
    }
}
