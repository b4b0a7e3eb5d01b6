//! Whole frames of the tunnel: builds RoCEv2 QP1 frames around a MAD and classifies every
//! received frame (ARP, a verified CM MAD, or a drop with its reason).
//!
//! Owns the Ethernet/IPv4 checks the tunnel adds around ndcm-wire's RoCEv2 framing (MAC and
//! IP destination, IPv4 header checksum, which wire leaves to the IP layer). It never does
//! I/O, and never interprets the CM message beyond the MAD header bytes that say "CM".

use std::net::Ipv4Addr;

use ndcm_wire::Psn;
use ndcm_wire::WireError;
use ndcm_wire::mad::{BASE_VERSION, MAD_SIZE, MGMT_CLASS_CM};
use ndcm_wire::roce::{
    IPV4_HEADER_SIZE, IPV4_PACKET_SIZE, IpFields, Ipv4Fields, RoceFrame, RoceRepr,
};

use super::arp::ArpPacket;
use super::ethernet::{ETHERTYPE_ARP, ETHERTYPE_IPV4, EthernetHeader, HEADER_LEN, MacAddress};
use super::stats::DropReason;

/// Length of an Ethernet frame carrying one QP1 MAD over IPv4 (WIRE.md §2: 322).
pub const ROCE_FRAME_LEN: usize = HEADER_LEN + IPV4_PACKET_SIZE;

/// What this host is on the segment.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Station {
    pub mac: MacAddress,
    pub ip: Ipv4Addr,
}

/// A CM MAD that arrived in a frame that passed every check.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Qp1Datagram {
    pub mad: [u8; MAD_SIZE],
    pub source_ip: Ipv4Addr,
    pub source_mac: MacAddress,
    /// DETH SrcQP (always 1: wire refuses redirected CM).
    pub source_qpn: u32,
    pub udp_source_port: u16,
}

/// What a received frame is.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Received {
    Arp(ArpPacket),
    Mad(Box<Qp1Datagram>),
    Dropped(DropReason),
}

/// Builds the IPv4 packet (header to ICRC) carrying `mad` from `src` to `dst`. The IP
/// identification is ours (`ip_id`), so the ICRC, which covers it, is right as sent.
pub fn build_ipv4_packet(
    mad: &[u8; MAD_SIZE],
    src: Ipv4Addr,
    dst: Ipv4Addr,
    ip_id: u16,
    udp_source_port: u16,
    psn: u32,
) -> Result<[u8; IPV4_PACKET_SIZE], WireError> {
    let repr = RoceRepr::new(
        IpFields::V4(Ipv4Fields {
            src,
            dst,
            dscp_ecn: 0,
            identification: ip_id,
            dont_fragment: true,
            ttl: 64,
        }),
        udp_source_port,
        Psn::new(psn),
    );
    let mut packet = [0u8; IPV4_PACKET_SIZE];
    repr.emit(mad, &mut packet)?;
    Ok(packet)
}

/// Wraps an IP packet in an Ethernet header.
pub fn ethernet_frame(
    destination: MacAddress,
    source: MacAddress,
    ethertype: u16,
    payload: &[u8],
) -> Vec<u8> {
    EthernetHeader {
        destination,
        source,
        ethertype,
    }
    .frame(payload)
}

/// Classifies one received frame for `me`: the first failed check names the drop reason.
pub fn classify(frame: &[u8], me: &Station) -> Received {
    let Some((eth, payload)) = EthernetHeader::parse(frame) else {
        return Received::Dropped(DropReason::Runt);
    };
    if eth.destination != me.mac && !eth.destination.is_multicast() {
        return Received::Dropped(DropReason::NotOurMac);
    }
    match eth.ethertype {
        ETHERTYPE_ARP => match ArpPacket::parse(payload) {
            Some(arp) => Received::Arp(arp),
            None => Received::Dropped(DropReason::MalformedArp),
        },
        ETHERTYPE_IPV4 => classify_ipv4(payload, eth.source, me),
        _ => Received::Dropped(DropReason::UnsupportedEtherType),
    }
}

