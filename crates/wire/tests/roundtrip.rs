//! Property tests: `parse(emit(x)) == x` for every message with arbitrary
//! field values, and `emit(parse(b)) == b` for every valid MAD whose
//! reserved bits are zero (the used bits come from spec/WIRE.md's tables,
//! transcribed below independently of the encoder).

mod common;

use common::arb;
use ndcm_wire::cm::*;
use ndcm_wire::mad::{AttributeId, MAD_SIZE};
use ndcm_wire::roce::{self, IpFields, Ipv4Fields, Ipv6Fields, RoceFrame, RoceRepr};
use ndcm_wire::{CmMad, Psn};
use proptest::prelude::*;

macro_rules! body_round_trip {
    ($name:ident, $strategy:expr, $packet:ident, $repr:ident) => {
        proptest! {
            #[test]
            fn $name(x in $strategy) {
                let mut body = [0xA5u8; 232];
                x.emit(&mut $packet::new_unchecked(&mut body[..]));
                let parsed = $repr::parse(&$packet::new_checked(&body[..]).unwrap()).unwrap();
                prop_assert_eq!(parsed, x);
            }
        }
    };
}

body_round_trip!(
    class_port_info_round_trips,
    arb::class_port_info(),
    ClassPortInfoPacket,
    ClassPortInfoRepr
);
body_round_trip!(req_round_trips, arb::req(), ReqPacket, ReqRepr);
body_round_trip!(mra_round_trips, arb::mra(), MraPacket, MraRepr);
body_round_trip!(rej_round_trips, arb::rej(), RejPacket, RejRepr);
body_round_trip!(rep_round_trips, arb::rep(), RepPacket, RepRepr);
body_round_trip!(rtu_round_trips, arb::rtu(), RtuPacket, RtuRepr);
body_round_trip!(dreq_round_trips, arb::dreq(), DreqPacket, DreqRepr);
body_round_trip!(drep_round_trips, arb::drep(), DrepPacket, DrepRepr);
body_round_trip!(
    sidr_req_round_trips,
    arb::sidr_req(),
    SidrReqPacket,
    SidrReqRepr
);
body_round_trip!(
    sidr_rep_round_trips,
    arb::sidr_rep(),
    SidrRepPacket,
    SidrRepRepr
);
body_round_trip!(lap_round_trips, arb::lap(), LapPacket, LapRepr);
body_round_trip!(apr_round_trips, arb::apr(), AprPacket, AprRepr);

fn ip_fields() -> impl Strategy<Value = IpFields> {
    prop_oneof![
        (
            any::<[u8; 4]>(),
            any::<[u8; 4]>(),
            any::<u8>(),
            any::<u16>(),
            any::<bool>(),
            any::<u8>()
        )
            .prop_map(|(s, d, tos, id, df, ttl)| IpFields::V4(Ipv4Fields {
                src: s.into(),
                dst: d.into(),
                dscp_ecn: tos,
                identification: id,
                dont_fragment: df,
                ttl,
            })),
        (
            any::<[u8; 16]>(),
            any::<[u8; 16]>(),
            any::<u8>(),
            arb::u32w(20),
            any::<u8>()
        )
            .prop_map(|(s, d, tc, fl, hl)| IpFields::V6(Ipv6Fields {
                src: s.into(),
                dst: d.into(),
                traffic_class: tc,
                flow_label: fl,
                hop_limit: hl,
            })),
    ]
}

fn roce_repr() -> impl Strategy<Value = RoceRepr> {
    (ip_fields(), any::<u16>(), any::<u16>(), arb::psn(), 0..4u8).prop_map(
        |(ip, sport, pkey, psn, ecn)| RoceRepr {
            ip,
            udp_src_port: sport,
            p_key: pkey,
            psn,
            fecn_becn: ecn << 6,
        },
    )
}

proptest! {
    #[test]
    fn cm_mad_round_trips(mad in arb::cm_mad()) {
        let bytes = mad.to_bytes();
        prop_assert_eq!(CmMad::parse(&bytes).unwrap(), mad);
    }

    #[test]
    fn roce_frame_round_trips(repr in roce_repr(), mad in arb::cm_mad()) {
        let mut buf = [0u8; 400];
        let n = roce::encode(&repr, &mad, &mut buf).unwrap();
        prop_assert_eq!(n, repr.packet_len());
        let (r, m) = roce::decode(&buf[..n]).unwrap();
        prop_assert_eq!(r, repr);
        prop_assert_eq!(m, mad);
        // And the bytes: re-encoding what was decoded gives the same frame.
        let mut again = [0u8; 400];
        let n2 = roce::encode(&r, &m, &mut again).unwrap();
        prop_assert_eq!(&again[..n2], &buf[..n]);
    }

    #[test]
    fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = CmMad::parse(&bytes);
        let _ = roce::decode(&bytes);
        let _ = roce::icrc(&bytes);
        let _ = ndcm_wire::eth::ip_payload(&bytes);
    }

    #[test]
    fn garbage_cm_bodies_never_panic(attr in 0..12usize, body in arb::bytes::<232>()) {
        let mut mad = [0u8; MAD_SIZE];
        mad[..4].copy_from_slice(&[1, 7, 2, 3]);
        let id = AttributeId::ALL[attr];
        if id == AttributeId::ClassPortInfo { mad[3] = 0x81; }
        mad[16..18].copy_from_slice(&id.code().to_be_bytes());
        mad[24..].copy_from_slice(&body);
        let _ = CmMad::parse(&mad);
    }
}

// ---- emit(parse(b)) == b -------------------------------------------------

/// (CM byte, first bit, width) of every field of spec/WIRE.md §5.
type Fields = Vec<(usize, usize, usize)>;

