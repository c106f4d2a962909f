//! The [`TelemetryListener`]: the HTTP server a Telemetry API subscription's batches are POSTed
//! to. It answers each batch at once and hands it, decoded, to a handler running in a task of
//! its own, one batch at a time.

use std::{
    convert::Infallible,
    fmt,
    net::{IpAddr, Ipv4Addr, SocketAddr},
    time::Duration,
};

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::{body::Incoming, server::conn::http1};
use hyper_util::rt::TokioIo;
use tokio::{net::TcpListener, sync::mpsc, task::JoinSet};
use tower::{Service, ServiceExt};

use crate::{telemetry::parse_batch, BoxError, Error, TelemetryEvent};

/// The path batches are POSTed to (any path is accepted).
const PATH: &str = "/telemetry";
/// Lambda's name for the execution environment's own address.
const SANDBOX_HOST: &str = "sandbox.localdomain";
/// The largest batch read: Lambda's are about `maxBytes` (at most 1 MiB) at most.
const MAX_BATCH_BYTES: usize = 8 * 1024 * 1024;
/// Batches received but not handled yet; beyond them, answering waits for the handler.
const QUEUED_BATCHES: usize = 64;
/// The pause after a failed `accept` (out of file descriptors, ...), so as not to spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// An HTTP server for telemetry batches: each `POST` of a JSON array of records is answered
/// `200` at once (unless 64 batches already wait for the handler) and handed, as a
/// `Vec<`[`TelemetryEvent`]`>`, to a handler (any [`tower::Service`]), batch after batch in the
/// order they came. A body that is not a batch is answered `400` and logged; a handler error is
/// logged.
///
/// The server stops when the listener is dropped; batches already answered are still handed to
/// the handler.
///
/// [`Extension::telemetry`](crate::Extension::telemetry) starts one and subscribes it; with the
/// low-level client:
///
/// ```no_run
/// use firebox_extensions::{
///     service_fn, BoxError, Buffering, ExtensionClient, TelemetryEvent, TelemetryListener,
///     TelemetryType,
/// };
///
/// # async fn example(mut client: ExtensionClient) -> Result<(), firebox_extensions::Error> {
/// let listener = TelemetryListener::bind(
///     TelemetryListener::DEFAULT_ADDRESS,
///     service_fn(|batch: Vec<TelemetryEvent>| async move {
///         eprintln!("{} records", batch.len());
///         Ok::<(), BoxError>(())
///     }),
/// )
/// .await?;
/// client
///     .subscribe_telemetry(&[TelemetryType::Platform], Buffering::default(), listener.destination_uri())
///     .await?;
/// # Ok(())
/// # }
/// ```
pub struct TelemetryListener {
    local_addr: SocketAddr,
    destination_uri: String,
    server: tokio::task::JoinHandle<()>,
}

impl fmt::Debug for TelemetryListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TelemetryListener")
            .field("local_addr", &self.local_addr)
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

    /// Listens on `address` (port `0` for one the system picks) and hands every batch received
    /// to `handler`; [`Error::Bind`] when the address cannot be listened on. Must be called
    /// inside a Tokio runtime.
    pub async fn bind<S>(address: SocketAddr, handler: S) -> Result<Self, Error>
    where
        S: Service<Vec<TelemetryEvent>, Response = ()> + Send + 'static,
        S::Error: Into<BoxError>,
        S::Future: Send + 'static,
    {
        let bind_error = |source| Error::Bind { address, source };
        let listener = TcpListener::bind(address).await.map_err(bind_error)?;
        let local_addr = listener.local_addr().map_err(bind_error)?;
        let (batches, queued) = mpsc::channel(QUEUED_BATCHES);
        tokio::spawn(handle_batches(handler, queued));
        let server = tokio::spawn(serve(listener, batches));
        tracing::debug!(%local_addr, "listening for telemetry");
        Ok(TelemetryListener {
            local_addr,
            destination_uri: format!("http://{SANDBOX_HOST}:{}{PATH}", local_addr.port()),
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

    /// The address to subscribe with: `http://sandbox.localdomain:<port>/telemetry`.
    pub fn destination_uri(&self) -> &str {
        &self.destination_uri
    }
}

/// Accepts connections until aborted (which also ends the connections, held in a `JoinSet`).
async fn serve(listener: TcpListener, batches: mpsc::Sender<Vec<TelemetryEvent>>) {
    let mut connections = JoinSet::new();
    loop {
        let accepted = listener.accept().await;
        while connections.try_join_next().is_some() {}
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(error) => {
                tracing::warn!(%error, "cannot accept a telemetry connection");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        let batches = batches.clone();
        connections.spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let batches = batches.clone();
                async move { Ok::<_, Infallible>(receive(req, &batches).await) }
            });
            if let Err(error) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(%error, "telemetry connection failed");
            }
        });
    }
}

