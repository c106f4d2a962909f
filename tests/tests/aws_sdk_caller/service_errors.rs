//! Service errors as the SDK's typed errors (`InvokeError::ResourceNotFoundException(_)` ...).

use std::future::Future;

use aws_sdk_lambda::config::http::HttpResponse;
use aws_sdk_lambda::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_lambda::operation::invoke::InvokeError;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;
use firebox_tests::shared::TestResult;

use super::{explain, json_string_of, with_sdk, EVENT_LIMIT, SYNC_LIMIT};

/// Sends `request` and returns the SDK's typed service error, failing on success or on any
/// error that is not a service error (a transport failure, an unparsed answer).
async fn service_error<T: std::fmt::Debug>(
    request: impl Future<Output = Result<T, SdkError<InvokeError, HttpResponse>>>,
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
