//! Logging set-up: a `tracing` subscriber writing to stdout in Lambda's text or JSON format,
//! filtered by `AWS_LAMBDA_LOG_LEVEL` (falling back to `RUST_LOG`).
//!
//! Text lines read `2024-05-01T12:34:56.123456Z  INFO span{field=1}: target: message k=v`.
//! JSON records carry `timestamp`, `level`, `message`, `requestId` (from the invocation span),
//! `target`, and the event's other fields.
//!
//! The subscriber is written here rather than assembled from `tracing-subscriber`: it does only
//! what a function needs, which keeps `bootstrap` binaries small.

mod filter;
mod format;
mod spans;

use std::{
    io::Write as _,
    sync::{Mutex, MutexGuard, PoisonError},
};

use tracing::{
    level_filters::LevelFilter,
    span::{Attributes, Id, Record},
    subscriber::Interest,
    Event, Metadata, Subscriber,
};
use tracing_core::span::Current;

use crate::config::{LogFormat, RuntimeConfig};

use filter::Filter;
use format::{JsonFields, RequestIdField, TextFields};
use spans::{current_id, SpanData, Spans, ENTERED};

/// Installs the default subscriber, configured from the process environment, unless a global
/// subscriber is already set. Same name as `lambda_runtime::tracing::init_default_subscriber`.
pub fn init_default_subscriber() {
    let (format, filter) = from_env();
    install(format, &filter, Sink::Stdout);
}

/// [`init_default_subscriber`], writing each record to a writer that `writer` makes instead of
/// stdout. Same name as `lambda_runtime::tracing::init_default_subscriber_with_writer`.
///
/// `writer` is any function that returns an [`std::io::Write`] (see [`MakeWriter`]):
/// `std::io::stderr`, or for a non-blocking writer from `tracing-appender`, a closure that
/// clones it:
///
/// ```no_run
/// # struct NonBlocking;
/// # impl Clone for NonBlocking { fn clone(&self) -> Self { NonBlocking } }
/// # impl std::io::Write for NonBlocking {
/// #     fn write(&mut self, b: &[u8]) -> std::io::Result<usize> { Ok(b.len()) }
/// #     fn flush(&mut self) -> std::io::Result<()> { Ok(()) }
/// # }
/// # let writer = NonBlocking; // let (writer, guard) = tracing_appender::non_blocking(std::io::stdout());
/// firebox_runtime::tracing::init_default_subscriber_with_writer(move || writer.clone());
/// ```
pub fn init_default_subscriber_with_writer(writer: impl MakeWriter) {
    let (format, filter) = from_env();
    install(format, &filter, Sink::writer(writer));
}

/// Installs a subscriber with this format and filter (`RUST_LOG` syntax, e.g. `info` or
/// `my_fn=debug,warn`), unless a global subscriber is already set. Returns whether it was
/// installed. A filter that cannot be parsed is reported on stderr and replaced by `info`.
pub fn init_subscriber(format: LogFormat, filter: &str) -> bool {
    install(format, filter, Sink::Stdout)
}

/// Makes the writer that one log record is written to: the role of `tracing-subscriber`'s
/// `MakeWriter` in `lambda_runtime`. Every `Fn() -> impl Write` is one, such as
/// `std::io::stdout`, `std::io::stderr` or `move || writer.clone()`.
pub trait MakeWriter: Send + Sync + 'static {
    /// The writer of one record.
    type Writer: std::io::Write;

    /// A writer for the next record.
    fn make_writer(&self) -> Self::Writer;
}

impl<F, W> MakeWriter for F
where
    F: Fn() -> W + Send + Sync + 'static,
    W: std::io::Write,
{
    type Writer = W;

    fn make_writer(&self) -> W {
        self()
    }
}

/// The format and filter that the process environment asks for.
fn from_env() -> (LogFormat, String) {
    match RuntimeConfig::from_lookup(|name| {
        // The Runtime API address does not matter for logging.
        if name == "AWS_LAMBDA_RUNTIME_API" {
            Some("127.0.0.1:9001".to_owned())
        } else {
            std::env::var(name).ok()
        }
    }) {
        Ok(config) => (config.log_format, config.log_filter),
        Err(_) => (LogFormat::Text, "info".to_owned()),
    }
}

fn install(format: LogFormat, filter: &str, sink: Sink) -> bool {
    if tracing::dispatcher::has_been_set() {
        return false;
    }
    let filter = Filter::parse(filter).unwrap_or_else(|e| {
        eprintln!("firebox-runtime: ignoring the log filter ({e}); logging at INFO");
        Filter::level(LevelFilter::INFO)
    });
    tracing::subscriber::set_global_default(LambdaSubscriber::new(format, filter, sink)).is_ok()
}

