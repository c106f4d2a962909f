//! The Runtime API harness against real processes: the Firebox and official `lambda_runtime`
//! echo functions and the official hello end to end, and runtimes that crash, hang or report
//! init errors.

mod common;

use std::time::Duration;

use bytes::Bytes;
use firebox_bench::runtime_bench::{self, BinarySpec, RuntimeBenchConfig};
use firebox_bench::BenchError;

fn small_config() -> RuntimeBenchConfig {
    RuntimeBenchConfig {
        invocations: 200,
        warmup: 10,
        cold_starts: 2,
        payload: Bytes::from_static(br#"{"name":"Ada","n":[1,2,3]}"#),
        init_timeout: Duration::from_secs(10),
        run_timeout: Duration::from_secs(60),
        ..RuntimeBenchConfig::default()
    }
}

fn spec(name: &str, path: std::path::PathBuf) -> BinarySpec {
    BinarySpec {
        name: name.into(),
        path,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_echo_and_hello_run_side_by_side() {
    let echo = spec("official", common::function_bin("official-echo"));
    let hello = spec("hello", common::function_bin("official-hello"));
    let mut config = small_config();
    config.rounds = 2;
    config.cold_starts = 3;

    let reports = runtime_bench::run(&[echo.clone(), hello], &config)
        .await
        .expect("harness runs");
    assert_eq!(reports.len(), 2);

    let e = &reports[0];
    assert_eq!(e.name, "official");
    assert_eq!(e.rounds, 2);
    assert_eq!(e.starts, 3);
    assert_eq!(e.ok, 400, "every measured echo succeeds: {e:?}");
    assert_eq!(e.error_count(), 0, "{e:?}");
    assert_eq!(e.latency.count, 400);
    assert_eq!(e.size_bytes, std::fs::metadata(&echo.path).unwrap().len());
    assert!(e.rss_after_init_kib > 0.0);
    assert!(e.peak_rss_kib >= e.rss_after_init_kib);
    assert!(e.first_next_min_us > 0.0 && e.first_next_min_us <= e.first_next_median_us);
    assert!(e.wall_per_invocation_us > 0.0);
    assert!(e.cpu_per_invocation_us > 0.0);
    assert!(e.latency.min_us <= e.latency.p50_us && e.latency.p50_us <= e.latency.max_us);

    // hello does not echo, so the echo check must catch every response.
    let h = &reports[1];
    assert_eq!(h.ok, 0);
    assert_eq!(h.mismatches, 400);
    assert_eq!(h.error_count(), 400);
}

#[tokio::test]
async fn firebox_echo_answers_every_event() {
    let echo = spec("firebox", common::function_bin("firebox-echo"));
    let reports = runtime_bench::run(&[echo], &small_config()).await.unwrap();
    let r = &reports[0];
    assert_eq!(r.ok, 200, "{r:?}");
    assert_eq!(r.error_count(), 0, "{r:?}");
    assert!(r.rss_after_init_kib > 0.0);
}

#[tokio::test]
async fn hello_without_the_echo_check_succeeds() {
    let hello = spec("hello", common::function_bin("official-hello"));
    let mut config = small_config();
    config.check_echo = false;
    config.warmup = 0;
    let reports = runtime_bench::run(&[hello], &config).await.unwrap();
    assert_eq!(reports[0].ok, 200);
    assert_eq!(reports[0].error_count(), 0);
}

#[tokio::test]
async fn a_missing_binary_is_a_clear_error() {
    let err = runtime_bench::run(
        &[spec("ghost", "/nonexistent/bootstrap".into())],
        &small_config(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, BenchError::Spawn { .. }), "{err}");
    assert!(err.to_string().contains("/nonexistent/bootstrap"));
}

#[tokio::test]
async fn a_runtime_that_exits_during_init_is_reported_with_its_stderr() {
    let bin = common::script("crash", "echo 'cannot find config' >&2\nexit 3");
    let err = runtime_bench::run(&[spec("crash", bin.to_path_buf())], &small_config())
        .await
        .unwrap_err();
    match &err {
        BenchError::ChildExited {
            when,
            status,
            stderr_tail,
            ..
        } => {
            assert_eq!(*when, "before its first /next");
            assert!(status.contains('3'), "{status}");
            assert!(stderr_tail.contains("cannot find config"), "{stderr_tail}");
        }
        other => panic!("unexpected error: {other}"),
    }
}

#[tokio::test]
async fn a_runtime_that_never_calls_next_times_out() {
    let bin = common::script("hang", "exec sleep 30");
    let mut config = small_config();
    config.init_timeout = Duration::from_millis(300);
    let err = runtime_bench::run(&[spec("hang", bin.to_path_buf())], &config)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            BenchError::Timeout {
                when: "before its first /next",
                ..
            }
        ),
        "{err}"
    );
}

#[tokio::test]
async fn a_runtime_that_exits_mid_run_is_reported() {
    // Takes one event, answers it, then exits instead of asking for the next.
    let bin = common::script(
        "one-shot",
        r#"api="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime"
id=$(curl -s -D - -o /dev/null "$api/invocation/next" | tr -d '\r' | awk -F': ' 'tolower($1)=="lambda-runtime-aws-request-id" {print $2}')
curl -s -o /dev/null -X POST -d '{}' "$api/invocation/$id/response"
exit 0"#,
    );
    let err = runtime_bench::run(&[spec("one-shot", bin.to_path_buf())], &small_config())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            BenchError::ChildExited {
                when: "during the invocations",
                ..
            }
        ),
        "{err}"
    );
}

#[tokio::test]
async fn an_init_error_is_reported_with_its_document() {
    let bin = common::script(
        "init-error",
        r#"curl -s -o /dev/null -X POST -H 'Lambda-Runtime-Function-Error-Type: Runtime.ConfigError' \
  -d '{"errorType":"Runtime.ConfigError","errorMessage":"no TABLE_NAME"}' \
  "http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/init/error"
exit 1"#,
    );
    let err = runtime_bench::run(&[spec("init-error", bin.to_path_buf())], &small_config())
        .await
        .unwrap_err();
    match &err {
        BenchError::InitError { body, .. } => assert!(body.contains("no TABLE_NAME"), "{body}"),
        other => panic!("unexpected error: {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_raw_echo_answers_every_event_sequential_and_pipelined() {
    let sequential = spec("raw", common::function_bin("raw-echo"));
    let pipelined = spec("pipelined", common::function_bin("raw-echo-pipelined"));
    let reports = runtime_bench::run(&[sequential, pipelined], &small_config())
        .await
        .expect("harness runs");
    for r in &reports {
        // The harness checks that each response is the event: a lost or mixed-up answer
        // (a pipelined `/next` read as the response, say) is an error here.
        assert_eq!(r.ok, 200, "{r:?}");
        assert_eq!(r.error_count(), 0, "{r:?}");
    }
}
