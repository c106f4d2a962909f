use firebox_runtime::{handler, Context, Error};

#[handler]
async fn hello(event: serde_json::Value, ctx: &Context) -> Result<serde_json::Value, Error> {
    let _ = &ctx.request_id;
    Ok(event)
}
