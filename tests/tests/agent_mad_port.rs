//! The Windows driver's path to the wire, on the host: two host devices
//! whose CM (the driver's `cm_adapter::ManagerPort`) reaches the network
//! only through the MAD-port IOCTLs, each served by its own `ndcm agent`
//! loop over a frame tunnel on loopback (two UDP endpoints, whole RoCEv2
//! frames with ICRC, ARP). An ND consumer on each device runs a full
//! connection lifecycle through the provider API: listen, connect,
//! get-request, accept, complete, notify-disconnect, disconnect.
//!
//! Checked: every ND operation completes once with the expected result and
//! private data; every request of every file (agents' MAD_GET_OUTBOUND
//! included) completed exactly once and no KMDF rule was broken; nothing is
//! left alive after timewait; the agents moved every MAD (none dropped,
//! none unclaimed by the driver); every frame on the wire, captured by the
//! tunnel's tap, parses as RoCEv2 with a correct ICRC and carries exactly
//! the CM exchange REQ, REP, RTU, DREQ, DREP between the right addresses.

use ndcm::agent::acceptor::adapter_info;
use ndcm::agent::host_port::{MadPortCm, MadPortDevice, TimerPump, mad_port_device};
use ndcm::agent::tunnel::TunnelTransport;
use ndcm_host::clock::Clock;
use ndcm_host::tunnel::{FrameTap, FrameTunnel, TunnelConfig, TunnelStats};
use ndcm_host::{HostPlatform, Verifier};
use ndcm_ndi::abi::NdcmMadEnvelope;
use ndcm_provider::host::HostDevice;
use ndcm_provider::mad_agent::{
    AgentConfig, AgentStats, InboundMad, MadAgent, MadTransport, SendFailure,
};
use ndcm_provider::{Adapter, Device, QpConfig, ReadLimits};
use ndcm_wire::CmMad;
use ndcm_wire::mad::AttributeId;
use ndcm_wire::pcap::PcapReader;
use ndcm_wire::roce::{IpFields, RoceFrame, RoceRepr};
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

const IP_A: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 1);
const IP_B: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 2);
const SERVICE_PORT: u16 = 7471;
const OUTSTANDING: usize = 4;
const LIMITS: ReadLimits = ReadLimits {
    inbound: 2,
    outbound: 2,
};

/// A free loopback UDP port (bound, read, released: the tunnel binds it
/// next, so another process taking it in between is the only race).
fn free_port() -> SocketAddr {
    let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
    s.local_addr().expect("addr")
}

fn capture_path(tag: &str) -> PathBuf {
    std::env::temp_dir().join(format!("ndcm-agent-{}-{tag}.pcap", std::process::id()))
}

/// The tunnel, losing the first outbound MAD of one attribute as a wire
/// would (the agent sees the send succeed).
struct Lossy {
    inner: TunnelTransport,
    lose: Option<AttributeId>,
    lost: Arc<AtomicU64>,
}

impl MadTransport for Lossy {
    fn send(&self, envelope: &NdcmMadEnvelope) -> Result<(), SendFailure> {
        let attribute = CmMad::parse(&envelope.mad).map(|m| m.message.attribute_id());
        if self.lose.is_some()
            && attribute.ok() == self.lose
            && self
                .lost
                .compare_exchange(0, 1, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            return Ok(());
        }
        self.inner.send(envelope)
    }
    fn recv_timeout(&self, timeout: Duration) -> Option<InboundMad> {
        self.inner.recv_timeout(timeout)
    }
}

/// One node: a MAD-port device, its CM timers, and its agent thread.
struct Node {
    device: Arc<MadPortDevice>,
    timers: Option<TimerPump>,
    stop: Arc<AtomicBool>,
    agent: Option<JoinHandle<(AgentStats, TunnelStats)>>,
    /// MADs the lossy transport swallowed.
    lost: Arc<AtomicU64>,
}

impl Node {
    fn start(platform: &HostPlatform, ip: Ipv4Addr, tunnel: TunnelConfig, tap: PathBuf) -> Node {
        Node::start_lossy(platform, ip, tunnel, tap, None)
    }

