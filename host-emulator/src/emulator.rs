//! [`Emulator`]: the running emulator — Invoke API listener, one scheduler per function, the
//! log hub — with the handle tests use to invoke functions and read their logs.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;

use crate::aliases::AliasError;
use crate::client::{self, ClientError, InvokeOptions, InvokeResponse, Payload};
use crate::config::{AliasConfig, Config, ConfigError, FunctionConfig};
use crate::deploy::DeployError;
use crate::environment::process::ProcessRegistry;
use crate::event_invoke::{EventInvokeError, EventInvokeSettings};
use crate::functions::Functions;
use crate::logs::{LogHub, LogLine};
use crate::policy::PolicyError;
use crate::scheduler::capacity::ReservationError;
use crate::scheduler::PoolTasks;
use crate::settings::{FunctionUpdate, SettingsError};
use crate::versions::Function;

mod builder;
mod echo;
mod layers;
mod log_waits;
mod policy;
mod report;
mod streaming;

use builder::validate_in_code;
pub use builder::EmulatorBuilder;
pub use log_waits::LogWaitError;
pub use report::InvocationReport;

/// The emulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A function definition is not valid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// A change to a running function was refused (see [`Emulator::set_reserved_concurrency`],
/// [`Emulator::set_alias`], [`Emulator::update_function_configuration`] and
/// [`Emulator::publish_version`]).
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// The emulator has no function by that name.
    #[error("no function named `{0}`")]
    FunctionNotFound(String),
    /// The alias breaks Lambda's rules or names a version the function does not have.
    #[error(transparent)]
    Alias(#[from] AliasError),
    /// The reservation does not fit the account or the function's provisioned concurrency.
    #[error(transparent)]
    Reservation(#[from] ReservationError),
    /// A setting is out of Lambda's range, or the revision id is not `$LATEST`'s.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// A function could not be created, deleted, or given new code.
    #[error(transparent)]
    Deploy(#[from] DeployError),
    /// An asynchronous-invocation configuration could not be read or changed.
    #[error(transparent)]
    EventInvoke(#[from] EventInvokeError),
    /// A provisioned concurrency configuration could not be read or changed.
    #[error(transparent)]
    Provisioned(#[from] crate::provisioned::ProvisionedError),
    /// A permission could not be added or removed.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// A layer version could not be published.
    #[error(transparent)]
    Layer(#[from] crate::layer_versions::LayerError),
}

/// How long [`Emulator::shutdown`] lets the requests in flight finish, unless
/// [`EmulatorBuilder::shutdown_grace`] (`[server] shutdown_grace_s`) says otherwise.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// A running emulator. Dropping it kills every function process at once, even when a test
/// panics; call [`Emulator::shutdown`] to wait for a clean stop. It runs on the tokio runtime
/// that started it (a `#[tokio::test]`'s ends with the test).
///
/// In an integration test of the package that has the function's binary, name it with
/// `env!("CARGO_BIN_EXE_hello")`; a relative path is taken from the test process's working
/// directory (the package's, under `cargo test`).
///
/// ```no_run
/// use std::time::Duration;
/// use firebox_emulator::{Emulator, FunctionConfig, InvokeOptions};
///
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let emu = Emulator::builder() // ephemeral port on 127.0.0.1
///     .function(
///         FunctionConfig::new("hello")
///             .command(["target/debug/hello"])
///             .timeout(Duration::from_secs(5))
///             .env("GREETING", "hi"),
///     )
///     .start()
///     .await?;
/// let r = emu.invoke("hello", r#"{"name":"a"}"#).await?;
/// assert_eq!(r.status, 200);
/// assert!(r.function_error.is_none()); // Some("Unhandled") on a function error
/// let tail = InvokeOptions { log_tail: true, ..Default::default() };
/// let r = emu.invoke_with("hello", "{}", &tail).await?;
/// assert!(r.log_tail.unwrap().contains("REPORT RequestId"));
/// let reports: Vec<_> = emu
///     .logs("hello")
///     .into_iter()
///     .filter(|l| l.text.starts_with("REPORT"))
///     .collect();
/// assert!(!reports[1].text.contains("Init Duration")); // warm
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Emulator {
    functions: Arc<Functions>,
    addr: SocketAddr,
    endpoint: String,
    logs: Arc<LogHub>,
    /// A subscription made before any environment started, for [`Emulator::logs_from_start`].
    startup_logs: std::sync::Mutex<Option<broadcast::Receiver<LogLine>>>,
    registry: ProcessRegistry,
    /// Ends the schedulers and their environments.
    shutdown: watch::Sender<bool>,
    /// Closes the public listener; its connections end after their request in flight.
    stop_accepting: watch::Sender<bool>,
    /// How long a shutdown waits for the requests in flight.
    shutdown_grace: Duration,
    /// The public listener's task.
    server: Option<JoinHandle<()>>,
    /// The listening socket (a second descriptor): shut down when the emulator is dropped, so
    /// that its port is free at once for another emulator (the task's own descriptor closes
    /// only when the runtime next polls the aborted task).
    listening: Option<std::os::fd::OwnedFd>,
    /// What the start warned about.
    warnings: Vec<String>,
    /// The scheduler of every version of every function.
    pools: Arc<PoolTasks>,
    /// The echo of the log to stdout ([`EmulatorBuilder::echo_logs`]); dropped last, after
    /// the processes are gone, it prints the lines it has not printed yet.
    _echo: Option<echo::Echo>,
}

impl Emulator {
    /// A builder.
    pub fn builder() -> EmulatorBuilder {
        EmulatorBuilder::default()
    }

    /// Starts from a loaded configuration, listening on `listen` (or the configuration's
    /// address, or `127.0.0.1:0`).
    pub async fn from_config(
        config: Config,
        listen: Option<SocketAddr>,
    ) -> Result<Emulator, StartError> {
        EmulatorBuilder::of_config(config, listen).start().await
    }

    /// How long [`Emulator::shutdown`] lets the requests in flight finish.
    pub fn shutdown_grace(&self) -> Duration {
        self.shutdown_grace
    }

    /// The listener's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, for `--endpoint-url` and AWS SDK clients.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Whether environments see their layers at `/opt` (see [`EmulatorBuilder::layers_at_opt`]):
    /// asked for, and the machine allows mount namespaces.
    pub fn layers_at_opt(&self) -> bool {
        self.functions.deployment.isolation.opt_mode().is_some()
    }

    /// Whether each environment has a `/tmp` of its own (see
    /// [`EmulatorBuilder::private_tmp`]): asked for, and the machine allows mount namespaces.
    pub fn private_tmp(&self) -> bool {
        self.functions.deployment.isolation.tmp_mode().is_some()
    }

    /// Whether environments run in cgroups (see [`EmulatorBuilder::cgroups`]): asked for, and
    /// the machine has writable cgroup v1 freezer and memory controllers. Then the kernel
    /// enforces `memory_mb` and its OOM killer picks the victim; otherwise a `/proc` watcher
    /// samples the resident memory of each environment's process tree.
    pub fn cgroups(&self) -> bool {
        self.functions.deployment.isolation.uses_cgroups()
    }

    /// Whether environments get CPU in proportion to their memory (see
    /// [`EmulatorBuilder::cpu_by_memory`]): asked for, and the machine has the cgroups for it.
    pub fn cpu_by_memory(&self) -> bool {
        self.functions.deployment.isolation.cpu_by_memory()
    }

    /// Invokes a function synchronously over HTTP. The payload is text (`&str`, `String`,
    /// `&String`), bytes or a `serde_json::Value` (see [`Payload`]).
    pub async fn invoke(
        &self,
        function: &str,
        payload: impl Into<Payload>,
    ) -> Result<InvokeResponse, ClientError> {
        client::invoke(
            &self.endpoint,
            function,
            payload.into().into(),
            &InvokeOptions::default(),
        )
        .await
    }

    /// Invokes a function over HTTP with options (type, tail, qualifier, client context).
    pub async fn invoke_with(
        &self,
        function: &str,
        payload: impl Into<Payload>,
        options: &InvokeOptions,
    ) -> Result<InvokeResponse, ClientError> {
        client::invoke(&self.endpoint, function, payload.into().into(), options).await
    }

    /// The recent log lines of a function (its output and platform lines); empty for a name
    /// the emulator has no log of ([`Emulator::try_logs`] says so instead).
    pub fn logs(&self, function: &str) -> Vec<LogLine> {
        self.logs.history(function)
    }

    /// What the start warned about (also logged through `tracing`, which a test may not
    /// show): a function whose program is not there (its invokes fail with
    /// `Runtime.InvalidEntrypoint`, as Lambda deploys such code), a Node function whose runtime
    /// client follows another runtime's rules, isolation asked for that this machine cannot
    /// give. A test can assert it is empty.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The recent log lines of one invocation of `function`: its `START`, `END` and `REPORT`,
    /// its errors, and the output written while it was the only invocation in its environment
    /// (see [`LogLine::request_id`]), in order, whoever else invoked the function meanwhile.
    ///
    /// ```no_run
    /// # async fn doc(emu: firebox_emulator::Emulator) -> Result<(), Box<dyn std::error::Error>> {
    /// let r = emu.invoke("hello", r#"{"name":"Ada"}"#).await?;
    /// let id = r.request_id.as_deref().unwrap_or_default();
    /// let report = emu.report("hello", id, std::time::Duration::from_secs(5)).await?;
    /// let lines = emu.invocation_logs("hello", id);
    /// assert!(lines.first().is_some_and(|l| l.text.starts_with("START")));
    /// # let _ = report; Ok(()) }
    /// ```
    pub fn invocation_logs(&self, function: &str, request_id: &str) -> Vec<LogLine> {
        let mut lines = self.logs.history(function);
        lines.retain(|l| l.request_id.as_deref() == Some(request_id));
        lines
    }

    /// A live subscription to every function's log lines from now on.
    pub fn subscribe_logs(&self) -> broadcast::Receiver<LogLine> {
        self.logs.subscribe()
    }

    /// A live subscription to every function's log lines since the emulator started,
    /// provisioned environments' first lines included (they start before
    /// [`EmulatorBuilder::start`] returns): what `firebox serve` prints. The first call gets
    /// the subscription made at start-up; later calls get one from now on, as
    /// [`Emulator::subscribe_logs`].
    pub fn logs_from_start(&self) -> broadcast::Receiver<LogLine> {
        self.startup_logs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
            .unwrap_or_else(|| self.logs.subscribe())
    }

    /// Sets a function's reserved concurrency, as `PutFunctionConcurrency` does (`None`
    /// removes it, as `DeleteFunctionConcurrency` does). Invocations already running go on;
    /// the next ones are admitted against the new limit (`Some(0)` throttles them all).
    ///
    /// ```no_run
    /// # async fn demo(emu: firebox_emulator::Emulator) -> Result<(), Box<dyn std::error::Error>> {
    /// emu.set_reserved_concurrency("hello", Some(0))?;
    /// assert_eq!(emu.invoke("hello", "{}").await?.status, 429);
    /// emu.set_reserved_concurrency("hello", None)?;
    /// # Ok(()) }
    /// ```
    pub fn set_reserved_concurrency(
        &self,
        function: &str,
        reserved: Option<u32>,
    ) -> Result<(), ControlError> {
        self.function(function)?
            .capacity()
            .set_reserved(reserved)
            .map_err(Into::into)
    }

    /// Points alias `alias` of `function` at `config`'s version and routing, creating the
    /// alias if needed (`CreateAlias`, or `UpdateAlias` of both fields). The next invoke
    /// through the alias runs the new version.
    ///
    /// ```no_run
    /// # async fn demo(emu: firebox_emulator::Emulator) -> Result<(), Box<dyn std::error::Error>> {
    /// use firebox_emulator::AliasConfig;
    /// emu.set_alias("orders", "live", AliasConfig::new("2").route("3", 0.1))?;
    /// # Ok(()) }
    /// ```
    pub fn set_alias(
        &self,
        function: &str,
        alias: &str,
        config: AliasConfig,
    ) -> Result<(), ControlError> {
        self.function(function)?.put_alias(alias, config)?;
        Ok(())
    }

    /// Changes `$LATEST`'s settings, as `UpdateFunctionConfiguration` does: every invoke that
    /// starts after this returns runs in a new environment with the new settings; invocations
    /// already running finish where they are, and then their environments end. Published
    /// versions keep their own settings.
    ///
    /// ```no_run
    /// # async fn demo(emu: firebox_emulator::Emulator) -> Result<(), Box<dyn std::error::Error>> {
    /// use firebox_emulator::FunctionUpdate;
    /// let update = FunctionUpdate {
    ///     environment: Some([("STAGE".to_owned(), "beta".to_owned())].into()),
    ///     memory_mb: Some(256),
    ///     ..FunctionUpdate::default()
    /// };
    /// emu.update_function_configuration("hello", update)?;
    /// # Ok(()) }
    /// ```
    pub fn update_function_configuration(
        &self,
        function: &str,
        update: FunctionUpdate,
    ) -> Result<(), ControlError> {
        self.function(function)?.update_configuration(update)?;
        Ok(())
    }

    /// Publishes `$LATEST`'s settings of the moment as the next version, as `PublishVersion`
    /// does, and returns its number; while `$LATEST` (its settings and its code) has not
    /// changed since the last publish, returns that version's number instead. The version runs
    /// a copy of `$LATEST`'s code on disk (its `code_dir`, or its program, and its extensions),
    /// made now, off the runtime's threads: it keeps running that code when the files change.
    ///
    /// ```no_run
    /// # async fn demo(emu: firebox_emulator::Emulator) -> Result<(), Box<dyn std::error::Error>> {
    /// use firebox_emulator::AliasConfig;
    /// let version = emu.publish_version("hello", Some("release 7")).await?;
    /// emu.set_alias("hello", "live", AliasConfig::new(version))?;
    /// # Ok(()) }
    /// ```
    pub async fn publish_version(
        &self,
        function: &str,
        description: Option<&str>,
    ) -> Result<String, ControlError> {
        let published = self
            .function(function)?
            .publish_version(description.map(str::to_owned), None)
            .await?;
        Ok(published.version.config.version().to_owned())
    }

    /// Removes alias `alias` of `function` (`DeleteAlias`); whether it existed.
    pub fn delete_alias(&self, function: &str, alias: &str) -> Result<bool, ControlError> {
        Ok(self.function(function)?.delete_alias(alias))
    }

    /// Creates a function, as `CreateFunction` does: validated as a `firebox.toml` function
    /// (paths relative to the current directory), it takes invokes at once. Refused when a
    /// function by that name exists.
    ///
    /// ```no_run
    /// # async fn demo(emu: firebox_emulator::Emulator) -> Result<(), Box<dyn std::error::Error>> {
    /// use firebox_emulator::FunctionConfig;
    /// emu.create_function(FunctionConfig::new("later").command(["target/debug/hello"]))?;
    /// assert_eq!(emu.invoke("later", "{}").await?.status, 200);
    /// emu.delete_function("later")?;
    /// # Ok(()) }
    /// ```
    pub fn create_function(&self, config: FunctionConfig) -> Result<(), ControlError> {
        let base = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
        let config = validate_in_code(config, &base, &self.functions.deployment.runtimes)
            .map_err(DeployError::Invalid)?;
        layers::refuse_pending_zips(&config)?;
        crate::deploy::create(&self.functions, config)?;
        Ok(())
    }

    /// Gives `$LATEST` of `function` the code of a `.zip` package, as `UpdateFunctionCode`
    /// does: the package is unpacked into a directory of its own, and every invoke that starts
    /// after this returns runs it in a new environment. For functions launched from a code
    /// directory (a `runtime`, or `code_dir` with its `bootstrap`), not by a `command`.
    pub async fn update_function_code(
        &self,
        function: &str,
        zip: impl Into<Bytes>,
    ) -> Result<(), ControlError> {
        let function = self.function(function)?;
        let packages = &self.functions.deployment.packages;
        crate::deploy::update_code(packages, &function, zip.into(), None, false).await?;
        Ok(())
    }

    /// Deletes a function, as `DeleteFunction` does: invokes get 404 from now on; invocations
    /// already running are answered, then its environments end.
    pub fn delete_function(&self, function: &str) -> Result<(), ControlError> {
        self.functions
            .delete(function)
            .map(|_| ())
            .ok_or_else(|| ControlError::FunctionNotFound(function.to_owned()))
    }

    /// Puts the asynchronous-invocation configuration of `qualifier` (`None`: `$LATEST`) of
    /// `function`, replacing any, as `PutFunctionEventInvokeConfig` does (with
    /// `replace: false`, the settings given go over the existing ones, as
    /// `UpdateFunctionEventInvokeConfig` does). Destinations are function ARNs of this
    /// emulator, other than `function`.
    ///
    /// ```no_run
    /// # fn demo(emu: firebox_emulator::Emulator) -> Result<(), Box<dyn std::error::Error>> {
    /// use firebox_emulator::EventInvokeSettings;
    /// emu.put_event_invoke_config("orders", Some("live"), EventInvokeSettings {
    ///     maximum_retry_attempts: Some(0),
    ///     on_failure: Some("arn:aws:lambda:us-east-1:123456789012:function:dead-letters".into()),
    ///     ..EventInvokeSettings::default()
    /// }, true)?;
    /// # Ok(()) }
    /// ```
    pub fn put_event_invoke_config(
        &self,
        function: &str,
        qualifier: Option<&str>,
        settings: EventInvokeSettings,
        replace: bool,
    ) -> Result<EventInvokeSettings, ControlError> {
        let f = self.function(function)?;
        let stored =
            crate::event_invoke::change(&self.functions, &f, qualifier, settings, replace)?;
        Ok(stored.settings)
    }

    /// The asynchronous-invocation configuration of `qualifier` (`None`: `$LATEST`) of
    /// `function`, as `GetFunctionEventInvokeConfig` shows it; `None` when it has none.
    pub fn event_invoke_config(
        &self,
        function: &str,
        qualifier: Option<&str>,
    ) -> Result<Option<EventInvokeSettings>, ControlError> {
        let f = self.function(function)?;
        Ok(crate::event_invoke::get(&f, qualifier)
            .ok()
            .map(|s| s.settings))
    }

    /// Removes the asynchronous-invocation configuration of `qualifier` (`None`: `$LATEST`),
    /// as `DeleteFunctionEventInvokeConfig` does: its `Event`s get Lambda's defaults.
    pub fn delete_event_invoke_config(
        &self,
        function: &str,
        qualifier: Option<&str>,
    ) -> Result<(), ControlError> {
        let f = self.function(function)?;
        crate::event_invoke::delete(&f, qualifier)?;
        Ok(())
    }

    pub(crate) fn function(&self, name: &str) -> Result<Arc<Function>, ControlError> {
        self.functions
            .get(name)
            .ok_or_else(|| ControlError::FunctionNotFound(name.to_owned()))
    }

    /// How many version schedulers run: one for `$LATEST` and one for each published version
    /// of every function, plus, for a while after an `UpdateFunctionConfiguration`, the one of
    /// the replaced settings (until its environments have ended).
    pub fn running_schedulers(&self) -> usize {
        self.pools.running()
    }

    /// How many function process groups are alive.
    pub fn live_processes(&self) -> usize {
        self.registry.len()
    }

    /// Stops gracefully: closes the listener, lets the invocations in flight finish for up to
    /// the shutdown grace ([`EmulatorBuilder::shutdown_grace`]) — the requests waiting for
    /// their answer, and the `Event` invocations already running (answered 202 long before) —
    /// then shuts every environment down and waits until they are gone. A request still
    /// waiting for its function then is answered `500 ServiceException` ("The emulator is
    /// shutting down."), never cut off. Dropping the emulator instead stops everything at once.
    pub async fn shutdown(mut self) {
        let started = tokio::time::Instant::now();
        let _ = self.stop_accepting.send(true);
        let mut server = self.server.take();
        // The server task ends when its last connection has answered its request in flight.
        let drained = match server.as_mut() {
            Some(task) => tokio::time::timeout(self.shutdown_grace, task)
                .await
                .is_ok(),
            None => true,
        };
        // Then the invocations still running, which no request waits for: `Event`s.
        let account = self.functions.deployment.account.clone();
        let deadline = started + self.shutdown_grace;
        while account.in_use() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        if !drained {
            tracing::info!(
                grace_s = self.shutdown_grace.as_secs_f64(),
                "requests still in flight after the shutdown grace; ending their environments"
            );
        }
        let _ = self.shutdown.send(true);
        // With the listener gone no scheduler starts; one started just before is in the
        // next batch.
        loop {
            let pools = self.pools.take();
            if pools.is_empty() {
                break;
            }
            for pool in pools {
                let _ = pool.await;
            }
        }
        // The requests that outlived the grace got their answer as their environment or
        // queue went; a connection that still does not finish is closed.
        if let Some(mut task) = server.filter(|_| !drained) {
            if tokio::time::timeout(LAST_ANSWERS, &mut task).await.is_err() {
                task.abort();
            }
        }
        self.registry.kill_all();
    }
}

/// How long a shutdown waits, after the environments have ended, for the answers to the
/// requests that outlived the grace to be written.
const LAST_ANSWERS: Duration = Duration::from_secs(1);

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        let _ = self.stop_accepting.send(true);
        if let Some(server) = self.server.take() {
            server.abort();
        }
        if let Some(listening) = self.listening.take() {
            use std::os::fd::AsRawFd;
            // SAFETY: shutdown(2) on a descriptor we own; it stops the socket listening (new
            // connections are refused and the port can be bound again), whoever else holds it.
            unsafe {
                libc::shutdown(listening.as_raw_fd(), libc::SHUT_RDWR);
            }
        }
        self.registry.kill_all();
    }
}
