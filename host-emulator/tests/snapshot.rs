//! `PublishVersion` of code on disk, against real processes over real HTTP: a version keeps
//! running the code it was published with after the files change (through its number and
//! through an alias), whether the code is a `code_dir` (with a `bootstrap`, or a `[runtimes]`
//! command) or a program given alone, with its extensions; a publish with no change returns
//! the last version; the on-disk watcher leaves a published version alone; a copy over
//! Lambda's unzipped limit, or one that fails, publishes nothing and leaves nothing behind;
//! and the copies are removed when the emulator stops.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;
use firebox_emulator::package::MAX_UNZIPPED_BYTES;
use firebox_emulator::snapshot::SnapshotError;
use firebox_emulator::{
    AliasConfig, ControlError, Emulator, FunctionConfig, InvokeOptions, SettingsError,
};
use serde_json::{json, Value};

/// A runtime (Python, standard library only) answering every event with `version` (a
/// constant in its own text), the text of `data/link.txt` in its working directory (when
/// there is one), and where and how it runs.
fn app(version: &str) -> String {
    format!(
        r#"import http.client, json, os, sys
VERSION = "{version}"
conn = http.client.HTTPConnection(os.environ["AWS_LAMBDA_RUNTIME_API"])
while True:
    conn.request("GET", "/2018-06-01/runtime/invocation/next")
    r = conn.getresponse()
    r.read()
    rid = r.getheader("Lambda-Runtime-Aws-Request-Id")
    data = open("data/link.txt").read() if os.path.exists("data/link.txt") else None
    body = json.dumps({{"version": VERSION, "data": data, "cwd": os.getcwd(),
        "pid": os.getpid(), "task_root": os.environ.get("LAMBDA_TASK_ROOT"),
        "argv0": os.path.abspath(sys.argv[0]), "bootstrap": os.environ.get("BOOTSTRAP"),
        "executable": sys.executable}})
    conn.request("POST", "/2018-06-01/runtime/invocation/" + rid + "/response", body=body)
    conn.getresponse().read()
"#
    )
}

fn write_mode(path: &Path, text: &str, mode: u32) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Writes (or rewrites, in place, as an editor does) a code directory at `version`: an
/// executable `bootstrap` that runs `app.py`, and `data/real.txt` read through the link
/// `data/link.txt`. Its unzipped size, as Lambda counts it.
fn write_code(dir: &Path, version: &str) -> u64 {
    let bootstrap = format!("#!/bin/sh\nBOOTSTRAP=\"$0\" exec {PYTHON} -u app.py\n");
    write_mode(&dir.join("bootstrap"), &bootstrap, 0o755);
    write_mode(&dir.join("app.py"), &app(version), 0o644);
    let data = format!("data-{version}");
    write_mode(&dir.join("data/real.txt"), &data, 0o644);
    let link = dir.join("data/link.txt");
    if std::fs::symlink_metadata(&link).is_err() {
        std::os::unix::fs::symlink("real.txt", &link).unwrap();
    }
    (bootstrap.len() + app(version).len() + data.len() + "real.txt".len()) as u64
}

/// Replaces `path` the way a build does: a new file renamed over it.
fn replace(path: &Path, text: &str) {
    let new = path.with_extension("new");
    write_mode(&new, text, 0o755);
    std::fs::rename(&new, path).unwrap();
}

async fn answer(emu: &Emulator, function: &str, qualifier: Option<&str>) -> Value {
    let options = InvokeOptions {
        qualifier: qualifier.map(str::to_owned),
        ..InvokeOptions::default()
    };
    let r = emu
        .invoke_with(function, "{}", &options)
        .await
        .expect("invoke");
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.function_error.is_none(), "{}", r.text());
    r.json().expect("JSON answer")
}

/// `PublishVersion` over HTTP.
async fn publish(emu: &Emulator, function: &str) -> Raw {
    let path = format!("/2015-03-31/functions/{function}/versions");
    call(emu, "POST", &path, &json!({})).await
}

/// Publishes, expecting `version`; the configuration shown.
async fn published(emu: &Emulator, function: &str, version: &str) -> Value {
    let r = publish(emu, function).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    let c = r.json();
    assert_eq!(c["Version"], version, "{c}");
    c
}

