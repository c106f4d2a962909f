//! The high-level [`Extension`] builder: register (and subscribe to the Telemetry API or the
//! Logs API), then hand every event to a handler until `SHUTDOWN` or an error, reporting handler
//! failures to the Extensions API.

use std::net::SocketAddr;

use tower::{util::BoxCloneSyncService, Service, ServiceExt};

use crate::{
    executable_name, BoxError, Buffering, Endpoint, Error, Event, EventType, ExtensionClient,
    LogsEvent, NextEvent, Protocol, Registration, TelemetryEvent, TelemetryListener, TelemetryType,
};

/// The error type posted to `/extension/exit/error` when the handler fails on an `INVOKE`.
pub const HANDLER_ERROR_TYPE: &str = "Extension.HandlerError";

/// Whether an extension is a process of its own or a task inside the function's runtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtensionKind {
    /// A separate executable (Lambda starts `/opt/extensions/<name>`): registers under its
    /// file name, may subscribe to `INVOKE` and `SHUTDOWN`, and exits after `SHUTDOWN`.
    External,
    /// A task inside the runtime process: registers under a name of its choosing, before the
    /// runtime's first `/runtime/invocation/next`, and can subscribe to `INVOKE` only.
    Internal,
}

/// Builds and runs an extension.
///
/// An external extension, a program of its own:
///
/// ```no_run
/// use firebox_extensions::{service_fn, Event, EventType, Extension, Error, BoxError};
///
/// async fn handle(event: Event) -> Result<(), BoxError> {
///     match event {
///         Event::Invoke(invoke) => println!("invocation {}", invoke.request_id),
///         Event::Shutdown(shutdown) => println!("shutting down: {}", shutdown.shutdown_reason),
///     }
///     Ok(())
/// }
///
/// #[tokio::main(flavor = "current_thread")]
/// async fn main() -> Result<(), Error> {
///     Extension::new()
///         .events(&[EventType::Invoke, EventType::Shutdown])
///         .run(service_fn(handle))
///         .await
/// }
/// ```
///
/// An internal extension registers first, then runs as a task beside the runtime (which must
/// not ask for its first invocation before the registration is done):
///
/// ```no_run
/// use firebox_extensions::{service_fn, BoxError, Event, Extension};
///
/// # async fn example() -> Result<(), firebox_extensions::Error> {
/// let extension = Extension::internal().name("request-logger").register().await?;
/// tokio::spawn(extension.run(service_fn(|event: Event| async move {
///     if let Event::Invoke(invoke) = event {
///         eprintln!("invocation {}", invoke.request_id);
///     }
///     Ok::<(), BoxError>(())
/// })));
/// // ... then start the function's runtime.
/// # Ok(())
/// # }
/// ```
///
/// With [`telemetry`](Self::telemetry), registering also subscribes to the Telemetry API:
///
/// ```no_run
/// use firebox_extensions::{
///     service_fn, BoxError, Buffering, Event, Extension, TelemetryEvent, TelemetryRecord,
///     TelemetryType,
/// };
///
/// # async fn example() -> Result<(), firebox_extensions::Error> {
/// let reports = service_fn(|batch: Vec<TelemetryEvent>| async move {
///     for event in batch {
///         if let TelemetryRecord::PlatformReport(report) = event.record {
///             println!("{} billed {} ms", report.request_id, report.metrics.billed_duration_ms);
///         }
///     }
///     Ok::<(), BoxError>(())
/// });
/// Extension::new()
///     .telemetry(&[TelemetryType::Platform], Buffering::default(), reports)
///     .run(service_fn(|_: Event| async { Ok::<(), BoxError>(()) }))
///     .await
/// # }
/// ```
///
/// With [`logs`](Self::logs), to the Logs API instead, here over TCP
/// ([`telemetry_protocol`](Self::telemetry_protocol)):
///
/// ```no_run
/// use firebox_extensions::{
///     service_fn, BoxError, Buffering, Event, Extension, LogsEvent, LogsRecord, Protocol,
///     TelemetryType,
/// };
///
/// # async fn example() -> Result<(), firebox_extensions::Error> {
/// let ends = service_fn(|batch: Vec<LogsEvent>| async move {
///     for event in batch {
///         if let LogsRecord::PlatformEnd(end) = event.record {
///             println!("{} ended", end.request_id);
///         }
///     }
///     Ok::<(), BoxError>(())
/// });
/// Extension::new()
///     .logs(&[TelemetryType::Platform], Buffering::default(), ends)
///     .telemetry_protocol(Protocol::Tcp)
///     .run(service_fn(|_: Event| async { Ok::<(), BoxError>(()) }))
///     .await
/// # }
/// ```
#[derive(Debug, Clone)]
#[must_use = "an extension does nothing until it is registered or run"]
pub struct Extension {
    kind: ExtensionKind,
    name: Option<String>,
    events: Vec<EventType>,
    accept_account_id: bool,
    endpoint: Option<Endpoint>,
    telemetry: Option<Subscription<TelemetryEvent>>,
    logs: Option<Subscription<LogsEvent>>,
    telemetry_address: SocketAddr,
    telemetry_protocol: Protocol,
}

