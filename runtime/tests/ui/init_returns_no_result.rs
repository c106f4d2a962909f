use firebox_runtime::{handler, Context, Error};

struct State;

// `init` must say whether Init worked: `Result<State, E>`, not `State`.
async fn build() -> State {
    State
}

#[handler(init = build)]
async fn hello(event: serde_json::Value, _ctx: Context, _state: &State) -> Result<serde_json::Value, Error> {
    Ok(event)
}
