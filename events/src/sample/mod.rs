//! Builders of realistic sample events, as AWS services send them to a function.
//!
//! Each builder renders the event as AWS does ([`to_json`](SqsSample::to_json) gives the exact
//! JSON, with AWS's field names, `null`s, header spellings and encodings) and, when the matching
//! Cargo feature is on, `build()` deserializes it into the `aws_lambda_events` type a handler
//! receives. Samples are deterministic: identifiers derive from a seed and the event time, both
//! settable (`seed`, `time_millis`).
//!
//! ```
//! use firebox_events::sample;
//!
//! let event = sample::sqs()
//!     .message("first")
//!     .message("second")
//!     .message_attribute("tenant", "acme")
//!     .build()
//!     .unwrap();
//! assert_eq!(event.records.len(), 2);
//! assert_eq!(event.records[1].body.as_deref(), Some("second"));
//!
//! let request = sample::apigw_v2()
//!     .method("POST")
//!     .path("/orders?expand=items")
//!     .cookie("session=abc")
//!     .json_body(&serde_json::json!({"sku": "A-1"}))
//!     .to_json();
//! assert_eq!(request["rawQueryString"], "expand=items");
//! assert_eq!(request["cookies"][0], "session=abc");
//! ```
//!
//! Every kind also has a stable name ([`SampleKind`]) and a default sample ([`json`]), which the
//! emulator's `firebox event <kind>` command prints.

mod alb;
mod apigw;
pub(crate) mod common;
mod dynamodb;
mod eventbridge;
mod http;
mod kind;
mod kinesis;
mod s3;
mod sns;
mod sqs;

pub use common::{Timestamp, ACCOUNT_ID, DEFAULT_TIME_MILLIS, REGION};
pub use dynamodb::DynamoDbSample;
pub use eventbridge::EventBridgeSample;
pub use http::{AlbTarget, FunctionUrl, HttpApi, HttpFormat, HttpSample, RestApi};
pub use kind::{json, SampleKind};
pub use kinesis::KinesisSample;
pub use s3::S3Sample;
pub use sns::SnsSample;
pub use sqs::SqsSample;

/// An API Gateway REST API proxy-integration request (payload format 1.0).
pub type ApiGatewayV1Sample = HttpSample<RestApi>;
/// An API Gateway HTTP API request (payload format 2.0).
pub type ApiGatewayV2Sample = HttpSample<HttpApi>;
/// An Application Load Balancer target-group request.
pub type AlbSample = HttpSample<AlbTarget>;
/// A Lambda function URL request.
pub type FunctionUrlSample = HttpSample<FunctionUrl>;

/// Why a sample could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SampleError {
    /// A kind name that [`SampleKind`] does not know.
    #[error("unknown event kind `{name}`; known kinds: {known}")]
    UnknownKind {
        /// The name given.
        name: String,
        /// The known names, comma-separated.
        known: String,
    },
    /// A builder input that AWS could never send (an invalid header name, for instance).
    #[error("invalid {kind} sample: {message}")]
    Invalid {
        /// The kind being built.
        kind: SampleKind,
        /// What is wrong.
        message: String,
    },
    /// The rendered event does not deserialize into its `aws_lambda_events` type.
    #[error("the {kind} sample does not deserialize into its event type: {source}")]
    Deserialize {
        /// The kind being built.
        kind: SampleKind,
        /// The deserialization error.
        #[source]
        source: serde_json::Error,
    },
}

/// Deserializes a rendered sample into its typed event.
#[allow(dead_code)] // Unused only when every event feature is off.
pub(crate) fn typed<T: serde::de::DeserializeOwned>(
    kind: SampleKind,
    value: serde_json::Value,
) -> Result<T, SampleError> {
    serde_json::from_value(value).map_err(|source| SampleError::Deserialize { kind, source })
}

/// An API Gateway REST API proxy-integration request (default: `GET /`, stage `prod`).
pub fn apigw_v1() -> ApiGatewayV1Sample {
    HttpSample::new()
}

/// An API Gateway HTTP API request, payload format 2.0 (default: `GET /`, stage `$default`).
pub fn apigw_v2() -> ApiGatewayV2Sample {
    HttpSample::new()
}

/// An Application Load Balancer target-group request (default: `GET /`, single-value headers).
pub fn alb() -> AlbSample {
    HttpSample::new()
}

/// A Lambda function URL request with `AuthType` `NONE` (default: `GET /`).
pub fn function_url() -> FunctionUrlSample {
    HttpSample::new()
}

/// An SQS batch (default: one message, body `Hello from SQS!`, standard queue `my-queue`).
pub fn sqs() -> SqsSample {
    SqsSample::new()
}

/// An SNS notification (default: one message `Hello from SNS!` on topic `my-topic`).
pub fn sns() -> SnsSample {
    SnsSample::new()
}

/// An S3 notification (default: `ObjectCreated:Put` of `uploads/photo.jpg` in `my-bucket`).
pub fn s3() -> S3Sample {
    S3Sample::new()
}

/// A DynamoDB stream batch (default: one `INSERT` into table `Orders`).
pub fn dynamodb() -> DynamoDbSample {
    DynamoDbSample::new()
}

/// A Kinesis data stream batch (default: one record `Hello from Kinesis!`).
pub fn kinesis() -> KinesisSample {
    KinesisSample::new()
}

/// An EventBridge event (default: a custom `OrderPlaced` event from `com.example.orders`).
pub fn eventbridge() -> EventBridgeSample {
    EventBridgeSample::new()
}

/// An EventBridge (CloudWatch Events) scheduled event, as a schedule rule sends it.
pub fn scheduled() -> EventBridgeSample {
    EventBridgeSample::scheduled()
}
