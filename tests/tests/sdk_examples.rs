//! The SDK's example functions (`examples/`) as real processes under the emulator: every way an
//! invocation ends (success, typed error, panic, unmarshal error, timeout, crash, init
//! failure), cold and warm starts, SQS partial batch failures, the tower example, and the
//! `Context` the SDK hands a handler; and functions written for the official crates, ported
//! by renaming their dependencies.
//!
//! One emulator serves every test of this file. Tests that count cold starts own a function.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use firebox_emulator::{Emulator, FunctionConfig, InvokeOptions};
use firebox_tests::bins::{ERRORS, HELLO, INIT_STATE, PORTED_HTTP, PORTED_SQS, SQS_BATCH, TOWER};
use firebox_tests::functions::{binary_function, workspace_function};
use firebox_tests::logs::{count_starting, line_containing, report};
use firebox_tests::shared::{SharedEmulator, TestResult};
use firebox_tests::Error;
use serde_json::{json, Value};

const ACCOUNT: &str = "123456789012";
const REGION: &str = "us-east-1";

static EMU: SharedEmulator = SharedEmulator::new(functions);

fn functions() -> Result<Vec<FunctionConfig>, Error> {
    Ok(vec![
        workspace_function("hello", HELLO)?,
        workspace_function("errors", ERRORS)?,
        workspace_function("errors-panic", ERRORS)?,
        workspace_function("errors-timeout", ERRORS)?.timeout(Duration::from_secs(1)),
        workspace_function("errors-crash", ERRORS)?,
        workspace_function("init-state", INIT_STATE)?,
        workspace_function("init-fail", INIT_STATE)?.env("INIT_FAIL", "1"),
        workspace_function("sqs-batch", SQS_BATCH)?,
        workspace_function("tower", TOWER)?,
        workspace_function("ported-sqs", PORTED_SQS)?,
        workspace_function("ported-http", PORTED_HTTP)?,
        binary_function("sdk-context", env!("CARGO_BIN_EXE_sdk-context").as_ref()),
    ])
}

/// Asserts a function error as Lambda answers it: 200, `X-Amz-Function-Error: Unhandled`, and
/// an error document of type `error_type`; returns the document.
fn function_error(r: &firebox_emulator::InvokeResponse, error_type: &str) -> Value {
    assert_eq!(r.status, 200, "body: {}", r.text());
    assert_eq!(
        r.function_error.as_deref(),
        Some("Unhandled"),
        "body: {}",
        r.text()
    );
    let doc = r
        .json()
        .unwrap_or_else(|e| panic!("error document is not JSON ({e}): {}", r.text()));
    assert_eq!(doc["errorType"], error_type, "document: {doc}");
    doc
}

fn request_id(r: &firebox_emulator::InvokeResponse) -> String {
    r.request_id
        .clone()
        .unwrap_or_else(|| panic!("no X-Amzn-RequestId in {:?}", r.headers))
}

#[test]
fn hello_answers_with_its_greeting_and_a_report() -> TestResult {
    EMU.run(|emu| async move {
        let r = emu.invoke("hello", r#"{"name":"Ada"}"#).await?;
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.function_error, None);
        assert_eq!(r.json()?, json!({"message": "Hello, Ada!"}));
        assert_eq!(r.executed_version.as_deref(), Some("$LATEST"));
        let id = request_id(&r);
        let report = report(&emu, "hello", &id).await?;
        for field in [
            "\tDuration: ",
            "\tBilled Duration: ",
            "\tMemory Size: 128 MB",
            "\tMax Memory Used: ",
        ] {
            assert!(report.contains(field), "{field:?} missing from {report:?}");
        }
        line_containing(
            &emu,
            "hello",
            &format!("START RequestId: {id} Version: $LATEST"),
        )
        .await?;
        line_containing(&emu, "hello", &format!("END RequestId: {id}")).await?;
        Ok(())
    })
}

