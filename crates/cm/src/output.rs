//! What a manager call asks its caller to do after the lock is released
//! (sans-IO, in the manner of quinn-proto): MADs to send, timer operations,
//! callbacks to run and destroy callbacks.
//!
//! The manager only appends; the caller drains. Nothing here calls out.

use crate::cid::Cid;
use crate::event::{Delivery, Released};
use crate::params::MadAddress;
use crate::platform::Instant;
use alloc::vec::Vec;
use ndcm_wire::mad::MAD_SIZE;

/// One MAD to send.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Outgoing {
    /// Destination (the local port is in `to.port`).
    pub to: MadAddress,
    /// The 256 bytes.
    pub mad: [u8; MAD_SIZE],
}

/// A timer operation. Each CID has at most one timer: `Arm` replaces the
/// previous deadline. When it fires, call `CepManager::on_timer(cid, now)`;
/// a timer that fires late, early or after a cancel is harmless.
///
/// Every arming has an `id`, unique in the manager, and a `Cancel` names
/// the arming it cancels. A platform that performs the outputs of
/// different calls on different threads applies their operations out of
/// order; it can then keep every `Arm` and let a `Cancel` remove exactly
/// its arming: a cancel applied late never removes a later arming, and one
/// applied early only leaves a stale expiry behind.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum TimerOp {
    /// Arm (or re-arm) the CID's timer.
    Arm {
        /// Whose timer.
        cid: Cid,
        /// When to call `on_timer`.
        deadline: Instant,
        /// This arming.
        id: u64,
    },
    /// Cancel the CID's timer.
    Cancel {
        /// Whose timer.
        cid: Cid,
        /// The deadline of the arming cancelled.
        deadline: Instant,
        /// The arming cancelled.
        id: u64,
    },
}

/// The accumulated output of one or more calls.
#[derive(Debug, Default)]
pub struct Output {
    /// MADs to send, in order.
    pub sends: Vec<Outgoing>,
    /// Timer operations, in order.
    pub timers: Vec<TimerOp>,
    /// Callbacks to run (`CepManager::deliver`), each holding a reference.
    pub deliveries: Vec<Delivery>,
    /// Destroy callbacks to run.
    pub released: Vec<Released>,
}

impl Output {
    /// An empty output.
    pub fn new() -> Self {
        Output::default()
    }

    /// True when there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.sends.is_empty()
            && self.timers.is_empty()
            && self.deliveries.is_empty()
            && self.released.is_empty()
    }

    pub(crate) fn send(&mut self, to: MadAddress, mad: [u8; MAD_SIZE]) {
        self.sends.push(Outgoing { to, mad });
    }

    pub(crate) fn arm(&mut self, cid: Cid, deadline: Instant, id: u64) {
        self.timers.push(TimerOp::Arm { cid, deadline, id });
    }

    pub(crate) fn cancel(&mut self, cid: Cid, deadline: Instant, id: u64) {
        self.timers.push(TimerOp::Cancel { cid, deadline, id });
    }
}
