//! `sdk-context`: a Firebox function that answers with the [`Context`] the SDK built for the
//! invocation, plus the time it had left, so the end-to-end tests can compare it with what the
//! caller sent (request id, ARN, deadline, client context).

use firebox_runtime::{handler, Context, Error};
use serde_json::{json, Value};

#[handler]
async fn report_context(event: Value, ctx: Context) -> Result<Value, Error> {
    let remaining_ms = ctx.remaining_time().as_millis() as u64;
    Ok(json!({ "context": ctx, "remaining_ms": remaining_ms, "event": event }))
}