/// The target of the runtime's own spans, which are recorded at every log level so that
/// JSON records always carry the request id.
const RUNTIME_TARGET: &str = "firebox_runtime";

/// Where records go.
enum Sink {
    /// The process's stdout, one write per record (what Lambda captures).
    Stdout,
    /// A writer made for each record by a [`MakeWriter`].
    Writer(WriteRecord),
}

/// Writes one record through a [`MakeWriter`].
type WriteRecord = Box<dyn Fn(&[u8]) + Send + Sync>;

impl Sink {
    fn writer(make: impl MakeWriter) -> Self {
        Sink::Writer(Box::new(move |record| {
            // Logging must not fail the function: a writer that fails loses the record.
            let _ = make.make_writer().write_all(record);
        }))
    }
}

/// The runtime's subscriber: filters by target and level, keeps live spans in one table, and
/// writes each event as a text line or a JSON record.
///
/// Spans entered on a thread are tracked per thread, so one instance is meant to be installed
/// at a time (the global default).
struct LambdaSubscriber {
    format: LogFormat,
    filter: Filter,
    spans: Mutex<Spans>,
    sink: Sink,
}

impl LambdaSubscriber {
    fn new(format: LogFormat, filter: Filter, sink: Sink) -> Self {
        LambdaSubscriber {
            format,
            filter,
            spans: Mutex::new(Spans::default()),
            sink,
        }
    }

    /// The span table. No user code runs while it is held, so a poisoned lock still holds
    /// consistent data.
    fn spans(&self) -> MutexGuard<'_, Spans> {
        self.spans.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn passes(&self, metadata: &Metadata<'_>) -> bool {
        self.filter.enabled(metadata)
            || (metadata.is_span() && metadata.target().starts_with(RUNTIME_TARGET))
    }

    /// The span an event or a new span belongs to.
    fn parent_of(&self, is_root: bool, explicit: Option<&Id>) -> Option<Id> {
        if is_root {
            None
        } else {
            explicit.cloned().or_else(current_id)
        }
    }

    fn text_line(&self, event: &Event<'_>, parent: Option<Id>) -> String {
        let metadata = event.metadata();
        let mut line = String::with_capacity(160);
        format::write_now(&mut line);
        line.push(' ');
        let level = format::level_name(metadata.level());
        for _ in level.len()..5 {
            line.push(' ');
        }
        line.push_str(level);
        line.push(' ');
        let scope_start = line.len();
        {
            // The scope, innermost first, then reversed below.
            let spans = self.spans();
            let mut scope = Vec::new();
            let mut next = parent;
            while let Some(span) = next.and_then(|id| spans.get(&id)) {
                scope.push(span);
                next = span.parent.clone();
            }
            for span in scope.iter().rev() {
                line.push_str(span.metadata.name());
                if !span.fields.is_empty() {
                    line.push('{');
                    line.push_str(&span.fields);
                    line.push('}');
                }
                line.push(':');
            }
        }
        if line.len() > scope_start {
            line.push(' ');
        }
        line.push_str(metadata.target());
        line.push_str(": ");
        event.record(&mut TextFields {
            out: &mut line,
            empty: true,
        });
        line.push('\n');
        line
    }

    fn json_line(&self, event: &Event<'_>, parent: Option<Id>) -> String {
        let metadata = event.metadata();
        let mut fields = JsonFields::default();
        event.record(&mut fields);
        let mut line = String::with_capacity(160 + fields.message.len() + fields.rest.len());
        line.push_str("{\"timestamp\":\"");
        format::write_now(&mut line);
        line.push_str("\",\"level\":\"");
        line.push_str(format::level_name(metadata.level()));
        line.push_str("\",\"message\":");
        format::write_json_str(&mut line, &fields.message);
        {
            let spans = self.spans();
            let mut next = parent;
            while let Some(span) = next.and_then(|id| spans.get(&id)) {
                if let Some(id) = &span.request_id {
                    line.push_str(",\"requestId\":");
                    format::write_json_str(&mut line, id);
                    break;
                }
                next = span.parent.clone();
            }
        }
        line.push_str(",\"target\":");
        format::write_json_str(&mut line, metadata.target());
        line.push_str(&fields.rest);
        line.push_str("}\n");
        line
    }

