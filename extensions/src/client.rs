//! The low-level [`ExtensionClient`]: one call per Extensions API operation, over one kept-alive
//! HTTP/1.1 connection (reopened when it drops).

use std::{fmt, time::Duration};

use bytes::Bytes;
use http::{response::Parts, Request, Response};
use http_body_util::BodyExt;
use hyper::{body::Incoming, client::conn::http1};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::{
    events::{parse_event, parse_registration},
    requests::{ErrorReport, RequestBody, Requests, SubscriptionApi, EVENT_IDENTIFIER, IDENTIFIER},
    ApiError, Buffering, Endpoint, Error, EventType, NextEvent, Registration, TelemetryType,
};

/// Connection attempts before giving up on an unreachable API.
const CONNECT_ATTEMPTS: u32 = 5;
/// The pause after the first failed connection attempt; it doubles after each further one.
const FIRST_BACKOFF: Duration = Duration::from_millis(50);

/// A client for the Extensions API: register once, then wait for events with
/// [`next_event`](Self::next_event) until `SHUTDOWN` (or an error), reporting failures with
/// [`init_error`](Self::init_error) or [`exit_error`](Self::exit_error).
///
/// Calling `next_event` is also how an extension says it is done with the previous event: Lambda
/// does not reuse the environment for the next invocation until every extension subscribed to
/// `INVOKE` has called it again.
///
/// The client connects lazily, on its first call, and keeps its connection. `next_event` is a
/// long poll and is never timed out.
///
/// ```no_run
/// use firebox_extensions::{Event, EventType, ExtensionClient};
///
/// # async fn example() -> Result<(), firebox_extensions::Error> {
/// let mut client = ExtensionClient::from_env()?;
/// let name = firebox_extensions::executable_name().unwrap_or_default();
/// let registration = client
///     .register(&name, &[EventType::Invoke, EventType::Shutdown], false)
///     .await?;
/// println!("extension of {}", registration.function_name);
/// loop {
///     match client.next_event().await?.event {
///         Event::Invoke(invoke) => println!("invocation {}", invoke.request_id),
///         Event::Shutdown(_) => return Ok(()),
///     }
/// }
/// # }
/// ```
pub struct ExtensionClient {
    endpoint: Endpoint,
    requests: Requests,
    extension_id: Option<String>,
    sender: Option<http1::SendRequest<RequestBody>>,
}

impl fmt::Debug for ExtensionClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExtensionClient")
            .field("endpoint", &self.endpoint.to_string())
            .field("extension_id", &self.extension_id)
            .field("connected", &self.sender.is_some())
            .finish()
    }
}

impl ExtensionClient {
    /// A client for the Extensions API at `endpoint`.
    pub fn new(endpoint: Endpoint) -> Result<Self, Error> {
        let requests = Requests::new(&endpoint)?;
        Ok(ExtensionClient {
            endpoint,
            requests,
            extension_id: None,
            sender: None,
        })
    }

    /// A client for the Extensions API named by `AWS_LAMBDA_RUNTIME_API`.
    pub fn from_env() -> Result<Self, Error> {
        Self::new(Endpoint::from_env()?)
    }

    /// A client for an extension already registered (by another client), under the
    /// identifier `extension_id` that registration answered.
    pub fn with_extension_id(
        endpoint: Endpoint,
        extension_id: impl Into<String>,
    ) -> Result<Self, Error> {
        let mut client = Self::new(endpoint)?;
        client.extension_id = Some(extension_id.into());
        Ok(client)
    }

    /// The address this client talks to.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The identifier registration answered (`Lambda-Extension-Identifier`), once registered.
    pub fn extension_id(&self) -> Option<&str> {
        self.extension_id.as_deref()
    }

