//! Ethernet II framing for the frame tunnel: MAC addresses and the 14-byte header.
//!
//! Owns only the untagged Ethernet II header (destination, source, EtherType). It never
//! looks past the header: the payload belongs to ARP or to the RoCEv2 framing of ndcm-wire.
//! No FCS: QEMU's `-netdev dgram` carries frames without it.

use core::fmt;

/// Length of an untagged Ethernet II header.
pub const HEADER_LEN: usize = 14;
/// EtherType of IPv4.
pub const ETHERTYPE_IPV4: u16 = 0x0800;
/// EtherType of ARP.
pub const ETHERTYPE_ARP: u16 = 0x0806;
/// EtherType of an 802.1Q VLAN tag (frames carrying one are not for this host).
pub const ETHERTYPE_VLAN: u16 = 0x8100;

/// A 48-bit IEEE MAC address.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct MacAddress(pub [u8; 6]);

impl MacAddress {
    /// The broadcast address ff:ff:ff:ff:ff:ff.
    pub const BROADCAST: MacAddress = MacAddress([0xff; 6]);

    /// A locally administered unicast address (bit 1 of the first byte set, bit 0 clear)
    /// whose last four bytes are `low`: safe to invent without colliding with a vendor's.
    pub const fn local(low: u32) -> MacAddress {
        let b = low.to_be_bytes();
        MacAddress([0x02, 0x00, b[0], b[1], b[2], b[3]])
    }

    /// Whether this is a group (multicast or broadcast) address.
    pub const fn is_multicast(&self) -> bool {
        self.0[0] & 0x01 != 0
    }
}

impl fmt::Display for MacAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

impl fmt::Debug for MacAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The Ethernet II header of a frame.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct EthernetHeader {
    pub destination: MacAddress,
    pub source: MacAddress,
    pub ethertype: u16,
}

impl EthernetHeader {
    /// Splits a frame into its header and payload; `None` if it is shorter than a header.
    pub fn parse(frame: &[u8]) -> Option<(EthernetHeader, &[u8])> {
        let (head, payload) = frame.split_first_chunk::<HEADER_LEN>()?;
        let (dst, rest) = head.split_first_chunk::<6>()?;
        let (src, ty) = rest.split_first_chunk::<6>()?;
        let ethertype = u16::from_be_bytes(*ty.first_chunk::<2>()?);
        let header = EthernetHeader {
            destination: MacAddress(*dst),
            source: MacAddress(*src),
            ethertype,
        };
        Some((header, payload))
    }

    /// The 14 header bytes as sent.
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[..6].copy_from_slice(&self.destination.0);
        out[6..12].copy_from_slice(&self.source.0);
        out[12..].copy_from_slice(&self.ethertype.to_be_bytes());
        out
    }

    /// A whole frame: this header followed by `payload`.
    pub fn frame(&self, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
        out.extend_from_slice(&self.to_bytes());
        out.extend_from_slice(payload);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips_and_splits_payload() {
        let h = EthernetHeader {
            destination: MacAddress::BROADCAST,
            source: MacAddress::local(0x0a4d_0001),
            ethertype: ETHERTYPE_ARP,
        };
        let frame = h.frame(&[1, 2, 3]);
        assert_eq!(&frame[..14], &hex("ffffffffffff 02000a4d0001 0806"));
        let (parsed, payload) = EthernetHeader::parse(&frame).unwrap();
        assert_eq!(parsed, h);
        assert_eq!(payload, &[1, 2, 3]);
    }

    #[test]
    fn short_frame_is_rejected() {
        assert!(EthernetHeader::parse(&[0u8; 13]).is_none());
    }

    #[test]
    fn local_addresses_are_unicast_and_locally_administered() {
        let m = MacAddress::local(7);
        assert!(!m.is_multicast());
        assert_eq!(m.0[0] & 0x02, 0x02);
        assert!(MacAddress::BROADCAST.is_multicast());
        assert_eq!(m.to_string(), "02:00:00:00:00:07");
    }

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }
}
