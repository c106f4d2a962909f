//! Loading `firebox.toml`: the file's shape (`[server]`, `[defaults]`, `[functions.NAME]`,
//! unknown fields refused), `[defaults]` merged into each function (`raw_function`), and the
//! whole configuration checked.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::raw_function::RawFunction;
use super::{AccountConfig, Config, ConfigError};

impl Config {
    /// Reads and validates a `firebox.toml` file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            file: path.to_path_buf(),
            source,
        })?;
        let base = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let base = std::fs::canonicalize(&base).unwrap_or(base);
        Self::parse(&text, &path.display().to_string(), &base)
    }

    /// Parses and validates configuration text; `file` names it in messages, `base` resolves
    /// relative paths.
    pub fn parse(text: &str, file: &str, base: &Path) -> Result<Self, ConfigError> {
        let syntax = |message: String| ConfigError::Syntax {
            file: file.to_owned(),
            message,
        };
        let doc: RawFile = toml::from_str(text).map_err(|e| syntax(e.to_string()))?;
        let server = doc.server.unwrap_or_default();
        let mut account = AccountConfig::default();
        if let Some(n) = server.account_concurrency {
            account.concurrency = n;
        }
        if let Some(n) = server.unreserved_minimum {
            account.unreserved_minimum = n;
        }
        if let Some(c) = server.cgroups {
            account.cgroups = c;
        }
        if let Some(on) = server.layers_at_opt {
            account.layers_at_opt = on;
        }
        if let Some(on) = server.private_tmp {
            account.private_tmp = on;
        }
        if let Some(on) = server.cpu_by_memory {
            account.cpu_by_memory = on;
        }
        let shutdown_grace = match server.shutdown_grace_s {
            Some(s) if !(0.0..=MAX_SHUTDOWN_GRACE_S).contains(&s) => {
                return Err(ConfigError::Invalid {
                    file: file.to_owned(),
                    message: format!(
                        "[server] field `shutdown_grace_s`: must be between 0 and {MAX_SHUTDOWN_GRACE_S} seconds, the longest function timeout (got {s})"
                    ),
                })
            }
            Some(s) => Some(std::time::Duration::from_secs_f64(s)),
            None => None,
        };
        let listen = match server.listen {
            Some(text) => Some(text.parse().map_err(|e| ConfigError::Invalid {
                file: file.to_owned(),
                message: format!(
                    "[server] field `listen`: `{text}` is not an IP address and port \
                     (`127.0.0.1:3001`, `0.0.0.0:3001`, `[::1]:3001`; no host names): {e}"
                ),
            })?),
            None => None,
        };
        let defaults_fields = super::raw_function::Given::of(doc.defaults.as_ref());
        let defaults: RawFunction = match doc.defaults {
            Some(table) => serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(
                |e: serde_path_to_error::Error<toml::de::Error>| {
                    syntax(format!("[defaults]: {}", field_message(&e)))
                },
            )?,
            None => RawFunction::default(),
        };
        defaults
            .check_as_defaults()
            .map_err(|message| syntax(message.into()))?;
        let mut runtimes = super::Runtimes::default();
        for (runtime, command) in doc.runtimes.unwrap_or_default() {
            runtimes.set(runtime, command);
        }
        let runtimes = runtimes
            .resolve(base)
            .map_err(|(field, message)| ConfigError::Invalid {
                file: file.to_owned(),
                message: format!("[runtimes] field `{field}`: {message}"),
            })?;
        let mut functions = Vec::new();
        let mut own_fields = BTreeMap::new();
        for (name, value) in doc.functions.unwrap_or_default() {
            let own = super::raw_function::Given::of(value.as_table());
            own_fields.insert(name.clone(), own.clone());
            // A value the function took from `[defaults]` is not under its table: say so.
            let blame = |e| own.blame_defaults(&defaults_fields, e);
            let raw: RawFunction = serde_path_to_error::deserialize(value).map_err(
                |e: serde_path_to_error::Error<toml::de::Error>| ConfigError::Function {
                    file: file.to_owned(),
                    function: name.clone(),
                    message: field_message(&e),
                },
            )?;
            let mut function = raw
                .or(&defaults)
                .into_config(&name, file)
                .and_then(|f| f.validate(file, base))
                .map_err(blame)?;
            function
                .apply_runtimes(&runtimes)
                .map_err(|(field, message)| {
                    blame(ConfigError::Field {
                        file: file.to_owned(),
                        function: name.clone(),
                        field,
                        message,
                    })
                })?;
            functions.push(function);
        }
        let blame = |e: ConfigError| match &e {
            ConfigError::Field { function, .. } => match own_fields.get(function) {
                Some(own) => own.blame_defaults(&defaults_fields, e),
                None => e,
            },
            _ => e,
        };
        // No functions is fine: they can be created through the API (`CreateFunction`).
        super::check_destinations(&functions, file).map_err(blame)?;
        crate::scheduler::limits::check_account(&functions, file, &account).map_err(blame)?;
        Ok(Self {
            listen,
            functions,
            account,
            runtimes,
            shutdown_grace,
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    server: Option<RawServer>,
    runtimes: Option<BTreeMap<String, Vec<String>>>,
    defaults: Option<toml::Table>,
    functions: Option<toml::Table>,
}

/// A deserialization error with the field it is about: "field `reload`: invalid type: ...".
fn field_message(e: &serde_path_to_error::Error<toml::de::Error>) -> String {
    let path = e.path().to_string();
    if path.is_empty() || path == "." {
        e.inner().message().to_owned()
    } else {
        format!("field `{path}`: {}", e.inner().message())
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    listen: Option<String>,
    account_concurrency: Option<u32>,
    unreserved_minimum: Option<u32>,
    cgroups: Option<bool>,
    layers_at_opt: Option<bool>,
    private_tmp: Option<bool>,
    cpu_by_memory: Option<bool>,
    /// Seconds, fractions allowed (as `timeout_s`).
    shutdown_grace_s: Option<f64>,
}

/// The longest `shutdown_grace_s`: no invocation runs longer than Lambda's 900-second timeout.
const MAX_SHUTDOWN_GRACE_S: f64 = 900.0;

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    use crate::config::parse_test_config as parse;

    #[test]
    fn event_invoke_settings_and_their_errors() {
        let c = parse(
            "[functions.a]\ncommand = [\"/bin/true\"]\n[functions.a.event_invoke]\n\
             maximum_retry_attempts = 1\nmaximum_event_age_s = 120\nretry_delays_s = [0.5, 2]\n\
             on_failure = \"b\"\n[functions.b]\ncommand = [\"/bin/true\"]\n",
        )
        .unwrap();
        let e = &c
            .functions
            .iter()
            .find(|f| f.name == "a")
            .unwrap()
            .event_invoke
            .as_ref()
            .unwrap();
        assert_eq!(e.maximum_retry_attempts, 1);
        assert_eq!(e.maximum_event_age, Duration::from_secs(120));
        assert_eq!(
            e.retry_delays,
            [Duration::from_millis(500), Duration::from_secs(2)]
        );
        assert_eq!(e.on_failure.as_deref(), Some("b"));
        let b = &c
            .functions
            .iter()
            .find(|f| f.name == "b")
            .unwrap()
            .event_invoke;
        assert_eq!(*b, None);
        for (bad, says) in [
            ("retry_delays_s = [1]", "event_invoke.retry_delays_s"),
            ("retry_delays_s = [1, 9999]", "event_invoke.retry_delays_s"),
            (
                "maximum_retry_attempts = 5",
                "event_invoke.maximum_retry_attempts",
            ),
            (
                "maximum_event_age_s = 59",
                "event_invoke.maximum_event_age_s",
            ),
            ("on_success = \"ghost\"", "event_invoke.on_success"),
            ("on_success = \"a\"", "its own destination"),
            ("on_failure = \"a:b\"", "event_invoke.on_failure"),
            ("on_failure = \"not a name\"", "not a function name or ARN"),
            (
                "on_failure = \"arn:aws:lambda:eu-west-1:123456789012:function:b\"",
                "is in region us-east-1 of account 123456789012",
            ),
            (
                "on_failure = \"arn:aws:lambda:us-east-1:999999999999:function:b\"",
                "not a function of this emulator",
            ),
            ("retries = 1", "retries"),
        ] {
            let text = format!(
                "[functions.a]\ncommand = [\"/bin/true\"]\n[functions.a.event_invoke]\n{bad}\n\
                 [functions.b]\ncommand = [\"/bin/true\"]\n"
            );
            let err = parse(&text).unwrap_err().to_string();
            assert!(err.contains(says), "{bad}: {err}");
        }
    }

    #[test]
    fn logging_settings_their_defaults_and_their_errors() {
        use crate::config::{LogFormat, LogLevel};
        let c = parse(
            "[defaults]\nlogging = { format = \"JSON\" }\n\
             [functions.a]\ncommand = [\"/bin/true\"]\n\
             [functions.a.logging]\nformat = \"JSON\"\napplication_level = \"DEBUG\"\nsystem_level = \"WARN\"\n\
             [functions.b]\ncommand = [\"/bin/true\"]\n",
        )
        .unwrap();
        let find = |name: &str| c.functions.iter().find(|f| f.name == name).unwrap();
        let a = find("a").logging;
        assert_eq!(a.format, LogFormat::Json);
        assert_eq!(a.application_level(), LogLevel::Debug);
        assert_eq!(a.system_level(), LogLevel::Warn);
        let b = find("b").logging;
        assert_eq!(b.format, LogFormat::Json, "from [defaults]");
        assert_eq!(b.application_level(), LogLevel::Info);
        for (bad, says) in [
            ("format = \"json\"", "unknown variant `json`"),
            ("application_level = \"DEBUG\"", "logging.application_level"),
            (
                "format = \"JSON\"\nsystem_level = \"ERROR\"",
                "logging.system_level",
            ),
            (
                "format = \"JSON\"\nlevel = \"INFO\"",
                "unknown field `level`",
            ),
        ] {
            let text =
                format!("[functions.a]\ncommand = [\"/bin/true\"]\n[functions.a.logging]\n{bad}\n");
            let err = parse(&text).unwrap_err().to_string();
            assert!(
                err.contains(says) && err.contains("function `a`"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn full_function_with_defaults() {
        let config = parse(
            r#"
            [defaults]
            region = "eu-west-1"
            memory_mb = 256
            environment = { A = "1" }

            [functions.hello]
            command = ["/bin/true", "x"]
            handler = "app.handler"
            description = "greets"
            timeout_s = 5
            environment = { B = "2" }
            "#,
        )
        .unwrap();
        let f = &config.functions[0];
        assert_eq!(f.name, "hello");
        assert_eq!(f.description, "greets");
        assert_eq!(f.region, "eu-west-1");
        assert_eq!(f.memory_mb, 256);
        assert_eq!(f.timeout, Duration::from_secs(5));
        assert_eq!(f.environment.len(), 2);
        assert_eq!(f.command, vec!["/bin/true", "x"]);
        assert_eq!(f.code_dir.as_deref(), Some(Path::new("/bin")));
        assert_eq!(
            f.arn(),
            "arn:aws:lambda:eu-west-1:123456789012:function:hello"
        );
    }

    #[test]
    fn code_dir_alone_runs_bootstrap() {
        let config = parse("[functions.f]\ncode_dir = \".\"\n").unwrap();
        assert_eq!(config.functions[0].command, vec!["/tmp/./bootstrap"]);
    }

    #[test]
    fn reload_is_on_unless_turned_off_here_or_in_the_defaults() {
        let config = parse(
            "[defaults]\nreload = false\n[functions.a]\ncommand = [\"/bin/true\"]\n\
             [functions.b]\ncommand = [\"/bin/true\"]\nreload = true\n",
        )
        .unwrap();
        assert!(
            !config
                .functions
                .iter()
                .find(|f| f.name == "a")
                .unwrap()
                .reload
        );
        assert!(
            config
                .functions
                .iter()
                .find(|f| f.name == "b")
                .unwrap()
                .reload
        );
        let plain = parse("[functions.c]\ncommand = [\"/bin/true\"]\n").unwrap();
        assert!(plain.functions[0].reload);
        let err = parse("[functions.d]\ncommand = [\"/bin/true\"]\nreload = \"yes\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("reload"), "{err}");
    }

    #[test]
    fn bad_field_names_file_function_and_field() {
        let err = parse("[functions.hello]\ncommand = [\"/bin/true\"]\nmemory_mb = 64\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("firebox.toml"), "{err}");
        assert!(err.contains("hello"), "{err}");
        assert!(err.contains("memory_mb"), "{err}");
    }

    #[test]
    fn unknown_field_is_named() {
        let err = parse("[functions.hello]\ncommand = [\"/bin/true\"]\nmemroy_mb = 64\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("hello") && err.contains("memroy_mb"), "{err}");
    }

    #[test]
    fn reserved_and_oversized_environment_refused() {
        let err = parse(
            "[functions.f]\ncommand = [\"/bin/true\"]\nenvironment = { AWS_REGION = \"x\" }\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("AWS_REGION") && err.contains("reserved"),
            "{err}"
        );
        let big = "x".repeat(5000);
        let err = parse(&format!(
            "[functions.f]\ncommand = [\"/bin/true\"]\nenvironment = {{ BIG = \"{big}\" }}\n"
        ))
        .unwrap_err()
        .to_string();
        assert!(err.contains("environment") && err.contains("4096"), "{err}");
        // Lambda measures the JSON text: `{"BIGV":"..."}` is 4,103 bytes for 4,096 of name
        // and value.
        let value = "x".repeat(4092);
        let err = parse(&format!(
            "[functions.f]\ncommand = [\"/bin/true\"]\nenvironment = {{ BIGV = \"{value}\" }}\n"
        ))
        .unwrap_err()
        .to_string();
        assert!(err.contains("4103 bytes as JSON"), "{err}");
        let value = "x".repeat(4085);
        assert!(parse(&format!(
            "[functions.f]\ncommand = [\"/bin/true\"]\nenvironment = {{ BIGV = \"{value}\" }}\n"
        ))
        .is_ok());
    }

    #[test]
    fn limits_and_missing_command() {
        for (text, field) in [
            ("timeout_s = 0\ncommand = [\"/bin/true\"]", "timeout_s"),
            ("timeout_s = 901\ncommand = [\"/bin/true\"]", "timeout_s"),
            ("memory_mb = 10241\ncommand = [\"/bin/true\"]", "memory_mb"),
            ("handler = \"x\"", "command"),
            (
                "command = [\"/bin/true\"]\nhandler = \"two words\"",
                "handler",
            ),
            (
                &format!(
                    "command = [\"/bin/true\"]\ndescription = \"{}\"",
                    "d".repeat(257)
                ),
                "description",
            ),
            (
                "command = [\"/bin/true\"]\ncode_dir = \"/nonexistent/dir\"",
                "code_dir",
            ),
            (
                "command = [\"/bin/true\"]\naccount_id = \"12\"",
                "account_id",
            ),
            (
                "command = [\"/bin/true\"]\nmax_concurrency = 0",
                "max_concurrency",
            ),
            (
                "command = [\"/bin/true\"]\nreserved_concurrency = 2\nprovisioned_concurrency = 3",
                "provisioned_concurrency",
            ),
            (
                "command = [\"/bin/true\"]\nscaling_rate = \"fast\"",
                "scaling_rate",
            ),
            (
                "command = [\"/bin/true\"]\nmax_environments = 2\nreserved_concurrency = 2",
                "max_environments",
            ),
        ] {
            let err = parse(&format!("[functions.f]\n{text}\n"))
                .unwrap_err()
                .to_string();
            assert!(err.contains(field), "{text}: {err}");
        }
    }

    #[test]
    fn no_functions_and_bad_syntax() {
        // An emulator may start empty and have its functions made with `CreateFunction`.
        assert!(parse("").unwrap().functions.is_empty());
        assert!(parse("[functions.f\n")
            .unwrap_err()
            .to_string()
            .starts_with("firebox.toml"));
        let err = parse("[server]\nlisten = \"nope\"\n[functions.f]\ncommand=[\"/bin/true\"]\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("listen"), "{err}");
        let err = parse("[server]\nlisten = \"localhost:3001\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("`localhost:3001` is not an IP address and port")
                && err.contains("no host names"),
            "{err}"
        );
    }

    #[test]
    fn shutdown_grace_takes_fractions_of_a_second_up_to_900() {
        let c = parse("[server]\nshutdown_grace_s = 1.5\n").unwrap();
        assert_eq!(c.shutdown_grace, Some(Duration::from_millis(1500)));
        let c = parse("[server]\nshutdown_grace_s = 900\n").unwrap();
        assert_eq!(c.shutdown_grace, Some(Duration::from_secs(900)));
        for bad in ["901", "-1", "900.5", "nan"] {
            let err = parse(&format!("[server]\nshutdown_grace_s = {bad}\n"))
                .unwrap_err()
                .to_string();
            assert!(
                err.contains(
                    "[server] field `shutdown_grace_s`: must be between 0 and 900 seconds"
                ) && err.contains(&format!("(got {})", bad.replace("nan", "NaN"))),
                "{bad}: {err}"
            );
        }
    }
}
