//! `lambda_extension`'s [`Extension`] builder and [`RegisteredExtension`], on top of the
//! crate's [`Extension`](crate::Extension) (registration, and the subscription of a
//! [`TelemetryListener`](crate::TelemetryListener)) and [`ExtensionClient`] (the event loop).

use std::{fmt, io::ErrorKind, marker::PhantomData, time::Duration};

use serde::de::DeserializeOwned;
use tower::{Service, ServiceExt};

use super::{
    logs::lambda_log,
    services::{make_processor, Converting},
    telemetry::lambda_telemetry,
    Error, ExtensionError, Identity, LambdaEvent, LambdaLog, LambdaTelemetry, LogBuffering,
    MakeIdentity, NextEvent,
};
use crate::{
    EventType, ExtensionClient, LogsEvent, TelemetryEvent, TelemetryListener, TelemetryType,
    HANDLER_ERROR_TYPE,
};

/// The port the logs processor listens on unless told otherwise (as in `lambda_extension`).
pub const DEFAULT_LOG_PORT_NUMBER: u16 = 9002;
/// The port the telemetry processor listens on unless told otherwise (as in
/// `lambda_extension`).
pub const DEFAULT_TELEMETRY_PORT_NUMBER: u16 = 9003;
/// The events subscribed to unless [`Extension::with_events`] says otherwise.
const DEFAULT_EVENTS: &[&str] = &["INVOKE", "SHUTDOWN"];
/// The record types subscribed to unless `with_log_types` or `with_telemetry_types` say
/// otherwise.
const DEFAULT_TYPES: &[&str] = &["platform", "function"];

/// An extension: its name, the events it subscribes to and their processor, and optionally a
/// logs processor (Logs API) or a telemetry processor (Telemetry API) with their record types,
/// buffering and port. Build it from [`Extension::new`], then [`run`](Self::run) it (or
/// [`register`](Self::register) it first, for an internal extension).
///
/// `E` is the events processor (a `Service<LambdaEvent>`), `L` and `T` the factories of the
/// logs and telemetry processors (`Service<()>`s that make a `Service<Vec<LambdaLog>>` or a
/// `Service<Vec<LambdaTelemetry<TL>>>`, such as [`SharedService`](super::SharedService)), and
/// `TL` the type telemetry log lines are read as.
#[must_use = "an extension does nothing until it is registered or run"]
pub struct Extension<'a, E, L, T, TL = String> {
    extension_name: Option<&'a str>,
    events: Option<&'a [&'a str]>,
    events_processor: E,
    log_types: Option<&'a [&'a str]>,
    logs_processor: Option<L>,
    log_buffering: Option<LogBuffering>,
    log_port_number: Option<u16>,
    telemetry_types: Option<&'a [&'a str]>,
    telemetry_processor: Option<T>,
    telemetry_buffering: Option<LogBuffering>,
    telemetry_port_number: Option<u16>,
    record_type: PhantomData<fn(TL)>,
}

impl<E, L, T, TL> fmt::Debug for Extension<'_, E, L, T, TL> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Extension")
            .field("extension_name", &self.extension_name)
            .field("events", &self.events)
            .field("logs_processor", &self.logs_processor.is_some())
            .field("log_types", &self.log_types)
            .field("telemetry_processor", &self.telemetry_processor.is_some())
            .field("telemetry_types", &self.telemetry_types)
            .finish_non_exhaustive()
    }
}

/// The type of [`Extension::new`]: no-op processors, nothing subscribed.
type NewExtension<'a> = Extension<
    'a,
    Identity<LambdaEvent>,
    MakeIdentity<Vec<LambdaLog>>,
    MakeIdentity<Vec<LambdaTelemetry>>,
>;

impl NewExtension<'_> {
    /// An extension with a no-op events processor, registered (by [`register`](Self::register)
    /// or [`run`](Self::run)) under its executable's file name for `INVOKE` and `SHUTDOWN`.
    pub fn new() -> Self {
        Extension {
            extension_name: None,
            events: None,
            events_processor: Identity::new(),
            log_types: None,
            logs_processor: None,
            log_buffering: None,
            log_port_number: None,
            telemetry_types: None,
            telemetry_processor: None,
            telemetry_buffering: None,
            telemetry_port_number: None,
            record_type: PhantomData,
        }
    }
}

