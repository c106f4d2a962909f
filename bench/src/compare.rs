//! "Endpoint vs floor" in one run: starts the echo server as a separate process (as the
//! emulator is one), then drives the floor and the endpoint with the same load, at each
//! concurrency asked for.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderName, HeaderValue};
use serde::Serialize;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::endpoint::Endpoint;
use crate::loadgen::{self, LoadConfig, LoadReport};
use crate::BenchError;

/// The line the `echo-server` command prints once it listens, followed by the address.
pub const LISTENING_PREFIX: &str = "listening on ";

/// The floor echo server running as a child process; killed when dropped.
#[derive(Debug)]
pub struct FloorProcess {
    child: Child,
    endpoint: Endpoint,
}

impl FloorProcess {
    /// Starts `exe echo-server --listen 127.0.0.1:0` and waits for its address.
    pub async fn spawn(exe: &Path) -> Result<Self, BenchError> {
        let mut child = Command::new(exe)
            .args(["echo-server", "--listen", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| BenchError::Spawn {
                path: exe.to_path_buf(),
                source,
            })?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| BenchError::Helper("echo server stdout not captured".into()))?;
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
            .await
            .map_err(|_| BenchError::Helper("echo server did not start within 10 s".into()))??
            .ok_or_else(|| BenchError::Helper("echo server exited before listening".into()))?;
        let addr = line.strip_prefix(LISTENING_PREFIX).ok_or_else(|| {
            BenchError::Helper(format!("unexpected first line from echo server: {line:?}"))
        })?;
        let endpoint = Endpoint::parse(addr.trim())?;
        Ok(Self { child, endpoint })
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
}

/// One concurrency level: the floor, the endpoint, and their ratios.
#[derive(Debug, Clone, Serialize)]
pub struct CompareRow {
    /// Concurrent clients.
    pub concurrency: usize,
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
    let mut rows = Vec::with_capacity(config.concurrency.len());
    for &c in &config.concurrency {
        let base = |endpoint: Endpoint, path, label: &str, headers| LoadConfig {
            endpoint,
            path,
            payload: config.payload.clone(),
            headers,
            concurrency: c,
            invocations: config.invocations,
            warmup: config.warmup,
            request_timeout: config.request_timeout,
            label: label.to_string(),
        };
        let floor_report = loadgen::run(base(
            floor.endpoint().clone(),
            floor_path.clone(),
            "floor",
            Vec::new(),
        ))
        .await?;
        let endpoint_report = loadgen::run(base(
            config.endpoint.clone(),
            endpoint_path.clone(),
            "endpoint",
            config.headers.clone(),
        ))
        .await?;
        let ratio = |a: f64, b: f64| (b > 0.0 && a > 0.0).then(|| a / b);
        rows.push(CompareRow {
            concurrency: c,
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
