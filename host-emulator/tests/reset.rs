//! Lambda's reset after an invoke-phase failure, against real processes: the environment's
//! processes end, the environment itself stays (its `TMPDIR` with them), and the next
//! invocation runs Init again inside its invoke under the function's timeout (a suppressed
//! Init): no `INIT_START` line and no `Init Duration`, the Init counted in its `Duration`.
//! A function whose Init is longer than its timeout fails every invocation after its first
//! failure, as on Lambda. A first Init that fails runs again at once, inside the invoke of the
//! invocation waiting for it.

mod common;

use std::time::Duration;

use common::*;
use firebox_emulator::{Emulator, InvokeOptions};

/// The lines Lambda writes about Inits and invocations, each cut to what a test compares:
/// `INIT_START`, `INIT_REPORT <phase, status, error type>`, `START <id>`, `END <id>`,
/// `REPORT <id>` with what follows the figures and `Init Duration` (the failure's status).
fn lifecycle_lines(emu: &Emulator, function: &str) -> Vec<String> {
    texts(emu, function)
        .into_iter()
        .filter_map(|t| {
            if t.starts_with("INIT_START") {
                return Some("INIT_START".to_owned());
            }
            if let Some(rest) = t.strip_prefix("INIT_REPORT Init Duration: ") {
                let (_, outcome) = rest.split_once(" ms\t")?;
                return Some(format!("INIT_REPORT {outcome}"));
            }
            if let Some(rest) = t.strip_prefix("START RequestId: ") {
                return Some(format!("START {}", rest.split(' ').next()?));
            }
            if let Some(id) = t.strip_prefix("END RequestId: ") {
                return Some(format!("END {id}"));
            }
            let rest = t.strip_prefix("REPORT RequestId: ")?;
            let (id, _) = rest.split_once('\t')?;
            let status = rest.find("Status: ").map(|at| &rest[at..]);
            Some(match status {
                Some(status) => format!("REPORT {id} {status}"),
                None => format!("REPORT {id}"),
            })
        })
        .collect()
}

/// The `INIT_REPORT` lines of Inits inside an invoke that ended with `outcome`.
fn init_reports_inside_invokes(emu: &Emulator, function: &str, outcome: &str) -> Vec<String> {
    let suffix = format!("Phase: invoke\t{outcome}");
    texts(emu, function)
        .into_iter()
        .filter(|t| t.starts_with("INIT_REPORT") && t.ends_with(&suffix))
        .collect()
}

async fn counter(emu: &Emulator, name: &str, function: &str) -> Option<f64> {
    let text = metrics(emu).await;
    metric(&text, &format!("{name}{{function=\"{function}\"}}"))
}

/// Checks that `function` ran in one environment, which ran `suppressed` Inits inside invokes.
async fn assert_one_environment(emu: &Emulator, function: &str, suppressed: f64) {
    assert_eq!(
        counter(emu, "firebox_environments_created_total", function).await,
        Some(1.0),
        "one environment"
    );
    assert_eq!(
        counter(emu, "firebox_suppressed_inits_total", function).await,
        Some(suppressed)
    );
}

