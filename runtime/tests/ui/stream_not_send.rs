use std::rc::Rc;

use firebox_runtime::{run, service_fn, Error, LambdaEvent, StreamResponse};
use futures_util::stream;

// The stream's state is an `Rc`, which is not `Send`: it cannot be a response.
async fn handler(
    _event: LambdaEvent<serde_json::Value>,
) -> Result<StreamResponse<impl futures_util::Stream<Item = Result<String, Error>>>, Error> {
    let counter = Rc::new(0u32);
    Ok(StreamResponse::from(stream::unfold(counter, |n| async move {
        (*n < 3).then(|| (Ok(n.to_string()), Rc::new(*n + 1)))
    })))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    run(service_fn(handler)).await
}
