//! Metrics in Prometheus text format (`GET /metrics` on the main listener): per function
//! invocations, errors, throttles by reason, cold starts, duration and init histograms,
//! concurrent executions and environments by state, plus the account's concurrency in use;
//! and per version (`$LATEST` or a number; through an alias, the version that ran)
//! invocations and errors.
//! Counters are atomics written where things happen; environment states come from each
//! function's scheduler, which owns them, as a snapshot.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::oneshot;

use crate::invocation::Answer;
use crate::scheduler::capacity::{
    CONCURRENT_LIMIT_EXCEEDED, RATE_LIMIT_EXCEEDED, RESERVED_LIMIT_EXCEEDED,
};
use crate::scheduler::{FunctionShared, PoolMessage};

/// Upper bounds of the duration histogram buckets, in milliseconds.
pub const BUCKETS_MS: [f64; 14] = [
    1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0, 60000.0,
];

const REASONS: [&str; 3] = [
    CONCURRENT_LIMIT_EXCEEDED,
    RESERVED_LIMIT_EXCEEDED,
    RATE_LIMIT_EXCEEDED,
];

/// A histogram of durations with fixed buckets (lock-free).
#[derive(Debug, Default)]
pub struct Histogram {
    buckets: [AtomicU64; BUCKETS_MS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    /// Records one observation.
    pub fn observe(&self, d: Duration) {
        let ms = d.as_secs_f64() * 1000.0;
        if let Some(i) = BUCKETS_MS.iter().position(|b| ms <= *b) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// Observations so far.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    fn render(&self, out: &mut String, name: &str, function: &str) {
        let mut cumulative = 0;
        for (bound, bucket) in BUCKETS_MS.iter().zip(&self.buckets) {
            cumulative += bucket.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "{name}_bucket{{function=\"{function}\",le=\"{bound}\"}} {cumulative}"
            );
        }
        let count = self.count();
        let _ = writeln!(
            out,
            "{name}_bucket{{function=\"{function}\",le=\"+Inf\"}} {count}"
        );
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1000.0;
        let _ = writeln!(out, "{name}_sum{{function=\"{function}\"}} {sum}");
        let _ = writeln!(out, "{name}_count{{function=\"{function}\"}} {count}");
    }
}

/// The counters of one version of a function (`$LATEST`'s are kept across settings updates).
#[derive(Debug, Default)]
pub struct VersionCounters {
    /// Invocations of this version answered (successes and function errors).
    pub invocations: AtomicU64,
    /// Function errors of this version.
    pub errors: AtomicU64,
}

impl VersionCounters {
    /// Counts an answered invocation.
    pub fn record_answer(&self, answer: &Answer) {
        count_answer(&self.invocations, &self.errors, answer);
    }
}

/// Counts a success or a function error (throttles and service errors are not invocations).
fn count_answer(invocations: &AtomicU64, errors: &AtomicU64, answer: &Answer) {
    match answer {
        Answer::Success(_) => {
            invocations.fetch_add(1, Ordering::Relaxed);
        }
        Answer::FunctionError(_) => {
            invocations.fetch_add(1, Ordering::Relaxed);
            errors.fetch_add(1, Ordering::Relaxed);
        }
        Answer::Throttled { .. } | Answer::ServiceError(_) => {}
    }
}

/// One version's counters, read at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionTotals {
    /// `$LATEST` or a number.
    pub version: String,
    /// Invocations answered.
    pub invocations: u64,
    /// Function errors.
    pub errors: u64,
}

/// The counters of one function.
#[derive(Debug, Default)]
pub struct FunctionMetrics {
    /// Invocations answered (successes and function errors).
    pub invocations: AtomicU64,
    /// Function errors.
    pub errors: AtomicU64,
    throttles: [AtomicU64; REASONS.len()],
    /// Environments that served an invocation with an Init phase before it.
    pub cold_starts: AtomicU64,
    /// Environments frozen right now.
    pub frozen: AtomicI64,
    /// Environments created.
    pub environments_created: AtomicU64,
    /// Environments ended (any reason).
    pub environments_destroyed: AtomicU64,
    /// Init phases run inside an invocation (suppressed Inits): in an environment reset after a
    /// failure, or when the first Init timed out.
    pub suppressed_inits: AtomicU64,
    /// Changes of the function's code noticed on disk.
    pub code_changes: AtomicU64,
    /// `Event` invocations run again after a function error.
    pub event_retries: AtomicU64,
    /// `Event` invocations that failed for good (retries exhausted, or too old).
    pub events_failed: AtomicU64,
    /// Destination records not sent because they would have continued a recursive loop.
    pub recursive_loops: AtomicU64,
    /// Invocation durations.
    pub duration: Histogram,
    /// Init durations.
    pub init_duration: Histogram,
    /// How long invoke phases lasted after the runtime answered, until every extension
    /// called `/next` again (Lambda's `PostRuntimeExtensionsDuration`).
    pub post_runtime_extensions_duration: Histogram,
    /// Each version's own counters, by version.
    versions: Mutex<BTreeMap<String, Arc<VersionCounters>>>,
}

