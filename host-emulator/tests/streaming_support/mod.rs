//! Helpers of the streaming and function URL tests: the Python streaming runtime and an event
//! stream reader (the hyper client that keeps the response body open is `common::open`).
#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use firebox_emulator::eventstream::{Decoder, InvokeComplete, Message};
use firebox_emulator::FunctionConfig;

use super::common::{open, runtime, Open};

/// A function running the streaming test runtime in `mode` (`events` or `url`).
pub fn stream_fn(name: &str, mode: &str) -> FunctionConfig {
    FunctionConfig::new(name)
        .command(["python3", "-u", &runtime("stream_runtime.py"), mode])
        .timeout(Duration::from_secs(20))
}

/// Calls `InvokeWithResponseStream`.
pub async fn invoke_stream(
    endpoint: &str,
    function: &str,
    headers: &[(&str, &str)],
    payload: &str,
) -> Open {
    open(
        endpoint,
        "POST",
        &format!("/2021-11-15/functions/{function}/response-streaming-invocations"),
        headers,
        payload.to_owned(),
    )
    .await
}

/// Reads an event stream message by message.
pub struct Events {
    open: Open,
    decoder: Decoder,
}

impl Events {
    pub fn new(open: Open) -> Self {
        Self {
            open,
            decoder: Decoder::new(),
        }
    }

    /// The next message, `None` at the end of the body (with nothing left over).
    pub async fn next(&mut self) -> Option<Message> {
        loop {
            if let Some(m) = self.decoder.next_message().expect("valid event stream") {
                return Some(m);
            }
            match self.open.next_data().await {
                Some(data) => self.decoder.feed(&data),
                None => {
                    assert_eq!(
                        self.decoder.pending(),
                        0,
                        "bytes left after the last message"
                    );
                    return None;
                }
            }
        }
    }

    /// Every remaining message: the chunks' payloads and the final `InvokeComplete`.
    pub async fn rest(mut self) -> (Vec<Bytes>, InvokeComplete) {
        let mut chunks = Vec::new();
        loop {
            let m = self
                .next()
                .await
                .expect("stream ended before InvokeComplete");
            assert_eq!(m.header(":message-type"), Some("event"));
            match m.header(":event-type") {
                Some("PayloadChunk") => chunks.push(m.payload),
                Some("InvokeComplete") => {
                    let complete = serde_json::from_slice(&m.payload).expect("InvokeComplete JSON");
                    assert!(self.next().await.is_none(), "message after InvokeComplete");
                    return (chunks, complete);
                }
                other => panic!("unexpected event type {other:?}"),
            }
        }
    }
}

/// Joins chunk payloads.
pub fn concat(chunks: &[Bytes]) -> Vec<u8> {
    chunks.iter().flat_map(|c| c.iter().copied()).collect()
}

/// A fresh path in the temporary directory (not created).
pub fn flag_path(tag: &str) -> PathBuf {
    std::env::temp_dir().join(format!("firebox-{tag}-{}", uuid_like()))
}

fn uuid_like() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{}-{nanos}", std::process::id())
}
