//! Service errors as the SDK's typed errors (`InvokeError::ResourceNotFoundException(_)` ...).

use std::future::Future;

use aws_sdk_lambda::config::http::HttpResponse;
use aws_sdk_lambda::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_lambda::operation::invoke::InvokeError;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;
use firebox_tests::shared::TestResult;

use super::{json_string_of, service_error, with_sdk, EVENT_LIMIT, SYNC_LIMIT};

/// Sends `request`, expects the typed service error `is` accepts with HTTP `status` and a
/// message, and returns the error for further checks.
async fn rejected<T: std::fmt::Debug>(
    request: impl Future<Output = Result<T, SdkError<InvokeError, HttpResponse>>>,
    is: fn(&InvokeError) -> bool,
    status: u16,
) -> Result<InvokeError, Box<dyn std::error::Error + Send + Sync>> {
    let (error, got) = service_error(request).await?;
    assert!(is(&error), "{error:?}");
    assert_eq!(got, status);
    assert!(error.message().is_some_and(|m| !m.is_empty()), "{error:?}");
    Ok(error)
}

#[test]
fn an_unknown_function_is_resource_not_found() -> TestResult {
    with_sdk(|_emu, sdk| async move {
        let error = rejected(
            sdk.invoke()
                .function_name("no-such-function")
                .payload(Blob::new("{}"))
                .send(),
            |e| matches!(e, InvokeError::ResourceNotFoundException(_)),
            404,
        )
        .await?;
        assert_eq!(error.code(), Some("ResourceNotFoundException"));
        let message = error.message().unwrap_or_default();
        assert!(message.contains("no-such-function"), "{message}");
        Ok(())
    })
}

#[test]
fn an_unknown_qualifier_is_resource_not_found() -> TestResult {
    with_sdk(|_emu, sdk| async move {
        rejected(
            sdk.invoke()
                .function_name("hello")
                .qualifier("7")
                .payload(Blob::new("{}"))
                .send(),
            |e| matches!(e, InvokeError::ResourceNotFoundException(_)),
            404,
        )
        .await?;
        Ok(())
    })
}

#[test]
fn invalid_json_is_invalid_request_content() -> TestResult {
    with_sdk(|_emu, sdk| async move {
        rejected(
            sdk.invoke()
                .function_name("hello")
                .payload(Blob::new("{not json"))
                .send(),
            |e| matches!(e, InvokeError::InvalidRequestContentException(_)),
            400,
        )
        .await?;
        Ok(())
    })
}

#[test]
fn a_payload_over_6_mb_is_request_too_large() -> TestResult {
    with_sdk(|_emu, sdk| async move {
        rejected(
            sdk.invoke()
                .function_name("hello")
                .payload(Blob::new(json_string_of(SYNC_LIMIT + 1)))
                .send(),
            |e| matches!(e, InvokeError::RequestTooLargeException(_)),
            413,
        )
        .await?;
        Ok(())
    })
}

#[test]
fn an_event_payload_over_1_mb_is_request_too_large() -> TestResult {
    with_sdk(|_emu, sdk| async move {
        rejected(
            sdk.invoke()
                .function_name("hello")
                .invocation_type(InvocationType::Event)
                .payload(Blob::new(json_string_of(EVENT_LIMIT + 1)))
                .send(),
            |e| matches!(e, InvokeError::RequestTooLargeException(_)),
            413,
        )
        .await?;
        Ok(())
    })
}
