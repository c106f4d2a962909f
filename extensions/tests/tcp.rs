//! TCP destinations, against the in-test harness of `harness/` (NOT the emulator): the
//! subscription's body names `tcp://sandbox.localdomain:PORT`, and the listener reads what
//! Lambda writes — newline-delimited JSON on a connection it keeps, and reopens — however the
//! writes cut the records, skipping malformed and over-long lines.

mod harness;

use std::time::Duration;

use firebox_extensions::{
    service_fn, BoxError, Buffering, Event, Extension, Protocol, RegisteredExtension,
    TelemetryEvent, TelemetryRecord, TelemetryType,
};
use harness::{telemetry_record as record, Harness};
use serde_json::{json, Value};
use tokio::{io::AsyncWriteExt, net::TcpStream, sync::mpsc};

const REGISTER: &str = "/2020-01-01/extension/register";
const TELEMETRY: &str = "/2022-07-01/telemetry";
/// The listener's longest line (Lambda's largest batch).
const MAX_LINE: usize = 1024 * 1024;

type Batches = mpsc::UnboundedReceiver<Vec<TelemetryEvent>>;

/// An external extension registered against `harness`, subscribed over TCP to `platform` and
/// `function` records, whose handler sends every batch to the test.
async fn registered(harness: &Harness) -> (RegisteredExtension, Batches) {
    let (to, from) = mpsc::unbounded_channel();
    let extension = Extension::new()
        .name("tcp-ext")
        .endpoint(harness.endpoint.clone())
        .telemetry(
            &[TelemetryType::Platform, TelemetryType::Function],
            Buffering::new(1_000, 262_144, 25).unwrap(),
            service_fn(move |batch| std::future::ready(to.send(batch).map_err(BoxError::from))),
        )
        .telemetry_protocol(Protocol::Tcp)
        .register()
        .await
        .unwrap();
    (extension, from)
}

/// The next batch the handler got (within 10 s).
async fn next_batch(from: &mut Batches) -> Vec<TelemetryEvent> {
    tokio::time::timeout(Duration::from_secs(10), from.recv())
        .await
        .expect("a batch within 10 s")
        .expect("the handler is alive")
}

/// Asserts that no batch comes within a short while.
async fn no_batch(from: &mut Batches) {
    if let Ok(batch) = tokio::time::timeout(Duration::from_millis(200), from.recv()).await {
        panic!("unexpected batch: {batch:?}");
    }
}

/// `record` as a line: its JSON and a newline.
fn line(record: &Value) -> String {
    format!("{record}\n")
}

/// A `function` record whose text is `text`.
fn function(text: &str) -> Value {
    record("function", json!(text))
}

/// The log lines of a batch.
fn texts(batch: &[TelemetryEvent]) -> Vec<&str> {
    batch.iter().filter_map(|e| e.record.log_line()).collect()
}

#[tokio::test]
async fn the_subscription_names_a_tcp_destination_on_the_listeners_port() {
    let harness = Harness::start().await;
    let (extension, _batches) = registered(&harness).await;
    let listener = extension.telemetry_listener().expect("a listener");
    assert_eq!(listener.protocol(), Protocol::Tcp);
    let sent = harness.requests_to(TELEMETRY);
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].json(),
        json!({
            "schemaVersion": "2022-12-13",
            "types": ["platform", "function"],
            "buffering": {"maxItems": 1000, "maxBytes": 262144, "timeoutMs": 25},
            "destination": {
                "protocol": "TCP",
                "URI": format!("tcp://sandbox.localdomain:{}", listener.port())
            }
        })
    );
    assert_eq!(
        listener.destination_uri(),
        sent[0].json()["destination"]["URI"]
    );
    let paths: Vec<String> = harness.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(
        paths,
        [REGISTER, TELEMETRY],
        "subscribed right after registering"
    );
}

