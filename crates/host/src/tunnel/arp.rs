//! ARP for IPv4 over Ethernet (RFC 826): the packet, and the neighbour cache of the tunnel.
//!
//! Owns the 28-byte ARP packet and a sans-IO neighbour cache: it says when to send a request,
//! holds frames waiting for an address, and releases or drops them. It never touches a
//! socket or a clock; the caller passes `now` and performs what comes out.

use std::collections::{HashMap, VecDeque};
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use super::ethernet::MacAddress;

/// Length of an ARP packet for IPv4 over Ethernet.
pub const PACKET_LEN: usize = 28;

/// ARP operation.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ArpOperation {
    Request,
    Reply,
}

/// An ARP packet for IPv4 over Ethernet (hardware type 1, protocol type 0x0800).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ArpPacket {
    pub operation: ArpOperation,
    pub sender_mac: MacAddress,
    pub sender_ip: Ipv4Addr,
    pub target_mac: MacAddress,
    pub target_ip: Ipv4Addr,
}

impl ArpPacket {
    /// Parses an ARP payload; `None` unless it is an IPv4-over-Ethernet request or reply.
    /// Trailing bytes (Ethernet padding) are ignored.
    pub fn parse(payload: &[u8]) -> Option<ArpPacket> {
        let p = payload.first_chunk::<PACKET_LEN>()?;
        if p[0..2] != [0, 1] || p[2..4] != [8, 0] || p[4] != 6 || p[5] != 4 {
            return None;
        }
        let operation = match u16::from_be_bytes([p[6], p[7]]) {
            1 => ArpOperation::Request,
            2 => ArpOperation::Reply,
            _ => return None,
        };
        let mac =
            |at: usize| MacAddress([p[at], p[at + 1], p[at + 2], p[at + 3], p[at + 4], p[at + 5]]);
        let ip = |at: usize| Ipv4Addr::new(p[at], p[at + 1], p[at + 2], p[at + 3]);
        Some(ArpPacket {
            operation,
            sender_mac: mac(8),
            sender_ip: ip(14),
            target_mac: mac(18),
            target_ip: ip(24),
        })
    }

    /// The packet's bytes, padded with zeros to `PACKET_LEN + 18` so the Ethernet frame
    /// reaches the 60-byte minimum.
    pub fn to_bytes(&self) -> [u8; PACKET_LEN + 18] {
        let mut p = [0u8; PACKET_LEN + 18];
        p[0..8].copy_from_slice(&[0, 1, 8, 0, 6, 4, 0, 0]);
        p[7] = match self.operation {
            ArpOperation::Request => 1,
            ArpOperation::Reply => 2,
        };
        p[8..14].copy_from_slice(&self.sender_mac.0);
        p[14..18].copy_from_slice(&self.sender_ip.octets());
        p[18..24].copy_from_slice(&self.target_mac.0);
        p[24..28].copy_from_slice(&self.target_ip.octets());
        p
    }

    /// A who-has request for `target` from this host.
    pub fn request(mac: MacAddress, ip: Ipv4Addr, target: Ipv4Addr) -> ArpPacket {
        ArpPacket {
            operation: ArpOperation::Request,
            sender_mac: mac,
            sender_ip: ip,
            target_mac: MacAddress::default(),
            target_ip: target,
        }
    }

    /// The reply of this host (`mac`, `ip`) to `request`.
    pub fn reply_to(request: &ArpPacket, mac: MacAddress, ip: Ipv4Addr) -> ArpPacket {
        ArpPacket {
            operation: ArpOperation::Reply,
            sender_mac: mac,
            sender_ip: ip,
            target_mac: request.sender_mac,
            target_ip: request.sender_ip,
        }
    }
}

/// Timing and size limits of the neighbour cache.
#[derive(Clone, Copy, Debug)]
pub struct ArpConfig {
    /// Time between requests for an unresolved address.
    pub retry_interval: Duration,
    /// Requests sent before the address is declared unreachable and its frames dropped.
    pub max_requests: u32,
    /// How long a resolved address is used before it is resolved again.
    pub lifetime: Duration,
    /// Frames held per unresolved address; more are dropped (counted by the caller).
    pub max_queued: usize,
}

impl Default for ArpConfig {
    fn default() -> Self {
        // Linux: 3 multicast probes 1 s apart, reachable for ~30 s, then re-verified.
        ArpConfig {
            retry_interval: Duration::from_millis(500),
            max_requests: 3,
            lifetime: Duration::from_secs(60),
            max_queued: 1024,
        }
    }
}