    fn start_lossy(
        platform: &HostPlatform,
        ip: Ipv4Addr,
        tunnel: TunnelConfig,
        tap: PathBuf,
        lose: Option<AttributeId>,
    ) -> Node {
        let lost = Arc::new(AtomicU64::new(0));
        let transport_lost = Arc::clone(&lost);
        let device = mad_port_device(platform.clone(), vec![adapter_info(ip)], 1);
        let timers = TimerPump::start(&device).expect("timer thread");
        let tap = FrameTap::create(&tap).expect("capture file");
        let tunnel = FrameTunnel::bind_with_tap(tunnel, Some(tap)).expect("tunnel");
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        // The agent's own file of the device, as `ndcm agent` opens one.
        let file = Arc::new(HostDevice::open(&device));
        let (ready, is_ready) = std::sync::mpsc::channel();
        let agent = thread::Builder::new()
            .name(format!("agent {ip}"))
            .spawn(move || {
                let config = AgentConfig {
                    outstanding: OUTSTANDING,
                    ..AgentConfig::default()
                };
                let mut agent = MadAgent::new(
                    Arc::clone(&file),
                    Lossy {
                        inner: TunnelTransport::new(tunnel),
                        lose,
                        lost: transport_lost,
                    },
                    config,
                );
                // The first turn pends the MAD_GET_OUTBOUND requests: until
                // then a MAD the CM sends would be dropped (and retried).
                let _ = agent.turn().expect("the driver refused MAD_GET_OUTBOUND");
                assert_eq!(agent.pended(), OUTSTANDING);
                ready.send(()).expect("the test waits for this");
                agent
                    .run(&flag)
                    .expect("the driver refused MAD_GET_OUTBOUND");
                let tunnel = agent.transport().inner.tunnel().stats();
                let stats = agent.shutdown();
                file.close();
                (stats, tunnel)
            })
            .expect("agent thread");
        is_ready.recv().expect("agent started");
        Node {
            device,
            timers: Some(timers),
            stop,
            agent: Some(agent),
            lost,
        }
    }

    fn cm(&self) -> &MadPortCm {
        self.device.cm()
    }

    /// Stops the agent (cancelling its pended requests) and the timers.
    fn stop(&mut self) -> (AgentStats, TunnelStats) {
        self.stop.store(true, Ordering::Release);
        let out = self
            .agent
            .take()
            .expect("running")
            .join()
            .expect("agent thread panicked");
        drop(self.timers.take());
        out
    }
}

/// Waits (real time) until both CMs hold no connection: the active side
/// leaves timewait on its timer.
fn wait_for_timewait(nodes: &[&Node]) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while nodes.iter().any(|n| n.cm().live_objects_now() > 0) {
        assert!(
            Instant::now() < deadline,
            "CM connections still alive: {:?}",
            nodes
                .iter()
                .map(|n| n.cm().live_objects_now())
                .collect::<Vec<_>>()
        );
        thread::sleep(Duration::from_millis(10));
    }
}

trait Live {
    fn live_objects_now(&self) -> usize;
}

impl Live for MadPortCm {
    fn live_objects_now(&self) -> usize {
        use ndcm_host::device::HostCm;
        self.live_objects()
    }
}

/// A CM MAD seen on the wire: sender, receiver, attribute.
#[derive(Debug, PartialEq, Eq)]
struct WireMad {
    src: Ipv4Addr,
    dst: Ipv4Addr,
    attribute: AttributeId,
}

