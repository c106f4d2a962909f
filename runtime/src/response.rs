//! What a handler's result becomes before it is posted: [`ResponseBody`], produced by
//! [`IntoFunctionResponse`] from a `Serialize` value, a [`StreamResponse`] or a
//! [`FunctionResponse`] (either of the two, chosen per invocation).

use bytes::Bytes;
use futures_util::Stream;
use serde::Serialize;

use crate::{
    diagnostic::Diagnostic,
    streaming::{ResponseStream, StreamResponse},
};

/// The error type of a result that cannot be serialized.
pub const MARSHAL_ERROR: &str = "Runtime.MarshalError";

/// A handler's result, ready to post to `/response`.
#[derive(Debug)]
#[non_exhaustive]
pub enum ResponseBody {
    /// The whole body, already serialized.
    Buffered(Bytes),
    /// A streamed body, posted with `Lambda-Runtime-Function-Response-Mode: streaming`.
    Streaming(ResponseStream),
}

/// A result that is buffered for some invocations and streamed for others, as
/// `lambda_runtime::FunctionResponse`.
///
/// ```no_run
/// use firebox_runtime::{streaming::{channel, Body}, Error, FunctionResponse, LambdaEvent, StreamResponse};
/// use serde_json::{json, Value};
///
/// async fn handler(event: LambdaEvent<Value>) -> Result<FunctionResponse<Value, Body>, Error> {
///     if event.payload["stream"] == json!(true) {
///         let (mut tx, rx) = channel();
///         tokio::spawn(async move { let _ = tx.send("streamed").await; });
///         Ok(FunctionResponse::StreamingResponse(StreamResponse::from(rx)))
///     } else {
///         Ok(FunctionResponse::BufferedResponse(json!({"buffered": true})))
///     }
/// }
/// ```
#[derive(Debug)]
pub enum FunctionResponse<B, S> {
    /// A value serialized as JSON and posted in one piece (up to 6 MB on Lambda).
    BufferedResponse(B),
    /// A stream, posted chunk by chunk as it is produced (up to 200 MiB on Lambda).
    StreamingResponse(StreamResponse<S>),
}

/// Turns a handler's success value into a [`ResponseBody`].
///
/// Implemented for every `Serialize` type (serialized as JSON; a value that fails to serialize
/// becomes a `Runtime.MarshalError` function error), for [`StreamResponse`] over a `Send`
/// stream of `Result<impl Into<Bytes>, impl Into<Error>>`, and for [`FunctionResponse`].
///
/// Unlike `lambda_runtime::IntoFunctionResponse<B, S>`, the trait has no type parameters, so
/// handlers returning any of these need no annotations.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a function's response",
    label = "not a function response",
    note = "a response is a `Serialize` value, a `FunctionResponse`, or a `StreamResponse` over a stream of `Result<impl Into<Bytes>, impl Into<Error>>` that is `Send + 'static` (a stream holding an `Rc` or a borrowed value is not)"
)]
pub trait IntoFunctionResponse {
    /// Prepares the value for posting.
    fn into_function_response(self) -> Result<ResponseBody, Diagnostic>;
}

impl<T: Serialize> IntoFunctionResponse for T {
    fn into_function_response(self) -> Result<ResponseBody, Diagnostic> {
        serde_json::to_vec(&self)
            .map(|body| ResponseBody::Buffered(Bytes::from(body)))
            .map_err(|e| {
                Diagnostic::new(
                    MARSHAL_ERROR,
                    format!("the function's result cannot be serialized to JSON: {e}"),
                )
            })
    }
}

impl<S, D, E> IntoFunctionResponse for StreamResponse<S>
where
    S: Stream<Item = Result<D, E>> + Send + 'static,
    D: Into<Bytes>,
    E: Into<crate::Error>,
{
    fn into_function_response(self) -> Result<ResponseBody, Diagnostic> {
        ResponseStream::new(self).map(ResponseBody::Streaming)
    }
}

impl<B, S, D, E> IntoFunctionResponse for FunctionResponse<B, S>
where
    B: Serialize,
    S: Stream<Item = Result<D, E>> + Send + 'static,
    D: Into<Bytes>,
    E: Into<crate::Error>,
{
    fn into_function_response(self) -> Result<ResponseBody, Diagnostic> {
        match self {
            FunctionResponse::BufferedResponse(value) => value.into_function_response(),
            FunctionResponse::StreamingResponse(stream) => stream.into_function_response(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn buffered(r: Result<ResponseBody, Diagnostic>) -> Bytes {
        match r {
            Ok(ResponseBody::Buffered(b)) => b,
            other => panic!("not buffered: {other:?}"),
        }
    }

    #[test]
    fn serializes_json() {
        assert_eq!(
            buffered(serde_json::json!({"a": 1}).into_function_response()),
            Bytes::from_static(br#"{"a":1}"#)
        );
    }

    #[test]
    fn unserializable_is_marshal_error() {
        let mut map = HashMap::new();
        map.insert((1u8, 2u8), 3u8);
        let err = map.into_function_response().unwrap_err();
        assert_eq!(err.error_type, MARSHAL_ERROR);
        assert!(
            err.error_message.contains("key must be a string"),
            "{}",
            err.error_message
        );
    }

    #[test]
    fn function_response_picks_its_mode() {
        type Chunks = futures_util::stream::Iter<std::vec::IntoIter<Result<Bytes, crate::Error>>>;
        let b: FunctionResponse<u8, Chunks> = FunctionResponse::BufferedResponse(7);
        assert_eq!(
            buffered(b.into_function_response()),
            Bytes::from_static(b"7")
        );
        let s: FunctionResponse<u8, Chunks> = FunctionResponse::StreamingResponse(
            StreamResponse::from(futures_util::stream::iter(vec![])),
        );
        assert!(matches!(
            s.into_function_response(),
            Ok(ResponseBody::Streaming(_))
        ));
    }
}
