//! The MAD agent loop (ndcm-provider `mad_agent`) on MAD-port host devices,
//! with an in-memory transport double so every MAD and its address can be
//! inspected: what the agent pends, how it addresses what it sends and
//! submits, what it drops and why, and that shutdown and a closed file
//! leave nothing behind.

use ndcm::agent::acceptor::adapter_info;
use ndcm::agent::host_port::{MadPortDevice, mad_port_device, open_agent};
use ndcm::agent::tunnel::TunnelTransport;
use ndcm_host::clock::Clock;
use ndcm_host::tunnel::{FrameTunnel, TunnelConfig};
use ndcm_host::{HostPlatform, Verifier};
use ndcm_ndi::abi::{NdcmMadAddress, NdcmMadEnvelope, NtStatus};
use ndcm_provider::host::HostDevice;
use ndcm_provider::mad_agent::AdapterDeclaration;
use ndcm_provider::mad_agent::{
    AgentConfig, AgentDrop, AgentError, GSI_QKEY, InboundMad, MadAgent, MadTransport, SendFailure,
};
use ndcm_provider::{Adapter, Device, NdError, QpConfig, ReadLimits};
use ndcm_wire::mad::AttributeId;
use ndcm_wire::{CmMad, Gid};
use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const IP_A: Ipv4Addr = Ipv4Addr::new(10, 78, 0, 1);
const IP_B: Ipv4Addr = Ipv4Addr::new(10, 78, 0, 2);

/// A transport double: records what the agent sends, hands it what the
/// test queues.
#[derive(Default)]
struct Wire {
    sent: Mutex<Vec<NdcmMadEnvelope>>,
    inbound: Mutex<VecDeque<InboundMad>>,
}

#[derive(Clone, Default)]
struct Mem(Arc<Wire>);

impl MadTransport for Mem {
    fn send(&self, envelope: &NdcmMadEnvelope) -> Result<(), SendFailure> {
        self.0.sent.lock().expect("lock").push(*envelope);
        Ok(())
    }
    fn recv_timeout(&self, _timeout: Duration) -> Option<InboundMad> {
        self.0.inbound.lock().expect("lock").pop_front()
    }
}

impl Mem {
    fn take_sent(&self) -> Vec<NdcmMadEnvelope> {
        std::mem::take(&mut *self.0.sent.lock().expect("lock"))
    }
    fn push(&self, mad: InboundMad) {
        self.0.inbound.lock().expect("lock").push_back(mad);
    }
}

fn device(verifier: &Arc<Verifier>, ip: Ipv4Addr) -> Arc<MadPortDevice> {
    let platform = HostPlatform::new(Arc::clone(verifier), Arc::new(Clock::new_real()));
    mad_port_device(platform, vec![adapter_info(ip)], 1)
}

/// The adapter an agent of `ip` registers.
fn declare(ip: Ipv4Addr) -> AdapterDeclaration {
    AdapterDeclaration::soft_roce(vec![ip.into()], 1)
}

fn config(outstanding: usize) -> AgentConfig {
    AgentConfig {
        outstanding,
        receive_wait: Duration::ZERO,
        ..AgentConfig::default()
    }
}

fn attribute(envelope: &NdcmMadEnvelope) -> AttributeId {
    CmMad::parse(&envelope.mad)
        .expect("the CM sends valid MADs")
        .message
        .attribute_id()
}

/// What B's wire carries, as A's transport receives it.
fn arrive_from(envelope: &NdcmMadEnvelope, from: Ipv4Addr) -> InboundMad {
    InboundMad {
        mad: envelope.mad,
        gid: Gid::from_ipv4(from).0,
        qpn: envelope.address.qpn,
        pkey_index: envelope.address.pkey_index,
    }
}

#[test]
fn agent_pends_k_requests_and_shutdown_cancels_each_once() {
    let verifier = Arc::new(Verifier::default());
    let dev = device(&verifier, IP_A);
    let file = open_agent(&dev, &[declare(IP_A)]).expect("register");
    let mut agent = MadAgent::new(Arc::clone(&file), Mem::default(), config(5));
    assert_eq!(agent.turn().expect("turn"), 0);
    assert_eq!(agent.pended(), 5);
    assert_eq!(
        dev.leaks().requests,
        5,
        "five MAD_GET_OUTBOUND pended in the driver"
    );
    // Further turns do not pile up requests.
    let _ = agent.turn().expect("turn");
    assert_eq!(dev.leaks().requests, 5);
    let stats = agent.shutdown();
    assert_eq!(stats.gets_issued, 5);
    assert_eq!(stats.cancelled, 5);
    assert_eq!(stats.outbound, 0);
    assert_eq!(dev.leaks().requests, 0);
    file.close();
    dev.assert_clean();
    verifier.assert_clean();
}

