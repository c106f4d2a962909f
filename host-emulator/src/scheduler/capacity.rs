//! Concurrency accounting: the account's unreserved pool shared by every function, each
//! function's in-flight count against its reserved or provisioned share, and the [`Permit`]
//! an admitted invocation carries until it is answered. Counters are atomics: admission happens on
//! the invoke path and in the scheduler task at once, releases wherever an invocation ends.
//!
//! A function's reserved concurrency can change while it runs (`PutFunctionConcurrency`,
//! `DeleteFunctionConcurrency`): [`Capacity::set_reserved`] changes it and the account's
//! unreserved pool together. Invocations already admitted keep running; the new limit applies
//! to the next admission, as on Lambda. Its provisioned concurrency can change too
//! (`PutProvisionedConcurrencyConfig`): [`Capacity::set_provisioned`] moves what a function
//! without a reservation sets aside the same way.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crate::config::FunctionConfig;
use crate::invocation::Answer;
use crate::metrics::{FunctionMetrics, VersionCounters};

use super::limits::{set_aside, AccountConfig};

/// `Reason` when the account's unreserved concurrency is used up.
pub const CONCURRENT_LIMIT_EXCEEDED: &str = "ConcurrentInvocationLimitExceeded";
/// `Reason` when a function's reserved concurrency is used up (or is 0).
pub const RESERVED_LIMIT_EXCEEDED: &str = "ReservedFunctionConcurrentInvocationLimitExceeded";
/// `Reason` when a function adds environments faster than its scaling rate allows.
pub const RATE_LIMIT_EXCEEDED: &str = "FunctionInvocationRateLimitExceeded";

/// `reserved` when a function has no reserved concurrency.
const NOT_RESERVED: u32 = u32::MAX;

/// Why a function's reserved concurrency cannot be changed as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReservationError {
    /// The unreserved pool would fall below the account's minimum (Lambda's message).
    #[error(
        "Specified ReservedConcurrentExecutions for function decreases account's \
         UnreservedConcurrentExecution below its minimum value of [{minimum}]."
    )]
    BelowUnreservedMinimum {
        /// The account's `unreserved_minimum`.
        minimum: u32,
    },
    /// The function's versions have more provisioned concurrency than the reservation.
    #[error(
        "ReservedConcurrentExecutions {reserved} is less than the function's provisioned \
         concurrency of {provisioned} (all its versions together)"
    )]
    BelowProvisioned {
        /// The reservation asked for.
        reserved: u32,
        /// The provisioned concurrency of the function's versions.
        provisioned: u32,
    },
}

/// Why a function's provisioned concurrency cannot be changed as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProvisioningError {
    /// More provisioned concurrency than the function's reservation (Lambda's message).
    #[error(
        "Requested Provisioned Concurrency should not be greater than the \
         reservedConcurrentExecution for function"
    )]
    AboveReserved {
        /// The function's reserved concurrency.
        reserved: u32,
    },
    /// The unreserved pool would fall below the account's minimum (Lambda's message).
    #[error(
        "Specified ConcurrentExecutions for function decreases account's \
         UnreservedConcurrentExecution below its minimum value of [{minimum}]."
    )]
    BelowUnreservedMinimum {
        /// The account's `unreserved_minimum`.
        minimum: u32,
    },
}

/// The account: how much unreserved concurrency exists and how much is in use.
#[derive(Debug)]
pub struct Account {
    concurrency: u32,
    unreserved_minimum: u32,
    /// Changes only under `reservations` (a reservation moves concurrency between a function
    /// and the pool); read without it on the invoke path.
    unreserved_limit: AtomicU32,
    unreserved_in_use: AtomicU32,
    in_use: AtomicU32,
    /// Held while a reservation changes, so that two changes cannot both pass the minimum
    /// check. Never held across an `.await`.
    reservations: Mutex<()>,
}

impl Account {
    /// The account for these (validated) functions.
    pub fn new(config: &AccountConfig, functions: &[FunctionConfig]) -> Self {
        let set_aside: u32 = functions.iter().map(set_aside).sum();
        Self {
            concurrency: config.concurrency,
            unreserved_minimum: config.unreserved_minimum,
            unreserved_limit: AtomicU32::new(config.concurrency.saturating_sub(set_aside)),
            unreserved_in_use: AtomicU32::new(0),
            in_use: AtomicU32::new(0),
            reservations: Mutex::new(()),
        }
    }

    /// The account concurrency limit.
    pub fn limit(&self) -> u32 {
        self.concurrency
    }

    /// The unreserved pool's size.
    pub fn unreserved_limit(&self) -> u32 {
        self.unreserved_limit.load(Ordering::Acquire)
    }

    /// Invocations running now, across all functions.
    pub fn in_use(&self) -> u32 {
        self.in_use.load(Ordering::Relaxed)
    }

    /// Invocations running now on the unreserved pool.
    pub fn unreserved_in_use(&self) -> u32 {
        self.unreserved_in_use.load(Ordering::Relaxed)
    }

    fn take_unreserved(&self) -> bool {
        self.unreserved_in_use
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.unreserved_limit()).then_some(n + 1)
            })
            .is_ok()
    }
}

