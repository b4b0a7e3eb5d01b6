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

use crate::mad::{AttributeId, CM_BODY_SIZE, MAD_HEADER_SIZE, MAD_SIZE, MadHeader, MadPacket};
use crate::{Result, WireError};

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
        Self::check(id, body)?;
        Ok(Self::from_body(id, body))
    }

    /// The length and range checks of a body (§10.6). Split from
    /// `from_body` so that the large value is built once, in place, after
    /// every check has passed (moving it through `Result`s costs more than
    /// reading it).
    #[inline]
    pub(crate) fn check(id: AttributeId, body: &[u8]) -> Result<()> {
        if body.len() < CM_BODY_SIZE {
            return Err(WireError::Truncated {
                needed: CM_BODY_SIZE,
                got: body.len(),
            });
        }
        match id {
            AttributeId::Rej => RejRepr::check(&RejPacket::new_unchecked(body)),
            AttributeId::Apr => AprRepr::check(&AprPacket::new_unchecked(body)),
            AttributeId::SidrRep => SidrRepRepr::check(&SidrRepPacket::new_unchecked(body)),
            _ => Ok(()),
        }
    }

    /// Reads a body that passed `check`.
    #[inline]
    pub(crate) fn from_body(id: AttributeId, body: &[u8]) -> CmMessage {
        match id {
            AttributeId::ClassPortInfo => CmMessage::ClassPortInfo(ClassPortInfoRepr::from_packet(
                &ClassPortInfoPacket::new_unchecked(body),
            )),
            AttributeId::Req => {
                CmMessage::Req(ReqRepr::from_packet(&ReqPacket::new_unchecked(body)))
            }
            AttributeId::Mra => {
                CmMessage::Mra(MraRepr::from_packet(&MraPacket::new_unchecked(body)))
            }
            AttributeId::Rej => {
                CmMessage::Rej(RejRepr::from_packet(&RejPacket::new_unchecked(body)))
            }
            AttributeId::Rep => {
                CmMessage::Rep(RepRepr::from_packet(&RepPacket::new_unchecked(body)))
            }
            AttributeId::Rtu => {
                CmMessage::Rtu(RtuRepr::from_packet(&RtuPacket::new_unchecked(body)))
            }
            AttributeId::Dreq => {
                CmMessage::Dreq(DreqRepr::from_packet(&DreqPacket::new_unchecked(body)))
            }
            AttributeId::Drep => {
                CmMessage::Drep(DrepRepr::from_packet(&DrepPacket::new_unchecked(body)))
            }
            AttributeId::SidrReq => CmMessage::SidrReq(SidrReqRepr::from_packet(
                &SidrReqPacket::new_unchecked(body),
            )),
            AttributeId::SidrRep => CmMessage::SidrRep(SidrRepRepr::from_packet(
                &SidrRepPacket::new_unchecked(body),
            )),
            AttributeId::Lap => {
                CmMessage::Lap(LapRepr::from_packet(&LapPacket::new_unchecked(body)))
            }
            AttributeId::Apr => {
                CmMessage::Apr(AprRepr::from_packet(&AprPacket::new_unchecked(body)))
            }
        }
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
    #[inline]
    pub fn parse(mad: &[u8]) -> Result<CmMad> {
        let header = Self::check(mad)?;
        Ok(Self::from_checked(header, mad))
    }

    /// Every check of `parse`, returning the header.
    #[inline]
    pub(crate) fn check(mad: &[u8]) -> Result<MadHeader> {
        let packet = MadPacket::new_checked(mad)?;
        let header = MadHeader::parse(&packet)?;
        CmMessage::check(header.attribute_id, packet.body())?;
        Ok(header)
    }

    /// Builds the value of a MAD that passed `check`.
    #[inline]
    pub(crate) fn from_checked(header: MadHeader, mad: &[u8]) -> CmMad {
        let body = mad.get(MAD_HEADER_SIZE..MAD_SIZE).unwrap_or(&[]);
        CmMad {
            header,
            message: CmMessage::from_body(header.attribute_id, body),
        }
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
