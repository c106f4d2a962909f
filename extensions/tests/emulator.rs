//! The crate against the real thing: `examples/invoke-counter`, `examples/telemetry-reporter`
//! and `examples/log-reporter`, built with this crate, run as external extensions of a
//! function under the Firebox emulator (real processes beside the test runtime, registering
//! through the emulator's Extensions API and subscribing through its Telemetry or Logs API,
//! over HTTP and over TCP), through Init, two invocations and the Shutdown phase of an idle
//! reclaim; and the telemetry reporter stopped for a while, which hears, typed, how many
//! records the emulator dropped meanwhile.

use std::process::Command;
use std::time::Duration;

mod examples_built;
use examples_built::{example, runtime, texts, wait_for, wait_for_the_end, wait_until};

use firebox_emulator::{Emulator, FunctionConfig};

/// Invokes `f` twice, expecting successes; returns the request ids.
async fn invoke_twice(emu: &Emulator) -> Vec<String> {
    let mut ids = Vec::new();
    for _ in 0..2 {
        let r = emu.invoke("f", "{}".to_owned()).await.unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.function_error, None, "{}", r.text());
        ids.push(r.request_id.unwrap());
    }
    ids
}

#[tokio::test]
async fn invoke_counter_sees_every_invocation_and_the_shutdown() {
    let f = FunctionConfig::new("f")
        .command(["python3", "-u", &runtime()])
        .extension(example("invoke-counter"))
        .idle_timeout(Duration::from_secs(1));
    let emu = Emulator::builder().function(f).start().await.unwrap();
    let ids = invoke_twice(&emu).await;
    wait_for(
        &emu,
        "EXTENSION\tName: invoke-counter\tState: Ready\tEvents: [INVOKE,SHUTDOWN]",
    )
    .await;
    for id in &ids {
        wait_for(&emu, &format!("[invoke-counter] INVOKE {id}")).await;
    }
    // The idle reclaim after 1 s is a Shutdown phase: the extension hears why and exits. The
    // second invoke may have found the first environment still in its invoke phase (the
    // extension not yet back in next) and started another: each environment's extension
    // reports its own count, and together they saw both invocations.
    let mut reported = false;
    for _ in 0..3000 {
        let lines = texts(&emu);
        let environments = lines.iter().filter(|l| l.starts_with("INIT_START")).count();
        let counts: Vec<u32> = lines
            .iter()
            .filter_map(|l| l.strip_prefix("[invoke-counter] SHUTDOWN spindown after "))
            .filter_map(|rest| rest.strip_suffix(" invokes")?.parse().ok())
            .collect();
        if counts.len() == environments {
            assert_eq!(counts.iter().sum::<u32>(), 2, "{}", lines.join("\n"));
            reported = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        reported,
        "not every environment's extension reported its SHUTDOWN:\n{}",
        texts(&emu).join("\n")
    );
    for _ in 0..3000 {
        if emu.live_processes() == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the environment's processes are still alive");
}

/// How many environments started (one `INIT_START` line each).
fn environments(lines: &[String]) -> usize {
    lines
        .iter()
        .filter(|l| l.starts_with("INIT_START Runtime Version"))
        .count()
}

/// The line of `lines` that starts with `prefix`, and the rest of it.
fn find<'a>(lines: &'a [String], prefix: &str) -> Option<&'a str> {
    lines.iter().find_map(|l| l.strip_prefix(prefix))
}

/// `examples/<name>` as the extension of a function `f`, with `var=value` in its environment;
/// not frozen between invocations (a frozen environment's extension cannot take a batch until
/// the next thaw), and reclaimed after 1 s idle.
async fn emulator_with(name: &str, var: &str, value: &str) -> Emulator {
    let f = FunctionConfig::new("f")
        .command(["python3", "-u", &runtime()])
        .extension(example(name))
        .env(var, value)
        .freeze(false)
        .idle_timeout(Duration::from_secs(1));
    Emulator::builder().function(f).start().await.unwrap()
}

