//! The extensions of one environment (the Extensions API's state) and how they take part in
//! its lifecycle, as on Lambda:
//! - **Init**: external extensions (`FunctionConfig::extensions`) start first and register
//!   under their file name; the runtime starts once all of them have. Internal extensions (any
//!   other name, typically registered from inside the runtime process) may register until
//!   Init ends. Init ends when the runtime and every extension wait in their `/next`.
//! - **Invoke**: each extension registered for `INVOKE` gets the invocation's event. The caller
//!   gets the runtime's answer at once, but the environment takes no other invocation until
//!   every extension has called `/next` again, within the invocation's timeout.
//! - **Shutdown**: before the environment ends, and before an Init that timed out is
//!   retried, extensions registered for `SHUTDOWN` get the event (reason `spindown`, `timeout`
//!   or `failure`), the runtime gets SIGTERM, and the processes have 2,000 ms (500 ms with
//!   internal extensions only) before SIGKILL (the phase itself is `reset`'s).
//! - **Failures**: an extension that exits, or reports `init/error`, ends the environment; the
//!   invocation waiting for Init, or in flight, fails with `Extension.Crash` (or the reported
//!   error type).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::oneshot;

use super::errors::{error_body, exit_reason};
use super::telemetry::TelemetryApi;
use super::{End, Environment, NextEvent, Phase};
use crate::api::extensions::{ExtensionAnswer, ExtensionErrorKind, Subscriptions};
use crate::api::runtime::RuntimeRequest;
use crate::config::LogLevel;
use crate::config::MAX_EXTENSIONS;
use crate::invocation::error_document;
use crate::logs::system::PlatformLine;

/// The Shutdown phase's limit with at least one external extension.
const SHUTDOWN_LIMIT_EXTERNAL: Duration = Duration::from_millis(2000);
/// The Shutdown phase's limit with internal extensions only.
const SHUTDOWN_LIMIT_INTERNAL: Duration = Duration::from_millis(500);

/// The extensions of one environment.
#[derive(Debug, Default)]
pub(super) struct Extensions {
    /// Registered extensions, in registration order.
    registered: Vec<Registered>,
    /// External extensions started and not registered yet, by file name.
    awaiting: Vec<String>,
    /// Invocations the runtime answered whose invoke phase has not ended (an extension has not
    /// called `/next` since): slots to offer, and their hold on the function's concurrency
    /// to release, once every extension waits again.
    pub owed: Vec<Option<crate::scheduler::capacity::Permit>>,
    /// The last such invocation: its request id and deadline.
    pub owed_deadline: Option<(String, Instant)>,
    /// When the runtime answered the first of them.
    pub owed_since: Option<Instant>,
    /// Their REPORT lines, written when the invoke phase ends.
    pub reports: Vec<super::output::PendingReport>,
}

#[derive(Debug)]
struct Registered {
    id: String,
    name: String,
    external: bool,
    events: Subscriptions,
    /// Its `/next` call, waiting for an event.
    parked: Option<oneshot::Sender<ExtensionAnswer>>,
    /// Events it has not taken yet.
    queue: VecDeque<Bytes>,
    /// The error type it reported through `exit/error`.
    exit_error: Option<String>,
}

impl Extensions {
    /// The extensions of a fresh environment: `awaiting` are the external ones just started.
    pub fn new(awaiting: Vec<String>) -> Self {
        Self {
            awaiting,
            ..Self::default()
        }
    }

    /// How long the Shutdown phase may last: 2,000 ms when an external extension is
    /// registered, 500 ms with internal ones only; `None` without extensions (there is no
    /// Shutdown phase: the environment is killed at once).
    pub fn shutdown_limit(&self) -> Option<Duration> {
        if self.registered.is_empty() {
            None
        } else if self.registered.iter().any(|r| r.external) {
            Some(SHUTDOWN_LIMIT_EXTERNAL)
        } else {
            Some(SHUTDOWN_LIMIT_INTERNAL)
        }
    }

    /// Whether every external extension has registered.
    pub fn none_awaited(&self) -> bool {
        self.awaiting.is_empty()
    }

    /// Whether every extension waits in `/next` with nothing queued (Init or the invoke
    /// phase may end; the environment may be frozen).
    pub fn all_idle(&self) -> bool {
        self.awaiting.is_empty()
            && self
                .registered
                .iter()
                .all(|r| r.parked.is_some() && r.queue.is_empty())
    }

