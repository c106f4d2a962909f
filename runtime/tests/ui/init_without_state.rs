use firebox_runtime::{handler, Context, Error};

async fn build() -> Result<(), Error> {
    Ok(())
}

#[handler(init = build)]
async fn hello(event: serde_json::Value, _ctx: Context) -> Result<serde_json::Value, Error> {
    Ok(event)
}
