//! `UpdateFunctionConfiguration` and `PublishVersion`, over real HTTP and through the library,
//! each seen by the next invoke of a real process (the Python test runtime): new settings start
//! new environments, running invocations finish where they are, published versions keep the
//! settings they were made with, and every refusal is in AWS's shape with nothing changed.

#[path = "../common/mod.rs"]
mod common;
mod logging;
mod refusals;

use std::time::Duration;

use common::*;
use firebox_emulator::{
    AliasConfig, ControlError, Emulator, FunctionUpdate, InvokeOptions, LogFormat, LoggingConfig,
    SettingsError, VersionConfig,
};
use serde_json::{json, Value};

const ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:api";
const CONFIGURATION: &str = "/2015-03-31/functions/api/configuration";
const VERSIONS: &str = "/2015-03-31/functions/api/versions";

/// `api`: `$LATEST` (variable `KEEP`) and versions 1 and 2.
async fn emulator() -> Emulator {
    start(vec![function("api", "")
        .env("KEEP", "kept")
        .publish(1, VersionConfig::new().env("STAGE", "one"))
        .publish(2, VersionConfig::new().env("STAGE", "two"))])
    .await
}

/// Invokes `api` (through `qualifier`, if any) with a tail; the runtime's answer and the tail.
async fn run(emu: &Emulator, qualifier: Option<&str>, event: Value) -> (Value, String) {
    let options = InvokeOptions {
        qualifier: qualifier.map(str::to_owned),
        log_tail: true,
        ..InvokeOptions::default()
    };
    let r = emu
        .invoke_with("api", event.to_string(), &options)
        .await
        .expect("invoke");
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.function_error.is_none(), "{}", r.text());
    (
        r.json().expect("JSON answer"),
        r.log_tail.unwrap_or_default(),
    )
}

