//! The high-level [`Extension`] builder: register (and subscribe to telemetry), then hand every
//! event to a handler until `SHUTDOWN` or an error, reporting handler failures to the
//! Extensions API.

use std::net::SocketAddr;

use tower::{util::BoxCloneSyncService, Service, ServiceExt};

use crate::{
    executable_name, BoxError, Buffering, Endpoint, Error, Event, EventType, ExtensionClient,
    NextEvent, Registration, TelemetryEvent, TelemetryListener, TelemetryType,
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
#[derive(Debug, Clone)]
#[must_use = "an extension does nothing until it is registered or run"]
pub struct Extension {
    kind: ExtensionKind,
    name: Option<String>,
    events: Vec<EventType>,
    accept_account_id: bool,
    endpoint: Option<Endpoint>,
    telemetry: Option<Telemetry>,
    telemetry_address: SocketAddr,
}

/// What [`Extension::telemetry`] subscribes to, and the handler of its batches.
#[derive(Debug, Clone)]
struct Telemetry {
    types: Vec<TelemetryType>,
    buffering: Buffering,
    handler: BoxCloneSyncService<Vec<TelemetryEvent>, (), BoxError>,
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
            telemetry_address: TelemetryListener::DEFAULT_ADDRESS,
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
    /// [`register`](Self::register) then starts a [`TelemetryListener`] (on `0.0.0.0` and a port
    /// the system picks, unless [`telemetry_port`](Self::telemetry_port) says otherwise), and
    /// subscribes it right after registering, during Init. It answers every batch at once and
    /// hands them to (a clone of) `handler` one at a time, in order, for as long as the
    /// [`RegisteredExtension`] (or its [`run`](RegisteredExtension::run)) lasts. A handler
    /// error is logged, not fatal.
    ///
    /// Subscribing to [`TelemetryType::Function`] gets the extension's own output back as
    /// records (extensions share the function's log stream): a handler that prints every
    /// `function` record loops.
    pub fn telemetry<S>(mut self, types: &[TelemetryType], buffering: Buffering, handler: S) -> Self
    where
        S: Service<Vec<TelemetryEvent>, Response = ()> + Clone + Send + Sync + 'static,
        S::Error: Into<BoxError>,
        S::Future: Send + 'static,
    {
        self.telemetry = Some(Telemetry {
            types: types.to_vec(),
            buffering,
            handler: BoxCloneSyncService::new(handler.map_err(Into::into)),
        });
        self
    }

    /// The port the telemetry listener listens on (on `0.0.0.0`), instead of one the system
    /// picks.
    pub fn telemetry_port(mut self, port: u16) -> Self {
        self.telemetry_address.set_port(port);
        self
    }

    /// Registers the extension (and subscribes to telemetry, if asked to), without waiting
    /// for events yet: an internal extension must register during Init, then
    /// [`run`](RegisteredExtension::run) in a task of its own.
    ///
    /// With [`telemetry`](Self::telemetry), the listener is started before registering
    /// ([`Error::Bind`] if it cannot be) and subscribed after; a refused subscription is
    /// returned as an error.
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
        let endpoint = match self.endpoint {
            Some(endpoint) => endpoint,
            None => Endpoint::from_env()?,
        };
        let mut client = ExtensionClient::new(endpoint)?;
        let listener = match &self.telemetry {
            Some(telemetry) => Some(
                TelemetryListener::bind(self.telemetry_address, telemetry.handler.clone()).await?,
            ),
            None => None,
        };
        let registration = client
            .register(&name, &self.events, self.accept_account_id)
            .await?;
        if let (Some(telemetry), Some(listener)) = (&self.telemetry, &listener) {
            client
                .subscribe_telemetry(
                    &telemetry.types,
                    telemetry.buffering,
                    listener.destination_uri(),
                )
                .await?;
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

    /// The telemetry listener subscribed by [`Extension::telemetry`] (its port and
    /// destination), if any.
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
mod tests {
    use super::*;

    fn unreachable() -> Endpoint {
        // Port 1 on loopback: nothing is sent in these tests, the checks come first.
        Endpoint::parse("127.0.0.1:1").unwrap()
    }

    #[tokio::test]
    async fn internal_extensions_cannot_subscribe_to_shutdown() {
        let error = Extension::internal()
            .name("inner")
            .events(&[EventType::Invoke, EventType::Shutdown])
            .endpoint(unreachable())
            .register()
            .await
            .unwrap_err();
        assert!(matches!(error, Error::ShutdownForInternal), "{error}");
        assert!(error.to_string().contains("Extension.InvalidEventType"));
    }

    #[tokio::test]
    async fn internal_extensions_need_a_name() {
        let error = Extension::internal()
            .endpoint(unreachable())
            .register()
            .await
            .unwrap_err();
        assert!(matches!(error, Error::InvalidName { .. }), "{error}");
    }

    #[test]
    fn defaults() {
        let external = Extension::new();
        assert_eq!(external.kind, ExtensionKind::External);
        assert_eq!(external.events, [EventType::Invoke, EventType::Shutdown]);
        let internal = Extension::internal();
        assert_eq!(internal.kind, ExtensionKind::Internal);
        assert_eq!(internal.events, [EventType::Invoke]);
        assert!(internal.telemetry.is_none());
        assert_eq!(internal.telemetry_address.to_string(), "0.0.0.0:0");
        assert_eq!(
            Extension::new()
                .telemetry_port(4243)
                .telemetry_address
                .to_string(),
            "0.0.0.0:4243"
        );
    }

    #[tokio::test]
    async fn a_busy_telemetry_port_fails_before_registering() {
        let taken = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
        let port = taken.local_addr().unwrap().port();
        let error = Extension::new()
            .name("x")
            .endpoint(unreachable())
            .telemetry(
                &[TelemetryType::Platform],
                Buffering::default(),
                tower::service_fn(|_: Vec<TelemetryEvent>| async { Ok::<(), BoxError>(()) }),
            )
            .telemetry_port(port)
            .register()
            .await
            .unwrap_err();
        assert!(matches!(error, Error::Bind { .. }), "{error}");
    }

    /// Compile-time check: an extension with telemetry is still `Clone`, `Send` and `Sync`,
    /// and registers in a spawned task.
    #[allow(dead_code)]
    fn telemetry_keeps_the_builder_shareable(extension: Extension) {
        fn shareable<T: Clone + Send + Sync>(_: T) {}
        fn send<T: Send>(_: T) {}
        send(extension.clone().register());
        shareable(extension);
    }

    /// Compile-time check: a registered extension can run in a spawned task.
    #[allow(dead_code)]
    fn run_is_send(extension: RegisteredExtension) {
        fn send<T: Send>(_: T) {}
        send(extension.run(tower::service_fn(|_: Event| async {
            Ok::<(), BoxError>(())
        })));
    }
}