impl Default for NewExtension<'_> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'a, E, L, T, TL> Extension<'a, E, L, T, TL> {
    /// The name to register under, instead of the executable's file name. An internal
    /// extension (registered from inside the function's runtime process) picks its own; an
    /// external one must keep its file name, or Lambda refuses it.
    pub fn with_extension_name(self, extension_name: &'a str) -> Self {
        Extension {
            extension_name: Some(extension_name),
            ..self
        }
    }

    /// The events to subscribe to: `INVOKE` and/or `SHUTDOWN` (both by default; internal
    /// extensions get `INVOKE` only). Any other name fails registration before anything is sent.
    pub fn with_events(self, events: &'a [&'a str]) -> Self {
        Extension {
            events: Some(events),
            ..self
        }
    }

    /// The service that gets every event: any `Service<LambdaEvent>` answering `()`, usually
    /// `service_fn` over an `async fn`. An error it returns ends the extension (see
    /// [`RegisteredExtension::run`]).
    pub fn with_events_processor<N>(self, events_processor: N) -> Extension<'a, N, L, T, TL>
    where
        N: Service<LambdaEvent>,
    {
        Extension {
            extension_name: self.extension_name,
            events: self.events,
            events_processor,
            log_types: self.log_types,
            logs_processor: self.logs_processor,
            log_buffering: self.log_buffering,
            log_port_number: self.log_port_number,
            telemetry_types: self.telemetry_types,
            telemetry_processor: self.telemetry_processor,
            telemetry_buffering: self.telemetry_buffering,
            telemetry_port_number: self.telemetry_port_number,
            record_type: self.record_type,
        }
    }

    /// Subscribes to the Logs API: `logs_processor` makes (once, when registering) the service
    /// that gets each batch, a `Vec<`[`LambdaLog`]`>` — usually
    /// `SharedService::new(service_fn(handler))`. A batch's error is logged, not fatal.
    pub fn with_logs_processor<N>(self, logs_processor: N) -> Extension<'a, E, N, T, TL>
    where
        N: Service<()>,
    {
        Extension {
            extension_name: self.extension_name,
            events: self.events,
            events_processor: self.events_processor,
            log_types: self.log_types,
            logs_processor: Some(logs_processor),
            log_buffering: self.log_buffering,
            log_port_number: self.log_port_number,
            telemetry_types: self.telemetry_types,
            telemetry_processor: self.telemetry_processor,
            telemetry_buffering: self.telemetry_buffering,
            telemetry_port_number: self.telemetry_port_number,
            record_type: self.record_type,
        }
    }

    /// The Logs API record types to subscribe to: `platform`, `function` and/or `extension`
    /// (`platform` and `function` by default).
    pub fn with_log_types(self, log_types: &'a [&'a str]) -> Self {
        Extension {
            log_types: Some(log_types),
            ..self
        }
    }

    /// How the Logs API batches records (Lambda's defaults otherwise).
    pub fn with_log_buffering(self, log_buffering: LogBuffering) -> Self {
        Extension {
            log_buffering: Some(log_buffering),
            ..self
        }
    }

    /// The port the logs processor listens on (on `0.0.0.0`), instead of
    /// [`DEFAULT_LOG_PORT_NUMBER`].
    pub fn with_log_port_number(self, port_number: u16) -> Self {
        Extension {
            log_port_number: Some(port_number),
            ..self
        }
    }

    /// Subscribes to the Telemetry API: `telemetry_processor` makes (once, when registering) the
    /// service that gets each batch, a `Vec<`[`LambdaTelemetry`]`>` — usually
    /// `SharedService::new(service_fn(handler))`. A batch's error is logged, not fatal.
    pub fn with_telemetry_processor<N>(self, telemetry_processor: N) -> Extension<'a, E, L, N, TL>
    where
        N: Service<()>,
    {
        Extension {
            extension_name: self.extension_name,
            events: self.events,
            events_processor: self.events_processor,
            log_types: self.log_types,
            logs_processor: self.logs_processor,
            log_buffering: self.log_buffering,
            log_port_number: self.log_port_number,
            telemetry_types: self.telemetry_types,
            telemetry_processor: Some(telemetry_processor),
            telemetry_buffering: self.telemetry_buffering,
            telemetry_port_number: self.telemetry_port_number,
            record_type: self.record_type,
        }
    }

    /// The Telemetry API record types to subscribe to: `platform`, `function` and/or
    /// `extension` (`platform` and `function` by default).
    pub fn with_telemetry_types(self, telemetry_types: &'a [&'a str]) -> Self {
        Extension {
            telemetry_types: Some(telemetry_types),
            ..self
        }
    }

    /// How the Telemetry API batches records (Lambda's defaults otherwise).
    pub fn with_telemetry_buffering(self, telemetry_buffering: LogBuffering) -> Self {
        Extension {
            telemetry_buffering: Some(telemetry_buffering),
            ..self
        }
    }

    /// The port the telemetry processor listens on (on `0.0.0.0`), instead of
    /// [`DEFAULT_TELEMETRY_PORT_NUMBER`].
    pub fn with_telemetry_port_number(self, port_number: u16) -> Self {
        Extension {
            telemetry_port_number: Some(port_number),
            ..self
        }
    }
}

