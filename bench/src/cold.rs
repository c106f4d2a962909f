//! Cold start through the emulator against the bare cold start of the same binary, in one run.
//!
//! Each round does two things, one after the other:
//! 1. *bare*: the binary runs against the loopback [`crate::runtime_api`] server; the time from
//!    exec to its first `GET /next` is the cold-start floor (as in `firebox-bench runtime`);
//! 2. *emulator*: a fresh `firebox serve` with only this function; once it accepts
//!    connections, one keep-alive connection is opened, then the first invoke (a cold start)
//!    is timed from request out to the whole answer in, followed by one warm invoke on the same
//!    connection. The `Init Duration` of the cold invoke is read from the REPORT line that
//!    `serve` prints.
//!
//! What the emulator adds to a cold start is the cold invoke minus the bare exec → `/next`
//! (medians over the rounds). That difference still holds one full invoke (request, event to
//! the runtime, handler, answer), so the report also gives the warm invoke and the difference
//! without it.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{header, HeaderValue, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use serde::Serialize;
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

use crate::runtime_bench::{self, BinarySpec, RuntimeBenchConfig};
use crate::stats::median;
use crate::BenchError;

/// The function's name in the generated `firebox.toml`.
const FUNCTION: &str = "cold";
/// How long `firebox serve` may take to accept connections.
const SERVE_START_LIMIT: Duration = Duration::from_secs(10);

/// What to measure.
#[derive(Debug, Clone)]
pub struct ColdConfig {
    /// The `firebox` executable.
    pub firebox: PathBuf,
    /// The function's bootstrap.
    pub bin: BinarySpec,
    /// Rounds (one bare start and one emulator cold start each).
    pub rounds: usize,
    /// The event.
    pub payload: Bytes,
    /// `memory_mb` of the function (also `AWS_LAMBDA_FUNCTION_MEMORY_SIZE` for the bare run).
    pub memory_mb: u32,
    /// Limit for one request and for exec → first `/next`.
    pub timeout: Duration,
    /// Let `serve` use cgroups when it can (`[server] cgroups`); `false` forces the
    /// fallbacks (SIGSTOP freezing, the `/proc` memory watcher).
    pub cgroups: bool,
    /// Give each environment a private `/tmp` (`[server] private_tmp`).
    pub private_tmp: bool,
}

/// One round's measurements, in microseconds.
#[derive(Debug, Clone, Serialize)]
pub struct ColdRound {
    /// Bare exec → first `/next`.
    pub bare_first_next_us: f64,
    /// First invoke on a fresh emulator: request out → whole answer in.
    pub cold_invoke_us: f64,
    /// `Init Duration` of that invoke's REPORT line.
    pub init_duration_us: f64,
    /// The next invoke on the same connection.
    pub warm_invoke_us: f64,
}

/// Medians over the rounds, in microseconds.
#[derive(Debug, Clone, Serialize)]
pub struct ColdReport {
    /// The function.
    pub name: String,
    /// Every round.
    pub rounds: Vec<ColdRound>,
    /// Median bare exec → first `/next`.
    pub bare_first_next_us: f64,
    /// Median cold invoke through the emulator.
    pub cold_invoke_us: f64,
    /// Median `Init Duration`.
    pub init_duration_us: f64,
    /// Median warm invoke.
    pub warm_invoke_us: f64,
    /// `cold_invoke_us - bare_first_next_us`: what the emulator adds, one invoke included.
    pub added_us: f64,
    /// `added_us - warm_invoke_us`: what the emulator adds beyond a warm invoke.
    pub added_beyond_warm_us: f64,
}

