//! The one error type of every decoder in this crate.
//!
//! Owns the reasons a buffer is refused; never carries borrowed data, so a
//! caller can store it or map it to an NTSTATUS / REJ reason in one place.

use core::fmt;

/// Why a MAD, a CM message or a RoCEv2 frame was refused.
///
/// Non-exhaustive: later checks may add reasons; match with a wildcard.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
#[non_exhaustive]
pub enum WireError {
    /// The buffer is shorter than the structure it must hold.
    Truncated { needed: usize, got: usize },
    /// The buffer is longer than the structure allows (a MAD is 256 bytes,
    /// a RoCEv2 QP1 datagram has a fixed size).
    TooLong { expected: usize, got: usize },
    /// MAD BaseVersion is not 1.
    BaseVersion(u8),
    /// MAD MgmtClass is not 0x07 (Communication Management).
    MgmtClass(u8),
    /// MAD ClassVersion is not 2. A REQ with this error may be answered with
    /// REJ 31 (unsupported class version).
    ClassVersion(u8),
    /// The method is not Send for a CM message, or not Get/Set/GetResp for
    /// ClassPortInfo (Linux `mad.c` drops such MADs).
    Method { attribute: u16, method: u8 },
    /// AttributeID is not one of spec/WIRE.md §4.
    UnknownAttribute(u16),
    /// Reject Info Length or Additional Info Length exceeds 72 bytes.
    InfoLength(u8),
    /// The IP header is not a plain IPv4 (IHL 5, protocol 17, unfragmented)
    /// or IPv6 (next header 17) header.
    IpHeader,
    /// The IP length fields disagree with the buffer.
    IpLength,
    /// UDP destination port is not 4791.
    UdpPort(u16),
    /// UDP length is not 288 (one MAD with BTH, DETH and ICRC).
    UdpLength(u16),
    /// BTH opcode is not 0x64 (UD SEND Only).
    Opcode(u8),
    /// BTH PadCnt is not 0.
    PadCount(u8),
    /// BTH DestQP is not QP1.
    DestQp(u32),
    /// DETH Q_Key is not the GSI Q_Key 0x80010000.
    QKey(u32),
    /// DETH SrcQP is not QP1.
    SrcQp(u32),
    /// The ICRC does not match the frame.
    Icrc { expected: u32, found: u32 },
    /// An Ethernet frame that carries neither IPv4 nor IPv6.
    EtherType(u16),
    /// The rdma_cm private-data header has a version other than 0.0 or an
    /// IP version byte other than 0x40 / 0x60 (spec/WIRE.md §7.2).
    RdmaCmHeader { version: u8, ip_version: u8 },
    /// A pcap file that this crate cannot read (bad magic, link type or
    /// record length).
    Pcap,
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            WireError::Truncated { needed, got } => {
                write!(f, "truncated: needs {needed} bytes, got {got}")
            }
            WireError::TooLong { expected, got } => {
                write!(f, "too long: expected {expected} bytes, got {got}")
            }
            WireError::BaseVersion(v) => write!(f, "MAD base version {v} (expected 1)"),
            WireError::MgmtClass(v) => write!(f, "MAD management class {v:#04x} (expected 0x07)"),
            WireError::ClassVersion(v) => write!(f, "CM class version {v} (expected 2)"),
            WireError::Method { attribute, method } => {
                write!(
                    f,
                    "method {method:#04x} not allowed for attribute {attribute:#06x}"
                )
            }
            WireError::UnknownAttribute(a) => write!(f, "unknown CM attribute {a:#06x}"),
            WireError::InfoLength(l) => write!(f, "additional info length {l} exceeds 72"),
            WireError::IpHeader => write!(f, "not a plain IPv4/IPv6 UDP header"),
            WireError::IpLength => write!(f, "IP length does not match the buffer"),
            WireError::UdpPort(p) => write!(f, "UDP destination port {p} (expected 4791)"),
            WireError::UdpLength(l) => write!(f, "UDP length {l} (expected 288)"),
            WireError::Opcode(o) => write!(f, "BTH opcode {o:#04x} (expected 0x64 UD SEND Only)"),
            WireError::PadCount(p) => write!(f, "BTH pad count {p} (expected 0)"),
            WireError::DestQp(q) => write!(f, "BTH destination QP {q:#08x} (expected 1)"),
            WireError::QKey(q) => write!(f, "DETH Q_Key {q:#010x} (expected 0x80010000)"),
            WireError::SrcQp(q) => write!(f, "DETH source QP {q:#08x} (expected 1)"),
            WireError::Icrc { expected, found } => {
                write!(
                    f,
                    "ICRC mismatch: computed {expected:#010x}, frame carries {found:#010x}"
                )
            }
            WireError::EtherType(t) => write!(f, "EtherType {t:#06x} is neither IPv4 nor IPv6"),
            WireError::RdmaCmHeader {
                version,
                ip_version,
            } => write!(
                f,
                "rdma_cm header version {version:#04x} / IP version {ip_version:#04x} not supported"
            ),
            WireError::Pcap => write!(f, "not a readable pcap file"),
        }
    }
}

impl core::error::Error for WireError {}

/// Result of every decoder in this crate.
pub type Result<T> = core::result::Result<T, WireError>;
