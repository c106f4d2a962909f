//! A subscription's TCP destination: batches are written, one JSON record per line
//! (newline-delimited JSON), to one connection that the subscription keeps open. Nothing is
//! read back: as Lambda's documentation warns, TCP gives no acknowledgement, and records
//! written just before the listener goes away are lost. A connection the listener closed is
//! noticed before the next batch is written (the end of its stream is there to read), and a
//! write that fails breaks it: either way the batch goes to a new connection.

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::sending::DeliveryError;
use super::TelemetrySubscription;

/// A TCP destination and its connection, if one is open.
pub(super) struct TcpDestination {
    host: String,
    port: u16,
    stream: Option<TcpStream>,
}

impl TcpDestination {
    /// The destination of `to` (connected on the first batch).
    pub fn new(to: &TelemetrySubscription) -> Self {
        Self {
            host: to.host.clone(),
            port: to.port,
            stream: None,
        }
    }

    /// Writes one batch (already framed as lines) to the open connection, or to a new one
    /// when there is none or the listener closed it. On an error the connection is dropped.
    pub async fn send(&mut self, body: &[u8]) -> Result<(), DeliveryError> {
        let mut stream = match self.stream.take().filter(peer_still_open) {
            Some(stream) => stream,
            None => {
                let stream = TcpStream::connect((self.host.as_str(), self.port)).await?;
                // Batches are small and wanted at once.
                let _ = stream.set_nodelay(true);
                stream
            }
        };
        stream.write_all(body).await?;
        self.stream = Some(stream);
        Ok(())
    }
}

/// Whether the listener still holds its end of `stream`: it sends nothing, so a read that
/// finds the end of the stream (or an error) means it closed the connection, and a read that
/// would block means it is still there. Anything it did send is read and ignored.
fn peer_still_open(stream: &TcpStream) -> bool {
    let mut buf = [0u8; 512];
    loop {
        match stream.try_read(&mut buf) {
            Ok(0) => return false,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return true,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::environment::telemetry::{Protocol, TelemetryApi, TelemetryTypes};
    use std::time::Duration;
    use tokio::io::AsyncBufReadExt;

    fn to(port: u16) -> TelemetrySubscription {
        TelemetrySubscription {
            api: TelemetryApi::Telemetry,
            schema_version: "2022-12-13".into(),
            types: TelemetryTypes::default(),
            protocol: Protocol::Tcp,
            host: "127.0.0.1".into(),
            port,
            path: "/".into(),
            max_items: 1000,
            max_bytes: 262_144,
            timeout: Duration::from_millis(25),
        }
    }

    /// Reads one line from `conn`.
    async fn line(conn: &mut tokio::io::BufReader<TcpStream>) -> String {
        let mut line = String::new();
        conn.read_line(&mut line).await.unwrap();
        line
    }

    #[tokio::test]
    async fn batches_share_a_connection_until_the_listener_closes_it() {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .unwrap();
        let mut destination = TcpDestination::new(&to(listener.local_addr().unwrap().port()));
        let accept = || tokio::time::timeout(Duration::from_secs(10), listener.accept());
        destination.send(b"one\n").await.unwrap();
        let (first, _) = accept().await.expect("a first connection").unwrap();
        let mut first = tokio::io::BufReader::new(first);
        assert_eq!(line(&mut first).await, "one\n");
        destination.send(b"two\n").await.unwrap();
        assert_eq!(line(&mut first).await, "two\n", "the same connection");
        // The listener closes it: the next batch goes to a new connection, whole.
        drop(first);
        for _ in 0..500 {
            if destination
                .stream
                .as_ref()
                .is_some_and(|s| !peer_still_open(s))
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        destination.send(b"three\n").await.unwrap();
        let (second, _) = accept().await.expect("a second connection").unwrap();
        let mut second = tokio::io::BufReader::new(second);
        assert_eq!(line(&mut second).await, "three\n");
    }

    #[tokio::test]
    async fn nothing_listening_is_an_error_worth_retrying() {
        let port = {
            let l = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
            l.local_addr().unwrap().port()
        };
        let error = TcpDestination::new(&to(port))
            .send(b"x\n")
            .await
            .unwrap_err();
        assert!(matches!(error, DeliveryError::Unreachable(_)), "{error}");
    }
}
