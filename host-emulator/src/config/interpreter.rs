//! A warning for functions of a managed runtime whose interpreter is another version than the
//! runtime's name says: `python3.12` run by a Python 3.11, `nodejs22.x` by a Node 20. Firebox
//! runs the machine's interpreter (see `[runtimes]`), so version-specific behaviour (syntax,
//! the standard library, error texts) can differ from Lambda's without anything failing here.
//!
//! Finding the version runs the interpreter, so it is done off the start-up path: the checks
//! are made when the emulator starts ([`version_checks`]) and run on a thread of their own
//! ([`InterpreterCheck::run`]).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::node_start::{is_node, node_of_script};
use super::FunctionConfig;

/// How long an interpreter may take to say its version.
const ANSWER_WITHIN: Duration = Duration::from_secs(5);

/// One interpreter to ask, for the functions that run it under one runtime name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterpreterCheck {
    /// The functions (named in the warning).
    pub functions: Vec<String>,
    /// The runtime they name (`python3.12`).
    pub runtime: String,
    /// The version that name means (`3.12`, or `22` for `nodejs22.x`).
    pub expected: String,
    /// The interpreter and the arguments that print its version.
    pub program: PathBuf,
    args: Vec<&'static str>,
}

/// The checks for `functions`: one per interpreter and runtime name, for the functions of a
/// `python3.N` or `nodejsN.x` runtime whose command starts Python or Node themselves (a
/// wrapper or another program is not asked).
pub fn version_checks(functions: &[FunctionConfig]) -> Vec<InterpreterCheck> {
    let mut checks: Vec<InterpreterCheck> = Vec::new();
    for f in functions {
        let Some(check) = check_of(f) else { continue };
        match checks
            .iter_mut()
            .find(|c| c.program == check.program && c.runtime == check.runtime)
        {
            Some(same) => same.functions.push(f.name.clone()),
            None => checks.push(check),
        }
    }
    checks
}

fn check_of(f: &FunctionConfig) -> Option<InterpreterCheck> {
    if !matches!(f.launch, super::runtimes::Launch::Runtime(_)) {
        return None;
    }
    let runtime = f.runtime.clone()?;
    let program = f.command.first()?;
    let name = Path::new(program).file_name()?.to_str()?;
    let (expected, program, args) = if let Some(version) = runtime.strip_prefix("python") {
        if !name.starts_with("python") {
            return None;
        }
        let program = PathBuf::from(program);
        let args = vec!["-c", "import sys; print('%d.%d' % sys.version_info[:2])"];
        (version.to_owned(), program, args)
    } else if let Some(version) = runtime.strip_prefix("nodejs") {
        let node = if is_node(program) {
            program.clone()
        } else {
            node_of_script(Path::new(program))?
        };
        let major = version.strip_suffix(".x").unwrap_or(version).to_owned();
        (major, PathBuf::from(node), vec!["--version"])
    } else {
        return None;
    };
    Some(InterpreterCheck {
        functions: vec![f.name.clone()],
        runtime,
        expected,
        program,
        args,
    })
}

impl InterpreterCheck {
    /// Asks the interpreter its version (blocking, at most 5 s) and says so when it is not
    /// the one the runtime names; `None` when it is, or when it did not answer.
    pub fn run(&self) -> Option<String> {
        let version = self.ask()?;
        let numbers = |text: &str| {
            let parts: Vec<String> = text.split('.').map(str::to_owned).collect();
            parts
                .iter()
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
                .then_some(parts)
        };
        // Only an answer shaped like a version counts (`3.11`; Node's `v20.19.5` → `20`):
        // anything else (a wrapper that ignored the question) says nothing.
        let found = match self.runtime.starts_with("nodejs") {
            true => numbers(version.strip_prefix('v')?)?.first()?.clone(),
            false => {
                let parts = numbers(&version)?;
                (parts.len() == 2).then_some(version)?
            }
        };
        let (subject, verb) = match self.functions.len() {
            1 => ("function", "it names"),
            _ => ("functions", "they name"),
        };
        let (language, expected) = (self.language(), &self.expected);
        (found != *expected).then(|| {
            format!(
                "{subject} `{}`: {verb} {language} {expected}, but {} is {language} {found}; behaviour that differs between versions (syntax, the standard library, error texts) will not match Lambda's. Point [runtimes] at a {language} {expected} to run what Lambda runs",
                self.functions.join("`, `"),
                self.program.display(),
            )
        })
    }