/// Runs the rounds, interleaving bare and emulator starts.
pub async fn run(config: &ColdConfig) -> Result<ColdReport, BenchError> {
    if config.rounds == 0 {
        return Err(BenchError::InvalidArgument(
            "rounds must be at least 1".into(),
        ));
    }
    let bin = absolute(&config.bin.path)?;
    let bare_config = RuntimeBenchConfig {
        payload: config.payload.clone(),
        check_echo: false,
        init_timeout: config.timeout,
        function_name: FUNCTION.into(),
        memory_mb: config.memory_mb,
        ..RuntimeBenchConfig::default()
    };
    let dir = ScratchDir::create()?;
    let toml = dir.0.join("firebox.toml");
    std::fs::write(
        &toml,
        format!(
            "[server]\ncgroups = {}\nprivate_tmp = {}\n\n[functions.{FUNCTION}]\ncommand = [{}]\nmemory_mb = {}\ntimeout_s = {}\n",
            config.cgroups,
            config.private_tmp,
            toml_string(&bin.to_string_lossy()),
            config.memory_mb,
            config.timeout.as_secs().clamp(1, 900)
        ),
    )?;
    let mut rounds = Vec::with_capacity(config.rounds);
    for _ in 0..config.rounds {
        let bare = runtime_bench::time_to_first_next(&config.bin, &bare_config).await?;
        let (cold, warm, init) = emulator_round(config, &toml).await?;
        rounds.push(ColdRound {
            bare_first_next_us: us(bare),
            cold_invoke_us: us(cold),
            init_duration_us: us(init),
            warm_invoke_us: us(warm),
        });
    }
    let med = |f: fn(&ColdRound) -> f64| median(&rounds.iter().map(f).collect::<Vec<_>>());
    let bare = med(|r| r.bare_first_next_us).unwrap_or(0.0);
    let cold = med(|r| r.cold_invoke_us).unwrap_or(0.0);
    let warm = med(|r| r.warm_invoke_us).unwrap_or(0.0);
    Ok(ColdReport {
        name: config.bin.name.clone(),
        bare_first_next_us: bare,
        cold_invoke_us: cold,
        init_duration_us: med(|r| r.init_duration_us).unwrap_or(0.0),
        warm_invoke_us: warm,
        added_us: cold - bare,
        added_beyond_warm_us: cold - bare - warm,
        rounds,
    })
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn absolute(path: &Path) -> Result<PathBuf, BenchError> {
    std::fs::canonicalize(path).map_err(|source| BenchError::Spawn {
        path: path.to_path_buf(),
        source,
    })
}

/// A TOML basic string.
fn toml_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A private scratch directory, removed when dropped.
struct ScratchDir(PathBuf);

impl ScratchDir {
    fn create() -> Result<Self, BenchError> {
        let dir = std::env::temp_dir().join(format!("firebox-bench-cold-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir(&dir)?;
        Ok(Self(dir))
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A free loopback port (bound and released; `serve` binds it right after).
fn free_port() -> Result<u16, BenchError> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// One fresh emulator: the cold invoke, the warm invoke, and the cold invoke's Init Duration.
async fn emulator_round(
    config: &ColdConfig,
    toml: &Path,
) -> Result<(Duration, Duration, Duration), BenchError> {
    let port = free_port()?;
    let authority = format!("127.0.0.1:{port}");
    let mut serve = Serve::spawn(&config.firebox, toml, &authority)?;
    let result = serve.measure(config, &authority).await;
    serve.stop().await;
    result
}

/// A running `firebox serve`; killed when dropped.
struct Serve {
    child: Child,
    stdout: crate::child::StdoutLines,
}

impl Serve {
    fn spawn(firebox: &Path, toml: &Path, listen: &str) -> Result<Self, BenchError> {
        let (child, stdout) = crate::child::spawn_with_stdout(
            Command::new(firebox)
                .arg("serve")
                .arg("--config")
                .arg(toml)
                .arg("--listen")
                .arg(listen)
                .env("RUST_LOG", "warn"),
            firebox,
            "firebox serve's",
        )?;
        Ok(Self { child, stdout })
    }

    async fn measure(
        &mut self,
        config: &ColdConfig,
        authority: &str,
    ) -> Result<(Duration, Duration, Duration), BenchError> {
        let mut sender = self.connect(authority).await?;
        let cold = invoke(&mut sender, authority, config).await?;
        let warm = invoke(&mut sender, authority, config).await?;
        let init = self.init_duration(config.timeout).await?;
        Ok((cold, warm, init))
    }

    /// Connects once `serve` accepts connections.
    async fn connect(&mut self, authority: &str) -> Result<SendRequest<Full<Bytes>>, BenchError> {
        let deadline = Instant::now() + SERVE_START_LIMIT;
        let stream = loop {
            match TcpStream::connect(authority).await {
                Ok(s) => break s,
                Err(e) => {
                    if let Ok(Some(status)) = self.child.try_wait() {
                        return Err(BenchError::Helper(format!(
                            "firebox serve exited before listening ({status})"
                        )));
                    }
                    if Instant::now() >= deadline {
                        return Err(BenchError::Helper(format!(
                            "firebox serve did not accept connections on {authority} within {}s: {e}",
                            SERVE_START_LIMIT.as_secs()
                        )));
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
        };
        let _ = stream.set_nodelay(true);
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| BenchError::Helper(format!("handshake with firebox serve: {e}")))?;
        tokio::spawn(async move {
            // A broken connection surfaces on the next request.
            let _ = conn.await;
        });
        Ok(sender)
    }

    /// Reads `serve`'s stdout up to the REPORT line with `Init Duration`.
    async fn init_duration(&mut self, limit: Duration) -> Result<Duration, BenchError> {
        let read = async {
            while let Some(line) = self.stdout.next_line().await? {
                if let Some(d) = report_init_duration(&line) {
                    return Ok(d);
                }
            }
            Err(BenchError::Helper(
                "firebox serve printed no REPORT line with an Init Duration".into(),
            ))
        };
        tokio::time::timeout(limit, read).await.map_err(|_| {
            BenchError::Helper("no REPORT line with an Init Duration in time".into())
        })?
    }

    /// SIGTERM (so that `serve` removes its cgroups and temporary directories), then waits.
    async fn stop(mut self) {
        if let Some(pid) = self.child.id().and_then(|p| i32::try_from(p).ok()) {
            // SAFETY: kill(2) has no memory-safety preconditions; `pid` is our live child.
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
        }
        if tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}

/// Sends one invoke and reads the whole answer; fails unless it is a 200 without a function
/// error.
async fn invoke(
    sender: &mut SendRequest<Full<Bytes>>,
    authority: &str,
    config: &ColdConfig,
) -> Result<Duration, BenchError> {
    let mut req = Request::new(Full::new(config.payload.clone()));
    *req.method_mut() = Method::POST;
    *req.uri_mut() = http::Uri::from_static("/2015-03-31/functions/cold/invocations");
    if let Ok(host) = HeaderValue::from_str(authority) {
        req.headers_mut().insert(header::HOST, host);
    }
    let start = Instant::now();
    let exchange = async {
        sender
            .ready()
            .await
            .map_err(|e| format!("connection: {e}"))?;
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| format!("request: {e}"))?;
        let (parts, body) = resp.into_parts();
        let body = body
            .collect()
            .await
            .map_err(|e| format!("response body: {e}"))?
            .to_bytes();
        Ok::<_, String>((parts, body))
    };
    let (parts, body) = tokio::time::timeout(config.timeout, exchange)
        .await
        .map_err(|_| BenchError::Helper("invoke timed out".into()))?
        .map_err(BenchError::Helper)?;
    let took = start.elapsed();
    if parts.status != StatusCode::OK || parts.headers.contains_key("x-amz-function-error") {
        return Err(BenchError::Helper(format!(
            "invoke answered {} {}",
            parts.status,
            String::from_utf8_lossy(&body)
        )));
    }
    Ok(took)
}

/// The `Init Duration` of a REPORT line as `serve` prints it (`[name] REPORT ...`).
fn report_init_duration(line: &str) -> Option<Duration> {
    if !line.contains("REPORT RequestId:") {
        return None;
    }
    let ms: f64 = line
        .split('\t')
        .find_map(|f| f.trim().strip_prefix("Init Duration: "))?
        .strip_suffix(" ms")?
        .parse()
        .ok()?;
    Some(Duration::from_secs_f64(ms / 1000.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_init_duration_from_report_lines() {
        let line = "[cold] REPORT RequestId: x\tDuration: 1.00 ms\tBilled Duration: 3 ms\tMemory Size: 128 MB\tMax Memory Used: 3 MB\tInit Duration: 1.50 ms";
        assert_eq!(
            report_init_duration(line),
            Some(Duration::from_micros(1500))
        );
        let warm = "[cold] REPORT RequestId: x\tDuration: 1.00 ms\tBilled Duration: 1 ms\tMemory Size: 128 MB\tMax Memory Used: 3 MB";
        assert_eq!(report_init_duration(warm), None);
        assert_eq!(report_init_duration("[cold] Init Duration: 1.00 ms"), None);
    }

    #[test]
    fn toml_strings_are_escaped() {
        assert_eq!(toml_string(r#"/a "b"\c"#), r#""/a \"b\"\\c""#);
        assert_eq!(toml_string("a\nb"), r#""a\u000Ab""#);
    }
}
