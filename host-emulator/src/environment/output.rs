//! An environment's log: the runtime's and the external extensions' output, each read line by
//! line from its own pipe, and the records the runtime writes to its telemetry log descriptor
//! (one record per frame, see `crate::logs::frames`), filtered by the application log level;
//! the platform lines Lambda
//! writes (`INIT_START`, `START`, `END`, `REPORT`, errors) in the function's log format
//! (`crate::logs::system`); and the 4 KB tails of the invocations whose callers asked for one.
//! A line about one invocation goes to its own tail; output and environment-wide lines go to
//! the tail of every invocation in flight (under multi-concurrency their output interleaves)
//! and to the tail of the invocation waiting for Init.

use super::invocations::Active;
use super::telemetry::OutputKind;
use super::Environment;
use crate::logs::frames::FrameSplitter;
use crate::logs::system::{InitOutcome, Outcome, PlatformLine, RuntimeDone};
use crate::logs::{Failure, LineSplitter, Report, Tail};

/// The reading of one output pipe: whether it is open, and its unfinished line.
#[derive(Debug, Default)]
pub(super) struct OutputReader {
    /// Until end of file.
    pub open: bool,
    splitter: LineSplitter,
}

impl OutputReader {
    /// A reader of a pipe just created (`open`) or of none.
    pub fn new(open: bool) -> Self {
        Self {
            open,
            splitter: LineSplitter::default(),
        }
    }
}

/// The reading of the runtime's telemetry log descriptor: whether it is open, and the record
/// being read.
#[derive(Debug, Default)]
pub(super) struct FrameReader {
    /// Until end of file.
    pub open: bool,
    splitter: FrameSplitter,
}

impl FrameReader {
    /// A reader of a pipe just created (`open`) or of none.
    pub fn new(open: bool) -> Self {
        Self {
            open,
            splitter: FrameSplitter::default(),
        }
    }
}

/// Where output is read from.
#[derive(Debug, Clone, Copy)]
enum Source {
    /// The runtime's stdout and stderr.
    Function,
    /// The external extensions' stdout and stderr.
    Extension,
    /// The runtime's telemetry log descriptor (its records are the function's).
    Frames,
}

impl Source {
    const ALL: [Source; 3] = [Source::Function, Source::Frames, Source::Extension];

    fn kind(self) -> OutputKind {
        match self {
            Source::Function | Source::Frames => OutputKind::Function,
            Source::Extension => OutputKind::Extension,
        }
    }
}

/// How a drain reads a pipe.
#[derive(Debug, Clone, Copy)]
enum Read {
    /// Only if the reactor has reported it readable (tokio's `try_read`).
    WhenReady,
    /// At once: one `read(2)` per chunk until the pipe is empty.
    Now,
}