#[test]
fn dropping_an_agent_without_shutdown_leaves_no_request() {
    let verifier = Arc::new(Verifier::default());
    let dev = device(&verifier, IP_A);
    let file = open_agent(&dev, &[declare(IP_A)]).expect("register");
    {
        let mut agent = MadAgent::new(Arc::clone(&file), Mem::default(), config(3));
        let _ = agent.turn().expect("turn");
        assert_eq!(dev.leaks().requests, 3);
    }
    assert_eq!(dev.leaks().requests, 0);
    file.close();
    dev.assert_clean();
}

#[test]
fn agent_on_a_closed_file_stops_instead_of_spinning() {
    let verifier = Arc::new(Verifier::default());
    let dev = device(&verifier, IP_A);
    let file = open_agent(&dev, &[declare(IP_A)]).expect("register");
    file.close();
    let mut agent = MadAgent::new(Arc::clone(&file), Mem::default(), config(2));
    assert_eq!(
        agent.turn(),
        Err(AgentError::GetRefused(NtStatus::INVALID_HANDLE))
    );
    assert_eq!(agent.stats().gets_issued, 1);
    drop(agent);
    dev.assert_clean();
}

#[test]
fn closing_the_agent_file_completes_its_pended_requests_cancelled() {
    let verifier = Arc::new(Verifier::default());
    let dev = device(&verifier, IP_A);
    let file = open_agent(&dev, &[declare(IP_A)]).expect("register");
    let mut agent = MadAgent::new(Arc::clone(&file), Mem::default(), config(4));
    let _ = agent.turn().expect("turn");
    // What ending the agent process does on Windows: CloseHandle.
    dev.close(file.handle());
    assert_eq!(
        dev.leaks().requests,
        0,
        "the driver completed them at close"
    );
    let stats = agent.shutdown();
    assert_eq!(stats.cancelled, 4);
    dev.assert_clean();
    verifier.assert_clean();
}

#[test]
fn non_cm_mad_is_refused_by_the_driver_and_counted() {
    let verifier = Arc::new(Verifier::default());
    let dev = device(&verifier, IP_A);
    let file = open_agent(&dev, &[declare(IP_A)]).expect("register");
    let wire = Mem::default();
    let mut agent = MadAgent::new(Arc::clone(&file), wire.clone(), config(1));
    let mut mad = [0u8; 256];
    mad[0] = 1; // base version
    mad[1] = 0x01; // subnet management class: not the CM's
    wire.push(InboundMad {
        mad,
        gid: Gid::from_ipv4(IP_B).0,
        qpn: 1,
        pkey_index: 0,
    });
    assert_eq!(agent.turn().expect("turn"), 1);
    let stats = agent.shutdown();
    assert_eq!(stats.received, 1);
    assert_eq!(stats.submitted, 0);
    assert_eq!(stats.dropped(AgentDrop::SubmitRefused), 1);
    assert_eq!(stats.last_error, Some(NtStatus::INVALID_PARAMETER));
    file.close();
    dev.assert_clean();
}