#[tokio::test]
async fn several_records_in_one_write_are_one_batch_in_order() {
    let harness = Harness::start().await;
    let (_extension, mut batches) = registered(&harness).await;
    let mut tcp = harness.connect_tcp().await.unwrap();
    let report = record(
        "platform.report",
        json!({"requestId": "r-1", "status": "success",
               "metrics": {"durationMs": 1.5, "billedDurationMs": 2, "memorySizeMB": 128,
                           "maxMemoryUsedMB": 20}}),
    );
    let write = [function("one"), report, function("three")]
        .iter()
        .map(line)
        .collect::<String>();
    tcp.write_all(write.as_bytes()).await.unwrap();
    let batch = next_batch(&mut batches).await;
    let kinds: Vec<&str> = batch.iter().map(TelemetryEvent::kind).collect();
    assert_eq!(kinds, ["function", "platform.report", "function"]);
    assert_eq!(texts(&batch), ["one", "three"]);
    let TelemetryRecord::PlatformReport(report) = &batch[1].record else {
        panic!("{batch:?}")
    };
    assert_eq!(
        (
            report.request_id.as_str(),
            report.metrics.billed_duration_ms
        ),
        ("r-1", 2)
    );
    assert_eq!(batch[0].time, harness::TELEMETRY_TIME);

    // Later writes on the same connection are later batches, in order.
    for n in 0..5 {
        tcp.write_all(line(&function(&format!("later {n}"))).as_bytes())
            .await
            .unwrap();
    }
    let mut later = Vec::new();
    while later.len() < 5 {
        let batch = next_batch(&mut batches).await;
        later.extend(texts(&batch).into_iter().map(str::to_owned));
    }
    assert_eq!(
        later,
        ["later 0", "later 1", "later 2", "later 3", "later 4"]
    );
}

#[tokio::test]
async fn a_record_split_across_writes_waits_for_its_end() {
    let harness = Harness::start().await;
    let (_extension, mut batches) = registered(&harness).await;
    let mut tcp = harness.connect_tcp().await.unwrap();
    let whole = line(&function("split in two")) + &line(&function("and then"));
    let (first, second) = whole.split_at(20);
    tcp.write_all(first.as_bytes()).await.unwrap();
    tcp.flush().await.unwrap();
    no_batch(&mut batches).await;
    tcp.write_all(second.as_bytes()).await.unwrap();
    let batch = next_batch(&mut batches).await;
    assert_eq!(texts(&batch), ["split in two", "and then"]);

    // A record cut at its newline: the newline alone completes it.
    let record = line(&function("newline later"));
    tcp.write_all(record.trim_end().as_bytes()).await.unwrap();
    no_batch(&mut batches).await;
    tcp.write_all(b"\n").await.unwrap();
    assert_eq!(texts(&next_batch(&mut batches).await), ["newline later"]);
}

