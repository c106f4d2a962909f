use firebox_runtime::{handler, Context, Error};

struct Opaque;

#[handler]
async fn hello(_event: serde_json::Value, _ctx: Context) -> Result<Opaque, Error> {
    Ok(Opaque)
}
