use firebox_runtime::{handler, Context, Error};

#[handler]
fn hello(event: serde_json::Value, _ctx: Context) -> Result<serde_json::Value, Error> {
    Ok(event)
}
