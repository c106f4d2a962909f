//! `official-context`: a function built with the official crates.io `lambda_runtime` that
//! answers with the `Context` that runtime built for the invocation, so the end-to-end tests can
//! check what the emulator's `/next` headers mean to a client nobody at Firebox wrote.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::{json, Value};

async fn report_context(event: LambdaEvent<Value>) -> Result<Value, Error> {
    let (payload, context) = event.into_parts();
    Ok(json!({ "context": context, "event": payload }))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(report_context)).await
}