fn req_path(base: usize) -> Fields {
    vec![
        (base, 0, 32),
        (base + 4, 0, 256),
        (base + 36, 0, 20),
        (base + 39, 2, 6),
        (base + 40, 0, 16),
        (base + 42, 0, 5),
        (base + 43, 0, 5),
    ]
}

fn used_fields(id: AttributeId) -> Fields {
    let pd = |at: usize| (at, 0, (232 - at) * 8);
    match id {
        AttributeId::ClassPortInfo => vec![(0, 0, 32 * 8), (33, 0, 39 * 8)],
        AttributeId::Req => {
            let mut f = vec![
                (0, 0, 32),
                (5, 0, 24),
                (8, 0, 128),
                (28, 0, 96),
                (40, 0, 96),
                (50, 0, 16),
            ];
            f.extend(req_path(52));
            f.extend(req_path(96));
            f.push((139, 5, 1));
            f.push(pd(140));
            f
        }
        AttributeId::Mra => vec![(0, 0, 66), (9, 0, 5), pd(10)],
        AttributeId::Rej => vec![(0, 0, 66), (9, 0, 7), (10, 0, 16), (12, 0, 576), pd(84)],
        AttributeId::Rep => vec![
            (0, 0, 24 * 8),
            (24, 0, 16),
            (26, 0, 8),
            (27, 0, 4),
            (28, 0, 64),
            pd(36),
        ],
        AttributeId::Rtu | AttributeId::Drep => vec![(0, 0, 64), pd(8)],
        AttributeId::Dreq => vec![(0, 0, 64), (8, 0, 24), pd(12)],
        AttributeId::SidrReq => vec![(0, 0, 48), (8, 0, 64), pd(16)],
        AttributeId::SidrRep => vec![(0, 0, 96 * 8), pd(96)],
        AttributeId::Lap => vec![
            (0, 0, 64),
            (12, 0, 29),
            (20, 0, 36 * 8),
            (56, 0, 20),
            (59, 0, 16),
            (61, 2, 6),
            (62, 0, 5),
            (63, 0, 5),
            pd(64),
        ],
        AttributeId::Apr => vec![(0, 0, 80), (12, 0, 576), pd(84)],
    }
}

fn used_mask(id: AttributeId) -> [u8; 232] {
    let mut mask = [0u8; 232];
    for (byte, bit, width) in used_fields(id) {
        for i in 0..width {
            let abs = byte * 8 + bit + i;
            mask[abs / 8] |= 0x80 >> (abs % 8);
        }
    }
    mask
}

proptest! {
    #[test]
    fn valid_mads_with_reserved_bits_zero_re_emit_identically(
        attr in 0..12usize,
        header in arb::bytes::<24>(),
        body in arb::bytes::<232>(),
        info_len in 0..=72u8,
    ) {
        let id = AttributeId::ALL[attr];
        let mut mad = [0u8; MAD_SIZE];
        mad[..24].copy_from_slice(&header);
        mad[..3].copy_from_slice(&[1, 7, 2]);
        mad[3] = if id == AttributeId::ClassPortInfo { 0x81 } else { 0x03 };
        mad[16..20].copy_from_slice(&[0, id.code() as u8, 0, 0]);
        let mask = used_mask(id);
        for i in 0..232 {
            mad[24 + i] = body[i] & mask[i];
        }
        // Length fields must stay within their 72-byte areas (§10.6).
        match id {
            AttributeId::Rej => mad[24 + 9] = info_len << 1,
            AttributeId::Apr => mad[24 + 8] = info_len,
            AttributeId::SidrRep => mad[24 + 5] = info_len,
            _ => {}
        }
        let parsed = CmMad::parse(&mad).unwrap();
        prop_assert_eq!(parsed.to_bytes(), mad);
    }
}

#[test]
fn used_masks_match_private_data_sizes() {
    // Cross-check of the transcription above against §4's private data sizes.
    let pd_sizes = [
        (AttributeId::Req, 92),
        (AttributeId::Mra, 222),
        (AttributeId::Rej, 148),
        (AttributeId::Rep, 196),
        (AttributeId::Rtu, 224),
        (AttributeId::Dreq, 220),
        (AttributeId::Drep, 224),
        (AttributeId::SidrReq, 216),
        (AttributeId::SidrRep, 136),
        (AttributeId::Lap, 168),
        (AttributeId::Apr, 148),
    ];
    for (id, n) in pd_sizes {
        let mask = used_mask(id);
        assert!(mask[232 - n..].iter().all(|&b| b == 0xFF), "{id:?}");
    }
}

#[test]
fn frame_accessors_read_the_transport_fields() {
    let repr = RoceRepr::new(
        IpFields::V4(Ipv4Fields {
            src: [192, 168, 1, 1].into(),
            dst: [192, 168, 1, 2].into(),
            dscp_ecn: 0,
            identification: 0,
            dont_fragment: true,
            ttl: 64,
        }),
        0xC000,
        Psn::new(7),
    );
    let mad = CmMad::new(
        9,
        CmMessage::Rtu(RtuRepr {
            local_comm_id: ndcm_wire::CommId(1),
            remote_comm_id: ndcm_wire::CommId(2),
            private_data: Default::default(),
        }),
    );
    let mut buf = [0u8; 308];
    roce::encode(&repr, &mad, &mut buf).unwrap();
    let f = RoceFrame::new_checked(&buf[..]).unwrap();
    assert_eq!(f.p_key(), 0xFFFF);
    assert_eq!(f.psn(), Psn::new(7));
    assert_eq!(f.udp_src_port(), 0xC000);
    assert_eq!(f.mad(), &mad.to_bytes()[..]);
    assert!(!f.is_ipv6());
}
