//! How Lambda's `nodejs` bootstraps start Node, reproduced for a `nodejs*` managed runtime:
//! the arguments its `/var/runtime/bootstrap` gives `node` before the runtime client's script
//! ([`node_arguments`]: `--expose-gc`, the header size, V8's heap limits for the memory), the
//! experimental features Lambda turns off per runtime ([`lambda_flags`]: `require()` of an ES
//! module on `nodejs20.x`/`nodejs22.x`, module syntax detection on `nodejs22.x`, each back on
//! when `NODE_OPTIONS` names its own flag), and Lambda's search of `NODE_PATH` for an ES
//! module's bare imports (a layer's `nodejs/node_modules`), which Node itself does only for
//! `require()`: a resolve hook loaded with `--import` ([`NODE_PATH_ESM_HOOK`]).
//!
//! A Node too old for a flag refuses to start with it, so each Node is asked once which of
//! them it takes ([`NodeFeatures`]), and only those are given.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use super::FunctionConfig;

/// The module `--import` loads for a function whose `NODE_PATH` names package directories:
/// after Node's own search fails for a bare specifier, it looks in each `node_modules`
/// directory of `NODE_PATH`, as Lambda's Node runtimes (18 and later) do.
pub const NODE_PATH_ESM_HOOK: &str = include_str!("node_path_esm.mjs");

/// What one Node takes: the flags Lambda's bootstraps give, and the hooks API the `NODE_PATH`
/// search needs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NodeFeatures {
    /// `--no-experimental-require-module` (Node 20.17, 22 and later).
    pub no_require_module: bool,
    /// `--no-experimental-detect-module` (Node 20.10, 21.1 and later).
    pub no_detect_module: bool,
    /// `--import` and `module.register` or `module.registerHooks` (Node 20.6 and later).
    pub module_hooks: bool,
}

/// How long a Node may take to say what it takes.
const ANSWER_WITHIN: Duration = Duration::from_secs(5);

/// What it prints: one word per feature it has.
const FEATURES_SCRIPT: &str = "const f = process.allowedNodeEnvironmentFlags; \
     const m = require('node:module'); \
     const has = [f.has('--no-experimental-require-module') && 'require', \
       f.has('--no-experimental-detect-module') && 'detect', \
       f.has('--import') && (typeof m.registerHooks === 'function' || typeof m.register === 'function') && 'hooks']; \
     console.log(has.filter(Boolean).join(' '))";

impl NodeFeatures {
    /// What `node` (a path, or a name looked up on Lambda's `PATH` then the emulator's, as the
    /// function's own `PATH` has them) takes. Asked once per program for the emulator's life;
    /// a Node that cannot be asked takes none of them (it is started as before them).
    pub fn of(node: &str) -> Self {
        static KNOWN: OnceLock<Mutex<HashMap<String, NodeFeatures>>> = OnceLock::new();
        let known = KNOWN.get_or_init(Default::default);
        // A poisoned map only means another thread panicked while inserting: its entries are
        // still whole values.
        if let Some(f) = known.lock().unwrap_or_else(|e| e.into_inner()).get(node) {
            return *f;
        }
        let features = Self::ask(node).unwrap_or_default();
        known
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(node.to_owned(), features);
        features
    }

    fn ask(node: &str) -> Option<Self> {
        let host = std::env::var("PATH").unwrap_or_default();
        let mut command = Command::new(node);
        command
            .args(["-e", FEATURES_SCRIPT])
            .env_clear()
            .env("PATH", format!("{}:{host}", super::LAMBDA_PATH));
        let out = super::interpreter::output_within(&mut command, ANSWER_WITHIN)?;
        Some(Self::from_words(&out))
    }

    /// The features named in `words` (what [`FEATURES_SCRIPT`] prints).
    fn from_words(words: &str) -> Self {
        let has = |w: &str| words.split_whitespace().any(|x| x == w);
        Self {
            no_require_module: has("require"),
            no_detect_module: has("detect"),
            module_hooks: has("hooks"),
        }
    }
}

/// The spellings of V8's heap limits that, in the function's `NODE_OPTIONS`, make Lambda's
/// bootstrap leave both limits to the user.
const HEAP_FLAGS: [&str; 4] = [
    "--max_semi_space_size",
    "--max_old_space_size",
    "--max-semi-space-size",
    "--max-old-space-size",
];

