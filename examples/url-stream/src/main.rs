//! Server-sent events through a function URL in `RESPONSE_STREAM` mode: every request gets
//! `text/event-stream` with `count` events (default 5), `delay_ms` apart (default 200), each
//! sent to the client as soon as it is produced.
//!
//! ```text
//! curl -N 'http://url-stream.lambda-url.localhost:3001/?count=3&delay_ms=500'
//! data: {"n":1,"of":3}
//!
//! data: {"n":2,"of":3}
//! ...
//! ```
//!
//! Query values that are not numbers, or are out of range (count 1..=1000, delay 0..=10000),
//! answer 400.

use std::{convert::Infallible, time::Duration};

use axum::{
    body::{Body, Bytes},
    http::{header, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
    Router,
};
use firebox_runtime::{
    http::{run_with_streaming_response, RequestExt},
    Error,
};

fn number(
    request: &axum::extract::Request,
    name: &str,
    default: u64,
    max: u64,
) -> Result<u64, String> {
    match request.query_string_parameters().first(name) {
        None => Ok(default),
        Some(raw) => match raw.parse::<u64>() {
            Ok(n) if n <= max => Ok(n),
            _ => Err(format!(
                "`{name}` must be a number up to {max}, not {raw:?}\n"
            )),
        },
    }
}

async fn events(request: axum::extract::Request) -> Response {
    let parsed = number(&request, "count", 5, 1000).and_then(|count| {
        if count == 0 {
            return Err("`count` must be at least 1\n".to_owned());
        }
        Ok((count, number(&request, "delay_ms", 200, 10_000)?))
    });
    let (count, delay_ms) = match parsed {
        Ok(values) => values,
        Err(message) => return (StatusCode::BAD_REQUEST, message).into_response(),
    };
    let stream = futures_util::stream::unfold(1u64, move |n| async move {
        if n > count {
            return None;
        }
        if n > 1 {
            tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        }
        let event = format!("data: {{\"n\":{n},\"of\":{count}}}\n\n");
        Some((Ok::<_, Infallible>(Bytes::from(event)), n + 1))
    });
    (
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        Body::from_stream(stream),
    )
        .into_response()
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let app = Router::new().fallback(get(events));
    run_with_streaming_response(app).await
}