    /// `POST /extension/register`: registers the extension `name`, subscribed to `events`.
    ///
    /// An external extension must register under its executable's file name (see
    /// [`executable_name`](crate::executable_name)), during the environment's Init phase; an
    /// internal extension may pick any name, must also register during Init (before the
    /// runtime's first `/runtime/invocation/next`), and cannot subscribe to
    /// [`EventType::Shutdown`] (Lambda answers `403 Extension.InvalidEventType`). With
    /// `accept_account_id`, the answer includes the function's account id.
    ///
    /// The identifier answered is kept for the calls that follow.
    pub async fn register(
        &mut self,
        name: &str,
        events: &[EventType],
        accept_account_id: bool,
    ) -> Result<Registration, Error> {
        let req = self.requests.register(name, events, accept_account_id)?;
        let path = req.uri().path().to_owned();
        let (parts, body) = self.exchange(req).await?;
        let extension_id = parts
            .headers
            .get(IDENTIFIER)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| Error::MissingHeader {
                path: path.clone(),
                header: "Lambda-Extension-Identifier",
            })?
            .to_owned();
        let answer = parse_registration(&body)
            .map_err(|message| Error::invalid_body(&path, "registration", message, &body))?;
        tracing::debug!(name, %extension_id, ?events, "extension registered");
        self.extension_id = Some(extension_id.clone());
        Ok(Registration {
            extension_id,
            function_name: answer.function_name,
            function_version: answer.function_version,
            handler: answer.handler,
            account_id: answer.account_id,
        })
    }

    /// `GET /extension/event/next`: says the extension is done with the previous event, then
    /// waits (without a timeout) for the next one.
    pub async fn next_event(&mut self) -> Result<NextEvent, Error> {
        let req = self.requests.next(self.registered_id()?)?;
        let path = req.uri().path().to_owned();
        let (parts, body) = self.exchange(req).await?;
        let event_id = parts
            .headers
            .get(EVENT_IDENTIFIER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let event = parse_event(&body)
            .map_err(|message| Error::invalid_body(&path, "event", message, &body))?;
        tracing::debug!(event = %event.event_type(), ?event_id, "extension event received");
        Ok(NextEvent { event_id, event })
    }

    /// `PUT /2022-07-01/telemetry` (the Telemetry API, schema `2022-12-13`): subscribes the
    /// extension to the records of `types`, which Lambda then sends in batches (as `buffering`
    /// says) to `destination_uri`, an address the extension listens on. Its scheme is the
    /// protocol: `http://sandbox.localdomain:4243/telemetry` has each batch POSTed as a JSON
    /// array, `tcp://sandbox.localdomain:4244` (a host and a port, no path) has the records
    /// written to a TCP connection, one per line. `sandbox.localdomain` is the execution
    /// environment's own address.
    ///
    /// Subscribe after registering and before the first [`next_event`](Self::next_event) (during
    /// Init), so as to get Init's records too. The destination is checked before anything is
    /// sent ([`Error::InvalidDestination`]); Lambda answers `400 ValidationError` for a request
    /// it refuses and `403` for an unknown identifier. [`TelemetryListener`](crate::TelemetryListener)
    /// is a ready-made destination, of either protocol.
    pub async fn subscribe_telemetry(
        &mut self,
        types: &[TelemetryType],
        buffering: Buffering,
        destination_uri: &str,
    ) -> Result<(), Error> {
        self.subscribe(
            SubscriptionApi::Telemetry,
            types,
            buffering,
            destination_uri,
        )
        .await
    }

    /// `PUT /2020-08-15/logs` (the older Logs API, schema `2021-03-18`): like
    /// [`subscribe_telemetry`](Self::subscribe_telemetry), for the Logs API's records
    /// ([`LogsEvent`](crate::LogsEvent)s). Lambda refuses an extension that subscribes to both
    /// APIs: subscribe to one.
    pub async fn subscribe_logs(
        &mut self,
        types: &[TelemetryType],
        buffering: Buffering,
        destination_uri: &str,
    ) -> Result<(), Error> {
        self.subscribe(SubscriptionApi::Logs, types, buffering, destination_uri)
            .await
    }

    async fn subscribe(
        &mut self,
        api: SubscriptionApi,
        types: &[TelemetryType],
        buffering: Buffering,
        destination_uri: &str,
    ) -> Result<(), Error> {
        let req = self.requests.subscribe(
            api,
            self.registered_id()?,
            types,
            &buffering,
            destination_uri,
        )?;
        self.exchange(req).await?;
        tracing::debug!(?api, ?types, destination_uri, "subscribed");
        Ok(())
    }

    /// `POST /extension/init/error`: reports that the extension failed to initialize, with an
    /// error type such as `Extension.ConfigError` (sent in `Lambda-Extension-Function-Error-Type`
    /// and in the error document). The extension should exit afterwards.
    pub async fn init_error(&mut self, error_type: &str, message: &str) -> Result<(), Error> {
        self.report(ErrorReport::Init, error_type, message).await
    }

    /// `POST /extension/exit/error`: reports that the extension is exiting because of an error.
    /// The extension should exit afterwards.
    pub async fn exit_error(&mut self, error_type: &str, message: &str) -> Result<(), Error> {
        self.report(ErrorReport::Exit, error_type, message).await
    }

    async fn report(
        &mut self,
        report: ErrorReport,
        error_type: &str,
        message: &str,
    ) -> Result<(), Error> {
        let req = self
            .requests
            .error(report, self.registered_id()?, error_type, message)?;
        self.exchange(req).await?;
        Ok(())
    }

    fn registered_id(&self) -> Result<&str, Error> {
        self.extension_id.as_deref().ok_or(Error::NotRegistered)
    }

    /// Sends `req` and reads the whole answer; a non-2xx answer is an [`ApiError`].
    async fn exchange(&mut self, req: Request<RequestBody>) -> Result<(Parts, Bytes), Error> {
        let method = req.method().clone();
        let path = req.uri().path().to_owned();
        let response = self.send(req).await?;
        let (parts, body) = response.into_parts();
        let body = body
            .collect()
            .await
            .map_err(|source| Error::Http {
                path: path.clone(),
                source,
            })?
            .to_bytes();
        if parts.status.is_success() {
            Ok((parts, body))
        } else {
            Err(ApiError::from_answer(method, &path, parts.status, &body).into())
        }
    }

    /// Sends `req` on the kept-alive connection, connecting as needed. A request that failed
    /// on a reused connection (the server may have closed it while idle), or that never left,
    /// is sent once more on a new connection.
    async fn send(&mut self, req: Request<RequestBody>) -> Result<Response<Incoming>, Error> {
        let path = req.uri().path().to_owned();
        let again = copy(&req);
        let (sender, reused) = self.connection(&path).await?;
        let error = match sender.try_send_request(req).await {
            Ok(response) => return Ok(response),
            Err(error) => error,
        };
        self.sender = None;
        let mut error = error;
        let retry = match error.take_message() {
            Some(unsent) => Some(unsent),
            None if reused => Some(again),
            None => None,
        };
        let Some(retry) = retry else {
            return Err(Error::Http {
                path,
                source: error.into_error(),
            });
        };
        tracing::debug!(error = %error.error(), %path, "Extensions API request failed; sending it again on a new connection");
        let (sender, _) = self.connection(&path).await?;
        let result = sender.send_request(retry).await;
        if result.is_err() {
            self.sender = None;
        }
        result.map_err(|source| Error::Http { path, source })
    }

    /// The open connection (and `true`), or a new one (and `false`).
    async fn connection(
        &mut self,
        path: &str,
    ) -> Result<(&mut http1::SendRequest<RequestBody>, bool), Error> {
        if self.sender.as_ref().is_some_and(|s| s.is_closed()) {
            self.sender = None;
        }
        let (mut sender, reused) = match self.sender.take() {
            Some(sender) => (sender, true),
            None => (self.connect(path).await?, false),
        };
        sender.ready().await.map_err(|source| Error::Http {
            path: path.to_owned(),
            source,
        })?;
        Ok((self.sender.insert(sender), reused))
    }

    /// Opens a connection, retrying with back-off while the address refuses it.
    async fn connect(&self, path: &str) -> Result<http1::SendRequest<RequestBody>, Error> {
        let mut backoff = FIRST_BACKOFF;
        let mut attempt = 1;
        let stream = loop {
            match TcpStream::connect((self.endpoint.host(), self.endpoint.port())).await {
                Ok(stream) => break stream,
                Err(source) if attempt >= CONNECT_ATTEMPTS => {
                    return Err(Error::Connect {
                        endpoint: self.endpoint.to_string(),
                        attempts: attempt,
                        source,
                    })
                }
                Err(error) => {
                    tracing::debug!(attempt, %error, "cannot connect to the Extensions API; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff *= 2;
                    attempt += 1;
                }
            }
        };
        // Small request/response exchanges: do not wait to fill packets.
        let _ = stream.set_nodelay(true);
        let (sender, connection) =
            http1::handshake(TokioIo::new(stream))
                .await
                .map_err(|source| Error::Http {
                    path: path.to_owned(),
                    source,
                })?;
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "Extensions API connection closed");
            }
        });
        Ok(sender)
    }
}

