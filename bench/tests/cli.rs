//! The `firebox-bench` command as users run it: `invoke`, `compare` (which starts the echo
//! floor as its own process) and the error exits, against a real echo server.

use std::process::Command;

use firebox_bench::compare::{self, CompareConfig, FloorProcess};
use firebox_bench::echo_server::EchoServer;
use firebox_bench::endpoint::Endpoint;

const EXE: &str = env!("CARGO_BIN_EXE_firebox-bench");

/// Runs the command on a blocking thread so the test's runtime keeps serving.
async fn run(args: Vec<String>) -> std::process::Output {
    tokio::task::spawn_blocking(move || Command::new(EXE).args(args).output().unwrap())
        .await
        .unwrap()
}

/// Asserts a usage error: exit status 2 and `needle` in stderr.
fn assert_usage_error(out: &std::process::Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(needle),
        "{needle:?} not in stderr: {stderr}"
    );
}

/// An echo server on an ephemeral port (kept alive by the returned handle) and its URL.
async fn echo_endpoint() -> (EchoServer, String) {
    let server = EchoServer::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", server.local_addr());
    (server, endpoint)
}

fn args(s: &[&str]) -> Vec<String> {
    s.iter().map(|s| s.to_string()).collect()
}

/// `command --endpoint endpoint --function function`, then `rest`.
fn against(command: &str, endpoint: &str, function: &str, rest: &[&str]) -> Vec<String> {
    let mut all = args(&[command, "--endpoint", endpoint, "--function", function]);
    all.extend(args(rest));
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invoke_prints_json_that_adds_up() {
    let (_server, endpoint) = echo_endpoint().await;
    let out = run(against(
        "invoke",
        &endpoint,
        "hello",
        &[
            "-c",
            "2",
            "-n",
            "300",
            "--warmup",
            "10",
            "--payload",
            r#"{"x":1}"#,
            "--json",
        ],
    ))
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["ok"], 300);
    assert_eq!(report["invocations"], 300);
    assert_eq!(report["concurrency"], 2);
    assert_eq!(report["latency"]["count"], 300);
    assert!(report["errors"].as_object().unwrap().is_empty());
    assert!(
        report["latency"]["p99_us"].as_f64().unwrap()
            >= report["latency"]["p50_us"].as_f64().unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invoke_reports_the_cpu_time_of_a_process() {
    // The echo server runs in this test's process: its CPU time grows with the requests.
    let (_server, endpoint) = echo_endpoint().await;
    let me = std::process::id().to_string();
    let out = run(against(
        "invoke",
        &endpoint,
        "hello",
        &["-n", "300", "--cpu-pid", &me, "--json"],
    ))
    .await;
    assert!(out.status.success(), "{out:?}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let cpu = report["cpu"].as_array().unwrap();
    assert_eq!(cpu.len(), 1);
    assert_eq!(cpu[0]["pid"].as_u64(), Some(u64::from(std::process::id())));
    assert!(!cpu[0]["name"].as_str().unwrap().is_empty());
    let per = cpu[0]["per_invocation_us"].as_f64().unwrap();
    let total = cpu[0]["total_ms"].as_f64().unwrap();
    assert!(per > 0.0, "{cpu:?}");
    assert!(
        (per * 300.0 / 1000.0 - total).abs() < 1e-6 * total.max(1.0),
        "{cpu:?}"
    );

    // The text form names the process.
    let out = run(against(
        "invoke",
        &endpoint,
        "hello",
        &["-n", "50", "--cpu-pid", &me],
    ))
    .await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&format!("(pid {me}): ")), "{text}");
    assert!(text.contains(" per invocation ("), "{text}");

    // Without --cpu-pid the JSON has no cpu field.
    let out = run(against(
        "invoke",
        &endpoint,
        "hello",
        &["-n", "10", "--json"],
    ))
    .await;
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(report.get("cpu").is_none(), "{report}");
}

#[tokio::test]
async fn a_cpu_pid_that_is_not_running_is_refused_before_any_request() {
    let (_server, endpoint) = echo_endpoint().await;
    // A process that has exited and been reaped.
    let mut child = Command::new("true").spawn().unwrap();
    let gone = child.id().to_string();
    child.wait().unwrap();
    let out = run(against(
        "invoke",
        &endpoint,
        "hello",
        &["-n", "10", "--cpu-pid", &gone],
    ))
    .await;
    assert_usage_error(&out, &format!("cannot read the CPU time of process {gone}"));
    assert!(out.stdout.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compare_with_cpu_pid_adds_cpu_columns() {
    let (_server, endpoint) = echo_endpoint().await;
    let me = std::process::id().to_string();
    let out = run(against(
        "compare",
        &endpoint,
        "hello",
        &["-c", "1", "-n", "100", "--rounds", "2", "--cpu-pid", &me],
    ))
    .await;
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].ends_with("server CPU/inv"), "{text}");
    // Every run has a CPU figure (none is n/a: both processes were readable throughout).
    let runs: Vec<&&str> = lines
        .iter()
        .filter(|l| {
            let cells: Vec<&str> = l.split_whitespace().collect();
            cells.first() == Some(&"1") && matches!(cells.get(2), Some(&("floor" | "endpoint")))
        })
        .collect();
    assert_eq!(runs.len(), 4, "{text}");
    assert!(runs.iter().all(|l| l.trim_end().ends_with("µs")), "{text}");
    assert!(
        text.contains("floor CPU/inv (median)  endpoint CPU/inv (median)"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compare_measures_floor_and_endpoint_at_each_concurrency() {
    let (_server, endpoint) = echo_endpoint().await;
    let out = run(against(
        "compare",
        &endpoint,
        "hello",
        &["-c", "1,3", "-n", "200", "--warmup", "5", "--json"],
    ))
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    for (row, c) in rows.iter().zip([1, 3]) {
        assert_eq!(row["concurrency"], c);
        assert_eq!(row["floor"]["ok"], 200);
        assert_eq!(row["endpoint"]["ok"], 200);
        assert_ne!(row["floor"]["target"], row["endpoint"]["target"]);
        assert!(row["p50_ratio"].as_f64().unwrap() > 0.0);
    }

    // The text form names both targets.
    let out = run(against(
        "compare",
        &endpoint,
        "hello",
        &["-c", "2", "-n", "50"],
    ))
    .await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("floor") && text.contains("endpoint"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compare_interleaves_rounds_and_reports_their_medians() {
    let (_server, endpoint) = echo_endpoint().await;
    let base = [
        "compare",
        "--endpoint",
        &endpoint,
        "--function",
        "hello",
        "-c",
        "1,2",
        "-n",
        "50",
        "--warmup",
        "2",
        "--rounds",
        "3",
    ];
    let out = run(args(&[&base[..], &["--json"]].concat())).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let got: Vec<(u64, u64)> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert_eq!(r["endpoint"]["ok"], 50);
            (
                r["concurrency"].as_u64().unwrap(),
                r["round"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, [(1, 1), (1, 2), (1, 3), (2, 1), (2, 2), (2, 3)]);

    let out = run(args(&base)).await;
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("round") && text.contains("(median)"),
        "{text}"
    );

    let out = run(args(&[&base[..12], &["--rounds", "0"]].concat())).await;
    assert_eq!(out.status.code(), Some(2), "zero rounds is a bad flag");
}

#[test]
fn summaries_are_medians_per_level() {
    use firebox_bench::compare::{summarize, CompareRow};
    use firebox_bench::loadgen::{LoadReport, ProcessCpu};
    use firebox_bench::stats::LatencySummary;
    let report = |p50: f64, throughput: f64, cpu_us: Option<f64>| LoadReport {
        label: "x".into(),
        target: "t".into(),
        concurrency: 1,
        invocations: 1,
        warmup: 0,
        ok: 1,
        errors: Default::default(),
        wall_s: 1.0,
        throughput_per_s: throughput,
        latency: LatencySummary {
            p50_us: p50,
            ..Default::default()
        },
        first_request_us: None,
        first_request_outcome: String::new(),
        connections_opened: 1,
        cpu: cpu_us
            .map(|us| {
                vec![ProcessCpu {
                    pid: 1,
                    name: "serve".into(),
                    total_ms: Some(us / 1000.0),
                    per_invocation_us: Some(us),
                }]
            })
            .unwrap_or_default(),
    };
    let row = |round, floor: f64, endpoint: f64| CompareRow {
        concurrency: 1,
        round,
        p50_ratio: Some(endpoint / floor),
        throughput_ratio: None,
        floor: report(floor, 1.0, None),
        endpoint: report(
            endpoint,
            100.0 * round as f64,
            Some([0.0, 10.0, 30.0, 20.0][round]),
        ),
    };
    let s = summarize(&[row(1, 10.0, 40.0), row(2, 20.0, 40.0), row(3, 40.0, 40.0)]);
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].rounds, 3);
    assert_eq!(s[0].floor_p50_us, 20.0);
    assert_eq!(s[0].endpoint_p50_us, 40.0);
    assert_eq!(s[0].p50_ratio, Some(2.0));
    assert_eq!(s[0].p50_ratio_range, Some((1.0, 4.0)));
    assert_eq!(s[0].endpoint_throughput_per_s, 200.0);
    assert_eq!(s[0].endpoint_cpu_per_invocation_us, Some(20.0));
    assert_eq!(
        s[0].floor_cpu_per_invocation_us, None,
        "no CPU watched on the floor"
    );
}

#[tokio::test]
async fn floor_process_starts_and_serves() {
    let floor = FloorProcess::spawn(std::path::Path::new(EXE))
        .await
        .unwrap();
    let server = EchoServer::bind("127.0.0.1:0").await.unwrap();
    let rows = compare::run(
        &floor,
        &CompareConfig {
            endpoint: Endpoint::parse(&server.local_addr().to_string()).unwrap(),
            function: "hello".into(),
            qualifier: Some("$LATEST".into()),
            payload: bytes::Bytes::from_static(b"{}"),
            headers: Vec::new(),
            concurrency: vec![2],
            invocations: 100,
            warmup: 0,
            request_timeout: std::time::Duration::from_secs(10),
            rounds: 1,
            // This process serves the endpoint (and drives the load).
            cpu_pids: vec![std::process::id()],
        },
    )
    .await
    .unwrap();
    assert_eq!(rows[0].floor.ok, 100);
    // The floor's runs report the echo server process, the endpoint's the pid given.
    assert_eq!(rows[0].floor.cpu.len(), 1);
    assert_eq!(rows[0].floor.cpu[0].pid, floor.pid());
    assert_ne!(floor.pid(), std::process::id());
    assert!(rows[0].floor.cpu_per_invocation_us().unwrap() > 0.0);
    assert_eq!(rows[0].endpoint.cpu[0].pid, std::process::id());
    assert!(rows[0].endpoint.cpu_per_invocation_us().unwrap() > 0.0);
    assert!(rows[0].floor.target.ends_with("?Qualifier=$LATEST"));
    floor.stop().await;
}

#[tokio::test]
async fn nothing_succeeding_exits_1_and_bad_flags_exit_2() {
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    };
    let out = run(against(
        "invoke",
        &closed,
        "f",
        &["-n", "3", "--warmup", "0"],
    ))
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("connect"));

    let out = run(against("invoke", "https://x", "f", &[])).await;
    assert_usage_error(&out, "not supported");

    let out = run(against("invoke", &closed, "f", &["--header", "no-colon"])).await;
    assert_usage_error(&out, "bad header");

    let out = run(args(&["runtime", "--bin", "x=/nonexistent/bootstrap"])).await;
    assert_usage_error(&out, "/nonexistent/bootstrap");
}
