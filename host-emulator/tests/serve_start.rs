//! `firebox serve` at start-up: what its help says, and which program a managed runtime's
//! default command starts (the one on `serve`'s `PATH`, found at load, with no false warning).

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::serve::{Serve, FIREBOX};
use common::TempDir;

#[test]
fn help_says_the_listen_default_and_where_streams_are_watched() {
    let help = |args: &[&str]| {
        let out = Command::new(FIREBOX).args(args).output().unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let serve = help(&["serve", "--help"]);
    for says in [
        "--listen <IP:PORT>",
        "127.0.0.1:3001",
        "[server] listen",
        "function URLs and the control plane",
    ] {
        assert!(serve.contains(says), "{says:?} not in:\n{serve}");
    }
    let invoke = help(&["invoke", "--help"]);
    assert!(invoke.contains("invoke-with-response-stream"), "{invoke}");
    let top = help(&["--help"]);
    assert!(
        top.contains("control plane") && top.contains("Extensions, Telemetry and Logs APIs"),
        "{top}"
    );
    let event = help(&["event", "--help"]);
    assert!(event.contains("firebox invoke sqs-batch -"), "{event}");
}

/// The first `name` on `PATH` that is a file.
fn on_path(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("no {name} on PATH"))
}

/// A managed runtime's default command (`python3 -m awslambdaric {handler}`) starts the
/// `python3` that comes first on the emulator's `PATH`, found at load time like a `command`'s
/// bare name (not the system's, which Lambda's directories at the head of the function's
/// `PATH` would pick), and `serve` does not warn that it is missing.
#[test]
fn a_runtimes_default_program_is_the_one_on_the_emulators_path() {
    let dir = TempDir::new("default-runtime");
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::create_dir_all(dir.join("code")).unwrap();
    std::fs::write(dir.join("code/app.py"), "").unwrap();
    // A `python3` of its own, first on `serve`'s PATH: it says how it was started, then runs
    // the test runtime with the real interpreter.
    let fake = bin.join("python3");
    std::fs::write(
        &fake,
        format!(
            "#!/bin/sh\necho \"fake python3 started: $*\"\nexec {} -u {}\n",
            on_path("python3").display(),
            common::runtime_script()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let config =
        "[functions.py]\nruntime = \"python3.12\"\ncode_dir = \"code\"\nhandler = \"app.handler\"\n";
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut server = Serve::start_with(&dir, config, |command| {
        command.env("PATH", path);
    });
    let out = server.invoke(&["py", "--log-type", "Tail"], None);
    server.stop();
    let stderr = server.stderr_log();
    assert!(out.status.success(), "{out:?}\n{stderr}");
    let tail = String::from_utf8_lossy(&out.stderr);
    assert!(
        tail.contains("fake python3 started: -m awslambdaric app.handler"),
        "{tail}"
    );
    assert!(!stderr.contains("PATH"), "a false warning:\n{stderr}");
}
