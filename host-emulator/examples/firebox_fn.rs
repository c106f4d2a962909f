//! A Firebox function for the emulator's own tests and the scale benchmark, built with
//! `firebox_runtime::run_concurrent` (so it serves `AWS_LAMBDA_MAX_CONCURRENCY` invocations at
//! once when the variable is set).
//!
//! Event fields, all optional: `barrier` (`{"dir", "count"}`: create a file in `dir`, then wait
//! until `count` files exist there, at most 300 s, so that the invocation goes on only once
//! `count` invocations have started), `sleep_ms` (wait that long), `wait_for` (a file path: wait
//! until it exists, at most 300 s). The answer: `{"pid", "request_id", "max_concurrency"}`.

use std::time::Duration;

use firebox_runtime::{run_concurrent, service_fn, Error, LambdaEvent};
use serde_json::{json, Value};

async fn handle(event: LambdaEvent<Value>) -> Result<Value, Error> {
    let payload = &event.payload;
    if let Some(barrier) = payload.get("barrier") {
        let dir = barrier.get("dir").and_then(Value::as_str).unwrap_or(".");
        let count = barrier.get("count").and_then(Value::as_u64).unwrap_or(1) as usize;
        std::fs::write(
            std::path::Path::new(dir).join(&event.context.request_id),
            b"",
        )?;
        for _ in 0..30_000 {
            if std::fs::read_dir(dir)?.count() >= count {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    if let Some(ms) = payload.get("sleep_ms").and_then(Value::as_u64) {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    if let Some(path) = payload.get("wait_for").and_then(Value::as_str) {
        for _ in 0..30_000 {
            if std::path::Path::new(path).exists() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    Ok(json!({
        "pid": std::process::id(),
        "request_id": event.context.request_id,
        "max_concurrency": std::env::var("AWS_LAMBDA_MAX_CONCURRENCY").ok(),
    }))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    run_concurrent(service_fn(handle)).await
}