/// The versions `ListVersionsByFunction` shows.
async fn versions(emu: &Emulator, function: &str) -> Vec<String> {
    let path = format!("/2015-03-31/functions/{function}/versions");
    let listed = call(emu, "GET", &path, &Value::Null).await.json();
    listed["Versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["Version"].as_str().unwrap().to_owned())
        .collect()
}

/// Every copy made for `function` in the stores of this test process's emulators.
fn copies_of(function: &str) -> Vec<PathBuf> {
    let stores = format!("firebox-{}-packages-", std::process::id());
    let mine = format!("{function}-version-");
    let mut found = Vec::new();
    for store in std::fs::read_dir(std::env::temp_dir()).unwrap().flatten() {
        if !store.file_name().to_string_lossy().starts_with(&stores) {
            continue;
        }
        for entry in std::fs::read_dir(store.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            if entry.file_name().to_string_lossy().starts_with(&mine) {
                found.push(entry.path());
            }
        }
    }
    found
}

/// The copy a version runs in: the parent of its working directory (`…/NAME-version-N/task`).
fn copy_of(answer: &Value) -> PathBuf {
    let cwd = Path::new(answer["cwd"].as_str().unwrap());
    assert_eq!(cwd.file_name().unwrap(), "task", "{answer}");
    cwd.parent().unwrap().to_path_buf()
}

#[tokio::test]
async fn a_published_version_keeps_the_code_it_was_published_with() {
    let dir = TempDir::new("snap-blue");
    let size = write_code(&dir.0, "v1");
    let runtime_dir = TempDir::new("snap-canary");
    write_code(&runtime_dir.0, "v1");
    let emu = Emulator::builder()
        .runtime_command("python", [PYTHON, "-u", "{handler}"])
        .function(
            FunctionConfig::new("blue")
                .code_dir(&dir.0)
                .timeout(Duration::from_secs(10)),
        )
        .function(
            FunctionConfig::new("canary")
                .runtime("python3.12")
                .handler("app.py")
                .code_dir(&runtime_dir.0)
                .timeout(Duration::from_secs(10)),
        )
        .start()
        .await
        .expect("emulator starts");

    let one = published(&emu, "blue", "1").await;
    assert_eq!(one["CodeSize"], size, "the bytes copied: {one}");
    assert!(one.get("CodeSha256").is_none(), "no zip, no hash: {one}");
    let v1 = answer(&emu, "blue", Some("1")).await;
    assert_eq!(
        (v1["version"].as_str(), v1["data"].as_str()),
        (Some("v1"), Some("data-v1"))
    );
    let copy = copy_of(&v1);
    assert!(copy.starts_with(std::env::temp_dir()), "{copy:?}");
    assert_ne!(Path::new(v1["cwd"].as_str().unwrap()), dir.0);
    assert_eq!(v1["task_root"], v1["cwd"]);
    assert!(
        v1["bootstrap"]
            .as_str()
            .unwrap()
            .starts_with(v1["cwd"].as_str().unwrap()),
        "the bootstrap ran from the copy: {v1}"
    );
    let v1_pid = v1["pid"].as_i64().unwrap();
    emu.set_alias("blue", "live", AliasConfig::new("1"))
        .unwrap();
    assert_eq!(published(&emu, "canary", "1").await["Version"], "1");
    let canary_v1 = answer(&emu, "canary", Some("1")).await;
    assert_eq!(canary_v1["version"], "v1");

    // New code on disk: $LATEST runs it; version 1 and the alias on it keep theirs.
    write_code(&dir.0, "v2");
    write_code(&runtime_dir.0, "v2");
    let latest = answer(&emu, "blue", None).await;
    assert_eq!(
        (latest["version"].as_str(), latest["data"].as_str()),
        (Some("v2"), Some("data-v2"))
    );
    assert_eq!(Path::new(latest["cwd"].as_str().unwrap()), dir.0);
    for qualifier in ["1", "live"] {
        let old = answer(&emu, "blue", Some(qualifier)).await;
        assert_eq!(old["version"], "v1", "{qualifier}: {old}");
        assert_eq!(old["data"], "data-v1", "{qualifier}: {old}");
    }
    let canary = answer(&emu, "canary", Some("1")).await;
    assert_eq!(canary["version"], "v1", "{canary}");
    assert_eq!(answer(&emu, "canary", None).await["version"], "v2");
    assert!(
        !Path::new(canary["executable"].as_str().unwrap()).starts_with(copy_of(&canary)),
        "the runtime's interpreter is not copied: {canary}"
    );

    // $LATEST's watcher saw the change; version 1 watches nothing, and its warm environment
    // stays.
    wait_metric(&emu, "firebox_code_changes_total{function=\"blue\"}", 1.0).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let text = metrics(&emu).await;
    assert_eq!(
        metric(&text, "firebox_code_changes_total{function=\"blue\"}"),
        Some(1.0)
    );
    let warm = answer(&emu, "blue", Some("1")).await;
    assert_eq!(warm["pid"].as_i64(), Some(v1_pid), "not restarted: {warm}");

    // Changed files: a new version, with them; unchanged, the same one (a touch is no change).
    let two = published(&emu, "blue", "2").await;
    assert_eq!(two["CodeSize"], size);
    let v2 = answer(&emu, "blue", Some("2")).await;
    assert_eq!(v2["version"], "v2");
    assert_ne!(copy_of(&v2), copy);
    published(&emu, "blue", "2").await;
    let f = std::fs::File::options()
        .write(true)
        .open(dir.path("app.py"))
        .unwrap();
    f.set_modified(std::time::SystemTime::now() + Duration::from_secs(30))
        .unwrap();
    assert_eq!(emu.publish_version("blue", None).await.unwrap(), "2");
    std::fs::set_permissions(dir.path("app.py"), std::fs::Permissions::from_mode(0o600)).unwrap();
    assert_eq!(
        emu.publish_version("blue", None).await.unwrap(),
        "3",
        "a new mode is new code"
    );
    assert_eq!(versions(&emu, "blue").await, ["$LATEST", "1", "2", "3"]);
    assert_eq!(
        copies_of("blue").len(),
        3,
        "no copy kept for the publishes of nothing new"
    );

    // Deleting a version removes its copy once its environment has ended.
    let r = call(
        &emu,
        "DELETE",
        "/2015-03-31/functions/blue/aliases/live",
        &Value::Null,
    )
    .await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    let r = call(
        &emu,
        "DELETE",
        "/2015-03-31/functions/blue?Qualifier=1",
        &Value::Null,
    )
    .await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    assert!(wait_gone(v1_pid).await);
    wait_until(
        "version 1's copy is removed",
        Duration::from_secs(30),
        || !copy.exists(),
    )
    .await;

    // The copies go with the emulator.
    let v2_copy = copy_of(&v2);
    let store = v2_copy.parent().unwrap().to_path_buf();
    assert!(v2_copy.exists());
    emu.shutdown().await;
    assert!(!v2_copy.exists(), "{v2_copy:?}");
    assert!(!store.exists(), "{store:?}");
    assert!(!copy_of(&canary).exists());
}

#[tokio::test]
async fn a_program_given_alone_is_copied_with_its_extensions() {
    let bin = TempDir::new("snap-bin");
    let program = bin.path("hello");
    let shebang = "#!/usr/bin/env python3\n";
    replace(&program, &format!("{shebang}{}", app("v1")));
    let layers = TempDir::new("snap-ext");
    let extension = layers.path("marker");
    let extension_code = std::fs::read_to_string(runtime("extension.py")).unwrap();
    let marked =
        |v: &str| format!("{shebang}print('[marker] code {v}', flush=True)\n{extension_code}");
    replace(&extension, &marked("v1"));
    let emu = start(vec![FunctionConfig::new("solo")
        .command([program.display().to_string()])
        .extension(&extension)
        .timeout(Duration::from_secs(10))])
    .await;

    assert_eq!(emu.publish_version("solo", None).await.unwrap(), "1");
    replace(&program, &format!("{shebang}{}", app("v2")));
    replace(&extension, &marked("v2"));

    let v1 = answer(&emu, "solo", Some("1")).await;
    assert_eq!(v1["version"], "v1", "{v1}");
    let task = Path::new(v1["cwd"].as_str().unwrap());
    assert_eq!(Path::new(v1["argv0"].as_str().unwrap()), task.join("hello"));
    let listed: Vec<String> = std::fs::read_dir(task)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(listed, ["hello"], "the program alone");
    let copied_extension = copy_of(&v1).join("extensions/marker");
    assert!(
        std::fs::metadata(&copied_extension)
            .unwrap()
            .permissions()
            .mode()
            & 0o111
            != 0,
        "still executable"
    );
    wait_for_line(&emu, "solo", |t| t.contains("[marker] code v1")).await;
    assert!(!texts(&emu, "solo")
        .iter()
        .any(|t| t.contains("[marker] code v2")));

    let latest = answer(&emu, "solo", None).await;
    assert_eq!(latest["version"], "v2");
    assert_eq!(Path::new(latest["argv0"].as_str().unwrap()), program);
    wait_for_line(&emu, "solo", |t| t.contains("[marker] code v2")).await;

    assert_eq!(emu.publish_version("solo", None).await.unwrap(), "2");
    assert_eq!(answer(&emu, "solo", Some("2")).await["version"], "v2");
    assert_eq!(answer(&emu, "solo", Some("1")).await["version"], "v1");
    emu.shutdown().await;
}

#[tokio::test]
async fn code_over_the_unzipped_limit_publishes_nothing() {
    let dir = TempDir::new("snap-big");
    let size = write_code(&dir.0, "v1");
    let emu = start(vec![FunctionConfig::new("big").code_dir(&dir.0)]).await;
    published(&emu, "big", "1").await;
    let kept = copies_of("big");
    assert_eq!(kept.len(), 1);

    // Sparse: its apparent size counts (as a zip of it would hold every byte), though it
    // takes no room on disk. Together with the rest, one byte over the limit.
    let big = std::fs::File::create(dir.path("big.bin")).unwrap();
    big.set_len(MAX_UNZIPPED_BYTES - size + 1).unwrap();
    let r = publish(&emu, "big").await;
    assert_error(
        &r,
        400,
        "InvalidParameterValueException",
        "Unzipped size must be smaller than 262144000 bytes",
    );
    assert!(matches!(
        emu.publish_version("big", None).await,
        Err(ControlError::Settings(SettingsError::Snapshot(
            SnapshotError::TooLarge
        )))
    ));
    assert_eq!(versions(&emu, "big").await, ["$LATEST", "1"]);
    assert_eq!(copies_of("big"), kept, "nothing left behind");

    // Within the limit again: copied and published.
    big.set_len(1024).unwrap();
    write_code(&dir.0, "v2");
    published(&emu, "big", "2").await;
    assert_eq!(answer(&emu, "big", Some("2")).await["version"], "v2");
    emu.shutdown().await;
}

#[tokio::test]
async fn a_copy_that_fails_publishes_nothing_and_leaves_nothing_behind() {
    let dir = TempDir::new("snap-fail");
    write_code(&dir.0, "v1");
    let emu = start(vec![FunctionConfig::new("broken").code_dir(&dir.0)]).await;

    // A file nobody may read (root may: then it is copied, and that case is not checked here).
    let secret = dir.path("secret.txt");
    write_mode(&secret, "s", 0o000);
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if root {
        eprintln!("running as root: an unreadable file cannot be made; skipping that case");
    } else {
        let r = publish(&emu, "broken").await;
        assert_error(&r, 500, "ServiceException", &secret.display().to_string());
        assert_eq!(versions(&emu, "broken").await, ["$LATEST"]);
        assert!(copies_of("broken").is_empty());
    }
    std::fs::remove_file(&secret).unwrap();

    // A copy that fails midway (here a path too long for the copy, which lives deeper than
    // the code: a write error, as a full disk gives): the files copied before are removed.
    let mut deep = dir.path("zz");
    while deep.as_os_str().len() < 4000 {
        deep.push("d".repeat(200));
    }
    std::fs::create_dir_all(&deep).unwrap();
    std::fs::write(deep.join("leaf"), "x").unwrap();
    let r = publish(&emu, "broken").await;
    assert_error(&r, 500, "ServiceException", "cannot write");
    let message = r.json()["message"].as_str().unwrap().to_owned();
    assert!(message.contains("zz/ddd"), "names the path: {message}");
    assert_eq!(versions(&emu, "broken").await, ["$LATEST"]);
    assert!(copies_of("broken").is_empty(), "{:?}", copies_of("broken"));
    std::fs::remove_dir_all(dir.path("zz")).unwrap();

    // A named pipe: no zip holds one; refused by name before anything is copied.
    let pipe = dir.path("pipe");
    let c = std::ffi::CString::new(pipe.display().to_string()).unwrap();
    // SAFETY: `c` is a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
    let r = publish(&emu, "broken").await;
    assert_error(
        &r,
        400,
        "InvalidParameterValueException",
        &pipe.display().to_string(),
    );
    assert_eq!(versions(&emu, "broken").await, ["$LATEST"]);
    assert!(copies_of("broken").is_empty());
    std::fs::remove_file(&pipe).unwrap();

    // Fixed: published as version 1 (no number was used up).
    published(&emu, "broken", "1").await;
    assert_eq!(answer(&emu, "broken", Some("1")).await["version"], "v1");
    emu.shutdown().await;
}
