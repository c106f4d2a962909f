//! Published versions and aliases: each version runs its own settings in environments of its
//! own, a qualifier (on the name, the ARN or `?Qualifier=`) picks the version, an alias
//! routes by weight, and the function's reserved concurrency is shared by all versions.
//! Real processes (the Python test runtime) behind the real Invoke API.

mod common;

use std::time::Duration;

use common::*;
use firebox_emulator::{AliasConfig, Emulator, FunctionConfig, InvokeOptions, VersionConfig};

fn qualified(q: &str) -> InvokeOptions {
    InvokeOptions {
        qualifier: Some(q.to_owned()),
        ..InvokeOptions::default()
    }
}

/// `$LATEST` (STAGE=latest), version 1 (STAGE=one, 256 MB), version 2 (STAGE=two), and the
/// aliases `live` → 1, `dev` → `$LATEST`, `half` → 1 with half the invocations on 2, and
/// `all-two` → 1 with every invocation on 2.
fn versioned(name: &str) -> FunctionConfig {
    function(name, "")
        .env("STAGE", "latest")
        .publish(1, VersionConfig::new().env("STAGE", "one").memory_mb(256))
        .publish(2, VersionConfig::new().env("STAGE", "two"))
        .alias("live", AliasConfig::new("1"))
        .alias("dev", AliasConfig::new("$LATEST"))
        .alias("half", AliasConfig::new("1").route("2", 0.5))
        .alias("all-two", AliasConfig::new("1").route("2", 1.0))
}

/// What one invoke ran: (executed version, STAGE, AWS_LAMBDA_FUNCTION_VERSION, the invoked
/// ARN the runtime got, the process id).
async fn ran(emu: &Emulator, name: &str, q: Option<&str>) -> (String, String, String, String, u64) {
    let options = InvokeOptions {
        qualifier: q.map(str::to_owned),
        ..InvokeOptions::default()
    };
    let r = emu.invoke_with(name, "{}", &options).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.function_error.is_none(), "{}", r.text());
    let body = r.json().unwrap();
    let env = |k: &str| body["env"][k].as_str().unwrap_or_default().to_owned();
    (
        r.executed_version.unwrap_or_default(),
        env("STAGE"),
        env("AWS_LAMBDA_FUNCTION_VERSION"),
        body["headers"]["lambda-runtime-invoked-function-arn"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        body["pid"].as_u64().unwrap(),
    )
}

