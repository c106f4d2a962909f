//! The [`Emulator`]'s log helpers for tests: a function's log that says when the function does
//! not exist, a wait for a line, a wait for an invocation's parsed `REPORT`, and a wait for an
//! `Event` invocation's final outcome.

use std::time::Duration;

use tokio::sync::broadcast::error::RecvError;
use tokio::time::Instant;

use super::report::InvocationReport;
use super::{ControlError, Emulator};
use crate::event_outcomes::EventOutcome;
use crate::logs::{LogLine, LogSource};

/// Lines of the function's log a [`LogWaitError::Timeout`] shows.
const RECENT_LINES: usize = 20;

/// A wait for a log line ended without it.
#[derive(Debug, thiserror::Error)]
pub enum LogWaitError {
    /// The emulator has no function by that name, and never had one that logged.
    #[error("no function named `{0}`")]
    FunctionNotFound(String),
    /// No such line came in time.
    #[error(
        "no {what} in the log of `{function}` after {waited:?}; its last lines:\n{}",
        recent.join("\n")
    )]
    Timeout {
        /// The function.
        function: String,
        /// What was waited for.
        what: String,
        /// How long.
        waited: Duration,
        /// The last lines of the function's log (at most 20), to see what happened instead.
        recent: Vec<String>,
    },
}

impl Emulator {
    /// The recent log lines of a function, as [`Emulator::logs`], but
    /// [`ControlError::FunctionNotFound`] for a name the emulator has no log of (a typo),
    /// where `logs` returns an empty list.
    pub fn try_logs(&self, function: &str) -> Result<Vec<LogLine>, ControlError> {
        self.history(function)
            .ok_or_else(|| ControlError::FunctionNotFound(function.to_owned()))
    }

    /// Waits up to `timeout` for a line of `function`'s log for which `matches` is true, and
    /// returns the first one: a line logged already, or the next to come. `matches` may see a
    /// line more than once.
    ///
    /// ```no_run
    /// # async fn demo(emu: firebox_emulator::Emulator) -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    /// let line = emu
    ///     .wait_for_log("orders", Duration::from_secs(5), |l| l.text.contains("order 7 stored"))
    ///     .await?;
    /// println!("{}", line.text);
    /// # Ok(()) }
    /// ```
    pub async fn wait_for_log(
        &self,
        function: &str,
        timeout: Duration,
        mut matches: impl FnMut(&LogLine) -> bool,
    ) -> Result<LogLine, LogWaitError> {
        self.wait_line(function, timeout, "matching line", |line| {
            matches(line).then(|| line.clone())
        })
        .await
    }

    /// Waits up to `timeout` for the `REPORT` of invocation `request_id` of `function` and
    /// returns its figures (the first, for an `Event` invocation retried under the same id).
    /// After a synchronous invoke it is there already; an `Event` invocation's comes when it has
    /// run. Under the JSON log format, a system log level of `WARN` filters `REPORT` out.
    ///
    /// ```no_run
    /// # async fn demo(emu: firebox_emulator::Emulator) -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    /// let r = emu.invoke("hello", "{}").await?;
    /// let id = r.request_id.expect("every answer has a request id");
    /// let report = emu.report("hello", &id, Duration::from_secs(5)).await?;
    /// assert!(report.is_cold()); // Init Duration: the first invoke started the environment
    /// assert!(report.duration <= report.billed_duration);
    /// println!("{} MB of {} MB", report.max_memory_used_mb, report.memory_size_mb);
    /// # Ok(()) }
    /// ```
    pub async fn report(
        &self,
        function: &str,
        request_id: &str,
        timeout: Duration,
    ) -> Result<InvocationReport, LogWaitError> {
        let what = format!("REPORT of {request_id}");
        self.wait_line(function, timeout, &what, |line| {
            if line.source != LogSource::Platform || !line.text.contains(request_id) {
                return None;
            }
            InvocationReport::parse(&line.text).filter(|r| r.request_id == request_id)
        })
        .await
    }