/// One function's share of the account (shared by all its versions, as reserved concurrency
/// is).
#[derive(Debug)]
pub struct Capacity {
    /// The reserved concurrency, or [`NOT_RESERVED`].
    reserved: AtomicU32,
    /// The provisioned concurrency of all its versions and aliases together. Changes only
    /// under the account's `reservations` lock.
    provisioned: AtomicU32,
    /// All its invocations running now (Lambda's `ConcurrentExecutions`).
    in_flight: AtomicU32,
    /// Those of them that run on its reservation's part beyond the provisioned concurrency.
    reserved_in_flight: AtomicU32,
    account: Arc<Account>,
    metrics: Arc<FunctionMetrics>,
}

impl Capacity {
    /// The share of a function.
    pub fn new(
        config: &FunctionConfig,
        account: Arc<Account>,
        metrics: Arc<FunctionMetrics>,
    ) -> Self {
        Self {
            reserved: AtomicU32::new(config.reserved_concurrency.unwrap_or(NOT_RESERVED)),
            provisioned: AtomicU32::new(config.provisioned_total()),
            in_flight: AtomicU32::new(0),
            reserved_in_flight: AtomicU32::new(0),
            account,
            metrics,
        }
    }

    /// The function's reserved concurrency now (`None`: it draws on the unreserved pool).
    pub fn reserved(&self) -> Option<u32> {
        match self.reserved.load(Ordering::Acquire) {
            NOT_RESERVED => None,
            n => Some(n),
        }
    }

    /// Reserves `reserved` concurrency for the function (`None` removes the reservation),
    /// moving the difference between it and the account's unreserved pool. Refused when the
    /// pool would fall below the account's minimum, or below the provisioned concurrency of
    /// the function's versions.
    pub fn set_reserved(&self, reserved: Option<u32>) -> Result<(), ReservationError> {
        let account = &self.account;
        // Nothing inside panics; a poisoned lock still guards a consistent pair of numbers.
        let _changing = account
            .reservations
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let provisioned = self.provisioned();
        if let Some(n) = reserved {
            if n < provisioned {
                return Err(ReservationError::BelowProvisioned {
                    reserved: n,
                    provisioned,
                });
            }
        }
        let aside = |r: Option<u32>| i64::from(r.unwrap_or(provisioned));
        let unreserved =
            i64::from(account.unreserved_limit()) + aside(self.reserved()) - aside(reserved);
        if unreserved < i64::from(account.unreserved_minimum) {
            return Err(ReservationError::BelowUnreservedMinimum {
                minimum: account.unreserved_minimum,
            });
        }
        // In range: at least the minimum (≥ 0) and at most the account's concurrency.
        let unreserved = u32::try_from(unreserved).unwrap_or(0);
        account
            .unreserved_limit
            .store(unreserved, Ordering::Release);
        self.reserved
            .store(reserved.unwrap_or(NOT_RESERVED), Ordering::Release);
        Ok(())
    }

    /// The provisioned concurrency of the function's versions and aliases together.
    pub fn provisioned(&self) -> u32 {
        self.provisioned.load(Ordering::Acquire)
    }

    /// Makes `total` the provisioned concurrency of the function's versions and aliases
    /// together. Under a reservation it must fit in the reservation (the pool is untouched);
    /// without one, the difference moves between the function and the account's unreserved
    /// pool, which may not fall below the account's minimum. A decrease always succeeds.
    pub fn set_provisioned(&self, total: u32) -> Result<(), ProvisioningError> {
        let account = &self.account;
        // Nothing inside panics; a poisoned lock still guards a consistent pair of numbers.
        let _changing = account
            .reservations
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let old = self.provisioned();
        match self.reserved() {
            Some(reserved) if total > old && total > reserved => {
                return Err(ProvisioningError::AboveReserved { reserved });
            }
            Some(_) => {}
            None => {
                let unreserved =
                    i64::from(account.unreserved_limit()) + i64::from(old) - i64::from(total);
                if total > old && unreserved < i64::from(account.unreserved_minimum) {
                    return Err(ProvisioningError::BelowUnreservedMinimum {
                        minimum: account.unreserved_minimum,
                    });
                }
                // At least 0 (clamped) and at most the account's concurrency.
                let unreserved = u32::try_from(unreserved.max(0)).unwrap_or(0);
                account
                    .unreserved_limit
                    .store(unreserved.min(account.concurrency), Ordering::Release);
            }
        }
        self.provisioned.store(total, Ordering::Release);
        Ok(())
    }

    /// Gives what the function sets aside (its reservation, or its versions' provisioned
    /// concurrency) back to the account's unreserved pool, for a deleted function. The
    /// invocations still running keep their permits; nothing is admitted afterwards (a
    /// reservation of 0 that the account does not count), so that no throttled event or
    /// retry of a deleted function ever runs.
    pub(crate) fn release(&self) {
        let account = &self.account;
        // Nothing inside panics; a poisoned lock still guards a consistent pair of numbers.
        let _changing = account
            .reservations
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let aside = self.reserved().unwrap_or(self.provisioned());
        let unreserved = account
            .unreserved_limit()
            .saturating_add(aside)
            .min(account.concurrency);
        account
            .unreserved_limit
            .store(unreserved, Ordering::Release);
        self.reserved.store(0, Ordering::Release);
    }

