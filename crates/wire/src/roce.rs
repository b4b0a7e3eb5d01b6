//! RoCEv2 QP1 framing of a CM MAD (spec/WIRE.md §2, §9, §10 steps 1–3):
//! IPv4 or IPv6 | UDP 4791 | BTH | DETH | MAD 256 | ICRC.
//!
//! Buffers here start at the IP header (Ethernet is `crate::eth`). This
//! module owns the ICRC; it never looks inside the MAD (that is `CmMad`).

use core::net::{Ipv4Addr, Ipv6Addr};

use crc::{CRC_32_ISO_HDLC, Crc, Table};

use crate::bits;
use crate::mad::MAD_SIZE;
use crate::{CmMad, Psn, Result, WireError};

/// The RoCEv2 UDP destination port.
pub const ROCE_UDP_PORT: u16 = 4791;
/// BTH OpCode UD SEND Only.
pub const OPCODE_UD_SEND_ONLY: u8 = 0x64;
/// The well-known GSI Q_Key.
pub const GSI_QKEY: u32 = 0x8001_0000;
/// QP1, the GSI queue pair that carries CM MADs.
pub const GSI_QPN: u32 = 1;
/// The default partition.
pub const DEFAULT_PKEY: u16 = 0xFFFF;

pub const IPV4_HEADER_SIZE: usize = 20;
pub const IPV6_HEADER_SIZE: usize = 40;
pub const UDP_HEADER_SIZE: usize = 8;
pub const BTH_SIZE: usize = 12;
pub const DETH_SIZE: usize = 8;
pub const ICRC_SIZE: usize = 4;
/// UDP length of a QP1 MAD datagram: 8 + 12 + 8 + 256 + 4.
pub const UDP_LENGTH: usize = UDP_HEADER_SIZE + BTH_SIZE + DETH_SIZE + MAD_SIZE + ICRC_SIZE;
/// IP packet sizes of a QP1 MAD (IPv4 total length 308, IPv6 40 + 288).
pub const IPV4_PACKET_SIZE: usize = IPV4_HEADER_SIZE + UDP_LENGTH;
pub const IPV6_PACKET_SIZE: usize = IPV6_HEADER_SIZE + UDP_LENGTH;

/// CRC-32 (zlib `crc32`), slice-by-16: the ICRC dominates frame decoding.
static CRC32: Crc<u32, Table<16>> = Crc::<u32, Table<16>>::new(&CRC_32_ISO_HDLC);

/// The IPv4 header fields a QP1 frame carries.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Ipv4Fields {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    /// DSCP/ECN byte (the path's traffic class).
    pub dscp_ecn: u8,
    /// Covered by the ICRC (§12): predict it when the kernel builds it.
    pub identification: u16,
    pub dont_fragment: bool,
    pub ttl: u8,
}

/// The IPv6 header fields a QP1 frame carries.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Ipv6Fields {
    pub src: Ipv6Addr,
    pub dst: Ipv6Addr,
    pub traffic_class: u8,
    /// 20 bits.
    pub flow_label: u32,
    pub hop_limit: u8,
}

/// The outer IP header.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum IpFields {
    V4(Ipv4Fields),
    V6(Ipv6Fields),
}

impl IpFields {
    pub const fn header_len(&self) -> usize {
        match self {
            IpFields::V4(_) => IPV4_HEADER_SIZE,
            IpFields::V6(_) => IPV6_HEADER_SIZE,
        }
    }
}

/// A validated QP1 RoCEv2 packet (IP header onwards), zero-copy.
///
/// `new_checked` applies §10 steps 1–2 (lengths, UDP port, opcode, pad
/// count, QPs, Q_Key); the ICRC (step 3) is checked by `verify_icrc` or
/// `RoceRepr::parse`, so a capture decoder can still show a frame whose
/// ICRC is wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RoceFrame<T: AsRef<[u8]>> {
    buffer: T,
    ip_header_len: usize,
}

