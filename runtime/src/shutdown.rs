//! Graceful shutdown (feature `graceful-shutdown`): a hook that runs when Lambda ends the
//! execution environment.
//!
//! Lambda sends the runtime `SIGTERM` before it ends an environment only when an extension is
//! registered; without one, the processes are killed at once. So
//! [`spawn_graceful_shutdown_handler`] registers an internal extension that subscribes to no
//! events (it costs one idle connection, parked in `/extension/event/next`), and spawns a task
//! that waits for `SIGTERM` or `SIGINT`, runs the hook and exits the process with status 0.
//! Lambda gives the runtime 500 ms between `SIGTERM` and `SIGKILL` when only internal
//! extensions are registered; the hook must fit in that.
//!
//! Unlike `lambda_runtime`'s function of the same name, nothing here panics: a missing
//! Runtime API address, a signal that cannot be watched or a refused registration (for
//! instance after Init, when Lambda closes registration) is a [`GracefulShutdownError`].

use std::future::Future;
use std::pin::pin;

use bytes::Bytes;
use futures_util::future::{select, Either};
use http::{HeaderValue, Method, StatusCode};
use tokio::signal::unix::{signal, Signal, SignalKind};

use crate::{
    client::{ApiError, RuntimeApiClient},
    config::{ConfigError, RetryPolicy, RuntimeApiEndpoint},
};

/// The name the extension registers under (shown in Lambda's `EXTENSION` log line).
pub const GRACEFUL_SHUTDOWN_EXTENSION: &str = "firebox-graceful-shutdown";

const REGISTER: &str = "/2020-01-01/extension/register";
const NEXT: &str = "/2020-01-01/extension/event/next";
const NAME_HEADER: &str = "lambda-extension-name";
const ID_HEADER: &str = "lambda-extension-identifier";

