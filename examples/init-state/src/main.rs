//! `init-state`: an expensive initialization done once per execution environment, during Init,
//! and shared by every warm invocation.
//!
//! Any event is accepted. Answer: `{"invocations": n, "initId": "..."}` where `n` counts the
//! invocations this environment has served (1 on a cold start, then 2, 3, ... while warm) and
//! `initId` identifies the Init that built the state (same value for all warm invocations).
//!
//! Init failure on demand: with `INIT_FAIL=1` in the environment, the init function returns an
//! `InitFailed` error, which the runtime posts to `/runtime/init/error`
//! (`{"errorType":"InitFailed","errorMessage":"..."}`) before exiting with status 1.

use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use firebox_runtime::{handler, Context, Error};
use serde_json::{json, Value};

/// State built once during Init.
struct State {
    /// Invocations served by this environment.
    invocations: AtomicU64,
    /// Identifies the Init that built this state.
    init_id: String,
}

/// The error the init function returns when `INIT_FAIL=1`.
#[derive(Debug)]
struct InitFailed;

impl std::fmt::Display for InitFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("initialization failed on purpose (INIT_FAIL=1)")
    }
}

impl std::error::Error for InitFailed {}

/// The expensive part: stands in for loading configuration, opening connections, warming caches.
async fn build_state() -> Result<State, InitFailed> {
    if std::env::var("INIT_FAIL").is_ok_and(|v| v == "1") {
        return Err(InitFailed);
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    Ok(State {
        invocations: AtomicU64::new(0),
        init_id: format!("{:x}-{}", nanos, std::process::id()),
    })
}

#[handler(init = build_state)]
async fn count(_event: Value, _ctx: Context, state: &State) -> Result<Value, Error> {
    let n = state.invocations.fetch_add(1, Ordering::Relaxed) + 1;
    Ok(json!({ "invocations": n, "initId": state.init_id }))
}
