//! "Endpoint vs floor" in one run: starts the echo server as a separate process (as the
//! emulator is one), then drives the floor and the endpoint with the same load, at each
//! concurrency asked for, in one or more interleaved rounds (floor, endpoint, floor,
//! endpoint...), so that a shared, noisy machine's slow and fast spells hit both alike.

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderName, HeaderValue};
use serde::Serialize;
use tokio::process::{Child, Command};

use crate::endpoint::Endpoint;
use crate::loadgen::{self, LoadConfig, LoadReport};
use crate::stats::median;
use crate::BenchError;

/// The line the `echo-server` command prints once it listens, followed by the address.
pub const LISTENING_PREFIX: &str = "listening on ";

/// The floor echo server running as a child process; killed when dropped.
#[derive(Debug)]
pub struct FloorProcess {
    child: Child,
    pid: u32,
    endpoint: Endpoint,
}

impl FloorProcess {
    /// Starts `exe echo-server --listen 127.0.0.1:0` and waits for its address.
    pub async fn spawn(exe: &Path) -> Result<Self, BenchError> {
        let (child, mut lines) = crate::child::spawn_with_stdout(
            Command::new(exe).args(["echo-server", "--listen", "127.0.0.1:0"]),
            exe,
            "echo server",
        )?;
        let line = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
            .await
            .map_err(|_| BenchError::Helper("echo server did not start within 10 s".into()))??
            .ok_or_else(|| BenchError::Helper("echo server exited before listening".into()))?;
        let addr = line.strip_prefix(LISTENING_PREFIX).ok_or_else(|| {
            BenchError::Helper(format!("unexpected first line from echo server: {line:?}"))
        })?;
        let endpoint = Endpoint::parse(addr.trim())?;
        // Running (it just printed), so not yet reaped: it has a pid.
        let pid = child
            .id()
            .ok_or_else(|| BenchError::Helper("echo server exited before listening".into()))?;
        Ok(Self {
            child,
            pid,
            endpoint,
        })
    }

