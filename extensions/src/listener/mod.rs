//! The [`TelemetryListener`]: where a Telemetry API (or Logs API) subscription's batches are
//! delivered, over HTTP (`http.rs`: each batch POSTed as a JSON array) or TCP (`tcp.rs`:
//! newline-delimited JSON on a kept connection). Either way the records are decoded and handed
//! to a handler running in a task of its own, one batch at a time, in order.

mod http;
mod tcp;

use std::{
    fmt,
    net::{IpAddr, Ipv4Addr, SocketAddr},
    time::Duration,
};

use serde::de::DeserializeOwned;
use tokio::{
    net::TcpListener,
    sync::{mpsc, oneshot},
    task::JoinHandle,
};
use tower::{Service, ServiceExt};

use crate::{BoxError, Error, LogsEvent, Protocol, TelemetryEvent};

/// Lambda's name for the execution environment's own address.
const SANDBOX_HOST: &str = "sandbox.localdomain";
/// Batches received but not handled yet; beyond them, receiving waits for the handler (an HTTP
/// batch is answered later, a TCP connection is read later).
const QUEUED_BATCHES: usize = 64;
/// The pause after a failed `accept` (out of file descriptors, ...), so as not to spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

mod sealed {
    pub trait Sealed {}
    impl Sealed for crate::TelemetryEvent {}
    impl Sealed for crate::LogsEvent {}
}

/// A record a [`TelemetryListener`] can read: [`TelemetryEvent`] (the Telemetry API's) or
/// [`LogsEvent`] (the Logs API's). The handler's batch type picks it. The trait is sealed: no
/// other type implements it.
pub trait Record: DeserializeOwned + Send + 'static + sealed::Sealed {
    /// The path of an HTTP destination for these records (any path is accepted).
    const PATH: &'static str;
}

impl Record for TelemetryEvent {
    const PATH: &'static str = "/telemetry";
}

impl Record for LogsEvent {
    const PATH: &'static str = "/logs";
}

/// A server for a subscription's batches, over HTTP or TCP. It decodes each batch into a
/// `Vec` of [`TelemetryEvent`] (Telemetry API) or [`LogsEvent`] (Logs API), whichever the
/// handler takes, and hands the batches to the handler (any [`tower::Service`]) one after the
/// other, in the order they came. A handler error is logged.
///
/// - **HTTP** ([`bind`](Self::bind)): each `POST` (or `PUT`) of a JSON array of records is
///   handed over and answered `200` once the handler is done with it (a handler's error is
///   logged, the batch still answered `200`), so that Lambda's delivery of a batch means it
///   was handled, as with `lambda_extension`.
///   A body that is not a batch is answered `400` and logged.
/// - **TCP** ([`bind_tcp`](Self::bind_tcp)): Lambda writes one record per line to a
///   connection it keeps, and opens a new one when that one closes; the listener accepts every
///   connection. The complete lines that one read of a connection yields form one batch (a
///   record split across reads waits for its end), so a batch of the handler is at most what
///   Lambda wrote at once. A line that is not a record is logged and skipped; a line longer
///   than 1 MiB (Lambda's largest batch) is skipped without being kept in memory. Nothing is
///   answered: records in flight when the listener stops are lost.
///
/// The server stops when the listener is dropped; batches already received are still handed to
/// the handler.
///
/// [`Extension::telemetry`](crate::Extension::telemetry) and
/// [`Extension::logs`](crate::Extension::logs) start one and subscribe it; with the low-level
/// client:
///
/// ```no_run
/// use firebox_extensions::{
///     service_fn, BoxError, Buffering, ExtensionClient, TelemetryEvent, TelemetryListener,
///     TelemetryType,
/// };
///
/// # async fn example(mut client: ExtensionClient) -> Result<(), firebox_extensions::Error> {
/// let listener = TelemetryListener::bind_tcp(
///     TelemetryListener::DEFAULT_ADDRESS,
///     service_fn(|batch: Vec<TelemetryEvent>| async move {
///         eprintln!("{} records", batch.len());
///         Ok::<(), BoxError>(())
///     }),
/// )
/// .await?;
/// // tcp://sandbox.localdomain:<port>: the protocol follows the scheme.
/// client
///     .subscribe_telemetry(&[TelemetryType::Platform], Buffering::default(), listener.destination_uri())
///     .await?;
/// # Ok(())
/// # }
/// ```
pub struct TelemetryListener {
    local_addr: SocketAddr,
    protocol: Protocol,
    destination_uri: String,
    server: JoinHandle<()>,
}

