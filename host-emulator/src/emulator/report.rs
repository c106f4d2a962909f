//! [`InvocationReport`]: an invocation's `REPORT` log line read back into its figures, from the
//! Text format's tab-separated line or the JSON format's `platform.report` record.

use std::time::Duration;

/// The figures of an invocation's `REPORT` line (see "Logs" in the README), as
/// [`crate::Emulator::report`] waits for them.
#[derive(Debug, Clone, PartialEq)]
pub struct InvocationReport {
    /// The invocation's request id.
    pub request_id: String,
    /// `Duration`: from the event's delivery to the answer (to 10 µs in the Text format, to the
    /// microsecond in the JSON format).
    pub duration: Duration,
    /// `Billed Duration`: the duration, plus Init on a cold start, rounded up to the
    /// millisecond.
    pub billed_duration: Duration,
    /// `Memory Size`: the configured memory, in MB.
    pub memory_size_mb: u32,
    /// `Max Memory Used`: the measured peak of the environment's processes, in MB.
    pub max_memory_used_mb: u64,
    /// `Init Duration`: only on the cold start that ran Init.
    pub init_duration: Option<Duration>,
    /// `Status`. The Text line has one only when the environment failed (`timeout`, `error`);
    /// the JSON record always has one (`success`, `error` for the function's own error too,
    /// `timeout`, `failure`).
    pub status: Option<String>,
    /// `Error Type` of a failure (`Sandbox.Timedout` is a timeout's only in the JSON record).
    pub error_type: Option<String>,
}

impl InvocationReport {
    /// Reads a `REPORT` line in the Text format (`REPORT RequestId: ...<TAB>Duration: ...`) or a
    /// `platform.report` record in the JSON format; `None` for any other line.
    pub fn parse(line: &str) -> Option<Self> {
        let line = line.trim_end();
        if line.starts_with('{') {
            Self::from_record(line)
        } else {
            Self::from_text(line)
        }
    }

    /// Whether this invocation was a cold start: its `REPORT` has an `Init Duration` (the
    /// first invocation of a new environment). An Init that runs again inside the next
    /// invoke after a crash or a timeout is part of that invocation's `Duration`, as on
    /// Lambda, and does not count.
    pub fn is_cold(&self) -> bool {
        self.init_duration.is_some()
    }

    fn from_text(line: &str) -> Option<Self> {
        let mut fields = line.split('\t');
        let request_id = fields.next()?.strip_prefix("REPORT RequestId: ")?.trim();
        let mut report = Self::empty(request_id);
        let (mut duration, mut billed, mut memory, mut used) = (false, false, false, false);
        for field in fields {
            let Some((name, value)) = field.split_once(": ") else {
                continue;
            };
            let value = value.trim();
            match name.trim() {
                "Duration" => {
                    report.duration = millis(value.strip_suffix(" ms")?)?;
                    duration = true;
                }
                "Billed Duration" => {
                    report.billed_duration = millis(value.strip_suffix(" ms")?)?;
                    billed = true;
                }
                "Memory Size" => {
                    report.memory_size_mb = value.strip_suffix(" MB")?.parse().ok()?;
                    memory = true;
                }
                "Max Memory Used" => {
                    report.max_memory_used_mb = value.strip_suffix(" MB")?.parse().ok()?;
                    used = true;
                }
                "Init Duration" => {
                    report.init_duration = Some(millis(value.strip_suffix(" ms")?)?);
                }
                "Status" => report.status = Some(value.to_owned()),
                "Error Type" => report.error_type = Some(value.to_owned()),
                _ => {}
            }
        }
        (duration && billed && memory && used).then_some(report)
    }

    fn from_record(line: &str) -> Option<Self> {
        let value: serde_json::Value = serde_json::from_str(line).ok()?;
        if value.get("type")?.as_str()? != "platform.report" {
            return None;
        }
        let record = value.get("record")?;
        let metrics = record.get("metrics")?;
        let number = |name: &str| metrics.get(name).and_then(serde_json::Value::as_f64);
        let text = |name: &str| {
            record
                .get(name)
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned)
        };
        let mut report = Self::empty(record.get("requestId")?.as_str()?);
        report.duration = duration_ms(number("durationMs")?)?;
        report.billed_duration = duration_ms(number("billedDurationMs")?)?;
        report.memory_size_mb = metrics.get("memorySizeMB")?.as_u64()?.try_into().ok()?;
        report.max_memory_used_mb = metrics.get("maxMemoryUsedMB")?.as_u64()?;
        report.init_duration = match number("initDurationMs") {
            Some(ms) => Some(duration_ms(ms)?),
            None => None,
        };
        report.status = text("status");
        report.error_type = text("errorType");
        Some(report)
    }

    fn empty(request_id: &str) -> Self {
        Self {
            request_id: request_id.to_owned(),
            duration: Duration::ZERO,
            billed_duration: Duration::ZERO,
            memory_size_mb: 0,
            max_memory_used_mb: 0,
            init_duration: None,
            status: None,
            error_type: None,
        }
    }
}

