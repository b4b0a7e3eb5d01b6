//! The common MAD header (spec/WIRE.md §3) and the CM attribute IDs (§4).
//!
//! Owns the checks every CM MAD must pass before its body is looked at:
//! versions, class, method and attribute (§10 steps 4–5).

use crate::bits::{self, Bits};
use crate::enums::code_enum;
use crate::{Result, WireError};

/// A MAD is always 256 bytes.
pub const MAD_SIZE: usize = 256;
/// The common MAD header.
pub const MAD_HEADER_SIZE: usize = 24;
/// The CM message body that follows the header.
pub const CM_BODY_SIZE: usize = MAD_SIZE - MAD_HEADER_SIZE;
/// BaseVersion of every MAD.
pub const BASE_VERSION: u8 = 0x01;
/// MgmtClass of the Communication Manager.
pub const MGMT_CLASS_CM: u8 = 0x07;
/// ClassVersion of the CM.
pub const CM_CLASS_VERSION: u8 = 0x02;

code_enum! {
    /// R bit + Method (MAD byte 3).
    Method: u8, mask = 0xFF, default = Send {
        Get = 0x01 => "Get",
        Set = 0x02 => "Set",
        /// Every CM message except ClassPortInfo.
        Send = 0x03 => "Send",
        GetResp = 0x81 => "GetResp",
    }
}

/// The CM attributes of §4. Unknown IDs are not representable: such MADs
/// are dropped (`WireError::UnknownAttribute`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[repr(u16)]
pub enum AttributeId {
    ClassPortInfo = 0x0001,
    Req = 0x0010,
    Mra = 0x0011,
    Rej = 0x0012,
    Rep = 0x0013,
    Rtu = 0x0014,
    Dreq = 0x0015,
    Drep = 0x0016,
    SidrReq = 0x0017,
    SidrRep = 0x0018,
    Lap = 0x0019,
    Apr = 0x001A,
}

impl AttributeId {
    /// Every attribute, in ID order.
    pub const ALL: [AttributeId; 12] = [
        AttributeId::ClassPortInfo,
        AttributeId::Req,
        AttributeId::Mra,
        AttributeId::Rej,
        AttributeId::Rep,
        AttributeId::Rtu,
        AttributeId::Dreq,
        AttributeId::Drep,
        AttributeId::SidrReq,
        AttributeId::SidrRep,
        AttributeId::Lap,
        AttributeId::Apr,
    ];

    pub const fn from_u16(id: u16) -> Option<AttributeId> {
        Some(match id {
            0x0001 => AttributeId::ClassPortInfo,
            0x0010 => AttributeId::Req,
            0x0011 => AttributeId::Mra,
            0x0012 => AttributeId::Rej,
            0x0013 => AttributeId::Rep,
            0x0014 => AttributeId::Rtu,
            0x0015 => AttributeId::Dreq,
            0x0016 => AttributeId::Drep,
            0x0017 => AttributeId::SidrReq,
            0x0018 => AttributeId::SidrRep,
            0x0019 => AttributeId::Lap,
            0x001A => AttributeId::Apr,
            _ => return None,
        })
    }

    pub const fn code(self) -> u16 {
        self as u16
    }

    /// The upper-case name of spec/WIRE.md §4 (`REQ`, `SIDR_REP`, …).
    pub const fn name(self) -> &'static str {
        match self {
            AttributeId::ClassPortInfo => "ClassPortInfo",
            AttributeId::Req => "REQ",
            AttributeId::Mra => "MRA",
            AttributeId::Rej => "REJ",
            AttributeId::Rep => "REP",
            AttributeId::Rtu => "RTU",
            AttributeId::Dreq => "DREQ",
            AttributeId::Drep => "DREP",
            AttributeId::SidrReq => "SIDR_REQ",
            AttributeId::SidrRep => "SIDR_REP",
            AttributeId::Lap => "LAP",
            AttributeId::Apr => "APR",
        }
    }

    /// The label Wireshark shows (§4).
    pub const fn wireshark_label(self) -> &'static str {
        match self {
            AttributeId::ClassPortInfo => "ClassPortInfo",
            AttributeId::Req => "ConnectRequest",
            AttributeId::Mra => "MsgRcptAck",
            AttributeId::Rej => "ConnectReject",
            AttributeId::Rep => "ConnectReply",
            AttributeId::Rtu => "ReadyToUse",
            AttributeId::Dreq => "DisconnectRequest",
            AttributeId::Drep => "DisconnectReply",
            AttributeId::SidrReq => "ServiceIDResReq",
            AttributeId::SidrRep => "ServiceIDResReqResp",
            AttributeId::Lap => "LoadAlternatePath",
            AttributeId::Apr => "AlternatePathResponse",
        }
    }

    /// Whether `method` is allowed with this attribute (Linux `mad.c`
    /// drops a CM MAD whose method is not Send unless it is ClassPortInfo).
    pub const fn allows(self, method: Method) -> bool {
        match self {
            AttributeId::ClassPortInfo => {
                matches!(method, Method::Get | Method::Set | Method::GetResp)
            }
            _ => matches!(method, Method::Send),
        }
    }
}

