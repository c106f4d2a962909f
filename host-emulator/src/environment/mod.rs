//! One execution environment: a single task that owns the function process, its Runtime API
//! listener, its log capture, its timers and its state machine
//! (Initializing → Idle ⇄ Busy → Gone). It talks to the scheduler and to the Runtime API
//! handlers only through channels.

mod calls;
pub mod cgroup;
mod errors;
mod memory;
mod multi;
pub mod process;
mod streaming;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Sleep;

use crate::api::runtime::RuntimeRequest;
use crate::invocation::{error_document, Answer, Invocation};
use crate::logs::{LineSplitter, Report, Tail};
use crate::scheduler::{FunctionShared, PoolMessage};
use errors::{exit_reason, timeout_document};
use multi::Multi;
use process::{Launch, Process, SpawnError, TempDir};

/// How long a runtime that posted `/init/error` may take to exit before it is killed.
const INIT_ERROR_EXIT_GRACE: Duration = Duration::from_secs(2);

/// Identifies an environment within its function's pool.
pub type EnvId = u64;

/// How often a busy or initialising environment's memory is checked against its limit.
const MEMORY_CHECK_INTERVAL: Duration = Duration::from_millis(50);

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
    /// Run this invocation (the environment reported itself idle).
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

/// The answer to a `/next` call.
#[derive(Debug)]
pub enum NextAnswer {
    /// An event.
    Event(NextEvent),
    /// The call is not allowed now (400).
    Refused(Bytes),
}

/// The states of an environment (`Gone` is the end of the task).
#[allow(clippy::large_enum_variant)] // one value per environment; `Busy` is the common state
enum State {
    /// The process runs but has not called `/next` yet.
    Initializing {
        since: Instant,
        /// Init was retried inside the invoke: the invoke's clock already runs.
        suppressed: bool,
    },
    /// The runtime waits in `/next` and the scheduler knows it.
    Idle,
    /// An event was delivered and not yet answered.
    Busy(Active),
    /// The event was answered; the runtime has not come back to `/next` yet.
    Settling,
}

struct Active {
    invocation: Invocation,
    started: Instant,
    init: Option<Duration>,
}

/// Why the environment ends.
enum End {
    /// The process exited or failed; the cause was already answered and logged.
    Failed,
    /// Asked to shut down.
    Shutdown,
}

