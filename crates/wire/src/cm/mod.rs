//! The twelve CM attributes (spec/WIRE.md §4–§5) and the whole CM MAD.
//!
//! One file per message: a zero-copy `XxxPacket` view over the 232-byte CM
//! body and a plain `XxxRepr`. This module joins them with the MAD header
//! into `CmMad`; it never interprets values beyond what §10 requires.

pub mod apr;
pub mod class_port_info;
pub mod drep;
pub mod dreq;
pub mod lap;
pub mod mra;
pub mod path;
pub mod rej;
pub mod rep;
pub mod req;
pub mod rtu;
pub mod sidr_rep;
pub mod sidr_req;
mod view;

use crate::Result;
use crate::mad::{AttributeId, MAD_SIZE, MadHeader, MadPacket};

pub use apr::{AprPacket, AprRepr};
pub use class_port_info::{ClassPortInfoPacket, ClassPortInfoRepr};
pub use drep::{DrepPacket, DrepRepr};
pub use dreq::{DreqPacket, DreqRepr};
pub use lap::{LapPacket, LapRepr};
pub use mra::{MraPacket, MraRepr};
pub use path::PathRecord;
pub use rej::{RejPacket, RejRepr};
pub use rep::{RepPacket, RepRepr};
pub use req::{ReqPacket, ReqRepr};
pub use rtu::{RtuPacket, RtuRepr};
pub use sidr_rep::{SidrRepPacket, SidrRepRepr};
pub use sidr_req::{SidrReqPacket, SidrReqRepr};

/// One CM message of any attribute.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum CmMessage {
    ClassPortInfo(ClassPortInfoRepr),
    Req(ReqRepr),
    Mra(MraRepr),
    Rej(RejRepr),
    Rep(RepRepr),
    Rtu(RtuRepr),
    Dreq(DreqRepr),
    Drep(DrepRepr),
    SidrReq(SidrReqRepr),
    SidrRep(SidrRepRepr),
    Lap(LapRepr),
    Apr(AprRepr),
}

impl CmMessage {
    pub const fn attribute_id(&self) -> AttributeId {
        match self {
            CmMessage::ClassPortInfo(_) => AttributeId::ClassPortInfo,
            CmMessage::Req(_) => AttributeId::Req,
            CmMessage::Mra(_) => AttributeId::Mra,
            CmMessage::Rej(_) => AttributeId::Rej,
            CmMessage::Rep(_) => AttributeId::Rep,
            CmMessage::Rtu(_) => AttributeId::Rtu,
            CmMessage::Dreq(_) => AttributeId::Dreq,
            CmMessage::Drep(_) => AttributeId::Drep,
            CmMessage::SidrReq(_) => AttributeId::SidrReq,
            CmMessage::SidrRep(_) => AttributeId::SidrRep,
            CmMessage::Lap(_) => AttributeId::Lap,
            CmMessage::Apr(_) => AttributeId::Apr,
        }
    }

    /// Parses a 232-byte CM body of attribute `id`.
    pub fn parse(id: AttributeId, body: &[u8]) -> Result<CmMessage> {
        Ok(match id {
            AttributeId::ClassPortInfo => CmMessage::ClassPortInfo(ClassPortInfoRepr::parse(
                &ClassPortInfoPacket::new_checked(body)?,
            )?),
            AttributeId::Req => CmMessage::Req(ReqRepr::parse(&ReqPacket::new_checked(body)?)?),
            AttributeId::Mra => CmMessage::Mra(MraRepr::parse(&MraPacket::new_checked(body)?)?),
            AttributeId::Rej => CmMessage::Rej(RejRepr::parse(&RejPacket::new_checked(body)?)?),
            AttributeId::Rep => CmMessage::Rep(RepRepr::parse(&RepPacket::new_checked(body)?)?),
            AttributeId::Rtu => CmMessage::Rtu(RtuRepr::parse(&RtuPacket::new_checked(body)?)?),
            AttributeId::Dreq => CmMessage::Dreq(DreqRepr::parse(&DreqPacket::new_checked(body)?)?),
            AttributeId::Drep => CmMessage::Drep(DrepRepr::parse(&DrepPacket::new_checked(body)?)?),
            AttributeId::SidrReq => {
                CmMessage::SidrReq(SidrReqRepr::parse(&SidrReqPacket::new_checked(body)?)?)
            }
            AttributeId::SidrRep => {
                CmMessage::SidrRep(SidrRepRepr::parse(&SidrRepPacket::new_checked(body)?)?)
            }
            AttributeId::Lap => CmMessage::Lap(LapRepr::parse(&LapPacket::new_checked(body)?)?),
            AttributeId::Apr => CmMessage::Apr(AprRepr::parse(&AprPacket::new_checked(body)?)?),
        })
    }

