//! The delivery task of one subscription: it owns the subscription's buffer and its sender
//! (`sending`), and nothing else touches them. Records gather in the buffer until `maxItems`
//! records or `maxBytes` bytes are there, or `timeoutMs` after the buffer's first record, or
//! until the environment asks for a flush; the buffer then goes to the destination as a batch.
//! One batch is sent at a time; the buffer keeps filling meanwhile, and its memory is bounded
//! as on Lambda: a record that comes while a batch is still being sent and the buffer is full
//! is dropped, counted, and announced by a `platform.logsDropped` record at the head of the
//! next batch that gets through.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::sending::{Dropped, Sender};
use super::TelemetrySubscription;

/// What the environment sends a delivery task.
#[derive(Debug)]
pub(super) enum Message {
    /// A record (`{"time", "type", "record"}`) for the next batch.
    Record(Value),
    /// Send what the buffer holds now; answer once it is delivered or given up.
    Flush(oneshot::Sender<()>),
}

/// The records gathered for the next batch, serialized, and what waits on them.
struct Buffer {
    max_items: usize,
    max_bytes: usize,
    timeout: Duration,
    records: Vec<String>,
    bytes: usize,
    /// When the buffer is due (`timeoutMs` after its first record).
    due_at: Option<Instant>,
    /// Flushes asked for while these records were here.
    flushes: Vec<oneshot::Sender<()>>,
    /// Records that came while the buffer was full and a batch was being sent.
    overflowed: Dropped,
}

impl Buffer {
    fn new(to: &TelemetrySubscription) -> Self {
        Self {
            max_items: to.max_items,
            max_bytes: to.max_bytes,
            timeout: to.timeout,
            records: Vec::new(),
            bytes: 0,
            due_at: None,
            flushes: Vec::new(),
            overflowed: Dropped::default(),
        }
    }

    fn is_full(&self) -> bool {
        self.records.len() >= self.max_items || self.bytes >= self.max_bytes
    }

    /// Adds a record; `sending` says whether a batch is being sent. A full buffer takes no
    /// more while one is: the record is dropped and counted.
    fn push(&mut self, record: &Value, sending: bool) {
        let text = record.to_string();
        if sending && self.is_full() {
            self.overflowed.add(text.len());
            return;
        }
        if self.records.is_empty() {
            self.due_at = Some(Instant::now() + self.timeout);
        }
        self.bytes += text.len();
        self.records.push(text);
    }

    /// Whether the buffer is to be sent now (when no batch is being sent): it is full, its
    /// time is up, a flush asked for it, or the task ends (`closing`).
    fn is_due(&self, now: Instant, closing: bool) -> bool {
        !self.records.is_empty()
            && (self.is_full()
                || closing
                || !self.flushes.is_empty()
                || self.due_at.is_some_and(|at| at <= now))
    }

    /// The batch, the drops to announce with it and the flushes waiting on it; the buffer is
    /// empty again.
    fn take(&mut self) -> (Vec<String>, Dropped, Vec<oneshot::Sender<()>>) {
        self.bytes = 0;
        self.due_at = None;
        (
            std::mem::take(&mut self.records),
            std::mem::take(&mut self.overflowed),
            std::mem::take(&mut self.flushes),
        )
    }
}

/// A batch being sent; it gives the sender back once it is delivered or given up.
type Sending = Pin<Box<dyn Future<Output = Sender> + Send>>;

/// Batches the records of subscription `to` and sends each batch; ends when the environment
/// drops its sender (after sending what is left).
pub(super) async fn run(to: TelemetrySubscription, mut messages: mpsc::UnboundedReceiver<Message>) {
    let mut idle = Some(Sender::new(&to));
    let mut sending: Option<Sending> = None;
    // Flushes answered once the batch being sent is through.
    let mut flushed_by_sending: Vec<oneshot::Sender<()>> = Vec::new();
    let mut buffer = Buffer::new(&to);
    let mut open = true;
    let timer = tokio::time::sleep(Duration::from_secs(3600));
    tokio::pin!(timer);
    loop {
        if let Some(mut sender) = idle.take() {
            if buffer.is_due(Instant::now(), !open) {
                let (records, overflowed, flushes) = buffer.take();
                flushed_by_sending = flushes;
                sending = Some(Box::pin(async move {
                    sender.deliver(records, overflowed).await;
                    sender
                }));
            } else {
                idle = Some(sender);
            }
        }
        if !open && sending.is_none() && buffer.records.is_empty() {
            return;
        }
        if let Some(at) = buffer.due_at {
            timer.as_mut().reset(at);
        }
        // Messages first: a record the environment sent before the batch being sent got
        // through came while it was being sent, and counts as such.
        tokio::select! {
            biased;
            message = messages.recv(), if open => match message {
                Some(Message::Record(record)) => buffer.push(&record, sending.is_some()),
                Some(Message::Flush(done)) => {
                    if !buffer.records.is_empty() {
                        buffer.flushes.push(done);
                    } else if sending.is_some() {
                        flushed_by_sending.push(done);
                    } else {
                        // The environment may have stopped waiting (its limit passed).
                        let _ = done.send(());
                    }
                }
                None => open = false,
            },
            sender = async {
                match sending.as_mut() {
                    Some(batch) => batch.await,
                    None => std::future::pending().await,
                }
            }, if sending.is_some() => {
                sending = None;
                idle = Some(sender);
                for done in flushed_by_sending.drain(..) {
                    let _ = done.send(());
                }
            }
            () = &mut timer, if sending.is_none() && buffer.due_at.is_some() => {}
        }
    }
}

#[cfg(test)]
mod tests;
