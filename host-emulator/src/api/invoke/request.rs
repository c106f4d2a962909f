//! Parsing what the Invoke APIs share: the function as the caller named it (name, partial or
//! full ARN, qualifier), the request headers, and the JSON payload with its size limit.

use std::sync::Arc;

use crate::api::RequestBody;
use base64::Engine;
use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};

use super::{
    bad_parameter, unreadable, Functions, ServiceError, COGNITO_IDENTITY_HEADER,
    MAX_CLIENT_CONTEXT_BYTES,
};
use crate::api::{read_body, BodyError, MAX_EVENT_REQUEST_BYTES, MAX_SYNC_REQUEST_BYTES};
use crate::arn::FunctionRef;
use crate::config::LATEST;
use crate::functions::EventTarget;
use crate::invocation::Invocation;
use crate::scheduler::FunctionShared;
use crate::versions::Function;

/// How the caller wants the function run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum InvocationType {
    RequestResponse,
    Event,
    DryRun,
}

/// A checked invoke request, before its body is read.
pub(super) struct Prepared {
    /// The version that runs it.
    pub function: Arc<FunctionShared>,
    /// The function it names.
    owner: Arc<Function>,
    /// The qualifier it was invoked with, if any.
    qualifier: Option<String>,
    /// The ARN as the caller named it.
    pub arn: String,
    pub invocation_type: InvocationType,
    pub tail: bool,
    client_context: Option<String>,
    cognito_identity: Option<String>,
    tenant_id: Option<String>,
    /// The caller's X-Ray trace header, when well formed (see [`crate::trace::from_caller`]).
    trace: Option<String>,
}

impl Prepared {
    /// The function and the qualifier it was invoked with (`$LATEST` when none), for an
    /// `Event`.
    pub fn event_target(&self) -> EventTarget {
        EventTarget {
            function: self.owner.clone(),
            qualifier: self.qualifier.clone().unwrap_or_else(|| LATEST.to_owned()),
            arn: self.arn.clone(),
        }
    }

    /// Copies the request's extras onto an invocation.
    pub fn fill(self, invocation: &mut Invocation) {
        invocation.client_context = self.client_context;
        invocation.cognito_identity = self.cognito_identity;
        invocation.tenant_id = self.tenant_id;
        invocation.tail = self.tail;
        if let Some(trace) = self.trace {
            invocation.trace_id = trace;
        }
    }
}

/// A function as a request named it: by name, partial or full ARN, with the qualifier from
/// the name or `?Qualifier=`.
pub(super) struct Named {
    /// The function.
    pub function: Arc<Function>,
    /// The qualifier, if any (not yet checked to exist).
    pub qualifier: Option<String>,
    /// The ARN as the caller named it (with the qualifier, if any).
    pub arn: String,
}

impl Named {
    /// Itself, when its qualifier (if any) names a version or alias that exists: reads that
    /// take a qualified name answer 404 for one that does not.
    pub fn existing(self) -> Result<Self, ServiceError> {
        match self.qualifier.as_deref() {
            Some(q)
                if self.function.version(q).is_none() && self.function.aliases.get(q).is_none() =>
            {
                Err(not_found(&self.arn))
            }
            _ => Ok(self),
        }
    }

    /// The version the qualifier names (through an alias, the one it picks now).
    pub fn resolve(&self) -> Result<Arc<FunctionShared>, ServiceError> {
        self.function
            .resolve(self.qualifier.as_deref())
            .ok_or_else(|| not_found(&self.arn))
    }
}

/// `404 ResourceNotFoundException` for a function ARN.
pub(super) fn not_found(arn: &str) -> ServiceError {
    ServiceError::new(
        StatusCode::NOT_FOUND,
        "ResourceNotFoundException",
        format!("Function not found: {arn}"),
    )
}

/// The value of one query parameter (percent-decoded), if present.
pub(super) fn query_param(req: &Request<RequestBody>, name: &str) -> Option<String> {
    req.uri().query().and_then(|q| {
        q.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (k == name).then(|| percent_decode(v).unwrap_or_else(|| v.to_owned()))
        })
    })
}

