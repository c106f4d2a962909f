//! An external extension that reports what the older Logs API says: registered for `INVOKE`
//! and `SHUTDOWN` under its executable's file name, subscribed to `platform` records only, over
//! TCP (or HTTP when `LOG_REPORTER_PROTOCOL` is `http`), it prints the destination it
//! subscribed, one line per record of interest, and one on `SHUTDOWN`, then exits 0:
//!
//! ```text
//! [log-reporter] SUBSCRIBED <destination URI>
//! [log-reporter] SUBSCRIPTION <name> <types, comma-separated>
//! [log-reporter] START <requestId>
//! [log-reporter] END <requestId>
//! [log-reporter] REPORT <requestId> billed=<billedDurationMs>ms
//! [log-reporter] FAULT <text>
//! [log-reporter] SHUTDOWN <reason>
//! ```
//!
//! Like `telemetry-reporter`, it does not subscribe to `function` records, which would bring
//! its own output back. Install it as `/opt/extensions/log-reporter` (or list it in the
//! emulator's `extensions`).

use std::{process::ExitCode, time::Duration};

use firebox_extensions::{
    service_fn, BoxError, Buffering, Error, Event, EventType, Extension, LogsEvent, LogsRecord,
    Protocol, TelemetryType,
};

/// The variable that picks the protocol: `tcp` (the default) or `http`.
const PROTOCOL_VAR: &str = "LOG_REPORTER_PROTOCOL";
/// How long a batch waits at most for more records (Lambda's default is 1 s).
const BATCH_TIMEOUT_MS: u32 = 100;

/// Prints the records of interest in a batch.
async fn report(batch: Vec<LogsEvent>) -> Result<(), BoxError> {
    for event in batch {
        match event.record {
            LogsRecord::PlatformLogsSubscription(subscription) => println!(
                "[log-reporter] SUBSCRIPTION {} {}",
                subscription.name,
                subscription.types.join(",")
            ),
            LogsRecord::PlatformStart(start) => {
                println!("[log-reporter] START {}", start.request_id)
            }
            LogsRecord::PlatformEnd(end) => println!("[log-reporter] END {}", end.request_id),
            LogsRecord::PlatformReport(report) => println!(
                "[log-reporter] REPORT {} billed={}ms",
                report.request_id, report.metrics.billed_duration_ms
            ),
            LogsRecord::PlatformFault(text) => println!("[log-reporter] FAULT {text}"),
            _ => {}
        }
    }
    Ok(())
}

/// On `SHUTDOWN`, lingers so that the last batch can still arrive, then prints the reason.
async fn handle(event: Event) -> Result<(), BoxError> {
    if let Event::Shutdown(shutdown) = event {
        let linger = Duration::from_millis(2 * u64::from(BATCH_TIMEOUT_MS));
        tokio::time::sleep(linger.min(shutdown.time_remaining() / 2)).await;
        println!("[log-reporter] SHUTDOWN {}", shutdown.shutdown_reason);
    }
    Ok(())
}

async fn run(protocol: Protocol) -> Result<(), Error> {
    let buffering = Buffering::default().with_timeout_ms(BATCH_TIMEOUT_MS)?;
    let extension = Extension::new()
        .events(&[EventType::Invoke, EventType::Shutdown])
        .logs(&[TelemetryType::Platform], buffering, service_fn(report))
        .telemetry_protocol(protocol)
        .register()
        .await?;
    if let Some(listener) = extension.telemetry_listener() {
        println!("[log-reporter] SUBSCRIBED {}", listener.destination_uri());
    }
    extension.run(service_fn(handle)).await
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let protocol = match std::env::var(PROTOCOL_VAR).as_deref() {
        Err(_) | Ok("" | "tcp") => Protocol::Tcp,
        Ok("http") => Protocol::Http,
        Ok(other) => {
            eprintln!("[log-reporter] error: {PROTOCOL_VAR}={other:?} is not tcp or http");
            return ExitCode::FAILURE;
        }
    };
    match run(protocol).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("[log-reporter] error: {error}");
            ExitCode::FAILURE
        }
    }
}
