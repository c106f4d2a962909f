//! Memory limits: a function that allocates past `memory_mb` ends with `Runtime.OutOfMemory`
//! (200 with `X-Amz-Function-Error: Unhandled`), and the next call runs Init again in the
//! reset environment and succeeds. Both the memory cgroup and the `/proc` watcher fallback
//! are exercised. File-backed memory the cgroup is not charged for counts as `Max Memory
//! Used` counts it: past the limit it is `Runtime.OutOfMemory` too, and a REPORT never shows
//! more than `Memory Size`.

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::{reports, texts, PYTHON};
use firebox_emulator::{Emulator, FunctionConfig};

fn function(name: &str) -> FunctionConfig {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/runtimes/concurrency.py");
    FunctionConfig::new(name)
        .command([PYTHON.to_owned(), "-u".into(), script.display().to_string()])
        .memory_mb(128)
        .timeout(Duration::from_secs(10))
}

async fn out_of_memory_then_init_again(cgroups: bool) {
    let emu = Emulator::builder()
        .cgroups(cgroups)
        .function(function("hog"))
        .start()
        .await
        .unwrap();
    let first = emu.invoke("hog", "{}").await.unwrap();
    let pid = first.json().unwrap()["pid"].as_i64().unwrap();
    // The sleep keeps the memory held long enough for the sampling watcher to see it.
    let r = emu
        .invoke("hog", r#"{"alloc_mb": 300, "sleep": 5}"#)
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.function_error.as_deref(), Some("Unhandled"));
    let doc = r.json().unwrap();
    assert_eq!(doc["errorType"], "Runtime.OutOfMemory", "{doc}");
    assert!(
        doc["errorMessage"]
            .as_str()
            .unwrap()
            .contains("Runtime exited with error: signal: killed"),
        "{doc}"
    );
    assert!(texts(&emu, "hog")
        .iter()
        .any(|t| t == "Runtime.OutOfMemory"));
    assert!(common::wait_gone(pid).await, "the reset kills the process");
    // The next call runs Init again in the reset environment (no Init Duration: a
    // suppressed Init), and succeeds, its memory measured afresh.
    let next = emu.invoke("hog", "{}").await.unwrap();
    assert_eq!(next.function_error, None, "{}", next.text());
    assert_ne!(next.json().unwrap()["pid"].as_i64(), Some(pid));
    let reports = reports(&emu, "hog");
    assert_eq!(reports.len(), 3, "{reports:?}");
    assert!(!reports[2].contains("Init Duration"), "{reports:?}");
    let after = common::report_number(&reports[2], "Max Memory Used");
    assert!(
        after < 100.0,
        "the killed process's peak is not carried over: {reports:?}"
    );
    // The failed invocation's REPORT shows memory near or past the limit, never the size
    // configured... as measured.
    let used = common::report_number(&reports[1], "Max Memory Used");
    assert!(
        used >= 100.0,
        "{}\n{}",
        reports[1],
        texts(&emu, "hog").join("\n")
    );
}

#[tokio::test]
async fn past_the_memory_cgroup_limit_is_out_of_memory_and_next_runs_init_again() {
    out_of_memory_then_init_again(true).await;
}

#[tokio::test]
async fn past_the_limit_without_cgroups_the_watcher_ends_it() {
    out_of_memory_then_init_again(false).await;
}

