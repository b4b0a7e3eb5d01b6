//! A uniform walk over every field of a CM message, named in snake_case
//! after spec/WIRE.md §5, for printers (`ndcm decode`, JSON) and oracle
//! tests. Owns the names only; values come from the `Repr`s unchanged.

use crate::cm::PathRecord;
use crate::mad::MadHeader;
use crate::{CmMessage, Gid};

/// One field's value.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum FieldValue<'a> {
    Uint(u64),
    Bool(bool),
    Gid(Gid),
    /// Private data, ARI, additional info: printed as hex.
    Bytes(&'a [u8]),
    /// A typed code with its spec name when known.
    Code {
        code: u64,
        name: Option<&'static str>,
    },
}

/// Receives `(name, value)` pairs in wire order.
pub type Visitor<'v> = dyn FnMut(&'static str, FieldValue<'_>) + 'v;

fn path(v: &mut Visitor<'_>, names: &[&'static str; 11], p: &PathRecord) {
    let [llid, rlid, lgid, rgid, fl, rate, tc, hl, sl, sub, ack] = *names;
    v(llid, FieldValue::Uint(p.local_lid.into()));
    v(rlid, FieldValue::Uint(p.remote_lid.into()));
    v(lgid, FieldValue::Gid(p.local_gid));
    v(rgid, FieldValue::Gid(p.remote_gid));
    v(fl, FieldValue::Uint(p.flow_label.into()));
    v(
        rate,
        FieldValue::Code {
            code: p.packet_rate.code().into(),
            name: p.packet_rate.name(),
        },
    );
    v(tc, FieldValue::Uint(p.traffic_class.into()));
    v(hl, FieldValue::Uint(p.hop_limit.into()));
    v(sl, FieldValue::Uint(p.sl.into()));
    v(sub, FieldValue::Bool(p.subnet_local));
    v(ack, FieldValue::Uint(p.local_ack_timeout.into()));
}

const PRIMARY: [&str; 11] = [
    "primary_local_lid",
    "primary_remote_lid",
    "primary_local_gid",
    "primary_remote_gid",
    "primary_flow_label",
    "primary_packet_rate",
    "primary_traffic_class",
    "primary_hop_limit",
    "primary_sl",
    "primary_subnet_local",
    "primary_local_ack_timeout",
];

const ALTERNATE: [&str; 11] = [
    "alternate_local_lid",
    "alternate_remote_lid",
    "alternate_local_gid",
    "alternate_remote_gid",
    "alternate_flow_label",
    "alternate_packet_rate",
    "alternate_traffic_class",
    "alternate_hop_limit",
    "alternate_sl",
    "alternate_subnet_local",
    "alternate_local_ack_timeout",
];

/// Walks the MAD header fields (method, status, class_specific,
/// attribute_modifier; the TID and attribute are reported by callers).
pub fn visit_header(h: &MadHeader, v: &mut Visitor<'_>) {
    v(
        "method",
        FieldValue::Code {
            code: h.method.code().into(),
            name: h.method.name(),
        },
    );
    v("status", FieldValue::Uint(h.status.into()));
    v("class_specific", FieldValue::Uint(h.class_specific.into()));
    v(
        "attribute_modifier",
        FieldValue::Uint(h.attribute_modifier.into()),
    );
}