    /// Writes the 232-byte CM body (all reserved bits and unused private
    /// data zeroed). A shorter buffer is written only as far as it goes.
    pub fn emit(&self, body: &mut [u8]) {
        match self {
            CmMessage::ClassPortInfo(r) => r.emit(&mut ClassPortInfoPacket::new_unchecked(body)),
            CmMessage::Req(r) => r.emit(&mut ReqPacket::new_unchecked(body)),
            CmMessage::Mra(r) => r.emit(&mut MraPacket::new_unchecked(body)),
            CmMessage::Rej(r) => r.emit(&mut RejPacket::new_unchecked(body)),
            CmMessage::Rep(r) => r.emit(&mut RepPacket::new_unchecked(body)),
            CmMessage::Rtu(r) => r.emit(&mut RtuPacket::new_unchecked(body)),
            CmMessage::Dreq(r) => r.emit(&mut DreqPacket::new_unchecked(body)),
            CmMessage::Drep(r) => r.emit(&mut DrepPacket::new_unchecked(body)),
            CmMessage::SidrReq(r) => r.emit(&mut SidrReqPacket::new_unchecked(body)),
            CmMessage::SidrRep(r) => r.emit(&mut SidrRepPacket::new_unchecked(body)),
            CmMessage::Lap(r) => r.emit(&mut LapPacket::new_unchecked(body)),
            CmMessage::Apr(r) => r.emit(&mut AprPacket::new_unchecked(body)),
        }
    }
}

/// A whole 256-byte CM MAD: header and message.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct CmMad {
    /// `header.attribute_id` always matches `message` after `parse`; `emit`
    /// writes the message's attribute ID.
    pub header: MadHeader,
    pub message: CmMessage,
}

impl CmMad {
    /// A MAD carrying `message` with transaction ID `tid`, the method the
    /// attribute is sent with and status 0.
    pub const fn new(transaction_id: u64, message: CmMessage) -> CmMad {
        CmMad {
            header: MadHeader::new(message.attribute_id(), transaction_id),
            message,
        }
    }

    /// Decodes and validates a received MAD (spec/WIRE.md §10 steps 4–6).
    pub fn parse(mad: &[u8]) -> Result<CmMad> {
        let packet = MadPacket::new_checked(mad)?;
        let header = MadHeader::parse(&packet)?;
        let message = CmMessage::parse(header.attribute_id, packet.body())?;
        Ok(CmMad { header, message })
    }

    /// Encodes into a whole MAD.
    pub fn emit(&self, mad: &mut [u8; MAD_SIZE]) {
        let mut packet = MadPacket::new_unchecked(&mut mad[..]);
        let header = MadHeader {
            attribute_id: self.message.attribute_id(),
            ..self.header
        };
        header.emit(&mut packet);
        self.message.emit(packet.body_mut());
    }

    /// Encodes into a fresh array.
    pub fn to_bytes(&self) -> [u8; MAD_SIZE] {
        let mut mad = [0u8; MAD_SIZE];
        self.emit(&mut mad);
        mad
    }
}
