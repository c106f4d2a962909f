//! The delivery task of one subscription: it owns the subscription's buffer and its
//! destination, and nothing else touches them. Records are gathered into a batch until
//! `maxItems` records or `maxBytes` bytes are there, or `timeoutMs` after the batch's first
//! record, or until the environment asks for a flush; the batch then goes to the destination
//! (HTTP or TCP). A batch the destination cannot take is tried again on a fresh connection a few
//! times over about a second, then dropped; the records dropped are counted and announced with a
//! `platform.logsDropped` record at the head of the next batch that gets through (to
//! subscribers of `platform` records).

use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot};

use super::http_destination::HttpDestination;
use super::tcp_destination::TcpDestination;
use super::{Protocol, TelemetrySubscription};
use crate::logs::system::now;

/// How often, and after which pauses, a batch is tried again when the destination cannot be
/// reached (its listener not bound yet, or between two of its connections).
const RETRY_PAUSES: [Duration; 5] = [
    Duration::from_millis(10),
    Duration::from_millis(50),
    Duration::from_millis(100),
    Duration::from_millis(250),
    Duration::from_millis(500),
];

/// What the environment sends a delivery task.
#[derive(Debug)]
pub(super) enum Message {
    /// A record (`{"time", "type", "record"}`) for the next batch.
    Record(Value),
    /// Send the batch now; answer once it is delivered or given up.
    Flush(oneshot::Sender<()>),
}

