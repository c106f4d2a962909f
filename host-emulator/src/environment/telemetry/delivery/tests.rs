//! The delivery against a real HTTP destination that holds its answers: batching, the bounded
//! buffer, the records dropped while a batch is held, their announcement, and flushes.

use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

use super::Delivery;
use crate::environment::telemetry::sending::OVERFLOW_REASON;
use crate::environment::telemetry::{
    Protocol, TelemetryApi, TelemetrySubscription, TelemetryTypes,
};

fn subscription(port: u16, max_items: usize) -> TelemetrySubscription {
    TelemetrySubscription {
        api: TelemetryApi::Telemetry,
        schema_version: "2022-12-13".into(),
        types: TelemetryTypes {
            platform: true,
            function: true,
            extension: false,
        },
        protocol: Protocol::Http,
        host: "127.0.0.1".into(),
        port,
        path: "/telemetry".into(),
        max_items,
        max_bytes: 1_048_576,
        timeout: Duration::from_millis(25),
    }
}

fn line(i: usize) -> Value {
    json!({"time": "2026-01-01T00:00:00.000Z", "type": "function", "record": format!("line {i}")})
}

/// Reads one HTTP request from `conn`; its body as JSON.
async fn request(conn: &mut BufReader<TcpStream>) -> Value {
    let mut length = 0;
    loop {
        let mut header = String::new();
        let read = tokio::time::timeout(Duration::from_secs(10), conn.read_line(&mut header))
            .await
            .expect("a request within 10 s")
            .unwrap();
        assert!(read > 0, "the connection closed");
        if header == "\r\n" {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap();
            }
        }
    }
    let mut body = vec![0; length];
    conn.read_exact(&mut body).await.unwrap();
    serde_json::from_slice(&body).unwrap()
}

async fn answer_ok(conn: &mut BufReader<TcpStream>) {
    conn.get_mut()
        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
        .await
        .unwrap();
}

#[tokio::test]
async fn records_that_find_the_buffer_full_while_a_batch_is_held_are_dropped_and_announced() {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (delivery, task) = Delivery::start(subscription(port, 1000));
    // 3,000 records at once, maxItems 1,000: the first 1,000 go out as a batch that the
    // destination holds; the next 1,000 fill the buffer; the last 1,000 find it full.
    for i in 0..3000 {
        delivery.record(&line(i).to_string());
    }
    let (flushed, mut flush_done) = oneshot::channel();
    delivery.flush(flushed);

    let (conn, _) = listener.accept().await.unwrap();
    let mut conn = BufReader::new(conn);
    let first = request(&mut conn).await;
    let first = first.as_array().unwrap();
    assert_eq!(first.len(), 1000);
    assert_eq!((&first[0], &first[999]), (&line(0), &line(999)));
    // The batch is held a while; the flush is not answered before everything is through.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(flush_done.try_recv().is_err(), "flushed before delivery");
    answer_ok(&mut conn).await;

    let second = request(&mut conn).await;
    let second = second.as_array().unwrap();
    assert_eq!(second.len(), 1001, "the announcement, then the buffer");
    assert_eq!(second[0]["type"], "platform.logsDropped");
    let dropped_bytes: usize = (2000..3000).map(|i| line(i).to_string().len()).sum();
    assert_eq!(
        second[0]["record"],
        json!({"reason": OVERFLOW_REASON, "droppedRecords": 1000, "droppedBytes": dropped_bytes})
    );
    assert_eq!((&second[1], &second[1000]), (&line(1000), &line(1999)));
    answer_ok(&mut conn).await;
    tokio::time::timeout(Duration::from_secs(10), flush_done)
        .await
        .expect("the flush is answered once the buffer is delivered")
        .unwrap();

    // Nothing is dropped once the destination keeps up, and the announcement is not repeated.
    delivery.record(&line(3000).to_string());
    let third = request(&mut conn).await;
    assert_eq!(third, json!([line(3000)]), "sent after timeoutMs");
    answer_ok(&mut conn).await;
    drop(delivery);
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("the task ends once the environment lets go")
        .unwrap();
}

#[tokio::test]
async fn what_is_left_is_sent_when_the_environment_lets_go() {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut to = subscription(port, 1000);
    to.timeout = Duration::from_secs(30);
    let (delivery, task) = Delivery::start(to);
    delivery.record(&line(0).to_string());
    drop(delivery);
    let (conn, _) = listener.accept().await.unwrap();
    let mut conn = BufReader::new(conn);
    assert_eq!(request(&mut conn).await, json!([line(0)]));
    answer_ok(&mut conn).await;
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("the task ends")
        .unwrap();
}
