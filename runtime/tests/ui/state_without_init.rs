use firebox_runtime::{handler, Context, Error};

struct State;

#[handler]
async fn hello(event: serde_json::Value, _ctx: Context, _state: &State) -> Result<serde_json::Value, Error> {
    Ok(event)
}
