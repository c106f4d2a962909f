//! The functions the emulator runs, by name: those of the configuration, started with the
//! emulator, and those made through the control plane (`CreateFunction`), until they are
//! deleted (`DeleteFunction`).
//!
//! The map sits behind a `std` read-write lock: an invoke reads it to clone one function's
//! `Arc`; a create or a delete writes it. It is never held across an `.await`, and no other
//! lock is taken while it is held. A deleted function leaves the map at once (the next invoke
//! gets 404); its schedulers retire their environments as an update's do, so invocations
//! already running are answered and nothing is cut short, but its throttled events and
//! pending retries are dropped: a deleted function's code never starts again.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError, RwLock};

use tokio::sync::watch;

use crate::aliases::Aliases;
use crate::config::{FunctionConfig, Runtimes, LATEST};
use crate::environment::process::{Isolation, ProcessRegistry};
use crate::event_invoke::EventInvokeConfigs;
use crate::layer_versions::LayerVersions;
use crate::logs::{FunctionLog, LogHub};
use crate::metrics::FunctionMetrics;
use crate::package::PackageStore;
use crate::scheduler::capacity::{Account, Capacity};
use crate::scheduler::{FunctionShared, Launcher, PoolMessage, PoolTasks};
use crate::versions::Function;

/// Every function by name, and what it takes to start one.
#[derive(Debug)]
pub(crate) struct Functions {
    by_name: RwLock<HashMap<String, Arc<Function>>>,
    /// The region of ARNs that name none.
    pub default_region: String,
    /// The account of ARNs that name none.
    pub default_account: String,
    /// What new functions are started with.
    pub deployment: Deployment,
}

/// What every function's schedulers share: the process registry, the isolation, the log
/// hub, the account's concurrency, the shutdown signal and the list of scheduler tasks; plus
/// the runtimes' commands, the store of uploaded packages and the published layer versions.
#[derive(Debug)]
pub(crate) struct Deployment {
    pub logs: Arc<LogHub>,
    pub registry: ProcessRegistry,
    pub isolation: Isolation,
    pub shutdown: watch::Receiver<bool>,
    pub tasks: Arc<PoolTasks>,
    pub account: Arc<Account>,
    pub runtimes: Runtimes,
    pub packages: Arc<PackageStore>,
    pub layers: Arc<LayerVersions>,
    /// How the `Event` invocations ended.
    pub event_outcomes: crate::event_outcomes::EventOutcomes,
}

/// Where an `Event` goes: a function and the qualifier it is invoked with.
#[derive(Debug, Clone)]
pub(crate) struct EventTarget {
    /// The function.
    pub function: Arc<Function>,
    /// `$LATEST`, a version or an alias.
    pub qualifier: String,
    /// Its full ARN, qualified as it was named.
    pub arn: String,
}

/// A function by that name exists already.
#[derive(Debug, thiserror::Error)]
#[error("Function already exist: {0}")]
pub(crate) struct AlreadyExists(pub String);

impl Deployment {
    /// Starts a function: its `$LATEST`, its declared versions and its aliases, each version
    /// with a scheduler of its own and all sharing one concurrency and one log stream.
    pub fn start(&self, mut config: FunctionConfig) -> Function {
        self.logs.add(&config.name);
        let log = FunctionLog::new(self.logs.clone(), &config.name, &config.logging);
        let metrics = Arc::new(FunctionMetrics::default());
        let capacity = Arc::new(Capacity::new(&config, self.account.clone(), metrics));
        let published = std::mem::take(&mut config.published);
        let aliases = std::mem::take(&mut config.aliases);
        let qualifiers = published
            .iter()
            .map(|v| v.version().to_owned())
            .chain(aliases.keys().cloned());
        let event_invoke = EventInvokeConfigs::declared(&config, qualifiers);
        let launcher = Launcher {
            registry: self.registry.clone(),
            capacity,
            isolation: self.isolation.clone(),
            shutdown: self.shutdown.clone(),
            tasks: self.tasks.clone(),
            store: self.packages.clone(),
            layers: self.layers.clone(),
        };
        let versions = published
            .into_iter()
            .map(|v| {
                let log = log.with_logging(&v.logging);
                (v.version().to_owned(), launcher.start(v, log))
            })
            .collect();
        let latest = launcher.start(config, log);
        Function::new(
            latest,
            versions,
            Aliases::new(aliases),
            launcher,
            event_invoke,
        )
    }
}

