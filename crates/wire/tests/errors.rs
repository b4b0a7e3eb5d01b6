//! Every decoder error path returns its typed error (spec/WIRE.md §10).

use ndcm_wire::cm::{AprRepr, CmMessage, RejRepr, ReqPacket, RtuRepr, SidrRepRepr};
use ndcm_wire::mad::{AttributeId, MAD_SIZE, MadPacket};
use ndcm_wire::roce::{self, IpFields, Ipv4Fields, Ipv6Fields, RoceFrame, RoceRepr};
use ndcm_wire::{CmMad, CommId, PrivateData, Psn, WireError};

fn rtu() -> CmMad {
    CmMad::new(
        0x42,
        CmMessage::Rtu(RtuRepr {
            local_comm_id: CommId(1),
            remote_comm_id: CommId(2),
            private_data: PrivateData::zeroed(),
        }),
    )
}

fn v4() -> RoceRepr {
    RoceRepr::new(
        IpFields::V4(Ipv4Fields {
            src: [10, 0, 0, 1].into(),
            dst: [10, 0, 0, 2].into(),
            dscp_ecn: 0,
            identification: 0,
            dont_fragment: true,
            ttl: 64,
        }),
        0xC000,
        Psn::new(0),
    )
}

fn v6() -> RoceRepr {
    RoceRepr::new(
        IpFields::V6(Ipv6Fields {
            src: "fd00::1".parse().unwrap(),
            dst: "fd00::2".parse().unwrap(),
            traffic_class: 0,
            flow_label: 0,
            hop_limit: 64,
        }),
        0xC000,
        Psn::new(0),
    )
}

fn frame(repr: RoceRepr) -> Vec<u8> {
    let mut buf = vec![0u8; repr.packet_len()];
    roce::encode(&repr, &rtu(), &mut buf).unwrap();
    buf
}

/// Re-seals the ICRC after a deliberate header change, so that the check
/// under test is the one that fails.
fn reseal(f: &mut [u8]) {
    let crc = roce::icrc(f).unwrap();
    let n = f.len();
    f[n - 4..].copy_from_slice(&crc.to_le_bytes());
}

#[test]
fn mad_of_wrong_size_is_refused() {
    let mad = rtu().to_bytes();
    assert_eq!(
        CmMad::parse(&mad[..255]),
        Err(WireError::Truncated {
            needed: 256,
            got: 255
        })
    );
    let mut long = mad.to_vec();
    long.push(0);
    assert_eq!(
        CmMad::parse(&long),
        Err(WireError::TooLong {
            expected: 256,
            got: 257
        })
    );
    assert!(MadPacket::new_checked(&[][..]).is_err());
}

#[test]
fn mad_header_checks_versions_class_attribute_and_method() {
    let good = rtu().to_bytes();
    let with = |at: usize, v: u8| {
        let mut m = good;
        m[at] = v;
        CmMad::parse(&m)
    };
    assert_eq!(with(0, 2), Err(WireError::BaseVersion(2)));
    assert_eq!(with(1, 0x04), Err(WireError::MgmtClass(0x04)));
    assert_eq!(with(2, 1), Err(WireError::ClassVersion(1)));
    assert_eq!(
        with(3, 0x01),
        Err(WireError::Method {
            attribute: 0x14,
            method: 0x01
        })
    );
    assert_eq!(with(17, 0x1B), Err(WireError::UnknownAttribute(0x1B)));
    assert_eq!(with(17, 0x00), Err(WireError::UnknownAttribute(0x00)));
    // ClassPortInfo with Send is dropped too.
    let mut m = good;
    m[17] = 0x01;
    assert_eq!(
        CmMad::parse(&m),
        Err(WireError::Method {
            attribute: 1,
            method: 3
        })
    );
    m[3] = 0x81;
    assert_eq!(
        CmMad::parse(&m).unwrap().header.attribute_id,
        AttributeId::ClassPortInfo
    );
}

