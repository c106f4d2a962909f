//! `streaming`: one function that streams some answers and buffers others, chosen by the
//! event's `mode`. Configure it with `invoke_mode = "RESPONSE_STREAM"` behind a function URL, or
//! call it with `InvokeWithResponseStream`.
//!
//! | event | outcome |
//! |---|---|
//! | `{"mode":"large","mib":N}` | streams N MiB (N a whole number, default 1) as `application/octet-stream`, in 64 KiB chunks; byte `i` of the stream is `i % 251` |
//! | `{"mode":"fail_midway"}` | streams `chunk 1\n`, `chunk 2\n`, `chunk 3\n`, then fails: trailers `Lambda-Runtime-Function-Error-Type: StreamInterrupted` and `Lambda-Runtime-Function-Error-Body` = base64 of `{"errorType":"StreamInterrupted","errorMessage":"the stream failed after 3 chunks"}` |
//! | `{"mode":"buffered"}` | a buffered JSON answer: `{"mode":"buffered","streamed":false}` |
//! | anything else | `Runtime.UnmarshalError`; the handler is not called |
//!
//! Chunks are produced by a task writing into [`channel`]; it waits whenever the Runtime API
//! connection is not ready for more, so memory stays flat whatever `mib` is.

use firebox_runtime::{
    handler,
    streaming::{channel, Body, Sender},
    Context, Error, FunctionResponse, StreamResponse,
};
use serde::Deserialize;
use serde_json::{json, Value};

/// The size of each streamed chunk.
const CHUNK: usize = 64 * 1024;

/// What the event asks for.
#[derive(Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
enum Request {
    Large {
        #[serde(default = "one")]
        mib: u64,
    },
    FailMidway,
    Buffered,
}

fn one() -> u64 {
    1
}

/// The error a stream that fails midway reports.
#[derive(Debug, thiserror::Error)]
#[error("the stream failed after {0} chunks")]
struct StreamInterrupted(u32);

#[handler]
async fn streaming(event: Request, _ctx: Context) -> Result<FunctionResponse<Value, Body>, Error> {
    let (tx, body) = channel();
    match event {
        Request::Buffered => {
            return Ok(FunctionResponse::BufferedResponse(
                json!({"mode": "buffered", "streamed": false}),
            ))
        }
        Request::Large { mib } => {
            tokio::spawn(large(tx, mib * 1024 * 1024));
        }
        Request::FailMidway => {
            tokio::spawn(fail_midway(tx));
        }
    }
    Ok(FunctionResponse::StreamingResponse(StreamResponse::from(
        body,
    )))
}

/// Writes `total` bytes, byte `i` being `i % 251`.
async fn large(mut tx: Sender, total: u64) {
    let mut sent = 0u64;
    while sent < total {
        let len = CHUNK.min((total - sent) as usize);
        let chunk: Vec<u8> = (sent..sent + len as u64).map(|i| (i % 251) as u8).collect();
        if tx.send(chunk).await.is_err() {
            return; // The response is over (the caller or the Runtime API went away).
        }
        sent += len as u64;
    }
}

/// Writes three chunks, then fails.
async fn fail_midway(mut tx: Sender) {
    for n in 1..=3 {
        if tx.send(format!("chunk {n}\n")).await.is_err() {
            return;
        }
    }
    tx.send_error(StreamInterrupted(3));
}