/// The kernel's OOM killer ends a child of the runtime (its allocation is past the limit, the
/// runtime's own memory is not): the runtime sees its child die of SIGKILL and answers, and
/// neither that invocation nor the next fails, nor is the environment reset, as on Lambda,
/// where only the runtime's death is `Runtime.OutOfMemory`. Then the runtime itself runs out.
#[tokio::test]
async fn a_child_killed_for_memory_leaves_the_runtime_and_the_next_invocation_alone() {
    let emu = Emulator::builder()
        .cgroups(true)
        .function(function("parent"))
        .start()
        .await
        .unwrap();
    if !emu.cgroups() {
        // Without a memory cgroup the watcher sees the tree's memory, not who was killed.
        assert!(
            std::env::var_os("FIREBOX_REQUIRE_CGROUPS").is_none(),
            "FIREBOX_REQUIRE_CGROUPS is set, but the emulator runs without cgroups"
        );
        eprintln!("no memory cgroup here: not tested");
        return;
    }
    let first = emu
        .invoke("parent", r#"{"child_alloc_mb": 300}"#)
        .await
        .unwrap();
    assert_eq!(first.function_error, None, "{}", first.text());
    let doc = first.json().unwrap();
    assert_eq!(doc["child_status"], -9, "the child dies of SIGKILL: {doc}");
    let pid = doc["pid"].as_i64().unwrap();
    // Past the 50 ms checks of the limit, then two more invocations in the same process.
    tokio::time::sleep(Duration::from_millis(200)).await;
    for _ in 0..2 {
        let next = emu.invoke("parent", "{}").await.unwrap();
        assert_eq!(next.function_error, None, "{}", next.text());
        assert_eq!(next.json().unwrap()["pid"].as_i64(), Some(pid), "not reset");
    }
    let warm = reports(&emu, "parent");
    assert_eq!(warm.len(), 3, "{warm:?}");
    assert!(warm.iter().all(|r| !r.contains("Status:")), "{warm:?}");

    // The runtime itself past the limit: out of memory, reported as all of it used.
    let out = emu
        .invoke("parent", r#"{"alloc_mb": 300, "sleep": 5}"#)
        .await
        .unwrap();
    assert_eq!(
        out.json().unwrap()["errorType"],
        "Runtime.OutOfMemory",
        "{}",
        out.text()
    );
    let last = reports(&emu, "parent").pop().unwrap();
    assert_eq!(
        common::report_number(&last, "Max Memory Used"),
        128.0,
        "{last}"
    );
}

#[tokio::test]
async fn within_the_limit_nothing_happens() {
    let emu = Emulator::builder()
        .function(function("fits").memory_mb(512))
        .start()
        .await
        .unwrap();
    let r = emu
        .invoke("fits", r#"{"alloc_mb": 100, "sleep": 0.3}"#)
        .await
        .unwrap();
    assert_eq!(r.function_error, None, "{}", r.text());
}

/// `Max Memory Used` of a crash on a cold start, against that of a cold start that does not
/// crash (the same runtime: its start-up footprint), with or without cgroups.
async fn crash_reports_the_runtimes_footprint(cgroups: bool) {
    let f = |name: &str| common::function(name, "").memory_mb(256);
    let emu = Emulator::builder()
        .cgroups(cgroups)
        .function(f("ok"))
        .function(f("crash"))
        .start()
        .await
        .unwrap();
    let ok = emu.invoke("ok", "{}").await.unwrap();
    assert_eq!(ok.function_error, None, "{}", ok.text());
    let crashed = emu.invoke("crash", r#"{"exit": 2}"#).await.unwrap();
    assert_eq!(crashed.function_error.as_deref(), Some("Unhandled"));
    let used = |name: &str| {
        let report = reports(&emu, name).pop().expect("a REPORT");
        common::report_number(&report, "Max Memory Used")
    };
    let (footprint, after_crash) = (used("ok"), used("crash"));
    // The crashed runtime was measured while alive (at the end of its Init), not only
    // through what survives it.
    assert!(
        after_crash >= footprint * 0.8,
        "Max Memory Used {after_crash} MB after a crash, {footprint} MB without one"
    );
}

#[tokio::test]
async fn a_crash_reports_the_memory_its_runtime_used_with_cgroups() {
    crash_reports_the_runtimes_footprint(true).await;
}

#[tokio::test]
async fn a_crash_reports_the_memory_its_runtime_used_without_cgroups() {
    crash_reports_the_runtimes_footprint(false).await;
}

/// A file of `mb` MiB in `dir`, read here once: its pages are in the page cache, charged to
/// this process's cgroup, so that a function that maps it holds file-backed memory its own
/// memory cgroup is not charged for (as an interpreter's binary and libraries usually are).
fn cached_file(dir: &common::TempDir, mb: usize) -> PathBuf {
    let path = dir.path("mapped");
    std::fs::write(&path, vec![7u8; mb << 20]).expect("write the file");
    let read = std::fs::read(&path).expect("read the file");
    assert_eq!(read.len(), mb << 20);
    path
}

/// The event that maps `file` and allocates `alloc_mb`, then sleeps `sleep` seconds.
fn map_and_alloc(file: &std::path::Path, alloc_mb: u32, sleep: f64) -> String {
    serde_json::json!({"map_file": file, "alloc_mb": alloc_mb, "sleep": sleep}).to_string()
}

/// 80 MiB of mapped file and 60 MiB allocated by a 128 MB function: `Max Memory Used` would
/// be about 150 MB while the memory cgroup is charged about 70. Lambda limits the whole
/// sandbox: it is `Runtime.OutOfMemory`, and the REPORT shows at most `Memory Size`. `sleep`:
/// how long the invocation would go on after allocating.
async fn file_backed_memory_past_the_limit(cgroups: bool, sleep: f64) {
    let dir = common::TempDir::new("memory-file");
    let file = cached_file(&dir, 80);
    let emu = Emulator::builder()
        .cgroups(cgroups)
        .function(function("mapper"))
        .start()
        .await
        .unwrap();
    let first = emu.invoke("mapper", "{}").await.unwrap();
    let pid = first.json().unwrap()["pid"].as_i64().unwrap();
    let r = emu
        .invoke("mapper", map_and_alloc(&file, 60, sleep))
        .await
        .unwrap();
    let reports = reports(&emu, "mapper");
    assert_eq!(
        r.function_error.as_deref(),
        Some("Unhandled"),
        "{reports:?}"
    );
    let doc = r.json().unwrap();
    assert_eq!(doc["errorType"], "Runtime.OutOfMemory", "{doc}");
    assert!(
        doc["errorMessage"]
            .as_str()
            .unwrap()
            .contains("Runtime exited with error: signal: killed"),
        "{doc}"
    );
    assert!(texts(&emu, "mapper")
        .iter()
        .any(|t| t == "Runtime.OutOfMemory"));
    assert_eq!(reports.len(), 2, "{reports:?}");
    assert!(
        reports[1].ends_with("Status: error\tError Type: Runtime.OutOfMemory"),
        "{reports:?}"
    );
    let used = common::report_number(&reports[1], "Max Memory Used");
    assert!((100.0..=128.0).contains(&used), "{reports:?}");
    if sleep > 0.0 {
        // Ended while it ran (the limit is checked as it runs), not when it answered.
        let took = common::report_number(&reports[1], "Duration");
        assert!(took < sleep * 1000.0 * 0.8, "{reports:?}");
    }
    assert!(common::wait_gone(pid).await, "the reset kills the process");
    let next = emu.invoke("mapper", "{}").await.unwrap();
    assert_eq!(next.function_error, None, "{}", next.text());
}

#[tokio::test]
async fn file_backed_memory_past_the_limit_is_out_of_memory_with_cgroups() {
    file_backed_memory_past_the_limit(true, 0.0).await;
}

#[tokio::test]
async fn file_backed_memory_past_the_limit_is_out_of_memory_without_cgroups() {
    file_backed_memory_past_the_limit(false, 0.0).await;
}

#[tokio::test]
async fn file_backed_memory_past_the_limit_ends_the_invocation_while_it_runs() {
    file_backed_memory_past_the_limit(true, 5.0).await;
}

/// File-backed memory within the limit: counted in `Max Memory Used`, and nothing happens.
#[tokio::test]
async fn file_backed_memory_within_the_limit_is_counted() {
    let dir = common::TempDir::new("memory-file-fits");
    let file = cached_file(&dir, 40);
    let emu = Emulator::builder()
        .function(function("mapper"))
        .start()
        .await
        .unwrap();
    let r = emu
        .invoke("mapper", map_and_alloc(&file, 20, 0.0))
        .await
        .unwrap();
    assert_eq!(r.function_error, None, "{}", r.text());
    let report = reports(&emu, "mapper").pop().expect("a REPORT");
    let used = common::report_number(&report, "Max Memory Used");
    assert!((60.0..=128.0).contains(&used), "{report}");
}

/// A handler that reports its cpu cgroup and that cgroup's CFS settings, after burning `busy_ms`
/// of CPU when asked (to be throttled).
const CPU_HANDLER: &str = r#"
import time

def handler(event, context):
    path = next(l.split(":", 2)[2] for l in open("/proc/self/cgroup").read().splitlines()
                if "cpu" in l.split(":")[1].split(","))
    root = "/sys/fs/cgroup/cpu" + path
    end = time.monotonic() + event.get("busy_ms", 0) / 1000
    while time.monotonic() < end:
        pass
    read = lambda name: open(f"{root}/{name}").read()
    stat = dict(l.split() for l in read("cpu.stat").splitlines())
    return {"cgroup": path, "quota": int(read("cpu.cfs_quota_us")),
            "period": int(read("cpu.cfs_period_us")), "throttled": int(stat["nr_throttled"])}
"#;

/// With `cpu_by_memory`, an environment's processes run in a cpu cgroup whose CFS quota is
/// Lambda's CPU share for the function's memory (256 MB: 14.5 % of one CPU), and a busy loop
/// is throttled; without it they run in the emulator's own cpu cgroup.
#[tokio::test]
async fn cpu_by_memory_gives_an_environment_lambdas_cpu_share() {
    let dir = common::TempDir::new("cpu-by-memory");
    std::fs::write(dir.path("app.py"), CPU_HANDLER).unwrap();
    let emu = Emulator::builder()
        .cpu_by_memory(true)
        .function(common::awslambdaric("cpu", &dir).memory_mb(256))
        .start()
        .await
        .unwrap();
    if !emu.cpu_by_memory() {
        assert!(
            std::env::var_os("FIREBOX_REQUIRE_CGROUPS").is_none(),
            "FIREBOX_REQUIRE_CGROUPS is set, but cpu_by_memory is not available"
        );
        eprintln!("no writable cgroup v1 cpu controller here; not tested here");
        return;
    }
    // The move into the cgroups completes while Init runs, or shortly after.
    let mut seen = serde_json::Value::Null;
    for _ in 0..50 {
        seen = emu.invoke("cpu", "{}").await.unwrap().json().unwrap();
        if seen["cgroup"].as_str().unwrap_or("").contains("/env-") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(seen["cgroup"].as_str().unwrap().contains("/env-"), "{seen}");
    assert_eq!(seen["period"], 100_000, "{seen}");
    assert_eq!(seen["quota"], 256 * 100_000 / 1769, "{seen}");
    let busy = emu
        .invoke("cpu", r#"{"busy_ms": 400}"#)
        .await
        .unwrap()
        .json()
        .unwrap();
    assert!(busy["throttled"].as_i64().unwrap() > 0, "{busy}");
    drop(emu);

    let emu = Emulator::builder()
        .function(common::awslambdaric("cpu", &dir).memory_mb(256))
        .start()
        .await
        .unwrap();
    assert!(!emu.cpu_by_memory());
    let r = emu.invoke("cpu", "{}").await.unwrap().json().unwrap();
    assert!(!r["cgroup"].as_str().unwrap().contains("firebox-"), "{r}");
}
