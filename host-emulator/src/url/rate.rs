//! The request rate a function's URLs are allowed: Lambda throttles function URL requests to
//! 10 × the function's reserved concurrency per second, over all its URLs, answering the ones
//! beyond it `429` (functions without reserved concurrency are limited by concurrency alone).
//! A token bucket per function: it holds at most a second's worth of requests and refills at
//! that rate. Its state is behind a `std` mutex never held across an `.await`.

use std::sync::{Mutex, PoisonError};
use std::time::Instant;

/// Requests per second per unit of reserved concurrency.
pub const REQUESTS_PER_SECOND_PER_RESERVED: f64 = 10.0;

/// One function's URL request rate.
#[derive(Debug, Default)]
pub(crate) struct UrlRate(Mutex<Option<Bucket>>);

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl UrlRate {
    /// Whether a request may go on now, for a function with `reserved` concurrency (taking
    /// its token); `None` (no reservation) is always let through.
    pub fn admit(&self, reserved: Option<u32>, now: Instant) -> bool {
        let Some(reserved) = reserved else {
            return true;
        };
        let per_second = f64::from(reserved) * REQUESTS_PER_SECOND_PER_RESERVED;
        let mut bucket = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let bucket = bucket.get_or_insert(Bucket {
            tokens: per_second,
            at: now,
        });
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * per_second).min(per_second);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn ten_times_the_reservation_per_second_then_refilled() {
        let rate = UrlRate::default();
        let start = Instant::now();
        let admitted = (0..50).filter(|_| rate.admit(Some(2), start)).count();
        assert_eq!(admitted, 20, "a second's worth at once");
        // A tenth of a second later, two more.
        let later = start + Duration::from_millis(100);
        let admitted = (0..50).filter(|_| rate.admit(Some(2), later)).count();
        assert_eq!(admitted, 2);
        // Without a reservation there is no rate limit.
        assert!((0..1000).all(|_| rate.admit(None, later)));
        // Reserved 0: nothing (concurrency refuses those anyway).
        let none = UrlRate::default();
        assert!(!none.admit(Some(0), start));
    }
}
