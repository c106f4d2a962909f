//! Validation of a [`FunctionConfig`]: every field's range and form, Lambda's reserved variable
//! names and 4 KB limit, and paths resolved against the configuration file's directory.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{
    AccountConfig, ConfigError, FunctionConfig, MAX_ENVIRONMENT_BYTES, MAX_EXTENSIONS,
    RESERVED_VARIABLES,
};

/// Lambda's longest function (and version, and alias) description.
pub const MAX_DESCRIPTION: usize = 256;
/// Lambda's longest handler.
const MAX_HANDLER: usize = 128;

impl FunctionConfig {
    /// Checks every field and resolves paths against `base` (the directory of the
    /// configuration file, or the current directory). `file` names the source in messages.
    pub fn validate(mut self, file: &str, base: &Path) -> Result<Self, ConfigError> {
        // Versions are resolved from the settings as given, before paths are resolved below,
        // and checked once the function's own settings are known to be valid.
        let given = self.clone();
        let function = self.name.clone();
        let field_error = |field: &str, message: String| ConfigError::Field {
            file: file.to_owned(),
            function: function.clone(),
            field: field.to_owned(),
            message,
        };
        if self.name.is_empty()
            || self.name.len() > 64
            || !self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(field_error(
                "name",
                "must be 1 to 64 letters, digits, `-` or `_`".into(),
            ));
        }
        if let Err((field, message)) = self.check_settings() {
            return Err(field_error(field, message));
        }
        if self.init_timeout.is_zero() {
            return Err(field_error(
                "init_timeout_s",
                "must be more than 0 seconds".into(),
            ));
        }
        if self.stream_max_bytes == 0 {
            return Err(field_error("stream_max_bytes", "must be positive".into()));
        }
        crate::scheduler::limits::check_function(&self, file, &AccountConfig::default())?;
        if self.region.is_empty()
            || !self
                .region
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Err(field_error(
                "region",
                format!("`{}` is not a region name", self.region),
            ));
        }
        if self.account_id.len() != 12 || !self.account_id.chars().all(|c| c.is_ascii_digit()) {
            return Err(field_error(
                "account_id",
                format!("`{}` is not a 12-digit account id", self.account_id),
            ));
        }
        let layers = super::layers::resolve(&mut self.layers, base, file)
            .map_err(|message| field_error("layers", message))?;
        self.apply_layers(layers)
            .map_err(|message| field_error("layers", message))?;
        check_extensions(&mut self.extensions, base)
            .map_err(|message| field_error("extensions", message))?;
        if let Some(Err((field, message))) = self.event_invoke.as_ref().map(|e| e.check()) {
            return Err(field_error(field, message));
        }
        if self.runtime.is_some() {
            if !self.command.is_empty() {
                return Err(field_error(
                    "runtime",
                    "give `runtime` or `command`, not both".into(),
                ));
            }
            if self.code_dir.is_none() {
                return Err(field_error(
                    "code_dir",
                    "a function with a `runtime` runs the code in `code_dir`: give it".into(),
                ));
            }
        }
        self.code_dir_given = self.code_dir.is_some();
        if let Some(dir) = &self.code_dir {
            let dir = base.join(dir);
            if !dir.is_dir() {
                return Err(field_error(
                    "code_dir",
                    format!("`{}` is not a directory", dir.display()),
                ));
            }
            self.code_dir = Some(dir);
        }
        match self.command.first() {
            None => match &self.code_dir {
                Some(dir) => {
                    // A managed runtime's command comes with `apply_runtimes`.
                    self.launch = super::runtimes::Launch::Bootstrap;
                    self.command = vec![dir.join("bootstrap").display().to_string()];
                }
                None => {
                    return Err(field_error(
                        "command",
                        "give `command`, `code_dir` (which holds `bootstrap`), or both".into(),
                    ))
                }
            },
            Some(program) if program.is_empty() => {
                return Err(field_error("command", "the program name is empty".into()))
            }
            Some(program) => {
                self.launch = super::runtimes::Launch::Command;
                self.program_from_path = !program.contains('/');
                let resolved = resolve_program(program, base);
                self.command[0] = resolved.display().to_string();
            }
        }
        if self.code_dir.is_none() {
            let program = Path::new(&self.command[0]);
            let dir = match program.parent() {
                Some(parent) if program.is_absolute() && self.command[0].contains('/') => {
                    parent.to_path_buf()
                }
                _ => base.to_path_buf(),
            };
            self.code_dir = Some(dir);
        }
        // Lambda's limit of the code and the layers together (only with layers; the code
        // directory is measured now).
        crate::code_size::check_function(&self).map_err(|e| {
            let code_dir = self.code_dir.as_deref().filter(|_| self.code_dir_given);
            field_error("layers", e.in_configuration(code_dir))
        })?;
        self.published = given.resolve_versions(file, base)?;
        Ok(self)
    }

    /// Checks the settings `UpdateFunctionConfiguration` can change as well as the
    /// configuration file: the description, memory, timeout, variables (Lambda's reserved
    /// names and 4 KB limit) and logging. The error names the configuration file's field.
    pub(crate) fn check_settings(&self) -> Result<(), (&'static str, String)> {
        check_description(&self.description)?;
        if let Some(handler) = &self.handler {
            if handler.is_empty()
                || handler.len() > MAX_HANDLER
                || handler.contains(char::is_whitespace)
            {
                return Err((
                    "handler",
                    format!(
                        "must be 1 to {MAX_HANDLER} characters without spaces (got `{handler}`)"
                    ),
                ));
            }
        }
        if !(128..=10240).contains(&self.memory_mb) {
            return Err((
                "memory_mb",
                format!("must be between 128 and 10240 (got {})", self.memory_mb),
            ));
        }
        if self.timeout < Duration::from_secs(1) || self.timeout > Duration::from_secs(900) {
            return Err((
                "timeout_s",
                format!(
                    "must be between 1 and 900 seconds (got {})",
                    self.timeout.as_secs_f64()
                ),
            ));
        }
        for (key, value) in &self.environment {
            if RESERVED_VARIABLES.contains(&key.as_str()) {
                return Err((
                    "environment",
                    format!("`{key}` is reserved by Lambda and cannot be set"),
                ));
            }
            if key.is_empty()
                || key.starts_with(|c: char| c.is_ascii_digit())
                || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            {
                return Err((
                    "environment",
                    format!("`{key}` is not a valid variable name"),
                ));
            }
            if value.contains('\0') {
                return Err((
                    "environment",
                    format!("the value of `{key}` contains a NUL byte"),
                ));
            }
        }
        let size = environment_size(&self.environment);
        if size > MAX_ENVIRONMENT_BYTES {
            return Err((
                "environment",
                format!(
                    "variables take {size} bytes as JSON (`{{\"NAME\":\"value\",...}}`, as Lambda measures them), more than the {MAX_ENVIRONMENT_BYTES}-byte limit"
                ),
            ));
        }
        self.logging.check()
    }
}

