//! Benchmark: one 100 MiB streamed response through the emulator to a client on loopback.
//!
//! ```sh
//! cargo run --release -p firebox-emulator --example stream_bench [-- MIB [RUNS]]
//! ```
//!
//! The same executable plays the function: started by the emulator (it sees
//! `AWS_LAMBDA_RUNTIME_API`), it answers every event by streaming `MIB` MiB in 64 KiB chunks
//! over one chunked `/response`, and logs the wall-clock time just before its first chunk.
//! The client reads the `InvokeWithResponseStream` event stream and reports throughput, the
//! time from the function's first chunk to the client's first payload byte, and the growth
//! of the process's resident memory (emulator and client; the function is a separate process)
//! over its idle level, sampled every millisecond.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use firebox_emulator::eventstream::Decoder;
use firebox_emulator::{Emulator, FunctionConfig};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;

const CHUNK: usize = 64 * 1024;

fn now_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

/// The function side: a minimal streaming runtime over blocking sockets.
fn run_function(api: &str) -> std::io::Result<()> {
    let block: Vec<u8> = (0..CHUNK).map(|i| (i % 251) as u8).collect();
    loop {
        let mut s = TcpStream::connect(api)?;
        s.set_nodelay(true)?;
        write!(
            s,
            "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: {api}\r\n\r\n"
        )?;
        let mut reader = BufReader::new(s.try_clone()?);
        let (mut id, mut len) = (String::new(), 0usize);
        loop {
            let mut line = String::new();
            reader.read_line(&mut line)?;
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                match k.to_ascii_lowercase().as_str() {
                    "lambda-runtime-aws-request-id" => id = v.trim().to_owned(),
                    "content-length" => len = v.trim().parse().unwrap_or(0),
                    _ => {}
                }
            }
        }
        let mut body = vec![0; len];
        reader.read_exact(&mut body)?;
        let mib = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.get("mib")?.as_u64())
            .unwrap_or(1) as usize;
        let mut out = TcpStream::connect(api)?;
        out.set_nodelay(true)?;
        write!(
            out,
            "POST /2018-06-01/runtime/invocation/{id}/response HTTP/1.1\r\nHost: {api}\r\n\
             Lambda-Runtime-Function-Response-Mode: streaming\r\nTransfer-Encoding: chunked\r\n\
             Content-Type: application/octet-stream\r\n\r\n"
        )?;
        println!("FIRST_CHUNK_NS {}", now_ns());
        let mut frame = format!("{CHUNK:x}\r\n").into_bytes();
        frame.extend_from_slice(&block);
        frame.extend_from_slice(b"\r\n");
        for _ in 0..(mib * 1024 * 1024 / CHUNK) {
            out.write_all(&frame)?;
        }
        out.write_all(b"0\r\n\r\n")?;
        let mut answer = [0u8; 256];
        let _ = out.read(&mut answer)?;
    }
}

fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

struct Run {
    bytes: usize,
    elapsed: Duration,
    first_byte_ns: u128,
}

async fn stream_once(emu: &Emulator, mib: usize) -> Result<Run, Box<dyn std::error::Error>> {
    let stream = tokio::net::TcpStream::connect(emu.addr()).await?;
    stream.set_nodelay(true)?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let req = http::Request::post("/2021-11-15/functions/bench/response-streaming-invocations")
        .header("host", emu.addr().to_string())
        .body(Full::new(bytes::Bytes::from(format!("{{\"mib\":{mib}}}"))))?;
    let started = Instant::now();
    let mut body = sender.send_request(req).await?.into_body();
    let mut decoder = Decoder::new();
    let (mut bytes, mut first_byte_ns) = (0usize, 0u128);
    let mut complete = false;
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame?.into_data() else {
            continue;
        };
        decoder.feed(&data);
        while let Some(m) = decoder.next_message()? {
            match m.header(":event-type") {
                Some("PayloadChunk") => {
                    if first_byte_ns == 0 {
                        first_byte_ns = now_ns();
                    }
                    bytes += m.payload.len();
                }
                Some("InvokeComplete") => complete = true,
                _ => {}
            }
        }
    }
    if !complete {
        return Err("the stream ended without InvokeComplete".into());
    }
    Ok(Run {
        bytes,
        elapsed: started.elapsed(),
        first_byte_ns,
    })
}

fn first_chunk_ns(emu: &Emulator) -> u128 {
    emu.logs("bench")
        .iter()
        .rev()
        .find_map(|l| l.text.strip_prefix("FIRST_CHUNK_NS ")?.parse().ok())
        .unwrap_or(0)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    if let Ok(api) = std::env::var("AWS_LAMBDA_RUNTIME_API") {
        run_function(&api)?;
        return Ok(());
    }
    let mut args = std::env::args().skip(1);
    let mib: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(100);
    let runs: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(3);
    let exe = std::env::current_exe()?;
    let emu = Emulator::builder()
        .function(
            FunctionConfig::new("bench")
                .command([exe.display().to_string()])
                .timeout(Duration::from_secs(120))
                .memory_mb(1024),
        )
        .start()
        .await?;
    // Warm up: start the environment and touch every code path once.
    stream_once(&emu, 1).await?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let idle = rss_bytes();
    let peak = Arc::new(AtomicU64::new(idle));
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (peak, stop) = (peak.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                peak.fetch_max(rss_bytes(), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(1));
            }
        })
    };
    println!("stream_bench: {mib} MiB per run, {runs} runs, bandwidth shape off");
    for i in 0..runs {
        let run = stream_once(&emu, mib).await?;
        let first = first_chunk_ns(&emu);
        let gib_s = run.bytes as f64 / run.elapsed.as_secs_f64() / (1024.0 * 1024.0 * 1024.0);
        let ttfb_us = run.first_byte_ns.saturating_sub(first) as f64 / 1000.0;
        println!(
            "run {}: {} bytes in {:.1} ms = {gib_s:.2} GiB/s; function first chunk -> client first byte {ttfb_us:.0} us",
            i + 1,
            run.bytes,
            run.elapsed.as_secs_f64() * 1000.0
        );
    }
    stop.store(true, Ordering::Relaxed);
    let _ = sampler.join();
    let above = peak.load(Ordering::Relaxed).saturating_sub(idle);
    println!(
        "resident memory: idle {:.1} MiB, peak {:.1} MiB above idle",
        idle as f64 / 1048576.0,
        above as f64 / 1048576.0
    );
    emu.shutdown().await;
    Ok(())
}
