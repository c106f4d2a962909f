//! The data the Extensions API exchanges: the [`EventType`]s an extension subscribes to, the
//! [`Registration`] it gets back, and the [`Event`]s `/event/next` delivers (read leniently:
//! unknown fields are ignored, unknown shutdown reasons kept).

use std::{
    fmt,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use serde::{Deserialize, Serialize};

/// An event an extension can subscribe to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EventType {
    /// `INVOKE`: once per invocation of the function, as it starts.
    Invoke,
    /// `SHUTDOWN`: once, when the execution environment is about to end (external extensions
    /// only).
    Shutdown,
}

impl EventType {
    /// The name on the wire: `INVOKE` or `SHUTDOWN`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Invoke => "INVOKE",
            EventType::Shutdown => "SHUTDOWN",
        }
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What `POST /extension/register` answers: the extension's identifier (from the
/// `Lambda-Extension-Identifier` header) and the function it runs beside.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Registration {
    /// The identifier every later call carries in `Lambda-Extension-Identifier`.
    pub extension_id: String,
    /// `functionName`.
    pub function_name: String,
    /// `functionVersion` (`$LATEST`, or a published version).
    pub function_version: String,
    /// `handler`: the function's configured handler.
    pub handler: String,
    /// `accountId`: present when the registration asked for it (`accept_account_id`).
    pub account_id: Option<String>,
}

/// The body of a registration answer (the identifier comes from a header).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct RegistrationBody {
    pub(crate) function_name: String,
    pub(crate) function_version: String,
    pub(crate) handler: String,
    pub(crate) account_id: Option<String>,
}

/// What `GET /extension/event/next` delivered: the event, and its identifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NextEvent {
    /// The `Lambda-Extension-Event-Identifier` header, when the server sent one.
    pub event_id: Option<String>,
    /// The event.
    pub event: Event,
}

/// An event delivered to an extension.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "eventType", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Event {
    /// An invocation of the function has started.
    Invoke(InvokeEvent),
    /// The execution environment is ending: clean up and exit before the deadline.
    Shutdown(ShutdownEvent),
}

impl Event {
    /// Which kind of event this is.
    pub fn event_type(&self) -> EventType {
        match self {
            Event::Invoke(_) => EventType::Invoke,
            Event::Shutdown(_) => EventType::Shutdown,
        }
    }

    /// The deadline, in milliseconds since the Unix epoch: the invocation's timeout for
    /// `INVOKE`, the moment the environment is killed for `SHUTDOWN`.
    pub fn deadline_ms(&self) -> u64 {
        match self {
            Event::Invoke(invoke) => invoke.deadline_ms,
            Event::Shutdown(shutdown) => shutdown.deadline_ms,
        }
    }

    /// [`Event::deadline_ms`] as a [`SystemTime`].
    pub fn deadline(&self) -> SystemTime {
        deadline(self.deadline_ms())
    }
}

/// An `INVOKE` event.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InvokeEvent {
    /// `requestId`: the invocation's request id.
    pub request_id: String,
    /// `deadlineMs`: when the invocation times out, in milliseconds since the Unix epoch.
    pub deadline_ms: u64,
    /// `invokedFunctionArn` (empty when the server did not send it).
    #[serde(default)]
    pub invoked_function_arn: String,
    /// `tracing`: the invocation's X-Ray trace header, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracing: Option<Tracing>,
}

impl InvokeEvent {
    /// The invocation's deadline as a [`SystemTime`].
    pub fn deadline(&self) -> SystemTime {
        deadline(self.deadline_ms)
    }

    /// How long until the deadline (zero once it has passed).
    pub fn time_remaining(&self) -> Duration {
        remaining(self.deadline_ms)
    }
}

/// A `SHUTDOWN` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShutdownEvent {
    /// `shutdownReason`.
    pub shutdown_reason: ShutdownReason,
    /// `deadlineMs`: when the environment is killed, in milliseconds since the Unix epoch.
    pub deadline_ms: u64,
}

impl ShutdownEvent {
    /// The moment the environment is killed, as a [`SystemTime`].
    pub fn deadline(&self) -> SystemTime {
        deadline(self.deadline_ms)
    }

    /// How long the extension has left to clean up and exit (zero once the deadline passed).
    pub fn time_remaining(&self) -> Duration {
        remaining(self.deadline_ms)
    }
}

/// Why the execution environment is shutting down.
///
/// ```
/// use firebox_extensions::ShutdownReason;
///
/// assert_eq!(ShutdownReason::from("spindown"), ShutdownReason::Spindown);
/// assert_eq!(ShutdownReason::from("eviction").as_str(), "eviction");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum ShutdownReason {
    /// `spindown`: Lambda is reclaiming an idle environment.
    Spindown,
    /// `timeout`: an invocation timed out.
    Timeout,
    /// `failure`: the runtime or an extension failed.
    Failure,
    /// Any other reason, as sent.
    Other(String),
}

