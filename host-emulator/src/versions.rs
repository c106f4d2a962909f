//! A function at run time: the scheduler of `$LATEST` and of each published version, and the
//! aliases an invoke's qualifier is resolved against. Each version has environments of its
//! own (as on Lambda, where an alias shares the environments of the version it names); all
//! share the function's concurrency, counters and log.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::aliases::Aliases;
use crate::config::LATEST;
use crate::scheduler::FunctionShared;

/// One function's versions (fixed after start-up) and aliases (changed through the control
/// plane: see [`crate::aliases`]).
#[derive(Debug)]
pub(crate) struct Function {
    /// `$LATEST`.
    pub latest: Arc<FunctionShared>,
    /// The published versions, by number.
    pub versions: BTreeMap<String, Arc<FunctionShared>>,
    /// The aliases, by name.
    pub aliases: Aliases,
}

impl Function {
    /// The version an invocation with this qualifier runs (a version number, an alias, or
    /// `$LATEST`; none means `$LATEST`). An alias that routes to two versions picks one at
    /// random by their weights, per invocation, as Lambda does.
    pub fn resolve(&self, qualifier: Option<&str>) -> Option<&Arc<FunctionShared>> {
        let qualifier = qualifier.unwrap_or(LATEST);
        if let Some(version) = self.version(qualifier) {
            return Some(version);
        }
        self.aliases
            .pick(qualifier, fastrand::f64(), |version| self.version(version))
            .flatten()
    }

    /// `$LATEST` or a published version, by its name (not an alias).
    pub fn version(&self, version: &str) -> Option<&Arc<FunctionShared>> {
        if version == LATEST {
            Some(&self.latest)
        } else {
            self.versions.get(version)
        }
    }

    /// `$LATEST`, then every published version.
    pub fn all(&self) -> impl Iterator<Item = &Arc<FunctionShared>> {
        std::iter::once(&self.latest).chain(self.versions.values())
    }
}
