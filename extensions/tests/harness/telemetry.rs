//! PROTOCOL-CONFORMANCE HARNESS — NOT THE EMULATOR: its Telemetry and Logs APIs.
//!
//! `PUT /2022-07-01/telemetry` and `PUT /2020-08-15/logs`, checked as the emulator (and Lambda)
//! checks them: `403` without a `Lambda-Extension-Identifier` or with an unknown one, `400
//! ValidationError` for a body that is not a subscription (a `schemaVersion` the API does not
//! have, a type other than `platform`, `function` or `extension`, `buffering` outside Lambda's
//! limits, a protocol other than `HTTP` or `TCP`, a URI whose scheme is not the protocol's, a
//! TCP URI without a port or with a path), `200 "OK"` otherwise. The harness keeps the
//! subscriptions, and delivers to a subscriber on the test's say-so (Lambda's delivery, without
//! its buffering): it POSTs HTTP batches, and hands the test a TCP connection to write lines
//! to. `sandbox.localdomain` is this machine.

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpStream;

use super::{answer, forbidden, refuse, Harness, Recorded, State};

/// The Telemetry API's subscription path.
pub const PATH: &str = "/2022-07-01/telemetry";
/// The Logs API's subscription path.
pub const LOGS_PATH: &str = "/2020-08-15/logs";
/// The schema versions Lambda (and the emulator) accept, by API.
const SCHEMA_VERSIONS: &[&str] = &["2022-07-01", "2022-12-13", "2025-01-29"];
const LOGS_SCHEMA_VERSIONS: &[&str] = &["2020-08-15", "2021-03-18"];

/// Which API a subscription came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    Telemetry,
    Logs,
}
/// The time written in the records [`record`] makes.
pub const TIME: &str = "2026-11-21T15:05:37.995Z";

/// A telemetry subscription the harness accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub api: Api,
    pub extension_id: String,
    pub schema_version: Option<String>,
    pub types: Vec<String>,
    pub max_items: u64,
    pub max_bytes: u64,
    pub timeout_ms: u64,
    /// `destination.protocol`, as sent.
    pub protocol: String,
    /// `destination.URI`, as sent.
    pub uri: String,
    /// Where batches go: `sandbox.localdomain` is `127.0.0.1`.
    pub host: String,
    pub port: u16,
    pub path: String,
}

/// One record of a batch: `{"time", "type", "record"}`.
pub fn record(kind: &str, record: Value) -> Value {
    json!({"time": TIME, "type": kind, "record": record})
}

/// Handles the subscription call of `api`.
pub(super) fn subscribe(
    state: &State,
    api: Api,
    method: &Method,
    req: &Recorded,
) -> Response<Full<Bytes>> {
    if method != Method::PUT {
        return refuse(
            StatusCode::METHOD_NOT_ALLOWED,
            "InvalidRequest",
            "the Telemetry API takes PUT",
        );
    }
    let Some(id) = req
        .header("lambda-extension-identifier")
        .filter(|id| !id.is_empty())
    else {
        return forbidden(
            "Extension.MissingExtensionIdentifier",
            "Missing Lambda-Extension-Identifier header",
        );
    };
    let mut subscription = match parse(&req.body, api) {
        Ok(subscription) => subscription,
        Err(message) => return refuse(StatusCode::BAD_REQUEST, "ValidationError", &message),
    };
    let mut inner = state.lock();
    if !inner.extensions.iter().any(|e| e.id == id) {
        return forbidden(
            "Extension.UnknownExtensionIdentifier",
            &format!("unknown extension {id}"),
        );
    }
    subscription.extension_id = id.to_owned();
    inner.subscriptions.push(subscription);
    drop(inner);
    state.changed.notify_waiters();
    answer(StatusCode::OK, json!("OK"))
}