/// What [`Extension::telemetry`] or [`Extension::logs`] subscribes to, and the handler of its
/// batches.
#[derive(Debug, Clone)]
struct Subscription<E> {
    types: Vec<TelemetryType>,
    buffering: Buffering,
    handler: BoxCloneSyncService<Vec<E>, (), BoxError>,
}

impl<E: 'static> Subscription<E> {
    fn new<S>(types: &[TelemetryType], buffering: Buffering, handler: S) -> Self
    where
        S: Service<Vec<E>, Response = ()> + Clone + Send + Sync + 'static,
        S::Error: Into<BoxError>,
        S::Future: Send + 'static,
    {
        Subscription {
            types: types.to_vec(),
            buffering,
            handler: BoxCloneSyncService::new(handler.map_err(Into::into)),
        }
    }
}

impl Default for Extension {
    fn default() -> Self {
        Self::new()
    }
}

impl Extension {
    /// An external extension, registered under its executable's file name and subscribed to
    /// `INVOKE` and `SHUTDOWN` unless told otherwise.
    pub fn new() -> Self {
        Extension {
            kind: ExtensionKind::External,
            name: None,
            events: vec![EventType::Invoke, EventType::Shutdown],
            accept_account_id: false,
            endpoint: None,
            telemetry: None,
            logs: None,
            telemetry_address: TelemetryListener::DEFAULT_ADDRESS,
            telemetry_protocol: Protocol::Http,
        }
    }

    /// An internal extension, subscribed to `INVOKE`. It needs a [`name`](Self::name), and
    /// cannot subscribe to `SHUTDOWN`: registering it with `SHUTDOWN` fails with
    /// [`Error::ShutdownForInternal`] before anything is sent.
    pub fn internal() -> Self {
        Extension {
            kind: ExtensionKind::Internal,
            events: vec![EventType::Invoke],
            ..Self::new()
        }
    }

    /// The name to register under. An external extension must use its executable's file name
    /// (the default, from [`executable_name`]), or Lambda refuses it.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The events to subscribe to (none is allowed: the extension then only takes part in
    /// Init and gets no events).
    pub fn events(mut self, events: &[EventType]) -> Self {
        self.events = events.to_vec();
        self
    }

    /// Asks the registration answer to include the function's account id
    /// (`Lambda-Extension-Accept-Feature: accountId`).
    pub fn accept_account_id(mut self, accept: bool) -> Self {
        self.accept_account_id = accept;
        self
    }

    /// The Extensions API address, instead of `AWS_LAMBDA_RUNTIME_API`.
    pub fn endpoint(mut self, endpoint: Endpoint) -> Self {
        self.endpoint = Some(endpoint);
        self
    }

    /// Subscribes to the Telemetry API's records of `types`, batched as `buffering`, handing
    /// each batch to `handler` (any [`tower::Service`] of `Vec<`[`TelemetryEvent`]`>`, usually
    /// [`service_fn`](crate::service_fn) over an `async fn`).
    ///
    /// [`register`](Self::register) then starts a [`TelemetryListener`] (HTTP unless
    /// [`telemetry_protocol`](Self::telemetry_protocol) says TCP, on `0.0.0.0` and a port the
    /// system picks unless [`telemetry_port`](Self::telemetry_port) says otherwise), and
    /// subscribes it right after registering, during Init. It hands the batches to (a clone
    /// of) `handler` one at a time, in order, for as long as the [`RegisteredExtension`] (or
    /// its [`run`](RegisteredExtension::run)) lasts. A handler error is logged, not fatal.
    ///
    /// Subscribing to [`TelemetryType::Function`] gets the extension's own output back as
    /// records (extensions share the function's log stream): a handler that prints every
    /// `function` record loops.
    ///
    /// An extension subscribes to the Telemetry API or to the Logs API
    /// ([`logs`](Self::logs)), not both: registering with both fails with
    /// [`Error::TelemetryAndLogs`] before anything is sent.
    pub fn telemetry<S>(mut self, types: &[TelemetryType], buffering: Buffering, handler: S) -> Self
    where
        S: Service<Vec<TelemetryEvent>, Response = ()> + Clone + Send + Sync + 'static,
        S::Error: Into<BoxError>,
        S::Future: Send + 'static,
    {
        self.telemetry = Some(Subscription::new(types, buffering, handler));
        self
    }

