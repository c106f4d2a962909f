//! `extension-telemetry-basic` of `aws-lambda-rust-runtime`, ported by the import line alone:
//! an external extension with a telemetry processor (the Telemetry API's `platform` and
//! `function` records, on the default port), printing what it hears:
//!
//! ```text
//! [telemetry] [function] <line>
//! [telemetry] INIT_START <initializationType> <phase>
//! [telemetry] START <requestId>
//! [telemetry] RUNTIME_DONE <requestId> <status>
//! [telemetry] REPORT <requestId> <status> memory=<memorySizeMB>MB
//! ```
//!
//! Run by `tests/lambda_extension_port.rs` as the extension of a function under the emulator.

use firebox_extensions::lambda_extension;
use lambda_extension::{
    service_fn, Error, Extension, LambdaTelemetry, LambdaTelemetryRecord, SharedService,
};

async fn handler(events: Vec<LambdaTelemetry>) -> Result<(), Error> {
    for event in events {
        match event.record {
            LambdaTelemetryRecord::Function(record) => {
                println!("[telemetry] [function] {}", record.trim_end())
            }
            LambdaTelemetryRecord::PlatformInitStart {
                initialization_type,
                phase,
                runtime_version: _,
                runtime_version_arn: _,
            } => println!("[telemetry] INIT_START {initialization_type:?} {phase:?}"),
            LambdaTelemetryRecord::PlatformStart {
                request_id,
                version: _,
                tracing: _,
            } => println!("[telemetry] START {request_id}"),
            LambdaTelemetryRecord::PlatformRuntimeDone {
                request_id, status, ..
            } => println!("[telemetry] RUNTIME_DONE {request_id} {status:?}"),
            LambdaTelemetryRecord::PlatformReport {
                request_id,
                status,
                metrics,
                ..
            } => println!(
                "[telemetry] REPORT {request_id} {status:?} memory={}MB",
                metrics.memory_size_mb
            ),
            _ => (),
        }
    }

    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let telemetry_processor = SharedService::new(service_fn(handler));

    Extension::new()
        .with_telemetry_processor(telemetry_processor)
        .run()
        .await?;

    Ok(())
}