/// Runs one environment until it is gone; `first` is the invocation that caused its creation
/// (none for provisioned environments).
pub(crate) async fn run(
    id: EnvId,
    shared: Arc<FunctionShared>,
    first: Option<Invocation>,
    kind: EnvKind,
    commands: mpsc::UnboundedReceiver<EnvCommand>,
    shutdown: watch::Receiver<bool>,
) {
    let mut env = match Environment::start(id, shared.clone(), first, kind, commands).await {
        Ok(env) => env,
        Err((None, message)) => {
            shared.log.platform(format!("Error: {message}"));
            let _ = shared.pool.send(PoolMessage::Gone(id, message));
            return;
        }
        Err((Some(invocation), message)) => {
            shared.log.platform(format!(
                "RequestId: {} Error: {message}",
                invocation.request_id
            ));
            shared.log.platform("Runtime.InvalidEntrypoint".into());
            let doc = error_document(
                "Runtime.InvalidEntrypoint",
                &format!("RequestId: {} Error: {message}", invocation.request_id),
            );
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
    commands: mpsc::UnboundedReceiver<EnvCommand>,
    requests: mpsc::UnboundedReceiver<RuntimeRequest>,
    runtime_api: std::net::SocketAddr,
    _server: AbortOnDrop,
    process: Option<Process>,
    log_stream: String,
    tmp: TempDir,
    splitter: LineSplitter,
    state: State,
    /// Assigned to this environment, not yet delivered to the runtime.
    pending: Option<Invocation>,
    /// A `/next` call waiting for an event.
    parked: Option<oneshot::Sender<NextAnswer>>,
    /// The Init duration, until the first invocation reports it.
    cold_init: Option<Duration>,
    /// The tail of the invocation in progress or pending, when its caller asked for one.
    tail: Option<Tail>,
    /// The last answered request id, to tell "answered twice" from "unknown".
    last_answered: Option<String>,
    peak_memory: u64,
    /// Whether the output pipe may still deliver bytes (false after end of file).
    output_open: bool,
    /// Whether the scheduler was told this environment is free (and has not used it since).
    reported_idle: bool,
    /// How long the process may take to exit by itself before it is killed.
    exit_grace: Duration,
    timer: std::pin::Pin<Box<Sleep>>,
    deadline: Option<Instant>,
    kind: EnvKind,
    /// Invocations it may hold at once (`max_concurrency`, else 1).
    slots: u32,
    /// Invocations in progress and waiting, under multi-concurrency.
    multi: Multi,
    /// Why it ended, for the `serve` log.
    end_reason: String,
    memory_check: tokio::time::Interval,
}

/// Aborts a task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

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
        kind: EnvKind,
        commands: mpsc::UnboundedReceiver<EnvCommand>,
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
        let shared_slots = shared.config.slots();
        let (req_tx, requests) = mpsc::unbounded_channel();
        let server = AbortOnDrop(tokio::spawn(crate::api::runtime::serve(listener, req_tx)));
        let mut env = Self {
            id,
            shared,
            commands,
            requests,
            runtime_api,
            _server: server,
            process: None,
            log_stream: crate::ids::log_stream_name("$LATEST"),
            tmp,
            splitter: LineSplitter::default(),
            state: State::Initializing {
                since: Instant::now(),
                suppressed: false,
            },
            pending: None,
            parked: None,
            cold_init: None,
            tail: first.as_ref().is_some_and(|f| f.tail).then(Tail::default),
            last_answered: None,
            peak_memory: 0,
            output_open: true,
            reported_idle: false,
            exit_grace: Duration::ZERO,
            timer: Box::pin(tokio::time::sleep(Duration::from_secs(3600))),
            deadline: None,
            kind,
            slots: shared_slots,
            multi: Multi::default(),
            end_reason: String::new(),
            memory_check: memory_interval(),
        };
        env.pending = first;
        env.platform("INIT_START Runtime Version: firebox:provided.al2023 Runtime Version ARN: arn:aws:lambda:::runtime:firebox".into());
        match env.spawn() {
            Ok(()) => {
                let limit = match kind {
                    EnvKind::OnDemand => env.shared.config.init_timeout,
                    EnvKind::Provisioned => crate::scheduler::limits::PROVISIONED_INIT_TIMEOUT
                        .max(env.shared.config.timeout),
                };
                env.set_deadline(Some(Instant::now() + limit));
                Ok(env)
            }
            Err(e) => Err((env.pending.take(), e.to_string())),
        }
    }

    fn spawn(&mut self) -> Result<(), SpawnError> {
        let init_type = if self.shared.config.max_concurrency.is_some() {
            "lambda-managed-instances"
        } else if self.kind == EnvKind::Provisioned {
            "provisioned-concurrency"
        } else {
            "on-demand"
        };
        let process = Process::spawn(&Launch {
            config: &self.shared.config,
            runtime_api: self.runtime_api,
            log_stream: &self.log_stream,
            tmp: self.tmp.path(),
            registry: &self.shared.registry,
            init_type,
            isolation: &self.shared.isolation,
        })?;
        tracing::debug!(function = %self.shared.config.name, env = self.id, pid = process.pid(), "environment started");
        self.process = Some(process);
        self.output_open = true;
        self.splitter = LineSplitter::default();
        Ok(())
    }

    fn set_deadline(&mut self, deadline: Option<Instant>) {
        self.deadline = deadline;
        if let Some(d) = deadline {
            self.timer.as_mut().reset(d.into());
        }
    }

    async fn run(&mut self, mut shutdown: watch::Receiver<bool>) {
        let mut buf = vec![0u8; 64 * 1024];
        let end = loop {
            let watch_memory = self.watching_memory();
            let Some(process) = self.process.as_mut() else {
                break End::Failed;
            };
            let (exit, output) = process.wait_and_output();
            tokio::select! {
                biased;
                status = exit => {
                    self.drain_output(&mut buf);
                    self.on_exit(status);
                    break End::Failed;
                }
                ready = output.readable(), if self.output_open => {
                    if ready.is_ok() {
                        self.drain_output(&mut buf);
                    }
                }
                Some(request) = self.requests.recv() => {
                    if let Err(end) = self.on_request(request, &mut buf).await {
                        break end;
                    }
                }
                command = self.commands.recv() => match command {
                    Some(EnvCommand::Invoke(invocation)) => self.on_invoke(invocation),
                    Some(EnvCommand::Shutdown) | None => break End::Shutdown,
                },
                () = self.timer.as_mut(), if self.deadline.is_some() => {
                    self.drain_output(&mut buf);
                    if let Err(end) = self.on_deadline().await {
                        break end;
                    }
                }
                _ = self.memory_check.tick(), if watch_memory => {
                    if let Err(end) = self.check_memory(&mut buf).await {
                        break end;
                    }
                }
                changed = shutdown.changed() => {
                    if changed.is_err() || *shutdown.borrow() {
                        break End::Shutdown;
                    }
                }
            }
        };
        if let End::Shutdown = end {
            self.drain_output(&mut buf);
            if self.end_reason.is_empty() {
                self.end_reason = "shut down".into();
            }
            self.multi_shutdown();
            if let State::Busy(active) = std::mem::replace(&mut self.state, State::Settling) {
                active.invocation.finish(
                    Answer::ServiceError("the emulator is shutting down".into()),
                    None,
                );
            }
        }
    }

    /// Kills what is left, tells the scheduler, and hands back undelivered invocations.
    async fn finish(mut self) {
        if !self.exit_grace.is_zero() {
            if let Some(process) = self.process.as_mut() {
                let (exit, _) = process.wait_and_output();
                let _ = tokio::time::timeout(self.exit_grace, exit).await;
            }
            let mut buf = vec![0u8; 64 * 1024];
            self.drain_output(&mut buf);
            self.splitter.flush(|line| self.shared.log.output(line));
        }
        if let Some(process) = self.process.take() {
            if process.is_frozen() {
                self.shared
                    .metrics
                    .frozen
                    .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
            }
            process.kill().await;
        }
        let reason = std::mem::take(&mut self.end_reason);
        let _ = self.shared.pool.send(PoolMessage::Gone(self.id, reason));
        self.commands.close();
        if let Some(invocation) = self.pending.take() {
            let _ = self.shared.pool.send(PoolMessage::Retry(invocation));
        }
        for invocation in self.multi.take_pending() {
            let _ = self.shared.pool.send(PoolMessage::Retry(invocation));
        }
        while let Ok(command) = self.commands.try_recv() {
            if let EnvCommand::Invoke(invocation) = command {
                let _ = self.shared.pool.send(PoolMessage::Retry(invocation));
            }
        }
        tracing::debug!(function = %self.shared.config.name, env = self.id, "environment gone");
    }

    fn platform(&mut self, text: String) {
        if let Some(tail) = &mut self.tail {
            tail.push(&text);
        }
        self.shared.log.platform(text);
    }

    /// Reads everything the process has written so far, without waiting.
    fn drain_output(&mut self, buf: &mut [u8]) {
        let Some(process) = &self.process else { return };
        loop {
            match process.output.try_read(buf) {
                Ok(0) => {
                    self.output_open = false;
                    break;
                }
                Ok(n) => {
                    let log = &self.shared.log;
                    let tail = &mut self.tail;
                    self.splitter.feed(&buf[..n], |line| {
                        if let Some(tail) = tail {
                            tail.push(&line);
                        }
                        log.output(line);
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
    }

    fn take_tail(&mut self) -> Option<String> {
        self.tail.take().map(Tail::finish)
    }

    fn memory(&mut self) -> u64 {
        if let Some(p) = &mut self.process {
            self.peak_memory = self.peak_memory.max(p.peak_memory());
        }
        self.peak_memory
    }

    fn report(&mut self, active: &Active) {
        let duration = active.started.elapsed();
        let max_memory_bytes = self.memory();
        let metrics = &self.shared.metrics;
        metrics.duration.observe(duration);
        if active.init.is_some() {
            metrics
                .cold_starts
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        let line = Report {
            request_id: &active.invocation.request_id,
            duration,
            memory_mb: self.shared.config.memory_mb,
            max_memory_bytes,
            init: active.init,
        }
        .line();
        self.platform(format!("END RequestId: {}", active.invocation.request_id));
        self.platform(line);
    }

    /// Ends the invocation in progress with `answer`, logging END and REPORT. When the
    /// environment survives (`keep`), the scheduler learns it is free *before* the caller gets
    /// the answer, so that the caller's next invoke finds it warm.
    fn complete(&mut self, active: Active, answer: Answer, keep: bool) {
        self.report(&active);
        self.last_answered = Some(active.invocation.request_id.clone());
        if keep {
            // One slot is free again.
            let _ = self.shared.pool.send(PoolMessage::Idle(self.id));
        }
        let tail = self.take_tail();
        active.invocation.finish(answer, tail);
    }

    /// Init is over (first `/next`): tells the scheduler how many more invocations this
    /// environment can take, beyond the one it may already hold.
    fn report_ready(&mut self) {
        if !self.reported_idle {
            self.reported_idle = true;
            let held = u32::from(self.pending.is_some());
            let _ = self
                .shared
                .pool
                .send(PoolMessage::Ready(self.id, self.slots.saturating_sub(held)));
        }
    }

    /// Stops the processes while the environment waits for its next event (single
    /// concurrency, `freeze` on).
    fn freeze(&mut self) {
        if !self.shared.config.freeze || self.slots > 1 {
            return;
        }
        if let Some(process) = &mut self.process {
            if !process.is_frozen() && process.freeze() {
                self.shared
                    .metrics
                    .frozen
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
    }

    /// Lets the processes run again before an event is delivered.
    fn thaw(&mut self) {
        if let Some(process) = &mut self.process {
            if process.thaw() {
                self.shared
                    .metrics
                    .frozen
                    .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
    }

    fn on_invoke(&mut self, invocation: Invocation) {
        if self.slots > 1 {
            self.multi_on_invoke(invocation);
            return;
        }
        if self.pending.is_some() || matches!(self.state, State::Busy(_)) {
            // The scheduler raced with a state change: give the invocation back.
            let _ = self.shared.pool.send(PoolMessage::Retry(invocation));
            return;
        }
        self.tail = invocation.tail.then(Tail::default);
        self.pending = Some(invocation);
        self.try_deliver();
    }

    /// Hands the pending invocation to a parked `/next`, if both exist.
    fn try_deliver(&mut self) {
        if self.pending.is_none() || self.parked.is_none() {
            return;
        }
        let (Some(invocation), Some(parked)) = (self.pending.take(), self.parked.take()) else {
            return; // both were just checked to be present
        };
        let (started, init, deadline) = match &self.state {
            State::Initializing {
                since,
                suppressed: true,
            } => (
                *since,
                None,
                self.deadline
                    .unwrap_or_else(|| Instant::now() + self.shared.config.timeout),
            ),
            _ => {
                let now = Instant::now();
                (now, self.cold_init.take(), now + self.shared.config.timeout)
            }
        };
        let remaining = deadline.saturating_duration_since(Instant::now());
        let deadline_ms = crate::ids::millis_of(SystemTime::now() + remaining);
        self.thaw();
        let event = NextEvent {
            request_id: invocation.request_id.clone(),
            payload: invocation.payload.clone(),
            deadline_ms,
            invoked_arn: invocation.invoked_arn.clone(),
            trace_id: invocation.trace_id.clone(),
            client_context: invocation.client_context.clone(),
            cognito_identity: invocation.cognito_identity.clone(),
            tenant_id: invocation.tenant_id.clone(),
        };
        if parked.send(NextAnswer::Event(event)).is_err() {
            // The runtime's `/next` connection went away; wait for the next call.
            self.pending = Some(invocation);
            if matches!(self.state, State::Idle) {
                self.state = State::Settling;
            }
            return;
        }
        self.platform(format!(
            "START RequestId: {} Version: $LATEST",
            invocation.request_id
        ));
        self.state = State::Busy(Active {
            invocation,
            started,
            init,
        });
        self.set_deadline(Some(deadline));
    }

    /// Answers an invocation that never reached the runtime because Init failed.
    fn fail_pending(&mut self, doc: Bytes) {
        if let Some(invocation) = self.pending.take() {
            self.last_answered = Some(invocation.request_id.clone());
            let tail = self.take_tail();
            invocation.finish(Answer::FunctionError(doc), tail);
        }
    }

    fn on_exit(&mut self, status: std::io::Result<std::process::ExitStatus>) {
        self.splitter.flush(|line| self.shared.log.output(line));
        let reason = match status {
            Ok(status) => exit_reason(status),
            Err(e) => Some(format!("wait failed: {e}")),
        };
        let limit = self.memory_limit();
        if self.process.as_mut().is_some_and(|p| p.over_memory(limit)) {
            self.out_of_memory_answers();
            return;
        }
        self.end_reason = format!(
            "runtime exited ({})",
            reason.as_deref().unwrap_or("exit status 0")
        );
        if self.slots > 1 && self.multi_on_exit(&reason) {
            return;
        }
        let describe = |id: &str| match &reason {
            Some(r) => format!("RequestId: {id} Error: Runtime exited with error: {r}"),
            None => format!("RequestId: {id} Error: Runtime exited without providing a reason"),
        };
        match std::mem::replace(&mut self.state, State::Settling) {
            State::Busy(active) => {
                let message = describe(&active.invocation.request_id);
                self.platform(message.clone());
                self.platform("Runtime.ExitError".into());
                let doc = error_document("Runtime.ExitError", &message);
                self.complete(active, Answer::FunctionError(doc), false);
            }
            State::Initializing { since, .. } => {
                if let Some(id) = self.pending.as_ref().map(|i| i.request_id.clone()) {
                    let message = describe(&id);
                    self.platform(format!(
                        "INIT_REPORT Init Duration: {:.2} ms\tPhase: init\tStatus: error\tError Type: Runtime.ExitError",
                        since.elapsed().as_secs_f64() * 1000.0
                    ));
                    self.platform(message.clone());
                    self.platform("Runtime.ExitError".into());
                    self.fail_pending(error_document("Runtime.ExitError", &message));
                }
            }
            State::Idle | State::Settling => {
                tracing::info!(function = %self.shared.config.name, env = self.id, ?reason, "runtime exited between invocations");
            }
        }
        // The process is reaped; its group is killed in `finish`.
    }

    async fn on_deadline(&mut self) -> Result<(), End> {
        let timeout = self.shared.config.timeout;
        if self.slots > 1 && !matches!(self.state, State::Initializing { .. }) {
            return self.multi_on_deadline();
        }
        match std::mem::replace(&mut self.state, State::Settling) {
            State::Busy(active) => {
                self.end_reason = "invocation timed out".into();
                let id = active.invocation.request_id.clone();
                self.timed_out(&id, timeout);
                let doc = timeout_document(&id, timeout);
                self.complete(active, Answer::FunctionError(doc), false);
                Err(End::Failed)
            }
            State::Initializing {
                since,
                suppressed: false,
            } => {
                // Init took longer than allowed: start it again inside the invoke, under the
                // function timeout.
                self.platform(format!(
                    "INIT_REPORT Init Duration: {:.2} ms\tPhase: init\tStatus: timeout",
                    since.elapsed().as_secs_f64() * 1000.0
                ));
                if let Some(process) = self.process.take() {
                    process.kill().await;
                }
                self.parked = None;
                if let Err(e) = self.spawn() {
                    let id = self
                        .pending
                        .as_ref()
                        .map(|i| i.request_id.clone())
                        .unwrap_or_default();
                    let message = format!("RequestId: {id} Error: {e}");
                    self.platform(message.clone());
                    self.fail_pending(error_document("Runtime.InvalidEntrypoint", &message));
                    return Err(End::Failed);
                }
                let now = Instant::now();
                self.state = State::Initializing {
                    since: now,
                    suppressed: true,
                };
                self.set_deadline(Some(now + timeout));
                Ok(())
            }
            State::Initializing {
                suppressed: true, ..
            } => {
                let id = self
                    .pending
                    .as_ref()
                    .map(|i| i.request_id.clone())
                    .unwrap_or_default();
                self.platform(format!(
                    "INIT_REPORT Init Duration: {:.2} ms\tPhase: invoke\tStatus: timeout",
                    timeout.as_secs_f64() * 1000.0
                ));
                self.timed_out(&id, timeout);
                self.fail_pending(timeout_document(&id, timeout));
                self.end_reason = "Init timed out twice".into();
                Err(End::Failed)
            }
            other => {
                self.state = other;
                self.set_deadline(None);
                Ok(())
            }
        }
    }

    fn timed_out(&mut self, id: &str, timeout: Duration) {
        self.platform(format!(
            "{} {id} Task timed out after {:.2} seconds",
            crate::ids::rfc3339_millis(crate::ids::unix_millis()),
            timeout.as_secs_f64()
        ));
    }
}

fn memory_interval() -> tokio::time::Interval {
    let mut i = tokio::time::interval(MEMORY_CHECK_INTERVAL);
    i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    i
}
