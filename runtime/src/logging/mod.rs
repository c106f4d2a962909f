//! Logging set-up: a `tracing` subscriber writing to stdout in Lambda's text or JSON format,
//! filtered by `AWS_LAMBDA_LOG_LEVEL` (falling back to `RUST_LOG`).
//!
//! JSON records carry `timestamp`, `level`, `message`, `requestId` (from the invocation span),
//! `target`, and the event's other fields.

use std::{fmt, str::FromStr};

use serde_json::{Map, Value};
use tracing::{
    field::{Field, Visit},
    span, Event, Level, Subscriber,
};
use tracing_subscriber::{
    filter::{LevelFilter, Targets},
    fmt::{
        format::Writer,
        time::{FormatTime, SystemTime},
        FmtContext, FormatEvent, FormatFields,
    },
    layer::{Context as LayerContext, SubscriberExt},
    registry::LookupSpan,
    Layer, Registry,
};

use crate::config::{LogFormat, RuntimeConfig};

/// Installs the default subscriber, configured from the process environment, unless a global
/// subscriber is already set. Same name as `lambda_runtime::tracing::init_default_subscriber`.
pub fn init_default_subscriber() {
    let (format, filter) = match RuntimeConfig::from_lookup(|name| {
        // The Runtime API address does not matter for logging.
        if name == "AWS_LAMBDA_RUNTIME_API" {
            Some("127.0.0.1:9001".to_owned())
        } else {
            std::env::var(name).ok()
        }
    }) {
        Ok(config) => (config.log_format, config.log_filter),
        Err(_) => (LogFormat::Text, "info".to_owned()),
    };
    init_subscriber(format, &filter);
}

/// Installs a subscriber with this format and filter (`RUST_LOG` syntax, e.g. `info` or
/// `my_fn=debug,warn`), unless a global subscriber is already set. Returns whether it was
/// installed.
pub fn init_subscriber(format: LogFormat, filter: &str) -> bool {
    if tracing::dispatcher::has_been_set() {
        return false;
    }
    let targets = Targets::from_str(filter).unwrap_or_else(|e| {
        eprintln!("firebox-runtime: ignoring log filter {filter:?} ({e}); logging at INFO");
        Targets::new().with_default(LevelFilter::INFO)
    });
    let result = match format {
        LogFormat::Text => tracing::subscriber::set_global_default(
            Registry::default().with(targets).with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(false)
                    .with_writer(std::io::stdout),
            ),
        ),
        LogFormat::Json => tracing::subscriber::set_global_default(
            Registry::default().with(targets).with(RequestIdLayer).with(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::io::stdout)
                    .event_format(JsonFormat),
            ),
        ),
    };
    result.is_ok()
}

/// The request id of a span, kept in its extensions for the JSON formatter.
struct RequestId(String);

/// Records a span's `requestId` field into its extensions.
struct RequestIdLayer;

impl<S> Layer<S> for RequestIdLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &span::Attributes<'_>, id: &span::Id, ctx: LayerContext<'_, S>) {
        let mut visitor = RequestIdVisitor(None);
        attrs.record(&mut visitor);
        if let (Some(request_id), Some(span)) = (visitor.0, ctx.span(id)) {
            span.extensions_mut().insert(RequestId(request_id));
        }
    }
}

struct RequestIdVisitor(Option<String>);

impl Visit for RequestIdVisitor {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "requestId" {
            self.0 = Some(value.to_owned());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "requestId" {
            self.0 = Some(format!("{value:?}"));
        }
    }
}

/// One JSON object per event.
struct JsonFormat;

impl<S, N> FormatEvent<S, N> for JsonFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut timestamp = String::new();
        SystemTime.format_time(&mut Writer::new(&mut timestamp))?;
        let metadata = event.metadata();
        let mut record = Map::new();
        record.insert("timestamp".into(), Value::String(timestamp));
        record.insert(
            "level".into(),
            Value::String(level_name(metadata.level()).into()),
        );
        let mut fields = JsonVisitor(Map::new());
        event.record(&mut fields);
        record.insert(
            "message".into(),
            fields
                .0
                .remove("message")
                .unwrap_or(Value::String(String::new())),
        );
        if let Some(scope) = ctx.event_scope() {
            for span in scope {
                if let Some(RequestId(id)) = span.extensions().get::<RequestId>() {
                    record.insert("requestId".into(), Value::String(id.clone()));
                    break;
                }
            }
        }
        record.insert("target".into(), Value::String(metadata.target().into()));
        for (key, value) in fields.0 {
            record.entry(key).or_insert(value);
        }
        let line = serde_json::to_string(&Value::Object(record)).map_err(|_| fmt::Error)?;
        writeln!(writer, "{line}")
    }
}

fn level_name(level: &Level) -> &'static str {
    match *level {
        Level::TRACE => "TRACE",
        Level::DEBUG => "DEBUG",
        Level::INFO => "INFO",
        Level::WARN => "WARN",
        Level::ERROR => "ERROR",
    }
}

/// Collects an event's fields as JSON values.
struct JsonVisitor(Map<String, Value>);

impl Visit for JsonVisitor {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().into(), Value::from(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), Value::from(value));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), Value::from(value));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().into(), Value::String(format!("{value:?}")));
    }
}
