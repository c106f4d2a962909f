//! One [`Emulator`] shared by the tests of a file, on one tokio runtime that outlives them.
//!
//! Each `#[test]` borrows the emulator through [`SharedEmulator::run`]. The emulator lives while
//! at least one test holds it and is dropped (killing every function process) when the last
//! one finishes, so nothing outlives the test binary. Tests that look at warm or cold starts
//! give their function a name no other test uses, so parallel tests cannot disturb them.

use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock, Weak};

use firebox_emulator::{Emulator, FunctionConfig};
use tokio::runtime::Runtime;

use crate::Error;

/// What a test returns: any error fails it, with its message.
pub type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// The runtime every test of this process runs on (multi-thread, so tests overlap).
fn runtime() -> Result<&'static Runtime, Error> {
    static RUNTIME: OnceLock<Result<Runtime, String>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| Error::Runtime(e.clone()))
}

/// Runs `future` to completion on the shared runtime (call it from a plain `#[test]`).
pub fn block_on<F: Future>(future: F) -> Result<F::Output, Error> {
    Ok(runtime()?.block_on(future))
}

/// An emulator built on first use from a list of functions and shared while tests use it.
pub struct SharedEmulator {
    slot: Mutex<Weak<Emulator>>,
    functions: fn() -> Result<Vec<FunctionConfig>, Error>,
}

impl SharedEmulator {
    /// An emulator that will serve the functions `functions` returns.
    pub const fn new(functions: fn() -> Result<Vec<FunctionConfig>, Error>) -> Self {
        Self {
            slot: Mutex::new(Weak::new()),
            functions,
        }
    }

    /// The running emulator, started if no test holds it at the moment. Call it outside any
    /// async context (it starts the emulator on the shared runtime).
    pub fn get(&self) -> Result<Arc<Emulator>, Error> {
        // A poisoned lock only means another test panicked while holding it; the slot is still
        // a valid `Weak`.
        let mut slot = self.slot.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(emulator) = slot.upgrade() {
            return Ok(emulator);
        }
        let functions = (self.functions)()?;
        let emulator = block_on(async move {
            let mut builder = Emulator::builder();
            for function in functions {
                builder = builder.function(function);
            }
            builder.start().await
        })??;
        let emulator = Arc::new(emulator);
        *slot = Arc::downgrade(&emulator);
        Ok(emulator)
    }

    /// Runs one test against the shared emulator, which stays up until the test is over even
    /// if the test's future does not keep its `Arc` (an `async move` block that never names it
    /// would otherwise drop the last one before the first request).
    pub fn run<F, Fut>(&self, test: F) -> TestResult
    where
        F: FnOnce(Arc<Emulator>) -> Fut,
        Fut: Future<Output = TestResult>,
    {
        let emulator = self.get()?;
        let held = Arc::clone(&emulator);
        let outcome = block_on(test(emulator));
        drop(held);
        outcome?
    }
}