/// The arguments Lambda's `nodejs` bootstrap (`/var/runtime/bootstrap`) gives `node` before
/// the runtime's script, for a function of `memory_mb` whose `NODE_OPTIONS` is `node_options`:
/// `--expose-gc`, `--max-http-header-size 81920`, and V8's heap limits: a tenth of the memory
/// for the young generation, half of that per semi-space, the rest for the old generation
/// (128 MB: `--max-semi-space-size=6 --max-old-space-size=116`). As there, `NODE_OPTIONS`
/// naming either limit (in any spelling) drops both, leaving V8's default for the other.
///
/// ```
/// use firebox_emulator::config::node_arguments;
/// assert_eq!(
///     node_arguments(128, None),
///     ["--expose-gc", "--max-http-header-size", "81920",
///      "--max-semi-space-size=6", "--max-old-space-size=116"]
/// );
/// assert_eq!(node_arguments(1024, Some("--max_old_space_size=900")).len(), 3);
/// ```
pub fn node_arguments(memory_mb: u32, node_options: Option<&str>) -> Vec<String> {
    let mut args: Vec<String> = ["--expose-gc", "--max-http-header-size", "81920"]
        .iter()
        .map(|a| (*a).to_owned())
        .collect();
    let user_sets = node_options.is_some_and(|o| HEAP_FLAGS.iter().any(|f| o.contains(f)));
    if !user_sets {
        let new_space = memory_mb / 10;
        args.push(format!("--max-semi-space-size={}", new_space / 2));
        args.push(format!("--max-old-space-size={}", memory_mb - new_space));
    }
    args
}

/// The flags Lambda's bootstrap for `runtime` adds to turn experimental features off, for a
/// function whose `NODE_OPTIONS` is `node_options` (naming a feature's own flag keeps it on),
/// those of them a Node with `features` takes.
///
/// ```
/// use firebox_emulator::config::{lambda_flags, NodeFeatures};
/// let all = NodeFeatures { no_require_module: true, no_detect_module: true, module_hooks: true };
/// assert_eq!(lambda_flags("nodejs20.x", None, all), ["--no-experimental-require-module"]);
/// assert_eq!(lambda_flags("nodejs22.x", Some("--experimental-require-module"), all),
///            ["--no-experimental-detect-module"]);
/// assert!(lambda_flags("nodejs24.x", None, all).is_empty());
/// ```
pub fn lambda_flags(
    runtime: &str,
    node_options: Option<&str>,
    features: NodeFeatures,
) -> Vec<String> {
    let asks = |flag: &str| node_options.is_some_and(|o| o.split_whitespace().any(|w| w == flag));
    let mut flags = Vec::new();
    let require_off = matches!(runtime, "nodejs20.x" | "nodejs22.x");
    if require_off && features.no_require_module && !asks("--experimental-require-module") {
        flags.push("--no-experimental-require-module".to_owned());
    }
    if runtime == "nodejs22.x" && features.no_detect_module && !asks("--experimental-detect-module")
    {
        flags.push("--no-experimental-detect-module".to_owned());
    }
    flags
}

/// The command of a `nodejs*` function `config`, with Lambda's arguments for Node (see the
/// module's documentation); `None` when Node is not what its command starts (a wrapper
/// script, another program), which is then started as it is.
pub(crate) fn node_command(config: &FunctionConfig) -> Option<Vec<String>> {
    let (program, rest) = config.command.split_first()?;
    let (node, script) = if is_node(program) {
        (program.clone(), None)
    } else {
        (node_of_script(Path::new(program))?, Some(program.clone()))
    };
    let features = NodeFeatures::of(&node);
    let options = config.environment.get("NODE_OPTIONS").map(String::as_str);
    let mut command = vec![node];
    command.extend(node_arguments(config.memory_mb, options));
    let runtime = config.runtime.as_deref().unwrap_or_default();
    command.extend(lambda_flags(runtime, options, features));
    if features.module_hooks && node_path_has_packages(config) {
        command.push("--import".to_owned());
        command.push(data_url(NODE_PATH_ESM_HOOK));
    }
    command.extend(script);
    command.extend(rest.iter().cloned());
    Some(command)
}

/// Whether the function's `NODE_PATH` will name a `node_modules` directory: a layer's, or
/// one the function's own `NODE_PATH` names.
fn node_path_has_packages(config: &FunctionConfig) -> bool {
    let layers = super::layers::search_paths(&config.resolved_layers, config.runtime.as_deref());
    !layers.node.is_empty()
        || config.environment.get("NODE_PATH").is_some_and(|p| {
            p.split(':')
                .any(|d| d.trim_end_matches('/').ends_with("node_modules"))
        })
}

