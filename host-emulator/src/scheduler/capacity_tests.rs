//! Tests of the concurrency accounting.

use super::*;

/// An account of `concurrency`, keeping `unreserved_minimum` unreserved.
fn limits(concurrency: u32, unreserved_minimum: u32) -> AccountConfig {
    AccountConfig {
        concurrency,
        unreserved_minimum,
        ..AccountConfig::default()
    }
}

fn capacity(f: FunctionConfig, account: &Arc<Account>) -> Arc<Capacity> {
    Arc::new(Capacity::new(&f, account.clone(), Arc::default()))
}

#[test]
fn reserved_caps_the_function_and_leaves_the_pool_alone() {
    let config = limits(3, 0);
    let r = FunctionConfig::new("r").reserved_concurrency(2);
    let account = Arc::new(Account::new(&config, std::slice::from_ref(&r)));
    assert_eq!(account.unreserved_limit(), 1);
    let r = capacity(r, &account);
    let a = r.admit(None).unwrap();
    let _b = r.admit(None).unwrap();
    assert_eq!(r.admit(None).unwrap_err(), RESERVED_LIMIT_EXCEEDED);
    assert_eq!(account.unreserved_in_use(), 0);
    assert_eq!(account.in_use(), 2);
    drop(a);
    assert!(r.admit(None).is_ok());
}

#[test]
fn unreserved_functions_share_the_pool() {
    let config = limits(2, 0);
    let fs = [FunctionConfig::new("a"), FunctionConfig::new("b")];
    let account = Arc::new(Account::new(&config, &fs));
    let a = capacity(fs[0].clone(), &account);
    let b = capacity(fs[1].clone(), &account);
    let p = a.admit(None).unwrap();
    let _q = b.admit(None).unwrap();
    assert_eq!(a.admit(None).unwrap_err(), CONCURRENT_LIMIT_EXCEEDED);
    assert_eq!(b.admit(None).unwrap_err(), CONCURRENT_LIMIT_EXCEEDED);
    drop(p);
    assert!(b.admit(None).is_ok());
}

#[test]
fn reserved_zero_throttles_everything() {
    let config = AccountConfig::default();
    let f = FunctionConfig::new("z").reserved_concurrency(0);
    let account = Arc::new(Account::new(&config, std::slice::from_ref(&f)));
    assert_eq!(
        capacity(f, &account).admit(None).unwrap_err(),
        RESERVED_LIMIT_EXCEEDED
    );
}

#[test]
fn provisioned_share_is_set_aside_then_spills_to_the_pool() {
    let config = limits(3, 0);
    let f = FunctionConfig::new("p").provisioned_concurrency(2);
    let account = Arc::new(Account::new(&config, std::slice::from_ref(&f)));
    assert_eq!(account.unreserved_limit(), 1);
    let p = capacity(f, &account);
    let share = Arc::new(ProvisionedShare::new(2));
    let _a = p.admit(Some(&share)).unwrap();
    let _b = p.admit(Some(&share)).unwrap();
    assert_eq!(account.unreserved_in_use(), 0);
    let _c = p.admit(Some(&share)).unwrap();
    assert_eq!(account.unreserved_in_use(), 1);
    assert_eq!(
        p.admit(Some(&share)).unwrap_err(),
        CONCURRENT_LIMIT_EXCEEDED
    );
    assert_eq!(p.in_flight(), 3);
}

#[test]
fn provisioned_concurrency_is_its_versions_alone() {
    let config = limits(5, 0);
    // Version 1 has 2 provisioned; `$LATEST` has none.
    let f = FunctionConfig::new("p").provisioned_concurrency(2);
    let account = Arc::new(Account::new(&config, std::slice::from_ref(&f)));
    let p = capacity(f, &account);
    let v1 = Arc::new(ProvisionedShare::new(2));
    let latest = Arc::new(ProvisionedShare::new(0));
    // `$LATEST` gets the unreserved pool only (3), never version 1's share.
    let held: Vec<Permit> = (0..3).map(|_| p.admit(Some(&latest)).unwrap()).collect();
    assert_eq!(
        p.admit(Some(&latest)).unwrap_err(),
        CONCURRENT_LIMIT_EXCEEDED
    );
    let v1_held = [p.admit(Some(&v1)).unwrap(), p.admit(Some(&v1)).unwrap()];
    // Version 1's spillover meets the full pool.
    assert_eq!(p.admit(Some(&v1)).unwrap_err(), CONCURRENT_LIMIT_EXCEEDED);
    drop(held);
    drop(v1_held);

    // A reservation equal to the provisioned concurrency: every invocation runs on it, and
    // `$LATEST` is throttled (Lambda's documented effect).
    p.set_reserved(Some(2)).unwrap();
    assert_eq!(p.admit(Some(&latest)).unwrap_err(), RESERVED_LIMIT_EXCEEDED);
    let _both = [p.admit(Some(&v1)).unwrap(), p.admit(Some(&v1)).unwrap()];
    assert_eq!(p.admit(Some(&v1)).unwrap_err(), RESERVED_LIMIT_EXCEEDED);
    // One more reserved than provisioned: that one is for anything else.
    p.set_reserved(Some(3)).unwrap();
    let _one = p.admit(Some(&latest)).unwrap();
    assert_eq!(p.admit(Some(&latest)).unwrap_err(), RESERVED_LIMIT_EXCEEDED);
    // A reservation of 0 admits nothing, provisioned or not.
    let v2 = Arc::new(ProvisionedShare::new(1));
    let q = capacity(FunctionConfig::new("q").reserved_concurrency(0), &account);
    assert_eq!(q.admit(Some(&v2)).unwrap_err(), RESERVED_LIMIT_EXCEEDED);
}

#[test]
fn provisioned_concurrency_changes_at_run_time_within_the_limits() {
    let config = limits(10, 4);
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
    let share = Arc::new(ProvisionedShare::new(3));
    let held = [
        p.admit(Some(&share)).unwrap(),
        p.admit(Some(&share)).unwrap(),
        p.admit(Some(&share)).unwrap(),
    ];
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
    let config = limits(10, 4);
    let fs = [FunctionConfig::new("a"), FunctionConfig::new("b")];
    let account = Arc::new(Account::new(&config, &fs));
    let a = capacity(fs[0].clone(), &account);
    let b = capacity(fs[1].clone(), &account);
    assert_eq!(account.unreserved_limit(), 10);

    a.set_reserved(Some(0)).unwrap();
    assert_eq!(a.reserved(), Some(0));
    assert_eq!(a.admit(None).unwrap_err(), RESERVED_LIMIT_EXCEEDED);
    a.set_reserved(Some(2)).unwrap();
    assert_eq!(account.unreserved_limit(), 8);
    let held = [a.admit(None).unwrap(), a.admit(None).unwrap()];
    assert_eq!(a.admit(None).unwrap_err(), RESERVED_LIMIT_EXCEEDED);
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
    assert_eq!(a.admit(None).unwrap_err(), RESERVED_LIMIT_EXCEEDED);
    drop(held);
    let _one = a.admit(None).unwrap();
    assert_eq!(a.admit(None).unwrap_err(), RESERVED_LIMIT_EXCEEDED);

    // Removing the reservation returns it to the pool, which the function then uses.
    a.set_reserved(None).unwrap();
    assert_eq!(a.reserved(), None);
    assert_eq!(account.unreserved_limit(), 6);
    let _two = a.admit(None).unwrap();
    assert_eq!(account.unreserved_in_use(), 1);
}

#[test]
fn a_reservation_may_not_go_below_the_provisioned_concurrency() {
    let config = limits(10, 0);
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
