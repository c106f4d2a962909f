//! The concurrency model with real processes over real HTTP: reserved concurrency observed
//! from inside the functions, the account limit shared by two functions, reserved 0,
//! provisioned concurrency and spill-over, idle reclaim, throttled events kept, metrics.

mod common;

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Duration;

use common::{
    invoke_raw, max_overlap, metric, metrics, reports, send, texts, wait_metric, wait_until,
    Barrier, Gate, Raw, PYTHON,
};
use firebox_emulator::{Emulator, FunctionConfig, InvocationType, InvokeOptions};

fn conc_function(name: &str) -> FunctionConfig {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/runtimes/concurrency.py");
    FunctionConfig::new(name)
        .command([PYTHON.to_owned(), "-u".into(), script.display().to_string()])
        .timeout(Duration::from_secs(20))
}

fn temp_file(tag: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("firebox-conc-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_file(&p);
    p
}

async fn join_all<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    let handles: Vec<_> = futures.into_iter().map(|f| Box::pin(f)).collect::<Vec<_>>();
    let mut out = Vec::with_capacity(handles.len());
    // Poll all at once: a JoinSet would need 'static futures.
    let mut pending: Vec<Option<_>> = handles.into_iter().map(Some).collect();
    let mut results: Vec<Option<F::Output>> = pending.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut left = false;
        for (i, slot) in pending.iter_mut().enumerate() {
            if let Some(f) = slot {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => {
                        results[i] = Some(v);
                        *slot = None;
                    }
                    std::task::Poll::Pending => left = true,
                }
            }
        }
        if left {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    for r in results {
        out.push(r.expect("every future completed"));
    }
    out
}

/// Sends `n` invokes at once whose functions wait for `gate`; opens the gate once `throttled`
/// of them have been answered 429, so that the admitted ones cannot finish (and make room)
/// before every other invoke was decided, however slow the machine. Returns every answer.
async fn invoke_held(
    emu: &Emulator,
    function: &str,
    n: usize,
    payload: String,
    gate: &Gate,
    throttled: usize,
) -> Vec<Raw> {
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..n {
        let (endpoint, function, payload) = (
            emu.endpoint().to_owned(),
            function.to_owned(),
            payload.clone(),
        );
        calls.spawn(async move { invoke_raw(&endpoint, &function, &[], payload).await });
    }
    let mut results = Vec::with_capacity(n);
    while let Some(r) = calls.join_next().await {
        results.push(r.expect("invoke task"));
        if results.iter().filter(|r| r.status == 429).count() == throttled {
            gate.open();
        }
    }
    results
}

