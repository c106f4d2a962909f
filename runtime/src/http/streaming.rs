//! HTTP streaming responses (function URLs with invoke mode `RESPONSE_STREAM`): the service's
//! `http::Response` goes out as a [`StreamResponse`] whose [`MetadataPrelude`] carries the
//! status, headers and cookies, and whose chunks are the body's data frames as the service
//! produces them.

use std::{
    future::Future,
    pin::Pin,
    task::{Context as TaskContext, Poll},
};

use bytes::Bytes;
use http_body_util::{BodyDataStream, BodyExt};
use tower::Service;

use super::{Adapter, IntoResponse, LambdaRequest, Request};
use crate::{Diagnostic, Error, LambdaEvent, MetadataPrelude, StreamResponse};

/// Runs `service` as a Lambda function whose HTTP responses are streamed, as
/// `lambda_http::run_with_streaming_response` does: the status, headers and cookies are sent
/// first (the metadata prelude), then the body's bytes as the body yields them, so a client of a
/// function URL in `RESPONSE_STREAM` mode receives them while the function is still running.
///
/// The body type must be `Send + 'static` (axum's `Body` is). A body error midway ends the
/// stream with the error trailers (`Lambda-Runtime-Function-Error-Type`/`-Body`).
/// `AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH` works as for [`run`](super::run).
pub async fn run_with_streaming_response<S, R>(service: S) -> Result<(), Error>
where
    S: Service<Request, Response = R>,
    S::Error: Into<Diagnostic>,
    S::Future: 'static,
    R: IntoResponse,
    R::Body: Send + 'static,
    <R::Body as http_body::Body>::Data: Into<Bytes> + Send,
    <R::Body as http_body::Body>::Error: Into<Error>,
{
    let strip = std::env::var_os(super::IGNORE_STAGE_IN_PATH).is_some();
    crate::run(StreamingAdapter::new(service).strip_stage_prefix(strip)).await
}

/// The streaming counterpart of [`Adapter`]: a tower service from
/// [`LambdaEvent<LambdaRequest>`] to a [`StreamResponse`] over the response body.
#[derive(Debug, Clone)]
pub struct StreamingAdapter<S> {
    inner: Adapter<S>,
}

impl<S> StreamingAdapter<S> {
    /// A streaming adapter for `service`, keeping the stage prefix in paths.
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

/// The future of one streamed invocation: resolves once the service has answered the head.
pub type StreamingFuture<B> =
    Pin<Box<dyn Future<Output = Result<StreamResponse<BodyDataStream<B>>, Diagnostic>>>>;

impl<S, R> Service<LambdaEvent<LambdaRequest>> for StreamingAdapter<S>
where
    S: Service<Request, Response = R>,
    S::Error: Into<Diagnostic>,
    S::Future: 'static,
    R: IntoResponse,
    R::Body: 'static,
{
    type Response = StreamResponse<BodyDataStream<R::Body>>;
    type Error = Diagnostic;
    type Future = StreamingFuture<R::Body>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Diagnostic>> {
        self.inner.service.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, event: LambdaEvent<LambdaRequest>) -> Self::Future {
        let LambdaEvent { payload, context } = event;
        let request = match payload.into_http(self.inner.options, context) {
            Ok(request) => request,
            Err(diagnostic) => return Box::pin(std::future::ready(Err(diagnostic))),
        };
        let future = self.inner.service.call(request);
        Box::pin(async move {
            let response = future.await.map_err(Into::into)?.into_response();
            let (parts, body) = response.into_parts();
            let prelude = MetadataPrelude {
                status_code: parts.status,
                headers: parts.headers,
                cookies: Vec::new(),
            };
            Ok(StreamResponse::with_prelude(
                prelude,
                body.into_data_stream(),
            ))
        })
    }
}