/// `1.23` (milliseconds) as a duration.
fn millis(text: &str) -> Option<Duration> {
    duration_ms(text.trim().parse().ok()?)
}

/// Milliseconds as a duration, to the nanosecond; `None` unless finite and not negative.
fn duration_ms(ms: f64) -> Option<Duration> {
    (ms.is_finite() && ms >= 0.0).then(|| Duration::from_nanos((ms * 1_000_000.0).round() as u64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::system::Outcome;
    use crate::logs::{Failure, Report};

    fn report(init: Option<Duration>, failure: Option<Failure<'static>>) -> Report<'static> {
        Report {
            request_id: "8f5e-id",
            duration: Duration::from_micros(1234),
            memory_mb: 256,
            max_memory_bytes: 15 * 1024 * 1024 - 10,
            init,
            failure,
        }
    }

    #[test]
    fn text_lines_as_the_emulator_writes_them() {
        let cold = report(Some(Duration::from_micros(12_340)), None);
        let parsed = InvocationReport::parse(&cold.line()).expect("a REPORT line");
        assert_eq!(
            parsed,
            InvocationReport {
                request_id: "8f5e-id".into(),
                duration: Duration::from_micros(1230),
                billed_duration: Duration::from_millis(14),
                memory_size_mb: 256,
                max_memory_used_mb: 15,
                init_duration: Some(Duration::from_micros(12_340)),
                status: None,
                error_type: None,
            }
        );
        assert!(parsed.is_cold());
        let crashed = report(None, Some(Failure::Error("Runtime.ExitError")));
        let parsed = InvocationReport::parse(&crashed.line()).expect("a REPORT line");
        assert!(!parsed.is_cold());
        assert_eq!(parsed.status.as_deref(), Some("error"));
        assert_eq!(parsed.error_type.as_deref(), Some("Runtime.ExitError"));
        let timed_out = report(None, Some(Failure::Timeout));
        let parsed = InvocationReport::parse(&timed_out.line()).expect("a REPORT line");
        assert_eq!(parsed.status.as_deref(), Some("timeout"));
    }

    #[test]
    fn json_records_as_the_emulator_writes_them() {
        let cold = report(Some(Duration::from_micros(12_340)), None);
        let outcome = Outcome {
            status: "timeout",
            error_type: Some("Sandbox.Timedout"),
        };
        let line = format!(
            r#"{{"time":"2026-01-01T00:00:00.000Z","type":"platform.report","record":{}}}"#,
            cold.record(outcome)
        );
        let parsed = InvocationReport::parse(&line).expect("a platform.report record");
        assert_eq!(parsed.request_id, "8f5e-id");
        assert_eq!(parsed.duration, Duration::from_micros(1234));
        assert_eq!(parsed.billed_duration, Duration::from_millis(14));
        assert_eq!(parsed.memory_size_mb, 256);
        assert_eq!(parsed.max_memory_used_mb, 15);
        assert_eq!(parsed.init_duration, Some(Duration::from_micros(12_340)));
        assert_eq!(parsed.status.as_deref(), Some("timeout"));
        assert_eq!(parsed.error_type.as_deref(), Some("Sandbox.Timedout"));
    }

    #[test]
    fn other_lines_are_none() {
        for line in [
            "START RequestId: x Version: $LATEST",
            "REPORT RequestId: x",
            "REPORT RequestId: x\tDuration: fast ms\tBilled Duration: 1 ms\tMemory Size: 128 MB\tMax Memory Used: 1 MB",
            r#"{"time":"t","type":"platform.start","record":{"requestId":"x"}}"#,
            "{not json",
            "hello",
        ] {
            assert_eq!(InvocationReport::parse(line), None, "{line}");
        }
    }
}