impl<'a, E, L> Extension<'a, E, L, MakeIdentity<Vec<LambdaTelemetry>>> {
    /// Reads the `function` and `extension` records of the Telemetry API as `N` (such as
    /// `serde_json::Value`, for Lambda's JSON log format) instead of `String`. Call it before
    /// [`with_telemetry_processor`](Extension::with_telemetry_processor).
    pub fn with_telemetry_record_type<N>(
        self,
    ) -> Extension<'a, E, L, MakeIdentity<Vec<LambdaTelemetry<N>>>, N> {
        Extension {
            extension_name: self.extension_name,
            events: self.events,
            events_processor: self.events_processor,
            log_types: self.log_types,
            logs_processor: self.logs_processor,
            log_buffering: self.log_buffering,
            log_port_number: self.log_port_number,
            telemetry_types: self.telemetry_types,
            telemetry_processor: None,
            telemetry_buffering: self.telemetry_buffering,
            telemetry_port_number: self.telemetry_port_number,
            record_type: PhantomData,
        }
    }
}

/// What a subscription ties to the crate's extension: the listener's port and the batching.
struct Subscribed {
    port: Option<u16>,
    default_port: u16,
    timeout: Duration,
}

impl<'a, E, L, T, TL> Extension<'a, E, L, T, TL>
where
    E: Service<LambdaEvent>,
    E::Future: std::future::Future<Output = Result<(), E::Error>>,
    E::Error: Into<Error>,
    L: Service<()>,
    L::Error: Into<Error>,
    L::Response: Service<Vec<LambdaLog>, Response = ()> + Send + 'static,
    <L::Response as Service<Vec<LambdaLog>>>::Error: Into<Error>,
    <L::Response as Service<Vec<LambdaLog>>>::Future: Send + 'static,
    T: Service<()>,
    T::Error: Into<Error>,
    T::Response: Service<Vec<LambdaTelemetry<TL>>, Response = ()> + Send + 'static,
    <T::Response as Service<Vec<LambdaTelemetry<TL>>>>::Error: Into<Error>,
    <T::Response as Service<Vec<LambdaTelemetry<TL>>>>::Future: Send + 'static,
    TL: DeserializeOwned + Send + 'static,
{
    /// Registers the extension (Lambda's Init phase): under its name, for its events, and —
    /// with a logs or telemetry processor — starts the processor's listener and subscribes it.
    /// An internal extension must be registered before the runtime asks for its first
    /// invocation (before `lambda_runtime::run`); then [`run`](RegisteredExtension::run) it
    /// beside the runtime.
    ///
    /// Fails when an event or record type is unknown, a [`LogBuffering`] is outside Lambda's
    /// limits, both a logs and a telemetry processor are set (Lambda takes one subscription
    /// per extension), the listener cannot listen, or an API refuses a call.
    pub async fn register(self) -> Result<RegisteredExtension<E>, Error> {
        let events = event_types(self.events.unwrap_or(DEFAULT_EVENTS))?;
        let mut extension = crate::Extension::new()
            .events(&events)
            .accept_account_id(true);
        if let Some(name) = self.extension_name {
            extension = extension.name(name);
        }
        let subscribed = match (self.logs_processor, self.telemetry_processor) {
            (Some(_), Some(_)) => return Err(crate::Error::TelemetryAndLogs.into()),
            (Some(factory), None) => {
                let types = record_types(self.log_types.unwrap_or(DEFAULT_TYPES))?;
                let buffering = self.log_buffering.unwrap_or_default().to_buffering()?;
                let convert: fn(LogsEvent) -> Option<LambdaLog> = lambda_log;
                let processor = Converting::new(make_processor(factory).await?, convert);
                extension = extension.logs(&types, buffering, processor);
                Some(Subscribed {
                    port: self.log_port_number,
                    default_port: DEFAULT_LOG_PORT_NUMBER,
                    timeout: buffering.timeout(),
                })
            }
            (None, Some(factory)) => {
                let types = record_types(self.telemetry_types.unwrap_or(DEFAULT_TYPES))?;
                let buffering = self
                    .telemetry_buffering
                    .unwrap_or_default()
                    .to_buffering()?;
                let convert: fn(TelemetryEvent) -> Option<LambdaTelemetry<TL>> =
                    lambda_telemetry::<TL>;
                let processor = Converting::new(make_processor(factory).await?, convert);
                extension = extension.telemetry(&types, buffering, processor);
                Some(Subscribed {
                    port: self.telemetry_port_number,
                    default_port: DEFAULT_TELEMETRY_PORT_NUMBER,
                    timeout: buffering.timeout(),
                })
            }
            (None, None) => None,
        };
        let registered = match &subscribed {
            None => extension.register().await?,
            Some(subscribed) => register_listening(extension, subscribed).await?,
        };
        let registration = registered.registration().clone();
        let (client, listener) = registered.into_parts();
        Ok(RegisteredExtension {
            extension_id: registration.extension_id,
            account_id: registration.account_id,
            function_name: registration.function_name,
            function_version: registration.function_version,
            handler: registration.handler,
            events_processor: self.events_processor,
            client,
            listener,
            linger: subscribed.map(|s| s.timeout * 2),
        })
    }

    /// Registers the extension, then runs it: [`register`](Self::register), then
    /// [`RegisteredExtension::run`].
    pub async fn run(self) -> Result<(), Error> {
        self.register().await?.run().await
    }
}

