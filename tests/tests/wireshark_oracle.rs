//! The Wireshark oracle: random REQ, REP, RTU, REJ, DREQ and DREP frames are
//! written to a pcap, dissected by `tshark -T json`, and every field tshark
//! decodes is compared with the `Repr` that produced the frame.
//!
//! Known dissector bug (spec/WIRE.md §11, Wireshark 4.0.x `parse_CM_Req`):
//! the REQ primary and alternate flow label are shown shifted right by 8
//! and the packet rate is read from the first flow-label byte. The encoder
//! follows the IBA layout (§5.1), so `infiniband.cm.req.prim_flowlabel`,
//! `.prim_pktrate`, `.alt_flowlabel` and `.alt_pktrate` are skipped here;
//! `dissector_bug_fields_disagree_as_documented` pins the bug itself, so a
//! fixed Wireshark makes that test fail and the exception can be dropped.
//!
//! Without `tshark` the tests print that they were skipped, unless
//! `NDCM_REQUIRE_TSHARK=1`, when they fail.

#[path = "../../crates/wire/tests/common/arb.rs"]
mod arb;

mod tshark_common;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;
use tshark_common::tshark_available;

use ndcm_wire::cm::{CmMessage, PathRecord};
use ndcm_wire::ip::{IpPrivateDataHeader, IpServiceId, PortSpace};
use ndcm_wire::pcap::{LinkType, PcapWriter};
use ndcm_wire::roce::{self, IpFields, Ipv4Fields, RoceRepr};
use ndcm_wire::{CmMad, Gid, Psn};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

/// Frames per message type.
const FRAMES_PER_TYPE: usize = 50;

/// The four REQ fields the 4.0.x dissector decodes wrongly (§11).
const DISSECTOR_BUG_FIELDS: [&str; 4] = [
    "infiniband.cm.req.prim_flowlabel",
    "infiniband.cm.req.prim_pktrate",
    "infiniband.cm.req.alt_flowlabel",
    "infiniband.cm.req.alt_pktrate",
];

/// An expected value in the form tshark prints it.
#[derive(Clone, Debug, PartialEq)]
enum Want {
    Int(u64),
    Bytes(Vec<u8>),
    Text(String),
}

fn parse_int(s: &str) -> Option<u64> {
    match s.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    }
}

fn parse_bytes(s: &str) -> Option<Vec<u8>> {
    s.split(':')
        .map(|b| u8::from_str_radix(b, 16).ok())
        .collect()
}

fn matches(want: &Want, got: &str) -> bool {
    match want {
        Want::Int(n) => parse_int(got) == Some(*n),
        Want::Bytes(b) => parse_bytes(got).as_deref() == Some(&b[..]),
        Want::Text(t) => got == t,
    }
}

fn ipv4_of(g: Gid) -> Want {
    let o = g.0;
    Want::Text(format!("{}.{}.{}.{}", o[12], o[13], o[14], o[15]))
}

fn path_fields(m: &mut HashMap<String, Want>, prefix: &str, p: &PathRecord) {
    let f = |s: &str| format!("infiniband.cm.req.{prefix}_{s}");
    m.insert(f("locallid"), Want::Int(p.local_lid.into()));
    m.insert(f("remotelid"), Want::Int(p.remote_lid.into()));
    m.insert(f("localgid"), Want::Bytes(p.local_gid.0.to_vec()));
    m.insert(f("remotegid"), Want::Bytes(p.remote_gid.0.to_vec()));
    m.insert(f("localgid_ipv4"), ipv4_of(p.local_gid));
    m.insert(f("remotegid_ipv4"), ipv4_of(p.remote_gid));
    m.insert(f("flowlabel"), Want::Int(p.flow_label.into()));
    m.insert(f("pktrate"), Want::Int(p.packet_rate.code().into()));
    m.insert(f("tfcclass"), Want::Int(p.traffic_class.into()));
    m.insert(f("hoplim"), Want::Int(p.hop_limit.into()));
    m.insert(f("sl"), Want::Int(p.sl.into()));
    m.insert(f("subnetlocal"), Want::Int(p.subnet_local.into()));
    m.insert(f("localacktout"), Want::Int(p.local_ack_timeout.into()));
}

