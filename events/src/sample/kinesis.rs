//! Kinesis data stream batches, as the Kinesis event source mapping sends them.

use serde_json::{json, Value};

use super::common::{self, meta_setters, Meta, ACCOUNT_ID, REGION};
#[cfg(feature = "kinesis")]
use super::SampleError;
use super::SampleKind;

/// Builder of a Kinesis event ([`crate::kinesis::KinesisEvent`]); see [`super::kinesis`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KinesisSample {
    meta: Meta,
    stream: String,
    records: Vec<(Vec<u8>, String)>,
}

const DEFAULT_DATA: &[u8] = b"Hello from Kinesis!";
const DEFAULT_PARTITION_KEY: &str = "partition-1";

impl KinesisSample {
    pub(crate) fn new() -> Self {
        KinesisSample {
            meta: Meta::new(SampleKind::Kinesis as u64),
            stream: "my-stream".to_string(),
            records: Vec::new(),
        }
    }

    meta_setters!();

    /// Sets the stream name (default `my-stream`).
    pub fn stream(mut self, name: impl Into<String>) -> Self {
        self.stream = name.into();
        self
    }

    /// Adds a record with this data (sent base64-encoded) and partition key `partition-1`.
    /// Without any, the batch holds one `Hello from Kinesis!` record.
    pub fn record(mut self, data: impl Into<Vec<u8>>) -> Self {
        self.records
            .push((data.into(), DEFAULT_PARTITION_KEY.to_string()));
        self
    }

    /// Sets the partition key of the last record added.
    pub fn partition_key(mut self, key: impl Into<String>) -> Self {
        if self.records.is_empty() {
            self = self.record(DEFAULT_DATA);
        }
        if let Some(last) = self.records.last_mut() {
            last.1 = key.into();
        }
        self
    }

    /// The event as AWS sends it.
    pub fn to_json(&self) -> Value {
        let mut ids = self.meta.ids();
        let time = self.meta.time;
        let default = [(DEFAULT_DATA.to_vec(), DEFAULT_PARTITION_KEY.to_string())];
        let records = if self.records.is_empty() {
            &default[..]
        } else {
            &self.records[..]
        };
        let prefix = format!("4959{}", ids.digits(48));
        let records: Vec<Value> = records
            .iter()
            .enumerate()
            .map(|(i, (data, key))| {
                let sequence = format!("{prefix}{:04}", 1000 + i);
                let arrival = (time.millis() + i as u64) as f64 / 1000.0;
                json!({
                    "kinesis": {
                        "kinesisSchemaVersion": "1.0",
                        "partitionKey": key,
                        "sequenceNumber": sequence,
                        "data": common::base64(data),
                        "approximateArrivalTimestamp": arrival
                    },
                    "eventSource": "aws:kinesis",
                    "eventVersion": "1.0",
                    "eventID": format!("shardId-000000000000:{sequence}"),
                    "eventName": "aws:kinesis:record",
                    "invokeIdentityArn": format!("arn:aws:iam::{ACCOUNT_ID}:role/lambda-kinesis-role"),
                    "awsRegion": REGION,
                    "eventSourceARN": format!("arn:aws:kinesis:{REGION}:{ACCOUNT_ID}:stream/{}", self.stream)
                })
            })
            .collect();
        json!({ "Records": records })
    }

    /// The event as [`crate::kinesis::KinesisEvent`].
    #[cfg(feature = "kinesis")]
    pub fn build(&self) -> Result<crate::kinesis::KinesisEvent, SampleError> {
        super::typed(SampleKind::Kinesis, self.to_json())
    }
}

impl Default for KinesisSample {
    fn default() -> Self {
        Self::new()
    }
}
