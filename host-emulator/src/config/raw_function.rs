//! One function's table in `firebox.toml` as written (`[functions.NAME]` or `[defaults]`):
//! its fields, `[defaults]` merged under it ([`RawFunction::or`]), and the result turned into a
//! [`FunctionConfig`] with each field's value checked ([`RawFunction::into_config`]).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::{ConfigError, FunctionConfig, ScalingRate};

/// `scaling_rate = "aws"` or `{ environments = N, window_s = S }`.
#[derive(Debug, Clone)]
enum RawScalingRate {
    Named(String),
    Custom(CustomRate),
}

/// `{ environments = N, window_s = S }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct CustomRate {
    environments: u32,
    window_s: f64,
}

impl<'de> Deserialize<'de> for RawScalingRate {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        string_or_table(
            d,
            "a rate name or a table",
            RawScalingRate::Named,
            RawScalingRate::Custom,
        )
    }
}

/// A value that is a string (`named`) or a table (`table`, whose own errors, such as an
/// unknown field, are kept, rather than serde's "did not match any variant").
fn string_or_table<'de, D, T, S>(
    d: D,
    expected: &'static str,
    named: fn(String) -> S,
    table: fn(T) -> S,
) -> Result<S, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct Either<T, S> {
        expected: &'static str,
        named: fn(String) -> S,
        table: fn(T) -> S,
    }
    impl<'de, T: Deserialize<'de>, S> serde::de::Visitor<'de> for Either<T, S> {
        type Value = S;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.expected)
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<S, E> {
            Ok((self.named)(v.to_owned()))
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<S, A::Error> {
            T::deserialize(serde::de::value::MapAccessDeserializer::new(map)).map(self.table)
        }
    }
    d.deserialize_any(Either {
        expected,
        named,
        table,
    })
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFunction {
    command: Option<Vec<String>>,
    runtime: Option<String>,
    code_dir: Option<PathBuf>,
    handler: Option<String>,
    description: Option<String>,
    memory_mb: Option<u32>,
    timeout_s: Option<f64>,
    environment: Option<BTreeMap<String, String>>,
    region: Option<String>,
    account_id: Option<String>,
    max_environments: Option<u32>,
    reserved_concurrency: Option<u32>,
    provisioned_concurrency: Option<u32>,
    max_concurrency: Option<u32>,
    freeze: Option<bool>,
    scaling_rate: Option<RawScalingRate>,
    idle_timeout_s: Option<f64>,
    init_timeout_s: Option<f64>,
    stream_max_bytes: Option<u64>,
    stream_bandwidth_shape: Option<bool>,
    url: Option<crate::url::UrlConfig>,
    urls: Option<BTreeMap<String, crate::url::UrlConfig>>,
    event_invoke: Option<super::event_invoke::RawEventInvoke>,
    logging: Option<super::LoggingConfig>,
    reload: Option<bool>,
    extensions: Option<Vec<PathBuf>>,
    layers: Option<Vec<PathBuf>>,
    versions: Option<BTreeMap<String, RawVersion>>,
    aliases: Option<BTreeMap<String, RawAlias>>,
}

/// `[functions.NAME.versions.N]`: what a published version changes.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVersion {
    command: Option<Vec<String>>,
    code_dir: Option<PathBuf>,
    handler: Option<String>,
    memory_mb: Option<u32>,
    timeout_s: Option<f64>,
    environment: Option<BTreeMap<String, String>>,
    extensions: Option<Vec<PathBuf>>,
    provisioned_concurrency: Option<u32>,
}

/// An alias: `live = "1"` or `live = { version = "1", additional_version_weights = { "2" = 0.1 } }`.
#[derive(Debug, Clone)]
enum RawAlias {
    Version(String),
    Routed(RoutedAlias),
}

/// `{ version = "1", additional_version_weights = { "2" = 0.1 } }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RoutedAlias {
    version: String,
    #[serde(default)]
    additional_version_weights: BTreeMap<String, f64>,
}

