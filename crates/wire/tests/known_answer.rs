//! Known-answer tests: frames written out field by field from the tables of
//! spec/WIRE.md (generated once with Python's zlib for the ICRC and the
//! checksums, never by this crate's encoder), decoded and re-encoded.

use core::net::{IpAddr, Ipv4Addr};

use ndcm_wire::cm::{CmMessage, PathRecord, RepRepr, ReqRepr};
use ndcm_wire::ip::{IpPrivateDataHeader, IpServiceId};
use ndcm_wire::mad::{AttributeId, Method};
use ndcm_wire::roce::{self, IpFields, Ipv4Fields, Ipv6Fields, RoceFrame, RoceRepr};
use ndcm_wire::{
    CmMad, CommId, ExtendedTransportType, FailoverAccepted, Gid, Mtu, PrivateData, Psn, Qpn, Rate,
    ServiceId, TransportType, WireError,
};

/// REQ over IPv4, 308 bytes
#[rustfmt::skip]
const REQ_IPV4: [u8; 308] = [
    // IPv4 version/IHL 0x45, DSCP/ECN 0, total length 308
    0x45, 0x00, 0x01, 0x34,
    // IPv4 identification 0, flags DF, fragment offset 0
    0x00, 0x00, 0x40, 0x00,
    // IPv4 TTL 64, protocol 17, header checksum 0x25b7
    0x40, 0x11, 0x25, 0xb7,
    // IPv4 source 10.0.0.1
    0x0a, 0x00, 0x00, 0x01,
    // IPv4 destination 10.0.0.2
    0x0a, 0x00, 0x00, 0x02,
    // UDP source port 0xc123, destination 4791
    0xc1, 0x23, 0x12, 0xb7,
    // UDP length 288, checksum 0
    0x01, 0x20, 0x00, 0x00,
    // BTH 0 OpCode UD SEND Only, SE/M/Pad/TVer 0, P_Key 0xFFFF
    0x64, 0x00, 0xff, 0xff,
    // BTH 4 FECN/BECN 0, DestQP 1
    0x00, 0x00, 0x00, 0x01,
    // BTH 8 AckReq 0, PSN
    0x00, 0x00, 0x00, 0x00,
    // DETH 0 Q_Key 0x80010000
    0x80, 0x01, 0x00, 0x00,
    // DETH 4 reserved, SrcQP 1
    0x00, 0x00, 0x00, 0x01,
    // MAD 0 BaseVersion 1, MgmtClass 0x07, ClassVersion 2, Method Send
    0x01, 0x07, 0x02, 0x03,
    // MAD 4 Status, MAD 6 ClassSpecific
    0x00, 0x00, 0x00, 0x00,
    // MAD 8 TransactionID
    0x00, 0x00, 0x00, 0x01, 0x11, 0x22, 0x33, 0x44,
    // MAD 16 AttributeID, MAD 18 reserved
    0x00, 0x10, 0x00, 0x00,
    // MAD 20 AttributeModifier
    0x00, 0x00, 0x00, 0x00,
    // CM 0 Local Communication ID
    0x11, 0x22, 0x33, 0x44,
    // CM 4 reserved, CM 5-7 ECE Vendor ID
    0x00, 0x00, 0x00, 0x00,
    // CM 8 Service ID (TCP port 7471)
    0x00, 0x00, 0x00, 0x00, 0x01, 0x06, 0x1d, 0x2f,
    // CM 16 Local CA GUID
    0x00, 0x02, 0xc9, 0x03, 0x00, 0xa1, 0xb2, 0xc3,
    // CM 24 reserved
    0x00, 0x00, 0x00, 0x00,
    // CM 28 Local Q_Key
    0x00, 0x00, 0x00, 0x00,
    // CM 32 Local QPN 0x000123, CM 35 Responder Resources 4
    0x00, 0x01, 0x23, 0x04,
    // CM 36 Local EECN 0, CM 39 Initiator Depth 8
    0x00, 0x00, 0x00, 0x08,
    // CM 40 Remote EECN 0, CM 43 RemoteCMRespTimeout 20 | RC | EE flow ctl 1
    0x00, 0x00, 0x00, 0xa1,
    // CM 44 Starting PSN 0xabcdef, CM 47 LocalCMRespTimeout 20 | Retry Count 7
    0xab, 0xcd, 0xef, 0xa7,
    // CM 48 Partition Key
    0xff, 0xff,
    // CM 50 MTU 1024 (3) | RDC 0 | RNR retry 7; CM 51 Max CM Retries 15 | SRQ 0 | ext 0
    0x37, 0xf0,
    // CM 52 Primary Local LID, CM 54 Primary Remote LID
    0xff, 0xff, 0xff, 0xff,
    // CM 56 Primary Local GID ::ffff:10.0.0.1
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0x0a, 0x00, 0x00, 0x01,
    // CM 72 Primary Remote GID ::ffff:10.0.0.2
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0x0a, 0x00, 0x00, 0x02,
    // CM 88 Primary Flow Label 0x12345 (20 bits), CM 91 Packet Rate 16 (100 Gb/s)
    0x12, 0x34, 0x50, 0x10,
    // CM 92 Traffic Class 0x88, CM 93 Hop Limit 64, CM 94 SL 3 | Subnet Local 0, CM 95 Ack Timeout 14
    0x88, 0x40, 0x30, 0x70,
    // CM 96..139 Alternate path absent
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    // CM 140 Private Data: rdma_cm hdr v0.0, IPv4, sport 0x1234, 10.0.0.1 -> 10.0.0.2, then "ndcm"
    0x00, 0x40, 0x12, 0x34, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x0a, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x0a, 0x00, 0x00, 0x02, 0x6e, 0x64, 0x63, 0x6d, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    // ICRC 0x9f6d936f, least significant byte first
    0x6f, 0x93, 0x6d, 0x9f,
];