/// Fails an invocation with `failing` (which must end in `error_type`, its `REPORT` in
/// `status`) after a first one that left a file in `TMPDIR`, then checks that the next
/// invocation ran Init again in the same environment.
async fn failure_resets_and_keeps_the_environment(
    failing: &'static str,
    error_type: &str,
    status: &str,
) {
    let f = "reset";
    let emu = start(vec![function(f, "")
        .env("INIT_SLEEP", "0.3")
        .timeout(Duration::from_secs(2))])
    .await;
    let first = emu.invoke(f, r#"{"touch_tmp": "kept"}"#).await.unwrap();
    let first = first.json().unwrap();
    let pid = first["pid"].as_i64().unwrap();
    let tmp = first["env"]["TMPDIR"].as_str().unwrap().to_owned();

    let failed = emu.invoke(f, failing).await.unwrap();
    assert_eq!(failed.function_error.as_deref(), Some("Unhandled"));
    assert_eq!(failed.json().unwrap()["errorType"], error_type);
    assert!(wait_gone(pid).await, "the reset ends the failed process");

    let after = emu.invoke(f, "{}").await.unwrap();
    assert_eq!(after.function_error, None, "{}", after.text());
    let a = after.json().unwrap();
    assert_ne!(a["pid"].as_i64().unwrap(), pid, "a new process");
    assert_eq!(a["count"], 1, "its Init ran again");
    assert_eq!(a["env"]["TMPDIR"], tmp.as_str(), "the same environment");
    assert_eq!(
        a["tmp_files"],
        serde_json::json!(["kept"]),
        "TMPDIR survives a reset"
    );
    let reports = reports(&emu, f);
    assert_eq!(reports.len(), 3, "{reports:?}");
    assert!(reports[0].contains("Init Duration"), "{}", reports[0]);
    assert!(!reports[0].contains("Status"), "{}", reports[0]);
    assert!(
        reports[1].ends_with(&format!("MB\t{status}")),
        "the failure's status ends its REPORT: {}",
        reports[1]
    );
    assert!(!reports[2].contains("Status"), "{}", reports[2]);
    assert!(
        !reports[2].contains("Init Duration"),
        "a suppressed Init is no Init Duration: {}",
        reports[2]
    );
    assert!(
        report_number(&reports[2], "Duration") >= 300.0,
        "the Init (0.3 s) is part of the Duration: {}",
        reports[2]
    );
    let texts = texts(&emu, f);
    let init_starts = texts.iter().filter(|t| t.starts_with("INIT_START")).count();
    assert_eq!(
        init_starts, 1,
        "a suppressed Init writes no INIT_START: {texts:#?}"
    );

    // Warm from then on, in the process the suppressed Init started.
    let warm = emu.invoke(f, "{}").await.unwrap().json().unwrap();
    assert_eq!(warm["pid"], a["pid"]);
    assert_eq!(warm["count"], 2);
    assert_one_environment(&emu, f, 1.0).await;
    assert_eq!(
        counter(&emu, "firebox_environments_destroyed_total", f).await,
        Some(0.0)
    );
}

#[tokio::test]
async fn a_timeout_resets_the_environment_and_the_next_invoke_runs_init_inside_it() {
    failure_resets_and_keeps_the_environment(
        r#"{"sleep": 30}"#,
        "Sandbox.Timedout",
        "Status: timeout",
    )
    .await;
}

#[tokio::test]
async fn a_crash_resets_the_environment_and_the_next_invoke_runs_init_inside_it() {
    failure_resets_and_keeps_the_environment(
        r#"{"exit": 7}"#,
        "Runtime.ExitError",
        "Status: error\tError Type: Runtime.ExitError",
    )
    .await;
}

#[tokio::test]
async fn an_init_longer_than_the_timeout_fails_every_invoke_after_a_reset() {
    // Lambda's "doom loop": the first Init has 10 s, an Init after a reset only the timeout.
    let f = "doom";
    let emu = start(vec![function(f, "")
        .env("INIT_SLEEP", "1.5")
        .timeout(Duration::from_secs(1))])
    .await;
    let cold = emu.invoke(f, "{}").await.unwrap();
    assert_eq!(cold.function_error, None, "{}", cold.text());
    let timed_out = emu.invoke(f, r#"{"sleep": 5}"#).await.unwrap();
    assert_eq!(timed_out.json().unwrap()["errorType"], "Sandbox.Timedout");
    for _ in 0..2 {
        let r = emu.invoke(f, "{}").await.unwrap();
        let id = r.request_id.clone().unwrap();
        assert_eq!(r.function_error.as_deref(), Some("Unhandled"));
        let doc = r.json().unwrap();
        assert_eq!(doc["errorType"], "Sandbox.Timedout", "{doc}");
        assert_eq!(
            doc["errorMessage"],
            format!("RequestId: {id} Error: Task timed out after 1.00 seconds")
        );
    }
    let timed_out = init_reports_inside_invokes(&emu, f, "Status: timeout");
    assert_eq!(timed_out.len(), 2, "{:#?}", texts(&emu, f));
    assert!(
        timed_out
            .iter()
            .all(|t| t.starts_with("INIT_REPORT Init Duration: 1000")),
        "{timed_out:#?}"
    );
    assert_eq!(
        counter(&emu, "firebox_environments_created_total", f).await,
        Some(1.0),
        "every retry runs in the one environment"
    );
}

#[tokio::test]
async fn an_init_error_inside_the_invoke_is_served_and_the_environment_resets_again() {
    // The failed invocation leaves a file in TMPDIR that makes every later Init fail.
    let f = "poisoned";
    let emu = start(vec![function(f, "").env("INIT_FAIL_IF_TMP", "poison")]).await;
    assert_eq!(emu.invoke(f, "{}").await.unwrap().function_error, None);
    let crash = emu
        .invoke(f, r#"{"touch_tmp": "poison", "exit": 1}"#)
        .await
        .unwrap();
    assert_eq!(crash.json().unwrap()["errorType"], "Runtime.ExitError");
    for _ in 0..2 {
        let r = emu.invoke(f, "{}").await.unwrap();
        assert_eq!(r.function_error.as_deref(), Some("Unhandled"));
        let doc = r.json().unwrap();
        assert_eq!(doc["errorType"], "TmpInitError");
        assert_eq!(doc["errorMessage"], "poison is in TMPDIR");
    }
    let failed = init_reports_inside_invokes(&emu, f, "Status: error\tError Type: Runtime.Unknown");
    assert_eq!(failed.len(), 2, "{:#?}", texts(&emu, f));
    assert_eq!(
        counter(&emu, "firebox_environments_created_total", f).await,
        Some(1.0)
    );
}

#[tokio::test]
async fn a_failed_first_init_runs_again_inside_the_invoke_and_fails_it_as_lambda_logs_it() {
    let f = "initerr";
    let emu = start(vec![function(f, "init_error")]).await;
    let tail = InvokeOptions {
        log_tail: true,
        ..Default::default()
    };
    let mut ids = Vec::new();
    let mut tails = Vec::new();
    for _ in 0..2 {
        let r = emu.invoke_with(f, "{}", &tail).await.unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.function_error.as_deref(), Some("Unhandled"));
        let doc = r.json().unwrap();
        assert_eq!(doc["errorType"], "MyInitError");
        assert_eq!(doc["errorMessage"], "cannot initialise");
        ids.push(r.request_id.clone().unwrap());
        tails.push(r.log_tail.clone().expect("a tail"));
    }
    // The caller gets `MyInitError`; the platform's lines say `Runtime.Unknown`, as Lambda's do
    // for a type not of the `Runtime.Xyz` form.
    let failed = "Phase: invoke\tStatus: error\tError Type: Runtime.Unknown";
    let report = "Status: error\tError Type: Runtime.Unknown";
    let expected = [
        "INIT_START".to_owned(),
        "INIT_REPORT Phase: init\tStatus: error\tError Type: Runtime.Unknown".to_owned(),
        format!("INIT_REPORT {failed}"),
        format!("START {}", ids[0]),
        format!("END {}", ids[0]),
        format!("REPORT {} {report}", ids[0]),
        // The environment was reset and kept: the next Init runs inside the next invoke.
        format!("INIT_REPORT {failed}"),
        format!("START {}", ids[1]),
        format!("END {}", ids[1]),
        format!("REPORT {} {report}", ids[1]),
    ];
    assert_eq!(lifecycle_lines(&emu, f), expected);
    assert!(
        !reports(&emu, f)[0].contains("Init Duration"),
        "the Init inside the invoke is part of its Duration"
    );
    // The first caller's tail holds both Inits, from INIT_START to its REPORT.
    assert!(tails[0].starts_with("INIT_START"), "{}", tails[0]);
    assert!(
        tails[0].contains("Phase: init\tStatus: error"),
        "{}",
        tails[0]
    );
    assert!(tails[0].contains(failed), "{}", tails[0]);
    assert!(tails[0].contains(&format!("REPORT RequestId: {}", ids[0])));
    assert!(tails[1].contains(failed), "{}", tails[1]);
    assert!(!tails[1].contains("INIT_START"), "{}", tails[1]);
    let posted = wait_for_line(&emu, f, |t| t.starts_with("POST init/error")).await;
    assert!(posted.starts_with("POST init/error 202"), "{posted}");
    assert_one_environment(&emu, f, 2.0).await;
}

#[tokio::test]
async fn a_first_init_that_crashes_once_is_retried_and_its_invocation_succeeds() {
    let f = "flaky";
    let emu = start(vec![function(f, "").env("INIT_EXIT_ONCE", "crashed")]).await;
    let r = emu.invoke(f, "{}").await.unwrap();
    assert_eq!(r.function_error, None, "{}", r.text());
    let first = r.json().unwrap();
    assert_eq!(first["count"], 1);
    let id = r.request_id.clone().unwrap();
    assert_eq!(
        lifecycle_lines(&emu, f),
        [
            "INIT_START".to_owned(),
            "INIT_REPORT Phase: init\tStatus: error\tError Type: Runtime.ExitError".to_owned(),
            format!("START {id}"),
            format!("END {id}"),
            format!("REPORT {id}"),
        ],
        "an Init that succeeds writes no INIT_REPORT; {:#?}",
        texts(&emu, f)
    );
    assert!(texts(&emu, f).contains(&"the first Init crashes".to_owned()));
    assert!(!reports(&emu, f)[0].contains("Init Duration"));
    let warm = emu.invoke(f, "{}").await.unwrap().json().unwrap();
    assert_eq!(
        warm["pid"], first["pid"],
        "warm in the retried Init's process"
    );
    assert_eq!(warm["count"], 2);
    assert_one_environment(&emu, f, 1.0).await;
}

#[tokio::test]
async fn a_reset_environment_nobody_invokes_is_reclaimed_with_its_tmpdir() {
    let f = "idle";
    let emu = start(vec![
        function(f, "").idle_timeout(Duration::from_millis(500))
    ])
    .await;
    let first = emu.invoke(f, "{}").await.unwrap().json().unwrap();
    let tmp = std::path::PathBuf::from(first["env"]["TMPDIR"].as_str().unwrap());
    let crash = emu.invoke(f, r#"{"exit": 2}"#).await.unwrap();
    assert_eq!(crash.json().unwrap()["errorType"], "Runtime.ExitError");
    assert!(tmp.is_dir(), "kept by the reset");
    wait_metric(
        &emu,
        &format!("firebox_environments_destroyed_total{{function=\"{f}\"}}"),
        1.0,
    )
    .await;
    assert!(!tmp.exists(), "removed with the reclaimed environment");
    // The next invoke is a cold start in a new environment.
    let r = emu.invoke(f, "{}").await.unwrap();
    assert_eq!(r.function_error, None);
    assert!(reports(&emu, f)[2].contains("Init Duration"));
}
