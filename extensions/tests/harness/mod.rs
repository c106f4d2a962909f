//! PROTOCOL-CONFORMANCE HARNESS — NOT THE EMULATOR.
//!
//! A minimal Extensions API (2020-01-01) server, started on `127.0.0.1:0` inside a test, that
//! implements exactly the wire protocol the client is written against: `register` (with its
//! 403/400 error documents), `event/next` (long poll; 403 for a missing or unknown identifier
//! and for a second concurrent call), `init/error` and `exit/error` (202), and the Telemetry
//! and Logs APIs' subscriptions, `PUT /2022-07-01/telemetry` and `PUT /2020-08-15/logs` (see
//! `telemetry.rs`, which also delivers records to the subscriber, over HTTP or TCP). It checks that the client speaks the protocol; it does not model
//! Lambda's lifecycle. End-to-end tests against the real emulator live elsewhere.

#![allow(dead_code)] // each test binary uses part of the harness

mod telemetry;

#[allow(unused_imports)] // each test binary uses part of the harness
pub use telemetry::{record as telemetry_record, Api, Subscription, TIME as TELEMETRY_TIME};

use std::{
    collections::{HashMap, HashSet, VecDeque},
    convert::Infallible,
    sync::{Arc, Mutex, MutexGuard},
    time::Duration,
};

use bytes::Bytes;
use firebox_extensions::Endpoint;
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::{body::Incoming, server::conn::http1, service::service_fn};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::{net::TcpListener, sync::Notify, task::JoinHandle};

/// The function every registration describes.
pub const FUNCTION_NAME: &str = "harness-function";
/// The account id answered when asked for.
pub const ACCOUNT_ID: &str = "123456789012";
/// The most extensions the harness accepts (Lambda's limit).
pub const MAX_EXTENSIONS: usize = 10;

