//! SIDR_REQ (ServiceIDResReq, attribute 0x0017), spec/WIRE.md §5.9.

use super::view::cm_view;
use crate::{PrivateData, Result, ServiceId};

/// SIDR_REQ private data size.
pub const SIDR_REQ_PRIVATE_DATA: usize = 216;

cm_view! {
    /// Zero-copy view of a SIDR_REQ body.
    ///
    /// | field | CM byte | bit | width |
    /// |---|---|---|---|
    /// | Request ID | 0 | 0 | 32 |
    /// | Partition Key | 4 | 0 | 16 |
    /// | Service ID | 8 | 0 | 64 |
    /// | Private Data | 16 | | 216 bytes |
    SidrReqPacket {
        ints {
            request_id, set_request_id: u32 = 0, 0, 32;
            partition_key, set_partition_key: u16 = 4, 0, 16;
            service_id, set_service_id: u64 = 8, 0, 64;
        }
        arrays {}
        private_data: 16, SIDR_REQ_PRIVATE_DATA;
    }
}

/// A SIDR_REQ as plain data.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct SidrReqRepr {
    pub request_id: u32,
    pub partition_key: u16,
    pub service_id: ServiceId,
    pub private_data: PrivateData<SIDR_REQ_PRIVATE_DATA>,
}

impl SidrReqRepr {
    pub fn parse<T: AsRef<[u8]>>(p: &SidrReqPacket<T>) -> Result<SidrReqRepr> {
        Ok(Self::from_packet(p))
    }

    /// Reads every field; nothing in this message can be out of range.
    #[inline]
    pub(crate) fn from_packet<T: AsRef<[u8]>>(p: &SidrReqPacket<T>) -> SidrReqRepr {
        SidrReqRepr {
            request_id: p.request_id(),
            partition_key: p.partition_key(),
            service_id: ServiceId(p.service_id()),
            private_data: PrivateData(crate::bits::array(p.private_data(), 0)),
        }
    }

    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut SidrReqPacket<T>) {
        p.clear();
        p.set_request_id(self.request_id);
        p.set_partition_key(self.partition_key);
        p.set_service_id(self.service_id.0);
        p.set_private_data(&self.private_data.0);
    }
}