fn classify_ipv4(payload: &[u8], source_mac: MacAddress, me: &Station) -> Received {
    let Some(header) = payload.first_chunk::<IPV4_HEADER_SIZE>() else {
        return Received::Dropped(DropReason::MalformedIpv4);
    };
    if header[0] != 0x45 {
        return Received::Dropped(DropReason::MalformedIpv4);
    }
    let total = usize::from(u16::from_be_bytes([header[2], header[3]]));
    // Ethernet pads short frames, so the payload may be longer than the packet, never shorter.
    let Some(packet) = payload.get(..total).filter(|_| total >= IPV4_HEADER_SIZE) else {
        return Received::Dropped(DropReason::MalformedIpv4);
    };
    if u16::from_be_bytes([header[6], header[7]]) & 0x3FFF != 0 {
        return Received::Dropped(DropReason::MalformedIpv4); // a fragment
    }
    if ipv4_checksum(header) != 0 {
        return Received::Dropped(DropReason::BadIpv4Checksum);
    }
    let dst = Ipv4Addr::new(header[16], header[17], header[18], header[19]);
    if dst != me.ip {
        return Received::Dropped(DropReason::NotOurIp);
    }
    if header[9] != 17 || packet.get(22..24) != Some(&4791u16.to_be_bytes()[..]) {
        return Received::Dropped(DropReason::NotRoce);
    }
    let frame = match RoceFrame::new_checked(packet) {
        Ok(f) => f,
        Err(e) => return Received::Dropped(roce_drop_reason(e)),
    };
    if let Err(e) = RoceRepr::parse(&frame) {
        return Received::Dropped(roce_drop_reason(e));
    }
    let Some(mad) = frame.mad().first_chunk::<MAD_SIZE>() else {
        return Received::Dropped(DropReason::MalformedRoce);
    };
    // A CM MAD port: base version and management class say "CM". Class version, method and
    // attribute are the CM's to judge (a REQ of another class version is answered with REJ).
    if mad[0] != BASE_VERSION || mad[1] != MGMT_CLASS_CM {
        return Received::Dropped(DropReason::NotCmMad);
    }
    Received::Mad(Box::new(Qp1Datagram {
        mad: *mad,
        source_ip: Ipv4Addr::new(header[12], header[13], header[14], header[15]),
        source_mac,
        source_qpn: frame.src_qp(),
        udp_source_port: frame.udp_src_port(),
    }))
}

fn roce_drop_reason(e: WireError) -> DropReason {
    match e {
        WireError::Icrc { .. } => DropReason::BadIcrc,
        WireError::Opcode(_) | WireError::DestQp(_) | WireError::QKey(_) | WireError::SrcQp(_) => {
            DropReason::NotQp1
        }
        WireError::IpHeader | WireError::IpLength => DropReason::MalformedIpv4,
        WireError::UdpPort(_) => DropReason::NotRoce,
        _ => DropReason::MalformedRoce,
    }
}

