//! A bare loopback HTTP/1.1 echo server: every request is answered 200 with its own body.
//! Nothing a Lambda emulator must do happens here, so its latency is the floor.

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http::{header, HeaderValue, Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::BenchError;

/// A running echo server; dropping it (or calling [`EchoServer::shutdown`]) stops accepting.
#[derive(Debug)]
pub struct EchoServer {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl EchoServer {
    /// Binds `addr` (port 0 for an ephemeral port) and starts serving on the current runtime.
    pub async fn bind(addr: &str) -> Result<Self, BenchError> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| BenchError::Listen {
                addr: addr.to_string(),
                source,
            })?;
        let local = listener.local_addr()?;
        let (stop_tx, stop_rx) = oneshot::channel();
        let task = tokio::spawn(accept_loop(listener, stop_rx));
        Ok(Self {
            addr: local,
            stop: Some(stop_tx),
            task: Some(task),
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting connections and waits for the accept loop to end.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    /// Serves until the process ends (for the `echo-server` command).
    pub async fn serve_forever(mut self) {
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

async fn accept_loop(listener: TcpListener, mut stop: oneshot::Receiver<()>) {
    loop {
        tokio::select! {
            _ = &mut stop => return,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else {
                    // A failed accept (e.g. out of descriptors) affects one client only.
                    continue;
                };
                let _ = stream.set_nodelay(true);
                tokio::spawn(async move {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service_fn(echo))
                        .await;
                });
            }
        }
    }
}

async fn echo(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .cloned()
        .unwrap_or_else(|| HeaderValue::from_static("application/octet-stream"));
    let response = match req.into_body().collect().await {
        Ok(body) => {
            let mut resp = Response::new(Full::new(body.to_bytes()));
            resp.headers_mut()
                .insert(header::CONTENT_TYPE, content_type);
            resp
        }
        Err(e) => {
            let mut resp = Response::new(Full::new(Bytes::from(format!(
                "cannot read request body: {e}"
            ))));
            *resp.status_mut() = http::StatusCode::BAD_REQUEST;
            resp
        }
    };
    Ok(response)
}
