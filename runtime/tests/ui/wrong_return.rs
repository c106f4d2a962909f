use firebox_runtime::{handler, Context};

#[handler]
async fn hello(event: serde_json::Value, _ctx: Context) -> serde_json::Value {
    event
}
