//! [`EventInvokeConfig`]: how a function's asynchronous (`Event`) invocations are retried and
//! where their outcomes go (Lambda's `EventInvokeConfig`), as in
//! `[functions.NAME.event_invoke]` and on [`crate::FunctionConfig::event_invoke`].

use std::time::Duration;

use serde::Deserialize;

/// Lambda's longest, and default, maximum event age (6 hours).
pub const MAX_EVENT_AGE: Duration = Duration::from_secs(6 * 3600);
/// Lambda's shortest maximum event age (60 seconds).
pub const MIN_EVENT_AGE: Duration = Duration::from_secs(60);
/// Lambda's most retries after a function error (and the default).
pub const MAX_RETRY_ATTEMPTS: u32 = 2;
/// The pauses before the first and the second retry: about 1 and 2 minutes, as on Lambda.
pub const DEFAULT_RETRY_DELAYS: [Duration; 2] = [Duration::from_secs(60), Duration::from_secs(120)];
/// The longest pause a retry may be configured with.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(3600);

/// Retries and destinations of a function's `Event` invocations.
///
/// ```
/// use std::time::Duration;
/// use firebox_emulator::{EventInvokeConfig, FunctionConfig};
/// let f = FunctionConfig::new("orders").event_invoke(EventInvokeConfig {
///     maximum_retry_attempts: 1,
///     retry_delays: [Duration::from_millis(100); 2],
///     on_failure: Some("dead-letters".into()),
///     ..EventInvokeConfig::default()
/// });
/// assert_eq!(f.event_invoke.unwrap().maximum_retry_attempts, 1);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventInvokeConfig {
    /// Retries after a function error: 0 to 2 (default 2).
    pub maximum_retry_attempts: u32,
    /// How old an event may grow, throttled or between retries, before it is dropped:
    /// 60 s to 6 h (default 6 h).
    pub maximum_event_age: Duration,
    /// The pauses before the first and the second retry (default 60 s and 120 s, Lambda's
    /// "about 1 and 2 minutes"; shorter ones make local runs quick). At most 1 hour each.
    pub retry_delays: [Duration; 2],
    /// A function of this emulator (its name or ARN, optionally with a version or alias)
    /// invoked, as an `Event`, with the record of each success.
    pub on_success: Option<String>,
    /// A function of this emulator (its name or ARN, optionally with a version or alias)
    /// invoked, as an `Event`, with the record of each event that failed for good (retries
    /// exhausted, or too old).
    pub on_failure: Option<String>,
}

impl Default for EventInvokeConfig {
    fn default() -> Self {
        Self {
            maximum_retry_attempts: MAX_RETRY_ATTEMPTS,
            maximum_event_age: MAX_EVENT_AGE,
            retry_delays: DEFAULT_RETRY_DELAYS,
            on_success: None,
            on_failure: None,
        }
    }
}

impl EventInvokeConfig {
    /// Checks the ranges; the error names the field.
    pub(crate) fn check(&self) -> Result<(), (&'static str, String)> {
        if self.maximum_retry_attempts > MAX_RETRY_ATTEMPTS {
            return Err((
                "event_invoke.maximum_retry_attempts",
                format!(
                    "must be between 0 and {MAX_RETRY_ATTEMPTS} (got {})",
                    self.maximum_retry_attempts
                ),
            ));
        }
        if !(MIN_EVENT_AGE..=MAX_EVENT_AGE).contains(&self.maximum_event_age) {
            return Err((
                "event_invoke.maximum_event_age_s",
                format!(
                    "must be between 60 and 21600 seconds (got {})",
                    self.maximum_event_age.as_secs_f64()
                ),
            ));
        }
        if self.retry_delays.iter().any(|d| *d > MAX_RETRY_DELAY) {
            return Err((
                "event_invoke.retry_delays_s",
                "each pause must be at most 3600 seconds".into(),
            ));
        }
        for (field, name) in [
            ("event_invoke.on_success", &self.on_success),
            ("event_invoke.on_failure", &self.on_failure),
        ] {
            if name.as_deref().is_some_and(str::is_empty) {
                return Err((field, "must name a function".into()));
            }
        }
        Ok(())
    }

    /// The pause before retry number `retry` (1 or 2).
    pub(crate) fn delay_before(&self, retry: u32) -> Duration {
        let i = usize::try_from(retry.saturating_sub(1)).unwrap_or(usize::MAX);
        self.retry_delays
            .get(i)
            .or(self.retry_delays.last())
            .copied()
            .unwrap_or_default()
    }
}

/// `[functions.NAME.event_invoke]` as written in the file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawEventInvoke {
    maximum_retry_attempts: Option<u32>,
    maximum_event_age_s: Option<u64>,
    retry_delays_s: Option<Vec<f64>>,
    on_success: Option<String>,
    on_failure: Option<String>,
}

impl RawEventInvoke {
    /// The settings, with Lambda's defaults for what is left out; the error names the field.
    pub(crate) fn into_config(self) -> Result<EventInvokeConfig, (&'static str, String)> {
        let mut c = EventInvokeConfig::default();
        if let Some(n) = self.maximum_retry_attempts {
            c.maximum_retry_attempts = n;
        }
        if let Some(s) = self.maximum_event_age_s {
            c.maximum_event_age = Duration::from_secs(s);
        }
        if let Some(delays) = self.retry_delays_s {
            let field = "event_invoke.retry_delays_s";
            let [first, second] = delays[..] else {
                return Err((
                    field,
                    format!("give two pauses, in seconds (got {})", delays.len()),
                ));
            };
            for d in [first, second] {
                if !(0.0..=MAX_RETRY_DELAY.as_secs_f64()).contains(&d) {
                    return Err((field, format!("`{d}` is not between 0 and 3600 seconds")));
                }
            }
            c.retry_delays = [
                Duration::from_secs_f64(first),
                Duration::from_secs_f64(second),
            ];
        }
        c.on_success = self.on_success;
        c.on_failure = self.on_failure;
        c.check()?;
        Ok(c)
    }
}