/// REP over IPv6, 328 bytes
#[rustfmt::skip]
const REP_IPV6: [u8; 328] = [
    // IPv6 version 6, traffic class 0xa0, flow label 0x12345
    0x6a, 0x01, 0x23, 0x45,
    // IPv6 payload length 288, next header 17, hop limit 64
    0x01, 0x20, 0x11, 0x40,
    // IPv6 source fd00::1
    0xfd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
    // IPv6 destination fd00::2
    0xfd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02,
    // UDP source port 0xc123, destination 4791
    0xc1, 0x23, 0x12, 0xb7,
    // UDP length 288, checksum 0x3d3c
    0x01, 0x20, 0x3d, 0x3c,
    // BTH 0 OpCode UD SEND Only, SE/M/Pad/TVer 0, P_Key 0xFFFF
    0x64, 0x00, 0xff, 0xff,
    // BTH 4 FECN/BECN 0, DestQP 1
    0x00, 0x00, 0x00, 0x01,
    // BTH 8 AckReq 0, PSN
    0x00, 0x00, 0x00, 0x42,
    // DETH 0 Q_Key 0x80010000
    0x80, 0x01, 0x00, 0x00,
    // DETH 4 reserved, SrcQP 1
    0x00, 0x00, 0x00, 0x01,
    // MAD 0 BaseVersion 1, MgmtClass 0x07, ClassVersion 2, Method Send
    0x01, 0x07, 0x02, 0x03,
    // MAD 4 Status, MAD 6 ClassSpecific
    0x00, 0x00, 0x00, 0x00,
    // MAD 8 TransactionID
    0x00, 0x00, 0x00, 0x01, 0x11, 0x22, 0x33, 0x44,
    // MAD 16 AttributeID, MAD 18 reserved
    0x00, 0x13, 0x00, 0x00,
    // MAD 20 AttributeModifier
    0x00, 0x00, 0x00, 0x00,
    // CM 0 Local Communication ID
    0x55, 0x66, 0x77, 0x88,
    // CM 4 Remote Communication ID
    0x11, 0x22, 0x33, 0x44,
    // CM 8 Local Q_Key
    0x00, 0x00, 0x00, 0x00,
    // CM 12 Local QPN 0x000456, CM 15 ECE high 0
    0x00, 0x04, 0x56, 0x00,
    // CM 16 Local EECN 0, CM 19 ECE middle 0
    0x00, 0x00, 0x00, 0x00,
    // CM 20 Starting PSN 0x123456, CM 23 ECE low 0
    0x12, 0x34, 0x56, 0x00,
    // CM 24 Responder Resources 8, CM 25 Initiator Depth 4
    0x08, 0x04,
    // CM 26 Target ACK Delay 15 | Failover not supported (1) | EE flow ctl 1
    0x7b,
    // CM 27 RNR Retry Count 7 | SRQ 1
    0xf0,
    // CM 28 Local CA GUID
    0x00, 0x02, 0xc9, 0x03, 0x00, 0xd4, 0xe5, 0xf6,
    // CM 36 Private Data "hello"
    0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00,
    // ICRC 0xb79bebe3, least significant byte first
    0xe3, 0xeb, 0x9b, 0xb7,
];

