//! DREP (attribute 0x0016), spec/WIRE.md §5.5.

use super::view::cm_view;
use crate::{CommId, PrivateData, Result};

/// DREP private data size.
pub const DREP_PRIVATE_DATA: usize = 224;

cm_view! {
    /// Zero-copy view of a DREP body.
    ///
    /// | field | CM byte | bit | width |
    /// |---|---|---|---|
    /// | Local Communication ID | 0 | 0 | 32 |
    /// | Remote Communication ID | 4 | 0 | 32 |
    /// | Private Data | 8 | | 224 bytes |
    DrepPacket {
        ints {
            local_comm_id, set_local_comm_id: u32 = 0, 0, 32;
            remote_comm_id, set_remote_comm_id: u32 = 4, 0, 32;
        }
        arrays {}
        private_data: 8, DREP_PRIVATE_DATA;
    }
}

/// A DREP as plain data.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct DrepRepr {
    pub local_comm_id: CommId,
    pub remote_comm_id: CommId,
    pub private_data: PrivateData<DREP_PRIVATE_DATA>,
}

impl DrepRepr {
    pub fn parse<T: AsRef<[u8]>>(p: &DrepPacket<T>) -> Result<DrepRepr> {
        Ok(Self::from_packet(p))
    }

    /// Reads every field; nothing in this message can be out of range.
    #[inline]
    pub(crate) fn from_packet<T: AsRef<[u8]>>(p: &DrepPacket<T>) -> DrepRepr {
        DrepRepr {
            local_comm_id: CommId(p.local_comm_id()),
            remote_comm_id: CommId(p.remote_comm_id()),
            private_data: PrivateData(crate::bits::array(p.private_data(), 0)),
        }
    }

    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut DrepPacket<T>) {
        p.clear();
        p.set_local_comm_id(self.local_comm_id.0);
        p.set_remote_comm_id(self.remote_comm_id.0);
        p.set_private_data(&self.private_data.0);
    }
}