/// `telemetry-reporter` subscribed over `protocol` (`http` or `tcp`): every environment's
/// extension subscribes a destination of that scheme, hears its Init and its invocations'
/// reports, and its spindown.
async fn telemetry_reporter_over(protocol: &str) {
    let emu = emulator_with(
        "telemetry-reporter",
        "TELEMETRY_REPORTER_PROTOCOL",
        protocol,
    )
    .await;
    let ids = invoke_twice(&emu).await;
    let lines = wait_until(&emu, "no SUBSCRIBED line", |lines| {
        find(lines, "[telemetry-reporter] SUBSCRIBED ").is_some()
    })
    .await;
    let destination = find(&lines, "[telemetry-reporter] SUBSCRIBED ").unwrap();
    assert!(
        destination.starts_with(&format!("{protocol}://sandbox.localdomain:")),
        "{destination}"
    );
    wait_for(&emu, "[telemetry-reporter] INIT_START on-demand").await;
    for id in &ids {
        let prefix = format!("[telemetry-reporter] REPORT {id} success billed=");
        let lines = wait_until(&emu, &format!("no REPORT line for {id}"), |lines| {
            find(lines, &prefix).is_some()
        })
        .await;
        let billed = find(&lines, &prefix).unwrap().strip_suffix("ms");
        assert!(
            billed.is_some_and(|ms| ms.parse::<u64>().is_ok()),
            "{billed:?}"
        );
    }
    // The second invoke may have found the first environment still in its invoke phase and
    // started another: every environment's extension hears its Init, and its spindown.
    let lines = all_shut_down(&emu, "telemetry-reporter").await;
    let count = |prefix: &str| lines.iter().filter(|l| l.starts_with(prefix)).count();
    assert_eq!(
        count("[telemetry-reporter] INIT_START on-demand"),
        environments(&lines),
        "{}",
        lines.join("\n")
    );
    assert_eq!(
        count(&format!("[telemetry-reporter] SUBSCRIBED {protocol}://")),
        environments(&lines),
        "{}",
        lines.join("\n")
    );
    assert_eq!(
        count("[telemetry-reporter] REPORT "),
        2,
        "one REPORT per invocation:\n{}",
        lines.join("\n")
    );
    wait_for_the_end(&emu).await;
}

/// Waits until every environment's extension `name` has heard its spindown; the log lines.
async fn all_shut_down(emu: &Emulator, name: &str) -> Vec<String> {
    let shutdown = format!("[{name}] SHUTDOWN spindown");
    wait_until(
        emu,
        "not every environment's extension shut down",
        |lines| {
            let shutdowns = lines.iter().filter(|l| **l == shutdown).count();
            environments(lines) > 0 && shutdowns == environments(lines)
        },
    )
    .await
}

#[tokio::test]
async fn telemetry_reporter_hears_init_every_report_and_the_shutdown() {
    telemetry_reporter_over("http").await;
}

#[tokio::test]
async fn telemetry_reporter_over_tcp_hears_init_every_report_and_the_shutdown() {
    telemetry_reporter_over("tcp").await;
}

/// `log-reporter` subscribed to the Logs API over `protocol` (`tcp` or `http`): every
/// environment's extension subscribes a destination of that scheme, hears its subscription
/// announced, each of its invocations' start, end and report in that order, and its spindown.
async fn log_reporter_over(protocol: &str) {
    let emu = emulator_with("log-reporter", "LOG_REPORTER_PROTOCOL", protocol).await;
    let ids = invoke_twice(&emu).await;
    for id in &ids {
        let report = format!("[log-reporter] REPORT {id} billed=");
        wait_until(&emu, &format!("no REPORT line for {id}"), |lines| {
            find(lines, &report).is_some()
        })
        .await;
    }
    let lines = all_shut_down(&emu, "log-reporter").await;
    let log = lines.join("\n");
    let count = |prefix: &str| lines.iter().filter(|l| l.starts_with(prefix)).count();
    assert_eq!(
        count(&format!(
            "[log-reporter] SUBSCRIBED {protocol}://sandbox.localdomain:"
        )),
        environments(&lines),
        "{log}"
    );
    assert_eq!(
        count("[log-reporter] SUBSCRIPTION log-reporter platform"),
        environments(&lines),
        "every subscription is announced by a platform.logsSubscription record:\n{log}"
    );
    for id in &ids {
        let at = |line: String| {
            lines
                .iter()
                .position(|l| *l == line || l.starts_with(&line))
                .unwrap_or_else(|| panic!("no line {line:?}:\n{log}"))
        };
        let start = at(format!("[log-reporter] START {id}"));
        let end = at(format!("[log-reporter] END {id}"));
        let report = at(format!("[log-reporter] REPORT {id} billed="));
        assert!(start < end && end < report, "{log}");
        let billed = find(&lines, &format!("[log-reporter] REPORT {id} billed="))
            .and_then(|rest| rest.strip_suffix("ms"));
        assert!(
            billed.is_some_and(|ms| ms.parse::<u64>().is_ok()),
            "{billed:?}"
        );
    }
    assert_eq!(count("[log-reporter] START "), 2, "{log}");
    assert_eq!(count("[log-reporter] REPORT "), 2, "{log}");
    wait_for_the_end(&emu).await;
}

#[tokio::test]
async fn log_reporter_over_tcp_hears_every_invocation_and_the_shutdown() {
    log_reporter_over("tcp").await;
}

#[tokio::test]
async fn log_reporter_over_http_hears_every_invocation_and_the_shutdown() {
    log_reporter_over("http").await;
}