/// A subscription request's body, checked; the message of a `400 ValidationError` otherwise.
fn parse(body: &[u8], api: Api) -> Result<Subscription, String> {
    let body: Value = serde_json::from_slice(body).map_err(|e| format!("invalid request: {e}"))?;
    let versions = match api {
        Api::Telemetry => SCHEMA_VERSIONS,
        Api::Logs => LOGS_SCHEMA_VERSIONS,
    };
    let schema_version = match body.get("schemaVersion") {
        None | Some(Value::Null) => None,
        Some(Value::String(v)) if versions.contains(&v.as_str()) => Some(v.clone()),
        Some(other) => return Err(format!("schemaVersion {other} is not supported")),
    };
    let types = body
        .get("types")
        .and_then(Value::as_array)
        .ok_or("types: expected an array")?;
    let types = types
        .iter()
        .map(|t| match t.as_str() {
            Some(t @ ("platform" | "function" | "extension")) => Ok(t.to_owned()),
            _ => Err(format!("types: {t} is not platform, function or extension")),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let destination = body.get("destination").ok_or("destination is missing")?;
    let protocol = destination["protocol"].as_str().unwrap_or_default();
    let scheme = match protocol.to_ascii_uppercase().as_str() {
        "HTTP" => "http",
        "TCP" => "tcp",
        _ => {
            return Err(format!(
                "destination.protocol {protocol:?} is not supported: use HTTP or TCP"
            ))
        }
    };
    let uri_text = destination["URI"]
        .as_str()
        .ok_or("destination.URI is missing")?;
    let uri: http::Uri = uri_text
        .parse()
        .map_err(|e| format!("destination.URI {uri_text}: {e}"))?;
    if uri.scheme_str() != Some(scheme) {
        return Err(format!(
            "destination.URI {uri_text} must be a {scheme}:// address for protocol {protocol}"
        ));
    }
    if scheme == "tcp" && (uri.port_u16().is_none() || !matches!(uri.path(), "" | "/")) {
        return Err(format!(
            "destination.URI {uri_text}: a TCP destination is tcp://HOST:PORT"
        ));
    }
    let host = match uri.host() {
        Some("sandbox.localdomain") | None => "127.0.0.1".to_owned(),
        Some(host) => host.to_owned(),
    };
    let buffering = &body["buffering"];
    let range = |name: &str, default: u64, min: u64, max: u64| match &buffering[name] {
        Value::Null => Ok(default),
        value => match value.as_u64() {
            Some(v) if (min..=max).contains(&v) => Ok(v),
            _ => Err(format!(
                "buffering.{name} {value} is outside {min} to {max}"
            )),
        },
    };
    Ok(Subscription {
        api,
        extension_id: String::new(),
        schema_version,
        types,
        max_items: range("maxItems", 10_000, 1_000, 10_000)?,
        max_bytes: range("maxBytes", 262_144, 262_144, 1_048_576)?,
        timeout_ms: range("timeoutMs", 1_000, 25, 30_000)?,
        protocol: protocol.to_owned(),
        uri: uri_text.to_owned(),
        host,
        port: uri.port_u16().unwrap_or(80),
        path: uri
            .path_and_query()
            .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned()),
    })
}

impl Harness {
    /// The telemetry subscriptions made, in order.
    pub fn subscriptions(&self) -> Vec<Subscription> {
        self.state.lock().subscriptions.clone()
    }

    /// POSTs `batch` (a JSON array of records) to the latest subscriber, as Lambda delivers a
    /// batch; answers the subscriber's status.
    pub async fn push_batch(&self, batch: Value) -> u16 {
        self.push(Method::POST, batch.to_string())
            .await
            .expect("the subscriber takes the connection")
    }

    /// Sends `body` with `method` to the latest subscriber's destination; the status, or why
    /// it could not be sent (the subscriber is not listening).
    pub async fn push(&self, method: Method, body: impl Into<Bytes>) -> std::io::Result<u16> {
        let to = self
            .subscriptions()
            .pop()
            .expect("a telemetry subscription to push to");
        let stream = TcpStream::connect((to.host.as_str(), to.port)).await?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(std::io::Error::other)?;
        tokio::spawn(connection);
        let request = Request::builder()
            .method(method)
            .uri(&to.path)
            .header(
                http::header::HOST,
                format!("sandbox.localdomain:{}", to.port),
            )
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Full::new(body.into()))
            .map_err(std::io::Error::other)?;
        let response = sender
            .send_request(request)
            .await
            .map_err(std::io::Error::other)?;
        Ok(response.status().as_u16())
    }

    /// Opens a TCP connection to the latest subscriber's destination, as Lambda does to deliver
    /// to a TCP subscriber; the test writes lines to it (and closes it by dropping it).
    pub async fn connect_tcp(&self) -> std::io::Result<TcpStream> {
        let to = self
            .subscriptions()
            .pop()
            .expect("a telemetry subscription to deliver to");
        assert_eq!(
            to.protocol, "TCP",
            "the latest subscription is not a TCP one"
        );
        TcpStream::connect((to.host.as_str(), to.port)).await
    }

    /// Sends a raw subscription request (`PUT /2022-07-01/telemetry` with `body`, and the
    /// identifier if given) to the harness itself; answers the status and the JSON body.
    pub async fn put_telemetry(&self, extension_id: Option<&str>, body: Value) -> (u16, Value) {
        self.put_subscription(PATH, extension_id, body).await
    }

    /// Like [`put_telemetry`](Self::put_telemetry), to `PUT /2020-08-15/logs`.
    pub async fn put_logs(&self, extension_id: Option<&str>, body: Value) -> (u16, Value) {
        self.put_subscription(LOGS_PATH, extension_id, body).await
    }

    async fn put_subscription(
        &self,
        path: &str,
        extension_id: Option<&str>,
        body: Value,
    ) -> (u16, Value) {
        let stream = TcpStream::connect(self.address.as_str()).await.unwrap();
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .unwrap();
        tokio::spawn(connection);
        let mut request = Request::builder()
            .method(Method::PUT)
            .uri(format!("{}{path}", self.state.lock().prefix))
            .header(http::header::HOST, self.address.as_str());
        if let Some(id) = extension_id {
            request = request.header("lambda-extension-identifier", id);
        }
        let request = request
            .body(Full::new(Bytes::from(body.to_string())))
            .unwrap();
        let response = sender.send_request(request).await.unwrap();
        let status = response.status().as_u16();
        let body = http_body_util::BodyExt::collect(response.into_body())
            .await
            .unwrap()
            .to_bytes();
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }
}
