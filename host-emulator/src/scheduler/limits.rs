//! The concurrency limits as configured: the account's (`[server] account_concurrency`,
//! `unreserved_minimum`) and the per-function scaling rate, plus the check that the reserved
//! concurrency of all functions leaves enough for the unreserved pool.

use std::time::Duration;

use crate::config::{ConfigError, FunctionConfig};

/// Lambda's default account concurrency.
pub const DEFAULT_ACCOUNT_CONCURRENCY: u32 = 1000;
/// Lambda's minimum of unreserved concurrency.
pub const DEFAULT_UNRESERVED_MINIMUM: u32 = 100;
/// The longest Init of a provisioned environment (or the function timeout, if larger).
pub const PROVISIONED_INIT_TIMEOUT: Duration = Duration::from_secs(130);
/// Largest `max_concurrency` accepted.
pub const MAX_CONCURRENCY_LIMIT: u32 = 1024;

/// Account-level settings, from `[server]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountConfig {
    /// Invocations running at once across all functions (`account_concurrency`, default 1000).
    pub concurrency: u32,
    /// Concurrency that reserved concurrency may not take (`unreserved_minimum`, default 100).
    pub unreserved_minimum: u32,
    /// Whether to use cgroups (freezer, memory) when the machine allows it (`cgroups`,
    /// default true); `false` forces the process-group and `/proc` fallbacks.
    pub cgroups: bool,
    /// Whether each environment with layers gets them mounted at `/opt` in a mount namespace
    /// of its own, when the machine allows it (`layers_at_opt`, default true).
    pub layers_at_opt: bool,
    /// Whether each environment gets a `/tmp` of its own (its private directory, bound at
    /// `/tmp` in mount namespaces of its processes), when the machine allows it
    /// (`private_tmp`, default false).
    pub private_tmp: bool,
    /// Whether each environment gets CPU in proportion to its memory, as on Lambda (one vCPU
    /// at 1,769 MB), through a cgroup v1 `cpu` controller when the machine has one
    /// (`cpu_by_memory`, default false: every function may use all the machine's CPUs).
    pub cpu_by_memory: bool,
}

impl Default for AccountConfig {
    fn default() -> Self {
        Self {
            concurrency: DEFAULT_ACCOUNT_CONCURRENCY,
            unreserved_minimum: DEFAULT_UNRESERVED_MINIMUM,
            cgroups: true,
            layers_at_opt: true,
            private_tmp: false,
            cpu_by_memory: false,
        }
    }
}

/// How fast a function may add environments (`scaling_rate`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScalingRate {
    /// Environments added at most per window.
    pub environments: u32,
    /// The window.
    pub window: Duration,
}

impl ScalingRate {
    /// Lambda's rate: 1,000 environments every 10 seconds.
    pub const AWS: ScalingRate = ScalingRate {
        environments: 1000,
        window: Duration::from_secs(10),
    };
}

/// Checks the limits of one function against the account (called for each function).
pub(crate) fn check_function(
    f: &FunctionConfig,
    file: &str,
    account: &AccountConfig,
) -> Result<(), ConfigError> {
    let field = |field: &str, message: String| ConfigError::Field {
        file: file.to_owned(),
        function: f.name.clone(),
        field: field.to_owned(),
        message,
    };
    if let Some(reserved) = f.reserved_concurrency {
        if reserved > account.concurrency {
            return Err(field(
                "reserved_concurrency",
                format!(
                    "{reserved} is more than the account concurrency of {} ([server] account_concurrency)",
                    account.concurrency
                ),
            ));
        }
        if f.provisioned_total() > reserved {
            return Err(field(
                "provisioned_concurrency",
                format!(
                    "{}{} is more than the function's reserved concurrency of {reserved}",
                    f.provisioned_total(),
                    across_versions(f)
                ),
            ));
        }
    }
    if f.provisioned_total() > account.concurrency {
        return Err(field(
            "provisioned_concurrency",
            format!(
                "{}{} is more than the account concurrency of {} ([server] account_concurrency)",
                f.provisioned_total(),
                across_versions(f),
                account.concurrency
            ),
        ));
    }
    if let Some(n) = f.max_concurrency {
        if !(1..=MAX_CONCURRENCY_LIMIT).contains(&n) {
            return Err(field(
                "max_concurrency",
                format!("must be between 1 and {MAX_CONCURRENCY_LIMIT} (got {n})"),
            ));
        }
    }
    if let Some(rate) = f.scaling_rate {
        if rate.environments == 0 || rate.window.is_zero() {
            return Err(field(
                "scaling_rate",
                "needs at least 1 environment per a positive window".into(),
            ));
        }
    }
    Ok(())
}