/// Every field tshark may show for this frame, by tshark field name.
fn expected(roce_repr: &RoceRepr, mad: &CmMad, frame: &[u8]) -> HashMap<String, Want> {
    let mut m = HashMap::new();
    let mut put = |k: &str, v: Want| {
        m.insert(k.to_owned(), v);
    };
    let bytes = mad.to_bytes();
    put("infiniband.bth.opcode", Want::Int(0x64));
    put("infiniband.bth.se", Want::Int(0));
    put("infiniband.bth.m", Want::Int(0));
    put("infiniband.bth.padcnt", Want::Int(0));
    put("infiniband.bth.tver", Want::Int(0));
    put("infiniband.bth.p_key", Want::Int(roce_repr.p_key.into()));
    put("infiniband.bth.destqp", Want::Int(1));
    put("infiniband.bth.a", Want::Int(0));
    put("infiniband.bth.psn", Want::Int(roce_repr.psn.get().into()));
    put("infiniband.deth.q_key", Want::Int(0x8001_0000));
    put("infiniband.deth.srcqp", Want::Int(1));
    let h = &mad.header;
    put("infiniband.mad.baseversion", Want::Int(1));
    put("infiniband.mad.mgmtclass", Want::Int(7));
    put("infiniband.mad.classversion", Want::Int(2));
    put("infiniband.mad.method", Want::Int(h.method.code().into()));
    put("infiniband.mad.status", Want::Int(h.status.into()));
    put(
        "infiniband.mad.classspecific",
        Want::Int(h.class_specific.into()),
    );
    put("infiniband.mad.transactionid", Want::Int(h.transaction_id));
    put(
        "infiniband.mad.attributeid",
        Want::Int(h.attribute_id.code().into()),
    );
    put(
        "infiniband.mad.attributemodifier",
        Want::Int(h.attribute_modifier.into()),
    );
    put("infiniband.mad.data", Want::Bytes(bytes[24..].to_vec()));
    put("infiniband.mad", Want::Bytes(bytes.to_vec()));
    let bth = roce_repr.ip.header_len() + 8;
    put("infiniband.bth", Want::Bytes(frame[bth..bth + 12].to_vec()));
    put(
        "infiniband.deth",
        Want::Bytes(frame[bth + 12..bth + 20].to_vec()),
    );
    put(
        "infiniband.smplid.smpdata",
        Want::Bytes(bytes[24..].to_vec()),
    );
    // tshark shows the four ICRC wire bytes read big-endian (§9, §11).
    let icrc = u32::from_be_bytes(frame[frame.len() - 4..].try_into().unwrap());
    put("infiniband.invariant.crc", Want::Int(icrc.into()));

    match &mad.message {
        CmMessage::Req(r) => {
            let f = |s: &str| format!("infiniband.cm.req.{s}");
            let sid = r.service_id.to_be_bytes();
            m.insert(
                "infiniband.cm.req".into(),
                Want::Int(r.local_comm_id.0.into()),
            );
            m.insert(f("serviceid"), Want::Int(r.service_id.0));
            m.insert(f("serviceid.prefix"), Want::Bytes(sid[..5].to_vec()));
            m.insert(f("serviceid.protocol"), Want::Int(sid[5].into()));
            m.insert(
                f("serviceid.dport"),
                Want::Int(u16::from_be_bytes([sid[6], sid[7]]).into()),
            );
            m.insert(f("localcaguid"), Want::Int(r.local_ca_guid));
            m.insert(f("localqkey"), Want::Int(r.local_qkey.into()));
            m.insert(f("localqpn"), Want::Int(r.local_qpn.get().into()));
            m.insert(f("responderres"), Want::Int(r.responder_resources.into()));
            m.insert(f("localeecn"), Want::Int(r.local_eecn.into()));
            m.insert(f("initdepth"), Want::Int(r.initiator_depth.into()));
            m.insert(f("remoteeecn"), Want::Int(r.remote_eecn.into()));
            m.insert(
                f("remoteresptout"),
                Want::Int(r.remote_cm_response_timeout.into()),
            );
            m.insert(
                f("transpsvctype"),
                Want::Int(r.transport_type.code().into()),
            );
            m.insert(
                f("e2eflowctrl"),
                Want::Int(r.end_to_end_flow_control.into()),
            );
            m.insert(f("startpsn"), Want::Int(r.starting_psn.get().into()));
            m.insert(
                f("localresptout"),
                Want::Int(r.local_cm_response_timeout.into()),
            );
            m.insert(f("retrcount"), Want::Int(r.retry_count.into()));
            m.insert(f("pkey"), Want::Int(r.partition_key.into()));
            m.insert(f("pppmtu"), Want::Int(r.path_mtu.code().into()));
            m.insert(f("rdcexist"), Want::Int(r.rdc_exists.into()));
            m.insert(f("rnrretrcount"), Want::Int(r.rnr_retry_count.into()));
            m.insert(f("maxcmretr"), Want::Int(r.max_cm_retries.into()));
            m.insert(f("srq"), Want::Int(r.srq.into()));
            m.insert(
                f("ext_transport"),
                Want::Int(r.extended_transport_type.code().into()),
            );
            path_fields(&mut m, "prim", &r.primary_path);
            path_fields(&mut m, "alt", &r.alternate_path);
            let pd = &r.private_data.0;
            m.insert(f("private"), Want::Bytes(pd.to_vec()));
            m.insert(f("ip_cm"), Want::Bytes(pd.to_vec()));
            m.insert(f("ip_cm.majv"), Want::Int((pd[0] >> 4).into()));
            m.insert(f("ip_cm.minv"), Want::Int((pd[0] & 0x0F).into()));
            m.insert(f("ip_cm.ipv"), Want::Int((pd[1] >> 4).into()));
            m.insert(
                f("ip_cm.sport"),
                Want::Int(u16::from_be_bytes([pd[2], pd[3]]).into()),
            );
            m.insert(
                f("ip_cm.sip4"),
                Want::Text(format!("{}.{}.{}.{}", pd[16], pd[17], pd[18], pd[19])),
            );
            m.insert(
                f("ip_cm.dip4"),
                Want::Text(format!("{}.{}.{}.{}", pd[32], pd[33], pd[34], pd[35])),
            );
            let v6 = |at: usize| {
                Want::Text(
                    std::net::Ipv6Addr::from(<[u8; 16]>::try_from(&pd[at..at + 16]).unwrap())
                        .to_string(),
                )
            };
            m.insert(f("ip_cm.sip6"), v6(4));
            m.insert(f("ip_cm.dip6"), v6(20));
            m.insert(f("ip_cm.private"), Want::Bytes(pd[36..].to_vec()));
        }
        CmMessage::Rep(r) => {
            let f = |s: &str| format!("infiniband.cm.rep.{s}");
            m.insert(
                "infiniband.cm.rep".into(),
                Want::Int(r.local_comm_id.0.into()),
            );
            m.insert(f("remotecommid"), Want::Int(r.remote_comm_id.0.into()));
            m.insert(f("localqkey"), Want::Int(r.local_qkey.into()));
            m.insert(f("localqpn"), Want::Int(r.local_qpn.get().into()));
            m.insert(f("localeecn"), Want::Int(r.local_eecn.into()));
            m.insert(f("startpsn"), Want::Int(r.starting_psn.get().into()));
            m.insert(f("respres"), Want::Int(r.responder_resources.into()));
            m.insert(f("initdepth"), Want::Int(r.initiator_depth.into()));
            m.insert(f("tgtackdelay"), Want::Int(r.target_ack_delay.into()));
            m.insert(
                f("failoveracc"),
                Want::Int(r.failover_accepted.code().into()),
            );
            m.insert(
                f("e2eflowctrl"),
                Want::Int(r.end_to_end_flow_control.into()),
            );
            m.insert(f("rnrretrcount"), Want::Int(r.rnr_retry_count.into()));
            m.insert(f("srq"), Want::Int(r.srq.into()));
            m.insert(f("localcaguid"), Want::Int(r.local_ca_guid));
            m.insert(f("private"), Want::Bytes(r.private_data.0.to_vec()));
        }
        CmMessage::Rtu(r) => {
            m.insert(
                "infiniband.cm.rtu.localcommid".into(),
                Want::Int(r.local_comm_id.0.into()),
            );
            m.insert(
                "infiniband.cm.rtu.remotecommid".into(),
                Want::Int(r.remote_comm_id.0.into()),
            );
            m.insert(
                "infiniband.cm.rtu.private".into(),
                Want::Bytes(r.private_data.0.to_vec()),
            );
        }
        CmMessage::Rej(r) => {
            let f = |s: &str| format!("infiniband.cm.rej.{s}");
            m.insert(f("localcommid"), Want::Int(r.local_comm_id.0.into()));
            m.insert(f("remotecommid"), Want::Int(r.remote_comm_id.0.into()));
            m.insert(f("msgrej"), Want::Int(r.message_rejected.code().into()));
            m.insert(f("rejinfolen"), Want::Int(r.reject_info_length.into()));
            m.insert(f("reason"), Want::Int(r.reason.code().into()));
            m.insert(f("ari"), Want::Bytes(r.ari.to_vec()));
            m.insert(f("private"), Want::Bytes(r.private_data.0.to_vec()));
        }
        CmMessage::Dreq(r) => {
            m.insert(
                "infiniband.cm.dreq.localcommid".into(),
                Want::Int(r.local_comm_id.0.into()),
            );
            m.insert(
                "infiniband.cm.dreq.remotecommid".into(),
                Want::Int(r.remote_comm_id.0.into()),
            );
            m.insert(
                "infiniband.cm.req.remoteqpneecn".into(),
                Want::Int(r.remote_qpn.get().into()),
            );
            m.insert(
                "infiniband.cm.dreq.private".into(),
                Want::Bytes(r.private_data.0.to_vec()),
            );
        }
        CmMessage::Drep(r) => {
            m.insert(
                "infiniband.cm.drsp.localcommid".into(),
                Want::Int(r.local_comm_id.0.into()),
            );
            m.insert(
                "infiniband.cm.drsp.remotecommid".into(),
                Want::Int(r.remote_comm_id.0.into()),
            );
            m.insert(
                "infiniband.cm.drsp.private".into(),
                Want::Bytes(r.private_data.0.to_vec()),
            );
        }
        _ => {}
    }
    m
}

