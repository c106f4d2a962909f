//! The HTTP destination: a server that takes each batch as a `POST` (or `PUT`) of a JSON array
//! of records, queues it for the handler and answers `200` once the handler is done with it
//! (as `lambda_extension` does: Lambda's delivery of a batch then means it was handled).

use std::convert::Infallible;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::{body::Incoming, server::conn::http1};
use hyper_util::rt::TokioIo;
use tokio::{
    net::TcpListener,
    sync::{mpsc, oneshot},
    task::JoinSet,
};

use super::{excerpt, Queued, Record, ACCEPT_BACKOFF};
use crate::telemetry::parse_batch;

/// The largest batch read: Lambda's are about `maxBytes` (at most 1 MiB) at most.
const MAX_BATCH_BYTES: usize = 8 * 1024 * 1024;

/// Accepts connections until aborted (which also ends the connections, held in a `JoinSet`).
pub(super) async fn serve<E: Record>(listener: TcpListener, batches: mpsc::Sender<Queued<E>>) {
    let mut connections = JoinSet::new();
    loop {
        let accepted = listener.accept().await;
        while connections.try_join_next().is_some() {}
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(error) => {
                tracing::warn!(%error, "cannot accept a telemetry connection");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        let batches = batches.clone();
        connections.spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let batches = batches.clone();
                async move { Ok::<_, Infallible>(receive(req, &batches).await) }
            });
            if let Err(error) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(%error, "telemetry connection failed");
            }
        });
    }
}

/// Reads one request: a batch is queued for the handler and answered `200` once handled.
async fn receive<E: Record>(
    req: Request<Incoming>,
    batches: &mpsc::Sender<Queued<E>>,
) -> Response<Full<Bytes>> {
    if req.method() != Method::POST && req.method() != Method::PUT {
        return answer(
            StatusCode::METHOD_NOT_ALLOWED,
            "telemetry batches are POSTed (or PUT)",
        );
    }
    let body = match Limited::new(req.into_body(), MAX_BATCH_BYTES)
        .collect()
        .await
    {
        Ok(body) => body.to_bytes(),
        Err(error) if error.is::<LengthLimitError>() => {
            tracing::warn!(
                limit = MAX_BATCH_BYTES,
                "a telemetry batch is too large; refused"
            );
            return answer(StatusCode::PAYLOAD_TOO_LARGE, "the batch is too large");
        }
        Err(error) => {
            tracing::debug!(%error, "a telemetry batch could not be read");
            return answer(StatusCode::BAD_REQUEST, "the batch could not be read");
        }
    };
    let batch: Vec<E> = match parse_batch(&body) {
        Ok(batch) => batch,
        Err(message) => {
            tracing::warn!(%message, body = %excerpt(&body), "a telemetry batch is not a JSON array of records; refused");
            return answer(
                StatusCode::BAD_REQUEST,
                format!("not a batch of telemetry records: {message}"),
            );
        }
    };
    if batch.is_empty() {
        return answer(StatusCode::OK, "OK");
    }
    let (done, handled) = oneshot::channel();
    if batches.send((batch, Some(done))).await.is_err() {
        return answer(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the telemetry handler has stopped",
        );
    }
    match handled.await {
        Ok(()) => answer(StatusCode::OK, "OK"),
        Err(_) => answer(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the telemetry handler has stopped",
        ),
    }
}

fn answer(status: StatusCode, text: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(text.into()));
    *response.status_mut() = status;
    response
}
