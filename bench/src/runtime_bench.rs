//! The SDK overhead harness: runs bootstrap binaries, one process at a time, against the
//! loopback [`RuntimeApiServer`] and measures, per binary, the time from exec to the first
//! `/next`, resident memory after Init, wall time and CPU time per invocation, and size on disk.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::str::FromStr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde::Serialize;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;

use crate::procfs;
use crate::runtime_api::{ApiConfig, ApiStats, Phase, RuntimeApiServer};
use crate::stats::{median, LatencyHistogram, LatencySummary};
use crate::BenchError;

/// Lines of a child's stderr kept for error messages.
const STDERR_TAIL_LINES: usize = 20;

/// A binary to benchmark: `label=path`, or a bare path labelled by its file name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinarySpec {
    /// Label in reports.
    pub name: String,
    /// The executable.
    pub path: PathBuf,
}

impl FromStr for BinarySpec {
    type Err = BenchError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (name, path) = match s.split_once('=') {
            Some((name, path)) => (name.to_string(), PathBuf::from(path)),
            None => {
                let path = PathBuf::from(s);
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                (name, path)
            }
        };
        if name.is_empty() || path.as_os_str().is_empty() {
            return Err(BenchError::InvalidArgument(format!(
                "expected NAME=PATH or PATH, got {s:?}"
            )));
        }
        Ok(Self { name, path })
    }
}

/// How to run the binaries.
#[derive(Debug, Clone)]
pub struct RuntimeBenchConfig {
    /// Measured invocations per round.
    pub invocations: u64,
    /// Invocations per round before measuring.
    pub warmup: u64,
    /// The event.
    pub payload: Bytes,
    /// Count responses that do not echo the event as errors.
    pub check_echo: bool,
    /// Full runs per binary, interleaved across binaries; scalar results are medians.
    pub rounds: usize,
    /// Process starts per binary for time-to-first-`/next` (full runs count; extra starts
    /// stop at the first `/next`).
    pub cold_starts: usize,
    /// Limit from exec to the first `/next`.
    pub init_timeout: Duration,
    /// Limit for all invocations of one run.
    pub run_timeout: Duration,
    /// `AWS_LAMBDA_FUNCTION_NAME`.
    pub function_name: String,
    /// `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`.
    pub memory_mb: u32,
    /// Extra environment variables for the child.
    pub env: Vec<(String, String)>,
    /// Let the child write to this process's stdout and stderr instead of capturing them.
    pub inherit_output: bool,
}

