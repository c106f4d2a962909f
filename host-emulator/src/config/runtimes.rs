//! Lambda's managed runtimes on this machine: the command that starts a function which names
//! a runtime (`runtime = "python3.12"` in `firebox.toml`, `Runtime` in `CreateFunction`)
//! instead of a `command`.
//!
//! On Lambda a managed runtime is a runtime interface client the platform puts in place; here
//! it is a command from the `[runtimes]` table, looked up by the runtime's exact name, then by
//! its family (`python3.12` → `python`, `nodejs22.x` → `nodejs`), then in the defaults below. An
//! argument `{handler}` is replaced by the function's handler. The OS-only runtimes
//! (`provided`, `provided.al2`, `provided.al2023`) run the code directory's `bootstrap`.
//!
//! Node is started as Lambda's `nodejs` bootstrap starts it (see `node_start`), with the
//! arguments inserted when the environment starts (see [`runtime_command`]).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The placeholder a runtime command's arguments may hold for the function's handler.
pub const HANDLER_PLACEHOLDER: &str = "{handler}";

/// How an environment of a function is started: its `command` as given, the code directory's
/// `bootstrap`, or a managed runtime's command.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) enum Launch {
    /// `command`, as configured.
    #[default]
    Command,
    /// `code_dir/bootstrap` (no `command`, or an OS-only runtime).
    Bootstrap,
    /// A managed runtime: its command, with `{handler}` still in it.
    Runtime(Vec<String>),
}

impl Launch {
    /// Whether the function's code is a directory that an uploaded package may replace (it
    /// is not a command given by hand).
    pub fn runs_package(&self) -> bool {
        !matches!(self, Launch::Command)
    }
}

/// The commands of the managed runtimes (`[runtimes]`).
///
/// ```
/// use firebox_emulator::config::Runtimes;
/// let mut runtimes = Runtimes::default();
/// runtimes.set("python", [".venv/bin/python", "-m", "awslambdaric", "{handler}"]);
/// assert_eq!(runtimes.command("python3.12").unwrap()[0], ".venv/bin/python");
/// assert_eq!(runtimes.command("nodejs22.x").unwrap(), ["aws-lambda-ric"]);
/// assert!(runtimes.command("ruby3.3").is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Runtimes {
    commands: BTreeMap<String, Vec<String>>,
}

impl Runtimes {
    /// Sets the command of a runtime (`python3.12`) or of a family (`python`).
    pub fn set<I, S>(&mut self, runtime: impl Into<String>, command: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.commands.insert(
            runtime.into(),
            command.into_iter().map(Into::into).collect(),
        );
    }

    /// The command of a managed runtime: set for its name, else for its family, else the
    /// default (`python3 -m awslambdaric {handler}` for Python, `aws-lambda-ric` for Node.js);
    /// `None` for a runtime with neither (and for the OS-only runtimes, which need none). The
    /// program is as given; a function that names the runtime gets it resolved (see
    /// `Runtimes::launch`).
    pub fn command(&self, runtime: &str) -> Option<Vec<String>> {
        if let Some(c) = self
            .commands
            .get(runtime)
            .or_else(|| self.commands.get(family(runtime)))
        {
            return Some(c.clone());
        }
        let default: &[&str] = match family(runtime) {
            "python" => &["python3", "-m", "awslambdaric", HANDLER_PLACEHOLDER],
            "nodejs" => &["aws-lambda-ric"],
            _ => return None,
        };
        Some(default.iter().map(|s| (*s).to_owned()).collect())
    }

    /// Resolves each command's program against `base` (the configuration file's directory),
    /// as a function's `command` is. The error names the runtime (the key in `[runtimes]`).
    pub(crate) fn resolve(mut self, base: &Path) -> Result<Self, (String, String)> {
        for (runtime, command) in &mut self.commands {
            check_name(runtime).map_err(|m| (runtime.clone(), m))?;
            match command.first_mut() {
                Some(program) if !program.is_empty() => {
                    *program = super::validate::resolve_program(program, base)
                        .display()
                        .to_string();
                }
                _ => {
                    return Err((
                        runtime.clone(),
                        "the command is empty: give the program first (e.g. \
                         `[\"/path/to/interpreter\", \"{handler}\"]`)"
                            .into(),
                    ))
                }
            }
        }
        Ok(self)
    }

