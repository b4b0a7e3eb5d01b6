//! DREQ (DisconnectRequest, attribute 0x0015), spec/WIRE.md §5.6.

use super::view::cm_view;
use crate::{CommId, PrivateData, Qpn, Result};

/// DREQ private data size.
pub const DREQ_PRIVATE_DATA: usize = 220;

cm_view! {
    /// Zero-copy view of a DREQ body.
    ///
    /// | field | CM byte | bit | width |
    /// |---|---|---|---|
    /// | Local Communication ID | 0 | 0 | 32 |
    /// | Remote Communication ID | 4 | 0 | 32 |
    /// | Remote QPN/EECN | 8 | 0 | 24 |
    /// | Private Data | 12 | | 220 bytes |
    DreqPacket {
        ints {
            local_comm_id, set_local_comm_id: u32 = 0, 0, 32;
            remote_comm_id, set_remote_comm_id: u32 = 4, 0, 32;
            remote_qpn, set_remote_qpn: u32 = 8, 0, 24;
        }
        arrays {}
        private_data: 12, DREQ_PRIVATE_DATA;
    }
}

/// A DREQ as plain data.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct DreqRepr {
    pub local_comm_id: CommId,
    pub remote_comm_id: CommId,
    /// The **receiver's** QPN (Remote QPN/EECN).
    pub remote_qpn: Qpn,
    pub private_data: PrivateData<DREQ_PRIVATE_DATA>,
}

impl DreqRepr {
    pub fn parse<T: AsRef<[u8]>>(p: &DreqPacket<T>) -> Result<DreqRepr> {
        Ok(Self::from_packet(p))
    }

    /// Reads every field; nothing in this message can be out of range.
    #[inline]
    pub(crate) fn from_packet<T: AsRef<[u8]>>(p: &DreqPacket<T>) -> DreqRepr {
        DreqRepr {
            local_comm_id: CommId(p.local_comm_id()),
            remote_comm_id: CommId(p.remote_comm_id()),
            remote_qpn: Qpn::new(p.remote_qpn()),
            private_data: PrivateData(crate::bits::array(p.private_data(), 0)),
        }
    }

    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut DreqPacket<T>) {
        p.clear();
        p.set_local_comm_id(self.local_comm_id.0);
        p.set_remote_comm_id(self.remote_comm_id.0);
        p.set_remote_qpn(self.remote_qpn.get());
        p.set_private_data(&self.private_data.0);
    }
}