enum Entry<F> {
    Resolved {
        mac: MacAddress,
        expires: Instant,
    },
    Pending {
        requests_sent: u32,
        next_request: Instant,
        queued: VecDeque<F>,
    },
}

/// What to do with a frame that needs the MAC of its next hop.
#[derive(Debug, PartialEq, Eq)]
pub enum Resolution<F> {
    /// The address is known: send the frame to this MAC now.
    Ready(MacAddress, F),
    /// The frame is held; the caller must send an ARP request for the address now.
    SendRequest,
    /// The frame is held; a request is already outstanding.
    Queued,
    /// Too many frames are waiting for this address: the frame is returned, not held.
    QueueFull(F),
}

/// What the periodic poll asks the caller to do.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct PollOutput<F> {
    /// Addresses to send another ARP request for.
    pub requests: Vec<Ipv4Addr>,
    /// Frames given up on because their address did not resolve.
    pub unresolved: Vec<(Ipv4Addr, F)>,
}

/// The neighbour cache: resolved addresses and frames waiting for resolution.
pub struct ArpCache<F> {
    config: ArpConfig,
    entries: HashMap<Ipv4Addr, Entry<F>>,
}

impl<F> ArpCache<F> {
    pub fn new(config: ArpConfig) -> Self {
        ArpCache {
            config,
            entries: HashMap::new(),
        }
    }

    /// The MAC of `ip`, if it is resolved and not expired.
    pub fn lookup(&self, ip: Ipv4Addr, now: Instant) -> Option<MacAddress> {
        match self.entries.get(&ip) {
            Some(Entry::Resolved { mac, expires }) if *expires > now => Some(*mac),
            _ => None,
        }
    }

    /// Routes `frame` to `ip`: ready now, or held until the address resolves.
    pub fn resolve(&mut self, ip: Ipv4Addr, frame: F, now: Instant) -> Resolution<F> {
        if let Some(mac) = self.lookup(ip, now) {
            return Resolution::Ready(mac, frame);
        }
        match self.entries.get_mut(&ip) {
            Some(Entry::Pending { queued, .. }) => {
                if queued.len() >= self.config.max_queued {
                    Resolution::QueueFull(frame)
                } else {
                    queued.push_back(frame);
                    Resolution::Queued
                }
            }
            // Absent or expired: start a resolution.
            _ => {
                let mut queued = VecDeque::new();
                queued.push_back(frame);
                self.entries.insert(
                    ip,
                    Entry::Pending {
                        requests_sent: 1,
                        next_request: now + self.config.retry_interval,
                        queued,
                    },
                );
                Resolution::SendRequest
            }
        }
    }

    /// Records that `ip` is at `mac` (from an ARP packet) and returns the frames that were
    /// waiting for it, in the order they were sent.
    pub fn learn(&mut self, ip: Ipv4Addr, mac: MacAddress, now: Instant) -> Vec<F> {
        let resolved = Entry::Resolved {
            mac,
            expires: now + self.config.lifetime,
        };
        match self.entries.insert(ip, resolved) {
            Some(Entry::Pending { queued, .. }) => queued.into(),
            _ => Vec::new(),
        }
    }

    /// Whether `ip` has an entry (resolved or pending): RFC 826 updates only those from
    /// packets not addressed to this host.
    pub fn knows(&self, ip: Ipv4Addr) -> bool {
        self.entries.contains_key(&ip)
    }

    /// Retries due requests and gives up on addresses that never answered.
    pub fn poll(&mut self, now: Instant) -> PollOutput<F> {
        let mut out = PollOutput {
            requests: Vec::new(),
            unresolved: Vec::new(),
        };
        let mut failed = Vec::new();
        for (ip, entry) in &mut self.entries {
            if let Entry::Pending {
                requests_sent,
                next_request,
                ..
            } = entry
                && *next_request <= now
            {
                if *requests_sent >= self.config.max_requests {
                    failed.push(*ip);
                } else {
                    *requests_sent += 1;
                    *next_request = now + self.config.retry_interval;
                    out.requests.push(*ip);
                }
            }
        }
        for ip in failed {
            if let Some(Entry::Pending { queued, .. }) = self.entries.remove(&ip) {
                out.unresolved.extend(queued.into_iter().map(|f| (ip, f)));
            }
        }
        out
    }

