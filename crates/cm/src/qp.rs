//! QPs as the CM sees them: the CID slot (S2–S4, spec/NDI.md §8) and the
//! verbs state machine (RESET → INIT → RTR → RTS → ERR).
//!
//! Owns the slot's legal transitions and the software `QpVerbs`
//! implementation. The CM manager keeps no QP table: the one slot of each QP
//! is ndcm-ndi's `Qp::slot`, changed only under its open file's lock by the
//! dispatcher (bind in REQ_CM/REP_CM, unbind when the connection closes,
//! reserve in DESTROY_QP). QP modify calls go through `QpVerbs`, outside the
//! manager lock (they need PASSIVE_LEVEL on Windows).

use crate::cid::Cid;
use crate::platform::Instant;

/// The connection a QP belongs to (spec/NDI.md §8).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum CidSlot {
    /// Free: the QP may be bound.
    Invalid,
    /// The QP is being destroyed; it can never be bound again.
    Reserved,
    /// The QP belongs to that connection.
    Bound(Cid),
}

/// Why a bind failed (S2). Distinct so NDI can map them to distinct statuses.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum BindError {
    /// The slot is Reserved: the QP is being destroyed (STATUS_CANCELLED).
    QpDestroying,
    /// The slot is Bound: the QP is already connected
    /// (STATUS_CONNECTION_ACTIVE).
    AlreadyBound,
}

impl CidSlot {
    /// The single compare-and-set of S2: Invalid → Bound(cid).
    pub fn try_bind(&mut self, cid: Cid) -> Result<(), BindError> {
        match *self {
            CidSlot::Invalid => {
                *self = CidSlot::Bound(cid);
                Ok(())
            }
            CidSlot::Reserved => Err(BindError::QpDestroying),
            CidSlot::Bound(_) => Err(BindError::AlreadyBound),
        }
    }

    /// Unbind by the connection `cid`: Bound(cid) → Invalid; Reserved stays.
    pub fn unbind(&mut self, cid: Cid) {
        if *self == CidSlot::Bound(cid) {
            *self = CidSlot::Invalid;
        }
    }

    /// QP destroy starts: → Reserved, returning the old value.
    pub fn reserve(&mut self) -> CidSlot {
        core::mem::replace(self, CidSlot::Reserved)
    }
}

/// Verbs QP states.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum QpState {
    /// Just created or reset.
    Reset,
    /// Initialised (port, P_Key, access).
    Init,
    /// Ready to receive.
    Rtr,
    /// Ready to send.
    Rts,
    /// Error: flushed.
    Err,
}

/// Why a QP modify was refused.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum QpModifyError {
    /// The transition is not in the verbs state machine.
    InvalidTransition {
        /// From.
        from: QpState,
        /// To.
        to: QpState,
    },
    /// INIT refused while the QP is quarantined in timewait (spec/NDI.md §8).
    InTimewait {
        /// When the quarantine ends.
        until: Instant,
    },
}

/// The QP operations the connection path needs. A real HCA driver implements
/// the same trait; calls happen outside the manager lock.
pub trait QpVerbs {
    /// Current state.
    fn state(&self) -> QpState;
    /// Moves the QP to `to` at time `now`.
    fn modify(&mut self, to: QpState, now: Instant) -> Result<(), QpModifyError>;
    /// Quarantines the QP until `until` (a positive timewait, CM.md §5.5).
    fn set_timewait(&mut self, until: Instant);
}

/// True when the verbs state machine allows `from → to`.
pub const fn transition_allowed(from: QpState, to: QpState) -> bool {
    use QpState::*;
    matches!(
        (from, to),
        (Reset, Init)
            | (Init, Init)
            | (Init, Rtr)
            | (Rtr, Rts)
            | (Rts, Rts)
            | (_, Err)
            | (_, Reset)
    )
}

/// A software QP that validates every transition. It keeps no log of them:
/// it lives as long as the QP, in the dispatch path, and must not grow.
#[derive(Debug, Default)]
pub struct SoftQp {
    state: Option<QpState>,
    timewait_until: Instant,
}

impl SoftQp {
    /// A QP in RESET.
    pub fn new() -> Self {
        SoftQp::default()
    }
    /// The quarantine stamp.
    pub fn timewait_until(&self) -> Instant {
        self.timewait_until
    }
}

impl QpVerbs for SoftQp {
    fn state(&self) -> QpState {
        self.state.unwrap_or(QpState::Reset)
    }
    fn modify(&mut self, to: QpState, now: Instant) -> Result<(), QpModifyError> {
        let from = self.state();
        if !transition_allowed(from, to) {
            return Err(QpModifyError::InvalidTransition { from, to });
        }
        if to == QpState::Init && from == QpState::Reset && now < self.timewait_until {
            return Err(QpModifyError::InTimewait {
                until: self.timewait_until,
            });
        }
        self.state = Some(to);
        Ok(())
    }
    fn set_timewait(&mut self, until: Instant) {
        if until > self.timewait_until {
            self.timewait_until = until;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bind_is_a_compare_and_set_with_distinct_errors() {
        let a = Cid(0x0100_0001);
        let b = Cid(0x0100_0002);
        let mut s = CidSlot::Invalid;
        assert_eq!(s.try_bind(a), Ok(()));
        assert_eq!(s.try_bind(b), Err(BindError::AlreadyBound));
        assert_eq!(s, CidSlot::Bound(a));
        s.unbind(b);
        assert_eq!(s, CidSlot::Bound(a), "only the bound CEP unbinds");
        assert_eq!(s.reserve(), CidSlot::Bound(a));
        assert_eq!(s.try_bind(b), Err(BindError::QpDestroying));
        s.unbind(a);
        assert_eq!(s, CidSlot::Reserved, "Reserved is final");
    }

    #[test]
    fn soft_qp_follows_the_verbs_state_machine() {
        let mut qp = SoftQp::new();
        let t = Instant(0);
        assert!(qp.modify(QpState::Rtr, t).is_err());
        assert_eq!(qp.state(), QpState::Reset);
        for to in [QpState::Init, QpState::Rtr] {
            qp.modify(to, t).unwrap();
            assert_eq!(qp.state(), to);
        }
        assert!(qp.modify(QpState::Init, t).is_err());
        assert_eq!(qp.state(), QpState::Rtr);
        for to in [QpState::Rts, QpState::Err] {
            qp.modify(to, t).unwrap();
            assert_eq!(qp.state(), to);
        }
    }

    #[test]
    fn soft_qp_refuses_init_during_timewait() {
        let mut qp = SoftQp::new();
        qp.set_timewait(Instant(100));
        assert_eq!(
            qp.modify(QpState::Init, Instant(99)),
            Err(QpModifyError::InTimewait {
                until: Instant(100)
            })
        );
        qp.modify(QpState::Init, Instant(100)).unwrap();
    }
}
