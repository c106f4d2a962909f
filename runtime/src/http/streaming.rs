//! HTTP streaming responses (function URLs with invoke mode `RESPONSE_STREAM`): the service's
//! `http::Response` goes out as a [`StreamResponse`] whose [`MetadataPrelude`] carries the
//! status, headers and cookies, and whose chunks are the body's data frames as the service
//! produces them.

use std::{
    future::Future,
    pin::Pin,
    task::{ready, Context as TaskContext, Poll},
};

use bytes::Bytes;
use http_body_util::{BodyDataStream, BodyExt};
use pin_project_lite::pin_project;
use tower::Service;

use super::{Adapter, IntoResponse, LambdaRequest, Request};
use crate::{Diagnostic, Error, LambdaEvent, MetadataPrelude, Runtime, StreamResponse};

/// Runs `service` as a Lambda function whose HTTP responses are streamed, as
/// `lambda_http::run_with_streaming_response` does: the status, headers and cookies are sent
/// first (the metadata prelude), then the body's bytes as the body yields them, so a client of a
/// function URL in `RESPONSE_STREAM` mode receives them while the function is still running.
///
/// The body type must be `Send + 'static` (axum's `Body` is). A body error midway ends the
/// stream with the error trailers (`Lambda-Runtime-Function-Error-Type`/`-Body`).
/// `AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH` works as for [`run`](super::run), and so does
/// `AWS_LAMBDA_MAX_CONCURRENCY` above 1 (an Init error: use
/// [`run_with_streaming_response_concurrent`]).
pub async fn run_with_streaming_response<S, R>(service: S) -> Result<(), Error>
where
    S: Service<Request, Response = R>,
    S::Error: Into<Diagnostic>,
    R: IntoResponse,
    R::Body: 'static,
    <R::Body as http_body::Body>::Data: Into<Bytes> + Send,
{
    streaming_runtime(service).run().await
}

/// [`run_with_streaming_response`] for a shareable service: with `AWS_LAMBDA_MAX_CONCURRENCY`
/// above 1, serves that many invocations at once, as
/// [`run_concurrent`](crate::run_concurrent) does; without it, one at a time.
///
/// `lambda_http` has it behind its `concurrency-tokio` feature; here it is always available.
pub async fn run_with_streaming_response_concurrent<S, R>(service: S) -> Result<(), Error>
where
    S: Service<Request, Response = R> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: Into<Diagnostic> + Send,
    R: IntoResponse,
    R::Body: 'static,
    <R::Body as http_body::Body>::Data: Into<Bytes> + Send,
{
    streaming_runtime_concurrent(service).run_concurrent().await
}

/// The [`Runtime`] [`run_with_streaming_response`] runs, not yet started: add layers or a
/// configuration, then call [`Runtime::run`]. As `lambda_http::streaming_runtime`.
pub fn streaming_runtime<S>(service: S) -> Runtime<StreamingAdapter<S>> {
    Runtime::new(StreamingAdapter::new(service))
}

/// [`streaming_runtime`] for a shareable service, to start with [`Runtime::run_concurrent`]
/// (`lambda_http::streaming_runtime_concurrent`). The same runtime as [`streaming_runtime`];
/// the bounds only check early that the service can be shared.
pub fn streaming_runtime_concurrent<S>(service: S) -> Runtime<StreamingAdapter<S>>
where
    S: Service<Request> + Clone + Send + 'static,
    S::Future: Send,
{
    streaming_runtime(service)
}

/// The streaming counterpart of [`Adapter`]: a tower service from
/// [`LambdaEvent<LambdaRequest>`] to a [`StreamResponse`] over the response body. Requests are
/// built as by [`Adapter`] (context extensions, `X-Amzn-Trace-Id`, stage prefix).
///
/// ```no_run
/// # use firebox_runtime::{http::{StreamAdapter, Request, Body, Response}, Runtime, Error, service_fn};
/// # async fn doc() -> Result<(), Error> {
/// let app = service_fn(|_req: Request| async { Ok::<_, Error>(Response::new(Body::from("hi"))) });
/// Runtime::new(StreamAdapter::from(app)).run().await
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct StreamingAdapter<S> {
    inner: Adapter<S>,
}

/// `lambda_http`'s name for [`StreamingAdapter`] (`StreamAdapter::from(app)`).
pub type StreamAdapter<S> = StreamingAdapter<S>;

impl<S> StreamingAdapter<S> {
    /// A streaming adapter for `service`. It keeps the stage prefix in paths unless
    /// `AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH` is set; see [`Adapter`].
    pub fn new(service: S) -> Self {
        StreamingAdapter {
            inner: Adapter::new(service),
        }
    }

    /// Whether to remove the API Gateway stage from request paths; see [`Adapter`].
    pub fn strip_stage_prefix(mut self, strip: bool) -> Self {
        self.inner = self.inner.strip_stage_prefix(strip);
        self
    }
}

impl<S> From<S> for StreamingAdapter<S> {
    /// A streaming adapter for `service`, as [`StreamingAdapter::new`].
    fn from(service: S) -> Self {
        StreamingAdapter::new(service)
    }
}

impl<S, R> Service<LambdaEvent<LambdaRequest>> for StreamingAdapter<S>
where
    S: Service<Request, Response = R>,
    S::Error: Into<Diagnostic>,
    R: IntoResponse,
{
    type Response = StreamResponse<BodyDataStream<R::Body>>;
    type Error = Diagnostic;
    type Future = StreamingFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Diagnostic>> {
        self.inner.service.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, event: LambdaEvent<LambdaRequest>) -> Self::Future {
        let state = match self.inner.request(event) {
            Ok(request) => State::Calling {
                future: self.inner.service.call(request),
            },
            Err(diagnostic) => State::Failed {
                diagnostic: Some(diagnostic),
            },
        };
        StreamingFuture { state }
    }
}

pin_project! {
    /// Where a [`StreamingFuture`] is.
    #[project = StateProjection]
    enum State<F> {
        /// The event was not a usable request; the error is taken when polled.
        Failed { diagnostic: Option<Diagnostic> },
        /// The service is answering.
        Calling { #[pin] future: F },
        /// The output was returned.
        Done,
    }
}

pin_project! {
    /// The future of one streamed invocation through a [`StreamingAdapter`]: resolves once the
    /// service's future `F` has answered the head, to a [`StreamResponse`] over the body.
    pub struct StreamingFuture<F> {
        #[pin]
        state: State<F>,
    }
}

impl<F, R, E> Future for StreamingFuture<F>
where
    F: Future<Output = Result<R, E>>,
    E: Into<Diagnostic>,
    R: IntoResponse,
{
    type Output = Result<StreamResponse<BodyDataStream<R::Body>>, Diagnostic>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let mut state = self.project().state;
        let output = match state.as_mut().project() {
            StateProjection::Failed { diagnostic } => Err(diagnostic
                .take()
                .unwrap_or_else(super::adapter::polled_after_completion)),
            StateProjection::Calling { future } => match ready!(future.poll(cx)) {
                Ok(response) => {
                    let (parts, body) = response.into_http_response().into_parts();
                    let prelude = MetadataPrelude {
                        status_code: parts.status,
                        headers: parts.headers,
                        cookies: Vec::new(),
                    };
                    Ok(StreamResponse::with_prelude(
                        prelude,
                        body.into_data_stream(),
                    ))
                }
                Err(error) => Err(error.into()),
            },
            StateProjection::Done => Err(super::adapter::polled_after_completion()),
        };
        state.set(State::Done);
        Poll::Ready(output)
    }
}
