use firebox_runtime::{handler, Context, Error};

struct State;

async fn build() -> Result<State, Error> {
    Ok(State)
}

// The arguments after the unknown one still apply: `init` is not reported missing.
#[handler(flavour = "multi_thread", init = build)]
async fn hello(event: serde_json::Value, _ctx: Context, _state: &State) -> Result<serde_json::Value, Error> {
    Ok(event)
}
