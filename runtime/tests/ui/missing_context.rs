use firebox_runtime::{handler, Error};

#[handler]
async fn hello(event: serde_json::Value, name: String) -> Result<serde_json::Value, Error> {
    let _ = name;
    Ok(event)
}
