//! proptest strategies for every CM message with arbitrary field values
//! (each field within its wire width). Shared with the Wireshark oracle in
//! the `tests` package through a `#[path]` include.
#![allow(dead_code)]

use ndcm_wire::cm::{
    AprRepr, ClassPortInfoRepr, CmMessage, DrepRepr, DreqRepr, LapRepr, MraRepr, PathRecord,
    RejRepr, RepRepr, ReqRepr, RtuRepr, SidrRepRepr, SidrReqRepr,
};
use ndcm_wire::mad::{MadHeader, Method};
use ndcm_wire::{
    AprStatus, CmMad, CommId, ExtendedTransportType, FailoverAccepted, Gid, MraMessage, Mtu,
    PrivateData, Psn, Qpn, Rate, RejMessage, RejReason, ServiceId, SidrStatus, TransportType,
};
use proptest::prelude::*;

pub fn bytes<const N: usize>() -> impl Strategy<Value = [u8; N]> {
    proptest::collection::vec(any::<u8>(), N).prop_map(|v| {
        let mut a = [0u8; N];
        a.copy_from_slice(&v);
        a
    })
}

pub fn pd<const N: usize>() -> impl Strategy<Value = PrivateData<N>> {
    bytes::<N>().prop_map(PrivateData)
}

pub fn bits(width: u32) -> impl Strategy<Value = u64> {
    0..=(if width >= 64 {
        u64::MAX
    } else {
        (1u64 << width) - 1
    })
}

pub fn u8w(width: u32) -> impl Strategy<Value = u8> {
    bits(width).prop_map(|v| v as u8)
}

pub fn u32w(width: u32) -> impl Strategy<Value = u32> {
    bits(width).prop_map(|v| v as u32)
}

pub fn gid() -> impl Strategy<Value = Gid> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(Gid::from_ipv4_octets),
        any::<[u8; 16]>().prop_map(Gid),
    ]
}

pub fn comm_id() -> impl Strategy<Value = CommId> {
    any::<u32>().prop_map(CommId)
}

pub fn qpn() -> impl Strategy<Value = Qpn> {
    u32w(24).prop_map(Qpn::new)
}

pub fn psn() -> impl Strategy<Value = Psn> {
    u32w(24).prop_map(Psn::new)
}

pub fn path() -> impl Strategy<Value = PathRecord> {
    (
        (any::<u16>(), any::<u16>(), gid(), gid()),
        (u32w(20), u8w(6), any::<u8>(), any::<u8>()),
        (u8w(4), any::<bool>(), u8w(5)),
    )
        .prop_map(
            |(
                (local_lid, remote_lid, local_gid, remote_gid),
                (flow_label, rate, traffic_class, hop_limit),
                (sl, subnet_local, local_ack_timeout),
            )| PathRecord {
                local_lid,
                remote_lid,
                local_gid,
                remote_gid,
                flow_label,
                packet_rate: Rate::from_code(rate),
                traffic_class,
                hop_limit,
                sl,
                subnet_local,
                local_ack_timeout,
            },
        )
}

pub fn req() -> impl Strategy<Value = ReqRepr> {
    (
        (
            comm_id(),
            u32w(24),
            any::<u64>(),
            any::<u64>(),
            any::<u32>(),
            qpn(),
        ),
        (
            any::<u8>(),
            u32w(24),
            any::<u8>(),
            u32w(24),
            u8w(5),
            u8w(2),
            any::<bool>(),
        ),
        (
            psn(),
            u8w(5),
            u8w(3),
            any::<u16>(),
            u8w(4),
            any::<bool>(),
            u8w(3),
        ),
        (
            u8w(4),
            any::<bool>(),
            u8w(3),
            path(),
            path(),
            any::<bool>(),
            pd::<92>(),
        ),
    )
        .prop_map(|(a, b, c, d)| ReqRepr {
            local_comm_id: a.0,
            ece_vendor_id: a.1,
            service_id: ServiceId(a.2),
            local_ca_guid: a.3,
            local_qkey: a.4,
            local_qpn: a.5,
            responder_resources: b.0,
            local_eecn: b.1,
            initiator_depth: b.2,
            remote_eecn: b.3,
            remote_cm_response_timeout: b.4,
            transport_type: TransportType::from_code(b.5),
            end_to_end_flow_control: b.6,
            starting_psn: c.0,
            local_cm_response_timeout: c.1,
            retry_count: c.2,
            partition_key: c.3,
            path_mtu: Mtu::from_code(c.4),
            rdc_exists: c.5,
            rnr_retry_count: c.6,
            max_cm_retries: d.0,
            srq: d.1,
            extended_transport_type: ExtendedTransportType::from_code(d.2),
            primary_path: d.3,
            alternate_path: d.4,
            sap_supported: d.5,
            private_data: d.6,
        })
}

