//! The MAD agent's view of a MAD the CM wants sent: `Outgoing` (the CM's
//! output) → `NdcmMadEnvelope` (what `IOCTL_NDCM_MAD_GET_OUTBOUND` returns
//! to the agent, then `Ndi::deliver_outbound_mad` takes).
//!
//! One conversion for every device whose CM reaches the wire through the
//! MAD-port IOCTLs (the Windows driver's device, the CLI agent's host
//! device), so they cannot disagree on where a CM MAD goes. It owns only the
//! addressing; it must never look into or change the MAD itself.

use crate::abi::{NdcmMadAddress, NdcmMadEnvelope};
use ndcm_cm::Outgoing;
use ndcm_wire::roce::{GSI_QKEY, GSI_QPN};

/// The P_Key index CM MADs are sent with: the port's first entry, the
/// default partition on RoCE (IBA 13.4.6: QP1 accepts any P_Key, replies use
/// the request's, and the CM has no partition of its own).
pub const CM_PKEY_INDEX: u16 = 0;

/// The envelope of `outgoing`: to the peer's QP1 (the GSI QP, IBA 13.4.6)
/// with the GSI Q_Key, P_Key index [`CM_PKEY_INDEX`], leaving from the
/// local port the CM chose; the 256 MAD bytes unchanged.
pub fn outbound_envelope(outgoing: &Outgoing) -> NdcmMadEnvelope {
    NdcmMadEnvelope {
        address: NdcmMadAddress {
            gid: outgoing.to.gid.0,
            qpn: GSI_QPN,
            qkey: GSI_QKEY,
            pkey_index: CM_PKEY_INDEX,
            port: outgoing.to.port,
            reserved0: 0,
            reserved1: 0,
        },
        mad: outgoing.mad,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndcm_cm::MadAddress;
    use ndcm_wire::Gid;

    fn outgoing(gid: Gid, port: u8) -> Outgoing {
        let mut mad = [0u8; 256];
        for (i, b) in mad.iter_mut().enumerate() {
            *b = (i as u8).wrapping_mul(31) ^ 0x5A;
        }
        Outgoing {
            to: MadAddress { gid, port },
            mad,
        }
    }

    #[test]
    fn a_cm_mad_goes_to_the_peers_qp1_with_the_gsi_qkey() {
        let o = outgoing(Gid::from_ipv4_octets([10, 0, 0, 2]), 1);
        let e = outbound_envelope(&o);
        assert_eq!(e.address.gid, o.to.gid.0);
        assert_eq!(e.address.qpn, 1);
        assert_eq!(e.address.qkey, 0x8001_0000);
        assert_eq!(e.address.pkey_index, 0);
        assert_eq!(e.address.port, 1);
    }

    #[test]
    fn the_mad_bytes_and_the_chosen_port_pass_through_unchanged() {
        let gid = Gid([0xFE, 0x80, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8]);
        let o = outgoing(gid, 2);
        let e = outbound_envelope(&o);
        assert_eq!(e.mad, o.mad);
        assert_eq!(e.address.gid, gid.0);
        assert_eq!(e.address.port, 2, "the CM's local port, not a fixed 1");
    }

    #[test]
    fn the_reserved_fields_are_zero_on_the_wire_layout() {
        let e = outbound_envelope(&outgoing(Gid::from_ipv4_octets([192, 168, 1, 9]), 1));
        let bytes = e.to_bytes();
        // NdcmMadAddress: gid @0, qpn @16, qkey @20, pkey_index @24,
        // port @26, reserved0 @27, reserved1 @28..32; the MAD @32.
        assert_eq!(bytes.get(16..20), Some(&1u32.to_le_bytes()[..]));
        assert_eq!(bytes.get(20..24), Some(&0x8001_0000u32.to_le_bytes()[..]));
        assert_eq!(bytes.get(27..32), Some(&[0u8; 5][..]));
        assert_eq!(bytes.get(32..288), Some(&e.mad[..]));
    }
}