    /// How a function naming `runtime` starts, or why it cannot. A program that is a bare name
    /// (a default's `python3` or `aws-lambda-ric`, or one set in code) is looked up on the
    /// emulator's `PATH` now, when the function is loaded, as `command`'s is (the function's
    /// own `PATH` starts with Lambda's directories, where the system's interpreter would win);
    /// one found nowhere stays bare, and the start-up warning names it.
    pub(crate) fn launch(&self, runtime: &str) -> Result<Launch, String> {
        check_name(runtime)?;
        if family(runtime) == "provided" {
            return Ok(Launch::Bootstrap);
        }
        let resolved = self.command(runtime).map(|mut command| {
            if let Some(program) = command.first_mut().filter(|p| !p.contains('/')) {
                // A bare name does not depend on the base directory.
                *program = super::validate::resolve_program(program, Path::new("/"))
                    .display()
                    .to_string();
            }
            command
        });
        resolved.map(Launch::Runtime).ok_or_else(|| {
            format!(
                "`{runtime}` has no command on this machine: add one to `[runtimes]` \
                 (e.g. `{} = [\"/path/to/interpreter\", \"...\"]`)",
                family(runtime)
            )
        })
    }
}

/// The family of a runtime: its leading letters (`python3.12` → `python`).
pub fn family(runtime: &str) -> &str {
    let end = runtime
        .find(|c: char| !c.is_ascii_lowercase())
        .unwrap_or(runtime.len());
    &runtime[..end]
}

/// A runtime's name: lowercase letters first, then letters, digits and dots (as Lambda's).
pub(crate) fn check_name(runtime: &str) -> Result<(), String> {
    let ok = !runtime.is_empty()
        && runtime.len() <= 32
        && runtime.starts_with(|c: char| c.is_ascii_lowercase())
        && runtime
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.');
    if ok {
        Ok(())
    } else {
        Err(format!("`{runtime}` is not a runtime name (e.g. `python3.12`, `nodejs22.x`, `provided.al2023`)"))
    }
}

/// The command that starts a function launched as `launch`, with `code_dir` and `handler`;
/// `None` for [`Launch::Command`] (its command is the configured one).
pub(crate) fn command_for(
    launch: &Launch,
    code_dir: Option<&Path>,
    handler: Option<&str>,
) -> Option<Vec<String>> {
    match launch {
        Launch::Command => None,
        Launch::Bootstrap => Some(vec![code_dir
            .map_or_else(|| PathBuf::from("bootstrap"), |d| d.join("bootstrap"))
            .display()
            .to_string()]),
        Launch::Runtime(template) => Some(
            template
                .iter()
                .map(|a| a.replace(HANDLER_PLACEHOLDER, handler.unwrap_or_default()))
                .collect(),
        ),
    }
}

/// The command an environment of `config` starts: its `command`, except for a managed
/// runtime:
/// - `nodejs*`: Lambda's arguments for Node (see `node_start`) go right after `node`: after the
///   program when it is Node itself (named `node` or `nodejs`), or, for a script that Node
///   runs (its first line `#!/usr/bin/env node` or `#!/path/to/node`, as `aws-lambda-ric`'s
///   command), by starting that `node` with them and the script. Any other program (a wrapper
///   script) is started as it is;
/// - any managed runtime whose function sets `AWS_LAMBDA_EXEC_WRAPPER`: that program starts,
///   with the runtime's command as its arguments, as Lambda's runtime bootstraps start it (the
///   wrapper ends with `exec "$@"`). The OS-only runtimes and a `command` given by hand ignore
///   the variable, as custom runtimes do on Lambda.
pub(crate) fn runtime_command(config: &super::FunctionConfig) -> Cow<'_, [String]> {
    if !matches!(config.launch, Launch::Runtime(_)) {
        return Cow::Borrowed(&config.command);
    }
    let mut command = Cow::Borrowed(config.command.as_slice());
    if config.runtime.as_deref().map(family) == Some("nodejs") {
        if let Some(with) = super::node_start::node_command(config) {
            command = Cow::Owned(with);
        }
    }
    match config
        .environment
        .get(EXEC_WRAPPER)
        .filter(|w| !w.is_empty())
    {
        Some(wrapper) => {
            let mut wrapped = vec![wrapper.clone()];
            wrapped.extend(command.iter().cloned());
            Cow::Owned(wrapped)
        }
        None => command,
    }
}

