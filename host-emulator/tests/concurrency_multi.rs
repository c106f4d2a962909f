//! Multi-concurrency (`max_concurrency = N`, Lambda Managed Instances): one environment holds
//! N invocations at once, with a stdlib Python runtime (N threads, one process) and with
//! Python's `awslambdaric` in its own multi-concurrent mode (N forked workers).

mod common;
mod streaming_support;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine;
use common::{
    frozen_gauge, invoke_raw, max_overlap, reports, venv_python, wait_frozen_gauge, wait_until,
    Barrier, Gate, PYTHON,
};
use firebox_emulator::{Emulator, FunctionConfig, InvokeOptions};
use streaming_support::{concat, invoke_stream, Events};

fn temp_file(tag: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("firebox-multi-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_file(&p);
    p
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

#[tokio::test]
async fn awslambdaric_multi_concurrent_mode_overlaps_in_one_environment() {
    let python = venv_python();
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

/// A multi-concurrent function running the stdlib concurrency runtime.
async fn multi(name: &str, slots: u32) -> Emulator {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/runtimes/concurrency.py");
    Emulator::builder()
        .function(
            FunctionConfig::new(name)
                .command([PYTHON.to_owned(), "-u".into(), script.display().to_string()])
                .timeout(Duration::from_secs(30))
                .max_concurrency(slots),
        )
        .start()
        .await
        .unwrap()
}

fn decode_tail(base64_tail: &str) -> String {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(base64_tail)
        .expect("LogResult is base64");
    String::from_utf8(bytes).expect("the tail is text")
}

#[tokio::test]
async fn streamed_responses_and_log_tails_are_per_invocation() {
    let emu = multi("st", 2).await;
    let warm = emu.invoke("st", "{}").await.unwrap();
    assert_eq!(warm.function_error, None, "{}", warm.text());
    // One streamed and one buffered invocation, in the environment at the same time.
    let barrier = Barrier::new("st", 2);
    let endpoint = emu.endpoint().to_owned();
    let streamed = tokio::spawn({
        let payload = serde_json::json!({
            "barrier": barrier.spec(), "print": "output of the stream", "stream": ["one ", "two"]
        })
        .to_string();
        async move { invoke_stream(&endpoint, "st", &[("x-amz-log-type", "Tail")], &payload).await }
    });
    let tail = InvokeOptions {
        log_tail: true,
        ..Default::default()
    };
    let payload =
        serde_json::json!({ "barrier": barrier.spec(), "print": "output of the buffered" })
            .to_string();
    let buffered = emu.invoke_with("st", payload, &tail).await.unwrap();
    let open = streamed.await.unwrap();
    assert_eq!(open.status, 200);
    let stream_id = open.header("x-amzn-requestid").unwrap().to_owned();
    let (chunks, complete) = Events::new(open).rest().await;
    assert_eq!(concat(&chunks), b"one two");
    assert_eq!(complete.error_code, None, "{complete:?}");
    let stream_tail = decode_tail(complete.log_result.as_deref().expect("LogResult"));

    assert_eq!(buffered.function_error, None, "{}", buffered.text());
    assert_eq!(buffered.json().unwrap()["pid"], warm.json().unwrap()["pid"]);
    let buffered_id = buffered.request_id.clone().unwrap();
    let buffered_tail = buffered.log_tail.clone().expect("a tail");
    // Each tail has its own invocation's platform lines, not the other's.
    for (tail, own, other) in [
        (&stream_tail, &stream_id, &buffered_id),
        (&buffered_tail, &buffered_id, &stream_id),
    ] {
        assert!(tail.contains(&format!("START RequestId: {own}")), "{tail}");
        assert!(tail.contains(&format!("REPORT RequestId: {own}")), "{tail}");
        assert!(
            !tail.contains(&format!("START RequestId: {other}")),
            "{tail}"
        );
        assert!(
            !tail.contains(&format!("REPORT RequestId: {other}")),
            "{tail}"
        );
    }
    assert!(
        stream_tail.contains("output of the stream"),
        "{stream_tail}"
    );
    assert!(
        buffered_tail.contains("output of the buffered"),
        "{buffered_tail}"
    );
    assert_eq!(emu.live_processes(), 1);
}

#[tokio::test]
async fn a_failed_stream_and_a_buffered_stream_under_multi_concurrency() {
    let emu = multi("sf", 2).await;
    let pid = emu.invoke("sf", "{}").await.unwrap().json().unwrap()["pid"].clone();
    let barrier = Barrier::new("sf", 2);
    let endpoint = emu.endpoint().to_owned();
    let failing = tokio::spawn({
        let payload = serde_json::json!({
            "barrier": barrier.spec(), "stream": ["partial"], "stream_fail": "midway"
        })
        .to_string();
        async move { invoke_stream(&endpoint, "sf", &[], &payload).await }
    });
    // A streaming answer through the plain Invoke API is buffered.
    let payload =
        serde_json::json!({ "barrier": barrier.spec(), "stream": ["a", "b", "c"] }).to_string();
    let plain = emu.invoke("sf", payload).await.unwrap();
    assert_eq!(plain.function_error, None, "{}", plain.text());
    assert_eq!(plain.text(), "abc");
    let (chunks, complete) = Events::new(failing.await.unwrap()).rest().await;
    assert_eq!(concat(&chunks), b"partial");
    assert_eq!(complete.error_code.as_deref(), Some("StreamFailed"));
    assert_eq!(complete.error_details.as_deref(), Some("midway"));
    // A function error keeps the environment.
    let after = emu.invoke("sf", "{}").await.unwrap();
    assert_eq!(after.json().unwrap()["pid"], pid);
}

async fn counter(emu: &Emulator, name: &str) -> i64 {
    let r = emu.invoke(name, "{}").await.unwrap();
    assert_eq!(r.function_error, None, "{}", r.text());
    r.json().unwrap()["counter"].as_i64().unwrap()
}

#[tokio::test]
async fn frozen_only_when_every_slot_is_idle() {
    let emu = multi("fz", 2).await;
    let idle_wait = Duration::from_millis(1500);
    counter(&emu, "fz").await;
    // Both slots wait in /next: frozen, so the background thread makes no progress.
    wait_frozen_gauge(&emu, "fz", "1").await;
    let before = counter(&emu, "fz").await;
    wait_frozen_gauge(&emu, "fz", "1").await;
    tokio::time::sleep(idle_wait).await;
    let after = counter(&emu, "fz").await;
    assert!(after - before < 50, "ran while idle: {}", after - before);
    // With one invocation in flight the environment is never frozen: the other slot's
    // invocations see the background thread move on.
    let gate = Gate::new("fz");
    let record = temp_file("fz");
    let held = tokio::spawn({
        let endpoint = emu.endpoint().to_owned();
        let payload = serde_json::json!({ "record": record, "wait_for": gate.path() }).to_string();
        async move { invoke_raw(&endpoint, "fz", &[], payload).await }
    });
    wait_until(
        "the held invocation to start",
        Duration::from_secs(60),
        || std::fs::read_to_string(&record).is_ok_and(|t| t.starts_with("start ")),
    )
    .await;
    let before = counter(&emu, "fz").await;
    tokio::time::sleep(idle_wait).await;
    assert_eq!(
        frozen_gauge(&emu, "fz").await,
        "0",
        "an invocation is in flight"
    );
    let after = counter(&emu, "fz").await;
    assert!(
        after - before >= 30,
        "frozen with an invocation in flight: {}",
        after - before
    );
    gate.open();
    assert_eq!(held.await.unwrap().status, 200);
    wait_frozen_gauge(&emu, "fz", "1").await;
    let _ = std::fs::remove_file(record);
}

/// A runtime that polls `/next` from more threads than it has slots (as AWS's Node client
/// does under Managed Instances): each thread records when it holds an invocation, and prints
/// any `/next` that is not answered with an event.
const OVER_POLLING: &str = r#"
import http.client, os, sys, threading, time
api = os.environ["AWS_LAMBDA_RUNTIME_API"]
base = "/2018-06-01/runtime/invocation/"
record = sys.argv[1]

def log(what):
    fd = os.open(f"{record}-{os.getpid()}", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.write(fd, f"{what} {time.time():.6f}\n".encode())
    os.close(fd)

def worker():
    conn = http.client.HTTPConnection(api)
    while True:
        conn.request("GET", base + "next")
        r = conn.getresponse()
        body = r.read()
        if r.status != 200:
            print("next answered", r.status, body.decode(), flush=True)
            time.sleep(0.1)
            continue
        rid = r.getheader("Lambda-Runtime-Aws-Request-Id")
        log("start")
        time.sleep(0.2)
        log("end")
        conn.request("POST", base + rid + "/response", body="{}")
        conn.getresponse().read()

for _ in range(5):
    threading.Thread(target=worker, daemon=True).start()
threading.Event().wait()
"#;

/// Under multi-concurrency, `/next` calls beyond the slots wait for a slot instead of being
/// refused, and the environment still holds at most its slots' invocations at once.
#[tokio::test]
async fn more_next_calls_than_slots_wait_for_a_slot() {
    let record = temp_file("over-polling");
    let emu = Emulator::builder()
        .function(
            FunctionConfig::new("over")
                .command([PYTHON, "-u", "-c", OVER_POLLING, record.to_str().unwrap()])
                .timeout(Duration::from_secs(30))
                .max_concurrency(2),
        )
        .start()
        .await
        .unwrap();
    let answers = parallel(&emu, "over", 6, "{}").await;
    for r in &answers {
        let text = String::from_utf8_lossy(&r.body);
        assert_eq!(r.status, 200, "{text}");
        assert!(r.headers.get("x-amz-function-error").is_none(), "{text}");
    }
    // One record per environment (process): each held at most its 2 slots at once.
    let prefix = format!("{}-", record.file_name().unwrap().to_string_lossy());
    let mut starts = 0;
    for entry in std::fs::read_dir(std::env::temp_dir()).unwrap().flatten() {
        if entry.file_name().to_string_lossy().starts_with(&prefix) {
            let (overlap, n) = max_overlap(&entry.path());
            assert!(
                overlap <= 2,
                "at most 2 at once in one environment: {overlap}"
            );
            starts += n;
            let _ = std::fs::remove_file(entry.path());
        }
    }
    assert_eq!(starts, 6);
    let refused: Vec<String> = common::texts(&emu, "over")
        .into_iter()
        .filter(|t| t.starts_with("next answered"))
        .collect();
    assert!(refused.is_empty(), "{refused:?}");
}