fn expected_req() -> (RoceRepr, CmMad) {
    let roce = RoceRepr {
        ip: IpFields::V4(Ipv4Fields {
            src: Ipv4Addr::new(10, 0, 0, 1),
            dst: Ipv4Addr::new(10, 0, 0, 2),
            dscp_ecn: 0,
            identification: 0,
            dont_fragment: true,
            ttl: 64,
        }),
        udp_src_port: 0xC123,
        p_key: 0xFFFF,
        psn: Psn::new(0),
        fecn_becn: 0,
    };
    let mut pd = [0u8; 92];
    pd[1] = 0x40;
    pd[2] = 0x12;
    pd[3] = 0x34;
    pd[16..20].copy_from_slice(&[10, 0, 0, 1]);
    pd[32..36].copy_from_slice(&[10, 0, 0, 2]);
    pd[36..40].copy_from_slice(b"ndcm");
    let req = ReqRepr {
        local_comm_id: CommId(0x1122_3344),
        ece_vendor_id: 0,
        service_id: ServiceId(0x0000_0000_0106_1D2F),
        local_ca_guid: 0x0002_C903_00A1_B2C3,
        local_qkey: 0,
        local_qpn: Qpn::new(0x123),
        responder_resources: 4,
        local_eecn: 0,
        initiator_depth: 8,
        remote_eecn: 0,
        remote_cm_response_timeout: 20,
        transport_type: TransportType::Rc,
        end_to_end_flow_control: true,
        starting_psn: Psn::new(0xABCDEF),
        local_cm_response_timeout: 20,
        retry_count: 7,
        partition_key: 0xFFFF,
        path_mtu: Mtu::Mtu1024,
        rdc_exists: false,
        rnr_retry_count: 7,
        max_cm_retries: 15,
        srq: false,
        extended_transport_type: ExtendedTransportType::None,
        primary_path: PathRecord {
            local_lid: 0xFFFF,
            remote_lid: 0xFFFF,
            local_gid: Gid::from_ipv4(Ipv4Addr::new(10, 0, 0, 1)),
            remote_gid: Gid::from_ipv4(Ipv4Addr::new(10, 0, 0, 2)),
            flow_label: 0x12345,
            packet_rate: Rate::Gbps100,
            traffic_class: 0x88,
            hop_limit: 64,
            sl: 3,
            subnet_local: false,
            local_ack_timeout: 14,
        },
        alternate_path: PathRecord::default(),
        sap_supported: false,
        private_data: PrivateData(pd),
    };
    (roce, CmMad::new(0x0000_0001_1122_3344, CmMessage::Req(req)))
}

fn expected_rep() -> (RoceRepr, CmMad) {
    let roce = RoceRepr {
        ip: IpFields::V6(Ipv6Fields {
            src: "fd00::1".parse().unwrap(),
            dst: "fd00::2".parse().unwrap(),
            traffic_class: 0xA0,
            flow_label: 0x12345,
            hop_limit: 64,
        }),
        udp_src_port: 0xC123,
        p_key: 0xFFFF,
        psn: Psn::new(0x42),
        fecn_becn: 0,
    };
    let rep = RepRepr {
        local_comm_id: CommId(0x5566_7788),
        remote_comm_id: CommId(0x1122_3344),
        local_qkey: 0,
        local_qpn: Qpn::new(0x456),
        ece_vendor_id: 0,
        local_eecn: 0,
        starting_psn: Psn::new(0x123456),
        responder_resources: 8,
        initiator_depth: 4,
        target_ack_delay: 15,
        failover_accepted: FailoverAccepted::NotSupported,
        end_to_end_flow_control: true,
        rnr_retry_count: 7,
        srq: true,
        local_ca_guid: 0x0002_C903_00D4_E5F6,
        private_data: PrivateData::from_slice(b"hello").unwrap(),
    };
    (roce, CmMad::new(0x0000_0001_1122_3344, CmMessage::Rep(rep)))
}

