//! `aws-sdk-lambda` as the caller: the AWS SDK for Rust decides whether the emulator's Invoke
//! and InvokeWithResponseStream APIs are right. Each test calls the real emulator over loopback
//! with the SDK's own client and asserts on what the SDK returns: `InvokeOutput` fields, typed
//! service errors (`InvokeError::ResourceNotFoundException(_)` ...), and the response stream read
//! event by event from its `EventReceiver`.
//!
//! The client is built lean: no default HTTPS client (so no aws-lc-sys), the plain-HTTP hyper
//! 1.x connector of `aws-smithy-http-client`, static dummy credentials, `us-east-1`, and retries
//! off so that a transport error the first time is a failure, not hidden by a second attempt.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_lambda::config::retry::RetryConfig;
use aws_sdk_lambda::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_lambda::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_lambda::operation::invoke::InvokeError;
use aws_sdk_lambda::operation::invoke_with_response_stream::{
    InvokeWithResponseStreamError, InvokeWithResponseStreamOutput,
};
use aws_sdk_lambda::operation::RequestId;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{
    InvocationType, InvokeWithResponseStreamCompleteEvent,
    InvokeWithResponseStreamResponseEvent as StreamEvent, LogType, ResponseStreamingInvocationType,
};
use aws_sdk_lambda::Client;
use base64::Engine as _;
use firebox_emulator::{Emulator, FunctionConfig};
use firebox_tests::bins::{ERRORS, HELLO, STREAMING};
use firebox_tests::functions::workspace_function;
use firebox_tests::logs::{count_starting, report};
use firebox_tests::shared::{SharedEmulator, TestResult};
use firebox_tests::Error;
use serde_json::{json, Value};

static EMU: SharedEmulator = SharedEmulator::new(functions);

fn functions() -> Result<Vec<FunctionConfig>, Error> {
    Ok(vec![
        workspace_function("hello", HELLO)?,
        workspace_function("errors", ERRORS)?,
        workspace_function("streaming", STREAMING)?,
        // Its own name: the disconnect test counts its environments.
        workspace_function("streaming-disconnect", STREAMING)?,
    ])
}

/// The longest a test may take once its functions are built: a hung connection fails the test
/// instead of hanging the suite.
const LIMIT: Duration = Duration::from_secs(60);

/// Sync Invoke's request limit (6 MB), and Event's (1 MB).
const SYNC_LIMIT: usize = 6_291_456;
const EVENT_LIMIT: usize = 1_048_576;

/// An SDK client for the emulator: dummy static credentials, `us-east-1`, plain HTTP, no retries.
fn client(emu: &Emulator) -> Client {
    let http = aws_smithy_http_client::Builder::new().build_http();
    let config = aws_sdk_lambda::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            "AKIDFIREBOXE2E",
            "firebox-e2e-secret",
            None,
            None,
            "firebox-tests",
        ))
        .endpoint_url(emu.endpoint())
        .http_client(http)
        .retry_config(RetryConfig::disabled())
        .build();
    Client::from_conf(config)
}

/// Runs one test with the shared emulator and an SDK client for it, within [`LIMIT`].
fn with_sdk<F, Fut>(test: F) -> TestResult
where
    F: FnOnce(Arc<Emulator>, Client) -> Fut,
    Fut: Future<Output = TestResult>,
{
    EMU.run(|emu| async move {
        let sdk = client(&emu);
        tokio::time::timeout(LIMIT, test(emu, sdk))
            .await
            .map_err(|_| format!("the test did not finish within {} s", LIMIT.as_secs()))?
    })
}

/// The SDK error with its whole chain of causes, for a failure message.
fn explain<E, R>(error: &SdkError<E, R>) -> String
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    DisplayErrorContext(error).to_string()
}

/// A JSON string of exactly `len` bytes (a valid event, only too large).
fn json_string_of(len: usize) -> Vec<u8> {
    let mut body = vec![b'a'; len];
    body[0] = b'"';
    body[len - 1] = b'"';
    body
}