mod field {
    use super::Bits;
    pub const BASE_VERSION: Bits = Bits::new(0, 0, 8);
    pub const MGMT_CLASS: Bits = Bits::new(1, 0, 8);
    pub const CLASS_VERSION: Bits = Bits::new(2, 0, 8);
    pub const METHOD: Bits = Bits::new(3, 0, 8);
    pub const STATUS: Bits = Bits::new(4, 0, 16);
    pub const CLASS_SPECIFIC: Bits = Bits::new(6, 0, 16);
    pub const TRANSACTION_ID: Bits = Bits::new(8, 0, 64);
    pub const ATTRIBUTE_ID: Bits = Bits::new(16, 0, 16);
    pub const ATTRIBUTE_MODIFIER: Bits = Bits::new(20, 0, 32);
}

/// Zero-copy view of a 256-byte MAD.
///
/// | MAD byte | size | field |
/// |---|---|---|
/// | 0 | 1 | BaseVersion |
/// | 1 | 1 | MgmtClass |
/// | 2 | 1 | ClassVersion |
/// | 3 | 1 | R + Method |
/// | 4–5 | 2 | Status |
/// | 6–7 | 2 | ClassSpecific |
/// | 8–15 | 8 | TransactionID |
/// | 16–17 | 2 | AttributeID |
/// | 18–19 | 2 | Reserved |
/// | 20–23 | 4 | AttributeModifier |
/// | 24–255 | 232 | CM body |
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MadPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> MadPacket<T> {
    pub const fn new_unchecked(buffer: T) -> Self {
        Self { buffer }
    }

    /// Wraps exactly 256 bytes.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let got = buffer.as_ref().len();
        if got < MAD_SIZE {
            return Err(WireError::Truncated {
                needed: MAD_SIZE,
                got,
            });
        }
        if got > MAD_SIZE {
            return Err(WireError::TooLong {
                expected: MAD_SIZE,
                got,
            });
        }
        Ok(Self { buffer })
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn get(&self, f: Bits) -> u64 {
        bits::read(self.buffer.as_ref(), f)
    }

    pub fn base_version(&self) -> u8 {
        self.get(field::BASE_VERSION) as u8
    }
    pub fn mgmt_class(&self) -> u8 {
        self.get(field::MGMT_CLASS) as u8
    }
    pub fn class_version(&self) -> u8 {
        self.get(field::CLASS_VERSION) as u8
    }
    pub fn method(&self) -> u8 {
        self.get(field::METHOD) as u8
    }
    pub fn status(&self) -> u16 {
        self.get(field::STATUS) as u16
    }
    pub fn class_specific(&self) -> u16 {
        self.get(field::CLASS_SPECIFIC) as u16
    }
    pub fn transaction_id(&self) -> u64 {
        self.get(field::TRANSACTION_ID)
    }
    pub fn attribute_id(&self) -> u16 {
        self.get(field::ATTRIBUTE_ID) as u16
    }
    pub fn attribute_modifier(&self) -> u32 {
        self.get(field::ATTRIBUTE_MODIFIER) as u32
    }

    /// The 232-byte CM body.
    pub fn body(&self) -> &[u8] {
        self.buffer
            .as_ref()
            .get(MAD_HEADER_SIZE..MAD_SIZE)
            .unwrap_or(&[])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> MadPacket<T> {
    fn set(&mut self, f: Bits, v: u64) {
        bits::write(self.buffer.as_mut(), f, v)
    }

    pub fn set_base_version(&mut self, v: u8) {
        self.set(field::BASE_VERSION, v.into())
    }
    pub fn set_mgmt_class(&mut self, v: u8) {
        self.set(field::MGMT_CLASS, v.into())
    }
    pub fn set_class_version(&mut self, v: u8) {
        self.set(field::CLASS_VERSION, v.into())
    }
    pub fn set_method(&mut self, v: u8) {
        self.set(field::METHOD, v.into())
    }
    pub fn set_status(&mut self, v: u16) {
        self.set(field::STATUS, v.into())
    }
    pub fn set_class_specific(&mut self, v: u16) {
        self.set(field::CLASS_SPECIFIC, v.into())
    }
    pub fn set_transaction_id(&mut self, v: u64) {
        self.set(field::TRANSACTION_ID, v)
    }
    pub fn set_attribute_id(&mut self, v: u16) {
        self.set(field::ATTRIBUTE_ID, v.into())
    }
    pub fn set_attribute_modifier(&mut self, v: u32) {
        self.set(field::ATTRIBUTE_MODIFIER, v.into())
    }

    /// The 232-byte CM body, writable.
    pub fn body_mut(&mut self) -> &mut [u8] {
        self.buffer
            .as_mut()
            .get_mut(MAD_HEADER_SIZE..MAD_SIZE)
            .unwrap_or(&mut [])
    }
}

/// The common MAD header of a CM MAD. BaseVersion, MgmtClass and
/// ClassVersion are fixed (1, 0x07, 2) and checked on parse.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct MadHeader {
    pub method: Method,
    pub status: u16,
    pub class_specific: u16,
    pub transaction_id: u64,
    pub attribute_id: AttributeId,
    /// 0 on send; Linux may put an ECE value here in REQ/REP (ignored).
    pub attribute_modifier: u32,
}

impl MadHeader {
    /// A header for `attribute` with the method it is sent with (Send, or
    /// GetResp for ClassPortInfo) and status 0.
    pub const fn new(attribute_id: AttributeId, transaction_id: u64) -> MadHeader {
        MadHeader {
            method: match attribute_id {
                AttributeId::ClassPortInfo => Method::GetResp,
                _ => Method::Send,
            },
            status: 0,
            class_specific: 0,
            transaction_id,
            attribute_id,
            attribute_modifier: 0,
        }
    }

    /// Checks versions, class, attribute and method (§10 steps 4–5).
    pub fn parse<T: AsRef<[u8]>>(p: &MadPacket<T>) -> Result<MadHeader> {
        if p.base_version() != BASE_VERSION {
            return Err(WireError::BaseVersion(p.base_version()));
        }
        if p.mgmt_class() != MGMT_CLASS_CM {
            return Err(WireError::MgmtClass(p.mgmt_class()));
        }
        if p.class_version() != CM_CLASS_VERSION {
            return Err(WireError::ClassVersion(p.class_version()));
        }
        let attribute = p.attribute_id();
        let attribute_id =
            AttributeId::from_u16(attribute).ok_or(WireError::UnknownAttribute(attribute))?;
        let method = Method::from_code(p.method());
        if !attribute_id.allows(method) {
            return Err(WireError::Method {
                attribute,
                method: p.method(),
            });
        }
        Ok(MadHeader {
            method,
            status: p.status(),
            class_specific: p.class_specific(),
            transaction_id: p.transaction_id(),
            attribute_id,
            attribute_modifier: p.attribute_modifier(),
        })
    }

    /// Writes the header (reserved bytes 18–19 as 0); leaves the body alone.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, p: &mut MadPacket<T>) {
        p.set_base_version(BASE_VERSION);
        p.set_mgmt_class(MGMT_CLASS_CM);
        p.set_class_version(CM_CLASS_VERSION);
        p.set_method(self.method.code());
        p.set_status(self.status);
        p.set_class_specific(self.class_specific);
        p.set_transaction_id(self.transaction_id);
        p.set_attribute_id(self.attribute_id.code());
        bits::write(p.buffer.as_mut(), Bits::new(18, 0, 16), 0);
        p.set_attribute_modifier(self.attribute_modifier);
    }
}