    /// Subscribes to the older Logs API's records (`PUT /2020-08-15/logs`, schema
    /// `2021-03-18`) of `types`, batched as `buffering`, handing each batch to `handler` (any
    /// [`tower::Service`] of `Vec<`[`LogsEvent`]`>`): the Logs API's counterpart of
    /// [`telemetry`](Self::telemetry), with the same listener, protocol and port settings. The
    /// Telemetry API supersedes it; Lambda still serves it (though not on Lambda Managed
    /// Instances).
    ///
    /// Registering with both this and [`telemetry`](Self::telemetry) fails with
    /// [`Error::TelemetryAndLogs`] before anything is sent: Lambda refuses an extension's
    /// subscription to one API after it subscribed to the other.
    pub fn logs<S>(mut self, types: &[TelemetryType], buffering: Buffering, handler: S) -> Self
    where
        S: Service<Vec<LogsEvent>, Response = ()> + Clone + Send + Sync + 'static,
        S::Error: Into<BoxError>,
        S::Future: Send + 'static,
    {
        self.logs = Some(Subscription::new(types, buffering, handler));
        self
    }

    /// The port the listener of [`telemetry`](Self::telemetry) or [`logs`](Self::logs) listens
    /// on (on `0.0.0.0`), instead of one the system picks.
    pub fn telemetry_port(mut self, port: u16) -> Self {
        self.telemetry_address.set_port(port);
        self
    }

    /// How Lambda delivers the batches of [`telemetry`](Self::telemetry) or
    /// [`logs`](Self::logs): [`Protocol::Http`] (the default, and Lambda's advice: each batch
    /// is POSTed and answered) or [`Protocol::Tcp`] (newline-delimited JSON on a kept
    /// connection, unacknowledged). See [`TelemetryListener`] for how each is read.
    pub fn telemetry_protocol(mut self, protocol: Protocol) -> Self {
        self.telemetry_protocol = protocol;
        self
    }

    /// Registers the extension (and subscribes to the Telemetry or Logs API, if asked to),
    /// without waiting for events yet: an internal extension must register during Init, then
    /// [`run`](RegisteredExtension::run) in a task of its own.
    ///
    /// With [`telemetry`](Self::telemetry) or [`logs`](Self::logs), the listener is started
    /// before registering ([`Error::Bind`] if it cannot be) and subscribed after; a refused
    /// subscription is returned as an error.
    pub async fn register(self) -> Result<RegisteredExtension, Error> {
        let name = match (self.name, self.kind) {
            (Some(name), _) => name,
            (None, ExtensionKind::External) => {
                executable_name().ok_or_else(|| Error::InvalidName {
                    name: String::new(),
                    reason: "no name was given and the executable's file name cannot be read",
                })?
            }
            (None, ExtensionKind::Internal) => {
                return Err(Error::InvalidName {
                    name: String::new(),
                    reason: "an internal extension needs a name: call .name(..)",
                })
            }
        };
        if self.kind == ExtensionKind::Internal && self.events.contains(&EventType::Shutdown) {
            return Err(Error::ShutdownForInternal);
        }
        if self.telemetry.is_some() && self.logs.is_some() {
            return Err(Error::TelemetryAndLogs);
        }
        let endpoint = match self.endpoint {
            Some(endpoint) => endpoint,
            None => Endpoint::from_env()?,
        };
        let mut client = ExtensionClient::new(endpoint)?;
        let (protocol, address) = (self.telemetry_protocol, self.telemetry_address);
        let listener = match (&self.telemetry, &self.logs) {
            (Some(telemetry), _) => {
                Some(TelemetryListener::start(protocol, address, telemetry.handler.clone()).await?)
            }
            (None, Some(logs)) => {
                Some(TelemetryListener::start(protocol, address, logs.handler.clone()).await?)
            }
            (None, None) => None,
        };
        let registration = client
            .register(&name, &self.events, self.accept_account_id)
            .await?;
        if let Some(listener) = &listener {
            let uri = listener.destination_uri();
            match (&self.telemetry, &self.logs) {
                (Some(t), _) => {
                    client
                        .subscribe_telemetry(&t.types, t.buffering, uri)
                        .await?
                }
                (None, Some(l)) => client.subscribe_logs(&l.types, l.buffering, uri).await?,
                (None, None) => {}
            }
        }
        Ok(RegisteredExtension {
            client,
            registration,
            name,
            kind: self.kind,
            telemetry: listener,
        })
    }

