//! `CreateFunction`, `UpdateFunctionCode` and `DeleteFunction`, over real HTTP and through the
//! library, each seen by the next invoke of a real process: a function made from a `.zip`
//! runs in the unpacked package, new code starts new environments while published versions
//! keep the code they were published with, a deleted function answers what it was running and
//! then ends, and every refusal is in AWS's shape with nothing changed.

#[path = "../common/mod.rs"]
mod common;
mod refusals;

use std::time::Duration;

use common::archive::{b64, zip_of};
use common::*;
use firebox_emulator::{ControlError, DeployError, Emulator, FunctionConfig, InvokeOptions};
use serde_json::{json, Value};
use sha2::Digest;

const FUNCTIONS: &str = "/2015-03-31/functions";
const ROLE: &str = "arn:aws:iam::123456789012:role/firebox-test";

/// A package of the Python test runtime (as `runtime.py`, and as `other.py`), an executable
/// `bootstrap` that runs it, and `mark.txt` holding `mark`.
fn package(mark: &str) -> Vec<u8> {
    let runtime = std::fs::read(runtime_script()).expect("the test runtime");
    zip_of::<&[u8]>(&[
        (
            "bootstrap",
            format!("#!/bin/sh\nexec {PYTHON} -u runtime.py \"$@\"\n").as_bytes(),
            0o755,
        ),
        ("runtime.py", &runtime, 0o644),
        ("other.py", &runtime, 0o644),
        ("mark.txt", mark.as_bytes(), 0o644),
    ])
}

/// An emulator with `api` (a function run by a command) whose Python runtime is the test
/// runtime: `Runtime: python3.12` with `Handler: runtime.py` runs `python3 -u runtime.py`.
async fn emulator() -> Emulator {
    Emulator::builder()
        .runtime_command("python", [PYTHON, "-u", "{handler}"])
        .function(function("api", ""))
        .start()
        .await
        .expect("emulator starts")
}

/// `CreateFunction`'s body for `name` with this code and runtime, plus `extra` fields.
fn create_body(name: &str, zip: &[u8], runtime: &str, extra: Value) -> Value {
    let mut body = json!({
        "FunctionName": name,
        "Role": ROLE,
        "Runtime": runtime,
        "Handler": "runtime.py",
        "Code": { "ZipFile": b64(zip) },
    });
    for (k, v) in extra.as_object().cloned().unwrap_or_default() {
        body[k] = v;
    }
    body
}

/// Invokes `name` (through `qualifier`), expecting an answer from the runtime: the answer and
/// the `mark.txt` of the directory it ran in.
async fn run(emu: &Emulator, name: &str, qualifier: Option<&str>) -> (Value, String) {
    let options = InvokeOptions {
        qualifier: qualifier.map(str::to_owned),
        ..InvokeOptions::default()
    };
    let r = emu.invoke_with(name, "{}", &options).await.expect("invoke");
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.function_error.is_none(), "{}", r.text());
    let answer: Value = r.json().expect("JSON answer");
    let cwd = answer["cwd"].as_str().expect("cwd").to_owned();
    let mark = std::fs::read_to_string(format!("{cwd}/mark.txt")).unwrap_or_default();
    (answer, mark)
}

