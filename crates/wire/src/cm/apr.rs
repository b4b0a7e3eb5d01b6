//! APR (AlternatePathResponse, attribute 0x001A), spec/WIRE.md §5.8.

use super::view::cm_view;
use crate::enums::AprStatus;
use crate::{CommId, PrivateData, Result, WireError};

/// APR private data size.
pub const APR_PRIVATE_DATA: usize = 148;
/// Additional Info size.
pub const APR_INFO: usize = 72;

cm_view! {
    /// Zero-copy view of an APR body.
    ///
    /// | field | CM byte | bit | width |
    /// |---|---|---|---|
    /// | Local Communication ID | 0 | 0 | 32 |
    /// | Remote Communication ID | 4 | 0 | 32 |
    /// | Additional Info Length | 8 | 0 | 8 |
    /// | AP Status | 9 | 0 | 8 |
    /// | Additional Info | 12 | | 72 bytes |
    /// | Private Data | 84 | | 148 bytes |
    AprPacket {
        ints {
            local_comm_id, set_local_comm_id: u32 = 0, 0, 32;
            remote_comm_id, set_remote_comm_id: u32 = 4, 0, 32;
            additional_info_length, set_additional_info_length: u8 = 8, 0, 8;
            ap_status, set_ap_status: u8 = 9, 0, 8;
        }
        arrays {
            additional_info, set_additional_info: [APR_INFO] = 12;
        }
        private_data: 84, APR_PRIVATE_DATA;
    }
}

/// An APR as plain data.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct AprRepr {
    pub local_comm_id: CommId,
    pub remote_comm_id: CommId,
    /// At most 72.
    pub additional_info_length: u8,
    pub ap_status: AprStatus,
    pub additional_info: [u8; APR_INFO],
    pub private_data: PrivateData<APR_PRIVATE_DATA>,
}

impl AprRepr {
    /// Fails with `InfoLength` when Additional Info Length exceeds 72.
    pub fn parse<T: AsRef<[u8]>>(p: &AprPacket<T>) -> Result<AprRepr> {
        Self::check(p)?;
        Ok(Self::from_packet(p))
    }

    /// The range check of spec/WIRE.md §10.6 (length ≤ 72).
    #[inline]
    pub(crate) fn check<T: AsRef<[u8]>>(p: &AprPacket<T>) -> Result<()> {
        let additional_info_length = p.additional_info_length();
        if usize::from(additional_info_length) > 72 {
            return Err(WireError::InfoLength(additional_info_length));
        }
        Ok(())
    }

    /// Reads every field; call `check` first.
    #[inline]
    pub(crate) fn from_packet<T: AsRef<[u8]>>(p: &AprPacket<T>) -> AprRepr {
        AprRepr {
            local_comm_id: CommId(p.local_comm_id()),
            remote_comm_id: CommId(p.remote_comm_id()),
            additional_info_length: p.additional_info_length(),
            ap_status: AprStatus::from_code(p.ap_status()),
            additional_info: p.additional_info(),
            private_data: PrivateData(crate::bits::array(p.private_data(), 0)),
        }
    }

    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut AprPacket<T>) {
        p.clear();
        p.set_local_comm_id(self.local_comm_id.0);
        p.set_remote_comm_id(self.remote_comm_id.0);
        p.set_additional_info_length(self.additional_info_length);
        p.set_ap_status(self.ap_status.code());
        p.set_additional_info(&self.additional_info);
        p.set_private_data(&self.private_data.0);
    }
}