/// Every frame of a tunnel capture: ARP frames are counted, every IPv4
/// frame must be a RoCEv2 QP1 frame whose ICRC verifies and whose MAD
/// parses as CM.
fn read_capture(path: &PathBuf) -> (usize, Vec<WireMad>) {
    let file = std::fs::File::open(path).expect("capture");
    let reader = PcapReader::new(std::io::BufReader::new(file)).expect("pcap header");
    let link = reader.link_type();
    let mut arp = 0;
    let mut mads = Vec::new();
    for record in reader {
        let record = record.expect("pcap record");
        let ethertype = record.data.get(12..14).expect("ethernet header");
        if ethertype == [0x08, 0x06] {
            arp += 1;
            continue;
        }
        assert_eq!(ethertype, [0x08, 0x00], "only ARP and IPv4 on the tunnel");
        let ip = link.ip_payload(&record.data).expect("IP packet");
        let frame = RoceFrame::new_checked(ip).expect("RoCEv2 frame");
        // parse verifies the ICRC.
        let repr = RoceRepr::parse(&frame).expect("RoCEv2 headers and ICRC");
        let IpFields::V4(v4) = repr.ip else {
            panic!("IPv6 frame on an IPv4 tunnel")
        };
        assert_eq!(frame.src_qp(), 1, "CM MADs come from QP1");
        let mad = CmMad::parse(frame.mad()).expect("CM MAD");
        mads.push(WireMad {
            src: v4.src,
            dst: v4.dst,
            attribute: mad.message.attribute_id(),
        });
    }
    (arp, mads)
}

#[test]
fn full_lifecycle_through_mad_port_ioctls_and_frame_tunnel() {
    lifecycle("a", None);
}

/// A's first REP is lost on the wire: the CM's retransmission (REQ retry
/// answered by a REP resend, or the REP timer) recovers through the agents.
#[test]
fn lost_rep_is_recovered_through_the_agents() {
    lifecycle("lossy", Some(AttributeId::Rep));
}

