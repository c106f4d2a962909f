//! Runtimes nobody at Firebox wrote, as real processes under the emulator: Python under
//! AWS's `awslambdaric`, Node under AWS's `aws-lambda-ric`, and Rust built with the official
//! `lambda_runtime` 1.5. Each must succeed, fail with the error document its own client
//! produces, and see the invocation context the caller sent. A Python or Node function whose
//! handler module cannot be loaded fails its Init as on Lambda: twice, the second time inside
//! the invoke.
//!
//! Needs `scripts/setup-test-deps` (the virtualenv and `fixtures/node/node_modules`); a missing
//! piece fails the tests with a message naming that script.

use std::time::{SystemTime, UNIX_EPOCH};

use firebox_emulator::{
    Emulator, FunctionConfig, InvokeOptions, InvokeResponse, LogLevel, LoggingConfig,
};
use firebox_tests::bins::{OFFICIAL_ECHO, RAW_ECHO_PIPELINED};
use firebox_tests::functions::{
    binary_function, node_function, python_function, workspace_function, DEFAULT_TIMEOUT,
};
use firebox_tests::logs::{count_starting, line_containing, lines, report};
use firebox_tests::shared::{SharedEmulator, TestResult};
use firebox_tests::Error;
use serde_json::{json, Value};

const ARN_PREFIX: &str = "arn:aws:lambda:us-east-1:123456789012:function:";

static EMU: SharedEmulator = SharedEmulator::new(functions);

fn functions() -> Result<Vec<FunctionConfig>, Error> {
    Ok(vec![
        python_function("py-echo", "app.handler")?,
        python_function("py-context", "app.context")?,
        python_function("py-logs", "app.logs")?,
        python_function("py-multiline", "app.multiline")?,
        node_function("node-logs", "index.logs")?,
        node_function("node-echo", "index.handler")?,
        node_function("node-context", "index.context")?,
        python_function("py-no-module", "missing_module.handler")?,
        node_function("node-no-module", "missing_module.handler")?,
        python_function("py-json", "app.leveled")?.logging(warn_and_above()),
        node_function("node-json", "index.leveled")?.logging(warn_and_above()),
        workspace_function("official-echo", OFFICIAL_ECHO)?,
        workspace_function("pipelined-echo", RAW_ECHO_PIPELINED)?,
        binary_function(
            "official-context",
            env!("CARGO_BIN_EXE_official-context").as_ref(),
        ),
    ])
}

/// The client context every context test sends, in the AWS Mobile SDK's shape.
/// The JSON log format, keeping the function's records of level WARN and above.
fn warn_and_above() -> LoggingConfig {
    LoggingConfig {
        application_level: Some(LogLevel::Warn),
        ..LoggingConfig::json()
    }
}

/// Invokes a function whose runtime client logs one record per level with `tag` in its
/// message, and checks the tail under the JSON format: the runtime client wrote each record
/// as JSON with the invocation's `requestId`, only WARN and ERROR are there (the runtime was
/// told the level), and the platform's lines are JSON records too.
async fn leveled_records_are_json_and_filtered(
    emu: &firebox_emulator::Emulator,
    function: &str,
    tag: &str,
) -> TestResult {
    let options = InvokeOptions {
        log_tail: true,
        ..Default::default()
    };
    let r = emu
        .invoke_with(function, json!({ "message": tag }).to_string(), &options)
        .await?;
    assert_eq!(success(&r)?, json!({"logged": 4}));
    let id = request_id(&r);
    let tail = r.log_tail.clone().unwrap_or_default();
    let records: Vec<Value> = tail
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}\n{tail}")))
        .collect();
    let mut levels = Vec::new();
    for record in &records {
        let Some(message) = record["message"].as_str() else {
            continue;
        };
        if message.contains(tag) {
            assert_eq!(record["requestId"], id.as_str(), "{record}");
            let level = record["level"].as_str().unwrap_or_default().to_uppercase();
            levels.push(if level == "WARNING" {
                "WARN".into()
            } else {
                level
            });
        }
    }
    assert_eq!(levels, ["WARN", "ERROR"], "{tail}");
    let types: Vec<&str> = records.iter().filter_map(|r| r["type"].as_str()).collect();
    assert!(types.contains(&"platform.start"), "{tail}");
    assert_eq!(types.last(), Some(&"platform.report"), "{tail}");
    Ok(())
}