    /// Invocations of this function running now (Lambda's `ConcurrentExecutions`).
    pub fn in_flight(&self) -> u32 {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// The function's counters.
    pub(crate) fn metrics(&self) -> &Arc<FunctionMetrics> {
        &self.metrics
    }

    /// The account this function belongs to.
    pub fn account(&self) -> &Arc<Account> {
        &self.account
    }

    /// Admits one more invocation of a version whose provisioned concurrency is
    /// `provisioned` (if any), or says why not (the throttle `Reason`). As on Lambda, an
    /// invocation runs on its version's provisioned concurrency while some is free; the rest
    /// run on what the function's reservation keeps beyond its provisioned concurrency, or,
    /// without a reservation, on the account's unreserved pool. So provisioned concurrency
    /// is never taken by another version (`$LATEST`), and a reservation equal to the
    /// provisioned concurrency throttles every invocation that finds none free.
    pub fn admit(
        self: &Arc<Self>,
        provisioned: Option<&Arc<ProvisionedShare>>,
    ) -> Result<Permit, &'static str> {
        // Several tasks admit at once (the invoke path and the scheduler): each bound is
        // checked and taken in one atomic step.
        let reserved = self.reserved();
        let held = match provisioned {
            // A reservation of 0 (or a deleted function's) admits nothing at all.
            Some(share) if reserved != Some(0) && take_below(&share.in_flight, share.limit()) => {
                Held::Provisioned(share.clone())
            }
            _ => match reserved {
                Some(r) => {
                    let beyond = r.saturating_sub(self.provisioned());
                    if !take_below(&self.reserved_in_flight, beyond) {
                        return Err(RESERVED_LIMIT_EXCEEDED);
                    }
                    Held::Reserved
                }
                None if self.account.take_unreserved() => Held::Unreserved,
                None => return Err(CONCURRENT_LIMIT_EXCEEDED),
            },
        };
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.account.in_use.fetch_add(1, Ordering::Relaxed);
        Ok(Permit {
            capacity: self.clone(),
            held,
            version: None,
        })
    }
}

/// Takes one of `counter` if it is below `limit`, in one atomic step.
fn take_below(counter: &AtomicU32, limit: u32) -> bool {
    counter
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
            (n < limit).then_some(n + 1)
        })
        .is_ok()
}

/// One version's provisioned concurrency: how many of its invocations may run on it, and how
/// many do. The limit follows its configurations (see `crate::provisioned`).
#[derive(Debug, Default)]
pub struct ProvisionedShare {
    limit: AtomicU32,
    in_flight: AtomicU32,
}

impl ProvisionedShare {
    /// A version's share of `limit` invocations.
    pub fn new(limit: u32) -> Self {
        Self {
            limit: AtomicU32::new(limit),
            in_flight: AtomicU32::new(0),
        }
    }

    /// How many of its invocations may run on it.
    pub fn limit(&self) -> u32 {
        self.limit.load(Ordering::Acquire)
    }

    /// Changes that number; invocations running on it keep running.
    pub fn set_limit(&self, limit: u32) {
        self.limit.store(limit, Ordering::Release);
    }
}

/// Which concurrency an admitted invocation runs on.
#[derive(Debug)]
enum Held {
    /// Its version's provisioned concurrency.
    Provisioned(Arc<ProvisionedShare>),
    /// Its function's reservation (beyond the provisioned concurrency).
    Reserved,
    /// The account's unreserved pool.
    Unreserved,
}

/// One admitted invocation's hold on its function's and the account's concurrency; released
/// when dropped (the invocation was answered, or dropped unanswered at shutdown).
#[derive(Debug)]
pub struct Permit {
    capacity: Arc<Capacity>,
    held: Held,
    /// The counters of the version the invocation runs, when admitted for one.
    version: Option<Arc<VersionCounters>>,
}

impl Permit {
    /// The permit of an invocation of the version counted by `counters`.
    pub(crate) fn for_version(mut self, counters: &Arc<VersionCounters>) -> Self {
        self.version = Some(counters.clone());
        self
    }

    /// Counts the answer in the function's metrics (and its version's).
    pub fn record(&self, answer: &Answer) {
        self.capacity.metrics.record_answer(answer);
        if let Some(version) = &self.version {
            version.record_answer(answer);
        }
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let c = &self.capacity;
        c.in_flight.fetch_sub(1, Ordering::AcqRel);
        c.account.in_use.fetch_sub(1, Ordering::Relaxed);
        match &self.held {
            Held::Provisioned(share) => {
                share.in_flight.fetch_sub(1, Ordering::AcqRel);
            }
            Held::Reserved => {
                c.reserved_in_flight.fetch_sub(1, Ordering::AcqRel);
            }
            Held::Unreserved => {
                c.account.unreserved_in_use.fetch_sub(1, Ordering::AcqRel);
            }
        }
    }
}

#[cfg(test)]
#[path = "capacity_tests.rs"]
mod tests;
