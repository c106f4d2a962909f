//! [`Adapter`]: an HTTP service as a Lambda handler with buffered responses, and
//! [`AdapterFuture`], one invocation of it (call the service, collect the body, write the
//! event's response format) without boxing or requiring a `'static` service future.

use std::{
    future::Future,
    pin::Pin,
    task::{ready, Context as TaskContext, Poll},
};

use bytes::BytesMut;
use http::{HeaderMap, StatusCode};
use pin_project_lite::pin_project;
use tower::Service;

use super::{
    collect::poll_collect, convert::Options, EventFormat, IntoResponse, LambdaRequest,
    LambdaResponse, Request,
};
use crate::{Diagnostic, LambdaEvent};

/// A tower service that turns an HTTP service into a Lambda handler: it takes
/// [`LambdaEvent<LambdaRequest>`] and answers [`LambdaResponse`]. [`run`](super::run) uses it;
/// use it directly to add runtime layers or options:
///
/// ```no_run
/// # use firebox_runtime::{http::{Adapter, Request, Body, Response}, Runtime, Error, service_fn};
/// # async fn doc() -> Result<(), Error> {
/// let app = service_fn(|_req: Request| async { Ok::<_, Error>(Response::new(Body::from("hi"))) });
/// Runtime::new(Adapter::new(app).strip_stage_prefix(true)).run().await
/// # }
/// ```
///
/// `Adapter::from(service)` works too, as with `lambda_http::Adapter`. The service's future
/// may borrow (a closure capturing `&client` from `main`); it need not be `Send` unless the
/// adapter runs under [`run_concurrent`](super::run_concurrent).
///
/// **The request.** Every request carries the invocation's [`Context`](crate::Context) and the
/// event's [`RequestContext`](super::RequestContext) as extensions
/// ([`RequestExt`](super::RequestExt) reads them), and its `X-Amzn-Trace-Id` header is the
/// invocation's trace id (`Context::xray_trace_id`), replacing the event's, as with
/// `lambda_http`.
///
/// **The request URI.** It is absolute when the event names a host (`https://host/path?query`,
/// the scheme from `X-Forwarded-Proto`). Paths that arrive decoded are percent-encoded, while
/// `%XX` escapes that are already there are kept (so `/a%2Fb` stays one segment). Query strings
/// come from `rawQueryString` (HTTP API, function URLs), from the decoded
/// `multiValueQueryStringParameters`/`queryStringParameters` (REST), or from the ALB's
/// parameters, which it passes on as the client encoded them.
///
/// **The stage prefix.** API Gateway REST events give `path` without the stage (`/hello`),
/// while the client asked for `/prod/hello`; HTTP API events give `rawPath` with it
/// (`/prod/hello`) unless the stage is `$default`. By default, as in `lambda_http`, the URI
/// path includes the stage in both cases (`/prod/hello`): it is the path the client requested on
/// the `execute-api` endpoint. With `strip_stage_prefix(true)` the stage is left out in both
/// cases (`/hello`), which suits routes written without it and custom domains. When the
/// environment variable `AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH` is set (to anything) as the
/// adapter is made, the stage is not added and each event's path is used as it comes (REST's
/// `/hello`, HTTP API's `/prod/hello`), as `lambda_http` does for every request it builds.
/// ALB and function URL events have no stage. [`RequestExt::raw_http_path`](super::RequestExt::raw_http_path)
/// always gives the event's own path.
#[derive(Debug, Clone)]
pub struct Adapter<S> {
    pub(crate) service: S,
    pub(crate) options: Options,
}

impl<S> Adapter<S> {
    /// An adapter for `service`. It keeps the stage prefix in paths unless
    /// `AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH` is set.
    pub fn new(service: S) -> Self {
        Adapter {
            service,
            options: Options::from_env(),
        }
    }

    /// Whether to remove the API Gateway stage from request paths of both kinds of event
    /// (`true`), or to include it in both (`false`). Without a call: included, or, when
    /// `AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH` is set, each event's path as it comes (as in
    /// `lambda_http`).
    pub fn strip_stage_prefix(mut self, strip: bool) -> Self {
        self.options.stage = if strip {
            super::convert::StagePath::Stripped
        } else {
            super::convert::StagePath::Included
        };
        self
    }