    /// The `EXTENSION` log line of each registered extension.
    pub fn ready_lines(&self) -> Vec<PlatformLine> {
        self.registered
            .iter()
            .map(|r| {
                let mut events = Vec::new();
                if r.events.invoke {
                    events.push("INVOKE");
                }
                if r.events.shutdown {
                    events.push("SHUTDOWN");
                }
                PlatformLine::new(
                    LogLevel::Info,
                    "platform.extension",
                    format!(
                        "EXTENSION\tName: {}\tState: Ready\tEvents: {}",
                        r.name,
                        r.events.describe()
                    ),
                    Some(serde_json::json!({"name": r.name, "state": "Ready", "events": events})),
                )
            })
            .collect()
    }

    /// The names of the extensions that have not called `/next` since their last event.
    pub fn busy_names(&self) -> String {
        let busy: Vec<&str> = self
            .registered
            .iter()
            .filter(|r| r.parked.is_none() || !r.queue.is_empty())
            .map(|r| r.name.as_str())
            .collect();
        busy.join(", ")
    }

    /// The invocation's `INVOKE` event, to every extension registered for it.
    pub fn invoke(&mut self, event: &NextEvent) {
        if !self.registered.iter().any(|r| r.events.invoke) {
            return;
        }
        let body = serde_json::json!({
            "eventType": "INVOKE",
            "deadlineMs": event.deadline_ms,
            "requestId": event.request_id,
            "invokedFunctionArn": event.invoked_arn,
            "tracing": {"type": "X-Amzn-Trace-Id", "value": event.trace_id},
        });
        self.broadcast(Bytes::from(body.to_string()), |e| e.invoke);
    }

    /// The `SHUTDOWN` event, to every extension registered for it; returns how many.
    pub fn shutdown(&mut self, reason: &str, deadline_ms: u64) -> usize {
        let body = serde_json::json!({
            "eventType": "SHUTDOWN",
            "shutdownReason": reason,
            "deadlineMs": deadline_ms,
        });
        self.broadcast(Bytes::from(body.to_string()), |e| e.shutdown)
    }

    /// Hands `body` to each extension `wanted` picks: to its waiting `/next`, or to its queue.
    fn broadcast(&mut self, body: Bytes, wanted: fn(&Subscriptions) -> bool) -> usize {
        let mut sent = 0;
        for extension in self.registered.iter_mut().filter(|r| wanted(&r.events)) {
            sent += 1;
            match extension.parked.take() {
                Some(parked) if extension.queue.is_empty() => {
                    if let Err(ExtensionAnswer::Event(body)) =
                        parked.send(ExtensionAnswer::Event(body.clone()))
                    {
                        // Its `/next` connection went away: keep the event for the next call.
                        extension.queue.push_back(body);
                    }
                }
                parked => {
                    extension.parked = parked;
                    extension.queue.push_back(body.clone());
                }
            }
        }
        sent
    }

    /// `/next` of extension `id`: answers a queued event at once, or parks the call. Returns
    /// whether the call was accepted (a refusal gets its 403 here).
    pub fn next(&mut self, id: &str, reply: oneshot::Sender<ExtensionAnswer>) -> bool {
        let refuse = |reply: oneshot::Sender<ExtensionAnswer>, kind: &str, message: &str| {
            let _ = reply.send(ExtensionAnswer::Forbidden(error_document(kind, message)));
            false
        };
        let Some(extension) = self.registered.iter_mut().find(|r| r.id == id) else {
            return refuse(
                reply,
                "Extension.UnknownExtensionIdentifier",
                &format!("Unknown extension {id}"),
            );
        };
        if extension.parked.as_ref().is_some_and(|p| !p.is_closed()) {
            return refuse(
                reply,
                "Extension.InvalidExtensionState",
                &format!(
                    "extension {} already waits in /next: one call at a time",
                    extension.name
                ),
            );
        }
        match extension.queue.pop_front() {
            Some(event) => {
                extension.parked = None;
                if let Err(ExtensionAnswer::Event(event)) =
                    reply.send(ExtensionAnswer::Event(event))
                {
                    extension.queue.push_front(event);
                }
            }
            None => extension.parked = Some(reply),
        }
        true
    }

