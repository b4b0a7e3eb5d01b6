//! The frame tunnel endpoint: a UDP socket that carries one Ethernet frame per datagram,
//! compatible with QEMU's `-netdev dgram,local.type=inet,...,remote.type=inet,...`, on which
//! ndcm is a host with its own MAC and IPv4 address. Presented as a CM MAD port.
//!
//! Owns the socket, a receive thread (ARP answers, ARP retries, frame checks), the neighbour
//! cache and the IP identification counter. It never interprets a CM message: MADs go out
//! and come in as 256 bytes with their addresses.

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use ndcm_wire::Gid;
use ndcm_wire::mad::MAD_SIZE;

use super::arp::{ArpCache, ArpConfig, ArpOperation, ArpPacket, Resolution};
use super::ethernet::{ETHERTYPE_ARP, ETHERTYPE_IPV4, MacAddress};
use super::frame::{self, Qp1Datagram, Received, Station};
use super::stats::{DropReason, TunnelStats};
use super::tap::FrameTap;

/// Longest wait of the receive thread between checks of its stop flag and ARP timers.
const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// How a tunnel endpoint is set up.
#[derive(Clone, Debug)]
pub struct TunnelConfig {
    /// UDP address this endpoint binds (QEMU's `remote.*`). Port 0 picks a free one.
    pub local: SocketAddr,
    /// UDP address frames are sent to (QEMU's `local.*`, or the other endpoint's `local`).
    pub remote: SocketAddr,
    /// This host's MAC on the segment.
    pub mac: MacAddress,
    /// This host's IPv4 address on the segment.
    pub ip: Ipv4Addr,
    pub arp: ArpConfig,
}

impl TunnelConfig {
    /// A host `ip` with a locally administered MAC derived from it.
    pub fn new(local: SocketAddr, remote: SocketAddr, ip: Ipv4Addr) -> TunnelConfig {
        TunnelConfig {
            local,
            remote,
            mac: MacAddress::local(u32::from(ip)),
            ip,
            arp: ArpConfig::default(),
        }
    }
}

/// A CM MAD received through the tunnel, verified whole.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ReceivedMad {
    pub mad: [u8; MAD_SIZE],
    pub source_ip: Ipv4Addr,
    /// The source address as a GID (IPv4-mapped), as the CM addresses peers.
    pub source_gid: Gid,
    /// DETH SrcQP of the frame.
    pub source_qpn: u32,
}

/// Why a MAD could not be sent.
#[derive(Debug)]
pub enum SendError {
    /// The destination GID is not IPv4-mapped (this tunnel carries IPv4 only).
    NotIpv4(Gid),
    /// The socket refused the datagram.
    Io(io::Error),
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::NotIpv4(gid) => write!(f, "destination GID {gid:?} is not IPv4-mapped"),
            SendError::Io(e) => write!(f, "tunnel socket: {e}"),
        }
    }
}

impl std::error::Error for SendError {}

/// A frame held until its next hop's MAC resolves: the IP packet and whether it is a MAD.
struct Pending {
    packet: Vec<u8>,
}

struct State {
    arp: ArpCache<Pending>,
    next_ip_id: u16,
    next_psn: u32,
    stats: TunnelStats,
    tap: Option<FrameTap>,
}

struct Shared {
    station: Station,
    remote: SocketAddr,
    socket: UdpSocket,
    state: Mutex<State>,
    stop: AtomicBool,
}

/// One endpoint of the frame tunnel, running its receive thread until dropped.
pub struct FrameTunnel {
    shared: Arc<Shared>,
    incoming: Mutex<Receiver<ReceivedMad>>,
    thread: Option<JoinHandle<()>>,
    local: SocketAddr,
}

impl FrameTunnel {
    /// Binds the socket and starts the receive thread.
    pub fn bind(config: TunnelConfig) -> io::Result<FrameTunnel> {
        FrameTunnel::bind_with_tap(config, None)
    }