/// Finds the function named in the path (`raw_name`, still percent-encoded) and its
/// qualifier. A name, region or account this emulator does not have is 404; a qualifier in
/// the name that differs from `?Qualifier=` is 400.
pub(super) fn name_function(
    req: &Request<RequestBody>,
    raw_name: &str,
    functions: &Functions,
) -> Result<Named, ServiceError> {
    let decoded = percent_decode(raw_name)
        .ok_or_else(|| bad_parameter(format!("invalid percent-encoding in `{raw_name}`")))?;
    let target = FunctionRef::parse(&decoded).ok_or_else(|| {
        ServiceError::new(
            StatusCode::BAD_REQUEST,
            "ValidationException",
            format!("1 validation error detected: Value '{decoded}' at 'functionName' failed to satisfy constraint: Member must be a function name or ARN"),
        )
    })?;
    let parameter = query_param(req, "Qualifier");
    if let Some(q) = parameter
        .as_deref()
        .filter(|q| !crate::arn::valid_qualifier_parameter(q))
    {
        return Err(ServiceError::new(
            StatusCode::BAD_REQUEST,
            "ValidationException",
            format!("1 validation error detected: Value '{q}' at 'qualifier' failed to satisfy constraint: Member must satisfy regular expression pattern: (|[a-zA-Z0-9$_-]+) and have length less than or equal to 128"),
        ));
    }
    let qualifier = match (&target.qualifier, parameter) {
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
    let function = functions.get(&target.name).ok_or_else(|| not_found(&arn))?;
    let latest = function.latest();
    let config = &latest.config;
    if target.region.as_ref().is_some_and(|r| *r != config.region)
        || target
            .account
            .as_ref()
            .is_some_and(|a| *a != config.account_id)
        || target
            .partition
            .as_deref()
            .is_some_and(|p| p != crate::arn::partition_of(&config.region))
    {
        return Err(not_found(&arn));
    }
    Ok(Named {
        function,
        qualifier,
        arn,
    })
}

/// Resolves the function named in the path and checks the headers.
pub(super) fn prepare(
    req: &Request<RequestBody>,
    raw_name: &str,
    functions: &Functions,
) -> Result<Prepared, ServiceError> {
    let named = name_function(req, raw_name, functions)?;
    let function = named.resolve()?;
    let arn = named.arn;

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
    Ok(Prepared {
        trace: crate::trace::of_request(headers),
        function,
        owner: named.function,
        qualifier: named.qualifier,
        arn,
        invocation_type,
        tail,
        client_context,
        cognito_identity,
        tenant_id,
    })
}

/// Reads the JSON payload (empty means `{}`) within the limit of the invocation type.
pub(super) async fn read_payload(
    req: Request<RequestBody>,
    invocation_type: InvocationType,
) -> Result<Bytes, ServiceError> {
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
    let declared = req
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let payload = match read_body(req.into_body(), limit).await {
        Ok(body) => body,
        Err(BodyError::TooLarge { .. }) => return Err(too_large()),
        Err(BodyError::Read(e)) => return Err(unreadable(e)),
    };
    if declared.is_some_and(|d| d > limit) {
        return Err(too_large());
    }
    if payload.iter().all(u8::is_ascii_whitespace) {
        return Ok(Bytes::from_static(b"{}"));
    }
    let not_json = |e: String| {
        ServiceError::new(
            StatusCode::BAD_REQUEST,
            "InvalidRequestContentException",
            format!("Could not parse request body into json: {e}"),
        )
    };
    // Checked as text first: serde_json skips the contents of strings without looking at
    // their bytes, and Lambda refuses invalid UTF-8 anywhere in the body. (`from_str` does
    // not check again, so this costs no second pass.)
    let text = std::str::from_utf8(&payload).map_err(|e| not_json(invalid_utf8(&payload, &e)))?;
    if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(text) {
        return Err(not_json(e.to_string()));
    }
    Ok(payload)
}

/// Lambda's words for the first invalid UTF-8 byte (`Could not parse payload into json:
/// Invalid UTF-8 start byte 0x97`, or `middle byte` when a sequence starts well but goes on
/// badly).
fn invalid_utf8(payload: &[u8], e: &std::str::Utf8Error) -> String {
    let at = e.valid_up_to();
    let first = payload.get(at).copied().unwrap_or_default();
    let (which, byte) = match (e.error_len(), payload.get(at + 1)) {
        // A valid lead byte followed by a byte that does not continue it.
        (Some(1), Some(&next)) if (0xc2..=0xf4).contains(&first) => ("middle", next),
        // A truncated sequence at the end of the body.
        (None, _) => ("end of input after start", first),
        _ => ("start", first),
    };
    format!(
        "Could not parse payload into json: Invalid UTF-8 {which} byte 0x{byte:02x} at byte {at}"
    )
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

/// The function name in `NAME`, a partial ARN or a full ARN (region and account ignored),
/// when it has no qualifier.
pub(super) fn unqualified_name(s: &str) -> Option<String> {
    FunctionRef::parse(s)
        .filter(|r| r.qualifier.is_none())
        .map(|r| r.name)
}

/// Decodes `%XX` escapes; `None` when an escape is malformed or the result is not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    percent_decode_bytes(s).and_then(|b| String::from_utf8(b).ok())
}

/// Decodes `%XX` escapes into bytes; `None` when an escape is malformed.
pub(crate) fn percent_decode_bytes(s: &str) -> Option<Vec<u8>> {
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
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%3Ab%24").as_deref(), Some("a:b$"));
        assert_eq!(percent_decode("%zz"), None);
        assert_eq!(percent_decode("%4"), None);
        assert_eq!(percent_decode_bytes("%FF%00"), Some(vec![255, 0]));
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
