//! `invoke_with_response_stream`, read event by event from the SDK's `EventReceiver`.

use aws_sdk_lambda::operation::invoke_with_response_stream::{
    InvokeWithResponseStreamError, InvokeWithResponseStreamOutput,
};
use aws_sdk_lambda::operation::RequestId;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{
    InvokeWithResponseStreamCompleteEvent, InvokeWithResponseStreamResponseEvent as StreamEvent,
    LogType, ResponseStreamingInvocationType,
};
use firebox_tests::logs::{count_starting, report};
use firebox_tests::shared::TestResult;
use serde_json::{json, Value};

use super::{assert_own_platform_lines, decode_log, explain, service_error, with_sdk};

/// What one response stream delivered, in order.
struct Streamed {
    /// Each `PayloadChunk`'s bytes, in arrival order.
    chunks: Vec<Vec<u8>>,
    /// The `InvokeComplete` event that ended the stream.
    complete: InvokeWithResponseStreamCompleteEvent,
}

impl Streamed {
    /// Every chunk joined.
    fn body(&self) -> Vec<u8> {
        self.chunks.concat()
    }
}

/// Reads `out`'s event stream to its end, one event at a time, checking its shape: payload
/// chunks, then exactly one `InvokeComplete`, then the end of the stream.
async fn read_stream(
    out: &mut InvokeWithResponseStreamOutput,
) -> Result<Streamed, Box<dyn std::error::Error + Send + Sync>> {
    let mut chunks = Vec::new();
    let mut complete = None;
    loop {
        let event = out
            .event_stream
            .recv()
            .await
            .map_err(|e| format!("reading the event stream: {}", explain(&e)))?;
        match event {
            None => break,
            Some(_) if complete.is_some() => {
                return Err("an event after InvokeComplete".into());
            }
            Some(StreamEvent::PayloadChunk(update)) => {
                let payload = update.payload.ok_or("a PayloadChunk without a payload")?;
                chunks.push(payload.into_inner());
            }
            Some(StreamEvent::InvokeComplete(event)) => complete = Some(event),
            Some(other) => return Err(format!("an unexpected event: {other:?}").into()),
        }
    }
    let complete = complete.ok_or("the stream ended without InvokeComplete")?;
    Ok(Streamed { chunks, complete })
}

