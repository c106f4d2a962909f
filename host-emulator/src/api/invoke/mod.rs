//! The Invoke API (2015-03-31) on the emulator's main listener: parses requests, hands
//! invocations to the function's scheduler and answers exactly as Lambda does, mapping every
//! failure to AWS's error shape.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinSet;

use super::{read_body, BodyError, MAX_EVENT_REQUEST_BYTES, MAX_SYNC_REQUEST_BYTES};
use crate::invocation::{Answer, Invocation};
use crate::scheduler::{FunctionShared, PoolMessage};

/// Longest base64 `X-Amz-Client-Context`.
pub const MAX_CLIENT_CONTEXT_BYTES: usize = 3583;
/// Non-standard header carrying a Cognito identity (JSON) to `Lambda-Runtime-Cognito-Identity`.
pub const COGNITO_IDENTITY_HEADER: &str = "x-firebox-cognito-identity";

/// The functions the Invoke API serves, by name (fixed after start-up; no lock).
#[derive(Debug)]
pub(crate) struct Functions {
    pub by_name: HashMap<String, Arc<FunctionShared>>,
    pub default_region: String,
    pub default_account: String,
}

/// Serves the Invoke API until `shutdown` fires; dropping the task closes every connection.
pub(crate) async fn serve(
    listener: TcpListener,
    functions: Arc<Functions>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        // Out of file descriptors and the like: wait a little, keep serving.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let functions = functions.clone();
                connections.spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let functions = functions.clone();
                        async move { Ok::<_, Infallible>(handle(req, &functions).await) }
                    });
                    let mut builder = hyper::server::conn::http1::Builder::new();
                    builder
                        .keep_alive(true)
                        .timer(TokioTimer::new())
                        .header_read_timeout(Duration::from_secs(30));
                    if let Err(e) = builder.serve_connection(TokioIo::new(stream), service).await {
                        tracing::debug!(error = %e, "invoke connection ended with an error");
                    }
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() {
                    break;
                }
            }
        }
    }
}

/// How the caller wants the function run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InvocationType {
    RequestResponse,
    Event,
    DryRun,
}

async fn handle(req: Request<Incoming>, functions: &Functions) -> Response<Full<Bytes>> {
    let request_id = crate::ids::request_id();
    match invoke(req, functions, &request_id).await {
        Ok(response) => response,
        Err(e) => e.into_response(&request_id),
    }
}

/// A service error in AWS's shape.
#[derive(Debug)]
struct ServiceError {
    status: StatusCode,
    code: &'static str,
    message: String,
    reason: Option<&'static str>,
}

impl ServiceError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            reason: None,
        }
    }

    fn into_response(self, request_id: &str) -> Response<Full<Bytes>> {
        let kind = if self.status.is_server_error() {
            "Service"
        } else {
            "User"
        };
        let mut body = serde_json::json!({ "Type": kind, "message": self.message });
        if let Some(reason) = self.reason {
            body["Reason"] = reason.into();
        }
        let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
        *response.status_mut() = self.status;
        let h = response.headers_mut();
        h.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        h.insert("x-amzn-errortype", HeaderValue::from_static(self.code));
        if let Ok(v) = HeaderValue::from_str(request_id) {
            h.insert("x-amzn-requestid", v);
        }
        response
    }
}

fn bad_parameter(message: impl Into<String>) -> ServiceError {
    ServiceError::new(
        StatusCode::BAD_REQUEST,
        "InvalidParameterValueException",
        message,
    )
}

