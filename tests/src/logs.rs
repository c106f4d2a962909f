//! Reading the emulator's log stream: waiting, with a bounded deadline, for a request's
//! platform lines (`START`, `END`, `REPORT`) or a function's own output to appear.

use std::time::{Duration, Instant};

use firebox_emulator::Emulator;

use crate::Error;

/// How long the helpers here wait for a line before giving up.
pub const LOG_WAIT: Duration = Duration::from_secs(10);

/// Polls `check` until it returns `Some`, for at most `limit`.
pub async fn wait_for<T>(
    what: impl Into<String>,
    limit: Duration,
    mut check: impl FnMut() -> Option<T>,
) -> Result<T, Error> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(found) = check() {
            return Ok(found);
        }
        if Instant::now() >= deadline {
            return Err(Error::Timeout {
                what: what.into(),
                seconds: limit.as_secs(),
            });
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The text of every line `function` has logged so far (output and platform lines).
pub fn lines(emu: &Emulator, function: &str) -> Vec<String> {
    emu.logs(function).into_iter().map(|l| l.text).collect()
}

/// How many of `function`'s lines start with `prefix` (e.g. `INIT_START`).
pub fn count_starting(emu: &Emulator, function: &str, prefix: &str) -> usize {
    emu.logs(function)
        .iter()
        .filter(|l| l.text.starts_with(prefix))
        .count()
}

/// Waits for the `REPORT` line of `request_id` and returns it.
pub async fn report(emu: &Emulator, function: &str, request_id: &str) -> Result<String, Error> {
    let prefix = format!("REPORT RequestId: {request_id}");
    wait_for(format!("`{prefix}` in {function}'s log"), LOG_WAIT, || {
        lines(emu, function)
            .into_iter()
            .find(|l| l.starts_with(&prefix))
    })
    .await
}

/// Waits for a line of `function` that contains `needle` and returns it.
pub async fn line_containing(
    emu: &Emulator,
    function: &str,
    needle: &str,
) -> Result<String, Error> {
    wait_for(format!("`{needle}` in {function}'s log"), LOG_WAIT, || {
        lines(emu, function)
            .into_iter()
            .find(|l| l.contains(needle))
    })
    .await
}

/// Waits for a line of `function` that contains `needle`; on a timeout it panics with the
/// whole log, so that the failure shows what was logged instead.
pub async fn expect_line(emu: &Emulator, function: &str, needle: &str) {
    if let Err(e) = line_containing(emu, function, needle).await {
        panic!("{e}; log was:\n{}", lines(emu, function).join("\n"));
    }
}

/// Waits until every process the emulator started has exited.
pub async fn all_processes_gone(emu: &Emulator) -> Result<(), Error> {
    wait_for("every process of the environment gone", LOG_WAIT, || {
        (emu.live_processes() == 0).then_some(())
    })
    .await
}
