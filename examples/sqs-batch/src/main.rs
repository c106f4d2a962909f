//! `sqs-batch`: an SQS batch with partial batch failures.
//!
//! Event: an `SqsEvent` (`{"Records": [{"messageId": "...", "body": "...", ...}]}`). A record
//! fails when its body is not JSON or is a JSON object with `"fail": true`; every other record
//! succeeds. Answer: an `SqsBatchResponse` listing the failed records,
//! `{"batchItemFailures": [{"itemIdentifier": "<messageId>"}]}` (empty list when all succeed),
//! so SQS (with `ReportBatchItemFailures`) retries only those.

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use firebox_runtime::{handler, tracing, Context, Error};

/// Processes one message; `Err` names why it failed.
fn process(message: &SqsMessage) -> Result<(), String> {
    let body = message.body.as_deref().unwrap_or_default();
    let value: serde_json::Value =
        serde_json::from_str(body).map_err(|e| format!("body is not JSON: {e}"))?;
    if value.get("fail").and_then(|v| v.as_bool()) == Some(true) {
        return Err("the message asked to fail".to_owned());
    }
    Ok(())
}

#[handler]
async fn sqs_batch(event: SqsEvent, _ctx: Context) -> Result<SqsBatchResponse, Error> {
    let mut response = SqsBatchResponse::default();
    for message in &event.records {
        if let Err(reason) = process(message) {
            let id = message.message_id.clone().unwrap_or_default();
            tracing::warn!(message_id = %id, %reason, "record failed");
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            response.batch_item_failures.push(failure);
        }
    }
    Ok(response)
}
