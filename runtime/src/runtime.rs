//! The runtime: start-up (configuration, logging, init errors), the invocation loop (one, or N
//! side by side under `AWS_LAMBDA_MAX_CONCURRENCY`), and [`Runtime`], the builder that ties a
//! handler service to them.

use std::{future::Future, panic::AssertUnwindSafe, sync::Arc};

use futures_util::FutureExt;
use serde::de::DeserializeOwned;
use tower::{Layer, Service};
use tracing::Instrument;

use crate::{
    client::{ApiError, PostOutcome, RuntimeApiClient},
    config::{ConfigLoadError, RuntimeConfig},
    context::{self, LambdaEvent},
    diagnostic::Diagnostic,
    invocation::{self, Codec},
    logging,
    response::{IntoFunctionResponse, ResponseBody},
};

/// The error type of a start-up configuration problem posted to `/runtime/init/error`.
pub const INVALID_ENVIRONMENT: &str = "Runtime.InvalidEnvironment";

/// Why the runtime stopped. Every variant ends the process (with a non-zero status when
/// `main` returns it).
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The environment is missing or malformed (reported to `/runtime/init/error` when the
    /// Runtime API address is known).
    #[error("cannot start: {0}")]
    Config(#[from] ConfigLoadError),
    /// Initialization failed and was reported to `/runtime/init/error`.
    #[error("initialization failed: {0}")]
    Init(Diagnostic),
    /// The Runtime API failed or asked the runtime to exit.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// One of the concurrent invocation loops panicked outside a handler (a bug in the runtime
    /// or in a tower layer); the other loops were left to finish.
    #[error("an invocation loop panicked: {0}")]
    LoopPanicked(String),
}

/// A handler service plus the runtime that feeds it, mirroring `lambda_runtime::Runtime`.
///
/// ```no_run
/// use firebox_runtime::{service_fn, Error, LambdaEvent, Runtime};
/// use serde_json::Value;
///
/// # async fn doc() -> Result<(), Error> {
/// Runtime::new(service_fn(|event: LambdaEvent<Value>| async move { Ok::<_, Error>(event.payload) }))
///     .layer(tower::timeout::TimeoutLayer::new(std::time::Duration::from_secs(3)))
///     .run()
///     .await
/// # }
/// ```
///
/// Unlike `lambda_runtime`, layers wrap the typed handler service (`LambdaEvent<T>` in, the
/// handler's response out), so any tower layer written for `service_fn` handlers applies.
pub struct Runtime<S> {
    service: S,
    config: Option<RuntimeConfig>,
}

impl<S> Runtime<S> {
    /// A runtime for `service`. The environment is read when [`Runtime::run`] starts.
    pub fn new(service: S) -> Self {
        Runtime {
            service,
            config: None,
        }
    }

    /// Wraps the handler service in a tower layer.
    pub fn layer<L: Layer<S>>(self, layer: L) -> Runtime<L::Service> {
        Runtime {
            service: layer.layer(self.service),
            config: self.config,
        }
    }

    /// Uses this configuration instead of reading the process environment.
    pub fn with_config(mut self, config: RuntimeConfig) -> Self {
        self.config = Some(config);
        self
    }

    /// Runs the runtime: polls `/next` and answers every invocation, one at a time, until the
    /// Runtime API fails or asks the runtime to exit. Only returns with an error.
    ///
    /// When `AWS_LAMBDA_MAX_CONCURRENCY` is above 1 (Lambda Managed Instances), this fails
    /// during Init with `Runtime.InvalidEnvironment`: use [`Runtime::run_concurrent`].
    pub async fn run<A, R>(self) -> Result<(), crate::Error>
    where
        S: Service<LambdaEvent<A>, Response = R>,
        S::Error: Into<Diagnostic>,
        A: DeserializeOwned,
        R: IntoFunctionResponse,
    {
        let started = start(self.config).await?;
        Ok(serve(started, self.service, Codec::new(), SingleLoop::Run).await?)
    }

    /// Like [`Runtime::run`], but when `AWS_LAMBDA_MAX_CONCURRENCY=N` is above 1, serves up to
    /// N invocations at once: N loops, each with its own connection and its own clone of the
    /// service, spawned as tokio tasks. Without the variable (or with 1) it is the same single
    /// loop as [`Runtime::run`].
    pub async fn run_concurrent<A, R>(self) -> Result<(), crate::Error>
    where
        S: Service<LambdaEvent<A>, Response = R> + Clone + Send + 'static,
        S::Future: Send,
        S::Error: Into<Diagnostic> + Send,
        A: DeserializeOwned + Send + 'static,
        R: IntoFunctionResponse + Send + 'static,
    {
        let started = start(self.config).await?;
        Ok(serve_concurrent(started, self.service, Codec::new()).await?)
    }
}

/// Runs `init` once during Init, then serves invocations with the service `make_service`
/// builds from its result. An `init` error or panic is posted to `/runtime/init/error` and
/// returned. Serves one invocation at a time, as [`Runtime::run`].
pub async fn run_with_init<St, IE, InitFut, Mk, S, A, R>(
    config: Option<RuntimeConfig>,
    init: impl FnOnce() -> InitFut,
    make_service: Mk,
) -> Result<(), crate::Error>
where
    InitFut: Future<Output = Result<St, IE>>,
    IE: Into<Diagnostic>,
    Mk: FnOnce(Arc<St>) -> S,
    S: Service<LambdaEvent<A>, Response = R>,
    S::Error: Into<Diagnostic>,
    A: DeserializeOwned,
    R: IntoFunctionResponse,
{
    let (started, service) = initialize(config, init, make_service).await?;
    Ok(serve(started, service, Codec::new(), SingleLoop::Run).await?)
}

/// [`run_with_init`] for a shareable service: serves up to `AWS_LAMBDA_MAX_CONCURRENCY`
/// invocations at once, as [`Runtime::run_concurrent`].
pub async fn run_with_init_concurrent<St, IE, InitFut, Mk, S, A, R>(
    config: Option<RuntimeConfig>,
    init: impl FnOnce() -> InitFut,
    make_service: Mk,
) -> Result<(), crate::Error>
where
    InitFut: Future<Output = Result<St, IE>>,
    IE: Into<Diagnostic>,
    Mk: FnOnce(Arc<St>) -> S,
    S: Service<LambdaEvent<A>, Response = R> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: Into<Diagnostic> + Send,
    A: DeserializeOwned + Send + 'static,
    R: IntoFunctionResponse + Send + 'static,
{
    let (started, service) = initialize(config, init, make_service).await?;
    Ok(serve_concurrent(started, service, Codec::new()).await?)
}

/// Start-up plus `init`: the runtime and the service, or the init failure (already posted).
pub(crate) async fn initialize<St, IE, InitFut, Mk, S>(
    config: Option<RuntimeConfig>,
    init: impl FnOnce() -> InitFut,
    make_service: Mk,
) -> Result<(Started, S), RuntimeError>
where
    InitFut: Future<Output = Result<St, IE>>,
    IE: Into<Diagnostic>,
    Mk: FnOnce(Arc<St>) -> S,
{
    let mut started = start(config).await?;
    let outcome = match std::panic::catch_unwind(AssertUnwindSafe(init)) {
        Ok(future) => AssertUnwindSafe(future).catch_unwind().await,
        Err(panic) => Err(panic),
    };
    let diagnostic = match outcome {
        Ok(Ok(state)) => return Ok((started, make_service(Arc::new(state)))),
        Ok(Err(error)) => error.into(),
        Err(panic) => Diagnostic::from_panic(&*panic),
    };
    Err(fail_init(&mut started.client, diagnostic).await)
}

/// A runtime past configuration: its config and its Runtime API client.
pub(crate) struct Started {
    config: RuntimeConfig,
    client: RuntimeApiClient,
}

/// Loads the configuration (reporting problems to `/init/error` when possible) and sets up
/// logging.
pub(crate) async fn start(config: Option<RuntimeConfig>) -> Result<Started, RuntimeError> {
    let config = match config.map_or_else(RuntimeConfig::from_env, Ok) {
        Ok(config) => config,
        Err(error) => {
            logging::init_subscriber(Default::default(), "info");
            if let Some(endpoint) = error.endpoint.clone() {
                let diagnostic = Diagnostic::new(INVALID_ENVIRONMENT, error.error.to_string());
                if let Ok(mut client) = RuntimeApiClient::new(endpoint, Default::default()) {
                    fail_init(&mut client, diagnostic).await;
                }
            }
            tracing::error!("{error}");
            return Err(error.into());
        }
    };
    logging::init_subscriber(config.log_format, &config.log_filter);
    let client = RuntimeApiClient::new(config.endpoint.clone(), config.retry)?;
    Ok(Started { config, client })
}

/// Posts an init error and returns it as a [`RuntimeError`].
async fn fail_init(client: &mut RuntimeApiClient, diagnostic: Diagnostic) -> RuntimeError {
    tracing::error!(
        errorType = %diagnostic.error_type,
        "initialization failed: {}",
        diagnostic.error_message
    );
    match client.post_init_error(&diagnostic).await {
        Ok(PostOutcome::Accepted) => {}
        Ok(PostOutcome::Rejected { status, body }) => {
            tracing::error!(%status, %body, "the Runtime API refused the init error");
        }
        Err(error) => tracing::error!(%error, "cannot report the init error"),
    }
    RuntimeError::Init(diagnostic)
}

/// Why a runtime serves with one loop, for the Init error when `AWS_LAMBDA_MAX_CONCURRENCY`
/// asks for more.
#[derive(Clone, Copy)]
pub(crate) enum SingleLoop {
    /// Started with `run`, `Runtime::run` or `run_with_init`.
    Run,
    /// A `#[handler]` whose future or `init` state is not `Send`.
    Handler,
}

/// Serves with one loop. Refuses `AWS_LAMBDA_MAX_CONCURRENCY` above 1, which this service
/// cannot honour (it is not known to be `Clone + Send`).
pub(crate) async fn serve<S, A, R>(
    mut started: Started,
    service: S,
    codec: Codec<A, R>,
    why: SingleLoop,
) -> Result<(), RuntimeError>
where
    S: Service<LambdaEvent<A>, Response = R>,
    S::Error: Into<Diagnostic>,
{
    if let Some(n) = started.config.max_concurrency.filter(|n| *n > 1) {
        let remedy = match why {
            SingleLoop::Run => {
                "it was started to serve one at a time: start it with `run_concurrent` (or \
                 `Runtime::run_concurrent`), whose handler must be `Clone + Send + 'static` with \
                 a `Send` future"
            }
            SingleLoop::Handler => {
                "its #[handler] serves one at a time because the handler's future is not `Send` \
                 (or its `init` state is not `Send + Sync`): make them so to serve several at once"
            }
        };
        let diagnostic = Diagnostic::new(
            INVALID_ENVIRONMENT,
            format!(
                "AWS_LAMBDA_MAX_CONCURRENCY={n} asks this function to serve {n} invocations at \
                 once, but {remedy}"
            ),
        );
        return Err(fail_init(&mut started.client, diagnostic).await);
    }
    let Started { config, client } = started;
    serve_loop(config, client, service, codec).await
}

/// Serves with `AWS_LAMBDA_MAX_CONCURRENCY` loops (one when unset), each a tokio task with
/// its own connection and its own clone of the service. A loop ends only when the Runtime API
/// fails; the others go on with their invocations, and the first error is returned once all
/// have ended.
pub(crate) async fn serve_concurrent<S, A, R>(
    started: Started,
    service: S,
    codec: Codec<A, R>,
) -> Result<(), RuntimeError>
where
    S: Service<LambdaEvent<A>, Response = R> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: Into<Diagnostic> + Send,
    A: Send + 'static,
    R: Send + 'static,
{
    let Started { config, client } = started;
    let n = config.max_concurrency.unwrap_or(1);
    if n <= 1 {
        return serve_loop(config, client, service, codec).await;
    }
    tracing::debug!(max_concurrency = n, "serving up to {n} invocations at once");
    let mut loops = tokio::task::JoinSet::new();
    for i in 1..n {
        let client = RuntimeApiClient::new(config.endpoint.clone(), config.retry)?;
        loops.spawn(serve_loop(config.clone(), client, service.clone(), codec));
        tracing::trace!(invocation_loop = i, "started");
    }
    loops.spawn(serve_loop(config, client, service, codec));
    let mut first_error = None;
    while let Some(joined) = loops.join_next().await {
        let error = match joined {
            Ok(Ok(())) => continue,
            Ok(Err(error)) => error,
            Err(join_error) => RuntimeError::LoopPanicked(join_error.to_string()),
        };
        tracing::error!(remaining = loops.len(), %error, "an invocation loop stopped");
        first_error.get_or_insert(error);
    }
    match first_error {
        Some(error) => Err(error),
        None => Ok(()),
    }
}

/// The invocation loop: `/next`, handle, post; until the Runtime API fails. Owns its client
/// and service, so several loops run side by side under multi-concurrency.
async fn serve_loop<S, A, R>(
    config: RuntimeConfig,
    mut client: RuntimeApiClient,
    mut service: S,
    codec: Codec<A, R>,
) -> Result<(), RuntimeError>
where
    S: Service<LambdaEvent<A>, Response = R>,
    S::Error: Into<Diagnostic>,
{
    tracing::debug!(endpoint = %client.endpoint(), "polling the Runtime API");
    loop {
        let (parts, body) = client.next_invocation().await.map_err(|error| {
            tracing::error!(%error, "the runtime stops");
            error
        })?;
        let request_id = match context::request_id(&parts.headers) {
            Ok(id) => id.to_owned(),
            Err(error) => {
                tracing::error!(%error, "cannot answer an invocation without a request id; skipping it");
                continue;
            }
        };
        let span = match parts
            .headers
            .get(context::TRACE_ID)
            .and_then(|v| v.to_str().ok())
        {
            Some(trace) => {
                tracing::info_span!("Lambda runtime invoke", requestId = %request_id, xrayTraceId = %trace)
            }
            None => tracing::info_span!("Lambda runtime invoke", requestId = %request_id),
        };
        let outcome = invocation::invoke(
            &mut service,
            codec,
            &request_id,
            &config.function,
            &parts.headers,
            &body,
        )
        .instrument(span.clone())
        .await;
        let post = async {
            match outcome {
                Ok(ResponseBody::Buffered(bytes)) => client.post_response(&request_id, bytes).await,
                Ok(ResponseBody::Streaming(stream)) => {
                    client
                        .post_streaming_response(&request_id, stream, span.clone())
                        .await
                }
                Err(diagnostic) => {
                    tracing::error!(
                        errorType = %diagnostic.error_type,
                        "{}",
                        diagnostic.error_message
                    );
                    client.post_error(&request_id, &diagnostic).await
                }
            }
        }
        .instrument(span.clone())
        .await;
        match post {
            Ok(PostOutcome::Accepted) => {}
            Ok(PostOutcome::Rejected { status, body }) => {
                let _enter = span.enter();
                tracing::error!(%status, %body, "the Runtime API refused the result; continuing");
            }
            Err(ApiError::InvalidRequestId(id)) => {
                let _enter = span.enter();
                tracing::error!(request_id = %id, "cannot post a result for this request id; continuing");
            }
            Err(error) => {
                tracing::error!(%error, "the runtime stops");
                return Err(error.into());
            }
        }
    }
}
