//! Settings Lambda keeps for a function that change nothing about how it runs on this
//! machine, stored so that deploy tools which write them and read them back work unchanged:
//!
//! - the runtime management configuration of `$LATEST` and of each published version
//!   (`PutRuntimeManagementConfig`, `GetRuntimeManagementConfig`): a command of this machine
//!   runs the function, whatever runtime version the configuration names;
//! - the recursive loop setting of the function (`PutFunctionRecursionConfig`,
//!   `GetFunctionRecursionConfig`): the emulator does not detect recursive loops.
//!
//! Both sit behind `std` mutexes, held only to read or change a value; no other lock is taken
//! while one is held. A deleted version takes its runtime management configuration along.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

/// When Lambda would move a function to a new runtime version (`UpdateRuntimeOn`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum UpdateRuntimeOn {
    /// With Lambda's automatic runtime updates (the default).
    #[default]
    Auto,
    /// When the function's code or settings are next updated.
    FunctionUpdate,
    /// Never: the function stays on `RuntimeVersionArn`.
    Manual,
}

impl UpdateRuntimeOn {
    /// Lambda's name for the mode.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auto => "Auto",
            Self::FunctionUpdate => "FunctionUpdate",
            Self::Manual => "Manual",
        }
    }

    /// The mode Lambda names `name`.
    pub fn parse(name: &str) -> Option<Self> {
        [Self::Auto, Self::FunctionUpdate, Self::Manual]
            .into_iter()
            .find(|m| m.as_str() == name)
    }
}

/// A version's runtime management configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuntimeManagement {
    /// The update mode.
    pub update_runtime_on: UpdateRuntimeOn,
    /// The runtime version, given with (and only with) [`UpdateRuntimeOn::Manual`].
    pub runtime_version_arn: Option<String>,
}

/// Why a runtime management configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuntimeManagementError {
    /// `Manual` without a runtime version.
    #[error("RuntimeVersionArn is required when UpdateRuntimeOn is Manual")]
    MissingRuntimeVersion,
    /// A runtime version with `Auto` or `FunctionUpdate`.
    #[error("RuntimeVersionArn can be given only when UpdateRuntimeOn is Manual, not {0}")]
    UnexpectedRuntimeVersion(&'static str),
    /// A runtime version that is not a runtime ARN.
    #[error(
        "1 validation error detected: Value '{0}' at 'runtimeVersionArn' failed to satisfy \
         constraint: Member must be a runtime version ARN \
         (arn:aws:lambda:REGION::runtime:ID)"
    )]
    InvalidRuntimeVersion(String),
}

impl RuntimeManagement {
    /// A configuration, checked as Lambda checks it.
    pub fn new(
        update_runtime_on: UpdateRuntimeOn,
        runtime_version_arn: Option<String>,
    ) -> Result<Self, RuntimeManagementError> {
        match (update_runtime_on, &runtime_version_arn) {
            (UpdateRuntimeOn::Manual, None) => Err(RuntimeManagementError::MissingRuntimeVersion),
            (UpdateRuntimeOn::Manual, Some(arn)) if !is_runtime_version_arn(arn) => Err(
                RuntimeManagementError::InvalidRuntimeVersion(arn.to_owned()),
            ),
            (mode @ (UpdateRuntimeOn::Auto | UpdateRuntimeOn::FunctionUpdate), Some(_)) => Err(
                RuntimeManagementError::UnexpectedRuntimeVersion(mode.as_str()),
            ),
            _ => Ok(Self {
                update_runtime_on,
                runtime_version_arn,
            }),
        }
    }
}

/// `arn:aws[-partition]:lambda:REGION::runtime:ID` (no account).
fn is_runtime_version_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(7, ':').collect();
    matches!(
        parts.as_slice(),
        ["arn", partition, "lambda", region, "", "runtime", id]
            if partition.starts_with("aws") && !region.is_empty() && !id.is_empty()
    ) && arn.len() <= 2048
}

/// What Lambda does when it detects a recursive loop (`RecursiveLoop`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RecursiveLoop {
    /// Let the loop go on.
    Allow,
    /// Stop it (the default).
    #[default]
    Terminate,
}

impl RecursiveLoop {
    /// Lambda's name for the setting.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "Allow",
            Self::Terminate => "Terminate",
        }
    }

    /// The setting Lambda names `name`.
    pub fn parse(name: &str) -> Option<Self> {
        [Self::Allow, Self::Terminate]
            .into_iter()
            .find(|m| m.as_str() == name)
    }
}

