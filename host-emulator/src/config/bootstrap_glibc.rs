//! A warning for a function of `provided.al2023` or `provided.al2` whose `bootstrap` needs a
//! newer glibc than that runtime has (2.34 and 2.26): it runs here, on this machine's glibc,
//! and would fail to start on Lambda (`GLIBC_2.xx' not found`), so the local run should say so.
//! The binary is read to find out, off the async workers ([`warn_in_background`]).

use super::FunctionConfig;
use crate::deployment_package::{inspect, GlibcVersion, AL2023_GLIBC, AL2_GLIBC};

impl FunctionConfig {
    /// Says so when the function names `provided.al2023` or `provided.al2` and its code
    /// directory's `bootstrap` is an ELF executable that needs a newer glibc than that
    /// runtime's (reads the binary: blocking).
    pub fn bootstrap_glibc_notice(&self) -> Option<String> {
        let runtime = self.runtime.as_deref()?;
        let has: GlibcVersion = match runtime {
            "provided.al2023" => AL2023_GLIBC,
            "provided.al2" => AL2_GLIBC,
            _ => return None,
        };
        let bootstrap = self.code_dir.as_ref()?.join("bootstrap");
        let bytes = std::fs::read(&bootstrap).ok()?;
        let needs = inspect(&bytes).ok()?.glibc?;
        (needs > has).then(|| {
            format!(
                "function `{}`: its bootstrap ({}) needs glibc {needs}, newer than the {has} of {runtime}: it runs here on this machine's glibc, but on Lambda it would fail to start (\"GLIBC_{needs}' not found\"); build it on a system with glibc {has} or older, or for a musl target",
                self.name,
                bootstrap.display()
            )
        })
    }
}

/// Logs the [`FunctionConfig::bootstrap_glibc_notice`] of each function, read on a blocking
/// thread of the current tokio runtime (none is started without one).
pub(crate) fn warn_in_background(functions: Vec<FunctionConfig>) {
    let relevant: Vec<FunctionConfig> = functions
        .into_iter()
        .filter(|f| {
            matches!(
                f.runtime.as_deref(),
                Some("provided.al2023" | "provided.al2")
            )
        })
        .collect();
    if relevant.is_empty() {
        return;
    }
    if let Ok(handle) = tokio::runtime::Handle::try_current() {
        handle.spawn_blocking(move || {
            for notice in relevant
                .iter()
                .filter_map(FunctionConfig::bootstrap_glibc_notice)
            {
                tracing::warn!("{notice}");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bootstrap_newer_than_the_runtime_is_named() {
        // This machine's /bin/true needs the glibc it was built against (2.34 or newer on
        // the machines this runs on): newer than provided.al2's 2.26.
        let dir = std::env::temp_dir().join(format!(
            "firebox-{}-bootstrap-glibc-{}",
            std::process::id(),
            fastrand::u32(..)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy("/bin/true", dir.join("bootstrap")).unwrap();
        let mut f = FunctionConfig::new("old").runtime("provided.al2");
        f.code_dir = Some(dir.clone());
        let notice = f.bootstrap_glibc_notice().expect("newer than 2.26");
        assert!(
            notice.starts_with("function `old`: its bootstrap"),
            "{notice}"
        );
        assert!(
            notice.contains("newer than the 2.26 of provided.al2"),
            "{notice}"
        );
        // A script is not an ELF binary; another runtime is not checked.
        std::fs::write(dir.join("bootstrap"), "#!/bin/sh\n").unwrap();
        assert_eq!(f.bootstrap_glibc_notice(), None);
        let mut python = FunctionConfig::new("py").runtime("python3.12");
        python.code_dir = Some(dir.clone());
        assert_eq!(python.bootstrap_glibc_notice(), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
