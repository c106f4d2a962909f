//! S3 event notifications, as S3 sends them to a function.

use serde_json::{json, Value};

use super::common::{self, meta_setters, Meta, REGION};
#[cfg(feature = "s3")]
use super::SampleError;
use super::SampleKind;

/// Builder of an S3 event ([`crate::s3::S3Event`]); see [`super::s3`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct S3Sample {
    meta: Meta,
    bucket: String,
    key: String,
    size: u64,
    event_name: String,
    configuration_id: String,
}

impl S3Sample {
    pub(crate) fn new() -> Self {
        S3Sample {
            meta: Meta::new(SampleKind::S3 as u64),
            bucket: "my-bucket".to_string(),
            key: "uploads/photo.jpg".to_string(),
            size: 1024,
            event_name: "ObjectCreated:Put".to_string(),
            configuration_id: "my-notification".to_string(),
        }
    }

    meta_setters!();

    /// Sets the bucket name (default `my-bucket`).
    pub fn bucket(mut self, name: impl Into<String>) -> Self {
        self.bucket = name.into();
        self
    }

    /// Sets the object key, unencoded (default `uploads/photo.jpg`); the event carries it
    /// URL-encoded, as S3 does.
    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.key = key.into();
        self
    }

    /// Sets the object size in bytes (default 1024).
    pub fn size(mut self, size: u64) -> Self {
        self.size = size;
        self
    }

    /// Sets the event name (default `ObjectCreated:Put`; e.g. `ObjectCreated:CompleteMultipartUpload`,
    /// `ObjectRemoved:Delete`). `ObjectRemoved:*` events carry no size or ETag.
    pub fn event_name(mut self, name: impl Into<String>) -> Self {
        self.event_name = name.into();
        self
    }

    /// Sets the notification configuration id (default `my-notification`).
    pub fn configuration_id(mut self, id: impl Into<String>) -> Self {
        self.configuration_id = id.into();
        self
    }

    /// The event as AWS sends it.
    pub fn to_json(&self) -> Value {
        let mut ids = self.meta.ids();
        let key = encode_key(&self.key);
        let object = if self.event_name.starts_with("ObjectRemoved") {
            json!({ "key": key, "sequencer": ids.upper_hex(18) })
        } else {
            json!({
                "key": key,
                "size": self.size,
                "eTag": common::md5_hex(self.key.as_bytes()),
                "sequencer": ids.upper_hex(18)
            })
        };
        json!({
            "Records": [{
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": REGION,
                "eventTime": self.meta.time.iso_millis(),
                "eventName": self.event_name,
                "userIdentity": { "principalId": format!("AWS:AIDA{}", ids.upper_alnum(17)) },
                "requestParameters": { "sourceIPAddress": common::SOURCE_IP },
                "responseElements": {
                    "x-amz-request-id": ids.upper_hex(16),
                    "x-amz-id-2": ids.base64(57)
                },
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": self.configuration_id,
                    "bucket": {
                        "name": self.bucket,
                        "ownerIdentity": { "principalId": format!("A{}", ids.upper_alnum(13)) },
                        "arn": format!("arn:aws:s3:::{}", self.bucket)
                    },
                    "object": object
                }
            }]
        })
    }

    /// The event as [`crate::s3::S3Event`].
    #[cfg(feature = "s3")]
    pub fn build(&self) -> Result<crate::s3::S3Event, SampleError> {
        super::typed(SampleKind::S3, self.to_json())
    }
}

impl Default for S3Sample {
    fn default() -> Self {
        Self::new()
    }
}

/// S3's key encoding in notifications: form encoding (space as `+`) that keeps `/`.
fn encode_key(key: &str) -> String {
    key.split('/')
        .map(|segment| common::percent_encode(segment).replace("%20", "+"))
        .collect::<Vec<_>>()
        .join("/")
}
