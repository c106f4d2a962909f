use firebox_runtime::{handler, Context, Error, StreamResponse};
use futures_util::stream::{self, LocalBoxStream, StreamExt};

// A `LocalBoxStream` is not `Send`: it cannot be a response.
#[handler]
async fn hello(
    _event: serde_json::Value,
    _ctx: Context,
) -> Result<StreamResponse<LocalBoxStream<'static, Result<String, Error>>>, Error> {
    Ok(StreamResponse::from(stream::iter(vec![Ok("a".to_owned())]).boxed_local()))
}
