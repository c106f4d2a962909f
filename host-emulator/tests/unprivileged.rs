//! `firebox serve` run by a user without privileges, as most developers run it: no cgroups
//! (idle environments frozen with SIGSTOP, memory measured from `/proc`), and layers at
//! `/opt` through a user and mount namespace where the kernel allows one. Run as root (CI),
//! the test starts the server as `nobody` (uid and gid 65534); run as anyone else, as that
//! user. With `FIREBOX_REQUIRE_OPT` set (`.ci/run` sets it), layers not mounted at `/opt` are a
//! failure; otherwise the search-path fallback is checked instead. The same namespace gives the
//! environment its private `/tmp` (`private_tmp`), here with the server's `TMPDIR` (and so
//! the environment's private directory) inside the directory under `/tmp` that holds the
//! function's code.

mod common;

use std::fs::{self, File};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

const FIREBOX: &str = env!("CARGO_BIN_EXE_firebox");

/// The user the server runs as: `nobody` when the test runs as root, else the test's own.
fn server_user() -> (u32, u32) {
    // SAFETY: getuid(2) and getgid(2) cannot fail.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    if uid == 0 {
        (65534, 65534)
    } else {
        (uid, gid)
    }
}

fn write(path: &Path, text: &str) {
    fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
    fs::write(path, text).expect("write");
    fs::set_permissions(path, fs::Permissions::from_mode(0o644)).expect("chmod");
}

/// Makes `dir` and every directory under it readable by anyone.
fn open_up(dir: &Path) {
    fs::set_permissions(dir, fs::Permissions::from_mode(0o755)).expect("chmod");
    for entry in fs::read_dir(dir).expect("read_dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            open_up(&path);
        }
    }
}

/// Removes its directory when dropped, also when the test fails.
struct Removed<'a>(&'a Path);

impl Drop for Removed<'_> {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(self.0);
    }
}

/// `firebox invoke NAME PAYLOAD --log-type Tail`: the answer and the log tail.
fn invoke(endpoint: &str, payload: &str) -> (Value, String) {
    let out = Command::new(FIREBOX)
        .args(["invoke", "whoami", payload, "--log-type", "Tail"])
        .args(["--endpoint", endpoint])
        .output()
        .expect("firebox invoke runs");
    assert!(out.status.success(), "{out:?}");
    let body = serde_json::from_slice(&out.stdout).expect("a JSON answer");
    (body, String::from_utf8_lossy(&out.stderr).into_owned())
}

/// The state letter of process `pid` (`S`, `T`, ...), if it exists.
fn state(pid: i64) -> Option<char> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit(')').next()?.trim_start().chars().next()
}