/// Layout of an IP packet: header length and total length, from the header.
fn ip_layout(b: &[u8]) -> Result<(usize, usize)> {
    let first = *b
        .first()
        .ok_or(WireError::Truncated { needed: 1, got: 0 })?;
    let (hdr, total) = match first >> 4 {
        4 => {
            if b.len() < IPV4_HEADER_SIZE {
                return Err(WireError::Truncated {
                    needed: IPV4_HEADER_SIZE,
                    got: b.len(),
                });
            }
            let [_, _, len_hi, len_lo, _, _, frag_hi, frag_lo, _, protocol] =
                bits::array::<10>(b, 0);
            // No options, UDP, not a fragment (DF may be set).
            if first != 0x45
                || protocol != 17
                || (u16::from_be_bytes([frag_hi, frag_lo]) & 0x3FFF) != 0
            {
                return Err(WireError::IpHeader);
            }
            (
                IPV4_HEADER_SIZE,
                usize::from(u16::from_be_bytes([len_hi, len_lo])),
            )
        }
        6 => {
            if b.len() < IPV6_HEADER_SIZE {
                return Err(WireError::Truncated {
                    needed: IPV6_HEADER_SIZE,
                    got: b.len(),
                });
            }
            let [_, _, _, _, len_hi, len_lo, next_header] = bits::array::<7>(b, 0);
            if next_header != 17 {
                return Err(WireError::IpHeader);
            }
            let payload = usize::from(u16::from_be_bytes([len_hi, len_lo]));
            (IPV6_HEADER_SIZE, IPV6_HEADER_SIZE + payload)
        }
        _ => return Err(WireError::IpHeader),
    };
    if total < hdr {
        return Err(WireError::IpLength);
    }
    Ok((hdr, total))
}

