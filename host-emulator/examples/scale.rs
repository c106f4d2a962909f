//! The scale benchmark: holds N environments of a Firebox function busy at once (account limit
//! raised), then lets them go idle, and reports the time to reach N, the resident memory per
//! idle environment and the emulator's own memory per environment.
//!
//! ```sh
//! cargo build --release -p firebox-emulator --examples
//! target/release/examples/scale --environments 1000
//! ```
//! The function is the `firebox_fn` example built next to this one (or `--function PATH`).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use firebox_emulator::{Emulator, FunctionConfig};

fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(field))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}

fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

async fn metrics(endpoint: &str) -> String {
    let url = endpoint.trim_start_matches("http://");
    let Ok(stream) = tokio::net::TcpStream::connect(url).await else {
        return String::new();
    };
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = stream;
    let req = format!("GET /metrics HTTP/1.1\r\nhost: {url}\r\nconnection: close\r\n\r\n");
    if stream.write_all(req.as_bytes()).await.is_err() {
        return String::new();
    }
    let mut out = String::new();
    let _ = stream.read_to_string(&mut out).await;
    out
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut n: u32 = 1000;
    let mut function: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--environments" => n = args.next().ok_or("--environments N")?.parse()?,
            "--function" => function = Some(args.next().ok_or("--function PATH")?.into()),
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    let function = match function {
        Some(f) => f,
        None => std::env::current_exe()?
            .parent()
            .ok_or("no parent directory")?
            .join("firebox_fn"),
    };
    if !function.exists() {
        return Err(format!(
            "{} not found: cargo build -p firebox-emulator --examples",
            function.display()
        )
        .into());
    }
    let me = std::process::id();
    let baseline_kib = status_kib(me, "VmRSS:");
    let emu = Emulator::builder()
        .account_concurrency(n + 100)
        .function(
            FunctionConfig::new("hello")
                .command([function.display().to_string()])
                .timeout(Duration::from_secs(300))
                .idle_timeout(Duration::from_secs(3600)),
        )
        .start()
        .await?;
    let gate = std::env::temp_dir().join(format!("firebox-scale-gate-{me}"));
    let _ = std::fs::remove_file(&gate);
    let payload = serde_json::json!({ "wait_for": gate }).to_string();
    let endpoint: Arc<str> = emu.endpoint().into();
    let started = Instant::now();
    let mut calls = Vec::new();
    for _ in 0..n {
        let (endpoint, payload) = (endpoint.clone(), payload.clone());
        calls.push(tokio::spawn(async move {
            firebox_emulator::client::invoke(
                &endpoint,
                "hello",
                payload.into(),
                &Default::default(),
            )
            .await
        }));
    }
    // All N running at once, each in its own environment.
    loop {
        let m = metrics(&endpoint).await;
        if metric(&m, "firebox_concurrent_executions{function=\"hello\"}") == Some(f64::from(n))
            && metric(
                &m,
                "firebox_environments{function=\"hello\",state=\"busy\"}",
            ) == Some(f64::from(n))
        {
            break;
        }
        if started.elapsed() > Duration::from_secs(600) {
            return Err(format!("did not reach {n} environments in 10 minutes:\n{m}").into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let reached = started.elapsed();
    std::fs::write(&gate, b"go")?;
    let mut pids = std::collections::HashSet::new();
    let mut errors = 0;
    for c in calls {
        match c.await? {
            Ok(r) if r.status == 200 && r.function_error.is_none() => {
                if let Some(pid) = r.json().ok().and_then(|j| j["pid"].as_u64()) {
                    pids.insert(pid as u32);
                }
            }
            Ok(r) => {
                errors += 1;
                eprintln!("error: {} {}", r.status, r.text());
            }
            Err(e) => {
                errors += 1;
                eprintln!("error: {e}");
            }
        }
    }
    let _ = std::fs::remove_file(&gate);
    // Idle (and frozen) now; give the allocator a moment.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let env_rss_kib: u64 = pids.iter().map(|p| status_kib(*p, "VmRSS:")).sum();
    let own_kib = status_kib(me, "VmRSS:");
    let per_env_own = (own_kib.saturating_sub(baseline_kib)) as f64 / f64::from(n);
    println!(
        "environments held at once : {n} ({} distinct processes)",
        pids.len()
    );
    println!("errors                    : {errors}");
    println!("time to reach {n:<11}: {:.2} s", reached.as_secs_f64());
    println!(
        "resident memory per idle environment: {:.0} KiB (sum of VmRSS {:.1} MiB)",
        env_rss_kib as f64 / pids.len().max(1) as f64,
        env_rss_kib as f64 / 1024.0
    );
    println!(
        "emulator's own memory per environment: {per_env_own:.0} KiB (VmRSS {:.1} MiB -> {:.1} MiB)",
        baseline_kib as f64 / 1024.0,
        own_kib as f64 / 1024.0
    );
    emu.shutdown().await;
    if errors > 0 || pids.len() != n as usize {
        return Err("not every invocation succeeded in its own environment".into());
    }
    Ok(())
}