/// The variable naming a wrapper script for a managed runtime's start.
pub const EXEC_WRAPPER: &str = "AWS_LAMBDA_EXEC_WRAPPER";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtimes_are_looked_up_by_name_then_family_then_default() {
        let mut r = Runtimes::default();
        assert_eq!(
            r.command("python3.13").unwrap(),
            ["python3", "-m", "awslambdaric", "{handler}"]
        );
        r.set("python", ["py", "{handler}"]);
        r.set("python3.9", ["old-py"]);
        assert_eq!(r.command("python3.12").unwrap(), ["py", "{handler}"]);
        assert_eq!(r.command("python3.9").unwrap(), ["old-py"]);
        assert_eq!(r.launch("provided.al2023").unwrap(), Launch::Bootstrap);
        assert_eq!(r.launch("provided").unwrap(), Launch::Bootstrap);
        assert!(r.launch("java21").unwrap_err().contains("[runtimes]"));
        assert!(r
            .launch("Python3")
            .unwrap_err()
            .contains("not a runtime name"));
        assert!(r.launch("").is_err());
    }

    #[test]
    fn a_bare_program_is_looked_up_on_the_emulators_path_when_a_function_takes_it() {
        // Set in code (not resolved as `[runtimes]` is): found when a function names it.
        let mut r = Runtimes::default();
        r.set("ruby", ["sh", "{handler}"]);
        r.set("perl", ["no-such-program-on-any-path"]);
        let Launch::Runtime(command) = r.launch("ruby3.3").unwrap() else {
            panic!("a runtime command");
        };
        assert!(
            Path::new(&command[0]).is_absolute() && command[0].ends_with("/sh"),
            "{command:?}"
        );
        assert_eq!(command[1], "{handler}");
        assert_eq!(
            r.launch("perl5").unwrap(),
            Launch::Runtime(vec!["no-such-program-on-any-path".into()]),
            "left bare when found nowhere"
        );
    }

    #[test]
    fn commands_are_made_from_the_handler_and_code_directory() {
        let template = Launch::Runtime(vec!["py".into(), "-m".into(), "{handler}".into()]);
        assert_eq!(
            command_for(&template, None, Some("app.handler")).unwrap(),
            ["py", "-m", "app.handler"]
        );
        assert_eq!(
            command_for(&Launch::Bootstrap, Some(Path::new("/code")), None).unwrap(),
            ["/code/bootstrap"]
        );
        assert!(command_for(&Launch::Command, None, None).is_none());
        assert_eq!(family("nodejs22.x"), "nodejs");
        assert_eq!(family("provided.al2023"), "provided");
    }

    #[test]
    fn functions_in_the_configuration_file_name_runtimes() {
        let dir = std::env::temp_dir();
        let dir = dir.display();
        let c = crate::config::parse_test_config(&format!(
            "[runtimes]\npython = [\"/opt/py/bin/python\", \"-m\", \"awslambdaric\", \"{{handler}}\"]\n\
             [functions.py]\nruntime = \"python3.12\"\ncode_dir = \"{dir}\"\nhandler = \"app.handler\"\n\
             [functions.rs]\nruntime = \"provided.al2023\"\ncode_dir = \"{dir}\"\n\
             [functions.node]\nruntime = \"nodejs22.x\"\ncode_dir = \"{dir}\"\nhandler = \"index.handler\"\n"
        ))
        .unwrap();
        let f = |name: &str| c.functions.iter().find(|f| f.name == name).unwrap();
        assert_eq!(
            f("py").command,
            ["/opt/py/bin/python", "-m", "awslambdaric", "app.handler"]
        );
        assert!(f("rs").command[0].ends_with("/bootstrap"));
        assert_eq!(f("rs").launch, Launch::Bootstrap);
        // The default, resolved on the emulator's `PATH` when it is there.
        let Launch::Runtime(node) = &f("node").launch else {
            panic!("{:?}", f("node").launch);
        };
        assert_eq!(node.len(), 1);
        assert_eq!(
            Path::new(&node[0]),
            super::super::validate::resolve_program("aws-lambda-ric", Path::new("/"))
        );
        assert!(f("py").launch.runs_package());

        for (text, says) in [
            (
                format!(
                    "runtime = \"python3.12\"\ncommand = [\"/bin/true\"]\ncode_dir = \"{dir}\""
                ),
                "`runtime` or `command`, not both",
            ),
            (
                "runtime = \"python3.12\"\nhandler = \"a.b\"".to_owned(),
                "code_dir",
            ),
            (
                format!("runtime = \"python3.12\"\ncode_dir = \"{dir}\""),
                "field `handler`",
            ),
            (
                format!("runtime = \"ruby3.3\"\ncode_dir = \"{dir}\"\nhandler = \"a.b\""),
                "[runtimes]",
            ),
            (
                format!("runtime = \"Python 3\"\ncode_dir = \"{dir}\"\nhandler = \"a.b\""),
                "not a runtime name",
            ),
        ] {
            let err = crate::config::parse_test_config(&format!("[functions.f]\n{text}\n"))
                .unwrap_err()
                .to_string();
            assert!(err.contains(says), "{text}: {err}");
        }
        let err = crate::config::parse_test_config(
            "[runtimes]\npython = []\n[functions.f]\ncommand = [\"/bin/true\"]\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("[runtimes] field `python`: the command is empty"),
            "{err}"
        );
    }
}
