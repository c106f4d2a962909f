//! A warning for Node functions whose runtime client does not follow their runtime's handler
//! rules. AWS's `aws-lambda-ric` 4 and later implements `nodejs24.x`'s (callback handlers fail
//! with `Runtime.CallbackHandlerDeprecated`, an unhandled promise rejection ends the process),
//! whichever `nodejs*` runtime the function names; `nodejs18.x`–`nodejs22.x` keep callbacks
//! and report `Runtime.UnhandledPromiseRejection` on Lambda.

use std::path::{Path, PathBuf};

use super::FunctionConfig;

/// The first Node.js major whose rules `aws-lambda-ric` 4 applies.
const RULES_OF: u32 = 24;

impl FunctionConfig {
    /// Says so when the function names a `nodejs` runtime older than 24 and its command runs
    /// `aws-lambda-ric` 4 or later (found through the `package.json` above a program or a
    /// script of the command), for a warning at load.
    pub fn node_client_notice(&self) -> Option<String> {
        let runtime = self.runtime.as_deref()?;
        let major: u32 = runtime
            .strip_prefix("nodejs")?
            .split('.')
            .next()?
            .parse()
            .ok()?;
        if major >= RULES_OF {
            return None;
        }
        let (package, version) = self
            .command
            .iter()
            .find_map(|arg| client_of(Path::new(arg)))?;
        let client_major: u32 = version.split('.').next()?.parse().ok()?;
        if client_major < 4 {
            return None;
        }
        Some(format!(
            "function `{}`: it names {runtime}, but its runtime client aws-lambda-ric {version} ({}) applies nodejs{RULES_OF}.x's handler rules: callback handlers fail with Runtime.CallbackHandlerDeprecated, and an unhandled promise rejection ends the process; for {runtime}'s rules give it an aws-lambda-ric 3.x in [runtimes]",
            self.name,
            package.display()
        ))
    }
}

/// The `package.json` of the `aws-lambda-ric` package that `path` (a program or a script,
/// through symbolic links) belongs to, and the package's version.
fn client_of(path: &Path) -> Option<(PathBuf, String)> {
    let real = std::fs::canonicalize(path).ok()?;
    real.ancestors().skip(1).take(4).find_map(|dir| {
        let package = dir.join("package.json");
        let text = std::fs::read_to_string(&package).ok()?;
        let json: serde_json::Value = serde_json::from_str(&text).ok()?;
        (json["name"] == "aws-lambda-ric")
            .then(|| Some((package, json["version"].as_str()?.to_owned())))
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(version: &str) -> PathBuf {
        let root = crate::testing::temp_dir("node-client");
        let package = root.join("node_modules/aws-lambda-ric");
        std::fs::create_dir_all(package.join("bin")).unwrap();
        std::fs::write(
            package.join("package.json"),
            format!(r#"{{"name": "aws-lambda-ric", "version": "{version}"}}"#),
        )
        .unwrap();
        std::fs::write(package.join("bin/index.mjs"), "#!/usr/bin/env node\n").unwrap();
        std::fs::create_dir_all(root.join("node_modules/.bin")).unwrap();
        std::os::unix::fs::symlink(
            "../aws-lambda-ric/bin/index.mjs",
            root.join("node_modules/.bin/aws-lambda-ric"),
        )
        .unwrap();
        root
    }

    fn function(runtime: &str, command: &[&Path]) -> FunctionConfig {
        let mut f = FunctionConfig::new("f");
        f.runtime = Some(runtime.to_owned());
        f.command = command.iter().map(|p| p.display().to_string()).collect();
        f
    }

    #[test]
    fn aws_lambda_ric_4_under_an_older_node_runtime_is_named() {
        let v4 = client("4.0.2");
        let bin = v4.join("node_modules/.bin/aws-lambda-ric");
        let notice = function("nodejs20.x", &[&bin])
            .node_client_notice()
            .unwrap();
        assert!(notice.contains("nodejs20.x"), "{notice}");
        assert!(notice.contains("aws-lambda-ric 4.0.2"), "{notice}");
        assert!(notice.contains("CallbackHandlerDeprecated"), "{notice}");
        // Node started on the client's script, as the test fixtures do.
        let script = v4.join("node_modules/aws-lambda-ric/bin/index.mjs");
        let node = Path::new("/usr/bin/node");
        assert!(function("nodejs22.x", &[node, &script])
            .node_client_notice()
            .is_some());
        // Its own rules: nothing to say.
        assert_eq!(function("nodejs24.x", &[&bin]).node_client_notice(), None);
        assert_eq!(function("python3.12", &[&bin]).node_client_notice(), None);

        let v3 = client("3.2.1");
        let bin3 = v3.join("node_modules/.bin/aws-lambda-ric");
        assert_eq!(function("nodejs20.x", &[&bin3]).node_client_notice(), None);
        std::fs::remove_dir_all(&v4).unwrap();
        std::fs::remove_dir_all(&v3).unwrap();
    }
}