/// The size Lambda holds against the 4 KB limit: the variables' JSON text,
/// `{"NAME":"value",...}`, escapes included.
fn environment_size(environment: &std::collections::BTreeMap<String, String>) -> usize {
    // Serialising a map of strings cannot fail; a failure would only make the size 0 here,
    // and the names and values were checked above.
    serde_json::to_vec(environment).map_or(0, |json| json.len())
}

/// The file name of functions built in code (by [`crate::EmulatorBuilder`] and
/// [`crate::Emulator::create_function`]).
pub(crate) const IN_CODE: &str = "<code>";

/// How a message names `field` of a function of `file`: ``field `timeout_s` `` for a
/// configuration file; for a function built in code, the [`FunctionConfig`] builder method
/// that sets it as well, ``.timeout()` (field `timeout_s`)``.
pub(crate) fn field_label(file: &str, field: &str) -> String {
    let method = (file == IN_CODE).then(|| builder_method(field)).flatten();
    match method {
        Some(method) => format!("`{method}` (field `{field}`)"),
        None => format!("field `{field}`"),
    }
}

/// The [`FunctionConfig`] builder method that sets `field` (or the part of it before the
/// first `.`), when there is one.
fn builder_method(field: &str) -> Option<&'static str> {
    let head = field.split('.').next().unwrap_or(field);
    Some(match head {
        "name" => "FunctionConfig::new()",
        "command" => ".command()",
        "runtime" => ".runtime()",
        "code_dir" => ".code_dir()",
        "handler" => ".handler()",
        "description" => ".description()",
        "memory_mb" => ".memory_mb()",
        "timeout_s" => ".timeout()",
        "environment" => ".env()",
        "region" => ".region()",
        "account_id" => ".account_id()",
        "reserved_concurrency" => ".reserved_concurrency()",
        "provisioned_concurrency" => ".provisioned_concurrency()",
        "max_concurrency" => ".max_concurrency()",
        "scaling_rate" => ".scaling_rate()",
        "idle_timeout_s" => ".idle_timeout()",
        "init_timeout_s" => ".init_timeout()",
        "stream_max_bytes" => ".stream_max_bytes()",
        "layers" => ".layer()",
        "extensions" => ".extension()",
        "logging" => ".logging()",
        "event_invoke" => ".event_invoke()",
        "url" => ".url()",
        "urls" => ".url_for()",
        _ => return None,
    })
}

