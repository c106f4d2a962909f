//! `InvokeWithResponseStream` (2021-11-15): answers 200 with an AWS event stream of
//! `PayloadChunk` events as the runtime produces bytes, ending in `InvokeComplete`. A buffered
//! function answers in one chunk; service errors (not found, throttled...) are answered as by
//! the plain Invoke API, before any event.

use crate::api::RequestBody;
use bytes::{Bytes, BytesMut};
use http::{HeaderValue, Request, Response, StatusCode};

use super::request::{prepare, read_payload, InvocationType};
use super::{answer, bad_parameter, executed, run_sync, throttled, Functions, ServiceError};
use crate::eventstream;
use crate::invocation::{Answer, Outcome, Reply};
use crate::stream::{invoke_complete, Framing, ResponseBody};

/// The content type of an event stream.
pub const EVENT_STREAM_CONTENT_TYPE: &str = "application/vnd.amazon.eventstream";

pub(super) async fn invoke(
    req: Request<RequestBody>,
    raw_name: &str,
    functions: &Functions,
    request_id: &str,
) -> Result<Response<ResponseBody>, ServiceError> {
    let prepared = prepare(&req, raw_name, functions)?;
    match prepared.invocation_type {
        InvocationType::DryRun => {
            return Ok(answer(StatusCode::NO_CONTENT, Bytes::new(), request_id))
        }
        InvocationType::Event => {
            return Err(bad_parameter(
                "InvokeWithResponseStream supports the invocation types RequestResponse and DryRun only.",
            ))
        }
        InvocationType::RequestResponse => {}
    }
    let payload = read_payload(req, InvocationType::RequestResponse).await?;
    let function = prepared.function.clone();
    let body = match run_sync(prepared, payload, request_id).await? {
        Reply::Streaming { start, outcome } => {
            ResponseBody::stream(None, start.chunks, outcome, Framing::EventStream)
        }
        Reply::Complete(outcome) => ResponseBody::full(buffered(outcome)?),
    };
    let mut response = executed(answer(StatusCode::OK, Bytes::new(), request_id), &function);
    *response.body_mut() = body;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(EVENT_STREAM_CONTENT_TYPE),
    );
    Ok(response)
}

/// The whole event stream of a buffered answer: one chunk (success) and `InvokeComplete`.
fn buffered(outcome: Outcome) -> Result<Bytes, ServiceError> {
    let mut out = BytesMut::new();
    match &outcome.answer {
        Answer::Success(body) => {
            if !body.is_empty() {
                out.extend_from_slice(&eventstream::payload_chunk(body));
            }
        }
        Answer::FunctionError(_) => {}
        Answer::Throttled { reason } => return Err(throttled(reason)),
        Answer::ServiceError(message) => {
            return Err(ServiceError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "ServiceException",
                message.clone(),
            ))
        }
    }
    out.extend_from_slice(&eventstream::invoke_complete(&invoke_complete(&outcome)));
    Ok(out.freeze())
}
