//! MRA (MsgRcptAck, attribute 0x0011), spec/WIRE.md §5.2.

use super::view::cm_view;
use crate::enums::MraMessage;
use crate::{CommId, PrivateData, Result};

/// MRA private data size.
pub const MRA_PRIVATE_DATA: usize = 222;

cm_view! {
    /// Zero-copy view of an MRA body.
    ///
    /// | field | CM byte | bit | width |
    /// |---|---|---|---|
    /// | Local Communication ID | 0 | 0 | 32 |
    /// | Remote Communication ID | 4 | 0 | 32 |
    /// | Message MRAed | 8 | 0 | 2 |
    /// | Service Timeout | 9 | 0 | 5 |
    /// | Private Data | 10 | | 222 bytes |
    MraPacket {
        ints {
            local_comm_id, set_local_comm_id: u32 = 0, 0, 32;
            remote_comm_id, set_remote_comm_id: u32 = 4, 0, 32;
            message_mraed, set_message_mraed: u8 = 8, 0, 2;
            service_timeout, set_service_timeout: u8 = 9, 0, 5;
        }
        arrays {}
        private_data: 10, MRA_PRIVATE_DATA;
    }
}

/// An MRA as plain data.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct MraRepr {
    pub local_comm_id: CommId,
    pub remote_comm_id: CommId,
    pub message_mraed: MraMessage,
    /// Exponent, 5 bits.
    pub service_timeout: u8,
    pub private_data: PrivateData<MRA_PRIVATE_DATA>,
}

impl MraRepr {
    pub fn parse<T: AsRef<[u8]>>(p: &MraPacket<T>) -> Result<MraRepr> {
        Ok(Self::from_packet(p))
    }

    /// Reads every field; nothing in this message can be out of range.
    #[inline]
    pub(crate) fn from_packet<T: AsRef<[u8]>>(p: &MraPacket<T>) -> MraRepr {
        MraRepr {
            local_comm_id: CommId(p.local_comm_id()),
            remote_comm_id: CommId(p.remote_comm_id()),
            message_mraed: MraMessage::from_code(p.message_mraed()),
            service_timeout: p.service_timeout(),
            private_data: PrivateData(crate::bits::array(p.private_data(), 0)),
        }
    }

    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut MraPacket<T>) {
        p.clear();
        p.set_local_comm_id(self.local_comm_id.0);
        p.set_remote_comm_id(self.remote_comm_id.0);
        p.set_message_mraed(self.message_mraed.code());
        p.set_service_timeout(self.service_timeout);
        p.set_private_data(&self.private_data.0);
    }
}
