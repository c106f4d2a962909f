//! [`IntoResponse`]: what a service may answer with. As in `lambda_http`,
//! `x.into_response().await` gives an `http::Response<Body>` (the body read into a [`Body`]);
//! [`IntoResponse::into_http_response`] converts at once and keeps the body type, which is what
//! the adapters use (and what lets streamed bodies stream).

use std::{
    future::Future,
    pin::Pin,
    task::{ready, Context, Poll},
};

use ::http::{header::CONTENT_TYPE, response::Parts, HeaderValue, Response, StatusCode};
use bytes::BytesMut;
use pin_project_lite::pin_project;

use super::{body::Body, collect::poll_collect, lambda_response::is_binary};
use crate::Error;

/// A value a service can answer with.
///
/// Implemented, with the content types `lambda_http` gives them, for:
///
/// | value | status | body | `Content-Type` |
/// |---|---|---|---|
/// | `http::Response<B>` for any [`http_body::Body`] `B` | its own | `B` | its own |
/// | `String`, `&str` | 200 | [`Body::Text`] | none |
/// | `Vec<u8>`, `&[u8]` | 200 | [`Body::Binary`] | none |
/// | `serde_json::Value` | 200 | [`Body::Text`] | `application/json` |
/// | `(StatusCode, T)` for any `T` above | the given one | as for `T` | as for `T` |
///
/// Without a `Content-Type`, the adapter sends the body back as text when it is UTF-8 and as
/// base64 otherwise (see [`LambdaResponse`](super::LambdaResponse)); API Gateway and function
/// URLs then answer with their default type (`application/json`).
///
/// The body's error type must convert into [`Error`], so a handler returning
/// `Result<impl IntoResponse, Error>` can be run as it is; bodies must be `Send`.
///
/// ```
/// use firebox_runtime::http::{Body, IntoResponse, Response, StatusCode};
///
/// # async fn doc() {
/// // As written for `lambda_http`:
/// let response: Response<Body> = format!("Hello, {}!", "Ada").into_response().await;
/// assert_eq!(response.body(), &Body::Text("Hello, Ada!".into()));
///
/// // Without awaiting, keeping the body type:
/// let created = (StatusCode::CREATED, "made").into_http_response();
/// assert_eq!(created.status(), StatusCode::CREATED);
/// # }
/// ```
pub trait IntoResponse {
    /// The response body type.
    type Body: http_body::Body<Error: Into<Error>> + Send;

    /// Converts the value into a response right away, keeping its body type.
    fn into_http_response(self) -> Response<Self::Body>;

    /// Converts the value into an `http::Response<Body>`, as `lambda_http`'s
    /// `IntoResponse::into_response` does: a future to `.await` that reads the whole body into
    /// a [`Body`] ([`Body::Binary`] when the headers or bytes say binary, as for
    /// [`LambdaResponse`](super::LambdaResponse); [`Body::Text`] otherwise). For the values
    /// whose body already is a [`Body`] (`String`, `Vec<u8>`, `serde_json::Value`...), the
    /// future is ready at once and keeps it as it is.
    ///
    /// If the body fails while it is read, the response is a bodyless
    /// `500 Internal Server Error` and the error is logged (`lambda_http` panics).
    fn into_response(self) -> ResponseFuture<Self::Body>
    where
        Self: Sized,
    {
        ResponseFuture::collect(self.into_http_response())
    }
}

pin_project! {
    /// The future [`IntoResponse::into_response`] returns; resolves to an
    /// `http::Response<Body>`. It does not allocate beyond the body's bytes.
    pub struct ResponseFuture<B> {
        #[pin]
        state: State<B>,
    }
}

pin_project! {
    #[project = StateProjection]
    enum State<B> {
        /// The response, already with a [`Body`]; taken when polled.
        Ready { response: Option<Response<Body>> },
        /// The head, and the body being read.
        Collecting {
            parts: Option<Parts>,
            #[pin]
            body: B,
            bytes: BytesMut,
        },
    }
}

impl<B> ResponseFuture<B> {
    /// A future that resolves to `response` as it is.
    pub fn ready(response: Response<Body>) -> Self {
        ResponseFuture {
            state: State::Ready {
                response: Some(response),
            },
        }
    }

    /// A future that reads `response`'s body into a [`Body`].
    pub fn collect(response: Response<B>) -> Self {
        let (parts, body) = response.into_parts();
        ResponseFuture {
            state: State::Collecting {
                parts: Some(parts),
                body,
                bytes: BytesMut::new(),
            },
        }
    }
}

/// The response a future polled after completion gives (a bug in the caller).
fn completed() -> Response<Body> {
    let mut response = Response::new(Body::Empty);
    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    response
}

impl<B> Future for ResponseFuture<B>
where
    B: http_body::Body<Error: Into<Error>>,
{
    type Output = Response<Body>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Response<Body>> {
        match self.project().state.project() {
            StateProjection::Ready { response } => {
                Poll::Ready(response.take().unwrap_or_else(completed))
            }
            StateProjection::Collecting { parts, body, bytes } => {
                let result = ready!(poll_collect(body, bytes, cx));
                let Some(parts) = parts.take() else {
                    return Poll::Ready(completed());
                };
                if let Err(error) = result {
                    let error: Error = error.into();
                    tracing::error!(%error, "the response body failed while it was read");
                    return Poll::Ready(completed());
                }
                let bytes = std::mem::take(bytes);
                let body = if bytes.is_empty() {
                    Body::Empty
                } else if is_binary(&parts.headers, &bytes) {
                    Body::Binary(bytes.into())
                } else {
                    match String::from_utf8(bytes.into()) {
                        Ok(text) => Body::Text(text),
                        // `is_binary` is true for bytes that are not UTF-8.
                        Err(e) => Body::Binary(e.into_bytes()),
                    }
                };
                Poll::Ready(Response::from_parts(parts, body))
            }
        }
    }
}