#[tokio::test]
async fn an_update_starts_new_environments_with_the_new_settings() {
    let emu = emulator().await;
    let (before, _) = run(&emu, None, json!({})).await;
    assert_eq!(before["env"]["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"], "128");
    let old_pid = before["pid"].as_i64().unwrap();
    let revision = call(&emu, "GET", CONFIGURATION, &Value::Null).await.json()["RevisionId"]
        .as_str()
        .unwrap()
        .to_owned();

    let r = call(
        &emu,
        "PUT",
        CONFIGURATION,
        &json!({
            "Description": "beta build",
            "Handler": "app.beta",
            "MemorySize": 256,
            "Timeout": 7,
            "Environment": {"Variables": {"STAGE": "beta"}},
            "RevisionId": revision,
        }),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let c = r.json();
    assert_eq!(c["FunctionArn"], ARN);
    assert_eq!(c["Version"], "$LATEST");
    assert_eq!(c["Description"], "beta build");
    assert_eq!(c["Handler"], "app.beta");
    assert_eq!(c["MemorySize"], 256);
    assert_eq!(c["Timeout"], 7);
    assert_eq!(c["Environment"], json!({"Variables": {"STAGE": "beta"}}));
    assert_eq!(c["LastUpdateStatus"], "Successful");
    assert_ne!(c["RevisionId"], revision.as_str());
    // What GetFunctionConfiguration shows from now on.
    assert_eq!(
        call(&emu, "GET", CONFIGURATION, &Value::Null).await.json(),
        c
    );

    // The next invoke is a cold start in a new process with the new settings; the variables
    // were replaced as a whole (`KEEP` is gone).
    let (after, tail) = run(&emu, None, json!({})).await;
    assert_ne!(after["pid"].as_i64().unwrap(), old_pid);
    let env = &after["env"];
    assert_eq!(env["STAGE"], "beta");
    assert!(env.get("KEEP").is_none(), "{env}");
    assert_eq!(env["_HANDLER"], "app.beta");
    assert_eq!(env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"], "256");
    assert!(tail.contains("Memory Size: 256 MB"), "{tail}");
    assert!(tail.contains("Init Duration"), "{tail}");
    let deadline = after["headers"]["lambda-runtime-deadline-ms"]
        .as_str()
        .unwrap()
        .parse::<u64>()
        .unwrap();
    let now = firebox_emulator::ids::unix_millis();
    assert!(deadline > now + 5_000, "a 7 s timeout: {deadline} vs {now}");
    // The old environment was idle: it ends, and so does the scheduler of the old settings
    // ($LATEST and versions 1 and 2 are left).
    assert!(
        wait_gone(old_pid).await,
        "the old environment's process ends"
    );
    wait_until(
        "the replaced scheduler ends",
        Duration::from_secs(30),
        || emu.running_schedulers() == 3,
    )
    .await;
    // Then it is warm again.
    let (again, tail) = run(&emu, None, json!({})).await;
    assert_eq!(again["pid"], after["pid"]);
    assert!(!tail.contains("Init Duration"), "{tail}");

    // The published versions keep their own settings.
    let (one, _) = run(&emu, Some("1"), json!({})).await;
    assert_eq!(one["env"]["STAGE"], "one");
    assert_eq!(one["env"]["KEEP"], "kept");
    assert_eq!(one["env"]["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"], "128");

    // An update with `Environment: {}` removes every variable; the other settings stay.
    let r = call(&emu, "PUT", CONFIGURATION, &json!({"Environment": {}})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(r.json().get("Environment").is_none(), "{:?}", r.body);
    assert_eq!(r.json()["MemorySize"], 256);
    let (bare, _) = run(&emu, None, json!({})).await;
    assert!(bare["env"].get("STAGE").is_none());
    emu.shutdown().await;
}

#[tokio::test]
async fn a_running_invocation_finishes_with_the_settings_it_started_with() {
    let emu = emulator().await;
    let gate = Gate::new("settings-running");
    let running = {
        let endpoint = emu.endpoint().to_owned();
        let event = json!({"wait_for": gate.path()}).to_string();
        tokio::spawn(async move {
            firebox_emulator::client::invoke(&endpoint, "api", event.into(), &Default::default())
                .await
        })
    };
    wait_for_line(&emu, "api", |t| t.starts_with("START")).await;
    emu.update_function_configuration(
        "api",
        FunctionUpdate {
            environment: Some([("STAGE".to_owned(), "new".to_owned())].into()),
            ..FunctionUpdate::default()
        },
    )
    .expect("update");
    // A new invoke does not wait for the running one: it gets an environment of its own.
    let (new, _) = run(&emu, None, json!({})).await;
    assert_eq!(new["env"]["STAGE"], "new");
    gate.open();
    let old = running.await.unwrap().expect("invoke");
    assert_eq!(old.status, 200, "{}", old.text());
    let old = old.json().unwrap();
    assert!(old["env"].get("STAGE").is_none(), "{old}");
    assert_eq!(old["env"]["KEEP"], "kept");
    let old_pid = old["pid"].as_i64().unwrap();
    assert_ne!(old_pid, new["pid"].as_i64().unwrap());
    // Once answered, the old environment ends; the new one stays warm.
    assert!(wait_gone(old_pid).await, "the replaced environment ends");
    let (warm, _) = run(&emu, None, json!({})).await;
    assert_eq!(warm["pid"], new["pid"]);
    emu.shutdown().await;
}

#[tokio::test]
async fn updates_while_invocations_run_lose_none() {
    let emu = emulator().await;
    let invokes: Vec<_> = (0..24)
        .map(|i| {
            let endpoint = emu.endpoint().to_owned();
            tokio::spawn(async move {
                let event = json!({"sleep": 0.02 * f64::from(i % 4)}).to_string();
                firebox_emulator::client::invoke(
                    &endpoint,
                    "api",
                    event.into(),
                    &Default::default(),
                )
                .await
            })
        })
        .collect();
    for stage in ["a", "b", "c"] {
        emu.update_function_configuration(
            "api",
            FunctionUpdate {
                environment: Some([("STAGE".to_owned(), stage.to_owned())].into()),
                ..FunctionUpdate::default()
            },
        )
        .expect("update");
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    for invoke in invokes {
        let r = invoke.await.unwrap().expect("invoke");
        assert_eq!(r.status, 200, "{}", r.text());
        assert!(r.function_error.is_none(), "{}", r.text());
    }
    let (last, _) = run(&emu, None, json!({})).await;
    assert_eq!(last["env"]["STAGE"], "c");
    // Every environment of the replaced settings ends: one process is left.
    wait_until(
        "the replaced environments end",
        Duration::from_secs(30),
        || emu.live_processes() == 1,
    )
    .await;
    // And their schedulers: those of $LATEST and versions 1 and 2 are left.
    wait_until(
        "the replaced schedulers end",
        Duration::from_secs(30),
        || emu.running_schedulers() == 3,
    )
    .await;
    emu.shutdown().await;
}

#[tokio::test]
async fn publish_version_snapshots_latest_and_publishes_nothing_new_while_it_is_unchanged() {
    let emu = emulator().await;
    let r = call(&emu, "POST", VERSIONS, &json!({"Description": "third"})).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let three = r.json();
    assert_eq!(three["Version"], "3");
    assert_eq!(three["FunctionArn"], format!("{ARN}:3"));
    assert_eq!(three["Description"], "third");
    assert_eq!(three["Environment"], json!({"Variables": {"KEEP": "kept"}}));

    // Nothing changed since: the same version, with or without a body.
    for body in [json!({}), Value::Null] {
        let r = call(&emu, "POST", VERSIONS, &body).await;
        assert_eq!(r.status, 201, "{:?}", r.body);
        assert_eq!(r.json()["Version"], "3");
    }

    // Changed settings: version 4, with them; version 3 keeps its own.
    emu.update_function_configuration(
        "api",
        FunctionUpdate {
            memory_mb: Some(512),
            environment: Some([("STAGE".to_owned(), "four".to_owned())].into()),
            ..FunctionUpdate::default()
        },
    )
    .expect("update");
    assert_eq!(emu.publish_version("api", None).await.unwrap(), "4");
    let (four, tail) = run(&emu, Some("4"), json!({})).await;
    assert_eq!(four["env"]["STAGE"], "four");
    assert_eq!(four["env"]["AWS_LAMBDA_FUNCTION_VERSION"], "4");
    assert!(tail.contains("Memory Size: 512 MB"), "{tail}");
    let (three_run, _) = run(&emu, Some("3"), json!({})).await;
    assert!(three_run["env"].get("STAGE").is_none());
    assert_eq!(three_run["env"]["KEEP"], "kept");
    assert_eq!(three_run["env"]["AWS_LAMBDA_FUNCTION_VERSION"], "3");
    let r = emu
        .invoke_with(
            "api",
            "{}",
            &InvokeOptions {
                qualifier: Some("4".into()),
                ..InvokeOptions::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(r.executed_version.as_deref(), Some("4"));

    // Listed in order, and an alias may name them.
    let listed = call(&emu, "GET", VERSIONS, &Value::Null).await.json();
    let versions: Vec<&str> = listed["Versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["Version"].as_str().unwrap())
        .collect();
    assert_eq!(versions, ["$LATEST", "1", "2", "3", "4"]);
    emu.set_alias("api", "live", AliasConfig::new("4").route("3", 0.5))
        .expect("an alias of published versions");
    let r = call(
        &emu,
        "GET",
        "/2015-03-31/functions/api/configuration?Qualifier=3",
        &Value::Null,
    )
    .await;
    assert_eq!(r.json()["Description"], "third");
    assert_eq!(r.json()["MemorySize"], 128);

    // Refusals: a stale revision id, a code hash, a qualified name.
    let stale = three["RevisionId"].as_str().unwrap();
    let r = call(&emu, "POST", VERSIONS, &json!({"RevisionId": stale})).await;
    assert_error(&r, 412, "PreconditionFailedException", "Revision Id");
    let r = call(&emu, "POST", VERSIONS, &json!({"CodeSha256": "abc"})).await;
    assert_error(&r, 400, "InvalidParameterValueException", "CodeSha256");
    let r = call(
        &emu,
        "POST",
        "/2015-03-31/functions/api:3/versions",
        &json!({}),
    )
    .await;
    assert_error(&r, 400, "InvalidParameterValueException", "unqualified");
    let r = call(
        &emu,
        "POST",
        VERSIONS,
        &json!({"Description": "d".repeat(257)}),
    )
    .await;
    assert_error(&r, 400, "InvalidParameterValueException", "Description");
    // None of them published anything.
    let listed = call(&emu, "GET", VERSIONS, &Value::Null).await.json();
    assert_eq!(listed["Versions"].as_array().unwrap().len(), 5);
    emu.shutdown().await;
}
