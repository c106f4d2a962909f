//! The load generator: C concurrent keep-alive HTTP/1.1 clients sending N invocations to an
//! Invoke API endpoint (or any HTTP server that answers POSTs), measuring latency per request.
//!
//! Each client task owns its connection, its histogram and its error counts; a shared atomic
//! counter hands out request slots. Results are merged when every task has finished.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::uri::PathAndQuery;
use http::{header, HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use serde::Serialize;
use tokio::net::TcpStream;

use crate::endpoint::Endpoint;
use crate::procfs;
use crate::stats::{LatencyHistogram, LatencySummary};
use crate::BenchError;

/// What to send, where, how often and how concurrently.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// Where to connect.
    pub endpoint: Endpoint,
    /// Path (and query) of every request.
    pub path: PathAndQuery,
    /// Request body.
    pub payload: Bytes,
    /// Extra request headers (e.g. `X-Amz-Invocation-Type`).
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Number of concurrent clients (connections).
    pub concurrency: usize,
    /// Measured requests.
    pub invocations: u64,
    /// Requests sent before measuring, with the same concurrency, not counted.
    pub warmup: u64,
    /// Limit for one request, from sending to the last body byte.
    pub request_timeout: Duration,
    /// A label for reports (e.g. `floor` or `endpoint`).
    pub label: String,
    /// Processes whose CPU time over the measured phase is reported (e.g. the server's).
    pub cpu_pids: Vec<u32>,
}

/// CPU time a process spent during the measured phase.
#[derive(Debug, Clone, Serialize)]
pub struct ProcessCpu {
    /// The process.
    pub pid: u32,
    /// Its command name (`/proc/PID/comm`).
    pub name: String,
    /// User + system time of all its threads over the measured phase, in milliseconds; `None`
    /// when the process could not be read at the end (it exited).
    pub total_ms: Option<f64>,
    /// `total_ms` divided by the measured requests sent (failed ones included), in µs.
    pub per_invocation_us: Option<f64>,
}

/// CPU clocks of the processes asked for, read at the start of the measured phase.
struct CpuWatch(Vec<(u32, String, Duration)>);

impl CpuWatch {
    /// Reads every clock now; an unreadable process is an error (a wrong `--cpu-pid`).
    fn start(pids: &[u32]) -> Result<Self, BenchError> {
        pids.iter()
            .map(|&pid| {
                let at = procfs::cpu_time(pid).map_err(|e| {
                    BenchError::InvalidArgument(format!(
                        "cannot read the CPU time of process {pid}: {e}"
                    ))
                })?;
                let name = std::fs::read_to_string(format!("/proc/{pid}/comm"))
                    .map(|n| n.trim().to_string())
                    .unwrap_or_default();
                Ok((pid, name, at))
            })
            .collect::<Result<_, _>>()
            .map(CpuWatch)
    }

    /// What each process spent since [`CpuWatch::start`], per request among `requests`.
    fn finish(self, requests: u64) -> Vec<ProcessCpu> {
        self.0
            .into_iter()
            .map(|(pid, name, start)| {
                let spent = procfs::cpu_time(pid)
                    .ok()
                    .map(|end| end.saturating_sub(start));
                ProcessCpu {
                    pid,
                    name,
                    total_ms: spent.map(|d| d.as_secs_f64() * 1e3),
                    per_invocation_us: spent
                        .filter(|_| requests > 0)
                        .map(|d| d.as_secs_f64() * 1e6 / requests as f64),
                }
            })
            .collect()
    }
}

/// The outcome of one load run.
#[derive(Debug, Clone, Serialize)]
pub struct LoadReport {
    /// The label of the run.
    pub label: String,
    /// `host:port` plus path.
    pub target: String,
    /// Concurrent clients.
    pub concurrency: usize,
    /// Measured requests sent.
    pub invocations: u64,
    /// Warm-up requests sent before measuring.
    pub warmup: u64,
    /// Measured requests answered 2xx without `X-Amz-Function-Error`.
    pub ok: u64,
    /// Measured requests that failed, by cause.
    pub errors: BTreeMap<String, u64>,
    /// Wall time of the measured phase, in seconds.
    pub wall_s: f64,
    /// Successful requests per second over the measured phase.
    pub throughput_per_s: f64,
    /// Latency of the successful measured requests.
    pub latency: LatencySummary,
    /// Latency of the very first request of the run (sent alone, before warm-up; a cold
    /// start when the endpoint has no warm environment yet), in microseconds.
    pub first_request_us: Option<f64>,
    /// Status of that first request, or its error.
    pub first_request_outcome: String,
    /// TCP connections opened during the measured phase (C when keep-alive holds).
    pub connections_opened: u64,
    /// CPU time of the processes asked for (`cpu_pids`), over the measured phase.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cpu: Vec<ProcessCpu>,
}