pub fn mra() -> impl Strategy<Value = MraRepr> {
    (comm_id(), comm_id(), u8w(2), u8w(5), pd::<222>()).prop_map(|(l, r, m, t, p)| MraRepr {
        local_comm_id: l,
        remote_comm_id: r,
        message_mraed: MraMessage::from_code(m),
        service_timeout: t,
        private_data: p,
    })
}

pub fn rej() -> impl Strategy<Value = RejRepr> {
    (
        comm_id(),
        comm_id(),
        u8w(2),
        0..=72u8,
        any::<u16>(),
        bytes::<72>(),
        pd::<148>(),
    )
        .prop_map(|(l, r, m, len, reason, ari, p)| RejRepr {
            local_comm_id: l,
            remote_comm_id: r,
            message_rejected: RejMessage::from_code(m),
            reject_info_length: len,
            reason: RejReason::from_code(reason),
            ari,
            private_data: p,
        })
}

pub fn rep() -> impl Strategy<Value = RepRepr> {
    (
        (
            comm_id(),
            comm_id(),
            any::<u32>(),
            qpn(),
            u32w(24),
            u32w(24),
            psn(),
        ),
        (
            any::<u8>(),
            any::<u8>(),
            u8w(5),
            u8w(2),
            any::<bool>(),
            u8w(3),
            any::<bool>(),
        ),
        (any::<u64>(), pd::<196>()),
    )
        .prop_map(|(a, b, c)| RepRepr {
            local_comm_id: a.0,
            remote_comm_id: a.1,
            local_qkey: a.2,
            local_qpn: a.3,
            ece_vendor_id: a.4,
            local_eecn: a.5,
            starting_psn: a.6,
            responder_resources: b.0,
            initiator_depth: b.1,
            target_ack_delay: b.2,
            failover_accepted: FailoverAccepted::from_code(b.3),
            end_to_end_flow_control: b.4,
            rnr_retry_count: b.5,
            srq: b.6,
            local_ca_guid: c.0,
            private_data: c.1,
        })
}

pub fn rtu() -> impl Strategy<Value = RtuRepr> {
    (comm_id(), comm_id(), pd::<224>()).prop_map(|(l, r, p)| RtuRepr {
        local_comm_id: l,
        remote_comm_id: r,
        private_data: p,
    })
}

pub fn dreq() -> impl Strategy<Value = DreqRepr> {
    (comm_id(), comm_id(), qpn(), pd::<220>()).prop_map(|(l, r, q, p)| DreqRepr {
        local_comm_id: l,
        remote_comm_id: r,
        remote_qpn: q,
        private_data: p,
    })
}

pub fn drep() -> impl Strategy<Value = DrepRepr> {
    (comm_id(), comm_id(), pd::<224>()).prop_map(|(l, r, p)| DrepRepr {
        local_comm_id: l,
        remote_comm_id: r,
        private_data: p,
    })
}

pub fn sidr_req() -> impl Strategy<Value = SidrReqRepr> {
    (any::<u32>(), any::<u16>(), any::<u64>(), pd::<216>()).prop_map(|(id, pk, sid, p)| {
        SidrReqRepr {
            request_id: id,
            partition_key: pk,
            service_id: ServiceId(sid),
            private_data: p,
        }
    })
}

pub fn sidr_rep() -> impl Strategy<Value = SidrRepRepr> {
    (
        any::<u32>(),
        any::<u8>(),
        0..=72u8,
        u32w(24),
        qpn(),
        any::<u64>(),
        any::<u32>(),
        bytes::<72>(),
        pd::<136>(),
    )
        .prop_map(|(id, st, len, ece, q, sid, qkey, info, p)| SidrRepRepr {
            request_id: id,
            status: SidrStatus::from_code(st),
            additional_info_length: len,
            ece_vendor_id: ece,
            qpn: q,
            service_id: ServiceId(sid),
            qkey,
            additional_info: info,
            private_data: p,
        })
}

