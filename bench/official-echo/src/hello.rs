//! The `hello` example written with the official `lambda_runtime` crate, for comparing release
//! size and resident memory with Firebox's `examples/hello`.

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use serde::{Deserialize, Serialize};

/// The event: who to greet.
#[derive(Deserialize)]
struct Request {
    #[serde(default)]
    name: Option<String>,
}

/// The answer.
#[derive(Serialize)]
struct Response {
    message: String,
}

async fn hello(event: LambdaEvent<Request>) -> Result<Response, Error> {
    let name = event.payload.name.as_deref().unwrap_or("world");
    Ok(Response {
        message: format!("Hello, {name}!"),
    })
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    run(service_fn(hello)).await
}
