//! What the fabric carried, counted from the MADs themselves as they are
//! sent: MADs per attribute, MRAs, and retransmissions (a REQ, REP or DREQ
//! sent again with the same local communication ID by the same node — the
//! three messages the CM retries on a timer).
//!
//! Counted in the fabric's send hook, so it sees every MAD exactly once,
//! before loss or duplication. It never changes what the fabric does.

use std::collections::HashSet;

/// CM attribute IDs (IBA 16.7, WIRE.md).
pub const ATTR_REQ: u16 = 0x0010;
/// MRA.
pub const ATTR_MRA: u16 = 0x0011;
/// REJ.
pub const ATTR_REJ: u16 = 0x0012;
/// REP.
pub const ATTR_REP: u16 = 0x0013;
/// RTU.
pub const ATTR_RTU: u16 = 0x0014;
/// DREQ.
pub const ATTR_DREQ: u16 = 0x0015;
/// DREP.
pub const ATTR_DREP: u16 = 0x0016;

/// Counts of MADs sent.
#[derive(Clone, Debug, Default)]
pub struct MadCounters {
    /// Every MAD.
    pub sent: u64,
    /// REQ, MRA, REJ, REP, RTU, DREQ, DREP (in that order).
    pub by_kind: [u64; 7],
    /// Other attributes (or unparseable MADs).
    pub other: u64,
    /// REQ/REP/DREQ sent again.
    pub retransmissions: u64,
    seen: HashSet<([u8; 16], u16, u32)>,
}

/// The attribute ID and the local communication ID of a CM MAD.
pub fn attr_and_comm_id(mad: &[u8; 256]) -> (u16, u32) {
    let attr = u16::from_be_bytes([mad[16], mad[17]]);
    let comm = u32::from_be_bytes([mad[24], mad[25], mad[26], mad[27]]);
    (attr, comm)
}

impl MadCounters {
    /// Counts one MAD sent by `src`.
    pub fn count(&mut self, src: [u8; 16], mad: &[u8; 256]) {
        self.sent += 1;
        let (attr, comm) = attr_and_comm_id(mad);
        match attr {
            ATTR_REQ..=ATTR_DREP => self.by_kind[usize::from(attr - ATTR_REQ)] += 1,
            _ => self.other += 1,
        }
        if matches!(attr, ATTR_REQ | ATTR_REP | ATTR_DREQ) && !self.seen.insert((src, attr, comm)) {
            self.retransmissions += 1;
        }
    }

    /// MRAs sent.
    pub fn mras(&self) -> u64 {
        self.by_kind[usize::from(ATTR_MRA - ATTR_REQ)]
    }

    /// MADs of one attribute.
    pub fn of(&self, attr: u16) -> u64 {
        match attr {
            ATTR_REQ..=ATTR_DREP => self.by_kind[usize::from(attr - ATTR_REQ)],
            _ => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mad(attr: u16, comm: u32) -> [u8; 256] {
        let mut m = [0u8; 256];
        m[16..18].copy_from_slice(&attr.to_be_bytes());
        m[24..28].copy_from_slice(&comm.to_be_bytes());
        m
    }

    #[test]
    fn a_second_req_with_the_same_comm_id_is_a_retransmission() {
        let mut c = MadCounters::default();
        let a = [1; 16];
        c.count(a, &mad(ATTR_REQ, 7));
        c.count(a, &mad(ATTR_REQ, 8));
        c.count(a, &mad(ATTR_REQ, 7));
        // Another node may use the same comm ID.
        c.count([2; 16], &mad(ATTR_REQ, 7));
        // DREPs answer each DREQ; they are not retransmissions.
        c.count(a, &mad(ATTR_DREP, 7));
        c.count(a, &mad(ATTR_DREP, 7));
        c.count(a, &mad(ATTR_MRA, 7));
        assert_eq!(c.retransmissions, 1);
        assert_eq!(c.of(ATTR_REQ), 4);
        assert_eq!(c.of(ATTR_DREP), 2);
        assert_eq!(c.mras(), 1);
        assert_eq!(c.sent, 7);
    }
}