/// Why [`spawn_graceful_shutdown_handler`] could not set the hook up.
#[derive(Debug, thiserror::Error)]
pub enum GracefulShutdownError {
    /// `AWS_LAMBDA_RUNTIME_API` is missing or malformed: this is not a Lambda environment.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A signal listener could not be installed.
    #[error("cannot watch {signal} for the graceful shutdown hook: {source}")]
    Signal {
        /// `SIGTERM` or `SIGINT`.
        signal: &'static str,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The Extensions API could not be reached.
    #[error("cannot register the graceful shutdown extension: {0}")]
    Api(#[from] ApiError),
    /// The Extensions API refused the registration, e.g. `Extension.RegistrationClosed` when
    /// called after Init (after `run` started).
    #[error("the Extensions API refused the graceful shutdown extension with {status}: {body}")]
    Refused {
        /// The status received.
        status: StatusCode,
        /// The answer's body (Lambda's error document), as text.
        body: String,
    },
    /// The registration was accepted without a `Lambda-Extension-Identifier`.
    #[error("the Extensions API accepted the graceful shutdown extension without a Lambda-Extension-Identifier")]
    MissingIdentifier,
}

/// Runs `shutdown_hook` when Lambda shuts the execution environment down, then exits the
/// process with status 0. Call it during Init, before [`run`](crate::run).
///
/// Same name and use as `lambda_runtime::spawn_graceful_shutdown_handler`, but it returns an
/// error instead of panicking. It registers an internal extension named
/// [`GRACEFUL_SHUTDOWN_EXTENSION`] that subscribes to no events: an extension must be registered
/// for Lambda to send `SIGTERM` at shutdown. `SIGINT` runs the hook too. The hook has about
/// 500 ms before Lambda kills the process.
///
/// ```no_run
/// use firebox_runtime::{run, service_fn, spawn_graceful_shutdown_handler, Error, LambdaEvent};
/// use serde_json::Value;
///
/// #[tokio::main(flavor = "current_thread")]
/// async fn main() -> Result<(), Error> {
///     spawn_graceful_shutdown_handler(|| async {
///         eprintln!("flushing buffered metrics");
///     })
///     .await?;
///     run(service_fn(|event: LambdaEvent<Value>| async move {
///         Ok::<_, Error>(event.payload)
///     }))
///     .await
/// }
/// ```
///
/// With `#[handler]`, which writes `main`, call it from the init function, which runs during
/// Init:
///
/// ```no_run
/// use firebox_runtime::{handler, spawn_graceful_shutdown_handler, Context, Error};
/// use serde_json::Value;
///
/// struct State;
///
/// async fn init() -> Result<State, Error> {
///     spawn_graceful_shutdown_handler(|| async { eprintln!("closing connections") }).await?;
///     Ok(State)
/// }
///
/// #[handler(init = init)]
/// async fn echo(event: Value, _ctx: Context, _state: &State) -> Result<Value, Error> {
///     Ok(event)
/// }
/// ```
pub async fn spawn_graceful_shutdown_handler<Fut>(
    shutdown_hook: impl FnOnce() -> Fut + Send + 'static,
) -> Result<(), GracefulShutdownError>
where
    Fut: Future<Output = ()> + Send + 'static,
{
    let raw =
        std::env::var("AWS_LAMBDA_RUNTIME_API").map_err(|_| ConfigError::MissingRuntimeApi)?;
    spawn_for(RuntimeApiEndpoint::parse(&raw)?, shutdown_hook).await
}

/// [`spawn_graceful_shutdown_handler`] against an explicit endpoint.
async fn spawn_for<Fut>(
    endpoint: RuntimeApiEndpoint,
    shutdown_hook: impl FnOnce() -> Fut + Send + 'static,
) -> Result<(), GracefulShutdownError>
where
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut client = RuntimeApiClient::new(endpoint, RetryPolicy::default())?;
    let name = HeaderValue::from_static(GRACEFUL_SHUTDOWN_EXTENSION);
    let (parts, body) = client
        .call(
            Method::POST,
            REGISTER,
            &[(NAME_HEADER, name)],
            Some(Bytes::from_static(br#"{"events":[]}"#)),
        )
        .await?;
    if !parts.status.is_success() {
        return Err(GracefulShutdownError::Refused {
            status: parts.status,
            body: String::from_utf8_lossy(&body).into_owned(),
        });
    }
    let id = parts
        .headers
        .get(ID_HEADER)
        .cloned()
        .ok_or(GracefulShutdownError::MissingIdentifier)?;
    // Signals are watched only once registered, so that a refused registration leaves their
    // default actions alone (a SIGTERM in between kills the process, as without the hook).
    let signals = listen(SignalKind::terminate(), "SIGTERM")
        .and_then(|sigterm| Ok((sigterm, listen(SignalKind::interrupt(), "SIGINT")?)));
    let (sigterm, sigint) = match signals {
        Ok(signals) => signals,
        Err(error) => {
            // Registered, the extension must still wait in `/next`, or Init never ends.
            tokio::spawn(stay_registered(client, id));
            return Err(error);
        }
    };
    tokio::spawn(async move {
        let signal = pin!(received(sigterm, sigint));
        let registered = pin!(stay_registered(client, id));
        // `stay_registered` never returns: this is the signal.
        if let Either::Left((name, _)) = select(signal, registered).await {
            eprintln!("[runtime] {name} received");
            eprintln!("[runtime] Graceful shutdown in progress ...");
            shutdown_hook().await;
            eprintln!("[runtime] Graceful shutdown completed");
            std::process::exit(0);
        }
    });
    Ok(())
}

fn listen(kind: SignalKind, name: &'static str) -> Result<Signal, GracefulShutdownError> {
    signal(kind).map_err(|source| GracefulShutdownError::Signal {
        signal: name,
        source,
    })
}

/// The first of the two signals to arrive, by name.
async fn received(mut sigterm: Signal, mut sigint: Signal) -> &'static str {
    match select(pin!(sigterm.recv()), pin!(sigint.recv())).await {
        Either::Left(_) => "SIGTERM",
        Either::Right(_) => "SIGINT",
    }
}

/// Waits in `/extension/event/next`, as a registered extension must for Init to end, and never
/// returns. Subscribed to no events, the extension is normally never answered; if the call
/// fails (the Shutdown phase answers 500), waiting stops and the signal decides.
async fn stay_registered(mut client: RuntimeApiClient, id: HeaderValue) {
    loop {
        match client
            .call(Method::GET, NEXT, &[(ID_HEADER, id.clone())], None)
            .await
        {
            Ok((parts, _)) if parts.status.is_success() => continue,
            Ok((parts, body)) => {
                tracing::debug!(status = %parts.status, body = %String::from_utf8_lossy(&body), "the graceful shutdown extension's next event failed");
                break;
            }
            Err(error) => {
                tracing::debug!(%error, "the graceful shutdown extension's next event failed");
                break;
            }
        }
    }
    std::future::pending::<()>().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_unreachable_extensions_api_is_an_error_not_a_panic() {
        // A port nothing listens on: bind, note it, release it.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("an ephemeral port");
        let endpoint = RuntimeApiEndpoint::parse(&format!("127.0.0.1:{port}")).expect("valid");
        let error = spawn_for(endpoint, || async {}).await.unwrap_err();
        assert!(
            matches!(
                error,
                GracefulShutdownError::Api(ApiError::Unreachable { .. })
            ),
            "{error}"
        );
    }
}
