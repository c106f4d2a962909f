//! [`EmulatorBuilder`]: the functions and settings of an emulator, validated, and its start
//! (the listener, the isolation it can give environments, a scheduler per function).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::{echo, layers, Emulator, StartError, DEFAULT_SHUTDOWN_GRACE};
use crate::api::invoke;
use crate::config::{
    AccountConfig, Config, ConfigError, FunctionConfig, Runtimes, DEFAULT_ACCOUNT_ID,
    DEFAULT_REGION,
};
use crate::environment::process::{Isolation, ProcessRegistry};
use crate::functions::{Deployment, Functions};
use crate::logs::LogHub;
use crate::scheduler::PoolTasks;

/// Builds an [`Emulator`].
#[derive(Debug, Default)]
pub struct EmulatorBuilder {
    functions: Vec<FunctionConfig>,
    listen: Option<SocketAddr>,
    validated: bool,
    account: AccountConfig,
    runtimes: Runtimes,
    shutdown_grace: Option<Duration>,
    pub(super) echo_logs: bool,
}

/// Validates a function defined in code (paths relative to `base`), with its runtime's command.
pub(super) fn validate_in_code(
    f: FunctionConfig,
    base: &std::path::Path,
    runtimes: &Runtimes,
) -> Result<FunctionConfig, ConfigError> {
    let mut f = f.validate("<code>", base)?;
    f.apply_runtimes(runtimes)
        .map_err(|(field, message)| ConfigError::Field {
            file: "<code>".into(),
            function: f.name.clone(),
            field,
            message,
        })?;
    Ok(f)
}

impl EmulatorBuilder {
    /// A builder of a loaded (and so validated) configuration, listening on `listen` (or the
    /// configuration's address, or `127.0.0.1:0`).
    pub(super) fn of_config(config: Config, listen: Option<SocketAddr>) -> Self {
        EmulatorBuilder {
            functions: config.functions,
            listen: listen.or(config.listen),
            validated: true,
            account: config.account,
            runtimes: config.runtimes,
            shutdown_grace: config.shutdown_grace,
            echo_logs: false,
        }
    }

    /// Adds a function (validated at [`EmulatorBuilder::start`], paths relative to the
    /// current directory).
    pub fn function(mut self, function: FunctionConfig) -> Self {
        self.functions.push(function);
        self
    }

