use std::sync::Arc;

use firebox_runtime::{handler, Context, Error};

struct State;

// `init` returns the state itself: the runtime wraps it in an `Arc`.
async fn build() -> Result<Arc<State>, Error> {
    Ok(Arc::new(State))
}

#[handler(init = build)]
async fn hello(event: serde_json::Value, _ctx: Context, _state: Arc<State>) -> Result<serde_json::Value, Error> {
    Ok(event)
}
