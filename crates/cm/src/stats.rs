//! Live-object counters for leak accounting.
//!
//! Owns the per-manager counts of CEPs, QPs, references by purpose, armed
//! timers and queued events. The counts live inside the manager's locked
//! state (no global atomics, so parallel tests do not disturb each other);
//! `CepManager::stats` returns a snapshot. Tests end by asserting
//! `Stats::is_quiescent`.

/// Why a reference is held (S6: each reference has an owner and a purpose).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum RefPurpose {
    /// The creator's reference to a CEP, dropped by `destroy`.
    Creation,
    /// A scheduled callback's reference to a CEP (one per `Delivery`).
    Callback,
    /// A reference taken by a consumer with `CepManager::add_ref`.
    Consumer,
    /// A bound CEP's reference to its QP (taken before publication, S3).
    QpBinding,
    /// The QP handle's own reference, dropped by `destroy_qp`.
    QpHandle,
}

/// A snapshot of the live-object counters.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Stats {
    /// CEPs whose slot is still held (including DESTROYED ones in timewait).
    pub ceps: u64,
    /// QPs not yet freed.
    pub qps: u64,
    /// CEP creation references.
    pub creation_refs: u64,
    /// Callback references (deliveries not yet run or still running).
    pub callback_refs: u64,
    /// References taken by consumers and not yet released.
    pub consumer_refs: u64,
    /// QP references owned by bound CEPs.
    pub qp_binding_refs: u64,
    /// QP handle references.
    pub qp_handle_refs: u64,
    /// CEPs with a timer armed.
    pub timers: u64,
    /// Events queued and not yet polled.
    pub queued_events: u64,
    /// Entries in the remote-ID, remote-QPN and listen tables.
    pub table_entries: u64,
}

impl Stats {
    /// True when nothing created is still alive: the end state of every test.
    pub fn is_quiescent(&self) -> bool {
        *self == Stats::default()
    }

    pub(crate) fn count(&mut self, purpose: RefPurpose) -> &mut u64 {
        match purpose {
            RefPurpose::Creation => &mut self.creation_refs,
            RefPurpose::Callback => &mut self.callback_refs,
            RefPurpose::Consumer => &mut self.consumer_refs,
            RefPurpose::QpBinding => &mut self.qp_binding_refs,
            RefPurpose::QpHandle => &mut self.qp_handle_refs,
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
