//! Multi-concurrency (`max_concurrency = N`, Lambda Managed Instances): one environment holds
//! N invocations at once, with a stdlib Python runtime (N threads, one process) and with
//! Python's `awslambdaric` in its own multi-concurrent mode (N forked workers).

mod common;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{invoke_raw, reports, wait_until, Barrier, PYTHON};
use firebox_emulator::{Emulator, FunctionConfig};

fn temp_file(tag: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("firebox-multi-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_file(&p);
    p
}

fn max_overlap(path: &Path) -> (usize, usize) {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut events: Vec<(f64, i32)> = text
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let kind = f.next()?;
            let t: f64 = f.next()?.parse().ok()?;
            Some((t, if kind == "start" { 1 } else { -1 }))
        })
        .collect();
    let starts = events.iter().filter(|e| e.1 == 1).count();
    events.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let (mut now, mut max) = (0i32, 0i32);
    for (_, d) in events {
        now += d;
        max = max.max(now);
    }
    (max as usize, starts)
}

async fn parallel(emu: &Emulator, f: &str, n: usize, payload: &str) -> Vec<common::Raw> {
    let mut handles = Vec::new();
    for _ in 0..n {
        let endpoint = emu.endpoint().to_owned();
        let (f, payload) = (f.to_owned(), payload.to_owned());
        handles.push(tokio::spawn(async move {
            invoke_raw(&endpoint, &f, &[], payload).await
        }));
    }
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

#[tokio::test]
async fn one_process_holds_n_invocations_at_once() {
    let record = temp_file("stdlib");
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/runtimes/concurrency.py");
    let emu = Emulator::builder()
        .function(
            FunctionConfig::new("lmi")
                .command([PYTHON.to_owned(), "-u".into(), script.display().to_string()])
                .timeout(Duration::from_secs(10))
                .max_concurrency(4),
        )
        .start()
        .await
        .unwrap();
    // Warm the environment first, so that all four land in it.
    let warm = emu.invoke("lmi", "{}").await.unwrap();
    assert_eq!(warm.function_error, None, "{}", warm.text());
    let pid = warm.json().unwrap()["pid"].as_i64().unwrap();
    // Each invocation records its start and waits until all four have started: if the
    // environment could not hold four at once, they would time out instead.
    let barrier = Barrier::new("lmi", 4);
    let payload = serde_json::json!({ "record": record, "barrier": barrier.spec(), "sleep": 0.5 })
        .to_string();
    let results = parallel(&emu, "lmi", 4, &payload).await;
    let mut slots = HashSet::new();
    for r in &results {
        assert_eq!(r.status, 200);
        assert!(r.header("x-amz-function-error").is_none(), "{:?}", r.body);
        let j = r.json();
        assert_eq!(j["pid"].as_i64(), Some(pid), "same process");
        assert_eq!(j["init_type"], "lambda-managed-instances");
        assert_eq!(j["max_concurrency"], "4");
        slots.insert(j["slot"].as_i64().unwrap());
    }
    assert_eq!(slots.len(), 4, "four /next calls served at once");
    let (overlap, starts) = max_overlap(&record);
    assert_eq!((overlap, starts), (4, 4), "all four ran at the same time");
    assert_eq!(emu.live_processes(), 1);
    assert_eq!(reports(&emu, "lmi").len(), 5);
    // A fifth at once needs a second environment.
    let barrier = Barrier::new("lmi5", 5);
    let payload = serde_json::json!({ "barrier": barrier.spec() }).to_string();
    let results = parallel(&emu, "lmi", 5, &payload).await;
    let pids: HashSet<i64> = results
        .iter()
        .map(|r| r.json()["pid"].as_i64().unwrap())
        .collect();
    assert_eq!(pids.len(), 2, "{pids:?}");
    let _ = std::fs::remove_file(record);
}

#[tokio::test]
async fn a_failing_invocation_does_not_disturb_the_others() {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/runtimes/concurrency.py");
    let emu = Emulator::builder()
        .function(
            FunctionConfig::new("mix")
                .command([PYTHON.to_owned(), "-u".into(), script.display().to_string()])
                .timeout(Duration::from_secs(10))
                .max_concurrency(3),
        )
        .start()
        .await
        .unwrap();
    emu.invoke("mix", "{}").await.unwrap();
    let endpoint = emu.endpoint().to_owned();
    // Both are in the environment at once (each waits for the other) before one fails.
    let barrier = Barrier::new("mix", 2);
    let ok = tokio::spawn({
        let endpoint = endpoint.clone();
        let payload = serde_json::json!({ "barrier": barrier.spec(), "sleep": 0.5 }).to_string();
        async move { invoke_raw(&endpoint, "mix", &[], payload).await }
    });
    let payload = serde_json::json!({ "barrier": barrier.spec(), "fail": "no" }).to_string();
    let failing = invoke_raw(&endpoint, "mix", &[], payload).await;
    assert_eq!(failing.header("x-amz-function-error"), Some("Unhandled"));
    assert_eq!(failing.json()["errorType"], "Failed");
    let ok = ok.await.unwrap();
    assert_eq!(ok.status, 200);
    assert!(ok.header("x-amz-function-error").is_none());
}

#[tokio::test]
async fn a_crash_fails_every_invocation_in_the_environment_and_the_next_is_cold() {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/runtimes/concurrency.py");
    let emu = Emulator::builder()
        .function(
            FunctionConfig::new("crash")
                .command([PYTHON.to_owned(), "-u".into(), script.display().to_string()])
                .timeout(Duration::from_secs(10))
                .max_concurrency(2),
        )
        .start()
        .await
        .unwrap();
    let pid = emu.invoke("crash", "{}").await.unwrap().json().unwrap()["pid"]
        .as_i64()
        .unwrap();
    let endpoint = emu.endpoint().to_owned();
    let record = temp_file("crash");
    let slow = tokio::spawn({
        let endpoint = endpoint.clone();
        let payload = serde_json::json!({ "record": record, "sleep": 30 }).to_string();
        async move { invoke_raw(&endpoint, "crash", &[], payload).await }
    });
    // The slow invocation is running in the environment (it recorded its start).
    wait_until(
        "the slow invocation to start",
        Duration::from_secs(60),
        || std::fs::read_to_string(&record).is_ok_and(|t| t.starts_with("start ")),
    )
    .await;
    let crash = invoke_raw(&endpoint, "crash", &[], r#"{"exit": 7}"#).await;
    assert_eq!(crash.json()["errorType"], "Runtime.ExitError");
    let slow = slow.await.unwrap();
    assert_eq!(
        slow.json()["errorType"],
        "Runtime.ExitError",
        "{:?}",
        slow.body
    );
    let next = emu.invoke("crash", "{}").await.unwrap();
    assert_eq!(next.function_error, None);
    assert_ne!(next.json().unwrap()["pid"].as_i64(), Some(pid));
    let _ = std::fs::remove_file(record);
}

/// The venv's Python, with `awslambdaric` (made by `scripts/setup-test-deps`).
fn venv_python() -> PathBuf {
    if let Some(p) = std::env::var_os("FIREBOX_PYTHON") {
        return PathBuf::from(p);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python")
}

#[tokio::test]
async fn awslambdaric_multi_concurrent_mode_overlaps_in_one_environment() {
    let python = venv_python();
    assert!(
        python.exists(),
        "{} is missing: run scripts/setup-test-deps (it installs awslambdaric)",
        python.display()
    );
    let record = temp_file("ric");
    let code = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/runtimes");
    let emu = Emulator::builder()
        .function(
            FunctionConfig::new("ric")
                .command([
                    python.display().to_string(),
                    "-m".into(),
                    "awslambdaric".into(),
                    "lmi_app.overlap".into(),
                ])
                .code_dir(code)
                .handler("lmi_app.overlap")
                .timeout(Duration::from_secs(20))
                .max_concurrency(3),
        )
        .start()
        .await
        .unwrap();
    let payload = serde_json::json!({ "sleep": 0.1, "record": record }).to_string();
    let warm = invoke_raw(emu.endpoint(), "ric", &[], payload).await;
    assert_eq!(warm.status, 200);
    assert!(
        warm.header("x-amz-function-error").is_none(),
        "{:?}",
        warm.body
    );
    let _ = std::fs::remove_file(&record);
    let barrier = Barrier::new("ric", 3);
    let payload = serde_json::json!({ "record": record, "barrier": barrier.spec(), "sleep": 0.5 })
        .to_string();
    let results = parallel(&emu, "ric", 3, &payload).await;
    let mut parents = HashSet::new();
    let mut workers = HashSet::new();
    for r in &results {
        assert_eq!(r.status, 200);
        assert!(r.header("x-amz-function-error").is_none(), "{:?}", r.body);
        let j = r.json();
        assert_eq!(j["max_concurrency"], "3");
        assert_eq!(j["init_type"], "lambda-managed-instances");
        parents.insert(j["ppid"].as_i64().unwrap());
        workers.insert(j["pid"].as_i64().unwrap());
    }
    assert_eq!(
        parents.len(),
        1,
        "one environment (one awslambdaric parent)"
    );
    assert_eq!(workers.len(), 3, "awslambdaric's forked workers");
    let (overlap, starts) = max_overlap(&record);
    assert_eq!((overlap, starts), (3, 3), "the three ran at the same time");
    assert_eq!(emu.live_processes(), 1, "one environment");
    let _ = std::fs::remove_file(record);
}

/// The `firebox_fn` example: a Firebox function using `run_concurrent` (built by `cargo test`).
fn firebox_fn() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/<test> -> target/<profile>/examples/firebox_fn
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target directory");
    dir.join("examples/firebox_fn")
}

#[tokio::test]
async fn a_firebox_function_serves_n_invocations_in_one_process() {
    let bin = firebox_fn();
    assert!(bin.exists(), "{} not built", bin.display());
    let emu = Emulator::builder()
        .function(
            FunctionConfig::new("fb")
                .command([bin.display().to_string()])
                .timeout(Duration::from_secs(10))
                .max_concurrency(4),
        )
        .start()
        .await
        .unwrap();
    let warm = emu.invoke("fb", "{}").await.unwrap();
    assert_eq!(warm.function_error, None, "{}", warm.text());
    let pid = warm.json().unwrap()["pid"].as_i64().unwrap();
    // Each waits until all four have started: they can only finish if one process holds all
    // four at once.
    let barrier = Barrier::new("fb", 4);
    let payload = serde_json::json!({ "barrier": barrier.spec(), "sleep_ms": 500 }).to_string();
    let results = parallel(&emu, "fb", 4, &payload).await;
    let mut ids = HashSet::new();
    for r in &results {
        assert_eq!(r.status, 200);
        assert!(r.header("x-amz-function-error").is_none(), "{:?}", r.body);
        let j = r.json();
        assert_eq!(j["pid"].as_i64(), Some(pid), "same process");
        assert_eq!(j["max_concurrency"], "4");
        ids.insert(j["request_id"].as_str().unwrap().to_owned());
    }
    assert_eq!(ids.len(), 4, "each invocation kept its own context");
    assert_eq!(emu.live_processes(), 1);
}
