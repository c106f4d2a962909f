//! Published versions and aliases of a function, as declared in `[functions.NAME.versions.N]`
//! and `[functions.NAME.aliases]` or with [`FunctionConfig::publish`] and
//! [`FunctionConfig::alias`].
//!
//! On Lambda, `PublishVersion` snapshots `$LATEST`'s code and settings as version 1, 2, ...;
//! an alias names a version and may send a share of its invocations to a second one. Here a
//! version is declared: the function's settings with the version's own code and settings
//! over them, so that several builds can run side by side. Each version is resolved into a
//! whole [`FunctionConfig`] when the function is validated. A declared version runs its files
//! as they are on disk; a version published while the emulator runs copies them instead
//! (see [`crate::snapshot`]).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use super::{ConfigError, FunctionConfig};

/// The qualifier of the unpublished version.
pub const LATEST: &str = "$LATEST";

/// Whether `qualifier` names a version by its number (digits only), not an alias or
/// `$LATEST`.
pub(crate) fn is_version_number(qualifier: &str) -> bool {
    !qualifier.is_empty() && qualifier.bytes().all(|b| b.is_ascii_digit())
}

/// Lambda's longest alias name.
const MAX_ALIAS_NAME: usize = 128;

/// What a published version changes from the function's own (`$LATEST`) settings. A field
/// left `None` keeps the function's value; `environment` is merged over the function's.
/// Reserved concurrency, the URL, `event_invoke` and the other settings of the function as a
/// whole are shared by all its versions.
///
/// ```
/// use firebox_emulator::{AliasConfig, FunctionConfig, VersionConfig};
/// let f = FunctionConfig::new("orders")
///     .command(["target/release/orders"])
///     .publish(1, VersionConfig::new().command(["builds/v1/orders"]))
///     .publish(2, VersionConfig::new().env("STAGE", "canary"))
///     .alias("live", AliasConfig::new("1").route("2", 0.1));
/// assert_eq!(f.versions.len(), 2);
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VersionConfig {
    /// The program and its arguments.
    pub command: Option<Vec<String>>,
    /// The working directory.
    pub code_dir: Option<PathBuf>,
    /// `_HANDLER`.
    pub handler: Option<String>,
    /// Memory size in MB.
    pub memory_mb: Option<u32>,
    /// Invocation timeout.
    pub timeout: Option<Duration>,
    /// Variables set over the function's.
    pub environment: BTreeMap<String, String>,
    /// External extensions (replacing the function's list).
    pub extensions: Option<Vec<PathBuf>>,
    /// Environments of this version initialised at start-up (not inherited: on Lambda,
    /// provisioned concurrency belongs to one version or alias).
    pub provisioned_concurrency: u32,
}

impl VersionConfig {
    /// A version identical to the function's settings.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the program and its arguments.
    pub fn command<I, S>(mut self, command: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.command = Some(command.into_iter().map(Into::into).collect());
        self
    }

    /// Sets the working directory.
    pub fn code_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.code_dir = Some(dir.into());
        self
    }

    /// Sets `_HANDLER`.
    pub fn handler(mut self, handler: impl Into<String>) -> Self {
        self.handler = Some(handler.into());
        self
    }

    /// Sets the memory size in MB.
    pub fn memory_mb(mut self, mb: u32) -> Self {
        self.memory_mb = Some(mb);
        self
    }

    /// Sets the invocation timeout.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Sets one environment variable over the function's.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.environment.insert(key.into(), value.into());
        self
    }

    /// Replaces the function's external extensions.
    pub fn extensions<I, P>(mut self, paths: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: Into<PathBuf>,
    {
        self.extensions = Some(paths.into_iter().map(Into::into).collect());
        self
    }

    /// Sets this version's provisioned concurrency.
    pub fn provisioned_concurrency(mut self, n: u32) -> Self {
        self.provisioned_concurrency = n;
        self
    }
}

