//! The shipped capture `fixtures/cm-handshake.pcap`: it is exactly what the
//! generator below writes (so it is reproducible), it decodes to the
//! expected messages, and `ndcm decode` prints all of them — text and JSON —
//! and reports malformed frames without stopping.
//!
//! Regenerate with `NDCM_WRITE_FIXTURES=1 cargo test -p ndcm --test decode_fixture`.

use std::io::Cursor;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use ndcm_wire::cm::*;
use ndcm_wire::ip::{IpPrivateDataHeader, IpServiceId};
use ndcm_wire::mad::{MadHeader, Method};
use ndcm_wire::pcap::{LinkType, PcapReader, PcapWriter};
use ndcm_wire::roce::{self, IpFields, Ipv4Fields, RoceRepr};
use ndcm_wire::*;

const CLIENT: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const SERVER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const CLIENT_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
const SERVER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];
const CLIENT_GUID: u64 = 0x0002_C903_0000_0001;
const SERVER_GUID: u64 = 0x0002_C903_0000_0002;

fn fixture_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/cm-handshake.pcap")
}

fn path_record() -> PathRecord {
    PathRecord {
        local_lid: 0xFFFF,
        remote_lid: 0xFFFF,
        local_gid: Gid::from_ipv4(CLIENT),
        remote_gid: Gid::from_ipv4(SERVER),
        flow_label: 0,
        packet_rate: Rate::Gbps100,
        traffic_class: 0,
        hop_limit: 64,
        sl: 0,
        subnet_local: false,
        local_ack_timeout: 14,
    }
}

fn req(local: u32, port: u16, sport: u16) -> ReqRepr {
    let header = IpPrivateDataHeader {
        src_port: sport,
        src_addr: CLIENT.into(),
        dst_addr: SERVER.into(),
    };
    ReqRepr {
        local_comm_id: CommId(local),
        ece_vendor_id: 0,
        service_id: IpServiceId::tcp(port).service_id(),
        local_ca_guid: CLIENT_GUID,
        local_qkey: 0,
        local_qpn: Qpn::new(0x000101),
        responder_resources: 4,
        local_eecn: 0,
        initiator_depth: 4,
        remote_eecn: 0,
        remote_cm_response_timeout: 20,
        transport_type: TransportType::Rc,
        end_to_end_flow_control: true,
        starting_psn: Psn::new(0x00A0_0001),
        local_cm_response_timeout: 20,
        retry_count: 7,
        partition_key: 0xFFFF,
        path_mtu: Mtu::Mtu1024,
        rdc_exists: false,
        rnr_retry_count: 7,
        max_cm_retries: 15,
        srq: false,
        extended_transport_type: ExtendedTransportType::None,
        primary_path: path_record(),
        alternate_path: PathRecord::default(),
        sap_supported: false,
        private_data: header.req_private_data(b"hello from ndcm").unwrap(),
    }
}

