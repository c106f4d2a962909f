//! `aws-sdk-lambda` as the caller: the AWS SDK for Rust decides whether the emulator's Invoke
//! and InvokeWithResponseStream APIs are right. Each test calls the real emulator over loopback
//! with the SDK's own client and asserts on what the SDK returns: `InvokeOutput` fields, typed
//! service errors (`InvokeError::ResourceNotFoundException(_)` ...), and the response stream read
//! event by event from its `EventReceiver`.
//!
//! The client is built lean: no default HTTPS client (so no aws-lc-sys), the plain-HTTP hyper
//! 1.x connector of `aws-smithy-http-client`, static dummy credentials, `us-east-1`, and retries
//! off so that a transport error the first time is a failure, not hidden by a second attempt.
//!
//! The tests, by API: `invoke` (results, function errors, Tail, `Event`, `DryRun`),
//! `service_errors` (the typed errors of `InvokeError`), `streaming` (`InvokeWithResponseStream`),
//! `control_plane` (versions, aliases, the read side of the control plane and the writes it
//! does), `deploy` (`CreateFunction`, `UpdateFunctionCode` and `DeleteFunction` with a `.zip`).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_lambda::config::http::HttpResponse;
use aws_sdk_lambda::config::retry::RetryConfig;
use aws_sdk_lambda::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_lambda::error::{DisplayErrorContext, SdkError};
use aws_sdk_lambda::Client;
use base64::Engine as _;
use firebox_emulator::{
    AliasConfig, Emulator, FunctionConfig, LogLevel, LoggingConfig, VersionConfig,
};
use firebox_tests::bins::{ERRORS, HELLO, STREAMING};
use firebox_tests::functions::{control_plane_functions, workspace_function};
use firebox_tests::shared::{SharedEmulator, TestResult};
use firebox_tests::Error;

static EMU: SharedEmulator = SharedEmulator::new(functions);
/// An emulator of its own for the tests that change aliases and reserved concurrency, so that
/// the other tests never see those changes.
static CHANGED: SharedEmulator = SharedEmulator::new(control_plane_functions);

fn functions() -> Result<Vec<FunctionConfig>, Error> {
    Ok(vec![
        workspace_function("hello", HELLO)?
            .publish(1, VersionConfig::new().memory_mb(256))
            .publish(2, VersionConfig::new())
            .alias("live", AliasConfig::new("1").route("2", 0.25)),
        workspace_function("errors", ERRORS)?,
        // Never invoked: its configuration shows the JSON log format.
        workspace_function("hello-json", HELLO)?.logging(LoggingConfig {
            application_level: Some(LogLevel::Debug),
            ..LoggingConfig::json()
        }),
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
    with_sdk_on(&EMU, test)
}

/// [`with_sdk`] on `emulator`.
fn with_sdk_on<F, Fut>(emulator: &SharedEmulator, test: F) -> TestResult
where
    F: FnOnce(Arc<Emulator>, Client) -> Fut,
    Fut: Future<Output = TestResult>,
{
    emulator.run(|emu| async move {
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

/// Sends `request` and returns the SDK's typed service error with its HTTP status, failing on
/// success or on any error that is not a service error (a transport failure, an unparsed answer).
async fn service_error<T, E>(
    request: impl Future<Output = Result<T, SdkError<E, HttpResponse>>>,
) -> Result<(E, u16), Box<dyn std::error::Error + Send + Sync>>
where
    T: std::fmt::Debug,
    E: std::error::Error + 'static,
{
    match request.await {
        Ok(out) => Err(format!("expected a service error, got {out:?}").into()),
        Err(SdkError::ServiceError(context)) => {
            let status = context.raw().status().as_u16();
            Ok((context.into_err(), status))
        }
        Err(other) => Err(format!("not a service error: {}", explain(&other)).into()),
    }
}

/// The version numbers `ListVersionsByFunction` lists for `function`, in its order.
async fn version_numbers(
    sdk: &Client,
    function: &str,
) -> Result<Vec<String>, Box<dyn std::error::Error + Send + Sync>> {
    let listed = sdk
        .list_versions_by_function()
        .function_name(function)
        .send()
        .await
        .map_err(|e| explain(&e))?;
    Ok(listed
        .versions()
        .iter()
        .filter_map(|v| v.version().map(str::to_owned))
        .collect())
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

mod control_plane;
mod deploy;
mod invoke;
mod service_errors;
mod streaming;
