//! Live-object counters for leak accounting.
//!
//! Owns the per-manager counts of CEPs, QPs, references by purpose, armed
//! timers and queued events. The counts live inside the manager's locked
//! state (no global atomics, so parallel tests do not disturb each other);
//! `CepManager::stats` returns a snapshot. Tests end by asserting
//! `Stats::is_quiescent`.
//!
//! One field is a tally rather than a live count: `scope_violations`, the
//! S1 refusals. It only grows, and `is_quiescent` leaves it out.

/// Why a reference is held (S6: each reference has an owner and a purpose).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum RefPurpose {
    /// The creator's reference to a CEP, dropped by `destroy`.
    Creation,
    /// A scheduled callback's reference to a CEP (one per `Delivery`).
    Callback,
    /// A reference taken by a consumer with `CepManager::add_ref`.
    Consumer,
}

/// A snapshot of the live-object counters.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Stats {
    /// CEPs whose slot is still held (including DESTROYED ones in timewait).
    pub ceps: u64,
    /// CEP creation references.
    pub creation_refs: u64,
    /// Callback references (deliveries not yet run or still running).
    pub callback_refs: u64,
    /// References taken by consumers and not yet released.
    pub consumer_refs: u64,
    /// CEPs with a timer armed.
    pub timers: u64,
    /// Events queued and not yet polled.
    pub queued_events: u64,
    /// Entries in the remote-ID, remote-QPN and listen tables.
    pub table_entries: u64,
    /// Calls that used a callback's scope on a thread other than the one
    /// the manager recorded for that callback (S1), and were refused with
    /// `CmError::NotCallbackThread`: `poll` and `format_event`. A tally of
    /// consumer bugs, never decremented; not part of `is_quiescent`.
    pub scope_violations: u64,
}

impl Stats {
    /// True when nothing created is still alive: the end state of every test.
    /// The `scope_violations` tally is not a live object and is ignored.
    pub fn is_quiescent(&self) -> bool {
        Stats {
            scope_violations: 0,
            ..*self
        } == Stats::default()
    }

    pub(crate) fn count_scope_violation(&mut self) {
        self.scope_violations = self.scope_violations.saturating_add(1);
    }

    pub(crate) fn count(&mut self, purpose: RefPurpose) -> &mut u64 {
        match purpose {
            RefPurpose::Creation => &mut self.creation_refs,
            RefPurpose::Callback => &mut self.callback_refs,
            RefPurpose::Consumer => &mut self.consumer_refs,
        }
    }

    pub(crate) fn take(&mut self, purpose: RefPurpose) {
        let c = self.count(purpose);
        *c = c.saturating_add(1);
    }

    pub(crate) fn drop_ref(&mut self, purpose: RefPurpose) {
        let c = self.count(purpose);
        *c = c.saturating_sub(1);
    }
}

#[cfg(test)]
mod tests {
    use super::Stats;

    #[test]
    fn scope_violations_are_a_tally_not_a_leak() {
        let mut s = Stats::default();
        s.count_scope_violation();
        s.count_scope_violation();
        assert_eq!(s.scope_violations, 2);
        assert!(s.is_quiescent());
        s.queued_events = 1;
        assert!(!s.is_quiescent());
    }
}