impl ShutdownReason {
    /// The reason as Lambda spells it (`spindown`, `timeout`, `failure`, or as sent).
    pub fn as_str(&self) -> &str {
        match self {
            ShutdownReason::Spindown => "spindown",
            ShutdownReason::Timeout => "timeout",
            ShutdownReason::Failure => "failure",
            ShutdownReason::Other(other) => other,
        }
    }
}

impl From<&str> for ShutdownReason {
    fn from(reason: &str) -> Self {
        if reason.eq_ignore_ascii_case("spindown") {
            ShutdownReason::Spindown
        } else if reason.eq_ignore_ascii_case("timeout") {
            ShutdownReason::Timeout
        } else if reason.eq_ignore_ascii_case("failure") {
            ShutdownReason::Failure
        } else {
            ShutdownReason::Other(reason.to_owned())
        }
    }
}

impl From<String> for ShutdownReason {
    fn from(reason: String) -> Self {
        match ShutdownReason::from(reason.as_str()) {
            ShutdownReason::Other(_) => ShutdownReason::Other(reason),
            known => known,
        }
    }
}

impl From<ShutdownReason> for String {
    fn from(reason: ShutdownReason) -> Self {
        match reason {
            ShutdownReason::Other(other) => other,
            known => known.as_str().to_owned(),
        }
    }
}

impl fmt::Display for ShutdownReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The X-Ray tracing header of an invocation (in an `INVOKE` event), or the trace context of
/// a telemetry record (AWS's `TraceContext`, which may also name its span).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tracing {
    /// `type`: the header's name, `X-Amzn-Trace-Id`.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// `value`: the header's value (`Root=...;Parent=...;Sampled=...`).
    #[serde(default)]
    pub value: String,
    /// `spanId`: the span of a telemetry record's trace context, when sent (never in an
    /// `INVOKE` event).
    #[serde(rename = "spanId", default, skip_serializing_if = "Option::is_none")]
    pub span_id: Option<String>,
}