#[test]
fn req_ipv4_frame_decodes_to_the_spec_fields() {
    let (roce, mad) = roce::decode(&REQ_IPV4).unwrap();
    let (want_roce, want_mad) = expected_req();
    assert_eq!(roce, want_roce);
    assert_eq!(mad, want_mad);
    assert_eq!(mad.header.method, Method::Send);
    assert_eq!(mad.header.attribute_id, AttributeId::Req);
    let CmMessage::Req(req) = mad.message else {
        panic!("not a REQ")
    };
    assert_eq!(
        IpServiceId::from_service_id(req.service_id),
        Some(IpServiceId::tcp(7471))
    );
    let hdr = IpPrivateDataHeader::parse(&req.private_data.0).unwrap();
    assert_eq!(hdr.src_port, 0x1234);
    assert_eq!(hdr.src_addr, IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)));
    assert_eq!(hdr.dst_addr, IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)));
}

#[test]
fn req_ipv4_frame_is_what_the_encoder_writes() {
    let (roce, mad) = expected_req();
    let mut buf = [0u8; 400];
    let n = roce::encode(&roce, &mad, &mut buf).unwrap();
    assert_eq!(&buf[..n], &REQ_IPV4[..]);
}

#[test]
fn req_udp_payload_starts_like_the_spec_example() {
    // spec/WIRE.md §2: the first 44 bytes of the UDP payload of that REQ.
    let prefix = [
        0x64, 0x00, 0xff, 0xff, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x80, 0x01, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x01, 0x01, 0x07, 0x02, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x01, 0x11, 0x22, 0x33, 0x44, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    ];
    assert_eq!(&REQ_IPV4[28..72], &prefix[..]);
    assert_eq!(
        &REQ_IPV4[72..86],
        &[0x11, 0x22, 0x33, 0x44, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x06][..]
    );
}

#[test]
fn rep_ipv6_frame_decodes_to_the_spec_fields() {
    let (roce, mad) = roce::decode(&REP_IPV6).unwrap();
    assert_eq!((roce, mad), expected_rep());
}

#[test]
fn rep_ipv6_frame_is_what_the_encoder_writes() {
    let (roce, mad) = expected_rep();
    let mut buf = [0u8; 328];
    let n = roce::encode(&roce, &mad, &mut buf).unwrap();
    assert_eq!(n, 328);
    assert_eq!(buf, REP_IPV6);
}

#[test]
fn icrc_matches_scapy_cnp_test_vector() {
    // spec/WIRE.md §9: a CNP captured on a ConnectX-4 Lx (scapy roce.uts).
    let frame = hex(concat!(
        "e41d2dab2bc27cfe90643b320800",
        "45c2003c718c400040119161 0a001101 0a001201",
        "000012b700280000",
        "8100ffff400001180000 0000",
        "00000000000000000000000000000000",
        "82fd002a"
    ));
    let ip = ndcm_wire::eth::ip_payload(&frame).unwrap();
    assert_eq!(roce::icrc(ip).unwrap(), 0x2A00_FD82);
    assert_eq!(&ip[ip.len() - 4..], &0x2A00_FD82u32.to_le_bytes());
}

#[test]
fn any_flipped_covered_bit_breaks_the_icrc_and_masked_bytes_do_not() {
    let mut f = REQ_IPV4;
    // Masked: DSCP/ECN, TTL, IP checksum, UDP checksum, BTH byte 4 (FECN/BECN).
    for at in [1usize, 8, 10, 11, 26, 27] {
        f[at] ^= 0x5A;
    }
    f[32] |= 0x40; // BECN
    let frame = RoceFrame::new_checked(&f[..]).unwrap();
    assert_eq!(frame.verify_icrc(), Ok(()));
    // Covered: identification, an address, the UDP source port, the MAD.
    for at in [4usize, 12, 20, 100, 303] {
        let mut g = REQ_IPV4;
        g[at] ^= 0x01;
        let frame = RoceFrame::new_checked(&g[..]).unwrap();
        assert!(
            matches!(frame.verify_icrc(), Err(WireError::Icrc { .. })),
            "byte {at}"
        );
        assert!(matches!(roce::decode(&g), Err(WireError::Icrc { .. })));
    }
}

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}
