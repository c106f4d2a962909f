//! `extension-custom-events` of `aws-lambda-rust-runtime`, ported by the import line alone: an
//! external extension registered for `SHUTDOWN` only, printing the reason (and a line for any
//! other event, which should never come):
//!
//! ```text
//! [ported-extension-custom-events] SHUTDOWN <reason>
//! ```
//!
//! Run by `tests/lambda_extension_port.rs` as the extension of a function under the emulator.

use firebox_extensions::lambda_extension;
use lambda_extension::{service_fn, Error, Extension, LambdaEvent, NextEvent};

async fn my_extension(event: LambdaEvent) -> Result<(), Error> {
    match event.next {
        NextEvent::Shutdown(e) => {
            println!(
                "[ported-extension-custom-events] SHUTDOWN {}",
                e.shutdown_reason
            );
        }
        _ => {
            // registered for SHUTDOWN only: nothing else should come
            println!(
                "[ported-extension-custom-events] UNEXPECTED {:?}",
                event.next
            );
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    Extension::new()
        .with_events(&["SHUTDOWN"])
        .with_events_processor(service_fn(my_extension))
        .run()
        .await
}