fn lifecycle(tag: &str, lose_on_a: Option<AttributeId>) {
    let verifier = Arc::new(Verifier::default());
    let platform = HostPlatform::new(Arc::clone(&verifier), Arc::new(Clock::new_real()));
    let (udp_a, udp_b) = (free_port(), free_port());
    let (cap_a, cap_b) = (
        capture_path(&format!("{tag}-a")),
        capture_path(&format!("{tag}-b")),
    );
    let mut a = Node::start_lossy(
        &platform,
        IP_A,
        TunnelConfig::new(udp_a, udp_b, IP_A),
        cap_a.clone(),
        lose_on_a,
    );
    let mut b = Node::start(
        &platform,
        IP_B,
        TunnelConfig::new(udp_b, udp_a, IP_B),
        cap_b.clone(),
    );

    // The ND consumers: each its own file of its device.
    let file_a = Arc::new(HostDevice::open(&a.device));
    let file_b = Arc::new(HostDevice::open(&b.device));
    let adapter_a = Adapter::open(Arc::clone(&file_a), 0).expect("adapter A");
    let adapter_b = Adapter::open(Arc::clone(&file_b), 0).expect("adapter B");

    let mut listener = adapter_a.create_listener();
    listener
        .bind(SocketAddr::new(IP_A.into(), SERVICE_PORT))
        .expect("bind listener");
    listener.listen(4).expect("listen");
    let mut conn_a = adapter_a.create_connector().expect("connector A");
    let get = listener.get_connection_request(&mut conn_a);

    let qp_b = adapter_b.create_qp(&QpConfig::default()).expect("QP B");
    let mut conn_b = adapter_b.create_connector().expect("connector B");
    conn_b
        .bind(SocketAddr::new(IP_B.into(), 0))
        .expect("bind connector");
    let connect = conn_b.connect(
        &qp_b,
        SocketAddr::new(IP_A.into(), SERVICE_PORT),
        LIMITS,
        b"hello from B",
    );

    get.wait().expect("GetConnectionRequest");
    let req_pdata = conn_a.get_private_data().expect("REQ private data");
    assert!(req_pdata.starts_with(b"hello from B"), "{req_pdata:?}");

    let qp_a = adapter_a.create_qp(&QpConfig::default()).expect("QP A");
    let accept = conn_a.accept(&qp_a, LIMITS, b"welcome, B");
    connect.wait().expect("Connect");
    let rep_pdata = conn_b.get_private_data().expect("REP private data");
    assert!(rep_pdata.starts_with(b"welcome, B"), "{rep_pdata:?}");
    conn_b.complete_connect().wait().expect("CompleteConnect");
    accept.wait().expect("Accept completes on RTU");

    let notify = conn_a.notify_disconnect();
    let disconnect_b = conn_b.disconnect();
    notify.wait().expect("NotifyDisconnect on DREQ");
    conn_a.disconnect().wait().expect("Disconnect answers DREP");
    disconnect_b.wait().expect("Disconnect completes on DREP");

    conn_a.destroy().expect("destroy connector A");
    conn_b.destroy().expect("destroy connector B");
    qp_a.destroy().expect("destroy QP A");
    qp_b.destroy().expect("destroy QP B");
    listener.destroy().expect("destroy listener");
    drop((adapter_a, adapter_b));
    file_a.close();
    file_b.close();

    wait_for_timewait(&[&a, &b]);
    let (stats_a, tunnel_a) = a.stop();
    let (stats_b, tunnel_b) = b.stop();

    // Requests completed exactly once, no rule broken, nothing alive.
    a.device.assert_clean();
    b.device.assert_clean();
    verifier.assert_clean();

    // The agents moved every MAD the CMs sent, and only those.
    assert_eq!(a.cm().unclaimed(), 0, "A's CM sent with no agent request");
    assert_eq!(b.cm().unclaimed(), 0, "B's CM sent with no agent request");
    for (name, s) in [("A", &stats_a), ("B", &stats_b)] {
        assert_eq!(s.dropped_total(), 0, "{name}: {s}");
        assert_eq!(s.outbound, s.sent, "{name}: {s}");
        assert_eq!(s.received, s.submitted, "{name}: {s}");
        assert_eq!(
            s.cancelled, OUTSTANDING as u64,
            "{name}: shutdown cancels what it pended"
        );
        assert_eq!(s.get_errors, s.cancelled, "{name}: {s}");
        assert_eq!(s.gets_issued, s.outbound + s.cancelled, "{name}: {s}");
    }
    let lost_a = a.lost.load(Ordering::Acquire);
    assert_eq!(lost_a, u64::from(lose_on_a.is_some()), "the loss happened");
    assert_eq!(stats_a.sent - lost_a, stats_b.received);
    assert_eq!(stats_b.sent, stats_a.received);
    for (name, t) in [("A", &tunnel_a), ("B", &tunnel_b)] {
        assert_eq!(
            t.dropped_total(),
            0,
            "{name}'s tunnel dropped frames: {t:?}"
        );
    }
    assert_eq!(tunnel_a.mads_sent, stats_a.sent - lost_a);
    assert_eq!(tunnel_a.mads_received, stats_a.received);

    // The wire: every frame verified, the exact CM exchange.
    let (arp_a, mads_a) = read_capture(&cap_a);
    let (_, mads_b) = read_capture(&cap_b);
    assert!(arp_a >= 2, "A resolved B or answered B's ARP");
    // Each tunnel's tap sees what it sent and what it received.
    assert_eq!(
        mads_a.len() as u64,
        stats_a.sent - lost_a + stats_a.received
    );
    if lose_on_a.is_some() {
        // A sent REP twice (the lost one and its retransmission) and DREP.
        assert!(stats_a.sent >= 3, "A retransmitted: {stats_a}");
    }
    assert_eq!(
        mads_a, mads_b,
        "both ends saw the same frames in the same order"
    );
    let mut exchange: Vec<(Ipv4Addr, AttributeId)> = Vec::new();
    for m in &mads_a {
        assert!(
            (m.src, m.dst) == (IP_A, IP_B) || (m.src, m.dst) == (IP_B, IP_A),
            "{m:?}"
        );
        // A retransmission (a slow machine) repeats a message; the exchange
        // is the sequence of distinct messages.
        if exchange.last() != Some(&(m.src, m.attribute)) {
            exchange.push((m.src, m.attribute));
        }
    }
    assert_eq!(
        exchange,
        vec![
            (IP_B, AttributeId::Req),
            (IP_A, AttributeId::Rep),
            (IP_B, AttributeId::Rtu),
            (IP_B, AttributeId::Dreq),
            (IP_A, AttributeId::Drep),
        ]
    );
    let _ = std::fs::remove_file(&cap_a);
    let _ = std::fs::remove_file(&cap_b);
}

