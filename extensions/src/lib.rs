//! A client for the AWS Lambda Extensions API (version `2020-01-01`): write a Lambda *external
//! extension* (a separate process Lambda starts from `/opt/extensions`) or an *internal
//! extension* (a task inside the function's runtime process) in Rust.
//!
//! # The protocol
//!
//! 1. During the environment's Init phase, the extension registers
//!    (`POST /2020-01-01/extension/register`) under a name — for an external extension, its
//!    executable's file name — and subscribes to `INVOKE` and/or `SHUTDOWN` events (internal
//!    extensions get `INVOKE` only). It gets back an identifier for every later call.
//! 2. It then asks for the next event (`GET /2020-01-01/extension/event/next`), a long poll.
//!    Asking again is how it says it is done with the previous event: the function's
//!    environment is not reused for the next invocation until every extension subscribed to
//!    `INVOKE` has asked again.
//! 3. On `SHUTDOWN` it cleans up and exits before the event's deadline.
//! 4. If it fails, it reports so (`/extension/init/error` during Init,
//!    `/extension/exit/error` later) and exits. Any `500` from the API means the environment
//!    is going away: the extension should exit too.
//!
//! # Telemetry
//!
//! An extension may also subscribe to the Telemetry API (version `2022-07-01`,
//! `PUT /2022-07-01/telemetry`) during Init: Lambda then sends batches of records —
//! `platform.*` lifecycle events, the function's and extensions' output lines — to an address
//! the extension listens on, over HTTP (each batch POSTed as a JSON array) or TCP (one record
//! per line, on a kept connection). [`Extension::telemetry`] does it all (a
//! [`TelemetryListener`] handing each batch, a `Vec<`[`TelemetryEvent`]`>`, to a handler;
//! [`Extension::telemetry_protocol`] picks the [`Protocol`]);
//! [`ExtensionClient::subscribe_telemetry`] is the low-level call.
//!
//! The older Logs API (`PUT /2020-08-15/logs`) works the same way, with its own records
//! ([`LogsEvent`]): [`Extension::logs`], [`ExtensionClient::subscribe_logs`]. An extension
//! subscribes to one of the two APIs, not both.
//!
//! The API lives at the address in `AWS_LAMBDA_RUNTIME_API` (`host:port`, or
//! `http://host:port[/prefix]`), or one given explicitly as an [`Endpoint`].
//!
//! # Use
//!
//! [`Extension`] registers and runs a handler (any [`tower::Service`] of [`Event`], usually
//! [`service_fn`] over an `async fn`); [`ExtensionClient`] is the low-level client, one method
//! per API call.
//!
//! ```no_run
//! use firebox_extensions::{service_fn, BoxError, Error, Event, Extension};
//!
//! #[tokio::main(flavor = "current_thread")]
//! async fn main() -> Result<(), Error> {
//!     Extension::new()
//!         .run(service_fn(|event: Event| async move {
//!             match event {
//!                 Event::Invoke(invoke) => println!("INVOKE {}", invoke.request_id),
//!                 Event::Shutdown(shutdown) => println!("SHUTDOWN {}", shutdown.shutdown_reason),
//!             }
//!             Ok::<(), BoxError>(())
//!         }))
//!         .await
//! }
//! ```
//!
//! # Porting from `lambda_extension`: `use firebox_extensions::lambda_extension;`
//!
//! An extension written for `lambda_extension` (the `lambda-extension` crate of
//! `aws-lambda-rust-runtime`, 1.x) ports by replacing the dependency with this crate and
//! importing the compatibility module [`lambda_extension`] under that name —
//! `use firebox_extensions::lambda_extension;`, or
//! `use firebox_extensions::lambda_extension::{service_fn, Error, Extension, ...};` — as an
//! HTTP function ports with `use firebox_runtime::http as lambda_http;`. `run`, the
//! `Extension` builder (`with_events`, `with_events_processor`, `with_logs_processor`,
//! `with_telemetry_processor`, ..., `register`, `run`), internal extensions, `SharedService`,
//! `LambdaEvent` / `NextEvent` and the `LambdaLog` and `LambdaTelemetry` records are there,
//! built on this crate's client and listener. Known differences (see the module for the
//! details):
//!
//! - record times are a [`lambda_extension::Timestamp`], not a `chrono::DateTime<Utc>`;
//! - `LambdaEvent` also has an `extension_id` field (as in 0.x);
//! - a JSON-object log line comes as its JSON text, and a record `lambda_extension` cannot
//!   read is left out of its batch, instead of the whole batch being refused;
//! - an events processor's error is reported through `/extension/exit/error`
//!   (`Extension.HandlerError`), and `run` returns `Ok(())` once `SHUTDOWN` is processed;
//! - a listener's default port (9002, 9003) falls back to one the system picks when taken;
//! - a logs and a telemetry processor together fail at registration; no `requests` module, no
//!   `tracing::subscriber`.

#![cfg_attr(docsrs, feature(doc_cfg))]
mod client;
mod endpoint;
mod error;
mod events;
mod extension;
pub mod lambda_extension;
mod listener;
mod logs;
mod requests;
mod subscription;
mod telemetry;

pub use client::ExtensionClient;
pub use endpoint::{executable_name, Endpoint, RUNTIME_API_VAR};
pub use error::{ApiError, BoxError, Error};
pub use events::{
    Event, EventType, InvokeEvent, NextEvent, Registration, ShutdownEvent, ShutdownReason, Tracing,
};
pub use extension::{Extension, ExtensionKind, RegisteredExtension, HANDLER_ERROR_TYPE};
pub use listener::{Record, TelemetryListener};
pub use logs::{EndRecord, LogsEvent, LogsRecord, LogsReportRecord};
pub use subscription::{Buffering, Protocol, TelemetryType};
pub use telemetry::{
    ExtensionRecord, InitReportMetrics, InitReportRecord, InitRuntimeDoneRecord, InitStartRecord,
    LogsDroppedRecord, ReportMetrics, ReportRecord, RestoreReportMetrics, RestoreReportRecord,
    RestoreRuntimeDoneRecord, RuntimeDoneMetrics, RuntimeDoneRecord, RuntimeInstance, Span,
    StartRecord, TelemetryEvent, TelemetryRecord, TelemetryStatus, TelemetrySubscriptionRecord,
};
pub use tower::{self, service_fn, Service};