fn client_context() -> Value {
    json!({
        "client": {
            "installation_id": "install-1",
            "app_title": "e2e",
            "app_version_name": "1.0",
            "app_version_code": "1",
            "app_package_name": "rs.firebox.e2e"
        },
        "custom": {"tenant": "acme"},
        "env": {"platform": "e2e"}
    })
}

fn with_client_context() -> InvokeOptions {
    InvokeOptions {
        client_context: Some(client_context().to_string()),
        ..Default::default()
    }
}

fn request_id(r: &InvokeResponse) -> String {
    r.request_id
        .clone()
        .unwrap_or_else(|| panic!("no X-Amzn-RequestId in {:?}", r.headers))
}

fn success(r: &InvokeResponse) -> Result<Value, serde_json::Error> {
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.function_error, None, "{}", r.text());
    assert_eq!(r.executed_version.as_deref(), Some("$LATEST"));
    r.json()
}

fn function_error(r: &InvokeResponse) -> Value {
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.function_error.as_deref(),
        Some("Unhandled"),
        "{}",
        r.text()
    );
    r.json()
        .unwrap_or_else(|e| panic!("error document is not JSON ({e}): {}", r.text()))
}

fn epoch_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

/// Remaining time is positive and within the function's timeout.
fn assert_remaining(remaining: Option<u64>) {
    let remaining = remaining.unwrap_or_else(|| panic!("no remaining time"));
    let timeout = DEFAULT_TIMEOUT.as_millis() as u64;
    assert!(
        remaining > 0 && remaining <= timeout,
        "remaining {remaining} ms of {timeout}"
    );
}

