//! A function's asynchronous-invocation configurations (Lambda's `FunctionEventInvokeConfig`),
//! one per qualifier (`$LATEST`, a published version or an alias), as
//! `PutFunctionEventInvokeConfig`, `UpdateFunctionEventInvokeConfig` and
//! `DeleteFunctionEventInvokeConfig` change them while the emulator runs.
//!
//! An `Event` invocation runs under the configuration of the qualifier it was invoked with
//! (through an alias, the alias's configuration, not its version's; unqualified, `$LATEST`'s),
//! read when the Invoke API accepts it; a qualifier with none gets Lambda's defaults (2
//! retries, 6 hours). `firebox.toml`'s `[functions.NAME.event_invoke]` is the configuration of
//! `$LATEST` and of every version and alias declared with it. Destinations are kept as full
//! function ARNs (qualified or not) and resolved when a record is sent, so a destination
//! deleted since gets nothing and an alias repointed since is followed.
//!
//! The map sits behind a `std` mutex, held only to read, replace or remove one entry; no other
//! lock is taken while it is held.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use crate::config::event_invoke::{
    DEFAULT_RETRY_DELAYS, MAX_EVENT_AGE, MAX_RETRY_ATTEMPTS, MIN_EVENT_AGE,
};
use crate::config::{EventInvokeConfig, FunctionConfig, LATEST};
use crate::functions::Functions;
use crate::versions::Function;

/// The settings of one qualifier, as `PutFunctionEventInvokeConfig` takes them: a setting
/// left out is Lambda's default and is not shown.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventInvokeSettings {
    /// Retries after a function error (0 to 2).
    pub maximum_retry_attempts: Option<u32>,
    /// How old an event may grow before it is dropped (60 s to 6 h).
    pub maximum_event_age: Option<Duration>,
    /// The ARN of the function that gets the record of each success.
    pub on_success: Option<String>,
    /// The ARN of the function that gets the record of each event that failed for good.
    pub on_failure: Option<String>,
}

impl EventInvokeSettings {
    /// Whether no setting is given (Lambda refuses such a put or update).
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// Checks the ranges (the destinations are checked against the functions elsewhere).
    pub fn check(&self) -> Result<(), EventInvokeError> {
        if let Some(n) = self.maximum_retry_attempts {
            if n > MAX_RETRY_ATTEMPTS {
                return Err(EventInvokeError::OutOfRange {
                    field: "maximumRetryAttempts",
                    value: n.into(),
                    constraint: "less than or equal to 2",
                });
            }
        }
        if let Some(age) = self.maximum_event_age {
            if age < MIN_EVENT_AGE || age > MAX_EVENT_AGE {
                let constraint = if age < MIN_EVENT_AGE {
                    "greater than or equal to 60"
                } else {
                    "less than or equal to 21600"
                };
                return Err(EventInvokeError::OutOfRange {
                    field: "maximumEventAgeInSeconds",
                    value: age.as_secs(),
                    constraint,
                });
            }
        }
        Ok(())
    }

    /// `self` with the settings `update` gives put over it.
    pub fn merged(&self, update: EventInvokeSettings) -> Self {
        Self {
            maximum_retry_attempts: update
                .maximum_retry_attempts
                .or(self.maximum_retry_attempts),
            maximum_event_age: update.maximum_event_age.or(self.maximum_event_age),
            on_success: update.on_success.or_else(|| self.on_success.clone()),
            on_failure: update.on_failure.or_else(|| self.on_failure.clone()),
        }
    }
}

/// One qualifier's configuration and when it was last changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEventInvoke {
    /// The settings.
    pub settings: EventInvokeSettings,
    /// When it was put or updated last.
    pub last_modified: SystemTime,
}

/// Why a configuration could not be read or changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventInvokeError {
    /// The function, or the version or alias named, does not exist.
    #[error("The function doesn't exist.")]
    NoSuchFunction,
    /// The qualifier has no configuration to read, update or delete.
    #[error("The function {arn} doesn't have an EventInvokeConfig")]
    NotFound {
        /// The qualified ARN.
        arn: String,
    },
    /// A put or an update that gives no setting.
    #[error("You must specify at least one of error handling or destination setting.")]
    Empty,
    /// A setting outside Lambda's range.
    #[error("1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: Member must have value {constraint}")]
    OutOfRange {
        /// The field, as Lambda names it.
        field: &'static str,
        /// The value given.
        value: u64,
        /// The bound broken.
        constraint: &'static str,
    },
    /// A destination that is not an ARN.
    #[error("1 validation error detected: Value '{0}' at 'destinationConfig.destination' failed to satisfy constraint: Member must be an ARN")]
    NotAnArn(String),
    /// A destination ARN of a function (or version, or alias) that does not exist.
    #[error("The destination ARN {0} is invalid.")]
    InvalidDestination(String),
    /// A destination that is the function itself.
    #[error("You can't specify the function as a destination for itself.")]
    ItselfAsDestination,
    /// A queue, topic, bus or bucket: nothing outside the emulator can be reached.
    #[error("The destination ARN {0} is not a function: Firebox delivers records to functions of this emulator only (no SQS, SNS, EventBridge or S3 here).")]
    Unreachable(String),
}