async fn invoke(
    req: Request<Incoming>,
    functions: &Functions,
    request_id: &str,
) -> Result<Response<Full<Bytes>>, ServiceError> {
    let path = req.uri().path();
    let segments: Vec<&str> = path.split('/').collect();
    let raw_name = match segments.as_slice() {
        ["", "2015-03-31", "functions", name, "invocations"] if !name.is_empty() => *name,
        _ => {
            return Err(ServiceError::new(
                StatusCode::NOT_FOUND,
                "UnknownOperationException",
                format!("Unknown operation: {} {path}", req.method()),
            ))
        }
    };
    if req.method() != Method::POST {
        return Err(ServiceError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "UnknownOperationException",
            format!("{} is not allowed on {path}; use POST", req.method()),
        ));
    }
    let decoded = percent_decode(raw_name)
        .ok_or_else(|| bad_parameter(format!("invalid percent-encoding in `{raw_name}`")))?;
    let target = FunctionRef::parse(&decoded).ok_or_else(|| {
        ServiceError::new(
            StatusCode::BAD_REQUEST,
            "ValidationException",
            format!("1 validation error detected: Value '{decoded}' at 'functionName' failed to satisfy constraint: Member must be a function name or ARN"),
        )
    })?;
    let query_qualifier = req.uri().query().and_then(|q| {
        q.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (k == "Qualifier").then(|| percent_decode(v).unwrap_or_else(|| v.to_owned()))
        })
    });
    let qualifier = match (&target.qualifier, query_qualifier) {
        (Some(a), Some(b)) if *a != b => return Err(bad_parameter(
            "The derived qualifier from the function name does not match the specified qualifier.",
        )),
        (a, b) => a.clone().or(b).filter(|q| !q.is_empty()),
    };
    let region = target
        .region
        .clone()
        .unwrap_or_else(|| functions.default_region.clone());
    let account = target
        .account
        .clone()
        .unwrap_or_else(|| functions.default_account.clone());
    let mut arn = format!("arn:aws:lambda:{region}:{account}:function:{}", target.name);
    if let Some(q) = &qualifier {
        arn.push(':');
        arn.push_str(q);
    }
    let not_found = || {
        ServiceError::new(
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            format!("Function not found: {arn}"),
        )
    };
    let function = functions.by_name.get(&target.name).ok_or_else(not_found)?;
    let config = &function.config;
    if target.region.as_ref().is_some_and(|r| *r != config.region)
        || target
            .account
            .as_ref()
            .is_some_and(|a| *a != config.account_id)
        || qualifier.as_deref().is_some_and(|q| q != "$LATEST")
    {
        return Err(not_found());
    }

    let headers = req.headers();
    let invocation_type = match header(headers, "x-amz-invocation-type")? {
        None | Some("RequestResponse") => InvocationType::RequestResponse,
        Some("Event") => InvocationType::Event,
        Some("DryRun") => InvocationType::DryRun,
        Some(other) => {
            return Err(bad_parameter(format!(
                "Invalid X-Amz-Invocation-Type `{other}`: use RequestResponse, Event or DryRun"
            )))
        }
    };
    let tail = match header(headers, "x-amz-log-type")? {
        None | Some("None") => false,
        Some("Tail") => invocation_type == InvocationType::RequestResponse,
        Some(other) => {
            return Err(bad_parameter(format!(
                "Invalid X-Amz-Log-Type `{other}`: use None or Tail"
            )))
        }
    };
    let client_context = header(headers, "x-amz-client-context")?
        .map(decode_client_context)
        .transpose()?;
    let cognito_identity = header(headers, COGNITO_IDENTITY_HEADER)?
        .map(|c| {
            serde_json::from_str::<serde_json::Value>(c)
                .map(|v| v.to_string())
                .map_err(|_| bad_parameter("The Cognito identity must be a JSON object."))
        })
        .transpose()?;
    let tenant_id = header(headers, "x-amz-tenant-id")?.map(str::to_owned);

    if invocation_type == InvocationType::DryRun {
        return Ok(answer(StatusCode::NO_CONTENT, Bytes::new(), request_id));
    }
    let limit = match invocation_type {
        InvocationType::Event => MAX_EVENT_REQUEST_BYTES,
        _ => MAX_SYNC_REQUEST_BYTES,
    };
    let too_large = || {
        ServiceError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "RequestTooLargeException",
            format!("Request must be smaller than {limit} bytes for the InvokeFunction operation"),
        )
    };
    let declared = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let payload = match read_body(req.into_body(), limit).await {
        Ok(body) => body,
        Err(BodyError::TooLarge { .. }) => return Err(too_large()),
        Err(BodyError::Read(e)) => {
            return Err(ServiceError::new(
                StatusCode::BAD_REQUEST,
                "InvalidRequestContentException",
                format!("Could not read the request body: {e}"),
            ))
        }
    };
    if declared.is_some_and(|d| d > limit) {
        return Err(too_large());
    }
    let payload = if payload.iter().all(u8::is_ascii_whitespace) {
        Bytes::from_static(b"{}")
    } else {
        if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(&payload) {
            return Err(ServiceError::new(
                StatusCode::BAD_REQUEST,
                "InvalidRequestContentException",
                format!("Could not parse request body into json: {e}"),
            ));
        }
        payload
    };

    let (reply, outcome) = match invocation_type {
        InvocationType::RequestResponse => {
            let (tx, rx) = oneshot::channel();
            (Some(tx), Some(rx))
        }
        _ => (None, None),
    };
    let mut invocation = Invocation::new(request_id.to_owned(), payload, arn, reply);
    invocation.client_context = client_context;
    invocation.cognito_identity = cognito_identity;
    invocation.tenant_id = tenant_id;
    invocation.tail = tail;
    if function.pool.send(PoolMessage::Invoke(invocation)).is_err() {
        return Err(shutting_down());
    }
    let Some(outcome) = outcome else {
        return Ok(answer(StatusCode::ACCEPTED, Bytes::new(), request_id));
    };
    let outcome = outcome.await.map_err(|_| shutting_down())?;
    let mut response = match outcome.answer {
        Answer::Success(body) => answer(StatusCode::OK, body, request_id),
        Answer::FunctionError(doc) => {
            let mut r = answer(StatusCode::OK, doc, request_id);
            r.headers_mut().insert(
                "x-amz-function-error",
                HeaderValue::from_static("Unhandled"),
            );
            r
        }
        Answer::Throttled { reason } => {
            return Err(ServiceError {
                status: StatusCode::TOO_MANY_REQUESTS,
                code: "TooManyRequestsException",
                message: "Rate Exceeded.".into(),
                reason: Some(reason),
            })
        }
        Answer::ServiceError(message) => {
            return Err(ServiceError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "ServiceException",
                message,
            ))
        }
    };
    if let Some(tail) = outcome.log_tail {
        let encoded = base64::engine::general_purpose::STANDARD.encode(tail.as_bytes());
        if let Ok(v) = HeaderValue::from_str(&encoded) {
            response.headers_mut().insert("x-amz-log-result", v);
        }
    }
    Ok(response)
}