#[test]
fn info_lengths_over_72_are_refused() {
    let mut mad = rtu().to_bytes();
    // REJ: Reject Info Length is 7 bits at CM byte 9.
    mad[17] = 0x12;
    mad[24 + 9] = 73 << 1;
    assert_eq!(CmMad::parse(&mad), Err(WireError::InfoLength(73)));
    mad[24 + 9] = 72 << 1;
    assert!(matches!(
        CmMad::parse(&mad).unwrap().message,
        CmMessage::Rej(RejRepr {
            reject_info_length: 72,
            ..
        })
    ));
    // APR: Additional Info Length at CM byte 8.
    let mut mad = rtu().to_bytes();
    mad[17] = 0x1A;
    mad[24 + 8] = 200;
    assert_eq!(CmMad::parse(&mad), Err(WireError::InfoLength(200)));
    mad[24 + 8] = 0;
    assert!(matches!(
        CmMad::parse(&mad).unwrap().message,
        CmMessage::Apr(AprRepr { .. })
    ));
    // SIDR_REP: Additional Info Length at CM byte 5.
    let mut mad = rtu().to_bytes();
    mad[17] = 0x18;
    mad[24 + 5] = 73;
    assert_eq!(CmMad::parse(&mad), Err(WireError::InfoLength(73)));
    mad[24 + 5] = 1;
    assert!(matches!(
        CmMad::parse(&mad).unwrap().message,
        CmMessage::SidrRep(SidrRepRepr { .. })
    ));
}

#[test]
fn short_cm_body_is_refused_by_every_view() {
    assert_eq!(
        ReqPacket::new_checked(&[0u8; 231][..]),
        Err(WireError::Truncated {
            needed: 232,
            got: 231
        })
    );
    for id in AttributeId::ALL {
        assert!(CmMessage::parse(id, &[0u8; 100]).is_err(), "{id:?}");
    }
}

#[test]
fn short_and_long_frames_are_refused() {
    for repr in [v4(), v6()] {
        let f = frame(repr);
        for cut in [0, 1, 19, 39, 40, 47, f.len() - 1] {
            let r = roce::decode(&f[..cut]);
            assert!(
                matches!(r, Err(WireError::Truncated { .. })),
                "cut {cut}: {r:?}"
            );
        }
        let mut long = f.clone();
        long.push(0);
        assert!(matches!(
            roce::decode(&long),
            Err(WireError::TooLong { .. })
        ));
    }
    // IP and UDP lengths that claim a longer or shorter datagram.
    let mut f = frame(v4());
    f[3] = 0x35; // total length 309 with 308 bytes present
    assert_eq!(
        roce::decode(&f),
        Err(WireError::Truncated {
            needed: 309,
            got: 308
        })
    );
    let mut f = frame(v4());
    f[3] = 0x33; // total length 307: one byte too many in the buffer
    assert!(matches!(roce::decode(&f), Err(WireError::TooLong { .. })));
    let mut f = frame(v4());
    f[2] = 0;
    f[3] = 10; // total length below the header
    f.truncate(10);
    assert!(roce::decode(&f).is_err());
    let mut f = frame(v4());
    f[2] = 0;
    f[3] = 19;
    f.truncate(19);
    assert_eq!(
        roce::decode(&f),
        Err(WireError::Truncated {
            needed: 20,
            got: 19
        })
    );
    let mut f = frame(v4());
    f[24..26].copy_from_slice(&287u16.to_be_bytes());
    assert_eq!(roce::decode(&f), Err(WireError::UdpLength(287)));
    // IPv4 total length consistent but too small for the datagram.
    let mut f = frame(v4());
    f.truncate(300);
    f[2..4].copy_from_slice(&300u16.to_be_bytes());
    assert!(matches!(
        roce::decode(&f),
        Err(WireError::Truncated {
            needed: 308,
            got: 300
        })
    ));
    let mut f = frame(v4());
    f[2..4].copy_from_slice(&24u16.to_be_bytes());
    f.truncate(24);
    assert!(matches!(
        roce::decode(&f),
        Err(WireError::Truncated {
            needed: 28,
            got: 24
        })
    ));
}

#[test]
fn non_plain_ip_headers_are_refused() {
    let f = frame(v4());
    let with = |at: usize, v: u8| {
        let mut g = f.clone();
        g[at] = v;
        roce::decode(&g)
    };
    assert_eq!(with(0, 0x46), Err(WireError::IpHeader)); // options
    assert_eq!(with(0, 0x55), Err(WireError::IpHeader)); // version 5
    assert_eq!(with(9, 6), Err(WireError::IpHeader)); // TCP
    assert_eq!(with(6, 0x20), Err(WireError::IpHeader)); // more fragments
    assert_eq!(with(7, 0x01), Err(WireError::IpHeader)); // fragment offset
    let g = frame(v6());
    let mut h = g.clone();
    h[6] = 0; // hop-by-hop extension header
    assert_eq!(roce::decode(&h), Err(WireError::IpHeader));
    assert_eq!(
        roce::decode(&[]),
        Err(WireError::Truncated { needed: 1, got: 0 })
    );
}