/// Leaf `(name, value)` pairs of a tshark JSON layer, trees flattened.
fn leaves(v: &serde_json::Value, out: &mut Vec<(String, String)>) {
    if let Some(obj) = v.as_object() {
        for (k, v) in obj {
            match v {
                serde_json::Value::Object(_) => leaves(v, out),
                serde_json::Value::String(s) => out.push((k.clone(), s.clone())),
                serde_json::Value::Array(items) => {
                    for i in items {
                        if let Some(s) = i.as_str() {
                            out.push((k.clone(), s.to_owned()));
                        }
                    }
                }
                _ => {}
            }
        }
    }
}

/// REQs whose service ID and private data are rdma_cm's, so tshark also
/// decodes the IP CM header; half of the REQs get one.
fn rdma_cm_req() -> impl Strategy<Value = CmMessage> {
    (
        arb::req(),
        any::<u16>(),
        any::<u16>(),
        any::<[u8; 4]>(),
        any::<[u8; 4]>(),
        any::<bool>(),
    )
        .prop_map(|(mut r, port, sport, s, d, v6)| {
            r.service_id = IpServiceId {
                port_space: PortSpace::Tcp,
                port,
            }
            .service_id();
            let (src_addr, dst_addr) = if v6 {
                (
                    std::net::IpAddr::V6(Gid::from_ipv4_octets(s).to_ipv6()),
                    std::net::IpAddr::V6(std::net::Ipv6Addr::from([
                        0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, d[0], d[1], d[2], d[3],
                    ])),
                )
            } else {
                (s.into(), d.into())
            };
            let header = IpPrivateDataHeader {
                src_port: sport,
                src_addr,
                dst_addr,
            };
            let consumer = &r.private_data.0[36..];
            r.private_data = header.req_private_data(consumer).unwrap();
            CmMessage::Req(r)
        })
}

