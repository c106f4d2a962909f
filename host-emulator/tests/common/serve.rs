//! `firebox serve` and `firebox invoke` as child processes, the way a user runs them.
//!
//! [`Serve::start`] starts `serve` in a directory with a `firebox.toml`, on a port from
//! [`free_port`](super::free_port), and returns once that `serve` answers `GET /metrics`: an
//! HTTP answer from firebox, not merely a TCP connection that something accepted. Its stderr
//! goes to a file ([`Serve::stderr_log`]), so that a test that fails can say what `serve`
//! said, and whether it is still running ([`Serve::describe`]). A `Serve` is killed when
//! dropped (SIGTERM, then SIGKILL), so that a failing test leaves no server or function
//! behind.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

/// The `firebox` binary under test.
pub const FIREBOX: &str = env!("CARGO_BIN_EXE_firebox");

/// A running `firebox serve` a test started.
pub struct Serve {
    child: Child,
    endpoint: String,
    stderr_path: PathBuf,
}

impl Serve {
    /// Writes `config` to `dir/firebox.toml` and starts `firebox serve` in `dir` (the default
    /// config path), with stdout piped; waits until it answers.
    pub fn start(dir: &Path, config: &str) -> Self {
        Self::start_with(dir, config, |_| {})
    }

    /// As [`Serve::start`], letting `customize` change the command first (its environment, a
    /// `pre_exec` hook).
    pub fn start_with(dir: &Path, config: &str, customize: impl FnOnce(&mut Command)) -> Self {
        std::fs::write(dir.join("firebox.toml"), config).expect("write firebox.toml");
        let port = super::free_port();
        let stderr_path = dir.join(format!("serve-{port}.stderr"));
        let stderr = std::fs::File::create(&stderr_path).expect("serve's stderr file");
        let mut command = Command::new(FIREBOX);
        command
            .current_dir(dir)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr);
        customize(&mut command);
        let child = command.spawn().expect("firebox serve starts");
        let mut serve = Self {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            stderr_path,
        };
        serve.wait_until_ready(port);
        serve
    }

    /// A `serve` the test spawned itself (as another user, say), whose stderr goes to
    /// `stderr_path`: killed when dropped, like one from [`Serve::start`]. Not waited for.
    pub fn adopt(child: Child, endpoint: String, stderr_path: PathBuf) -> Self {
        Self {
            child,
            endpoint,
            stderr_path,
        }
    }

    /// Waits (up to 30 s, a bound for broken runs only) until `GET /metrics` on `port` is
    /// answered `200` with firebox's own metrics; panics with what `serve` said if it exits
    /// first or never answers.
    fn wait_until_ready(&mut self, port: u16) {
        for _ in 0..3000 {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                panic!(
                    "firebox serve exited before it answered ({status}):\n{}",
                    self.stderr_log()
                );
            }
            if metrics(port).is_some_and(|m| m.contains("firebox_")) {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!(
            "firebox serve did not answer within 30 s:\n{}",
            self.describe()
        );
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Its `GET /metrics` answer (head and Prometheus text); panics with
    /// [`Serve::describe`] when there is none.
    pub fn metrics(&mut self) -> String {
        let port = self
            .endpoint
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok());
        match port.and_then(metrics) {
            Some(answer) => answer,
            None => panic!("no answer to GET /metrics: {}", self.describe()),
        }
    }

    /// What `serve` wrote to stderr so far.
    pub fn stderr_log(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// Whether `serve` still runs (or how it ended), and its stderr: for failure messages.
    pub fn describe(&mut self) -> String {
        let state = match self.child.try_wait() {
            Ok(None) => "still running".to_owned(),
            Ok(Some(status)) => format!("exited: {status}"),
            Err(e) => format!("unknown: {e}"),
        };
        format!(
            "firebox serve ({}) is {state}; its stderr:\n{}",
            self.endpoint,
            self.stderr_log()
        )
    }

    /// `firebox invoke ARGS --endpoint` this server, `stdin` on its standard input. A
    /// connection refused (the server gone, or never ours) panics with [`Serve::describe`].
    pub fn invoke(&mut self, args: &[&str], stdin: Option<&str>) -> Output {
        let out = invoke(&self.endpoint, args, stdin);
        if String::from_utf8_lossy(&out.stderr).contains("cannot connect") {
            panic!("{out:?}\n{}", self.describe());
        }
        out
    }

    /// Sends SIGTERM.
    pub fn sigterm(&self) {
        // SAFETY: kill(2) has no memory-safety preconditions. The pid is the server's until
        // the child is reaped (`wait`, `try_wait`); callers signal a server they have not seen
        // exit.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
    }

    /// Stops the server with SIGTERM, checks that it exits cleanly, and returns what it
    /// printed on stdout.
    pub fn stop(&mut self) -> String {
        self.sigterm();
        let status = self.child.wait().expect("wait for serve");
        assert!(status.success(), "{status:?}\n{}", self.stderr_log());
        let mut stdout = String::new();
        if let Some(mut out) = self.child.stdout.take() {
            out.read_to_string(&mut stdout).expect("serve's stdout");
        }
        stdout
    }
}

impl std::ops::Deref for Serve {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.child
    }
}

impl std::ops::DerefMut for Serve {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.child
    }
}

impl Drop for Serve {
    /// SIGTERM first, so that `serve` ends its environments; SIGKILL if it has not stopped
    /// within 5 s. After a `wait`, nothing is signalled (std keeps the status).
    fn drop(&mut self) {
        if !matches!(self.child.try_wait(), Ok(None)) {
            return;
        }
        self.sigterm();
        for _ in 0..500 {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `GET /metrics` on `127.0.0.1:port`: the whole answer, if it was `200`.
fn metrics(port: u16) -> Option<String> {
    let mut conn = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    conn.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    conn.write_all(b"GET /metrics HTTP/1.0\r\n\r\n").ok()?;
    let mut answer = String::new();
    conn.read_to_string(&mut answer).ok()?;
    let ok = answer
        .lines()
        .next()
        .is_some_and(|status| status.contains(" 200 "));
    ok.then_some(answer)
}

/// `firebox invoke ARGS --endpoint ENDPOINT` started, its stdout and stderr piped and its
/// stdin as given.
pub fn invoke_started(endpoint: &str, args: &[&str], stdin: Stdio) -> Child {
    Command::new(FIREBOX)
        .arg("invoke")
        .args(args)
        .args(["--endpoint", endpoint])
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("firebox invoke starts")
}

/// `firebox invoke ARGS --endpoint ENDPOINT`, `stdin` on its standard input.
pub fn invoke(endpoint: &str, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = invoke_started(endpoint, args, Stdio::piped());
    let mut input = child.stdin.take().expect("piped stdin");
    if let Some(s) = stdin {
        input.write_all(s.as_bytes()).expect("write stdin");
    }
    drop(input);
    child.wait_with_output().expect("firebox invoke ends")
}