/// B connects to A, which has no listener: B's REQ goes out through B's
/// agent addressed to A's GID; submitted to A with B's source address, A's
/// CM answers REJ addressed back to B's GID; submitted to B, Connect fails
/// CONNECTION_REFUSED. Every hop is an IOCTL of the MAD port.
#[test]
fn req_to_a_node_without_listener_is_rejected_back_to_its_source() {
    let verifier = Arc::new(Verifier::default());
    let (dev_a, dev_b) = (device(&verifier, IP_A), device(&verifier, IP_B));
    let (wire_a, wire_b) = (Mem::default(), Mem::default());
    let agent_file_a = open_agent(&dev_a, &[declare(IP_A)]).expect("register");
    let agent_file_b = open_agent(&dev_b, &[declare(IP_B)]).expect("register");
    let mut agent_a = MadAgent::new(Arc::clone(&agent_file_a), wire_a.clone(), config(2));
    let mut agent_b = MadAgent::new(Arc::clone(&agent_file_b), wire_b.clone(), config(2));
    let _ = agent_a.turn().expect("turn");
    let _ = agent_b.turn().expect("turn");

    let file_b = Arc::new(HostDevice::open(&dev_b));
    let adapter_b = Adapter::open(Arc::clone(&file_b), 0).expect("adapter");
    let qp = adapter_b.create_qp(&QpConfig::default()).expect("qp");
    let mut conn = adapter_b.create_connector().expect("connector");
    conn.bind(SocketAddr::new(IP_B.into(), 0)).expect("bind");
    let mut connect = conn.connect(
        &qp,
        SocketAddr::new(IP_A.into(), 9999),
        ReadLimits {
            inbound: 1,
            outbound: 1,
        },
        b"anyone?",
    );

    let _ = agent_b.turn().expect("turn");
    let sent_b = wire_b.take_sent();
    assert_eq!(sent_b.len(), 1, "one REQ");
    let req = &sent_b[0];
    assert_eq!(attribute(req), AttributeId::Req);
    assert_eq!(
        req.address,
        NdcmMadAddress {
            gid: Gid::from_ipv4(IP_A).0,
            qpn: 1,
            qkey: GSI_QKEY,
            pkey_index: 0,
            port: 1,
            reserved0: 0,
            reserved1: 0,
        }
    );

    wire_a.push(arrive_from(req, IP_B));
    let _ = agent_a.turn().expect("turn");
    let _ = agent_a.turn().expect("turn");
    let sent_a = wire_a.take_sent();
    assert_eq!(sent_a.len(), 1, "one REJ");
    assert_eq!(attribute(&sent_a[0]), AttributeId::Rej);
    assert_eq!(
        sent_a[0].address.gid,
        Gid::from_ipv4(IP_B).0,
        "back to the source"
    );
    assert!(
        connect.poll_result().is_none(),
        "not refused before the REJ arrives"
    );

    wire_b.push(arrive_from(&sent_a[0], IP_A));
    let _ = agent_b.turn().expect("turn");
    assert_eq!(
        connect.poll_result().expect("completed"),
        Err(NdError(NtStatus::CONNECTION_REFUSED))
    );

    conn.destroy().expect("destroy connector");
    qp.destroy().expect("destroy qp");
    drop(adapter_b);
    file_b.close();
    let (stats_a, stats_b) = (agent_a.shutdown(), agent_b.shutdown());
    assert_eq!((stats_a.sent, stats_a.submitted), (1, 1));
    assert_eq!((stats_b.sent, stats_b.submitted), (1, 1));
    assert_eq!(stats_a.dropped_total() + stats_b.dropped_total(), 0);
    agent_file_a.close();
    agent_file_b.close();
    // The refused connection may hold its CEP a moment (timewait on the
    // real clock); the requests and files are gone at once.
    for dev in [&dev_a, &dev_b] {
        let leaks = dev.leaks();
        assert_eq!((leaks.requests, leaks.files), (0, 0));
        dev.framework().assert_quiescent();
    }
    verifier.assert_clean();
}

#[test]
fn tunnel_transport_refuses_what_it_cannot_frame() {
    let tunnel = FrameTunnel::bind(TunnelConfig::new(
        "127.0.0.1:0".parse().expect("addr"),
        "127.0.0.1:9".parse().expect("addr"),
        IP_A,
    ))
    .expect("tunnel");
    let transport = TunnelTransport::new(tunnel);
    let mut envelope = NdcmMadEnvelope {
        address: NdcmMadAddress {
            gid: [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
            qpn: 1,
            qkey: GSI_QKEY,
            pkey_index: 0,
            port: 1,
            reserved0: 0,
            reserved1: 0,
        },
        mad: [0u8; 256],
    };
    assert!(matches!(
        transport.send(&envelope),
        Err(SendFailure::Unreachable)
    ));
    envelope.address.gid = Gid::from_ipv4(IP_B).0;
    envelope.address.qpn = 5;
    assert!(matches!(
        transport.send(&envelope),
        Err(SendFailure::Unreachable)
    ));
    envelope.address.qpn = 1;
    assert!(transport.send(&envelope).is_ok(), "queued for ARP");
}
