use firebox_runtime::{handler, Context, Error};

#[handler(flavor = "multi_thread")]
async fn hello(event: serde_json::Value, _ctx: Context) -> Result<serde_json::Value, Error> {
    Ok(event)
}
