use firebox_runtime::{handler, Error};

#[handler]
async fn hello(event: serde_json::Value) -> Result<serde_json::Value, Error> {
    Ok(event)
}
