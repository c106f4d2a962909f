//! DynamoDB stream batches, as the DynamoDB Streams event source mapping sends them.

use serde_json::{json, Map, Value};

use super::common::{meta_setters, Meta, ACCOUNT_ID, REGION};
#[cfg(feature = "dynamodb")]
use super::SampleError;
use super::SampleKind;

/// Builder of a DynamoDB stream event ([`crate::dynamodb::Event`]); see [`super::dynamodb`].
///
/// Keys and images are DynamoDB JSON (attribute-value maps such as
/// `{"Id": {"S": "order-1"}, "Total": {"N": "42.5"}}`), as the stream carries them.
#[derive(Clone, Debug, PartialEq)]
pub struct DynamoDbSample {
    meta: Meta,
    table: String,
    view_type: String,
    changes: Vec<Change>,
}

#[derive(Clone, Debug, PartialEq)]
struct Change {
    event_name: &'static str,
    keys: Value,
    old_image: Option<Value>,
    new_image: Option<Value>,
}

impl DynamoDbSample {
    pub(crate) fn new() -> Self {
        DynamoDbSample {
            meta: Meta::new(SampleKind::DynamoDb as u64),
            table: "Orders".to_string(),
            view_type: "NEW_AND_OLD_IMAGES".to_string(),
            changes: Vec::new(),
        }
    }

    meta_setters!();

    /// Sets the table name (default `Orders`).
    pub fn table(mut self, name: impl Into<String>) -> Self {
        self.table = name.into();
        self
    }

    /// Sets the stream view type: `KEYS_ONLY`, `NEW_IMAGE`, `OLD_IMAGE` or
    /// `NEW_AND_OLD_IMAGES` (the default). It decides which images records carry.
    pub fn stream_view_type(mut self, view_type: impl Into<String>) -> Self {
        self.view_type = view_type.into();
        self
    }

    /// Adds an `INSERT` record.
    pub fn insert(mut self, keys: Value, new_image: Value) -> Self {
        self.changes.push(Change {
            event_name: "INSERT",
            keys,
            old_image: None,
            new_image: Some(new_image),
        });
        self
    }

    /// Adds a `MODIFY` record.
    pub fn modify(mut self, keys: Value, old_image: Value, new_image: Value) -> Self {
        self.changes.push(Change {
            event_name: "MODIFY",
            keys,
            old_image: Some(old_image),
            new_image: Some(new_image),
        });
        self
    }

    /// Adds a `REMOVE` record.
    pub fn remove(mut self, keys: Value, old_image: Value) -> Self {
        self.changes.push(Change {
            event_name: "REMOVE",
            keys,
            old_image: Some(old_image),
            new_image: None,
        });
        self
    }

    /// The event as AWS sends it.
    pub fn to_json(&self) -> Value {
        let mut ids = self.meta.ids();
        let time = self.meta.time;
        // The stream label is the stream's creation time without the zone.
        let label = time.iso_millis().trim_end_matches('Z').to_string();
        let arn = format!(
            "arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/{}/stream/{label}",
            self.table
        );
        let default = [Change {
            event_name: "INSERT",
            keys: json!({ "Id": { "S": "order-1" } }),
            old_image: None,
            new_image: Some(json!({
                "Id": { "S": "order-1" },
                "Status": { "S": "PLACED" },
                "Total": { "N": "42.5" }
            })),
        }];
        let changes = if self.changes.is_empty() {
            &default[..]
        } else {
            &self.changes[..]
        };
        let with_new = matches!(self.view_type.as_str(), "NEW_IMAGE" | "NEW_AND_OLD_IMAGES");
        let with_old = matches!(self.view_type.as_str(), "OLD_IMAGE" | "NEW_AND_OLD_IMAGES");
        let mut sequence: u128 = ids.digits(21).parse().unwrap_or(1);
        let records: Vec<Value> = changes
            .iter()
            .map(|change| {
                sequence += 100;
                let mut stream = Map::new();
                stream.insert("ApproximateCreationDateTime".into(), json!(time.seconds()));
                stream.insert("Keys".into(), change.keys.clone());
                let mut size = attribute_size(&change.keys);
                if let (true, Some(image)) = (with_new, &change.new_image) {
                    stream.insert("NewImage".into(), image.clone());
                    size += attribute_size(image);
                }
                if let (true, Some(image)) = (with_old, &change.old_image) {
                    stream.insert("OldImage".into(), image.clone());
                    size += attribute_size(image);
                }
                stream.insert("SequenceNumber".into(), json!(sequence.to_string()));
                stream.insert("SizeBytes".into(), json!(size));
                stream.insert("StreamViewType".into(), json!(self.view_type));
                json!({
                    "eventID": ids.hex(32),
                    "eventName": change.event_name,
                    "eventVersion": "1.1",
                    "eventSource": "aws:dynamodb",
                    "awsRegion": REGION,
                    "dynamodb": stream,
                    "eventSourceARN": arn
                })
            })
            .collect();
        json!({ "Records": records })
    }

    /// The event as [`crate::dynamodb::Event`].
    #[cfg(feature = "dynamodb")]
    pub fn build(&self) -> Result<crate::dynamodb::Event, SampleError> {
        super::typed(SampleKind::DynamoDb, self.to_json())
    }
}

impl Default for DynamoDbSample {
    fn default() -> Self {
        Self::new()
    }
}

/// An approximation of DynamoDB's item size: attribute names plus scalar values, in bytes.
fn attribute_size(value: &Value) -> usize {
    match value {
        Value::Object(map) => map.iter().map(|(k, v)| k.len() + attribute_size(v)).sum(),
        Value::Array(items) => items.iter().map(attribute_size).sum(),
        Value::String(s) => s.len(),
        Value::Number(n) => n.to_string().len(),
        Value::Bool(_) | Value::Null => 1,
    }
}
