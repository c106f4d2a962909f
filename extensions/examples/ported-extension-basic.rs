//! `extension-basic` of `aws-lambda-rust-runtime`, ported by the import line alone: an external
//! extension registered for `INVOKE` and `SHUTDOWN` under its file name, logging one line per
//! event through `lambda_extension::tracing`:
//!
//! ```text
//! ... INFO ... [ported-extension-basic] INVOKE <requestId> <invokedFunctionArn>
//! ... INFO ... [ported-extension-basic] SHUTDOWN <reason>
//! ```
//!
//! Run by `tests/lambda_extension_port.rs` as the extension of a function under the emulator.

use firebox_extensions::lambda_extension;
use lambda_extension::{service_fn, tracing, Error, LambdaEvent, NextEvent};

async fn my_extension(event: LambdaEvent) -> Result<(), Error> {
    match event.next {
        NextEvent::Shutdown(e) => {
            tracing::info!("[ported-extension-basic] SHUTDOWN {}", e.shutdown_reason);
        }
        NextEvent::Invoke(e) => {
            tracing::info!(
                "[ported-extension-basic] INVOKE {} {}",
                e.request_id,
                e.invoked_function_arn
            );
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    // required to enable CloudWatch error logging by the runtime
    tracing::init_default_subscriber();

    let func = service_fn(my_extension);
    lambda_extension::run(func).await
}