    /// The earliest moment `poll` has something to do, if any address is pending.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.entries
            .values()
            .filter_map(|e| match e {
                Entry::Pending { next_request, .. } => Some(*next_request),
                Entry::Resolved { .. } => None,
            })
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ME: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 1);
    const PEER: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 2);
    const MY_MAC: MacAddress = MacAddress::local(1);
    const PEER_MAC: MacAddress = MacAddress([0x52, 0x54, 0, 0x12, 0x34, 0x56]);

    #[test]
    fn request_bytes_match_rfc826_layout() {
        let b = ArpPacket::request(MY_MAC, ME, PEER).to_bytes();
        assert_eq!(&b[..8], &[0, 1, 8, 0, 6, 4, 0, 1]);
        assert_eq!(&b[8..14], &MY_MAC.0);
        assert_eq!(&b[14..18], &[10, 77, 0, 1]);
        assert_eq!(&b[18..24], &[0; 6]);
        assert_eq!(&b[24..28], &[10, 77, 0, 2]);
        assert!(b[28..].iter().all(|&x| x == 0));
    }

    #[test]
    fn reply_parses_back_and_answers_the_asker() {
        let req = ArpPacket::request(PEER_MAC, PEER, ME);
        let reply = ArpPacket::reply_to(&req, MY_MAC, ME);
        let parsed = ArpPacket::parse(&reply.to_bytes()).unwrap();
        assert_eq!(parsed.operation, ArpOperation::Reply);
        assert_eq!((parsed.sender_mac, parsed.sender_ip), (MY_MAC, ME));
        assert_eq!((parsed.target_mac, parsed.target_ip), (PEER_MAC, PEER));
    }

    #[test]
    fn non_ipv4_ethernet_arp_is_ignored() {
        let mut b = ArpPacket::request(MY_MAC, ME, PEER).to_bytes();
        b[3] = 0xdd; // protocol type 0x86dd
        assert!(ArpPacket::parse(&b).is_none());
        let mut b = ArpPacket::request(MY_MAC, ME, PEER).to_bytes();
        b[7] = 3; // RARP request
        assert!(ArpPacket::parse(&b).is_none());
        assert!(ArpPacket::parse(&b[..27]).is_none());
    }

    fn cfg() -> ArpConfig {
        ArpConfig {
            retry_interval: Duration::from_millis(100),
            max_requests: 3,
            lifetime: Duration::from_secs(10),
            max_queued: 2,
        }
    }

    #[test]
    fn frames_wait_for_resolution_then_go_in_order() {
        let t = Instant::now();
        let mut c = ArpCache::new(cfg());
        assert_eq!(c.resolve(PEER, 1, t), Resolution::SendRequest);
        assert_eq!(c.resolve(PEER, 2, t), Resolution::Queued);
        assert_eq!(c.resolve(PEER, 3, t), Resolution::QueueFull(3));
        assert_eq!(c.learn(PEER, PEER_MAC, t), vec![1, 2]);
        assert_eq!(c.resolve(PEER, 4, t), Resolution::Ready(PEER_MAC, 4));
        assert_eq!(c.next_deadline(), None);
    }

    #[test]
    fn unanswered_requests_are_retried_then_frames_dropped() {
        let t = Instant::now();
        let ms = Duration::from_millis;
        let mut c = ArpCache::new(cfg());
        assert_eq!(c.resolve(PEER, 1, t), Resolution::SendRequest);
        assert_eq!(c.poll(t + ms(50)), PollOutput::default());
        assert_eq!(c.next_deadline(), Some(t + ms(100)));
        assert_eq!(c.poll(t + ms(100)).requests, vec![PEER]);
        assert_eq!(c.poll(t + ms(200)).requests, vec![PEER]);
        let out = c.poll(t + ms(300));
        assert!(out.requests.is_empty());
        assert_eq!(out.unresolved, vec![(PEER, 1)]);
        // Forgotten: the next frame starts a fresh resolution.
        assert!(!c.knows(PEER));
        assert_eq!(c.resolve(PEER, 2, t + ms(300)), Resolution::SendRequest);
    }

    #[test]
    fn resolved_entries_expire() {
        let t = Instant::now();
        let mut c: ArpCache<u8> = ArpCache::new(cfg());
        c.learn(PEER, PEER_MAC, t);
        assert_eq!(c.lookup(PEER, t + Duration::from_secs(9)), Some(PEER_MAC));
        assert_eq!(c.lookup(PEER, t + Duration::from_secs(10)), None);
        assert_eq!(
            c.resolve(PEER, 7, t + Duration::from_secs(11)),
            Resolution::SendRequest
        );
    }
}