    /// The name of extension `id` if it reported `exit/error`.
    fn reported_exit_error(&self, id: &str) -> Option<String> {
        self.registered
            .iter()
            .find(|r| r.id == id && r.exit_error.is_some())
            .map(|r| r.name.clone())
    }

    fn name_of(&self, id: &str) -> Option<&str> {
        self.registered
            .iter()
            .find(|r| r.id == id)
            .map(|r| r.name.as_str())
    }
}

impl Environment {
    /// Starts the configured external extensions; the runtime follows once they registered
    /// (at once when there are none).
    pub(super) fn spawn_members(&mut self) -> Result<(), super::process::SpawnError> {
        let names = self
            .shared
            .config
            .extensions
            .iter()
            .map(|p| crate::config::extension_name(p))
            .collect();
        self.extensions = Extensions::new(names);
        self.spawn()
    }

    /// The Extensions API calls.
    pub(super) fn on_extension_request(&mut self, request: RuntimeRequest) -> Result<(), End> {
        // After `exit/error` no further call of that extension succeeds: it is expected to
        // exit (Lambda's Extensions API reference, "Exit error").
        let caller = match &request {
            RuntimeRequest::ExtensionNext { id, .. }
            | RuntimeRequest::ExtensionError { id, .. }
            | RuntimeRequest::TelemetrySubscribe { id, .. } => Some(id.as_str()),
            _ => None,
        };
        if let Some(name) = caller.and_then(|id| self.extensions.reported_exit_error(id)) {
            let refusal = ExtensionAnswer::Forbidden(error_document(
                "Extension.InvalidExtensionState",
                &format!(
                    "extension {name} reported exit/error: it is expected to exit, and no further call is accepted"
                ),
            ));
            let _ = match request {
                RuntimeRequest::ExtensionNext { reply, .. }
                | RuntimeRequest::ExtensionError { reply, .. }
                | RuntimeRequest::TelemetrySubscribe { reply, .. } => reply.send(refusal),
                _ => Ok(()),
            };
            return Ok(());
        }
        match request {
            RuntimeRequest::ExtensionRegister {
                name,
                events,
                account_id,
                reply,
            } => self.on_register(name, events, account_id, reply),
            RuntimeRequest::ExtensionNext { id, reply } => {
                if self.extensions.next(&id, reply) {
                    self.after_extension_next();
                }
                Ok(())
            }
            RuntimeRequest::ExtensionError {
                id,
                kind,
                error_type,
                body,
                reply,
            } => self.on_extension_error(&id, kind, error_type, body, reply),
            RuntimeRequest::TelemetrySubscribe {
                id,
                subscription,
                reply,
            } => {
                match self.extensions.name_of(&id).map(str::to_owned) {
                    Some(name) => {
                        let first = !self.telemetry.is_subscribed(&name);
                        let line = (subscription.api == TelemetryApi::Telemetry && first)
                            .then(|| subscription.types.subscribed_line(&name));
                        let answer = match self.telemetry.subscribe(&name, subscription) {
                            Ok(()) => {
                                if let Some(line) = line {
                                    self.platform(line);
                                }
                                ExtensionAnswer::Accepted
                            }
                            // Lambda documents an error without naming it: 400 is the status
                            // its subscription reference lists for a refused request.
                            Err(e) => ExtensionAnswer::BadRequest(error_document(
                                "ValidationError",
                                &e.to_string(),
                            )),
                        };
                        let _ = reply.send(answer);
                    }
                    None => {
                        let _ = reply.send(ExtensionAnswer::Forbidden(error_document(
                            "Extension.UnknownExtensionIdentifier",
                            &format!("Unknown extension {id}: register before subscribing"),
                        )));
                    }
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// `register`: an awaited external extension, or an internal one while Init lasts.
    fn on_register(
        &mut self,
        name: String,
        events: Subscriptions,
        account_id: bool,
        reply: oneshot::Sender<ExtensionAnswer>,
    ) -> Result<(), End> {
        let refuse = |reply: oneshot::Sender<ExtensionAnswer>, kind: &str, message: String| {
            let _ = reply.send(ExtensionAnswer::Forbidden(error_document(kind, &message)));
        };
        let external = self.extensions.awaiting.iter().position(|n| *n == name);
        if events.invoke && self.slots > 1 {
            refuse(reply, "Extension.InvalidEventType", format!(
                "INVOKE: extensions get no INVOKE events when an environment runs several invocations at once (max_concurrency = {})",
                self.slots
            ));
            return Ok(());
        }
        if external.is_none() {
            let initializing = matches!(self.phase, Phase::Initializing { .. });
            let count = self.extensions.registered.len() + self.extensions.awaiting.len();
            let problem = if !initializing {
                Some((
                    "Extension.RegistrationClosed",
                    "Extension registration closed already: extensions register during Init"
                        .to_owned(),
                ))
            } else if self.extensions.registered.iter().any(|r| r.name == name) {
                Some((
                    "Extension.InvalidExtensionState",
                    format!("an extension named {name} is already registered"),
                ))
            } else if count >= MAX_EXTENSIONS {
                Some((
                    "Extension.TooManyExtensions",
                    format!("Extension limit ({MAX_EXTENSIONS}) reached"),
                ))
            } else if events.shutdown {
                Some((
                    "Extension.InvalidEventType",
                    format!("SHUTDOWN: {name} is an internal extension (not one of the function's `extensions`), and internal extensions cannot register for SHUTDOWN"),
                ))
            } else {
                None
            };
            if let Some((kind, message)) = problem {
                refuse(reply, kind, message);
                return Ok(());
            }
        }
        let id = crate::ids::request_id();
        let config = &self.shared.config;
        let mut body = serde_json::json!({
            "functionName": config.name,
            "functionVersion": config.version(),
            "handler": config.handler.clone().unwrap_or_default(),
        });
        if account_id {
            body["accountId"] = config.account_id.clone().into();
        }
        let answer = ExtensionAnswer::Registered {
            id: id.clone(),
            body: Bytes::from(body.to_string()),
        };
        if reply.send(answer).is_err() {
            return Ok(()); // it went away before learning its identifier
        }
        if let Some(i) = external {
            self.extensions.awaiting.remove(i);
        }
        self.extensions.registered.push(Registered {
            id,
            name,
            external: external.is_some(),
            events,
            parked: None,
            queue: VecDeque::new(),
            exit_error: None,
        });
        let runtime_started = self.process.as_ref().is_some_and(|p| p.runtime_started());
        if self.extensions.none_awaited() && !runtime_started {
            return self.start_runtime();
        }
        Ok(())
    }

    /// Every external extension registered: Runtime init begins.
    fn start_runtime(&mut self) -> Result<(), End> {
        if let Err(e) = self.spawn() {
            self.cannot_spawn(&e);
            return Err(End::Failed);
        }
        Ok(())
    }

    /// An extension called `/next`: Init or the invoke phase may be over.
    fn after_extension_next(&mut self) {
        if !self.extensions.all_idle() {
            return;
        }
        match self.phase {
            Phase::Initializing { .. } => {
                if self.maybe_init_done() {
                    self.deliver();
                }
            }
            Phase::Reset => {}
            Phase::Ready => {
                let owed = std::mem::take(&mut self.extensions.owed);
                self.extensions.owed_deadline = None;
                if let Some(since) = self.extensions.owed_since.take() {
                    self.shared
                        .metrics
                        .post_runtime_extensions_duration
                        .observe(since.elapsed());
                }
                // The invoke phase is over: its REPORT comes before the slot is offered again.
                self.write_reports(None);
                for permit in owed {
                    // The concurrency first, so that the slot offered next finds the room.
                    drop(permit);
                    self.release_slot();
                }
                self.reset_deadline();
            }
        }
        self.freeze_if_idle();
    }

    /// `init/error` and `exit/error`.
    fn on_extension_error(
        &mut self,
        id: &str,
        kind: ExtensionErrorKind,
        error_type: String,
        body: Option<Bytes>,
        reply: oneshot::Sender<ExtensionAnswer>,
    ) -> Result<(), End> {
        let Some(name) = self.extensions.name_of(id).map(str::to_owned) else {
            let _ = reply.send(ExtensionAnswer::Forbidden(error_document(
                "Extension.UnknownExtensionIdentifier",
                &format!("Unknown extension {id}"),
            )));
            return Ok(());
        };
        match kind {
            ExtensionErrorKind::Exit => {
                let _ = reply.send(ExtensionAnswer::Accepted);
                self.platform(PlatformLine::fault(format!(
                    "Extension {name} reported an exit error: {error_type}"
                )));
                if let Some(r) = self.extensions.registered.iter_mut().find(|r| r.id == id) {
                    r.exit_error = Some(error_type);
                }
                Ok(())
            }
            ExtensionErrorKind::Init => {
                let Phase::Initializing { since, .. } = self.phase else {
                    let _ = reply.send(ExtensionAnswer::Forbidden(error_document(
                        "Extension.InvalidExtensionState",
                        "init/error is only allowed during Init",
                    )));
                    return Ok(());
                };
                let _ = reply.send(ExtensionAnswer::Accepted);
                self.end_reason = format!("extension {name} failed its Init ({error_type})");
                self.shutdown_reason = "failure";
                let doc = error_body(Some(&error_type), body);
                self.init_failed(since.elapsed(), "error", Some(&error_type), |_| {
                    (Vec::new(), doc)
                });
                Err(End::Failed)
            }
        }
    }

    /// An external extension exited: the environment does not survive it.
    pub(super) fn on_extension_exit(
        &mut self,
        name: &str,
        status: std::io::Result<std::process::ExitStatus>,
    ) {
        self.flush_output();
        let reason = match status {
            Ok(status) => exit_reason(status).unwrap_or_else(|| "exit status 0".into()),
            Err(e) => format!("wait failed: {e}"),
        };
        let error_type = self
            .extensions
            .registered
            .iter()
            .find(|r| r.name == name && r.external)
            .and_then(|r| r.exit_error.clone())
            .unwrap_or_else(|| "Extension.Crash".into());
        self.end_reason = format!("extension {name} exited ({reason})");
        self.shutdown_reason = "failure";
        let describe =
            |id: &str| format!("RequestId: {id} Error: Extension {name} exited: {reason}");
        match self.phase {
            Phase::Initializing { since, .. } => {
                self.fail_init(since.elapsed(), &error_type, describe)
            }
            Phase::Ready if self.held.active.is_empty() => {
                // Nothing in flight to fail (the runtime had answered, or the environment was
                // idle): the log alone says why the environment is reset.
                let line = match &self.extensions.owed_deadline {
                    Some((id, _)) => describe(id),
                    None => format!("Error: Extension {name} exited: {reason}"),
                };
                self.platform(PlatformLine::fault(line));
                self.platform(PlatformLine::fault(error_type.clone()));
                self.write_reports(Some(("failure", &error_type)));
            }
            Phase::Ready => self.fail_all(&error_type, describe),
            Phase::Reset => {}
        }
    }

    /// Logs the extensions Init timed out waiting for: the external ones that never
    /// registered, and those that registered but never called `/next`.
    pub(super) fn hint_unregistered(&mut self) {
        for name in self.extensions.awaiting.clone() {
            self.platform(PlatformLine::fault(format!(
                "Extension {name} did not register: it must call /2020-01-01/extension/register with Lambda-Extension-Name: {name} (its file name)"
            )));
        }
        let busy = self.extensions.busy_names();
        for name in busy.split(", ").filter(|n| !n.is_empty()) {
            self.platform(PlatformLine::fault(format!(
                "Extension {name} registered but did not call /2020-01-01/extension/event/next: Init ends when the runtime and every extension wait in next"
            )));
        }
    }

    /// The invoke phase outlived the invocation's timeout: an extension did not call `/next`.
    pub(super) fn extensions_timed_out(&mut self, now: Instant) -> Option<End> {
        let (id, deadline) = self.extensions.owed_deadline.clone()?;
        if deadline > now || self.extensions.owed.is_empty() {
            return None;
        }
        self.platform(PlatformLine::fault(format!(
            "RequestId: {id} Error: Extension {} did not call next within the function timeout ({:.2} seconds)",
            self.extensions.busy_names(),
            self.shared.config.timeout.as_secs_f64()
        )));
        self.write_reports(Some(("timeout", "Sandbox.Timedout")));
        self.end_reason = "an extension outlived the invocation's timeout".into();
        self.shutdown_reason = "timeout";
        Some(End::Failed)
    }
}