/// Reads one request: a batch is queued for the handler and answered `200`.
async fn receive(
    req: Request<Incoming>,
    batches: &mpsc::Sender<Vec<TelemetryEvent>>,
) -> Response<Full<Bytes>> {
    if req.method() != Method::POST {
        return answer(
            StatusCode::METHOD_NOT_ALLOWED,
            "telemetry batches are POSTed",
        );
    }
    let body = match Limited::new(req.into_body(), MAX_BATCH_BYTES)
        .collect()
        .await
    {
        Ok(body) => body.to_bytes(),
        Err(error) if error.is::<LengthLimitError>() => {
            tracing::warn!(
                limit = MAX_BATCH_BYTES,
                "a telemetry batch is too large; refused"
            );
            return answer(StatusCode::PAYLOAD_TOO_LARGE, "the batch is too large");
        }
        Err(error) => {
            tracing::debug!(%error, "a telemetry batch could not be read");
            return answer(StatusCode::BAD_REQUEST, "the batch could not be read");
        }
    };
    let batch = match parse_batch(&body) {
        Ok(batch) => batch,
        Err(message) => {
            let excerpt = String::from_utf8_lossy(&body[..body.len().min(256)]).into_owned();
            tracing::warn!(%message, body = %excerpt, "a telemetry batch is not a JSON array of records; refused");
            return answer(
                StatusCode::BAD_REQUEST,
                format!("not a batch of telemetry records: {message}"),
            );
        }
    };
    if batch.is_empty() {
        return answer(StatusCode::OK, "OK");
    }
    match batches.send(batch).await {
        Ok(()) => answer(StatusCode::OK, "OK"),
        Err(_) => answer(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the telemetry handler has stopped",
        ),
    }
}

fn answer(status: StatusCode, text: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(text.into()));
    *response.status_mut() = status;
    response
}

/// Hands the queued batches to `handler`, one at a time, until the server is gone and the
/// queue is empty, or the handler cannot take any more.
async fn handle_batches<S>(mut handler: S, mut batches: mpsc::Receiver<Vec<TelemetryEvent>>)
where
    S: Service<Vec<TelemetryEvent>, Response = ()>,
    S::Error: Into<BoxError>,
{
    while let Some(batch) = batches.recv().await {
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Compile-time check: a listener can be started from a spawned task.
    #[allow(dead_code)]
    fn bind_is_send() {
        fn send<T: Send>(_: T) {}
        send(TelemetryListener::bind(
            TelemetryListener::DEFAULT_ADDRESS,
            tower::service_fn(|_: Vec<TelemetryEvent>| async { Ok::<(), BoxError>(()) }),
        ));
    }

    #[tokio::test]
    async fn the_destination_names_the_sandbox_and_the_port() {
        let listener = TelemetryListener::bind(
            TelemetryListener::DEFAULT_ADDRESS,
            tower::service_fn(|_: Vec<TelemetryEvent>| async { Ok::<(), BoxError>(()) }),
        )
        .await
        .unwrap();
        assert_ne!(listener.port(), 0);
        assert!(listener.local_addr().ip().is_unspecified());
        assert_eq!(
            listener.destination_uri(),
            format!("http://sandbox.localdomain:{}/telemetry", listener.port())
        );
        assert!(format!("{listener:?}").contains("sandbox.localdomain"));
    }

    #[tokio::test]
    async fn a_busy_address_is_a_bind_error() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = taken.local_addr().unwrap();
        let error = TelemetryListener::bind(
            address,
            tower::service_fn(|_: Vec<TelemetryEvent>| async { Ok::<(), BoxError>(()) }),
        )
        .await
        .unwrap_err();
        assert!(
            matches!(error, Error::Bind { address: a, .. } if a == address),
            "{error}"
        );
    }
}
