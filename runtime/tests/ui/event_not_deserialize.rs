use firebox_runtime::{handler, Context, Error};

struct Order {
    id: String,
}

#[handler]
async fn hello(event: Order, _ctx: Context) -> Result<String, Error> {
    Ok(event.id)
}