    /// Registers the extension, then runs `handler` for every event: see
    /// [`RegisteredExtension::run`].
    pub async fn run<S>(self, handler: S) -> Result<(), Error>
    where
        S: Service<Event, Response = ()>,
        S::Error: Into<BoxError>,
    {
        self.register().await?.run(handler).await
    }
}

/// A registered extension, ready to [`run`](Self::run).
#[derive(Debug)]
pub struct RegisteredExtension {
    client: ExtensionClient,
    registration: Registration,
    name: String,
    kind: ExtensionKind,
    telemetry: Option<TelemetryListener>,
}

impl RegisteredExtension {
    /// What registration answered: the identifier and the function's name, version, handler
    /// (and account id, when asked for).
    pub fn registration(&self) -> &Registration {
        &self.registration
    }

    /// The name the extension registered under.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// External or internal.
    pub fn kind(&self) -> ExtensionKind {
        self.kind
    }

    /// The listener subscribed by [`Extension::telemetry`] or [`Extension::logs`] (its
    /// protocol, port and destination), if any.
    pub fn telemetry_listener(&self) -> Option<&TelemetryListener> {
        self.telemetry.as_ref()
    }

    /// The low-level client, registered, for extensions that drive the event loop themselves.
    /// A telemetry listener stops: use [`into_parts`](Self::into_parts) to keep it.
    pub fn into_client(self) -> ExtensionClient {
        self.client
    }

    /// The low-level client, registered, and the telemetry listener (which stops when dropped).
    pub fn into_parts(self) -> (ExtensionClient, Option<TelemetryListener>) {
        (self.client, self.telemetry)
    }

    /// Reports that the extension failed to initialize (`/extension/init/error`), with an
    /// error type such as `Extension.ConfigError`. The extension should exit afterwards.
    pub async fn init_error(mut self, error_type: &str, message: &str) -> Result<(), Error> {
        self.client.init_error(error_type, message).await
    }

    /// Waits for events and hands each to `handler`, one at a time, until `SHUTDOWN`. A
    /// telemetry listener keeps receiving batches until this returns.
    ///
    /// Asking for the next event is how the extension tells Lambda it is done with the
    /// previous one: the function's environment is not reused for the next invocation until
    /// every extension subscribed to `INVOKE` has asked again. So the handler should return
    /// promptly; work that may lag behind belongs in a task of its own.
    ///
    /// - On `INVOKE`, a handler error is logged, reported to `/extension/exit/error` (as
    ///   [`HANDLER_ERROR_TYPE`]) and returned as [`Error::Handler`]; the extension should then
    ///   exit.
    /// - On `SHUTDOWN`, the handler runs (it should clean up before the event's deadline, when
    ///   Lambda kills the environment), then this returns `Ok(())` — even when the handler
    ///   failed, which is only logged.
    /// - A failed Extensions API call is returned as it is (a `500` means the environment is
    ///   going away).
    pub async fn run<S>(mut self, mut handler: S) -> Result<(), Error>
    where
        S: Service<Event, Response = ()>,
        S::Error: Into<BoxError>,
    {
        loop {
            let NextEvent { event, event_id } = self.client.next_event().await?;
            let event_type = event.event_type();
            let outcome = match handler.ready().await {
                Ok(ready) => ready.call(event).await,
                Err(error) => Err(error),
            };
            let error: BoxError = match outcome {
                Ok(()) if event_type == EventType::Shutdown => return Ok(()),
                Ok(()) => continue,
                Err(error) => error.into(),
            };
            if event_type == EventType::Shutdown {
                tracing::error!(extension = %self.name, %error, "the extension's handler failed during SHUTDOWN");
                return Ok(());
            }
            tracing::error!(extension = %self.name, ?event_id, %error, "the extension's handler failed during INVOKE; reporting it and exiting");
            if let Err(report) = self
                .client
                .exit_error(HANDLER_ERROR_TYPE, &error.to_string())
                .await
            {
                tracing::warn!(extension = %self.name, error = %report, "cannot report the handler's failure");
            }
            return Err(Error::Handler(error));
        }
    }
}

#[cfg(test)]
mod tests;