/// An alias: a name for a version, optionally sending a share of the invocations to a second
/// version (Lambda's `RoutingConfig.AdditionalVersionWeights`).
///
/// ```
/// use firebox_emulator::AliasConfig;
/// let canary = AliasConfig::new("3").route("4", 0.05);
/// assert_eq!(canary.version, "3");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct AliasConfig {
    /// The version the alias names: `$LATEST` or a published version's number.
    pub version: String,
    /// At most one other published version and the share (0.0 to 1.0) of invocations it gets.
    pub additional_version_weights: BTreeMap<String, f64>,
}

impl AliasConfig {
    /// An alias of `version` (`"$LATEST"` or a published version's number).
    pub fn new(version: impl Into<String>) -> Self {
        Self {
            version: version.into(),
            additional_version_weights: BTreeMap::new(),
        }
    }

    /// Sends the share `weight` (0.0 to 1.0) of the alias's invocations to `version`.
    pub fn route(mut self, version: impl Into<String>, weight: f64) -> Self {
        self.additional_version_weights
            .insert(version.into(), weight);
        self
    }

    /// The version an invocation through this alias runs, given a uniform draw in [0, 1).
    pub(crate) fn pick(&self, draw: f64) -> &str {
        match self.additional_version_weights.iter().next() {
            Some((other, weight)) if draw < *weight => other,
            _ => &self.version,
        }
    }
}

impl FunctionConfig {
    /// Declares published version `number` (1 and up): this function's settings with
    /// `version`'s over them.
    pub fn publish(mut self, number: u32, version: VersionConfig) -> Self {
        self.versions.insert(number, version);
        self
    }

    /// Declares an alias.
    pub fn alias(mut self, name: impl Into<String>, alias: AliasConfig) -> Self {
        self.aliases.insert(name.into(), alias);
        self
    }

    /// The version this configuration runs: `$LATEST`, or a published version's number
    /// (for the configurations [`FunctionConfig::published`] returns).
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The validated configurations of the published versions, one per version, in order
    /// (empty before validation).
    pub fn published(&self) -> &[FunctionConfig] {
        &self.published
    }

    /// Provisioned concurrency of `$LATEST` and every published version together.
    pub(crate) fn provisioned_total(&self) -> u32 {
        self.published
            .iter()
            .map(|v| v.provisioned_concurrency)
            .fold(self.provisioned_concurrency, u32::saturating_add)
    }

    /// This (unvalidated) function as published version `number`.
    fn as_version(&self, number: u32, version: &VersionConfig) -> FunctionConfig {
        let mut f = self.clone();
        f.versions.clear();
        f.aliases.clear();
        f.published.clear();
        // The function's, not a version's (they name the function's aliases).
        f.url = None;
        f.urls.clear();
        f.version = number.to_string();
        f.provisioned_concurrency = version.provisioned_concurrency;
        // Called before validation: `code_dir` is the function's own, or `None` (then each
        // version's directory is derived from its own program).
        if let Some(command) = &version.command {
            // A version with a command of its own runs it, not the function's runtime.
            f.command = command.clone();
            f.runtime = None;
        }
        if let Some(dir) = &version.code_dir {
            f.code_dir = Some(dir.clone());
            f.code_dir_given = true;
        }
        if version.handler.is_some() {
            f.handler = version.handler.clone();
        }
        if let Some(mb) = version.memory_mb {
            f.memory_mb = mb;
        }
        if let Some(timeout) = version.timeout {
            f.timeout = timeout;
        }
        f.environment.extend(version.environment.clone());
        if let Some(extensions) = &version.extensions {
            f.extensions = extensions.clone();
        }
        f
    }

    /// Resolves and validates every published version (called by `validate` on the still
    /// unvalidated function), then checks the aliases against them.
    pub(super) fn resolve_versions(
        &self,
        file: &str,
        base: &std::path::Path,
    ) -> Result<Vec<FunctionConfig>, ConfigError> {
        let mut published = Vec::with_capacity(self.versions.len());
        for (&number, version) in &self.versions {
            if number == 0 {
                return Err(self.field_error(file, "versions", "version numbers start at 1"));
            }
            let resolved = self
                .as_version(number, version)
                .validate(file, base)
                .map_err(|e| match e {
                    ConfigError::Field {
                        file,
                        function,
                        field,
                        message,
                    } => ConfigError::Field {
                        file,
                        function,
                        field: format!("versions.{number}.{field}"),
                        message,
                    },
                    other => other,
                })?;
            published.push(resolved);
        }
        for (name, alias) in &self.aliases {
            self.check_alias(file, name, alias)?;
        }
        self.check_urls(file)?;
        Ok(published)
    }

