//! `tower`: a `service_fn` handler wrapped in a tower layer, written exactly as one would for
//! `lambda_runtime` (only the crate name differs).
//!
//! Event: any JSON value. Answer: `{"echo": <event>, "invocation": n}` where `n` counts the
//! invocations seen by the `CountLayer` middleware in this environment (1, 2, ...). The layer
//! also logs each invocation's request id and duration.

use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    task::{Context as TaskContext, Poll},
    time::Instant,
};

use firebox_runtime::{run, service_fn, tracing, Error, LambdaEvent};
use serde_json::{json, Value};
use tower::{Layer, Service, ServiceBuilder};

/// Counts invocations and logs their duration.
#[derive(Clone, Default)]
struct CountLayer {
    seen: Arc<AtomicU64>,
}

impl<S> Layer<S> for CountLayer {
    type Service = CountService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CountService {
            inner,
            seen: self.seen.clone(),
        }
    }
}

/// The service [`CountLayer`] builds.
#[derive(Clone)]
struct CountService<S> {
    inner: S,
    seen: Arc<AtomicU64>,
}

impl<S> Service<LambdaEvent<Value>> for CountService<S>
where
    S: Service<LambdaEvent<Value>>,
    S::Future: 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future =
        std::pin::Pin<Box<dyn std::future::Future<Output = Result<S::Response, S::Error>>>>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut event: LambdaEvent<Value>) -> Self::Future {
        let n = self.seen.fetch_add(1, Ordering::Relaxed) + 1;
        let request_id = event.context.request_id.clone();
        // Hand the count to the handler alongside the event.
        event.payload = json!({ "event": event.payload, "invocation": n });
        let started = Instant::now();
        let future = self.inner.call(event);
        Box::pin(async move {
            let result = future.await;
            tracing::info!(%request_id, invocation = n, elapsed_us = started.elapsed().as_micros() as u64, "invocation done");
            result
        })
    }
}

async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
    let (payload, _context) = event.into_parts();
    Ok(json!({ "echo": payload["event"], "invocation": payload["invocation"] }))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let service = ServiceBuilder::new()
        .layer(CountLayer::default())
        .service(service_fn(handler));
    run(service).await
}
