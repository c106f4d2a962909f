//! The Telemetry API (`2022-07-01`) and the older Logs API (`2020-08-15`) of one
//! environment: its extensions' subscriptions, and the records fanned out to them:
//! `platform.*` events of the lifecycle and the function's output lines (`function`). A Logs
//! API subscriber gets only the record types that API defines (`platform.start`, `.end`,
//! `.report`, `.runtimeDone`, `.extension`, `.logsSubscription`, `.logsDropped`, `function`).
//!
//! Each subscription has a delivery task (`delivery`) that batches its records, within a
//! bounded buffer, and sends each batch (`sending`) to the extension's destination: a JSON
//! array POSTed over HTTP (`http_destination`), or one JSON record per line over a TCP
//! connection (`tcp_destination`). Records from the
//! start of Init are kept until Init ends, so that a subscription made during Init (where
//! Lambda wants them made) also gets `platform.initStart` and the Init lines. Before the
//! environment's extensions are told to stop (the Shutdown phase, or the reset before an Init
//! is retried), `flush` has every subscription send what it holds and waits until it is
//! delivered.

mod delivery;
mod http_destination;
mod sending;
mod tcp_destination;

use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::oneshot;

use crate::config::LogLevel;
use crate::logs::system::{now, InitOutcome, PlatformLine};
use delivery::Delivery;

/// At most this many records wait for the first subscription during Init.
const BACKLOG_LIMIT: usize = 1000;

/// The record types a subscription asks for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TelemetryTypes {
    /// `platform`: `platform.*` lifecycle events.
    pub platform: bool,
    /// `function`: the function's output lines.
    pub function: bool,
    /// `extension`: the external extensions' output lines.
    pub extension: bool,
}

impl TelemetryTypes {
    /// The line Lambda's log has for an extension's Telemetry API subscription:
    /// `TELEMETRY\tName: NAME\tState: Subscribed\tTypes: [Platform, Function, Extension]`.
    pub(in crate::environment) fn subscribed_line(self, name: &str) -> PlatformLine {
        let chosen: Vec<&str> = [
            (self.platform, "Platform"),
            (self.function, "Function"),
            (self.extension, "Extension"),
        ]
        .into_iter()
        .filter_map(|(on, name)| on.then_some(name))
        .collect();
        PlatformLine::new(
            LogLevel::Info,
            "platform.telemetrySubscription",
            format!(
                "TELEMETRY\tName: {name}\tState: Subscribed\tTypes: [{}]",
                chosen.join(", ")
            ),
            Some(serde_json::json!({
                "name": name,
                "state": "Subscribed",
                "types": chosen.iter().map(|t| t.to_lowercase()).collect::<Vec<_>>(),
            })),
        )
    }
}

/// Whose output a line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputKind {
    /// The runtime's (and the function code's).
    Function,
    /// An external extension's.
    Extension,
}

impl OutputKind {
    /// The record type: `function` or `extension`.
    pub fn as_str(self) -> &'static str {
        match self {
            OutputKind::Function => "function",
            OutputKind::Extension => "extension",
        }
    }
}

/// Which API a subscription came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TelemetryApi {
    /// `PUT /2022-07-01/telemetry`.
    Telemetry,
    /// `PUT /2020-08-15/logs`.
    Logs,
}

impl TelemetryApi {
    /// `Telemetry` or `Logs`, as the API is named.
    pub fn name(self) -> &'static str {
        match self {
            TelemetryApi::Telemetry => "Telemetry",
            TelemetryApi::Logs => "Logs",
        }
    }

    /// Whether this API has records of type `kind`.
    fn sends(self, kind: &str) -> bool {
        match self {
            TelemetryApi::Telemetry => {
                !matches!(kind, "platform.end" | "platform.logsSubscription")
            }
            TelemetryApi::Logs => matches!(
                kind,
                "function"
                    | "extension"
                    | "platform.start"
                    | "platform.end"
                    | "platform.report"
                    | "platform.runtimeDone"
                    | "platform.extension"
                    | "platform.logsSubscription"
                    | "platform.logsDropped"
            ),
        }
    }
}

/// How a subscription's batches reach its destination (`destination.protocol`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// Each batch is POSTed as a JSON array (`http://host:port/path`).
    Http,
    /// Each batch is written to a TCP connection, one JSON record per line
    /// (`tcp://host:port`).
    Tcp,
}

impl Protocol {
    /// The URI scheme of its destinations: `http` or `tcp`.
    pub fn scheme(self) -> &'static str {
        match self {
            Protocol::Http => "http",
            Protocol::Tcp => "tcp",
        }
    }
}