/// The configurations of one function, by qualifier.
#[derive(Debug)]
pub(crate) struct EventInvokeConfigs {
    by_qualifier: Mutex<BTreeMap<String, StoredEventInvoke>>,
    /// Firebox's pauses before the first and second retry (`retry_delays_s`): the function's,
    /// whatever configuration an event runs under.
    retry_delays: [Duration; 2],
}

impl EventInvokeConfigs {
    /// The configurations `config` declares: its `event_invoke`, if any, on `$LATEST` and on
    /// each of `qualifiers` (its declared versions and aliases), with destinations written
    /// as full ARNs.
    pub fn declared(config: &FunctionConfig, qualifiers: impl IntoIterator<Item = String>) -> Self {
        let retry_delays = config
            .event_invoke
            .as_ref()
            .map_or(DEFAULT_RETRY_DELAYS, |c| c.retry_delays);
        let mut by_qualifier = BTreeMap::new();
        if let Some(declared) = &config.event_invoke {
            let stored = StoredEventInvoke {
                settings: settings_of(declared, config),
                last_modified: SystemTime::now(),
            };
            for q in std::iter::once(LATEST.to_owned()).chain(qualifiers) {
                by_qualifier.insert(q, stored.clone());
            }
        }
        Self {
            by_qualifier: Mutex::new(by_qualifier),
            retry_delays,
        }
    }

    /// The configuration of `qualifier`, if it has one.
    pub fn get(&self, qualifier: &str) -> Option<StoredEventInvoke> {
        self.lock().get(qualifier).cloned()
    }

    /// Every configuration, by qualifier.
    pub fn all(&self) -> Vec<(String, StoredEventInvoke)> {
        self.lock()
            .iter()
            .map(|(q, s)| (q.clone(), s.clone()))
            .collect()
    }

    /// Puts `settings` on `qualifier` (checked already), replacing what it had.
    pub fn put(&self, qualifier: &str, settings: EventInvokeSettings) -> StoredEventInvoke {
        let stored = StoredEventInvoke {
            settings,
            last_modified: SystemTime::now(),
        };
        self.lock().insert(qualifier.to_owned(), stored.clone());
        stored
    }

    /// Puts the settings `update` gives over `qualifier`'s; `None` when it has no
    /// configuration.
    pub fn update(
        &self,
        qualifier: &str,
        update: EventInvokeSettings,
    ) -> Option<StoredEventInvoke> {
        let mut by_qualifier = self.lock();
        let entry = by_qualifier.get_mut(qualifier)?;
        *entry = StoredEventInvoke {
            settings: entry.settings.merged(update),
            last_modified: SystemTime::now(),
        };
        Some(entry.clone())
    }

    /// Removes `qualifier`'s configuration (a delete, or its version or alias deleted);
    /// whether it had one.
    pub fn remove(&self, qualifier: &str) -> bool {
        self.lock().remove(qualifier).is_some()
    }

