//! An external extension that counts invocations: registered for `INVOKE` and `SHUTDOWN`
//! under its executable's file name, it prints one line per event to stdout and exits 0 after
//! `SHUTDOWN`:
//!
//! ```text
//! [invoke-counter] INVOKE <requestId>
//! [invoke-counter] SHUTDOWN <reason> after <N> invokes
//! ```
//!
//! Install it as `/opt/extensions/invoke-counter` (or list it in the emulator's `extensions`).

use std::{
    process::ExitCode,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
};

use firebox_extensions::{service_fn, BoxError, Event, EventType, Extension};

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let invokes = Arc::new(AtomicU64::new(0));
    let handler = service_fn(move |event: Event| {
        let invokes = invokes.clone();
        async move {
            match event {
                Event::Invoke(invoke) => {
                    invokes.fetch_add(1, Ordering::Relaxed);
                    println!("[invoke-counter] INVOKE {}", invoke.request_id);
                }
                Event::Shutdown(shutdown) => println!(
                    "[invoke-counter] SHUTDOWN {} after {} invokes",
                    shutdown.shutdown_reason,
                    invokes.load(Ordering::Relaxed)
                ),
            }
            Ok::<(), BoxError>(())
        }
    });
    let outcome = Extension::new()
        .events(&[EventType::Invoke, EventType::Shutdown])
        .run(handler)
        .await;
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("[invoke-counter] error: {error}");
            ExitCode::FAILURE
        }
    }
}
