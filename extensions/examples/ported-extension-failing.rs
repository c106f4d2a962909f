//! An external extension whose events processor fails on every `INVOKE`, written for
//! `lambda_extension` and ported by the import line alone: `run` reports the failure to the
//! Extensions API and returns the error, so the program exits 1 (and the environment ends).
//! It prints, before failing:
//!
//! ```text
//! [ported-extension-failing] INVOKE <requestId>
//! ```
//!
//! Run by `tests/lambda_extension_port.rs` as the extension of a function under the emulator.

use firebox_extensions::lambda_extension;
use lambda_extension::{service_fn, Error, LambdaEvent, NextEvent};

async fn my_extension(event: LambdaEvent) -> Result<(), Error> {
    match event.next {
        NextEvent::Invoke(invoke) => {
            println!("[ported-extension-failing] INVOKE {}", invoke.request_id);
            Err(format!("cannot process {}", invoke.request_id).into())
        }
        NextEvent::Shutdown(_) => Ok(()),
    }
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_extension::run(service_fn(my_extension)).await
}
