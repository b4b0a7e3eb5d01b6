//! SIDR_REP (ServiceIDResReqResp, attribute 0x0018), spec/WIRE.md §5.10.

use super::view::cm_view;
use crate::enums::SidrStatus;
use crate::{PrivateData, Qpn, Result, ServiceId, WireError};

/// SIDR_REP private data size.
pub const SIDR_REP_PRIVATE_DATA: usize = 136;
/// Additional Info size (a ClassPortInfo on redirect).
pub const SIDR_REP_INFO: usize = 72;

cm_view! {
    /// Zero-copy view of a SIDR_REP body.
    ///
    /// | field | CM byte | bit | width |
    /// |---|---|---|---|
    /// | Request ID | 0 | 0 | 32 |
    /// | Status | 4 | 0 | 8 |
    /// | Additional Info Length | 5 | 0 | 8 |
    /// | ECE Vendor ID high 16 bits | 6 | 0 | 16 |
    /// | QPN | 8 | 0 | 24 |
    /// | ECE Vendor ID low byte | 11 | 0 | 8 |
    /// | Service ID | 12 | 0 | 64 |
    /// | Q_Key | 20 | 0 | 32 |
    /// | Additional Info | 24 | | 72 bytes |
    /// | Private Data | 96 | | 136 bytes |
    SidrRepPacket {
        ints {
            request_id, set_request_id: u32 = 0, 0, 32;
            status, set_status: u8 = 4, 0, 8;
            additional_info_length, set_additional_info_length: u8 = 5, 0, 8;
            ece_vendor_id_high, set_ece_vendor_id_high: u16 = 6, 0, 16;
            qpn, set_qpn: u32 = 8, 0, 24;
            ece_vendor_id_low, set_ece_vendor_id_low: u8 = 11, 0, 8;
            service_id, set_service_id: u64 = 12, 0, 64;
            qkey, set_qkey: u32 = 20, 0, 32;
        }
        arrays {
            additional_info, set_additional_info: [SIDR_REP_INFO] = 24;
        }
        private_data: 96, SIDR_REP_PRIVATE_DATA;
    }
}

/// A SIDR_REP as plain data.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct SidrRepRepr {
    /// Echoes the SIDR_REQ.
    pub request_id: u32,
    pub status: SidrStatus,
    /// At most 72.
    pub additional_info_length: u8,
    /// 24 bits; sent as 0.
    pub ece_vendor_id: u32,
    pub qpn: Qpn,
    pub service_id: ServiceId,
    pub qkey: u32,
    pub additional_info: [u8; SIDR_REP_INFO],
    pub private_data: PrivateData<SIDR_REP_PRIVATE_DATA>,
}

impl SidrRepRepr {
    /// Fails with `InfoLength` when Additional Info Length exceeds 72.
    pub fn parse<T: AsRef<[u8]>>(p: &SidrRepPacket<T>) -> Result<SidrRepRepr> {
        Self::check(p)?;
        Ok(Self::from_packet(p))
    }

    /// The range check of spec/WIRE.md §10.6 (length ≤ 72).
    #[inline]
    pub(crate) fn check<T: AsRef<[u8]>>(p: &SidrRepPacket<T>) -> Result<()> {
        let additional_info_length = p.additional_info_length();
        if usize::from(additional_info_length) > 72 {
            return Err(WireError::InfoLength(additional_info_length));
        }
        Ok(())
    }

    /// Reads every field; call `check` first.
    #[inline]
    pub(crate) fn from_packet<T: AsRef<[u8]>>(p: &SidrRepPacket<T>) -> SidrRepRepr {
        SidrRepRepr {
            request_id: p.request_id(),
            status: SidrStatus::from_code(p.status()),
            additional_info_length: p.additional_info_length(),
            ece_vendor_id: u32::from(p.ece_vendor_id_high()) << 8
                | u32::from(p.ece_vendor_id_low()),
            qpn: Qpn::new(p.qpn()),
            service_id: ServiceId(p.service_id()),
            qkey: p.qkey(),
            additional_info: p.additional_info(),
            private_data: PrivateData(crate::bits::array(p.private_data(), 0)),
        }
    }

    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut SidrRepPacket<T>) {
        p.clear();
        p.set_request_id(self.request_id);
        p.set_status(self.status.code());
        p.set_additional_info_length(self.additional_info_length);
        p.set_ece_vendor_id_high((self.ece_vendor_id >> 8) as u16);
        p.set_qpn(self.qpn.get());
        p.set_ece_vendor_id_low(self.ece_vendor_id as u8);
        p.set_service_id(self.service_id.0);
        p.set_qkey(self.qkey);
        p.set_additional_info(&self.additional_info);
        p.set_private_data(&self.private_data.0);
    }
}
