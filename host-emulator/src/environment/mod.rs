//! One execution environment: a single task that owns the function process, its Runtime API
//! listener, its log capture, its timers and its state (Init, then up to `slots` invocations at
//! once: one, or `max_concurrency` under multi-concurrency). It talks to the scheduler and to
//! the Runtime API handlers only through channels. This module holds the task's loop, its start
//! and its end; the other modules handle one concern each:
//! - `invocations`: the invocations it holds, their delivery to `/next`, deadlines, freezing;
//! - `calls` and `streaming`: the runtime's Runtime API calls;
//! - `extensions`: the Extensions API, and the extensions' part in Init, Invoke and Shutdown;
//! - [`telemetry`]: the Telemetry API's subscriptions and the records sent to them;
//! - `ending`: crashes, timeouts, running out of memory and failed Inits;
//! - `reset`: the Shutdown phase, Lambda's reset after a failure, which behaves like it, and
//!   the environment's wait after a reset for the invocation whose Init it runs (a suppressed
//!   Init);
//! - `output`: the function's output, platform lines, tails and REPORT;
//! - `namespace`: the mount namespace of each of its processes: the layers mounted at `/opt`, and
//!   its private directory at `/tmp` (when asked for);
//! - [`process`], `group`, [`cgroup`], `joining`, `memory`: the process tree, its isolation (the move
//!   into its cgroups happens off the cold path) and its memory;
//! - `sweep`: the processes that left the process group and the cgroups, killed at the end;
//! - `variables`: the process's environment variables, built from scratch.

mod calls;
pub mod cgroup;
mod ending;
pub(crate) mod errors;
mod extensions;
mod group;
mod invocations;
mod joining;
mod memory;
mod namespace;
mod output;
mod peak;
pub mod process;
mod reset;
mod streaming;
mod sweep;
pub mod telemetry;
mod variables;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::{mpsc, watch};
use tokio::time::Sleep;

use crate::api::runtime::RuntimeRequest;
use crate::invocation::{error_document, Answer, Invocation};
use crate::logs::system::PlatformLine;
use crate::logs::Tail;
use crate::scheduler::{FunctionShared, PoolMessage};
use extensions::Extensions;
use invocations::Held;
use process::{Launch, Process, SpawnError, TempDir};

/// How long a runtime that posted `/init/error` may take to exit before it is killed.
const INIT_ERROR_EXIT_GRACE: Duration = Duration::from_secs(2);

/// How often a busy or initialising environment's memory is checked against its limit.
const MEMORY_CHECK_INTERVAL: Duration = Duration::from_millis(50);

/// How long an environment stays idle, its runtime waiting in `/next`, before it is frozen.
/// Short enough that background work makes no real progress between invocations; long enough
/// that back-to-back invocations (steady load) skip the freeze and thaw, as on Lambda, where an
/// event already waiting is handed to `/next` at once.
const FREEZE_GRACE: Duration = Duration::from_millis(10);

/// Identifies an environment within its function's pool.
pub type EnvId = u64;

/// Why an environment exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvKind {
    /// Started for an invocation that found no free environment.
    OnDemand,
    /// Started ahead of traffic for provisioned concurrency.
    Provisioned,
}

impl EnvKind {
    /// `on-demand` or `provisioned`.
    pub fn as_str(self) -> &'static str {
        match self {
            EnvKind::OnDemand => "on-demand",
            EnvKind::Provisioned => "provisioned",
        }
    }
}

/// What the scheduler tells an environment.
// An invocation moves through here unboxed on purpose: boxing would add an allocation per
// invoke on the hot path for no gain (it is moved once).
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum EnvCommand {
    /// Run this invocation (the environment reported a free slot).
    Invoke(Invocation),
    /// Shut down (idle reclaim or emulator shutdown).
    Shutdown,
}

