//! The Extensions API (2020-01-01), served on the same listener as an environment's Runtime
//! API: `register`, `event/next`, `init/error` and `exit/error`. What needs no state (missing
//! headers, a malformed body, unknown event types) is refused here with 403 and the error
//! types Lambda uses; everything else becomes a [`RuntimeRequest`] for the environment's task.

use super::RequestBody;
use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::Full;
use serde::Deserialize;
use tokio::sync::{mpsc, oneshot};

use super::runtime::{gone, header, json, RuntimeRequest};
use super::{read_body, MAX_EVENT_REQUEST_BYTES};
use crate::invocation::error_document;

/// The path prefix of the Extensions API.
pub const PREFIX: &str = "/2020-01-01/extension/";
const NAME_HEADER: &str = "lambda-extension-name";
const ID_HEADER: &str = "lambda-extension-identifier";
const EVENT_ID_HEADER: &str = "lambda-extension-event-identifier";
const ERROR_TYPE_HEADER: &str = "lambda-extension-function-error-type";
const ACCEPT_FEATURE_HEADER: &str = "lambda-extension-accept-feature";

/// The lifecycle events an extension registers for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Subscriptions {
    /// `INVOKE`: one event per invocation.
    pub invoke: bool,
    /// `SHUTDOWN`: one event before the environment ends (external extensions only).
    pub shutdown: bool,
}

impl Subscriptions {
    /// `[INVOKE, SHUTDOWN]`, as in the `EXTENSION` log line.
    pub fn describe(self) -> String {
        let mut events = Vec::new();
        if self.invoke {
            events.push("INVOKE");
        }
        if self.shutdown {
            events.push("SHUTDOWN");
        }
        format!("[{}]", events.join(","))
    }
}

/// Which error an extension reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtensionErrorKind {
    /// `init/error`: it could not initialise; Init fails.
    Init,
    /// `exit/error`: it is about to exit because of an error.
    Exit,
}

/// The environment's answer to an Extensions API call.
#[derive(Debug)]
pub enum ExtensionAnswer {
    /// 200 to `register`: the identifier and the function's metadata.
    Registered {
        /// `Lambda-Extension-Identifier`.
        id: String,
        /// `{"functionName", "functionVersion", "handler"[, "accountId"]}`.
        body: Bytes,
    },
    /// 200 to `event/next`: an `INVOKE` or `SHUTDOWN` event.
    Event(Bytes),
    /// 202 to an error report.
    Accepted,
    /// 403 with this error document.
    Forbidden(Bytes),
    /// 400 with this error document (a Telemetry or Logs API subscription refused).
    BadRequest(Bytes),
}

/// Routes one Extensions API call (`route` is the path after [`PREFIX`]).
pub async fn handle(
    req: Request<RequestBody>,
    route: &str,
    requests: &mpsc::UnboundedSender<RuntimeRequest>,
) -> Response<Full<Bytes>> {
    let (reply, answer) = oneshot::channel();
    let request = match (req.method(), route) {
        (&Method::POST, "register") => match register(req, reply).await {
            Ok(request) => request,
            Err(refusal) => return refusal,
        },
        (&Method::GET, "event/next") => {
            let id = match extension_id(&req) {
                Ok(id) => id,
                Err(refusal) => return *refusal,
            };
            RuntimeRequest::ExtensionNext { id, reply }
        }
        (&Method::POST, "init/error") | (&Method::POST, "exit/error") => {
            let kind = if route == "init/error" {
                ExtensionErrorKind::Init
            } else {
                ExtensionErrorKind::Exit
            };
            let id = match extension_id(&req) {
                Ok(id) => id,
                Err(refusal) => return *refusal,
            };
            let Some(error_type) = header(&req, ERROR_TYPE_HEADER) else {
                return missing_header(ERROR_TYPE_HEADER);
            };
            let body = read_body(req.into_body(), MAX_EVENT_REQUEST_BYTES)
                .await
                .ok()
                .filter(|b| !b.is_empty());
            RuntimeRequest::ExtensionError {
                id,
                kind,
                error_type,
                body,
                reply,
            }
        }
        // A route of the API with another method: 405, as the Runtime API answers it.
        (_, "register" | "init/error" | "exit/error") => {
            return super::runtime::not_allowed(&format!("{PREFIX}{route}"), "POST")
        }
        (_, "event/next") => {
            return super::runtime::not_allowed(&format!("{PREFIX}{route}"), "GET")
        }
        _ => {
            return json(
                StatusCode::NOT_FOUND,
                error_document(
                    "InvalidRequest",
                    &format!("no Extensions API route for {}{route}", PREFIX),
                ),
            )
        }
    };
    if requests.send(request).is_err() {
        return gone();
    }
    match answer.await {
        Ok(ExtensionAnswer::Registered { id, body }) => {
            let mut response = json(StatusCode::OK, body);
            if let Ok(v) = HeaderValue::from_str(&id) {
                response.headers_mut().insert(ID_HEADER, v);
            }
            response
        }
        Ok(ExtensionAnswer::Event(body)) => {
            let mut response = json(StatusCode::OK, body);
            let event_id = crate::ids::request_id();
            if let Ok(v) = HeaderValue::from_str(&event_id) {
                response.headers_mut().insert(EVENT_ID_HEADER, v);
            }
            response
        }
        Ok(ExtensionAnswer::Accepted) => json(
            StatusCode::ACCEPTED,
            Bytes::from_static(b"{\"status\":\"OK\"}"),
        ),
        Ok(ExtensionAnswer::Forbidden(doc)) => json(StatusCode::FORBIDDEN, doc),
        Ok(ExtensionAnswer::BadRequest(doc)) => json(StatusCode::BAD_REQUEST, doc),
        Err(_) => gone(),
    }
}

