//! Counters of the frame tunnel: what it sent and received, and every frame it dropped,
//! by reason.
//!
//! Owns only the numbers. A frame is counted under exactly one drop reason, the first
//! check it fails, so the counters tell which check a peer's frames fail.

use core::fmt;

/// Why a received or outgoing frame was dropped.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum DropReason {
    /// The datagram came from a UDP address other than the tunnel's peer.
    ForeignSender,
    /// Shorter than an Ethernet header.
    Runt,
    /// Destination MAC neither ours nor broadcast/multicast.
    NotOurMac,
    /// EtherType other than IPv4 or ARP (IPv6, VLAN-tagged, ...).
    UnsupportedEtherType,
    /// ARP packet that is not IPv4-over-Ethernet request/reply.
    MalformedArp,
    /// IPv4 header truncated, wrong version/IHL, options, bad total length, or a fragment.
    MalformedIpv4,
    /// IPv4 header checksum wrong.
    BadIpv4Checksum,
    /// IPv4 destination is not our address.
    NotOurIp,
    /// Not UDP to port 4791.
    NotRoce,
    /// RoCEv2 packet of the wrong size or layout (UDP length, BTH pad count, ...).
    MalformedRoce,
    /// Not a UD SEND to QP1 with the GSI Q_Key (WIRE.md §10 step 2).
    NotQp1,
    /// ICRC mismatch.
    BadIcrc,
    /// MAD base version, class or class version not the CM's (WIRE.md §10 step 4).
    NotCmMad,
    /// Outgoing: the destination's MAC never resolved.
    ArpUnresolved,
    /// Outgoing: too many frames were already waiting for the destination's MAC.
    ArpQueueFull,
    /// Outgoing: the destination is not an IPv4 (IPv4-mapped) address.
    UnsupportedDestination,
    /// Received MAD could not be handed over (the receiver was dropped).
    ReceiverGone,
}

impl DropReason {
    /// Every reason, in the order of the checks.
    pub const ALL: [DropReason; 17] = [
        DropReason::ForeignSender,
        DropReason::Runt,
        DropReason::NotOurMac,
        DropReason::UnsupportedEtherType,
        DropReason::MalformedArp,
        DropReason::MalformedIpv4,
        DropReason::BadIpv4Checksum,
        DropReason::NotOurIp,
        DropReason::NotRoce,
        DropReason::MalformedRoce,
        DropReason::NotQp1,
        DropReason::BadIcrc,
        DropReason::NotCmMad,
        DropReason::ArpUnresolved,
        DropReason::ArpQueueFull,
        DropReason::UnsupportedDestination,
        DropReason::ReceiverGone,
    ];

    const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// A snapshot of the tunnel's counters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TunnelStats {
    /// Datagrams (frames) received from the peer.
    pub frames_received: u64,
    /// Frames sent to the peer (ARP included).
    pub frames_sent: u64,
    /// CM MADs delivered to the receiver, each verified whole.
    pub mads_received: u64,
    /// CM MADs sent in RoCEv2 frames.
    pub mads_sent: u64,
    /// ARP requests for our address that we answered.
    pub arp_replies_sent: u64,
    /// ARP requests we sent to resolve a peer.
    pub arp_requests_sent: u64,
    /// Frames dropped, per `DropReason::ALL` index.
    dropped: [u64; DropReason::ALL.len()],
}

impl TunnelStats {
    /// Frames dropped for `reason`.
    pub fn dropped(&self, reason: DropReason) -> u64 {
        self.dropped.get(reason.index()).copied().unwrap_or(0)
    }

    /// Frames dropped for any reason.
    pub fn dropped_total(&self) -> u64 {
        self.dropped.iter().sum()
    }

    pub(crate) fn count_drop(&mut self, reason: DropReason) {
        if let Some(n) = self.dropped.get_mut(reason.index()) {
            *n += 1;
        }
    }
}

impl fmt::Display for TunnelStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "frames rx {} tx {}, MADs rx {} tx {}, ARP replies {} requests {}",
            self.frames_received,
            self.frames_sent,
            self.mads_received,
            self.mads_sent,
            self.arp_replies_sent,
            self.arp_requests_sent
        )?;
        for reason in DropReason::ALL {
            let n = self.dropped(reason);
            if n != 0 {
                write!(f, ", dropped {reason} {n}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_reason_has_its_own_counter() {
        let mut s = TunnelStats::default();
        for (i, r) in DropReason::ALL.iter().enumerate() {
            assert_eq!(r.index(), i);
            s.count_drop(*r);
        }
        s.count_drop(DropReason::BadIcrc);
        assert_eq!(s.dropped(DropReason::BadIcrc), 2);
        assert_eq!(s.dropped(DropReason::Runt), 1);
        assert_eq!(s.dropped_total(), DropReason::ALL.len() as u64 + 1);
        assert!(s.to_string().contains("dropped BadIcrc 2"));
    }
}
