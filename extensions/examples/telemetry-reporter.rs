//! An external extension that reports what the Telemetry API says: registered for `INVOKE` and
//! `SHUTDOWN` under its executable's file name, subscribed to `platform` and `function`
//! records over HTTP (or TCP when `TELEMETRY_REPORTER_PROTOCOL` is `tcp`), it prints the
//! destination it subscribed, one line per `platform.initStart`, one per `platform.report`
//! (after the number of the function's lines it received since the previous report), one per
//! `platform.logsDropped`, and one on `SHUTDOWN`, then exits 0:
//!
//! ```text
//! [telemetry-reporter] SUBSCRIBED <destination URI>
//! [telemetry-reporter] INIT_START <initializationType>
//! [telemetry-reporter] LINES <requestId> <count>
//! [telemetry-reporter] REPORT <requestId> <status> billed=<billedDurationMs>ms
//! [telemetry-reporter] DROPPED <droppedRecords> records <droppedBytes> bytes: <reason>
//! [telemetry-reporter] SHUTDOWN <reason>
//! ```
//!
//! It does not subscribe to `extension` records: its own output is one, and printing those
//! records would print them again, endlessly.
//!
//! Install it as `/opt/extensions/telemetry-reporter` (or list it in the emulator's
//! `extensions`).

use std::{
    process::ExitCode,
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

use firebox_extensions::{
    service_fn, BoxError, Buffering, Error, Event, EventType, Extension, Protocol, TelemetryEvent,
    TelemetryRecord, TelemetryType,
};

/// The variable that picks the protocol: `http` (the default) or `tcp`.
const PROTOCOL_VAR: &str = "TELEMETRY_REPORTER_PROTOCOL";

/// The function's lines received since the last `platform.report` (batches come one at a
/// time).
static LINES: AtomicU64 = AtomicU64::new(0);

/// Prints the records of interest in a batch.
async fn report(batch: Vec<TelemetryEvent>) -> Result<(), BoxError> {
    for event in batch {
        match event.record {
            TelemetryRecord::PlatformInitStart(init) => {
                println!(
                    "[telemetry-reporter] INIT_START {}",
                    init.initialization_type
                )
            }
            TelemetryRecord::Function(_) => {
                LINES.fetch_add(1, Ordering::Relaxed);
            }
            TelemetryRecord::PlatformReport(report) => {
                let lines = LINES.swap(0, Ordering::Relaxed);
                println!("[telemetry-reporter] LINES {} {lines}", report.request_id);
                println!(
                    "[telemetry-reporter] REPORT {} {} billed={}ms",
                    report.request_id,
                    report.status.as_ref().map_or("-", |s| s.as_str()),
                    report.metrics.billed_duration_ms
                )
            }
            TelemetryRecord::PlatformLogsDropped(dropped) => println!(
                "[telemetry-reporter] DROPPED {} records {} bytes: {}",
                dropped.dropped_records, dropped.dropped_bytes, dropped.reason
            ),
            _ => {}
        }
    }
    Ok(())
}

/// How long a batch waits at most for more records (Lambda's default is 1 s).
const BATCH_TIMEOUT_MS: u32 = 100;

/// On `SHUTDOWN`, lingers so that the last batch can still arrive, then prints the reason.
async fn handle(event: Event) -> Result<(), BoxError> {
    if let Event::Shutdown(shutdown) = event {
        // The last invocation's records often come during the Shutdown phase (a frozen
        // environment cannot take them before): wait for one more batch, well before the
        // deadline.
        let linger = Duration::from_millis(2 * u64::from(BATCH_TIMEOUT_MS));
        tokio::time::sleep(linger.min(shutdown.time_remaining() / 2)).await;
        println!("[telemetry-reporter] SHUTDOWN {}", shutdown.shutdown_reason);
    }
    Ok(())
}

async fn run(protocol: Protocol) -> Result<(), Error> {
    let buffering = Buffering::default().with_timeout_ms(BATCH_TIMEOUT_MS)?;
    let extension = Extension::new()
        .events(&[EventType::Invoke, EventType::Shutdown])
        .telemetry(
            &[TelemetryType::Platform, TelemetryType::Function],
            buffering,
            service_fn(report),
        )
        .telemetry_protocol(protocol)
        .register()
        .await?;
    if let Some(listener) = extension.telemetry_listener() {
        println!(
            "[telemetry-reporter] SUBSCRIBED {}",
            listener.destination_uri()
        );
    }
    extension.run(service_fn(handle)).await
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let protocol = match std::env::var(PROTOCOL_VAR).as_deref() {
        Err(_) | Ok("" | "http") => Protocol::Http,
        Ok("tcp") => Protocol::Tcp,
        Ok(other) => {
            eprintln!("[telemetry-reporter] error: {PROTOCOL_VAR}={other:?} is not http or tcp");
            return ExitCode::FAILURE;
        }
    };
    match run(protocol).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("[telemetry-reporter] error: {error}");
            ExitCode::FAILURE
        }
    }
}