impl<B> IntoResponse for Response<B>
where
    B: http_body::Body<Error: Into<Error>> + Send,
{
    type Body = B;

    fn into_http_response(self) -> Response<B> {
        self
    }
}

/// Implements [`IntoResponse`] for a value whose response body is a [`Body`], with a future
/// that is ready at once.
macro_rules! body_response {
    ($($ty:ty => |$value:ident| $make:expr;)*) => {$(
        impl IntoResponse for $ty {
            type Body = Body;

            fn into_http_response(self) -> Response<Body> {
                let $value = self;
                $make
            }

            fn into_response(self) -> ResponseFuture<Body> {
                ResponseFuture::ready(self.into_http_response())
            }
        }
    )*};
}

body_response! {
    String => |text| Response::new(Body::Text(text));
    &str => |text| Response::new(Body::from(text));
    Vec<u8> => |bytes| Response::new(Body::Binary(bytes));
    &[u8] => |bytes| Response::new(Body::from(bytes));
    serde_json::Value => |value| {
        let mut response = Response::new(Body::Text(value.to_string()));
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        response
    };
}

impl<T: IntoResponse> IntoResponse for (StatusCode, T) {
    type Body = T::Body;

    fn into_http_response(self) -> Response<T::Body> {
        let (status, value) = self;
        let mut response = value.into_http_response();
        *response.status_mut() = status;
        response
    }

    fn into_response(self) -> ResponseFuture<T::Body> {
        let (status, value) = self;
        let mut future = value.into_response();
        future.set_status(status);
        future
    }
}

impl<B> ResponseFuture<B> {
    /// Replaces the status of the response the future will give.
    fn set_status(&mut self, status: StatusCode) {
        match &mut self.state {
            State::Ready {
                response: Some(response),
            } => *response.status_mut() = status,
            State::Collecting {
                parts: Some(parts), ..
            } => parts.status = status,
            State::Ready { response: None } | State::Collecting { parts: None, .. } => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    async fn parts<T: IntoResponse>(value: T) -> (StatusCode, Option<String>, Body) {
        let response = value.into_response().await;
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .map(|v| v.to_str().unwrap_or_default().to_owned());
        (response.status(), content_type, response.into_body())
    }

    #[tokio::test]
    async fn values_convert_as_in_lambda_http() {
        let ok = StatusCode::OK;
        let text = |s: &str| Body::Text(s.into());
        assert_eq!(parts("a").await, (ok, None, text("a")));
        assert_eq!(parts(String::from("b")).await, (ok, None, text("b")));
        assert_eq!(parts(vec![1u8]).await, (ok, None, Body::Binary(vec![1])));
        assert_eq!(parts(&[2u8][..]).await, (ok, None, Body::Binary(vec![2])));
        let json_type = Some("application/json".to_owned());
        assert_eq!(
            parts(json!({"a": 1})).await,
            (ok, json_type.clone(), text(r#"{"a":1}"#))
        );
        let created = StatusCode::CREATED;
        assert_eq!(parts((created, "c")).await, (created, None, text("c")));
        assert_eq!(
            parts((created, vec![3u8])).await,
            (created, None, Body::Binary(vec![3]))
        );
        assert_eq!(
            parts((created, json!(null))).await,
            (created, json_type, text("null"))
        );
        let sync = (created, "d").into_http_response();
        assert_eq!((sync.status(), sync.body()), (created, &text("d")));
    }

    #[tokio::test]
    async fn other_bodies_are_read_into_a_body() {
        let png = Response::builder()
            .header(CONTENT_TYPE, "image/png")
            .body(String::from("PNG"))
            .unwrap();
        assert_eq!(parts(png).await.2, Body::Binary(b"PNG".to_vec()));
        let text = Response::new(http_body_util::Full::new(bytes::Bytes::from("hi")));
        assert_eq!(
            parts((StatusCode::ACCEPTED, text)).await,
            (StatusCode::ACCEPTED, None, Body::Text("hi".into()))
        );
        let empty = Response::new(http_body_util::Empty::<bytes::Bytes>::new());
        assert_eq!(parts(empty).await.2, Body::Empty);
    }

    #[tokio::test]
    async fn a_failing_body_gives_a_500() {
        #[derive(Debug, thiserror::Error)]
        #[error("broken")]
        struct Broken;
        let frames = futures_util::stream::iter(vec![
            Ok(http_body::Frame::data(bytes::Bytes::from_static(b"part"))),
            Err(Broken),
        ]);
        let response = Response::new(http_body_util::StreamBody::new(frames));
        assert_eq!(
            parts(response).await,
            (StatusCode::INTERNAL_SERVER_ERROR, None, Body::Empty)
        );
    }
}