#[test]
fn wrong_transport_fields_are_refused_with_their_value() {
    for repr in [v4(), v6()] {
        let f = frame(repr);
        let ip = repr.ip.header_len();
        let with = |at: usize, bytes: &[u8]| {
            let mut g = f.clone();
            g[ip + at..ip + at + bytes.len()].copy_from_slice(bytes);
            reseal(&mut g);
            roce::decode(&g)
        };
        assert_eq!(with(2, &[0x12, 0xB8]), Err(WireError::UdpPort(4792)));
        assert_eq!(with(8, &[0x04]), Err(WireError::Opcode(0x04)));
        assert_eq!(with(8, &[0x65]), Err(WireError::Opcode(0x65)));
        assert_eq!(with(9, &[0x30]), Err(WireError::PadCount(3)));
        assert_eq!(with(13, &[0, 0, 2]), Err(WireError::DestQp(2)));
        assert_eq!(with(13, &[0, 0, 0]), Err(WireError::DestQp(0)));
        assert_eq!(
            with(20, &[0x80, 0x01, 0, 1]),
            Err(WireError::QKey(0x8001_0001))
        );
        assert_eq!(with(25, &[0, 0, 3]), Err(WireError::SrcQp(3)));
        // Masked header bits do not matter.
        assert!(with(12, &[0xC0]).is_ok());
    }
}

#[test]
fn wrong_icrc_is_refused_with_both_values() {
    for repr in [v4(), v6()] {
        let mut f = frame(repr);
        let n = f.len();
        let good = u32::from_le_bytes(f[n - 4..].try_into().unwrap());
        f[n - 1] ^= 0x80;
        let bad = u32::from_le_bytes(f[n - 4..].try_into().unwrap());
        assert_eq!(
            roce::decode(&f),
            Err(WireError::Icrc {
                expected: good,
                found: bad
            })
        );
        // The frame still validates structurally, so a capture can show it.
        let view = RoceFrame::new_checked(&f[..]).unwrap();
        assert_eq!(view.icrc(), bad);
        assert_eq!(view.compute_icrc(), good);
    }
}

#[test]
fn encoder_refuses_a_short_buffer() {
    let mut small = [0u8; 307];
    assert_eq!(
        roce::encode(&v4(), &rtu(), &mut small),
        Err(WireError::Truncated {
            needed: 308,
            got: 307
        })
    );
    assert!(roce::icrc(&frame(v4())[..40]).is_err());
}

#[test]
fn ethernet_payload_checks_the_ethertype() {
    let ip = frame(v4());
    let mut eth = vec![0u8; 14];
    ndcm_wire::eth::emit_header([2; 6], [4; 6], false, &mut eth).unwrap();
    eth.extend_from_slice(&ip);
    assert_eq!(ndcm_wire::eth::ip_payload(&eth).unwrap(), &ip[..]);
    // One VLAN tag is skipped.
    let mut tagged = eth[..12].to_vec();
    tagged.extend_from_slice(&[0x81, 0x00, 0x00, 0x05, 0x08, 0x00]);
    tagged.extend_from_slice(&ip);
    assert_eq!(ndcm_wire::eth::ip_payload(&tagged).unwrap(), &ip[..]);
    let mut arp = eth.clone();
    arp[12..14].copy_from_slice(&[0x08, 0x06]);
    assert_eq!(
        ndcm_wire::eth::ip_payload(&arp),
        Err(WireError::EtherType(0x0806))
    );
    assert!(matches!(
        ndcm_wire::eth::ip_payload(&eth[..13]),
        Err(WireError::Truncated { .. })
    ));
    assert!(ndcm_wire::eth::emit_header([0; 6], [0; 6], true, &mut [0u8; 13]).is_err());
}

#[test]
fn private_data_longer_than_its_message_is_refused() {
    assert!(PrivateData::<92>::from_slice(&[1; 92]).is_some());
    assert!(PrivateData::<92>::from_slice(&[1; 93]).is_none());
    let pd = PrivateData::<8>::from_slice(&[1, 2]).unwrap();
    assert_eq!(pd.0, [1, 2, 0, 0, 0, 0, 0, 0]);
    assert_eq!(MAD_SIZE, 256);
}