/// The process id of the running extension whose environment has `var=value`.
fn extension_pid(var: &str, value: &str) -> Option<u32> {
    let mark = format!("{var}={value}");
    std::fs::read_dir("/proc").ok()?.find_map(|entry| {
        let pid: u32 = entry.ok()?.file_name().to_str()?.parse().ok()?;
        let environ = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        let marked = environ.split(|b| *b == 0).any(|v| v == mark.as_bytes());
        let reporter = String::from_utf8_lossy(&cmdline).contains("telemetry-reporter");
        (marked && reporter).then_some(pid)
    })
}

/// Sends `signal` (`STOP`, `CONT`) to process `pid`.
fn signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .args([format!("-{signal}"), pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill -{signal} {pid}");
}

#[tokio::test]
async fn telemetry_reporter_hears_how_many_records_it_lost_while_it_fell_behind() {
    let f = FunctionConfig::new("f")
        .command(["python3", "-u", &runtime()])
        .extension(example("telemetry-reporter"))
        .env("FIREBOX_TEST_CASE", "fell-behind")
        .freeze(false)
        .idle_timeout(Duration::from_secs(60));
    let emu = Emulator::builder().function(f).start().await.unwrap();
    let first = invoke(&emu, "{}").await;
    let report = format!("[telemetry-reporter] REPORT {first} success billed=");
    wait_until(&emu, "no first REPORT", |lines| {
        find(lines, &report).is_some()
    })
    .await;
    let pid = extension_pid("FIREBOX_TEST_CASE", "fell-behind").expect("the reporter runs");

    // Stopped, the extension takes no batch: the next one sent is held, the buffer behind it
    // fills (the reporter's maxBytes, 256 KiB: under 4,000 of these records), and the rest of
    // the invocation's 20,000 lines is dropped.
    signal(pid, "STOP");
    let second = invoke(&emu, r#"{"print": 20000}"#).await;
    wait_for(&emu, "line 19999").await;
    signal(pid, "CONT");

    // The SDK hands the extension a typed platform.logsDropped, at the head of the batch
    // that follows the held one. Only then is the buffer drained: an invocation started
    // before (the resumed reporter may call /next before it takes the held batch) would see
    // its records dropped too. The second invocation's end and report were dropped: the
    // next invocation's report, in the same environment once the extension is back in next,
    // says how many of its lines came.
    wait_until(&emu, "no DROPPED line", |lines| {
        find(lines, "[telemetry-reporter] DROPPED ").is_some()
    })
    .await;
    invoke_phase_over(&emu).await;
    let third = invoke(&emu, "{}").await;
    let lines = wait_until(&emu, "no third REPORT line", |lines| {
        find(lines, &format!("[telemetry-reporter] REPORT {third} ")).is_some()
    })
    .await;
    let log = lines.join("\n");
    let dropped = find(&lines, "[telemetry-reporter] DROPPED ").unwrap();
    let (counts, reason) = dropped
        .split_once(": ")
        .expect("DROPPED n records m bytes: why");
    let counts: Vec<&str> = counts.split(' ').collect();
    let (records, bytes): (u64, u64) = (counts[0].parse().unwrap(), counts[2].parse().unwrap());
    assert_eq!((counts[1], counts[3]), ("records", "bytes"), "{dropped}");
    assert!(reason.contains("maxBytes"), "{reason}");
    // Kept: the start and the first lines, in a held batch and a buffer of at most 256 KiB
    // each; dropped, and counted exactly: every record after them (the other lines, the
    // end and the report), each about 75 bytes.
    let kept_lines: u64 = find(&lines, &format!("[telemetry-reporter] LINES {third} "))
        .expect("a LINES line")
        .parse()
        .unwrap();
    assert!(records >= 10_000, "{log}");
    assert_eq!(kept_lines + records, 20_002, "{log}");
    assert!((50..100).contains(&(bytes / records)), "{dropped}");
    assert_eq!(
        lines.iter().filter(|l| l.contains("] DROPPED ")).count(),
        1,
        "{log}"
    );
    assert!(find(&lines, &format!("[telemetry-reporter] REPORT {second} ")).is_none());
}

/// Waits until no invocation of `f` runs, its invoke phase included (the emulator's
/// `firebox_concurrent_executions` gauge, from `/metrics`, reads 0).
async fn invoke_phase_over(emu: &Emulator) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = emu.endpoint().trim_start_matches("http://").to_owned();
    let series = "firebox_concurrent_executions{function=\"f\"} ";
    let mut text = String::new();
    for _ in 0..600 {
        let mut conn = tokio::net::TcpStream::connect(&address).await.unwrap();
        conn.write_all(b"GET /metrics HTTP/1.1\r\nHost: emulator\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        text.clear();
        conn.read_to_string(&mut text).await.unwrap();
        if text.lines().any(|l| l.strip_prefix(series) == Some("0")) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the invoke phase never ended; metrics:\n{text}");
}

/// Invokes `f` with `event`, expecting a success; the request id.
async fn invoke(emu: &Emulator, event: &str) -> String {
    let r = emu.invoke("f", event.to_owned()).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.function_error, None, "{}", r.text());
    r.request_id.unwrap()
}
