//! [`IntoResponse`]: what a service may answer with, awaitable as in `lambda_http`
//! (`x.into_response().await`) and convertible at once with
//! [`IntoResponse::into_http_response`].

use std::future::{ready, Ready};

use ::http::{header::CONTENT_TYPE, HeaderValue, Response, StatusCode};

use super::body::Body;
use crate::Error;

/// The future [`IntoResponse::into_response`] returns: already complete, so awaiting it costs
/// nothing and allocates nothing.
pub type ResponseFuture<B> = Ready<Response<B>>;

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
/// Without a `Content-Type`, the body goes back as text when it is UTF-8 and as base64
/// otherwise (see [`LambdaResponse`](super::LambdaResponse)); API Gateway and function URLs then
/// answer with their default type (`application/json`).
///
/// The body's error type must convert into [`Error`], so a handler returning
/// `Result<impl IntoResponse, Error>` can be run as it is. Bodies must be `Send`.
///
/// ```
/// use firebox_runtime::http::{Body, IntoResponse, Response, StatusCode};
///
/// # async fn doc() {
/// // As written for `lambda_http`:
/// let response: Response<Body> = format!("Hello, {}!", "Ada").into_response().await;
/// assert_eq!(response.body(), &Body::Text("Hello, Ada!".into()));
///
/// // Or without awaiting:
/// let created = (StatusCode::CREATED, "made").into_http_response();
/// assert_eq!(created.status(), StatusCode::CREATED);
/// # }
/// ```
pub trait IntoResponse {
    /// The response body type.
    type Body: http_body::Body<Error: Into<Error>> + Send;

    /// Converts the value into a response, right away.
    fn into_http_response(self) -> Response<Self::Body>;

    /// Converts the value into a response, as a future to `.await`, the way `lambda_http`'s
    /// `IntoResponse::into_response` is used. The future is already complete.
    fn into_response(self) -> ResponseFuture<Self::Body>
    where
        Self: Sized,
    {
        ready(self.into_http_response())
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

impl IntoResponse for String {
    type Body = Body;

    fn into_http_response(self) -> Response<Body> {
        Response::new(Body::Text(self))
    }
}

impl IntoResponse for &str {
    type Body = Body;

    fn into_http_response(self) -> Response<Body> {
        Response::new(Body::from(self))
    }
}

impl IntoResponse for Vec<u8> {
    type Body = Body;

    fn into_http_response(self) -> Response<Body> {
        Response::new(Body::Binary(self))
    }
}

impl IntoResponse for &[u8] {
    type Body = Body;

    fn into_http_response(self) -> Response<Body> {
        Response::new(Body::from(self))
    }
}

impl IntoResponse for serde_json::Value {
    type Body = Body;

    fn into_http_response(self) -> Response<Body> {
        let mut response = Response::new(Body::Text(self.to_string()));
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        response
    }
}

impl<T: IntoResponse> IntoResponse for (StatusCode, T) {
    type Body = T::Body;

    fn into_http_response(self) -> Response<T::Body> {
        let (status, value) = self;
        let mut response = value.into_http_response();
        *response.status_mut() = status;
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parts<T: IntoResponse<Body = Body>>(value: T) -> (StatusCode, Option<String>, Body) {
        let response = value.into_http_response();
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .map(|v| v.to_str().unwrap_or_default().to_owned());
        (response.status(), content_type, response.into_body())
    }

    #[test]
    fn values_convert_as_in_lambda_http() {
        let ok = StatusCode::OK;
        let text = |s: &str| Body::Text(s.into());
        assert_eq!(parts("a"), (ok, None, text("a")));
        assert_eq!(parts(String::from("b")), (ok, None, text("b")));
        assert_eq!(parts(vec![1u8]), (ok, None, Body::Binary(vec![1])));
        assert_eq!(parts(&[2u8][..]), (ok, None, Body::Binary(vec![2])));
        let json_type = Some("application/json".to_owned());
        assert_eq!(
            parts(json!({"a": 1})),
            (ok, json_type.clone(), text(r#"{"a":1}"#))
        );
        let created = StatusCode::CREATED;
        assert_eq!(parts((created, "c")), (created, None, text("c")));
        assert_eq!(
            parts((created, String::from("d"))),
            (created, None, text("d"))
        );
        assert_eq!(
            parts((created, vec![3u8])),
            (created, None, Body::Binary(vec![3]))
        );
        assert_eq!(
            parts((created, &[4u8][..])),
            (created, None, Body::Binary(vec![4]))
        );
        assert_eq!(
            parts((created, json!(null))),
            (created, json_type, text("null"))
        );
    }

    #[tokio::test]
    async fn into_response_is_awaitable_and_ready() {
        let response = "x".into_response().await;
        assert_eq!(response.body(), &Body::Text("x".into()));
    }
}