/// Checks a function's, version's or alias's description against Lambda's length limit.
pub(crate) fn check_description(description: &str) -> Result<(), (&'static str, String)> {
    if description.chars().count() > MAX_DESCRIPTION {
        return Err((
            "description",
            format!("is longer than {MAX_DESCRIPTION} characters"),
        ));
    }
    Ok(())
}

/// Checks that every destination of an `event_invoke` names another function of `functions`
/// (by name or ARN, in that function's region and account), and, when qualified, one of its
/// declared versions or aliases.
pub fn check_destinations(functions: &[FunctionConfig], file: &str) -> Result<(), ConfigError> {
    for f in functions {
        let Some(config) = &f.event_invoke else {
            continue;
        };
        for (field, to) in [
            ("event_invoke.on_success", &config.on_success),
            ("event_invoke.on_failure", &config.on_failure),
        ] {
            let Some(to) = to else { continue };
            let error = |message: String| ConfigError::Field {
                file: file.to_owned(),
                function: f.name.clone(),
                field: field.to_owned(),
                message,
            };
            let target = crate::arn::FunctionRef::parse(to)
                .ok_or_else(|| error(format!("`{to}` is not a function name or ARN")))?;
            if target.name == f.name {
                return Err(error(
                    "a function cannot be its own destination (Lambda refuses it)".into(),
                ));
            }
            let g = functions
                .iter()
                .find(|g| g.name == target.name)
                .ok_or_else(|| error(format!("`{to}` is not a function of this configuration")))?;
            let elsewhere = |named: &Option<String>, actual: &str| {
                named.as_deref().is_some_and(|n| n != actual)
            };
            if elsewhere(&target.region, &g.region) || elsewhere(&target.account, &g.account_id) {
                return Err(error(format!(
                    "`{to}` is not a function of this emulator: `{}` is in region {} of account \
                     {} (nothing else is reachable)",
                    g.name, g.region, g.account_id
                )));
            }
            if let Some(q) = &target.qualifier {
                let declared = q == super::LATEST
                    || g.aliases.contains_key(q)
                    || q.parse::<u32>().is_ok_and(|v| g.versions.contains_key(&v));
                if !declared {
                    return Err(error(format!(
                        "`{q}` is neither `$LATEST` nor a version or alias declared for `{}`",
                        g.name
                    )));
                }
            }
        }
    }
    Ok(())
}