    fn write(&self, line: &str) {
        match &self.sink {
            Sink::Stdout => {
                // Logging must not fail the function: a closed stdout loses the record.
                let _ = std::io::stdout().lock().write_all(line.as_bytes());
            }
            Sink::Writer(write) => write(line.as_bytes()),
        }
    }
}

impl Subscriber for LambdaSubscriber {
    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        if self.passes(metadata) {
            Interest::always()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        self.passes(metadata)
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        // The runtime's invocation span is at INFO and always recorded.
        Some(self.filter.max_level().max(LevelFilter::INFO))
    }

    fn new_span(&self, attrs: &Attributes<'_>) -> Id {
        let mut data = SpanData {
            metadata: attrs.metadata(),
            refs: 1,
            parent: self.parent_of(attrs.is_root(), attrs.parent()),
            fields: String::new(),
            request_id: None,
        };
        // Field values are formatted before the table is locked: their `Debug` is user code.
        match self.format {
            LogFormat::Text => attrs.record(&mut TextFields {
                out: &mut data.fields,
                empty: true,
            }),
            LogFormat::Json => {
                let mut request_id = RequestIdField::default();
                attrs.record(&mut request_id);
                data.request_id = request_id.0;
            }
        }
        let mut spans = self.spans();
        if let Some(parent) = data.parent.as_ref().and_then(|p| spans.get_mut(p)) {
            parent.refs += 1;
        } else {
            data.parent = None;
        }
        spans.insert(data)
    }

    fn record(&self, span: &Id, values: &Record<'_>) {
        match self.format {
            LogFormat::Text => {
                let mut more = String::new();
                values.record(&mut TextFields {
                    out: &mut more,
                    empty: true,
                });
                if let Some(data) = self.spans().get_mut(span) {
                    if !data.fields.is_empty() && !more.is_empty() {
                        data.fields.push(' ');
                    }
                    data.fields.push_str(&more);
                }
            }
            LogFormat::Json => {
                let mut request_id = RequestIdField::default();
                values.record(&mut request_id);
                if let (Some(id), Some(data)) = (request_id.0, self.spans().get_mut(span)) {
                    data.request_id = Some(id);
                }
            }
        }
    }

    fn record_follows_from(&self, _span: &Id, _follows: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let parent = self.parent_of(event.is_root(), event.parent());
        let line = match self.format {
            LogFormat::Text => self.text_line(event, parent),
            LogFormat::Json => self.json_line(event, parent),
        };
        self.write(&line);
    }

    fn enter(&self, span: &Id) {
        ENTERED.with(|entered| entered.borrow_mut().push(span.clone()));
    }

    fn exit(&self, span: &Id) {
        ENTERED.with(|entered| {
            let mut entered = entered.borrow_mut();
            if let Some(at) = entered.iter().rposition(|id| id == span) {
                entered.remove(at);
            }
        });
    }

    fn clone_span(&self, id: &Id) -> Id {
        if let Some(span) = self.spans().get_mut(id) {
            span.refs += 1;
        }
        id.clone()
    }

    fn try_close(&self, id: Id) -> bool {
        self.spans().release(&id)
    }