/// `ms` milliseconds after the Unix epoch.
fn deadline(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

/// The time from now until `ms` milliseconds after the Unix epoch, or zero.
fn remaining(ms: u64) -> Duration {
    deadline(ms)
        .duration_since(SystemTime::now())
        .unwrap_or(Duration::ZERO)
}

/// Reads an event, naming the offending field when it fails.
///
/// The tag is read first, then the variant's fields: `Event`'s derived (internally tagged)
/// `Deserialize` would lose the path to a bad field.
pub(crate) fn parse_event(body: &[u8]) -> Result<Event, String> {
    let value: serde_json::Value = parse(body)?;
    let event_type = match value.get("eventType") {
        Some(serde_json::Value::String(tag)) => tag.clone(),
        Some(other) => return Err(format!("eventType: expected a string, found {other}")),
        None => return Err("missing field `eventType`".to_owned()),
    };
    let fields = |e: serde_path_to_error::Error<serde_json::Error>| e.to_string();
    if event_type.eq_ignore_ascii_case("INVOKE") {
        serde_path_to_error::deserialize(value)
            .map(Event::Invoke)
            .map_err(fields)
    } else if event_type.eq_ignore_ascii_case("SHUTDOWN") {
        serde_path_to_error::deserialize(value)
            .map(Event::Shutdown)
            .map_err(fields)
    } else {
        Err(format!(
            "eventType: unknown event type {event_type:?}, expected INVOKE or SHUTDOWN"
        ))
    }
}

/// Reads a registration answer's body, naming the offending field when it fails. An empty body
/// reads as an empty registration.
pub(crate) fn parse_registration(body: &[u8]) -> Result<RegistrationBody, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(RegistrationBody::default());
    }
    parse(body)
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn invoke_events() {
        let event = parse_event(
            br#"{"eventType":"INVOKE","deadlineMs":1700000003000,"requestId":"req-1",
                "invokedFunctionArn":"arn:aws:lambda:us-east-1:123456789012:function:f",
                "tracing":{"type":"X-Amzn-Trace-Id","value":"Root=1-abc"},"somethingNew":[1]}"#,
        )
        .unwrap();
        let Event::Invoke(invoke) = &event else {
            panic!("{event:?}")
        };
        assert_eq!(invoke.request_id, "req-1");
        assert_eq!(invoke.deadline_ms, 1_700_000_003_000);
        assert_eq!(
            invoke.invoked_function_arn,
            "arn:aws:lambda:us-east-1:123456789012:function:f"
        );
        let tracing = invoke.tracing.as_ref().unwrap();
        assert_eq!(
            (tracing.kind.as_str(), tracing.value.as_str()),
            ("X-Amzn-Trace-Id", "Root=1-abc")
        );
        assert_eq!(event.event_type(), EventType::Invoke);
        assert_eq!(
            event.deadline(),
            UNIX_EPOCH + Duration::from_millis(1_700_000_003_000)
        );
        assert_eq!(invoke.time_remaining(), Duration::ZERO);
    }

    #[test]
    fn invoke_events_without_optional_fields() {
        let event =
            parse_event(br#"{"eventType":"INVOKE","deadlineMs":5,"requestId":"r"}"#).unwrap();
        assert_eq!(
            event,
            Event::Invoke(InvokeEvent {
                request_id: "r".into(),
                deadline_ms: 5,
                invoked_function_arn: String::new(),
                tracing: None,
            })
        );
        let event =
            parse_event(br#"{"eventType":"INVOKE","deadlineMs":5,"requestId":"r","tracing":null}"#)
                .unwrap();
        assert_eq!(event.deadline_ms(), 5);
    }

    #[test]
    fn shutdown_events() {
        for (raw, reason) in [
            ("spindown", ShutdownReason::Spindown),
            ("timeout", ShutdownReason::Timeout),
            ("failure", ShutdownReason::Failure),
            ("FAILURE", ShutdownReason::Failure),
            ("eviction", ShutdownReason::Other("eviction".into())),
        ] {
            let body = json!({"eventType": "SHUTDOWN", "shutdownReason": raw, "deadlineMs": 42});
            let event = parse_event(body.to_string().as_bytes()).unwrap();
            assert_eq!(
                event,
                Event::Shutdown(ShutdownEvent {
                    shutdown_reason: reason,
                    deadline_ms: 42
                })
            );
        }
        let far = u64::MAX / 2_000_000;
        let event = ShutdownEvent {
            shutdown_reason: ShutdownReason::Spindown,
            deadline_ms: far,
        };
        assert!(event.time_remaining() > Duration::from_secs(3600));
    }

    #[test]
    fn events_serialize_as_the_wire_format() {
        let event = Event::Shutdown(ShutdownEvent {
            shutdown_reason: ShutdownReason::Other("odd".into()),
            deadline_ms: 7,
        });
        assert_eq!(
            serde_json::to_value(&event).unwrap(),
            json!({"eventType": "SHUTDOWN", "shutdownReason": "odd", "deadlineMs": 7})
        );
        let event = Event::Invoke(InvokeEvent {
            request_id: "r".into(),
            deadline_ms: 1,
            invoked_function_arn: "arn".into(),
            tracing: None,
        });
        assert_eq!(
            serde_json::to_value(&event).unwrap(),
            json!({"eventType": "INVOKE", "requestId": "r", "deadlineMs": 1, "invokedFunctionArn": "arn"})
        );
        assert_eq!(
            serde_json::to_string(&[EventType::Invoke, EventType::Shutdown]).unwrap(),
            r#"["INVOKE","SHUTDOWN"]"#
        );
    }

    #[test]
    fn bad_events_name_the_field() {
        let error = parse_event(br#"{"eventType":"INVOKE","deadlineMs":"soon","requestId":"r"}"#)
            .unwrap_err();
        assert!(error.contains("deadlineMs"), "{error}");
        let error = parse_event(br#"{"eventType":"INVOKE","deadlineMs":1}"#).unwrap_err();
        assert!(error.contains("requestId"), "{error}");
        let error = parse_event(br#"{"eventType":"RESTORE","deadlineMs":1}"#).unwrap_err();
        assert!(error.contains("RESTORE"), "{error}");
        let error = parse_event(br#"{"deadlineMs":1}"#).unwrap_err();
        assert!(error.contains("eventType"), "{error}");
        let error = parse_event(br#"{"eventType":1}"#).unwrap_err();
        assert!(error.contains("eventType"), "{error}");
        let error = parse_event(b"not json").unwrap_err();
        assert!(error.contains("expected"), "{error}");
        let error =
            parse_event(br#"{"eventType":"SHUTDOWN","deadlineMs":1,"shutdownReason":{"a":1}}"#)
                .unwrap_err();
        assert!(error.contains("shutdownReason"), "{error}");
    }

    #[test]
    fn registrations() {
        let body = parse_registration(
            br#"{"functionName":"f","functionVersion":"$LATEST","handler":"bootstrap","accountId":"123456789012","x":1}"#,
        )
        .unwrap();
        assert_eq!(
            (
                body.function_name.as_str(),
                body.function_version.as_str(),
                body.handler.as_str(),
                body.account_id.as_deref()
            ),
            ("f", "$LATEST", "bootstrap", Some("123456789012"))
        );
        let body = parse_registration(br#"{"functionName":"f"}"#).unwrap();
        assert_eq!(body.account_id, None);
        assert_eq!(body.handler, "");
        assert!(parse_registration(b"  ").is_ok());
        let error = parse_registration(br#"{"functionName":3}"#).unwrap_err();
        assert!(error.contains("functionName"), "{error}");
    }
}