struct Run {
    frames: Vec<(RoceRepr, CmMad, Vec<u8>)>,
    dissected: Vec<serde_json::Value>,
}

fn dissect(tag: &str, messages: Vec<CmMad>) -> Run {
    let mut w = PcapWriter::new(Vec::new(), LinkType::Ethernet).unwrap();
    let mut frames = Vec::new();
    for (n, mad) in messages.into_iter().enumerate() {
        let repr = RoceRepr::new(
            IpFields::V4(Ipv4Fields {
                src: [10, 0, (n >> 8) as u8, n as u8].into(),
                dst: [10, 1, 0, 1].into(),
                dscp_ecn: 0,
                identification: 0,
                dont_fragment: true,
                ttl: 64,
            }),
            0xC000 | n as u16,
            Psn::new(n as u32 * 7919),
        );
        let mut ip = vec![0u8; repr.packet_len()];
        roce::encode(&repr, &mad, &mut ip).unwrap();
        w.write_ip_packet(Duration::from_secs(n as u64), [2; 6], [4; 6], &ip)
            .unwrap();
        frames.push((repr, mad, ip));
    }
    let dir = std::env::temp_dir().join(format!("ndcm-oracle-{}-{tag}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file: PathBuf = dir.join("frames.pcap");
    std::fs::write(&file, w.into_inner()).unwrap();
    let out = Command::new("tshark")
        .args([
            "-r",
            file.to_str().unwrap(),
            "-T",
            "json",
            "-J",
            "infiniband",
            "--no-duplicate-keys",
        ])
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let dissected: Vec<serde_json::Value> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["_source"]["layers"]["infiniband"].clone())
        .collect();
    assert_eq!(dissected.len(), frames.len());
    Run { frames, dissected }
}

fn random_mads() -> Vec<CmMad> {
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &[0x4e; 32]),
    );
    let strategies: Vec<BoxedStrategy<CmMessage>> = vec![
        arb::req().prop_map(CmMessage::Req).boxed(),
        rdma_cm_req().boxed(),
        arb::rep().prop_map(CmMessage::Rep).boxed(),
        arb::rtu().prop_map(CmMessage::Rtu).boxed(),
        arb::rej().prop_map(CmMessage::Rej).boxed(),
        arb::dreq().prop_map(CmMessage::Dreq).boxed(),
        arb::drep().prop_map(CmMessage::Drep).boxed(),
    ];
    let mut mads = Vec::new();
    for (i, s) in strategies.into_iter().enumerate() {
        // Plain and rdma_cm REQs share one type's budget.
        let count = if i < 2 {
            FRAMES_PER_TYPE / 2
        } else {
            FRAMES_PER_TYPE
        };
        let mad = arb::cm_mad_of(s);
        for _ in 0..count {
            mads.push(mad.new_tree(&mut runner).unwrap().current());
        }
    }
    mads
}