/// Walks every field of `m` in wire order.
pub fn visit_message(m: &CmMessage, v: &mut Visitor<'_>) {
    use FieldValue::{Bool, Bytes, Code, Uint};
    macro_rules! code {
        ($e:expr) => {
            Code {
                code: $e.code().into(),
                name: $e.name(),
            }
        };
    }
    match m {
        CmMessage::ClassPortInfo(c) => {
            v("base_version", Uint(c.base_version.into()));
            v("class_version", Uint(c.class_version.into()));
            v("capability_mask", Uint(c.capability_mask.into()));
            v("capability_mask2", Uint(c.capability_mask2.into()));
            v("resp_time_value", Uint(c.resp_time_value.into()));
            v("redirect_gid", FieldValue::Gid(c.redirect_gid));
            v("redirect_tc", Uint(c.redirect_tc.into()));
            v("redirect_sl", Uint(c.redirect_sl.into()));
            v("redirect_flow_label", Uint(c.redirect_flow_label.into()));
            v("redirect_lid", Uint(c.redirect_lid.into()));
            v("redirect_pkey", Uint(c.redirect_pkey.into()));
            v("redirect_qp", Uint(c.redirect_qp.get().into()));
            v("redirect_qkey", Uint(c.redirect_qkey.into()));
            v("trap_gid", FieldValue::Gid(c.trap_gid));
            v("trap_tc", Uint(c.trap_tc.into()));
            v("trap_sl", Uint(c.trap_sl.into()));
            v("trap_flow_label", Uint(c.trap_flow_label.into()));
            v("trap_lid", Uint(c.trap_lid.into()));
            v("trap_pkey", Uint(c.trap_pkey.into()));
            v("trap_hop_limit", Uint(c.trap_hop_limit.into()));
            v("trap_qp", Uint(c.trap_qp.get().into()));
            v("trap_qkey", Uint(c.trap_qkey.into()));
        }
        CmMessage::Req(r) => {
            v("local_comm_id", Uint(r.local_comm_id.0.into()));
            v("ece_vendor_id", Uint(r.ece_vendor_id.into()));
            v("service_id", Uint(r.service_id.0));
            v("local_ca_guid", Uint(r.local_ca_guid));
            v("local_qkey", Uint(r.local_qkey.into()));
            v("local_qpn", Uint(r.local_qpn.get().into()));
            v("responder_resources", Uint(r.responder_resources.into()));
            v("local_eecn", Uint(r.local_eecn.into()));
            v("initiator_depth", Uint(r.initiator_depth.into()));
            v("remote_eecn", Uint(r.remote_eecn.into()));
            v(
                "remote_cm_response_timeout",
                Uint(r.remote_cm_response_timeout.into()),
            );
            v("transport_service_type", code!(r.transport_type));
            v("end_to_end_flow_control", Bool(r.end_to_end_flow_control));
            v("starting_psn", Uint(r.starting_psn.get().into()));
            v(
                "local_cm_response_timeout",
                Uint(r.local_cm_response_timeout.into()),
            );
            v("retry_count", Uint(r.retry_count.into()));
            v("partition_key", Uint(r.partition_key.into()));
            v("path_mtu", code!(r.path_mtu));
            v("rdc_exists", Bool(r.rdc_exists));
            v("rnr_retry_count", Uint(r.rnr_retry_count.into()));
            v("max_cm_retries", Uint(r.max_cm_retries.into()));
            v("srq", Bool(r.srq));
            v("extended_transport_type", code!(r.extended_transport_type));
            path(v, &PRIMARY, &r.primary_path);
            path(v, &ALTERNATE, &r.alternate_path);
            v("sap_supported", Bool(r.sap_supported));
            v("private_data", Bytes(&r.private_data.0));
        }
        CmMessage::Mra(r) => {
            v("local_comm_id", Uint(r.local_comm_id.0.into()));
            v("remote_comm_id", Uint(r.remote_comm_id.0.into()));
            v("message_mraed", code!(r.message_mraed));
            v("service_timeout", Uint(r.service_timeout.into()));
            v("private_data", Bytes(&r.private_data.0));
        }
        CmMessage::Rej(r) => {
            v("local_comm_id", Uint(r.local_comm_id.0.into()));
            v("remote_comm_id", Uint(r.remote_comm_id.0.into()));
            v("message_rejected", code!(r.message_rejected));
            v("reject_info_length", Uint(r.reject_info_length.into()));
            v("reason", code!(r.reason));
            v("ari", Bytes(&r.ari));
            v("private_data", Bytes(&r.private_data.0));
        }
        CmMessage::Rep(r) => {
            v("local_comm_id", Uint(r.local_comm_id.0.into()));
            v("remote_comm_id", Uint(r.remote_comm_id.0.into()));
            v("local_qkey", Uint(r.local_qkey.into()));
            v("local_qpn", Uint(r.local_qpn.get().into()));
            v("ece_vendor_id", Uint(r.ece_vendor_id.into()));
            v("local_eecn", Uint(r.local_eecn.into()));
            v("starting_psn", Uint(r.starting_psn.get().into()));
            v("responder_resources", Uint(r.responder_resources.into()));
            v("initiator_depth", Uint(r.initiator_depth.into()));
            v("target_ack_delay", Uint(r.target_ack_delay.into()));
            v("failover_accepted", code!(r.failover_accepted));
            v("end_to_end_flow_control", Bool(r.end_to_end_flow_control));
            v("rnr_retry_count", Uint(r.rnr_retry_count.into()));
            v("srq", Bool(r.srq));
            v("local_ca_guid", Uint(r.local_ca_guid));
            v("private_data", Bytes(&r.private_data.0));
        }
        CmMessage::Rtu(r) => {
            v("local_comm_id", Uint(r.local_comm_id.0.into()));
            v("remote_comm_id", Uint(r.remote_comm_id.0.into()));
            v("private_data", Bytes(&r.private_data.0));
        }
        CmMessage::Dreq(r) => {
            v("local_comm_id", Uint(r.local_comm_id.0.into()));
            v("remote_comm_id", Uint(r.remote_comm_id.0.into()));
            v("remote_qpn", Uint(r.remote_qpn.get().into()));
            v("private_data", Bytes(&r.private_data.0));
        }
        CmMessage::Drep(r) => {
            v("local_comm_id", Uint(r.local_comm_id.0.into()));
            v("remote_comm_id", Uint(r.remote_comm_id.0.into()));
            v("private_data", Bytes(&r.private_data.0));
        }
        CmMessage::SidrReq(r) => {
            v("request_id", Uint(r.request_id.into()));
            v("partition_key", Uint(r.partition_key.into()));
            v("service_id", Uint(r.service_id.0));
            v("private_data", Bytes(&r.private_data.0));
        }
        CmMessage::SidrRep(r) => {
            v("request_id", Uint(r.request_id.into()));
            v("status", code!(r.status));
            v(
                "additional_info_length",
                Uint(r.additional_info_length.into()),
            );
            v("ece_vendor_id", Uint(r.ece_vendor_id.into()));
            v("qpn", Uint(r.qpn.get().into()));
            v("service_id", Uint(r.service_id.0));
            v("qkey", Uint(r.qkey.into()));
            v("additional_info", Bytes(&r.additional_info));
            v("private_data", Bytes(&r.private_data.0));
        }
        CmMessage::Lap(r) => {
            v("local_comm_id", Uint(r.local_comm_id.0.into()));
            v("remote_comm_id", Uint(r.remote_comm_id.0.into()));
            v("remote_qpn", Uint(r.remote_qpn.get().into()));
            v(
                "remote_cm_response_timeout",
                Uint(r.remote_cm_response_timeout.into()),
            );
            path(v, &ALTERNATE, &r.alternate_path);
            v("private_data", Bytes(&r.private_data.0));
        }
        CmMessage::Apr(r) => {
            v("local_comm_id", Uint(r.local_comm_id.0.into()));
            v("remote_comm_id", Uint(r.remote_comm_id.0.into()));
            v(
                "additional_info_length",
                Uint(r.additional_info_length.into()),
            );
            v("ap_status", code!(r.ap_status));
            v("additional_info", Bytes(&r.additional_info));
            v("private_data", Bytes(&r.private_data.0));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cm::*;
    use crate::{CommId, PrivateData};

    #[test]
    fn names_are_unique_snake_case_and_cover_the_message() {
        let rtu = CmMessage::Rtu(RtuRepr {
            local_comm_id: CommId(7),
            remote_comm_id: CommId(9),
            private_data: PrivateData::from_slice(&[0xAB]).unwrap_or_default(),
        });
        let mut seen: [(&str, u64); 3] = [("", 0); 3];
        let mut n = 0;
        visit_message(&rtu, &mut |name, v| {
            assert!(
                name.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            );
            if let Some(slot) = seen.get_mut(n) {
                *slot = (
                    name,
                    match v {
                        FieldValue::Uint(x) => x,
                        FieldValue::Bytes(b) => b.len() as u64,
                        _ => u64::MAX,
                    },
                );
            }
            n += 1;
        });
        assert_eq!(n, 3);
        assert_eq!(
            seen,
            [
                ("local_comm_id", 7),
                ("remote_comm_id", 9),
                ("private_data", 224)
            ]
        );

        let req = CmMessage::Req(ReqRepr {
            local_comm_id: CommId(1),
            ece_vendor_id: 0,
            service_id: crate::ServiceId(2),
            local_ca_guid: 3,
            local_qkey: 0,
            local_qpn: crate::Qpn::new(4),
            responder_resources: 0,
            local_eecn: 0,
            initiator_depth: 0,
            remote_eecn: 0,
            remote_cm_response_timeout: 0,
            transport_type: crate::TransportType::Rc,
            end_to_end_flow_control: false,
            starting_psn: crate::Psn::new(0),
            local_cm_response_timeout: 0,
            retry_count: 0,
            partition_key: 0,
            path_mtu: crate::Mtu::Mtu1024,
            rdc_exists: false,
            rnr_retry_count: 0,
            max_cm_retries: 0,
            srq: false,
            extended_transport_type: crate::ExtendedTransportType::None,
            primary_path: PathRecord::default(),
            alternate_path: PathRecord::default(),
            sap_supported: false,
            private_data: PrivateData::zeroed(),
        });
        let mut names = [""; 64];
        let mut count = 0;
        visit_message(&req, &mut |name, _| {
            if let Some(slot) = names.get_mut(count) {
                *slot = name;
            }
            count += 1;
        });
        // 27 REQ fields minus the two paths, plus 11 per path.
        assert_eq!(count, 25 + 22);
        let used = &names[..count];
        for (i, a) in used.iter().enumerate() {
            assert!(!used[i + 1..].contains(a), "{a} twice");
        }
    }
}