/// The event handed to the runtime's `/next`.
#[derive(Debug, Clone)]
pub struct NextEvent {
    /// `Lambda-Runtime-Aws-Request-Id`.
    pub request_id: String,
    /// The body.
    pub payload: Bytes,
    /// `Lambda-Runtime-Deadline-Ms`.
    pub deadline_ms: u64,
    /// `Lambda-Runtime-Invoked-Function-Arn`.
    pub invoked_arn: String,
    /// `Lambda-Runtime-Trace-Id`.
    pub trace_id: String,
    /// `Lambda-Runtime-Client-Context`.
    pub client_context: Option<String>,
    /// `Lambda-Runtime-Cognito-Identity`.
    pub cognito_identity: Option<String>,
    /// `Lambda-Runtime-Aws-Tenant-Id`.
    pub tenant_id: Option<String>,
}

impl NextEvent {
    /// The event of `invocation`, due at `deadline_ms` (Unix milliseconds).
    pub fn new(invocation: &Invocation, deadline_ms: u64) -> Self {
        Self {
            request_id: invocation.request_id.clone(),
            payload: invocation.payload.clone(),
            deadline_ms,
            invoked_arn: invocation.invoked_arn.clone(),
            trace_id: invocation.trace_id.clone(),
            client_context: invocation.client_context.clone(),
            cognito_identity: invocation.cognito_identity.clone(),
            tenant_id: invocation.tenant_id.clone(),
        }
    }
}

/// The answer to a `/next` call.
#[derive(Debug)]
pub enum NextAnswer {
    /// An event.
    Event(NextEvent),
    /// The call is refused.
    Refused(errors::Refusal),
}

/// Where the environment is in its life.
#[derive(Debug, Clone, Copy)]
enum Phase {
    /// The process runs but has not called `/next` yet.
    Initializing {
        since: Instant,
        /// Init runs inside an invoke (a first Init that failed or timed out, retried; or the
        /// Init after a reset): the invoke's clock already runs.
        retried: bool,
    },
    /// Init is over: invocations are delivered to `/next` calls.
    Ready,
    /// Its processes were ended by a reset after a failure: it waits, with no process but its
    /// Runtime API listener and `TMPDIR` kept, for the invocation inside which Init runs again
    /// (see `reset`).
    Reset,
}

/// Why the environment's processes end.
enum End {
    /// The process exited or failed; the cause was already answered and logged (or, for a
    /// first Init, is to be retried). An on-demand environment with one slot is reset and
    /// kept (see `reset`); any other one ends.
    Failed,
    /// Its processes could not be started (the cause was already answered): it ends.
    Broken,
    /// Asked to shut down.
    Shutdown,
}

/// Runs one environment until it is gone; `first` is the invocation that caused its creation
/// (none for provisioned environments).
pub(crate) async fn run(
    id: EnvId,
    shared: Arc<FunctionShared>,
    first: Option<Invocation>,
    (kind, generation): (EnvKind, u64),
    commands: (
        mpsc::WeakUnboundedSender<EnvCommand>,
        mpsc::UnboundedReceiver<EnvCommand>,
    ),
    shutdown: watch::Receiver<bool>,
) {
    let started = Environment::start(id, shared.clone(), first, (kind, generation), commands);
    let mut env = match started.await {
        Ok(env) => env,
        Err((None, message)) => {
            shared
                .log
                .platform_line(PlatformLine::fault(format!("Error: {message}")));
            let _ = shared.pool.send(PoolMessage::Gone(id, message));
            return;
        }
        Err((Some(invocation), message)) => {
            let text = format!("RequestId: {} Error: {message}", invocation.request_id);
            shared.log.platform_line(PlatformLine::fault(text.clone()));
            shared
                .log
                .platform_line(PlatformLine::fault("Runtime.InvalidEntrypoint".into()));
            let doc = error_document("Runtime.InvalidEntrypoint", &text);
            invocation.finish(Answer::FunctionError(doc), None);
            let _ = shared.pool.send(PoolMessage::Gone(id, message));
            return;
        }
    };
    env.run(shutdown).await;
    env.finish().await;
}