/// A validated subscription request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelemetrySubscription {
    /// The API it came through.
    pub api: TelemetryApi,
    /// `schemaVersion` (the Logs API's default, `2020-08-15`, when it was left out). It
    /// changes the records only on the Logs API: `platform.runtimeDone` is sent from
    /// `2021-03-18` on.
    pub schema_version: String,
    /// The record types.
    pub types: TelemetryTypes,
    /// How batches are sent.
    pub protocol: Protocol,
    /// The destination's host (`sandbox.localdomain` already made `127.0.0.1`).
    pub host: String,
    /// The destination's port.
    pub port: u16,
    /// The destination's path (with query, if any) for HTTP; `/` for TCP.
    pub path: String,
    /// `buffering.maxItems` (1,000 to 10,000; default 10,000).
    pub max_items: usize,
    /// `buffering.maxBytes` (262,144 to 1,048,576; default 262,144).
    pub max_bytes: usize,
    /// `buffering.timeoutMs` (25 to 30,000; default 1,000).
    pub timeout: Duration,
}

/// A subscription refused because the extension already subscribed through the other API.
#[derive(Debug, thiserror::Error)]
#[error("this extension already subscribed through the {} API: an extension subscribes through the Telemetry API or the Logs API, not both", subscribed.name())]
pub struct OtherApi {
    /// The API of the existing subscription.
    pub subscribed: TelemetryApi,
}

/// The telemetry of one environment.
#[derive(Debug, Default)]
pub(super) struct Telemetry {
    subscribers: Vec<Subscriber>,
    /// Records since Init began, while Init lasts (`None` after).
    backlog: Option<Vec<Value>>,
}

#[derive(Debug)]
struct Subscriber {
    /// The extension that subscribed (one subscription each).
    name: String,
    api: TelemetryApi,
    schema_version: String,
    types: TelemetryTypes,
    delivery: Delivery,
}

impl Subscriber {
    /// Whether this subscriber gets a record of type `kind`.
    fn wants(&self, kind: &str) -> bool {
        let of_type = match kind {
            "function" => self.types.function,
            "extension" => self.types.extension,
            _ => self.types.platform,
        };
        let schema_has = kind != "platform.runtimeDone"
            || self.api == TelemetryApi::Telemetry
            || self.schema_version.as_str() >= "2021-03-18";
        of_type && schema_has && self.api.sends(kind)
    }

    /// Hands `envelope` (a record of type `kind` it wants) to the delivery: as it is
    /// (`text`, made once for every subscriber that takes it so), or in the Logs API's
    /// shape (see [`logs_api_record`]).
    fn offer(&self, kind: &str, envelope: &Value, text: &mut Option<String>) {
        match (self.api, logs_api_record(kind, envelope)) {
            (TelemetryApi::Logs, Some(shaped)) => self.delivery.record(&shaped.to_string()),
            _ => self
                .delivery
                .record(text.get_or_insert_with(|| envelope.to_string())),
        }
    }
}

/// The Logs API's narrower records, where they differ from the Telemetry API's (as the Logs
/// API reference gives them): `platform.start` and `platform.end` with `requestId` only,
/// `platform.report` with `requestId` and `metrics`, and `platform.runtimeDone` with
/// `requestId` and `status` (`success`, `failure` or `timeout`). `None`: the record as it is.
fn logs_api_record(kind: &str, envelope: &Value) -> Option<Value> {
    let record = &envelope["record"];
    let request_id = record["requestId"].clone();
    let narrowed = match kind {
        "platform.start" | "platform.end" => json!({ "requestId": request_id }),
        "platform.report" => json!({ "requestId": request_id, "metrics": record["metrics"] }),
        "platform.runtimeDone" => {
            let status = match record["status"].as_str() {
                Some("success") => "success",
                Some("timeout") => "timeout",
                _ => "failure",
            };
            json!({ "requestId": request_id, "status": status })
        }
        _ => return None,
    };
    Some(json!({ "time": envelope["time"], "type": kind, "record": narrowed }))
}

impl Telemetry {
    /// The telemetry of an environment whose Init begins.
    pub fn initializing() -> Self {
        Self {
            subscribers: Vec::new(),
            backlog: Some(Vec::new()),
        }
    }

    /// Init is over: records are no longer kept for later subscriptions.
    pub fn init_done(&mut self) {
        self.backlog = None;
    }

    /// Init starts again in fresh processes (after the Init timeout): the subscriptions ended
    /// with the extensions that made them, and the new Init's records are kept for the new
    /// subscriptions.
    pub fn restart_init(&mut self) {
        self.subscribers.clear();
        self.backlog = Some(Vec::new());
    }

    /// Whether extension `name` has a subscription.
    pub fn is_subscribed(&self, name: &str) -> bool {
        self.subscribers.iter().any(|s| s.name == name)
    }

    /// Whether anything listens for `platform.*` records (cheap: checked before one is
    /// built).
    pub fn wanted(&self) -> bool {
        self.backlog.is_some() || self.subscribers.iter().any(|s| s.types.platform)
    }

    /// A `platform.*` record (on the invoke path, check [`Telemetry::wanted`] before building
    /// one).
    pub fn platform(&mut self, kind: &str, record: Value) {
        if self.wanted() {
            self.emit(kind, json!({"time": now(), "type": kind, "record": record}));
        }
    }

    /// The record of a platform line, when it has one and anything listens (a line built
    /// without its record, under the Text format with no subscriber, sends nothing).
    pub fn platform_line(&mut self, line: &PlatformLine) {
        if let Some(record) = line.record.as_ref().filter(|_| self.wanted()) {
            self.platform(line.kind, record.clone());
        }
    }

