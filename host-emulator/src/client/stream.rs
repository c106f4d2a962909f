//! `InvokeWithResponseStream` from the client side: the answer's event stream read message by
//! message as it arrives, each `PayloadChunk` handed over with the time it arrived, then the
//! `InvokeComplete` (see [`invoke_stream`] and [`crate::Emulator::invoke_stream`]).

use std::time::Instant;

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use tokio::task::JoinHandle;

use super::{decode_log, encode_path, header, send, ClientError, InvokeOptions};
use crate::eventstream::{Decoder, InvokeComplete, Message};

/// The content type of an event stream.
const EVENT_STREAM: &str = "application/vnd.amazon.eventstream";

/// One `PayloadChunk`: bytes as the runtime wrote them (one event per chunk it sent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// The payload.
    pub bytes: Bytes,
    /// When the last of its bytes was read from the connection.
    pub arrived: Instant,
}

/// The `InvokeComplete` event that ends a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamComplete {
    /// `ErrorCode`: the error type, when the stream failed (`Sandbox.Timedout`, or the one
    /// the runtime's trailers or error document gave).
    pub error_code: Option<String>,
    /// `ErrorDetails`: the error message, when the stream failed.
    pub error_details: Option<String>,
    /// `LogResult` (asked for with `InvokeOptions::log_tail`), decoded: the last 4 KB of the
    /// invocation's log.
    pub log_tail: Option<String>,
    /// When it arrived.
    pub arrived: Instant,
}

/// A whole stream: every chunk, then its end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Streamed {
    /// The chunks, in order.
    pub chunks: Vec<Chunk>,
    /// The `InvokeComplete` that ended them.
    pub complete: StreamComplete,
}

impl Streamed {
    /// The chunks' bytes, joined.
    pub fn body(&self) -> Vec<u8> {
        self.chunks
            .iter()
            .flat_map(|c| c.bytes.iter().copied())
            .collect()
    }

    /// The chunks' bytes, joined, as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body()).into_owned()
    }
}

/// An answer to `InvokeWithResponseStream`, read as it arrives. Dropping it closes the
/// connection, as a caller that goes away mid-stream does.
///
/// A `200` answer is an event stream: [`InvokeStream::next_chunk`] gives the chunks, then
/// `None` once `InvokeComplete` has arrived ([`InvokeStream::complete`]). Any other answer (a
/// service error, 204 to a `DryRun`) is read whole into `body`, and reading chunks from it is
/// [`ClientError::NotAStream`].
#[derive(Debug)]
pub struct InvokeStream {
    /// HTTP status.
    pub status: StatusCode,
    /// All response headers.
    pub headers: HeaderMap,
    /// `X-Amzn-RequestId`.
    pub request_id: Option<String>,
    /// `X-Amz-Executed-Version`.
    pub executed_version: Option<String>,
    /// `x-amzn-ErrorType` of a service error (`ResourceNotFoundException`...).
    pub error_code: Option<String>,
    /// The body of an answer that is not an event stream (a service error document); empty
    /// for an event stream.
    pub body: Bytes,
    state: State,
    /// Closes the connection when the stream is dropped.
    _driver: Driver,
}

#[derive(Debug)]
enum State {
    /// Messages still to come.
    Open {
        body: Incoming,
        decoder: Decoder,
        /// When the last bytes were read.
        last_read: Instant,
    },
    /// `InvokeComplete` has arrived.
    Complete(StreamComplete),
    /// The answer is no event stream.
    NotAStream,
}

/// Calls `InvokeWithResponseStream` for `function` at `endpoint` (`http://host:port`) and
/// returns once the answer's head has arrived; the chunks are read as they come with
/// [`InvokeStream::next_chunk`]. `options.invocation_type` may be `RequestResponse` or `DryRun`
/// (`Event` is answered 400, as Lambda does).
pub async fn invoke_stream(
    endpoint: &str,
    function: &str,
    payload: Bytes,
    options: &InvokeOptions,
) -> Result<InvokeStream, ClientError> {
    let path = format!(
        "/2021-11-15/functions/{}/response-streaming-invocations",
        encode_path(function)
    );
    let sent = send(endpoint, path, payload, options).await?;
    let parts = sent.head;
    let is_stream = parts.status == StatusCode::OK
        && header(&parts.headers, "content-type").as_deref() == Some(EVENT_STREAM);
    let (body, state) = if is_stream {
        let state = State::Open {
            body: sent.body,
            decoder: Decoder::new(),
            last_read: Instant::now(),
        };
        (Bytes::new(), state)
    } else {
        let body = sent.body.collect().await;
        sent.driver.abort();
        (body?.to_bytes(), State::NotAStream)
    };
    Ok(InvokeStream {
        status: parts.status,
        request_id: header(&parts.headers, "x-amzn-requestid"),
        executed_version: header(&parts.headers, "x-amz-executed-version"),
        error_code: header(&parts.headers, "x-amzn-errortype"),
        headers: parts.headers,
        body,
        state,
        _driver: Driver(Some(sent.driver)),
    })
}

