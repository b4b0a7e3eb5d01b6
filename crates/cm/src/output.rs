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
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum TimerOp {
    /// Arm (or re-arm) the CID's timer.
    Arm {
        /// Whose timer.
        cid: Cid,
        /// When to call `on_timer`.
        deadline: Instant,
    },
    /// Cancel the CID's timer.
    Cancel {
        /// Whose timer.
        cid: Cid,
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

    pub(crate) fn arm(&mut self, cid: Cid, deadline: Instant) {
        self.timers.push(TimerOp::Arm { cid, deadline });
    }

    pub(crate) fn cancel(&mut self, cid: Cid) {
        self.timers.push(TimerOp::Cancel { cid });
    }
}
