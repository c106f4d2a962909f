//! SQS batches, as the SQS event source mapping sends them.

use serde_json::{json, Map, Value};

use super::common::{self, meta_setters, Meta, ACCOUNT_ID, REGION};
#[cfg(feature = "sqs")]
use super::SampleError;
use super::SampleKind;

/// Builder of an SQS batch event ([`crate::sqs::SqsEvent`]); see [`super::sqs`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SqsSample {
    meta: Meta,
    queue: String,
    messages: Vec<Message>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Message {
    body: String,
    attributes: Vec<(String, AttributeValue)>,
    group_id: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum AttributeValue {
    String { data_type: String, value: String },
    Binary(Vec<u8>),
}

const DEFAULT_BODY: &str = "Hello from SQS!";

impl SqsSample {
    pub(crate) fn new() -> Self {
        SqsSample {
            meta: Meta::new(SampleKind::Sqs as u64),
            queue: "my-queue".to_string(),
            messages: Vec::new(),
        }
    }

    meta_setters!();

    /// Sets the queue name (default `my-queue`). A name ending in `.fifo` makes a FIFO queue:
    /// messages then carry `MessageGroupId`, `MessageDeduplicationId` and `SequenceNumber`.
    pub fn queue(mut self, name: impl Into<String>) -> Self {
        self.queue = name.into();
        self
    }

    /// Adds a message with this body. Without any, the batch holds one `Hello from SQS!` message.
    pub fn message(mut self, body: impl Into<String>) -> Self {
        self.messages.push(Message {
            body: body.into(),
            attributes: Vec::new(),
            group_id: None,
        });
        self
    }

    /// The last message added, after adding the default one if there is none yet.
    fn last(&mut self) -> &mut Message {
        if self.messages.is_empty() {
            self.messages.push(Message {
                body: DEFAULT_BODY.to_string(),
                attributes: Vec::new(),
                group_id: None,
            });
        }
        // Not empty: a message was pushed just above if there was none.
        let last = self.messages.len() - 1;
        &mut self.messages[last]
    }

    /// Adds a `String` message attribute to the last message added.
    pub fn message_attribute(self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.typed_message_attribute(name, "String", value)
    }

    /// Adds a message attribute of a given data type (`String`, `Number`, `String.custom`...)
    /// to the last message added.
    pub fn typed_message_attribute(
        mut self,
        name: impl Into<String>,
        data_type: impl Into<String>,
        value: impl Into<String>,
    ) -> Self {
        let value = AttributeValue::String {
            data_type: data_type.into(),
            value: value.into(),
        };
        self.last().attributes.push((name.into(), value));
        self
    }

    /// Adds a `Binary` message attribute to the last message added (sent base64-encoded).
    pub fn binary_message_attribute(
        mut self,
        name: impl Into<String>,
        value: impl Into<Vec<u8>>,
    ) -> Self {
        let value = AttributeValue::Binary(value.into());
        self.last().attributes.push((name.into(), value));
        self
    }

    /// Sets the message group of the last message added (FIFO queues; default `group-1`).
    pub fn message_group(mut self, group_id: impl Into<String>) -> Self {
        self.last().group_id = Some(group_id.into());
        self
    }

    /// The event as AWS sends it.
    pub fn to_json(&self) -> Value {
        let mut ids = self.meta.ids();
        let time = self.meta.time;
        let fifo = self.queue.ends_with(".fifo");
        let arn = format!("arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{}", self.queue);
        let sender = format!("AIDA{}", ids.upper_alnum(17));
        let default = [Message {
            body: DEFAULT_BODY.to_string(),
            attributes: Vec::new(),
            group_id: None,
        }];
        let messages = if self.messages.is_empty() {
            &default[..]
        } else {
            &self.messages[..]
        };
        let records: Vec<Value> = messages
            .iter()
            .enumerate()
            .map(|(i, message)| {
                let sent = time.millis() + i as u64;
                let mut attributes = Map::new();
                attributes.insert("ApproximateReceiveCount".into(), json!("1"));
                attributes.insert("SentTimestamp".into(), json!(sent.to_string()));
                attributes.insert("SenderId".into(), json!(sender));
                attributes.insert(
                    "ApproximateFirstReceiveTimestamp".into(),
                    json!((sent + 3).to_string()),
                );
                if fifo {
                    attributes.insert("SequenceNumber".into(), json!(ids.digits(20)));
                    let group = message.group_id.as_deref().unwrap_or("group-1");
                    attributes.insert("MessageGroupId".into(), json!(group));
                    attributes.insert("MessageDeduplicationId".into(), json!(ids.hex(64)));
                }
                let mut record = Map::new();
                record.insert("messageId".into(), json!(ids.uuid()));
                record.insert(
                    "receiptHandle".into(),
                    json!(format!("AQEB{}", ids.base64(120))),
                );
                record.insert("body".into(), json!(message.body));
                record.insert("attributes".into(), Value::Object(attributes));
                record.insert(
                    "messageAttributes".into(),
                    message_attributes_json(&message.attributes),
                );
                if !message.attributes.is_empty() {
                    record.insert(
                        "md5OfMessageAttributes".into(),
                        json!(md5_of_message_attributes(&message.attributes)),
                    );
                }
                record.insert(
                    "md5OfBody".into(),
                    json!(common::md5_hex(message.body.as_bytes())),
                );
                record.insert("eventSource".into(), json!("aws:sqs"));
                record.insert("eventSourceARN".into(), json!(arn));
                record.insert("awsRegion".into(), json!(REGION));
                Value::Object(record)
            })
            .collect();
        json!({ "Records": records })
    }

    /// The event as [`crate::sqs::SqsEvent`].
    #[cfg(feature = "sqs")]
    pub fn build(&self) -> Result<crate::sqs::SqsEvent, SampleError> {
        super::typed(SampleKind::Sqs, self.to_json())
    }
}

impl Default for SqsSample {
    fn default() -> Self {
        Self::new()
    }
}

fn message_attributes_json(attributes: &[(String, AttributeValue)]) -> Value {
    let map: Map<String, Value> = attributes
        .iter()
        .map(|(name, value)| {
            let rendered = match value {
                AttributeValue::String { data_type, value } => json!({
                    "stringValue": value,
                    "stringListValues": [],
                    "binaryListValues": [],
                    "dataType": data_type
                }),
                AttributeValue::Binary(bytes) => json!({
                    "binaryValue": common::base64(bytes),
                    "stringListValues": [],
                    "binaryListValues": [],
                    "dataType": "Binary"
                }),
            };
            (name.clone(), rendered)
        })
        .collect();
    Value::Object(map)
}

/// SQS's digest of message attributes: for each attribute in name order, the length-prefixed
/// (4-byte big-endian) name and data type, a transport byte (1 string, 2 binary) and the
/// length-prefixed value, all hashed with MD5.
fn md5_of_message_attributes(attributes: &[(String, AttributeValue)]) -> String {
    let mut sorted: Vec<&(String, AttributeValue)> = attributes.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut buf = Vec::new();
    let put = |bytes: &[u8], buf: &mut Vec<u8>| {
        buf.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
        buf.extend_from_slice(bytes);
    };
    for (name, value) in sorted {
        put(name.as_bytes(), &mut buf);
        match value {
            AttributeValue::String { data_type, value } => {
                put(data_type.as_bytes(), &mut buf);
                buf.push(1);
                put(value.as_bytes(), &mut buf);
            }
            AttributeValue::Binary(bytes) => {
                put(b"Binary", &mut buf);
                buf.push(2);
                put(bytes, &mut buf);
            }
        }
    }
    common::md5_hex(&buf)
}