    /// Builds the service's request for `event`, or the `Runtime.UnmarshalError` it is.
    pub(crate) fn request(&self, event: LambdaEvent<LambdaRequest>) -> Result<Request, Diagnostic> {
        let LambdaEvent { payload, context } = event;
        payload.into_http(self.options, Some(context))
    }
}

impl<S> From<S> for Adapter<S> {
    /// An adapter for `service`, as [`Adapter::new`].
    fn from(service: S) -> Self {
        Adapter::new(service)
    }
}

impl<S, R> Service<LambdaEvent<LambdaRequest>> for Adapter<S>
where
    S: Service<Request, Response = R>,
    S::Error: Into<Diagnostic>,
    R: IntoResponse,
{
    type Response = LambdaResponse;
    type Error = Diagnostic;
    type Future = AdapterFuture<S::Future, R>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Diagnostic>> {
        self.service.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, event: LambdaEvent<LambdaRequest>) -> Self::Future {
        let format = event.payload.format();
        let multi_value = event.payload.uses_multi_value_headers();
        let state = match self.request(event) {
            Ok(request) => State::Calling {
                future: self.service.call(request),
            },
            Err(diagnostic) => State::Failed {
                diagnostic: Some(diagnostic),
            },
        };
        AdapterFuture {
            format,
            multi_value,
            state,
        }
    }
}

pin_project! {
    /// Where an [`AdapterFuture`] is.
    #[project = StateProjection]
    enum State<F, B> {
        /// The event was not a usable request; the error is taken when polled.
        Failed { diagnostic: Option<Diagnostic> },
        /// The service is answering.
        Calling { #[pin] future: F },
        /// The service answered; its body is being read.
        Collecting {
            status: StatusCode,
            headers: HeaderMap,
            #[pin]
            body: B,
            bytes: BytesMut,
        },
        /// The output was returned.
        Done,
    }
}

pin_project! {
    /// The future of one invocation through an [`Adapter`]: runs the service's future `F`,
    /// converts its answer `R` with [`IntoResponse`], reads the whole body and resolves to the
    /// [`LambdaResponse`] for the event's format. A service error or a body error resolves to
    /// the function error it converts to.
    pub struct AdapterFuture<F, R: IntoResponse> {
        format: EventFormat,
        multi_value: bool,
        #[pin]
        state: State<F, R::Body>,
    }
}

impl<F, R, E> Future for AdapterFuture<F, R>
where
    F: Future<Output = Result<R, E>>,
    E: Into<Diagnostic>,
    R: IntoResponse,
{
    type Output = Result<LambdaResponse, Diagnostic>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProjection::Failed { diagnostic } => {
                    let diagnostic = diagnostic.take().unwrap_or_else(polled_after_completion);
                    this.state.set(State::Done);
                    return Poll::Ready(Err(diagnostic));
                }
                StateProjection::Calling { future } => {
                    let response = match ready!(future.poll(cx)) {
                        Ok(response) => response.into_http_response(),
                        Err(error) => {
                            this.state.set(State::Done);
                            return Poll::Ready(Err(error.into()));
                        }
                    };
                    let (parts, body) = response.into_parts();
                    this.state.set(State::Collecting {
                        status: parts.status,
                        headers: parts.headers,
                        body,
                        bytes: BytesMut::new(),
                    });
                }
                StateProjection::Collecting {
                    status,
                    headers,
                    body,
                    bytes,
                } => {
                    let output = match ready!(poll_collect(body, bytes, cx)) {
                        Ok(()) => LambdaResponse::new(
                            *this.format,
                            *this.multi_value,
                            *status,
                            headers,
                            bytes,
                        ),
                        Err(error) => Err(Diagnostic::from(error.into())),
                    };
                    this.state.set(State::Done);
                    return Poll::Ready(output);
                }
                StateProjection::Done => {
                    return Poll::Ready(Err(polled_after_completion()));
                }
            }
        }
    }
}

/// The error for a future polled again after it returned its output (a bug in the caller; the
/// runtime never does it).
pub(crate) fn polled_after_completion() -> Diagnostic {
    Diagnostic::new(
        "Runtime.AdapterError",
        "the HTTP adapter's future was polled after it had completed",
    )
}