#[test]
fn serve_runs_functions_as_a_user_without_privileges() {
    let (uid, gid) = server_user();
    // Under /tmp, not `temp_dir()`, and with its own copy of the server: the checkout and a
    // TMPDIR of the test's user may be closed to others (a clone under /root is).
    let dir = Path::new("/tmp").join(format!("firebox-unprivileged-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("mkdir");
    let _removed = Removed(&dir);
    let firebox = dir.join("firebox");
    if fs::hard_link(FIREBOX, &firebox).is_err() {
        fs::copy(FIREBOX, &firebox).expect("a copy of firebox");
    }
    let tmp = dir.join("tmp");
    fs::create_dir_all(&tmp).expect("mkdir");
    let runtime = dir.join("runtime.py");
    write(
        &runtime,
        &fs::read_to_string(common::runtime_script()).expect("the test runtime"),
    );
    write(&dir.join("layers/base/data.txt"), "from base");
    write(&dir.join("layers/top/data.txt"), "from top");
    let port = common::free_port();
    write(
        &dir.join("firebox.toml"),
        &format!(
            "[server]\nprivate_tmp = true\n\n[functions.whoami]\ncommand = [\"python3\", \"-u\", \"{}\"]\nmemory_mb = 128\n\
             layers = [\"layers/base\", \"layers/top\"]\n",
            runtime.display()
        ),
    );
    open_up(&dir);
    fs::set_permissions(&tmp, fs::Permissions::from_mode(0o1777)).expect("chmod");
    let stderr_path = dir.join("serve.stderr");
    let stderr = File::create(&stderr_path).expect("stderr file");
    let mut command = Command::new(&firebox);
    command
        .current_dir(&dir)
        .env("TMPDIR", &tmp)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(stderr);
    // SAFETY: getuid(2) cannot fail.
    if uid != unsafe { libc::getuid() } {
        command.uid(uid).gid(gid).env("HOME", &dir);
    }
    let endpoint = format!("http://127.0.0.1:{port}");
    // Killed when the test ends, also when it fails.
    let mut server = common::serve::Serve::adopt(
        command.spawn().expect("firebox serve starts"),
        endpoint.clone(),
        stderr_path.clone(),
    );
    // Up to 30 s: a bound for broken runs only.
    let listening = (0..3000).any(|_| {
        std::thread::sleep(Duration::from_millis(10));
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    let log = || fs::read_to_string(&stderr_path).unwrap_or_default();
    if !listening {
        let _ = server.kill();
        let _ = server.wait();
        panic!("serve did not start as uid {uid}:\n{}", log());
    }

    let (body, tail) = invoke(&endpoint, r#"{"read_file": "/opt/data.txt"}"#);
    assert_eq!(
        body["uid"], uid,
        "the function runs as the server's user: {body}"
    );
    let pid = body["pid"].as_i64().expect("a pid");
    // Memory measured from /proc: a real figure, not the configured size.
    let used = common::report_number(&tail, "Max Memory Used");
    assert!((1.0..128.0).contains(&used), "{tail}");

    let described = log();
    let user_namespace = described.contains("layers: at /opt (a user and mount namespace");
    assert!(
        user_namespace || std::env::var_os("FIREBOX_REQUIRE_OPT").is_none(),
        "FIREBOX_REQUIRE_OPT is set, but layers are not at /opt as uid {uid}:\n{described}"
    );
    if user_namespace {
        assert_eq!(body["read"], "from top", "the later layer wins: {body}");
    } else {
        assert_eq!(body["read"], "error: FileNotFoundError", "{body}");
        assert!(
            described.contains("layers: search paths only"),
            "{described}"
        );
    }
    // SAFETY: getuid(2) cannot fail.
    let test_is_root = unsafe { libc::getuid() } == 0;
    let sigstop = described.contains("freeze: SIGSTOP/SIGCONT");
    assert!(
        sigstop || !test_is_root,
        "nobody has no cgroups to use:\n{described}"
    );
    if sigstop {
        // Idle, the environment is frozen by SIGSTOP 10 ms after its runtime waits in /next.
        let stopped = (0..300).any(|_| {
            std::thread::sleep(Duration::from_millis(10));
            state(pid) == Some('T')
        });
        assert!(stopped, "not stopped: {:?}", state(pid));
        // A warm invoke thaws it.
        let (again, _) = invoke(&endpoint, "{}");
        assert_eq!(again["pid"], pid);
        assert_eq!(again["count"], 2);
    }

    // `/tmp` is the environment's private directory (its TMPDIR) in the same namespace.
    let name = format!("firebox-unprivileged-seen-{}", std::process::id());
    let (seen, _) = invoke(
        &endpoint,
        &format!(r#"{{"touch_tmp": "{name}", "read_file": "/tmp/{name}"}}"#),
    );
    assert!(
        !Path::new("/tmp").join(&name).exists(),
        "in the machine's /tmp"
    );
    if user_namespace {
        assert_eq!(seen["read"], "", "the TMPDIR file at /tmp: {seen}");
        assert!(
            described.contains("/tmp: private per environment"),
            "{described}"
        );
    } else {
        assert_eq!(seen["read"], "error: FileNotFoundError", "{seen}");
        assert!(described.contains("/tmp: the machine's"), "{described}");
    }

    // SIGTERM: a clean exit that takes the function with it.
    // SAFETY: kill(2) on the server this test started.
    unsafe {
        libc::kill(server.id() as i32, libc::SIGTERM);
    }
    let status = server.wait().expect("wait");
    assert!(status.success(), "{status:?}\n{}", log());
    assert!(
        (0..300).any(|_| {
            std::thread::sleep(Duration::from_millis(10));
            !common::alive(pid)
        }),
        "function process {pid} outlived the server"
    );
}
