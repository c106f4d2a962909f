//! `extension-logs-basic` of `aws-lambda-rust-runtime`, ported by the import line alone: an
//! external extension with a logs processor (the Logs API's `platform` and `function` records,
//! on the default port), printing the function's lines and each invocation's start and report:
//!
//! ```text
//! [logs] [function] <line>
//! [logs] START <requestId>
//! [logs] REPORT <requestId> billed=<billedDurationMs>ms memory=<memorySizeMB>MB
//! ```
//!
//! Its own output is an `extension` record, which it does not subscribe to. Run by
//! `tests/lambda_extension_port.rs` as the extension of a function under the emulator.

use firebox_extensions::lambda_extension;
use lambda_extension::{service_fn, Error, Extension, LambdaLog, LambdaLogRecord, SharedService};

async fn handler(logs: Vec<LambdaLog>) -> Result<(), Error> {
    for log in logs {
        match log.record {
            LambdaLogRecord::Function(record) => {
                println!("[logs] [function] {}", record.trim_end())
            }
            LambdaLogRecord::PlatformStart { request_id } => println!("[logs] START {request_id}"),
            LambdaLogRecord::PlatformReport {
                request_id,
                metrics,
            } => println!(
                "[logs] REPORT {request_id} billed={}ms memory={}MB",
                metrics.billed_duration_ms, metrics.memory_size_mb
            ),
            _ => (),
        }
    }

    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let logs_processor = SharedService::new(service_fn(handler));

    Extension::new()
        .with_logs_processor(logs_processor)
        .run()
        .await?;

    Ok(())
}
