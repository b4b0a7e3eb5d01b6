//! LAP (LoadAlternatePath, attribute 0x0019), spec/WIRE.md §5.7.
//!
//! Its path block orders traffic class and hop limit before the packet rate,
//! unlike REQ (`path::LAP_LAYOUT`).

use super::path::{self, LAP_LAYOUT, PathRecord};
use super::view::cm_view;
use crate::{CommId, PrivateData, Qpn, Result};

/// LAP private data size.
pub const LAP_PRIVATE_DATA: usize = 168;
const ALTERNATE_PATH: usize = 20;

cm_view! {
    /// Zero-copy view of a LAP body.
    ///
    /// | field | CM byte | bit | width |
    /// |---|---|---|---|
    /// | Local Communication ID | 0 | 0 | 32 |
    /// | Remote Communication ID | 4 | 0 | 32 |
    /// | Remote QPN/EECN | 12 | 0 | 24 |
    /// | Remote CM Response Timeout | 15 | 0 | 5 |
    /// | Alternate path (LAP order) | 20–63 | | 44 bytes |
    /// | Private Data | 64 | | 168 bytes |
    LapPacket {
        ints {
            local_comm_id, set_local_comm_id: u32 = 0, 0, 32;
            remote_comm_id, set_remote_comm_id: u32 = 4, 0, 32;
            remote_qpn, set_remote_qpn: u32 = 12, 0, 24;
            remote_cm_response_timeout, set_remote_cm_response_timeout: u8 = 15, 0, 5;
        }
        arrays {}
        private_data: 64, LAP_PRIVATE_DATA;
    }
}

impl<T: AsRef<[u8]>> LapPacket<T> {
    pub fn alternate_path(&self) -> PathRecord {
        path::read(self.buffer.as_ref(), ALTERNATE_PATH, LAP_LAYOUT)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> LapPacket<T> {
    pub fn set_alternate_path(&mut self, p: &PathRecord) {
        path::write(self.buffer.as_mut(), ALTERNATE_PATH, LAP_LAYOUT, p)
    }
}

/// A LAP as plain data.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct LapRepr {
    pub local_comm_id: CommId,
    pub remote_comm_id: CommId,
    pub remote_qpn: Qpn,
    /// Exponent, 5 bits.
    pub remote_cm_response_timeout: u8,
    pub alternate_path: PathRecord,
    pub private_data: PrivateData<LAP_PRIVATE_DATA>,
}

impl LapRepr {
    pub fn parse<T: AsRef<[u8]>>(p: &LapPacket<T>) -> Result<LapRepr> {
        Ok(Self::from_packet(p))
    }

    /// Reads every field; nothing in this message can be out of range.
    #[inline]
    pub(crate) fn from_packet<T: AsRef<[u8]>>(p: &LapPacket<T>) -> LapRepr {
        LapRepr {
            local_comm_id: CommId(p.local_comm_id()),
            remote_comm_id: CommId(p.remote_comm_id()),
            remote_qpn: Qpn::new(p.remote_qpn()),
            remote_cm_response_timeout: p.remote_cm_response_timeout(),
            alternate_path: p.alternate_path(),
            private_data: PrivateData(crate::bits::array(p.private_data(), 0)),
        }
    }

    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut LapPacket<T>) {
        p.clear();
        p.set_local_comm_id(self.local_comm_id.0);
        p.set_remote_comm_id(self.remote_comm_id.0);
        p.set_remote_qpn(self.remote_qpn.get());
        p.set_remote_cm_response_timeout(self.remote_cm_response_timeout);
        p.set_alternate_path(&self.alternate_path);
        p.set_private_data(&self.private_data.0);
    }
}