#[tokio::test]
async fn a_new_connection_after_the_platform_closed_the_last_one() {
    let harness = Harness::start().await;
    let (_extension, mut batches) = registered(&harness).await;
    for connection in 0..3 {
        let mut tcp = harness.connect_tcp().await.unwrap();
        let text = format!("connection {connection}");
        tcp.write_all(line(&function(&text)).as_bytes())
            .await
            .unwrap();
        assert_eq!(texts(&next_batch(&mut batches).await), [text.as_str()]);
        tcp.shutdown().await.unwrap();
    }
    // A connection that ends in the middle of a complete record without its newline still
    // hands it over; one cut inside a record logs it and goes on.
    let mut tcp = harness.connect_tcp().await.unwrap();
    tcp.write_all(function("no newline").to_string().as_bytes())
        .await
        .unwrap();
    drop(tcp);
    assert_eq!(texts(&next_batch(&mut batches).await), ["no newline"]);
    let mut tcp = harness.connect_tcp().await.unwrap();
    tcp.write_all(br#"{"time": "t", "type": "func"#)
        .await
        .unwrap();
    drop(tcp);
    let mut tcp = harness.connect_tcp().await.unwrap();
    tcp.write_all(line(&function("after the cut")).as_bytes())
        .await
        .unwrap();
    assert_eq!(texts(&next_batch(&mut batches).await), ["after the cut"]);
}

#[tokio::test]
async fn two_connections_at_once_are_both_read() {
    let harness = Harness::start().await;
    let (_extension, mut batches) = registered(&harness).await;
    let mut old = harness.connect_tcp().await.unwrap();
    let mut new = harness.connect_tcp().await.unwrap();
    new.write_all(line(&function("new")).as_bytes())
        .await
        .unwrap();
    assert_eq!(texts(&next_batch(&mut batches).await), ["new"]);
    old.write_all(line(&function("old")).as_bytes())
        .await
        .unwrap();
    assert_eq!(texts(&next_batch(&mut batches).await), ["old"]);
}

#[tokio::test]
async fn malformed_lines_are_skipped_and_the_stream_goes_on() {
    let harness = Harness::start().await;
    let (_extension, mut batches) = registered(&harness).await;
    let mut tcp = harness.connect_tcp().await.unwrap();
    let write = [
        "not json".to_owned(),
        line(&function("kept 1")),
        "[1, 2]".to_owned(),
        r#"{"time": "t", "record": "no type"}"#.to_owned(),
        "\u{1b}[31m binary \u{0}".to_owned(),
        line(&function("kept 2")),
        "   ".to_owned(),
        line(&record("platform.somethingNew", json!({"x": 1}))),
    ]
    .iter()
    .map(|l| {
        if l.ends_with('\n') {
            l.clone()
        } else {
            format!("{l}\n")
        }
    })
    .collect::<String>();
    tcp.write_all(write.as_bytes()).await.unwrap();
    let batch = next_batch(&mut batches).await;
    let kinds: Vec<&str> = batch.iter().map(TelemetryEvent::kind).collect();
    assert_eq!(kinds, ["function", "function", "platform.somethingNew"]);
    assert_eq!(texts(&batch), ["kept 1", "kept 2"]);
    assert!(matches!(batch[2].record, TelemetryRecord::Other { .. }));
    // A batch of nothing but bad lines hands nothing over; the connection still works.
    tcp.write_all(b"{\n}\n").await.unwrap();
    no_batch(&mut batches).await;
    tcp.write_all(line(&function("still read")).as_bytes())
        .await
        .unwrap();
    assert_eq!(texts(&next_batch(&mut batches).await), ["still read"]);
}

/// A `function` record whose line (without its newline) is exactly `len` bytes long.
fn function_line_of(len: usize) -> String {
    let empty = function("").to_string();
    let text = "x".repeat(len - empty.len());
    let line = function(&text).to_string();
    assert_eq!(line.len(), len);
    line
}

#[tokio::test]
async fn an_over_long_line_is_refused_and_the_records_after_it_kept() {
    let harness = Harness::start().await;
    let (_extension, mut batches) = registered(&harness).await;
    let mut tcp = harness.connect_tcp().await.unwrap();
    // Valid JSON, one byte too long: refused for its length, not its content.
    let too_long = function_line_of(MAX_LINE + 1);
    tcp.write_all(format!("{too_long}\n").as_bytes())
        .await
        .unwrap();
    tcp.write_all(line(&function("after the long one")).as_bytes())
        .await
        .unwrap();
    let batch = next_batch(&mut batches).await;
    assert_eq!(texts(&batch), ["after the long one"]);

    // Far longer, written in pieces with no newline for a while, then the rest of the line.
    let chunk = "y".repeat(256 * 1024);
    tcp.write_all(br#"{"time": "t", "type": "function", "record": ""#)
        .await
        .unwrap();
    for _ in 0..12 {
        tcp.write_all(chunk.as_bytes()).await.unwrap();
    }
    tcp.write_all(b"\"}\n").await.unwrap();
    tcp.write_all(line(&function("after 3 MiB")).as_bytes())
        .await
        .unwrap();
    assert_eq!(texts(&next_batch(&mut batches).await), ["after 3 MiB"]);

    // A line of exactly the limit is a record like any other.
    let at_limit = function_line_of(MAX_LINE);
    tcp.write_all(format!("{at_limit}\n").as_bytes())
        .await
        .unwrap();
    let mut got = Vec::new();
    while got.is_empty() {
        got = next_batch(&mut batches).await;
    }
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0].record.log_line().map(str::len),
        Some(MAX_LINE - function("").to_string().len())
    );
}

#[tokio::test]
async fn the_tcp_listener_stops_with_the_extension() {
    let harness = Harness::start().await;
    let (extension, _batches) = registered(&harness).await;
    let port = extension.telemetry_listener().unwrap().port();
    let running =
        tokio::spawn(extension.run(service_fn(|_: Event| async { Ok::<(), BoxError>(()) })));
    assert!(harness.connect_tcp().await.is_ok());
    harness.shutdown("spindown");
    running.await.unwrap().unwrap();
    for _ in 0..500 {
        if TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the TCP listener still accepts connections after the extension ended");
}
