//! REJ (ConnectReject, attribute 0x0012), spec/WIRE.md §5.3.

use super::view::cm_view;
use crate::enums::{RejMessage, RejReason};
use crate::{CommId, PrivateData, Result, WireError};

/// REJ private data size.
pub const REJ_PRIVATE_DATA: usize = 148;
/// Additional Reject Information size.
pub const REJ_ARI: usize = 72;

cm_view! {
    /// Zero-copy view of a REJ body.
    ///
    /// | field | CM byte | bit | width |
    /// |---|---|---|---|
    /// | Local Communication ID | 0 | 0 | 32 |
    /// | Remote Communication ID | 4 | 0 | 32 |
    /// | Message Rejected | 8 | 0 | 2 |
    /// | Reject Info Length | 9 | 0 | 7 |
    /// | Reason | 10 | 0 | 16 |
    /// | Additional Reject Information | 12 | | 72 bytes |
    /// | Private Data | 84 | | 148 bytes |
    RejPacket {
        ints {
            local_comm_id, set_local_comm_id: u32 = 0, 0, 32;
            remote_comm_id, set_remote_comm_id: u32 = 4, 0, 32;
            message_rejected, set_message_rejected: u8 = 8, 0, 2;
            reject_info_length, set_reject_info_length: u8 = 9, 0, 7;
            reason, set_reason: u16 = 10, 0, 16;
        }
        arrays {
            ari, set_ari: [REJ_ARI] = 12;
        }
        private_data: 84, REJ_PRIVATE_DATA;
    }
}

/// A REJ as plain data.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct RejRepr {
    /// 0 when rejecting a REQ before a local ID exists.
    pub local_comm_id: CommId,
    pub remote_comm_id: CommId,
    pub message_rejected: RejMessage,
    /// ARI bytes used, at most 72.
    pub reject_info_length: u8,
    pub reason: RejReason,
    /// Additional Reject Information, full size.
    pub ari: [u8; REJ_ARI],
    pub private_data: PrivateData<REJ_PRIVATE_DATA>,
}

impl RejRepr {
    /// The ARI bytes in use.
    pub fn ari_used(&self) -> &[u8] {
        self.ari
            .get(..usize::from(self.reject_info_length))
            .unwrap_or(&self.ari)
    }

    /// Fails with `InfoLength` when Reject Info Length exceeds 72 (§10.6).
    pub fn parse<T: AsRef<[u8]>>(p: &RejPacket<T>) -> Result<RejRepr> {
        Self::check(p)?;
        Ok(Self::from_packet(p))
    }

    /// The range check of spec/WIRE.md §10.6 (length ≤ 72).
    #[inline]
    pub(crate) fn check<T: AsRef<[u8]>>(p: &RejPacket<T>) -> Result<()> {
        let reject_info_length = p.reject_info_length();
        if usize::from(reject_info_length) > 72 {
            return Err(WireError::InfoLength(reject_info_length));
        }
        Ok(())
    }

    /// Reads every field; call `check` first.
    #[inline]
    pub(crate) fn from_packet<T: AsRef<[u8]>>(p: &RejPacket<T>) -> RejRepr {
        RejRepr {
            local_comm_id: CommId(p.local_comm_id()),
            remote_comm_id: CommId(p.remote_comm_id()),
            message_rejected: RejMessage::from_code(p.message_rejected()),
            reject_info_length: p.reject_info_length(),
            reason: RejReason::from_code(p.reason()),
            ari: p.ari(),
            private_data: PrivateData(crate::bits::array(p.private_data(), 0)),
        }
    }

    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut RejPacket<T>) {
        p.clear();
        p.set_local_comm_id(self.local_comm_id.0);
        p.set_remote_comm_id(self.remote_comm_id.0);
        p.set_message_rejected(self.message_rejected.code());
        p.set_reject_info_length(self.reject_info_length);
        p.set_reason(self.reason.code());
        p.set_ari(&self.ari);
        p.set_private_data(&self.private_data.0);
    }
}
