//! The events an events processor gets, in `lambda_extension`'s shape: [`LambdaEvent`] around a
//! [`NextEvent`] (`Invoke` or `Shutdown`), made from the crate's own [`Event`](crate::Event)s.

use serde::{Deserialize, Serialize};

/// What an events processor gets: the next event of the Extensions API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LambdaEvent {
    /// The event.
    pub next: NextEvent,
}

/// An event of the Extensions API: an invocation starting, or the environment shutting down.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE", tag = "eventType")]
pub enum NextEvent {
    /// `INVOKE`: an invocation of the function has started.
    Invoke(InvokeEvent),
    /// `SHUTDOWN`: the execution environment is ending (external extensions only).
    Shutdown(ShutdownEvent),
}

impl NextEvent {
    /// Whether this is [`NextEvent::Invoke`].
    pub fn is_invoke(&self) -> bool {
        matches!(self, NextEvent::Invoke(_))
    }
}

/// An `INVOKE` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InvokeEvent {
    /// When the invocation times out, in milliseconds since the Unix epoch.
    pub deadline_ms: u64,
    /// The invocation's request id.
    pub request_id: String,
    /// The ARN the function was invoked by (empty when the server did not send it).
    #[serde(default)]
    pub invoked_function_arn: String,
    /// The invocation's X-Ray tracing header (empty when there is none).
    #[serde(default)]
    pub tracing: Tracing,
}

/// A `SHUTDOWN` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShutdownEvent {
    /// Why the environment ends, as Lambda spells it: `spindown`, `timeout` or `failure`.
    pub shutdown_reason: String,
    /// When the environment is killed, in milliseconds since the Unix epoch.
    pub deadline_ms: u64,
}

/// The tracing header of an invocation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tracing {
    /// The header's name: `X-Amzn-Trace-Id`.
    pub r#type: String,
    /// The header's value (`Root=...;Parent=...;Sampled=...`).
    pub value: String,
}

impl From<crate::Event> for NextEvent {
    fn from(event: crate::Event) -> Self {
        match event {
            crate::Event::Invoke(invoke) => NextEvent::Invoke(InvokeEvent {
                deadline_ms: invoke.deadline_ms,
                request_id: invoke.request_id,
                invoked_function_arn: invoke.invoked_function_arn,
                tracing: invoke
                    .tracing
                    .map(|tracing| Tracing {
                        r#type: tracing.kind,
                        value: tracing.value,
                    })
                    .unwrap_or_default(),
            }),
            crate::Event::Shutdown(shutdown) => NextEvent::Shutdown(ShutdownEvent {
                shutdown_reason: shutdown.shutdown_reason.into(),
                deadline_ms: shutdown.deadline_ms,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{InvokeEvent as Invoke, ShutdownEvent as Shutdown, ShutdownReason};

    #[test]
    fn the_crates_events_convert() {
        let invoke = NextEvent::from(crate::Event::Invoke(Invoke {
            request_id: "r-1".into(),
            deadline_ms: 42,
            invoked_function_arn: "arn:aws:lambda:us-east-1:123456789012:function:f".into(),
            tracing: Some(crate::Tracing {
                kind: "X-Amzn-Trace-Id".into(),
                value: "Root=1-abc".into(),
                span_id: None,
            }),
        }));
        assert!(invoke.is_invoke());
        assert_eq!(
            invoke,
            NextEvent::Invoke(InvokeEvent {
                deadline_ms: 42,
                request_id: "r-1".into(),
                invoked_function_arn: "arn:aws:lambda:us-east-1:123456789012:function:f".into(),
                tracing: Tracing {
                    r#type: "X-Amzn-Trace-Id".into(),
                    value: "Root=1-abc".into()
                },
            })
        );
        let untraced = NextEvent::from(crate::Event::Invoke(Invoke {
            request_id: "r-2".into(),
            ..Invoke::default()
        }));
        let NextEvent::Invoke(untraced) = untraced else {
            panic!("{untraced:?}")
        };
        assert_eq!(untraced.tracing, Tracing::default());

        for (reason, text) in [
            (ShutdownReason::Spindown, "spindown"),
            (ShutdownReason::Failure, "failure"),
            (ShutdownReason::Other("eviction".into()), "eviction"),
        ] {
            let shutdown = NextEvent::from(crate::Event::Shutdown(Shutdown {
                shutdown_reason: reason,
                deadline_ms: 7,
            }));
            assert!(!shutdown.is_invoke());
            assert_eq!(
                shutdown,
                NextEvent::Shutdown(ShutdownEvent {
                    shutdown_reason: text.into(),
                    deadline_ms: 7
                })
            );
        }
    }

    #[test]
    fn events_read_from_the_wire_format() {
        let event: NextEvent = serde_json::from_str(
            r#"{"eventType":"SHUTDOWN","shutdownReason":"spindown","deadlineMs":9}"#,
        )
        .unwrap();
        assert_eq!(
            event,
            NextEvent::Shutdown(ShutdownEvent {
                shutdown_reason: "spindown".into(),
                deadline_ms: 9
            })
        );
        let event: NextEvent =
            serde_json::from_str(r#"{"eventType":"INVOKE","deadlineMs":9,"requestId":"r"}"#)
                .unwrap();
        assert!(event.is_invoke());
    }
}