impl fmt::Debug for TelemetryListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TelemetryListener")
            .field("local_addr", &self.local_addr)
            .field("protocol", &self.protocol)
            .field("destination_uri", &self.destination_uri)
            .finish()
    }
}

impl Drop for TelemetryListener {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl TelemetryListener {
    /// `0.0.0.0:0`: every interface (Lambda reaches the extension at `sandbox.localdomain`, the
    /// environment's address), on a port the system picks.
    pub const DEFAULT_ADDRESS: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0);

    /// An HTTP listener on `address` (port `0` for one the system picks), handing every batch
    /// received to `handler`; [`Error::Bind`] when the address cannot be listened on. Must be
    /// called inside a Tokio runtime.
    pub async fn bind<E, S>(address: SocketAddr, handler: S) -> Result<Self, Error>
    where
        E: Record,
        S: Service<Vec<E>, Response = ()> + Send + 'static,
        S::Error: Into<BoxError>,
        S::Future: Send + 'static,
    {
        Self::start(Protocol::Http, address, handler).await
    }

    /// A TCP listener on `address` (port `0` for one the system picks), handing the records of
    /// every connection to `handler`; [`Error::Bind`] when the address cannot be listened on.
    /// Must be called inside a Tokio runtime.
    pub async fn bind_tcp<E, S>(address: SocketAddr, handler: S) -> Result<Self, Error>
    where
        E: Record,
        S: Service<Vec<E>, Response = ()> + Send + 'static,
        S::Error: Into<BoxError>,
        S::Future: Send + 'static,
    {
        Self::start(Protocol::Tcp, address, handler).await
    }

    /// A listener of `protocol`: [`bind`](Self::bind) or [`bind_tcp`](Self::bind_tcp).
    pub(crate) async fn start<E, S>(
        protocol: Protocol,
        address: SocketAddr,
        handler: S,
    ) -> Result<Self, Error>
    where
        E: Record,
        S: Service<Vec<E>, Response = ()> + Send + 'static,
        S::Error: Into<BoxError>,
        S::Future: Send + 'static,
    {
        let bind_error = |source| Error::Bind { address, source };
        let listener = TcpListener::bind(address).await.map_err(bind_error)?;
        let local_addr = listener.local_addr().map_err(bind_error)?;
        let (batches, queued) = mpsc::channel::<Queued<E>>(QUEUED_BATCHES);
        tokio::spawn(handle_batches(handler, queued));
        let (server, destination_uri) = match protocol {
            Protocol::Http => (
                tokio::spawn(http::serve(listener, batches)),
                format!("http://{SANDBOX_HOST}:{}{}", local_addr.port(), E::PATH),
            ),
            Protocol::Tcp => (
                tokio::spawn(tcp::serve(listener, batches)),
                format!("tcp://{SANDBOX_HOST}:{}", local_addr.port()),
            ),
        };
        tracing::debug!(%local_addr, %protocol, "listening for telemetry");
        Ok(TelemetryListener {
            local_addr,
            protocol,
            destination_uri,
            server,
        })
    }

    /// The address listened on (with the port the system picked).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The port listened on.
    pub fn port(&self) -> u16 {
        self.local_addr.port()
    }

    /// HTTP or TCP.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// The address to subscribe with: `http://sandbox.localdomain:<port>/telemetry` (`/logs`
    /// for Logs API records) or `tcp://sandbox.localdomain:<port>`.
    pub fn destination_uri(&self) -> &str {
        &self.destination_uri
    }
}