#[test]
fn a_large_stream_arrives_in_several_chunks_then_invoke_complete() -> TestResult {
    with_sdk(|_emu, sdk| async move {
        const MIB: usize = 2;
        let mut out = sdk
            .invoke_with_response_stream()
            .function_name("streaming")
            .payload(Blob::new(format!(r#"{{"mode":"large","mib":{MIB}}}"#)))
            .send()
            .await
            .map_err(|e| explain(&e))?;
        assert_eq!(out.status_code(), 200);
        assert_eq!(out.executed_version(), Some("$LATEST"));
        let streamed = read_stream(&mut out).await?;

        // The function writes 64 KiB chunks: the SDK sees many events, not one buffered body.
        assert!(
            streamed.chunks.len() > 1,
            "{} chunk(s) for a {MIB} MiB stream",
            streamed.chunks.len()
        );
        assert!(
            streamed.chunks.iter().all(|c| !c.is_empty()),
            "an empty PayloadChunk"
        );
        let body = streamed.body();
        assert_eq!(body.len(), MIB * 1024 * 1024);
        // Byte i of the stream is i % 251: every byte in its place, none lost or repeated.
        let wrong = body
            .iter()
            .enumerate()
            .position(|(i, &b)| b != (i % 251) as u8);
        assert_eq!(wrong, None, "the body differs from the function's stream");

        assert_eq!(
            streamed.complete.error_code(),
            None,
            "{:?}",
            streamed.complete
        );
        assert_eq!(streamed.complete.error_details(), None);
        assert_eq!(streamed.complete.log_result(), None, "no Tail was asked");
        Ok(())
    })
}

#[test]
fn a_stream_failing_midway_ends_with_its_error_in_invoke_complete() -> TestResult {
    with_sdk(|_emu, sdk| async move {
        let mut out = sdk
            .invoke_with_response_stream()
            .function_name("streaming")
            .payload(Blob::new(r#"{"mode":"fail_midway"}"#))
            .send()
            .await
            .map_err(|e| explain(&e))?;
        assert_eq!(out.status_code(), 200);
        let streamed = read_stream(&mut out).await?;
        // What was written before the failure is delivered.
        assert_eq!(
            String::from_utf8(streamed.body())?,
            "chunk 1\nchunk 2\nchunk 3\n"
        );
        let complete = &streamed.complete;
        assert_eq!(
            complete.error_code(),
            Some("StreamInterrupted"),
            "{complete:?}"
        );
        let details = complete.error_details().unwrap_or_default();
        assert!(
            details.contains("the stream failed after 3 chunks"),
            "ErrorDetails: {details:?}"
        );
        Ok(())
    })
}

#[test]
fn a_buffered_answer_through_the_streaming_api_is_one_chunk() -> TestResult {
    with_sdk(|_emu, sdk| async move {
        for (function, event, expected) in [
            (
                "streaming",
                r#"{"mode":"buffered"}"#,
                json!({"mode": "buffered", "streamed": false}),
            ),
            (
                "hello",
                r#"{"name":"stream"}"#,
                json!({"message": "Hello, stream!"}),
            ),
        ] {
            let mut out = sdk
                .invoke_with_response_stream()
                .function_name(function)
                .payload(Blob::new(event))
                .send()
                .await
                .map_err(|e| explain(&e))?;
            assert_eq!(out.status_code(), 200, "{function}");
            let streamed = read_stream(&mut out).await?;
            assert_eq!(
                streamed.chunks.len(),
                1,
                "{function}: {:?}",
                streamed.chunks
            );
            let answer: Value = serde_json::from_slice(&streamed.chunks[0])?;
            assert_eq!(answer, expected, "{function}");
            assert_eq!(streamed.complete.error_code(), None, "{function}");
        }
        Ok(())
    })
}

#[test]
fn a_buffered_function_error_through_the_streaming_api_is_in_invoke_complete() -> TestResult {
    with_sdk(|_emu, sdk| async move {
        let mut out = sdk
            .invoke_with_response_stream()
            .function_name("errors")
            .payload(Blob::new(r#"{"kind":"typed","order_id":"9"}"#))
            .send()
            .await
            .map_err(|e| explain(&e))?;
        assert_eq!(out.status_code(), 200);
        let streamed = read_stream(&mut out).await?;
        let complete = &streamed.complete;
        assert_eq!(complete.error_code(), Some("OrderNotFound"), "{complete:?}");
        let details = complete.error_details().unwrap_or_default();
        assert!(
            details.contains("order 9 not found"),
            "ErrorDetails: {details:?}"
        );
        Ok(())
    })
}

#[test]
fn tail_through_the_streaming_api_is_in_invoke_complete() -> TestResult {
    with_sdk(|_emu, sdk| async move {
        let mut out = sdk
            .invoke_with_response_stream()
            .function_name("streaming")
            .log_type(LogType::Tail)
            .payload(Blob::new(r#"{"mode":"large","mib":1}"#))
            .send()
            .await
            .map_err(|e| explain(&e))?;
        assert_eq!(out.status_code(), 200);
        let request_id = out.request_id().ok_or("no request id")?.to_owned();
        let streamed = read_stream(&mut out).await?;
        assert_eq!(streamed.body().len(), 1024 * 1024);
        assert_eq!(streamed.complete.error_code(), None);
        let log = decode_log(streamed.complete.log_result())?;
        assert_own_platform_lines(&log, &request_id);
        Ok(())
    })
}

#[test]
fn dry_run_through_the_streaming_api_answers_204() -> TestResult {
    with_sdk(|_emu, sdk| async move {
        let out = sdk
            .invoke_with_response_stream()
            .function_name("streaming")
            .invocation_type(ResponseStreamingInvocationType::DryRun)
            .payload(Blob::new(r#"{"mode":"buffered"}"#))
            .send()
            .await
            .map_err(|e| explain(&e))?;
        assert_eq!(out.status_code(), 204);
        Ok(())
    })
}

#[test]
fn an_unknown_function_through_the_streaming_api_is_resource_not_found() -> TestResult {
    with_sdk(|_emu, sdk| async move {
        let (error, status) = service_error(
            sdk.invoke_with_response_stream()
                .function_name("no-such-function")
                .payload(Blob::new("{}"))
                .send(),
        )
        .await?;
        assert!(
            matches!(
                error,
                InvokeWithResponseStreamError::ResourceNotFoundException(_)
            ),
            "{error:?}"
        );
        assert_eq!(status, 404);
        Ok(())
    })
}

#[test]
fn invalid_json_through_the_streaming_api_is_invalid_request_content() -> TestResult {
    with_sdk(|_emu, sdk| async move {
        let (error, _status) = service_error(
            sdk.invoke_with_response_stream()
                .function_name("streaming")
                .payload(Blob::new("{not json"))
                .send(),
        )
        .await?;
        assert!(
            matches!(
                error,
                InvokeWithResponseStreamError::InvalidRequestContentException(_)
            ),
            "{error:?}"
        );
        Ok(())
    })
}

#[test]
fn a_caller_that_drops_the_stream_midway_leaves_the_environment_warm() -> TestResult {
    with_sdk(|emu, sdk| async move {
        const F: &str = "streaming-disconnect";
        // 16 MiB: far more than the emulator's channel and the socket buffers hold, so the
        // function is still writing when the caller goes away.
        let mut out = sdk
            .invoke_with_response_stream()
            .function_name(F)
            .payload(Blob::new(r#"{"mode":"large","mib":16}"#))
            .send()
            .await
            .map_err(|e| explain(&e))?;
        let request_id = out.request_id().ok_or("no request id")?.to_owned();
        let first = out
            .event_stream
            .recv()
            .await
            .map_err(|e| explain(&e))?
            .ok_or("the stream ended at once")?;
        assert!(
            matches!(first, StreamEvent::PayloadChunk(_)),
            "first event: {first:?}"
        );
        // The caller goes away mid-stream: the connection closes with the receiver.
        drop(out);

        // The invocation still runs to its end and is logged.
        let cold = report(&emu, F, &request_id).await?;
        assert!(cold.contains("Init Duration"), "{cold}");

        // The same environment serves the next call.
        let mut again = sdk
            .invoke_with_response_stream()
            .function_name(F)
            .payload(Blob::new(r#"{"mode":"buffered"}"#))
            .send()
            .await
            .map_err(|e| explain(&e))?;
        let next_id = again.request_id().ok_or("no request id")?.to_owned();
        let streamed = read_stream(&mut again).await?;
        let answer: Value = serde_json::from_slice(&streamed.body())?;
        assert_eq!(answer, json!({"mode": "buffered", "streamed": false}));
        let warm = report(&emu, F, &next_id).await?;
        assert!(!warm.contains("Init Duration"), "{warm}");
        assert_eq!(
            count_starting(&emu, F, "INIT_START"),
            1,
            "one environment only"
        );
        Ok(())
    })
}