/// One function's stored settings.
#[derive(Debug, Default)]
pub(crate) struct StoredSettings {
    /// By version (`$LATEST` or a number); a version without an entry has the default.
    runtime_management: Mutex<BTreeMap<String, RuntimeManagement>>,
    recursive_loop: Mutex<RecursiveLoop>,
}

impl StoredSettings {
    /// `version`'s runtime management configuration.
    pub fn runtime_management(&self, version: &str) -> RuntimeManagement {
        self.runtime_management
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(version)
            .cloned()
            .unwrap_or_default()
    }

    /// Sets `version`'s runtime management configuration.
    pub fn set_runtime_management(&self, version: &str, config: RuntimeManagement) {
        self.runtime_management
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(version.to_owned(), config);
    }

    /// Forgets a deleted version's configuration.
    pub fn remove_version(&self, version: &str) {
        self.runtime_management
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(version);
    }

    /// The recursive loop setting.
    pub fn recursive_loop(&self) -> RecursiveLoop {
        *self
            .recursive_loop
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Sets the recursive loop setting.
    pub fn set_recursive_loop(&self, setting: RecursiveLoop) {
        *self
            .recursive_loop
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = setting;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_runtime_version_goes_with_manual_only() {
        let arn = "arn:aws:lambda:us-east-1::runtime:0a25e3e7a1cc9ce404bc435eeb2ad358d8fa64338e618d0c224fe509403583ca";
        let manual = RuntimeManagement::new(UpdateRuntimeOn::Manual, Some(arn.into())).unwrap();
        assert_eq!(manual.runtime_version_arn.as_deref(), Some(arn));
        assert_eq!(
            RuntimeManagement::new(UpdateRuntimeOn::Manual, None),
            Err(RuntimeManagementError::MissingRuntimeVersion)
        );
        assert_eq!(
            RuntimeManagement::new(UpdateRuntimeOn::Auto, Some(arn.into())),
            Err(RuntimeManagementError::UnexpectedRuntimeVersion("Auto"))
        );
        for bad in [
            "arn:aws:lambda:us-east-1:123456789012:runtime:x",
            "arn:aws:lambda:us-east-1::function:x",
            "arn:aws:lambda:us-east-1::runtime:",
            "runtime",
        ] {
            assert_eq!(
                RuntimeManagement::new(UpdateRuntimeOn::Manual, Some(bad.into())),
                Err(RuntimeManagementError::InvalidRuntimeVersion(bad.into())),
                "{bad}"
            );
        }
        assert_eq!(
            RuntimeManagement::new(UpdateRuntimeOn::FunctionUpdate, None)
                .unwrap()
                .update_runtime_on,
            UpdateRuntimeOn::FunctionUpdate
        );
    }

    #[test]
    fn names_round_trip() {
        for m in ["Auto", "FunctionUpdate", "Manual"] {
            assert_eq!(
                UpdateRuntimeOn::parse(m).map(UpdateRuntimeOn::as_str),
                Some(m)
            );
        }
        assert_eq!(UpdateRuntimeOn::parse("auto"), None);
        for r in ["Allow", "Terminate"] {
            assert_eq!(RecursiveLoop::parse(r).map(RecursiveLoop::as_str), Some(r));
        }
        assert_eq!(RecursiveLoop::parse("Stop"), None);
    }

    #[test]
    fn settings_are_kept_per_version_and_default_until_set() {
        let s = StoredSettings::default();
        assert_eq!(
            s.runtime_management("$LATEST"),
            RuntimeManagement::default()
        );
        assert_eq!(s.recursive_loop(), RecursiveLoop::Terminate);
        let fu = RuntimeManagement::new(UpdateRuntimeOn::FunctionUpdate, None).unwrap();
        s.set_runtime_management("1", fu.clone());
        assert_eq!(s.runtime_management("1"), fu);
        assert_eq!(
            s.runtime_management("$LATEST"),
            RuntimeManagement::default()
        );
        s.remove_version("1");
        assert_eq!(s.runtime_management("1"), RuntimeManagement::default());
        s.set_recursive_loop(RecursiveLoop::Allow);
        assert_eq!(s.recursive_loop(), RecursiveLoop::Allow);
    }
}