/// `source` as a `data:` URL of a JavaScript module, base64-encoded, without its comment
/// lines and indentation (it shows in `process.execArgv` and in the stack of an error
/// thrown through it: the shorter the better).
fn data_url(source: &str) -> String {
    use base64::Engine as _;
    let compact: Vec<&str> = source
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("//"))
        .collect();
    let encoded = base64::engine::general_purpose::STANDARD.encode(compact.join("\n"));
    format!("data:text/javascript;base64,{encoded}")
}

/// Whether `program` is Node (its file name is `node` or `nodejs`).
pub(crate) fn is_node(program: &str) -> bool {
    matches!(
        Path::new(program).file_name().and_then(|n| n.to_str()),
        Some("node" | "nodejs")
    )
}

/// The Node that the `#!` line of the script at `path` names (`#!/usr/bin/env node`: `node`,
/// looked up on the function's `PATH` as `env` would; `#!/usr/bin/node`: that one); `None`
/// for anything else, including a line with more arguments.
pub(crate) fn node_of_script(path: &Path) -> Option<String> {
    use std::io::Read;
    let mut head = [0u8; 256];
    let mut file = std::fs::File::open(path).ok()?;
    let n = file.read(&mut head).ok()?;
    let line = head[..n]
        .strip_prefix(b"#!")?
        .split(|&b| b == b'\n')
        .next()?;
    let words: Vec<&str> = std::str::from_utf8(line).ok()?.split_whitespace().collect();
    match words.as_slice() {
        [env, node] if Path::new(env).file_name() == Some("env".as_ref()) && is_node(node) => {
            Some((*node).to_owned())
        }
        [node] if is_node(node) => Some((*node).to_owned()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_arguments_follow_the_memory_unless_node_options_sets_a_heap_limit() {
        let args = node_arguments(512, None);
        assert_eq!(
            args[3..],
            ["--max-semi-space-size=25", "--max-old-space-size=461"]
        );
        for options in [
            "--max_semi_space_size=9",
            "--inspect --max-old-space-size=200",
        ] {
            assert_eq!(node_arguments(512, Some(options)).len(), 3, "{options}");
        }
        assert_eq!(node_arguments(512, Some("--inspect")), args);
    }

    #[test]
    fn a_node_gets_only_the_flags_it_takes() {
        let none = NodeFeatures::default();
        assert!(lambda_flags("nodejs22.x", None, none).is_empty());
        let old = NodeFeatures::from_words("detect hooks\n");
        assert_eq!(
            old,
            NodeFeatures {
                no_require_module: false,
                no_detect_module: true,
                module_hooks: true
            }
        );
        assert_eq!(
            lambda_flags("nodejs22.x", None, old),
            ["--no-experimental-detect-module"]
        );
        let all = NodeFeatures::from_words("require detect hooks");
        assert_eq!(
            lambda_flags(
                "nodejs22.x",
                Some("--enable-source-maps --experimental-detect-module"),
                all
            ),
            ["--no-experimental-require-module"]
        );
        // Only the whole flag keeps a feature on.
        assert_eq!(
            lambda_flags("nodejs20.x", Some("--experimental-require-module-x"), all),
            ["--no-experimental-require-module"]
        );
        assert!(lambda_flags("nodejs18.x", None, all).is_empty());
        assert_eq!(NodeFeatures::of("/no/such/node"), none);
    }

    #[test]
    fn the_hook_is_a_compact_data_url_node_can_read() {
        let url = data_url("// a comment\n  import x from 'y';\n\n  export const é = x;\n");
        assert_eq!(
            url,
            "data:text/javascript;base64,aW1wb3J0IHggZnJvbSAneSc7CmV4cG9ydCBjb25zdCDDqSA9IHg7"
        );
        assert!(data_url(NODE_PATH_ESM_HOOK).len() < 2500);
    }

    #[test]
    fn node_is_found_as_the_program_or_on_the_scripts_first_line() {
        assert!(is_node("/opt/node/bin/node") && is_node("nodejs") && !is_node("ric.mjs"));
        let dir = std::env::temp_dir().join(format!("firebox-node-shebang-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for (first_line, node) in [
            ("#!/usr/bin/env node\n", Some("node")),
            ("#! /usr/local/bin/node\n", Some("/usr/local/bin/node")),
            ("#!/usr/bin/env -S node --inspect\n", None),
            ("#!/bin/sh\n", None),
            ("console.log(1)\n", None),
        ] {
            let script = dir.join("script");
            std::fs::write(&script, format!("{first_line}rest\n")).unwrap();
            assert_eq!(node_of_script(&script).as_deref(), node, "{first_line}");
        }
        assert_eq!(node_of_script(Path::new("/no/such/ric")), None);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
