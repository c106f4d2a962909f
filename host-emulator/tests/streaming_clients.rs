//! Response streaming with third-party programs on both ends: boto3's
//! `invoke_with_response_stream` reading the event stream event by event, Node's
//! `aws-lambda-ric` with a `streamifyResponse` handler (real trailers), and the official
//! `lambda_runtime` 1.5 streaming function. Needs `scripts/setup-test-deps`.

mod common;
mod streaming_support;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use common::*;
use firebox_emulator::FunctionConfig;
use serde_json::{json, Value};
use streaming_support::*;

/// The official streaming function, built on demand into the current target directory.
fn official_stream_fn() -> PathBuf {
    let target = std::env::var_os("FIREBOX_TARGET_DIR")
        .or_else(|| std::env::var_os("CARGO_TARGET_DIR"))
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target"));
    let bin = target.join("debug/official-stream-fn");
    if !bin.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args([
                "build",
                "-q",
                "-p",
                "official-fixture",
                "--bin",
                "official-stream-fn",
            ])
            .env("CARGO_TARGET_DIR", &target)
            .current_dir(repo())
            .status()
            .expect("run cargo build");
        assert!(status.success(), "cannot build official-stream-fn");
    }
    bin
}

/// boto3 reads the stream; prints the events as JSON (payloads as text).
const BOTO3_READER: &str = r#"
import json, sys, boto3, botocore
endpoint, function, payload, tail = sys.argv[1:5]
client = boto3.client("lambda", endpoint_url=endpoint, region_name="us-east-1",
    aws_access_key_id="x", aws_secret_access_key="x",
    config=botocore.config.Config(retries={"max_attempts": 0}))
try:
    r = client.invoke_with_response_stream(FunctionName=function, Payload=payload.encode(),
                                           LogType="Tail" if tail == "1" else "None")
except client.exceptions.ResourceNotFoundException as e:
    print(json.dumps({"error": "ResourceNotFoundException", "status": e.response["ResponseMetadata"]["HTTPStatusCode"]}))
    sys.exit(0)
out = {"status": r["StatusCode"], "version": r.get("ExecutedVersion"),
       "content_type": r.get("ResponseStreamContentType"), "events": []}
for event in r["EventStream"]:
    if "PayloadChunk" in event:
        out["events"].append({"chunk": event["PayloadChunk"]["Payload"].decode("latin-1")})
    elif "InvokeComplete" in event:
        out["events"].append({"complete": event["InvokeComplete"]})
print(json.dumps(out))
"#;

async fn boto3(endpoint: &str, function: &str, payload: Value, tail: bool) -> Value {
    let python = venv_python();
    let endpoint = endpoint.to_owned();
    let function = function.to_owned();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .args([
                "-c",
                BOTO3_READER,
                &endpoint,
                &function,
                &payload.to_string(),
            ])
            .arg(if tail { "1" } else { "0" })
            .output()
            .expect("run python")
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "boto3 failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("boto3 reader output")
}

#[tokio::test]
async fn boto3_reads_chunks_completion_errors_and_tail() {
    let emu = start(vec![stream_fn("s", "events"), function("plain", "")]).await;
    let e = emu.endpoint();
    let r = boto3(
        e,
        "s",
        json!({"chunks": ["alpha ", "beta ", "gamma"], "delay_ms": 10}),
        false,
    )
    .await;
    assert_eq!(r["status"], 200);
    assert_eq!(r["version"], "$LATEST");
    assert_eq!(
        r["events"],
        json!([{"chunk": "alpha "}, {"chunk": "beta "}, {"chunk": "gamma"}, {"complete": {}}])
    );

    let event = json!({"print": "tail line", "chunks": ["x"], "fail": {"type": "Broken", "message": "oh no"}});
    let r = boto3(e, "s", event, true).await;
    let events = r["events"].as_array().unwrap();
    assert_eq!(events[0], json!({"chunk": "x"}));
    let complete = &events[1]["complete"];
    assert_eq!(complete["ErrorCode"], "Broken");
    assert_eq!(complete["ErrorDetails"], "oh no");
    let log = complete["LogResult"].as_str().expect("LogResult");
    use base64::Engine;
    let log = base64::engine::general_purpose::STANDARD
        .decode(log)
        .unwrap();
    assert!(String::from_utf8_lossy(&log).contains("tail line"));

    // A buffered function through the streaming API: one chunk.
    let r = boto3(e, "plain", json!({"k": 1}), false).await;
    let events = r["events"].as_array().unwrap();
    assert_eq!(events.len(), 2, "{r}");
    let body: Value = serde_json::from_str(events[0]["chunk"].as_str().unwrap()).unwrap();
    assert_eq!(body["event"], json!({"k": 1}));

    let r = boto3(e, "missing", json!({}), false).await;
    assert_eq!(
        r,
        json!({"error": "ResourceNotFoundException", "status": 404})
    );
}

