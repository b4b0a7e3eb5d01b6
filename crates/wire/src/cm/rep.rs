//! REP (ConnectReply, attribute 0x0013), spec/WIRE.md §5.4.

use super::view::cm_view;
use crate::enums::FailoverAccepted;
use crate::{CommId, PrivateData, Psn, Qpn, Result};

/// REP private data size.
pub const REP_PRIVATE_DATA: usize = 196;

cm_view! {
    /// Zero-copy view of a REP body.
    ///
    /// | field | CM byte | bit | width |
    /// |---|---|---|---|
    /// | Local Communication ID | 0 | 0 | 32 |
    /// | Remote Communication ID | 4 | 0 | 32 |
    /// | Local Q_Key | 8 | 0 | 32 |
    /// | Local QPN | 12 | 0 | 24 |
    /// | ECE Vendor ID high byte | 15 | 0 | 8 |
    /// | Local EECN | 16 | 0 | 24 |
    /// | ECE Vendor ID middle byte | 19 | 0 | 8 |
    /// | Starting PSN | 20 | 0 | 24 |
    /// | ECE Vendor ID low byte | 23 | 0 | 8 |
    /// | Responder Resources | 24 | 0 | 8 |
    /// | Initiator Depth | 25 | 0 | 8 |
    /// | Target ACK Delay | 26 | 0 | 5 |
    /// | Failover Accepted | 26 | 5 | 2 |
    /// | End-to-End Flow Control | 26 | 7 | 1 |
    /// | RNR Retry Count | 27 | 0 | 3 |
    /// | SRQ | 27 | 3 | 1 |
    /// | Local CA GUID | 28 | 0 | 64 |
    /// | Private Data | 36 | | 196 bytes |
    RepPacket {
        ints {
            local_comm_id, set_local_comm_id: u32 = 0, 0, 32;
            remote_comm_id, set_remote_comm_id: u32 = 4, 0, 32;
            local_qkey, set_local_qkey: u32 = 8, 0, 32;
            local_qpn, set_local_qpn: u32 = 12, 0, 24;
            ece_vendor_id_high, set_ece_vendor_id_high: u8 = 15, 0, 8;
            local_eecn, set_local_eecn: u32 = 16, 0, 24;
            ece_vendor_id_middle, set_ece_vendor_id_middle: u8 = 19, 0, 8;
            starting_psn, set_starting_psn: u32 = 20, 0, 24;
            ece_vendor_id_low, set_ece_vendor_id_low: u8 = 23, 0, 8;
            responder_resources, set_responder_resources: u8 = 24, 0, 8;
            initiator_depth, set_initiator_depth: u8 = 25, 0, 8;
            target_ack_delay, set_target_ack_delay: u8 = 26, 0, 5;
            failover_accepted, set_failover_accepted: u8 = 26, 5, 2;
            end_to_end_flow_control, set_end_to_end_flow_control: u8 = 26, 7, 1;
            rnr_retry_count, set_rnr_retry_count: u8 = 27, 0, 3;
            srq, set_srq: u8 = 27, 3, 1;
            local_ca_guid, set_local_ca_guid: u64 = 28, 0, 64;
        }
        arrays {}
        private_data: 36, REP_PRIVATE_DATA;
    }
}

/// A REP as plain data.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct RepRepr {
    pub local_comm_id: CommId,
    pub remote_comm_id: CommId,
    pub local_qkey: u32,
    pub local_qpn: Qpn,
    /// ECE Vendor ID (24 bits, split over bytes 15, 19 and 23); sent as 0.
    pub ece_vendor_id: u32,
    /// 24 bits; 0 (Linux XRC puts the target QPN here).
    pub local_eecn: u32,
    pub starting_psn: Psn,
    pub responder_resources: u8,
    pub initiator_depth: u8,
    /// Exponent, 5 bits.
    pub target_ack_delay: u8,
    pub failover_accepted: FailoverAccepted,
    pub end_to_end_flow_control: bool,
    /// 3 bits.
    pub rnr_retry_count: u8,
    pub srq: bool,
    pub local_ca_guid: u64,
    pub private_data: PrivateData<REP_PRIVATE_DATA>,
}

impl RepRepr {
    pub fn parse<T: AsRef<[u8]>>(p: &RepPacket<T>) -> Result<RepRepr> {
        Ok(Self::from_packet(p))
    }

    /// Reads every field; nothing in this message can be out of range.
    #[inline]
    pub(crate) fn from_packet<T: AsRef<[u8]>>(p: &RepPacket<T>) -> RepRepr {
        RepRepr {
            local_comm_id: CommId(p.local_comm_id()),
            remote_comm_id: CommId(p.remote_comm_id()),
            local_qkey: p.local_qkey(),
            local_qpn: Qpn::new(p.local_qpn()),
            ece_vendor_id: u32::from(p.ece_vendor_id_high()) << 16
                | u32::from(p.ece_vendor_id_middle()) << 8
                | u32::from(p.ece_vendor_id_low()),
            local_eecn: p.local_eecn(),
            starting_psn: Psn::new(p.starting_psn()),
            responder_resources: p.responder_resources(),
            initiator_depth: p.initiator_depth(),
            target_ack_delay: p.target_ack_delay(),
            failover_accepted: FailoverAccepted::from_code(p.failover_accepted()),
            end_to_end_flow_control: p.end_to_end_flow_control() != 0,
            rnr_retry_count: p.rnr_retry_count(),
            srq: p.srq() != 0,
            local_ca_guid: p.local_ca_guid(),
            private_data: PrivateData(crate::bits::array(p.private_data(), 0)),
        }
    }

    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut RepPacket<T>) {
        p.clear();
        p.set_local_comm_id(self.local_comm_id.0);
        p.set_remote_comm_id(self.remote_comm_id.0);
        p.set_local_qkey(self.local_qkey);
        p.set_local_qpn(self.local_qpn.get());
        p.set_ece_vendor_id_high((self.ece_vendor_id >> 16) as u8);
        p.set_local_eecn(self.local_eecn);
        p.set_ece_vendor_id_middle((self.ece_vendor_id >> 8) as u8);
        p.set_starting_psn(self.starting_psn.get());
        p.set_ece_vendor_id_low(self.ece_vendor_id as u8);
        p.set_responder_resources(self.responder_resources);
        p.set_initiator_depth(self.initiator_depth);
        p.set_target_ack_delay(self.target_ack_delay);
        p.set_failover_accepted(self.failover_accepted.code());
        p.set_end_to_end_flow_control(self.end_to_end_flow_control.into());
        p.set_rnr_retry_count(self.rnr_retry_count);
        p.set_srq(self.srq.into());
        p.set_local_ca_guid(self.local_ca_guid);
        p.set_private_data(&self.private_data.0);
    }
}
