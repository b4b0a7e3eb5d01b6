//! GetLocalAddress / GetPeerAddress on both sides of a real connection: two
//! host devices, each with the driver's own CM adapter (`NdiPort`: the
//! dispatcher, ndcm-ndi's CM adapter and the CEP manager) on one in-memory
//! fabric. The server learns the client's address only from the REQ's
//! rdma_cm header, so what its passive connector reports is what the wire
//! carried.
#![cfg(feature = "host")]

use ndcm_cm::platform::Duration;
use ndcm_host::client::{ipv4_gid, node_ipv4};
use ndcm_host::ndi_port::{self, NdiPort};
use ndcm_host::world::World;
use ndcm_ndi::cm_port::{AdapterInfo, IpAddr};
use ndcm_provider::host::HostDevice;
use ndcm_provider::*;
use std::net::IpAddr as StdIp;
use std::net::SocketAddr;
use std::sync::Arc;

type Dev = HostDevice<NdiPort>;

const CLIENT_IP: [u8; 4] = node_ipv4(1);
const SERVER_IP: [u8; 4] = node_ipv4(2);
const CLIENT_IP6: [u8; 16] = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
const SERVER_IP6: [u8; 16] = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

struct Net {
    world: World<NdiPort>,
    client: Arc<Dev>,
    server: Arc<Dev>,
}

/// The port GID and adapter address of a node with IP `ip`.
fn gid_and_address(ip: StdIp) -> ([u8; 16], IpAddr) {
    match ip {
        StdIp::V4(v4) => (ipv4_gid(v4.octets()), IpAddr::V4(v4.octets())),
        StdIp::V6(v6) => (v6.octets(), IpAddr::V6(v6.octets())),
    }
}

fn net(client_ip: StdIp, server_ip: StdIp) -> Net {
    let mut world = World::perfect();
    let mut node = |ip: StdIp| {
        let (gid, address) = gid_and_address(ip);
        let adapter = AdapterInfo::soft_roce(vec![address]);
        let device = world.add_node(&[gid], vec![adapter], move |p, f| {
            ndi_port::on_fabric(p, f, vec![gid])
        });
        Arc::new(HostDevice::open(&device))
    };
    let client = node(client_ip);
    let server = node(server_ip);
    Net {
        world,
        client,
        server,
    }
}

impl Net {
    /// Delivers what is in flight (far below any CM timeout).
    fn deliver(&self) {
        self.world.advance(Duration::from_millis(1));
    }
}

fn sa(ip: StdIp, port: u16) -> SocketAddr {
    SocketAddr::new(ip, port)
}

const INVALID: Result<SocketAddr, NdError> = Err(NdError(NtStatus::CONNECTION_INVALID));

/// Connects a client bound to `client_port` to a listening server and
/// checks what both connectors report at every step.
fn connect_and_check(client_ip: StdIp, server_ip: StdIp, client_port: u16) {
    let n = net(client_ip, server_ip);
    let sa_ = Adapter::open(n.server.clone(), 0).unwrap();
    let ca = Adapter::open(n.client.clone(), 0).unwrap();
    let mut listener = sa_.create_listener();
    listener.bind(sa(server_ip, 0)).unwrap();
    listener.listen(0).unwrap();
    let service = listener.get_local_address().unwrap();
    let mut passive = sa_.create_connector().unwrap();
    let mut get = listener.get_connection_request(&mut passive);
    assert!(get.is_pending());
    assert_eq!(passive.get_peer_address(), INVALID, "waiting: no peer yet");

    let cqp = ca.create_qp(&QpConfig::default()).unwrap();
    let mut active = ca.create_connector().unwrap();
    active.bind(sa(client_ip, client_port)).unwrap();
    assert_eq!(active.get_local_address(), INVALID, "bound, not connecting");
    let mut connect = active.connect(&cqp, service, ReadLimits::default(), b"hi");
    // Connecting: the client's own view, with the port the driver chose.
    let local = active.get_local_address().unwrap();
    assert_eq!(local.ip(), client_ip);
    if client_port == 0 {
        assert!(local.port() >= 49152, "ephemeral port {local}");
    } else {
        assert_eq!(local.port(), client_port);
    }
    assert_eq!(active.get_peer_address(), Ok(service));

    n.deliver();
    assert_eq!(get.poll_result(), Some(Ok(())), "the REQ arrived");
    // The property this test exists for: a passive connector names the
    // client's bound address and port, learnt from the wire.
    assert_eq!(passive.get_peer_address(), Ok(local));
    assert_eq!(passive.get_local_address(), Ok(service));

    let sqp = sa_.create_qp(&QpConfig::default()).unwrap();
    let mut accept = passive.accept(&sqp, ReadLimits::default(), &[]);
    n.deliver();
    assert_eq!(connect.poll_result(), Some(Ok(())), "the REP arrived");
    active.complete_connect().wait().unwrap();
    n.deliver();
    assert_eq!(accept.poll_result(), Some(Ok(())), "the RTU arrived");
    for (who, c, want) in [
        ("active", &active, (local, service)),
        ("passive", &passive, (service, local)),
    ] {
        assert_eq!(
            (c.get_local_address(), c.get_peer_address()),
            (Ok(want.0), Ok(want.1)),
            "{who} connected"
        );
    }

    // After the disconnect both connectors are closed: no addresses.
    let mut notify = passive.notify_disconnect();
    let mut disconnect = active.disconnect();
    n.deliver();
    assert_eq!(notify.poll_result(), Some(Ok(())), "the DREQ arrived");
    // The peer disconnected first (DREQ_RCVD): still connected until the
    // passive side's own Disconnect answers with the DREP.
    assert_eq!(passive.get_peer_address(), Ok(local));
    passive.disconnect().wait().unwrap();
    n.deliver();
    assert_eq!(disconnect.poll_result(), Some(Ok(())), "the DREP arrived");
    assert_eq!(active.get_peer_address(), INVALID);
    assert_eq!(passive.get_peer_address(), INVALID);
    assert_eq!(passive.get_local_address(), INVALID);

    drop((active, passive, listener, cqp, sqp, ca, sa_));
    n.client.close();
    n.server.close();
    let _ = n.world.run_until_idle(Duration::from_millis(600_000));
    n.world.assert_clean();
}

#[test]
fn passive_connector_reports_the_clients_bound_port_after_get_connection_request() {
    connect_and_check(CLIENT_IP.into(), SERVER_IP.into(), 41234);
}

#[test]
fn passive_connector_reports_the_port_the_clients_driver_allocated() {
    connect_and_check(CLIENT_IP.into(), SERVER_IP.into(), 0);
}

#[test]
fn both_connectors_report_ipv6_endpoints() {
    connect_and_check(CLIENT_IP6.into(), SERVER_IP6.into(), 41235);
}
