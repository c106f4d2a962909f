use firebox_runtime::{handler, Context};

#[handler]
async fn hello(_event: serde_json::Value, _ctx: Context) {}
