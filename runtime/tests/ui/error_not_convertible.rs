use firebox_runtime::{handler, Context};

#[derive(Debug)]
struct NotAnError;

#[handler]
async fn hello(event: serde_json::Value, _ctx: Context) -> Result<serde_json::Value, NotAnError> {
    Ok(event)
}