    /// Waits up to `timeout` for the final outcome of `function`'s `Event` invocation
    /// `request_id` (the request id of its 202): a success, a failure for good after its
    /// retries (or its maximum age), or dropped unfinished, with how many attempts ran. With
    /// Lambda's retry pauses (about 1 and 2 minutes) a failing event takes minutes to end: a
    /// test sets `EventInvokeConfig::retry_delays` or `maximum_retry_attempts`.
    ///
    /// ```no_run
    /// # use firebox_emulator::{Emulator, EventCondition, InvokeOptions, InvocationType};
    /// # async fn doc(emu: Emulator) -> Result<(), Box<dyn std::error::Error>> {
    /// let options = InvokeOptions { invocation_type: InvocationType::Event, ..Default::default() };
    /// let accepted = emu.invoke_with("orders", r#"{"id": 7}"#, &options).await?;
    /// let id = accepted.request_id.unwrap_or_default();
    /// let outcome = emu.event_outcome("orders", &id, std::time::Duration::from_secs(30)).await?;
    /// assert_eq!(outcome.condition, EventCondition::Success);
    /// # Ok(()) }
    /// ```
    pub async fn event_outcome(
        &self,
        function: &str,
        request_id: &str,
        timeout: Duration,
    ) -> Result<EventOutcome, LogWaitError> {
        let outcomes = &self.functions.deployment.event_outcomes;
        // Subscribed before looking: an outcome recorded in between wakes the wait.
        let mut recorded = outcomes.subscribe();
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(outcome) = outcomes.find(function, request_id) {
                return Ok(outcome);
            }
            if self.history(function).is_none() {
                return Err(LogWaitError::FunctionNotFound(function.to_owned()));
            }
            match tokio::time::timeout_at(deadline, recorded.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) | Err(_) => {
                    let what = format!("final outcome of event {request_id}");
                    return Err(self.timed_out(function, &what, timeout));
                }
            }
        }
    }

    /// The history of `function`'s log, `None` when the emulator has none: a function it has,
    /// or had (a deleted function's log stays).
    fn history(&self, function: &str) -> Option<Vec<LogLine>> {
        let lines = self.logs.history(function);
        (!lines.is_empty() || self.functions.get(function).is_some()).then_some(lines)
    }

    /// Waits up to `timeout` for the first line of `function`'s log, logged already or to
    /// come, that `pick` makes something of.
    async fn wait_line<T>(
        &self,
        function: &str,
        timeout: Duration,
        what: &str,
        mut pick: impl FnMut(&LogLine) -> Option<T>,
    ) -> Result<T, LogWaitError> {
        let deadline = Instant::now() + timeout;
        // Subscribed before the history is read: a line is in one or the other, or both.
        let mut live = self.logs.subscribe();
        let mut scan = true;
        loop {
            if scan {
                let history = self
                    .history(function)
                    .ok_or_else(|| LogWaitError::FunctionNotFound(function.to_owned()))?;
                if let Some(found) = history.iter().find_map(&mut pick) {
                    return Ok(found);
                }
                scan = false;
            }
            match tokio::time::timeout_at(deadline, live.recv()).await {
                Ok(Ok(line)) if &*line.function == function => {
                    if let Some(found) = pick(&line) {
                        return Ok(found);
                    }
                }
                Ok(Ok(_)) => {}
                // Lines went by unseen: the history has them.
                Ok(Err(RecvError::Lagged(_))) => scan = true,
                Ok(Err(RecvError::Closed)) | Err(_) => {
                    return Err(self.timed_out(function, what, timeout));
                }
            }
        }
    }

    /// The error of a wait for `what` that took `waited` in vain, with the function's last
    /// lines.
    fn timed_out(&self, function: &str, what: &str, waited: Duration) -> LogWaitError {
        let lines = self.logs.history(function);
        let recent = lines[lines.len().saturating_sub(RECENT_LINES)..]
            .iter()
            .map(|l| l.text.clone())
            .collect();
        LogWaitError::Timeout {
            function: function.to_owned(),
            what: what.to_owned(),
            waited,
            recent,
        }
    }
}
