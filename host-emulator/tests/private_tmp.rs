//! A private `/tmp` per environment (`private_tmp`), seen by Python's real `awslambdaric`:
//! two environments of one function that write the same `/tmp` file do not see each other's,
//! an environment finds its own file again while it is warm and after a reset (a crash: the
//! runtime starts again in the same environment, as on Lambda), a new environment after the
//! idle one was reclaimed finds an empty `/tmp`, the file is the environment's `TMPDIR` file,
//! and the machine's `/tmp` is untouched; the code directory, under the machine's `/tmp`
//! here, is read-only, as on Lambda. The code directory lives under the machine's `/tmp` here (the tests' temporary
//! directories), so these also check that what the function needs there stays at its path.
//! Without `private_tmp` (the default), `/tmp` is the machine's.
//!
//! Needs a machine that allows mount namespaces; elsewhere the tests check that the emulator
//! says it has none, unless `FIREBOX_REQUIRE_OPT` is set (`.ci/run` sets it).

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;
use firebox_emulator::{Emulator, FunctionConfig};
use serde_json::{json, Value};

/// The handler: reads `/tmp/NAME`, then writes it when asked, and reports what it found.
const HANDLER: &str = r#"
import os, time

def handler(event, context):
    path = os.path.join("/tmp", event["name"])
    found = None
    if os.path.exists(path):
        with open(path) as f:
            found = f.read()
    if "write" in event:
        with open(path, "w") as f:
            f.write(event["write"])
    if event.get("exit"):
        os._exit(3)
    time.sleep(event.get("sleep", 0))
    # Into the code directory, which lives under the machine's /tmp here.
    try:
        with open(os.path.join(os.environ["LAMBDA_TASK_ROOT"], event["name"]), "w") as f:
            f.write("x")
        code_write = "written"
    except OSError as e:
        code_write = f"error: {e.errno}"
    return {
        "code_write": code_write,
        "found": found,
        "pid": os.getpid(),
        "tmpdir": os.environ["TMPDIR"],
        "in_tmpdir": os.path.exists(os.path.join(os.environ["TMPDIR"], event["name"])),
    }
"#;

fn python_function(code: &Path) -> FunctionConfig {
    std::fs::write(code.join("app.py"), HANDLER).expect("write the handler");
    awslambdaric("f", code)
}

async fn emulator(dir: &TempDir, private: bool) -> Emulator {
    emulator_with(dir, private, |f| f).await
}

async fn emulator_with(
    dir: &TempDir,
    private: bool,
    change: impl FnOnce(FunctionConfig) -> FunctionConfig,
) -> Emulator {
    let code = dir.path("code");
    std::fs::create_dir_all(&code).expect("mkdir");
    Emulator::builder()
        .private_tmp(private)
        .function(change(python_function(&code)))
        .start()
        .await
        .expect("emulator starts")
}

/// Whether this machine gives environments a private `/tmp`; fails when it does not and
/// `FIREBOX_REQUIRE_OPT` is set.
fn private(emu: &Emulator) -> bool {
    let private = emu.private_tmp();
    assert!(
        private || std::env::var_os("FIREBOX_REQUIRE_OPT").is_none(),
        "FIREBOX_REQUIRE_OPT is set, but this machine gives no environment a private /tmp"
    );
    private
}

async fn answer(emu: &Emulator, event: Value) -> Value {
    let r = emu.invoke("f", event.to_string()).await.expect("invoke");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.function_error, None, "{}", r.text());
    r.json().expect("JSON")
}

/// A name no other test run uses, for a file in `/tmp`.
fn file_name(tag: &str) -> String {
    format!("firebox-private-tmp-{tag}-{}", std::process::id())
}

#[tokio::test]
async fn each_environment_has_its_own_tmp_kept_while_it_is_warm() {
    let dir = TempDir::new("private-tmp");
    let emu = emulator(&dir, true).await;
    if !private(&emu) {
        return;
    }
    let name = file_name("own");
    // The second invocation arrives while the first is busy: a second environment.
    let (a, b) = tokio::join!(
        answer(&emu, json!({"name": name, "write": "a", "sleep": 2})),
        async {
            tokio::time::sleep(Duration::from_millis(700)).await;
            answer(&emu, json!({"name": name, "write": "b"})).await
        }
    );
    assert_ne!(a["pid"], b["pid"], "two environments: {a} {b}");
    assert_eq!(a["found"], Value::Null, "{a}");
    assert_eq!(b["found"], Value::Null, "the first environment's file: {b}");
    // Warm: each environment finds its own file again, which is its TMPDIR's file.
    for _ in 0..4 {
        let warm = answer(&emu, json!({"name": name})).await;
        let own = if warm["pid"] == a["pid"] { "a" } else { "b" };
        assert_eq!(warm["found"], own, "{warm}");
        assert_eq!(warm["in_tmpdir"], true, "{warm}");
    }
    for env in [&a, &b] {
        let on_machine = PathBuf::from(env["tmpdir"].as_str().expect("TMPDIR")).join(&name);
        let text = std::fs::read_to_string(&on_machine).expect("the file in TMPDIR");
        assert!(text == "a" || text == "b", "{text}");
    }
    assert!(
        !Path::new("/tmp").join(&name).exists(),
        "written to the machine's /tmp"
    );
    // EROFS: 30.
    assert_eq!(a["code_write"], "error: 30", "{a}");
    assert!(!dir.path("code").join(&name).exists());
}