impl InvokeStream {
    /// The next chunk, as soon as it has arrived; `None` once `InvokeComplete` has (then in
    /// [`InvokeStream::complete`]). [`ClientError::NotAStream`] when the answer is not an
    /// event stream; [`ClientError::StreamProtocol`] when the stream ends without
    /// `InvokeComplete` or carries anything else.
    pub async fn next_chunk(&mut self) -> Result<Option<Chunk>, ClientError> {
        loop {
            let State::Open {
                body,
                decoder,
                last_read,
            } = &mut self.state
            else {
                return match self.state {
                    State::Complete(_) => Ok(None),
                    _ => Err(ClientError::NotAStream {
                        status: self.status,
                        error_code: self.error_code.clone(),
                        body: String::from_utf8_lossy(&self.body).into_owned(),
                    }),
                };
            };
            if let Some(message) = decoder.next_message()? {
                let arrived = *last_read;
                match event_type(&message)?.to_owned().as_str() {
                    "PayloadChunk" => {
                        return Ok(Some(Chunk {
                            bytes: message.payload,
                            arrived,
                        }))
                    }
                    "InvokeComplete" => {
                        let complete = complete(&message.payload, arrived)?;
                        // Nothing may follow it: read the body to its end.
                        while let Some(frame) = body.frame().await {
                            if let Ok(data) = frame?.into_data() {
                                decoder.feed(&data);
                            }
                        }
                        if decoder.pending() > 0 {
                            return Err(ClientError::StreamProtocol(format!(
                                "{} bytes after InvokeComplete",
                                decoder.pending()
                            )));
                        }
                        self.state = State::Complete(complete);
                        return Ok(None);
                    }
                    other => {
                        return Err(ClientError::StreamProtocol(format!(
                            "unexpected event `{other}`"
                        )))
                    }
                }
            }
            match body.frame().await {
                Some(frame) => {
                    // Trailers carry nothing here; data is fed to the decoder.
                    if let Ok(data) = frame?.into_data() {
                        *last_read = Instant::now();
                        decoder.feed(&data);
                    }
                }
                None => {
                    return Err(ClientError::StreamProtocol(format!(
                    "the stream ended before InvokeComplete ({} bytes of an unfinished message)",
                    decoder.pending()
                )))
                }
            }
        }
    }

    /// The `InvokeComplete` that ended the stream, once [`InvokeStream::next_chunk`] has
    /// returned `None`.
    pub fn complete(&self) -> Option<&StreamComplete> {
        match &self.state {
            State::Complete(complete) => Some(complete),
            _ => None,
        }
    }

    /// Reads the rest of the stream: the chunks not read yet, and the `InvokeComplete`.
    pub async fn finish(&mut self) -> Result<Streamed, ClientError> {
        let mut chunks = Vec::new();
        while let Some(chunk) = self.next_chunk().await? {
            chunks.push(chunk);
        }
        let complete = self.complete().cloned().ok_or_else(|| {
            ClientError::StreamProtocol("the stream has no InvokeComplete".into())
        })?;
        Ok(Streamed { chunks, complete })
    }
}

/// The `:event-type` of an event message; anything else (an exception) is refused.
fn event_type(message: &Message) -> Result<&str, ClientError> {
    match message.header(":message-type") {
        Some("event") => message
            .header(":event-type")
            .ok_or_else(|| ClientError::StreamProtocol("an event without `:event-type`".into())),
        other => Err(ClientError::StreamProtocol(format!(
            "a message of type {other:?} ({:?}): {}",
            message.header(":exception-type"),
            String::from_utf8_lossy(&message.payload)
        ))),
    }
}

/// The `InvokeComplete` JSON, its log tail decoded.
fn complete(payload: &[u8], arrived: Instant) -> Result<StreamComplete, ClientError> {
    let c: InvokeComplete = serde_json::from_slice(payload).map_err(|e| {
        ClientError::StreamProtocol(format!("InvokeComplete is not its JSON object: {e}"))
    })?;
    Ok(StreamComplete {
        error_code: c.error_code,
        error_details: c.error_details,
        log_tail: c.log_result.as_deref().and_then(decode_log),
        arrived,
    })
}

/// The task that drives the connection, aborted when the stream is dropped.
#[derive(Debug)]
struct Driver(Option<JoinHandle<Result<(), hyper::Error>>>);

impl Drop for Driver {
    fn drop(&mut self) {
        if let Some(task) = self.0.take() {
            task.abort();
        }
    }
}