impl LoadReport {
    /// Total failed measured requests.
    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    /// CPU time per measured request of all the processes watched together, in µs; `None`
    /// when none was watched or one could not be read at the end.
    pub fn cpu_per_invocation_us(&self) -> Option<f64> {
        if self.cpu.is_empty() {
            return None;
        }
        self.cpu.iter().map(|c| c.per_invocation_us).sum()
    }
}

/// The result of one request, as classified by a client.
enum Outcome {
    Ok,
    Failed(String),
}

/// One client's results.
#[derive(Default)]
struct ClientTally {
    hist: LatencyHistogram,
    ok: u64,
    errors: BTreeMap<String, u64>,
    connections: u64,
}

/// A keep-alive client that reconnects when its connection breaks.
struct Client {
    config: Arc<LoadConfig>,
    sender: Option<SendRequest<Full<Bytes>>>,
    connections: u64,
}

impl Client {
    fn new(config: Arc<LoadConfig>) -> Self {
        Self {
            config,
            sender: None,
            connections: 0,
        }
    }

    async fn connect(&mut self) -> Result<(), String> {
        let stream = TcpStream::connect(&self.config.endpoint.authority)
            .await
            .map_err(|e| format!("connect: {}", e.kind()))?;
        // Latency matters more than batching for a benchmark client; failure only loses
        // that optimisation.
        let _ = stream.set_nodelay(true);
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("handshake: {e}"))?;
        tokio::spawn(async move {
            // A connection error surfaces on the next request through the sender.
            let _ = conn.await;
        });
        self.connections += 1;
        self.sender = Some(sender);
        Ok(())
    }

    fn request(&self) -> Request<Full<Bytes>> {
        let mut req = Request::new(Full::new(self.config.payload.clone()));
        *req.method_mut() = Method::POST;
        // `path` was validated when the config was built, and a path-only URI always parses.
        *req.uri_mut() = http::Uri::from(self.config.path.clone());
        let h = req.headers_mut();
        if let Ok(host) = HeaderValue::from_str(&self.config.endpoint.authority) {
            h.insert(header::HOST, host);
        }
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        for (name, value) in &self.config.headers {
            h.append(name.clone(), value.clone());
        }
        req
    }

    /// Sends one request and reads the whole answer; returns its latency and outcome.
    async fn send_one(&mut self) -> (Duration, Outcome) {
        let start = Instant::now();
        let outcome = match tokio::time::timeout(self.config.request_timeout, self.exchange()).await
        {
            Ok(Ok((status, headers))) => classify(status, &headers),
            Ok(Err(e)) => {
                self.sender = None;
                Outcome::Failed(e)
            }
            Err(_) => {
                self.sender = None;
                Outcome::Failed("timeout".into())
            }
        };
        (start.elapsed(), outcome)
    }

    async fn exchange(&mut self) -> Result<(StatusCode, HeaderMap), String> {
        let ready = match self.sender.as_mut() {
            Some(s) => s.ready().await.is_ok(),
            None => false,
        };
        if !ready {
            self.connect().await?;
        }
        let req = self.request();
        let sender = self
            .sender
            .as_mut()
            .ok_or_else(|| "no connection".to_string())?;
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| format!("request: {}", short_hyper_error(&e)))?;
        let (parts, body) = resp.into_parts();
        body.collect()
            .await
            .map_err(|e| format!("response body: {}", short_hyper_error(&e)))?;
        Ok((parts.status, parts.headers))
    }
}

fn short_hyper_error(e: &hyper::Error) -> String {
    if e.is_incomplete_message() {
        "connection closed before the answer".into()
    } else if e.is_closed() {
        "connection closed".into()
    } else if e.is_timeout() {
        "timeout".into()
    } else {
        e.to_string()
    }
}

/// Maps an answer to success or an error class: `function error: Unhandled` for
/// `X-Amz-Function-Error`, `HTTP 429 TooManyRequestsException` for service errors.
fn classify(status: StatusCode, headers: &HeaderMap) -> Outcome {
    if let Some(fe) = headers.get("x-amz-function-error") {
        return Outcome::Failed(format!(
            "function error: {}",
            String::from_utf8_lossy(fe.as_bytes())
        ));
    }
    if status.is_success() {
        return Outcome::Ok;
    }
    match headers.get("x-amzn-errortype") {
        Some(t) => {
            let t = String::from_utf8_lossy(t.as_bytes());
            // The header may carry a suffix such as `:http://internal.amazon.com/...`.
            let code = t.split(':').next().unwrap_or_default();
            Outcome::Failed(format!("HTTP {} {}", status.as_u16(), code))
        }
        None => Outcome::Failed(format!("HTTP {}", status.as_u16())),
    }
}