#[test]
fn tshark_agrees_with_every_field_it_decodes() {
    if !tshark_available() {
        return;
    }
    let run = dissect("random", random_mads());
    let mut compared = 0usize;
    let mut skipped_bug = 0usize;
    let mut per_field: BTreeMap<String, usize> = BTreeMap::new();
    let mut unmapped: BTreeSet<String> = BTreeSet::new();
    let mut mismatches = Vec::new();
    for (n, ((repr, mad, ip), layer)) in run.frames.iter().zip(&run.dissected).enumerate() {
        assert!(
            layer.get("_ws.malformed").is_none(),
            "frame {} malformed in tshark",
            n + 1
        );
        let want = expected(repr, mad, ip);
        let mut leaf = Vec::new();
        leaves(layer, &mut leaf);
        for (name, got) in leaf {
            if DISSECTOR_BUG_FIELDS.contains(&name.as_str()) {
                skipped_bug += 1;
                continue;
            }
            match want.get(&name) {
                Some(w) => {
                    compared += 1;
                    *per_field.entry(name.clone()).or_default() += 1;
                    if !matches(w, &got) {
                        mismatches.push(format!(
                            "frame {} {}: {name}: tshark {got}, repr {w:?}",
                            n + 1,
                            mad.header.attribute_id.name()
                        ));
                    }
                }
                None => {
                    unmapped.insert(name);
                }
            }
        }
    }
    println!(
        "wireshark oracle: {} frames, {compared} field values compared ({} distinct fields), \
         {skipped_bug} skipped for the documented REQ flow-label/packet-rate dissector bug",
        run.frames.len(),
        per_field.len()
    );
    println!("not compared (reserved, raw containers, trees): {unmapped:?}");
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
    // Every field spec/WIRE.md §11 lists was actually compared.
    let required = [
        "infiniband.bth.opcode",
        "infiniband.bth.p_key",
        "infiniband.bth.destqp",
        "infiniband.bth.psn",
        "infiniband.deth.q_key",
        "infiniband.deth.srcqp",
        "infiniband.invariant.crc",
        "infiniband.mad.baseversion",
        "infiniband.mad.mgmtclass",
        "infiniband.mad.classversion",
        "infiniband.mad.method",
        "infiniband.mad.status",
        "infiniband.mad.transactionid",
        "infiniband.mad.attributeid",
        "infiniband.mad.attributemodifier",
        "infiniband.mad.data",
        "infiniband.cm.req",
        "infiniband.cm.req.serviceid",
        "infiniband.cm.req.localcaguid",
        "infiniband.cm.req.localqkey",
        "infiniband.cm.req.localqpn",
        "infiniband.cm.req.responderres",
        "infiniband.cm.req.initdepth",
        "infiniband.cm.req.remoteresptout",
        "infiniband.cm.req.transpsvctype",
        "infiniband.cm.req.e2eflowctrl",
        "infiniband.cm.req.startpsn",
        "infiniband.cm.req.localresptout",
        "infiniband.cm.req.retrcount",
        "infiniband.cm.req.pkey",
        "infiniband.cm.req.pppmtu",
        "infiniband.cm.req.rnrretrcount",
        "infiniband.cm.req.maxcmretr",
        "infiniband.cm.req.srq",
        "infiniband.cm.req.prim_localgid_ipv4",
        "infiniband.cm.req.prim_remotegid_ipv4",
        "infiniband.cm.req.prim_tfcclass",
        "infiniband.cm.req.prim_hoplim",
        "infiniband.cm.req.prim_sl",
        "infiniband.cm.req.prim_subnetlocal",
        "infiniband.cm.req.prim_localacktout",
        "infiniband.cm.req.ip_cm.majv",
        "infiniband.cm.req.ip_cm.minv",
        "infiniband.cm.req.ip_cm.ipv",
        "infiniband.cm.req.ip_cm.sport",
        "infiniband.cm.req.ip_cm.sip4",
        "infiniband.cm.req.ip_cm.dip4",
        "infiniband.cm.req.ip_cm.sip6",
        "infiniband.cm.req.ip_cm.dip6",
        "infiniband.cm.req.ip_cm.private",
        "infiniband.cm.rep",
        "infiniband.cm.rep.remotecommid",
        "infiniband.cm.rep.localqpn",
        "infiniband.cm.rep.startpsn",
        "infiniband.cm.rep.respres",
        "infiniband.cm.rep.initdepth",
        "infiniband.cm.rep.tgtackdelay",
        "infiniband.cm.rep.failoveracc",
        "infiniband.cm.rep.rnrretrcount",
        "infiniband.cm.rep.srq",
        "infiniband.cm.rep.localcaguid",
        "infiniband.cm.rep.private",
        "infiniband.cm.rtu.localcommid",
        "infiniband.cm.rtu.remotecommid",
        "infiniband.cm.rtu.private",
        "infiniband.cm.rej.localcommid",
        "infiniband.cm.rej.remotecommid",
        "infiniband.cm.rej.msgrej",
        "infiniband.cm.rej.rejinfolen",
        "infiniband.cm.rej.reason",
        "infiniband.cm.rej.ari",
        "infiniband.cm.rej.private",
        "infiniband.cm.dreq.localcommid",
        "infiniband.cm.dreq.remotecommid",
        "infiniband.cm.req.remoteqpneecn",
        "infiniband.cm.dreq.private",
        "infiniband.cm.drsp.localcommid",
        "infiniband.cm.drsp.remotecommid",
        "infiniband.cm.drsp.private",
    ];
    let missing: Vec<&str> = required
        .iter()
        .copied()
        .filter(|f| !per_field.contains_key(*f))
        .collect();
    assert!(missing.is_empty(), "fields never compared: {missing:?}");
}