/// A request the harness received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: Method,
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Recorded {
    /// A header's value, as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body, as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// A registered extension, as the harness sees it.
#[derive(Debug, Clone)]
pub struct Registered {
    pub id: String,
    pub name: String,
    pub events: Vec<String>,
}

#[derive(Default)]
struct Inner {
    prefix: String,
    registration_closed: bool,
    internal_names: HashSet<String>,
    extensions: Vec<Registered>,
    queues: HashMap<String, VecDeque<Value>>,
    /// Extensions with an `event/next` in progress: done with their previous event.
    waiting: HashSet<String>,
    requests: Vec<Recorded>,
    /// Answers every `event/next` with this status and body instead of an event.
    next_answer: Option<(StatusCode, String)>,
    events_sent: u64,
    /// Telemetry subscriptions, in the order they were made.
    subscriptions: Vec<telemetry::Subscription>,
}

struct State {
    inner: Mutex<Inner>,
    changed: Notify,
}

impl State {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The running harness; the server stops when it is dropped.
pub struct Harness {
    pub endpoint: Endpoint,
    /// `host:port`, as `AWS_LAMBDA_RUNTIME_API` would carry it.
    pub address: String,
    state: Arc<State>,
    server: JoinHandle<()>,
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Harness {
    /// Starts a harness on `127.0.0.1:0`.
    pub async fn start() -> Harness {
        Self::start_with_prefix("").await
    }

    /// Starts a harness serving under a path prefix (`/prefix`), reached at
    /// `http://host:port/prefix`.
    pub async fn start_with_prefix(prefix: &str) -> Harness {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let state = Arc::new(State {
            inner: Mutex::new(Inner {
                prefix: prefix.to_owned(),
                ..Inner::default()
            }),
            changed: Notify::new(),
        });
        let served = state.clone();
        let server = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let state = served.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| {
                        let state = state.clone();
                        async move { Ok::<_, Infallible>(handle(state, req).await) }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        let endpoint = Endpoint::parse(&format!("http://{address}{prefix}")).unwrap();
        Harness {
            endpoint,
            address,
            state,
            server,
        }
    }

    /// Refuses registrations from now on (`403 Extension.RegistrationClosed`).
    pub fn close_registration(&self) {
        self.state.lock().registration_closed = true;
    }

    /// Treats extensions registering as `name` as internal ones (no `SHUTDOWN`).
    pub fn mark_internal(&self, name: &str) {
        self.state.lock().internal_names.insert(name.to_owned());
    }

    /// Answers every `event/next` with `status` and `body` from now on.
    pub fn answer_next_with(&self, status: u16, body: &str) {
        self.state.lock().next_answer =
            Some((StatusCode::from_u16(status).unwrap(), body.to_owned()));
        self.state.changed.notify_waiters();
    }

    /// Queues an `INVOKE` for every extension subscribed to it.
    pub fn invoke(&self, request_id: &str) {
        self.broadcast(
            "INVOKE",
            json!({
                "eventType": "INVOKE",
                "deadlineMs": 4_102_444_800_000u64,
                "requestId": request_id,
                "invokedFunctionArn": format!("arn:aws:lambda:us-east-1:{ACCOUNT_ID}:function:{FUNCTION_NAME}"),
                "tracing": {"type": "X-Amzn-Trace-Id", "value": "Root=1-00000000-000000000000000000000000;Sampled=0"},
            }),
        );
    }

    /// Queues a `SHUTDOWN` for every extension subscribed to it.
    pub fn shutdown(&self, reason: &str) {
        self.broadcast(
            "SHUTDOWN",
            json!({"eventType": "SHUTDOWN", "shutdownReason": reason, "deadlineMs": 4_102_444_800_000u64}),
        );
    }

    /// Queues `body` (any JSON, even malformed events) for every registered extension.
    pub fn send_raw(&self, body: Value) {
        let mut inner = self.state.lock();
        for queue in inner.queues.values_mut() {
            queue.push_back(body.clone());
        }
        drop(inner);
        self.state.changed.notify_waiters();
    }

    fn broadcast(&self, event_type: &str, body: Value) {
        let mut inner = self.state.lock();
        let subscribed: Vec<String> = inner
            .extensions
            .iter()
            .filter(|e| e.events.iter().any(|t| t == event_type))
            .map(|e| e.id.clone())
            .collect();
        for id in subscribed {
            inner.queues.entry(id).or_default().push_back(body.clone());
        }
        drop(inner);
        self.state.changed.notify_waiters();
    }

    /// The registered extensions.
    pub fn registered(&self) -> Vec<Registered> {
        self.state.lock().extensions.clone()
    }

    /// Every request received, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.lock().requests.clone()
    }

    /// The requests received for `path` (after the prefix, e.g. `/2020-01-01/extension/exit/error`).
    pub fn requests_to(&self, path: &str) -> Vec<Recorded> {
        let prefix = self.state.lock().prefix.clone();
        let full = format!("{prefix}{path}");
        self.requests()
            .into_iter()
            .filter(|r| r.path == full)
            .collect()
    }

    /// The one subscription request received for `path` (the Telemetry or Logs API), checked
    /// to be a JSON `PUT` from extension `id` under the endpoint's prefix; its body.
    pub fn the_subscription(&self, path: &str, id: &str) -> Value {
        let sent = self.requests_to(path);
        assert_eq!(sent.len(), 1, "one subscription to {path}");
        let prefix = self.state.lock().prefix.clone();
        assert_eq!(sent[0].method, http::Method::PUT);
        assert_eq!(sent[0].path, format!("{prefix}{path}"));
        assert_eq!(sent[0].header("lambda-extension-identifier"), Some(id));
        assert_eq!(sent[0].header("content-type"), Some("application/json"));
        sent[0].json()
    }

    /// How many extensions are inside `event/next` right now (done with their last event).
    pub fn waiting(&self) -> usize {
        self.state.lock().waiting.len()
    }

    /// Waits (up to 10 s) until `done` holds.
    pub async fn wait_until(&self, what: &str, done: impl Fn(&Harness) -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let changed = self.state.changed.notified();
            if done(self) {
                return;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() && !done(self) {
                panic!("timed out waiting until {what}");
            }
        }
    }
}

/// An answer with a JSON body.
fn answer(status: StatusCode, body: Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}

/// An error document.
fn refuse(status: StatusCode, error_type: &str, message: &str) -> Response<Full<Bytes>> {
    answer(
        status,
        json!({"errorMessage": message, "errorType": error_type}),
    )
}

fn forbidden(error_type: &str, message: &str) -> Response<Full<Bytes>> {
    refuse(StatusCode::FORBIDDEN, error_type, message)
}

async fn handle(state: Arc<State>, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let recorded = Recorded {
        method: parts.method.clone(),
        path: parts.uri.path().to_owned(),
        headers: parts.headers.clone(),
        body,
    };
    let route = {
        let mut inner = state.lock();
        inner.requests.push(recorded.clone());
        recorded
            .path
            .strip_prefix(inner.prefix.as_str())
            .unwrap_or("")
            .to_owned()
    };
    state.changed.notify_waiters();
    match (&recorded.method, route.as_str()) {
        (&Method::POST, "/2020-01-01/extension/register") => register(&state, &recorded),
        (&Method::GET, "/2020-01-01/extension/event/next") => next(state, &recorded).await,
        (&Method::POST, "/2020-01-01/extension/init/error")
        | (&Method::POST, "/2020-01-01/extension/exit/error") => report_error(&state, &recorded),
        (method, telemetry::PATH) => {
            telemetry::subscribe(&state, telemetry::Api::Telemetry, method, &recorded)
        }
        (method, telemetry::LOGS_PATH) => {
            telemetry::subscribe(&state, telemetry::Api::Logs, method, &recorded)
        }
        _ => refuse(StatusCode::NOT_FOUND, "NotFound", "no such route"),
    }
}

fn register(state: &State, req: &Recorded) -> Response<Full<Bytes>> {
    let mut inner = state.lock();
    let Some(name) = req
        .header("lambda-extension-name")
        .filter(|n| !n.is_empty())
    else {
        return forbidden(
            "Extension.InvalidExtensionName",
            "missing Lambda-Extension-Name",
        );
    };
    if inner.registration_closed {
        return forbidden("Extension.RegistrationClosed", "registration is closed");
    }
    let Some(events) = req
        .json()
        .get("events")
        .and_then(Value::as_array)
        .map(|events| {
            events
                .iter()
                .map(|e| e.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
        })
    else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "InvalidRequestFormat",
            "expected {\"events\": [...]}",
        );
    };
    let Some(events) = events else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "InvalidRequestFormat",
            "events must be strings",
        );
    };
    if let Some(bad) = events.iter().find(|e| *e != "INVOKE" && *e != "SHUTDOWN") {
        return forbidden(
            "Extension.InvalidEventType",
            &format!("unknown event {bad}"),
        );
    }
    if inner.internal_names.contains(name) && events.iter().any(|e| e == "SHUTDOWN") {
        return forbidden(
            "Extension.InvalidEventType",
            "internal extensions cannot register for SHUTDOWN",
        );
    }
    if inner.extensions.iter().any(|e| e.name == name) {
        return forbidden(
            "Extension.InvalidExtensionName",
            &format!("{name} is already registered"),
        );
    }
    if inner.extensions.len() >= MAX_EXTENSIONS {
        return forbidden("Extension.TooManyExtensions", "too many extensions");
    }
    let id = format!("00000000-0000-4000-8000-{:012}", inner.extensions.len() + 1);
    inner.queues.insert(id.clone(), VecDeque::new());
    inner.extensions.push(Registered {
        id: id.clone(),
        name: name.to_owned(),
        events,
    });
    let mut body = json!({
        "functionName": FUNCTION_NAME,
        "functionVersion": "$LATEST",
        "handler": "bootstrap",
    });
    if req
        .header("lambda-extension-accept-feature")
        .is_some_and(|features| features.split(',').any(|f| f.trim() == "accountId"))
    {
        body["accountId"] = json!(ACCOUNT_ID);
    }
    let mut response = answer(StatusCode::OK, body);
    response.headers_mut().insert(
        "lambda-extension-identifier",
        http::HeaderValue::from_str(&id).unwrap(),
    );
    response
}

