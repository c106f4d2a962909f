//! One execution environment: a single task that owns the function process, its Runtime API
//! listener, its log capture, its timers and its state machine
//! (Initializing → Idle ⇄ Busy → Gone). It talks to the scheduler and to the Runtime API
//! handlers only through channels.

pub mod process;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Sleep;

use crate::api::runtime::{RuntimeAnswer, RuntimeRequest};
use crate::invocation::{error_document, error_type_of, Answer, Invocation};
use crate::logs::{LineSplitter, Report, Tail};
use crate::scheduler::{FunctionShared, PoolMessage};
use process::{Launch, Process, SpawnError, TempDir};

/// How long a runtime that posted `/init/error` may take to exit before it is killed.
const INIT_ERROR_EXIT_GRACE: Duration = Duration::from_millis(500);

/// Identifies an environment within its function's pool.
pub type EnvId = u64;

/// What the scheduler tells an environment.
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

/// Runs one environment until it is gone; `first` is the invocation that caused its creation.
pub(crate) async fn run(
    id: EnvId,
    shared: Arc<FunctionShared>,
    first: Invocation,
    commands: mpsc::UnboundedReceiver<EnvCommand>,
    shutdown: watch::Receiver<bool>,
) {
    let mut env = match Environment::start(id, shared.clone(), first, commands).await {
        Ok(env) => env,
        Err((invocation, message)) => {
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
            let _ = shared.pool.send(PoolMessage::Gone(id));
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
        first: Invocation,
        commands: mpsc::UnboundedReceiver<EnvCommand>,
    ) -> Result<Self, (Invocation, String)> {
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
            tail: first.tail.then(Tail::default),
            last_answered: None,
            peak_memory: 0,
            output_open: true,
            reported_idle: false,
            exit_grace: Duration::ZERO,
            timer: Box::pin(tokio::time::sleep(Duration::from_secs(3600))),
            deadline: None,
        };
        env.pending = Some(first);
        env.platform("INIT_START Runtime Version: firebox:provided.al2023 Runtime Version ARN: arn:aws:lambda:::runtime:firebox".into());
        match env.spawn() {
            Ok(()) => {
                let limit = env.shared.config.init_timeout;
                env.set_deadline(Some(Instant::now() + limit));
                Ok(env)
            }
            Err(e) => {
                let invocation = env.pending.take();
                // `pending` was set just above.
                let invocation = invocation.expect("pending invocation set before spawn");
                Err((invocation, e.to_string()))
            }
        }
    }

    fn spawn(&mut self) -> Result<(), SpawnError> {
        let process = Process::spawn(&Launch {
            config: &self.shared.config,
            runtime_api: self.runtime_api,
            log_stream: &self.log_stream,
            tmp: self.tmp.path(),
            registry: &self.shared.registry,
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
                changed = shutdown.changed() => {
                    if changed.is_err() || *shutdown.borrow() {
                        break End::Shutdown;
                    }
                }
            }
        };
        if let End::Shutdown = end {
            self.drain_output(&mut buf);
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
            process.kill().await;
        }
        let _ = self.shared.pool.send(PoolMessage::Gone(self.id));
        self.commands.close();
        if let Some(invocation) = self.pending.take() {
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
        if let Some(p) = &self.process {
            self.peak_memory = self.peak_memory.max(p.peak_memory());
        }
        self.peak_memory
    }

    fn report(&mut self, active: &Active) {
        let duration = active.started.elapsed();
        let max_memory_bytes = self.memory();
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
            self.report_idle();
        }
        let tail = self.take_tail();
        active.invocation.finish(answer, tail);
    }

    /// Tells the scheduler this environment can take an invocation (once per idle period).
    fn report_idle(&mut self) {
        if !self.reported_idle {
            self.reported_idle = true;
            let _ = self.shared.pool.send(PoolMessage::Idle(self.id));
        }
    }

    fn on_invoke(&mut self, invocation: Invocation) {
        if self.pending.is_some() || matches!(self.state, State::Busy(_)) {
            // The scheduler raced with a state change: give the invocation back.
            let _ = self.shared.pool.send(PoolMessage::Retry(invocation));
            return;
        }
        self.reported_idle = false;
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

    async fn on_request(
        &mut self,
        request: RuntimeRequest,
        buf: &mut [u8],
    ) -> Result<(), End> {
        match request {
            RuntimeRequest::Next { reply } => {
                if let State::Busy(active) = &self.state {
                    let doc = error_document(
                        "InvalidStateTransition",
                        &format!(
                            "invocation {} is in progress: post its response or error before calling next",
                            active.invocation.request_id
                        ),
                    );
                    let _ = reply.send(NextAnswer::Refused(doc));
                    return Ok(());
                }
                self.parked = Some(reply);
                if let State::Initializing { since, suppressed } = self.state {
                    if !suppressed {
                        self.cold_init = Some(since.elapsed());
                    }
                    if self.pending.is_some() {
                        self.try_deliver();
                        return Ok(());
                    }
                    self.set_deadline(None);
                    self.state = State::Settling;
                }
                if self.pending.is_some() {
                    self.try_deliver();
                } else {
                    self.state = State::Idle;
                    self.report_idle();
                }
                Ok(())
            }
            RuntimeRequest::Response {
                request_id,
                body,
                reply,
            } => {
                let Some((active, reply)) = self.take_active(&request_id, reply) else {
                    return Ok(());
                };
                let _ = reply.send(RuntimeAnswer::Accepted);
                self.drain_output(buf);
                self.complete(active, Answer::Success(body), true);
                Ok(())
            }
            RuntimeRequest::ResponseTooLarge {
                request_id,
                size,
                reply,
            } => {
                let Some((active, reply)) = self.take_active(&request_id, reply) else {
                    return Ok(());
                };
                let _ = reply.send(RuntimeAnswer::TooLarge);
                self.drain_output(buf);
                let doc = error_document(
                    "Function.ResponseSizeTooLarge",
                    &format!(
                        "Response payload size ({size} bytes) exceeded maximum allowed payload size ({} bytes).",
                        crate::api::MAX_RESPONSE_BYTES
                    ),
                );
                self.platform(format!(
                    "RequestId: {request_id} Error: Response payload size exceeded maximum allowed payload size ({} bytes).",
                    crate::api::MAX_RESPONSE_BYTES
                ));
                self.complete(active, Answer::FunctionError(doc), true);
                Ok(())
            }
            RuntimeRequest::Error {
                request_id,
                error_type,
                body,
                reply,
            } => {
                let Some((active, reply)) = self.take_active(&request_id, reply) else {
                    return Ok(());
                };
                let _ = reply.send(RuntimeAnswer::Accepted);
                self.drain_output(buf);
                let doc = error_body(error_type.as_deref(), body);
                self.complete(active, Answer::FunctionError(doc), true);
                Ok(())
            }
            RuntimeRequest::InitError {
                error_type,
                body,
                reply,
            } => {
                let State::Initializing { since, .. } = self.state else {
                    let _ = reply.send(RuntimeAnswer::BadRequest(error_document(
                        "InvalidStateTransition",
                        "init/error is only allowed before the first call to next",
                    )));
                    return Ok(());
                };
                let _ = reply.send(RuntimeAnswer::Accepted);
                self.drain_output(buf);
                let doc = error_body(error_type.as_deref(), body);
                let kind = error_type_of(&doc).unwrap_or_else(|| "Runtime.Unknown".into());
                self.platform(format!(
                    "INIT_REPORT Init Duration: {:.2} ms\tPhase: init\tStatus: error\tError Type: {kind}",
                    since.elapsed().as_secs_f64() * 1000.0
                ));
                self.fail_pending(doc);
                // The runtime exits by itself after reporting; give it a moment to do so.
                self.exit_grace = INIT_ERROR_EXIT_GRACE;
                Err(End::Failed)
            }
        }
    }

    /// Takes the invocation in progress if `request_id` names it; otherwise answers 400 and
    /// changes nothing.
    fn take_active(
        &mut self,
        request_id: &str,
        reply: oneshot::Sender<RuntimeAnswer>,
    ) -> Option<(Active, oneshot::Sender<RuntimeAnswer>)> {
        match &self.state {
            State::Busy(active) if active.invocation.request_id == request_id => {
                match std::mem::replace(&mut self.state, State::Settling) {
                    State::Busy(active) => {
                        self.set_deadline(None);
                        Some((active, reply))
                    }
                    _ => unreachable!("state was matched as Busy just above"),
                }
            }
            _ => {
                let answered = self.last_answered.as_deref() == Some(request_id);
                let _ = reply.send(RuntimeAnswer::BadRequest(unknown_request(
                    request_id, answered,
                )));
                None
            }
        }
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
        match std::mem::replace(&mut self.state, State::Settling) {
            State::Busy(active) => {
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

/// Error for a runtime answer to a request id that is not the invocation in progress.
pub(crate) fn unknown_request(request_id: &str, answered: bool) -> Bytes {
    if answered {
        error_document(
            "InvalidStateTransition",
            &format!("invocation {request_id} was already answered"),
        )
    } else {
        error_document(
            "InvalidRequestID",
            &format!("invalid request id {request_id}: no such invocation in progress"),
        )
    }
}

fn timeout_document(id: &str, timeout: Duration) -> Bytes {
    error_document(
        "Sandbox.Timedout",
        &format!(
            "RequestId: {id} Error: Task timed out after {:.2} seconds",
            timeout.as_secs_f64()
        ),
    )
}

/// The error document of `/error` or `/init/error`: the body when it is a JSON object (with
/// `errorType` from the header when the body lacks it), otherwise built from the header.
fn error_body(header_type: Option<&str>, body: Option<Bytes>) -> Bytes {
    let parsed = body
        .as_deref()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(b).ok());
    match parsed {
        Some(serde_json::Value::Object(mut doc)) => {
            if !doc.contains_key("errorType") {
                if let Some(t) = header_type {
                    doc.insert("errorType".into(), t.into());
                    return Bytes::from(serde_json::Value::Object(doc).to_string());
                }
            }
            body.unwrap_or_default()
        }
        _ => {
            let message = body
                .as_deref()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default();
            error_document(header_type.unwrap_or("Runtime.Unknown"), &message)
        }
    }
}

/// `exit status N` or `signal: NAME`, as Lambda words it; `None` for a clean exit.
fn exit_reason(status: std::process::ExitStatus) -> Option<String> {
    use std::os::unix::process::ExitStatusExt;
    if let Some(code) = status.code() {
        return (code != 0).then(|| format!("exit status {code}"));
    }
    let signal = status.signal().unwrap_or(0);
    let name = match signal {
        libc::SIGKILL => "killed".to_owned(),
        libc::SIGSEGV => "segmentation fault".to_owned(),
        libc::SIGABRT => "aborted".to_owned(),
        libc::SIGTERM => "terminated".to_owned(),
        libc::SIGBUS => "bus error".to_owned(),
        libc::SIGILL => "illegal instruction".to_owned(),
        libc::SIGFPE => "floating point exception".to_owned(),
        libc::SIGINT => "interrupt".to_owned(),
        libc::SIGHUP => "hangup".to_owned(),
        libc::SIGPIPE => "broken pipe".to_owned(),
        n => format!("signal {n}"),
    };
    Some(format!("signal: {name}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies() {
        let doc = error_body(Some("X"), None);
        assert_eq!(error_type_of(&doc).as_deref(), Some("X"));
        let doc = error_body(None, Some(Bytes::from_static(b"not json")));
        assert_eq!(error_type_of(&doc).as_deref(), Some("Runtime.Unknown"));
        let doc = error_body(Some("H"), Some(Bytes::from_static(b"{\"errorMessage\":\"m\"}")));
        assert_eq!(error_type_of(&doc).as_deref(), Some("H"));
        let doc = error_body(
            Some("H"),
            Some(Bytes::from_static(b"{\"errorType\":\"B\",\"errorMessage\":\"m\"}")),
        );
        assert_eq!(error_type_of(&doc).as_deref(), Some("B"));
    }

    #[test]
    fn exit_reasons() {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(exit_reason(std::process::ExitStatus::from_raw(0)), None);
        assert_eq!(
            exit_reason(std::process::ExitStatus::from_raw(1 << 8)).as_deref(),
            Some("exit status 1")
        );
        assert_eq!(
            exit_reason(std::process::ExitStatus::from_raw(9)).as_deref(),
            Some("signal: killed")
        );
    }
}
