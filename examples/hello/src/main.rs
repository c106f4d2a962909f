//! `hello`: JSON in, JSON out, with `#[handler]`.
//!
//! Event: `{"name": "Ada"}` (`name` optional). Answer: `{"message": "Hello, Ada!"}`
//! (`"Hello, world!"` without a name). An event that is not an object with an optional string
//! `name` fails with `Runtime.UnmarshalError`.

use firebox_runtime::{handler, Context, Error};
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

#[handler]
async fn hello(event: Request, _ctx: Context) -> Result<Response, Error> {
    let name = event.name.as_deref().unwrap_or("world");
    Ok(Response {
        message: format!("Hello, {name}!"),
    })
}