    fn check_alias(&self, file: &str, name: &str, alias: &AliasConfig) -> Result<(), ConfigError> {
        let published = |v: &str| {
            v.parse::<u32>()
                .is_ok_and(|n| self.versions.contains_key(&n))
        };
        check_alias(&self.name, name, alias, published)
            .map_err(|e| self.field_error(file, &format!("aliases.{name}"), &e.to_string()))
    }

    pub(super) fn field_error(&self, file: &str, field: &str, message: &str) -> ConfigError {
        ConfigError::Field {
            file: file.to_owned(),
            function: self.name.clone(),
            field: field.to_owned(),
            message: message.to_owned(),
        }
    }
}

/// Why an alias breaks Lambda's rules.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum AliasRuleError {
    /// It names (or routes to) a version the function does not have.
    #[error("version `{version}` is neither `$LATEST` nor a published version of `{function}`")]
    UnknownVersion {
        /// The function.
        function: String,
        /// The version named.
        version: String,
    },
    /// Any other rule (the message says which).
    #[error("{0}")]
    Invalid(String),
}

/// Checks alias `name` of `function` against Lambda's rules: 1–128 letters, digits, `-` or
/// `_`, not only digits; it names `$LATEST` or a version for which `published` is true; it
/// routes to at most one other published version, never from `$LATEST`, with a weight
/// between 0.0 and 1.0. Used for the configuration and for `CreateAlias`/`UpdateAlias`.
pub(crate) fn check_alias(
    function: &str,
    name: &str,
    alias: &AliasConfig,
    published: impl Fn(&str) -> bool,
) -> Result<(), AliasRuleError> {
    let invalid = |m: String| Err(AliasRuleError::Invalid(m));
    if name.is_empty()
        || name.len() > MAX_ALIAS_NAME
        || is_version_number(name)
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return invalid(format!(
            "`{name}` is not an alias name: 1 to {MAX_ALIAS_NAME} letters, digits, `-` or `_`, not only digits"
        ));
    }
    let unknown = |version: &str| AliasRuleError::UnknownVersion {
        function: function.to_owned(),
        version: version.to_owned(),
    };
    if alias.version != LATEST && !published(&alias.version) {
        return Err(unknown(&alias.version));
    }
    if alias.additional_version_weights.len() > 1 {
        return invalid("routes to more than one additional version; Lambda allows one".into());
    }
    if let Some((other, weight)) = alias.additional_version_weights.iter().next() {
        if alias.version == LATEST {
            return invalid(
                "an alias of `$LATEST` cannot route to another version (Lambda allows routing between published versions only)".into(),
            );
        }
        if other == LATEST {
            return invalid(
                "routes to `$LATEST`: an alias's additional version must be a published version"
                    .into(),
            );
        }
        if !published(other) {
            return Err(unknown(other));
        }
        if *other == alias.version {
            return invalid(format!(
                "routes to `{other}`, the version the alias already names"
            ));
        }
        if !(0.0..=1.0).contains(weight) {
            return invalid(format!(
                "the weight of version `{other}` must be between 0.0 and 1.0 (got {weight})"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn version_numbers_are_digits() {
        assert!(is_version_number("1"));
        assert!(is_version_number("42"));
        assert!(!is_version_number("live"));
        assert!(!is_version_number("v1"));
        assert!(!is_version_number(""));
        assert!(!is_version_number(LATEST));
    }
    use crate::config::parse_test_config as parse;

    #[test]
    fn versions_and_aliases_from_the_file() {
        let c = parse(
            r#"
            [functions.hello]
            command = ["/bin/true"]
            memory_mb = 512
            environment = { A = "1", B = "2" }

            [functions.hello.versions.1]
            command = ["/bin/echo", "v1"]
            environment = { B = "one" }
            timeout_s = 7

            [functions.hello.versions.2]
            provisioned_concurrency = 1

            [functions.hello.aliases]
            live = "1"
            canary = { version = "1", additional_version_weights = { "2" = 0.25 } }
            "#,
        )
        .unwrap();
        let f = &c.functions[0];
        assert_eq!(f.version(), "$LATEST");
        let [one, two] = f.published() else {
            panic!("{:?}", f.published())
        };
        assert_eq!(one.version(), "1");
        assert_eq!(one.command, ["/bin/echo", "v1"]);
        assert_eq!(one.code_dir.as_deref(), Some(Path::new("/bin")));
        assert_eq!(one.memory_mb, 512);
        assert_eq!(one.timeout, Duration::from_secs(7));
        assert_eq!(one.environment["A"], "1");
        assert_eq!(one.environment["B"], "one");
        assert_eq!(one.provisioned_concurrency, 0);
        assert_eq!(two.version(), "2");
        assert_eq!(two.command, ["/bin/true"]);
        assert_eq!(two.environment["B"], "2");
        assert_eq!(two.provisioned_concurrency, 1);
        assert_eq!(f.aliases["live"], crate::config::AliasConfig::new("1"));
        assert_eq!(
            f.aliases["canary"],
            crate::config::AliasConfig::new("1").route("2", 0.25)
        );

        for (bad, says) in [
            ("[functions.f.versions.one]\n", "versions.one"),
            ("[functions.f.versions.01]\n", "versions.01"),
            (
                "[functions.f.versions.1]\nreserved_concurrency = 1\n",
                "reserved_concurrency",
            ),
            (
                "[functions.f.versions.1]\ntimeout_s = 901\n",
                "versions.1.timeout_s",
            ),
            ("[functions.f.aliases]\nlive = \"7\"\n", "aliases.live"),
            ("[functions.f.aliases]\nlive = 1\n", "aliases.live"),
            (
                "[functions.f.versions.1]\n[functions.f.url]\nqualifier = \"1\"\n",
                "url.qualifier",
            ),
            ("[functions.f.url]\nqualifier = \"nope\"\n", "url.qualifier"),
        ] {
            let text = format!("[functions.f]\ncommand = [\"/bin/true\"]\n{bad}");
            let err = parse(&text).unwrap_err().to_string();
            assert!(err.contains(says) && err.contains("`f`"), "{bad}: {err}");
        }
        let err = parse(
            "[defaults]\naliases = { live = \"$LATEST\" }\n[functions.f]\ncommand = [\"/bin/true\"]\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("[defaults]") && err.contains("aliases"),
            "{err}"
        );
    }

    #[test]
    fn a_url_invokes_latest_or_an_alias() {
        for qualifier in ["$LATEST", "live"] {
            let c = parse(&format!(
                "[functions.f]\ncommand = [\"/bin/true\"]\n[functions.f.versions.1]\n\
                 [functions.f.aliases]\nlive = \"1\"\n[functions.f.url]\nqualifier = \"{qualifier}\"\n"
            ))
            .unwrap();
            let url = c.functions[0].url.as_ref().unwrap();
            assert_eq!(url.qualifier.as_deref(), Some(qualifier));
        }
    }

    #[test]
    fn an_alias_picks_its_version_by_weight() {
        let plain = AliasConfig::new("1");
        assert_eq!(plain.pick(0.0), "1");
        assert_eq!(plain.pick(0.99), "1");
        let canary = AliasConfig::new("1").route("2", 0.25);
        assert_eq!(canary.pick(0.0), "2");
        assert_eq!(canary.pick(0.2499), "2");
        assert_eq!(canary.pick(0.25), "1");
        assert_eq!(canary.pick(0.9), "1");
        let all = AliasConfig::new("1").route("2", 1.0);
        assert_eq!(all.pick(0.999), "2");
        let none = AliasConfig::new("1").route("2", 0.0);
        assert_eq!(none.pick(0.0), "1");
    }
}