struct Environment {
    id: EnvId,
    shared: Arc<FunctionShared>,
    /// Its own command channel, to offer a freed slot with (weak: the scheduler's sender is
    /// what keeps the channel open).
    me: mpsc::WeakUnboundedSender<EnvCommand>,
    commands: mpsc::UnboundedReceiver<EnvCommand>,
    requests: mpsc::UnboundedReceiver<RuntimeRequest>,
    runtime_api: std::net::SocketAddr,
    _server: AbortOnDrop,
    process: Option<Process>,
    log_stream: String,
    tmp: TempDir,
    phase: Phase,
    /// The invocations it holds and the runtime's waiting `/next` calls.
    held: Held,
    /// The Init duration, until the first invocation reports it.
    cold_init: Option<Duration>,
    /// When Init ran inside an invoke: when that Init began and the invoke's deadline, for the
    /// first invocation delivered.
    retried_init: Option<(Instant, Instant)>,
    /// The tail of the invocation that started this environment, with the Init lines, until
    /// it is delivered (request id, tail).
    init_tail: Option<(String, Tail)>,
    peak_memory: u64,
    /// An invocation was answered with a peak past the limit: the environment runs out of
    /// memory at the next turn of its loop (see `memory`).
    memory_exceeded: bool,
    /// The runtime's output pipe.
    function_output: output::OutputReader,
    /// The external extensions' output pipe (closed when there are none).
    extension_output: output::OutputReader,
    /// The runtime's telemetry log descriptor (closed before the runtime starts).
    frame_output: output::FrameReader,
    /// Lines read and not yet written out (kept to reuse its allocation).
    lines: Vec<String>,
    /// How long the process may take to exit by itself before it is killed.
    exit_grace: Duration,
    timer: std::pin::Pin<Box<Sleep>>,
    /// When an idle environment is to be frozen (see [`FREEZE_GRACE`]); `None` when no freeze
    /// is scheduled.
    freeze_at: Option<Instant>,
    freeze_timer: std::pin::Pin<Box<Sleep>>,
    deadline: Option<Instant>,
    kind: EnvKind,
    /// Invocations it may hold at once (`max_concurrency`, else 1).
    slots: u32,
    /// Why it ended, for the `serve` log.
    end_reason: String,
    /// The code generation it was started under (see [`FunctionShared::code_generation`]).
    generation: u64,
    /// Its code changed while it held invocations: it ends once they are answered.
    retire_when_idle: bool,
    memory_check: tokio::time::Interval,
    /// Its extensions.
    extensions: Extensions,
    /// The `shutdownReason` its extensions get: `spindown`, `timeout` or `failure`.
    shutdown_reason: &'static str,
    /// Its Telemetry API subscriptions.
    telemetry: telemetry::Telemetry,
}