    /// What an `Event` invoked through `qualifier` runs under now: its configuration with
    /// Lambda's defaults for what it leaves out (all of them when it has none), and the
    /// function's retry pauses.
    pub fn effective(&self, qualifier: &str) -> EventInvokeConfig {
        let settings = self.get(qualifier).map(|s| s.settings).unwrap_or_default();
        EventInvokeConfig {
            maximum_retry_attempts: settings
                .maximum_retry_attempts
                .unwrap_or(MAX_RETRY_ATTEMPTS),
            maximum_event_age: settings.maximum_event_age.unwrap_or(MAX_EVENT_AGE),
            retry_delays: self.retry_delays,
            on_success: settings.on_success,
            on_failure: settings.on_failure,
        }
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, StoredEventInvoke>> {
        // Poisoned only by a panic inside a map operation; the map is whole.
        self.by_qualifier
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// `PutFunctionEventInvokeConfig` (`replace`) or `UpdateFunctionEventInvokeConfig` on
/// `qualifier` (`$LATEST` when none) of `function`: the settings are checked (ranges, then
/// destinations against `functions`) and stored; the answer is the qualifier's configuration
/// now.
pub(crate) fn change(
    functions: &Functions,
    function: &Function,
    qualifier: Option<&str>,
    settings: EventInvokeSettings,
    replace: bool,
) -> Result<StoredEventInvoke, EventInvokeError> {
    if settings.is_empty() {
        return Err(EventInvokeError::Empty);
    }
    settings.check()?;
    let qualifier = qualifier.unwrap_or(LATEST);
    let exists = |q: &str| function.version(q).is_some() || function.aliases.get(q).is_some();
    if !exists(qualifier) {
        return Err(EventInvokeError::NoSuchFunction);
    }
    let own_name = function.latest().config.name.clone();
    for to in [&settings.on_success, &settings.on_failure]
        .into_iter()
        .flatten()
    {
        check_destination(functions, &own_name, to)?;
    }
    let stored = if replace {
        function.event_invoke.put(qualifier, settings)
    } else {
        function
            .event_invoke
            .update(qualifier, settings)
            .ok_or_else(|| EventInvokeError::NotFound {
                arn: function.arn_of(qualifier),
            })?
    };
    if !exists(qualifier) {
        // Its version or alias was deleted meanwhile, together with its configuration: this
        // one goes too, so that a later alias of that name does not inherit it.
        function.event_invoke.remove(qualifier);
        return Err(EventInvokeError::NoSuchFunction);
    }
    Ok(stored)
}

/// `GetFunctionEventInvokeConfig`.
pub(crate) fn get(
    function: &Function,
    qualifier: Option<&str>,
) -> Result<StoredEventInvoke, EventInvokeError> {
    let qualifier = qualifier.unwrap_or(LATEST);
    function
        .event_invoke
        .get(qualifier)
        .ok_or_else(|| EventInvokeError::NotFound {
            arn: function.arn_of(qualifier),
        })
}

/// `DeleteFunctionEventInvokeConfig`.
pub(crate) fn delete(function: &Function, qualifier: Option<&str>) -> Result<(), EventInvokeError> {
    let qualifier = qualifier.unwrap_or(LATEST);
    if function.event_invoke.remove(qualifier) {
        Ok(())
    } else {
        Err(EventInvokeError::NotFound {
            arn: function.arn_of(qualifier),
        })
    }
}

/// A destination as the API takes it: an ARN; of a function (version, alias) of the
/// emulator other than `own_name`.
fn check_destination(
    functions: &Functions,
    own_name: &str,
    to: &str,
) -> Result<(), EventInvokeError> {
    let parts: Vec<&str> = to.split(':').collect();
    let service = match parts.as_slice() {
        ["arn", partition, service, _, _, _, ..] if partition.starts_with("aws") => *service,
        _ => return Err(EventInvokeError::NotAnArn(to.to_owned())),
    };
    match service {
        "lambda" => {}
        "sqs" | "sns" | "events" | "s3" => {
            return Err(EventInvokeError::Unreachable(to.to_owned()))
        }
        _ => return Err(EventInvokeError::InvalidDestination(to.to_owned())),
    }
    let target = crate::arn::FunctionRef::parse(to)
        .ok_or_else(|| EventInvokeError::InvalidDestination(to.to_owned()))?;
    if target.name == own_name {
        return Err(EventInvokeError::ItselfAsDestination);
    }
    functions
        .target(to)
        .map(|_| ())
        .ok_or_else(|| EventInvokeError::InvalidDestination(to.to_owned()))
}

/// A declared configuration as settings, destinations written as full ARNs in `function`'s
/// region and account.
fn settings_of(declared: &EventInvokeConfig, function: &FunctionConfig) -> EventInvokeSettings {
    let arn = |to: &Option<String>| {
        to.as_deref()
            .map(|to| full_arn(to, &function.region, &function.account_id))
    };
    EventInvokeSettings {
        maximum_retry_attempts: Some(declared.maximum_retry_attempts),
        maximum_event_age: Some(declared.maximum_event_age),
        on_success: arn(&declared.on_success),
        on_failure: arn(&declared.on_failure),
    }
}

/// `to` (a name, partial or full ARN, maybe qualified) as a full ARN; as given when it is
/// none of these (the configuration's checks refuse that before).
pub(crate) fn full_arn(to: &str, region: &str, account: &str) -> String {
    match crate::arn::FunctionRef::parse(to) {
        Some(r) => {
            let mut arn = format!(
                "arn:aws:lambda:{}:{}:function:{}",
                r.region.as_deref().unwrap_or(region),
                r.account.as_deref().unwrap_or(account),
                r.name
            );
            if let Some(q) = r.qualifier {
                arn.push(':');
                arn.push_str(&q);
            }
            arn
        }
        None => to.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn declared() -> FunctionConfig {
        FunctionConfig::new("orders").event_invoke(EventInvokeConfig {
            maximum_retry_attempts: 1,
            retry_delays: [Duration::from_millis(5); 2],
            on_failure: Some("dead-letters:live".into()),
            ..EventInvokeConfig::default()
        })
    }

    #[test]
    fn a_declared_configuration_covers_latest_and_the_declared_qualifiers() {
        let configs = EventInvokeConfigs::declared(&declared(), ["1".to_owned(), "live".into()]);
        let all: Vec<String> = configs.all().into_iter().map(|(q, _)| q).collect();
        assert_eq!(all, ["$LATEST", "1", "live"]);
        let live = configs.get("live").unwrap().settings;
        assert_eq!(live.maximum_retry_attempts, Some(1));
        assert_eq!(
            live.on_failure.as_deref(),
            Some("arn:aws:lambda:us-east-1:123456789012:function:dead-letters:live")
        );
        // A qualifier without one runs with the defaults, and the function's pauses.
        let other = configs.effective("2");
        assert_eq!(other.maximum_retry_attempts, 2);
        assert_eq!(other.maximum_event_age, MAX_EVENT_AGE);
        assert_eq!(other.retry_delays, [Duration::from_millis(5); 2]);
        assert_eq!(other.on_failure, None);
    }

    #[test]
    fn put_replaces_update_merges_and_remove_forgets() {
        let configs = EventInvokeConfigs::declared(&FunctionConfig::new("f"), []);
        assert!(configs.all().is_empty());
        let update = EventInvokeSettings {
            maximum_retry_attempts: Some(0),
            ..EventInvokeSettings::default()
        };
        assert_eq!(configs.update(LATEST, update.clone()), None);
        configs.put(
            LATEST,
            EventInvokeSettings {
                maximum_event_age: Some(Duration::from_secs(60)),
                on_success: Some("arn:aws:lambda:us-east-1:123456789012:function:a".into()),
                ..EventInvokeSettings::default()
            },
        );
        let merged = configs.update(LATEST, update).unwrap().settings;
        assert_eq!(merged.maximum_retry_attempts, Some(0));
        assert_eq!(merged.maximum_event_age, Some(Duration::from_secs(60)));
        assert!(merged.on_success.is_some());
        let replaced = configs.put(
            LATEST,
            EventInvokeSettings {
                maximum_retry_attempts: Some(2),
                ..EventInvokeSettings::default()
            },
        );
        assert_eq!(replaced.settings.maximum_event_age, None);
        assert_eq!(configs.effective(LATEST).maximum_event_age, MAX_EVENT_AGE);
        assert!(configs.remove(LATEST));
        assert!(!configs.remove(LATEST));
    }

    #[test]
    fn ranges_are_checked() {
        let bad = |s: EventInvokeSettings| s.check().unwrap_err().to_string();
        assert!(bad(EventInvokeSettings {
            maximum_retry_attempts: Some(3),
            ..EventInvokeSettings::default()
        })
        .contains("'maximumRetryAttempts'"));
        assert!(bad(EventInvokeSettings {
            maximum_event_age: Some(Duration::from_secs(59)),
            ..EventInvokeSettings::default()
        })
        .contains("greater than or equal to 60"));
        assert!(bad(EventInvokeSettings {
            maximum_event_age: Some(Duration::from_secs(21_601)),
            ..EventInvokeSettings::default()
        })
        .contains("less than or equal to 21600"));
        assert!(EventInvokeSettings::default().is_empty());
    }

    #[test]
    fn destinations_become_full_arns() {
        let r = "us-east-1";
        let a = "123456789012";
        assert_eq!(
            full_arn("audit", r, a),
            "arn:aws:lambda:us-east-1:123456789012:function:audit"
        );
        assert_eq!(
            full_arn("audit:2", r, a),
            "arn:aws:lambda:us-east-1:123456789012:function:audit:2"
        );
        assert_eq!(
            full_arn("arn:aws:lambda:eu-west-1:210987654321:function:x", r, a),
            "arn:aws:lambda:eu-west-1:210987654321:function:x"
        );
    }
}