/// Invokes `f`, whose handler's module does not exist, and checks what Lambda shows for it: the
/// runtime's `Runtime.ImportModuleError`, after Init ran once and then again inside the invoke
/// (`INIT_REPORT ... Phase: init`, then `Phase: invoke`, one `INIT_START`), and a `REPORT`
/// with the error's status.
async fn missing_module_fails_init_twice(emu: &Emulator, f: &str) -> TestResult {
    let r = emu.invoke(f, "{}").await?;
    let doc = function_error(&r);
    assert_eq!(doc["errorType"], "Runtime.ImportModuleError", "{doc}");
    assert!(
        doc["errorMessage"]
            .as_str()
            .is_some_and(|m| m.contains("missing_module")),
        "{doc}"
    );
    let report = report(emu, f, &request_id(&r)).await?;
    assert!(
        report.ends_with("\tStatus: error\tError Type: Runtime.ImportModuleError"),
        "{report}"
    );
    let phases: Vec<String> = lines(emu, f)
        .iter()
        .filter(|t| t.starts_with("INIT_REPORT"))
        .map(|t| {
            assert!(
                t.ends_with("\tStatus: error\tError Type: Runtime.ImportModuleError"),
                "{t}"
            );
            t.split('\t').nth(1).unwrap_or_default().to_owned()
        })
        .collect();
    assert_eq!(
        phases,
        ["Phase: init", "Phase: invoke"],
        "{:#?}",
        lines(emu, f)
    );
    assert_eq!(count_starting(emu, f, "INIT_START"), 1);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Python: awslambdaric

#[test]
fn python_import_error_fails_init_twice_as_on_lambda() -> TestResult {
    EMU.run(|emu| async move { missing_module_fails_init_twice(&emu, "py-no-module").await })
}

#[test]
fn python_echo_succeeds_and_stays_warm_after_an_error() -> TestResult {
    EMU.run(|emu| async move {
        let event = json!({"hello": "world", "n": [1, 2]});
        let r = emu.invoke("py-echo", event.to_string()).await?;
        assert_eq!(success(&r)?, event);

        let r = emu
            .invoke("py-echo", r#"{"fail":true,"message":"bad input"}"#)
            .await?;
        let doc = function_error(&r);
        assert_eq!(doc["errorType"], "ValueError", "{doc}");
        assert_eq!(doc["errorMessage"], "bad input", "{doc}");
        let trace = doc["stackTrace"].as_array().cloned().unwrap_or_default();
        assert!(
            trace
                .iter()
                .any(|frame| frame.as_str().is_some_and(|f| f.contains("app.py"))),
            "stackTrace should point into app.py: {doc}"
        );
        let warm = report(&emu, "py-echo", &request_id(&r)).await?;
        assert!(
            !warm.contains("Init Duration"),
            "an error keeps the environment: {warm}"
        );

        let r = emu.invoke("py-echo", r#"[1,"two"]"#).await?;
        assert_eq!(success(&r)?, json!([1, "two"]));
        Ok(())
    })
}

#[test]
fn python_sees_the_invocation_context() -> TestResult {
    EMU.run(|emu| async move {
        let options = InvokeOptions {
            qualifier: Some("$LATEST".into()),
            ..with_client_context()
        };
        let r = emu
            .invoke_with("py-context", r#"{"x":1}"#, &options)
            .await?;
        let body = success(&r)?;
        assert_eq!(body["aws_request_id"], request_id(&r));
        assert_eq!(
            body["invoked_function_arn"],
            format!("{ARN_PREFIX}py-context:$LATEST")
        );
        assert_eq!(body["function_name"], "py-context");
        assert_eq!(body["function_version"], "$LATEST");
        assert_eq!(body["memory_limit_in_mb"], "128");
        assert_eq!(body["log_group_name"], "/aws/lambda/py-context");
        assert_remaining(body["remaining_time_ms"].as_u64());
        let cc = &body["client_context"];
        assert_eq!(cc["custom"], json!({"tenant": "acme"}), "{body}");
        assert_eq!(cc["env"], json!({"platform": "e2e"}), "{body}");
        assert_eq!(cc["client"]["installation_id"], "install-1", "{body}");
        assert_eq!(cc["client"]["app_package_name"], "rs.firebox.e2e", "{body}");
        let env = &body["environment"];
        assert_eq!(env["_HANDLER"], "app.context");
        assert_eq!(env["AWS_LAMBDA_INITIALIZATION_TYPE"], "on-demand");
        let api = env["AWS_LAMBDA_RUNTIME_API"].as_str().unwrap_or_default();
        assert!(
            api.starts_with("127.0.0.1:"),
            "AWS_LAMBDA_RUNTIME_API {api:?}"
        );
        let cwd = body["cwd"].as_str().unwrap_or_default();
        assert!(cwd.ends_with("fixtures/python"), "cwd {cwd}");
        assert_eq!(body["event"], json!({"x": 1}));

        // No client context sent: none seen.
        let r = emu.invoke("py-context", "{}").await?;
        assert_eq!(success(&r)?["client_context"], Value::Null);
        Ok(())
    })
}

#[test]
fn python_output_lands_in_the_log_tail_of_its_request() -> TestResult {
    EMU.run(|emu| async move {
        let options = InvokeOptions {
            log_tail: true,
            ..Default::default()
        };
        let r = emu
            .invoke_with(
                "py-logs",
                r#"{"lines":["first e2e line","second e2e line"]}"#,
                &options,
            )
            .await?;
        assert_eq!(success(&r)?, json!({"printed": 2}));
        let id = request_id(&r);
        let tail = r.log_tail.clone().unwrap_or_default();
        for expected in [
            format!("START RequestId: {id}"),
            "first e2e line".to_owned(),
            "second e2e line".to_owned(),
            format!("fixture stderr line for {id}"),
            format!("END RequestId: {id}"),
            format!("REPORT RequestId: {id}"),
        ] {
            assert!(
                tail.contains(&expected),
                "{expected:?} not in the tail:\n{tail}"
            );
        }
        line_containing(&emu, "py-logs", "second e2e line").await?;
        Ok(())
    })
}

/// The entries of `function`'s log from `START` to `END` of `request_id`, both excluded.
fn entries_of(emu: &Emulator, function: &str, request_id: &str) -> Vec<String> {
    let all = lines(emu, function);
    let start = all
        .iter()
        .position(|l| l.starts_with(&format!("START RequestId: {request_id}")));
    let end = all
        .iter()
        .position(|l| l.starts_with(&format!("END RequestId: {request_id}")));
    match (start, end) {
        (Some(start), Some(end)) if start < end => all[start + 1..end].to_vec(),
        _ => panic!("no START ... END of {request_id} in the log of {function}:\n{all:#?}"),
    }
}

/// A `logging` record of several lines is one log entry, as on Lambda, where awslambdaric
/// writes its records to the telemetry log descriptor (`_LAMBDA_TELEMETRY_LOG_FD`), one frame
/// each; through stdout it would be two lines.
#[test]
fn python_logging_records_of_several_lines_stay_whole() -> TestResult {
    EMU.run(|emu| async move {
        let r = emu.invoke("py-multiline", "{}").await?;
        assert_eq!(success(&r)?, json!({"logged": 1}));
        let entries = entries_of(&emu, "py-multiline", &request_id(&r));
        let record: Vec<&String> = entries
            .iter()
            .filter(|e| e.contains("first line"))
            .collect();
        assert_eq!(record.len(), 1, "{entries:#?}");
        assert!(
            record[0].contains("[WARNING]") && record[0].ends_with("first line\nsecond line"),
            "{record:?}"
        );
        Ok(())
    })
}

/// Everything a Node handler writes with `console.log` is in the log before the invocation's
/// `END`, even more than a pipe holds: aws-lambda-ric writes each record synchronously to the
/// telemetry log descriptor, as on Lambda. Through stdout, Node queues what the pipe does not
/// take at once and writes it later, after `END` (or never, once the process is frozen and
/// stopped). A record of several lines stays one entry.
#[test]
fn node_console_output_is_all_in_before_end_and_records_stay_whole() -> TestResult {
    EMU.run(|emu| async move {
        let mut printed: Vec<String> = (0..3000)
            .map(|i| format!("node line {i:04} {}", "x".repeat(40)))
            .collect();
        printed.push("a record\nof two lines".to_owned());
        let payload = json!({ "lines": printed }).to_string();
        let options = InvokeOptions {
            log_tail: true,
            ..Default::default()
        };
        let r = emu.invoke_with("node-logs", payload, &options).await?;
        assert_eq!(success(&r)?, json!({"printed": 3001}));
        let id = request_id(&r);
        let entries = entries_of(&emu, "node-logs", &id);
        let numbered = entries.iter().filter(|e| e.contains("node line ")).count();
        assert_eq!(numbered, 3000, "lines before END");
        let last = format!("node line 2999 {}", "x".repeat(40));
        assert!(entries.iter().any(|e| e.ends_with(&last)), "{last}");
        assert_eq!(
            entries
                .iter()
                .filter(|e| e.ends_with("\tINFO\ta record\nof two lines"))
                .count(),
            1,
            "one entry of two lines"
        );
        // The tail ends with this invocation's own lines: the last of them before END.
        let tail = r.log_tail.clone().unwrap_or_default();
        assert!(
            tail.contains(&format!(
                "fixture stderr line for {id}\nEND RequestId: {id}"
            )),
            "{tail}"
        );
        Ok(())
    })
}

#[test]
fn python_logs_as_json_at_the_configured_level() -> TestResult {
    EMU.run(|emu| async move {
        leveled_records_are_json_and_filtered(&emu, "py-json", "py leveled").await
    })
}

// ---------------------------------------------------------------------------------------------
// Node: aws-lambda-ric

#[test]
fn node_import_error_fails_init_twice_as_on_lambda() -> TestResult {
    EMU.run(|emu| async move { missing_module_fails_init_twice(&emu, "node-no-module").await })
}

#[test]
fn node_echo_succeeds_and_fails_with_its_error_name() -> TestResult {
    EMU.run(|emu| async move {
        let r = emu.invoke("node-echo", r#"{"hello":"world"}"#).await?;
        assert_eq!(success(&r)?, json!({"hello": "world"}));

        let r = emu
            .invoke("node-echo", r#"{"fail":true,"message":"bad input"}"#)
            .await?;
        let doc = function_error(&r);
        assert_eq!(doc["errorType"], "FixtureError", "{doc}");
        assert_eq!(doc["errorMessage"], "bad input", "{doc}");
        let warm = report(&emu, "node-echo", &request_id(&r)).await?;
        assert!(
            !warm.contains("Init Duration"),
            "an error keeps the environment: {warm}"
        );

        let r = emu.invoke("node-echo", r#""still warm""#).await?;
        assert_eq!(success(&r)?, json!("still warm"));
        Ok(())
    })
}

#[test]
fn node_sees_the_invocation_context() -> TestResult {
    EMU.run(|emu| async move {
        let r = emu
            .invoke_with("node-context", r#"{"x":1}"#, &with_client_context())
            .await?;
        let body = success(&r)?;
        assert_eq!(body["awsRequestId"], request_id(&r));
        assert_eq!(
            body["invokedFunctionArn"],
            format!("{ARN_PREFIX}node-context")
        );
        assert_eq!(body["functionName"], "node-context");
        assert_eq!(body["functionVersion"], "$LATEST");
        assert_eq!(body["logGroupName"], "/aws/lambda/node-context");
        assert_remaining(body["remainingTimeMs"].as_u64());
        assert_eq!(
            body["clientContext"]["custom"],
            json!({"tenant": "acme"}),
            "{body}"
        );
        assert_eq!(
            body["clientContext"]["env"],
            json!({"platform": "e2e"}),
            "{body}"
        );
        let cwd = body["cwd"].as_str().unwrap_or_default();
        assert!(cwd.ends_with("fixtures/node"), "cwd {cwd}");
        assert_eq!(body["event"], json!({"x": 1}));
        Ok(())
    })
}

#[test]
fn node_logs_as_json_at_the_configured_level() -> TestResult {
    EMU.run(|emu| async move {
        leveled_records_are_json_and_filtered(&emu, "node-json", "node leveled").await
    })
}

// ---------------------------------------------------------------------------------------------
// Rust: the official lambda_runtime 1.5

#[test]
fn official_runtime_echo_succeeds_and_fails_with_its_diagnostic() -> TestResult {
    EMU.run(|emu| async move {
        let r = emu.invoke("official-echo", r#"{"hello":"world"}"#).await?;
        assert_eq!(success(&r)?, json!({"hello": "world"}));

        let r = emu
            .invoke("official-echo", r#"{"fail":true,"message":"bad input"}"#)
            .await?;
        let doc = function_error(&r);
        assert_eq!(doc["errorType"], "FixtureError", "{doc}");
        // The fixture names the request id it was given: the caller's X-Amzn-RequestId.
        assert_eq!(
            doc["errorMessage"],
            format!("bad input (request {})", request_id(&r)),
            "{doc}"
        );
        let r = emu.invoke("official-echo", r#"{"after":"error"}"#).await?;
        assert_eq!(success(&r)?, json!({"after": "error"}));
        let warm = report(&emu, "official-echo", &request_id(&r)).await?;
        assert!(!warm.contains("Init Duration"), "{warm}");
        Ok(())
    })
}

#[test]
fn official_runtime_sees_the_invocation_context() -> TestResult {
    EMU.run(|emu| async move {
        let sent = epoch_ms();
        let r = emu
            .invoke_with("official-context", r#"{"x":1}"#, &with_client_context())
            .await?;
        let body = success(&r)?;
        let ctx = &body["context"];
        assert_eq!(ctx["request_id"], request_id(&r));
        assert_eq!(
            ctx["invoked_function_arn"],
            format!("{ARN_PREFIX}official-context")
        );
        let deadline = ctx["deadline"].as_u64().unwrap_or_default();
        let timeout = DEFAULT_TIMEOUT.as_millis() as u64;
        assert!(
            deadline > sent && deadline <= epoch_ms() + timeout,
            "deadline {deadline}, sent at {sent}, timeout {timeout} ms"
        );
        let trace = ctx["xray_trace_id"].as_str().unwrap_or_default();
        assert!(trace.starts_with("Root=1-"), "trace id {trace:?}");
        let cc = &ctx["client_context"];
        assert_eq!(cc["custom"], json!({"tenant": "acme"}), "{ctx}");
        assert_eq!(cc["client"]["installationId"], "install-1", "{ctx}");
        assert_eq!(ctx["env_config"]["function_name"], "official-context");
        assert_eq!(ctx["env_config"]["memory"], 128);
        assert_eq!(ctx["env_config"]["version"], "$LATEST");
        assert_eq!(body["event"], json!({"x": 1}));
        Ok(())
    })
}

/// A runtime may pipeline its requests (HTTP/1.1): `bench/raw-echo-pipelined` writes its next
/// `GET /next` right behind each `/response`. Every invoke still gets its own answer, in one
/// warm environment.
#[test]
fn a_runtime_that_pipelines_next_behind_its_response_is_served_in_order() -> TestResult {
    EMU.run(|emu| async move {
        let mut ids = Vec::new();
        for n in 0..30 {
            let event = json!({"n": n});
            let r = emu.invoke("pipelined-echo", event.to_string()).await?;
            assert_eq!(success(&r)?, event);
            ids.push(request_id(&r));
        }
        let first = report(&emu, "pipelined-echo", &ids[0]).await?;
        assert!(first.contains("Init Duration"), "{first}");
        let last = report(&emu, "pipelined-echo", &ids[29]).await?;
        assert!(!last.contains("Init Duration"), "still warm: {last}");
        Ok(())
    })
}