impl FunctionMetrics {
    /// The counters of `version` (made on first use; a version's scheduler holds them).
    pub fn version(&self, version: &str) -> Arc<VersionCounters> {
        // A poisoned lock still holds a whole map: nothing that can panic runs under it.
        let mut versions = self.versions.lock().unwrap_or_else(PoisonError::into_inner);
        versions.entry(version.to_owned()).or_default().clone()
    }

    /// Every version's invocations and errors so far: `$LATEST`, then the numbers in order.
    pub fn by_version(&self) -> Vec<VersionTotals> {
        let versions = self.versions.lock().unwrap_or_else(PoisonError::into_inner);
        let mut all: Vec<VersionTotals> = versions
            .iter()
            .map(|(v, c)| VersionTotals {
                version: v.clone(),
                invocations: c.invocations.load(Ordering::Relaxed),
                errors: c.errors.load(Ordering::Relaxed),
            })
            .collect();
        all.sort_by_key(|t| t.version.parse::<u64>().unwrap_or(0));
        all
    }

    /// Counts an answered invocation.
    pub fn record_answer(&self, answer: &Answer) {
        if let Answer::Throttled { reason } = answer {
            self.record_throttle(reason);
        }
        count_answer(&self.invocations, &self.errors, answer);
    }

    /// Counts a throttle.
    pub fn record_throttle(&self, reason: &str) {
        if let Some(i) = REASONS.iter().position(|r| *r == reason) {
            self.throttles[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Throttles so far with this reason.
    pub fn throttles(&self, reason: &str) -> u64 {
        REASONS
            .iter()
            .position(|r| *r == reason)
            .map_or(0, |i| self.throttles[i].load(Ordering::Relaxed))
    }
}

/// A function's environments by state, as its scheduler sees them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolSnapshot {
    /// Started, Init not finished.
    pub initializing: u32,
    /// Ready with no invocation.
    pub idle: u32,
    /// Running at least one invocation.
    pub busy: u32,
    /// Provisioned environments that finished Init.
    pub provisioned_ready: u32,
    /// Provisioned environments, in Init or ready.
    pub provisioned_allocated: u32,
    /// Whether the allocation of provisioned environments failed (their Init kept failing), so
    /// that none are started until a new configuration.
    pub provisioned_failed: bool,
    /// Throttled `Event` invocations waiting to be retried.
    pub deferred_events: u32,
}

impl PoolSnapshot {
    /// Adds another version's environments.
    fn add(&mut self, other: &PoolSnapshot) {
        self.initializing += other.initializing;
        self.idle += other.idle;
        self.busy += other.busy;
        self.provisioned_ready += other.provisioned_ready;
        self.provisioned_allocated += other.provisioned_allocated;
        self.provisioned_failed |= other.provisioned_failed;
        self.deferred_events += other.deferred_events;
    }
}

/// A counter family: name, help text, and how to read it.
type Counter = (&'static str, &'static str, fn(&FunctionMetrics) -> u64);

/// A per-version counter: its name, its help and how to read it.
type VersionCounter = (&'static str, &'static str, fn(&VersionTotals) -> u64);

/// Asks a function's scheduler for its snapshot (`None` if it has stopped).
pub(crate) async fn snapshot(shared: &FunctionShared) -> Option<PoolSnapshot> {
    let (tx, rx) = oneshot::channel();
    shared.pool.send(PoolMessage::Snapshot(tx)).ok()?;
    rx.await.ok()
}

/// Renders every function's metrics in Prometheus text format (version 0.0.4).
///
/// A function's published versions share its counters and concurrency; their environments
/// are added to `$LATEST`'s in the gauges.
pub(crate) async fn render<'a>(
    functions: impl IntoIterator<Item = (&'a String, &'a crate::versions::Function)>,
) -> String {
    let mut all: Vec<_> = functions.into_iter().collect();
    all.sort_by(|a, b| a.0.cmp(b.0));
    let mut out = String::new();
    let header = |out: &mut String, name: &str, kind: &str, help: &str| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    };
    let mut snapshots = Vec::with_capacity(all.len());
    let mut provisioned_configured = Vec::with_capacity(all.len());
    for (_, function) in &all {
        let mut total = PoolSnapshot::default();
        for version in function.all() {
            total.add(&snapshot(&version).await.unwrap_or_default());
        }
        snapshots.push(total);
        provisioned_configured.push(function.capacity().provisioned());
    }
    let functions: Vec<(&String, std::sync::Arc<FunctionShared>)> =
        all.iter().map(|(name, f)| (*name, f.latest())).collect();
    let account = functions.first().map(|(_, s)| s.capacity.account().clone());
    if let Some(account) = &account {
        header(
            &mut out,
            "firebox_account_concurrent_executions",
            "gauge",
            "Invocations running now across all functions.",
        );
        let _ = writeln!(
            out,
            "firebox_account_concurrent_executions {}",
            account.in_use()
        );
        header(
            &mut out,
            "firebox_account_concurrency_limit",
            "gauge",
            "The account concurrency limit.",
        );
        let _ = writeln!(out, "firebox_account_concurrency_limit {}", account.limit());
        header(
            &mut out,
            "firebox_account_unreserved_concurrent_executions",
            "gauge",
            "Invocations running now on the unreserved pool.",
        );
        let _ = writeln!(
            out,
            "firebox_account_unreserved_concurrent_executions {}",
            account.unreserved_in_use()
        );
        header(
            &mut out,
            "firebox_account_unreserved_concurrency_limit",
            "gauge",
            "The unreserved pool's size.",
        );
        let _ = writeln!(
            out,
            "firebox_account_unreserved_concurrency_limit {}",
            account.unreserved_limit()
        );
    }
    let counters: [Counter; 10] = [
        (
            "firebox_invocations_total",
            "Invocations answered (successes and function errors).",
            |m| m.invocations.load(Ordering::Relaxed),
        ),
        (
            "firebox_errors_total",
            "Invocations that ended in a function error.",
            |m| m.errors.load(Ordering::Relaxed),
        ),
        (
            "firebox_cold_starts_total",
            "Invocations that waited for an Init phase.",
            |m| m.cold_starts.load(Ordering::Relaxed),
        ),
        (
            "firebox_environments_created_total",
            "Execution environments created.",
            |m| m.environments_created.load(Ordering::Relaxed),
        ),
        (
            "firebox_environments_destroyed_total",
            "Execution environments ended.",
            |m| m.environments_destroyed.load(Ordering::Relaxed),
        ),
        (
            "firebox_suppressed_inits_total",
            "Init phases run inside an invocation: after a reset (a timeout, a crash, running out of memory) or when the first Init timed out.",
            |m| m.suppressed_inits.load(Ordering::Relaxed),
        ),
        (
            "firebox_code_changes_total",
            "Changes of the function's code noticed on disk (each retires its environments).",
            |m| m.code_changes.load(Ordering::Relaxed),
        ),
        (
            "firebox_event_retries_total",
            "Event invocations run again after a function error.",
            |m| m.event_retries.load(Ordering::Relaxed),
        ),
        (
            "firebox_events_failed_total",
            "Event invocations that failed for good: retries exhausted, or older than the maximum event age.",
            |m| m.events_failed.load(Ordering::Relaxed),
        ),
        (
            "firebox_recursive_loops_stopped_total",
            "Destination records not sent: the chain of destinations reached 16 (a recursive loop).",
            |m| m.recursive_loops.load(Ordering::Relaxed),
        ),
    ];
    for (name, help, get) in counters {
        header(&mut out, name, "counter", help);
        for (f, shared) in &functions {
            let _ = writeln!(out, "{name}{{function=\"{f}\"}} {}", get(&shared.metrics));
        }
    }
    let by_version: Vec<_> = functions
        .iter()
        .map(|(f, shared)| (f, shared.metrics.by_version()))
        .collect();
    let per_version: [VersionCounter; 2] = [
        (
            "firebox_version_invocations_total",
            "Invocations answered, by the version that ran them.",
            |t| t.invocations,
        ),
        (
            "firebox_version_errors_total",
            "Function errors, by the version that ran them.",
            |t| t.errors,
        ),
    ];
    for (name, help, get) in per_version {
        header(&mut out, name, "counter", help);
        for (f, versions) in &by_version {
            for t in versions {
                let v = &t.version;
                let _ = writeln!(out, "{name}{{function=\"{f}\",version=\"{v}\"}} {}", get(t));
            }
        }
    }
    header(
        &mut out,
        "firebox_throttles_total",
        "counter",
        "Invocations refused with 429, by Reason.",
    );
    for (f, shared) in &functions {
        for reason in REASONS {
            let _ = writeln!(
                out,
                "firebox_throttles_total{{function=\"{f}\",reason=\"{reason}\"}} {}",
                shared.metrics.throttles(reason)
            );
        }
    }
    header(
        &mut out,
        "firebox_concurrent_executions",
        "gauge",
        "Invocations of the function running now.",
    );
    for (f, shared) in &functions {
        let _ = writeln!(
            out,
            "firebox_concurrent_executions{{function=\"{f}\"}} {}",
            shared.capacity.in_flight()
        );
    }
    header(
        &mut out,
        "firebox_environments",
        "gauge",
        "Execution environments by state (frozen environments are also idle).",
    );
    for ((f, shared), snap) in functions.iter().zip(&snapshots) {
        let frozen = shared.metrics.frozen.load(Ordering::Relaxed).max(0);
        for (state, n) in [
            ("initializing", i64::from(snap.initializing)),
            ("idle", i64::from(snap.idle)),
            ("busy", i64::from(snap.busy)),
            ("frozen", frozen),
        ] {
            let _ = writeln!(
                out,
                "firebox_environments{{function=\"{f}\",state=\"{state}\"}} {n}"
            );
        }
    }
    header(
        &mut out,
        "firebox_provisioned_concurrency",
        "gauge",
        "Provisioned environments configured and ready.",
    );
    for (((f, _), snap), configured) in functions
        .iter()
        .zip(&snapshots)
        .zip(&provisioned_configured)
    {
        let _ = writeln!(
            out,
            "firebox_provisioned_concurrency{{function=\"{f}\",state=\"configured\"}} {configured}"
        );
        let _ = writeln!(
            out,
            "firebox_provisioned_concurrency{{function=\"{f}\",state=\"ready\"}} {}",
            snap.provisioned_ready
        );
    }
    header(
        &mut out,
        "firebox_deferred_events",
        "gauge",
        "Throttled Event invocations waiting to be retried.",
    );
    for ((f, _), snap) in functions.iter().zip(&snapshots) {
        let _ = writeln!(
            out,
            "firebox_deferred_events{{function=\"{f}\"}} {}",
            snap.deferred_events
        );
    }
    header(
        &mut out,
        "firebox_duration_milliseconds",
        "histogram",
        "Invocation durations.",
    );
    for (f, shared) in &functions {
        shared
            .metrics
            .duration
            .render(&mut out, "firebox_duration_milliseconds", f);
    }
    header(
        &mut out,
        "firebox_init_duration_milliseconds",
        "histogram",
        "Init phase durations.",
    );
    for (f, shared) in &functions {
        shared
            .metrics
            .init_duration
            .render(&mut out, "firebox_init_duration_milliseconds", f);
    }
    header(
        &mut out,
        "firebox_post_runtime_extensions_duration_milliseconds",
        "histogram",
        "Time extensions kept invoke phases going after the runtime answered.",
    );
    for (f, shared) in &functions {
        shared.metrics.post_runtime_extensions_duration.render(
            &mut out,
            "firebox_post_runtime_extensions_duration_milliseconds",
            f,
        );
    }
    out
}