impl<T: AsRef<[u8]>> RoceFrame<T> {
    /// Validates lengths and the QP1 transport headers (§10 steps 1–2).
    pub fn new_checked(buffer: T) -> Result<RoceFrame<T>> {
        let b = buffer.as_ref();
        let (hdr, total) = ip_layout(b)?;
        let expected = hdr + UDP_LENGTH;
        if b.len() < total {
            return Err(WireError::Truncated {
                needed: total,
                got: b.len(),
            });
        }
        if b.len() > total {
            return Err(WireError::TooLong {
                expected: total,
                got: b.len(),
            });
        }
        if total < hdr + UDP_HEADER_SIZE {
            return Err(WireError::Truncated {
                needed: hdr + UDP_HEADER_SIZE,
                got: total,
            });
        }
        let [_, _, dport_hi, dport_lo, ulen_hi, ulen_lo] = bits::array::<6>(b, hdr);
        let dport = u16::from_be_bytes([dport_hi, dport_lo]);
        if dport != ROCE_UDP_PORT {
            return Err(WireError::UdpPort(dport));
        }
        let udp_len = u16::from_be_bytes([ulen_hi, ulen_lo]);
        if usize::from(udp_len) != UDP_LENGTH {
            return Err(WireError::UdpLength(udp_len));
        }
        if total < expected {
            return Err(WireError::Truncated {
                needed: expected,
                got: total,
            });
        }
        if total > expected {
            return Err(WireError::TooLong {
                expected,
                got: total,
            });
        }
        let frame = RoceFrame {
            buffer,
            ip_header_len: hdr,
        };
        if frame.opcode() != OPCODE_UD_SEND_ONLY {
            return Err(WireError::Opcode(frame.opcode()));
        }
        if frame.pad_count() != 0 {
            return Err(WireError::PadCount(frame.pad_count()));
        }
        if frame.dest_qp() != GSI_QPN {
            return Err(WireError::DestQp(frame.dest_qp()));
        }
        if frame.qkey() != GSI_QKEY {
            return Err(WireError::QKey(frame.qkey()));
        }
        if frame.src_qp() != GSI_QPN {
            return Err(WireError::SrcQp(frame.src_qp()));
        }
        Ok(frame)
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn bytes(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    fn bth(&self) -> usize {
        self.ip_header_len + UDP_HEADER_SIZE
    }

    pub fn ip_header_len(&self) -> usize {
        self.ip_header_len
    }

    pub fn is_ipv6(&self) -> bool {
        self.ip_header_len == IPV6_HEADER_SIZE
    }

    pub fn udp_src_port(&self) -> u16 {
        u16::from_be_bytes(bits::array(self.bytes(), self.ip_header_len))
    }

    pub fn opcode(&self) -> u8 {
        bits::array::<1>(self.bytes(), self.bth())[0]
    }

    pub fn pad_count(&self) -> u8 {
        (bits::array::<1>(self.bytes(), self.bth() + 1)[0] >> 4) & 0x3
    }

    pub fn p_key(&self) -> u16 {
        u16::from_be_bytes(bits::array(self.bytes(), self.bth() + 2))
    }

    /// BTH byte 4: FECN (bit 7), BECN (bit 6).
    pub fn fecn_becn(&self) -> u8 {
        bits::array::<1>(self.bytes(), self.bth() + 4)[0] & 0xC0
    }

    pub fn dest_qp(&self) -> u32 {
        let [_, a, b, c] = bits::array::<4>(self.bytes(), self.bth() + 4);
        u32::from_be_bytes([0, a, b, c])
    }

    pub fn psn(&self) -> Psn {
        let [_, a, b, c] = bits::array::<4>(self.bytes(), self.bth() + 8);
        Psn::new(u32::from_be_bytes([0, a, b, c]))
    }

    pub fn qkey(&self) -> u32 {
        u32::from_be_bytes(bits::array(self.bytes(), self.bth() + BTH_SIZE))
    }

    pub fn src_qp(&self) -> u32 {
        let [_, a, b, c] = bits::array::<4>(self.bytes(), self.bth() + BTH_SIZE + 4);
        u32::from_be_bytes([0, a, b, c])
    }

    /// The 256-byte MAD.
    pub fn mad(&self) -> &[u8] {
        let at = self.bth() + BTH_SIZE + DETH_SIZE;
        self.bytes().get(at..at + MAD_SIZE).unwrap_or(&[])
    }

    /// The ICRC the frame carries (wire bytes read least significant first).
    pub fn icrc(&self) -> u32 {
        u32::from_le_bytes(bits::array(
            self.bytes(),
            self.bytes().len().saturating_sub(ICRC_SIZE),
        ))
    }

    /// The ICRC computed over this frame.
    pub fn compute_icrc(&self) -> u32 {
        icrc_over(self.bytes(), self.ip_header_len)
    }

    pub fn verify_icrc(&self) -> Result<()> {
        let expected = self.compute_icrc();
        let found = self.icrc();
        if expected == found {
            Ok(())
        } else {
            Err(WireError::Icrc { expected, found })
        }
    }

    /// The outer IP header fields.
    pub fn ip_fields(&self) -> IpFields {
        let b = self.bytes();
        if self.is_ipv6() {
            let [v_tc, tc_fl, fl1, fl2] = bits::array::<4>(b, 0);
            IpFields::V6(Ipv6Fields {
                src: Ipv6Addr::from(bits::array::<16>(b, 8)),
                dst: Ipv6Addr::from(bits::array::<16>(b, 24)),
                traffic_class: (v_tc << 4) | (tc_fl >> 4),
                flow_label: u32::from_be_bytes([0, tc_fl & 0x0F, fl1, fl2]),
                hop_limit: bits::array::<1>(b, 7)[0],
            })
        } else {
            let [_, tos, _, _, id_hi, id_lo, flags, _, ttl] = bits::array::<9>(b, 0);
            IpFields::V4(Ipv4Fields {
                src: Ipv4Addr::from(bits::array::<4>(b, 12)),
                dst: Ipv4Addr::from(bits::array::<4>(b, 16)),
                dscp_ecn: tos,
                identification: u16::from_be_bytes([id_hi, id_lo]),
                dont_fragment: flags & 0x40 != 0,
                ttl,
            })
        }
    }
}

/// ICRC of a RoCEv2 packet (IP header onwards, last 4 bytes the ICRC slot)
/// with the masks of §9. `ip_header_len` is 20 or 40.
fn icrc_over(packet: &[u8], ip_header_len: usize) -> u32 {
    // 8 bytes of 0xFF (the LRH stand-in) followed by a masked copy of
    // IP + UDP + BTH (at most 68 bytes, one CRC update); the rest of the
    // packet is hashed in place.
    const LRH: usize = 8;
    let masked_len = ip_header_len + UDP_HEADER_SIZE + BTH_SIZE;
    let mut head = [0xFFu8; LRH + IPV6_HEADER_SIZE + UDP_HEADER_SIZE + BTH_SIZE];
    if let (Some(dst), Some(src)) = (
        head.get_mut(LRH..LRH + masked_len),
        packet.get(..masked_len),
    ) {
        dst.copy_from_slice(src);
    }
    let ones = |head: &mut [u8], at: usize, n: usize| {
        if let Some(s) = head.get_mut(LRH + at..LRH + at + n) {
            s.fill(0xFF);
        }
    };
    if ip_header_len == IPV6_HEADER_SIZE {
        // Traffic class and flow label: bytes 0–3 become 0x6F FF FF FF.
        if let Some(b0) = head.get_mut(LRH) {
            *b0 |= 0x0F;
        }
        ones(&mut head, 1, 3);
        ones(&mut head, 7, 1);
    } else {
        ones(&mut head, 1, 1);
        ones(&mut head, 8, 1);
        ones(&mut head, 10, 2);
    }
    ones(&mut head, ip_header_len + 6, 2);
    ones(&mut head, ip_header_len + UDP_HEADER_SIZE + 4, 1);

    let mut digest = CRC32.digest();
    digest.update(head.get(..LRH + masked_len).unwrap_or(&[]));
    let end = packet.len().saturating_sub(ICRC_SIZE);
    digest.update(packet.get(masked_len..end).unwrap_or(&[]));
    digest.finalize()
}

/// ICRC of any RoCEv2 packet starting at the IP header (not only QP1):
/// the last four bytes are the ICRC slot and are not covered.
pub fn icrc(packet: &[u8]) -> Result<u32> {
    let (hdr, _) = ip_layout(packet)?;
    let needed = hdr + UDP_HEADER_SIZE + BTH_SIZE + ICRC_SIZE;
    if packet.len() < needed {
        return Err(WireError::Truncated {
            needed,
            got: packet.len(),
        });
    }
    Ok(icrc_over(packet, hdr))
}

/// The transport fields of a QP1 MAD packet, as plain data. The MAD itself
/// travels separately (`RoceFrame::mad`, `CmMad`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct RoceRepr {
    pub ip: IpFields,
    /// Flow entropy (0xC000–0xFFFF); receivers must not depend on it.
    pub udp_src_port: u16,
    pub p_key: u16,
    pub psn: Psn,
    /// BTH FECN/BECN bits (byte 4, mask 0xC0), set by the network.
    pub fecn_becn: u8,
}

impl RoceRepr {
    /// Transport fields of a frame from `src` to `dst` with the driver's
    /// defaults (TTL/hop limit 64, DF set, default P_Key).
    pub const fn new(ip: IpFields, udp_src_port: u16, psn: Psn) -> RoceRepr {
        RoceRepr {
            ip,
            udp_src_port,
            p_key: DEFAULT_PKEY,
            psn,
            fecn_becn: 0,
        }
    }

