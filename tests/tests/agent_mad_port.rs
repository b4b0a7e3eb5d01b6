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
use ndcm::agent::host_port::{MadPortDevice, TimerPump, mad_port_device, open_agent};
use ndcm::agent::tunnel::TunnelTransport;
use ndcm_host::clock::Clock;
use ndcm_host::ndi_port::NdiPort;
use ndcm_host::tunnel::{FrameTap, FrameTunnel, TunnelConfig, TunnelStats};
use ndcm_host::{HostPlatform, Verifier};
use ndcm_ndi::abi::NdcmMadEnvelope;
use ndcm_provider::host::HostDevice;
use ndcm_provider::mad_agent::AdapterDeclaration;
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
        let declaration = AdapterDeclaration::soft_roce(vec![ip.into()], 1);
        let file = open_agent(&device, &[declaration]).expect("register the adapter");
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

    fn cm(&self) -> &NdiPort {
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

impl Live for NdiPort {
    fn live_objects_now(&self) -> usize {
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
    assert_eq!(a.cm().unsent(), 0, "A's CM sent with no agent request");
    assert_eq!(b.cm().unsent(), 0, "B's CM sent with no agent request");
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
        addresses: Vec::new(),
        device: String::new(),
        listen: Some(SERVICE_PORT),
        max_connections: ndcm::agent::acceptor::DEFAULT_MAX_CONNECTIONS,
        backlog: ndcm::agent::acceptor::DEFAULT_BACKLOG,
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
    assert_eq!(b.cm().unsent(), 0);
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

/// Polls `op` (real time) until it completes or `within` passes.
fn completes_within<T>(
    op: &mut ndcm_provider::Op<HostDevice<NdiPort>, T>,
    within: Duration,
) -> Option<ndcm_provider::NdResult<T>> {
    let deadline = Instant::now() + within;
    loop {
        if let Some(r) = op.poll_result() {
            return Some(r);
        }
        if Instant::now() >= deadline {
            return None;
        }
        thread::sleep(Duration::from_millis(2));
    }
}

/// Two MAD-port nodes over the tunnel: A runs the command's acceptor with
/// `config`, B dials it with `dials` connections at once. Returns, per
/// connection of B, whether its Connect completed within a second.
struct AcceptorRun {
    a: Node,
    b: Node,
    verifier: Arc<Verifier>,
    acceptor: ndcm::agent::acceptor::Acceptor,
    file_b: Arc<HostDevice<NdiPort>>,
    adapter_b: Adapter<HostDevice<NdiPort>>,
    caps: [PathBuf; 2],
}

impl AcceptorRun {
    fn start(tag: &str, config: ndcm::agent::acceptor::AcceptorConfig) -> AcceptorRun {
        let verifier = Arc::new(Verifier::default());
        let platform = HostPlatform::new(Arc::clone(&verifier), Arc::new(Clock::new_real()));
        let (udp_a, udp_b) = (free_port(), free_port());
        let caps = [
            capture_path(&format!("{tag}-a")),
            capture_path(&format!("{tag}-b")),
        ];
        let a = Node::start(
            &platform,
            IP_A,
            TunnelConfig::new(udp_a, udp_b, IP_A),
            caps[0].clone(),
        );
        let b = Node::start(
            &platform,
            IP_B,
            TunnelConfig::new(udp_b, udp_a, IP_B),
            caps[1].clone(),
        );
        let acceptor = ndcm::agent::acceptor::Acceptor::start(
            &a.device,
            SocketAddr::new(IP_A.into(), SERVICE_PORT),
            config,
        )
        .expect("the acceptor listens");
        let file_b = Arc::new(HostDevice::open(&b.device));
        let adapter_b = Adapter::open(Arc::clone(&file_b), 0).expect("adapter B");
        AcceptorRun {
            a,
            b,
            verifier,
            acceptor,
            file_b,
            adapter_b,
            caps,
        }
    }

    /// A connector of B, bound, and its QP.
    fn dialer(
        &self,
    ) -> (
        ndcm_provider::Connector<HostDevice<NdiPort>>,
        ndcm_provider::Qp<HostDevice<NdiPort>>,
    ) {
        let qp = self.adapter_b.create_qp(&QpConfig::default()).expect("QP");
        let mut conn = self.adapter_b.create_connector().expect("connector");
        conn.bind(SocketAddr::new(IP_B.into(), 0)).expect("bind");
        (conn, qp)
    }

    /// Stops the acceptor, lets timewait pass and audits both nodes.
    fn finish(mut self) -> ndcm::agent::acceptor::AcceptorStats {
        let stats = self.acceptor.stop();
        drop(self.adapter_b);
        self.file_b.close();
        wait_for_timewait(&[&self.a, &self.b]);
        let (agent_a, _) = self.a.stop();
        let (agent_b, _) = self.b.stop();
        self.a.device.assert_clean();
        self.b.device.assert_clean();
        self.verifier.assert_clean();
        assert_eq!(agent_a.dropped_total(), 0, "{agent_a}");
        assert_eq!(agent_b.dropped_total(), 0, "{agent_b}");
        for cap in &self.caps {
            let _ = std::fs::remove_file(cap);
        }
        stats
    }
}

/// The acceptor of `ndcm listen` / `ndcm agent --listen` holds several
/// connections at once: five Connects issued together are all accepted
/// while none has disconnected, and each connection ends when its own peer
/// disconnects, the others staying up (the acceptor never disconnects
/// first: every one of B's NotifyDisconnect ends with B's own Disconnect).
#[test]
fn listen_acceptor_serves_several_connections_at_once() {
    const N: usize = 5;
    let run = AcceptorRun::start(
        "many",
        ndcm::agent::acceptor::AcceptorConfig {
            max_connections: 8,
            backlog: 16,
        },
    );
    let mut dialers: Vec<_> = (0..N).map(|_| run.dialer()).collect();
    let mut connects: Vec<_> = dialers
        .iter_mut()
        .map(|(conn, qp)| {
            conn.connect(
                qp,
                SocketAddr::new(IP_A.into(), SERVICE_PORT),
                LIMITS,
                b"one of many",
            )
        })
        .collect();
    for (i, op) in connects.iter_mut().enumerate() {
        let r = completes_within(op, Duration::from_secs(5));
        assert_eq!(r, Some(Ok(())), "connection {i} was not accepted");
    }
    let mut notifies = Vec::new();
    for (conn, _) in &dialers {
        conn.complete_connect().wait().expect("CompleteConnect");
        let mut notify = conn.notify_disconnect();
        assert!(notify.is_pending(), "established");
        notifies.push(notify);
    }
    // Disconnect one at a time, last first: each Disconnect is answered
    // (DREP) while the connections not yet disconnected stay established.
    while let Some((conn, qp)) = dialers.pop() {
        let mut notify = notifies.pop().expect("one per connection");
        conn.disconnect()
            .wait()
            .expect("the acceptor answers the DREQ with a DREP");
        assert_eq!(
            notify.poll_result(),
            Some(Err(ndcm_provider::NdError(
                ndcm_provider::NtStatus::CONNECTION_DISCONNECTED
            ))),
            "our own Disconnect ended it, not the acceptor"
        );
        for other in &mut notifies {
            assert!(other.is_pending(), "another connection was disconnected");
        }
        conn.destroy().expect("destroy connector");
        qp.destroy().expect("destroy QP");
    }
    let stats = run.finish();
    let n = N as u64;
    assert_eq!(
        stats,
        ndcm::agent::acceptor::AcceptorStats {
            requests: n,
            established: n,
            disconnected: n,
            failures: 0,
        }
    );
}

/// `--max-connections` bounds what the acceptor holds: with a limit of two,
/// a third Connect waits in the listener's backlog until one of the first
/// two disconnects, and is then accepted.
#[test]
fn listen_acceptor_holds_no_more_than_max_connections() {
    let run = AcceptorRun::start(
        "max",
        ndcm::agent::acceptor::AcceptorConfig {
            max_connections: 2,
            backlog: 16,
        },
    );
    let to = SocketAddr::new(IP_A.into(), SERVICE_PORT);
    let (mut c1, q1) = run.dialer();
    let (mut c2, q2) = run.dialer();
    let (mut c3, q3) = run.dialer();
    let mut o1 = c1.connect(&q1, to, LIMITS, &[]);
    let mut o2 = c2.connect(&q2, to, LIMITS, &[]);
    assert_eq!(
        completes_within(&mut o1, Duration::from_secs(5)),
        Some(Ok(()))
    );
    assert_eq!(
        completes_within(&mut o2, Duration::from_secs(5)),
        Some(Ok(()))
    );
    c1.complete_connect().wait().expect("CompleteConnect 1");
    c2.complete_connect().wait().expect("CompleteConnect 2");
    let mut o3 = c3.connect(&q3, to, LIMITS, &[]);
    assert_eq!(
        completes_within(&mut o3, Duration::from_millis(500)),
        None,
        "a third connection was accepted beyond --max-connections 2"
    );
    c1.disconnect().wait().expect("Disconnect 1");
    assert_eq!(
        completes_within(&mut o3, Duration::from_secs(5)),
        Some(Ok(())),
        "the waiting request was accepted once a connection ended"
    );
    c3.complete_connect().wait().expect("CompleteConnect 3");
    c2.disconnect().wait().expect("Disconnect 2");
    c3.disconnect().wait().expect("Disconnect 3");
    for (c, q) in [(c1, q1), (c2, q2), (c3, q3)] {
        c.destroy().expect("destroy connector");
        q.destroy().expect("destroy QP");
    }
    let stats = run.finish();
    assert_eq!(
        (
            stats.requests,
            stats.established,
            stats.disconnected,
            stats.failures
        ),
        (3, 3, 3, 0)
    );
}