/// The `GET /metrics` answer.
pub(crate) async fn response(
    functions: &crate::api::invoke::Functions,
) -> http::Response<crate::stream::ResponseBody> {
    let all = functions.all();
    let text = render(all.iter().map(|(name, f)| (name, &**f))).await;
    let mut response = http::Response::new(crate::stream::ResponseBody::full(text));
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_is_cumulative() {
        let h = Histogram::default();
        h.observe(Duration::from_micros(500));
        h.observe(Duration::from_millis(7));
        h.observe(Duration::from_secs(100));
        let mut out = String::new();
        h.render(&mut out, "d", "f");
        assert!(
            out.contains("d_bucket{function=\"f\",le=\"1\"} 1\n"),
            "{out}"
        );
        assert!(
            out.contains("d_bucket{function=\"f\",le=\"10\"} 2\n"),
            "{out}"
        );
        assert!(
            out.contains("d_bucket{function=\"f\",le=\"60000\"} 2\n"),
            "{out}"
        );
        assert!(
            out.contains("d_bucket{function=\"f\",le=\"+Inf\"} 3\n"),
            "{out}"
        );
        assert!(out.contains("d_count{function=\"f\"} 3\n"), "{out}");
    }

    #[test]
    fn answers_are_counted() {
        let m = FunctionMetrics::default();
        m.record_answer(&Answer::Success(bytes::Bytes::new()));
        m.record_answer(&Answer::FunctionError(bytes::Bytes::new()));
        m.record_answer(&Answer::Throttled {
            reason: RESERVED_LIMIT_EXCEEDED,
        });
        assert_eq!(m.invocations.load(Ordering::Relaxed), 2);
        assert_eq!(m.errors.load(Ordering::Relaxed), 1);
        assert_eq!(m.throttles(RESERVED_LIMIT_EXCEEDED), 1);
        assert_eq!(m.throttles(CONCURRENT_LIMIT_EXCEEDED), 0);
    }
}
