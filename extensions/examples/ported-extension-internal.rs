//! A function with an internal extension, in the idiom of `extension-internal-flush` of
//! `aws-lambda-rust-runtime`, ported by the import lines alone (`lambda_runtime` is
//! `firebox_runtime`): the extension is registered as `internal-extension`, for `INVOKE`, before
//! the runtime starts, then runs beside it. It prints:
//!
//! ```text
//! [internal-extension] REGISTERED <functionName> <functionVersion>
//! [internal-extension] INVOKE <requestId>
//! ```
//!
//! and the function answers `{"requestId": ..., "payload": ...}`. Run by
//! `tests/lambda_extension_port.rs` as the command of a function under the emulator.

use firebox_extensions::lambda_extension;
use firebox_runtime as lambda_runtime;
use lambda_extension::{service_fn, Error, Extension, LambdaEvent, NextEvent};
use serde_json::{json, Value};

async fn my_extension(event: LambdaEvent) -> Result<(), Error> {
    match event.next {
        NextEvent::Invoke(invoke) => {
            println!("[internal-extension] INVOKE {}", invoke.request_id);
            Ok(())
        }
        // Internal extensions only get INVOKE events.
        NextEvent::Shutdown(shutdown) => {
            Err(format!("unexpected SHUTDOWN event: {shutdown:?}").into())
        }
    }
}

async fn handler(event: lambda_runtime::LambdaEvent<Value>) -> Result<Value, Error> {
    Ok(json!({ "requestId": event.context.request_id, "payload": event.payload }))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let extension = Extension::new()
        .with_extension_name("internal-extension")
        // Internal extensions only support INVOKE events.
        .with_events(&["INVOKE"])
        .with_events_processor(service_fn(my_extension))
        // Registered before lambda_runtime::run(), which ends the Init phase.
        .register()
        .await?;
    println!(
        "[internal-extension] REGISTERED {} {}",
        extension.function_name, extension.function_version
    );

    tokio::try_join!(lambda_runtime::run(service_fn(handler)), extension.run())?;

    Ok(())
}
