//! EventBridge (formerly CloudWatch Events) events, including schedule-rule events.

use serde_json::{json, Value};

use super::common::{meta_setters, Meta, ACCOUNT_ID, REGION};
#[cfg(any(feature = "eventbridge", feature = "cloudwatch_events"))]
use super::SampleError;
use super::SampleKind;

/// Builder of an EventBridge event ([`crate::eventbridge::EventBridgeEvent`], or
/// [`crate::cloudwatch_events::CloudWatchEvent`]); see [`super::eventbridge`] and
/// [`super::scheduled`].
#[derive(Clone, Debug, PartialEq)]
pub struct EventBridgeSample {
    kind: SampleKind,
    meta: Meta,
    source: String,
    detail_type: String,
    detail: Value,
    resources: Vec<String>,
}

impl EventBridgeSample {
    pub(crate) fn new() -> Self {
        EventBridgeSample {
            kind: SampleKind::EventBridge,
            meta: Meta::new(SampleKind::EventBridge as u64),
            source: "com.example.orders".to_string(),
            detail_type: "OrderPlaced".to_string(),
            detail: json!({ "orderId": "order-1", "total": 42.5 }),
            resources: Vec::new(),
        }
    }

    pub(crate) fn scheduled() -> Self {
        EventBridgeSample {
            kind: SampleKind::Scheduled,
            meta: Meta::new(SampleKind::Scheduled as u64),
            source: "aws.events".to_string(),
            detail_type: "Scheduled Event".to_string(),
            detail: json!({}),
            resources: vec![format!(
                "arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/my-schedule"
            )],
        }
    }

    meta_setters!();

    /// Sets the `source` (default `com.example.orders`; `aws.events` for schedules).
    pub fn source(mut self, source: impl Into<String>) -> Self {
        self.source = source.into();
        self
    }

    /// Sets the `detail-type` (default `OrderPlaced`; `Scheduled Event` for schedules).
    pub fn detail_type(mut self, detail_type: impl Into<String>) -> Self {
        self.detail_type = detail_type.into();
        self
    }

    /// Sets the `detail` object.
    pub fn detail(mut self, detail: Value) -> Self {
        self.detail = detail;
        self
    }

    /// Adds an ARN to `resources`.
    pub fn resource(mut self, arn: impl Into<String>) -> Self {
        self.resources.push(arn.into());
        self
    }

    /// The event as AWS sends it.
    pub fn to_json(&self) -> Value {
        let mut ids = self.meta.ids();
        json!({
            "version": "0",
            "id": ids.uuid(),
            "detail-type": self.detail_type,
            "source": self.source,
            "account": ACCOUNT_ID,
            "time": self.meta.time.iso_seconds(),
            "region": REGION,
            "resources": self.resources,
            "detail": self.detail
        })
    }

    /// The event as [`crate::eventbridge::EventBridgeEvent`] with a JSON `detail`.
    #[cfg(feature = "eventbridge")]
    pub fn build(&self) -> Result<crate::eventbridge::EventBridgeEvent, SampleError> {
        super::typed(self.kind, self.to_json())
    }

    /// The event as [`crate::cloudwatch_events::CloudWatchEvent`] with a JSON `detail`.
    #[cfg(feature = "cloudwatch_events")]
    pub fn build_cloudwatch(
        &self,
    ) -> Result<crate::cloudwatch_events::CloudWatchEvent, SampleError> {
        super::typed(self.kind, self.to_json())
    }
}

impl Default for EventBridgeSample {
    fn default() -> Self {
        Self::new()
    }
}
