//! One invocation, from the `/next` answer to the result to post: build the [`Context`],
//! deserialize the event, call the handler (catching panics) and serialize its answer.

use std::panic::AssertUnwindSafe;

use bytes::Bytes;
use futures_util::FutureExt;
use serde::de::DeserializeOwned;
use tower::{Service, ServiceExt};

use crate::{
    config::RefConfig,
    context::{Context, LambdaEvent},
    diagnostic::Diagnostic,
    response::{IntoFunctionResponse, ResponseBody},
};

/// The error type of an event that does not deserialize into the handler's event type.
pub const UNMARSHAL_ERROR: &str = "Runtime.UnmarshalError";
/// The error type of an invocation whose `/next` headers are unusable (e.g. no deadline).
pub const INVALID_INVOCATION: &str = "Runtime.InvalidInvocation";

/// How an invocation's event is read and its answer prepared: [`deserialize`] and
/// [`IntoFunctionResponse`], as function pointers. The invocation loops take them as a value, so
/// they need no bounds on the event and response types (the `#[handler]` launch relies on it: a
/// type that does not deserialize is reported once, where the macro asks for its codec).
pub(crate) struct Codec<A, R> {
    decode: fn(&[u8]) -> Result<A, Diagnostic>,
    encode: fn(R) -> Result<ResponseBody, Diagnostic>,
}

impl<A: DeserializeOwned, R: IntoFunctionResponse> Codec<A, R> {
    /// The codec of a serde event type and a response type.
    pub(crate) fn new() -> Self {
        Codec {
            decode: deserialize::<A>,
            encode: R::into_function_response,
        }
    }
}

impl<A, R> Codec<A, R> {
    /// A codec from its two halves.
    pub(crate) fn from_parts(
        decode: fn(&[u8]) -> Result<A, Diagnostic>,
        encode: fn(R) -> Result<ResponseBody, Diagnostic>,
    ) -> Self {
        Codec { decode, encode }
    }
}

impl<A, R> Clone for Codec<A, R> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<A, R> Copy for Codec<A, R> {}

/// Runs one invocation and returns what to post: a response or a function error.
pub(crate) async fn invoke<S, A, R>(
    service: &mut S,
    codec: Codec<A, R>,
    request_id: &str,
    config: &RefConfig,
    headers: &http::HeaderMap,
    body: &Bytes,
) -> Result<ResponseBody, Diagnostic>
where
    S: Service<LambdaEvent<A>, Response = R>,
    S::Error: Into<Diagnostic>,
{
    let context = Context::new(request_id, config.clone(), headers)
        .map_err(|e| Diagnostic::new(INVALID_INVOCATION, e.to_string()))?;
    let payload: A = (codec.decode)(body)?;
    let event = LambdaEvent::new(payload, context);

    let service = service.ready().await.map_err(Into::into)?;
    // A panic can happen while the handler builds its future, or while the future runs.
    let future = std::panic::catch_unwind(AssertUnwindSafe(|| service.call(event)))
        .map_err(|panic| panic_diagnostic(&*panic))?;
    let result = AssertUnwindSafe(future)
        .catch_unwind()
        .await
        .map_err(|panic| panic_diagnostic(&*panic))?;
    (codec.encode)(result.map_err(Into::into)?)
}

/// Deserializes an event, naming the path of the field that failed.
pub(crate) fn deserialize<A: DeserializeOwned>(body: &[u8]) -> Result<A, Diagnostic> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let message = if path == "." {
            format!("the event cannot be deserialized: {inner}")
        } else {
            format!("the event cannot be deserialized at `{path}`: {inner}")
        };
        Diagnostic::new(UNMARSHAL_ERROR, message)
    })?;
    de.end().map_err(|e| {
        Diagnostic::new(
            UNMARSHAL_ERROR,
            format!("the event cannot be deserialized: {e}"),
        )
    })?;
    Ok(value)
}

fn panic_diagnostic(payload: &(dyn std::any::Any + Send)) -> Diagnostic {
    let diagnostic = Diagnostic::from_panic(payload);
    tracing::error!(panic = %diagnostic.error_message, "the handler panicked");
    diagnostic
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize, Debug)]
    #[allow(dead_code)]
    struct Order {
        items: Vec<Item>,
    }
    #[derive(Deserialize, Debug)]
    #[allow(dead_code)]
    struct Item {
        qty: u32,
    }

    #[test]
    fn unmarshal_error_names_the_field() {
        let err = deserialize::<Order>(br#"{"items":[{"qty":1},{"qty":"two"}]}"#).unwrap_err();
        assert_eq!(err.error_type, UNMARSHAL_ERROR);
        assert!(
            err.error_message.contains("`items[1].qty`"),
            "{}",
            err.error_message
        );
        let err = deserialize::<Order>(b"not json").unwrap_err();
        assert_eq!(err.error_type, UNMARSHAL_ERROR);
        let err = deserialize::<Order>(br#"{"items":[]} trailing"#).unwrap_err();
        assert_eq!(err.error_type, UNMARSHAL_ERROR);
        assert!(deserialize::<Order>(br#"{"items":[{"qty":3}]}"#).is_ok());
    }
}