/// Checks that the functions' reserved and provisioned concurrency leave at least
/// `unreserved_minimum` of the account unreserved.
pub(crate) fn check_account(
    functions: &[FunctionConfig],
    file: &str,
    account: &AccountConfig,
) -> Result<(), ConfigError> {
    if account.concurrency == 0 {
        return Err(ConfigError::Invalid {
            file: file.to_owned(),
            message: "[server] field `account_concurrency`: must be at least 1".into(),
        });
    }
    if account.unreserved_minimum > account.concurrency {
        return Err(ConfigError::Invalid {
            file: file.to_owned(),
            message: format!(
                "[server] field `unreserved_minimum`: {} is more than `account_concurrency` ({})",
                account.unreserved_minimum, account.concurrency
            ),
        });
    }
    for f in functions {
        check_function(f, file, account)?;
    }
    let total: u64 = functions.iter().map(|f| u64::from(set_aside(f))).sum();
    let unreserved = u64::from(account.concurrency).saturating_sub(total);
    if unreserved < u64::from(account.unreserved_minimum) {
        let mut by_function: Vec<String> = functions
            .iter()
            .filter(|f| set_aside(f) > 0)
            .map(|f| format!("`{}` {}", f.name, set_aside(f)))
            .collect();
        by_function.sort();
        return Err(ConfigError::Invalid {
            file: file.to_owned(),
            message: format!(
                "fields `reserved_concurrency`/`provisioned_concurrency`: the functions set aside {total} ({}) of the account concurrency of {}, leaving {unreserved} unreserved; at least {} must stay unreserved (lower the reservations, raise [server] account_concurrency, or lower [server] unreserved_minimum)",
                by_function.join(", "),
                account.concurrency,
                account.unreserved_minimum
            ),
        });
    }
    Ok(())
}

/// What a function takes out of the unreserved pool for good: its reserved concurrency, or
/// else the provisioned concurrency of all its versions.
pub(crate) fn set_aside(f: &FunctionConfig) -> u32 {
    f.reserved_concurrency
        .unwrap_or_else(|| f.provisioned_total())
}

/// Says that a provisioned total counts the published versions, when there are any.
fn across_versions(f: &FunctionConfig) -> &'static str {
    if f.published().is_empty() {
        ""
    } else {
        " (`$LATEST` and its published versions together)"
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::Config;

    fn parse(text: &str) -> Result<Config, String> {
        Config::parse(text, "firebox.toml", Path::new("/tmp")).map_err(|e| e.to_string())
    }

    #[test]
    fn reserving_past_the_unreserved_minimum_is_refused_with_file_and_fields() {
        let err = parse(
            "[functions.a]\ncommand = [\"/bin/true\"]\nreserved_concurrency = 600\n\
             [functions.b]\ncommand = [\"/bin/true\"]\nprovisioned_concurrency = 350\n",
        )
        .unwrap_err();
        assert!(err.starts_with("firebox.toml: "), "{err}");
        assert!(err.contains("reserved_concurrency"), "{err}");
        assert!(err.contains("leaving 50 unreserved"), "{err}");
        assert!(err.contains("at least 100"), "{err}");
        assert!(err.contains("unreserved_minimum"), "{err}");
        assert!(err.contains("`a` 600") && err.contains("`b` 350"), "{err}");
    }

    #[test]
    fn the_minimum_and_the_account_are_configurable() {
        let config = parse(
            "[server]\naccount_concurrency = 10\nunreserved_minimum = 0\ncgroups = false\n\
             layers_at_opt = false\nprivate_tmp = true\ncpu_by_memory = true\n[functions.a]\ncommand = [\"/bin/true\"]\nreserved_concurrency = 10\n",
        )
        .unwrap();
        assert_eq!(config.account.concurrency, 10);
        assert!(!config.account.cgroups);
        assert!(!config.account.layers_at_opt);
        assert!(super::AccountConfig::default().layers_at_opt);
        assert!(config.account.private_tmp);
        assert!(!super::AccountConfig::default().private_tmp);
        assert!(config.account.cpu_by_memory);
        assert!(!super::AccountConfig::default().cpu_by_memory);
        assert_eq!(config.functions[0].reserved_concurrency, Some(10));
        let err =
            parse("[server]\naccount_concurrency = 10\n[functions.a]\ncommand = [\"/bin/true\"]\n")
                .unwrap_err();
        assert!(err.contains("unreserved_minimum"), "{err}");
    }

    #[test]
    fn concurrency_fields_parse() {
        let config = parse(
            "[functions.a]\ncommand = [\"/bin/true\"]\nmax_environments = 7\nfreeze = false\n\
             max_concurrency = 8\nscaling_rate = \"aws\"\n\
             [functions.b]\ncommand = [\"/bin/true\"]\nscaling_rate = { environments = 5, window_s = 2 }\n",
        )
        .unwrap();
        let a = &config.functions[0];
        assert_eq!(
            a.reserved_concurrency,
            Some(7),
            "max_environments is an alias"
        );
        assert!(!a.freeze);
        assert_eq!(a.max_concurrency, Some(8));
        assert_eq!(a.scaling_rate, Some(super::ScalingRate::AWS));
        let b = &config.functions[1];
        assert_eq!(
            b.scaling_rate,
            Some(super::ScalingRate {
                environments: 5,
                window: std::time::Duration::from_secs(2)
            })
        );
    }
}