    /// Sets the listen address (default `127.0.0.1:0`, an ephemeral port).
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = Some(addr);
        self
    }

    /// Sets the command of a Lambda runtime (`python3.12`) or runtime family (`python`), for
    /// the functions that name one instead of a `command` (see [`Runtimes`]).
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// use firebox_emulator::{Emulator, FunctionConfig};
    /// let emu = Emulator::builder()
    ///     .runtime_command("python", [".venv/bin/python", "-m", "awslambdaric", "{handler}"])
    ///     .function(
    ///         FunctionConfig::new("orders")
    ///             .runtime("python3.12")
    ///             .code_dir("functions/orders")
    ///             .handler("app.handler"),
    ///     )
    ///     .start()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn runtime_command<I, S>(mut self, runtime: &str, command: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.runtimes.set(runtime, command);
        self
    }

    /// Sets the account concurrency (default 1000).
    pub fn account_concurrency(mut self, n: u32) -> Self {
        self.account.concurrency = n;
        self
    }

    /// Sets the concurrency reserved concurrency may not take (default 100).
    pub fn unreserved_minimum(mut self, n: u32) -> Self {
        self.account.unreserved_minimum = n;
        self
    }

    /// Uses cgroups for freezing and memory limits when the machine allows it (default
    /// true); `false` forces the process group and the `/proc` watcher.
    pub fn cgroups(mut self, on: bool) -> Self {
        self.account.cgroups = on;
        self
    }

    /// Mounts each environment's layers at `/opt`, in mount namespaces of their own, when
    /// the machine allows it (default true); `false` leaves `/opt` the machine's, the layers
    /// found through search paths only.
    pub fn layers_at_opt(mut self, on: bool) -> Self {
        self.account.layers_at_opt = on;
        self
    }

    /// Gives each environment a `/tmp` of its own, as Lambda does, when the machine allows
    /// mount namespaces (default false: `/tmp` is the machine's, shared by every function).
    /// The environment's private directory (its `TMPDIR`) is bound at `/tmp` in a mount
    /// namespace of each of its processes; what it needs under the machine's `/tmp` (its code,
    /// layers, extensions, the programs and files its command names, the directories on its
    /// `PATH`, `LD_LIBRARY_PATH`, `PYTHONPATH` and `NODE_PATH`) stays at its path, read-only.
    pub fn private_tmp(mut self, on: bool) -> Self {
        self.account.private_tmp = on;
        self
    }

    /// Gives each environment CPU in proportion to its memory, as Lambda does (one vCPU at
    /// 1,769 MB; 128 MB gets about 7 % of one), where the machine has a writable cgroup v1
    /// `cpu` controller (default false: every function may use all the machine's CPUs). A
    /// CPU-bound function then takes about as long as on Lambda, and times out where it would.
    pub fn cpu_by_memory(mut self, on: bool) -> Self {
        self.account.cpu_by_memory = on;
        self
    }

    /// Sets how long [`Emulator::shutdown`] lets the requests in flight finish before it ends
    /// the environments (default [`DEFAULT_SHUTDOWN_GRACE`]); what is still running then is
    /// answered `ServiceException`.
    pub fn shutdown_grace(mut self, grace: Duration) -> Self {
        self.shutdown_grace = Some(grace);
        self
    }

    /// Starts the emulator: validates the functions, binds the listener, starts the schedulers.
    /// Environments start on demand, at the first invoke of each function.
    pub async fn start(self) -> Result<Emulator, StartError> {
        let mut functions = Vec::with_capacity(self.functions.len());
        if self.validated {
            functions = self.functions;
        } else {
            let base = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
            for f in self.functions {
                functions.push(validate_in_code(f, &base, &self.runtimes)?);
            }
        }
        let mut seen = std::collections::HashSet::new();
        for f in &functions {
            if !seen.insert(f.name.clone()) {
                return Err(ConfigError::Invalid {
                    file: "<code>".into(),
                    message: format!("function `{}` is defined twice", f.name),
                }
                .into());
            }
        }
        if !self.validated {
            crate::config::check_destinations(&functions, "<code>")?;
            crate::scheduler::limits::check_account(&functions, "<code>", &self.account)?;
        }
        let (default_region, default_account) = functions
            .first()
            .map(|f| (f.region.clone(), f.account_id.clone()))
            .unwrap_or_else(|| (DEFAULT_REGION.into(), DEFAULT_ACCOUNT_ID.into()));
        let (packages, layers) =
            layers::declared(&mut functions, &default_region, &default_account).await?;
        // What emulators that died without cleaning up left behind.
        crate::environment::process::sweep_stale_temp_dirs();
        // Deployed as on Lambda, but better seen at once (and kept for `Emulator::warnings`).
        let mut warnings: Vec<String> = functions
            .iter()
            .flat_map(|f| {
                f.entrypoint_problem()
                    .into_iter()
                    .chain(f.node_client_notice())
            })
            .collect();
        for problem in &warnings {
            tracing::warn!("{problem}");
        }
        // A `provided.*` bootstrap that needs a newer glibc than the runtime's: read off the
        // start-up path.
        crate::config::bootstrap_glibc::warn_in_background(functions.clone());
        // Asking interpreters their version takes a process each: off the start-up path.
        let checks = crate::config::interpreter::version_checks(&functions);
        if !checks.is_empty() {
            let _ = std::thread::Builder::new()
                .name("firebox-interpreter-check".into())
                .spawn(move || {
                    for warning in checks.iter().filter_map(|c| c.run()) {
                        tracing::warn!("{warning}");
                    }
                });
        }
        let addr = self
            .listen
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| StartError::Bind { addr, source })?;
        let local = listener
            .local_addr()
            .map_err(|source| StartError::Bind { addr, source })?;
        // A second descriptor of the listening socket, for a drop to stop it at once (see
        // `Emulator`'s `Drop`).
        let listening = {
            use std::os::fd::AsFd;
            listener
                .as_fd()
                .try_clone_to_owned()
                .map_err(|source| StartError::Bind { addr, source })?
        };

        let logs = Arc::new(LogHub::new(functions.iter().map(|f| f.name.as_str())));
        // Before any environment starts (provisioned ones start below).
        let startup_logs = std::sync::Mutex::new(Some(logs.subscribe()));
        let echo = self.echo_logs.then(|| echo::Echo::start(&logs));
        let registry = ProcessRegistry::default();
        registry.kill_at_exit();
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let pools = Arc::new(PoolTasks::default());
        let account = Arc::new(crate::scheduler::capacity::Account::new(
            &self.account,
            &functions,
        ));
        let isolation = Isolation::detect(&self.account);
        tracing::info!("environments: {}", isolation.describe());
        if let Some(why) = isolation.cpu_by_memory_unavailable() {
            warnings.push(format!("cpu_by_memory is on, but environments cannot get CPU by memory here ({why}): every function may use all the machine's CPUs"));
        }
        if let Some(why) = isolation.private_tmp_unavailable() {
            warnings.push(format!("private_tmp is on, but environments cannot get a /tmp of their own here ({why}): /tmp stays the machine's, shared by every function"));
        }
        for warning in warnings.iter().filter(|w| w.contains("is on, but")) {
            tracing::warn!("{warning}");
        }
        let deployment = Deployment {
            logs: logs.clone(),
            registry: registry.clone(),
            isolation,
            shutdown: shutdown_rx.clone(),
            tasks: pools.clone(),
            account,
            runtimes: self.runtimes,
            packages,
            layers,
            event_outcomes: Default::default(),
        };
        let functions = Arc::new(Functions::new(
            functions,
            default_region,
            default_account,
            deployment,
        ));
        let (stop_accepting, stop_accepting_rx) = watch::channel(false);
        let server = tokio::spawn(invoke::serve(
            listener,
            functions.clone(),
            stop_accepting_rx,
        ));
        tracing::info!(endpoint = %format!("http://{local}"), "firebox emulator listening");
        Ok(Emulator {
            functions,
            addr: local,
            endpoint: format!("http://{local}"),
            logs,
            startup_logs,
            registry,
            shutdown: shutdown_tx,
            stop_accepting,
            shutdown_grace: self.shutdown_grace.unwrap_or(DEFAULT_SHUTDOWN_GRACE),
            server: Some(server),
            listening: Some(listening),
            warnings,
            pools,
            _echo: echo,
        })
    }
}
