//! The subscription calls of the Telemetry API (`PUT /2022-07-01/telemetry`) and of the older
//! Logs API (`PUT /2020-08-15/logs`), served on each environment's Runtime API listener: the
//! request is checked here (its extension identifier, types, buffering and HTTP destination;
//! 400 `ValidationError` otherwise) and handed to the environment's task, which delivers the
//! records.

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use serde::Deserialize;
use tokio::sync::{mpsc, oneshot};

use super::extensions::ExtensionAnswer;
use super::runtime::{gone, header, json, RuntimeRequest};
use super::{read_body, MAX_EVENT_REQUEST_BYTES};
use crate::environment::telemetry::{TelemetryApi, TelemetrySubscription, TelemetryTypes};
use crate::invocation::error_document;

/// The path of the Telemetry API's subscription call.
pub const PATH: &str = "/2022-07-01/telemetry";
/// The path of the Logs API's subscription call.
pub const LOGS_PATH: &str = "/2020-08-15/logs";
const ID_HEADER: &str = "lambda-extension-identifier";

/// The schema versions whose records the emulator sends (the same records for each).
fn schema_versions(api: TelemetryApi) -> &'static [&'static str] {
    match api {
        TelemetryApi::Telemetry => &["2022-07-01", "2022-12-13", "2025-01-29"],
        TelemetryApi::Logs => &["2020-08-15", "2021-03-18"],
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Body {
    schema_version: Option<String>,
    destination: Destination,
    types: Vec<String>,
    #[serde(default)]
    buffering: Buffering,
}

#[derive(Deserialize)]
struct Destination {
    protocol: String,
    #[serde(rename = "URI")]
    uri: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Buffering {
    max_items: Option<u64>,
    max_bytes: Option<u64>,
    timeout_ms: Option<u64>,
}

/// Handles `PUT /2022-07-01/telemetry` and `PUT /2020-08-15/logs`.
pub async fn handle(
    req: Request<Incoming>,
    api: TelemetryApi,
    requests: &mpsc::UnboundedSender<RuntimeRequest>,
) -> Response<Full<Bytes>> {
    if req.method() != http::Method::PUT {
        return json(
            StatusCode::METHOD_NOT_ALLOWED,
            error_document("InvalidRequest", "subscriptions are made with PUT"),
        );
    }
    let Some(id) = header(&req, ID_HEADER) else {
        return json(
            StatusCode::FORBIDDEN,
            error_document(
                "Extension.MissingHeader",
                "the lambda-extension-identifier header is missing",
            ),
        );
    };
    let body = match read_body(req.into_body(), MAX_EVENT_REQUEST_BYTES).await {
        Ok(body) => body,
        Err(e) => return invalid(&e.to_string()),
    };
    let subscription = match parse(&body, api) {
        Ok(s) => s,
        Err(message) => return invalid(&message),
    };
    let (reply, answer) = oneshot::channel();
    let request = RuntimeRequest::TelemetrySubscribe {
        id,
        subscription,
        reply,
    };
    if requests.send(request).is_err() {
        return gone();
    }
    match answer.await {
        Ok(ExtensionAnswer::Forbidden(doc)) => json(StatusCode::FORBIDDEN, doc),
        Ok(_) => json(StatusCode::OK, Bytes::from_static(b"\"OK\"")),
        Err(_) => gone(),
    }
}

fn invalid(message: &str) -> Response<Full<Bytes>> {
    json(
        StatusCode::BAD_REQUEST,
        error_document("ValidationError", message),
    )
}

/// Checks a subscription request against the rules of its API.
pub fn parse(body: &[u8], api: TelemetryApi) -> Result<TelemetrySubscription, String> {
    let body: Body = serde_json::from_slice(body).map_err(|e| format!("invalid request: {e}"))?;
    if let Some(v) = &body.schema_version {
        let known = schema_versions(api);
        if !known.contains(&v.as_str()) {
            return Err(format!(
                "schemaVersion {v} is not one of {}",
                known.join(", ")
            ));
        }
    }
    let mut types = TelemetryTypes::default();
    for t in &body.types {
        match t.as_str() {
            "platform" => types.platform = true,
            "function" => types.function = true,
            "extension" => types.extension = true,
            other => {
                return Err(format!(
                    "types: {other} is not platform, function or extension"
                ))
            }
        }
    }
    if !body.destination.protocol.eq_ignore_ascii_case("HTTP") {
        return Err(format!(
            "destination.protocol {} is not supported: use HTTP",
            body.destination.protocol
        ));
    }
    let uri: http::Uri = body
        .destination
        .uri
        .parse()
        .map_err(|e| format!("destination.URI {}: {e}", body.destination.uri))?;
    if uri.scheme_str() != Some("http") {
        return Err(format!(
            "destination.URI {} must be an http:// address",
            body.destination.uri
        ));
    }
    let host = match uri.host() {
        // Lambda's name for the execution environment's own address.
        Some("sandbox.localdomain") | Some("sandbox") | None => "127.0.0.1".to_owned(),
        Some(h) => h.trim_start_matches('[').trim_end_matches(']').to_owned(),
    };
    let range = |name: &str, value: Option<u64>, default: u64, min: u64, max: u64| match value {
        None => Ok(default),
        Some(v) if (min..=max).contains(&v) => Ok(v),
        Some(v) => Err(format!("buffering.{name} {v} is outside {min} to {max}")),
    };
    let b = &body.buffering;
    Ok(TelemetrySubscription {
        api,
        types,
        host,
        port: uri.port_u16().unwrap_or(80),
        path: uri
            .path_and_query()
            .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned()),
        max_items: range("maxItems", b.max_items, 10_000, 1_000, 10_000)? as usize,
        max_bytes: range("maxBytes", b.max_bytes, 262_144, 262_144, 1_048_576)? as usize,
        timeout: std::time::Duration::from_millis(range(
            "timeoutMs",
            b.timeout_ms,
            1_000,
            25,
            30_000,
        )?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subscription_is_checked_and_sandbox_localdomain_is_this_machine() {
        let s = parse(br#"{"schemaVersion":"2022-12-13","destination":{"protocol":"HTTP","URI":"http://sandbox.localdomain:4243/logs"},"types":["platform","function"],"buffering":{"maxItems":1000,"maxBytes":262144,"timeoutMs":25}}"#, TelemetryApi::Telemetry).unwrap();
        assert_eq!(
            (s.host.as_str(), s.port, s.path.as_str()),
            ("127.0.0.1", 4243, "/logs")
        );
        assert!(s.types.platform && s.types.function && !s.types.extension);
        assert_eq!((s.max_items, s.timeout.as_millis()), (1000, 25));
        let defaults = parse(br#"{"destination":{"protocol":"HTTP","URI":"http://127.0.0.1:9"},"types":["function"]}"#, TelemetryApi::Telemetry).unwrap();
        assert_eq!(
            (
                defaults.max_items,
                defaults.max_bytes,
                defaults.timeout.as_millis()
            ),
            (10_000, 262_144, 1_000)
        );
        for (bad, says) in [
            (
                r#"{"destination":{"protocol":"TCP","URI":"http://x:1"},"types":[]}"#,
                "protocol",
            ),
            (
                r#"{"destination":{"protocol":"HTTP","URI":"https://x:1"},"types":[]}"#,
                "http://",
            ),
            (
                r#"{"destination":{"protocol":"HTTP","URI":"http://x:1"},"types":["metrics"]}"#,
                "metrics",
            ),
            (
                r#"{"destination":{"protocol":"HTTP","URI":"http://x:1"},"types":[],"buffering":{"maxItems":5}}"#,
                "maxItems 5",
            ),
            (
                r#"{"destination":{"protocol":"HTTP","URI":"http://x:1"},"types":[],"buffering":{"timeoutMs":10}}"#,
                "timeoutMs 10",
            ),
            (
                r#"{"schemaVersion":"1999-01-01","destination":{"protocol":"HTTP","URI":"http://x:1"},"types":[]}"#,
                "schemaVersion",
            ),
            (r#"{"types":[]}"#, "destination"),
        ] {
            let err = parse(bad.as_bytes(), TelemetryApi::Telemetry).unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
        }
        // The Logs API has its own schema versions.
        let logs = br#"{"schemaVersion":"2021-03-18","destination":{"protocol":"HTTP","URI":"http://sandbox.localdomain:9002"},"types":["platform","function"]}"#;
        assert_eq!(
            parse(logs, TelemetryApi::Logs).unwrap().api,
            TelemetryApi::Logs
        );
        assert!(parse(logs, TelemetryApi::Telemetry)
            .unwrap_err()
            .contains("schemaVersion"));
    }
}