impl<'de> Deserialize<'de> for RawAlias {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        string_or_table(
            d,
            "a version or a table",
            RawAlias::Version,
            RawAlias::Routed,
        )
    }
}

impl RawFunction {
    /// Refuses, as `[defaults]`, the fields that belong to one function: its versions, aliases
    /// and per-alias URLs.
    pub(super) fn check_as_defaults(&self) -> Result<(), &'static str> {
        if self.versions.is_some() || self.aliases.is_some() {
            return Err("[defaults]: `versions` and `aliases` belong to one function; declare them under [functions.NAME]");
        }
        if self.urls.is_some() {
            return Err("[defaults]: `urls` name a function's aliases; declare them under [functions.NAME] (a `url` table in [defaults] gives every function a URL)");
        }
        Ok(())
    }

    /// This function's fields, each taken from `defaults` when absent (`environment` tables are
    /// merged, the function's own variables winning).
    pub(super) fn or(self, defaults: &RawFunction) -> RawFunction {
        let d = defaults.clone();
        RawFunction {
            command: self.command.or(d.command),
            runtime: self.runtime.or(d.runtime),
            code_dir: self.code_dir.or(d.code_dir),
            handler: self.handler.or(d.handler),
            description: self.description.or(d.description),
            memory_mb: self.memory_mb.or(d.memory_mb),
            timeout_s: self.timeout_s.or(d.timeout_s),
            environment: match (d.environment, self.environment) {
                (Some(mut base), Some(own)) => {
                    base.extend(own);
                    Some(base)
                }
                (base, own) => own.or(base),
            },
            region: self.region.or(d.region),
            account_id: self.account_id.or(d.account_id),
            max_environments: self.max_environments.or(d.max_environments),
            reserved_concurrency: self.reserved_concurrency.or(d.reserved_concurrency),
            provisioned_concurrency: self.provisioned_concurrency.or(d.provisioned_concurrency),
            max_concurrency: self.max_concurrency.or(d.max_concurrency),
            freeze: self.freeze.or(d.freeze),
            scaling_rate: self.scaling_rate.or(d.scaling_rate),
            idle_timeout_s: self.idle_timeout_s.or(d.idle_timeout_s),
            init_timeout_s: self.init_timeout_s.or(d.init_timeout_s),
            stream_max_bytes: self.stream_max_bytes.or(d.stream_max_bytes),
            stream_bandwidth_shape: self.stream_bandwidth_shape.or(d.stream_bandwidth_shape),
            url: self.url.or(d.url),
            event_invoke: self.event_invoke.or(d.event_invoke),
            logging: self.logging.or(d.logging),
            reload: self.reload.or(d.reload),
            extensions: self.extensions.or(d.extensions),
            layers: self.layers.or(d.layers),
            // A function's own: `[defaults]` may not hold them (checked when it is read).
            versions: self.versions,
            aliases: self.aliases,
            urls: self.urls,
        }
    }

    /// The function `name` these fields describe; `file` names the configuration in errors.
    pub(super) fn into_config(self, name: &str, file: &str) -> Result<FunctionConfig, ConfigError> {
        let seconds = |field: &str, value: f64, range: Seconds| {
            range.check(value).map_err(|message| ConfigError::Field {
                file: file.to_owned(),
                function: name.to_owned(),
                field: field.to_owned(),
                message,
            })
        };
        let mut f = FunctionConfig::new(name);
        if let Some(command) = self.command {
            f.command = command;
        }
        f.runtime = self.runtime;
        f.code_dir = self.code_dir;
        f.handler = self.handler;
        f.description = self.description.unwrap_or_default();
        if let Some(mb) = self.memory_mb {
            f.memory_mb = mb;
        }
        if let Some(t) = self.timeout_s {
            f.timeout = seconds("timeout_s", t, Seconds::TIMEOUT)?;
        }
        if let Some(env) = self.environment {
            f.environment = env;
        }
        if let Some(r) = self.region {
            f.region = r;
        }
        if let Some(a) = self.account_id {
            f.account_id = a;
        }
        let field = |field: &str, message: String| ConfigError::Field {
            file: file.to_owned(),
            function: name.to_owned(),
            field: field.to_owned(),
            message,
        };
        match (self.max_environments, self.reserved_concurrency) {
            (Some(_), Some(_)) => {
                return Err(field(
                    "max_environments",
                    "is the old name of `reserved_concurrency`; give only one of them".into(),
                ))
            }
            (Some(n), None) | (None, Some(n)) => f.reserved_concurrency = Some(n),
            (None, None) => {}
        }
        if let Some(n) = self.provisioned_concurrency {
            f.provisioned_concurrency = n;
        }
        f.max_concurrency = self.max_concurrency;
        if let Some(freeze) = self.freeze {
            f.freeze = freeze;
        }
        if let Some(reload) = self.reload {
            f.reload = reload;
        }
        if let Some(extensions) = self.extensions {
            f.extensions = extensions;
        }
        if let Some(layers) = self.layers {
            f.layers = layers;
        }
        f.scaling_rate = match self.scaling_rate {
            None => None,
            Some(RawScalingRate::Named(n)) if n == "aws" => Some(ScalingRate::AWS),
            Some(RawScalingRate::Named(n)) => {
                return Err(field(
                    "scaling_rate",
                    format!(
                        "`{n}` is not a rate: use \"aws\" or {{ environments = N, window_s = S }}"
                    ),
                ))
            }
            Some(RawScalingRate::Custom(CustomRate {
                environments,
                window_s,
            })) => Some(ScalingRate {
                environments,
                window: seconds("scaling_rate.window_s", window_s, Seconds::POSITIVE)?,
            }),
        };
        if let Some(t) = self.idle_timeout_s {
            f.idle_timeout = seconds("idle_timeout_s", t, Seconds::UP_TO_A_DAY)?;
        }
        if let Some(t) = self.init_timeout_s {
            f.init_timeout = seconds("init_timeout_s", t, Seconds::POSITIVE)?;
        }
        if let Some(n) = self.stream_max_bytes {
            f.stream_max_bytes = n;
        }
        if let Some(on) = self.stream_bandwidth_shape {
            f.stream_bandwidth_shape = on;
        }
        f.url = self.url;
        f.urls = self.urls.unwrap_or_default();
        if let Some(raw) = self.event_invoke {
            f.event_invoke = Some(
                raw.into_config()
                    .map_err(|(name, message)| field(name, message))?,
            );
        }
        if let Some(logging) = self.logging {
            f.logging = logging;
        }
        for (key, raw) in self.versions.unwrap_or_default() {
            let number = key
                .parse::<u32>()
                .ok()
                .filter(|n| *n >= 1 && n.to_string() == key)
                .ok_or_else(|| {
                    field(
                        &format!("versions.{key}"),
                        "a version is a number from 1 up (`[functions.NAME.versions.1]`)".into(),
                    )
                })?;
            let mut version = crate::config::VersionConfig {
                command: raw.command,
                code_dir: raw.code_dir,
                handler: raw.handler,
                memory_mb: raw.memory_mb,
                timeout: None,
                environment: raw.environment.unwrap_or_default(),
                extensions: raw.extensions,
                provisioned_concurrency: raw.provisioned_concurrency.unwrap_or(0),
            };
            if let Some(t) = raw.timeout_s {
                version.timeout = Some(seconds(
                    &format!("versions.{key}.timeout_s"),
                    t,
                    Seconds::TIMEOUT,
                )?);
            }
            f.versions.insert(number, version);
        }
        for (name, raw) in self.aliases.unwrap_or_default() {
            let alias = match raw {
                RawAlias::Version(version) => crate::config::AliasConfig::new(version),
                RawAlias::Routed(RoutedAlias {
                    version,
                    additional_version_weights,
                }) => crate::config::AliasConfig {
                    version,
                    additional_version_weights,
                },
            };
            f.aliases.insert(name, alias);
        }
        Ok(f)
    }
}

