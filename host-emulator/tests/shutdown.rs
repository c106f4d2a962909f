//! A graceful shutdown of the emulator: the listener closes, idle connections close, the
//! requests in flight finish within the shutdown grace, and what outlives it is answered
//! `ServiceException` rather than cut off.

mod common;

use std::time::{Duration, Instant};

use common::*;
use firebox_emulator::Emulator;
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