#[tokio::test]
async fn each_version_runs_its_own_settings_in_its_own_environment() {
    let emu = start(vec![versioned("v")]).await;
    let arn = "arn:aws:lambda:us-east-1:123456789012:function:v";

    let (version, stage, env_version, invoked, latest_pid) = ran(&emu, "v", None).await;
    assert_eq!(
        (version.as_str(), stage.as_str(), env_version.as_str()),
        ("$LATEST", "latest", "$LATEST")
    );
    assert_eq!(invoked, arn);

    let (version, stage, env_version, invoked, one_pid) = ran(&emu, "v", Some("1")).await;
    assert_eq!(
        (version.as_str(), stage.as_str(), env_version.as_str()),
        ("1", "one", "1")
    );
    assert_eq!(invoked, format!("{arn}:1"));
    assert_ne!(one_pid, latest_pid, "version 1 has environments of its own");

    let (version, stage, _, invoked, two_pid) = ran(&emu, "v:2", None).await;
    assert_eq!((version.as_str(), stage.as_str()), ("2", "two"));
    assert_eq!(invoked, format!("{arn}:2"));
    assert!(two_pid != one_pid && two_pid != latest_pid);

    // An alias runs the version it names, in that version's (now warm) environment; the
    // runtime sees the ARN the caller used.
    let (version, stage, env_version, invoked, pid) = ran(&emu, &format!("{arn}:live"), None).await;
    assert_eq!(
        (version.as_str(), stage.as_str(), env_version.as_str()),
        ("1", "one", "1")
    );
    assert_eq!(invoked, format!("{arn}:live"));
    assert_eq!(pid, one_pid, "the alias shares version 1's environment");
    let (version, _, _, invoked, pid) = ran(&emu, "v", Some("dev")).await;
    assert_eq!(version, "$LATEST");
    assert_eq!(invoked, format!("{arn}:dev"));
    assert_eq!(pid, latest_pid);
    let (version, _, _, _, pid) = ran(&emu, "v", Some("$LATEST")).await;
    assert_eq!((version.as_str(), pid), ("$LATEST", latest_pid));

    // Version 1's settings: memory, log stream, START line.
    let r = emu
        .invoke_with(
            "v",
            "{}",
            &InvokeOptions {
                log_tail: true,
                ..qualified("1")
            },
        )
        .await
        .unwrap();
    let body = r.json().unwrap();
    assert_eq!(body["env"]["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"], "256");
    assert!(
        body["env"]["AWS_LAMBDA_LOG_STREAM_NAME"]
            .as_str()
            .unwrap()
            .contains("/[1]"),
        "{body}"
    );
    let tail = r.log_tail.unwrap();
    assert!(tail.contains("Version: 1"), "{tail}");
    assert!(tail.contains("Memory Size: 256 MB"), "{tail}");
    assert!(texts(&emu, "v")
        .iter()
        .any(|l| l.starts_with("START") && l.ends_with("Version: $LATEST")));

    // Three environments in all, counted under the function.
    let m = metrics(&emu).await;
    assert_eq!(
        metric(&m, "firebox_environments_created_total{function=\"v\"}"),
        Some(3.0),
        "{m}"
    );
    assert_eq!(
        metric(&m, "firebox_invocations_total{function=\"v\"}"),
        Some(7.0),
        "{m}"
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn an_alias_routes_by_weight() {
    let emu = start(vec![versioned("w")]).await;
    for _ in 0..5 {
        let (version, stage, _, invoked, _) = ran(&emu, "w", Some("all-two")).await;
        assert_eq!((version.as_str(), stage.as_str()), ("2", "two"));
        assert!(invoked.ends_with(":w:all-two"), "{invoked}");
    }
    // Half and half: 60 invocations all landing on one side has a chance of 2 in 2^60.
    let mut seen = std::collections::BTreeMap::new();
    for _ in 0..60 {
        let (version, stage, _, _, _) = ran(&emu, "w", Some("half")).await;
        let expected = if version == "1" { "one" } else { "two" };
        assert_eq!(stage, expected, "version {version} ran another's settings");
        *seen.entry(version).or_insert(0) += 1;
    }
    assert_eq!(seen.keys().collect::<Vec<_>>(), ["1", "2"], "{seen:?}");
    // `/metrics` counts each version's invocations as they were routed, and the function's
    // as their sum; a function error counts for its version only.
    let r = emu
        .invoke_with(
            "w",
            r#"{"error": {"type": "Oops", "message": "no"}}"#,
            &qualified("2"),
        )
        .await
        .unwrap();
    assert_eq!(r.function_error.as_deref(), Some("Unhandled"));
    let m = metrics(&emu).await;
    let of = |series: &str, v: &str| {
        metric(&m, &format!("{series}{{function=\"w\",version=\"{v}\"}}")).unwrap_or(0.0)
    };
    let (one, two) = (
        of("firebox_version_invocations_total", "1"),
        of("firebox_version_invocations_total", "2"),
    );
    assert_eq!(one, f64::from(seen["1"]), "{m}");
    assert_eq!(two, f64::from(seen["2"] + 5 + 1), "{m}");
    assert_eq!(of("firebox_version_invocations_total", "$LATEST"), 0.0);
    assert_eq!(of("firebox_version_errors_total", "2"), 1.0, "{m}");
    assert_eq!(of("firebox_version_errors_total", "1"), 0.0, "{m}");
    assert_eq!(
        metric(&m, "firebox_invocations_total{function=\"w\"}"),
        Some(one + two)
    );
    // `$LATEST`'s count goes on across a settings update (a new scheduler for `$LATEST`).
    ran(&emu, "w", None).await;
    emu.update_function_configuration(
        "w",
        firebox_emulator::FunctionUpdate {
            memory_mb: Some(256),
            ..firebox_emulator::FunctionUpdate::default()
        },
    )
    .unwrap();
    ran(&emu, "w", Some("$LATEST")).await;
    let m = metrics(&emu).await;
    assert_eq!(
        metric(
            &m,
            "firebox_version_invocations_total{function=\"w\",version=\"$LATEST\"}"
        ),
        Some(2.0),
        "{m}"
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn unknown_qualifiers_are_not_found_and_a_mismatch_is_refused() {
    let emu = start(vec![versioned("q")]).await;
    for (name, q) in [
        ("q", Some("3")),
        ("q", Some("nope")),
        ("q:0", None),
        (
            "arn:aws:lambda:us-east-1:123456789012:function:q:ghost",
            None,
        ),
    ] {
        let options = InvokeOptions {
            qualifier: q.map(str::to_owned),
            ..InvokeOptions::default()
        };
        let r = emu.invoke_with(name, "{}", &options).await.unwrap();
        assert_eq!(r.status, 404, "{name} {q:?}: {}", r.text());
        assert_eq!(r.error_code.as_deref(), Some("ResourceNotFoundException"));
        let qualifier = q.unwrap_or_else(|| name.rsplit(':').next().unwrap());
        assert!(
            r.text().contains(&format!(":function:q:{qualifier}")),
            "the message names the qualified ARN: {}",
            r.text()
        );
    }
    let r = emu.invoke_with("q:1", "{}", &qualified("2")).await.unwrap();
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(
        r.error_code.as_deref(),
        Some("InvalidParameterValueException")
    );
    // Nothing ran.
    assert!(emu.logs("q").is_empty(), "{:?}", texts(&emu, "q"));
    emu.shutdown().await;
}

#[tokio::test]
async fn versions_share_the_function_reserved_concurrency() {
    let f = versioned("r").reserved_concurrency(1);
    let emu = start(vec![f]).await;
    let endpoint = emu.endpoint().to_owned();
    let slow = tokio::spawn(async move {
        firebox_emulator::client::invoke(&endpoint, "r", r#"{"sleep": 2}"#.into(), &qualified("1"))
            .await
    });
    wait_metric(&emu, "firebox_concurrent_executions{function=\"r\"}", 1.0).await;
    for q in ["2", "$LATEST", "live"] {
        let r = emu.invoke_with("r", "{}", &qualified(q)).await.unwrap();
        assert_eq!(r.status, 429, "{q}: {}", r.text());
        assert!(
            r.text()
                .contains("ReservedFunctionConcurrentInvocationLimitExceeded"),
            "{}",
            r.text()
        );
    }
    let r = slow.await.unwrap().unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.executed_version.as_deref(), Some("1"));
    emu.shutdown().await;
}

#[tokio::test]
async fn a_version_can_run_other_code() {
    // Version 1 runs a runtime that fails its Init: $LATEST is unaffected.
    let f = function("c", "").publish(
        1,
        VersionConfig::new()
            .command([PYTHON, "-u", &runtime_script(), "init_error"])
            .timeout(Duration::from_secs(2)),
    );
    let emu = start(vec![f]).await;
    let r = emu.invoke_with("c", "{}", &qualified("1")).await.unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(
        r.function_error.as_deref(),
        Some("Unhandled"),
        "{}",
        r.text()
    );
    assert_eq!(r.executed_version.as_deref(), Some("1"));
    let r = emu.invoke("c", "{}").await.unwrap();
    assert!(r.function_error.is_none(), "{}", r.text());
    assert_eq!(r.executed_version.as_deref(), Some("$LATEST"));
    emu.shutdown().await;
}

#[tokio::test]
async fn bad_versions_and_aliases_are_refused_naming_the_field() {
    let base = || function("b", "");
    for (f, says) in [
        (base().publish(0, VersionConfig::new()), "versions"),
        (
            base().publish(1, VersionConfig::new().memory_mb(64)),
            "versions.1.memory_mb",
        ),
        (
            base().publish(1, VersionConfig::new().env("AWS_REGION", "x")),
            "versions.1.environment",
        ),
        (base().alias("live", AliasConfig::new("1")), "aliases.live"),
        (
            base().alias("123", AliasConfig::new("$LATEST")),
            "aliases.123",
        ),
        (
            base().alias("a b", AliasConfig::new("$LATEST")),
            "aliases.a b",
        ),
        (
            base().alias("x", AliasConfig::new("$LATEST").route("1", 0.5)),
            "aliases.x",
        ),
        (
            base()
                .publish(1, VersionConfig::new())
                .publish(2, VersionConfig::new())
                .alias("x", AliasConfig::new("1").route("2", 1.5)),
            "aliases.x",
        ),
        (
            base()
                .publish(1, VersionConfig::new())
                .alias("x", AliasConfig::new("1").route("1", 0.5)),
            "aliases.x",
        ),
        (
            base()
                .reserved_concurrency(2)
                .publish(1, VersionConfig::new().provisioned_concurrency(2))
                .provisioned_concurrency(1),
            "provisioned_concurrency",
        ),
    ] {
        let err = Emulator::builder()
            .function(f)
            .start()
            .await
            .expect_err(says)
            .to_string();
        assert!(err.contains(says) && err.contains("`b`"), "{says}: {err}");
    }
}

#[tokio::test]
async fn a_function_url_invokes_its_alias() {
    use firebox_emulator::url::{UrlConfig, PATH_PREFIX};
    let emu = start(vec![versioned("web").url(UrlConfig {
        qualifier: Some("live".into()),
        ..UrlConfig::default()
    })])
    .await;
    let path = format!("{PATH_PREFIX}web/");
    let through_url = |emu: &Emulator| {
        let endpoint = emu.endpoint().to_owned();
        let path = path.clone();
        async move { send(&endpoint, "GET", &path, &[], "").await }
    };
    // The runtime's answer (no `statusCode`) is the URL's JSON body.
    let r = through_url(&emu).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let body = r.json();
    assert_eq!(body["env"]["STAGE"], "one");
    assert_eq!(body["env"]["AWS_LAMBDA_FUNCTION_VERSION"], "1");
    let arn = body["headers"]["lambda-runtime-invoked-function-arn"]
        .as_str()
        .unwrap();
    assert!(arn.ends_with(":function:web:live"), "{arn}");

    // Repointed, the URL follows the alias; deleted, the URL goes with it.
    emu.set_alias("web", "live", AliasConfig::new("2")).unwrap();
    assert_eq!(through_url(&emu).await.json()["env"]["STAGE"], "two");
    assert!(emu.delete_alias("web", "live").unwrap());
    let r = through_url(&emu).await;
    assert_eq!(r.status, 404, "{:?}", r.body);
    emu.shutdown().await;
}