impl Functions {
    /// The functions of the configuration, started.
    pub fn new(
        functions: Vec<FunctionConfig>,
        default_region: String,
        default_account: String,
        deployment: Deployment,
    ) -> Self {
        let by_name = functions
            .into_iter()
            .map(|f| (f.name.clone(), Arc::new(deployment.start(f))))
            .collect();
        Self {
            by_name: RwLock::new(by_name),
            default_region,
            default_account,
            deployment,
        }
    }

    /// The function named `name`.
    pub fn get(&self, name: &str) -> Option<Arc<Function>> {
        self.read().get(name).cloned()
    }

    /// Every function, ordered by name.
    pub fn all(&self) -> Vec<(String, Arc<Function>)> {
        let mut all: Vec<_> = self
            .read()
            .iter()
            .map(|(n, f)| (n.clone(), f.clone()))
            .collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }

    /// Starts a new function (`CreateFunction`); `config` is validated, with its runtime
    /// applied. Refused when the name is taken.
    pub fn create(&self, config: FunctionConfig) -> Result<Arc<Function>, AlreadyExists> {
        let mut by_name = self.by_name.write().unwrap_or_else(PoisonError::into_inner);
        if by_name.contains_key(&config.name) {
            return Err(AlreadyExists(config.name));
        }
        let name = config.name.clone();
        // Starting spawns the schedulers and returns at once: nothing here waits or panics.
        let function = Arc::new(self.deployment.start(config));
        by_name.insert(name, function.clone());
        Ok(function)
    }

    /// Removes a function (`DeleteFunction`): invokes find it no more, its versions' schedulers
    /// retire their environments once their invocations are answered, its throttled events and
    /// pending retries never run (dropped, with no destination record: its asynchronous
    /// configuration goes with it), and its share of the account's concurrency goes back to
    /// the pool. `None` when there is none by that name.
    pub fn delete(&self, name: &str) -> Option<Arc<Function>> {
        let removed = self
            .by_name
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(name)?;
        {
            // Under the function's writes lock: an update or publish either came first (and
            // its scheduler is retired here) or finds the function deleted.
            let _writes = removed.lock_writes();
            removed.deleted.store(true, Ordering::Release);
            for version in removed.all() {
                // Gone only when the emulator is shutting down, which stops it anyway.
                let _ = version.pool.send(PoolMessage::Deleted);
            }
        }
        // From here nothing more of it is admitted: its throttled events and pending retries
        // are dropped unrun (logged by its schedulers and `asynchronous`).
        removed.capacity().release();
        Some(removed)
    }

    /// The function, version or alias that `to` (a destination: a name, or a partial or
    /// full ARN, maybe qualified) names now; `None` when there is none (in this region and
    /// account).
    pub(crate) fn target(&self, to: &str) -> Option<EventTarget> {
        let r = crate::arn::FunctionRef::parse(to)?;
        let function = self.get(&r.name)?;
        let latest = function.latest();
        if r.region
            .as_ref()
            .is_some_and(|x| *x != latest.config.region)
            || r.account
                .as_ref()
                .is_some_and(|x| *x != latest.config.account_id)
            || r.partition
                .as_deref()
                .is_some_and(|p| p != crate::arn::partition_of(&latest.config.region))
        {
            return None;
        }
        let qualifier = r.qualifier.unwrap_or_else(|| LATEST.to_owned());
        if function.version(&qualifier).is_none() && function.aliases.get(&qualifier).is_none() {
            return None;
        }
        let arn =
            crate::event_invoke::full_arn(to, &latest.config.region, &latest.config.account_id);
        Some(EventTarget {
            function,
            qualifier,
            arn,
        })
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Arc<Function>>> {
        // Poisoned only by a panic inside a map operation; the map is whole.
        self.by_name.read().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Tells a version's scheduler it is no longer reachable: it retires its environments and
/// ends once nothing holds it.
pub(crate) fn retire(version: &FunctionShared) {
    // Gone only when the emulator is shutting down, which stops it anyway.
    let _ = version.pool.send(PoolMessage::Replaced);
}