#[tokio::test]
async fn a_reset_keeps_tmp_and_a_new_environment_finds_it_empty() {
    let dir = TempDir::new("private-tmp-reset");
    let emu = emulator_with(&dir, true, |f| f.idle_timeout(Duration::from_secs(1))).await;
    if !private(&emu) {
        return;
    }
    let name = file_name("reset");
    let first = answer(&emu, json!({"name": name, "write": "kept"})).await;
    let r = emu
        .invoke("f", json!({"name": name, "exit": true}).to_string())
        .await
        .expect("invoke");
    assert_eq!(
        r.function_error.as_deref(),
        Some("Unhandled"),
        "{}",
        r.text()
    );
    // The runtime started again in the same environment, whose /tmp stays.
    let reset = answer(&emu, json!({"name": name})).await;
    assert_ne!(reset["pid"], first["pid"], "a new runtime process");
    assert_eq!(reset["tmpdir"], first["tmpdir"], "the same environment");
    assert_eq!(reset["found"], "kept", "{reset}");
    // Reclaimed after a second idle: the next invocation starts a new environment.
    let old = PathBuf::from(first["tmpdir"].as_str().expect("TMPDIR"));
    wait_until(
        "the idle environment is reclaimed",
        Duration::from_secs(30),
        || !old.exists(),
    )
    .await;
    let cold = answer(&emu, json!({"name": name})).await;
    assert_ne!(cold["tmpdir"], first["tmpdir"], "a new environment: {cold}");
    assert_eq!(cold["found"], Value::Null, "{cold}");
}

/// The default: `/tmp` is the machine's, shared by every environment (a documented
/// difference from Lambda).
#[tokio::test]
async fn without_private_tmp_the_machines_tmp_is_shared() {
    let dir = TempDir::new("shared-tmp");
    let emu = emulator(&dir, false).await;
    assert!(!emu.private_tmp());
    let name = file_name("shared");
    let on_machine = Path::new("/tmp").join(&name);
    let _ = std::fs::remove_file(&on_machine);
    let a = answer(&emu, json!({"name": name, "write": "shared"})).await;
    let text = std::fs::read_to_string(&on_machine);
    let _ = std::fs::remove_file(&on_machine);
    assert_eq!(text.expect("the file in the machine's /tmp"), "shared");
    assert_eq!(a["code_write"], "written", "{a}");
}

/// `serve` run with its `TMPDIR` in a directory under `/tmp` (as `nix-shell` and some CI
/// runners set it), and `/tmp` on its `PATH`: each environment still gets a private `/tmp`,
/// and sees nothing of the directory its private directory lives in (the other
/// environments' directories, a file put there).
#[test]
fn a_nested_tmpdir_and_tmp_on_the_path_keep_each_tmp_private() {
    let dir = TempDir::new("private-tmp-nested");
    let nested = dir.path("nested");
    std::fs::create_dir_all(&nested).expect("mkdir");
    std::fs::write(nested.join("canary"), "seen").expect("write");
    let config = format!(
        "[server]\nprivate_tmp = true\n\n[functions.f]\ncommand = [\"python3\", \"-u\", \"{}\"]\n",
        runtime_script()
    );
    let path = format!("{}:/tmp", std::env::var("PATH").unwrap_or_default());
    let mut server = serve::Serve::start_with(&dir, &config, |command| {
        command.env("TMPDIR", &nested).env("PATH", &path);
    });
    if !server
        .stderr_log()
        .contains("/tmp: private per environment")
    {
        assert!(
            std::env::var_os("FIREBOX_REQUIRE_OPT").is_none(),
            "FIREBOX_REQUIRE_OPT is set, but serve has no private /tmp:\n{}",
            server.stderr_log()
        );
        return;
    }
    let canary = nested.join("canary").display().to_string();
    let event = json!({"touch_tmp": "own", "read_file": "/tmp/own"}).to_string();
    let out = server.invoke(&["f", &event], None);
    assert!(out.status.success(), "{out:?}");
    let own: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(own["read"], "", "the TMPDIR file at /tmp: {own}");
    let tmpdir = own["env"]["TMPDIR"].as_str().expect("TMPDIR");
    assert!(tmpdir.starts_with(nested.to_str().unwrap()), "{own}");
    let event = json!({"read_file": canary}).to_string();
    let out = server.invoke(&["f", &event], None);
    let seen: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(seen["read"], "error: FileNotFoundError", "{seen}");
    assert!(
        !server.stderr_log().contains("is the machine's"),
        "{}",
        server.stderr_log()
    );
    server.stop();
}
