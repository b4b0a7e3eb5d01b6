//! Monotonic time for the host: a virtual clock that only a test (or the
//! simulator) moves, for determinism, or the real monotonic clock.
//!
//! Owns time only; timers that fire at a time are in timers.rs.

use ndcm_cm::platform::{Duration, Instant};
use std::sync::atomic::{AtomicU64, Ordering};

/// The clock a platform reads.
#[derive(Debug)]
pub enum Clock {
    /// Nanoseconds set by the owner; never goes backwards.
    Virtual(AtomicU64),
    /// std's monotonic clock, counted from the clock's creation.
    Real(std::time::Instant),
}

impl Clock {
    /// A virtual clock at 0.
    pub fn new_virtual() -> Self {
        Clock::Virtual(AtomicU64::new(0))
    }

    /// The real clock.
    pub fn new_real() -> Self {
        Clock::Real(std::time::Instant::now())
    }

    /// The current time.
    pub fn now(&self) -> Instant {
        match self {
            Clock::Virtual(ns) => Instant(ns.load(Ordering::SeqCst)),
            Clock::Real(start) => {
                Instant(u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX))
            }
        }
    }

    /// Moves a virtual clock to `at` (never backwards); returns the new time.
    /// The real clock ignores this.
    pub fn advance_to(&self, at: Instant) -> Instant {
        if let Clock::Virtual(ns) = self {
            let _ = ns.fetch_max(at.0, Ordering::SeqCst);
        }
        self.now()
    }

    /// Moves a virtual clock forward by `by`.
    pub fn advance(&self, by: Duration) -> Instant {
        self.advance_to(self.now() + by)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virtual_clock_moves_only_when_told_and_never_back() {
        let c = Clock::new_virtual();
        assert_eq!(c.now(), Instant(0));
        assert_eq!(c.advance(Duration::from_millis(2)), Instant(2_000_000));
        assert_eq!(c.advance_to(Instant(5)), Instant(2_000_000));
    }

    #[test]
    fn real_clock_is_monotonic() {
        let c = Clock::new_real();
        let a = c.now();
        assert!(c.now() >= a);
    }
}
