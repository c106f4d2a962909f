//! The Telemetry API (`2022-07-01`) and the older Logs API (`2020-08-15`) of one
//! environment: its extensions' subscriptions, and the records fanned out to them:
//! `platform.*` events of the lifecycle and the function's output lines (`function`). A Logs
//! API subscriber gets only the record types that API defines (`platform.start`, `.end`,
//! `.report`, `.runtimeDone`, `.extension`, `.logsSubscription`, `function`). Each subscription has a delivery task that batches its records
//! (`buffering`: at most `maxItems` records or `maxBytes` bytes, or whatever came within
//! `timeoutMs`) and POSTs each batch, a JSON array, to the extension's HTTP destination.
//! Records from the start of Init are kept until Init ends, so that a subscription made during
//! Init (where Lambda wants them made) also gets `platform.initStart` and the Init lines.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::logs::system::{now, PlatformLine};

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
            ),
        }
    }
}

/// A validated subscription request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelemetrySubscription {
    /// The API it came through.
    pub api: TelemetryApi,
    /// The record types.
    pub types: TelemetryTypes,
    /// Where batches are POSTed: `host`, `port` and path.
    pub host: String,
    /// The destination's port.
    pub port: u16,
    /// The destination's path (with query, if any).
    pub path: String,
    /// `buffering.maxItems` (1,000 to 10,000; default 10,000).
    pub max_items: usize,
    /// `buffering.maxBytes` (262,144 to 1,048,576; default 262,144).
    pub max_bytes: usize,
    /// `buffering.timeoutMs` (25 to 30,000; default 1,000).
    pub timeout: Duration,
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
    api: TelemetryApi,
    types: TelemetryTypes,
    records: mpsc::UnboundedSender<Value>,
}

impl Subscriber {
    /// Whether this subscriber gets a record of type `kind`.
    fn wants(&self, kind: &str) -> bool {
        let of_type = match kind {
            "function" => self.types.function,
            "extension" => self.types.extension,
            _ => self.types.platform,
        };
        of_type && self.api.sends(kind)
    }
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
        self.subscribers.retain(|s| !s.records.is_closed());
        for s in self.subscribers.iter().filter(|s| s.wants(kind)) {
            let _ = s.records.send(record.clone());
        }
        if let Some(backlog) = &mut self.backlog {
            if backlog.len() < BACKLOG_LIMIT {
                backlog.push(record);
            }
        }
    }

    /// Adds a subscription of extension `name`: starts its delivery task, hands it the Init
    /// records so far, and announces it with `platform.telemetrySubscription` (or
    /// `platform.logsSubscription`).
    pub fn subscribe(&mut self, name: &str, subscription: TelemetrySubscription) {
        let (records, rx) = mpsc::unbounded_channel();
        let types = subscription.types;
        let api = subscription.api;
        let subscriber = Subscriber {
            api,
            types,
            records,
        };
        for record in self.backlog.iter().flatten() {
            if subscriber.wants(record["type"].as_str().unwrap_or_default()) {
                let _ = subscriber.records.send(record.clone());
            }
        }
        tokio::spawn(deliver(subscription, rx));
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
        self.platform(
            kind,
            json!({"name": name, "state": "Subscribed", "types": names}),
        );
    }
}

/// Batches records and POSTs each batch; ends when the environment drops its sender (after
/// sending what is left).
async fn deliver(to: TelemetrySubscription, mut records: mpsc::UnboundedReceiver<Value>) {
    let mut destination = Destination::new(to.clone());
    let mut batch: Vec<Value> = Vec::new();
    let mut bytes = 0usize;
    let flush_at = tokio::time::sleep(Duration::from_secs(3600));
    tokio::pin!(flush_at);
    loop {
        tokio::select! {
            record = records.recv() => {
                let Some(record) = record else {
                    if !batch.is_empty() {
                        destination.post(std::mem::take(&mut batch)).await;
                    }
                    return;
                };
                if batch.is_empty() {
                    flush_at.as_mut().reset(tokio::time::Instant::now() + to.timeout);
                }
                bytes += record.to_string().len();
                batch.push(record);
                if batch.len() >= to.max_items || bytes >= to.max_bytes {
                    bytes = 0;
                    destination.post(std::mem::take(&mut batch)).await;
                }
            }
            () = &mut flush_at, if !batch.is_empty() => {
                bytes = 0;
                destination.post(std::mem::take(&mut batch)).await;
            }
        }
    }
}

/// How often, and after which pauses, a batch is tried again when the destination cannot be
/// reached (its listener not bound yet, or between two of its connections).
const CONNECT_RETRIES: [Duration; 5] = [
    Duration::from_millis(10),
    Duration::from_millis(50),
    Duration::from_millis(100),
    Duration::from_millis(250),
    Duration::from_millis(500),
];

/// A subscription's HTTP destination, with the kept-alive connection its batches share (some
/// listeners, the official `lambda-extension` crate's among them, serve one connection at a
/// time and bind their port again between two).
struct Destination {
    to: TelemetrySubscription,
    connection: Option<hyper::client::conn::http1::SendRequest<Full<Bytes>>>,
}

impl Destination {
    fn new(to: TelemetrySubscription) -> Self {
        Self {
            to,
            connection: None,
        }
    }

    /// POSTs one batch (a JSON array), trying again on a fresh connection when the kept one
    /// broke or the destination was not reachable yet; a destination that still fails loses
    /// the batch. There is no time limit on an answer: while the environment is frozen its
    /// extensions cannot answer, and the batch waits for the next thaw (as on Lambda, where an
    /// invocation's records often arrive while the next one runs, or in the Shutdown phase).
    /// When the environment ends, its processes die and the connection with them.
    async fn post(&mut self, batch: Vec<Value>) {
        let body = Bytes::from(Value::Array(batch).to_string());
        let mut pauses = CONNECT_RETRIES.iter();
        loop {
            match self.send(body.clone()).await {
                Ok(status) if status.is_success() => return,
                Ok(status) => {
                    tracing::debug!(%status, "telemetry destination refused a batch");
                    return;
                }
                Err(e) => {
                    self.connection = None;
                    let Some(pause) = pauses.next() else {
                        tracing::debug!(error = %e, "telemetry batch not delivered");
                        return;
                    };
                    tokio::time::sleep(*pause).await;
                }
            }
        }
    }

    async fn send(&mut self, body: Bytes) -> std::io::Result<http::StatusCode> {
        let to = &self.to;
        let connection = match &mut self.connection {
            Some(c) if !c.is_closed() => c,
            _ => {
                let stream = tokio::net::TcpStream::connect((to.host.as_str(), to.port)).await?;
                let _ = stream.set_nodelay(true);
                let (sender, connection) =
                    hyper::client::conn::http1::handshake(TokioIo::new(stream))
                        .await
                        .map_err(std::io::Error::other)?;
                tokio::spawn(connection);
                self.connection.insert(sender)
            }
        };
        connection.ready().await.map_err(std::io::Error::other)?;
        let request = http::Request::post(&to.path)
            .header(http::header::HOST, format!("{}:{}", to.host, to.port))
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Full::new(body))
            .map_err(std::io::Error::other)?;
        let response = connection
            .send_request(request)
            .await
            .map_err(std::io::Error::other)?;
        let status = response.status();
        // Read to its end, so that the connection can carry the next batch.
        response
            .into_body()
            .collect()
            .await
            .map_err(std::io::Error::other)?;
        Ok(status)
    }
}