    /// Length of the IP packet `emit` writes (308 or 328).
    pub const fn packet_len(&self) -> usize {
        self.ip.header_len() + UDP_LENGTH
    }

    /// Parses a validated frame and checks its ICRC (§10 step 3).
    pub fn parse<T: AsRef<[u8]>>(frame: &RoceFrame<T>) -> Result<RoceRepr> {
        frame.verify_icrc()?;
        Ok(Self::from_frame(frame))
    }

    fn from_frame<T: AsRef<[u8]>>(frame: &RoceFrame<T>) -> RoceRepr {
        RoceRepr {
            ip: frame.ip_fields(),
            udp_src_port: frame.udp_src_port(),
            p_key: frame.p_key(),
            psn: frame.psn(),
            fecn_becn: frame.fecn_becn(),
        }
    }

    /// Writes the whole IP packet carrying `mad`, ICRC included, and returns
    /// its length. Fails if `buf` is shorter than `packet_len()`.
    pub fn emit(&self, mad: &[u8; MAD_SIZE], buf: &mut [u8]) -> Result<usize> {
        let len = self.packet_len();
        let got = buf.len();
        let out = buf
            .get_mut(..len)
            .ok_or(WireError::Truncated { needed: len, got })?;
        out.fill(0);
        let hdr = self.ip.header_len();
        match self.ip {
            IpFields::V4(v4) => {
                let total = (IPV4_PACKET_SIZE as u16).to_be_bytes();
                let id = v4.identification.to_be_bytes();
                let flags = if v4.dont_fragment { 0x40 } else { 0 };
                let header = [
                    0x45,
                    v4.dscp_ecn,
                    total[0],
                    total[1],
                    id[0],
                    id[1],
                    flags,
                    0,
                    v4.ttl,
                    17,
                    0,
                    0,
                ];
                bits::put(out, 0, &header);
                bits::put(out, 12, &v4.src.octets());
                bits::put(out, 16, &v4.dst.octets());
                let sum = internet_checksum(0, out.get(..IPV4_HEADER_SIZE).unwrap_or(&[]));
                bits::put(out, 10, &sum.to_be_bytes());
            }
            IpFields::V6(v6) => {
                let first = 0x6000_0000u32
                    | (u32::from(v6.traffic_class) << 20)
                    | (v6.flow_label & 0x000F_FFFF);
                bits::put(out, 0, &first.to_be_bytes());
                bits::put(out, 4, &(UDP_LENGTH as u16).to_be_bytes());
                bits::put(out, 6, &[17, v6.hop_limit]);
                bits::put(out, 8, &v6.src.octets());
                bits::put(out, 24, &v6.dst.octets());
            }
        }
        // UDP (checksum filled in below for IPv6).
        bits::put(out, hdr, &self.udp_src_port.to_be_bytes());
        bits::put(out, hdr + 2, &ROCE_UDP_PORT.to_be_bytes());
        bits::put(out, hdr + 4, &(UDP_LENGTH as u16).to_be_bytes());
        // BTH.
        let bth = hdr + UDP_HEADER_SIZE;
        bits::put(out, bth, &[OPCODE_UD_SEND_ONLY, 0]);
        bits::put(out, bth + 2, &self.p_key.to_be_bytes());
        bits::put(
            out,
            bth + 4,
            &(GSI_QPN | (u32::from(self.fecn_becn & 0xC0) << 24)).to_be_bytes(),
        );
        bits::put(out, bth + 8, &self.psn.get().to_be_bytes());
        // DETH.
        let deth = bth + BTH_SIZE;
        bits::put(out, deth, &GSI_QKEY.to_be_bytes());
        bits::put(out, deth + 4, &GSI_QPN.to_be_bytes());
        bits::put(out, deth + DETH_SIZE, mad);
        let icrc = icrc_over(out, hdr);
        bits::put(out, len - ICRC_SIZE, &icrc.to_le_bytes());
        if let IpFields::V6(v6) = self.ip {
            // IPv6 forbids a zero UDP checksum; the ICRC masks it, so it is
            // computed after the ICRC.
            let mut pseudo = internet_sum(0, &v6.src.octets());
            pseudo = internet_sum(pseudo, &v6.dst.octets());
            pseudo = internet_sum(
                pseudo,
                &[0, 0, (UDP_LENGTH >> 8) as u8, UDP_LENGTH as u8, 0, 0, 0, 17],
            );
            let mut sum = internet_checksum(pseudo, out.get(hdr..len).unwrap_or(&[]));
            if sum == 0 {
                sum = 0xFFFF;
            }
            bits::put(out, hdr + 6, &sum.to_be_bytes());
        }
        Ok(len)
    }
}

/// One's-complement sum of big-endian 16-bit words (odd tail padded).
fn internet_sum(mut acc: u32, data: &[u8]) -> u32 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        acc = acc.wrapping_add(u32::from(u16::from_be_bytes(bits::array(c, 0))));
    }
    if let [last] = chunks.remainder() {
        acc = acc.wrapping_add(u32::from(*last) << 8);
    }
    acc
}

fn internet_checksum(acc: u32, data: &[u8]) -> u16 {
    let mut sum = internet_sum(acc, data);
    while sum > 0xFFFF {
        sum = (sum & 0xFFFF) + (sum >> 16);
    }
    !(sum as u16)
}

/// Validates a QP1 RoCEv2 packet (IP header onwards), checks its ICRC and
/// decodes the CM MAD it carries: all of §10.
pub fn decode(packet: &[u8]) -> Result<(RoceRepr, CmMad)> {
    let frame = RoceFrame::new_checked(packet)?;
    frame.verify_icrc()?;
    let header = CmMad::check(frame.mad())?;
    // Built in place after every check: no large value moves through a Result.
    Ok((
        RoceRepr::from_frame(&frame),
        CmMad::from_checked(header, frame.mad()),
    ))
}

/// Encodes `mad` in a QP1 RoCEv2 packet; returns the packet length.
pub fn encode(repr: &RoceRepr, mad: &CmMad, buf: &mut [u8]) -> Result<usize> {
    repr.emit(&mad.to_bytes(), buf)
}