/// A copy of `req`, to send again.
fn copy(req: &Request<RequestBody>) -> Request<RequestBody> {
    let mut again = Request::new(req.body().clone());
    *again.method_mut() = req.method().clone();
    *again.uri_mut() = req.uri().clone();
    *again.version_mut() = req.version();
    *again.headers_mut() = req.headers().clone();
    again
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Compile-time check: an internal extension's client can move into a spawned task.
    #[allow(dead_code)]
    fn futures_are_send(client: &mut ExtensionClient) {
        fn send<T: Send>(_: T) {}
        send(client.next_event());
        send(client.register("x", &[], false));
        send(client.exit_error("t", "m"));
        send(client.subscribe_telemetry(&[], Buffering::default(), "http://127.0.0.1:1"));
        send(client.subscribe_logs(&[], Buffering::default(), "tcp://127.0.0.1:1"));
    }

    #[tokio::test]
    async fn calls_before_registration_are_refused() {
        let mut client = ExtensionClient::new(Endpoint::parse("127.0.0.1:1").unwrap()).unwrap();
        assert!(matches!(
            client.next_event().await,
            Err(Error::NotRegistered)
        ));
        assert!(matches!(
            client.init_error("Extension.X", "m").await,
            Err(Error::NotRegistered)
        ));
        assert!(matches!(
            client
                .subscribe_telemetry(
                    &[TelemetryType::Platform],
                    Buffering::default(),
                    "http://127.0.0.1:1"
                )
                .await,
            Err(Error::NotRegistered)
        ));
        assert!(matches!(
            client
                .subscribe_logs(
                    &[TelemetryType::Platform],
                    Buffering::default(),
                    "tcp://127.0.0.1:1"
                )
                .await,
            Err(Error::NotRegistered)
        ));
        assert_eq!(client.extension_id(), None);
        let client =
            ExtensionClient::with_extension_id(Endpoint::parse("127.0.0.1:1").unwrap(), "id")
                .unwrap();
        assert_eq!(client.extension_id(), Some("id"));
        assert!(format!("{client:?}").contains("\"id\""));
    }

    #[tokio::test]
    async fn an_unreachable_api_is_a_connect_error() {
        // Bind then drop a listener: its port refuses connections.
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let mut client =
            ExtensionClient::new(Endpoint::parse(&format!("127.0.0.1:{port}")).unwrap()).unwrap();
        let error = client
            .register("x", &[EventType::Invoke], false)
            .await
            .unwrap_err();
        assert!(
            matches!(error, Error::Connect { attempts, .. } if attempts == CONNECT_ATTEMPTS),
            "{error}"
        );
    }
}