/// The body of `register`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RegisterBody {
    #[serde(default)]
    events: Vec<String>,
}

/// Checks a `register` call: its name, its body and its events.
async fn register(
    req: Request<RequestBody>,
    reply: oneshot::Sender<ExtensionAnswer>,
) -> Result<RuntimeRequest, Response<Full<Bytes>>> {
    let Some(name) = header(&req, NAME_HEADER) else {
        return Err(forbidden(
            "Extension.InvalidExtensionName",
            "Empty extension name: send the Lambda-Extension-Name header",
        ));
    };
    let account_id = header(&req, ACCEPT_FEATURE_HEADER)
        .is_some_and(|f| f.split(',').any(|f| f.trim() == "accountId"));
    let body = read_body(req.into_body(), MAX_EVENT_REQUEST_BYTES)
        .await
        .map_err(|e| forbidden("InvalidRequestFormat", &e.to_string()))?;
    let parsed: RegisterBody = serde_json::from_slice(&body).map_err(|e| {
        forbidden(
            "InvalidRequestFormat",
            &format!("the body must be {{\"events\": [\"INVOKE\", \"SHUTDOWN\"]}}: {e}"),
        )
    })?;
    let mut events = Subscriptions::default();
    for event in &parsed.events {
        match event.as_str() {
            "INVOKE" => events.invoke = true,
            "SHUTDOWN" => events.shutdown = true,
            other => {
                return Err(forbidden(
                    "Extension.InvalidEventType",
                    &format!("{other}: unknown event type (INVOKE or SHUTDOWN)"),
                ))
            }
        }
    }
    Ok(RuntimeRequest::ExtensionRegister {
        name,
        events,
        account_id,
        reply,
    })
}

/// The `Lambda-Extension-Identifier` of a call, checked as Lambda checks it before looking the
/// extension up: absent is `Extension.MissingExtensionIdentifier`, not a UUID is
/// `Extension.InvalidExtensionIdentifier` (both 403). A well-formed identifier that names no
/// extension is the environment's to refuse (`Extension.UnknownExtensionIdentifier`).
pub(super) fn extension_id(
    req: &Request<RequestBody>,
) -> Result<String, Box<Response<Full<Bytes>>>> {
    let Some(id) = header(req, ID_HEADER) else {
        return Err(Box::new(forbidden(
            "Extension.MissingExtensionIdentifier",
            "Missing Lambda-Extension-Identifier header",
        )));
    };
    if uuid::Uuid::try_parse(&id).is_err() {
        return Err(Box::new(forbidden(
            "Extension.InvalidExtensionIdentifier",
            &format!("Invalid Lambda-Extension-Identifier {id:?}: not a UUID"),
        )));
    }
    Ok(id)
}

fn missing_header(name: &str) -> Response<Full<Bytes>> {
    forbidden(
        "Extension.MissingHeader",
        &format!("the {name} header is missing"),
    )
}

fn forbidden(error_type: &str, message: &str) -> Response<Full<Bytes>> {
    json(StatusCode::FORBIDDEN, error_document(error_type, message))
}