fn node_stream_fn(name: &str) -> FunctionConfig {
    FunctionConfig::new(name)
        .command(["node", "node_modules/aws-lambda-ric/index.mjs"])
        .code_dir(node_fixtures())
        .handler("index.stream")
        .timeout(Duration::from_secs(20))
}

#[tokio::test]
async fn node_streamify_response_chunks_in_order_and_error_trailers() {
    let emu = start(vec![node_stream_fn("node")]).await;
    let open = invoke_stream(
        emu.endpoint(),
        "node",
        &[],
        r#"{"chunks": 5, "delay_ms": 20}"#,
    )
    .await;
    assert_eq!(open.status, 200);
    let (chunks, complete) = Events::new(open).rest().await;
    let text = String::from_utf8(concat(&chunks)).unwrap();
    assert_eq!(text, "chunk 0\nchunk 1\nchunk 2\nchunk 3\nchunk 4\n");
    assert_eq!(complete.error_code, None, "{complete:?}");

    let open = invoke_stream(
        emu.endpoint(),
        "node",
        &[],
        r#"{"chunks": 4, "delay_ms": 10, "fail": true, "message": "node broke"}"#,
    )
    .await;
    let (chunks, complete) = Events::new(open).rest().await;
    assert_eq!(
        String::from_utf8(concat(&chunks)).unwrap(),
        "chunk 0\nchunk 1\n"
    );
    assert_eq!(
        complete.error_code.as_deref(),
        Some("FixtureError"),
        "{complete:?}"
    );
    assert!(
        complete
            .error_details
            .as_deref()
            .unwrap_or_default()
            .contains("node broke"),
        "{complete:?}"
    );
    // Through the plain Invoke API the same failure is a function error.
    let r = emu
        .invoke("node", r#"{"chunks": 2, "delay_ms": 1, "fail": true}"#)
        .await
        .unwrap();
    assert_eq!(r.function_error.as_deref(), Some("Unhandled"));
    assert_eq!(r.error_type().as_deref(), Some("FixtureError"));
}

#[tokio::test]
async fn official_lambda_runtime_stream_is_delivered_as_sent() {
    let bin = official_stream_fn();
    let emu = start(vec![FunctionConfig::new("official")
        .command([bin.display().to_string()])
        .timeout(Duration::from_secs(20))])
    .await;
    let open = invoke_stream(emu.endpoint(), "official", &[], r#"{"delay_ms": 10}"#).await;
    assert_eq!(open.status, 200);
    let (chunks, complete) = Events::new(open).rest().await;
    assert_eq!(complete.error_code, None);
    let bytes = concat(&chunks);
    // lambda_runtime 1.5 always sends its metadata prelude and 8 NUL bytes first.
    let at = bytes
        .windows(8)
        .position(|w| w == [0u8; 8])
        .expect("prelude separator");
    let prelude: Value = serde_json::from_slice(&bytes[..at]).unwrap();
    assert_eq!(prelude["statusCode"], 200);
    assert_eq!(&bytes[at + 8..], b"Hello\nworld\nfrom\nLambda!\n");
    assert!(
        chunks.len() >= 4,
        "chunks are forwarded as sent: {chunks:?}"
    );
}
