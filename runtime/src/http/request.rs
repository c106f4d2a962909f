//! Requests built from HTTP events outside the runtime, as `lambda_http::request` offers them:
//! [`from_str`] and [`from_reader`] turn an API Gateway, ALB or function URL event (a JSON
//! fixture, say) into the [`Request`] a service would get, which is the usual way to unit-test
//! a handler. [`RequestContext`] and [`LambdaRequest`] are here too.
//!
//! ```
//! use firebox_runtime::http::{request::from_str, RequestExt};
//!
//! let request = from_str(
//!     r#"{"version": "2.0", "rawPath": "/hello", "rawQueryString": "name=Ada",
//!         "headers": {"host": "api.example.com"},
//!         "requestContext": {"http": {"method": "GET"}, "stage": "$default"}}"#,
//! )
//! .unwrap();
//! assert_eq!(request.uri(), "https://api.example.com/hello?name=Ada");
//! assert_eq!(request.query_string_parameters().first("name"), Some("Ada"));
//! assert!(request.lambda_context_ref().is_none());
//! ```

use std::io::Read;

pub use super::event::{LambdaRequest, RequestContext};
use super::{convert::Options, Request};

/// Builds a request from an event read as JSON from `reader`.
///
/// The request is what the adapter would pass to the service, without a Lambda context (set
/// one with [`RequestExt::with_lambda_context`](super::RequestExt::with_lambda_context) if the
/// handler reads it) and so without the invocation's `X-Amzn-Trace-Id`. The API Gateway stage
/// is stripped from the path when `AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH` is set, as with
/// [`run`](super::run).
///
/// # Errors
/// When the JSON is not an HTTP event the adapter accepts, or its path and query do not form a
/// URI.
pub fn from_reader<R: Read>(reader: R) -> Result<Request, serde_json::Error> {
    into_request(serde_json::from_reader(reader)?)
}

/// Builds a request from an event given as a JSON string; see [`from_reader`].
///
/// # Errors
/// As [`from_reader`].
pub fn from_str(json: &str) -> Result<Request, serde_json::Error> {
    into_request(serde_json::from_str(json)?)
}

fn into_request(event: LambdaRequest) -> Result<Request, serde_json::Error> {
    event
        .into_http(Options::from_env(), None)
        .map_err(|diagnostic| serde::de::Error::custom(diagnostic.error_message))
}
