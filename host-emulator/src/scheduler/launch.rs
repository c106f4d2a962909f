//! Starting a version's scheduler: the [`Launcher`] a function's versions share, the task it
//! spawns for each version (with its code watcher), and [`PoolTasks`], the list of every
//! scheduler task that a shutdown waits for.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use super::{capacity, code, provisioning, Capacity, FunctionShared, IdleSlots, Pool};
use crate::config::FunctionConfig;
use crate::environment::process::{Isolation, ProcessRegistry};
use crate::environment::AbortOnDrop;
use crate::logs::FunctionLog;

/// The scheduler tasks of every version of every function, those started while the emulator
/// runs included, so that a shutdown waits for all of them.
#[derive(Debug, Default)]
pub(crate) struct PoolTasks(Mutex<Vec<tokio::task::JoinHandle<()>>>);

impl PoolTasks {
    /// Adds a task, dropping those that have ended (the schedulers of replaced settings).
    fn push(&self, task: tokio::task::JoinHandle<()>) {
        // A poisoned lock still holds a whole list: nothing that can panic runs under it.
        let mut tasks = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        tasks.retain(|t| !t.is_finished());
        tasks.push(task);
    }

    /// How many of the tasks are still running.
    pub fn running(&self) -> usize {
        let tasks = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        tasks.iter().filter(|t| !t.is_finished()).count()
    }

    /// Takes every task started so far.
    pub fn take(&self) -> Vec<tokio::task::JoinHandle<()>> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// What a function's versions share, to start the scheduler of one of them: at start-up for
/// `$LATEST` and each declared version, and later for each `PublishVersion` and each new
/// `$LATEST` of an `UpdateFunctionConfiguration`.
#[derive(Debug, Clone)]
pub(crate) struct Launcher {
    pub registry: ProcessRegistry,
    /// The function's concurrency and counters, shared by all its versions.
    pub capacity: Arc<Capacity>,
    pub isolation: Isolation,
    pub shutdown: watch::Receiver<bool>,
    pub tasks: Arc<PoolTasks>,
    /// Where a published version's copy of its code on disk is made.
    pub store: Arc<crate::package::PackageStore>,
    /// The layer versions a settings update may name.
    pub layers: Arc<crate::layer_versions::LayerVersions>,
}

impl Launcher {
    /// Starts the scheduler task of one function version (`$LATEST` or a published one),
    /// writing to `log`.
    pub fn start(&self, config: FunctionConfig, log: FunctionLog) -> Arc<FunctionShared> {
        let (shared, task) = start(
            config,
            log,
            self.registry.clone(),
            self.capacity.clone(),
            self.isolation.clone(),
            self.shutdown.clone(),
        );
        self.tasks.push(task);
        shared
    }
}

/// Starts the scheduler task of one function version (`$LATEST` or a published one), whose
/// `capacity` and counters it shares with the function's other versions.
fn start(
    config: FunctionConfig,
    log: FunctionLog,
    registry: ProcessRegistry,
    capacity: Arc<Capacity>,
    isolation: Isolation,
    shutdown: watch::Receiver<bool>,
) -> (Arc<FunctionShared>, tokio::task::JoinHandle<()>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let metrics = capacity.metrics().clone();
    let version_counters = metrics.version(config.version());
    // A version is `$LATEST` or digits (checked when the configuration was validated).
    let executed_version = http::HeaderValue::from_str(config.version())
        .unwrap_or_else(|_| http::HeaderValue::from_static(crate::config::LATEST));
    let tick =
        (config.idle_timeout / 4).clamp(Duration::from_millis(10), Duration::from_millis(250));
    let provisioned = Arc::new(capacity::ProvisionedShare::new(
        config.provisioned_concurrency,
    ));
    let shared = Arc::new(FunctionShared {
        config,
        log,
        registry,
        pool: tx,
        metrics,
        capacity,
        provisioned,
        isolation,
        idle: IdleSlots::default(),
        deferred_waiting: AtomicBool::new(false),
        code_generation: AtomicU64::new(0),
        executed_version,
        version_counters,
        revision_id: crate::ids::request_id(),
        last_modified: crate::ids::lambda_timestamp(),
    });
    let code_watch = code::CodePaths::of(&shared.config).map(|paths| {
        AbortOnDrop(tokio::spawn(code::watch(
            paths,
            shared.pool.clone(),
            code::POLL_INTERVAL,
        )))
    });
    let pool = Pool {
        shared: shared.clone(),
        rx,
        envs: HashMap::new(),
        deferred: VecDeque::new(),
        created: VecDeque::new(),
        next_id: 0,
        tasks: JoinSet::new(),
        shutdown,
        tick,
        provisioned: provisioning::Provisioned::new(shared.config.provisioned_concurrency),
        generation: 0,
        retired: None,
        replaced: false,
        deleted: false,
        _code_watch: code_watch,
    };
    (shared, tokio::spawn(pool.run()))
}
