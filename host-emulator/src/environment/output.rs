//! An environment's log: the function's output read line by line from its pipe, the platform
//! lines Lambda writes (`INIT_START`, `START`, `END`, `REPORT`, errors), and the 4 KB tails of
//! the invocations whose callers asked for one. A line about one invocation goes to its own
//! tail; the function's output and environment-wide lines go to the tail of every invocation in
//! flight (under multi-concurrency their output interleaves) and to the tail of the invocation
//! waiting for Init.

use super::invocations::Active;
use super::Environment;
use crate::logs::{Report, Tail};

impl Environment {
    /// Writes an environment-wide platform line.
    pub(super) fn platform(&mut self, text: String) {
        self.each_tail(|tail| tail.push(&text));
        self.shared.log.platform(text);
    }

    /// Writes a platform line about one invocation.
    pub(super) fn note(&self, active: &mut Active, text: String) {
        if let Some(tail) = &mut active.tail {
            tail.push(&text);
        }
        self.shared.log.platform(text);
    }

    fn each_tail(&mut self, push: impl FnMut(&mut Tail)) {
        each_tail(&mut self.init_tail, &mut self.held.active, push);
    }

    /// Reads everything the process has written so far, without waiting.
    pub(super) fn drain_output(&mut self, buf: &mut [u8]) {
        loop {
            let read = match &self.process {
                Some(process) => process.output.try_read(buf),
                None => return,
            };
            match read {
                Ok(0) => {
                    self.output_open = false;
                    break;
                }
                Ok(n) => {
                    let Self {
                        splitter,
                        init_tail,
                        held,
                        shared,
                        telemetry,
                        ..
                    } = self;
                    splitter.feed(&buf[..n], |line| {
                        each_tail(init_tail, &mut held.active, |tail| tail.push(&line));
                        telemetry.function(&line);
                        shared.log.output(line);
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
    }

    /// Writes out an unfinished last line (the process has exited).
    pub(super) fn flush_output(&mut self) {
        let mut last = None;
        self.splitter.flush(|line| last = Some(line));
        if let Some(line) = last {
            self.each_tail(|tail| tail.push(&line));
            self.telemetry.function(&line);
            self.shared.log.output(line);
        }
    }

    /// The peak memory of the environment so far, in bytes.
    pub(super) fn memory(&mut self) -> u64 {
        if let Some(p) = &mut self.process {
            self.peak_memory = self.peak_memory.max(p.peak_memory());
        }
        self.peak_memory
    }

    /// Logs END and REPORT for an invocation that ends.
    pub(super) fn report(&mut self, active: &mut Active, answer: &crate::invocation::Answer) {
        let duration = active.started.elapsed();
        let max_memory_bytes = self.memory();
        let metrics = &self.shared.metrics;
        metrics.duration.observe(duration);
        if active.init.is_some() {
            metrics
                .cold_starts
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        let report = Report {
            request_id: &active.invocation.request_id,
            duration,
            memory_mb: self.shared.config.memory_mb,
            max_memory_bytes,
            init: active.init,
        };
        let line = report.line();
        // Records are built only when a subscriber (or Init's backlog) takes them: nothing is
        // allocated for telemetry on the invoke path otherwise.
        if self.telemetry.wanted(false) {
            let status = telemetry_status(answer);
            let id = &active.invocation.request_id;
            self.telemetry.platform(
                "platform.runtimeDone",
                serde_json::json!({
                    "requestId": id,
                    "status": status,
                    "metrics": {"durationMs": duration.as_secs_f64() * 1000.0},
                }),
            );
            self.telemetry
                .platform("platform.end", serde_json::json!({"requestId": id}));
            self.telemetry
                .platform("platform.report", report.record(status));
        }
        let end = format!("END RequestId: {}", active.invocation.request_id);
        self.note(active, end);
        self.note(active, line);
    }
}

/// The Telemetry API's status of an invocation that ended with `answer`: `success`, `error`
/// (the function's own error), `timeout`, or `failure` (the runtime crashed, ran out of
/// memory, or an extension did).
fn telemetry_status(answer: &crate::invocation::Answer) -> &'static str {
    use crate::invocation::{error_type_of, Answer};
    match answer {
        Answer::Success(_) => "success",
        Answer::FunctionError(doc) => match error_type_of(doc).as_deref() {
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