/// The fields a table of `firebox.toml` gives (a function's, or `[defaults]`), to tell where
/// a function's value came from.
#[derive(Debug, Clone, Default)]
pub(super) struct Given(std::collections::BTreeSet<String>);

impl Given {
    /// The keys of `table` (none for a missing table or a value that is not one).
    pub(super) fn of(table: Option<&toml::Table>) -> Self {
        Given(
            table
                .map(|t| t.keys().cloned().collect())
                .unwrap_or_default(),
        )
    }

    /// `error` about a field of this function that its table does not give but `defaults`
    /// does, with that said: the value to look at is in `[defaults]`. Other errors as they are.
    pub(super) fn blame_defaults(&self, defaults: &Given, error: ConfigError) -> ConfigError {
        match error {
            ConfigError::Field {
                file,
                function,
                field,
                message,
            } => {
                let head = field.split('.').next().unwrap_or(&field).to_owned();
                let from_defaults = !self.0.contains(&head) && defaults.0.contains(&head);
                let message = if from_defaults {
                    format!(
                        "{message} (the value comes from [defaults]; set `{head}` under \
                         [functions.{function}] to override it)"
                    )
                } else {
                    message
                };
                ConfigError::Field {
                    file,
                    function,
                    field,
                    message,
                }
            }
            other => other,
        }
    }
}