    /// The echo server's process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Where the floor listens.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Kills the floor process and reaps it.
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// What to compare.
#[derive(Debug, Clone)]
pub struct CompareConfig {
    /// The Invoke API endpoint.
    pub endpoint: Endpoint,
    /// Function to invoke there.
    pub function: String,
    /// Optional qualifier.
    pub qualifier: Option<String>,
    /// Request body for both targets.
    pub payload: Bytes,
    /// Extra headers for the endpoint's requests.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Concurrency levels, each measured on both targets.
    pub concurrency: Vec<usize>,
    /// Measured requests per target and level.
    pub invocations: u64,
    /// Warm-up requests per target and level.
    pub warmup: u64,
    /// Limit for one request.
    pub request_timeout: Duration,
    /// Floor-then-endpoint rounds per concurrency level (at least 1).
    pub rounds: usize,
    /// Processes whose CPU time the endpoint's runs report (e.g. `firebox serve`); when any
    /// is given, the floor's runs report the echo server's.
    pub cpu_pids: Vec<u32>,
}

/// One concurrency level: the floor, the endpoint, and their ratios.
#[derive(Debug, Clone, Serialize)]
pub struct CompareRow {
    /// Concurrent clients.
    pub concurrency: usize,
    /// Which round of this level (from 1).
    pub round: usize,
    /// The echo server.
    pub floor: LoadReport,
    /// The Invoke API endpoint.
    pub endpoint: LoadReport,
    /// Endpoint p50 divided by floor p50.
    pub p50_ratio: Option<f64>,
    /// Endpoint throughput divided by floor throughput.
    pub throughput_ratio: Option<f64>,
}

/// Runs the floor and then the endpoint at every concurrency level.
pub async fn run(
    floor: &FloorProcess,
    config: &CompareConfig,
) -> Result<Vec<CompareRow>, BenchError> {
    if config.concurrency.is_empty() {
        return Err(BenchError::InvalidArgument(
            "give at least one concurrency level".into(),
        ));
    }
    let endpoint_path = config
        .endpoint
        .invoke_path(&config.function, config.qualifier.as_deref())?;
    // The floor answers any path; use the same shape so request sizes match.
    let floor_path = floor
        .endpoint()
        .invoke_path(&config.function, config.qualifier.as_deref())?;
    if config.rounds == 0 {
        return Err(BenchError::InvalidArgument(
            "give at least one round".into(),
        ));
    }
    let mut rows = Vec::with_capacity(config.concurrency.len() * config.rounds);
    for (&c, round) in config
        .concurrency
        .iter()
        .flat_map(|c| std::iter::repeat(c).zip(1..=config.rounds))
    {
        let base = |endpoint: Endpoint, path, label: &str, headers, cpu_pids| LoadConfig {
            endpoint,
            path,
            payload: config.payload.clone(),
            headers,
            concurrency: c,
            invocations: config.invocations,
            warmup: config.warmup,
            request_timeout: config.request_timeout,
            label: label.to_string(),
            cpu_pids,
        };
        let floor_cpu = if config.cpu_pids.is_empty() {
            Vec::new()
        } else {
            vec![floor.pid()]
        };
        let floor_report = loadgen::run(base(
            floor.endpoint().clone(),
            floor_path.clone(),
            "floor",
            Vec::new(),
            floor_cpu,
        ))
        .await?;
        let endpoint_report = loadgen::run(base(
            config.endpoint.clone(),
            endpoint_path.clone(),
            "endpoint",
            config.headers.clone(),
            config.cpu_pids.clone(),
        ))
        .await?;
        let ratio = |a: f64, b: f64| (b > 0.0 && a > 0.0).then(|| a / b);
        rows.push(CompareRow {
            concurrency: c,
            round,
            p50_ratio: ratio(endpoint_report.latency.p50_us, floor_report.latency.p50_us),
            throughput_ratio: ratio(
                endpoint_report.throughput_per_s,
                floor_report.throughput_per_s,
            ),
            floor: floor_report,
            endpoint: endpoint_report,
        });
    }
    Ok(rows)
}

/// The medians over the rounds of one concurrency level.
#[derive(Debug, Clone, Serialize)]
pub struct CompareSummary {
    /// Concurrent clients.
    pub concurrency: usize,
    /// Rounds summarised.
    pub rounds: usize,
    /// Median of the floor's p50 latencies, in µs.
    pub floor_p50_us: f64,
    /// Median of the endpoint's p50 latencies, in µs.
    pub endpoint_p50_us: f64,
    /// Median of the rounds' endpoint-p50 / floor-p50 ratios.
    pub p50_ratio: Option<f64>,
    /// Smallest and largest of those ratios.
    pub p50_ratio_range: Option<(f64, f64)>,
    /// Median of the endpoint's throughputs.
    pub endpoint_throughput_per_s: f64,
    /// Median CPU time per request of the echo server, in µs (when CPU was watched).
    pub floor_cpu_per_invocation_us: Option<f64>,
    /// Median CPU time per request of the endpoint's watched processes, in µs.
    pub endpoint_cpu_per_invocation_us: Option<f64>,
}

/// One summary per concurrency level, in the order the levels were measured.
pub fn summarize(rows: &[CompareRow]) -> Vec<CompareSummary> {
    let mut levels: Vec<usize> = Vec::new();
    for row in rows {
        if !levels.contains(&row.concurrency) {
            levels.push(row.concurrency);
        }
    }
    levels
        .into_iter()
        .map(|c| {
            let level: Vec<&CompareRow> = rows.iter().filter(|r| r.concurrency == c).collect();
            let of = |f: &dyn Fn(&CompareRow) -> f64| {
                median(&level.iter().map(|r| f(r)).collect::<Vec<_>>()).unwrap_or(0.0)
            };
            let cpu_median = |side: &dyn Fn(&CompareRow) -> &LoadReport| {
                median(
                    &level
                        .iter()
                        .filter_map(|r| side(r).cpu_per_invocation_us())
                        .collect::<Vec<_>>(),
                )
            };
            let ratios: Vec<f64> = level.iter().filter_map(|r| r.p50_ratio).collect();
            let range = ratios
                .iter()
                .copied()
                .fold(None, |acc: Option<(f64, f64)>, x| match acc {
                    None => Some((x, x)),
                    Some((lo, hi)) => Some((lo.min(x), hi.max(x))),
                });
            CompareSummary {
                concurrency: c,
                rounds: level.len(),
                floor_p50_us: of(&|r| r.floor.latency.p50_us),
                endpoint_p50_us: of(&|r| r.endpoint.latency.p50_us),
                p50_ratio: median(&ratios),
                p50_ratio_range: range,
                endpoint_throughput_per_s: of(&|r| r.endpoint.throughput_per_s),
                floor_cpu_per_invocation_us: cpu_median(&|r| &r.floor),
                endpoint_cpu_per_invocation_us: cpu_median(&|r| &r.endpoint),
            }
        })
        .collect()
}
