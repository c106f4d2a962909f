//! The `axum-http` and `url-stream` example binaries as real processes against a loopback
//! Runtime API server.

#![cfg(feature = "http")]

mod support;

use std::{path::PathBuf, sync::OnceLock, time::Duration};

use base64::Engine;
use firebox_events::sample;
use serde_json::{json, Value};
use support::{lambda_env, Invocation, RuntimeApiServer};

/// Builds the two HTTP examples once (same target directory and profile as the tests).
fn bin(name: &str) -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    let dir = BUILT.get_or_init(|| {
        let exe = std::env::current_exe().unwrap();
        let profile_dir = exe.parent().unwrap().parent().unwrap().to_path_buf();
        let target_dir = profile_dir.parent().unwrap().to_path_buf();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = std::process::Command::new(cargo)
            .args(["build", "--quiet", "-p", "axum-http", "-p", "url-stream"])
            .env("CARGO_TARGET_DIR", &target_dir)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building the HTTP examples failed");
        profile_dir
    });
    dir.join(name)
}

/// Runs an example until the server ends it, then returns the posted results in order.
async fn run(name: &str, script: Vec<Invocation>) -> Vec<support::Recorded> {
    let server = RuntimeApiServer::start(script).await;
    let mut command = tokio::process::Command::new(bin(name));
    command.env_clear();
    for (k, v) in lambda_env(&server.api()) {
        command.env(k, v);
    }
    let output = tokio::time::timeout(Duration::from_secs(60), command.output())
        .await
        .expect("the example exits")
        .expect("the example starts");
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    server
        .records()
        .into_iter()
        .filter(|r| r.method == "POST")
        .collect()
}

#[tokio::test]
async fn axum_http_example_routes() {
    let results = run(
        "axum-http",
        vec![
            Invocation::json("h", sample::function_url().path("/hello/Grace").to_json()),
            Invocation::json(
                "e",
                sample::apigw_v2()
                    .method("POST")
                    .path("/echo")
                    .json_body(&json!({"x": [true, null]}))
                    .to_json(),
            ),
            Invocation::json("b", sample::alb().path("/binary").to_json()),
            Invocation::json("c", sample::apigw_v2().path("/cookies").to_json()),
            Invocation::json(
                "q",
                sample::function_url()
                    .path("/query?tag=a&tag=b%20c")
                    .to_json(),
            ),
            Invocation::json(
                "bad",
                sample::apigw_v2()
                    .method("POST")
                    .path("/echo")
                    .json_body(&json!(1))
                    .header("Content-Type", "text/plain")
                    .to_json(),
            ),
        ],
    )
    .await;
    assert_eq!(results.len(), 6);
    let json: Vec<Value> = results.iter().map(|r| r.json()).collect();
    assert_eq!(json[0]["body"], "Hello, Grace!");
    assert_eq!(
        serde_json::from_str::<Value>(json[1]["body"].as_str().unwrap()).unwrap(),
        json!({"x": [true, null]})
    );
    assert_eq!(json[2]["isBase64Encoded"], true);
    assert_eq!(json[2]["headers"]["content-type"], "image/png");
    let png = base64::engine::general_purpose::STANDARD
        .decode(json[2]["body"].as_str().unwrap())
        .unwrap();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
    assert_eq!(
        json[3]["cookies"],
        json!([
            "flavor=chocolate; Path=/",
            "session=abc123; Path=/; HttpOnly"
        ])
    );
    assert_eq!(
        serde_json::from_str::<Value>(json[4]["body"].as_str().unwrap()).unwrap(),
        json!([["tag", "a"], ["tag", "b c"]])
    );
    // The last event's JSON body is sent as text/plain, so axum's `Json` refuses it.
    assert_eq!(json[5]["statusCode"], 415);
}

#[tokio::test]
async fn url_stream_example_streams_server_sent_events() {
    let results = run(
        "url-stream",
        vec![
            Invocation::json(
                "s",
                sample::function_url()
                    .path("/?count=3&delay_ms=1")
                    .to_json(),
            ),
            Invocation::json("bad", sample::function_url().path("/?count=lots").to_json()),
        ],
    )
    .await;
    assert_eq!(results.len(), 2);
    let ok = &results[0];
    assert_eq!(
        ok.header("lambda-runtime-function-response-mode"),
        Some("streaming")
    );
    let nul = ok.body.windows(8).position(|w| w == [0; 8]).unwrap();
    let prelude: Value = serde_json::from_slice(&ok.body[..nul]).unwrap();
    assert_eq!(prelude["statusCode"], 200);
    assert_eq!(prelude["headers"]["content-type"], "text/event-stream");
    assert_eq!(
        std::str::from_utf8(&ok.body[nul + 8..]).unwrap(),
        "data: {\"n\":1,\"of\":3}\n\ndata: {\"n\":2,\"of\":3}\n\ndata: {\"n\":3,\"of\":3}\n\n"
    );
    let bad = &results[1];
    let nul = bad.body.windows(8).position(|w| w == [0; 8]).unwrap();
    let prelude: Value = serde_json::from_slice(&bad.body[..nul]).unwrap();
    assert_eq!(prelude["statusCode"], 400);
    assert!(std::str::from_utf8(&bad.body[nul + 8..])
        .unwrap()
        .contains("`count` must be a number"));
}
