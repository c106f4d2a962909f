//! What a handler's result becomes before it is posted: [`FunctionResponse`], produced by
//! [`IntoFunctionResponse`].

use bytes::Bytes;
use serde::Serialize;

use crate::diagnostic::Diagnostic;

/// The error type of a result that cannot be serialized.
pub const MARSHAL_ERROR: &str = "Runtime.MarshalError";

/// A handler's result, ready to post to `/response`.
///
/// Only buffered responses exist today; a streamed response (posted with
/// `Lambda-Runtime-Function-Response-Mode: streaming`) is the variant to add.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FunctionResponse {
    /// The whole body, already serialized.
    Buffered(Bytes),
}

/// Turns a handler's success value into a [`FunctionResponse`].
///
/// Implemented for every `Serialize` type (serialized as JSON). A value that fails to serialize
/// becomes a `Runtime.MarshalError` function error.
pub trait IntoFunctionResponse {
    /// Serializes the value.
    fn into_function_response(self) -> Result<FunctionResponse, Diagnostic>;
}

impl<T: Serialize> IntoFunctionResponse for T {
    fn into_function_response(self) -> Result<FunctionResponse, Diagnostic> {
        serde_json::to_vec(&self)
            .map(|body| FunctionResponse::Buffered(Bytes::from(body)))
            .map_err(|e| {
                Diagnostic::new(
                    MARSHAL_ERROR,
                    format!("the function's result cannot be serialized to JSON: {e}"),
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn serializes_json() {
        assert_eq!(
            serde_json::json!({"a": 1}).into_function_response(),
            Ok(FunctionResponse::Buffered(Bytes::from_static(
                br#"{"a":1}"#
            )))
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
}
