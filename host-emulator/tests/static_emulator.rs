//! An emulator that is never dropped (kept in a `static`, shared by a test binary's tests)
//! still leaves no process behind when the binary exits normally: a hook run at exit kills
//! its environments' processes, frozen ones included. The test runs this binary again as the
//! "test binary" that keeps such an emulator, then checks that the processes it started are
//! gone.

mod common;

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::*;
use firebox_emulator::Emulator;

/// Set in the child run: it keeps the emulator in a static and writes the pids here.
const CHILD: &str = "FIREBOX_STATIC_EMULATOR_PIDS";

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime")
    })
}

fn emulator() -> &'static Emulator {
    static EMU: OnceLock<Emulator> = OnceLock::new();
    EMU.get_or_init(|| runtime().block_on(start(vec![function("f", "")])))
}

/// The child's part: invokes a function that leaves a child process behind, records both
/// pids, and returns with the emulator alive (the binary then exits).
fn keep_an_emulator_in_a_static(pids_file: &str) {
    let r = runtime()
        .block_on(emulator().invoke("f", r#"{"spawn_child": true}"#))
        .expect("invoke");
    let v = r.json().expect("JSON");
    let pids = format!("{} {}", v["pid"], v["child"]);
    std::fs::write(pids_file, pids).expect("write the pids");
    // Long enough for the idle environment to be frozen (10 ms after its /next).
    std::thread::sleep(Duration::from_millis(200));
}

#[test]
fn processes_of_an_emulator_never_dropped_end_when_the_binary_exits() {
    if let Ok(pids_file) = std::env::var(CHILD) {
        keep_an_emulator_in_a_static(&pids_file);
        return;
    }
    let dir = TempDir::new("static-emulator");
    let pids_file = dir.path("pids");
    let status = std::process::Command::new(std::env::current_exe().expect("this binary"))
        .args([
            "--exact",
            "processes_of_an_emulator_never_dropped_end_when_the_binary_exits",
            "--test-threads",
            "1",
        ])
        .env(CHILD, &pids_file)
        .status()
        .expect("run the child");
    assert!(status.success(), "the child run failed: {status}");
    let pids: Vec<i32> = std::fs::read_to_string(&pids_file)
        .expect("the child wrote the pids")
        .split_whitespace()
        .map(|p| p.parse().expect("a pid"))
        .collect();
    assert_eq!(pids.len(), 2, "{pids:?}");
    // Killed at the child's exit; reaped by init a moment later.
    let deadline = Instant::now() + Duration::from_secs(10);
    let alive = |pid: i32| std::path::Path::new(&format!("/proc/{pid}")).exists();
    while pids.iter().any(|&p| alive(p)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let left: Vec<i32> = pids.into_iter().filter(|&p| alive(p)).collect();
    assert!(left.is_empty(), "processes left behind: {left:?}");
}