/// The range of a duration field, in seconds.
#[derive(Debug, Clone, Copy)]
struct Seconds {
    min: f64,
    /// Whether `min` itself is refused.
    exclusive: bool,
    max: f64,
}

impl Seconds {
    /// A function's timeout: Lambda's 1 to 900 seconds.
    const TIMEOUT: Seconds = Seconds {
        min: 1.0,
        exclusive: false,
        max: 900.0,
    };
    /// 0 to a day (`idle_timeout_s`).
    const UP_TO_A_DAY: Seconds = Seconds {
        min: 0.0,
        exclusive: false,
        max: 86_400.0,
    };
    /// More than 0, at most a day (`init_timeout_s`, `scaling_rate.window_s`).
    const POSITIVE: Seconds = Seconds {
        min: 0.0,
        exclusive: true,
        max: 86_400.0,
    };

    /// `value` as a duration, or the message that says the range.
    fn check(self, value: f64) -> Result<Duration, String> {
        let above_min = if self.exclusive {
            value > self.min
        } else {
            value >= self.min
        };
        if above_min && value <= self.max {
            return Ok(Duration::from_secs_f64(value));
        }
        let (min, max) = (self.min, self.max);
        Err(if self.exclusive {
            format!("must be more than {min} and at most {max} seconds (got {value})")
        } else {
            format!("must be between {min} and {max} seconds (got {value})")
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::config::parse_test_config as parse;

    #[test]
    fn durations_out_of_range_name_the_range() {
        for (text, says) in [
            (
                "init_timeout_s = 86401",
                "field `init_timeout_s`: must be more than 0 and at most 86400 seconds (got 86401)",
            ),
            (
                "init_timeout_s = 0",
                "field `init_timeout_s`: must be more than 0 and at most 86400 seconds (got 0)",
            ),
            (
                "idle_timeout_s = -1",
                "field `idle_timeout_s`: must be between 0 and 86400 seconds (got -1)",
            ),
            (
                "timeout_s = 100000",
                "field `timeout_s`: must be between 1 and 900 seconds (got 100000)",
            ),
            (
                "timeout_s = nan",
                "field `timeout_s`: must be between 1 and 900 seconds (got NaN)",
            ),
            (
                "scaling_rate = { environments = 1, window_s = -2 }",
                "field `scaling_rate.window_s`: must be more than 0 and at most 86400 seconds (got -2)",
            ),
            (
                "scaling_rate = { environments = 1, window_s = 0 }",
                "field `scaling_rate.window_s`: must be more than 0",
            ),
            (
                "[functions.f.versions.1]\ntimeout_s = 0.5",
                "field `versions.1.timeout_s`: must be between 1 and 900 seconds (got 0.5)",
            ),
        ] {
            let err = parse(&format!(
                "[functions.f]\ncommand = [\"/bin/true\"]\n{text}\n"
            ))
            .unwrap_err()
            .to_string();
            assert!(err.contains(says), "{text}: {err}");
        }
        let c = parse(
            "[functions.f]\ncommand = [\"/bin/true\"]\nidle_timeout_s = 0\ninit_timeout_s = 0.5\n\
             scaling_rate = { environments = 2, window_s = 0.25 }\n",
        )
        .unwrap();
        let f = &c.functions[0];
        assert!(f.idle_timeout.is_zero());
        assert_eq!(f.init_timeout, std::time::Duration::from_millis(500));
    }

    #[test]
    fn a_table_that_may_be_a_string_refuses_unknown_fields_by_name() {
        for (text, says) in [
            (
                "versions = { 1 = {} }
aliases = { live = { version = \"1\", additional_version_weight = { \"1\" = 0.5 } } }",
                "field `aliases.live.additional_version_weight`: unknown field `additional_version_weight`, expected `version` or `additional_version_weights`",
            ),
            (
                "versions = { 1 = {} }
aliases = { live = { verison = \"1\" } }",
                "unknown field `verison`",
            ),
            (
                "scaling_rate = { environments = 5, window_s = 1, burst = 3 }",
                "field `scaling_rate.burst`: unknown field `burst`, expected `environments` or `window_s`",
            ),
            (
                "versions = { 1 = {} }\naliases = { live = { version = \"1\", additional_version_weights = { \"$LATEST\" = 0.5 } } }",
                "field `aliases.live`: routes to `$LATEST`: an alias's additional version must be a published version",
            ),
            (
                "scaling_rate = 5",
                "field `scaling_rate`: invalid type: integer `5`, expected a rate name or a table",
            ),
        ] {
            let err = parse(&format!(
                "[functions.f]\ncommand = [\"/bin/true\"]\n{text}\n"
            ))
            .unwrap_err()
            .to_string();
            assert!(err.contains(says), "{text}: {err}");
        }
        // Both forms still load.
        let c = parse(
            "[functions.f]\ncommand = [\"/bin/true\"]\nversions = { 1 = {}, 2 = {} }\n\
             aliases = { a = \"1\", b = { version = \"1\", additional_version_weights = { \"2\" = 0.5 } } }\n\
             scaling_rate = \"aws\"\n",
        )
        .unwrap();
        assert_eq!(
            c.functions[0].aliases["b"].additional_version_weights["2"],
            0.5
        );
    }

    #[test]
    fn an_error_in_a_value_from_defaults_says_so() {
        let err = parse("[defaults]\ntimeout_s = 0\n[functions.a]\ncommand = [\"/bin/true\"]\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("function `a`: field `timeout_s`: must be between 1 and 900 seconds (got 0) (the value comes from [defaults]; set `timeout_s` under [functions.a] to override it)"),
            "{err}"
        );
        // The function's own value: no word about `[defaults]`.
        let err = parse(
            "[defaults]\ntimeout_s = 0\n[functions.a]\ncommand = [\"/bin/true\"]\ntimeout_s = 0\n",
        )
        .unwrap_err()
        .to_string();
        assert!(!err.contains("[defaults]"), "{err}");
        // A destination in `[defaults]` is every function's, its own included.
        let err = parse(
            "[defaults.event_invoke]\non_failure = \"dlq\"\n\
             [functions.a]\ncommand = [\"/bin/true\"]\n[functions.dlq]\ncommand = [\"/bin/true\"]\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("function `dlq`: field `event_invoke.on_failure`: a function cannot be its own destination")
                && err.contains("set `event_invoke` under [functions.dlq] to override it"),
            "{err}"
        );
        assert!(parse(
            "[defaults.event_invoke]\non_failure = \"dlq\"\n\
             [functions.a]\ncommand = [\"/bin/true\"]\n\
             [functions.dlq]\ncommand = [\"/bin/true\"]\nevent_invoke = {}\n",
        )
        .is_ok());
    }
}