#[tokio::test]
async fn reserved_five_runs_exactly_five_and_throttles_the_rest() {
    let record = temp_file("reserved5");
    let emu = Emulator::builder()
        .function(conc_function("five").reserved_concurrency(5))
        .start()
        .await
        .unwrap();
    // The five admitted invocations record their start, wait until all five have started (the
    // barrier) and until the other 45 were answered (the gate), then sleep: they overlap, and
    // none makes room early, however slow the machine.
    let gate = Gate::new("reserved5");
    let barrier = Barrier::new("reserved5", 5);
    let payload = serde_json::json!({
        "record": record, "barrier": barrier.spec(), "wait_for": gate.path(), "sleep": 3.0
    })
    .to_string();
    let started = std::time::Instant::now();
    let results = invoke_held(&emu, "five", 50, payload, &gate, 45).await;
    let ok: Vec<_> = results.iter().filter(|r| r.status == 200).collect();
    let throttled: Vec<_> = results.iter().filter(|r| r.status == 429).collect();
    assert_eq!(ok.len(), 5, "five admitted");
    assert_eq!(throttled.len(), 45, "the rest throttled");
    for r in &throttled {
        assert_eq!(r.error_code(), Some("TooManyRequestsException"));
        assert_eq!(
            r.json()["Reason"],
            "ReservedFunctionConcurrentInvocationLimitExceeded"
        );
        assert_eq!(r.json()["Type"], "User");
        assert_eq!(r.header("retry-after"), Some("1"));
    }
    for r in &ok {
        assert!(r.header("x-amz-function-error").is_none(), "{:?}", r.body);
    }
    // Seen from inside: five invocations ran, all five at the same time.
    let (overlap, starts) = max_overlap(&record);
    assert_eq!(starts, 5);
    assert_eq!(overlap, 5, "{}", std::fs::read_to_string(&record).unwrap());
    let pids: HashSet<i64> = ok
        .iter()
        .map(|r| r.json()["pid"].as_i64().unwrap())
        .collect();
    assert_eq!(pids.len(), 5);
    assert!(started.elapsed() >= Duration::from_secs(3));

    // Afterwards new invokes succeed, warm, on the same environments.
    let again: Vec<_> = (0..5)
        .map(|_| invoke_raw(emu.endpoint(), "five", &[], r#"{"sleep": 0.2}"#))
        .collect();
    for r in join_all(again).await {
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert!(pids.contains(&r.json()["pid"].as_i64().unwrap()));
    }
    let reports = reports(&emu, "five");
    assert_eq!(reports.len(), 10);
    assert_eq!(
        reports
            .iter()
            .filter(|r| r.contains("Init Duration"))
            .count(),
        5
    );
    let m = metrics(&emu).await;
    assert_eq!(
        metric(&m, "firebox_throttles_total{function=\"five\",reason=\"ReservedFunctionConcurrentInvocationLimitExceeded\"}"),
        Some(45.0)
    );
    assert_eq!(
        metric(&m, "firebox_invocations_total{function=\"five\"}"),
        Some(10.0)
    );
    assert_eq!(
        metric(&m, "firebox_cold_starts_total{function=\"five\"}"),
        Some(5.0)
    );
    let _ = std::fs::remove_file(record);
}

#[tokio::test]
async fn the_account_limit_is_shared_by_two_functions() {
    let emu = Emulator::builder()
        .account_concurrency(4)
        .unreserved_minimum(0)
        .function(conc_function("a"))
        .function(conc_function("b"))
        .start()
        .await
        .unwrap();
    let endpoint = emu.endpoint().to_owned();
    let gate = Gate::new("account");
    let payload = serde_json::json!({ "wait_for": gate.path() }).to_string();
    let slow = |f: &'static str| {
        let (endpoint, payload) = (endpoint.clone(), payload.clone());
        tokio::spawn(async move { invoke_raw(&endpoint, f, &[], payload).await })
    };
    let running = [slow("a"), slow("a"), slow("a"), slow("b")];
    wait_metric(&emu, "firebox_account_concurrent_executions", 4.0).await;
    for f in ["a", "b"] {
        let r = invoke_raw(emu.endpoint(), f, &[], "{}").await;
        assert_eq!(r.status, 429, "{f}");
        assert_eq!(r.json()["Reason"], "ConcurrentInvocationLimitExceeded");
    }
    gate.open();
    for h in running {
        assert_eq!(h.await.unwrap().status, 200);
    }
    // The room is back.
    assert_eq!(invoke_raw(emu.endpoint(), "b", &[], "{}").await.status, 200);
    let m = metrics(&emu).await;
    assert_eq!(
        metric(&m, "firebox_account_concurrent_executions"),
        Some(0.0)
    );
    assert_eq!(metric(&m, "firebox_account_concurrency_limit"), Some(4.0));
}

#[tokio::test]
async fn reserved_zero_throttles_every_invoke_and_keeps_events() {
    let emu = Emulator::builder()
        .function(conc_function("off").reserved_concurrency(0))
        .start()
        .await
        .unwrap();
    let r = invoke_raw(emu.endpoint(), "off", &[], "{}").await;
    assert_eq!(r.status, 429);
    assert_eq!(r.error_code(), Some("TooManyRequestsException"));
    assert_eq!(
        r.json()["Reason"],
        "ReservedFunctionConcurrentInvocationLimitExceeded"
    );
    let event = InvokeOptions {
        invocation_type: InvocationType::Event,
        ..Default::default()
    };
    let r = emu.invoke_with("off", "{}", &event).await.unwrap();
    assert_eq!(r.status, 202, "an event is accepted and kept");
    wait_metric(&emu, "firebox_deferred_events{function=\"off\"}", 1.0).await;
    assert_eq!(emu.live_processes(), 0, "nothing ran");
}

#[tokio::test]
async fn throttled_events_are_retried_until_they_run() {
    let record = temp_file("events");
    let emu = Emulator::builder()
        .function(conc_function("ev").reserved_concurrency(1))
        .start()
        .await
        .unwrap();
    let event = InvokeOptions {
        invocation_type: InvocationType::Event,
        ..Default::default()
    };
    // The first event holds the only slot until all four were accepted, so the others are
    // throttled at least once and must be kept and retried.
    let gate = Gate::new("events");
    let payload =
        serde_json::json!({ "wait_for": gate.path(), "sleep": 0.3, "record": record }).to_string();
    for _ in 0..4 {
        let r = emu
            .invoke_with("ev", payload.clone(), &event)
            .await
            .unwrap();
        assert_eq!(r.status, 202);
    }
    gate.open();
    wait_until("four REPORT lines", Duration::from_secs(60), || {
        reports(&emu, "ev").len() == 4
    })
    .await;
    assert_eq!(reports(&emu, "ev").len(), 4, "every event ran");
    let (overlap, starts) = max_overlap(&record);
    assert_eq!((overlap, starts), (1, 4), "one at a time, as reserved");
    let m = metrics(&emu).await;
    let throttles = metric(
        &m,
        "firebox_throttles_total{function=\"ev\",reason=\"ReservedFunctionConcurrentInvocationLimitExceeded\"}",
    )
    .unwrap();
    assert!(throttles >= 1.0, "{m}");
    assert_eq!(
        metric(&m, "firebox_deferred_events{function=\"ev\"}"),
        Some(0.0)
    );
    let _ = std::fs::remove_file(record);
}

#[tokio::test]
async fn provisioned_environments_are_ready_first_and_spill_to_on_demand() {
    let emu = Emulator::builder()
        .function(conc_function("prov").provisioned_concurrency(2))
        .start()
        .await
        .unwrap();
    // Ready before the first invoke, visible in the metrics.
    wait_metric(
        &emu,
        "firebox_provisioned_concurrency{function=\"prov\",state=\"ready\"}",
        2.0,
    )
    .await;
    assert_eq!(emu.live_processes(), 2);
    // The three overlap by construction: each waits until all three have started.
    let barrier = Barrier::new("prov", 3);
    let payload = serde_json::json!({ "barrier": barrier.spec() }).to_string();
    let calls: Vec<_> = (0..3)
        .map(|_| invoke_raw(emu.endpoint(), "prov", &[], payload.clone()))
        .collect();
    let results = join_all(calls).await;
    let mut types: Vec<String> = results
        .iter()
        .map(|r| {
            assert_eq!(r.status, 200, "{:?}", r.body);
            r.json()["init_type"].as_str().unwrap().to_owned()
        })
        .collect();
    types.sort();
    assert_eq!(
        types,
        [
            "on-demand",
            "provisioned-concurrency",
            "provisioned-concurrency"
        ]
    );
    // Only the spill-over environment had an Init inside an invocation.
    let reports = reports(&emu, "prov");
    assert_eq!(reports.len(), 3);
    assert_eq!(
        reports
            .iter()
            .filter(|r| r.contains("Init Duration"))
            .count(),
        1,
        "{reports:?}"
    );
    // The next single invoke goes to a provisioned environment, warm.
    let r = emu.invoke("prov", "{}").await.unwrap();
    assert_eq!(r.json().unwrap()["init_type"], "provisioned-concurrency");
    let m = metrics(&emu).await;
    assert_eq!(
        metric(&m, "firebox_cold_starts_total{function=\"prov\"}"),
        Some(1.0)
    );
}

#[tokio::test]
async fn idle_reclaim_spares_busy_and_provisioned_environments() {
    let emu = Emulator::builder()
        .function(
            conc_function("reclaim")
                .provisioned_concurrency(1)
                .idle_timeout(Duration::from_millis(300)),
        )
        .start()
        .await
        .unwrap();
    wait_metric(
        &emu,
        "firebox_provisioned_concurrency{function=\"reclaim\",state=\"ready\"}",
        1.0,
    )
    .await;
    // Two at once (each waits for the other), each busy for longer than the idle timeout.
    let barrier = Barrier::new("reclaim", 2);
    let payload = serde_json::json!({ "barrier": barrier.spec(), "sleep": 1.0 }).to_string();
    let calls: Vec<_> = (0..2)
        .map(|_| invoke_raw(emu.endpoint(), "reclaim", &[], payload.clone()))
        .collect();
    let results = join_all(calls).await;
    let mut by_type = std::collections::HashMap::new();
    for r in &results {
        assert_eq!(
            r.status, 200,
            "busy environments are not reclaimed: {:?}",
            r.body
        );
        let j = r.json();
        by_type.insert(
            j["init_type"].as_str().unwrap().to_owned(),
            j["pid"].as_i64().unwrap(),
        );
    }
    let on_demand = by_type["on-demand"];
    let provisioned = by_type["provisioned-concurrency"];
    assert!(
        common::wait_gone(on_demand).await,
        "the idle on-demand environment is reclaimed"
    );
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(common::alive(provisioned), "the provisioned one is kept");
    let m = metrics(&emu).await;
    assert_eq!(
        metric(
            &m,
            "firebox_environments_destroyed_total{function=\"reclaim\"}"
        ),
        Some(1.0)
    );
    let r = emu.invoke("reclaim", "{}").await.unwrap();
    assert_eq!(r.json().unwrap()["pid"].as_i64(), Some(provisioned));
}

#[tokio::test]
async fn scaling_rate_throttles_a_burst() {
    let emu = Emulator::builder()
        .function(
            conc_function("burst").scaling_rate(firebox_emulator::config::ScalingRate {
                environments: 2,
                window: Duration::from_secs(60),
            }),
        )
        .start()
        .await
        .unwrap();
    let gate = Gate::new("burst");
    let payload = serde_json::json!({ "wait_for": gate.path() }).to_string();
    let results = invoke_held(&emu, "burst", 4, payload, &gate, 2).await;
    let throttled: Vec<_> = results.iter().filter(|r| r.status == 429).collect();
    assert_eq!(throttled.len(), 2);
    for r in throttled {
        assert_eq!(r.json()["Reason"], "FunctionInvocationRateLimitExceeded");
    }
    // Existing environments still serve.
    assert_eq!(
        invoke_raw(emu.endpoint(), "burst", &[], "{}").await.status,
        200
    );
}

#[tokio::test]
async fn metrics_describe_every_family() {
    let emu = Emulator::builder()
        .function(conc_function("m"))
        .start()
        .await
        .unwrap();
    emu.invoke("m", "{}").await.unwrap();
    emu.invoke("m", r#"{"fail": "boom"}"#).await.unwrap();
    let m = metrics(&emu).await;
    for family in [
        "firebox_invocations_total",
        "firebox_errors_total",
        "firebox_throttles_total",
        "firebox_cold_starts_total",
        "firebox_concurrent_executions",
        "firebox_environments",
        "firebox_duration_milliseconds",
        "firebox_init_duration_milliseconds",
        "firebox_account_concurrent_executions",
    ] {
        assert!(
            m.contains(&format!("# TYPE {family} ")),
            "{family} missing:\n{m}"
        );
    }
    assert_eq!(
        metric(&m, "firebox_invocations_total{function=\"m\"}"),
        Some(2.0)
    );
    assert_eq!(
        metric(&m, "firebox_errors_total{function=\"m\"}"),
        Some(1.0)
    );
    assert_eq!(
        metric(&m, "firebox_duration_milliseconds_count{function=\"m\"}"),
        Some(2.0)
    );
    assert_eq!(
        metric(
            &m,
            "firebox_init_duration_milliseconds_count{function=\"m\"}"
        ),
        Some(1.0)
    );
    assert_eq!(
        metric(&m, "firebox_environments{function=\"m\",state=\"busy\"}"),
        Some(0.0)
    );
    // `POST /metrics` is not an operation.
    let r = send(emu.endpoint(), "POST", "/metrics", &[], "").await;
    assert_eq!(r.status, 404);
    let _ = texts(&emu, "m");
}
