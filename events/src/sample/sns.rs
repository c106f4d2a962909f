//! SNS notifications, as an SNS subscription delivers them to a function.

use serde_json::{json, Map, Value};

use super::common::{meta_setters, Meta, ACCOUNT_ID, REGION};
#[cfg(feature = "sns")]
use super::SampleError;
use super::SampleKind;

/// Builder of an SNS event ([`crate::sns::SnsEvent`]); see [`super::sns`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnsSample {
    meta: Meta,
    topic: String,
    messages: Vec<Notification>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Notification {
    message: String,
    subject: Option<String>,
    attributes: Vec<(String, String, String)>,
}

const DEFAULT_MESSAGE: &str = "Hello from SNS!";

impl SnsSample {
    pub(crate) fn new() -> Self {
        SnsSample {
            meta: Meta::new(SampleKind::Sns as u64),
            topic: "my-topic".to_string(),
            messages: Vec::new(),
        }
    }

    meta_setters!();

    /// Sets the topic name (default `my-topic`).
    pub fn topic(mut self, name: impl Into<String>) -> Self {
        self.topic = name.into();
        self
    }

    /// Adds a notification with this message. SNS delivers one per invocation; without any, the
    /// event holds one `Hello from SNS!` notification.
    pub fn message(mut self, message: impl Into<String>) -> Self {
        self.messages.push(Notification {
            message: message.into(),
            subject: None,
            attributes: Vec::new(),
        });
        self
    }

    fn last(&mut self) -> &mut Notification {
        if self.messages.is_empty() {
            self.messages.push(Notification {
                message: DEFAULT_MESSAGE.to_string(),
                subject: None,
                attributes: Vec::new(),
            });
        }
        // Not empty: a notification was pushed just above if there was none.
        let last = self.messages.len() - 1;
        &mut self.messages[last]
    }

    /// Sets the subject of the last notification (default: none, `null` in the event).
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.last().subject = Some(subject.into());
        self
    }

    /// Adds a `String` message attribute to the last notification.
    pub fn message_attribute(self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.typed_message_attribute(name, "String", value)
    }

    /// Adds a message attribute of a given type (`String`, `Number`, `String.Array`, `Binary`
    /// with a base64 value) to the last notification.
    pub fn typed_message_attribute(
        mut self,
        name: impl Into<String>,
        data_type: impl Into<String>,
        value: impl Into<String>,
    ) -> Self {
        let attribute = (name.into(), data_type.into(), value.into());
        self.last().attributes.push(attribute);
        self
    }

    /// The event as AWS sends it.
    pub fn to_json(&self) -> Value {
        let mut ids = self.meta.ids();
        let time = self.meta.time;
        let topic_arn = format!("arn:aws:sns:{REGION}:{ACCOUNT_ID}:{}", self.topic);
        let subscription_arn = format!("{topic_arn}:{}", ids.uuid());
        let cert = format!(
            "https://sns.{REGION}.amazonaws.com/SimpleNotificationService-{}.pem",
            ids.hex(32)
        );
        let default = [Notification {
            message: DEFAULT_MESSAGE.to_string(),
            subject: None,
            attributes: Vec::new(),
        }];
        let messages = if self.messages.is_empty() {
            &default[..]
        } else {
            &self.messages[..]
        };
        let records: Vec<Value> = messages
            .iter()
            .map(|n| {
                let attributes: Map<String, Value> = n
                    .attributes
                    .iter()
                    .map(|(name, data_type, value)| {
                        (name.clone(), json!({ "Type": data_type, "Value": value }))
                    })
                    .collect();
                json!({
                    "EventVersion": "1.0",
                    "EventSubscriptionArn": subscription_arn,
                    "EventSource": "aws:sns",
                    "Sns": {
                        "SignatureVersion": "1",
                        "Timestamp": time.iso_millis(),
                        "Signature": ids.base64(256),
                        "SigningCertUrl": cert,
                        "MessageId": ids.uuid(),
                        "Message": n.message,
                        "MessageAttributes": attributes,
                        "Type": "Notification",
                        "UnsubscribeUrl": format!(
                            "https://sns.{REGION}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={subscription_arn}"
                        ),
                        "TopicArn": topic_arn,
                        "Subject": n.subject
                    }
                })
            })
            .collect();
        json!({ "Records": records })
    }

    /// The event as [`crate::sns::SnsEvent`].
    #[cfg(feature = "sns")]
    pub fn build(&self) -> Result<crate::sns::SnsEvent, SampleError> {
        super::typed(SampleKind::Sns, self.to_json())
    }
}

impl Default for SnsSample {
    fn default() -> Self {
        Self::new()
    }
}