/// Registers `extension`, its listener on the port asked for; or on the default port, and on
/// one the system picks if another process already listens there.
async fn register_listening(
    extension: crate::Extension,
    subscribed: &Subscribed,
) -> Result<crate::RegisteredExtension, crate::Error> {
    if let Some(port) = subscribed.port {
        return extension.telemetry_port(port).register().await;
    }
    let on_default = extension
        .clone()
        .telemetry_port(subscribed.default_port)
        .register()
        .await;
    match on_default {
        Err(crate::Error::Bind { address, source }) if source.kind() == ErrorKind::AddrInUse => {
            ::tracing::warn!(%address, "the default port is taken; listening on one the system picks");
            extension.telemetry_port(0).register().await
        }
        other => other,
    }
}

/// The crate's event types for `names`.
fn event_types(names: &[&str]) -> Result<Vec<EventType>, Error> {
    names
        .iter()
        .map(|name| match name.to_ascii_uppercase().as_str() {
            "INVOKE" => Ok(EventType::Invoke),
            "SHUTDOWN" => Ok(EventType::Shutdown),
            _ => Err(ExtensionError::boxed(format!(
                "cannot subscribe to the event {name:?}: the Extensions API has INVOKE and SHUTDOWN"
            ))),
        })
        .collect()
}

/// The crate's record types for `names`.
fn record_types(names: &[&str]) -> Result<Vec<TelemetryType>, Error> {
    names
        .iter()
        .map(|name| match name.to_ascii_lowercase().as_str() {
            "platform" => Ok(TelemetryType::Platform),
            "function" => Ok(TelemetryType::Function),
            "extension" => Ok(TelemetryType::Extension),
            _ => Err(ExtensionError::boxed(format!(
                "cannot subscribe to the record type {name:?}: the types are platform, function and extension"
            ))),
        })
        .collect()
}

/// A registered extension (see [`Extension::register`]), ready to [`run`](Self::run).
pub struct RegisteredExtension<E> {
    /// The identifier registration answered.
    pub extension_id: String,
    /// The function's account id (registration asks for it).
    pub account_id: Option<String>,
    /// The function's name.
    pub function_name: String,
    /// The function's version (`$LATEST`, or a published one).
    pub function_version: String,
    /// The function's configured handler.
    pub handler: String,
    events_processor: E,
    client: ExtensionClient,
    listener: Option<TelemetryListener>,
    /// How long batches may still come after `SHUTDOWN` (twice the buffering timeout).
    linger: Option<Duration>,
}

impl<E> fmt::Debug for RegisteredExtension<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegisteredExtension")
            .field("extension_id", &self.extension_id)
            .field("account_id", &self.account_id)
            .field("function_name", &self.function_name)
            .field("function_version", &self.function_version)
            .field("handler", &self.handler)
            .field("listener", &self.listener)
            .finish_non_exhaustive()
    }
}