    fn language(&self) -> &'static str {
        if self.runtime.starts_with("nodejs") {
            "Node"
        } else {
            "Python"
        }
    }

    /// The interpreter's first line of output, or `None` if it did not start or answer.
    fn ask(&self) -> Option<String> {
        let mut command = Command::new(&self.program);
        command.args(&self.args);
        let out = output_within(&mut command, ANSWER_WITHIN)?;
        out.lines().next().map(|l| l.trim().to_owned())
    }
}

/// What `command` writes to stdout (a few lines: it is read once the program has exited),
/// or `None` if it does not start, fails to exit within `limit` (it is killed then), or its
/// output cannot be read.
pub(super) fn output_within(command: &mut Command, limit: Duration) -> Option<String> {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let started = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if started.elapsed() < limit => {
                std::thread::sleep(Duration::from_millis(5));
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
    let mut out = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take()?, &mut out).ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// An executable `name` in a new directory that prints `says` whatever it is asked.
    fn fake(name: &str, says: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "firebox-{}-interpreter-test-{name}-{}",
            std::process::id(),
            fastrand::u32(..)
        ));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let path = dir.join(name);
        std::fs::write(&path, format!("#!/bin/sh\necho {says}\n")).expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        path
    }

    fn managed(name: &str, runtime: &str, command: &Path) -> FunctionConfig {
        let mut f = FunctionConfig::new(name).runtime(runtime);
        f.launch = super::super::runtimes::Launch::Runtime(vec![]);
        f.command = vec![command.display().to_string(), "-m".into(), "x".into()];
        f
    }

    #[test]
    fn a_python_of_another_version_is_named() {
        let python = fake("python3", "3.11");
        let checks = version_checks(&[
            managed("a", "python3.12", &python),
            managed("b", "python3.12", &python),
            managed("c", "python3.11", &python),
        ]);
        assert_eq!(checks.len(), 2, "{checks:?}");
        let warning = checks[0].run().expect("3.11 is not 3.12");
        assert!(
            warning.starts_with("functions `a`, `b`: they name Python 3.12, but "),
            "{warning}"
        );
        assert!(warning.contains("is Python 3.11"), "{warning}");
        assert_eq!(checks[1].run(), None, "python3.11 runs 3.11");
        // An answer that is not a version says nothing.
        let chatty = fake("python3", "started with -c");
        assert_eq!(
            version_checks(&[managed("d", "python3.12", &chatty)])[0].run(),
            None
        );
        std::fs::remove_dir_all(chatty.parent().unwrap()).unwrap();
        std::fs::remove_dir_all(python.parent().unwrap()).unwrap();
    }

    #[test]
    fn a_node_of_another_major_is_named_and_other_programs_are_not_asked() {
        let node = fake("node", "v20.19.5");
        let check = &version_checks(&[managed("n", "nodejs22.x", &node)])[0];
        let warning = check.run().expect("20 is not 22");
        assert!(
            warning.starts_with("function `n`: it names Node 22, but ")
                && warning.contains("is Node 20;"),
            "{warning}"
        );
        assert_eq!(
            version_checks(&[managed("n", "nodejs20.x", &node)])[0].run(),
            None
        );
        // A wrapper script, and a custom runtime, are not asked.
        let wrapper = fake("start.sh", "3.9");
        assert!(version_checks(&[managed("w", "python3.12", &wrapper)]).is_empty());
        let custom = FunctionConfig::new("c").command([node.display().to_string()]);
        assert!(version_checks(&[custom]).is_empty());
        std::fs::remove_dir_all(node.parent().unwrap()).unwrap();
        std::fs::remove_dir_all(wrapper.parent().unwrap()).unwrap();
    }
}