pub fn lap() -> impl Strategy<Value = LapRepr> {
    (comm_id(), comm_id(), qpn(), u8w(5), path(), pd::<168>()).prop_map(|(l, r, q, t, a, p)| {
        LapRepr {
            local_comm_id: l,
            remote_comm_id: r,
            remote_qpn: q,
            remote_cm_response_timeout: t,
            alternate_path: a,
            private_data: p,
        }
    })
}

pub fn apr() -> impl Strategy<Value = AprRepr> {
    (
        comm_id(),
        comm_id(),
        0..=72u8,
        any::<u8>(),
        bytes::<72>(),
        pd::<148>(),
    )
        .prop_map(|(l, r, len, st, info, p)| AprRepr {
            local_comm_id: l,
            remote_comm_id: r,
            additional_info_length: len,
            ap_status: AprStatus::from_code(st),
            additional_info: info,
            private_data: p,
        })
}

pub fn class_port_info() -> impl Strategy<Value = ClassPortInfoRepr> {
    (
        (any::<u8>(), any::<u8>(), any::<u16>(), u32w(27), u8w(5)),
        (
            gid(),
            any::<u8>(),
            u8w(4),
            u32w(20),
            any::<u16>(),
            any::<u16>(),
            qpn(),
            any::<u32>(),
        ),
        (
            gid(),
            any::<u8>(),
            u8w(4),
            u32w(20),
            any::<u16>(),
            any::<u16>(),
            any::<u8>(),
        ),
        (qpn(), any::<u32>()),
    )
        .prop_map(|(a, b, c, d)| ClassPortInfoRepr {
            base_version: a.0,
            class_version: a.1,
            capability_mask: a.2,
            capability_mask2: a.3,
            resp_time_value: a.4,
            redirect_gid: b.0,
            redirect_tc: b.1,
            redirect_sl: b.2,
            redirect_flow_label: b.3,
            redirect_lid: b.4,
            redirect_pkey: b.5,
            redirect_qp: b.6,
            redirect_qkey: b.7,
            trap_gid: c.0,
            trap_tc: c.1,
            trap_sl: c.2,
            trap_flow_label: c.3,
            trap_lid: c.4,
            trap_pkey: c.5,
            trap_hop_limit: c.6,
            trap_qp: d.0,
            trap_qkey: d.1,
        })
}

pub fn message() -> impl Strategy<Value = CmMessage> {
    prop_oneof![
        class_port_info().prop_map(CmMessage::ClassPortInfo),
        req().prop_map(CmMessage::Req),
        mra().prop_map(CmMessage::Mra),
        rej().prop_map(CmMessage::Rej),
        rep().prop_map(CmMessage::Rep),
        rtu().prop_map(CmMessage::Rtu),
        dreq().prop_map(CmMessage::Dreq),
        drep().prop_map(CmMessage::Drep),
        sidr_req().prop_map(CmMessage::SidrReq),
        sidr_rep().prop_map(CmMessage::SidrRep),
        lap().prop_map(CmMessage::Lap),
        apr().prop_map(CmMessage::Apr),
    ]
}

/// A whole MAD with an arbitrary header (method valid for the attribute).
pub fn cm_mad_of(message: impl Strategy<Value = CmMessage>) -> impl Strategy<Value = CmMad> {
    (
        message,
        any::<u64>(),
        any::<u16>(),
        any::<u16>(),
        any::<u32>(),
        0..3usize,
    )
        .prop_map(|(message, tid, status, class_specific, modifier, m)| {
            let mut header = MadHeader::new(message.attribute_id(), tid);
            header.status = status;
            header.class_specific = class_specific;
            header.attribute_modifier = modifier;
            if let CmMessage::ClassPortInfo(_) = message {
                header.method = [Method::Get, Method::Set, Method::GetResp][m];
            }
            CmMad { header, message }
        })
}

pub fn cm_mad() -> impl Strategy<Value = CmMad> {
    cm_mad_of(message())
}
