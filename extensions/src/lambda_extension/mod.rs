//! `lambda_extension` (the `lambda-extension` crate of `aws-lambda-rust-runtime`, 1.x) on top of
//! this crate: an extension written for it is ported by replacing the dependency and importing
//! this module under its name:
//!
//! ```text
//! use firebox_extensions::lambda_extension;
//! // or
//! use firebox_extensions::lambda_extension::{service_fn, Error, Extension, LambdaEvent, NextEvent};
//! ```
//!
//! The names, fields, variants and builder methods are `lambda_extension`'s; underneath, the
//! crate's [`Extension`](crate::Extension) registers and subscribes, its
//! [`ExtensionClient`](crate::ExtensionClient) waits for events and its
//! [`TelemetryListener`](crate::TelemetryListener) receives the Logs and Telemetry API batches,
//! whose records are converted to `lambda_extension`'s types.
//!
//! ```no_run
//! use firebox_extensions::lambda_extension::{self, service_fn, Error, LambdaEvent, NextEvent};
//!
//! async fn my_extension(event: LambdaEvent) -> Result<(), Error> {
//!     match event.next {
//!         NextEvent::Invoke(invoke) => println!("INVOKE {}", invoke.request_id),
//!         NextEvent::Shutdown(shutdown) => println!("SHUTDOWN {}", shutdown.shutdown_reason),
//!     }
//!     Ok(())
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Error> {
//!     lambda_extension::tracing::init_default_subscriber();
//!     lambda_extension::run(service_fn(my_extension)).await
//! }
//! ```
//!
//! With a telemetry processor (a logs processor is the same, with [`LambdaLog`] and
//! `with_logs_processor`):
//!
//! ```no_run
//! use firebox_extensions::lambda_extension::{
//!     service_fn, Error, Extension, LambdaTelemetry, LambdaTelemetryRecord, SharedService,
//! };
//!
//! async fn handler(events: Vec<LambdaTelemetry>) -> Result<(), Error> {
//!     for event in events {
//!         match event.record {
//!             LambdaTelemetryRecord::PlatformStart { request_id, .. } => {
//!                 println!("{request_id} started at {}", event.time)
//!             }
//!             LambdaTelemetryRecord::PlatformReport { request_id, metrics, .. } => {
//!                 println!("{request_id} billed {} ms", metrics.billed_duration_ms)
//!             }
//!             _ => {}
//!         }
//!     }
//!     Ok(())
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Error> {
//!     Extension::new()
//!         .with_telemetry_types(&["platform"])
//!         .with_telemetry_processor(SharedService::new(service_fn(handler)))
//!         .run()
//!         .await
//! }
//! ```
//!
//! An internal extension registers from inside the runtime process, before the runtime asks for
//! its first invocation, then runs beside it:
//!
//! ```no_run
//! # use firebox_runtime as lambda_runtime;
//! use firebox_extensions::lambda_extension::{service_fn, Error, Extension, LambdaEvent};
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Error> {
//!     let extension = Extension::new()
//!         .with_extension_name("request-counter")
//!         .with_events(&["INVOKE"])
//!         .with_events_processor(service_fn(|event: LambdaEvent| async move {
//!             eprintln!("{:?}", event.next);
//!             Ok::<(), Error>(())
//!         }))
//!         .register()
//!         .await?;
//!     let handler = service_fn(|event: lambda_runtime::LambdaEvent<serde_json::Value>| async move {
//!         Ok::<_, Error>(event.payload)
//!     });
//!     tokio::try_join!(lambda_runtime::run(handler), extension.run())?;
//!     Ok(())
//! }
//! ```
//!
//! # Differences from `lambda_extension`
//!
//! - Record times and span starts are a [`Timestamp`], not a `chrono::DateTime<Utc>`: it has the
//!   common accessors (`timestamp_millis`, `timestamp_nanos_opt`, `to_rfc3339`, ...) and formats the same way, but code
//!   that names `chrono` types (or calls `format`) needs changing; it converts into a
//!   `SystemTime`.
//! - A `function` or `extension` record that is a JSON object (Lambda's JSON log format) comes
//!   as its JSON text in [`LambdaLogRecord::Function`] and in a `String`
//!   [`LambdaTelemetryRecord::Function`], where `lambda_extension` refuses the whole batch.
//!   More generally, a record `lambda_extension` cannot read (a type it has no variant for,
//!   such as the SnapStart `platform.restore*` records, or a value its enums lack) is left out
//!   of the batch, where it refuses the batch whole.
//! - When the events processor fails, the error is reported through `/extension/exit/error`
//!   with the error type `Extension.HandlerError` (and the error's text as the message), during
//!   an `INVOKE` too; `lambda_extension` posts `/extension/init/error` then, with the error's
//!   text as the error type. Either way `run` returns the processor's error.
//! - After `SHUTDOWN` has been processed, `run` returns `Ok(())`, so the program exits
//!   (`lambda_extension` asks for another event and waits to be killed). With a logs or
//!   telemetry processor it first waits up to twice the buffering timeout (at most half the
//!   time left) for the last batches.
//! - Without `with_log_port_number` / `with_telemetry_port_number`, the listener takes port 9002
//!   / 9003 as `lambda_extension` does — or, when another process already listens there (two
//!   environments of the local emulator on one machine), a port the system picks. The
//!   destination sent to Lambda has a path (`/logs`, `/telemetry`).
//! - A logs or telemetry processor's error is logged through `tracing` (`lambda_extension`
//!   prints it to stdout); the batch is answered as received either way.
//! - Setting both a logs and a telemetry processor fails at registration, before anything is
//!   sent (Lambda refuses the second subscription; `lambda_extension` sends both). An unknown
//!   event or record type, or a [`LogBuffering`] outside Lambda's limits, fails there too.
//! - [`tracing`] is `firebox_runtime::tracing` (`init_default_subscriber`,
//!   `init_default_subscriber_with_writer` and `tracing`'s macros); it has no `subscriber`
//!   re-export of `tracing-subscriber`, and its text lines carry a timestamp and the target
//!   (`lambda_extension`'s default subscriber writes neither).
//! - A port given with `with_log_port_number` / `with_telemetry_port_number` that is already
//!   taken fails the registration (`Bind`, the address in use); `lambda_extension`'s listener
//!   task panics and the extension goes on without its logs or telemetry.
//! - The `requests` module (raw request builders) is not provided: the crate's
//!   [`ExtensionClient`](crate::ExtensionClient) has one method per call.

mod error;
mod events;
mod extension;
mod logs;
mod services;
mod telemetry;
mod timestamp;

pub use error::{Error, ExtensionError};
pub use events::{InvokeEvent, LambdaEvent, NextEvent, ShutdownEvent, Tracing};
pub use extension::{
    Extension, RegisteredExtension, DEFAULT_LOG_PORT_NUMBER, DEFAULT_TELEMETRY_PORT_NUMBER,
};
pub use logs::{LambdaLog, LambdaLogRecord, LogBuffering, LogPlatformReportMetrics};
pub use services::{Identity, MakeIdentity, SharedService};
pub use telemetry::{
    InitPhase, InitType, LambdaTelemetry, LambdaTelemetryRecord, Span, Status, TraceContext,
    TracingType,
};
pub use timestamp::{Timestamp, TimestampError};
pub use tower::{self, service_fn, Service};

pub use crate::{InitReportMetrics, ReportMetrics, RuntimeDoneMetrics};

/// `tracing`, re-exported, with the runtime's subscriber set-up: `init_default_subscriber()`
/// (Lambda's text or JSON format, the level from `AWS_LAMBDA_LOG_LEVEL` or `RUST_LOG`).
pub use firebox_runtime::tracing;

/// Registers an external extension under its executable's file name, for `INVOKE` and
/// `SHUTDOWN`, and hands every event to `events_processor` (usually `service_fn` over an
/// `async fn`) until `SHUTDOWN` has been processed or the processor fails (see
/// [`RegisteredExtension::run`]).
pub async fn run<E>(events_processor: E) -> Result<(), Error>
where
    E: Service<LambdaEvent>,
    E::Future: std::future::Future<Output = Result<(), E::Error>>,
    E::Error: Into<Error>,
{
    Extension::new()
        .with_events_processor(events_processor)
        .run()
        .await
}

#[cfg(test)]
mod tests;
