//! A graceful shutdown of the emulator: the listener closes, idle connections close, the
//! requests in flight and the `Event` invocations already running finish within the shutdown
//! grace, and what outlives it is answered `ServiceException` rather than cut off.

mod common;

use std::time::{Duration, Instant};

use common::*;
use firebox_emulator::{Emulator, FunctionConfig};
use tokio::io::AsyncReadExt;

/// Waits until a new connection to `addr` is refused: the listener is closed.
async fn wait_refused(addr: std::net::SocketAddr) {
    let limit = Instant::now() + Duration::from_secs(10);
    while tokio::net::TcpStream::connect(addr).await.is_ok() {
        assert!(Instant::now() < limit, "the listener still accepts");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn requests_in_flight_finish_and_the_listener_closes() {
    let emu = Emulator::builder()
        .function(function("f", "").timeout(Duration::from_secs(10)))
        .shutdown_grace(Duration::from_secs(20))
        .start()
        .await
        .unwrap();
    let (endpoint, addr) = (emu.endpoint().to_owned(), emu.addr());
    let slow =
        tokio::spawn(async move { invoke_raw(&endpoint, "f", &[], r#"{"sleep": 1}"#).await });
    wait_for_line(&emu, "f", |l| l.starts_with("START RequestId:")).await;
    // A keep-alive connection with no request in flight.
    let mut idle = tokio::net::TcpStream::connect(addr).await.unwrap();
    let stop = tokio::spawn(emu.shutdown());
    wait_refused(addr).await;
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(Duration::from_secs(10), idle.read(&mut buf))
        .await
        .expect("the idle connection is closed");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    // The invocation in flight completes and is answered.
    let r = slow.await.unwrap();
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.headers.get("x-amz-function-error"), None);
    assert_eq!(r.json()["event"]["sleep"], 1);
    stop.await.unwrap();
}

#[tokio::test]
async fn an_event_already_running_finishes_within_the_grace() {
    let emu = Emulator::builder()
        .function(function("f", "").timeout(Duration::from_secs(10)))
        .shutdown_grace(Duration::from_secs(20))
        .start()
        .await
        .unwrap();
    let mut lines = emu.subscribe_logs();
    let id = invoke_event(&emu, "f", None, serde_json::json!({"sleep": 1})).await;
    wait_for_line(&emu, "f", |l| {
        l.starts_with(&format!("START RequestId: {id}"))
    })
    .await;
    // Answered 202 long ago, no request waits for it; it still gets the grace to finish.
    emu.shutdown().await;
    let mut seen = Vec::new();
    while let Ok(line) = lines.try_recv() {
        seen.push(line.text);
    }
    assert!(
        seen.iter()
            .any(|l| l.starts_with(&format!("REPORT RequestId: {id}\t"))),
        "{seen:#?}"
    );
}

#[tokio::test]
async fn requests_outliving_the_grace_are_answered_service_exception() {
    let emu = Emulator::builder()
        .function(function("f", "").timeout(Duration::from_secs(30)))
        .shutdown_grace(Duration::from_millis(300))
        .start()
        .await
        .unwrap();
    let endpoint = emu.endpoint().to_owned();
    let running =
        tokio::spawn(async move { invoke_raw(&endpoint, "f", &[], r#"{"sleep": 20}"#).await });
    wait_for_line(&emu, "f", |l| l.starts_with("START RequestId:")).await;
    let started = Instant::now();
    emu.shutdown().await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "shutdown waited {:?}",
        started.elapsed()
    );
    let r = running.await.unwrap();
    assert_error(
        &r,
        500,
        "ServiceException",
        "The emulator is shutting down.",
    );
}

/// A runtime with a SIGTERM hook (and the internal extension that makes the Shutdown phase
/// send SIGTERM) calls `/next` after the emulator has begun to shut down: its `/next` waits
/// unanswered, as on Lambda, so the hook runs to its end instead of the runtime being told to
/// exit (a 500 would end its loop, and `main` with it, mid-hook).
#[tokio::test]
async fn a_runtime_calling_next_during_the_shutdown_phase_is_not_told_to_exit() {
    let dir = TempDir::new("shutdown-late-next");
    let script = dir.path("runtime.py");
    std::fs::write(
        &script,
        r#"import json, os, signal, sys, threading, time, urllib.error, urllib.request
API = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"]
register = urllib.request.Request(API + "/2020-01-01/extension/register", method="POST",
    data=json.dumps({"events": []}).encode(), headers={"Lambda-Extension-Name": "hook"})
registered = urllib.request.urlopen(register)
ext_id = registered.headers["Lambda-Extension-Identifier"]
registered.read()
# An internal extension with no events: its `/event/next` completes Init and never returns.
threading.Thread(daemon=True, target=lambda: urllib.request.urlopen(urllib.request.Request(
    API + "/2020-01-01/extension/event/next",
    headers={"Lambda-Extension-Identifier": ext_id})).read()).start()
def hook():
    print("hook start", flush=True)
    time.sleep(0.3)
    print("hook done", flush=True)
    os._exit(0)
signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=hook).start())
while True:
    try:
        r = urllib.request.urlopen(API + "/2018-06-01/runtime/invocation/next")
    except urllib.error.HTTPError as e:
        print("next failed", e.code, flush=True)
        sys.exit(1)
    request_id = r.headers["Lambda-Runtime-Aws-Request-Id"]
    r.read()
    urllib.request.urlopen(urllib.request.Request(
        API + "/2018-06-01/runtime/invocation/" + request_id + "/response",
        data=b'"ok"', method="POST")).read()
    # The next call comes late: after the emulator has begun its Shutdown phase.
    time.sleep(0.15)
"#,
    )
    .unwrap();
    let emu = Emulator::builder()
        .function(FunctionConfig::new("hooked").command([
            PYTHON.to_owned(),
            "-u".to_owned(),
            script.display().to_string(),
        ]))
        .start()
        .await
        .unwrap();
    let mut logs = emu.logs_from_start();
    let r = emu.invoke("hooked", "{}").await.unwrap();
    assert_eq!(r.text(), r#""ok""#);
    emu.shutdown().await;
    let mut lines = Vec::new();
    while let Ok(line) = logs.try_recv() {
        lines.push(line.text);
    }
    assert!(lines.iter().any(|l| l == "hook done"), "{lines:#?}");
    assert!(
        !lines.iter().any(|l| l.starts_with("next failed")),
        "{lines:#?}"
    );
}
