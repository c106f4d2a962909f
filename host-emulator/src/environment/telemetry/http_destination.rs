//! A subscription's HTTP destination: each batch is POSTed, a JSON array, over one kept-alive
//! HTTP/1.1 connection that the subscription's batches share. Some listeners, the official
//! `lambda-extension` crate's among them, serve one connection at a time and bind their port
//! again between two: a connection that broke is replaced by a new one for the next batch.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;

use super::sending::DeliveryError;
use super::TelemetrySubscription;

/// An HTTP destination and its connection, if one is open.
pub(super) struct HttpDestination {
    host: String,
    port: u16,
    path: String,
    connection: Option<SendRequest<Full<Bytes>>>,
}

impl HttpDestination {
    /// The destination of `to` (connected on the first batch).
    pub fn new(to: &TelemetrySubscription) -> Self {
        Self {
            host: to.host.clone(),
            port: to.port,
            path: to.path.clone(),
            connection: None,
        }
    }

    /// POSTs one batch and reads the answer to its end (so that the connection can carry the
    /// next batch). A broken connection is dropped, and the next call opens another.
    pub async fn send(&mut self, body: Bytes) -> Result<(), DeliveryError> {
        let result = self.post(body).await;
        if matches!(result, Err(DeliveryError::Unreachable(_))) {
            self.connection = None;
        }
        result
    }

    async fn post(&mut self, body: Bytes) -> Result<(), DeliveryError> {
        let unreachable = |e: hyper::Error| DeliveryError::Unreachable(std::io::Error::other(e));
        let connection = match &mut self.connection {
            Some(c) if !c.is_closed() => c,
            _ => {
                let stream =
                    tokio::net::TcpStream::connect((self.host.as_str(), self.port)).await?;
                // Batches are small and wanted at once.
                let _ = stream.set_nodelay(true);
                let (sender, connection) =
                    hyper::client::conn::http1::handshake(TokioIo::new(stream))
                        .await
                        .map_err(unreachable)?;
                tokio::spawn(connection);
                self.connection.insert(sender)
            }
        };
        connection.ready().await.map_err(unreachable)?;
        let request = http::Request::post(&self.path)
            .header(http::header::HOST, format!("{}:{}", self.host, self.port))
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Full::new(body))?;
        let response = connection
            .send_request(request)
            .await
            .map_err(unreachable)?;
        let status = response.status();
        response.into_body().collect().await.map_err(unreachable)?;
        if status.is_success() {
            Ok(())
        } else {
            Err(DeliveryError::Refused(status))
        }
    }
}