/// The capture: (from client?, MAD), in order.
pub fn handshake() -> Vec<(bool, CmMad)> {
    let c1 = 0x0000_0001;
    let s1 = 0x0100_0001;
    let tid1 = 0x0000_0001_0000_0001;
    let mut alt = path_record();
    alt.local_gid = Gid::from_ipv4(Ipv4Addr::new(10, 0, 1, 1));
    alt.remote_gid = Gid::from_ipv4(Ipv4Addr::new(10, 0, 1, 2));
    alt.flow_label = 0x12345;
    let mut cpi_get = MadHeader::new(
        ndcm_wire::mad::AttributeId::ClassPortInfo,
        0x0000_0001_0000_0010,
    );
    cpi_get.method = Method::Get;
    vec![
        (
            true,
            CmMad::new(tid1, CmMessage::Req(req(c1, 7471, 0xC350))),
        ),
        (
            false,
            CmMad::new(
                tid1,
                CmMessage::Mra(MraRepr {
                    local_comm_id: CommId(s1),
                    remote_comm_id: CommId(c1),
                    message_mraed: MraMessage::Req,
                    service_timeout: 18,
                    private_data: PrivateData::zeroed(),
                }),
            ),
        ),
        (
            false,
            CmMad::new(
                tid1,
                CmMessage::Rep(RepRepr {
                    local_comm_id: CommId(s1),
                    remote_comm_id: CommId(c1),
                    local_qkey: 0,
                    local_qpn: Qpn::new(0x000202),
                    ece_vendor_id: 0,
                    local_eecn: 0,
                    starting_psn: Psn::new(0x00B0_0001),
                    responder_resources: 4,
                    initiator_depth: 4,
                    target_ack_delay: 15,
                    failover_accepted: FailoverAccepted::Accepted,
                    end_to_end_flow_control: true,
                    rnr_retry_count: 7,
                    srq: false,
                    local_ca_guid: SERVER_GUID,
                    private_data: PrivateData::from_slice(b"welcome").unwrap(),
                }),
            ),
        ),
        (
            true,
            CmMad::new(
                tid1,
                CmMessage::Rtu(RtuRepr {
                    local_comm_id: CommId(c1),
                    remote_comm_id: CommId(s1),
                    private_data: PrivateData::zeroed(),
                }),
            ),
        ),
        (
            true,
            CmMad::new(
                0x0000_0001_0000_0002,
                CmMessage::Lap(LapRepr {
                    local_comm_id: CommId(c1),
                    remote_comm_id: CommId(s1),
                    remote_qpn: Qpn::new(0x000202),
                    remote_cm_response_timeout: 20,
                    alternate_path: alt,
                    private_data: PrivateData::zeroed(),
                }),
            ),
        ),
        (
            false,
            CmMad::new(
                0x0000_0001_0000_0002,
                CmMessage::Apr(AprRepr {
                    local_comm_id: CommId(s1),
                    remote_comm_id: CommId(c1),
                    additional_info_length: 0,
                    ap_status: AprStatus::Success,
                    additional_info: [0; 72],
                    private_data: PrivateData::zeroed(),
                }),
            ),
        ),
        (
            true,
            CmMad::new(
                0x0000_0001_0000_0003,
                CmMessage::Dreq(DreqRepr {
                    local_comm_id: CommId(c1),
                    remote_comm_id: CommId(s1),
                    remote_qpn: Qpn::new(0x000202),
                    private_data: PrivateData::zeroed(),
                }),
            ),
        ),
        (
            false,
            CmMad::new(
                0x0000_0001_0000_0003,
                CmMessage::Drep(DrepRepr {
                    local_comm_id: CommId(s1),
                    remote_comm_id: CommId(c1),
                    private_data: PrivateData::zeroed(),
                }),
            ),
        ),
        (
            true,
            CmMad::new(
                0x0000_0001_0000_0004,
                CmMessage::Req(req(0x0000_0002, 7472, 0xC351)),
            ),
        ),
        (
            false,
            CmMad::new(
                0x0000_0001_0000_0004,
                CmMessage::Rej(RejRepr {
                    local_comm_id: CommId(0),
                    remote_comm_id: CommId(0x0000_0002),
                    message_rejected: RejMessage::Req,
                    reject_info_length: 0,
                    reason: RejReason::InvalidServiceId,
                    ari: [0; 72],
                    private_data: PrivateData::zeroed(),
                }),
            ),
        ),
        (
            true,
            CmMad::new(
                0x0000_0001_0000_0005,
                CmMessage::SidrReq(SidrReqRepr {
                    request_id: 0x0000_0003,
                    partition_key: 0xFFFF,
                    service_id: IpServiceId {
                        port_space: ndcm_wire::ip::PortSpace::Udp,
                        port: 7471,
                    }
                    .service_id(),
                    private_data: PrivateData::zeroed(),
                }),
            ),
        ),
        (
            false,
            CmMad::new(
                0x0000_0001_0000_0005,
                CmMessage::SidrRep(SidrRepRepr {
                    request_id: 0x0000_0003,
                    status: SidrStatus::Success,
                    additional_info_length: 0,
                    ece_vendor_id: 0,
                    qpn: Qpn::new(0x000303),
                    service_id: IpServiceId {
                        port_space: ndcm_wire::ip::PortSpace::Udp,
                        port: 7471,
                    }
                    .service_id(),
                    qkey: 0x0000_1234,
                    additional_info: [0; 72],
                    private_data: PrivateData::zeroed(),
                }),
            ),
        ),
        (
            true,
            CmMad {
                header: cpi_get,
                message: CmMessage::ClassPortInfo(ClassPortInfoRepr::default()),
            },
        ),
        (
            false,
            CmMad::new(
                0x0000_0001_0000_0010,
                CmMessage::ClassPortInfo(ClassPortInfoRepr {
                    base_version: 1,
                    class_version: 2,
                    resp_time_value: 18,
                    ..ClassPortInfoRepr::default()
                }),
            ),
        ),
    ]
}

