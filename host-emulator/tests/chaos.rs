//! Chaos: environments are killed with SIGKILL at random moments during a load run. Every
//! accepted invoke gets an answer (success or `Runtime.ExitError`), none hangs, and the pool
//! recovers afterwards.

mod common;

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{invoke_raw, PYTHON};
use firebox_emulator::{Emulator, FunctionConfig};

/// A small xorshift generator: random enough to pick victims and moments.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

async fn chaos_run(cgroups: bool) {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/runtimes/concurrency.py");
    let emu = Emulator::builder()
        .cgroups(cgroups)
        .function(
            FunctionConfig::new("victim")
                .command([PYTHON.to_owned(), "-u".into(), script.display().to_string()])
                .timeout(Duration::from_secs(10)),
        )
        .start()
        .await
        .unwrap();
    let endpoint = emu.endpoint().to_owned();
    let pids: Arc<Mutex<HashSet<i64>>> = Arc::default();
    // The run lasts at least 5 s, and until it has done what the assertions below ask for
    // (enough successes and kills), so that a slow machine gets a longer run rather than a
    // failure; at most 60 s.
    let done = Arc::new(AtomicBool::new(false));
    let successes = Arc::new(AtomicUsize::new(0));
    let kill_count = Arc::new(AtomicUsize::new(0));
    let supervisor = tokio::spawn({
        let (done, successes, kill_count) = (done.clone(), successes.clone(), kill_count.clone());
        async move {
            let started = Instant::now();
            loop {
                tokio::time::sleep(Duration::from_millis(50)).await;
                let elapsed = started.elapsed();
                let enough = successes.load(Ordering::Relaxed) > 20
                    && kill_count.load(Ordering::Relaxed) >= 5;
                if (elapsed >= Duration::from_secs(5) && enough)
                    || elapsed >= Duration::from_secs(60)
                {
                    done.store(true, Ordering::Relaxed);
                    return;
                }
            }
        }
    });
    let mut clients = Vec::new();
    for c in 0..6u64 {
        let (endpoint, pids, done, successes) = (
            endpoint.clone(),
            pids.clone(),
            done.clone(),
            successes.clone(),
        );
        clients.push(tokio::spawn(async move {
            let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (c + 1));
            let (mut ok, mut crashed) = (0, 0);
            while !done.load(Ordering::Relaxed) {
                let sleep = (rng.next() % 80) as f64 / 1000.0;
                let payload = format!("{{\"sleep\": {sleep}}}");
                let r = tokio::time::timeout(
                    Duration::from_secs(20),
                    invoke_raw(&endpoint, "victim", &[], payload),
                )
                .await
                .expect("an invoke hung");
                assert_eq!(r.status, 200, "{:?}", r.body);
                let j = r.json();
                if r.header("x-amz-function-error").is_some() {
                    assert_eq!(j["errorType"], "Runtime.ExitError", "{j}");
                    crashed += 1;
                } else {
                    pids.lock().unwrap().insert(j["pid"].as_i64().unwrap());
                    ok += 1;
                    successes.fetch_add(1, Ordering::Relaxed);
                }
            }
            (ok, crashed)
        }));
    }
    let killer = tokio::spawn({
        let (pids, done, kill_count) = (pids.clone(), done.clone(), kill_count.clone());
        async move {
            let mut rng = Rng(0xD1B5_4A32_D192_ED03);
            let mut kills = 0;
            while !done.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(50 + rng.next() % 250)).await;
                if done.load(Ordering::Relaxed) {
                    break; // the load is over: no kill after the clients stopped
                }
                let victims: Vec<i64> = pids.lock().unwrap().iter().copied().collect();
                if victims.is_empty() {
                    continue;
                }
                let pid = victims[(rng.next() as usize) % victims.len()];
                // SAFETY: kill(2) has no memory-safety preconditions.
                if unsafe { libc::kill(pid as i32, libc::SIGKILL) } == 0 {
                    kills += 1;
                    kill_count.fetch_add(1, Ordering::Relaxed);
                }
                pids.lock().unwrap().remove(&pid);
            }
            kills
        }
    });
    let (mut ok, mut crashed) = (0, 0);
    for c in clients {
        let (o, x) = c.await.unwrap();
        ok += o;
        crashed += x;
    }
    let kills = killer.await.unwrap();
    supervisor.await.unwrap();
    assert!(kills >= 5, "the run killed environments ({kills})");
    assert!(ok > 20, "the load ran ({ok} successes, {crashed} crashes)");
    // The pool recovers: new invokes succeed, and no stray process is left. An environment
    // killed while idle (frozen, with cgroups: the kill lands when it is thawed) can still fail
    // the one invocation it is handed next with Runtime.ExitError; so the check is that six
    // invokes in a row succeed within a bounded number of tries, and that nothing else fails.
    let (mut in_a_row, mut tries) = (0, 0);
    while in_a_row < 6 {
        tries += 1;
        assert!(
            tries <= 30,
            "the pool did not recover after {tries} invokes"
        );
        let r = invoke_raw(&endpoint, "victim", &[], "{}").await;
        assert_eq!(r.status, 200);
        if r.header("x-amz-function-error").is_some() {
            assert_eq!(r.json()["errorType"], "Runtime.ExitError", "{:?}", r.body);
            in_a_row = 0;
        } else {
            in_a_row += 1;
        }
    }
    let m = common::send(&endpoint, "GET", "/metrics", &[], "").await;
    let text = String::from_utf8(m.body.to_vec()).unwrap();
    assert!(
        text.contains("firebox_concurrent_executions{function=\"victim\"} 0\n"),
        "{text}"
    );
    assert!(emu.live_processes() <= 6, "{}", emu.live_processes());
}

#[tokio::test]
async fn sigkill_during_load_every_invoke_answered_and_pools_recover() {
    chaos_run(true).await;
}

#[tokio::test]
async fn sigkill_during_load_without_cgroups() {
    chaos_run(false).await;
}