impl<E> RegisteredExtension<E>
where
    E: Service<LambdaEvent>,
    E::Future: std::future::Future<Output = Result<(), E::Error>>,
    E::Error: Into<Error>,
{
    /// Waits for events and hands each to the events processor, one at a time (asking for the
    /// next event is how the extension tells Lambda it is done with the last one). A logs or
    /// telemetry processor keeps getting batches meanwhile.
    ///
    /// - When the processor fails (or is not ready), its error is reported to the Extensions
    ///   API (`/extension/exit/error`, error type `Extension.HandlerError`) and returned: the
    ///   extension should then exit, which ends the execution environment.
    /// - After `SHUTDOWN` has been processed, this returns `Ok(())` (with a logs or telemetry
    ///   processor, once the last batches had time to come: twice the buffering timeout, at most
    ///   half the time left before the deadline).
    /// - A failed Extensions API call is returned (boxed: the crate's [`Error`](crate::Error)).
    pub async fn run(self) -> Result<(), Error> {
        let RegisteredExtension {
            mut events_processor,
            mut client,
            listener,
            linger,
            ..
        } = self;
        loop {
            let next = NextEvent::from(client.next_event().await?.event);
            let shutdown_deadline = match &next {
                NextEvent::Shutdown(shutdown) => Some(shutdown.deadline_ms),
                NextEvent::Invoke(_) => None,
            };
            let event = LambdaEvent { next };
            let outcome = match events_processor.ready().await {
                Ok(ready) => ready.call(event).await,
                Err(error) => Err(error),
            };
            if let Err(error) = outcome {
                let error: Error = error.into();
                ::tracing::error!(%error, "the events processor failed; reporting it and stopping");
                if let Err(report) = client
                    .exit_error(HANDLER_ERROR_TYPE, &error.to_string())
                    .await
                {
                    ::tracing::warn!(error = %report, "cannot report the events processor's failure");
                }
                return Err(error);
            }
            if let Some(deadline_ms) = shutdown_deadline {
                if let (Some(_), Some(linger)) = (&listener, linger) {
                    tokio::time::sleep(linger.min(time_left(deadline_ms) / 2)).await;
                }
                return Ok(());
            }
        }
    }
}

/// The time from now until `deadline_ms` (milliseconds since the Unix epoch), or zero.
fn time_left(deadline_ms: u64) -> Duration {
    let deadline = std::time::UNIX_EPOCH + Duration::from_millis(deadline_ms);
    deadline
        .duration_since(std::time::SystemTime::now())
        .unwrap_or(Duration::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lambda_extension::{service_fn, SharedService};

    /// Compile-time check: an extension with processors can be registered and run from a
    /// spawned task (as an internal extension beside the runtime).
    #[allow(dead_code)]
    fn futures_are_send() {
        fn send<T: Send>(_: T) {}
        let events = service_fn(|_: LambdaEvent| async { Ok::<(), Error>(()) });
        let logs = SharedService::new(service_fn(|_: Vec<LambdaLog>| async {
            Ok::<(), Error>(())
        }));
        let telemetry = SharedService::new(service_fn(|_: Vec<LambdaTelemetry>| async {
            Ok::<(), Error>(())
        }));
        send(
            Extension::new()
                .with_events_processor(events)
                .with_logs_processor(logs)
                .run(),
        );
        send(
            Extension::new()
                .with_telemetry_processor(telemetry)
                .register(),
        );
        send(super::super::run(events));
    }

    #[test]
    fn names_become_the_crates_types() {
        assert_eq!(
            event_types(&["INVOKE", "shutdown"]).unwrap(),
            [EventType::Invoke, EventType::Shutdown]
        );
        let error = event_types(&["RESTORE"]).unwrap_err();
        assert!(error.to_string().contains("\"RESTORE\""), "{error}");
        assert!(error.downcast_ref::<ExtensionError>().is_some());
        assert_eq!(
            record_types(&["platform", "function", "extension"]).unwrap(),
            [
                TelemetryType::Platform,
                TelemetryType::Function,
                TelemetryType::Extension
            ]
        );
        assert!(record_types(&["platform", "metrics"]).is_err());
    }

    #[test]
    fn deadlines_in_the_past_leave_no_time() {
        assert_eq!(time_left(0), Duration::ZERO);
        assert!(time_left(u64::MAX / 2_000_000) > Duration::from_secs(3600));
    }
}