    fn current_span(&self) -> Current {
        match current_id() {
            Some(id) => match self.spans().get(&id) {
                Some(span) => Current::new(id, span.metadata),
                None => Current::none(),
            },
            None => Current::none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    /// A writer that appends to a shared buffer; one is made per record, through the
    /// [`MakeWriter`] path of `init_default_subscriber_with_writer`.
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Shared {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Runs `f` with a subscriber of this format and filter; returns what it logged.
    fn capture(format: LogFormat, filter: &str, f: impl FnOnce()) -> String {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let shared = buffer.clone();
        let subscriber = LambdaSubscriber::new(
            format,
            Filter::parse(filter).unwrap(),
            Sink::writer(move || Shared(shared.clone())),
        );
        tracing::subscriber::with_default(subscriber, f);
        let out = String::from_utf8(buffer.lock().unwrap().clone()).unwrap();
        out
    }

    /// A text line without its timestamp.
    fn untimed(line: &str) -> &str {
        let (timestamp, rest) = line.split_once(' ').unwrap();
        assert_eq!(timestamp.len(), 27, "{line}");
        rest
    }

    #[test]
    fn text_lines_carry_level_spans_target_message_and_fields() {
        let out = capture(LogFormat::Text, "info", || {
            let span = tracing::info_span!("Lambda runtime invoke", requestId = %"req-1");
            let _entered = span.enter();
            let inner = tracing::info_span!("db", table = "orders");
            inner.in_scope(
                || tracing::warn!(target: "my_fn", attempt = 2u64, ok = false, "slow {}", "query"),
            );
            tracing::info!(ratio = 0.25, "done");
            tracing::debug!("filtered out");
        });
        let lines: Vec<&str> = out.lines().map(untimed).collect();
        assert_eq!(
            lines,
            [
                r#" WARN Lambda runtime invoke{requestId=req-1}:db{table="orders"}: my_fn: slow query attempt=2 ok=false"#,
                " INFO Lambda runtime invoke{requestId=req-1}: firebox_runtime::logging::tests: done ratio=0.25",
            ]
        );
    }

    #[test]
    fn json_records_carry_the_request_id_of_an_enclosing_span() {
        let out = capture(LogFormat::Json, "info", || {
            tracing::error!(errorType = "Boom", "before any span");
            let span = tracing::info_span!("Lambda runtime invoke", requestId = %"req-2");
            span.in_scope(|| {
                tracing::info_span!("inner").in_scope(|| {
                    tracing::error!(
                        errorType = "OrderNotFound",
                        level = 7,
                        n = -3i64,
                        "order \"42\" not found"
                    )
                })
            });
        });
        let records: Vec<serde_json::Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect();
        assert_eq!(records.len(), 2, "{out}");
        assert_eq!(records[0]["message"], "before any span");
        assert!(records[0].get("requestId").is_none(), "{out}");
        let r = &records[1];
        assert_eq!(r["requestId"], "req-2");
        assert_eq!(
            r["level"], "ERROR",
            "a field named level does not replace it"
        );
        assert_eq!(r["message"], "order \"42\" not found");
        assert_eq!(r["errorType"], "OrderNotFound");
        assert_eq!(r["n"], -3);
        assert_eq!(r["target"], "firebox_runtime::logging::tests");
        assert!(r["timestamp"].as_str().unwrap().ends_with('Z'));
    }

    #[test]
    fn the_runtime_span_is_kept_below_the_log_level() {
        // At ERROR, INFO spans of other targets are off, but the invocation span still gives
        // error records their request id.
        let out = capture(LogFormat::Json, "error", || {
            let span = tracing::info_span!(target: "firebox_runtime::runtime", "Lambda runtime invoke", requestId = %"req-3");
            span.in_scope(|| {
                tracing::info_span!(target: "my_fn", "mine").in_scope(|| {
                    tracing::info!("dropped");
                    tracing::error!("kept");
                })
            });
        });
        let record: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(record["message"], "kept");
        assert_eq!(record["requestId"], "req-3");
    }

    #[test]
    fn spans_are_freed_when_their_last_handle_closes() {
        let subscriber = LambdaSubscriber::new(
            LogFormat::Text,
            Filter::level(LevelFilter::TRACE),
            Sink::writer(std::io::sink),
        );
        let dispatch = tracing::Dispatch::new(subscriber);
        tracing::dispatcher::with_default(&dispatch, || {
            let parent = tracing::info_span!("parent");
            let child = parent.in_scope(|| tracing::info_span!("child", n = 1));
            let copy = child.clone();
            drop(parent);
            let live = |d: &tracing::Dispatch| {
                let s = d.downcast_ref::<LambdaSubscriber>().unwrap();
                let spans = s.spans();
                spans.slots.iter().filter(|s| s.is_some()).count()
            };
            // The child holds its parent.
            assert_eq!(live(&dispatch), 2);
            drop(child);
            assert_eq!(live(&dispatch), 2);
            drop(copy);
            assert_eq!(live(&dispatch), 0);
            // Freed slots are reused: the table does not grow.
            let _again = tracing::info_span!("again");
            assert_eq!(live(&dispatch), 1);
            let s = dispatch.downcast_ref::<LambdaSubscriber>().unwrap();
            assert_eq!(s.spans().slots.len(), 2);
        });
    }

    #[test]
    fn current_span_and_recorded_fields() {
        let out = capture(LogFormat::Text, "trace", || {
            assert!(tracing::Span::current().is_none());
            let span = tracing::info_span!("work", step = tracing::field::Empty);
            let _entered = span.enter();
            assert_eq!(tracing::Span::current().id(), span.id());
            tracing::Span::current().record("step", 3);
            tracing::trace!("tick");
        });
        assert_eq!(
            untimed(out.trim_end()),
            "TRACE work{step=3}: firebox_runtime::logging::tests: tick"
        );
    }
}
