//! Ethernet II framing around a RoCEv2 packet (optionally one 802.1Q tag),
//! for captures and the software MAD path. Owns EtherTypes only; the FCS is
//! never present here.

use crate::bits;
use crate::{Result, WireError};

pub const ETHERNET_HEADER_SIZE: usize = 14;
pub const ETHERTYPE_IPV4: u16 = 0x0800;
pub const ETHERTYPE_IPV6: u16 = 0x86DD;
pub const ETHERTYPE_VLAN: u16 = 0x8100;

/// Returns the IP packet an Ethernet frame carries (IPv4 or IPv6, after at
/// most one VLAN tag).
pub fn ip_payload(frame: &[u8]) -> Result<&[u8]> {
    let mut at = 12;
    let mut ethertype = u16::from_be_bytes(bits::array(frame, at));
    if ethertype == ETHERTYPE_VLAN {
        at += 4;
        ethertype = u16::from_be_bytes(bits::array(frame, at));
    }
    let start = at + 2;
    if frame.len() < start {
        return Err(WireError::Truncated {
            needed: start,
            got: frame.len(),
        });
    }
    match ethertype {
        ETHERTYPE_IPV4 | ETHERTYPE_IPV6 => Ok(frame.get(start..).unwrap_or(&[])),
        other => Err(WireError::EtherType(other)),
    }
}

/// Writes an untagged Ethernet header for an IP packet of `ipv6` family;
/// fails if `buf` is shorter than 14 bytes.
pub fn emit_header(dst: [u8; 6], src: [u8; 6], ipv6: bool, buf: &mut [u8]) -> Result<()> {
    if buf.len() < ETHERNET_HEADER_SIZE {
        return Err(WireError::Truncated {
            needed: ETHERNET_HEADER_SIZE,
            got: buf.len(),
        });
    }
    bits::put(buf, 0, &dst);
    bits::put(buf, 6, &src);
    let ethertype = if ipv6 { ETHERTYPE_IPV6 } else { ETHERTYPE_IPV4 };
    bits::put(buf, 12, &ethertype.to_be_bytes());
    Ok(())
}