/// Runs `count` requests over `config.concurrency` clients and merges their tallies.
async fn phase(config: &Arc<LoadConfig>, count: u64) -> (ClientTally, Duration) {
    let next = Arc::new(AtomicU64::new(0));
    let clients = config
        .concurrency
        .min(usize::try_from(count).unwrap_or(usize::MAX));
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(clients);
    for _ in 0..clients {
        let config = Arc::clone(config);
        let next = Arc::clone(&next);
        tasks.push(tokio::spawn(async move {
            let mut client = Client::new(config);
            let mut tally = ClientTally::default();
            while next.fetch_add(1, Ordering::Relaxed) < count {
                let (latency, outcome) = client.send_one().await;
                match outcome {
                    Outcome::Ok => {
                        tally.ok += 1;
                        tally.hist.record(latency);
                    }
                    Outcome::Failed(class) => *tally.errors.entry(class).or_default() += 1,
                }
            }
            tally.connections = client.connections;
            tally
        }));
    }
    let mut total = ClientTally::default();
    for task in tasks {
        match task.await {
            Ok(t) => {
                total.hist.merge(&t.hist);
                total.ok += t.ok;
                total.connections += t.connections;
                for (k, v) in t.errors {
                    *total.errors.entry(k).or_default() += v;
                }
            }
            Err(e) => *total.errors.entry(format!("client task: {e}")).or_default() += 1,
        }
    }
    (total, start.elapsed())
}

/// Runs one load test: a single first request, the warm-up, then the measured requests.
pub async fn run(config: LoadConfig) -> Result<LoadReport, BenchError> {
    if config.concurrency == 0 {
        return Err(BenchError::InvalidArgument(
            "concurrency must be at least 1".into(),
        ));
    }
    if config.invocations == 0 {
        return Err(BenchError::InvalidArgument(
            "the number of invocations must be at least 1".into(),
        ));
    }
    // Checked before any request: a wrong pid fails the run at once.
    CpuWatch::start(&config.cpu_pids)?;
    let config = Arc::new(config);

    let mut first = Client::new(Arc::clone(&config));
    let (first_latency, first_outcome) = first.send_one().await;
    let (first_request_us, first_request_outcome) = match first_outcome {
        Outcome::Ok => (Some(first_latency.as_secs_f64() * 1e6), "ok".to_string()),
        Outcome::Failed(e) => (None, e),
    };
    drop(first);

    if config.warmup > 0 {
        phase(&config, config.warmup).await;
    }
    let cpu = CpuWatch::start(&config.cpu_pids)?;
    let (tally, wall) = phase(&config, config.invocations).await;
    let cpu = cpu.finish(config.invocations);
    let wall_s = wall.as_secs_f64();
    Ok(LoadReport {
        label: config.label.clone(),
        target: format!("{}{}", config.endpoint.authority, config.path),
        concurrency: config.concurrency,
        invocations: config.invocations,
        warmup: config.warmup,
        ok: tally.ok,
        errors: tally.errors,
        wall_s,
        throughput_per_s: if wall_s > 0.0 {
            tally.ok as f64 / wall_s
        } else {
            0.0
        },
        latency: tally.hist.summary(),
        first_request_us,
        first_request_outcome,
        connections_opened: tally.connections,
        cpu,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(status: u16, headers: &[(&'static str, &'static str)]) -> Option<String> {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.insert(*k, HeaderValue::from_static(v));
        }
        match classify(StatusCode::from_u16(status).unwrap(), &map) {
            Outcome::Ok => None,
            Outcome::Failed(c) => Some(c),
        }
    }

    #[test]
    fn classifies_success_function_errors_and_service_errors() {
        assert_eq!(class(200, &[]), None);
        assert_eq!(class(202, &[]), None);
        assert_eq!(
            class(200, &[("x-amz-function-error", "Unhandled")]).as_deref(),
            Some("function error: Unhandled")
        );
        assert_eq!(
            class(429, &[("x-amzn-errortype", "TooManyRequestsException")]).as_deref(),
            Some("HTTP 429 TooManyRequestsException")
        );
        assert_eq!(
            class(
                404,
                &[(
                    "x-amzn-errortype",
                    "ResourceNotFoundException:http://internal.amazon.com/coral/"
                )]
            )
            .as_deref(),
            Some("HTTP 404 ResourceNotFoundException")
        );
        assert_eq!(class(502, &[]).as_deref(), Some("HTTP 502"));
    }
}