#[test]
fn typed_error_is_reported_with_its_type_name() -> TestResult {
    EMU.run(|emu| async move {
        let r = emu
            .invoke("errors", r#"{"kind":"typed","order_id":"42"}"#)
            .await?;
        let doc = function_error(&r, "OrderNotFound");
        assert_eq!(doc["errorMessage"], "order 42 not found");
        // The same environment serves the next event.
        let r = emu.invoke("errors", r#"{"kind":"ok"}"#).await?;
        assert_eq!(r.function_error, None, "{}", r.text());
        assert_eq!(r.json()?, json!({"ok": true}));
        Ok(())
    })
}

#[test]
fn panic_is_a_function_error_and_the_environment_stays_warm() -> TestResult {
    EMU.run(|emu| async move {
        let f = "errors-panic";
        let r = emu.invoke(f, r#"{"kind":"panic"}"#).await?;
        let doc = function_error(&r, "Panic");
        assert_eq!(doc["errorMessage"], "panic requested by the event");
        let cold = report(&emu, f, &request_id(&r)).await?;
        assert!(
            cold.contains("Init Duration"),
            "first invoke should be cold: {cold}"
        );

        let r = emu.invoke(f, r#"{"kind":"ok"}"#).await?;
        assert_eq!(r.json()?, json!({"ok": true}));
        let warm = report(&emu, f, &request_id(&r)).await?;
        assert!(
            !warm.contains("Init Duration"),
            "same environment expected: {warm}"
        );
        assert_eq!(count_starting(&emu, f, "INIT_START"), 1, "one process only");
        Ok(())
    })
}

#[test]
fn event_of_the_wrong_shape_is_an_unmarshal_error_naming_the_field() -> TestResult {
    EMU.run(|emu| async move {
        let r = emu.invoke("hello", r#"{"name":5}"#).await?;
        let doc = function_error(&r, "Runtime.UnmarshalError");
        let message = doc["errorMessage"].as_str().unwrap_or_default();
        assert!(message.contains("`name`"), "field path missing: {message}");

        let r = emu.invoke("errors", r#"{"kind":"no-such-kind"}"#).await?;
        function_error(&r, "Runtime.UnmarshalError");
        Ok(())
    })
}

/// Invokes `f` with `{"kind":"ok"}` after `what` (which ended the function's process) and
/// asserts that it succeeds in the same environment, reset: Init ran again inside the invoke
/// (a suppressed Init), so its `REPORT` has no `Init Duration` and no second `INIT_START` was
/// written, as on Lambda.
async fn next_invoke_runs_init_again(emu: &Emulator, f: &str, what: &str) -> TestResult {
    let r = emu.invoke(f, r#"{"kind":"ok"}"#).await?;
    assert_eq!(r.json()?, json!({"ok": true}), "{}", r.text());
    let next = report(emu, f, &request_id(&r)).await?;
    assert!(
        !next.contains("Init Duration"),
        "after {what}, Init runs inside the invoke: {next}"
    );
    assert_eq!(count_starting(emu, f, "INIT_START"), 1, "after {what}");
    Ok(())
}

#[test]
fn timeout_is_sandbox_timedout_and_the_next_invoke_runs_init_again() -> TestResult {
    EMU.run(|emu| async move {
        let f = "errors-timeout";
        let r = emu.invoke(f, r#"{"kind":"slow","ms":10000}"#).await?;
        let id = request_id(&r);
        let doc = function_error(&r, "Sandbox.Timedout");
        assert_eq!(
            doc["errorMessage"],
            format!("RequestId: {id} Error: Task timed out after 1.00 seconds")
        );
        line_containing(&emu, f, &format!("{id} Task timed out after 1.00 seconds")).await?;
        report(&emu, f, &id).await?;

        next_invoke_runs_init_again(&emu, f, "a timeout").await?;
        Ok(())
    })
}

#[test]
fn crash_mid_invoke_is_runtime_exit_error_with_the_status() -> TestResult {
    EMU.run(|emu| async move {
        let f = "errors-crash";
        let r = emu.invoke(f, r#"{"kind":"exit","code":3}"#).await?;
        let id = request_id(&r);
        let doc = function_error(&r, "Runtime.ExitError");
        assert_eq!(
            doc["errorMessage"],
            format!("RequestId: {id} Error: Runtime exited with error: exit status 3")
        );
        next_invoke_runs_init_again(&emu, f, "a crash").await?;
        Ok(())
    })
}

#[test]
fn init_failure_serves_the_runtimes_own_error_document() -> TestResult {
    EMU.run(|emu| async move {
        let f = "init-fail";
        for attempt in 1..=2 {
            let r = emu.invoke(f, "{}").await?;
            let doc = function_error(&r, "InitFailed");
            assert_eq!(
                doc["errorMessage"], "initialization failed on purpose (INIT_FAIL=1)",
                "attempt {attempt}"
            );
            let report = report(&emu, f, &request_id(&r)).await?;
            assert!(
                // The platform's type for the runtime's `InitFailed`, as Lambda's REPORT gives it.
                report.ends_with("\tStatus: error\tError Type: Runtime.Unknown"),
                "attempt {attempt}: {report}"
            );
        }
        // As on Lambda: the first invoke ran Init, then Init again inside its invoke; the
        // environment was reset and kept, and the second invoke ran Init inside its invoke.
        assert_eq!(count_starting(&emu, f, "INIT_START"), 1);
        assert_eq!(count_starting(&emu, f, "INIT_REPORT"), 3);
        Ok(())
    })
}

#[test]
fn cold_then_warm_reuses_the_init_state() -> TestResult {
    EMU.run(|emu| async move {
        let f = "init-state";
        let first = emu.invoke(f, "{}").await?;
        let first_body = first.json()?;
        assert_eq!(first_body["invocations"], 1, "{first_body}");
        let cold = report(&emu, f, &request_id(&first)).await?;
        assert!(cold.contains("\tInit Duration: "), "{cold}");
        assert!(cold.ends_with(" ms"), "Init Duration comes last: {cold}");

        let second = emu.invoke(f, "{}").await?;
        let second_body = second.json()?;
        assert_eq!(second_body["invocations"], 2, "{second_body}");
        assert_eq!(second_body["initId"], first_body["initId"]);
        let warm = report(&emu, f, &request_id(&second)).await?;
        assert!(!warm.contains("Init Duration"), "{warm}");
        Ok(())
    })
}

#[test]
fn sqs_batch_reports_only_the_failed_records() -> TestResult {
    EMU.run(|emu| async move {
        let event = firebox_events::sample::sqs()
            .message(r#"{"order":1}"#)
            .message(r#"{"fail":true}"#)
            .message("not json")
            .message(r#"{"order":4}"#)
            .to_json();
        let ids: Vec<String> = event["Records"]
            .as_array()
            .map(|records| {
                records
                    .iter()
                    .map(|r| r["messageId"].as_str().unwrap_or_default().to_owned())
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(ids.len(), 4, "{event}");
        let r = emu.invoke("sqs-batch", event.to_string()).await?;
        assert_eq!(r.function_error, None, "{}", r.text());
        assert_eq!(
            r.json()?,
            json!({"batchItemFailures": [{"itemIdentifier": ids[1]}, {"itemIdentifier": ids[2]}]})
        );

        let all_good = firebox_events::sample::sqs().message("{}").to_json();
        let r = emu.invoke("sqs-batch", all_good.to_string()).await?;
        assert_eq!(r.json()?, json!({"batchItemFailures": []}));
        Ok(())
    })
}

/// Functions written for `lambda_runtime`, `aws_lambda_events` and `lambda_http` (with
/// `#[tokio::main]` and tokio's `macros` feature only), their dependencies renamed: they build
/// alone and answer as written.
#[test]
fn functions_ported_from_the_official_crates_build_and_run() -> TestResult {
    EMU.run(|emu| async move {
        let event = firebox_events::sample::sqs()
            .message("fine")
            .message("poison")
            .to_json();
        let poisoned = event["Records"][1]["messageId"].clone();
        let r = emu.invoke("ported-sqs", event.to_string()).await?;
        assert_eq!(r.function_error, None, "{}", r.text());
        assert_eq!(
            r.json()?,
            json!({"batchItemFailures": [{"itemIdentifier": poisoned}]})
        );

        let request = firebox_events::sample::apigw_v2()
            .path("/greet")
            .query("name", "Ada")
            .to_json();
        let r = emu.invoke("ported-http", request.to_string()).await?;
        assert_eq!(r.function_error, None, "{}", r.text());
        let response = r.json()?;
        assert_eq!(response["statusCode"], 200, "{response}");
        assert_eq!(response["body"], "Hello, Ada!", "{response}");
        Ok(())
    })
}

#[test]
fn tower_layer_counts_invocations_and_logs_them() -> TestResult {
    EMU.run(|emu| async move {
        for n in 1..=2 {
            let r = emu.invoke("tower", json!({"n": n}).to_string()).await?;
            assert_eq!(
                r.json()?,
                json!({"echo": {"n": n}, "invocation": n}),
                "{}",
                r.text()
            );
            // The layer logs each request id through the SDK's tracing subscriber.
            line_containing(&emu, "tower", &request_id(&r)).await?;
        }
        Ok(())
    })
}

#[test]
fn sdk_context_matches_what_the_caller_sent() -> TestResult {
    EMU.run(|emu| async move {
        let client_context = json!({
            "client": {
                "installation_id": "install-1",
                "app_title": "e2e",
                "app_version_name": "1.0",
                "app_version_code": "1",
                "app_package_name": "rs.firebox.e2e"
            },
            "custom": {"tenant": "acme"},
        });
        let options = InvokeOptions {
            client_context: Some(client_context.to_string()),
            ..Default::default()
        };
        let before = epoch_ms();
        let r = emu
            .invoke_with("sdk-context", r#"{"x":1}"#, &options)
            .await?;
        assert_eq!(r.function_error, None, "{}", r.text());
        let body = r.json()?;
        let ctx = &body["context"];
        assert_eq!(ctx["request_id"], request_id(&r));
        assert_eq!(
            ctx["invoked_function_arn"],
            format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:sdk-context")
        );
        assert_deadline(ctx["deadline"].as_u64(), before, 20_000);
        let remaining = body["remaining_ms"].as_u64().unwrap_or_default();
        assert!(
            remaining > 0 && remaining <= 20_000,
            "remaining_ms {remaining}"
        );
        let trace = ctx["xray_trace_id"].as_str().unwrap_or_default();
        assert!(trace.starts_with("Root=1-"), "trace id {trace:?}");
        assert_eq!(ctx["client_context"]["custom"], json!({"tenant": "acme"}));
        assert_eq!(
            ctx["client_context"]["client"]["installationId"],
            "install-1"
        );
        assert_eq!(
            ctx["client_context"]["client"]["appPackageName"],
            "rs.firebox.e2e"
        );
        assert_eq!(ctx["env_config"]["function_name"], "sdk-context");
        assert_eq!(ctx["env_config"]["memory"], 128);
        assert_eq!(ctx["env_config"]["version"], "$LATEST");
        assert_eq!(body["event"], json!({"x": 1}));

        // Without a client context there is none, and the ARN carries the name as the caller
        // gave it (a full ARN here).
        let arn = format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:sdk-context");
        let r = emu.invoke(&arn, "{}").await?;
        let ctx = &r.json()?["context"];
        assert_eq!(ctx["client_context"], Value::Null);
        assert_eq!(ctx["invoked_function_arn"], arn.as_str());
        Ok(())
    })
}

fn epoch_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

/// A deadline is sensible when it lies after the invoke was sent and no further than the
/// function's timeout from then.
fn assert_deadline(deadline: Option<u64>, sent_ms: u64, timeout_ms: u64) {
    let deadline = deadline.unwrap_or_else(|| panic!("no deadline"));
    let now = epoch_ms();
    assert!(
        deadline > now && deadline <= sent_ms + timeout_ms + 1_000,
        "deadline {deadline} vs sent {sent_ms}, now {now}, timeout {timeout_ms} ms"
    );
}