#[test]
fn dissector_bug_fields_disagree_as_documented() {
    if !tshark_available() {
        return;
    }
    // A REQ with distinct flow labels and rates: tshark shows each flow label
    // shifted right by 8 (a 3-byte item under a 32-bit mask) and the rate
    // from the low six bits of the first flow-label byte (§11).
    let mut runner = TestRunner::deterministic();
    let mut mad = arb::cm_mad_of(arb::req().prop_map(CmMessage::Req))
        .new_tree(&mut runner)
        .unwrap()
        .current();
    let CmMessage::Req(r) = &mut mad.message else {
        unreachable!()
    };
    r.primary_path.flow_label = 0xABCDE;
    r.primary_path.packet_rate = ndcm_wire::Rate::Gbps100;
    r.alternate_path.flow_label = 0x13579;
    r.alternate_path.packet_rate = ndcm_wire::Rate::Gbps25;
    let run = dissect("bug", vec![mad]);
    let mut leaf = Vec::new();
    leaves(&run.dissected[0], &mut leaf);
    let get = |k: &str| {
        leaf.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| parse_int(v).unwrap())
    };
    assert_eq!(get("infiniband.cm.req.prim_flowlabel"), Some(0xABCDE >> 8));
    assert_eq!(
        get("infiniband.cm.req.prim_pktrate"),
        Some(u64::from((0xABCDEu32 >> 12) as u8 & 0x3F))
    );
    assert_eq!(get("infiniband.cm.req.alt_flowlabel"), Some(0x13579 >> 8));
    assert_eq!(
        get("infiniband.cm.req.alt_pktrate"),
        Some(u64::from((0x13579u32 >> 12) as u8 & 0x3F))
    );
}
