//! When the device's one CM timer is started: the decision the driver's
//! `WDFTIMER` (driver/src/timer.rs) and any other one-shot platform timer
//! take under their leaf lock, kept here so that every test runs it.
//!
//! The CM's deadlines live in the adapter (`ManagerPort::next_timer`); the
//! platform keeps one one-shot timer set for the earliest. It is only ever
//! moved earlier: a later deadline is covered by the re-arm after the
//! earlier one fires, and an early firing is harmless. Once closed it is
//! never started again: KMDF's `FxTimer::Dispose` marks a timer running
//! down and stops it, waiting for its callback (`Stop(TRUE)`), *before* the
//! timer's EvtCleanupCallback runs, and a `WdfTimerStart` on a running-down
//! timer is a verifier break. So the device closes its timer before it
//! deletes the device that parents it, not in the timer's own cleanup.

use ndcm_cm::platform::Instant;

/// What the one-shot timer is set for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TimerArming {
    /// The deadline it will fire at, if set and not yet fired.
    at: Option<Instant>,
    /// Never start it again.
    closed: bool,
}

impl TimerArming {
    /// An idle, open timer.
    pub const fn new() -> Self {
        TimerArming {
            at: None,
            closed: false,
        }
    }

    /// The CM wants to run no later than `at`: true when the caller must
    /// start the timer for `at` now (still under the lock that guards this
    /// value, so two CPUs cannot leave it set for the later of two
    /// deadlines).
    pub fn arm(&mut self, at: Instant) -> bool {
        if self.closed || self.at.is_some_and(|set| set <= at) {
            return false;
        }
        self.at = Some(at);
        true
    }

    /// The timer fired: nothing is set any more.
    pub fn fired(&mut self) {
        self.at = None;
    }

    /// The timer is being torn down: never start it again.
    pub fn close(&mut self) {
        self.closed = true;
        self.at = None;
    }

    /// The deadline set, if any.
    pub fn at(&self) -> Option<Instant> {
        self.at
    }
}

/// The due time `WdfTimerStart` takes to fire at `at` when it is `now`:
/// relative (negative), in 100 ns units, at least one unit (a due time of
/// zero would be absolute and long past).
pub fn relative_due_time(now: Instant, at: Instant) -> i64 {
    let ticks = at
        .saturating_duration_since(now)
        .as_nanos()
        .div_ceil(100)
        .max(1);
    0_i64.saturating_sub(i64::try_from(ticks).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_due_time_is_relative_and_rounds_up() {
        assert_eq!(relative_due_time(Instant(0), Instant(1_000)), -10);
        assert_eq!(relative_due_time(Instant(0), Instant(1_001)), -11);
        assert_eq!(relative_due_time(Instant(0), Instant(1)), -1);
        assert_eq!(relative_due_time(Instant(500), Instant(500)), -1);
        assert_eq!(relative_due_time(Instant(500), Instant(10)), -1, "past");
        assert_eq!(
            relative_due_time(Instant(0), Instant(u64::MAX)),
            -184_467_440_737_095_517
        );
    }

    #[test]
    fn the_timer_only_moves_earlier_until_it_fires() {
        let mut t = TimerArming::new();
        assert!(t.arm(Instant(100)), "idle: start");
        assert!(
            !t.arm(Instant(200)),
            "a later deadline waits for the re-arm"
        );
        assert!(!t.arm(Instant(100)), "the same deadline is already set");
        assert!(t.arm(Instant(50)), "an earlier deadline restarts it");
        assert_eq!(t.at(), Some(Instant(50)));
        t.fired();
        assert!(t.arm(Instant(200)), "after firing, any deadline starts it");
    }

    #[test]
    fn a_closed_timer_is_never_started_again() {
        let mut t = TimerArming::new();
        assert!(t.arm(Instant(100)));
        t.close();
        assert_eq!(t.at(), None);
        assert!(!t.arm(Instant(1)));
        t.fired();
        assert!(
            !t.arm(Instant(1)),
            "a callback that ran during the stop does not reopen it"
        );
    }
}
