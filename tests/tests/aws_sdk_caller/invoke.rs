//! `invoke`: payload, status code, executed version, function errors, Tail, `Event` and
//! `DryRun`.

use aws_sdk_lambda::operation::RequestId;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{InvocationType, LogType};
use firebox_tests::logs::report;
use firebox_tests::shared::TestResult;
use serde_json::{json, Value};

use super::{assert_own_platform_lines, decode_log, explain, with_sdk};

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