/// One `read(2)` of `pipe`, whatever the reactor knows of it. The pipe is non-blocking (tokio
/// made it so), so an empty pipe is `WouldBlock`, never a wait.
fn read_now(pipe: &tokio::net::unix::pipe::Receiver, buf: &mut [u8]) -> std::io::Result<usize> {
    use std::os::fd::AsRawFd;
    // SAFETY: the descriptor belongs to `pipe`, which is borrowed for the whole call, and
    // `buf` is a writable buffer of `buf.len()` bytes.
    let n = unsafe { libc::read(pipe.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
    usize::try_from(n).map_err(|_| std::io::Error::last_os_error())
}

/// Waits until `pipe` (if any) has bytes or is closed.
async fn readable(pipe: Option<&tokio::net::unix::pipe::Receiver>) -> std::io::Result<()> {
    match pipe {
        Some(pipe) => pipe.readable().await,
        None => std::future::pending().await,
    }
}

/// Which of an environment's output pipes are still open (read before the process is
/// borrowed for [`any_readable`]).
#[derive(Debug, Clone, Copy)]
pub(super) struct OpenPipes {
    function: bool,
    extension: bool,
    frames: bool,
}

/// Waits until any open pipe of `pipes` has bytes or is closed; never, when none is open.
/// Every loop that waits on an environment's processes waits on this too, so that no pipe
/// fills up and blocks a writer while nobody reads.
pub(super) async fn any_readable(
    pipes: super::process::OutputPipes<'_>,
    open: OpenPipes,
) -> std::io::Result<()> {
    tokio::select! {
        ready = readable(Some(pipes.function)), if open.function => ready,
        ready = readable(pipes.extension), if open.extension => ready,
        ready = readable(pipes.frames), if open.frames => ready,
        else => std::future::pending().await,
    }
}

impl Environment {
    /// Which output pipes are still open, for [`any_readable`].
    pub(super) fn open_pipes(&self) -> OpenPipes {
        OpenPipes {
            function: self.function_output.open,
            extension: self.extension_output.open,
            frames: self.frame_output.open,
        }
    }

    /// Writes an environment-wide platform line (in the function's log format; a line its
    /// system log level filters out is not written).
    pub(super) fn platform(&mut self, line: PlatformLine) {
        let Some(text) = self.shared.log.policy().render(line) else {
            return;
        };
        self.each_tail(|tail| tail.push(&text));
        self.shared.log.platform_of(text, self.current_request());
    }

    /// Writes a platform line about one invocation.
    pub(super) fn note(&self, active: &mut Active, line: PlatformLine) {
        let Some(text) = self.shared.log.policy().render(line) else {
            return;
        };
        if let Some(tail) = &mut active.tail {
            tail.push(&text);
        }
        self.shared.log.platform_of(text, Some(active.id.clone()));
    }

    /// The invocation output written now belongs to: the only one in flight, or the only one
    /// whose invoke phase extensions still hold after the runtime answered; `None` between
    /// invocations, during Init, or with several at once.
    fn current_request(&self) -> Option<std::sync::Arc<str>> {
        match (
            self.held.active.as_slice(),
            self.extensions.reports.as_slice(),
        ) {
            ([only], []) => Some(only.id.clone()),
            ([], [only]) => Some(only.request_id.clone()),
            _ => None,
        }
    }

    /// Writes `INIT_REPORT` for an Init that failed or timed out, and sends its Telemetry API
    /// records (`platform.initRuntimeDone` and `platform.initReport`, with the status and the
    /// error type) to the subscriptions. Its `Phase` is `invoke` for an Init inside an invoke.
    pub(super) fn init_report(
        &mut self,
        took: std::time::Duration,
        status: &str,
        error_type: Option<&str>,
    ) {
        let phase = match self.phase {
            super::Phase::Initializing { retried: true, .. } => "invoke",
            _ => "init",
        };
        let outcome = InitOutcome {
            init_type: self.init_type(),
            phase,
            status,
            error_type,
        };
        let line = PlatformLine::init_report(&outcome, took);
        self.telemetry.init_ended(&outcome, &line);
        self.platform(line);
    }

    /// Whether platform records are wanted as JSON (by the log or a telemetry subscriber).
    pub(super) fn records_wanted(&self) -> bool {
        self.shared.log.policy().is_json() || self.telemetry.wanted()
    }

    fn each_tail(&mut self, push: impl FnMut(&mut Tail)) {
        each_tail(&mut self.init_tail, &mut self.held.active, push);
    }

    /// Reads everything the processes have written so far, without waiting: the runtime's
    /// pipe, its telemetry log descriptor, then the external extensions' pipe.
    ///
    /// A pipe is read only once the reactor has reported it readable, which costs nothing
    /// when it has not: this is the drain of the invocation path.
    pub(super) fn drain_output(&mut self, buf: &mut [u8]) {
        for source in Source::ALL {
            self.drain(source, buf, Read::WhenReady);
        }
    }

    /// Reads what the runtime wrote before it answered an invocation, so that it is logged
    /// before `END`: its pipe and its telemetry log descriptor are read at once (two `read(2)`
    /// calls when there is nothing, the price of never missing a line the reactor has not
    /// reported yet), then the external extensions' pipe as on the invocation path. An
    /// unfinished last line is written out as it is: it belongs to this invocation, not to
    /// whatever the runtime writes next.
    pub(super) fn drain_answered_output(&mut self, buf: &mut [u8]) {
        self.drain(Source::Function, buf, Read::Now);
        self.drain(Source::Frames, buf, Read::Now);
        self.drain(Source::Extension, buf, Read::WhenReady);
        let mut last = None;
        self.function_output
            .splitter
            .flush(|line| last = Some(line));
        if let Some(line) = last {
            self.emit_output(OutputKind::Function, line);
        }
    }

    /// Reads everything the processes have written so far, once a process has exited or is
    /// ending: the pipes are read at once, without waiting for the reactor to report them
    /// readable. A process that writes its last lines and exits can be seen to have exited
    /// (`waitpid`) before the reactor has seen those writes; a drain that waited for it would
    /// lose them.
    pub(super) fn drain_final_output(&mut self, buf: &mut [u8]) {
        for source in Source::ALL {
            self.drain(source, buf, Read::Now);
        }
    }

    fn drain(&mut self, source: Source, buf: &mut [u8], how: Read) {
        loop {
            let Some(process) = &self.process else {
                return;
            };
            let pipe = match source {
                Source::Function => &process.output,
                Source::Extension => match &process.extension_output {
                    Some(output) => output,
                    None => return,
                },
                Source::Frames => match &process.log_frames {
                    Some(frames) => frames,
                    None => return,
                },
            };
            let read = match how {
                Read::WhenReady => pipe.try_read(buf),
                Read::Now => read_now(pipe, buf),
            };
            match read {
                Ok(0) => {
                    match source {
                        Source::Function => self.function_output.open = false,
                        Source::Extension => self.extension_output.open = false,
                        Source::Frames => self.frame_output.open = false,
                    }
                    break;
                }
                Ok(n) => {
                    let mut lines = std::mem::take(&mut self.lines);
                    let push = |line| lines.push(line);
                    match source {
                        Source::Function => self.function_output.splitter.feed(&buf[..n], push),
                        Source::Extension => self.extension_output.splitter.feed(&buf[..n], push),
                        Source::Frames => {
                            if self.frame_output.splitter.feed(&buf[..n], push) {
                                tracing::warn!(
                                    function = %self.shared.config.name,
                                    env = self.id,
                                    "the runtime wrote to its telemetry log descriptor \
                                     (_LAMBDA_TELEMETRY_LOG_FD) without frames: read as lines"
                                );
                            }
                        }
                    }
                    for line in lines.drain(..) {
                        self.emit_output(source.kind(), line);
                    }
                    self.lines = lines;
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
    }

    /// Writes out unfinished last lines and records (the processes have exited or are
    /// ending).
    pub(super) fn flush_output(&mut self) {
        for source in Source::ALL {
            let mut last = Vec::new();
            let push = |line| last.push(line);
            match source {
                Source::Function => self.function_output.splitter.flush(push),
                Source::Extension => self.extension_output.splitter.flush(push),
                Source::Frames => self.frame_output.splitter.flush(push),
            }
            for line in last {
                self.emit_output(source.kind(), line);
            }
        }
    }

    /// One line of output: to the tails, the telemetry subscribers and the log stream,
    /// unless the application log level filters it out.
    fn emit_output(&mut self, kind: OutputKind, line: String) {
        let policy = *self.shared.log.policy();
        if !policy.keeps(&line) {
            return;
        }
        self.each_tail(|tail| tail.push(&line));
        self.telemetry.output(kind, &line, policy.is_json());
        let request = self.current_request();
        match kind {
            OutputKind::Function => self.shared.log.output(line, request),
            OutputKind::Extension => self.shared.log.extension(line, request),
        }
    }

    /// The peak memory of the environment so far, in bytes.
    pub(super) fn memory(&mut self) -> u64 {
        if let Some(p) = &mut self.process {
            self.peak_memory = self.peak_memory.max(p.peak_memory());
        }
        self.peak_memory
    }

    /// Logs END (`platform.runtimeDone`) for an invocation the runtime answered with
    /// `answer` (or that failed), and returns its REPORT, to be written by [`Self::report`]
    /// when its invoke phase ends: at once, or when the extensions still at work on it have
    /// all called `/next` again.
    pub(super) fn runtime_done(
        &mut self,
        active: &mut Active,
        answer: &crate::invocation::Answer,
    ) -> PendingReport {
        let duration = active.started.elapsed();
        let metrics = &self.shared.metrics;
        metrics.duration.observe(duration);
        if active.init.is_some() {
            metrics
                .cold_starts
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        let error_type = match answer {
            crate::invocation::Answer::FunctionError(doc) => Some(
                crate::invocation::platform_error_type(
                    crate::invocation::error_type_of(doc).as_deref(),
                )
                .to_owned(),
            ),
            _ => None,
        };
        let pending = PendingReport {
            request_id: active.id.clone(),
            trace_id: active.invocation.trace_id.clone(),
            started: active.started,
            init: active.init,
            status: telemetry_status(answer, error_type.as_deref()),
            error_type,
        };
        // Records are built only when the JSON log or a subscriber (or Init's backlog) takes
        // them: nothing is allocated for them on the invoke path otherwise.
        let record = self.records_wanted();
        let done = RuntimeDone {
            request_id: &pending.request_id,
            outcome: pending.outcome(),
            started: active.started,
            took: duration,
            response: active.response,
            trace: &pending.trace_id,
        };
        let end = PlatformLine::runtime_done(&done, record);
        self.telemetry.platform_line(&end);
        if self.telemetry.wanted() {
            // The Logs API's record between the two (the Telemetry API has none).
            self.telemetry.platform(
                "platform.end",
                serde_json::json!({"requestId": &*pending.request_id}),
            );
        }
        self.note(active, end);
        pending
    }

    /// Logs REPORT (`platform.report`) for an invocation whose invoke phase is over: its
    /// duration runs to now. `failed`: its environment failed (the line then says how).
    /// `max_memory_bytes`: the peak just measured ([`Self::memory`]); a failure shows at most
    /// `memory_mb`, as Lambda's do (an invocation that succeeds is never past it: see
    /// `memory`). `active`: the invocation, when its caller has not had the answer yet (the
    /// line goes to its tail too).
    pub(super) fn report(
        &mut self,
        pending: PendingReport,
        failed: bool,
        max_memory_bytes: u64,
        active: Option<&mut Active>,
    ) {
        let max_memory_bytes = if failed {
            max_memory_bytes.min(self.memory_limit())
        } else {
            max_memory_bytes
        };
        let outcome = pending.outcome();
        let failure = failed.then(|| match outcome.status {
            "timeout" => Failure::Timeout,
            _ => Failure::Error(outcome.error_type.unwrap_or("Runtime.Unknown")),
        });
        let report = Report {
            request_id: pending.request_id.as_ref(),
            duration: pending.started.elapsed(),
            memory_mb: self.shared.config.memory_mb,
            max_memory_bytes,
            init: pending.init,
            failure,
        };
        let record = self.records_wanted();
        let line = PlatformLine::report(&report, outcome, &pending.trace_id, record);
        self.telemetry.platform_line(&line);
        match active {
            Some(active) => self.note(active, line),
            None => {
                if let Some(text) = self.shared.log.policy().render(line) {
                    let id = Some(pending.request_id.clone());
                    self.shared.log.platform_of(text, id);
                }
            }
        }
    }
}

impl Environment {
    /// Writes the REPORT of every invocation whose invoke phase waited for extensions:
    /// the phase is over, or (`failed`: the status and error type) the environment failed
    /// before it was.
    pub(super) fn write_reports(&mut self, failed: Option<(&'static str, &str)>) {
        let reports = std::mem::take(&mut self.extensions.reports);
        if reports.is_empty() {
            return;
        }
        let max_memory_bytes = self.memory();
        for report in reports {
            let report = match failed {
                Some((status, error_type)) => report.failed(status, error_type),
                None => report,
            };
            self.report(report, failed.is_some(), max_memory_bytes, None);
        }
    }
}

/// An invocation's `REPORT`, from the runtime's answer to the end of its invoke phase: what
/// the line needs then. Lambda writes it when the invoke phase ends, which with extensions
/// is when the last of them calls `/next` again (its `Duration` includes that time).
#[derive(Debug)]
pub(super) struct PendingReport {
    request_id: std::sync::Arc<str>,
    trace_id: String,
    /// When the invocation's clock started.
    started: std::time::Instant,
    init: Option<std::time::Duration>,
    /// The Telemetry API's status.
    status: &'static str,
    /// Its error type as platform lines give it.
    error_type: Option<String>,
}

impl PendingReport {
    fn outcome(&self) -> Outcome<'_> {
        Outcome {
            status: self.status,
            error_type: self.error_type.as_deref(),
        }
    }

    /// The same invocation, failed: `status` with `error_type` (its extensions timed out
    /// or crashed before its invoke phase ended).
    pub fn failed(mut self, status: &'static str, error_type: &str) -> Self {
        self.status = status;
        self.error_type = Some(error_type.to_owned());
        self
    }
}

/// The Telemetry API's status of an invocation that ended with `answer` (of `error_type`):
/// `success`, `error` (the function's own error), `timeout`, or `failure` (the runtime
/// crashed, ran out of memory, or an extension did).
fn telemetry_status(answer: &crate::invocation::Answer, error_type: Option<&str>) -> &'static str {
    use crate::invocation::Answer;
    match answer {
        Answer::Success(_) => "success",
        Answer::FunctionError(_) => match error_type {
            Some("Sandbox.Timedout") => "timeout",
            Some("Runtime.ExitError" | "Runtime.OutOfMemory") => "failure",
            Some(t) if t.starts_with("Extension.") => "failure",
            _ => "error",
        },
        _ => "failure",
    }
}

/// Calls `push` for the tail waiting for Init and every tail of an invocation in flight.
fn each_tail(
    init_tail: &mut Option<(String, Tail)>,
    active: &mut [Active],
    mut push: impl FnMut(&mut Tail),
) {
    if let Some((_, tail)) = init_tail {
        push(tail);
    }
    for tail in active.iter_mut().filter_map(|a| a.tail.as_mut()) {
        push(tail);
    }
}
