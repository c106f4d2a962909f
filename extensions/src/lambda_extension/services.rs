//! The services around processors: [`SharedService`] (a processor factory that clones one
//! service, as `lambda_extension`'s), the no-op [`Identity`] and [`MakeIdentity`] an
//! [`Extension`](super::Extension) starts with, and `Converting`, which hands a processor the
//! batches of the crate's [`TelemetryListener`](crate::TelemetryListener) converted to
//! `lambda_extension`'s records.

use std::{
    convert::Infallible,
    fmt,
    future::{ready, Future, Ready},
    marker::PhantomData,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use tokio::sync::Mutex;
use tower::{Service, ServiceExt};

use super::Error;

/// A processor factory that hands out clones of one service: wrap a logs or telemetry
/// processor in it (`SharedService::new(service_fn(handler))`), as
/// [`Extension::with_logs_processor`](super::Extension::with_logs_processor) and
/// [`Extension::with_telemetry_processor`](super::Extension::with_telemetry_processor) take a
/// service that makes the processor (a `Service<()>`).
#[derive(Debug, Clone, Copy)]
pub struct SharedService<S> {
    service: S,
}

impl<S> SharedService<S> {
    /// A factory handing out clones of `service`.
    pub fn new(service: S) -> Self {
        SharedService { service }
    }
}

impl<S: Clone, T> Service<T> for SharedService<S> {
    type Response = S;
    type Error = Infallible;
    type Future = Ready<Result<S, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: T) -> Self::Future {
        ready(Ok(self.service.clone()))
    }
}

/// A processor that does nothing: the events processor of [`Extension::new`](super::Extension::new)
/// until [`with_events_processor`](super::Extension::with_events_processor) replaces it.
pub struct Identity<T> {
    _request: PhantomData<fn(T)>,
}

impl<T> Identity<T> {
    pub(super) fn new() -> Self {
        Identity {
            _request: PhantomData,
        }
    }
}

impl<T> Clone for Identity<T> {
    fn clone(&self) -> Self {
        Identity::new()
    }
}

impl<T> fmt::Debug for Identity<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Identity")
    }
}

impl<T> Service<T> for Identity<T> {
    type Response = ();
    type Error = Infallible;
    type Future = Ready<Result<(), Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: T) -> Self::Future {
        ready(Ok(()))
    }
}

/// A factory of [`Identity`] processors: the type of the logs and telemetry processors of
/// [`Extension::new`](super::Extension::new), which has none (nothing is subscribed).
pub struct MakeIdentity<T> {
    _request: PhantomData<fn(T)>,
}

impl<T> MakeIdentity<T> {
    pub(super) fn new() -> Self {
        MakeIdentity {
            _request: PhantomData,
        }
    }
}

impl<T> Clone for MakeIdentity<T> {
    fn clone(&self) -> Self {
        MakeIdentity::new()
    }
}

impl<T> fmt::Debug for MakeIdentity<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MakeIdentity")
    }
}

impl<T> Service<()> for MakeIdentity<T> {
    type Response = Identity<T>;
    type Error = Infallible;
    type Future = Ready<Result<Identity<T>, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: ()) -> Self::Future {
        ready(Ok(Identity::new()))
    }
}

/// Makes the processor from its factory (one call of the `Service<()>`).
pub(super) async fn make_processor<M>(mut factory: M) -> Result<M::Response, Error>
where
    M: Service<()>,
    M::Error: Into<Error>,
{
    let ready = factory.ready().await.map_err(Into::into)?;
    ready.call(()).await.map_err(Into::into)
}

/// The handler given to the crate's listener: each batch of the crate's records (`In`),
/// converted by `convert` (records it cannot convert are left out), goes to the processor.
/// Clones share the processor, which takes one batch at a time.
pub(super) struct Converting<S, In, Out> {
    processor: Arc<Mutex<S>>,
    convert: fn(In) -> Option<Out>,
}

impl<S, In, Out> Converting<S, In, Out> {
    pub(super) fn new(processor: S, convert: fn(In) -> Option<Out>) -> Self {
        Converting {
            processor: Arc::new(Mutex::new(processor)),
            convert,
        }
    }
}

impl<S, In, Out> Clone for Converting<S, In, Out> {
    fn clone(&self) -> Self {
        Converting {
            processor: self.processor.clone(),
            convert: self.convert,
        }
    }
}

impl<S, In, Out> Service<Vec<In>> for Converting<S, In, Out>
where
    S: Service<Vec<Out>, Response = ()> + Send + 'static,
    S::Error: Into<Error>,
    S::Future: Send + 'static,
    In: 'static,
    Out: Send + 'static,
{
    type Response = ();
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<(), Error>> + Send>>;

    /// Always ready: the processor's own readiness is awaited for each batch.
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, batch: Vec<In>) -> Self::Future {
        let records: Vec<Out> = batch.into_iter().filter_map(self.convert).collect();
        let processor = self.processor.clone();
        Box::pin(async move {
            let mut processor = processor.lock_owned().await;
            let ready = processor.ready().await.map_err(Into::into)?;
            ready.call(records).await.map_err(Into::into)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn shared_services_hand_out_clones() {
        let shared = SharedService::new(tower::service_fn(|n: u32| async move {
            Ok::<_, Infallible>(n + 1)
        }));
        let mut made = make_processor(shared).await.unwrap();
        assert_eq!(made.ready().await.unwrap().call(1).await.unwrap(), 2);
        let mut identity = make_processor(MakeIdentity::<Vec<u8>>::new())
            .await
            .unwrap();
        identity.ready().await.unwrap().call(vec![1]).await.unwrap();
        assert_eq!(
            format!("{identity:?} {:?}", identity.clone()),
            "Identity Identity"
        );
    }

    #[tokio::test]
    async fn converting_hands_the_converted_batch_over() {
        let (sent, mut got) = tokio::sync::mpsc::unbounded_channel();
        let processor = tower::service_fn(move |batch: Vec<String>| {
            let sent = sent.clone();
            async move { sent.send(batch).map_err(Error::from) }
        });
        let convert: fn(u32) -> Option<String> = |n| (n % 2 == 0).then(|| n.to_string());
        let mut converting = Converting::new(processor, convert);
        let mut clone = converting.clone();
        converting.ready().await.unwrap();
        converting.call(vec![1, 2, 3, 4]).await.unwrap();
        clone.call(vec![6]).await.unwrap();
        assert_eq!(got.recv().await.unwrap(), ["2", "4"]);
        assert_eq!(got.recv().await.unwrap(), ["6"]);

        let failing = tower::service_fn(|_: Vec<String>| async { Err::<(), _>("no") });
        let error = Converting::new(failing, convert)
            .call(vec![2])
            .await
            .unwrap_err();
        assert_eq!(error.to_string(), "no");
    }
}