/// `ndcm agent --listen` (the command's own code path: tunnel, in-process
/// MAD-port host device, acceptor, agent loop) accepts a connection from a
/// node that reaches it only through its own agent and tunnel.
#[test]
fn ndcm_agent_command_accepts_a_connection_over_the_tunnel() {
    use ndcm::agent::AgentArgs;
    let (udp_cmd, udp_b) = (free_port(), free_port());
    let args = AgentArgs {
        local: udp_cmd,
        remote: udp_b,
        ip: IP_A,
        mac: None,
        outstanding: 8,
        port: 1,
        capture: None,
        duration: Some(4.0),
        stats_every: None,
        device: String::new(),
        listen: Some(SERVICE_PORT),
    };
    let command = thread::spawn(move || ndcm::agent::run(&args));

    let verifier = Arc::new(Verifier::default());
    let platform = HostPlatform::new(Arc::clone(&verifier), Arc::new(Clock::new_real()));
    let cap_b = capture_path("cmd-b");
    let mut b = Node::start(
        &platform,
        IP_B,
        TunnelConfig::new(udp_b, udp_cmd, IP_B),
        cap_b.clone(),
    );
    let file_b = Arc::new(HostDevice::open(&b.device));
    let adapter_b = Adapter::open(Arc::clone(&file_b), 0).expect("adapter B");
    let qp_b = adapter_b.create_qp(&QpConfig::default()).expect("QP B");
    // The command binds its tunnel and starts listening on its own
    // schedule: a REQ that finds no listener yet is refused; try again.
    let deadline = Instant::now() + Duration::from_secs(3);
    let conn_b = loop {
        let mut conn = adapter_b.create_connector().expect("connector B");
        conn.bind(SocketAddr::new(IP_B.into(), 0)).expect("bind");
        let result = conn
            .connect(
                &qp_b,
                SocketAddr::new(IP_A.into(), SERVICE_PORT),
                LIMITS,
                b"hello, command",
            )
            .wait();
        match result {
            Ok(()) => break conn,
            Err(e) => {
                assert!(Instant::now() < deadline, "never accepted: {e}");
                conn.destroy().expect("destroy refused connector");
                thread::sleep(Duration::from_millis(50));
            }
        }
    };
    conn_b.complete_connect().wait().expect("CompleteConnect");
    // The acceptor holds the connection until we disconnect; it answers
    // our DREQ with its own Disconnect (DREP).
    conn_b
        .disconnect()
        .wait()
        .expect("Disconnect completes on DREP");
    conn_b.destroy().expect("destroy connector");
    qp_b.destroy().expect("destroy QP");
    drop(adapter_b);
    file_b.close();
    wait_for_timewait(&[&b]);
    let (stats_b, tunnel_b) = b.stop();
    b.device.assert_clean();
    verifier.assert_clean();
    assert_eq!(stats_b.dropped_total(), 0, "{stats_b}");
    assert_eq!(tunnel_b.dropped_total(), 0, "{tunnel_b:?}");
    assert_eq!(b.cm().unclaimed(), 0);
    let code = command.join().expect("command thread");
    assert_eq!(code, std::process::ExitCode::SUCCESS);
    let (_, mads) = read_capture(&cap_b);
    let from_cmd: Vec<AttributeId> = mads
        .iter()
        .filter(|m| m.src == IP_A)
        .map(|m| m.attribute)
        .collect();
    assert!(from_cmd.contains(&AttributeId::Rep), "{from_cmd:?}");
    assert_eq!(from_cmd.last(), Some(&AttributeId::Drep), "{from_cmd:?}");
    let _ = std::fs::remove_file(&cap_b);
}
