//! The `firebox` command: configuration errors, `serve` with real functions, `invoke` exit
//! codes, and a clean stop on SIGTERM.

mod common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::serve::{invoke, invoke_started, Serve, FIREBOX};
use common::TempDir;

/// `firebox serve --config` of `config` in a fresh directory named after `tag`: what it
/// printed, and the config's path (gone by then).
fn serve_with(config: &str, tag: &str) -> (std::process::Output, PathBuf) {
    serve_in(&TempDir::new(tag), config)
}

/// `firebox serve --config DIR/firebox.toml` of `config`: what it printed, and the path.
fn serve_in(dir: &Path, config: &str) -> (std::process::Output, PathBuf) {
    let path = dir.join("firebox.toml");
    std::fs::write(&path, config).unwrap();
    let out = Command::new(FIREBOX)
        .args(["serve", "--config"])
        .arg(&path)
        .args(["--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    (out, path)
}

#[test]
fn missing_config_file_is_named() {
    let out = Command::new(FIREBOX)
        .args(["serve", "--config", "/nonexistent/firebox.toml"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("/nonexistent/firebox.toml") && err.contains("cannot read"),
        "{err}"
    );
}

#[test]
fn bad_field_names_file_function_and_field() {
    let (out, path) = serve_with(
        "[functions.hello]\ncommand = [\"/bin/true\"]\ntimeout_s = 1000\n",
        "badfield",
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&path.display().to_string()), "{err}");
    assert!(
        err.contains("`hello`") && err.contains("`timeout_s`"),
        "{err}"
    );
    assert!(err.contains("between 1 and 900"), "{err}");
}

#[test]
fn unknown_field_and_bad_syntax_are_refused() {
    let (out, _) = serve_with(
        "[functions.hello]\ncommand = [\"/bin/true\"]\nmemroy = 1\n",
        "unknown",
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("hello") && err.contains("memroy"), "{err}");
    let (out, path) = serve_with("[functions.hello\n", "syntax");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains(&path.display().to_string()));
}

#[test]
fn code_and_layers_over_the_limit_stop_serve() {
    // Sparse files: 140 MB each as Lambda counts them, written in no time.
    let dir = TempDir::new("size");
    for file in ["code/big.bin", "layer/big.bin"] {
        let path = dir.join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::File::create(&path)
            .unwrap()
            .set_len(140_000_000)
            .unwrap();
    }
    let (out, path) = serve_in(
        &dir,
        "[functions.big]\ncommand = [\"/bin/true\"]\ncode_dir = \"code\"\nlayers = [\"layer\"]\n",
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&path.display().to_string()), "{err}");
    assert!(err.contains("`big`") && err.contains("`layers`"), "{err}");
    assert!(err.contains("The actual size is 280000000 bytes."), "{err}");
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("listening"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn bad_flags_exit_non_zero() {
    let out = Command::new(FIREBOX)
        .args(["serve", "--listen", "nope"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let out = Command::new(FIREBOX)
        .args(["invoke", "f", "--invocation-type", "Sometimes"])
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[test]
fn serve_and_invoke_end_to_end() {
    let dir = TempDir::new("serve");
    let config = format!(
        "[defaults]\ntimeout_s = 5\n\n[functions.echo]\ncommand = [\"python3\", \"-u\", \"{}\"]\nenvironment = {{ GREETING = \"hi\" }}\n",
        common::runtime_script()
    );
    // Default config path: ./firebox.toml in the working directory.
    let mut server = Serve::start(&dir, &config);

    let out = server.invoke(&["echo", r#"{"x": 1}"#, "--log-type", "Tail"], None);
    assert!(out.status.success(), "{out:?}");
    let body: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(body["event"]["x"], 1);
    assert_eq!(body["env"]["GREETING"], "hi");
    let pid = body["pid"].as_i64().unwrap();
    let tail = String::from_utf8_lossy(&out.stderr);
    assert!(
        tail.contains("START RequestId:") && tail.contains("REPORT RequestId:"),
        "{tail}"
    );

    let out = server.invoke(&["echo", "-"], Some(r#"{"from": "stdin"}"#));
    assert!(out.status.success());
    let body: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(body["event"]["from"], "stdin");

    let out = server.invoke(
        &["echo", r#"{"error": {"type": "Boom", "message": "m"}}"#],
        None,
    );
    assert_eq!(out.status.code(), Some(1), "function error exits 1");
    assert!(String::from_utf8_lossy(&out.stdout).contains("Boom"));

    let out = server.invoke(&["nope"], None);
    assert_eq!(out.status.code(), Some(2), "service error exits 2");
    assert!(String::from_utf8_lossy(&out.stderr).contains("ResourceNotFoundException"));

    let out = server.invoke(&["echo", "{bad json"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("InvalidRequestContentException"));

    let out = server.invoke(&["echo", "--invocation-type", "DryRun"], None);
    assert!(out.status.success());

    // SIGTERM stops the server cleanly and kills the function.
    let stdout = server.stop();
    // Every invocation's lines, though the printer went idle between the invokes: three ran
    // (the service errors and the DryRun ran none).
    assert_eq!(
        stdout.matches("[echo] START RequestId: ").count(),
        3,
        "{stdout}"
    );
    assert_eq!(
        stdout.matches("[echo] REPORT RequestId: ").count(),
        3,
        "{stdout}"
    );
    let stderr = server.stderr_log();
    assert!(
        !stderr.contains("START RequestId"),
        "platform lines go to stdout only"
    );
    for _ in 0..3000 {
        if !common::alive(pid) {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("function process {pid} survived the server");
}

#[test]
fn serve_a_file_with_versions_and_aliases() {
    let dir = TempDir::new("versions");
    let config = format!(
        "[functions.echo]\ncommand = [\"python3\", \"-u\", \"{}\"]\nenvironment = {{ GREETING = \"latest\" }}\n\n\
         [functions.echo.versions.1]\nenvironment = {{ GREETING = \"one\" }}\n\n\
         [functions.echo.aliases]\nlive = \"1\"\n",
        common::runtime_script()
    );
    let mut server = Serve::start(&dir, &config);
    for args in [
        &["echo", "--qualifier", "live"][..],
        &["echo:1"][..],
        &["arn:aws:lambda:us-east-1:123456789012:function:echo:live"][..],
    ] {
        let out = server.invoke(args, None);
        assert!(out.status.success(), "{args:?}: {out:?}");
        let body: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(body["env"]["GREETING"], "one", "{args:?}");
        assert_eq!(body["env"]["AWS_LAMBDA_FUNCTION_VERSION"], "1", "{args:?}");
    }
    let out = server.invoke(&["echo"], None);
    let body: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(body["env"]["GREETING"], "latest");
    let out = server.invoke(&["echo", "--qualifier", "nope"], None);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("ResourceNotFoundException"));

    let stdout = server.stop();
    assert_eq!(
        stdout
            .lines()
            .filter(|l| l.starts_with("[echo] START RequestId: ") && l.ends_with("Version: 1"))
            .count(),
        3,
        "{stdout}"
    );
}

#[test]
fn event_prints_samples_that_invoke_takes() {
    let event = |args: &[&str]| {
        Command::new(FIREBOX)
            .arg("event")
            .args(args)
            .output()
            .unwrap()
    };
    let out = event(&["sqs"]);
    assert!(out.status.success(), "{out:?}");
    let sqs: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(sqs["Records"][0]["eventSource"], "aws:sqs");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("\n  "),
        "indented"
    );
    let out = event(&["APIGW_V2", "--compact"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        out.stdout.iter().filter(|b| **b == b'\n').count(),
        1,
        "one line"
    );
    let http: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(http["version"], "2.0");

    let out = event(&["kafka"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("kafka") && stderr.contains("apigw-v2, alb"),
        "{stderr}"
    );

    // Piped into `invoke -`: the function gets the sample as its event.
    let dir = TempDir::new("event");
    let config = format!(
        "[functions.echo]\ncommand = [\"python3\", \"-u\", \"{}\"]\n",
        common::runtime_script()
    );
    let mut server = Serve::start(&dir, &config);
    let sample = String::from_utf8(event(&["s3"]).stdout).unwrap();
    let out = server.invoke(&["echo", "-"], Some(&sample));
    assert!(out.status.success(), "{out:?}");
    let body: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(body["event"]["Records"][0]["eventSource"], "aws:s3");
    let _ = server.kill();
    let _ = server.wait();
}

#[test]
fn a_stdout_nobody_reads_does_not_stall_invocations() {
    let dir = TempDir::new("stalled-stdout");
    let config = format!(
        "[functions.chatty]\ncommand = [\"python3\", \"-u\", \"{}\"]\n",
        common::runtime_script()
    );
    // Nobody reads the server's stdout: the pipe (64 KiB) fills during the first invoke, and
    // the log printer blocks on it. Invocations must go on regardless.
    let mut server = Serve::start(&dir, &config);
    for i in 0..4 {
        let out = server.invoke(&["chatty", r#"{"print": 20000}"#], None);
        assert!(out.status.success(), "invoke {i}: {out:?}");
        let body: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(body["event"]["print"], 20000, "invoke {i}");
    }
    // And the server still stops on SIGTERM, with its stdout still blocked.
    server.sigterm();
    let mut stopped = None;
    for _ in 0..3000 {
        if let Some(status) = server.try_wait().unwrap() {
            stopped = Some(status);
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = server.kill();
    let _ = server.wait();
    let status = stopped.expect("server did not stop within 30 s of SIGTERM");
    assert!(status.success(), "{status:?}");
}

#[test]
fn invoke_against_nothing_is_a_service_error() {
    let port = common::free_port();
    let out = invoke(&format!("http://127.0.0.1:{port}"), &["f"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot connect"));
}

/// Provisioned environments start before `serve` is up; their first lines (`INIT_START`, what
/// Init prints) were printed only when the printer subscribed in time.
#[test]
fn serve_prints_the_first_lines_of_provisioned_environments() {
    let dir = TempDir::new("provisioned-lines");
    let config = format!(
        "[functions.warm]\ncommand = [\"python3\", \"-u\", \"{}\", \"print_init\"]\nprovisioned_concurrency = 2\n",
        common::runtime_script()
    );
    let mut server = Serve::start(&dir, &config);
    let ready = "firebox_environments{function=\"warm\",state=\"idle\"} 2";
    // Up to 60 s: a bound for broken runs only.
    let mut metrics = String::new();
    for _ in 0..600 {
        metrics = server.metrics();
        if metrics.contains(ready) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(metrics.contains(ready), "{metrics}");
    let stdout = server.stop();
    let count = |prefix: &str| stdout.lines().filter(|l| l.starts_with(prefix)).count();
    let said = format!("{stdout}\n{}", server.stderr_log());
    assert_eq!(count("[warm] INIT_START"), 2, "{said}");
    assert_eq!(count("[warm] init line 1"), 2, "{said}");
}

/// A program that is not there is deployed as on Lambda (its invokes fail with
/// `Runtime.InvalidEntrypoint`), but `serve` says so at start-up.
#[test]
fn serve_warns_about_programs_that_cannot_start() {
    let dir = TempDir::new("missing-program");
    let script = dir.join("not-executable.sh");
    std::fs::write(&script, "#!/bin/sh\n").unwrap();
    // In `serve`'s working directory, not on its PATH: a bare name is not looked up there.
    let here = dir.join("only-here");
    std::fs::write(&here, "#!/bin/sh\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&here, std::fs::Permissions::from_mode(0o755)).unwrap();
    let config = format!(
        "[functions.gone]\ncommand = [\"/nonexistent/prog\"]\n\n\
         [functions.typo]\ncommand = [\"no-such-program-on-path\"]\n\n\
         [functions.here]\ncommand = [\"only-here\"]\n\n\
         [functions.plain]\ncommand = [\"{}\"]\n",
        script.display()
    );
    let mut server = Serve::start(&dir, &config);
    let out = server.invoke(&["gone"], None);
    assert_eq!(out.status.code(), Some(1), "a function error: {out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("Runtime.InvalidEntrypoint"));
    let _ = server.stop();
    let stderr = server.stderr_log();
    for expected in [
        "function `gone`: the program /nonexistent/prog does not exist",
        "function `typo`: the program no-such-program-on-path is not on the emulator's PATH",
        "function `here`: the program only-here is not on the emulator's PATH",
        "not-executable.sh is not executable",
    ] {
        assert!(stderr.contains(expected), "{expected:?} not in:\n{stderr}");
    }
}

/// A `nodejs20.x` function run by the `aws-lambda-ric` 4.x of the fixtures (which applies
/// `nodejs24.x`'s handler rules) is named at start-up; a `nodejs24.x` one is not.
#[test]
fn serve_warns_about_a_node_client_of_newer_rules_than_the_runtime() {
    let dir = TempDir::new("node-client");
    let fixtures = common::node_fixtures();
    let config = format!(
        "[runtimes]\nnodejs = [\"{}\"]\n\n\
         [functions.old]\nruntime = \"nodejs20.x\"\nhandler = \"index.handler\"\ncode_dir = \"{fx}\"\n\n\
         [functions.new]\nruntime = \"nodejs24.x\"\nhandler = \"index.handler\"\ncode_dir = \"{fx}\"\n",
        fixtures.join("node_modules/.bin/aws-lambda-ric").display(),
        fx = fixtures.display()
    );
    let mut server = Serve::start(&dir, &config);
    let _ = server.stop();
    let stderr = server.stderr_log();
    assert!(
        stderr.contains(
            "function `old`: it names nodejs20.x, but its runtime client aws-lambda-ric 4."
        ),
        "{stderr}"
    );
    // (`new` may be warned about for its Node's version, not for its client.)
    assert!(
        !stderr.contains("function `new`: it names nodejs24.x, but its runtime client"),
        "{stderr}"
    );
}

/// A one-request HTTP server: answers `status` with `body`, and hands back the request it got
/// (head and body).
fn answer_once(status: &str, body: &'static str) -> (String, std::thread::JoinHandle<Vec<u8>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let status = status.to_owned();
    let server = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        // The head, then as many body bytes as Content-Length says.
        loop {
            let n = stream.read(&mut buf).unwrap();
            got.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&got).to_string();
            if let Some(end) = text.find("\r\n\r\n") {
                let length = text[..end]
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("content-length")
                            .then(|| v.trim().parse::<usize>().ok())?
                    })
                    .unwrap_or(0);
                if got.len() >= end + 4 + length || n == 0 {
                    break;
                }
            } else if n == 0 {
                break;
            }
        }
        let answer = format!(
            "HTTP/1.1 {status}\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(answer.as_bytes()).unwrap();
        got
    });
    (endpoint, server)
}

#[test]
fn invoke_fails_on_an_http_error_without_an_aws_error_type() {
    let (endpoint, server) = answer_once("503 Service Unavailable", "upstream down");
    let out = invoke(&endpoint, &["hello", "{}"], None);
    server.join().unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("503") && err.contains("upstream down"),
        "{err}"
    );
}

#[test]
fn invoke_without_a_payload_sends_an_empty_object() {
    let (endpoint, server) = answer_once("200 OK", "{}");
    let out = invoke(&endpoint, &["hello"], None);
    let request = String::from_utf8(server.join().unwrap()).unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let body = request.split_once("\r\n\r\n").unwrap().1;
    assert_eq!(body, "{}", "{request}");
}

/// Waits until the server's stdout has a line containing `needle`; returns the lines read.
fn read_until(out: &mut impl std::io::BufRead, needle: &str) -> String {
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        assert!(
            out.read_line(&mut line).unwrap() > 0,
            "no `{needle}` in {seen}"
        );
        seen.push_str(&line);
        if line.contains(needle) {
            return seen;
        }
    }
}

#[test]
fn sigterm_lets_an_invocation_in_flight_finish_and_a_second_one_stops_at_once() {
    let dir = TempDir::new("graceful");
    let config = format!(
        "[server]\nshutdown_grace_s = 30\n\n[functions.slow]\ncommand = [\"python3\", \"-u\", \"{}\"]\ntimeout_s = 60\n",
        common::runtime_script()
    );
    let mut server = Serve::start(&dir, &config);
    let mut stdout = std::io::BufReader::new(server.stdout.take().unwrap());
    let client = invoke_started(
        server.endpoint(),
        &["slow", r#"{"sleep": 1}"#],
        Stdio::null(),
    );
    read_until(&mut stdout, "[slow] START RequestId:");
    server.sigterm();
    let out = client.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let body: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(body["event"]["sleep"], 1);
    let status = server.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let rest = read_until(&mut stdout, "[slow] REPORT RequestId:");
    assert!(rest.contains("[slow] END RequestId:"), "{rest}");

    // The second time, an invocation of 50 s is in flight: a second SIGTERM ends the wait.
    let mut server = Serve::start(&dir, &config);
    let mut stdout = std::io::BufReader::new(server.stdout.take().unwrap());
    let client = invoke_started(
        server.endpoint(),
        &["slow", r#"{"sleep": 50}"#],
        Stdio::null(),
    );
    read_until(&mut stdout, "[slow] START RequestId:");
    server.sigterm();
    std::thread::sleep(Duration::from_millis(300));
    assert!(server.try_wait().unwrap().is_none(), "still draining");
    let started = std::time::Instant::now();
    server.sigterm();
    let status = server.wait().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    assert!(status.success(), "{status:?}");
    let out = client.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}

#[test]
fn an_event_still_queued_at_shutdown_is_named_on_stderr() {
    let dir = TempDir::new("queued-event");
    let config = format!(
        "[functions.held]\ncommand = [\"python3\", \"-u\", \"{}\"]\nreserved_concurrency = 0\n",
        common::runtime_script()
    );
    let mut server = Serve::start(&dir, &config);
    // Throttled (reserved concurrency 0): accepted, and kept in the queue.
    let out = server.invoke(&["held", "--invocation-type", "Event"], None);
    assert!(out.status.success(), "{out:?}");
    server.sigterm();
    let status = server.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let stderr = server.stderr_log();
    assert!(
        stderr.contains("event lost: The emulator is shutting down.") && stderr.contains("held"),
        "{stderr}"
    );
}

/// An `Event` whose first attempt failed waits a minute before its retry (Lambda's first
/// pause); a `serve` stopped meanwhile names it as lost, as it names the events still queued.
#[test]
fn an_event_pausing_before_its_retry_at_shutdown_is_named_on_stderr() {
    let dir = TempDir::new("retry-pause");
    let config = format!(
        "[functions.flaky]\ncommand = [\"python3\", \"-u\", \"{}\"]\n",
        common::runtime_script()
    );
    let mut server = Serve::start(&dir, &config);
    let out = server.invoke(
        &[
            "flaky",
            r#"{"error": {"type": "Boom", "message": "m"}}"#,
            "--invocation-type",
            "Event",
        ],
        None,
    );
    assert!(out.status.success(), "{out:?}");
    // Up to 30 s: a bound for broken runs only.
    for _ in 0..3000 {
        if server.stderr_log().contains("event failed; retrying") {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let stderr = server.stderr_log();
    assert!(stderr.contains("event failed; retrying"), "{stderr}");
    server.sigterm();
    let status = server.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let stderr = server.stderr_log();
    assert!(
        stderr
            .contains("event lost: The emulator is shutting down (it was pausing before a retry).")
            && stderr.contains("flaky"),
        "{stderr}"
    );
}
