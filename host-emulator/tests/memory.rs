//! Memory limits: a function that allocates past `memory_mb` ends with `Runtime.OutOfMemory`
//! (200 with `X-Amz-Function-Error: Unhandled`), and the next call runs Init again in the
//! reset environment and succeeds. Both the memory cgroup and the `/proc` watcher fallback
//! are exercised.

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