/// Decodes a base64 `LogResult`.
fn decode_log(
    log_result: Option<&str>,
) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
    let encoded = log_result.ok_or("no LogResult although Tail was asked")?;
    let bytes = base64::engine::general_purpose::STANDARD.decode(encoded)?;
    Ok(String::from_utf8(bytes)?)
}

/// Asserts that `log` holds `request_id`'s `START`, `END` and `REPORT` lines.
fn assert_own_platform_lines(log: &str, request_id: &str) {
    for line in [
        format!("START RequestId: {request_id} Version: $LATEST"),
        format!("END RequestId: {request_id}"),
        format!("REPORT RequestId: {request_id}"),
    ] {
        assert!(log.contains(&line), "{line:?} not in LogResult:\n{log}");
    }
}

// ---------------------------------------------------------------------------------------------
// Invoke
// ---------------------------------------------------------------------------------------------

#[test]
fn invoke_returns_the_payload_status_and_executed_version() -> TestResult {
    with_sdk(|_emu, sdk| async move {
        let out = sdk
            .invoke()
            .function_name("hello")
            .payload(Blob::new(r#"{"name":"Rust SDK"}"#))
            .send()
            .await
            .map_err(|e| explain(&e))?;
        assert_eq!(out.status_code(), 200);
        assert_eq!(out.function_error(), None);
        assert_eq!(out.executed_version(), Some("$LATEST"));
        assert_eq!(out.log_result(), None, "no Tail was asked");
        let request_id = out.request_id().unwrap_or_default();
        assert!(!request_id.is_empty(), "no x-amzn-RequestId");
        let payload: Value = serde_json::from_slice(out.payload().ok_or("no payload")?.as_ref())?;
        assert_eq!(payload, json!({"message": "Hello, Rust SDK!"}));
        Ok(())
    })
}

#[test]
fn invoke_by_full_arn_reaches_the_same_function() -> TestResult {
    with_sdk(|_emu, sdk| async move {
        let out = sdk
            .invoke()
            .function_name("arn:aws:lambda:us-east-1:123456789012:function:hello")
            .qualifier("$LATEST")
            .payload(Blob::new("{}"))
            .send()
            .await
            .map_err(|e| explain(&e))?;
        assert_eq!(out.status_code(), 200);
        let payload: Value = serde_json::from_slice(out.payload().ok_or("no payload")?.as_ref())?;
        assert_eq!(payload, json!({"message": "Hello, world!"}));
        Ok(())
    })
}

#[test]
fn a_function_error_is_unhandled_with_the_error_document() -> TestResult {
    with_sdk(|_emu, sdk| async move {
        let out = sdk
            .invoke()
            .function_name("errors")
            .payload(Blob::new(r#"{"kind":"typed","order_id":"7"}"#))
            .send()
            .await
            .map_err(|e| explain(&e))?;
        // A function error is not a service error: the call succeeds with FunctionError set.
        assert_eq!(out.status_code(), 200);
        assert_eq!(out.function_error(), Some("Unhandled"));
        assert_eq!(out.executed_version(), Some("$LATEST"));
        let doc: Value = serde_json::from_slice(out.payload().ok_or("no payload")?.as_ref())?;
        assert_eq!(doc["errorType"], "OrderNotFound", "{doc}");
        assert_eq!(doc["errorMessage"], "order 7 not found", "{doc}");
        Ok(())
    })
}

#[test]
fn tail_returns_this_requests_own_log_lines() -> TestResult {
    with_sdk(|_emu, sdk| async move {
        // An earlier invocation whose lines must not appear in the next one's tail.
        let earlier = sdk
            .invoke()
            .function_name("hello")
            .payload(Blob::new("{}"))
            .send()
            .await
            .map_err(|e| explain(&e))?;
        let earlier_id = earlier.request_id().ok_or("no request id")?.to_owned();

        let out = sdk
            .invoke()
            .function_name("hello")
            .log_type(LogType::Tail)
            .payload(Blob::new(r#"{"name":"tail"}"#))
            .send()
            .await
            .map_err(|e| explain(&e))?;
        assert_eq!(out.status_code(), 200);
        let request_id = out.request_id().ok_or("no request id")?;
        let log = decode_log(out.log_result())?;
        assert_own_platform_lines(&log, request_id);
        assert!(
            !log.contains(&earlier_id),
            "another request's lines in the tail:\n{log}"
        );
        // The platform lines come in order, REPORT last.
        let start = log.find("START RequestId").ok_or("no START")?;
        let end = log.find("END RequestId").ok_or("no END")?;
        let report = log.find("REPORT RequestId").ok_or("no REPORT")?;
        assert!(start < end && end < report, "out of order:\n{log}");
        Ok(())
    })
}

#[test]
fn event_answers_202_and_runs_in_the_background() -> TestResult {
    with_sdk(|emu, sdk| async move {
        let out = sdk
            .invoke()
            .function_name("hello")
            .invocation_type(InvocationType::Event)
            .payload(Blob::new(r#"{"name":"event"}"#))
            .send()
            .await
            .map_err(|e| explain(&e))?;
        assert_eq!(out.status_code(), 202);
        assert_eq!(out.function_error(), None);
        let empty = out.payload().map(|p| p.as_ref().is_empty()).unwrap_or(true);
        assert!(empty, "Event answered a payload: {:?}", out.payload());
        // The invocation does run: its REPORT line shows up in the function's log.
        let request_id = out.request_id().ok_or("no request id")?;
        report(&emu, "hello", request_id).await?;
        Ok(())
    })
}

#[test]
fn dry_run_answers_204_without_running() -> TestResult {
    with_sdk(|emu, sdk| async move {
        let out = sdk
            .invoke()
            .function_name("hello")
            .invocation_type(InvocationType::DryRun)
            .payload(Blob::new("{}"))
            .send()
            .await
            .map_err(|e| explain(&e))?;
        assert_eq!(out.status_code(), 204);
        let empty = out.payload().map(|p| p.as_ref().is_empty()).unwrap_or(true);
        assert!(empty, "DryRun answered a payload: {:?}", out.payload());
        // Nothing ran: no START line carries this request id.
        let request_id = out.request_id().ok_or("no request id")?;
        let started = emu
            .logs("hello")
            .iter()
            .any(|l| l.text.contains(request_id));
        assert!(!started, "DryRun {request_id} was logged as run");
        Ok(())
    })
}

// ---------------------------------------------------------------------------------------------
// Service errors as the SDK's typed errors
// ---------------------------------------------------------------------------------------------

/// Sends `request` and returns the SDK's typed service error, failing on success or on any
/// error that is not a service error (a transport failure, an unparsed answer).
async fn service_error<T: std::fmt::Debug>(
    request: impl Future<
        Output = Result<T, SdkError<InvokeError, aws_sdk_lambda::config::http::HttpResponse>>,
    >,
) -> Result<(InvokeError, u16), Box<dyn std::error::Error + Send + Sync>> {
    match request.await {
        Ok(out) => Err(format!("expected a service error, got {out:?}").into()),
        Err(SdkError::ServiceError(context)) => {
            let status = context.raw().status().as_u16();
            Ok((context.into_err(), status))
        }
        Err(other) => Err(format!("not a service error: {}", explain(&other)).into()),
    }
}

#[test]
fn an_unknown_function_is_resource_not_found() -> TestResult {
    with_sdk(|_emu, sdk| async move {
        let (error, status) = service_error(
            sdk.invoke()
                .function_name("no-such-function")
                .payload(Blob::new("{}"))
                .send(),
        )
        .await?;
        assert!(
            matches!(error, InvokeError::ResourceNotFoundException(_)),
            "{error:?}"
        );
        assert_eq!(status, 404);
        assert_eq!(error.code(), Some("ResourceNotFoundException"));
        let message = error.message().unwrap_or_default();
        assert!(message.contains("no-such-function"), "{message}");
        Ok(())
    })
}

#[test]
fn an_unknown_qualifier_is_resource_not_found() -> TestResult {
    with_sdk(|_emu, sdk| async move {
        let (error, status) = service_error(
            sdk.invoke()
                .function_name("hello")
                .qualifier("7")
                .payload(Blob::new("{}"))
                .send(),
        )
        .await?;
        assert!(
            matches!(error, InvokeError::ResourceNotFoundException(_)),
            "{error:?}"
        );
        assert_eq!(status, 404);
        assert!(error.message().is_some_and(|m| !m.is_empty()), "{error:?}");
        Ok(())
    })
}

#[test]
fn invalid_json_is_invalid_request_content() -> TestResult {
    with_sdk(|_emu, sdk| async move {
        let (error, status) = service_error(
            sdk.invoke()
                .function_name("hello")
                .payload(Blob::new("{not json"))
                .send(),
        )
        .await?;
        assert!(
            matches!(error, InvokeError::InvalidRequestContentException(_)),
            "{error:?}"
        );
        assert_eq!(status, 400);
        assert!(error.message().is_some_and(|m| !m.is_empty()), "{error:?}");
        Ok(())
    })
}

#[test]
fn a_payload_over_6_mb_is_request_too_large() -> TestResult {
    with_sdk(|_emu, sdk| async move {
        let (error, status) = service_error(
            sdk.invoke()
                .function_name("hello")
                .payload(Blob::new(json_string_of(SYNC_LIMIT + 1)))
                .send(),
        )
        .await?;
        assert!(
            matches!(error, InvokeError::RequestTooLargeException(_)),
            "{error:?}"
        );
        assert_eq!(status, 413);
        assert!(error.message().is_some_and(|m| !m.is_empty()), "{error:?}");
        Ok(())
    })
}

#[test]
fn an_event_payload_over_1_mb_is_request_too_large() -> TestResult {
    with_sdk(|_emu, sdk| async move {
        let (error, status) = service_error(
            sdk.invoke()
                .function_name("hello")
                .invocation_type(InvocationType::Event)
                .payload(Blob::new(json_string_of(EVENT_LIMIT + 1)))
                .send(),
        )
        .await?;
        assert!(
            matches!(error, InvokeError::RequestTooLargeException(_)),
            "{error:?}"
        );
        assert_eq!(status, 413);
        Ok(())
    })
}

// ---------------------------------------------------------------------------------------------
// InvokeWithResponseStream, read event by event
// ---------------------------------------------------------------------------------------------

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
        let result = sdk
            .invoke_with_response_stream()
            .function_name("no-such-function")
            .payload(Blob::new("{}"))
            .send()
            .await;
        match result {
            Ok(out) => {
                Err(format!("expected a service error, got status {}", out.status_code()).into())
            }
            Err(SdkError::ServiceError(context)) => {
                let status = context.raw().status().as_u16();
                let error = context.into_err();
                assert!(
                    matches!(
                        error,
                        InvokeWithResponseStreamError::ResourceNotFoundException(_)
                    ),
                    "{error:?}"
                );
                assert_eq!(status, 404);
                Ok(())
            }
            Err(other) => Err(format!("not a service error: {}", explain(&other)).into()),
        }
    })
}

#[test]
fn invalid_json_through_the_streaming_api_is_invalid_request_content() -> TestResult {
    with_sdk(|_emu, sdk| async move {
        let result = sdk
            .invoke_with_response_stream()
            .function_name("streaming")
            .payload(Blob::new("{not json"))
            .send()
            .await;
        match result {
            Ok(out) => {
                Err(format!("expected a service error, got status {}", out.status_code()).into())
            }
            Err(SdkError::ServiceError(context)) => {
                let error = context.into_err();
                assert!(
                    matches!(
                        error,
                        InvokeWithResponseStreamError::InvalidRequestContentException(_)
                    ),
                    "{error:?}"
                );
                Ok(())
            }
            Err(other) => Err(format!("not a service error: {}", explain(&other)).into()),
        }
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
