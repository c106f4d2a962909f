//! The subscription calls of the Telemetry API (`PUT /2022-07-01/telemetry`) and of the older
//! Logs API (`PUT /2020-08-15/logs`), served on each environment's Runtime API listener: the
//! request is checked here (its extension identifier, types, buffering and destination, HTTP
//! or TCP; 400 `ValidationError` otherwise) and handed to the environment's task, which
//! delivers the records.

use super::RequestBody;
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use serde::Deserialize;
use tokio::sync::{mpsc, oneshot};

use super::extensions::ExtensionAnswer;
use super::runtime::{gone, json, RuntimeRequest};
use super::{read_body, MAX_EVENT_REQUEST_BYTES};
use crate::environment::telemetry::{
    Protocol, TelemetryApi, TelemetrySubscription, TelemetryTypes,
};
use crate::invocation::error_document;

/// The path of the Telemetry API's subscription call.
pub const PATH: &str = "/2022-07-01/telemetry";
/// The path of the Logs API's subscription call.
pub const LOGS_PATH: &str = "/2020-08-15/logs";

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
    req: Request<RequestBody>,
    api: TelemetryApi,
    requests: &mpsc::UnboundedSender<RuntimeRequest>,
) -> Response<Full<Bytes>> {
    if req.method() != http::Method::PUT {
        return json(
            StatusCode::METHOD_NOT_ALLOWED,
            error_document("InvalidRequest", "subscriptions are made with PUT"),
        );
    }
    let id = match super::extensions::extension_id(&req) {
        Ok(id) => id,
        Err(refusal) => return *refusal,
    };
    let body = match read_body(req.into_body(), MAX_EVENT_REQUEST_BYTES).await {
        Ok(body) => body,
        Err(e) => return invalid(&e.to_string()),
    };
    let subscription = match parse(&body, api) {
        Ok(s) => s,
        Err(e) => return invalid(&e.to_string()),
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
        Ok(ExtensionAnswer::BadRequest(doc)) => json(StatusCode::BAD_REQUEST, doc),
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

/// Why a subscription request is refused (`400 ValidationError`, with this as the message).
#[derive(Debug, thiserror::Error)]
pub enum InvalidSubscription {
    /// The body is not a subscription document.
    #[error("invalid request: {0}")]
    Body(#[from] serde_json::Error),
    /// `schemaVersion` is not one this API has.
    #[error("schemaVersion {given} is not one of {known}")]
    SchemaVersion {
        /// The version asked for.
        given: String,
        /// The API's versions, comma-separated.
        known: String,
    },
    /// A Telemetry API subscription without `schemaVersion`.
    #[error("schemaVersion is required: one of {0}")]
    NoSchemaVersion(String),
    /// A record type that is not `platform`, `function` or `extension`.
    #[error("types: {0} is not platform, function or extension")]
    Type(String),
    /// A `buffering` value outside Lambda's range.
    #[error("buffering.{name} {value} is outside {min} to {max}")]
    Buffering {
        /// `maxItems`, `maxBytes` or `timeoutMs`.
        name: &'static str,
        /// The value given.
        value: u64,
        /// The smallest allowed.
        min: u64,
        /// The largest allowed.
        max: u64,
    },
    /// `destination.protocol` is neither `HTTP` nor `TCP`.
    #[error("destination.protocol {0} is not supported: use HTTP or TCP")]
    Protocol(String),
    /// `destination.URI` is not a URI.
    #[error("destination.URI {uri}: {source}")]
    Uri {
        /// The URI given.
        uri: String,
        /// Why it does not parse.
        source: http::uri::InvalidUri,
    },
    /// `destination.URI` has the wrong scheme for the protocol.
    #[error("destination.URI {uri} must start with {scheme}:// for protocol {protocol}")]
    Scheme {
        /// The URI given.
        uri: String,
        /// The scheme the protocol needs.
        scheme: &'static str,
        /// The protocol, as given.
        protocol: String,
    },
    /// A TCP destination without a port.
    #[error("destination.URI {0} has no port: a TCP destination is tcp://HOST:PORT")]
    NoPort(String),
    /// A port that is not a number from 1 to 65535.
    #[error("destination.URI {uri}: port {port} is not a port number (1 to 65535)")]
    BadPort {
        /// The URI given.
        uri: String,
        /// The port as written.
        port: String,
    },
    /// Port 0, which nothing listens on.
    #[error("destination.URI {0}: port 0 cannot be connected to")]
    PortZero(String),
    /// A TCP destination with a path or a query.
    #[error("destination.URI {0} has a path: a TCP destination is tcp://HOST:PORT only")]
    TcpPath(String),
}

/// Checks a subscription request against the rules of its API.
pub fn parse(body: &[u8], api: TelemetryApi) -> Result<TelemetrySubscription, InvalidSubscription> {
    let body: Body = serde_json::from_slice(body)?;
    let known = schema_versions(api);
    match &body.schema_version {
        Some(v) if !known.contains(&v.as_str()) => {
            return Err(InvalidSubscription::SchemaVersion {
                given: v.clone(),
                known: known.join(", "),
            })
        }
        // The Telemetry API's reference marks schemaVersion required; the Logs API's
        // examples send it but do not require it.
        None if api == TelemetryApi::Telemetry => {
            return Err(InvalidSubscription::NoSchemaVersion(known.join(", ")))
        }
        _ => {}
    }
    let mut types = TelemetryTypes::default();
    for t in &body.types {
        match t.as_str() {
            "platform" => types.platform = true,
            "function" => types.function = true,
            "extension" => types.extension = true,
            other => return Err(InvalidSubscription::Type(other.to_owned())),
        }
    }
    let (protocol, host, port, path) = destination(&body.destination)?;
    let range = |name, value: Option<u64>, default: u64, min: u64, max: u64| match value {
        None => Ok(default),
        Some(v) if (min..=max).contains(&v) => Ok(v),
        Some(value) => Err(InvalidSubscription::Buffering {
            name,
            value,
            min,
            max,
        }),
    };
    let b = &body.buffering;
    Ok(TelemetrySubscription {
        api,
        schema_version: body.schema_version.unwrap_or_else(|| known[0].to_owned()),
        types,
        protocol,
        host,
        port,
        path,
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

/// The protocol, host, port and path of a destination: `http://HOST[:PORT][/PATH]` for HTTP
/// (port 80 by default), `tcp://HOST:PORT` for TCP. `sandbox.localdomain` (Lambda's name for
/// the execution environment's own address) is this machine.
fn destination(
    given: &Destination,
) -> Result<(Protocol, String, u16, String), InvalidSubscription> {
    let protocol = if given.protocol.eq_ignore_ascii_case("HTTP") {
        Protocol::Http
    } else if given.protocol.eq_ignore_ascii_case("TCP") {
        Protocol::Tcp
    } else {
        return Err(InvalidSubscription::Protocol(given.protocol.clone()));
    };
    let text = &given.uri;
    let uri: http::Uri = text.parse().map_err(|source| InvalidSubscription::Uri {
        uri: text.clone(),
        source,
    })?;
    if !uri
        .scheme_str()
        .is_some_and(|s| s.eq_ignore_ascii_case(protocol.scheme()))
    {
        return Err(InvalidSubscription::Scheme {
            uri: text.clone(),
            scheme: protocol.scheme(),
            protocol: given.protocol.clone(),
        });
    }
    let host = match uri.host() {
        Some("sandbox.localdomain") | Some("sandbox") | None => "127.0.0.1".to_owned(),
        Some(h) => h.trim_start_matches('[').trim_end_matches(']').to_owned(),
    };
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    // `Uri::port` answers None for a port that does not fit in 16 bits: read the text of the
    // authority (after any user info; an IPv6 host is in brackets) to tell the two apart.
    let authority = uri.authority().map_or("", |a| a.as_str());
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
    let port = match host_port.rsplit_once(':') {
        Some((_, p)) if !p.contains(']') => {
            Some(p.parse::<u16>().map_err(|_| InvalidSubscription::BadPort {
                uri: text.clone(),
                port: p.to_owned(),
            })?)
        }
        _ => None,
    };
    let port = match (protocol, port) {
        (_, Some(0)) => return Err(InvalidSubscription::PortZero(text.clone())),
        (_, Some(port)) => port,
        (Protocol::Http, None) => 80,
        (Protocol::Tcp, None) => return Err(InvalidSubscription::NoPort(text.clone())),
    };
    if protocol == Protocol::Tcp && !matches!(path, "" | "/") {
        return Err(InvalidSubscription::TcpPath(text.clone()));
    }
    Ok((protocol, host, port, path.to_owned()))
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
        let defaults = parse(br#"{"schemaVersion":"2025-01-29","destination":{"protocol":"HTTP","URI":"http://127.0.0.1:9"},"types":["function"]}"#, TelemetryApi::Telemetry).unwrap();
        // schemaVersion is required by the Telemetry API (not by the Logs API).
        let bare = br#"{"destination":{"protocol":"HTTP","URI":"http://127.0.0.1:9"},"types":["function"]}"#;
        let err = parse(bare, TelemetryApi::Telemetry)
            .unwrap_err()
            .to_string();
        assert!(err.contains("schemaVersion is required"), "{err}");
        assert!(parse(bare, TelemetryApi::Logs).is_ok());
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
                r#"{"schemaVersion":"2022-07-01","destination":{"protocol":"TCP","URI":"http://x:1"},"types":[]}"#,
                "protocol",
            ),
            (
                r#"{"schemaVersion":"2022-07-01","destination":{"protocol":"HTTP","URI":"https://x:1"},"types":[]}"#,
                "http://",
            ),
            (
                r#"{"schemaVersion":"2022-07-01","destination":{"protocol":"HTTP","URI":"http://x:1"},"types":["metrics"]}"#,
                "metrics",
            ),
            (
                r#"{"schemaVersion":"2022-07-01","destination":{"protocol":"HTTP","URI":"http://x:1"},"types":[],"buffering":{"maxItems":5}}"#,
                "maxItems 5",
            ),
            (
                r#"{"schemaVersion":"2022-07-01","destination":{"protocol":"HTTP","URI":"http://x:1"},"types":[],"buffering":{"timeoutMs":10}}"#,
                "timeoutMs 10",
            ),
            (
                r#"{"schemaVersion":"1999-01-01","destination":{"protocol":"HTTP","URI":"http://x:1"},"types":[]}"#,
                "schemaVersion",
            ),
            (r#"{"types":[]}"#, "destination"),
        ] {
            let err = parse(bad.as_bytes(), TelemetryApi::Telemetry)
                .unwrap_err()
                .to_string();
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
            .to_string()
            .contains("schemaVersion"));
    }

    #[test]
    fn a_tcp_destination_is_a_host_and_a_port() {
        for api in [TelemetryApi::Telemetry, TelemetryApi::Logs] {
            let s = parse(br#"{"schemaVersion":"2022-12-13","destination":{"protocol":"TCP","URI":"tcp://sandbox.localdomain:4244"},"types":["platform"]}"#, api);
            // The Logs API has its own versions: it is asked without one.
            let s = match api {
                TelemetryApi::Telemetry => s,
                TelemetryApi::Logs => parse(br#"{"destination":{"protocol":"TCP","URI":"tcp://sandbox.localdomain:4244"},"types":["platform"]}"#, api),
            }
            .unwrap();
            assert_eq!(
                (s.protocol, s.host.as_str(), s.port),
                (Protocol::Tcp, "127.0.0.1", 4244)
            );
        }
        let local = parse(
            br#"{"schemaVersion":"2022-07-01","destination":{"protocol":"tcp","URI":"tcp://127.0.0.1:9/"},"types":[]}"#,
            TelemetryApi::Telemetry,
        )
        .unwrap();
        assert_eq!((local.protocol, local.port), (Protocol::Tcp, 9));
        for (protocol, uri, says) in [
            ("TCP", "tcp://sandbox.localdomain", "has no port"),
            (
                "TCP",
                "http://sandbox.localdomain:9",
                "must start with tcp:// for protocol TCP",
            ),
            (
                "TCP",
                "sandbox.localdomain:9",
                "must start with tcp:// for protocol TCP",
            ),
            (
                "HTTP",
                "tcp://sandbox.localdomain:9",
                "must start with http:// for protocol HTTP",
            ),
            ("TCP", "tcp://sandbox.localdomain:9/logs", "has a path"),
            ("TCP", "tcp://sandbox.localdomain:0", "port 0"),
            ("HTTP", "http://sandbox.localdomain:0/t", "port 0"),
            ("UDP", "udp://sandbox.localdomain:9", "use HTTP or TCP"),
            (
                "TCP",
                "tcp://sandbox.localdomain:99999",
                "port 99999 is not a port number (1 to 65535)",
            ),
            (
                "HTTP",
                "http://sandbox.localdomain:99999/t",
                "port 99999 is not a port number (1 to 65535)",
            ),
        ] {
            let body = serde_json::json!({"schemaVersion": "2022-12-13", "destination": {"protocol": protocol, "URI": uri}, "types": []});
            let err = parse(body.to_string().as_bytes(), TelemetryApi::Telemetry)
                .unwrap_err()
                .to_string();
            assert!(err.contains(says), "{protocol} {uri}: {err}");
        }
    }
}