/// Removes an extension from the waiting set when its `event/next` ends (answered or dropped).
struct Waiting {
    state: Arc<State>,
    id: String,
}

impl Drop for Waiting {
    fn drop(&mut self) {
        self.state.lock().waiting.remove(&self.id);
        self.state.changed.notify_waiters();
    }
}

/// The identifier of a registered extension, or the `403` error type and message.
fn identify(inner: &Inner, req: &Recorded) -> Result<String, (&'static str, String)> {
    let Some(id) = req.header("lambda-extension-identifier") else {
        return Err((
            "Extension.MissingExtensionIdentifier",
            "Missing Lambda-Extension-Identifier header".to_owned(),
        ));
    };
    if !inner.extensions.iter().any(|e| e.id == id) {
        return Err((
            "Extension.UnknownExtensionIdentifier",
            format!("unknown extension {id}"),
        ));
    }
    Ok(id.to_owned())
}

async fn next(state: Arc<State>, req: &Recorded) -> Response<Full<Bytes>> {
    let id = {
        let mut inner = state.lock();
        let id = match identify(&inner, req) {
            Ok(id) => id,
            Err((error_type, message)) => return forbidden(error_type, &message),
        };
        if !inner.waiting.insert(id.clone()) {
            return forbidden(
                "Extension.InvalidExtensionState",
                "an event/next is already in progress for this extension",
            );
        }
        id
    };
    let _waiting = Waiting {
        state: state.clone(),
        id: id.clone(),
    };
    state.changed.notify_waiters();
    loop {
        let changed = state.changed.notified();
        tokio::pin!(changed);
        changed.as_mut().enable();
        {
            let mut inner = state.lock();
            if let Some((status, body)) = inner.next_answer.clone() {
                let mut response = Response::new(Full::new(Bytes::from(body)));
                *response.status_mut() = status;
                return response;
            }
            if let Some(event) = inner.queues.get_mut(&id).and_then(VecDeque::pop_front) {
                inner.events_sent += 1;
                let mut response = answer(StatusCode::OK, event);
                let event_id = format!("event-{}", inner.events_sent);
                response.headers_mut().insert(
                    "lambda-extension-event-identifier",
                    http::HeaderValue::from_str(&event_id).unwrap(),
                );
                return response;
            }
        }
        changed.await;
    }
}

fn report_error(state: &State, req: &Recorded) -> Response<Full<Bytes>> {
    let inner = state.lock();
    if let Err((error_type, message)) = identify(&inner, req) {
        return forbidden(error_type, &message);
    }
    if req
        .header("lambda-extension-function-error-type")
        .is_none_or(str::is_empty)
    {
        return refuse(
            StatusCode::BAD_REQUEST,
            "InvalidRequestFormat",
            "missing Lambda-Extension-Function-Error-Type",
        );
    }
    answer(StatusCode::ACCEPTED, json!({"status": "OK"}))
}
