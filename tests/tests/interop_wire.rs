//! Interop with the Linux kernel CM at the wire level (issue 7, first check): the guest's
//! `ucmatose` sends a REQ through the frame tunnel; ndcm's tunnel verifies it whole and this
//! test answers with a REJ built with ndcm-wire, carrying consumer private data; the guest
//! must report the rejection with reason 28. Every frame is captured and dissected by tshark.
//!
//! Skipped (with a printed reason) unless the guest image is built or NDCM_INTEROP=1.

#[path = "../interop/harness.rs"]
mod harness;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use harness::{GUEST_IP, Guest, NDCM_IP, Step};
use ndcm_host::tunnel::DropReason;
use ndcm_wire::ip::{IpPrivateDataHeader, IpServiceId};
use ndcm_wire::{CmMad, CmMessage, CommId, PrivateData, RejMessage, RejReason, RejRepr};

const PRIVATE: &[u8] = b"ndcm: no thanks";

#[test]
fn linux_req_is_verified_and_answered_with_a_wire_built_rej() {
    if let Err(reason) = harness::prepare() {
        return harness::skip(&reason);
    }
    let dir = harness::run_dir("wire-reject");
    let (tunnel, qemu_port) = harness::tunnel(&dir);
    let steps = [Step {
        name: "reject",
        kind: "run",
        seconds: 60,
        command: "ucmatose -s $NDCM_PEER -C 0",
    }];
    let mut guest = Guest::boot(&dir, &tunnel, qemu_port, &steps);

    // Answer every REQ with a REJ (consumer defined, with private data) until the step ends.
    let mut reqs = Vec::new();
    let end = Instant::now() + Duration::from_secs(120);
    let result = loop {
        if let Some(m) = tunnel.recv_timeout(Duration::from_millis(100)) {
            let mad = CmMad::parse(&m.mad).expect("a CM MAD the tunnel verified");
            if let CmMessage::Req(req) = mad.message {
                let mut private_data = PrivateData::zeroed();
                private_data.as_mut_bytes()[..PRIVATE.len()].copy_from_slice(PRIVATE);
                let rej = RejRepr {
                    local_comm_id: CommId(0),
                    remote_comm_id: req.local_comm_id,
                    message_rejected: RejMessage::Req,
                    reject_info_length: 0,
                    reason: RejReason::ConsumerDefined,
                    ari: [0; 72],
                    private_data,
                };
                let reply = CmMad::new(mad.header.transaction_id, CmMessage::Rej(rej));
                tunnel
                    .send_to_gid(&reply.to_bytes(), m.source_gid)
                    .expect("send REJ");
                reqs.push((m, req));
            }
        }
        if let Some(r) = guest.done("reject", Duration::ZERO) {
            break r;
        }
        assert!(Instant::now() < end, "the guest step never finished");
    };
    let guest_out = guest.finish(Duration::from_secs(30));
    tunnel.flush_tap().unwrap();
    let stats = tunnel.stats();
    println!(
        "guest:\n{guest_out}\nstep output:\n{}\ntunnel: {stats}",
        result.output
    );

    // What Linux printed.
    assert!(
        result.output.contains("RDMA_CM_EVENT_REJECTED, error: 28"),
        "ucmatose must report the REJ with reason 28:\n{}",
        result.output
    );
    // What ndcm received: the kernel's REQ, verified whole, with rdma_cm addressing.
    let (m, req) = reqs.first().expect("the guest's REQ reached ndcm");
    assert_eq!(m.source_ip, GUEST_IP);
    assert_eq!(m.source_qpn, 1);
    assert_eq!(
        IpServiceId::from_service_id(req.service_id),
        Some(IpServiceId::tcp(7471)),
        "ucmatose's default port in the RDMA_PS_TCP space"
    );
    assert_eq!(req.primary_path.local_gid.to_ipv4(), Some(GUEST_IP));
    assert_eq!(req.primary_path.remote_gid.to_ipv4(), Some(NDCM_IP));
    let hdr = IpPrivateDataHeader::parse(req.private_data.as_bytes()).expect("rdma_cm header");
    assert_eq!(hdr.src_addr, IpAddr::V4(GUEST_IP));
    assert_eq!(hdr.dst_addr, IpAddr::V4(NDCM_IP));
    // Nothing the guest sent on QP1 failed verification.
    for r in [
        DropReason::BadIcrc,
        DropReason::MalformedRoce,
        DropReason::NotQp1,
        DropReason::BadIpv4Checksum,
    ] {
        assert_eq!(stats.dropped(r), 0, "{r}: {stats}");
    }
    assert!(
        stats.arp_replies_sent >= 1,
        "the guest resolved ndcm by ARP: {stats}"
    );

    // tshark: every frame dissects; the REQ and REJ are there with the private data.
    match harness::tshark(&dir.join("tunnel.pcap")) {
        None => eprintln!("tshark not installed: capture not dissected"),
        Some(report) => {
            println!(
                "tshark: {} frames, {} malformed\n{}",
                report.frames,
                report.malformed,
                report.cm_lines.join("\n")
            );
            assert_eq!(report.malformed, 0, "malformed frames in {}", dir.display());
            assert!(
                report.cm_lines.iter().any(|l| l.contains("ConnectRequest")),
                "{report:?}"
            );
            assert!(
                report.cm_lines.iter().any(|l| l.contains("ConnectReject")),
                "{report:?}"
            );
        }
    }
}
