//! Endpoints on loopback: MAD exchange, ARP answered and resolved, bad frames dropped.

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use super::*;
use crate::tunnel::arp::ArpOperation;
use crate::tunnel::ethernet::{ETHERTYPE_ARP, ETHERTYPE_IPV4, EthernetHeader};

const A_IP: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 1);
const B_IP: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 2);
const WAIT: Duration = Duration::from_secs(5);

fn any_port() -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, 0))
}

fn mad(tag: u8) -> [u8; MAD_SIZE] {
    let mut m = [0u8; MAD_SIZE];
    m[..4].copy_from_slice(&[1, 7, 2, 3]);
    m[16..18].copy_from_slice(&0x0010u16.to_be_bytes());
    m[24] = tag;
    m
}

/// Two endpoints whose remotes are each other, as two QEMU `-netdev dgram` ends would be.
fn pair() -> (FrameTunnel, FrameTunnel) {
    // Reserve B's port first so A can name it as its remote.
    let b_sock = UdpSocket::bind(any_port()).unwrap();
    let b_addr = b_sock.local_addr().unwrap();
    let a = FrameTunnel::bind(TunnelConfig::new(any_port(), b_addr, A_IP)).unwrap();
    drop(b_sock);
    let b = FrameTunnel::bind(TunnelConfig::new(b_addr, a.local_addr(), B_IP)).unwrap();
    (a, b)
}

/// A raw peer socket playing the other end of `tunnel`, to inject and inspect frames.
fn raw_peer(ip: Ipv4Addr, config: impl FnOnce(&mut TunnelConfig)) -> (FrameTunnel, UdpSocket) {
    let peer = UdpSocket::bind(any_port()).unwrap();
    peer.set_read_timeout(Some(WAIT)).unwrap();
    let mut cfg = TunnelConfig::new(any_port(), peer.local_addr().unwrap(), ip);
    config(&mut cfg);
    let t = FrameTunnel::bind(cfg).unwrap();
    (t, peer)
}

fn recv_frame(peer: &UdpSocket) -> Vec<u8> {
    let mut buf = [0u8; 2048];
    let (n, _) = peer.recv_from(&mut buf).expect("a frame from the tunnel");
    buf[..n].to_vec()
}

