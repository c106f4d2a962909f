//! [`FunctionConfig`]: one function's definition as a public type, with Lambda's defaults and
//! a builder for tests that define functions in code.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use super::{ScalingRate, DEFAULT_ACCOUNT_ID, DEFAULT_REGION};

/// One function: what to run and with which limits.
///
/// Built from `firebox.toml` or in code:
/// ```
/// use std::time::Duration;
/// use firebox_emulator::FunctionConfig;
/// let f = FunctionConfig::new("hello")
///     .command(["/usr/bin/env", "python3", "app.py"])
///     .timeout(Duration::from_secs(5))
///     .env("GREETING", "hi");
/// assert_eq!(f.name, "hello");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionConfig {
    /// The function's name (1 to 64 letters, digits, `-` or `_`).
    pub name: String,
    /// The program and its arguments. Empty means `code_dir/bootstrap`, or the command of
    /// `runtime`.
    pub command: Vec<String>,
    /// A Lambda runtime (`python3.12`, `nodejs22.x`, `provided.al2023`) to run the code in
    /// `code_dir` with, instead of a `command` (see [`super::Runtimes`]).
    pub runtime: Option<String>,
    /// The execution role's ARN the control plane shows (`Role`; not assumed: the function
    /// gets no credentials from it).
    pub role: Option<String>,
    /// The function's tags, as `GetFunction` shows them.
    pub tags: BTreeMap<String, String>,
    /// The working directory (`LAMBDA_TASK_ROOT`).
    pub code_dir: Option<PathBuf>,
    /// Becomes `_HANDLER`.
    pub handler: Option<String>,
    /// What the control plane shows as `Description` (at most 256 characters).
    pub description: String,
    /// Memory size in MB, 128 to 10240.
    pub memory_mb: u32,
    /// Invocation timeout, 1 s to 900 s.
    pub timeout: Duration,
    /// The function's own environment variables.
    pub environment: BTreeMap<String, String>,
    /// Region in ARNs and `AWS_REGION`.
    pub region: String,
    /// Account id in ARNs.
    pub account_id: String,
    /// Reserved concurrency: set aside from the account and the function's cap (`None`: draws
    /// from the unreserved pool; `Some(0)`: every invoke is throttled).
    pub reserved_concurrency: Option<u32>,
    /// Environments initialised at start-up and kept ready (`provisioned-concurrency`).
    pub provisioned_concurrency: u32,
    /// Multi-concurrency (Lambda Managed Instances): invocations one environment may hold at
    /// once; sets `AWS_LAMBDA_MAX_CONCURRENCY`.
    pub max_concurrency: Option<u32>,
    /// Whether idle environments are frozen between invocations (default true).
    pub freeze: bool,
    /// Opt-in limit on how fast environments are added (`scaling_rate`).
    pub scaling_rate: Option<ScalingRate>,
    /// How long an idle environment is kept before it is shut down (default 10 minutes).
    pub idle_timeout: Duration,
    /// Longest on-demand Init phase before Init is retried inside the invoke (default 10 s).
    pub init_timeout: Duration,
    /// Largest streamed response in bytes (default 200 MiB).
    pub stream_max_bytes: u64,
    /// Lambda's bandwidth shape for streamed responses: 6 MiB at full speed, then about
    /// 2 MiB/s (default off).
    pub stream_bandwidth_shape: bool,
    /// The function URL of `[functions.NAME.url]`, when there is one: for `$LATEST`, or for
    /// the alias its `qualifier` names.
    pub url: Option<crate::url::UrlConfig>,
    /// More function URLs, by qualifier (`$LATEST` or an alias name), as
    /// `[functions.NAME.urls.QUALIFIER]`: one URL per qualifier, `url`'s included.
    pub urls: BTreeMap<String, crate::url::UrlConfig>,
    /// Whether a change of the function's code on disk retires its environments, so that
    /// new invocations run the new code (default true).
    pub reload: bool,
    /// Retries and destinations of `Event` invocations (Lambda's `EventInvokeConfig`) on
    /// `$LATEST` and on the declared versions and aliases; `None`: none (Lambda's defaults).
    pub event_invoke: Option<super::EventInvokeConfig>,
    /// Log format and levels (`[functions.NAME.logging]`; default: `Text`).
    pub logging: super::LoggingConfig,
    /// External extensions: executables started in each environment before the runtime,
    /// as Lambda starts those of `/opt/extensions` (each registers under its file name).
    /// Validation adds the executables of the layers' `extensions` directories.
    pub extensions: Vec<PathBuf>,
    /// Layers: at most 5 directories laid out as Lambda extracts a layer under `/opt`, in
    /// order (a later one wins); see "Layers" in the README.
    pub layers: Vec<PathBuf>,
    /// Published versions by number: what each changes from these settings.
    pub versions: BTreeMap<u32, super::VersionConfig>,
    /// Aliases by name.
    pub aliases: BTreeMap<String, super::AliasConfig>,
    /// Whether `code_dir` was given (not derived from the program's path): only then is every
    /// file under it watched for changes.
    pub(crate) code_dir_given: bool,
    /// The version this configuration runs (`$LATEST` unless it is one of `published`).
    pub(crate) version: String,
    /// The published versions, resolved and validated by `validate`.
    pub(crate) published: Vec<FunctionConfig>,
    /// How environments start (from `command`, `code_dir` and `runtime`, by `validate`).
    pub(crate) launch: super::runtimes::Launch,
    /// The uploaded package the code directory holds, for code from `CreateFunction` or
    /// `UpdateFunctionCode`.
    pub(crate) package: Option<std::sync::Arc<crate::package::CodePackage>>,
    /// `layers`, resolved by `validate` (or set through the control plane).
    pub(crate) resolved_layers: Vec<super::layers::Layer>,
    /// The executables of `extensions` that come from the layers (not the function's own).
    pub(crate) layer_extensions: Vec<PathBuf>,
    /// Whether `command`'s program was a bare name found on `PATH` (an interpreter or a tool,
    /// not the function's own file): a published version does not copy it.
    pub(crate) program_from_path: bool,
    /// The copy of the code on disk a version published at run time runs (see
    /// [`crate::snapshot`]); removed once no configuration holds it.
    pub(crate) snapshot: Option<std::sync::Arc<crate::snapshot::Snapshot>>,
}