    /// Like `bind`, recording every frame sent and received (ARP included) in `tap`.
    pub fn bind_with_tap(config: TunnelConfig, tap: Option<FrameTap>) -> io::Result<FrameTunnel> {
        let socket = UdpSocket::bind(config.local)?;
        socket.set_read_timeout(Some(POLL_INTERVAL))?;
        let local = socket.local_addr()?;
        let shared = Arc::new(Shared {
            station: Station {
                mac: config.mac,
                ip: config.ip,
            },
            remote: config.remote,
            socket,
            state: Mutex::new(State {
                arp: ArpCache::new(config.arp),
                // Start the identification counter somewhere arbitrary but deterministic per
                // address, so two endpoints' captures are easy to tell apart.
                next_ip_id: (u32::from(config.ip) as u16) ^ 0x5a5a,
                next_psn: 0,
                stats: TunnelStats::default(),
                tap,
            }),
            stop: AtomicBool::new(false),
        });
        let (tx, rx) = mpsc::channel();
        let worker = Arc::clone(&shared);
        let thread = thread::Builder::new()
            .name(format!("tunnel {}", config.ip))
            .spawn(move || worker.receive_loop(&tx))?;
        Ok(FrameTunnel {
            shared,
            incoming: Mutex::new(rx),
            thread: Some(thread),
            local,
        })
    }

    /// The UDP address the endpoint is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// This host's address on the segment.
    pub fn ip(&self) -> Ipv4Addr {
        self.shared.station.ip
    }

    /// This host's GID (IPv4-mapped).
    pub fn gid(&self) -> Gid {
        Gid::from_ipv4(self.shared.station.ip)
    }

    pub fn mac(&self) -> MacAddress {
        self.shared.station.mac
    }

    /// Sends `mad` to QP1 of `destination`. The frame goes at once if the destination's MAC
    /// is known, otherwise after ARP resolves it (or it is dropped and counted as
    /// `ArpUnresolved`), like a NIC's neighbour resolution.
    pub fn send(&self, mad: &[u8; MAD_SIZE], destination: Ipv4Addr) -> Result<(), SendError> {
        self.shared
            .send_mad(mad, destination)
            .map_err(SendError::Io)
    }

    /// `send` to a GID, which must be IPv4-mapped.
    pub fn send_to_gid(&self, mad: &[u8; MAD_SIZE], destination: Gid) -> Result<(), SendError> {
        match destination.to_ipv4() {
            Some(ip) => self.send(mad, ip),
            None => {
                self.shared
                    .lock()
                    .stats
                    .count_drop(DropReason::UnsupportedDestination);
                Err(SendError::NotIpv4(destination))
            }
        }
    }

    /// The next received MAD, waiting at most `timeout`.
    pub fn recv_timeout(&self, timeout: Duration) -> Option<ReceivedMad> {
        let rx = self.incoming.lock().unwrap_or_else(|p| p.into_inner());
        rx.recv_timeout(timeout).ok()
    }