impl Default for RuntimeBenchConfig {
    fn default() -> Self {
        Self {
            invocations: 10_000,
            warmup: 100,
            payload: Bytes::from_static(br#"{"hello":"world"}"#),
            check_echo: true,
            rounds: 1,
            cold_starts: 5,
            init_timeout: Duration::from_secs(10),
            run_timeout: Duration::from_secs(300),
            function_name: "bench-echo".into(),
            memory_mb: 128,
            env: Vec::new(),
            inherit_output: false,
        }
    }
}

/// The measurements of one process run.
#[derive(Debug, Clone)]
struct RunResult {
    time_to_first_next: Duration,
    rss_after_init_kib: u64,
    init_cpu: Duration,
    /// Present for full runs.
    measured: Option<Measured>,
}

#[derive(Debug, Clone)]
struct Measured {
    cpu: Duration,
    peak_rss_kib: u64,
    stats: ApiStats,
}

/// Results for one binary, over all its rounds.
#[derive(Debug, Clone, Serialize)]
pub struct BinaryReport {
    /// Label.
    pub name: String,
    /// Executable.
    pub path: PathBuf,
    /// Size on disk.
    pub size_bytes: u64,
    /// Process starts measured.
    pub starts: usize,
    /// Median time from exec to the first `/next`, in microseconds.
    pub first_next_median_us: f64,
    /// Fastest time from exec to the first `/next`, in microseconds.
    pub first_next_min_us: f64,
    /// Median `VmRSS` at the first `/next`, in KiB.
    pub rss_after_init_kib: f64,
    /// Median CPU time (user + system) spent before the first `/next`, in microseconds.
    pub init_cpu_us: f64,
    /// Median `VmHWM` at the end of a full run, in KiB.
    pub peak_rss_kib: f64,
    /// Full runs.
    pub rounds: usize,
    /// Measured invocations per round.
    pub invocations: u64,
    /// Median over rounds of measured wall time divided by invocations, in microseconds.
    pub wall_per_invocation_us: f64,
    /// Median over rounds of measured CPU time (all threads) divided by invocations, in µs.
    pub cpu_per_invocation_us: f64,
    /// Latency of every successful measured invocation of every round (event out → answer in).
    pub latency: LatencySummary,
    /// Successful measured invocations.
    pub ok: u64,
    /// Measured invocations answered through `/error`, by type.
    pub function_errors: BTreeMap<String, u64>,
    /// Responses that did not echo the event.
    pub mismatches: u64,
    /// Requests the Runtime API refused.
    pub refused: BTreeMap<String, u64>,
}

impl BinaryReport {
    /// Everything that went wrong: function errors, mismatches and refused requests.
    pub fn error_count(&self) -> u64 {
        self.function_errors.values().sum::<u64>()
            + self.mismatches
            + self.refused.values().sum::<u64>()
    }
}

/// Benchmarks every binary: `rounds` full runs each (interleaved), then extra cold starts.
pub async fn run(
    binaries: &[BinarySpec],
    config: &RuntimeBenchConfig,
) -> Result<Vec<BinaryReport>, BenchError> {
    if binaries.is_empty() {
        return Err(BenchError::InvalidArgument(
            "give at least one binary".into(),
        ));
    }
    if config.invocations == 0 || config.rounds == 0 {
        return Err(BenchError::InvalidArgument(
            "invocations and rounds must be at least 1".into(),
        ));
    }
    let mut sizes = Vec::with_capacity(binaries.len());
    for bin in binaries {
        let meta = std::fs::metadata(&bin.path).map_err(|source| BenchError::Spawn {
            path: bin.path.clone(),
            source,
        })?;
        sizes.push(meta.len());
    }
    let mut runs: Vec<Vec<RunResult>> = vec![Vec::new(); binaries.len()];
    for _ in 0..config.rounds {
        for (i, bin) in binaries.iter().enumerate() {
            runs[i].push(run_process(bin, config, true).await?);
        }
    }
    for _ in config.rounds..config.cold_starts {
        for (i, bin) in binaries.iter().enumerate() {
            runs[i].push(run_process(bin, config, false).await?);
        }
    }
    Ok(binaries
        .iter()
        .zip(sizes)
        .zip(runs)
        .map(|((bin, size), runs)| summarise(bin, size, &runs, config))
        .collect())
}

/// Starts `bin` once against a fresh loopback Runtime API and returns the time from exec to its
/// first `/next` (the process is killed there).
pub async fn time_to_first_next(
    bin: &BinarySpec,
    config: &RuntimeBenchConfig,
) -> Result<Duration, BenchError> {
    Ok(run_process(bin, config, false).await?.time_to_first_next)
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn summarise(
    bin: &BinarySpec,
    size_bytes: u64,
    runs: &[RunResult],
    config: &RuntimeBenchConfig,
) -> BinaryReport {
    let ttfn: Vec<f64> = runs.iter().map(|r| us(r.time_to_first_next)).collect();
    let rss: Vec<f64> = runs.iter().map(|r| r.rss_after_init_kib as f64).collect();
    let init_cpu: Vec<f64> = runs.iter().map(|r| us(r.init_cpu)).collect();
    let full: Vec<&Measured> = runs.iter().filter_map(|r| r.measured.as_ref()).collect();
    let n = config.invocations as f64;
    let wall: Vec<f64> = full.iter().map(|m| us(m.stats.measured_wall) / n).collect();
    let cpu: Vec<f64> = full.iter().map(|m| us(m.cpu) / n).collect();
    let peak: Vec<f64> = full.iter().map(|m| m.peak_rss_kib as f64).collect();
    let mut hist = LatencyHistogram::new();
    let mut report = BinaryReport {
        name: bin.name.clone(),
        path: bin.path.clone(),
        size_bytes,
        starts: runs.len(),
        first_next_median_us: median(&ttfn).unwrap_or(0.0),
        first_next_min_us: ttfn.iter().copied().fold(f64::INFINITY, f64::min),
        rss_after_init_kib: median(&rss).unwrap_or(0.0),
        init_cpu_us: median(&init_cpu).unwrap_or(0.0),
        peak_rss_kib: median(&peak).unwrap_or(0.0),
        rounds: full.len(),
        invocations: config.invocations,
        wall_per_invocation_us: median(&wall).unwrap_or(0.0),
        cpu_per_invocation_us: median(&cpu).unwrap_or(0.0),
        latency: LatencySummary::default(),
        ok: 0,
        function_errors: BTreeMap::new(),
        mismatches: 0,
        refused: BTreeMap::new(),
    };
    for m in &full {
        hist.merge(&m.stats.latency);
        report.ok += m.stats.ok;
        report.mismatches += m.stats.mismatches;
        for (k, v) in &m.stats.function_errors {
            *report.function_errors.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &m.stats.refused {
            *report.refused.entry(k.clone()).or_default() += v;
        }
    }
    report.latency = hist.summary();
    if !report.first_next_min_us.is_finite() {
        report.first_next_min_us = 0.0;
    }
    report
}

/// The environment Lambda gives a custom runtime (contract section 2), plus the extras.
fn child_env(api: &str, bin: &BinarySpec, config: &RuntimeBenchConfig) -> Vec<(String, String)> {
    let name = &config.function_name;
    let task_root = bin
        .path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_string_lossy()
        .into_owned();
    let stream_id = uuid::Uuid::new_v4().simple().to_string();
    let mut env: Vec<(String, String)> = [
        ("AWS_LAMBDA_RUNTIME_API", api.to_string()),
        ("AWS_LAMBDA_FUNCTION_NAME", name.clone()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
        (
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
            config.memory_mb.to_string(),
        ),
        ("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}")),
        (
            "AWS_LAMBDA_LOG_STREAM_NAME",
            format!("{}/[$LATEST]{stream_id}", utc_date_path()),
        ),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".into()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_DEFAULT_REGION", "us-east-1".into()),
        ("_HANDLER", "bootstrap".into()),
        ("LAMBDA_TASK_ROOT", task_root.clone()),
        ("LAMBDA_RUNTIME_DIR", task_root),
        ("TZ", ":UTC".into()),
        ("LANG", "en_US.UTF-8".into()),
        (
            "PATH",
            std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".into()),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    env.extend(config.env.iter().cloned());
    env
}

/// `YYYY/MM/DD` of today in UTC.
fn utc_date_path() -> String {
    let t = time::OffsetDateTime::now_utc();
    let month: u8 = t.month().into();
    format!("{:04}/{month:02}/{:02}", t.year(), t.day())
}

/// Keeps the last lines of a child's stderr.
fn capture_stderr(child: &mut Child) -> Option<JoinHandle<String>> {
    let stderr = child.stderr.take()?;
    Some(tokio::spawn(async move {
        let mut lines = BufReader::new(stderr).lines();
        let mut tail = std::collections::VecDeque::with_capacity(STDERR_TAIL_LINES);
        while let Ok(Some(line)) = lines.next_line().await {
            if tail.len() == STDERR_TAIL_LINES {
                tail.pop_front();
            }
            tail.push_back(line);
        }
        tail.into_iter().collect::<Vec<_>>().join("\n")
    }))
}

async fn stderr_tail(task: Option<JoinHandle<String>>) -> String {
    match task {
        Some(task) => tokio::time::timeout(Duration::from_secs(1), task)
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default(),
        None => String::new(),
    }
}

/// Starts `bin` against a fresh Runtime API server; a full run feeds every invocation,
/// otherwise the process is stopped at its first `/next`.
async fn run_process(
    bin: &BinarySpec,
    config: &RuntimeBenchConfig,
    full: bool,
) -> Result<RunResult, BenchError> {
    let mut api = RuntimeApiServer::start(ApiConfig {
        payload: config.payload.clone(),
        warmup: config.warmup,
        invocations: config.invocations,
        function_arn: format!(
            "arn:aws:lambda:us-east-1:123456789012:function:{}",
            config.function_name
        ),
        timeout: Duration::from_secs(900),
        check_echo: config.check_echo,
    })
    .await?;
    let mut cmd = Command::new(&bin.path);
    cmd.env_clear()
        .envs(child_env(&api.addr().to_string(), bin, config))
        .stdin(Stdio::null())
        .kill_on_drop(true);
    if config.inherit_output {
        cmd.stdout(Stdio::inherit()).stderr(Stdio::inherit());
    } else {
        cmd.stdout(Stdio::null()).stderr(Stdio::piped());
    }
    let started = Instant::now();
    let mut child = cmd.spawn().map_err(|source| BenchError::Spawn {
        path: bin.path.clone(),
        source,
    })?;
    let stderr = capture_stderr(&mut child);
    let pid = child.id().ok_or_else(|| {
        BenchError::Helper(format!("{} has no process id right after spawn", bin.name))
    })?;

    let mut when = "before its first /next";
    let mut limit = config.init_timeout;
    let mut deadline = tokio::time::Instant::now() + limit;
    let mut init: Option<(Duration, u64, Duration)> = None;
    let mut cpu_start = Duration::ZERO;
    let outcome: Result<Option<Measured>, BenchError> = loop {
        tokio::select! {
            // Milestones first: an init error is queued before the runtime can exit.
            biased;
            milestone = api.milestone() => {
                let Some(m) = milestone else {
                    break Err(BenchError::Helper("the Runtime API server stopped".into()));
                };
                match m.phase {
                    Phase::Init => {
                        let rss = procfs::status_kib(pid, "VmRSS")?;
                        let cpu = procfs::cpu_time(pid)?;
                        init = Some((m.at.saturating_duration_since(started), rss, cpu));
                        if !full {
                            break Ok(None);
                        }
                        cpu_start = cpu;
                        when = "during the invocations";
                        limit = config.run_timeout;
                        deadline = tokio::time::Instant::now() + limit;
                    }
                    Phase::WarmedUp => cpu_start = procfs::cpu_time(pid)?,
                    Phase::Done => {
                        let cpu = procfs::cpu_time(pid)?.saturating_sub(cpu_start);
                        let peak_rss_kib = procfs::status_kib(pid, "VmHWM")?;
                        break Ok(Some(Measured { cpu, peak_rss_kib, stats: ApiStats::default() }));
                    }
                    Phase::InitError(body) => {
                        break Err(BenchError::InitError { name: bin.name.clone(), body });
                    }
                }
                let _ = m.resume.send(());
            }
            status = child.wait() => {
                let status = status.map(|s| s.to_string()).unwrap_or_else(|e| e.to_string());
                break Err(BenchError::ChildExited {
                    name: bin.name.clone(),
                    when,
                    status,
                    stderr_tail: String::new(),
                });
            }
            _ = tokio::time::sleep_until(deadline) => {
                break Err(BenchError::Timeout {
                    name: bin.name.clone(),
                    when,
                    seconds: limit.as_secs_f64(),
                    stderr_tail: String::new(),
                });
            }
        }
    };
    // The child is idle in `/next` (or misbehaving): stop it before anything else.
    let _ = child.kill().await;
    let stats = api.finish().await;
    let tail = stderr_tail(stderr).await;
    let measured = match outcome {
        Ok(measured) => measured,
        Err(BenchError::ChildExited {
            name, when, status, ..
        }) => {
            return Err(BenchError::ChildExited {
                name,
                when,
                status,
                stderr_tail: tail,
            })
        }
        Err(BenchError::Timeout {
            name,
            when,
            seconds,
            ..
        }) => {
            return Err(BenchError::Timeout {
                name,
                when,
                seconds,
                stderr_tail: tail,
            })
        }
        Err(e) => return Err(e),
    };
    let (time_to_first_next, rss_after_init_kib, init_cpu) =
        init.ok_or_else(|| BenchError::Helper("no Init milestone".into()))?;
    Ok(RunResult {
        time_to_first_next,
        rss_after_init_kib,
        init_cpu,
        measured: measured.map(|m| Measured { stats, ..m }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_binary_specs() {
        let b: BinarySpec = "firebox=target/release/firebox-echo".parse().unwrap();
        assert_eq!(b.name, "firebox");
        assert_eq!(b.path, PathBuf::from("target/release/firebox-echo"));
        let b: BinarySpec = "/x/y/official-echo".parse().unwrap();
        assert_eq!(b.name, "official-echo");
        assert!("=path".parse::<BinarySpec>().is_err());
        assert!("name=".parse::<BinarySpec>().is_err());
    }

    #[test]
    fn utc_date_path_is_todays_date() {
        let path = utc_date_path();
        let now = time::OffsetDateTime::now_utc();
        let parts: Vec<u32> = path.split('/').map(|p| p.parse().unwrap()).collect();
        assert_eq!(path.len(), "YYYY/MM/DD".len(), "{path}");
        assert_eq!(parts[0], now.year() as u32, "{path}");
        assert_eq!(parts[1], u8::from(now.month()) as u32, "{path}");
    }

    #[test]
    fn child_env_has_what_lambda_runtime_requires() {
        let bin: BinarySpec = "e=/opt/fn/bootstrap".parse().unwrap();
        let mut config = RuntimeBenchConfig::default();
        config.env.push(("RUST_LOG".into(), "info".into()));
        let env: BTreeMap<String, String> = child_env("127.0.0.1:9001", &bin, &config)
            .into_iter()
            .collect();
        assert_eq!(env["AWS_LAMBDA_RUNTIME_API"], "127.0.0.1:9001");
        assert_eq!(env["AWS_LAMBDA_FUNCTION_NAME"], "bench-echo");
        assert_eq!(env["AWS_LAMBDA_FUNCTION_VERSION"], "$LATEST");
        assert_eq!(env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"], "128");
        assert_eq!(env["LAMBDA_TASK_ROOT"], "/opt/fn");
        assert_eq!(env["RUST_LOG"], "info");
        let stream = &env["AWS_LAMBDA_LOG_STREAM_NAME"];
        let hex = stream.split("[$LATEST]").nth(1).unwrap();
        assert_eq!(hex.len(), 32);
    }
}