impl FunctionConfig {
    /// A function with Lambda's defaults: 128 MB, 3 s, us-east-1.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            command: Vec::new(),
            runtime: None,
            role: None,
            tags: BTreeMap::new(),
            code_dir: None,
            handler: None,
            description: String::new(),
            memory_mb: 128,
            timeout: Duration::from_secs(3),
            environment: BTreeMap::new(),
            region: DEFAULT_REGION.to_owned(),
            account_id: DEFAULT_ACCOUNT_ID.to_owned(),
            reserved_concurrency: None,
            provisioned_concurrency: 0,
            max_concurrency: None,
            freeze: true,
            scaling_rate: None,
            idle_timeout: Duration::from_secs(600),
            init_timeout: Duration::from_secs(10),
            stream_max_bytes: crate::stream::DEFAULT_MAX_STREAM_BYTES,
            stream_bandwidth_shape: false,
            url: None,
            urls: BTreeMap::new(),
            reload: true,
            extensions: Vec::new(),
            layers: Vec::new(),
            event_invoke: None,
            logging: super::LoggingConfig::default(),
            versions: BTreeMap::new(),
            aliases: BTreeMap::new(),
            code_dir_given: false,
            version: super::versions::LATEST.to_owned(),
            published: Vec::new(),
            launch: super::runtimes::Launch::Command,
            package: None,
            resolved_layers: Vec::new(),
            layer_extensions: Vec::new(),
            program_from_path: false,
            snapshot: None,
        }
    }

    /// Sets the program and its arguments.
    pub fn command<I, S>(mut self, command: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.command = command.into_iter().map(Into::into).collect();
        self
    }

    /// Runs the code in `code_dir` with a Lambda runtime (`python3.12`, `nodejs22.x`,
    /// `provided.al2023`) instead of a `command`.
    ///
    /// ```
    /// use firebox_emulator::FunctionConfig;
    /// let f = FunctionConfig::new("orders")
    ///     .runtime("python3.12")
    ///     .code_dir("functions/orders")
    ///     .handler("app.handler");
    /// assert_eq!(f.runtime.as_deref(), Some("python3.12"));
    /// ```
    pub fn runtime(mut self, runtime: impl Into<String>) -> Self {
        self.runtime = Some(runtime.into());
        self
    }

    /// Sets the working directory.
    pub fn code_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.code_dir = Some(dir.into());
        self.code_dir_given = true;
        self
    }

    /// Sets `_HANDLER`.
    pub fn handler(mut self, handler: impl Into<String>) -> Self {
        self.handler = Some(handler.into());
        self
    }

    /// Sets the description the control plane shows.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }

    /// Sets the memory size in MB.
    pub fn memory_mb(mut self, mb: u32) -> Self {
        self.memory_mb = mb;
        self
    }

    /// Sets the invocation timeout.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Adds one environment variable.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.environment.insert(key.into(), value.into());
        self
    }

    /// Sets the region.
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = region.into();
        self
    }

    /// Sets the account id.
    pub fn account_id(mut self, account: impl Into<String>) -> Self {
        self.account_id = account.into();
        self
    }

    /// Former per-function cap; now an alias of [`FunctionConfig::reserved_concurrency`].
    pub fn max_environments(self, n: usize) -> Self {
        self.reserved_concurrency(u32::try_from(n).unwrap_or(u32::MAX))
    }

    /// Sets the reserved concurrency (0 throttles every invoke).
    pub fn reserved_concurrency(mut self, n: u32) -> Self {
        self.reserved_concurrency = Some(n);
        self
    }

    /// Sets the provisioned concurrency.
    pub fn provisioned_concurrency(mut self, n: u32) -> Self {
        self.provisioned_concurrency = n;
        self
    }

    /// Sets multi-concurrency: up to `n` invocations per environment.
    pub fn max_concurrency(mut self, n: u32) -> Self {
        self.max_concurrency = Some(n);
        self
    }

    /// Turns freezing of idle environments on or off.
    pub fn freeze(mut self, freeze: bool) -> Self {
        self.freeze = freeze;
        self
    }

    /// Turns reloading on a code change on or off.
    pub fn reload(mut self, reload: bool) -> Self {
        self.reload = reload;
        self
    }

    /// Adds an external extension: an executable started, with no arguments, in each
    /// environment before the runtime.
    ///
    /// ```
    /// use firebox_emulator::FunctionConfig;
    /// let f = FunctionConfig::new("hello")
    ///     .command(["target/release/hello"])
    ///     .extension("extensions/logger");
    /// assert_eq!(f.extensions.len(), 1);
    /// ```
    pub fn extension(mut self, path: impl Into<PathBuf>) -> Self {
        self.extensions.push(path.into());
        self
    }

    /// Adds a layer: a directory laid out as Lambda extracts a layer under `/opt` (`bin`,
    /// `lib`, `python`, `nodejs/node_modules`, `extensions`). Layers apply in the order they
    /// are added, a later one winning.
    ///
    /// ```
    /// use firebox_emulator::FunctionConfig;
    /// let f = FunctionConfig::new("app")
    ///     .runtime("python3.12")
    ///     .code_dir("app")
    ///     .layer("layers/dependencies");
    /// assert_eq!(f.layers.len(), 1);
    /// ```
    pub fn layer(mut self, dir: impl Into<PathBuf>) -> Self {
        self.layers.push(dir.into());
        self
    }

    /// Sets the log format and levels (Lambda's `LoggingConfig`).
    pub fn logging(mut self, logging: super::LoggingConfig) -> Self {
        self.logging = logging;
        self
    }

    /// Sets how `Event` invocations are retried and where their outcomes go.
    pub fn event_invoke(mut self, event_invoke: super::EventInvokeConfig) -> Self {
        self.event_invoke = Some(event_invoke);
        self
    }

    /// Limits how fast environments are added.
    pub fn scaling_rate(mut self, rate: ScalingRate) -> Self {
        self.scaling_rate = Some(rate);
        self
    }

    /// Invocations one environment holds at once (1 unless multi-concurrency is on).
    pub fn slots(&self) -> u32 {
        self.max_concurrency.unwrap_or(1).max(1)
    }

    /// Sets how long an idle environment is kept.
    pub fn idle_timeout(mut self, idle: Duration) -> Self {
        self.idle_timeout = idle;
        self
    }

    /// Sets the on-demand Init limit.
    pub fn init_timeout(mut self, init: Duration) -> Self {
        self.init_timeout = init;
        self
    }

    /// Gives the function a URL: for `$LATEST`, or for the alias `url.qualifier` names
    /// (`[functions.NAME.url]`; a second call replaces it).
    pub fn url(mut self, url: crate::url::UrlConfig) -> Self {
        self.url = Some(url);
        self
    }

    /// Gives the function a URL for `qualifier`, `$LATEST` or one of its aliases
    /// (`[functions.NAME.urls.QUALIFIER]`), beside the others: a function has one URL per
    /// qualifier, as on Lambda.
    ///
    /// ```
    /// use firebox_emulator::url::UrlConfig;
    /// use firebox_emulator::{AliasConfig, FunctionConfig, VersionConfig};
    /// let f = FunctionConfig::new("web")
    ///     .publish(1, VersionConfig::new())
    ///     .alias("live", AliasConfig::new("1"))
    ///     .url(UrlConfig::default()) // $LATEST's
    ///     .url_for("live", UrlConfig::default()); // the alias's
    /// assert_eq!(f.declared_urls().len(), 2);
    /// ```
    pub fn url_for(mut self, qualifier: impl Into<String>, url: crate::url::UrlConfig) -> Self {
        self.urls.insert(qualifier.into(), url);
        self
    }

    /// Sets the largest streamed response.
    pub fn stream_max_bytes(mut self, bytes: u64) -> Self {
        self.stream_max_bytes = bytes;
        self
    }

    /// Turns Lambda's streaming bandwidth shape on or off.
    pub fn stream_bandwidth_shape(mut self, on: bool) -> Self {
        self.stream_bandwidth_shape = on;
        self
    }

    /// Makes `command` again from how the function is launched, after its handler or code
    /// directory changed (a `command` given by hand stays as it is).
    pub(crate) fn derive_command(&mut self) {
        if let Some(command) = super::runtimes::command_for(
            &self.launch,
            self.code_dir.as_deref(),
            self.handler.as_deref(),
        ) {
            self.command = command;
        }
    }

    /// Takes a managed runtime's command from `runtimes`, for this function and its
    /// published versions (after `validate`); the error names the field.
    pub(crate) fn apply_runtimes(
        &mut self,
        runtimes: &super::Runtimes,
    ) -> Result<(), (String, String)> {
        self.apply_runtime(runtimes)?;
        for version in &mut self.published {
            version
                .apply_runtime(runtimes)
                .map_err(|(field, m)| (format!("versions.{}.{field}", version.version), m))?;
        }
        Ok(())
    }

    fn apply_runtime(&mut self, runtimes: &super::Runtimes) -> Result<(), (String, String)> {
        let Some(runtime) = &self.runtime else {
            return Ok(());
        };
        self.launch = runtimes
            .launch(runtime)
            .map_err(|m| ("runtime".to_owned(), m))?;
        if matches!(self.launch, super::runtimes::Launch::Runtime(_)) && self.handler.is_none() {
            return Err((
                "handler".to_owned(),
                format!("`{runtime}` needs a `handler` (e.g. `app.handler`)"),
            ));
        }
        self.derive_command();
        Ok(())
    }

    /// The ARN of this function with a qualifier (a version or an alias).
    pub fn qualified_arn(&self, qualifier: &str) -> String {
        format!("{}:{qualifier}", self.arn())
    }

    /// The unqualified ARN of this function.
    pub fn arn(&self) -> String {
        format!(
            "arn:aws:lambda:{}:{}:function:{}",
            self.region, self.account_id, self.name
        )
    }
}
