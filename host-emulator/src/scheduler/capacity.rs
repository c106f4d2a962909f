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
    in_flight: AtomicU32,
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

    /// Admits one more invocation, or says why not (the throttle `Reason`).
    pub fn admit(self: &Arc<Self>) -> Result<Permit, &'static str> {
        // Several tasks admit at once (the invoke path and the scheduler): each bound is
        // checked and taken in one atomic step.
        let below = |limit: u32| {
            self.in_flight
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                    (n < limit).then_some(n + 1)
                })
                .is_ok()
        };
        let shared_slot = match self.reserved() {
            Some(reserved) if below(reserved) => false,
            Some(_) => return Err(RESERVED_LIMIT_EXCEEDED),
            None if below(self.provisioned()) => false,
            None if self.account.take_unreserved() => {
                self.in_flight.fetch_add(1, Ordering::AcqRel);
                true
            }
            None => return Err(CONCURRENT_LIMIT_EXCEEDED),
        };
        self.account.in_use.fetch_add(1, Ordering::Relaxed);
        Ok(Permit {
            capacity: self.clone(),
            shared_slot,
            version: None,
        })
    }
}

/// One admitted invocation's hold on its function's and the account's concurrency; released
/// when dropped (the invocation was answered, or dropped unanswered at shutdown).
#[derive(Debug)]
pub struct Permit {
    capacity: Arc<Capacity>,
    shared_slot: bool,
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
        if self.shared_slot {
            c.account.unreserved_in_use.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn capacity(f: FunctionConfig, account: &Arc<Account>) -> Arc<Capacity> {
        Arc::new(Capacity::new(&f, account.clone(), Arc::default()))
    }

    #[test]
    fn reserved_caps_the_function_and_leaves_the_pool_alone() {
        let config = AccountConfig {
            concurrency: 3,
            unreserved_minimum: 0,
            cgroups: false,
            layers_at_opt: false,
            private_tmp: false,
            cpu_by_memory: false,
        };
        let r = FunctionConfig::new("r").reserved_concurrency(2);
        let account = Arc::new(Account::new(&config, std::slice::from_ref(&r)));
        assert_eq!(account.unreserved_limit(), 1);
        let r = capacity(r, &account);
        let a = r.admit().unwrap();
        let _b = r.admit().unwrap();
        assert_eq!(r.admit().unwrap_err(), RESERVED_LIMIT_EXCEEDED);
        assert_eq!(account.unreserved_in_use(), 0);
        assert_eq!(account.in_use(), 2);
        drop(a);
        assert!(r.admit().is_ok());
    }

    #[test]
    fn unreserved_functions_share_the_pool() {
        let config = AccountConfig {
            concurrency: 2,
            unreserved_minimum: 0,
            cgroups: false,
            layers_at_opt: false,
            private_tmp: false,
            cpu_by_memory: false,
        };
        let fs = [FunctionConfig::new("a"), FunctionConfig::new("b")];
        let account = Arc::new(Account::new(&config, &fs));
        let a = capacity(fs[0].clone(), &account);
        let b = capacity(fs[1].clone(), &account);
        let p = a.admit().unwrap();
        let _q = b.admit().unwrap();
        assert_eq!(a.admit().unwrap_err(), CONCURRENT_LIMIT_EXCEEDED);
        assert_eq!(b.admit().unwrap_err(), CONCURRENT_LIMIT_EXCEEDED);
        drop(p);
        assert!(b.admit().is_ok());
    }

    #[test]
    fn reserved_zero_throttles_everything() {
        let config = AccountConfig::default();
        let f = FunctionConfig::new("z").reserved_concurrency(0);
        let account = Arc::new(Account::new(&config, std::slice::from_ref(&f)));
        assert_eq!(
            capacity(f, &account).admit().unwrap_err(),
            RESERVED_LIMIT_EXCEEDED
        );
    }

    #[test]
    fn provisioned_share_is_set_aside_then_spills_to_the_pool() {
        let config = AccountConfig {
            concurrency: 3,
            unreserved_minimum: 0,
            cgroups: false,
            layers_at_opt: false,
            private_tmp: false,
            cpu_by_memory: false,
        };
        let f = FunctionConfig::new("p").provisioned_concurrency(2);
        let account = Arc::new(Account::new(&config, std::slice::from_ref(&f)));
        assert_eq!(account.unreserved_limit(), 1);
        let p = capacity(f, &account);
        let _a = p.admit().unwrap();
        let _b = p.admit().unwrap();
        assert_eq!(account.unreserved_in_use(), 0);
        let _c = p.admit().unwrap();
        assert_eq!(account.unreserved_in_use(), 1);
        assert_eq!(p.admit().unwrap_err(), CONCURRENT_LIMIT_EXCEEDED);
    }

    #[test]
    fn provisioned_concurrency_changes_at_run_time_within_the_limits() {
        let config = AccountConfig {
            concurrency: 10,
            unreserved_minimum: 4,
            cgroups: false,
            layers_at_opt: false,
            private_tmp: false,
            cpu_by_memory: false,
        };
        let fs = [FunctionConfig::new("p"), FunctionConfig::new("r")];
        let account = Arc::new(Account::new(&config, &fs));
        let p = capacity(fs[0].clone(), &account);
        let r = capacity(fs[1].clone(), &account);

        // Without a reservation it comes out of the pool, down to the minimum and no further.
        p.set_provisioned(3).unwrap();
        assert_eq!((p.provisioned(), account.unreserved_limit()), (3, 7));
        assert_eq!(
            p.set_provisioned(7).unwrap_err(),
            ProvisioningError::BelowUnreservedMinimum { minimum: 4 }
        );
        assert_eq!((p.provisioned(), account.unreserved_limit()), (3, 7));
        let held = [p.admit().unwrap(), p.admit().unwrap(), p.admit().unwrap()];
        assert_eq!(
            account.unreserved_in_use(),
            0,
            "the provisioned share first"
        );
        drop(held);
        // A reservation below it is refused; one above it holds it (and the pool gives the rest).
        assert_eq!(
            p.set_reserved(Some(2)).unwrap_err(),
            ReservationError::BelowProvisioned {
                reserved: 2,
                provisioned: 3
            }
        );
        p.set_provisioned(1).unwrap();
        assert_eq!(account.unreserved_limit(), 9);

        // Under a reservation it must fit in it, and the pool does not move.
        r.set_reserved(Some(2)).unwrap();
        assert_eq!(account.unreserved_limit(), 7);
        r.set_provisioned(2).unwrap();
        assert_eq!(
            r.set_provisioned(3).unwrap_err(),
            ProvisioningError::AboveReserved { reserved: 2 }
        );
        assert_eq!((r.provisioned(), account.unreserved_limit()), (2, 7));
        r.set_provisioned(0).unwrap();
        assert_eq!(account.unreserved_limit(), 7);
    }

    #[test]
    fn a_reservation_changes_at_run_time_and_moves_the_pool() {
        let config = AccountConfig {
            concurrency: 10,
            unreserved_minimum: 4,
            cgroups: false,
            layers_at_opt: false,
            private_tmp: false,
            cpu_by_memory: false,
        };
        let fs = [FunctionConfig::new("a"), FunctionConfig::new("b")];
        let account = Arc::new(Account::new(&config, &fs));
        let a = capacity(fs[0].clone(), &account);
        let b = capacity(fs[1].clone(), &account);
        assert_eq!(account.unreserved_limit(), 10);

        a.set_reserved(Some(0)).unwrap();
        assert_eq!(a.reserved(), Some(0));
        assert_eq!(a.admit().unwrap_err(), RESERVED_LIMIT_EXCEEDED);
        a.set_reserved(Some(2)).unwrap();
        assert_eq!(account.unreserved_limit(), 8);
        let held = [a.admit().unwrap(), a.admit().unwrap()];
        assert_eq!(a.admit().unwrap_err(), RESERVED_LIMIT_EXCEEDED);
        // The pool is untouched by the reserved function's invocations.
        assert_eq!(account.unreserved_in_use(), 0);

        // 6 + 2 would leave 2 unreserved, below the minimum of 4: refused, nothing changes.
        assert_eq!(
            b.set_reserved(Some(6)).unwrap_err(),
            ReservationError::BelowUnreservedMinimum { minimum: 4 }
        );
        assert_eq!(b.reserved(), None);
        assert_eq!(account.unreserved_limit(), 8);
        b.set_reserved(Some(4)).unwrap();
        assert_eq!(account.unreserved_limit(), 4);

        // Lowering below what is in flight lets those finish and refuses new ones.
        a.set_reserved(Some(1)).unwrap();
        assert_eq!(a.admit().unwrap_err(), RESERVED_LIMIT_EXCEEDED);
        drop(held);
        let _one = a.admit().unwrap();
        assert_eq!(a.admit().unwrap_err(), RESERVED_LIMIT_EXCEEDED);

        // Removing the reservation returns it to the pool, which the function then uses.
        a.set_reserved(None).unwrap();
        assert_eq!(a.reserved(), None);
        assert_eq!(account.unreserved_limit(), 6);
        let _two = a.admit().unwrap();
        assert_eq!(account.unreserved_in_use(), 1);
    }

    #[test]
    fn a_reservation_may_not_go_below_the_provisioned_concurrency() {
        let config = AccountConfig {
            concurrency: 10,
            unreserved_minimum: 0,
            cgroups: false,
            layers_at_opt: false,
            private_tmp: false,
            cpu_by_memory: false,
        };
        let f = FunctionConfig::new("p").provisioned_concurrency(3);
        let account = Arc::new(Account::new(&config, std::slice::from_ref(&f)));
        let p = capacity(f, &account);
        assert_eq!(account.unreserved_limit(), 7);
        assert_eq!(
            p.set_reserved(Some(2)).unwrap_err(),
            ReservationError::BelowProvisioned {
                reserved: 2,
                provisioned: 3
            }
        );
        p.set_reserved(Some(5)).unwrap();
        assert_eq!(account.unreserved_limit(), 5);
        p.set_reserved(None).unwrap();
        assert_eq!(account.unreserved_limit(), 7);
        // More than the account has: the pool would be negative.
        assert_eq!(
            p.set_reserved(Some(11)).unwrap_err(),
            ReservationError::BelowUnreservedMinimum { minimum: 0 }
        );
    }
}