#[tokio::test]
async fn a_created_function_runs_its_package_and_a_delete_removes_it() {
    let emu = emulator().await;
    let zip = package("v1");
    let body = create_body(
        "made",
        &zip,
        "provided.al2023",
        json!({
            "MemorySize": 256,
            "Description": "made through the API",
            "Environment": { "Variables": { "STAGE": "test" } },
            "Tags": { "team": "core" },
            "VpcConfig": {},
        }),
    );
    let r = call(&emu, "POST", FUNCTIONS, &body).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let c = r.json();
    assert_eq!(c["FunctionName"], "made");
    // Members Lambda always returns, with the values the emulator runs with.
    assert_eq!(
        c["SnapStart"],
        json!({"ApplyOn": "None", "OptimizationStatus": "Off"})
    );
    assert_eq!(
        c["RuntimeVersionConfig"]["RuntimeVersionArn"],
        "arn:aws:lambda:us-east-1::runtime:firebox-provided.al2023"
    );
    assert_eq!(
        c["FunctionArn"],
        "arn:aws:lambda:us-east-1:123456789012:function:made"
    );
    assert_eq!(c["Runtime"], "provided.al2023");
    assert_eq!(c["Role"], ROLE);
    assert_eq!(c["MemorySize"], 256);
    assert_eq!(c["Version"], "$LATEST");
    assert_eq!(c["State"], "Active");
    assert_eq!(c["CodeSize"], zip.len());
    assert_eq!(c["CodeSha256"], b64(&sha2::Sha256::digest(&zip)));
    assert_eq!(c["Environment"]["Variables"]["STAGE"], "test");

    // The first invoke is a cold start in the unpacked package, run by its `bootstrap`.
    let (answer, mark) = run(&emu, "made", None).await;
    assert_eq!(mark, "v1");
    let env = &answer["env"];
    assert_eq!(env["LAMBDA_TASK_ROOT"], answer["cwd"]);
    assert_eq!(env["STAGE"], "test");
    assert_eq!(env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"], "256");
    assert!(
        env.get("AWS_EXECUTION_ENV").is_none(),
        "an OS-only runtime names none: {env}"
    );
    let pid = answer["pid"].as_i64().unwrap();
    let get = call(&emu, "GET", &format!("{FUNCTIONS}/made"), &Value::Null).await;
    assert_eq!(get.json()["Tags"], json!({ "team": "core" }));
    let listed = call(&emu, "GET", FUNCTIONS, &Value::Null).await.json();
    let names: Vec<&str> = listed["Functions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["FunctionName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["api", "made"]);

    let again = call(&emu, "POST", FUNCTIONS, &body).await;
    assert_error(
        &again,
        409,
        "ResourceConflictException",
        "Function already exist: made",
    );
    let (_, mark) = run(&emu, "made", None).await;
    assert_eq!(mark, "v1", "the refused create changed nothing");

    let r = call(&emu, "DELETE", &format!("{FUNCTIONS}/made"), &Value::Null).await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    assert!(r.body.is_empty());
    let gone = emu.invoke("made", "{}").await.expect("invoke");
    assert_eq!(gone.status, 404, "{}", gone.text());
    assert_eq!(
        gone.headers
            .get("x-amzn-errortype")
            .and_then(|v| v.to_str().ok()),
        Some("ResourceNotFoundException")
    );
    let get = call(&emu, "GET", &format!("{FUNCTIONS}/made"), &Value::Null).await;
    assert_error(&get, 404, "ResourceNotFoundException", "made");
    assert!(wait_gone(pid).await, "the deleted function's process ends");
    wait_until(
        "the deleted function's scheduler ends",
        Duration::from_secs(30),
        || emu.running_schedulers() == 1,
    )
    .await;
    let r = call(&emu, "DELETE", &format!("{FUNCTIONS}/made"), &Value::Null).await;
    assert_error(&r, 404, "ResourceNotFoundException", "made");
    // The name is free again.
    let r = call(&emu, "POST", FUNCTIONS, &body).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(run(&emu, "made", None).await.1, "v1");
    emu.shutdown().await;
}

#[tokio::test]
async fn new_code_starts_new_environments_and_versions_keep_theirs() {
    let emu = emulator().await;
    let body = create_body(
        "py",
        &package("v1"),
        "python3.12",
        json!({ "Publish": true }),
    );
    let r = call(&emu, "POST", FUNCTIONS, &body).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.json()["Version"], "1");
    assert_eq!(
        r.json()["FunctionArn"],
        "arn:aws:lambda:us-east-1:123456789012:function:py:1"
    );
    let (answer, mark) = run(&emu, "py", None).await;
    assert_eq!(mark, "v1");
    assert_eq!(answer["env"]["AWS_EXECUTION_ENV"], "AWS_Lambda_python3.12");
    assert_eq!(answer["env"]["_HANDLER"], "runtime.py");
    let old_pid = answer["pid"].as_i64().unwrap();
    let code = format!("{FUNCTIONS}/py/code");
    let revision = call(
        &emu,
        "GET",
        &format!("{FUNCTIONS}/py/configuration"),
        &Value::Null,
    )
    .await
    .json()["RevisionId"]
        .as_str()
        .unwrap()
        .to_owned();

    // A stale revision and a dry run change nothing: the same environment answers.
    let stale = json!({ "ZipFile": b64(&package("v2")), "RevisionId": "stale" });
    assert_error(
        &call(&emu, "PUT", &code, &stale).await,
        412,
        "PreconditionFailedException",
        "Revision Id",
    );
    let dry = json!({ "ZipFile": b64(&package("v2")), "DryRun": true });
    let r = call(&emu, "PUT", &code, &dry).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.json()["RevisionId"], revision.as_str());
    let (answer, mark) = run(&emu, "py", None).await;
    assert_eq!(
        (mark.as_str(), answer["pid"].as_i64()),
        ("v1", Some(old_pid))
    );

    let v2 = package("v2");
    let r = call(
        &emu,
        "PUT",
        &code,
        &json!({ "ZipFile": b64(&v2), "RevisionId": revision }),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.json()["CodeSha256"], b64(&sha2::Sha256::digest(&v2)));
    assert_ne!(r.json()["RevisionId"], revision.as_str());
    let (answer, mark) = run(&emu, "py", None).await;
    assert_eq!(mark, "v2");
    assert_ne!(answer["pid"].as_i64(), Some(old_pid), "a new environment");
    assert!(
        reports(&emu, "py")
            .last()
            .unwrap()
            .contains("Init Duration"),
        "new code is a cold start"
    );
    assert!(wait_gone(old_pid).await, "the old code's environment ends");
    // Version 1 keeps the code it was published with.
    assert_eq!(run(&emu, "py", Some("1")).await.1, "v1");
    // The same package again changes nothing: the same revision, the same warm environment.
    let v2_revision = r.json()["RevisionId"].clone();
    let v2_pid = answer["pid"].as_i64();
    let same = call(&emu, "PUT", &code, &json!({ "ZipFile": b64(&v2) })).await;
    assert_eq!(same.status, 200, "{:?}", same.body);
    assert_eq!(same.json()["RevisionId"], v2_revision);
    let (answer, mark) = run(&emu, "py", None).await;
    assert_eq!((mark.as_str(), answer["pid"].as_i64()), ("v2", v2_pid));

    // New code published at once: version 2; an alias on it keeps it from being deleted.
    let r = call(
        &emu,
        "PUT",
        &code,
        &json!({ "ZipFile": b64(&package("v3")), "Publish": true }),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.json()["Version"], "2");
    assert_eq!(run(&emu, "py", Some("2")).await.1, "v3");
    // Publishing the same code again returns that version, as `PublishVersion` does.
    let again = call(
        &emu,
        "PUT",
        &code,
        &json!({ "ZipFile": b64(&package("v3")), "Publish": true }),
    )
    .await;
    assert_eq!(again.status, 200, "{:?}", again.body);
    assert_eq!(again.json()["Version"], "2");
    let alias = json!({ "Name": "live", "FunctionVersion": "2" });
    let r = call(&emu, "POST", &format!("{FUNCTIONS}/py/aliases"), &alias).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let r = call(
        &emu,
        "DELETE",
        &format!("{FUNCTIONS}/py?Qualifier=2"),
        &Value::Null,
    )
    .await;
    assert_error(&r, 409, "ResourceConflictException", "[live]");
    let r = call(
        &emu,
        "DELETE",
        &format!("{FUNCTIONS}/py?Qualifier=$LATEST"),
        &Value::Null,
    )
    .await;
    assert_error(&r, 400, "InvalidParameterValueException", "$LATEST");
    let r = call(
        &emu,
        "DELETE",
        &format!("{FUNCTIONS}/py?Qualifier=9"),
        &Value::Null,
    )
    .await;
    assert_error(&r, 404, "ResourceNotFoundException", "py:9");
    // Version 1, named in the function's name: gone, while `$LATEST` and version 2 stay.
    let r = call(&emu, "DELETE", &format!("{FUNCTIONS}/py:1"), &Value::Null).await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    let options = InvokeOptions {
        qualifier: Some("1".into()),
        ..InvokeOptions::default()
    };
    let gone = emu.invoke_with("py", "{}", &options).await.expect("invoke");
    assert_eq!(gone.status, 404, "{}", gone.text());
    assert_eq!(run(&emu, "py", Some("live")).await.1, "v3");
    let versions = call(
        &emu,
        "GET",
        &format!("{FUNCTIONS}/py/versions"),
        &Value::Null,
    )
    .await;
    let versions = versions.json();
    let listed: Vec<&str> = versions["Versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["Version"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ["$LATEST", "2"]);

    // A handler change starts the runtime with the new handler; a publish then takes the next
    // number, never a deleted one's.
    let r = call(
        &emu,
        "PUT",
        &format!("{FUNCTIONS}/py/configuration"),
        &json!({ "Handler": "other.py" }),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let (answer, _) = run(&emu, "py", None).await;
    assert_eq!(answer["env"]["_HANDLER"], "other.py");
    let pid = answer["pid"].as_i64().unwrap();
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let args: Vec<String> = cmdline
        .split(|b| *b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    assert!(args.iter().any(|a| a == "other.py"), "{args:?}");
    // `CodeSha256` is a precondition: a hash that is not `$LATEST`'s publishes nothing.
    let wrong = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    let r = call(
        &emu,
        "POST",
        &format!("{FUNCTIONS}/py/versions"),
        &json!({ "CodeSha256": wrong }),
    )
    .await;
    assert_error(
        &r,
        400,
        "InvalidParameterValueException",
        &format!("CodeSHA256 ({wrong}) is different from current CodeSHA256 in $LATEST"),
    );
    let latest = call(
        &emu,
        "GET",
        &format!("{FUNCTIONS}/py/configuration"),
        &Value::Null,
    )
    .await
    .json();
    let r = call(
        &emu,
        "POST",
        &format!("{FUNCTIONS}/py/versions"),
        &json!({ "CodeSha256": latest["CodeSha256"] }),
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.json()["Version"], "3");
    emu.shutdown().await;
}

#[tokio::test]
async fn a_function_deleted_mid_invocation_answers_it_then_ends() {
    let emu = emulator().await;
    emu.create_function(function("late", "").timeout(Duration::from_secs(10)))
        .expect("created through the library");
    let e = emu.create_function(function("late", "")).unwrap_err();
    assert!(
        matches!(e, ControlError::Deploy(DeployError::Exists(ref n)) if n == "late"),
        "{e}"
    );
    let e = emu
        .create_function(FunctionConfig::new("bad name").command(["/bin/true"]))
        .unwrap_err();
    assert!(e.to_string().contains("name"), "{e}");
    let e = emu
        .update_function_code("late", package("v2"))
        .await
        .unwrap_err();
    assert!(
        matches!(e, ControlError::Deploy(DeployError::NotFromPackage(_))),
        "{e}"
    );

    let gate = Gate::new("deleted-mid-invocation");
    let endpoint = emu.endpoint().to_owned();
    let event = json!({ "wait_for": gate.path() }).to_string();
    let running = tokio::spawn(async move {
        firebox_emulator::client::invoke(&endpoint, "late", event.into(), &InvokeOptions::default())
            .await
    });
    wait_for_line(&emu, "late", |l| l.starts_with("START ")).await;
    emu.delete_function("late").expect("deleted");
    let after = emu.invoke("late", "{}").await.expect("invoke");
    assert_eq!(after.status, 404, "{}", after.text());
    gate.open();
    let answered = running.await.expect("task").expect("invoke");
    assert_eq!(answered.status, 200, "{}", answered.text());
    let pid = answered.json().expect("JSON")["pid"].as_i64().unwrap();
    assert!(
        wait_gone(pid).await,
        "its environment ends once it has answered"
    );
    assert!(matches!(
        emu.delete_function("late"),
        Err(ControlError::FunctionNotFound(_))
    ));
    emu.shutdown().await;
}

#[tokio::test]
async fn a_runtime_function_of_the_configuration_takes_new_code() {
    let code = TempDir::new("runtime-function");
    std::fs::copy(runtime_script(), code.path("runtime.py")).expect("copy");
    std::fs::write(code.path("mark.txt"), "on disk").expect("mark");
    let emu = Emulator::builder()
        .runtime_command("python", [PYTHON, "-u", "{handler}"])
        .function(
            FunctionConfig::new("svc")
                .runtime("python3.13")
                .code_dir(&code.0)
                .handler("runtime.py")
                .reserved_concurrency(5),
        )
        .start()
        .await
        .expect("emulator starts");
    let (answer, mark) = run(&emu, "svc", None).await;
    assert_eq!(mark, "on disk");
    assert_eq!(answer["env"]["AWS_EXECUTION_ENV"], "AWS_Lambda_python3.13");
    emu.update_function_code("svc", package("uploaded"))
        .await
        .expect("new code");
    let (answer, mark) = run(&emu, "svc", None).await;
    assert_eq!(mark, "uploaded");
    assert_ne!(answer["cwd"], code.0.display().to_string());
    // A delete gives the reservation back to the account's pool.
    let before = call(&emu, "GET", "/2016-08-19/account-settings", &Value::Null)
        .await
        .json()["AccountLimit"]["UnreservedConcurrentExecutions"]
        .as_u64()
        .unwrap();
    emu.delete_function("svc").expect("deleted");
    let after = call(&emu, "GET", "/2016-08-19/account-settings", &Value::Null)
        .await
        .json()["AccountLimit"]["UnreservedConcurrentExecutions"]
        .as_u64()
        .unwrap();
    assert_eq!(after, before + 5);
    emu.shutdown().await;
}

/// Waits (at most 10 s) until `dir` is gone.
async fn wait_removed(dir: &str) {
    for _ in 0..1000 {
        if !std::path::Path::new(dir).exists() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{dir} was not removed");
}

/// Packages nothing can run any more are removed while the emulator runs: `$LATEST`'s old
/// code once its environment has ended, a published version's with the version, the last with
/// the function. One a version still runs stays.
#[tokio::test]
async fn packages_nothing_runs_any_more_are_removed() {
    let emu = emulator().await;
    let v1_zip = package("v1");
    let body = create_body("gc", &v1_zip, "python3.12", json!({}));
    let r = call(&emu, "POST", FUNCTIONS, &body).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    // `GetFunction`'s `Code.Location` serves the uploaded `.zip` back.
    let got = call(&emu, "GET", &format!("{FUNCTIONS}/gc"), &Value::Null)
        .await
        .json();
    assert_eq!(got["Code"]["RepositoryType"], "S3", "{got}");
    let location = got["Code"]["Location"]
        .as_str()
        .expect("a Location")
        .to_owned();
    let path = location
        .split_once("/firebox/")
        .map(|(_, rest)| format!("/firebox/{rest}"))
        .expect("a /firebox/ path");
    let download = send(emu.endpoint(), "GET", &path, &[], "").await;
    assert_eq!(download.status, 200);
    assert_eq!(download.header("content-type"), Some("application/zip"));
    assert_eq!(&download.body[..], &v1_zip[..]);
    // Nothing else is served from there.
    for bad in [
        "/firebox/code/..",
        "/firebox/code/%2e%2e%2fetc",
        "/firebox/code/nope.zip",
    ] {
        assert_eq!(
            send(emu.endpoint(), "GET", bad, &[], "").await.status,
            404,
            "{bad}"
        );
    }
    let dir_of = |answer: &Value| answer["cwd"].as_str().expect("cwd").to_owned();
    let (answer, mark) = run(&emu, "gc", None).await;
    assert_eq!(mark, "v1");
    let v1 = dir_of(&answer);
    let code = format!("{FUNCTIONS}/gc/code");
    let update = |mark: &str| json!({ "ZipFile": b64(&package(mark)) });
    let r = call(&emu, "PUT", &code, &update("v2")).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let (answer, mark) = run(&emu, "gc", None).await;
    assert_eq!(mark, "v2");
    let v2 = dir_of(&answer);
    assert_ne!(v1, v2);
    wait_removed(&v1).await;
    // Its `.zip` went with it.
    wait_removed(&format!("{v1}.zip")).await;
    assert_eq!(
        send(emu.endpoint(), "GET", &path, &[], "").await.status,
        404
    );

    // Version 1 keeps v2's package through the next code update.
    let r = call(
        &emu,
        "POST",
        &format!("{FUNCTIONS}/gc/versions"),
        &json!({}),
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let r = call(&emu, "PUT", &code, &update("v3")).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let (answer, mark) = run(&emu, "gc", None).await;
    assert_eq!(mark, "v3");
    let v3 = dir_of(&answer);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(run(&emu, "gc", Some("1")).await.1, "v2");
    assert!(std::path::Path::new(&v2).is_dir(), "version 1 runs {v2}");

    let r = call(&emu, "DELETE", &format!("{FUNCTIONS}/gc:1"), &Value::Null).await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    wait_removed(&v2).await;
    let r = call(&emu, "DELETE", &format!("{FUNCTIONS}/gc"), &Value::Null).await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    wait_removed(&v3).await;
}
