//! Extension traits for requests, laid out as `lambda_http::ext`: [`RequestExt`] (the event's
//! extras and the Lambda context, in [`extensions`]) and [`RequestPayloadExt`] (the body
//! deserialized, in [`request`]).

pub mod extensions;
pub mod request;

pub use self::extensions::RequestExt;
pub use self::request::{
    FormUrlEncodedPayloadError, JsonPayloadError, PayloadError, RequestPayloadExt,
};