fn wait_until(mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + WAIT;
    while Instant::now() < end {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    false
}

#[test]
fn two_endpoints_exchange_mads_after_resolving_each_other() {
    let (a, b) = pair();
    a.send(&mad(1), B_IP).unwrap();
    a.send(&mad(2), B_IP).unwrap();
    let first = b.recv_timeout(WAIT).expect("first MAD");
    let second = b.recv_timeout(WAIT).expect("second MAD");
    assert_eq!(
        (first.mad[24], second.mad[24]),
        (1, 2),
        "held frames keep their order"
    );
    assert_eq!(first.source_ip, A_IP);
    assert_eq!(first.source_gid, Gid::from_ipv4(A_IP));
    assert_eq!(first.source_qpn, 1);
    // B learned A from A's request; A learned B from B's reply.
    assert_eq!(b.neighbour(A_IP), Some(a.mac()));
    assert_eq!(a.neighbour(B_IP), Some(b.mac()));

    b.send_to_gid(&mad(3), first.source_gid).unwrap();
    let reply = a.recv_timeout(WAIT).expect("reply");
    assert_eq!(reply.mad[24], 3);
    assert_eq!(reply.source_ip, B_IP);

    let (sa, sb) = (a.stats(), b.stats());
    assert_eq!((sa.mads_sent, sa.mads_received), (2, 1));
    assert_eq!((sb.mads_sent, sb.mads_received), (1, 2));
    assert_eq!(sa.arp_requests_sent, 1, "one request resolves B");
    assert_eq!(sb.arp_requests_sent, 0, "B learned A from A's request");
    assert_eq!(sb.arp_replies_sent, 1);
    assert_eq!(sa.dropped_total() + sb.dropped_total(), 0, "{sa} / {sb}");
}

#[test]
fn arp_requests_for_our_address_are_answered() {
    let (t, peer) = raw_peer(A_IP, |_| {});
    let peer_mac = MacAddress([0x52, 0x54, 0, 0x12, 0x34, 0x56]);
    let req = ArpPacket::request(peer_mac, B_IP, A_IP);
    let frame = EthernetHeader {
        destination: MacAddress::BROADCAST,
        source: peer_mac,
        ethertype: ETHERTYPE_ARP,
    }
    .frame(&req.to_bytes());
    peer.send_to(&frame, t.local_addr()).unwrap();
    let reply = recv_frame(&peer);
    let (eth, payload) = EthernetHeader::parse(&reply).unwrap();
    assert_eq!(
        (eth.destination, eth.source, eth.ethertype),
        (peer_mac, t.mac(), ETHERTYPE_ARP)
    );
    let arp = ArpPacket::parse(payload).unwrap();
    assert_eq!(arp.operation, ArpOperation::Reply);
    assert_eq!((arp.sender_mac, arp.sender_ip), (t.mac(), A_IP));
    assert_eq!((arp.target_mac, arp.target_ip), (peer_mac, B_IP));
    assert!(wait_until(|| t.neighbour(B_IP) == Some(peer_mac)));

    // A request for somebody else is neither answered nor learned from.
    let other = ArpPacket::request(
        peer_mac,
        Ipv4Addr::new(10, 77, 0, 9),
        Ipv4Addr::new(10, 77, 0, 8),
    );
    let frame = EthernetHeader {
        destination: MacAddress::BROADCAST,
        source: peer_mac,
        ethertype: ETHERTYPE_ARP,
    }
    .frame(&other.to_bytes());
    peer.send_to(&frame, t.local_addr()).unwrap();
    assert!(wait_until(|| t.stats().frames_received == 2));
    assert_eq!(t.stats().arp_replies_sent, 1);
    assert_eq!(t.neighbour(Ipv4Addr::new(10, 77, 0, 9)), None);
}

#[test]
fn unresolved_destination_is_retried_then_dropped_and_counted() {
    let (t, peer) = raw_peer(A_IP, |c| {
        c.arp.retry_interval = Duration::from_millis(50);
        c.arp.max_requests = 3;
    });
    t.send(&mad(1), B_IP).unwrap();
    for _ in 0..3 {
        let f = recv_frame(&peer);
        let (eth, payload) = EthernetHeader::parse(&f).unwrap();
        assert_eq!(
            (eth.destination, eth.ethertype),
            (MacAddress::BROADCAST, ETHERTYPE_ARP)
        );
        let arp = ArpPacket::parse(payload).unwrap();
        assert_eq!(
            (arp.operation, arp.target_ip),
            (ArpOperation::Request, B_IP)
        );
    }
    assert!(wait_until(
        || t.stats().dropped(DropReason::ArpUnresolved) == 1
    ));
    assert_eq!(t.stats().arp_requests_sent, 3);
    assert_eq!(t.stats().frames_sent, 3, "the MAD itself never left");
}

/// A peer that answered our ARP request: returns its MAC.
fn resolve_through(t: &FrameTunnel, peer: &UdpSocket, peer_ip: Ipv4Addr) -> MacAddress {
    let peer_mac = MacAddress([0x52, 0x54, 0, 0, 0, 2]);
    let f = recv_frame(peer);
    let (_, payload) = EthernetHeader::parse(&f).unwrap();
    let req = ArpPacket::parse(payload).unwrap();
    let reply = ArpPacket::reply_to(&req, peer_mac, peer_ip);
    let frame = EthernetHeader {
        destination: t.mac(),
        source: peer_mac,
        ethertype: ETHERTYPE_ARP,
    }
    .frame(&reply.to_bytes());
    peer.send_to(&frame, t.local_addr()).unwrap();
    peer_mac
}

#[test]
fn sent_frames_are_whole_qp1_frames_with_our_ip_identification() {
    let (t, peer) = raw_peer(A_IP, |_| {});
    t.send(&mad(7), B_IP).unwrap();
    t.send(&mad(8), B_IP).unwrap();
    let peer_mac = resolve_through(&t, &peer, B_IP);
    let f1 = recv_frame(&peer);
    let f2 = recv_frame(&peer);
    for (f, tag) in [(&f1, 7), (&f2, 8)] {
        assert_eq!(f.len(), 322);
        let (eth, ip) = EthernetHeader::parse(f).unwrap();
        assert_eq!(
            (eth.destination, eth.source, eth.ethertype),
            (peer_mac, t.mac(), ETHERTYPE_IPV4)
        );
        let frame = ndcm_wire::roce::RoceFrame::new_checked(ip).unwrap();
        frame.verify_icrc().unwrap();
        assert_eq!(frame.mad()[24], tag);
    }
    let id = |f: &[u8]| u16::from_be_bytes([f[18], f[19]]);
    assert_eq!(
        id(&f2),
        id(&f1).wrapping_add(1),
        "identification chosen by the tunnel"
    );
}

#[test]
fn corrupt_and_foreign_frames_are_dropped_with_their_reason() {
    let (t, peer) = raw_peer(A_IP, |_| {});
    let peer_mac = MacAddress([0x52, 0x54, 0, 0, 0, 2]);
    let packet = frame::build_ipv4_packet(&mad(5), B_IP, A_IP, 99, 0xC123, 0).unwrap();
    let good = frame::ethernet_frame(t.mac(), peer_mac, ETHERTYPE_IPV4, &packet);

    let mut bad_icrc = good.clone();
    let n = bad_icrc.len();
    bad_icrc[n - 2] ^= 0x10;
    let mut bad_mad = good.clone();
    bad_mad[14 + 20 + 8 + 20 + 40] ^= 0x01; // a MAD byte: the ICRC no longer matches
    peer.send_to(&bad_icrc, t.local_addr()).unwrap();
    peer.send_to(&bad_mad, t.local_addr()).unwrap();
    // The right frame from the wrong UDP sender.
    let stranger = UdpSocket::bind(any_port()).unwrap();
    stranger.send_to(&good, t.local_addr()).unwrap();
    peer.send_to(&good, t.local_addr()).unwrap();

    let got = t.recv_timeout(WAIT).expect("the good frame");
    assert_eq!(got.mad, mad(5));
    assert!(wait_until(|| t.stats().frames_received == 4));
    let s = t.stats();
    assert_eq!(s.dropped(DropReason::BadIcrc), 2, "{s}");
    assert_eq!(s.dropped(DropReason::ForeignSender), 1, "{s}");
    assert_eq!(s.mads_received, 1);
    assert!(t.try_recv().is_none(), "nothing bad was delivered");
}

#[test]
fn non_ipv4_gid_is_refused() {
    let (t, _peer) = raw_peer(A_IP, |_| {});
    let v6 = Gid([0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    assert!(matches!(
        t.send_to_gid(&mad(1), v6),
        Err(SendError::NotIpv4(_))
    ));
    assert_eq!(t.stats().dropped(DropReason::UnsupportedDestination), 1);
}