    /// The two records of an Init that ended, in Lambda's order: `platform.initRuntimeDone`
    /// (with `status`, and `errorType` when it failed), then `platform.initReport` (the record
    /// of `report`, the `INIT_REPORT` line of the same outcome).
    pub fn init_ended(&mut self, outcome: &InitOutcome<'_>, report: &PlatformLine) {
        if !self.wanted() {
            return;
        }
        let mut done = json!({
            "initializationType": outcome.init_type,
            "phase": outcome.phase,
            "status": outcome.status,
        });
        if let Some(error_type) = outcome.error_type {
            done["errorType"] = error_type.into();
        }
        self.platform("platform.initRuntimeDone", done);
        self.platform_line(report);
    }

    /// One line of the function's output (`kind` `function`) or of an external extension's
    /// (`extension`). Under the JSON log format a line that is a JSON object is sent as that
    /// object, as Lambda does; any other line as a string.
    pub fn output(&mut self, kind: OutputKind, line: &str, json_format: bool) {
        let wanted = self.backlog.is_some()
            || self.subscribers.iter().any(|s| match kind {
                OutputKind::Function => s.types.function,
                OutputKind::Extension => s.types.extension,
            });
        if !wanted {
            return;
        }
        let record = json_format
            .then(|| serde_json::from_str::<Value>(line).ok())
            .flatten()
            .filter(Value::is_object)
            .unwrap_or_else(|| Value::String(line.to_owned()));
        let kind = kind.as_str();
        self.emit(kind, json!({"time": now(), "type": kind, "record": record}));
    }

    fn emit(&mut self, kind: &str, record: Value) {
        let mut text = None;
        for s in self.subscribers.iter().filter(|s| s.wants(kind)) {
            s.offer(kind, &record, &mut text);
        }
        if let Some(backlog) = &mut self.backlog {
            if backlog.len() < BACKLOG_LIMIT {
                backlog.push(record);
            }
        }
    }

    /// Adds a subscription of extension `name`: starts its delivery task, hands it the Init
    /// records so far, and announces it with `platform.telemetrySubscription` (or
    /// `platform.logsSubscription`). An extension has one subscription: a repeat through the
    /// same API replaces the previous one (its records go to the new destination from now on,
    /// and none twice: the backlog was already handed over, and the record says
    /// `Already subscribed`, as Lambda's does); one through the other API is refused, as AWS
    /// documents.
    pub fn subscribe(
        &mut self,
        name: &str,
        subscription: TelemetrySubscription,
    ) -> Result<(), OtherApi> {
        let types = subscription.types;
        let api = subscription.api;
        let previous = self.subscribers.iter().position(|s| s.name == name);
        if let Some(i) = previous {
            if self.subscribers[i].api != api {
                return Err(OtherApi {
                    subscribed: self.subscribers[i].api,
                });
            }
            // Dropping its delivery lets the old task send what it holds, then end.
            self.subscribers.remove(i);
        }
        // The task ends by itself once the subscriber is dropped and what it left is sent.
        let schema_version = subscription.schema_version.clone();
        let (delivery, _task) = Delivery::start(subscription);
        let subscriber = Subscriber {
            name: name.to_owned(),
            api,
            schema_version,
            types,
            delivery,
        };
        if previous.is_none() {
            for record in self.backlog.iter().flatten() {
                let kind = record["type"].as_str().unwrap_or_default();
                if subscriber.wants(kind) {
                    subscriber.offer(kind, record, &mut None);
                }
            }
        }
        self.subscribers.push(subscriber);
        let mut names = Vec::new();
        if types.platform {
            names.push("platform");
        }
        if types.function {
            names.push("function");
        }
        if types.extension {
            names.push("extension");
        }
        let kind = match api {
            TelemetryApi::Telemetry => "platform.telemetrySubscription",
            TelemetryApi::Logs => "platform.logsSubscription",
        };
        let state = if previous.is_some() {
            "Already subscribed"
        } else {
            "Subscribed"
        };
        self.platform(kind, json!({"name": name, "state": state, "types": names}));
        Ok(())
    }

    /// Has every subscription send the records it holds now, without waiting for its
    /// buffering limits, and waits until each has delivered them or given up (at most
    /// `limit`). The environment's processes must be thawed: a frozen extension takes nothing.
    pub async fn flush(&mut self, limit: Duration) {
        let mut delivered = Vec::with_capacity(self.subscribers.len());
        for s in &self.subscribers {
            let (done, waiting) = oneshot::channel();
            s.delivery.flush(done);
            delivered.push(waiting);
        }
        if delivered.is_empty() {
            return;
        }
        let all = async {
            for waiting in delivered {
                // An error means the task is gone: it answers every flush otherwise.
                let _ = waiting.await;
            }
        };
        if tokio::time::timeout(limit, all).await.is_err() {
            tracing::debug!(?limit, "telemetry not delivered within the flush limit");
        }
    }
}
