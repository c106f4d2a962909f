//! Sending one subscription's batches: the destination (HTTP or TCP) and its framing, the
//! retries while it cannot be reached, and the count of the records dropped, which a
//! `platform.logsDropped` record at the head of the next batch that gets through announces
//! (to subscribers of `platform` records). Records are dropped for one of two reasons, each
//! announced with its own record: the destination could not take a batch (not reachable, or
//! an HTTP error status), or the subscriber fell behind and its buffer overflowed (counted by
//! the delivery task, `delivery`).

use std::time::Duration;

use serde_json::{json, Value};

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

/// The `reason` of a `platform.logsDropped` record for batches that could not be sent.
pub(super) const UNREACHABLE_REASON: &str =
    "The destination could not be reached: these records were not delivered.";

/// The `reason` of a `platform.logsDropped` record for batches the destination answered with
/// an error status.
fn refused_reason(status: http::StatusCode) -> String {
    format!(
        "The destination answered HTTP {} to the batches that held these records: they were not delivered.",
        status.as_u16()
    )
}

/// The `reason` of a `platform.logsDropped` record for records the subscriber's full buffer
/// could not hold.
pub(super) const OVERFLOW_REASON: &str =
    "The subscriber took longer to accept a batch than the function took to fill the next one \
     (buffering.maxItems or maxBytes): the records that did not fit were dropped.";

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

/// Records dropped and not announced yet.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct Dropped {
    /// How many.
    pub records: usize,
    /// Their size, serialized.
    pub bytes: usize,
}

impl Dropped {
    /// Counts one more record of `bytes` bytes.
    pub fn add(&mut self, bytes: usize) {
        self.records += 1;
        self.bytes += bytes;
    }

    fn merge(&mut self, other: Dropped) {
        self.records += other.records;
        self.bytes += other.bytes;
    }
}

/// A destination and the count of what it missed.
pub(super) struct Sender {
    destination: Destination,
    /// Records of batches that could not be sent.
    unreachable: Dropped,
    /// Records of batches the destination refused, and the last status it refused with.
    refused: (Dropped, Option<http::StatusCode>),
    /// Records the subscriber's full buffer could not hold.
    overflowed: Dropped,
    /// Whether the subscriber takes `platform` records (and so `platform.logsDropped`).
    announce_drops: bool,
}

impl Sender {
    /// The sender of subscription `to`.
    pub fn new(to: &TelemetrySubscription) -> Self {
        Sender {
            destination: Destination::new(to),
            unreachable: Dropped::default(),
            refused: (Dropped::default(), None),
            overflowed: Dropped::default(),
            announce_drops: to.types.platform && to.api.sends("platform.logsDropped"),
        }
    }

    /// Sends one batch, headed by the announcement of what was dropped since the last batch
    /// that got through (`overflowed`: the records the buffer could not hold meanwhile),
    /// trying again on a fresh connection while the destination cannot be reached; a batch
    /// still not through is dropped and counted. There is no time limit on a send: while the
    /// environment is frozen its extensions cannot take a batch, and it waits for the next
    /// thaw (as on Lambda, where an invocation's records often arrive while the next one runs,
    /// or in the Shutdown phase). When the environment ends, its processes die and the
    /// connection with them.
    pub async fn deliver(&mut self, mut records: Vec<String>, overflowed: Dropped) {
        self.overflowed.merge(overflowed);
        let own = Dropped {
            records: records.len(),
            bytes: records.iter().map(String::len).sum(),
        };
        if self.announce_drops {
            let refused = self.refused.1.map(refused_reason).unwrap_or_default();
            let announced = [
                (self.overflowed, OVERFLOW_REASON),
                (self.unreachable, UNREACHABLE_REASON),
                (self.refused.0, refused.as_str()),
            ];
            for (dropped, reason) in announced.into_iter().filter(|(d, _)| d.records > 0) {
                records.insert(0, logs_dropped(dropped, reason).to_string());
            }
        }
        let body = self.destination.encode(&records);
        let mut pauses = RETRY_PAUSES.iter();
        loop {
            match self.destination.send(body.clone()).await {
                Ok(()) => {
                    self.unreachable = Dropped::default();
                    self.refused = (Dropped::default(), None);
                    self.overflowed = Dropped::default();
                    return;
                }
                Err(e) => match pauses.next().filter(|_| e.worth_retrying()) {
                    Some(pause) => tokio::time::sleep(*pause).await,
                    None => {
                        match e {
                            DeliveryError::Refused(status) => {
                                self.refused.0.merge(own);
                                self.refused.1 = Some(status);
                            }
                            _ => self.unreachable.merge(own),
                        }
                        tracing::debug!(error = %e, dropped = own.records, "telemetry batch not delivered");
                        return;
                    }
                },
            }
        }
    }
}

/// The `platform.logsDropped` record announcing `dropped`, for `reason`.
fn logs_dropped(dropped: Dropped, reason: &str) -> Value {
    json!({
        "time": now(),
        "type": "platform.logsDropped",
        "record": {
            "reason": reason,
            "droppedRecords": dropped.records,
            "droppedBytes": dropped.bytes,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::environment::telemetry::{TelemetryApi, TelemetryTypes};

    fn subscription(protocol: Protocol) -> TelemetrySubscription {
        TelemetrySubscription {
            api: TelemetryApi::Telemetry,
            schema_version: "2022-12-13".into(),
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