    /// The next received MAD if one is waiting.
    pub fn try_recv(&self) -> Option<ReceivedMad> {
        let rx = self.incoming.lock().unwrap_or_else(|p| p.into_inner());
        rx.try_recv().ok()
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> TunnelStats {
        self.shared.lock().stats.clone()
    }

    /// The MAC the neighbour cache holds for `ip`, if resolved.
    pub fn neighbour(&self, ip: Ipv4Addr) -> Option<MacAddress> {
        self.shared.lock().arp.lookup(ip, Instant::now())
    }

    /// Flushes the capture tap, if any, so a reader sees every frame so far.
    pub fn flush_tap(&self) -> io::Result<()> {
        match self.shared.lock().tap.as_mut() {
            Some(tap) => tap.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for FrameTunnel {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            // The thread wakes within POLL_INTERVAL; a panic in it was already reported.
            let _ = t.join();
        }
        let _ = self.flush_tap();
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn send_mad(&self, mad: &[u8; MAD_SIZE], destination: Ipv4Addr) -> io::Result<()> {
        let mut state = self.lock();
        let ip_id = state.next_ip_id;
        state.next_ip_id = ip_id.wrapping_add(1);
        let psn = state.next_psn;
        state.next_psn = (psn + 1) & 0x00FF_FFFF;
        // Flow entropy in 0xC000-0xFFFF (WIRE.md §2), fixed per destination like rxe's per-QP
        // port, so one peer's frames form one flow.
        let udp_port = 0xC000 | (u32::from(destination) as u16 & 0x3FFF);
        let packet =
            frame::build_ipv4_packet(mad, self.station.ip, destination, ip_id, udp_port, psn)
                .map_err(|e| io::Error::other(e.to_string()))?;
        state.stats.mads_sent += 1;
        let pending = Pending {
            packet: packet.to_vec(),
        };
        match state.arp.resolve(destination, pending, Instant::now()) {
            Resolution::Ready(mac, p) => self.transmit(&mut state, mac, ETHERTYPE_IPV4, &p.packet),
            Resolution::SendRequest => self.send_arp_request(&mut state, destination),
            Resolution::Queued => Ok(()),
            Resolution::QueueFull(_) => {
                state.stats.count_drop(DropReason::ArpQueueFull);
                Ok(())
            }
        }
    }

    fn send_arp_request(&self, state: &mut State, target: Ipv4Addr) -> io::Result<()> {
        let request = ArpPacket::request(self.station.mac, self.station.ip, target);
        state.stats.arp_requests_sent += 1;
        self.transmit(
            state,
            MacAddress::BROADCAST,
            ETHERTYPE_ARP,
            &request.to_bytes(),
        )
    }

    fn transmit(
        &self,
        state: &mut State,
        destination: MacAddress,
        ethertype: u16,
        payload: &[u8],
    ) -> io::Result<()> {
        let f = frame::ethernet_frame(destination, self.station.mac, ethertype, payload);
        if let Some(tap) = state.tap.as_mut() {
            tap.record(&f);
        }
        state.stats.frames_sent += 1;
        self.socket.send_to(&f, self.remote).map(|_| ())
    }

    fn receive_loop(&self, deliver: &Sender<ReceivedMad>) {
        let mut buf = vec![0u8; 65536];
        while !self.stop.load(Ordering::Relaxed) {
            match self.socket.recv_from(&mut buf) {
                Ok((n, from)) => {
                    if let Some(f) = buf.get(..n) {
                        self.on_datagram(f, from, deliver);
                    }
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                            // Linux reports an ICMP port-unreachable for an earlier send here
                            // while the peer (QEMU) is not up yet.
                            | io::ErrorKind::ConnectionRefused
                    ) => {}
                Err(e) => {
                    eprintln!("tunnel {}: receive failed: {e}", self.station.ip);
                    thread::sleep(POLL_INTERVAL);
                }
            }
            self.poll_arp();
        }
    }

    fn on_datagram(&self, f: &[u8], from: SocketAddr, deliver: &Sender<ReceivedMad>) {
        let mut state = self.lock();
        state.stats.frames_received += 1;
        if let Some(tap) = state.tap.as_mut() {
            tap.record(f);
        }
        if from != self.remote {
            state.stats.count_drop(DropReason::ForeignSender);
            return;
        }
        match frame::classify(f, &self.station) {
            Received::Dropped(reason) => state.stats.count_drop(reason),
            Received::Arp(arp) => self.on_arp(&mut state, &arp),
            Received::Mad(d) => {
                let Qp1Datagram {
                    mad,
                    source_ip,
                    source_qpn,
                    ..
                } = *d;
                let m = ReceivedMad {
                    mad,
                    source_ip,
                    source_gid: Gid::from_ipv4(source_ip),
                    source_qpn,
                };
                if deliver.send(m).is_ok() {
                    state.stats.mads_received += 1;
                } else {
                    state.stats.count_drop(DropReason::ReceiverGone);
                }
            }
        }
    }

    /// RFC 826: update a known sender, learn a sender that asks us, answer requests for us.
    fn on_arp(&self, state: &mut State, arp: &ArpPacket) {
        let now = Instant::now();
        let for_us = arp.target_ip == self.station.ip;
        let sender_valid = !arp.sender_ip.is_unspecified() && !arp.sender_mac.is_multicast();
        if sender_valid && (for_us || state.arp.knows(arp.sender_ip)) {
            let released = state.arp.learn(arp.sender_ip, arp.sender_mac, now);
            for p in released {
                if let Err(e) = self.transmit(state, arp.sender_mac, ETHERTYPE_IPV4, &p.packet) {
                    eprintln!("tunnel {}: send failed: {e}", self.station.ip);
                }
            }
        }
        if for_us && arp.operation == ArpOperation::Request {
            let reply = ArpPacket::reply_to(arp, self.station.mac, self.station.ip);
            state.stats.arp_replies_sent += 1;
            if let Err(e) = self.transmit(state, arp.sender_mac, ETHERTYPE_ARP, &reply.to_bytes()) {
                eprintln!("tunnel {}: ARP reply failed: {e}", self.station.ip);
            }
        }
    }

    fn poll_arp(&self) {
        let mut state = self.lock();
        let now = Instant::now();
        if state.arp.next_deadline().is_none_or(|d| d > now) {
            return;
        }
        let out = state.arp.poll(now);
        for _ in &out.unresolved {
            state.stats.count_drop(DropReason::ArpUnresolved);
        }
        for ip in out.requests {
            if let Err(e) = self.send_arp_request(&mut state, ip) {
                eprintln!("tunnel {}: ARP request failed: {e}", self.station.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests;
