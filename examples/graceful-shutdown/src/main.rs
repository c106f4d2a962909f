//! `graceful-shutdown`: work buffered across invocations and flushed when Lambda shuts the
//! execution environment down.
//!
//! During Init, `spawn_graceful_shutdown_handler` registers an internal extension (so that
//! Lambda sends `SIGTERM` before it ends the environment) and a hook that runs on `SIGTERM`.
//! Each invocation adds to a buffer; the hook prints what it flushes:
//! `graceful-shutdown: flushed N buffered invocation(s)`.
//!
//! Event: anything. Answer: `{"buffered": n}`, the invocations this environment has buffered.
//! The event `{"registerAgain": true}` calls `spawn_graceful_shutdown_handler` again, inside
//! the invocation, and answers `{"registerAgain": "<the error>"}`: registration closes when
//! Init ends, so the call must come before `run`.

use std::sync::atomic::{AtomicU64, Ordering};

use firebox_runtime::{run, service_fn, spawn_graceful_shutdown_handler, Error, LambdaEvent};
use serde_json::{json, Value};

/// Invocations served and not yet flushed.
static BUFFERED: AtomicU64 = AtomicU64::new(0);

/// What the hook does: stands in for flushing metrics or closing connections.
async fn flush() {
    let n = BUFFERED.swap(0, Ordering::SeqCst);
    println!("graceful-shutdown: flushed {n} buffered invocation(s)");
}

async fn handle(event: LambdaEvent<Value>) -> Result<Value, Error> {
    if event.payload["registerAgain"] == json!(true) {
        let outcome = match spawn_graceful_shutdown_handler(flush).await {
            Ok(()) => "registered".to_owned(),
            Err(e) => e.to_string(),
        };
        return Ok(json!({ "registerAgain": outcome }));
    }
    let buffered = BUFFERED.fetch_add(1, Ordering::SeqCst) + 1;
    Ok(json!({ "buffered": buffered }))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    spawn_graceful_shutdown_handler(flush).await?;
    run(service_fn(handle)).await
}