/// Extensions: at most [`MAX_EXTENSIONS`], each an existing executable file with a file name
/// of its own; paths become absolute. The error is the message for the field `extensions`.
fn check_extensions(extensions: &mut [PathBuf], base: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    if extensions.len() > MAX_EXTENSIONS {
        return Err(format!(
            "{} extensions, more than Lambda's limit of {MAX_EXTENSIONS}",
            extensions.len()
        ));
    }
    let mut names = std::collections::BTreeSet::new();
    for path in extensions.iter_mut() {
        *path = base.join(&*path);
        let executable = std::fs::metadata(&*path)
            .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            .map_err(|e| format!("`{}`: {e}", path.display()))?;
        if !executable {
            return Err(format!("`{}` is not an executable file", path.display()));
        }
        if !names.insert(super::extension_name(path)) {
            return Err(format!("two extensions are named `{}`: extensions register under their file name, which must be unique", super::extension_name(path)));
        }
    }
    Ok(())
}

impl FunctionConfig {
    /// Makes `layers` the function's, in place of the ones it has, with their extensions in
    /// place of the old layers' (after the function's own, as Lambda starts
    /// `/opt/extensions/*`), all checked; the error names the field. Nothing changes on an
    /// error. For a validated function (its paths absolute), as the control plane changes it.
    pub(crate) fn set_layers(
        &mut self,
        layers: Vec<super::layers::Layer>,
    ) -> Result<(), (&'static str, String)> {
        super::layers::check_count(layers.len()).map_err(|m| ("layers", m))?;
        let mut changed = self.clone();
        changed.apply_layers(layers).map_err(|m| ("layers", m))?;
        check_extensions(&mut changed.extensions, Path::new("/")).map_err(|m| ("extensions", m))?;
        *self = changed;
        Ok(())
    }

    /// Puts `layers` in place of the function's and their extensions in place of the old
    /// layers' (unchecked but for the layers' own files); the error is the message for the
    /// field `layers`.
    fn apply_layers(&mut self, layers: Vec<super::layers::Layer>) -> Result<(), String> {
        let found = super::layers::extensions(&layers)?;
        let old = std::mem::take(&mut self.layer_extensions);
        self.extensions.retain(|e| !old.contains(e));
        // A layer's extension listed as one of the function's own already runs once.
        for extension in found {
            if !self.extensions.contains(&extension) {
                self.extensions.push(extension.clone());
                self.layer_extensions.push(extension);
            }
        }
        self.layers = layers.iter().map(|l| l.dir.clone()).collect();
        self.resolved_layers = layers;
        Ok(())
    }
}

impl FunctionConfig {
    /// Why the function's program cannot be started as it is on disk now (missing, not a
    /// file, not executable), for a warning at load: Lambda deploys such code too, and its
    /// first invoke fails with `Runtime.InvalidEntrypoint`, but a typo is better seen at once.
    ///
    /// Programs were resolved at load, a bare name on the emulator's `PATH` (`command`'s, and
    /// a runtime's, its default's included): one still bare was found nowhere there.
    pub fn entrypoint_problem(&self) -> Option<String> {
        use std::os::unix::fs::PermissionsExt;
        let given = self.command.first()?;
        let program = Path::new(given);
        let problem = match std::fs::metadata(program) {
            _ if !given.contains('/') => "is not on the emulator's PATH",
            Err(_) => "does not exist",
            Ok(meta) if !meta.is_file() => "is not a file",
            Ok(meta) if meta.permissions().mode() & 0o111 == 0 => "is not executable",
            Ok(_) => return None,
        };
        Some(format!(
            "function `{}`: the program {} {problem}; its invokes will fail with Runtime.InvalidEntrypoint until it does",
            self.name,
            program.display()
        ))
    }
}

/// Makes a program path absolute: paths with a `/` are relative to `base`; bare names are
/// looked up on the emulator's own `PATH` (the function's `PATH` is Lambda's, not ours).
pub(super) fn resolve_program(program: &str, base: &Path) -> PathBuf {
    if program.contains('/') {
        return base.join(program);
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(program);
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    PathBuf::from(program)
}