/// Why a batch did not get through.
#[derive(Debug, thiserror::Error)]
pub(super) enum DeliveryError {
    /// No connection to the destination (nothing listens, or the connection broke while the
    /// batch was sent): worth another try.
    #[error("cannot reach the destination: {0}")]
    Unreachable(#[from] std::io::Error),
    /// The HTTP destination answered with an error status: it got the batch and refused it.
    #[error("the destination answered {0}")]
    Refused(http::StatusCode),
    /// The HTTP request could not be built (the path was checked when the subscription was
    /// made, so this is not expected).
    #[error("cannot build the request: {0}")]
    Request(#[from] http::Error),
}

impl DeliveryError {
    fn worth_retrying(&self) -> bool {
        matches!(self, DeliveryError::Unreachable(_))
    }
}

/// Where a subscription's batches go.
enum Destination {
    Http(HttpDestination),
    Tcp(TcpDestination),
}

impl Destination {
    fn new(to: &TelemetrySubscription) -> Self {
        match to.protocol {
            Protocol::Http => Destination::Http(HttpDestination::new(to)),
            Protocol::Tcp => Destination::Tcp(TcpDestination::new(to)),
        }
    }

    /// The bytes of a batch of serialized records, in this destination's framing.
    fn encode(&self, records: &[String]) -> bytes::Bytes {
        let size: usize = records.iter().map(|r| r.len() + 1).sum();
        let mut body = String::with_capacity(size + 2);
        match self {
            // A JSON array.
            Destination::Http(_) => {
                body.push('[');
                for (i, record) in records.iter().enumerate() {
                    if i > 0 {
                        body.push(',');
                    }
                    body.push_str(record);
                }
                body.push(']');
            }
            // Newline-delimited JSON: one record per line.
            Destination::Tcp(_) => {
                for record in records {
                    body.push_str(record);
                    body.push('\n');
                }
            }
        }
        bytes::Bytes::from(body)
    }

    async fn send(&mut self, body: bytes::Bytes) -> Result<(), DeliveryError> {
        match self {
            Destination::Http(http) => http.send(body).await,
            Destination::Tcp(tcp) => tcp.send(&body).await,
        }
    }
}

/// The records gathered for the next batch, serialized.
#[derive(Default)]
struct Batch {
    records: Vec<String>,
    bytes: usize,
}

impl Batch {
    fn push(&mut self, record: &Value) {
        let text = record.to_string();
        self.bytes += text.len();
        self.records.push(text);
    }

    fn take(&mut self) -> Vec<String> {
        self.bytes = 0;
        std::mem::take(&mut self.records)
    }
}

/// Records given up since the last batch that got through.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Dropped {
    records: usize,
    bytes: usize,
}

/// A destination and the count of what it missed.
struct Sender {
    destination: Destination,
    dropped: Dropped,
    /// Whether the subscriber takes `platform` records (and so `platform.logsDropped`).
    announce_drops: bool,
}

impl Sender {
    /// Sends one batch, trying again on a fresh connection while the destination cannot be
    /// reached; a batch still not through is dropped and counted. There is no time limit on a
    /// send: while the environment is frozen its extensions cannot take a batch, and it waits
    /// for the next thaw (as on Lambda, where an invocation's records often arrive while the
    /// next one runs, or in the Shutdown phase). When the environment ends, its processes die
    /// and the connection with them.
    async fn deliver(&mut self, mut records: Vec<String>) {
        let own = Dropped {
            records: records.len(),
            bytes: records.iter().map(String::len).sum(),
        };
        if self.announce_drops && self.dropped.records > 0 {
            records.insert(0, logs_dropped(self.dropped).to_string());
        }
        let body = self.destination.encode(&records);
        let mut pauses = RETRY_PAUSES.iter();
        loop {
            match self.destination.send(body.clone()).await {
                Ok(()) => {
                    self.dropped = Dropped::default();
                    return;
                }
                Err(e) => match pauses.next().filter(|_| e.worth_retrying()) {
                    Some(pause) => tokio::time::sleep(*pause).await,
                    None => {
                        self.dropped.records += own.records;
                        self.dropped.bytes += own.bytes;
                        tracing::debug!(error = %e, dropped = own.records, "telemetry batch not delivered");
                        return;
                    }
                },
            }
        }
    }
}

/// The `platform.logsDropped` record announcing `dropped`.
fn logs_dropped(dropped: Dropped) -> Value {
    json!({
        "time": now(),
        "type": "platform.logsDropped",
        "record": {
            "reason": "The destination could not be reached: these records were not delivered.",
            "droppedRecords": dropped.records,
            "droppedBytes": dropped.bytes,
        },
    })
}

/// Batches the records of subscription `to` and sends each batch; ends when the environment
/// drops its sender (after sending what is left).
pub(super) async fn run(to: TelemetrySubscription, mut messages: mpsc::UnboundedReceiver<Message>) {
    let mut sender = Sender {
        destination: Destination::new(&to),
        dropped: Dropped::default(),
        announce_drops: to.types.platform && to.api.sends("platform.logsDropped"),
    };
    let mut batch = Batch::default();
    let flush_at = tokio::time::sleep(Duration::from_secs(3600));
    tokio::pin!(flush_at);
    loop {
        tokio::select! {
            message = messages.recv() => match message {
                Some(Message::Record(record)) => {
                    if batch.records.is_empty() {
                        flush_at.as_mut().reset(tokio::time::Instant::now() + to.timeout);
                    }
                    batch.push(&record);
                    if batch.records.len() >= to.max_items || batch.bytes >= to.max_bytes {
                        sender.deliver(batch.take()).await;
                    }
                }
                Some(Message::Flush(done)) => {
                    if !batch.records.is_empty() {
                        sender.deliver(batch.take()).await;
                    }
                    // The environment may have stopped waiting (its limit passed).
                    let _ = done.send(());
                }
                None => {
                    if !batch.records.is_empty() {
                        sender.deliver(batch.take()).await;
                    }
                    return;
                }
            },
            () = &mut flush_at, if !batch.records.is_empty() => {
                sender.deliver(batch.take()).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::environment::telemetry::{TelemetryApi, TelemetryTypes};

    fn subscription(protocol: Protocol) -> TelemetrySubscription {
        TelemetrySubscription {
            api: TelemetryApi::Telemetry,
            types: TelemetryTypes::default(),
            protocol,
            host: "127.0.0.1".into(),
            port: 9,
            path: "/".into(),
            max_items: 1000,
            max_bytes: 262_144,
            timeout: Duration::from_millis(25),
        }
    }

    #[test]
    fn http_batches_are_json_arrays_and_tcp_batches_one_record_per_line() {
        let records = vec![r#"{"a":1}"#.to_owned(), r#"{"b":2}"#.to_owned()];
        let http = Destination::new(&subscription(Protocol::Http));
        assert_eq!(&http.encode(&records)[..], br#"[{"a":1},{"b":2}]"#);
        let tcp = Destination::new(&subscription(Protocol::Tcp));
        assert_eq!(&tcp.encode(&records)[..], b"{\"a\":1}\n{\"b\":2}\n");
    }
}