fn roce_repr(from_client: bool, n: usize) -> RoceRepr {
    let (src, dst) = if from_client {
        (CLIENT, SERVER)
    } else {
        (SERVER, CLIENT)
    };
    RoceRepr::new(
        IpFields::V4(Ipv4Fields {
            src,
            dst,
            dscp_ecn: 0,
            identification: 0,
            dont_fragment: true,
            ttl: 64,
        }),
        0xC000 | n as u16,
        Psn::new(n as u32),
    )
}

/// The pcap bytes of the capture (Ethernet link type).
pub fn capture_bytes() -> Vec<u8> {
    let mut w = PcapWriter::new(Vec::new(), LinkType::Ethernet).unwrap();
    for (n, (from_client, mad)) in handshake().into_iter().enumerate() {
        let repr = roce_repr(from_client, n);
        let mut ip = vec![0u8; repr.packet_len()];
        roce::encode(&repr, &mad, &mut ip).unwrap();
        let (dmac, smac) = if from_client {
            (SERVER_MAC, CLIENT_MAC)
        } else {
            (CLIENT_MAC, SERVER_MAC)
        };
        let ts = Duration::new(1_764_000_000, 0) + Duration::from_millis(n as u64);
        w.write_ip_packet(ts, dmac, smac, &ip).unwrap();
    }
    w.into_inner()
}

#[test]
fn committed_fixture_is_what_the_generator_writes() {
    let bytes = capture_bytes();
    if std::env::var_os("NDCM_WRITE_FIXTURES").is_some() {
        std::fs::write(fixture_path(), &bytes).unwrap();
    }
    let committed = std::fs::read(fixture_path()).expect("fixtures/cm-handshake.pcap is shipped");
    assert!(
        committed == bytes,
        "fixture differs from the generator; regenerate it"
    );
}

#[test]
fn committed_fixture_decodes_to_the_expected_messages() {
    let committed = std::fs::read(fixture_path()).unwrap();
    let reader = PcapReader::new(Cursor::new(committed)).unwrap();
    let link = reader.link_type();
    let mut decoded = Vec::new();
    for rec in reader {
        let rec = rec.unwrap();
        let (repr, mad) = roce::decode(link.ip_payload(&rec.data).unwrap()).unwrap();
        decoded.push((repr.ip, mad));
    }
    let expected = handshake();
    assert_eq!(decoded.len(), expected.len());
    for (n, ((ip, mad), (from_client, want))) in decoded.iter().zip(&expected).enumerate() {
        assert_eq!(mad, want, "frame {}", n + 1);
        assert_eq!(*ip, roce_repr(*from_client, n).ip);
    }
    // Every attribute is in the capture.
    for id in ndcm_wire::mad::AttributeId::ALL {
        assert!(
            decoded.iter().any(|(_, m)| m.header.attribute_id == id),
            "{id:?} missing"
        );
    }
}

fn ndcm(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ndcm"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn ndcm_decode_prints_every_frame_of_the_fixture() {
    let path = fixture_path();
    let (ok, out, err) = ndcm(&["decode", path.to_str().unwrap()]);
    assert!(ok, "{err}");
    let headers: Vec<&str> = out.lines().filter(|l| l.starts_with("frame ")).collect();
    let names = [
        "REQ",
        "MRA",
        "REP",
        "RTU",
        "LAP",
        "APR",
        "DREQ",
        "DREP",
        "REQ",
        "REJ",
        "SIDR_REQ",
        "SIDR_REP",
        "ClassPortInfo",
        "ClassPortInfo",
    ];
    assert_eq!(headers.len(), names.len());
    for (h, name) in headers.iter().zip(names) {
        assert!(h.contains(&format!(" {name} tid ")), "{h}");
        assert!(h.ends_with("ICRC ok"), "{h}");
    }
    assert!(out.contains("reason: 8 (invalid service ID)"));
    assert!(out.contains("primary_local_gid: ::ffff:10.0.0.1"));
    assert!(out.contains("rdma_cm: port space TCP port 7471, 10.0.0.1:50000 -> 10.0.0.2"));
}