fn shutting_down() -> ServiceError {
    ServiceError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "ServiceException",
        "The emulator is shutting down.",
    )
}

fn answer(status: StatusCode, body: Bytes, request_id: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    let h = response.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert("x-amzn-requestid", v);
    }
    if status != StatusCode::ACCEPTED && status != StatusCode::NO_CONTENT {
        h.insert(
            "x-amz-executed-version",
            HeaderValue::from_static("$LATEST"),
        );
    }
    response
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, ServiceError> {
    match headers.get(name) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .map(|s| Some(s.trim()))
            .map_err(|_| bad_parameter(format!("The {name} header is not valid text."))),
    }
}

fn decode_client_context(encoded: &str) -> Result<String, ServiceError> {
    if encoded.len() > MAX_CLIENT_CONTEXT_BYTES {
        return Err(bad_parameter(format!(
            "Client context must be at most {MAX_CLIENT_CONTEXT_BYTES} bytes of base64."
        )));
    }
    let invalid = || bad_parameter("Client context must be a valid Base64-encoded JSON object.");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|_| invalid())?;
    match serde_json::from_slice::<serde_json::Value>(&bytes) {
        Ok(v @ serde_json::Value::Object(_)) => Ok(v.to_string()),
        _ => Err(invalid()),
    }
}

/// A function as the caller named it.
#[derive(Debug, PartialEq, Eq)]
struct FunctionRef {
    name: String,
    qualifier: Option<String>,
    region: Option<String>,
    account: Option<String>,
}

impl FunctionRef {
    /// `NAME[:Q]`, `ACCOUNT:function:NAME[:Q]` or `arn:aws:lambda:REGION:ACCOUNT:function:NAME[:Q]`.
    fn parse(s: &str) -> Option<Self> {
        let parts: Vec<&str> = s.split(':').collect();
        let (region, account, rest) = match parts.as_slice() {
            ["arn", partition, "lambda", region, account, "function", rest @ ..]
                if partition.starts_with("aws") =>
            {
                (Some(*region), Some(*account), rest)
            }
            [account, "function", rest @ ..] => (None, Some(*account), rest),
            rest => (None, None, rest),
        };
        let (name, qualifier) = match rest {
            [name] => (*name, None),
            [name, q] => (*name, Some(*q)),
            _ => return None,
        };
        let valid = |s: &str| {
            !s.is_empty()
                && s.len() <= 140
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        };
        if !valid(name) || qualifier.is_some_and(|q| q.is_empty()) {
            return None;
        }
        Some(Self {
            name: name.to_owned(),
            qualifier: qualifier.map(str::to_owned),
            region: region.map(str::to_owned),
            account: account.map(str::to_owned),
        })
    }
}

/// Decodes `%XX` escapes; `None` when an escape is malformed or the result is not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_names() {
        let f = FunctionRef::parse("hello").unwrap();
        assert_eq!((f.name.as_str(), f.qualifier), ("hello", None));
        let f = FunctionRef::parse("hello:$LATEST").unwrap();
        assert_eq!(f.qualifier.as_deref(), Some("$LATEST"));
        let f = FunctionRef::parse("123456789012:function:hello:prod").unwrap();
        assert_eq!(f.account.as_deref(), Some("123456789012"));
        assert_eq!(f.qualifier.as_deref(), Some("prod"));
        let f = FunctionRef::parse("arn:aws:lambda:eu-west-1:123456789012:function:hello").unwrap();
        assert_eq!(f.region.as_deref(), Some("eu-west-1"));
        assert!(FunctionRef::parse("a:b:c").is_none());
        assert!(FunctionRef::parse("bad name").is_none());
        assert!(FunctionRef::parse("").is_none());
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%3Ab%24").as_deref(), Some("a:b$"));
        assert_eq!(percent_decode("%zz"), None);
        assert_eq!(percent_decode("%4"), None);
    }

    #[test]
    fn client_context() {
        let ok = base64::engine::general_purpose::STANDARD.encode(r#"{"custom": {"a": 1}}"#);
        assert_eq!(decode_client_context(&ok).unwrap(), r#"{"custom":{"a":1}}"#);
        assert!(decode_client_context("!!!").is_err());
        let not_object = base64::engine::general_purpose::STANDARD.encode("[1]");
        assert!(decode_client_context(&not_object).is_err());
    }
}