/// Aborts a task when dropped.
#[derive(Debug)]
pub(crate) struct AbortOnDrop(pub(crate) tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Environment {
    async fn start(
        id: EnvId,
        shared: Arc<FunctionShared>,
        first: Option<Invocation>,
        (kind, generation): (EnvKind, u64),
        (me, commands): (
            mpsc::WeakUnboundedSender<EnvCommand>,
            mpsc::UnboundedReceiver<EnvCommand>,
        ),
    ) -> Result<Self, (Option<Invocation>, String)> {
        let setup = |e: std::io::Error| format!("cannot prepare the environment: {e}");
        let listener = match tokio::net::TcpListener::bind(("127.0.0.1", 0)).await {
            Ok(l) => l,
            Err(e) => return Err((first, setup(e))),
        };
        let runtime_api = match listener.local_addr() {
            Ok(a) => a,
            Err(e) => return Err((first, setup(e))),
        };
        let tmp = match TempDir::create(&shared.config.name) {
            Ok(t) => t,
            Err(e) => return Err((first, setup(e))),
        };
        let slots = shared.config.slots();
        let log_stream = crate::ids::log_stream_name(shared.config.version());
        let (req_tx, requests) = mpsc::unbounded_channel();
        let server = AbortOnDrop(tokio::spawn(crate::api::runtime::serve(listener, req_tx)));
        let init_tail = first
            .as_ref()
            .filter(|f| f.tail)
            .map(|f| (f.request_id.clone(), Tail::default()));
        let mut env = Self {
            id,
            shared,
            me,
            commands,
            requests,
            runtime_api,
            _server: server,
            process: None,
            log_stream,
            tmp,
            phase: Phase::Initializing {
                since: Instant::now(),
                retried: false,
            },
            held: Held::default(),
            cold_init: None,
            retried_init: None,
            init_tail,
            peak_memory: 0,
            memory_exceeded: false,
            function_output: output::OutputReader::new(true),
            extension_output: output::OutputReader::new(false),
            frame_output: output::FrameReader::new(false),
            lines: Vec::new(),
            exit_grace: Duration::ZERO,
            timer: Box::pin(tokio::time::sleep(Duration::from_secs(3600))),
            freeze_at: None,
            freeze_timer: Box::pin(tokio::time::sleep(Duration::from_secs(3600))),
            deadline: None,
            kind,
            slots,
            end_reason: String::new(),
            memory_check: memory_interval(),
            generation,
            retire_when_idle: false,
            extensions: Extensions::default(),
            shutdown_reason: "spindown",
            telemetry: telemetry::Telemetry::initializing(),
        };
        if let Some(first) = first {
            env.held.pending.push_back(first);
        }
        let init_start = env.init_start("init");
        env.telemetry.platform_line(&init_start);
        env.platform(init_start);
        match env.spawn_members() {
            Ok(()) => {
                let limit = match kind {
                    EnvKind::OnDemand => env.shared.config.init_timeout,
                    EnvKind::Provisioned => crate::scheduler::limits::PROVISIONED_INIT_TIMEOUT
                        .max(env.shared.config.timeout),
                };
                env.set_deadline(Some(Instant::now() + limit));
                Ok(env)
            }
            Err(e) if env.held.pending.is_empty() => Err((None, e.to_string())),
            Err(e) => {
                // Init failed at once; with no process, `serve` ends straight away and the
                // failure takes its course (see `ending`).
                env.cannot_spawn(&e);
                Ok(env)
            }
        }
    }

    /// Starts the next members of the environment: its external extensions first when it has
    /// some (they register before the runtime starts), otherwise the runtime.
    fn spawn(&mut self) -> Result<(), SpawnError> {
        let init_type = self.init_type();
        let launch = Launch {
            config: &self.shared.config,
            runtime_api: self.runtime_api,
            log_stream: &self.log_stream,
            tmp: self.tmp.path(),
            registry: &self.shared.registry,
            init_type,
            isolation: &self.shared.isolation,
        };
        if let Some(process) = self.process.as_mut().filter(|p| !p.runtime_started()) {
            process.spawn_runtime(&launch)?;
            tracing::debug!(function = %self.shared.config.name, env = self.id, pid = process.pid(), "runtime started");
            self.frame_output = output::FrameReader::new(true);
            return Ok(());
        }
        let process = if self.extensions.none_awaited() {
            Process::spawn(&launch)?
        } else {
            Process::spawn_extensions(&launch)?
        };
        tracing::debug!(function = %self.shared.config.name, env = self.id, pid = process.pid(), "environment started");
        self.function_output = output::OutputReader::new(true);
        self.extension_output = output::OutputReader::new(process.extension_output.is_some());
        self.frame_output = output::FrameReader::new(process.log_frames.is_some());
        self.process = Some(process);
        Ok(())
    }

    /// The `INIT_START` line (and `platform.initStart` record) of an Init in `phase`.
    fn init_start(&self, phase: &str) -> PlatformLine {
        let config = &self.shared.config;
        let runtime =
            crate::logs::system::RuntimeVersion::new(config.runtime.as_deref(), &config.region);
        PlatformLine::init_start(
            self.init_type(),
            phase,
            (&config.name, config.version()),
            &runtime,
        )
    }

    /// `AWS_LAMBDA_INITIALIZATION_TYPE`.
    fn init_type(&self) -> &'static str {
        if self.shared.config.max_concurrency.is_some() {
            "lambda-managed-instances"
        } else if self.kind == EnvKind::Provisioned {
            "provisioned-concurrency"
        } else {
            "on-demand"
        }
    }

    fn set_deadline(&mut self, deadline: Option<Instant>) {
        self.deadline = deadline;
        if let Some(d) = deadline {
            self.timer.as_mut().reset(d.into());
        }
    }

    /// Serves invocations until the environment ends, resetting it after each failure it
    /// survives.
    async fn run(&mut self, mut shutdown: watch::Receiver<bool>) {
        let mut buf = vec![0u8; 64 * 1024];
        let end = loop {
            match self.serve(&mut shutdown, &mut buf).await {
                End::Failed if self.survives_failure() => {
                    if let Err(end) = self.reset_after_failure(&mut shutdown).await {
                        break end;
                    }
                }
                end => break end,
            }
        };
        if let End::Shutdown = end {
            self.drain_final_output(&mut buf);
            if self.end_reason.is_empty() {
                self.end_reason = "shut down".into();
            }
            for active in std::mem::take(&mut self.held.active) {
                active.invocation.finish(
                    Answer::ServiceError("The emulator is shutting down.".into()),
                    None,
                );
            }
        }
    }

    /// Runs the processes: Init, then invocations, until they fail or the environment is
    /// asked to shut down.
    async fn serve(&mut self, shutdown: &mut watch::Receiver<bool>, buf: &mut [u8]) -> End {
        loop {
            if self.retire_when_idle && self.held.active.is_empty() && self.held.pending.is_empty()
            {
                self.end_reason = "its code changed".into();
                break End::Shutdown;
            }
            if self.memory_exceeded {
                if let Err(end) = self.check_memory(buf).await {
                    break end;
                }
            }
            let watch_memory = self.watching_memory();
            let open = self.open_pipes();
            let Some(process) = self.process.as_mut() else {
                break End::Failed;
            };
            let extensions_alive = process.extensions_alive();
            let (exit, extension_exit, pipes) = process.watch();
            tokio::select! {
                biased;
                status = exit => {
                    self.drain_final_output(buf);
                    // Killed by the emulator stopping at once (it signals the shutdown before
                    // it kills): its invocations are answered as the shutdown's, not as a
                    // crash of the runtime.
                    if *shutdown.borrow() {
                        break End::Shutdown;
                    }
                    self.on_exit(status);
                    break End::Failed;
                }
                (name, status) = extension_exit, if extensions_alive => {
                    self.drain_final_output(buf);
                    if *shutdown.borrow() {
                        break End::Shutdown;
                    }
                    self.on_extension_exit(&name, status);
                    break End::Failed;
                }
                ready = output::any_readable(pipes, open) => {
                    if ready.is_ok() {
                        self.drain_output(buf);
                    }
                }
                Some(request) = self.requests.recv() => {
                    if let Err(end) = self.on_request(request, buf).await {
                        break end;
                    }
                }
                command = self.commands.recv() => match command {
                    Some(EnvCommand::Invoke(invocation)) => self.on_invoke(invocation),
                    Some(EnvCommand::Shutdown) | None => break End::Shutdown,
                },
                () = self.freeze_timer.as_mut(), if self.freeze_at.is_some() => {
                    self.freeze_at = None;
                    self.freeze_now_if_idle();
                }
                () = self.timer.as_mut(), if self.deadline.is_some() => {
                    self.drain_final_output(buf);
                    if let Err(end) = self.on_deadline().await {
                        break end;
                    }
                }
                _ = self.memory_check.tick(), if watch_memory => {
                    if let Err(end) = self.check_memory(buf).await {
                        break end;
                    }
                }
                changed = shutdown.changed() => {
                    if changed.is_err() || *shutdown.borrow() {
                        break End::Shutdown;
                    }
                }
            }
        }
    }

    /// Kills what is left, tells the scheduler, and hands back undelivered invocations.
    async fn finish(mut self) {
        self.reset(self.shutdown_reason).await;
        let reason = std::mem::take(&mut self.end_reason);
        let _ = self.shared.pool.send(PoolMessage::Gone(self.id, reason));
        self.commands.close();
        for invocation in self.held.pending.drain(..) {
            let _ = self.shared.pool.send(PoolMessage::Retry(invocation));
        }
        while let Ok(command) = self.commands.try_recv() {
            if let EnvCommand::Invoke(invocation) = command {
                let _ = self.shared.pool.send(PoolMessage::Retry(invocation));
            }
        }
        tracing::debug!(function = %self.shared.config.name, env = self.id, "environment gone");
    }
}

fn memory_interval() -> tokio::time::Interval {
    let mut i = tokio::time::interval(MEMORY_CHECK_INTERVAL);
    i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    i
}