/// A batch for the handler, and who to tell once the handler is done with it (the HTTP
/// request that brought it waits for that, as Lambda's delivery then knows it was handled).
pub(super) type Queued<E> = (Vec<E>, Option<oneshot::Sender<()>>);

/// Hands the queued batches to `handler`, one at a time, until the server is gone and the
/// queue is empty, or the handler cannot take any more.
async fn handle_batches<E, S>(mut handler: S, mut batches: mpsc::Receiver<Queued<E>>)
where
    S: Service<Vec<E>, Response = ()>,
    S::Error: Into<BoxError>,
{
    while let Some((batch, done)) = batches.recv().await {
        let records = batch.len();
        let ready = match handler.ready().await {
            Ok(ready) => ready,
            Err(error) => {
                let error: BoxError = error.into();
                tracing::error!(%error, "the telemetry handler failed; later batches are refused");
                return;
            }
        };
        if let Err(error) = ready.call(batch).await {
            let error: BoxError = error.into();
            tracing::warn!(%error, records, "the telemetry handler failed on a batch");
        }
        if let Some(done) = done {
            let _ = done.send(());
        }
    }
}

/// The first bytes of `bytes`, as text, for a log line.
fn excerpt(bytes: &[u8]) -> String {
    String::from_utf8_lossy(&bytes[..bytes.len().min(256)]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ignore<E>() -> impl Service<
        Vec<E>,
        Response = (),
        Error = BoxError,
        Future = std::future::Ready<Result<(), BoxError>>,
    > {
        tower::service_fn(|_: Vec<E>| std::future::ready(Ok(())))
    }

    /// Compile-time check: a listener can be started from a spawned task.
    #[allow(dead_code)]
    fn bind_is_send() {
        fn send<T: Send>(_: T) {}
        send(TelemetryListener::bind(
            TelemetryListener::DEFAULT_ADDRESS,
            ignore::<TelemetryEvent>(),
        ));
        send(TelemetryListener::bind_tcp(
            TelemetryListener::DEFAULT_ADDRESS,
            ignore::<LogsEvent>(),
        ));
    }

    #[tokio::test]
    async fn the_destination_names_the_sandbox_and_the_port() {
        let listener = TelemetryListener::bind(
            TelemetryListener::DEFAULT_ADDRESS,
            ignore::<TelemetryEvent>(),
        )
        .await
        .unwrap();
        assert_ne!(listener.port(), 0);
        assert!(listener.local_addr().ip().is_unspecified());
        assert_eq!(listener.protocol(), Protocol::Http);
        assert_eq!(
            listener.destination_uri(),
            format!("http://sandbox.localdomain:{}/telemetry", listener.port())
        );
        assert!(format!("{listener:?}").contains("sandbox.localdomain"));

        let logs =
            TelemetryListener::bind(TelemetryListener::DEFAULT_ADDRESS, ignore::<LogsEvent>())
                .await
                .unwrap();
        assert_eq!(
            logs.destination_uri(),
            format!("http://sandbox.localdomain:{}/logs", logs.port())
        );

        for tcp in [
            TelemetryListener::bind_tcp(
                TelemetryListener::DEFAULT_ADDRESS,
                ignore::<TelemetryEvent>(),
            )
            .await
            .unwrap(),
            TelemetryListener::bind_tcp(TelemetryListener::DEFAULT_ADDRESS, ignore::<LogsEvent>())
                .await
                .unwrap(),
        ] {
            assert_eq!(tcp.protocol(), Protocol::Tcp);
            assert_eq!(
                tcp.destination_uri(),
                format!("tcp://sandbox.localdomain:{}", tcp.port())
            );
        }
    }

    #[tokio::test]
    async fn a_busy_address_is_a_bind_error() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = taken.local_addr().unwrap();
        for protocol in [Protocol::Http, Protocol::Tcp] {
            let error = TelemetryListener::start(protocol, address, ignore::<TelemetryEvent>())
                .await
                .unwrap_err();
            assert!(
                matches!(error, Error::Bind { address: a, .. } if a == address),
                "{error}"
            );
        }
    }
}