/// One's-complement sum over an IPv4 header: 0 when its checksum field is right, and the
/// checksum to store when that field is zero.
pub fn ipv4_checksum(header: &[u8; IPV4_HEADER_SIZE]) -> u16 {
    let mut sum: u32 = header
        .chunks_exact(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
        .sum();
    while sum > 0xFFFF {
        sum = (sum & 0xFFFF) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ME: Station = Station {
        mac: MacAddress::local(1),
        ip: Ipv4Addr::new(10, 77, 0, 1),
    };
    const PEER_MAC: MacAddress = MacAddress([0x52, 0x54, 0, 0x12, 0x34, 0x56]);
    const PEER_IP: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 2);

    fn cm_mad() -> [u8; MAD_SIZE] {
        let mut mad = [0u8; MAD_SIZE];
        mad[..4].copy_from_slice(&[1, 7, 2, 3]);
        mad[16..18].copy_from_slice(&0x0012u16.to_be_bytes()); // REJ
        mad
    }

    fn frame_to_me(mad: &[u8; MAD_SIZE]) -> Vec<u8> {
        let ip = build_ipv4_packet(mad, PEER_IP, ME.ip, 0x1234, 0xC001, 7).unwrap();
        ethernet_frame(ME.mac, PEER_MAC, ETHERTYPE_IPV4, &ip)
    }

    #[test]
    fn built_frame_has_wire_md_sizes_and_a_valid_ip_checksum() {
        let f = frame_to_me(&cm_mad());
        assert_eq!(f.len(), 322);
        let ip: &[u8; 20] = f[14..34].try_into().unwrap();
        assert_eq!(ipv4_checksum(ip), 0);
        assert_eq!(&ip[2..4], &308u16.to_be_bytes());
        assert_eq!(
            &ip[4..6],
            &0x1234u16.to_be_bytes(),
            "IP identification is ours"
        );
        assert_eq!(ip[6], 0x40, "DF set");
        assert_eq!(
            &f[34 + 2..34 + 6],
            &[0x12, 0xb7, 0x01, 0x20],
            "UDP 4791, length 288"
        );
    }

    #[test]
    fn a_good_frame_yields_its_mad_and_source() {
        let mad = cm_mad();
        match classify(&frame_to_me(&mad), &ME) {
            Received::Mad(d) => {
                assert_eq!(d.mad, mad);
                assert_eq!(d.source_ip, PEER_IP);
                assert_eq!(d.source_mac, PEER_MAC);
                assert_eq!(d.source_qpn, 1);
                assert_eq!(d.udp_source_port, 0xC001);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn ethernet_padding_after_the_packet_is_ignored() {
        let mut f = frame_to_me(&cm_mad());
        f.extend_from_slice(&[0; 4]);
        assert!(matches!(classify(&f, &ME), Received::Mad(_)));
    }

    #[test]
    fn each_corruption_is_dropped_with_its_reason() {
        let good = frame_to_me(&cm_mad());
        type Corruption = (&'static str, fn(&mut Vec<u8>), DropReason);
        let cases: &[Corruption] = &[
            ("runt", |f| f.truncate(10), DropReason::Runt),
            ("other MAC", |f| f[0] = 0x04, DropReason::NotOurMac),
            (
                "IPv6 ethertype",
                |f| f[12..14].copy_from_slice(&[0x86, 0xdd]),
                DropReason::UnsupportedEtherType,
            ),
            ("IP options", |f| f[14] = 0x46, DropReason::MalformedIpv4),
            (
                "truncated packet",
                |f| f.truncate(200),
                DropReason::MalformedIpv4,
            ),
            ("IP checksum", |f| f[24] ^= 1, DropReason::BadIpv4Checksum),
            (
                "fragment",
                |f| {
                    f[21] = 1;
                    fix_ip_checksum(f)
                },
                DropReason::MalformedIpv4,
            ),
            (
                "other IP",
                |f| {
                    f[33] = 9;
                    fix_ip_checksum(f)
                },
                DropReason::NotOurIp,
            ),
            (
                "TCP",
                |f| {
                    f[23] = 6;
                    fix_ip_checksum(f)
                },
                DropReason::NotRoce,
            ),
            (
                "UDP port",
                |f| f[36..38].copy_from_slice(&4792u16.to_be_bytes()),
                DropReason::NotRoce,
            ),
            (
                "UDP length",
                |f| f[38..40].copy_from_slice(&289u16.to_be_bytes()),
                DropReason::MalformedRoce,
            ),
            ("opcode", |f| f[42] = 0x04, DropReason::NotQp1),
            ("dest QP", |f| f[49] = 2, DropReason::NotQp1),
            ("Q_Key", |f| f[54] = 0x90, DropReason::NotQp1),
            (
                "ICRC",
                |f| {
                    let n = f.len();
                    f[n - 1] ^= 0x80
                },
                DropReason::BadIcrc,
            ),
            ("MAD byte under ICRC", |f| f[100] ^= 1, DropReason::BadIcrc),
            (
                "IP identification under ICRC",
                |f| {
                    f[18] ^= 1;
                    fix_ip_checksum(f)
                },
                DropReason::BadIcrc,
            ),
        ];
        for (name, corrupt, reason) in cases {
            let mut f = good.clone();
            corrupt(&mut f);
            assert_eq!(classify(&f, &ME), Received::Dropped(*reason), "{name}");
        }
    }

    #[test]
    fn a_non_cm_mad_is_dropped_even_with_a_right_icrc() {
        let mut mad = cm_mad();
        mad[1] = 0x04; // performance management
        assert_eq!(
            classify(&frame_to_me(&mad), &ME),
            Received::Dropped(DropReason::NotCmMad)
        );
    }

    #[test]
    fn arp_is_recognised_and_broadcast_accepted() {
        let req = ArpPacket::request(PEER_MAC, PEER_IP, ME.ip);
        let f = ethernet_frame(
            MacAddress::BROADCAST,
            PEER_MAC,
            ETHERTYPE_ARP,
            &req.to_bytes(),
        );
        assert_eq!(f.len(), 60);
        assert_eq!(classify(&f, &ME), Received::Arp(req));
        let mut bad = f.clone();
        bad[14 + 4] = 8; // hardware length
        assert_eq!(
            classify(&bad, &ME),
            Received::Dropped(DropReason::MalformedArp)
        );
    }

    fn fix_ip_checksum(f: &mut [u8]) {
        f[24] = 0;
        f[25] = 0;
        let sum = ipv4_checksum(f[14..34].try_into().unwrap());
        f[24..26].copy_from_slice(&sum.to_be_bytes());
    }
}