#[test]
fn ndcm_decode_json_has_one_object_per_frame_with_every_field() {
    let path = fixture_path();
    let (ok, out, err) = ndcm(&["decode", "--json", path.to_str().unwrap()]);
    assert!(ok, "{err}");
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let expected = handshake();
    assert_eq!(lines.len(), expected.len());
    for (n, (v, (_, mad))) in lines.iter().zip(&expected).enumerate() {
        assert_eq!(v["frame"], n + 1);
        assert_eq!(v["attribute"], mad.header.attribute_id.name());
        assert_eq!(v["tid"], mad.header.transaction_id);
        assert_eq!(v["icrc_ok"], true);
    }
    let req = &lines[0];
    assert_eq!(req["local_comm_id"], 1);
    assert_eq!(req["service_id"], 0x0106_1D2Fu64);
    assert_eq!(req["local_qpn"], 0x101);
    assert_eq!(req["path_mtu"], 3);
    assert_eq!(req["primary_packet_rate"], 16);
    assert_eq!(req["primary_remote_gid"], "::ffff:10.0.0.2");
    assert_eq!(req["rdma_cm_port"], 7471);
    assert_eq!(req["rdma_cm_src_ip"], "10.0.0.1");
    let pd = req["private_data"].as_str().unwrap();
    assert_eq!(pd.len(), 92 * 2);
    assert!(
        pd.starts_with("00400000c350") || pd.starts_with("0040c350"),
        "{pd}"
    );
    // Field count of a REQ: 4 header + 47 message fields + common keys.
    let keys = req.as_object().unwrap().len();
    assert!(keys >= 4 + 47 + 6, "{keys}");
    assert_eq!(lines[9]["reason"], 8);
    assert_eq!(lines[11]["qkey"], 0x1234);
    assert_eq!(lines[4]["alternate_flow_label"], 0x12345);
}

#[test]
fn ndcm_decode_reports_malformed_frames_and_goes_on() {
    let mut frames = Vec::new();
    let good = handshake();
    for (n, (from_client, mad)) in good.iter().take(3).enumerate() {
        let repr = roce_repr(*from_client, n);
        let mut ip = vec![0u8; repr.packet_len()];
        roce::encode(&repr, mad, &mut ip).unwrap();
        frames.push(ip);
    }
    frames[1][200] ^= 0xFF; // ICRC now wrong, still decodable
    let mut short = frames[2].clone();
    short.truncate(100);
    frames.insert(2, short);
    let mut bad_class = frames[0].clone();
    bad_class[20 + 8 + 20 + 1] = 0x04; // MgmtClass
    let crc = roce::icrc(&bad_class).unwrap();
    let n = bad_class.len();
    bad_class[n - 4..].copy_from_slice(&crc.to_le_bytes());
    frames.push(bad_class);
    let mut w = PcapWriter::new(Vec::new(), LinkType::RawIp).unwrap();
    for f in &frames {
        w.write_record(Duration::ZERO, f).unwrap();
    }
    let dir = std::env::temp_dir().join(format!("ndcm-decode-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("malformed.pcap");
    std::fs::write(&file, w.into_inner()).unwrap();

    let (ok, out, err) = ndcm(&["decode", "--json", file.to_str().unwrap()]);
    assert!(ok, "{err}");
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 5);
    assert_eq!(lines[0]["icrc_ok"], true);
    assert_eq!(lines[1]["icrc_ok"], false);
    assert_eq!(lines[1]["attribute"], "MRA");
    assert_eq!(lines[2]["frame"], 3);
    assert!(lines[2]["error"].as_str().unwrap().contains("truncated"));
    assert_eq!(lines[3]["attribute"], "REP");
    assert_eq!(lines[4]["frame"], 5);
    assert!(
        lines[4]["error"]
            .as_str()
            .unwrap()
            .contains("management class")
    );

    let (ok, out, _) = ndcm(&["decode", file.to_str().unwrap()]);
    assert!(ok);
    assert!(out.contains("frame 3: malformed: truncated"));
    assert!(out.contains("ICRC BAD"));
    std::fs::remove_dir_all(&dir).unwrap();

    // An unreadable file is an error with a message.
    let (ok, _, err) = ndcm(&["decode", "/nonexistent/x.pcap"]);
    assert!(!ok);
    assert!(err.contains("ndcm decode"));
}
